#include "parley_amqp.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define CHANNEL 1

struct parley_amqp {
    amqp_connection_state_t conn;
};

static void set_err(char *err, size_t errlen, const char *what, const char *detail) {
    if (err && errlen) snprintf(err, errlen, "%s: %s", what, detail ? detail : "unknown error");
}

/* Turns an RPC reply into 0 or -1 with a readable message. */
static int check_reply(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen) {
    char buf[256];
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return 0;
    case AMQP_RESPONSE_NONE:
        set_err(err, errlen, what, "missing RPC reply");
        return -1;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        set_err(err, errlen, what, amqp_error_string2(r.library_error));
        return -1;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = (amqp_connection_close_t *)r.reply.decoded;
            snprintf(buf, sizeof buf, "connection closed by server (%u %.*s)", m->reply_code,
                     (int)m->reply_text.len, (char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = (amqp_channel_close_t *)r.reply.decoded;
            snprintf(buf, sizeof buf, "channel closed by server (%u %.*s)", m->reply_code,
                     (int)m->reply_text.len, (char *)m->reply_text.bytes);
        } else {
            snprintf(buf, sizeof buf, "server error, method 0x%08X", r.reply.id);
        }
        set_err(err, errlen, what, buf);
        return -1;
    }
    set_err(err, errlen, what, "unexpected reply");
    return -1;
}

static int check_status(int status, const char *what, char *err, size_t errlen) {
    if (status == AMQP_STATUS_OK) return 0;
    set_err(err, errlen, what, amqp_error_string2(status));
    return -1;
}

static struct timeval to_timeval(int timeout_ms) {
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return tv;
}

parley_amqp *parley_amqp_connect(const char *host, int port, const char *vhost, const char *user,
                                 const char *password, int heartbeat_seconds, char *err, size_t errlen) {
    amqp_connection_state_t conn = amqp_new_connection();
    if (!conn) { set_err(err, errlen, "connect", "out of memory"); return NULL; }
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (!socket) { set_err(err, errlen, "connect", "cannot create socket"); amqp_destroy_connection(conn); return NULL; }
    struct timeval tv = to_timeval(5000);
    /* Every synchronous method gets an answer or an error in bounded time: a broker that never
     * answers (a queue process that crashed, a stalled node) must not hang the thread. */
    amqp_set_handshake_timeout(conn, &tv);
    amqp_set_rpc_timeout(conn, &tv);
    int status = amqp_socket_open_noblock(socket, host, port, &tv);
    if (status != AMQP_STATUS_OK) {
        set_err(err, errlen, "connect", amqp_error_string2(status));
        amqp_destroy_connection(conn);
        return NULL;
    }
    amqp_rpc_reply_t r = amqp_login(conn, vhost, AMQP_DEFAULT_MAX_CHANNELS, AMQP_DEFAULT_FRAME_SIZE,
                                    heartbeat_seconds, AMQP_SASL_METHOD_PLAIN, user, password);
    if (check_reply(r, "login", err, errlen) != 0) { amqp_destroy_connection(conn); return NULL; }
    amqp_channel_open(conn, CHANNEL);
    if (check_reply(amqp_get_rpc_reply(conn), "channel.open", err, errlen) != 0) {
        amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(conn);
        return NULL;
    }
    parley_amqp *c = calloc(1, sizeof *c);
    c->conn = conn;
    return c;
}

void parley_amqp_close(parley_amqp *c) {
    if (!c) return;
    amqp_channel_close(c->conn, CHANNEL, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c->conn);
    free(c);
}

int parley_amqp_fd(parley_amqp *c) { return amqp_get_sockfd(c->conn); }

int parley_amqp_has_buffered(parley_amqp *c) {
    return amqp_data_in_buffer(c->conn) || amqp_frames_enqueued(c->conn);
}

int parley_amqp_confirm_select(parley_amqp *c, char *err, size_t errlen) {
    amqp_confirm_select(c->conn, CHANNEL);
    return check_reply(amqp_get_rpc_reply(c->conn), "confirm.select", err, errlen);
}

int parley_amqp_qos(parley_amqp *c, uint16_t prefetch, char *err, size_t errlen) {
    amqp_basic_qos(c->conn, CHANNEL, 0, prefetch, 0);
    return check_reply(amqp_get_rpc_reply(c->conn), "basic.qos", err, errlen);
}

int parley_amqp_declare_exchange(parley_amqp *c, const char *name, const char *type, char *err, size_t errlen) {
    amqp_exchange_declare(c->conn, CHANNEL, amqp_cstring_bytes(name), amqp_cstring_bytes(type),
                          0, 1 /* durable */, 0, 0, amqp_empty_table);
    return check_reply(amqp_get_rpc_reply(c->conn), "exchange.declare", err, errlen);
}

