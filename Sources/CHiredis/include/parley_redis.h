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
 * connection has into hiredis' buffer. Returns a bit set: 1 = data read, 2 = woken; 0 on timeout,
 * -1 on error (connection lost). A pending wake byte is drained. */
int parley_redis_poll_read(redisContext *c, int wake_fd, int timeout_ms);

/* Takes one parsed reply out of the buffer: 1 with *reply set, 0 when none is complete, -1 on error. */
int parley_redis_next_buffered_reply(redisContext *c, redisReply **reply);

#endif
