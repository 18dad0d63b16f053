/* floor_server: the smallest server that answers the benchmark contract over WebSocket.
 *
 * Not a Socket.IO implementation: it knows just enough of Engine.IO v4 / Socket.IO v5 to serve the
 * load generator (handshake, namespace CONNECT on any namespace, pong, echo, echo-ack, join,
 * broadcast) and nothing else (no polling, no fragmentation, no binary, no heartbeat of its own).
 * It exists to check that the load generator is not the bottleneck and to show the floor the
 * kernel and libuv set on this machine. One libuv loop; each broadcast is framed once and copied
 * into every member's output buffer; every output buffer is flushed once per loop turn (a uv_check
 * handle), so frames queued in one turn leave in one write.
 *
 * Build: cc -O2 -std=c11 -Wall -Wextra -o floor_server floor_server.c -luv -lcrypto
 * Run:   floor_server --port N
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <uv.h>

typedef struct conn conn_t;

typedef struct room {
    char name[64];
    conn_t **m;
    size_t n, cap;
    struct room *next;
} room_t;

typedef struct obuf {
    char *p;
    size_t len, cap;
} obuf_t;

struct conn {
    uv_tcp_t tcp;
    uv_write_t wreq;
    char *in;
    size_t inlen, incap;
    obuf_t out, wbuf;
    int writing, dirty;
    int ws;
    int closing;
    unsigned id;
    room_t *rooms[4];
    int nrooms;
};

static uv_loop_t *loop;
static conn_t **dirty;
static size_t ndirty, capdirty;
static room_t *rooms;
static char rbuf[65536];
static unsigned next_id;

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
    (void)h;
    (void)s;
    b->base = rbuf;
    b->len = sizeof rbuf;
}

static void on_closed(uv_handle_t *h) {
    conn_t *c = (conn_t *)h;
    free(c->in);
    free(c->out.p);
    free(c->wbuf.p);
    free(c);
}

static void conn_close(conn_t *c) {
    if (c->closing) return;
    c->closing = 1;
    for (int i = 0; i < c->nrooms; i++) {
        room_t *r = c->rooms[i];
        for (size_t k = 0; k < r->n; k++)
            if (r->m[k] == c) {
                r->m[k] = r->m[--r->n];
                break;
            }
    }
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void flush(conn_t *c);

static void on_written(uv_write_t *req, int status) {
    conn_t *c = (conn_t *)req->handle;
    c->writing = 0;
    c->wbuf.len = 0;
    if (status < 0) {
        conn_close(c);
        return;
    }
    flush(c);
}

static void flush(conn_t *c) {
    if (c->closing || c->writing || c->out.len == 0) return;
    uv_buf_t b = uv_buf_init(c->out.p, (unsigned)c->out.len);
    int k = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (k == (int)c->out.len) {
        c->out.len = 0;
        return;
    }
    if (k < 0 && k != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (k < 0) k = 0;
    obuf_t t = c->wbuf;
    c->wbuf = c->out;
    c->out = t;
    c->out.len = 0;
    b = uv_buf_init(c->wbuf.p + k, (unsigned)(c->wbuf.len - (size_t)k));
    c->writing = 1;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        c->writing = 0;
        conn_close(c);
    }
}

/* once per loop turn, after all reads: one write per connection with everything queued */
static void on_check(uv_check_t *h) {
    (void)h;
    for (size_t i = 0; i < ndirty; i++) {
        dirty[i]->dirty = 0;
        flush(dirty[i]);
    }
    ndirty = 0;
}

static char *queue(conn_t *c, size_t n) {
    if (c->out.len + n > c->out.cap) {
        size_t cap = c->out.cap ? c->out.cap : 256;
        while (cap < c->out.len + n) cap *= 2;
        c->out.p = realloc(c->out.p, cap);
        c->out.cap = cap;
    }
    if (!c->dirty) {
        if (ndirty == capdirty) {
            capdirty = capdirty ? capdirty * 2 : 1024;
            dirty = realloc(dirty, capdirty * sizeof *dirty);
        }
        dirty[ndirty++] = c;
        c->dirty = 1;
    }
    char *d = c->out.p + c->out.len;
    c->out.len += n;
    return d;
}

