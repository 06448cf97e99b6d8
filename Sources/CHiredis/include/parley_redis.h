#ifndef PARLEY_REDIS_H
#define PARLEY_REDIS_H

#include <hiredis/hiredis.h>

/* Helpers that Swift cannot express over hiredis 0.14 directly. */

/* Connects within connect_timeout_ms and, when io_timeout_ms > 0, bounds reads and writes by it.
 * On failure returns NULL and copies the reason into err. */
redisContext *parley_redis_connect(const char *host, int port, int connect_timeout_ms, int io_timeout_ms,
                                   char *err, size_t errlen);

/* The context's error text, or "" when there is none. */
const char *parley_redis_errstr(const redisContext *c);

/* Writes every appended command out to the socket. Returns 0, or -1 on error. */
int parley_redis_flush(redisContext *c);

/* Waits until the connection has data, wake_fd is readable, or timeout_ms passes; reads what the
 * connection has, on a context whose reader builds flat replies, into the flat reply's read
 * buffer, which parley_redis_next_flat_reply feeds to the reader. Returns a bit set: 1 = data
 * read (or still to be parsed), 2 = woken; 0 on timeout, -1 on error (connection lost). A
 * pending wake byte is drained. */
int parley_redis_poll_read(redisContext *c, int wake_fd, int timeout_ms);

/* Flat replies: hiredis' parser reading into one buffer that is kept and reused, instead of its
 * own reply objects (an allocation for every element and for every string, freed again after
 * each reply: about eight for each pub/sub message). A flat reply holds one level: a string, an
 * integer, a nil, or an array of those, which is all pub/sub sends. */

#define PARLEY_FLAT_PARTS 4

typedef struct {
    int type;           /* REDIS_REPLY_STRING, _STATUS, _ERROR, _INTEGER or _NIL */
    long long integer;
    size_t offset;      /* of a string's bytes in the reply's buffer */
    size_t len;
} parley_flat_part;

typedef struct {
    int type;           /* the reply's: REDIS_REPLY_ARRAY, or that of its one part */
    int elements;       /* an array's, as sent */
    int unreadable;     /* an array inside the array, or more than PARLEY_FLAT_PARTS elements */
    parley_flat_part part[PARLEY_FLAT_PARTS];  /* an array's elements; a single value at [0] */
    char *bytes;
    size_t used;
    size_t capacity;
    /* What was read from the socket and not yet fed to the reader (parley_redis_poll_read). */
    char *input;
    size_t input_len;
    size_t input_fed;
} parley_flat_reply;

/* Makes reader build flat replies into the buffer returned (NULL when out of memory), which the
 * caller frees with parley_flat_reply_free after the reader. Only for readers whose replies are
 * read with parley_redis_next_flat_reply: its objects are not redisReply. */
parley_flat_reply *parley_flat_replies(redisReader *reader);
void parley_flat_reply_free(parley_flat_reply *reply);

/* Takes one parsed reply out of what was read, on a context whose reader builds flat replies: 1
 * when one is complete (valid until the next call), 0 when none is, -1 on error. */
int parley_redis_next_flat_reply(redisContext *c);

/* The reply's part `index` (below PARLEY_FLAT_PARTS), and where its bytes begin. */
const parley_flat_part *parley_flat_part_at(const parley_flat_reply *reply, int index);
const char *parley_flat_bytes(const parley_flat_reply *reply, int index);

#endif