int parley_amqp_declare_queue(parley_amqp *c, const char *name, int quorum, int delivery_limit,
                              const char *dead_letter_exchange, const char *dead_letter_key, int message_ttl_ms,
                              char *err, size_t errlen) {
    amqp_table_entry_t entries[5];
    int n = 0;
    if (quorum) {
        entries[n].key = amqp_cstring_bytes("x-queue-type");
        entries[n].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[n].value.value.bytes = amqp_cstring_bytes("quorum");
        n++;
    }
    if (delivery_limit > 0) {
        entries[n].key = amqp_cstring_bytes("x-delivery-limit");
        entries[n].value.kind = AMQP_FIELD_KIND_I64;
        entries[n].value.value.i64 = delivery_limit;
        n++;
    }
    if (dead_letter_exchange) {
        entries[n].key = amqp_cstring_bytes("x-dead-letter-exchange");
        entries[n].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[n].value.value.bytes = amqp_cstring_bytes(dead_letter_exchange);
        n++;
    }
    /* Without a dead-letter routing key a message keeps the key it was published with. */
    if (dead_letter_key) {
        entries[n].key = amqp_cstring_bytes("x-dead-letter-routing-key");
        entries[n].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[n].value.value.bytes = amqp_cstring_bytes(dead_letter_key);
        n++;
    }
    if (message_ttl_ms > 0) {
        entries[n].key = amqp_cstring_bytes("x-message-ttl");
        entries[n].value.kind = AMQP_FIELD_KIND_I64;
        entries[n].value.value.i64 = message_ttl_ms;
        n++;
    }
    amqp_table_t args = {.num_entries = n, .entries = entries};
    amqp_queue_declare(c->conn, CHANNEL, amqp_cstring_bytes(name), 0, 1 /* durable */, 0, 0, args);
    return check_reply(amqp_get_rpc_reply(c->conn), "queue.declare", err, errlen);
}

int parley_amqp_bind(parley_amqp *c, const char *queue, const char *exchange, const char *key,
                     char *err, size_t errlen) {
    amqp_queue_bind(c->conn, CHANNEL, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
                    amqp_cstring_bytes(key), amqp_empty_table);
    return check_reply(amqp_get_rpc_reply(c->conn), "queue.bind", err, errlen);
}

int parley_amqp_purge(parley_amqp *c, const char *queue, char *err, size_t errlen) {
    amqp_queue_purge(c->conn, CHANNEL, amqp_cstring_bytes(queue));
    return check_reply(amqp_get_rpc_reply(c->conn), "queue.purge", err, errlen);
}

int parley_amqp_delete_queue(parley_amqp *c, const char *queue, char *err, size_t errlen) {
    amqp_queue_delete(c->conn, CHANNEL, amqp_cstring_bytes(queue), 0, 0);
    return check_reply(amqp_get_rpc_reply(c->conn), "queue.delete", err, errlen);
}

int parley_amqp_publish(parley_amqp *c, const char *exchange, const char *routing_key,
                        const void *body, size_t len, const char *message_id, char *err, size_t errlen) {
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    if (message_id) {
        props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        props.message_id = amqp_cstring_bytes(message_id);
    }
    amqp_bytes_t b = {.len = len, .bytes = (void *)body};
    int status = amqp_basic_publish(c->conn, CHANNEL, amqp_cstring_bytes(exchange), amqp_cstring_bytes(routing_key),
                                    1 /* mandatory */, 0, &props, b);
    return check_status(status, "basic.publish", err, errlen);
}

int parley_amqp_next_confirm(parley_amqp *c, int timeout_ms, uint64_t *tag, int *multiple,
                             char *err, size_t errlen) {
    struct timeval tv = to_timeval(timeout_ms);
    for (;;) {
        amqp_frame_t frame;
        amqp_maybe_release_buffers(c->conn);
        int status = amqp_simple_wait_frame_noblock(c->conn, &frame, &tv);
        if (status == AMQP_STATUS_TIMEOUT) return PARLEY_CONFIRM_TIMEOUT;
        if (status != AMQP_STATUS_OK) { set_err(err, errlen, "confirm", amqp_error_string2(status)); return -1; }
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *m = (amqp_basic_ack_t *)frame.payload.method.decoded;
            *tag = m->delivery_tag;
            *multiple = m->multiple;
            return PARLEY_CONFIRM_ACK;
        }
        case AMQP_BASIC_NACK_METHOD: {
            amqp_basic_nack_t *m = (amqp_basic_nack_t *)frame.payload.method.decoded;
            *tag = m->delivery_tag;
            *multiple = m->multiple;
            return PARLEY_CONFIRM_NACK;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            /* The returned message's content frames follow; drain them. */
            amqp_message_t message;
            amqp_rpc_reply_t r = amqp_read_message(c->conn, frame.channel, &message, 0);
            if (check_reply(r, "basic.return", err, errlen) != 0) return -1;
            amqp_destroy_message(&message);
            return PARLEY_CONFIRM_RETURN;
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
            amqp_channel_close_t *m = (amqp_channel_close_t *)frame.payload.method.decoded;
            char buf[256];
            snprintf(buf, sizeof buf, "channel closed by server (%u %.*s)", m->reply_code,
                     (int)m->reply_text.len, (char *)m->reply_text.bytes);
            set_err(err, errlen, "confirm", buf);
            return -1;
        }
        case AMQP_CONNECTION_CLOSE_METHOD:
            set_err(err, errlen, "confirm", "connection closed by server");
            return -1;
        default:
            continue;
        }
    }
}