static size_t frame_head(char *h, size_t n) {
    h[0] = (char)0x81;
    if (n < 126) {
        h[1] = (char)n;
        return 2;
    }
    if (n < 65536) {
        h[1] = 126;
        h[2] = (char)(n >> 8);
        h[3] = (char)n;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (char)((uint64_t)n >> (56 - 8 * i));
    return 10;
}

static void send_raw(conn_t *c, const char *p, size_t n) {
    if (c->closing) return;
    memcpy(queue(c, n), p, n);
}

/* text frame from pieces */
static void send_text(conn_t *c, const char *a, size_t an, const char *b, size_t bn, const char *d, size_t dn) {
    char stack[1024];
    size_t n = an + bn + dn;
    char *f = n + 10 <= sizeof stack ? stack : malloc(n + 10);
    size_t h = frame_head(f, n);
    memcpy(f + h, a, an);
    memcpy(f + h + an, b, bn);
    memcpy(f + h + an + bn, d, dn);
    send_raw(c, f, h + n);
    if (f != stack) free(f);
}

static room_t *room_get(const char *name, size_t n) {
    if (n >= sizeof rooms->name) n = sizeof rooms->name - 1;
    for (room_t *r = rooms; r; r = r->next)
        if (strlen(r->name) == n && memcmp(r->name, name, n) == 0) return r;
    room_t *r = calloc(1, sizeof *r);
    memcpy(r->name, name, n);
    r->next = rooms;
    rooms = r;
    return r;
}

static void broadcast(room_t *r, const char *pfx, size_t pn, const char *obj, size_t on) {
    const char head[] = "[\"bcast\",";
    size_t n = 2 + pn + sizeof head - 1 + on + 1;
    char stack[1024];
    char *f = n + 10 <= sizeof stack ? stack : malloc(n + 10);
    size_t h = frame_head(f, n);
    char *d = f + h;
    memcpy(d, "42", 2);
    memcpy(d + 2, pfx, pn);
    memcpy(d + 2 + pn, head, sizeof head - 1);
    memcpy(d + 2 + pn + sizeof head - 1, obj, on);
    d[n - 1] = ']';
    for (size_t k = 0; k < r->n; k++) send_raw(r->m[k], f, h + n);
    if (f != stack) free(f);
}

static void on_packet(conn_t *c, char *p, size_t n) {
    if (n == 1 && p[0] == '3') return; /* pong */
    if (n < 2 || p[0] != '4') return;
    char type = p[1];
    char *q = p + 2, *e = p + n;
    const char *pfx = q;
    size_t pn = 0;
    if (q < e && *q == '/') {
        char *comma = memchr(q, ',', (size_t)(e - q));
        if (!comma) comma = e - 1;
        pn = (size_t)(comma - q) + 1;
        q = comma + 1;
    }
    if (type == '0') {
        char sid[32];
        int sl = snprintf(sid, sizeof sid, "{\"sid\":\"s%08u\"}", c->id);
        send_text(c, "40", 2, pfx, pn, sid, (size_t)sl);
        return;
    }
    if (type != '2') return;
    const char *id = q;
    while (q < e && *q >= '0' && *q <= '9') q++;
    size_t idn = (size_t)(q - id);
    if (e - q > 8 && memcmp(q, "[\"echo\",", 8) == 0) {
        send_text(c, "42", 2, pfx, pn, q, (size_t)(e - q));
    } else if (e - q > 12 && memcmp(q, "[\"echo-ack\",", 12) == 0) {
        char h[32];
        memcpy(h, "43", 2);
        memcpy(h + 2, pfx, pn < 16 ? pn : 16);
        size_t hn = 2 + (pn < 16 ? pn : 16);
        memcpy(h + hn, id, idn < 12 ? idn : 12);
        hn += idn < 12 ? idn : 12;
        h[hn++] = '[';
        send_text(c, h, hn, q + 12, (size_t)(e - q - 12), "", 0);
    } else if (e - q > 9 && memcmp(q, "[\"join\",\"", 9) == 0) {
        char *nm = q + 9, *ne = memchr(nm, '"', (size_t)(e - nm));
        if (!ne || c->nrooms == 4) return;
        room_t *r = room_get(nm, (size_t)(ne - nm));
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 64;
            r->m = realloc(r->m, r->cap * sizeof *r->m);
        }
        r->m[r->n++] = c;
        c->rooms[c->nrooms++] = r;
    } else if (e - q > 14 && memcmp(q, "[\"broadcast\",{", 14) == 0) {
        char *obj = q + 13, *oe = e - 1; /* drop the closing ']' */
        char *rk = memmem(obj, (size_t)(oe - obj), "\"room\":\"", 8);
        if (!rk) return; /* whole-namespace broadcast: not needed by the load generator */
        char *nm = rk + 8, *ne = memchr(nm, '"', (size_t)(oe - nm));
        if (!ne) return;
        broadcast(room_get(nm, (size_t)(ne - nm)), pfx, pn, obj, (size_t)(oe - obj));
    }
}

