/* msgpack_wire: socket.io-msgpack-parser 3.0 packets with msgpack-c (see msgpack_wire.h). */
#include "msgpack_wire.h"

#include <math.h>
#include <string.h>

#include <msgpack.h>

static msgpack_sbuffer out;
static msgpack_packer pk;
static msgpack_zone zone;
static int failed; /* a packer write ran out of memory */

static int out_write(void *data, const char *buf, size_t len) {
    if (msgpack_sbuffer_write(data, buf, len) != 0) failed = 1;
    return 0;
}

int mpw_init(void) {
    msgpack_sbuffer_init(&out);
    msgpack_packer_init(&pk, &out, out_write);
    return msgpack_zone_init(&zone, MSGPACK_ZONE_CHUNK_SIZE) ? 0 : -1;
}

/* ---------------------------------------------------------------- encoding */

static void begin(void) {
    msgpack_sbuffer_clear(&out);
    failed = 0;
}

static const char *end(size_t *len) {
    if (failed) return NULL;
    *len = out.size;
    return out.data;
}

static void str(const char *s, size_t n) { msgpack_pack_str_with_body(&pk, s, n); }

static void key(const char *k) { str(k, strlen(k)); }

/* "x" * n, in pieces (the argument sizes go up to 1 MB) */
static void pad_str(size_t n) {
    static char xs[4096];
    if (!xs[0]) memset(xs, 'x', sizeof xs);
    msgpack_pack_str(&pk, n);
    while (n) {
        size_t k = n < sizeof xs ? n : sizeof xs;
        msgpack_pack_str_body(&pk, xs, k);
        n -= k;
    }
}

/* The map head up to the data array: {type: 2, data: [ ... (the caller packs nelems elements) */
static void event_head(int64_t id, size_t nelems) {
    msgpack_pack_map(&pk, id >= 0 ? 5 : 4);
    key("type");
    msgpack_pack_uint8(&pk, 2);
    key("data");
    msgpack_pack_array(&pk, nelems);
}

/* ... ], options: {compress: true}, id, nsp}: the rest of the map, in the official client's order */
static void event_tail(const char *nsp, int64_t id) {
    key("options");
    msgpack_pack_map(&pk, 1);
    key("compress");
    msgpack_pack_true(&pk);
    if (id >= 0) {
        key("id");
        msgpack_pack_uint64(&pk, (uint64_t)id);
    }
    key("nsp");
    str(nsp, strlen(nsp));
}

const char *mpw_connect(const char *nsp, size_t *len) {
    begin();
    msgpack_pack_map(&pk, 2);
    key("type");
    msgpack_pack_uint8(&pk, 0);
    key("nsp");
    str(nsp, strlen(nsp));
    return end(len);
}

const char *mpw_event_str(const char *nsp, int64_t id, const char *name, const char *s, size_t *len) {
    begin();
    event_head(id, 2);
    str(name, strlen(name));
    str(s, strlen(s));
    event_tail(nsp, id);
    return end(len);
}

const char *mpw_echo_ack(const char *nsp, int64_t id, size_t pad, const void *bin, size_t bin_len, size_t *len) {
    begin();
    event_head(id, 2);
    key("echo-ack");
    msgpack_pack_map(&pk, bin_len ? 2 : 1);
    key("p");
    pad_str(pad);
    if (bin_len) {
        key("b");
        msgpack_pack_bin_with_body(&pk, bin, bin_len);
    }
    event_tail(nsp, id);
    return end(len);
}

const char *mpw_broadcast(const char *nsp, const char *room, uint64_t seq, uint64_t t, size_t pad, const void *bin,
                          size_t bin_len, size_t *len) {
    begin();
    event_head(-1, 2);
    key("broadcast");
    msgpack_pack_map(&pk, bin_len ? 5 : 4);
    key("room");
    str(room, strlen(room));
    key("seq");
    msgpack_pack_uint64(&pk, seq);
    key("t");
    msgpack_pack_uint64(&pk, t);
    key("pad");
    pad_str(pad);
    if (bin_len) {
        key("b");
        msgpack_pack_bin_with_body(&pk, bin, bin_len);
    }
    event_tail(nsp, -1);
    return end(len);
}

/* ---------------------------------------------------------------- decoding */

static int is_key(const msgpack_object *o, const char *k) {
    size_t n = strlen(k);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, k, n) == 0;
}

static const msgpack_object *member(const msgpack_object *map, const char *k) {
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (is_key(&map->via.map.ptr[i].key, k)) return &map->via.map.ptr[i].val;
    return NULL;
}

