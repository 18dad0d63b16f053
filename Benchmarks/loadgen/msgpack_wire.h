/* msgpack_wire: the load generator's packets in socket.io-msgpack-parser 3.0's format, with msgpack-c.
 *
 * A packet is one msgpack map in one binary WebSocket message (Engine.IO v4 sends binary messages without a
 * type prefix). Encoders write the map the official JavaScript client writes through notepack.io:
 * {type, data, options: {compress: true}, id, nsp} (id only with an ack); a CONNECT is {type: 0, nsp}.
 * The decoder checks what socket.io-msgpack-parser's isPacketValid checks and fills a wire_packet_t, the
 * parser-neutral view of a packet the load generator's scenarios read (its JSON path fills the same view).
 *
 * Not thread-safe: one encode buffer and one decode zone, for the load generator's single loop.
 */
#ifndef LOADGEN_MSGPACK_WIRE_H
#define LOADGEN_MSGPACK_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* What the scenarios read of a received packet. Pointers borrow the decoded message: valid until the next
 * mpw_decode call or until that message's bytes change. */
typedef struct wire_packet {
    int type;                 /* Socket.IO packet type: 0 CONNECT .. 4 CONNECT_ERROR */
    int has_id;
    uint64_t id;              /* ack id */
    const char *event;        /* EVENT: the name (data[0]) */
    size_t event_len;
    int nargs;                /* EVENT: arguments after the name; ACK: every argument */
    /* top-level members of the first argument, when it is a map (JSON: found by key in the text) */
    int has_seq, has_t;
    uint64_t seq, t;
    /* binaries anywhere in the arguments: how many, and the first one */
    int bins;
    const char *bin;
    size_t bin_len;
} wire_packet_t;

/* Sets up the encode buffer and the decode zone; returns 0, or -1 when out of memory. */
int mpw_init(void);

/* Encoders: each returns the bytes of one binary message, valid until the next encoder call (NULL when out of
 * memory). id < 0: no ack id. nsp is the namespace ("/" or "/chat"). */
const char *mpw_connect(const char *nsp, size_t *len);
/* [name, str] */
const char *mpw_event_str(const char *nsp, int64_t id, const char *name, const char *str, size_t *len);
/* ["echo-ack", {"p": "x" * pad, "b": bin}] ("b" only when bin_len > 0) */
const char *mpw_echo_ack(const char *nsp, int64_t id, size_t pad, const void *bin, size_t bin_len, size_t *len);
/* ["broadcast", {"room": room, "seq": seq, "t": t, "pad": "x" * pad, "b": bin}] ("b" only when bin_len > 0) */
const char *mpw_broadcast(const char *nsp, const char *room, uint64_t seq, uint64_t t, size_t pad, const void *bin,
                          size_t bin_len, size_t *len);

/* Decodes one packet (one whole binary message). Returns 1 and fills *out for a valid packet of namespace nsp,
 * 0 for a valid packet of another namespace, -1 for a malformed one (*why says what is wrong). */
int mpw_decode(const char *p, size_t n, const char *nsp, wire_packet_t *out, const char **why);

#endif