static size_t on_frames(conn_t *c, char *p, size_t n) {
    size_t off = 0;
    while (n - off >= 6) {
        uint8_t b0 = (uint8_t)p[off], b1 = (uint8_t)p[off + 1];
        uint64_t len = b1 & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (n - off < 8) break;
            len = ((uint64_t)(uint8_t)p[off + 2] << 8) | (uint8_t)p[off + 3];
            hl = 4;
        } else if (len == 127) {
            if (n - off < 14) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | (uint8_t)p[off + 2 + i];
            hl = 10;
        }
        if (!(b1 & 0x80) || len > (1u << 24)) {
            conn_close(c);
            return n;
        }
        if (n - off < hl + 4 + len) break;
        uint8_t *m = (uint8_t *)p + off + hl;
        char *d = p + off + hl + 4;
        for (size_t i = 0; i < len; i++) d[i] ^= (char)m[i & 3];
        off += hl + 4 + len;
        int op = b0 & 0x0f;
        if (op == 8) {
            conn_close(c);
            return n;
        }
        if (op == 1) on_packet(c, d, len);
    }
    return off;
}

static size_t on_http(conn_t *c, char *p, size_t n) {
    char *e = memmem(p, n, "\r\n\r\n", 4);
    if (!e) return 0;
    const char *k = NULL;
    for (char *line = memchr(p, '\n', (size_t)(e - p)); line && line < e; line = memchr(line, '\n', (size_t)(e - line))) {
        line++;
        if (strncasecmp(line, "sec-websocket-key:", 18) == 0) {
            k = line + 18;
            while (*k == ' ') k++;
            break;
        }
    }
    if (!k) {
        conn_close(c);
        return n;
    }
    const char *ke = k;
    while (ke < e && *ke != '\r') ke++;
    char src[128];
    int sl = snprintf(src, sizeof src, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)(ke - k), k);
    unsigned char dig[SHA_DIGEST_LENGTH], acc[40];
    SHA1((unsigned char *)src, (size_t)sl, dig);
    EVP_EncodeBlock(acc, dig, SHA_DIGEST_LENGTH);
    char resp[256];
    int rl = snprintf(resp, sizeof resp,
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n\r\n",
                      acc);
    send_raw(c, resp, (size_t)rl);
    char open[160];
    int ol = snprintf(open, sizeof open,
                      "0{\"sid\":\"e%08u\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,"
                      "\"maxPayload\":1000000}",
                      c->id);
    send_text(c, open, (size_t)ol, "", 0, "", 0);
    c->ws = 1;
    return (size_t)(e - p) + 4;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    conn_t *c = (conn_t *)s;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0) return;
    char *p = b->base;
    size_t n = (size_t)nread;
    int from_in = c->inlen > 0;
    if (from_in) {
        if (c->inlen + n > c->incap) {
            c->incap = (c->inlen + n) * 2;
            c->in = realloc(c->in, c->incap);
        }
        memcpy(c->in + c->inlen, p, n);
        p = c->in;
        n = c->inlen + n;
    }
    size_t off = 0;
    if (!c->ws) off = on_http(c, p, n);
    if (c->ws && !c->closing) off += on_frames(c, p + off, n - off);
    if (c->closing) return;
    size_t rest = n - off;
    if (rest > (1u << 25)) {
        conn_close(c);
        return;
    }
    if (from_in) {
        memmove(c->in, c->in + off, rest);
        c->inlen = rest;
    } else if (rest) {
        if (rest > c->incap) {
            c->incap = rest * 2;
            c->in = realloc(c->in, c->incap);
        }
        memcpy(c->in, p + off, rest);
        c->inlen = rest;
    }
    if (!c->inlen && c->incap > 65536) {
        free(c->in);
        c->in = NULL;
        c->incap = 0;
    }
}

static void on_conn(uv_stream_t *srv, int status) {
    if (status < 0) return;
    conn_t *c = calloc(1, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->id = next_id++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *s, int sig) {
    (void)s;
    (void)sig;
    exit(0);
}

int main(int argc, char **argv) {
    int port = 3000;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--port")) port = atoi(argv[++i]);
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    uv_tcp_t srv;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_init(loop, &srv);
    if (uv_tcp_bind(&srv, (const struct sockaddr *)&a, 0) < 0 || uv_listen((uv_stream_t *)&srv, 4096, on_conn) < 0) {
        fprintf(stderr, "floor_server: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    uv_check_t chk;
    uv_check_init(loop, &chk);
    uv_check_start(&chk, on_check);
    uv_unref((uv_handle_t *)&chk);
    uv_signal_t st, si;
    uv_signal_init(loop, &st);
    uv_signal_start(&st, on_signal, SIGTERM);
    uv_signal_init(loop, &si);
    uv_signal_start(&si, on_signal, SIGINT);
    fprintf(stderr, "floor_server listening on 127.0.0.1:%d\n", port);
    return uv_run(loop, UV_RUN_DEFAULT);
}