int parley_amqp_consume(parley_amqp *c, const char *queue, char *err, size_t errlen) {
    amqp_basic_consume(c->conn, CHANNEL, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0 /* manual ack */, 0,
                       amqp_empty_table);
    return check_reply(amqp_get_rpc_reply(c->conn), "basic.consume", err, errlen);
}

static long header_long(amqp_table_t *headers, const char *name) {
    for (int i = 0; i < headers->num_entries; i++) {
        amqp_table_entry_t *e = &headers->entries[i];
        if (e->key.len != strlen(name) || memcmp(e->key.bytes, name, e->key.len) != 0) continue;
        switch (e->value.kind) {
        case AMQP_FIELD_KIND_I8: return e->value.value.i8;
        case AMQP_FIELD_KIND_U8: return e->value.value.u8;
        case AMQP_FIELD_KIND_I16: return e->value.value.i16;
        case AMQP_FIELD_KIND_U16: return e->value.value.u16;
        case AMQP_FIELD_KIND_I32: return e->value.value.i32;
        case AMQP_FIELD_KIND_U32: return (long)e->value.value.u32;
        case AMQP_FIELD_KIND_I64: return (long)e->value.value.i64;
        case AMQP_FIELD_KIND_U64: return (long)e->value.value.u64;
        default: return 0;
        }
    }
    return 0;
}

int parley_amqp_next_delivery(parley_amqp *c, int timeout_ms, parley_amqp_delivery *out, char *err, size_t errlen) {
    struct timeval tv = to_timeval(timeout_ms);
    amqp_envelope_t envelope;
    amqp_maybe_release_buffers(c->conn);
    amqp_rpc_reply_t r = amqp_consume_message(c->conn, &envelope, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) return 0;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        /* A frame other than a delivery arrived: a close from the server, most likely. */
        amqp_frame_t frame;
        int status = amqp_simple_wait_frame_noblock(c->conn, &frame, &tv);
        if (status != AMQP_STATUS_OK) { set_err(err, errlen, "consume", amqp_error_string2(status)); return -1; }
        if (frame.frame_type == AMQP_FRAME_METHOD &&
            (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD || frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
            set_err(err, errlen, "consume", "closed by server");
            return -1;
        }
        return 0;
    }
    if (check_reply(r, "consume", err, errlen) != 0) return -1;

    out->delivery_tag = envelope.delivery_tag;
    out->redelivered = envelope.redelivered;
    out->delivery_count = 0;
    if (envelope.message.properties._flags & AMQP_BASIC_HEADERS_FLAG)
        out->delivery_count = header_long(&envelope.message.properties.headers, "x-delivery-count");
    size_t klen = envelope.routing_key.len < sizeof out->routing_key - 1 ? envelope.routing_key.len : sizeof out->routing_key - 1;
    memcpy(out->routing_key, envelope.routing_key.bytes, klen);
    out->routing_key[klen] = 0;
    out->len = envelope.message.body.len;
    out->body = malloc(out->len ? out->len : 1);
    if (out->len) memcpy(out->body, envelope.message.body.bytes, out->len);
    amqp_destroy_envelope(&envelope);
    return 1;
}

void parley_amqp_free_body(void *body) { free(body); }

int parley_amqp_ack(parley_amqp *c, uint64_t tag, int multiple, char *err, size_t errlen) {
    return check_status(amqp_basic_ack(c->conn, CHANNEL, tag, multiple), "basic.ack", err, errlen);
}

int parley_amqp_nack(parley_amqp *c, uint64_t tag, int multiple, int requeue, char *err, size_t errlen) {
    return check_status(amqp_basic_nack(c->conn, CHANNEL, tag, multiple, requeue), "basic.nack", err, errlen);
}