/* A whole number >= 0 below 2^53 in any msgpack form (notepack.io and JavaScript see 2.0 as an integer). */
static int whole(const msgpack_object *o, uint64_t *v) {
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *v = o->via.u64;
        return 1;
    }
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) {
        double d = o->via.f64;
        if (d >= 0 && d < 9007199254740992.0 && floor(d) == d) {
            *v = (uint64_t)d;
            return 1;
        }
    }
    return 0;
}

/* Counts the binaries in o (msgpack-c nests at most MSGPACK_EMBED_STACK_SIZE deep: the recursion is bounded). */
static void count_bins(const msgpack_object *o, wire_packet_t *w) {
    switch (o->type) {
    case MSGPACK_OBJECT_BIN:
        if (!w->bins++) {
            w->bin = o->via.bin.ptr;
            w->bin_len = o->via.bin.size;
        }
        break;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++) count_bins(&o->via.array.ptr[i], w);
        break;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            count_bins(&o->via.map.ptr[i].key, w);
            count_bins(&o->via.map.ptr[i].val, w);
        }
        break;
    default: break;
    }
}

int mpw_decode(const char *p, size_t n, const char *nsp, wire_packet_t *w, const char **why) {
    memset(w, 0, sizeof *w);
    msgpack_object root;
    size_t off = 0;
    /* msgpack_unpack (marked obsolete) decodes into a zone the caller owns: cleared and reused for every packet,
     * where msgpack_unpack_next allocates a zone each time */
    msgpack_zone_clear(&zone);
    msgpack_unpack_return rc = msgpack_unpack(p, n, &off, &zone, &root);
    if (rc != MSGPACK_UNPACK_SUCCESS) {
        *why = rc == MSGPACK_UNPACK_EXTRA_BYTES ? "msgpack: bytes after the packet"
               : rc == MSGPACK_UNPACK_CONTINUE  ? "msgpack: truncated packet"
               : rc == MSGPACK_UNPACK_NOMEM_ERROR ? "msgpack: out of memory"
                                                  : "msgpack: parse error";
        return -1;
    }
    if (root.type != MSGPACK_OBJECT_MAP) {
        *why = "msgpack packet: not a map";
        return -1;
    }
    /* socket.io-msgpack-parser's isPacketValid: an integer type 0-4, a string nsp, an integer id or none, and
     * data of the type's shape */
    const msgpack_object *type = member(&root, "type"), *ns = member(&root, "nsp"), *id = member(&root, "id"),
                         *data = member(&root, "data");
    uint64_t t;
    if (!type || !whole(type, &t) || t > 4) {
        *why = "msgpack packet: no type 0-4";
        return -1;
    }
    w->type = (int)t;
    if (!ns || ns->type != MSGPACK_OBJECT_STR) {
        *why = "msgpack packet: nsp is not a string";
        return -1;
    }
    if (id) {
        if (!whole(id, &w->id)) {
            *why = "msgpack packet: id is not an integer";
            return -1;
        }
        w->has_id = 1;
    }
    int ok;
    switch (w->type) {
    case 0: ok = !data || data->type == MSGPACK_OBJECT_MAP; break;
    case 1: ok = !data; break;
    case 4: ok = data && (data->type == MSGPACK_OBJECT_STR || data->type == MSGPACK_OBJECT_MAP); break;
    case 3: ok = data && data->type == MSGPACK_OBJECT_ARRAY; break;
    default: /* EVENT: a name (a string, or a number as JavaScript allows) and the arguments */
        ok = data && data->type == MSGPACK_OBJECT_ARRAY && data->via.array.size > 0 &&
             (data->via.array.ptr[0].type == MSGPACK_OBJECT_STR || whole(&data->via.array.ptr[0], &t));
        break;
    }
    if (!ok) {
        *why = "msgpack packet: data of the wrong shape for its type";
        return -1;
    }
    size_t nl = strlen(nsp);
    if (ns->via.str.size != nl || memcmp(ns->via.str.ptr, nsp, nl) != 0) return 0;
    if (w->type != 2 && w->type != 3) return 1;
    uint32_t first = 0;
    if (w->type == 2) {
        const msgpack_object *name = &data->via.array.ptr[0];
        if (name->type == MSGPACK_OBJECT_STR) {
            w->event = name->via.str.ptr;
            w->event_len = name->via.str.size;
        }
        first = 1;
    }
    w->nargs = (int)(data->via.array.size - first);
    for (uint32_t i = first; i < data->via.array.size; i++) count_bins(&data->via.array.ptr[i], w);
    if (w->nargs > 0 && data->via.array.ptr[first].type == MSGPACK_OBJECT_MAP) {
        const msgpack_object *arg = &data->via.array.ptr[first], *v;
        if ((v = member(arg, "seq"))) w->has_seq = whole(v, &w->seq);
        if ((v = member(arg, "t"))) w->has_t = whole(v, &w->t);
    }
    return 1;
}
