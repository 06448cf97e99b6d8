#ifndef PARLEY_AMQP_H
#define PARLEY_AMQP_H

#include <stddef.h>
#include <stdint.h>

/* A thin, non-variadic face over rabbitmq-c for Swift: one connection, one channel (1).
 * Not thread-safe: the caller gives each connection a thread of its own.
 * Every function that can fail writes a message into err (errlen bytes) and returns -1/NULL. */

typedef struct parley_amqp parley_amqp;

parley_amqp *parley_amqp_connect(const char *host, int port, const char *vhost, const char *user,
                                 const char *password, int heartbeat_seconds, char *err, size_t errlen);
void parley_amqp_close(parley_amqp *c);
/* The socket, for polling it beside a wake-up pipe. */
int parley_amqp_fd(parley_amqp *c);
/* Whether rabbitmq-c holds received bytes or frames not yet handed out (poll would not see them). */
int parley_amqp_has_buffered(parley_amqp *c);

int parley_amqp_confirm_select(parley_amqp *c, char *err, size_t errlen);
int parley_amqp_qos(parley_amqp *c, uint16_t prefetch, char *err, size_t errlen);

int parley_amqp_declare_exchange(parley_amqp *c, const char *name, const char *type, char *err, size_t errlen);
/* delivery_limit <= 0: none. dead_letter_exchange NULL: no dead-lettering ("" is the default
 * exchange); dead_letter_key NULL: the message keeps its routing key. message_ttl_ms <= 0: none.
 * Queues are durable. */
int parley_amqp_declare_queue(parley_amqp *c, const char *name, int quorum, int delivery_limit,
                              const char *dead_letter_exchange, const char *dead_letter_key, int message_ttl_ms,
                              char *err, size_t errlen);
int parley_amqp_bind(parley_amqp *c, const char *queue, const char *exchange, const char *key,
                     char *err, size_t errlen);
int parley_amqp_purge(parley_amqp *c, const char *queue, char *err, size_t errlen);
int parley_amqp_delete_queue(parley_amqp *c, const char *queue, char *err, size_t errlen);

/* Persistent, mandatory publish of a JSON body. The broker's confirm arrives later through
 * parley_amqp_next_confirm; the n-th publish on the channel has delivery tag n. */
int parley_amqp_publish(parley_amqp *c, const char *exchange, const char *routing_key,
                        const void *body, size_t len, const char *message_id, char *err, size_t errlen);

enum {
    PARLEY_CONFIRM_TIMEOUT = 0,
    PARLEY_CONFIRM_ACK = 1,
    PARLEY_CONFIRM_NACK = 2,
    PARLEY_CONFIRM_RETURN = 3,
};
/* Waits up to timeout_ms for the next confirm-related frame. Returns one of PARLEY_CONFIRM_*,
 * or -1 on a connection or channel error. */
int parley_amqp_next_confirm(parley_amqp *c, int timeout_ms, uint64_t *tag, int *multiple,
                             char *err, size_t errlen);

int parley_amqp_consume(parley_amqp *c, const char *queue, char *err, size_t errlen);

typedef struct {
    uint64_t delivery_tag;
    int redelivered;
    long delivery_count; /* x-delivery-count of quorum queues; 0 on first delivery */
    void *body;          /* malloc'ed; free with parley_amqp_free_body */
    size_t len;
    char routing_key[256];
} parley_amqp_delivery;

/* Returns 1 with a delivery, 0 on timeout, -1 on error. */
int parley_amqp_next_delivery(parley_amqp *c, int timeout_ms, parley_amqp_delivery *out, char *err, size_t errlen);
void parley_amqp_free_body(void *body);

int parley_amqp_ack(parley_amqp *c, uint64_t tag, int multiple, char *err, size_t errlen);
int parley_amqp_nack(parley_amqp *c, uint64_t tag, int multiple, int requeue, char *err, size_t errlen);

#endif
