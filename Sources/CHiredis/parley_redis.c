#include "parley_redis.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

redisContext *parley_redis_connect(const char *host, int port, int connect_timeout_ms, int io_timeout_ms,
                                   char *err, size_t errlen) {
    struct timeval tv = {.tv_sec = connect_timeout_ms / 1000, .tv_usec = (connect_timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL) {
        snprintf(err, errlen, "cannot allocate redis context");
        return NULL;
    }
    if (c->err) {
        snprintf(err, errlen, "%s", c->errstr);
        redisFree(c);
        return NULL;
    }
    struct timeval io = {.tv_sec = io_timeout_ms / 1000, .tv_usec = (io_timeout_ms % 1000) * 1000};
    if (io_timeout_ms > 0 && redisSetTimeout(c, io) != REDIS_OK) {
        snprintf(err, errlen, "cannot set timeout: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

const char *parley_redis_errstr(const redisContext *c) { return c->err ? c->errstr : ""; }

int parley_redis_flush(redisContext *c) {
    int done = 0;
    do {
        if (redisBufferWrite(c, &done) != REDIS_OK) return -1;
    } while (!done);
    return 0;
}

/* What one read takes from the socket: a burst of a worker's batch at once, in a few calls. */
#define PARLEY_READ_SIZE (64 * 1024)
/* What the reader is given at a time. hiredis moves what is left of its buffer to the front
 * whenever a reply ends 1 KiB or more into it: fed a whole read, it moved the rest of the read
 * after every reply or two (about five times the bytes read, with pub/sub messages of
 * 700 bytes); fed this much at a time, less than what it reads. */
#define PARLEY_FEED_SIZE 1024

static int set_error(redisContext *c, int type, const char *text) {
    c->err = type;
    snprintf(c->errstr, sizeof c->errstr, "%s", text);
    return -1;
}

int parley_redis_poll_read(redisContext *c, int wake_fd, int timeout_ms) {
    parley_flat_reply *flat = c->reader->privdata;
    /* Still to be parsed: no wait (the caller takes replies until none is left). */
    if (flat->input_fed < flat->input_len) return 1;
    struct pollfd fds[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    int n = poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : set_error(c, REDIS_ERR_IO, strerror(errno));
    int result = 0;
    if (wake_fd >= 0 && (fds[1].revents & POLLIN)) {
        char buf[64];
        while (read(wake_fd, buf, sizeof buf) == (ssize_t)sizeof buf) {}
        result |= 2;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t got = read(c->fd, flat->input, PARLEY_READ_SIZE);
        if (got == 0) return set_error(c, REDIS_ERR_EOF, "Server closed the connection");
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return result;
            return set_error(c, REDIS_ERR_IO, strerror(errno));
        }
        flat->input_len = (size_t)got;
        flat->input_fed = 0;
        result |= 1;
    }
    return result;
}

/* The part a read task fills, or NULL for one the flat form does not keep. A new reply starts
 * with its top-level task, which empties the buffer. */
static parley_flat_part *flat_part(const redisReadTask *task, int type) {
    parley_flat_reply *reply = task->privdata;
    if (task->parent == NULL) {
        reply->type = type;
        reply->elements = 0;
        reply->unreadable = 0;
        reply->used = 0;
        return &reply->part[0];
    }
    if (task->parent->parent != NULL || task->idx >= PARLEY_FLAT_PARTS) {
        reply->unreadable = 1;
        return NULL;
    }
    return &reply->part[task->idx];
}

static void *flat_string(const redisReadTask *task, char *str, size_t len) {
    parley_flat_reply *reply = task->privdata;
    parley_flat_part *part = flat_part(task, task->type);
    if (part == NULL) return reply;
    if (reply->used + len > reply->capacity) {
        size_t capacity = reply->capacity * 2 > reply->used + len ? reply->capacity * 2 : reply->used + len;
        char *bytes = realloc(reply->bytes, capacity);
        if (bytes == NULL) return NULL; /* hiredis: out of memory, the connection fails */
        reply->bytes = bytes;
        reply->capacity = capacity;
    }
    memcpy(reply->bytes + reply->used, str, len);
    *part = (parley_flat_part){.type = task->type, .offset = reply->used, .len = len};
    reply->used += len;
    return reply;
}

static void *flat_array(const redisReadTask *task, int elements) {
    parley_flat_reply *reply = task->privdata;
    flat_part(task, REDIS_REPLY_ARRAY);
    if (task->parent != NULL || elements > PARLEY_FLAT_PARTS) reply->unreadable = 1;
    if (task->parent == NULL) reply->elements = elements;
    return reply;
}

static void *flat_integer(const redisReadTask *task, long long value) {
    parley_flat_reply *reply = task->privdata;
    parley_flat_part *part = flat_part(task, REDIS_REPLY_INTEGER);
    if (part != NULL) *part = (parley_flat_part){.type = REDIS_REPLY_INTEGER, .integer = value};
    return reply;
}

static void *flat_nil(const redisReadTask *task) {
    parley_flat_reply *reply = task->privdata;
    parley_flat_part *part = flat_part(task, REDIS_REPLY_NIL);
    if (part != NULL) *part = (parley_flat_part){.type = REDIS_REPLY_NIL};
    return reply;
}

/* The buffer outlives every reply: nothing to free per reply. */
static void flat_free(void *reply) { (void)reply; }

static redisReplyObjectFunctions flat_functions = {
    .createString = flat_string,
    .createArray = flat_array,
    .createInteger = flat_integer,
    .createNil = flat_nil,
    .freeObject = flat_free,
};

parley_flat_reply *parley_flat_replies(redisReader *reader) {
    parley_flat_reply *reply = calloc(1, sizeof *reply);
    if (reply == NULL) return NULL;
    reply->capacity = 4096;
    reply->bytes = malloc(reply->capacity);
    reply->input = malloc(PARLEY_READ_SIZE);
    if (reply->bytes == NULL || reply->input == NULL) {
        parley_flat_reply_free(reply);
        return NULL;
    }
    reader->fn = &flat_functions;
    reader->privdata = reply;
    return reply;
}

void parley_flat_reply_free(parley_flat_reply *reply) {
    if (reply == NULL) return;
    free(reply->bytes);
    free(reply->input);
    free(reply);
}

int parley_redis_next_flat_reply(redisContext *c) {
    parley_flat_reply *flat = c->reader->privdata;
    for (;;) {
        void *r = NULL;
        if (redisGetReplyFromReader(c, &r) != REDIS_OK) return -1;
        if (r != NULL) return 1;
        if (flat->input_fed == flat->input_len) return 0;
        size_t left = flat->input_len - flat->input_fed;
        size_t feed = left < PARLEY_FEED_SIZE ? left : PARLEY_FEED_SIZE;
        if (redisReaderFeed(c->reader, flat->input + flat->input_fed, feed) != REDIS_OK)
            return set_error(c, REDIS_ERR_OOM, "Out of memory");
        flat->input_fed += feed;
    }
}

const parley_flat_part *parley_flat_part_at(const parley_flat_reply *reply, int index) { return &reply->part[index]; }

const char *parley_flat_bytes(const parley_flat_reply *reply, int index) {
    return reply->bytes + reply->part[index].offset;
}
