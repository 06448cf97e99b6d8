#include "parley_redis.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
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

int parley_redis_poll_read(redisContext *c, int wake_fd, int timeout_ms) {
    struct pollfd fds[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    int n = poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    int result = 0;
    if (wake_fd >= 0 && (fds[1].revents & POLLIN)) {
        char buf[64];
        while (read(wake_fd, buf, sizeof buf) == (ssize_t)sizeof buf) {}
        result |= 2;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (redisBufferRead(c) != REDIS_OK) return -1;
        result |= 1;
    }
    return result;
}

int parley_redis_next_buffered_reply(redisContext *c, redisReply **reply) {
    void *r = NULL;
    if (redisGetReplyFromReader(c, &r) != REDIS_OK) return -1;
    if (r == NULL) return 0;
    *reply = (redisReply *)r;
    return 1;
}
