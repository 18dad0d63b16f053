/* loadgen: a Socket.IO v5 / Engine.IO v4 load generator on one libuv loop.
 *
 * Scenarios (one JSON object on stdout, progress on stderr):
 *   connect       open N WebSocket clients with a concurrency window, then hold them idle
 *   echo-ack      C WebSocket clients, each keeping K "echo-ack" acks in flight
 *   broadcast     N receivers join a room, one sender emits "broadcast" at R/s (with --port2 the
 *                 receivers alternate between two servers of one cluster; the sender stays on --port)
 *   polling-echo  C long-polling clients (GET + POST keep-alive connections), "echo" round trips
 *
 * --parser msgpack speaks socket.io-msgpack-parser (msgpack_wire.c) instead of the JSON parser on WebSocket;
 * --binary N adds an N-byte binary to the echo-ack and broadcast argument (JSON: a binary event, placeholder and
 * attachment frame; msgpack: a bin member). A malformed packet from the server is counted (errors.malformed)
 * and makes the run not ok.
 *
 * With --server-pid PID it samples the server's CPU time (utime+stime from /proc/PID/stat)
 * and RSS (VmRSS) at the exact boundaries of the measured window (PID,PID,...: the sum over
 * several server processes; --aux-pid PID: one more process, e.g. redis-server, reported apart).
 * Its own CPU time comes from getrusage, so a reader can see it was not the bottleneck.
 *
 * With --tls every connection speaks TLS (tls_client.c: OpenSSL on memory BIOs, driven from the
 * read and write callbacks below); --tls-ca FILE verifies the server's chain, else nothing is verified.
 *
 * Build: cc -O2 -std=c11 -Wall -Wextra -o loadgen loadgen.c tls_client.c msgpack_wire.c -luv -lssl -lcrypto -lmsgpackc -lm
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <uv.h>

#include "hist.h"
#include "tls_client.h"
#include "msgpack_wire.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define MAX_MESSAGE (16u * 1024u * 1024u)
#define ACK_SLOTS 64
#define MAX_PIDS 8

/* ------------------------------------------------------------------ config */

enum { SC_CONNECT, SC_ECHO_ACK, SC_BROADCAST, SC_POLLING_ECHO };

static struct {
    int sc;
    const char *scenario;
    const char *host;
    int port;
    const char *path;
    const char *nsp;      /* "/" or "/chat" */
    int clients;          /* N or C */
    int window;           /* concurrent handshakes */
    double hold;          /* connect: idle hold, s */
    int inflight;         /* echo-ack / polling-echo: K */
    double duration;      /* measured window, s */
    double warmup;        /* s before the measured window */
    double rate;          /* broadcast: messages/s */
    int payload;          /* bytes of the JSON object argument */
    int server_pid;          /* the first of server_pids */
    int server_pids[MAX_PIDS];
    int nserver_pids;
    const char *server_pid_arg;
    int aux_pid;             /* sampled apart (e.g. redis-server of a cluster) */
    int port2;               /* broadcast: receivers alternate between port and port2 (0: off) */
    int join_ack;            /* broadcast: the join barrier is the ack of join, not an echo */
    double timeout;       /* setup phase limit, s */
    double drain;         /* broadcast: wait after the last send, s */
    const char *room;
    int quiet;
    int batch_us; /* sleep this long after each loop turn that read data: fewer, larger reads */
    int tls;              /* every connection over TLS */
    const char *tls_ca;   /* verify the server against this CA (NULL: no verification) */
    const char *tls_name; /* SNI and, with tls_ca, the name the certificate must carry */
    int msgpack;  /* WebSocket scenarios speak socket.io-msgpack-parser (default: the JSON parser) */
    int binary;   /* echo-ack / broadcast: bytes of the binary in the argument (0: none) */
} cfg = {
    .host = "127.0.0.1", .port = 0, .path = "/socket.io/", .nsp = "/",
    .clients = -1, .window = 256, .hold = 5, .inflight = 4, .duration = 5, .warmup = 1,
    .rate = 1000, .payload = 64, .timeout = 60, .drain = 10, .room = "bench",
    .tls_name = "localhost",
};

/* --------------------------------------------------------------- utilities */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void logmsg(const char *fmt, ...) {
    if (cfg.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) die("out of memory");
    b->p = p;
    b->cap = cap;
}

static void buf_append(buf_t *b, const void *p, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_str(buf_t *b, const char *s) { buf_append(b, s, strlen(s)); }

static void buf_u64(buf_t *b, uint64_t v) {
    char t[24];
    int i = 0;
    do {
        t[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_reserve(b, (size_t)i);
    while (i) b->p[b->len++] = t[--i];
}

static void buf_free(buf_t *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng64(void) {
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t now_ns(void) { return uv_hrtime(); }
static uint64_t now_us(void) { return uv_hrtime() / 1000; }

/* Parses an unsigned decimal right after key (e.g. "\"t\":") inside [p, p+n). */
static int find_u64(const char *p, size_t n, const char *key, uint64_t *out) {
    size_t kl = strlen(key);
    const char *k = memmem(p, n, key, kl);
    if (!k) return 0;
    const char *q = k + kl, *e = p + n;
    while (q < e && *q == ' ') q++;
    if (q >= e || *q < '0' || *q > '9') return 0;
    uint64_t v = 0;
    while (q < e && *q >= '0' && *q <= '9') v = v * 10 + (uint64_t)(*q++ - '0');
    *out = v;
    return 1;
}

/* Case-insensitive header lookup in an HTTP head (status line + headers). */
static int find_header(const char *p, size_t n, const char *name, const char **val, size_t *vlen) {
    size_t nl = strlen(name);
    const char *e = p + n;
    const char *line = memchr(p, '\n', n);
    while (line && line + 1 < e) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(e - line));
        if (!eol) eol = e;
        size_t ll = (size_t)(eol - line);
        if (ll > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            *val = v;
            *vlen = (size_t)(ve - v);
            return 1;
        }
        line = eol < e ? eol : NULL;
    }
    return 0;
}

static int http_status(const char *p, size_t n) {
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0) return -1;
    int s = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        s = s * 10 + (p[i] - '0');
    }
    return s;
}

/* ------------------------------------------------------- server sampling */

typedef struct {
    double cpu_us;
    long rss_kb;
    int ok;
} psample_t;

static psample_t proc_sample_pid(int pid) {
    psample_t s = {0, 0, 0};
    if (pid <= 0) return s;
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return s;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *q = strrchr(text, ')');
    if (!q) return s;
    q++;
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ... utime(14) stime(15) */
    char *tok = strtok(q, " ");
    for (int field = 3; tok && field <= 15; field++, tok = strtok(NULL, " ")) {
        if (field == 14) ut = strtoull(tok, NULL, 10);
        if (field == 15) st = strtoull(tok, NULL, 10);
    }
    long hz = sysconf(_SC_CLK_TCK);
    s.cpu_us = (double)(ut + st) * 1e6 / (double)(hz > 0 ? hz : 100);
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f) return s;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            s.rss_kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    s.ok = 1;
    return s;
}

/* The server: the sum over every --server-pid (ok only when each was read); each[] gets them one by one. */
static psample_t proc_sample_each(psample_t *each) {
    psample_t s = {0, 0, 0};
    if (cfg.nserver_pids == 0) return s;
    s.ok = 1;
    for (int i = 0; i < cfg.nserver_pids; i++) {
        psample_t one = proc_sample_pid(cfg.server_pids[i]);
        if (each) each[i] = one;
        s.cpu_us += one.cpu_us;
        s.rss_kb += one.rss_kb;
        if (!one.ok) s.ok = 0;
    }
    return s;
}

static psample_t proc_sample(void) { return proc_sample_each(NULL); }

static double self_cpu_us(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec * 1e6 +
           (double)ru.ru_stime.tv_usec;
}

/* Busy CPU time of the whole machine (all cores, /proc/stat), us; *softirq gets the softirq part. */
static double machine_busy_us(double *softirq) {
    *softirq = -1;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]);
    fclose(f);
    if (n < 4) return -1;
    long hz = sysconf(_SC_CLK_TCK);
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* all but idle and iowait */
    *softirq = (double)v[6] * 1e6 / (double)(hz > 0 ? hz : 100);
    return (double)busy * 1e6 / (double)(hz > 0 ? hz : 100);
}

typedef struct {
    uint64_t t;
    double self_cpu;
    double machine, softirq;
    psample_t srv;
    psample_t srv_each[MAX_PIDS];
    psample_t aux;
} mark_t;

static mark_t mark_now(void) {
    mark_t m;
    m.machine = machine_busy_us(&m.softirq);
    m.srv = proc_sample_each(m.srv_each);
    m.aux = proc_sample_pid(cfg.aux_pid);
    m.self_cpu = self_cpu_us();
    m.t = now_ns();
    return m;
}

/* ------------------------------------------------------------ socket base */

enum { K_WS, K_HGET, K_HPOST };

typedef struct sock {
    uv_tcp_t tcp; /* first: the handle pointer is the sock pointer */
    uv_connect_t creq;
    uv_write_t wreq;
    buf_t in, out, wbuf;
    unsigned inited : 1, connected : 1, writing : 1, closing : 1;
    int kind;
    void *owner;
    tls_client_t *tls; /* --tls: this connection's session (out holds plaintext until sock_flush seals it) */
    buf_t tls_hold;    /* --tls: plaintext queued before the handshake finished */
} sock_t;

/* WebSocket client */
enum { WS_IDLE, WS_TCP, WS_HTTP, WS_EIO, WS_READY, WS_DEAD };

typedef struct wsc {
    sock_t s;
    int idx;
    int state;
    int sender;
    int node;  /* 0: --port, 1: --port2 */
    int ready; /* broadcast barrier passed */
    buf_t frag;
    int frag_op;
    uint64_t t0;
    char key[25];
    uint32_t next_id;
    uint64_t slot[ACK_SLOTS];
    int64_t last_seq;
    uint64_t recv;
    uint32_t viol, gaps;
    /* JSON parser: a binary event / ack waiting for its attachment frames */
    buf_t pend, pend_bin; /* the packet's text from the ack id on; its first attachment */
    int pend_want, pend_got;
    char pend_type; /* '2' or '3' */
} wsc_t;

/* long-polling client */
enum { PC_IDLE, PC_HS, PC_CONNECTING, PC_READY, PC_DEAD };

typedef struct pc {
    sock_t ch[2]; /* 0: GET channel, 1: POST channel */
    int idx;
    int state;
    int get_busy, post_busy;
    char sid[64];
    buf_t pq; /* packets waiting for the next POST, joined with \x1e */
    uint64_t t0;
    int reconnects;
} pc_t;

/* --------------------------------------------------------------- globals */

enum { PH_SETUP, PH_BARRIER, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_HOLD, PH_DONE };

static struct {
    uv_loop_t *loop;
    struct sockaddr_in addr, addr2;
    char hostport[128], hostport2[128];
    char nsp_prefix[128]; /* "" or "/chat," */
    size_t nsp_len;
    int phase;
    int total;
    int started, setup_inflight, connected, failed, dropped;
    int no_more_launch;
    uint32_t sid_first[128]; /* Engine.IO sessions by the first character of their id (a multi-loop server's loop) */
    wsc_t *ws;
    pc_t *pcs;
    hist_t lat;  /* measured latency (ns) */
    hist_t lat_node[2]; /* broadcast with --port2: latency of the receivers on each server */
    hist_t *lat_by_second; /* broadcast: latency by the second of the window the message was sent in */
    int lat_seconds;
    uint64_t received_node[2];
    hist_t conn; /* time to connect (ns) */
    uint64_t errors, malformed;
    char first_error[256];
    uv_timer_t t_phase, t_tick, t_setup;
    uv_check_t batch;
    uint64_t reads, turn_reads;
    mark_t m_before, m_start, m_end, m_setup0, m_setup1;
    uint64_t t_first_done, t_last_done;
    /* echo-ack / polling */
    uint64_t count;
    uint64_t http_requests;
    uint64_t pings; /* Engine.IO pings answered */
    int reconnects;
    buf_t body;   /* prebuilt JSON argument */
    buf_t attach; /* --binary: the binary's bytes */
    /* broadcast */
    int receivers, ready, ready_target;
    uint64_t sent, target_total, received, t_send0, t_send_end, t_last_recv;
    uint64_t order_viol, gaps, stale;
    uint64_t tls_handshake_errors;
    long rss_hold_last, rss_hold_max;
    int hold_samples;
    buf_t scratch;
    char rbuf[65536];
} g;

static void finish(void);
static void setup_done(void);

static void note_error(const char *why) {
    g.errors++;
    if (!g.first_error[0]) snprintf(g.first_error, sizeof g.first_error, "%s", why);
    if (g.errors <= 5) logmsg("error: %s", why);
}

/* A packet from the server that its parser's rules refuse, or that breaks the contract: counted, not fatal. */
static void note_malformed(int idx, const char *why) {
    char msg[200];
    g.malformed++;
    snprintf(msg, sizeof msg, "client %d: %s", idx, why);
    note_error(msg);
}

/* ------------------------------------------------------------ socket I/O */

static void sock_eof(sock_t *s, int err);
static size_t sock_consume(sock_t *s, char *p, size_t n);
static void sock_on_connected(sock_t *s);
static void sock_on_closed(sock_t *s);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    (void)h;
    (void)suggested;
    b->base = g.rbuf;
    b->len = sizeof g.rbuf;
}

static void on_closed(uv_handle_t *h) {
    sock_t *s = (sock_t *)h;
    s->inited = 0;
    s->closing = 0;
    s->writing = 0;
    s->in.len = 0;
    s->wbuf.len = 0;
    if (s->in.cap > 65536) buf_free(&s->in);
    tls_client_free(s->tls);
    s->tls = NULL;
    sock_on_closed(s);
}

static void sock_close(sock_t *s) {
    if (!s->inited || s->closing) return;
    s->closing = 1;
    s->connected = 0;
    uv_close((uv_handle_t *)&s->tcp, on_closed);
}

static void on_write(uv_write_t *req, int status);

static int tls_seal(sock_t *s);

static void sock_flush(sock_t *s) {
    if (!s->connected || s->closing || s->writing) return;
    if (s->tls && tls_seal(s) < 0) return;
    if (s->out.len == 0) return;
    uv_buf_t b = uv_buf_init(s->out.p, (unsigned)s->out.len);
    int n = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
    if (n == (int)s->out.len) {
        s->out.len = 0;
        if (s->out.cap > 65536) buf_free(&s->out);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        sock_eof(s, n);
        return;
    }
    if (n < 0) n = 0;
    buf_t t = s->wbuf;
    s->wbuf = s->out;
    s->out = t;
    s->out.len = 0;
    b = uv_buf_init(s->wbuf.p + n, (unsigned)(s->wbuf.len - (size_t)n));
    s->writing = 1;
    int rc = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, &b, 1, on_write);
    if (rc < 0) {
        s->writing = 0;
        sock_eof(s, rc);
    }
}

static void on_write(uv_write_t *req, int status) {
    sock_t *s = (sock_t *)req->handle;
    s->writing = 0;
    s->wbuf.len = 0;
    if (s->wbuf.cap > 65536) buf_free(&s->wbuf);
    if (status < 0) {
        if (!s->closing) sock_eof(s, status);
        return;
    }
    sock_flush(s);
}

static void tls_on_read(sock_t *s, const char *p, size_t n);

/* Bytes from the peer (plaintext): the scenario consumes what it can, the rest waits in s->in. */
static void sock_input(sock_t *s, const uv_buf_t *b, ssize_t nread) {
    char *p;
    size_t n;
    int from_in = s->in.len > 0;
    if (from_in) {
        buf_append(&s->in, b->base, (size_t)nread);
        p = s->in.p;
        n = s->in.len;
    } else {
        p = b->base;
        n = (size_t)nread;
    }
    size_t used = sock_consume(s, p, n);
    if (used == (size_t)-1 || s->closing || !s->inited) return;
    size_t rest = n - used;
    if (from_in) {
        if (rest && used) memmove(s->in.p, s->in.p + used, rest);
        s->in.len = rest;
        if (!rest && s->in.cap > 65536) buf_free(&s->in);
    } else if (rest) {
        buf_append(&s->in, p + used, rest);
    }
    sock_flush(s);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b) {
    sock_t *s = (sock_t *)st;
    if (nread == 0) return;
    if (nread < 0) {
        sock_eof(s, (int)nread);
        return;
    }
    g.reads++;
    g.turn_reads++;
    if (s->tls) tls_on_read(s, b->base, (size_t)nread);
    else sock_input(s, b, nread);
}

static void on_connect(uv_connect_t *req, int status) {
    sock_t *s = (sock_t *)req->handle;
    if (s->closing) return;
    if (status < 0) {
        sock_eof(s, status);
        return;
    }
    s->connected = 1;
    int rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (rc < 0) {
        sock_eof(s, rc);
        return;
    }
    if (s->tls) tls_on_read(s, NULL, 0); /* the ClientHello; sock_on_connected once the handshake is done */
    else sock_on_connected(s);
    sock_flush(s);
}

static int sock_connect(sock_t *s) {
    int rc = uv_tcp_init(g.loop, &s->tcp);
    if (rc < 0) return rc;
    s->inited = 1;
    s->closing = 0;
    s->connected = 0;
    s->writing = 0;
    uv_tcp_nodelay(&s->tcp, 1);
    if (cfg.tls && !(s->tls = tls_client_new())) return UV_ENOMEM;
    const struct sockaddr_in *addr = s->kind == K_WS && ((wsc_t *)s)->node ? &g.addr2 : &g.addr;
    rc = uv_tcp_connect(&s->creq, &s->tcp, (const struct sockaddr *)addr, on_connect);
    return rc;
}

/* ------------------------------------------------------ setup bookkeeping */

static void start_client(int i);

static void launch_more(void) {
    static int active; /* a failing start re-enters through setup_failed(): the outer loop goes on */
    if (active) return;
    active = 1;
    while (!g.no_more_launch && g.started < g.total && g.setup_inflight < cfg.window) {
        int i = g.started++;
        g.setup_inflight++;
        start_client(i);
    }
    active = 0;
}

static void check_setup_done(void) {
    if (g.phase == PH_SETUP && g.connected + g.failed >= g.total) setup_done();
}

static void setup_ok(uint64_t t0) {
    uint64_t t = now_ns();
    g.setup_inflight--;
    g.connected++;
    hist_add(&g.conn, t - t0);
    if (!g.t_first_done) g.t_first_done = t;
    g.t_last_done = t;
    launch_more();
    check_setup_done();
}

static void setup_failed(void) {
    g.setup_inflight--;
    g.failed++;
    launch_more();
    check_setup_done();
}

/* ------------------------------------------------------- WebSocket client */

static void ws_fail(wsc_t *c, const char *why) {
    if (c->state == WS_DEAD || c->state == WS_IDLE) return;
    int prev = c->state;
    c->state = WS_DEAD;
    char msg[200];
    snprintf(msg, sizeof msg, "client %d: %s", c->idx, why);
    note_error(msg);
    sock_close(&c->s);
    if (prev < WS_READY) {
        if (g.phase == PH_SETUP) setup_failed();
    } else {
        g.dropped++;
    }
}

static void ws_send(wsc_t *c, int op, const char *p, size_t n) {
    buf_t *o = &c->s.out;
    buf_reserve(o, n + 14);
    uint8_t *h = (uint8_t *)o->p + o->len;
    size_t hl;
    h[0] = (uint8_t)(0x80 | op);
    if (n < 126) {
        h[1] = (uint8_t)(0x80 | n);
        hl = 2;
    } else if (n < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    uint8_t m[4];
    uint32_t mk = (uint32_t)rng64();
    memcpy(m, &mk, 4);
    memcpy(h + hl, m, 4);
    hl += 4;
    uint8_t *d = h + hl;
    const uint8_t *src = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++) d[i] = src[i] ^ m[i & 3];
    o->len += hl + n;
}

static void ws_text(wsc_t *c, const char *p, size_t n) { ws_send(c, 1, p, n); }

/* "4" + "<type>" [+ "1-"] + nsp prefix + rest: sends a Socket.IO packet in one text frame; with attach, as the
 * binary form of the type (5 or 6) followed by the --binary bytes in one binary frame */
static void sio_send_att(wsc_t *c, char type, int attach, const char *ackid, const char *rest, size_t rn) {
    char tmp[512];
    buf_t big = {0};
    size_t need = 4 + g.nsp_len + 24 + rn;
    char *d = need <= sizeof tmp ? tmp : (buf_reserve(&big, need), big.p);
    size_t k = 0;
    d[k++] = '4';
    if (attach) {
        d[k++] = type == '2' ? '5' : '6';
        d[k++] = '1';
        d[k++] = '-';
    } else {
        d[k++] = type;
    }
    memcpy(d + k, g.nsp_prefix, g.nsp_len);
    k += g.nsp_len;
    if (ackid) {
        size_t al = strlen(ackid);
        memcpy(d + k, ackid, al);
        k += al;
    }
    memcpy(d + k, rest, rn);
    k += rn;
    ws_text(c, d, k);
    if (attach) ws_send(c, 2, g.attach.p, g.attach.len);
    buf_free(&big);
}

static void sio_send(wsc_t *c, char type, const char *ackid, const char *rest, size_t rn) {
    sio_send_att(c, type, 0, ackid, rest, rn);
}

/* One msgpack packet (an mpw_* encoder's bytes) in one binary frame. */
static void mp_send(wsc_t *c, const char *p, size_t n) {
    if (!p) die("out of memory");
    ws_send(c, 2, p, n);
}

static void start_ws(wsc_t *c) {
    c->state = WS_TCP;
    c->t0 = now_ns();
    c->last_seq = -1;
    unsigned char raw[16];
    uint64_t a = rng64(), b = rng64();
    memcpy(raw, &a, 8);
    memcpy(raw + 8, &b, 8);
    EVP_EncodeBlock((unsigned char *)c->key, raw, 16);
    int rc = sock_connect(&c->s);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "connect: %s", uv_strerror(rc));
        if (!c->s.inited) { /* uv_tcp_init failed: nothing to close */
            c->state = WS_DEAD;
            note_error(msg);
            setup_failed();
        } else {
            ws_fail(c, msg);
        }
    }
}

static void ws_on_connected(wsc_t *c) {
    c->state = WS_HTTP;
    buf_t *o = &c->s.out;
    buf_str(o, "GET ");
    buf_str(o, cfg.path);
    buf_str(o, "?EIO=4&transport=websocket HTTP/1.1\r\nHost: ");
    buf_str(o, c->node ? g.hostport2 : g.hostport);
    buf_str(o, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    buf_str(o, c->key);
    buf_str(o, "\r\nSec-WebSocket-Version: 13\r\n\r\n");
}

static int ws_check_upgrade(wsc_t *c, const char *p, size_t n) {
    int st = http_status(p, n);
    if (st != 101) {
        char msg[80];
        snprintf(msg, sizeof msg, "upgrade refused: HTTP status %d", st);
        ws_fail(c, msg);
        return 0;
    }
    const char *v;
    size_t vl;
    if (!find_header(p, n, "sec-websocket-accept", &v, &vl)) {
        ws_fail(c, "upgrade: no Sec-WebSocket-Accept");
        return 0;
    }
    char src[64];
    unsigned char dig[SHA_DIGEST_LENGTH], exp[40];
    int sl = snprintf(src, sizeof src, "%s%s", c->key, WS_GUID);
    SHA1((const unsigned char *)src, (size_t)sl, dig);
    int el = EVP_EncodeBlock(exp, dig, SHA_DIGEST_LENGTH);
    if ((size_t)el != vl || memcmp(exp, v, vl) != 0) {
        ws_fail(c, "upgrade: wrong Sec-WebSocket-Accept");
        return 0;
    }
    return 1;
}

/* scenario hooks */
static void ws_on_sio_connected(wsc_t *c);
static void ws_on_event(wsc_t *c, const wire_packet_t *w);
static void ws_on_ack(wsc_t *c, const wire_packet_t *w);

/* The JSON parser's EVENT ('2') or ACK ('3') from the ack id on, seen as the scenarios read packets; bin: its first
 * attachment, of nbins (the view counts binaries; JSON carries them apart). */
static void json_dispatch(wsc_t *c, char type, const char *p, size_t n, int nbins, const buf_t *bin) {
    wire_packet_t w;
    memset(&w, 0, sizeof w);
    w.type = type - '0';
    size_t k = 0;
    while (k < n && k < 16 && p[k] >= '0' && p[k] <= '9') w.id = w.id * 10 + (uint64_t)(p[k++] - '0');
    w.has_id = k > 0;
    p += k;
    n -= k;
    if (type == '2' && n > 2 && p[0] == '[' && p[1] == '"') {
        const char *q = memchr(p + 2, '"', n - 2);
        if (q) {
            w.event = p + 2;
            w.event_len = (size_t)(q - (p + 2));
            w.nargs = q + 1 < p + n && q[1] == ','; /* at least one argument after the name */
        }
    } else if (type == '3') {
        w.nargs = n > 2 && p[0] == '[' && p[1] != ']';
    }
    w.has_seq = find_u64(p, n, "\"seq\":", &w.seq);
    w.has_t = find_u64(p, n, "\"t\":", &w.t);
    if (nbins) {
        w.bins = nbins;
        w.bin = bin->p;
        w.bin_len = bin->len;
    }
    if (type == '2') ws_on_event(c, &w);
    else if (w.has_id) ws_on_ack(c, &w);
}

static void sio_packet_ws(wsc_t *c, const char *p, size_t n) {
    if (n < 1) return;
    if (cfg.msgpack) {
        note_malformed(c->idx, "a text Socket.IO packet from a msgpack server");
        return;
    }
    if (c->pend_want) {
        note_malformed(c->idx, "a text packet while a binary packet waits for its attachments");
        c->pend_want = 0;
    }
    char type = p[0];
    p++;
    n--;
    int attachments = 0;
    if (type == '5' || type == '6') { /* binary event / ack: "<attachments>-" comes before the namespace */
        size_t k = 0;
        while (k < n && k < 6 && p[k] >= '0' && p[k] <= '9') attachments = attachments * 10 + (p[k++] - '0');
        if (k == 0 || k >= n || p[k] != '-' || attachments < 1) {
            note_malformed(c->idx, "a binary packet without its attachment count");
            return;
        }
        p += k + 1;
        n -= k + 1;
        type = type == '5' ? '2' : '3';
    }
    if (g.nsp_len) {
        if (n < g.nsp_len || memcmp(p, g.nsp_prefix, g.nsp_len) != 0) {
            /* CONNECT answer for "/chat" may come as "/chat,{...}"; anything else is another namespace */
            return;
        }
        p += g.nsp_len;
        n -= g.nsp_len;
    } else if (n && p[0] == '/') {
        return; /* another namespace */
    }
    switch (type) {
    case '0':
        if (c->state == WS_EIO) ws_on_sio_connected(c);
        break;
    case '1': ws_fail(c, "namespace disconnect from server"); break;
    case '4': ws_fail(c, "connect_error from server"); break;
    case '2':
    case '3':
        if (attachments) { /* dispatched by ws_message once its attachments arrived */
            c->pend.len = 0;
            buf_append(&c->pend, p, n);
            c->pend_type = type;
            c->pend_want = attachments;
            c->pend_got = 0;
        } else {
            json_dispatch(c, type, p, n, 0, NULL);
        }
        break;
    default: break;
    }
}

/* A binary message: a msgpack packet, or (JSON) an attachment of the binary packet before it. */
static void sio_binary_ws(wsc_t *c, const char *p, size_t n) {
    if (!cfg.msgpack) {
        if (!c->pend_want) {
            note_malformed(c->idx, "a binary frame with no binary packet waiting");
            return;
        }
        if (c->pend_got++ == 0) {
            c->pend_bin.len = 0;
            buf_append(&c->pend_bin, p, n);
        }
        if (c->pend_got == c->pend_want) {
            c->pend_want = 0;
            json_dispatch(c, c->pend_type, c->pend.p, c->pend.len, c->pend_got, &c->pend_bin);
        }
        return;
    }
    wire_packet_t w;
    const char *why = "";
    int rc = mpw_decode(p, n, cfg.nsp, &w, &why);
    if (rc < 0) note_malformed(c->idx, why);
    if (rc <= 0) return; /* 0: another namespace */
    switch (w.type) {
    case 0:
        if (c->state == WS_EIO) ws_on_sio_connected(c);
        break;
    case 1: ws_fail(c, "namespace disconnect from server"); break;
    case 4: ws_fail(c, "connect_error from server"); break;
    case 2: ws_on_event(c, &w); break;
    case 3:
        if (w.has_id) ws_on_ack(c, &w);
        break;
    default: break;
    }
}

/* Counts an open packet's session id by its first character: a multi-loop server names the loop with it. */
static void count_sid(const char *p, size_t n) {
    const char *v = memmem(p, n, "\"sid\":\"", 7);
    if (v && (size_t)(v + 7 - p) < n && (unsigned char)v[7] < 128) g.sid_first[(unsigned char)v[7]]++;
}

static void eio_packet_ws(wsc_t *c, const char *p, size_t n) {
    if (n < 1) return;
    switch (p[0]) {
    case '0': /* open: connect the namespace */
        if (c->state == WS_EIO) count_sid(p, n); /* the upgrade response set WS_EIO; one open packet */
        if (c->state == WS_HTTP || c->state == WS_EIO) {
            c->state = WS_EIO;
            if (cfg.msgpack) {
                size_t l;
                const char *m = mpw_connect(cfg.nsp, &l);
                mp_send(c, m, l);
            } else {
                sio_send(c, '0', NULL, "", 0);
            }
        }
        break;
    case '1': ws_fail(c, "engine.io close from server"); break;
    case '2':
        g.pings++;
        ws_text(c, "3", 1);
        break;
    case '4': sio_packet_ws(c, p + 1, n - 1); break;
    default: break; /* 3 pong, 6 noop */
    }
}

static void ws_message(wsc_t *c, int op, char *p, size_t n) {
    if (op == 1) eio_packet_ws(c, p, n);
    else if (op == 2) sio_binary_ws(c, p, n);
}

/* Parses complete frames; returns bytes consumed or (size_t)-1 if the client died. */
static size_t ws_frames(wsc_t *c, char *p, size_t n) {
    size_t off = 0;
    while (n - off >= 2) {
        uint8_t b0 = (uint8_t)p[off], b1 = (uint8_t)p[off + 1];
        int fin = b0 & 0x80, op = b0 & 0x0f, masked = b1 & 0x80;
        uint64_t len = b1 & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (n - off < 4) break;
            len = ((uint64_t)(uint8_t)p[off + 2] << 8) | (uint8_t)p[off + 3];
            hl = 4;
        } else if (len == 127) {
            if (n - off < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | (uint8_t)p[off + 2 + i];
            hl = 10;
        }
        if (len > MAX_MESSAGE) {
            ws_fail(c, "frame too large");
            return (size_t)-1;
        }
        size_t mo = hl;
        if (masked) hl += 4;
        if (n - off < hl + len) break;
        char *d = p + off + hl;
        if (masked) {
            const uint8_t *m = (const uint8_t *)p + off + mo;
            for (size_t i = 0; i < len; i++) d[i] ^= (char)m[i & 3];
        }
        off += hl + len;
        switch (op) {
        case 0x0:
            buf_append(&c->frag, d, len);
            if (fin) {
                ws_message(c, c->frag_op, c->frag.p, c->frag.len);
                c->frag.len = 0;
            }
            break;
        case 0x1:
        case 0x2:
            if (fin) {
                ws_message(c, op, d, len);
            } else {
                c->frag.len = 0;
                c->frag_op = op;
                buf_append(&c->frag, d, len);
            }
            break;
        case 0x8: ws_fail(c, "websocket close from server"); return (size_t)-1;
        case 0x9: ws_send(c, 0xA, d, len); break;
        default: break;
        }
        if (c->state == WS_DEAD) return (size_t)-1;
    }
    return off;
}

static size_t ws_consume(wsc_t *c, char *p, size_t n) {
    size_t off = 0;
    if (c->state == WS_HTTP) {
        char *e = memmem(p, n, "\r\n\r\n", 4);
        if (!e) {
            if (n > 16384) {
                ws_fail(c, "upgrade response too large");
                return (size_t)-1;
            }
            return 0;
        }
        off = (size_t)(e - p) + 4;
        if (!ws_check_upgrade(c, p, off)) return (size_t)-1;
        c->state = WS_EIO;
    }
    size_t used = ws_frames(c, p + off, n - off);
    if (used == (size_t)-1) return used;
    return off + used;
}

/* ---------------------------------------------------- long-polling client */

static void pc_fail(pc_t *pc, const char *why) {
    if (pc->state == PC_DEAD || pc->state == PC_IDLE) return;
    int prev = pc->state;
    pc->state = PC_DEAD;
    char msg[200];
    snprintf(msg, sizeof msg, "polling client %d: %s", pc->idx, why);
    note_error(msg);
    sock_close(&pc->ch[0]);
    sock_close(&pc->ch[1]);
    if (prev < PC_READY) {
        if (g.phase == PH_SETUP) setup_failed();
    } else {
        g.dropped++;
    }
}

static void pc_request(pc_t *pc, int which, const char *body, size_t blen) {
    buf_t *o = &pc->ch[which].out;
    buf_str(o, which ? "POST " : "GET ");
    buf_str(o, cfg.path);
    buf_str(o, "?EIO=4&transport=polling");
    if (pc->sid[0]) {
        buf_str(o, "&sid=");
        buf_str(o, pc->sid);
    }
    buf_str(o, " HTTP/1.1\r\nHost: ");
    buf_str(o, g.hostport);
    buf_str(o, "\r\nAccept: */*\r\n");
    if (which) {
        buf_str(o, "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ");
        buf_u64(o, blen);
        buf_str(o, "\r\n\r\n");
        buf_append(o, body, blen);
    } else {
        buf_str(o, "\r\n");
    }
    g.http_requests++;
    sock_flush(&pc->ch[which]);
}

static void pc_get(pc_t *pc) {
    if (pc->get_busy || pc->state == PC_DEAD) return;
    pc->get_busy = 1;
    pc_request(pc, 0, NULL, 0);
}

static void pc_post_kick(pc_t *pc) {
    if (pc->post_busy || pc->pq.len == 0 || pc->state == PC_DEAD) return;
    pc->post_busy = 1;
    pc_request(pc, 1, pc->pq.p, pc->pq.len);
    pc->pq.len = 0;
}

static void pc_queue(pc_t *pc, const char *p, size_t n) {
    if (pc->pq.len) buf_append(&pc->pq, "\x1e", 1);
    buf_append(&pc->pq, p, n);
}

static void pc_send_echo(pc_t *pc) {
    /* 42["echo",{"t":<us>,"p":"..."}] */
    buf_t *q = &pc->pq;
    if (q->len) buf_append(q, "\x1e", 1);
    buf_str(q, "42");
    buf_append(q, g.nsp_prefix, g.nsp_len);
    buf_str(q, "[\"echo\",{\"t\":");
    buf_u64(q, now_us());
    buf_append(q, g.body.p, g.body.len);
    buf_str(q, "]");
}

static void pc_on_ready(pc_t *pc);

static void pc_sio(pc_t *pc, const char *p, size_t n) {
    if (n < 1) return;
    char type = p[0];
    p++;
    n--;
    if (g.nsp_len) {
        if (n < g.nsp_len || memcmp(p, g.nsp_prefix, g.nsp_len) != 0) return;
        p += g.nsp_len;
        n -= g.nsp_len;
    } else if (n && p[0] == '/') {
        return;
    }
    switch (type) {
    case '0':
        if (pc->state == PC_CONNECTING) {
            pc->state = PC_READY;
            setup_ok(pc->t0); /* setup_done() starts the echoes of every ready client */
        }
        break;
    case '1': pc_fail(pc, "namespace disconnect from server"); break;
    case '4': pc_fail(pc, "connect_error from server"); break;
    case '2':
        if (n > 8 && memcmp(p, "[\"echo\",", 8) == 0) {
            uint64_t t;
            if (find_u64(p, n, "\"t\":", &t)) {
                uint64_t now = now_us();
                if (g.phase == PH_MEASURE) {
                    g.count++;
                    hist_add(&g.lat, (now - t) * 1000);
                }
                if (g.phase == PH_WARMUP || g.phase == PH_MEASURE) pc_send_echo(pc);
            }
        }
        break;
    default: break;
    }
}

static void pc_packet(pc_t *pc, const char *p, size_t n) {
    if (n < 1) return;
    switch (p[0]) {
    case '2':
        g.pings++;
        pc_queue(pc, "3", 1);
        break;
    case '1': pc_fail(pc, "engine.io close from server"); break;
    case '4': pc_sio(pc, p + 1, n - 1); break;
    default: break;
    }
}

static void pc_on_response(pc_t *pc, int which, int status, const char *body, size_t blen) {
    if (which == 1) {
        pc->post_busy = 0;
        if (status != 200) {
            char msg[80];
            snprintf(msg, sizeof msg, "POST answered HTTP %d", status);
            pc_fail(pc, msg);
            return;
        }
        pc_post_kick(pc);
        return;
    }
    pc->get_busy = 0;
    if (status != 200) {
        char msg[80];
        snprintf(msg, sizeof msg, "GET answered HTTP %d", status);
        pc_fail(pc, msg);
        return;
    }
    if (pc->state == PC_HS) {
        const char *v = blen > 0 && body[0] == '0' ? memmem(body, blen, "\"sid\":\"", 7) : NULL;
        if (!v) {
            pc_fail(pc, "handshake: no open packet");
            return;
        }
        v += 7;
        const char *e = memchr(v, '"', blen - (size_t)(v - body));
        if (!e || (size_t)(e - v) >= sizeof pc->sid) {
            pc_fail(pc, "handshake: bad sid");
            return;
        }
        memcpy(pc->sid, v, (size_t)(e - v));
        pc->sid[e - v] = 0;
        if ((unsigned char)pc->sid[0] < 128) g.sid_first[(unsigned char)pc->sid[0]]++;
        pc->state = PC_CONNECTING;
        char c40[140];
        int l = snprintf(c40, sizeof c40, "40%s", g.nsp_prefix);
        pc_queue(pc, c40, (size_t)l);
        pc_post_kick(pc);
        pc_get(pc);
        return;
    }
    const char *p = body, *e = body + blen;
    while (p < e) {
        const char *sep = memchr(p, 0x1e, (size_t)(e - p));
        const char *pe = sep ? sep : e;
        pc_packet(pc, p, (size_t)(pe - p));
        if (pc->state == PC_DEAD) return;
        p = sep ? sep + 1 : e;
    }
    pc_get(pc);
    pc_post_kick(pc);
}

/* Parses complete HTTP responses on a polling channel. */
static size_t http_consume(sock_t *s, char *p, size_t n) {
    pc_t *pc = s->owner;
    int which = s->kind == K_HPOST;
    size_t off = 0;
    while (off < n) {
        char *q = p + off;
        size_t m = n - off;
        char *e = memmem(q, m, "\r\n\r\n", 4);
        if (!e) {
            if (m > 65536) {
                pc_fail(pc, "response head too large");
                return (size_t)-1;
            }
            break;
        }
        size_t hl = (size_t)(e - q) + 4;
        int status = http_status(q, hl);
        if (status < 0) {
            pc_fail(pc, "bad HTTP response");
            return (size_t)-1;
        }
        const char *v;
        size_t vl;
        long cl = -1;
        int chunked = 0, close = 0;
        if (find_header(q, hl, "content-length", &v, &vl)) cl = strtol(v, NULL, 10);
        if (find_header(q, hl, "transfer-encoding", &v, &vl) && vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0)
            chunked = 1;
        if (find_header(q, hl, "connection", &v, &vl) && vl == 5 && strncasecmp(v, "close", 5) == 0) close = 1;
        const char *body;
        size_t blen, total;
        if (chunked) {
            size_t pos = hl;
            int complete = 0;
            g.scratch.len = 0;
            while (pos < m) {
                char *crlf = memmem(q + pos, m - pos, "\r\n", 2);
                if (!crlf) break;
                unsigned long sz = strtoul(q + pos, NULL, 16);
                size_t data = (size_t)(crlf - q) + 2;
                if (sz == 0) {
                    if (m - data >= 2 && q[data] == '\r' && q[data + 1] == '\n') {
                        pos = data + 2;
                        complete = 1;
                    }
                    break;
                }
                if (m < data + sz + 2) break;
                buf_append(&g.scratch, q + data, sz);
                pos = data + sz + 2;
            }
            if (!complete) break;
            body = g.scratch.p ? g.scratch.p : "";
            blen = g.scratch.len;
            total = pos;
        } else if (cl >= 0) {
            if (m < hl + (size_t)cl) break;
            body = q + hl;
            blen = (size_t)cl;
            total = hl + (size_t)cl;
        } else {
            body = q + hl;
            blen = 0;
            total = hl;
        }
        off += total;
        if (close) s->connected = 0; /* requests issued by the handler wait for the reconnect */
        pc_on_response(pc, which, status, body, blen);
        if (pc->state == PC_DEAD) return (size_t)-1;
        if (close) {
            sock_close(s); /* reconnects when closed; queued requests stay in out */
            return off;
        }
    }
    return off;
}

static void pc_chan_start(pc_t *pc, int which) {
    int rc = sock_connect(&pc->ch[which]);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "connect: %s", uv_strerror(rc));
        if (pc->ch[which].inited) {
            pc_fail(pc, msg);
        } else if (pc->state != PC_DEAD) {
            int prev = pc->state;
            pc->state = PC_DEAD;
            note_error(msg);
            sock_close(&pc->ch[which ^ 1]);
            if (prev < PC_READY && g.phase == PH_SETUP) setup_failed();
        }
    }
}

static void start_pc(pc_t *pc) {
    pc->state = PC_HS;
    pc->t0 = now_ns();
    pc->ch[0].owner = pc->ch[1].owner = pc;
    pc->ch[0].kind = K_HGET;
    pc->ch[1].kind = K_HPOST;
    pc_get(pc); /* handshake GET, sent once connected */
    pc_chan_start(pc, 0);
    if (pc->state != PC_DEAD) pc_chan_start(pc, 1);
}

/* ------------------------------------------------ dispatch by socket kind */

static size_t sock_consume(sock_t *s, char *p, size_t n) {
    if (s->kind == K_WS) return ws_consume((wsc_t *)s, p, n);
    return http_consume(s, p, n);
}

static void sock_on_connected(sock_t *s) {
    if (s->kind == K_WS) ws_on_connected((wsc_t *)s);
}

static void sock_eof(sock_t *s, int err) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: %s", s->connected ? "connection lost" : "connect", uv_strerror(err));
    if (s->kind == K_WS) {
        ws_fail((wsc_t *)s, msg);
        return;
    }
    pc_t *pc = s->owner;
    int which = s->kind == K_HPOST;
    int busy = which ? pc->post_busy : pc->get_busy;
    if (!busy && s->connected && err == UV_EOF && pc->state != PC_DEAD) {
        sock_close(s); /* idle keep-alive connection closed by the server: reconnect */
        return;
    }
    pc_fail(pc, msg);
}

static void sock_on_closed(sock_t *s) {
    if (s->kind == K_WS) return;
    pc_t *pc = s->owner;
    if (pc->state == PC_DEAD || g.phase == PH_DONE) return;
    if (++pc->reconnects > 1000) {
        pc_fail(pc, "too many reconnects");
        return;
    }
    g.reconnects++;
    int rc = sock_connect(s);
    if (rc < 0) pc_fail(pc, "reconnect failed");
}

/* ------------------------------------------------------------ TLS glue */

static void sock_fail(sock_t *s, const char *why) {
    if (s->kind == K_WS) ws_fail((wsc_t *)s, why);
    else pc_fail(s->owner, why);
}

/* Turns the plaintext in out into ciphertext in out, handshake records included; plaintext queued before
 * the handshake is done waits in tls_hold. Runs only right before out is written, so out never holds both. */
static int tls_seal(sock_t *s) {
    if (!tls_client_ready(s->tls)) {
        if (s->out.len) buf_append(&s->tls_hold, s->out.p, s->out.len);
    } else if (s->out.len && tls_client_write(s->tls, s->out.p, s->out.len) < 0) {
        sock_fail(s, tls_client_error(s->tls));
        return -1;
    }
    s->out.len = 0;
    size_t n = tls_client_pending(s->tls);
    if (n) {
        buf_reserve(&s->out, n);
        s->out.len = tls_client_drain(s->tls, s->out.p, n);
    }
    return 0;
}

/* Ciphertext from the socket (none: start the handshake): handshake first, then the plaintext to the scenario. */
static void tls_on_read(sock_t *s, const char *p, size_t n) {
    static char plain[65536];
    if (n && tls_client_feed(s->tls, p, n) < 0) {
        sock_fail(s, tls_client_error(s->tls));
        return;
    }
    if (!tls_client_ready(s->tls)) {
        int rc = tls_client_handshake(s->tls);
        if (rc < 0) {
            g.tls_handshake_errors++;
            sock_fail(s, tls_client_error(s->tls));
            return;
        }
        if (rc == 0) {
            sock_flush(s);
            return;
        }
        /* done: what was queued before goes first, then what the scenario sends on connect */
        if (s->out.len) buf_append(&s->tls_hold, s->out.p, s->out.len);
        buf_t t = s->out;
        s->out = s->tls_hold;
        s->tls_hold = t;
        s->tls_hold.len = 0;
        sock_on_connected(s);
    }
    for (;;) {
        long got = tls_client_read(s->tls, plain, sizeof plain);
        if (got == 0) break;
        if (got == -2) {
            sock_eof(s, UV_EOF);
            return;
        }
        if (got < 0) {
            sock_fail(s, tls_client_error(s->tls));
            return;
        }
        uv_buf_t b = uv_buf_init(plain, (unsigned)got);
        sock_input(s, &b, (ssize_t)got);
        if (s->closing || !s->inited) return;
    }
    sock_flush(s);
}

/* ---------------------------------------------------------------- output */

static int jfirst = 1;
static void jsep(void) {
    if (!jfirst) putchar(',');
    jfirst = 0;
}
static void jopen(const char *k) {
    jsep();
    if (k) printf("\"%s\":", k);
    putchar('{');
    jfirst = 1;
}
static void jclose(void) {
    putchar('}');
    jfirst = 0;
}
static void jnum(const char *k, double v) {
    jsep();
    if (v != v || v > 1e300 || v < -1e300) {
        printf("\"%s\":null", k);
    } else if (v == (double)(long long)v && v < 9e15 && v > -9e15) {
        printf("\"%s\":%lld", k, (long long)v);
    } else {
        printf("\"%s\":%.10g", k, v);
    }
}
static void jstr(const char *k, const char *s) {
    jsep();
    printf("\"%s\":\"", k);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}
static void jbool(const char *k, int v) {
    jsep();
    printf("\"%s\":%s", k, v ? "true" : "false");
}

/* Closes with RST instead of FIN (SO_LINGER 0), so that no client port is left in TIME_WAIT:
 * repeated runs of 10,000 connections would otherwise crowd the ephemeral port range. */
static void linger0(sock_t *s) {
    uv_os_fd_t fd;
    if (!s->inited || s->closing || uv_fileno((uv_handle_t *)&s->tcp, &fd) != 0) return;
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

static void reset_all(void) {
    for (int i = 0; i < g.total; i++) {
        if (g.ws) linger0(&g.ws[i].s);
        if (g.pcs) {
            linger0(&g.pcs[i].ch[0]);
            linger0(&g.pcs[i].ch[1]);
        }
    }
}

static double ns_to_us(uint64_t v) { return (double)v / 1000.0; }
static double ns_to_ms(uint64_t v) { return (double)v / 1e6; }

static void emit_window(const char *name, const mark_t *a, const mark_t *b) {
    double wall = (double)(b->t - a->t) / 1e9;
    jopen(name);
    jnum("wall_s", wall);
    jnum("loadgen_cpu_us", b->self_cpu - a->self_cpu);
    jnum("loadgen_cpu_util", wall > 0 ? (b->self_cpu - a->self_cpu) / 1e6 / wall : 0);
    if (a->srv.ok && b->srv.ok) {
        jnum("server_cpu_us", b->srv.cpu_us - a->srv.cpu_us);
        jnum("server_cpu_util", wall > 0 ? (b->srv.cpu_us - a->srv.cpu_us) / 1e6 / wall : 0);
        jnum("server_rss_kb_start", (double)a->srv.rss_kb);
        jnum("server_rss_kb_end", (double)b->srv.rss_kb);
        if (cfg.nserver_pids > 1) {
            jsep();
            printf("\"server_cpu_us_each\":[");
            for (int i = 0; i < cfg.nserver_pids; i++)
                printf("%s%.0f", i ? "," : "", b->srv_each[i].cpu_us - a->srv_each[i].cpu_us);
            printf("]");
        }
    }
    double aux = a->aux.ok && b->aux.ok ? b->aux.cpu_us - a->aux.cpu_us : 0;
    if (a->aux.ok && b->aux.ok) {
        jnum("aux_cpu_us", aux);
        jnum("aux_cpu_util", wall > 0 ? aux / 1e6 / wall : 0);
    }
    if (a->machine >= 0 && b->machine >= 0 && wall > 0) {
        /* every core's busy time: the server, the load generator, the kernel's softirq work (loopback
         * TCP receive processing, charged to no process), and anything else running on the machine
         * (other_cpu_util shows how much of that there was) */
        double mach = (b->machine - a->machine) / 1e6 / wall;
        double sirq = (b->softirq - a->softirq) / 1e6 / wall;
        jnum("machine_cpu_util", mach);
        jnum("softirq_cpu_util", sirq);
        if (a->srv.ok && b->srv.ok)
            jnum("other_cpu_util",
                 mach - sirq - (b->srv.cpu_us - a->srv.cpu_us + aux + b->self_cpu - a->self_cpu) / 1e6 / wall);
    }
    jclose();
}

static double srv_cpu(const mark_t *a, const mark_t *b) {
    return a->srv.ok && b->srv.ok ? b->srv.cpu_us - a->srv.cpu_us : -1;
}

static void finish(void) {
    if (g.phase == PH_DONE) return;
    g.phase = PH_DONE;
    if (!g.m_end.t) g.m_end = mark_now();
    if (!g.m_start.t) g.m_start = g.m_end;
    int sc = cfg.sc;
    int ok = g.failed == 0 && g.dropped == 0 && g.connected > 0;
    printf("{");
    jfirst = 1;
    jstr("scenario", cfg.scenario);
    jopen("params");
    jstr("host", cfg.host);
    jnum("port", cfg.port);
    jstr("nsp", cfg.nsp);
    jnum("clients", cfg.clients);
    jnum("window", cfg.window);
    if (sc == SC_CONNECT) jnum("hold_s", cfg.hold);
    if (sc == SC_ECHO_ACK || sc == SC_POLLING_ECHO) {
        jnum("inflight", cfg.inflight);
        jnum("warmup_s", cfg.warmup);
    }
    if (sc != SC_CONNECT) {
        jnum("duration_s", cfg.duration);
        jnum("payload_bytes", cfg.payload);
    }
    if (sc == SC_BROADCAST) {
        jnum("rate", cfg.rate);
        jnum("drain_s", cfg.drain);
        jstr("room", cfg.room);
        if (cfg.join_ack) jstr("barrier", "join-ack");
        if (cfg.port2) {
            jnum("port2", cfg.port2);
            jnum("receivers_port1", (double)(g.receivers - g.receivers / 2)); /* even indexes */
            jnum("receivers_port2", (double)(g.receivers / 2));               /* odd indexes */
        }
    }
    jstr("parser", cfg.msgpack ? "msgpack" : "json");
    if (sc == SC_ECHO_ACK || sc == SC_BROADCAST) jnum("binary_bytes", cfg.binary);
    jnum("server_pid", cfg.server_pid);
    if (cfg.nserver_pids > 1) jstr("server_pids", cfg.server_pid_arg);
    if (cfg.aux_pid > 0) jnum("aux_pid", cfg.aux_pid);
    jclose();
    jopen("setup");
    jnum("clients", g.total);
    jnum("connected", g.connected);
    jnum("failed", g.failed);
    jnum("dropped", g.dropped);
    jnum("setup_s", (double)(g.m_setup1.t - g.m_setup0.t) / 1e9);
    jnum("pings_answered", (double)g.pings);
    jnum("reads", (double)g.reads);
    jnum("tls", cfg.tls);
    jnum("tls_handshake_errors", (double)g.tls_handshake_errors);
    jopen("sid_first_chars");
    for (int ch = 1; ch < 128; ch++) {
        if (!g.sid_first[ch]) continue;
        char key[2] = {(char)ch, 0};
        jnum(key, g.sid_first[ch]);
    }
    jclose();
    jclose();
    jopen("errors");
    jnum("count", (double)g.errors);
    jnum("malformed", (double)g.malformed);
    jstr("first", g.first_error);
    jclose();
    if (g.malformed) ok = 0;

    double cpu = srv_cpu(&g.m_start, &g.m_end);
    double wall = (double)(g.m_end.t - g.m_start.t) / 1e9;
    jopen("metrics");
    if (sc == SC_CONNECT) {
        double span = g.t_last_done > g.t_first_done ? (double)(g.t_last_done - g.m_setup0.t) / 1e9 : 0;
        double scpu = srv_cpu(&g.m_setup0, &g.m_setup1);
        jnum("connected", g.connected);
        jnum("failed", g.failed);
        jnum("handshakes_per_s", span > 0 ? g.connected / span : 0);
        jnum("connect_p50_ms", ns_to_ms(hist_pct(&g.conn, 0.50)));
        jnum("connect_p99_ms", ns_to_ms(hist_pct(&g.conn, 0.99)));
        jnum("connect_max_ms", ns_to_ms(g.conn.max));
        jnum("server_cpu_us_per_handshake", scpu >= 0 && g.connected ? scpu / g.connected : -1);
        jnum("hold_s", wall);
        jnum("dropped_during_hold", g.dropped);
        if (g.m_before.srv.ok) {
            long idle = g.rss_hold_last ? g.rss_hold_last : g.m_end.srv.rss_kb;
            jnum("server_rss_kb_before", (double)g.m_before.srv.rss_kb);
            jnum("server_rss_kb_idle", (double)idle);
            jnum("server_rss_kb_idle_max", (double)g.rss_hold_max);
            jnum("server_rss_bytes_per_conn",
                 g.connected ? (double)(idle - g.m_before.srv.rss_kb) * 1024.0 / g.connected : -1);
            jnum("server_cpu_us_hold", cpu);
        }
    } else if (sc == SC_ECHO_ACK) {
        jnum("clients", g.connected);
        jnum("inflight", cfg.inflight);
        jnum("acks", (double)g.count);
        jnum("acks_per_s", wall > 0 ? (double)g.count / wall : 0);
        jnum("rtt_p50_us", ns_to_us(hist_pct(&g.lat, 0.50)));
        jnum("rtt_p99_us", ns_to_us(hist_pct(&g.lat, 0.99)));
        jnum("rtt_max_us", ns_to_us(g.lat.max));
        jnum("rtt_mean_us", hist_mean(&g.lat) / 1000.0);
        jnum("server_cpu_us_per_ack", cpu >= 0 && g.count ? cpu / (double)g.count : -1);
    } else if (sc == SC_POLLING_ECHO) {
        jnum("clients", g.connected);
        jnum("inflight", cfg.inflight);
        jnum("round_trips", (double)g.count);
        jnum("round_trips_per_s", wall > 0 ? (double)g.count / wall : 0);
        jnum("rtt_p50_us", ns_to_us(hist_pct(&g.lat, 0.50)));
        jnum("rtt_p99_us", ns_to_us(hist_pct(&g.lat, 0.99)));
        jnum("rtt_max_us", ns_to_us(g.lat.max));
        jnum("rtt_mean_us", hist_mean(&g.lat) / 1000.0);
        jnum("server_cpu_us_per_round_trip", cpu >= 0 && g.count ? cpu / (double)g.count : -1);
        jnum("http_requests", (double)g.http_requests);
        jnum("reconnects", g.reconnects);
    } else if (sc == SC_BROADCAST) {
        uint64_t expected = g.sent * (uint64_t)g.ready_target;
        uint32_t bad = 0;
        for (int i = 0; i < g.receivers; i++)
            if (g.ws[i].viol) bad++;
        double span = g.t_last_recv > g.t_send0 ? (double)(g.t_last_recv - g.t_send0) / 1e9 : 0;
        double send_span = g.t_send_end > g.t_send0 ? (double)(g.t_send_end - g.t_send0) / 1e9 : 0;
        jnum("receivers", g.ready_target);
        jnum("sent", (double)g.sent);
        jnum("send_rate", send_span > 0 ? (double)g.sent / send_span : 0);
        jnum("expected", (double)expected);
        jnum("received", (double)g.received);
        jnum("lost", (double)expected - (double)g.received);
        jnum("order_violations", (double)g.order_viol);
        jnum("gaps", (double)g.gaps);
        jnum("receivers_with_violations", bad);
        jnum("deliveries_per_s", span > 0 ? (double)g.received / span : 0);
        jnum("latency_p50_us", ns_to_us(hist_pct(&g.lat, 0.50)));
        jnum("latency_p99_us", ns_to_us(hist_pct(&g.lat, 0.99)));
        jnum("latency_max_us", ns_to_us(g.lat.max));
        jnum("latency_mean_us", hist_mean(&g.lat) / 1000.0);
        if (g.lat_by_second) {
            /* where the tail sits: p99 of the messages sent in each second of the window */
            jsep();
            printf("\"latency_p99_us_by_second\":[");
            for (int k = 0; k < g.lat_seconds; k++)
                printf("%s%.0f", k ? "," : "", ns_to_us(hist_pct(&g.lat_by_second[k], 0.99)));
            putchar(']');
        }
        jnum("drain_ms", g.t_last_recv > g.t_send_end ? (double)(g.t_last_recv - g.t_send_end) / 1e6 : 0);
        jnum("server_cpu_us_per_delivery", cpu >= 0 && g.received ? cpu / (double)g.received : -1);
        if (g.m_start.aux.ok && g.m_end.aux.ok) {
            double aux = g.m_end.aux.cpu_us - g.m_start.aux.cpu_us;
            jnum("aux_cpu_us_per_delivery", g.received ? aux / (double)g.received : -1);
            jnum("aux_cpu_us_per_broadcast", g.sent ? aux / (double)g.sent : -1);
        }
        if (cfg.port2) {
            /* port1: the receivers on the sender's server; port2: those on the other one */
            for (int k = 0; k < 2; k++) {
                char key[64];
                snprintf(key, sizeof key, "received_port%d", k + 1);
                jnum(key, (double)g.received_node[k]);
                snprintf(key, sizeof key, "latency_p50_us_port%d", k + 1);
                jnum(key, ns_to_us(hist_pct(&g.lat_node[k], 0.50)));
                snprintf(key, sizeof key, "latency_p99_us_port%d", k + 1);
                jnum(key, ns_to_us(hist_pct(&g.lat_node[k], 0.99)));
                snprintf(key, sizeof key, "latency_max_us_port%d", k + 1);
                jnum(key, ns_to_us(g.lat_node[k].max));
            }
        }
        if (expected != g.received || g.order_viol) ok = 0;
    }
    jclose();
    emit_window("setup_window", &g.m_setup0, &g.m_setup1);
    emit_window("window", &g.m_start, &g.m_end);
    jbool("ok", ok);
    printf("}\n");
    fflush(stdout);
    reset_all();
    logmsg("done");
    _exit(0); /* the kernel closes every socket */
}

/* ------------------------------------------------------- scenario drivers */

static void start_client(int i) {
    if (cfg.sc == SC_POLLING_ECHO) {
        g.pcs[i].idx = i;
        start_pc(&g.pcs[i]);
    } else {
        wsc_t *c = &g.ws[i];
        c->idx = i;
        c->node = cfg.port2 && i < g.receivers ? (i & 1) : 0; /* receivers alternate; the sender on --port */
        c->s.kind = K_WS;
        c->s.owner = c;
        start_ws(c);
    }
}

static void ws_on_sio_connected(wsc_t *c) {
    c->state = WS_READY;
    setup_ok(c->t0);
}

static size_t echo_ack_pad(void) { return cfg.payload > 8 ? (size_t)cfg.payload - 8 : 0; } /* {"p":"..."} */

static void send_ack_req(wsc_t *c) {
    /* 42<id>["echo-ack",{...}] (451-<id>[...] and the attachment with --binary) */
    char id[24];
    uint32_t n = c->next_id++;
    snprintf(id, sizeof id, "%u", n);
    c->slot[n % ACK_SLOTS] = now_ns();
    if (cfg.msgpack) {
        size_t l;
        const char *m = mpw_echo_ack(cfg.nsp, n, echo_ack_pad(), g.attach.p, g.attach.len, &l);
        mp_send(c, m, l);
    } else {
        sio_send_att(c, '2', cfg.binary > 0, id, g.body.p, g.body.len);
    }
}

/* With --binary, an answer must carry the one binary that was sent, byte for byte. */
static int binary_ok(wsc_t *c, const wire_packet_t *w) {
    if (!cfg.binary) return 1;
    if (w->bins == 1 && w->bin_len == g.attach.len && memcmp(w->bin, g.attach.p, g.attach.len) == 0) return 1;
    note_malformed(c->idx, w->bins == 1 ? "the binary came back changed" : "not the one binary that was sent");
    return 0;
}

static void start_sending(void);

static void barrier_passed(wsc_t *c) {
    c->ready = 1;
    g.ready++;
    if (g.ready >= g.receivers - (g.failed + g.dropped)) start_sending();
}

static void ws_on_ack(wsc_t *c, const wire_packet_t *w) {
    uint64_t id = w->id;
    if (cfg.sc == SC_BROADCAST) {
        /* --join-ack: 431[...] answers the join */
        if (cfg.join_ack && id == 1 && !c->sender && !c->ready && g.phase == PH_BARRIER) barrier_passed(c);
        return;
    }
    if (cfg.sc != SC_ECHO_ACK) return;
    uint64_t t = now_ns();
    if (binary_ok(c, w) && g.phase == PH_MEASURE) {
        g.count++;
        hist_add(&g.lat, t - c->slot[id % ACK_SLOTS]);
    }
    if (g.phase == PH_WARMUP || g.phase == PH_MEASURE) send_ack_req(c);
}

static int event_is(const wire_packet_t *w, const char *name) {
    size_t l = strlen(name);
    return w->event && w->event_len == l && memcmp(w->event, name, l) == 0 && w->nargs >= 1;
}

static void ws_on_event(wsc_t *c, const wire_packet_t *w) {
    if (cfg.sc != SC_BROADCAST) return;
    if (event_is(w, "bcast")) {
        if (!w->has_seq || !w->has_t) {
            note_malformed(c->idx, "bcast without seq and t");
            return;
        }
        if (!binary_ok(c, w)) return;
        uint64_t seq = w->seq, t = w->t;
        uint64_t now = now_us();
        if (g.phase != PH_MEASURE && g.phase != PH_DRAIN) {
            g.stale++;
            return;
        }
        g.received++;
        c->recv++;
        g.t_last_recv = now * 1000;
        hist_add(&g.lat, now > t ? (now - t) * 1000 : 0);
        if (g.lat_by_second && t * 1000 >= g.t_send0) {
            uint64_t second = (t * 1000 - g.t_send0) / 1000000000ull;
            if (second < (uint64_t)g.lat_seconds) hist_add(&g.lat_by_second[second], now > t ? (now - t) * 1000 : 0);
        }
        if (cfg.port2) {
            g.received_node[c->node]++;
            hist_add(&g.lat_node[c->node], now > t ? (now - t) * 1000 : 0);
        }
        if ((int64_t)seq <= c->last_seq) {
            c->viol++;
            g.order_viol++;
        } else {
            if ((int64_t)seq != c->last_seq + 1) {
                c->gaps++;
                g.gaps++;
            }
            c->last_seq = (int64_t)seq;
        }
        if (g.phase == PH_DRAIN && g.received >= g.sent * (uint64_t)g.ready_target) {
            g.m_end = mark_now();
            finish();
        }
    } else if (!cfg.join_ack && event_is(w, "echo") && !c->sender && !c->ready && g.phase == PH_BARRIER) {
        barrier_passed(c);
    }
}

/* phase timers */

static void on_measure_end(uv_timer_t *t) {
    (void)t;
    g.m_end = mark_now();
    finish();
}

static void begin_measure(void) {
    hist_reset(&g.lat);
    g.count = 0;
    g.m_start = mark_now();
    g.phase = PH_MEASURE;
    uv_timer_start(&g.t_phase, on_measure_end, (uint64_t)(cfg.duration * 1000), 0);
}

static void on_warmup_end(uv_timer_t *t) {
    (void)t;
    begin_measure();
}

static void on_hold_tick(uv_timer_t *t) {
    (void)t;
    psample_t s = proc_sample();
    if (s.ok) {
        g.rss_hold_last = s.rss_kb;
        if (s.rss_kb > g.rss_hold_max) g.rss_hold_max = s.rss_kb;
    }
    g.hold_samples++;
    if ((double)g.hold_samples * 0.5 >= cfg.hold) {
        g.m_end = mark_now();
        finish();
    }
}

static void on_send_tick(uv_timer_t *t) {
    (void)t;
    wsc_t *snd = &g.ws[g.receivers];
    uint64_t now = now_ns();
    if (snd->state != WS_READY) {
        note_error("sender lost");
        g.m_end = mark_now();
        finish();
        return;
    }
    if (g.phase == PH_MEASURE) {
        uint64_t due = (uint64_t)((double)(now - g.t_send0) / 1e9 * cfg.rate) + 1;
        if (due > g.target_total) due = g.target_total;
        while (g.sent < due) {
            /* 42["broadcast",{"room":"bench","seq":N,"t":US,"pad":"..."}]; with --binary 451-[...,"b":<placeholder>}]
             * and the attachment, or with msgpack the same members and "b" a bin */
            buf_t *b = &g.scratch;
            b->len = 0;
            uint64_t t = now_us();
            buf_str(b, "[\"broadcast\",{\"room\":\"");
            buf_str(b, cfg.room);
            buf_str(b, "\",\"seq\":");
            buf_u64(b, g.sent);
            buf_str(b, ",\"t\":");
            buf_u64(b, t);
            size_t objlen = b->len - 13 + 10; /* object so far + ,"pad":"" + } */
            size_t pad = objlen < (size_t)cfg.payload ? (size_t)cfg.payload - objlen : 0;
            if (cfg.msgpack) {
                size_t l;
                const char *m = mpw_broadcast(cfg.nsp, cfg.room, g.sent, t, pad, g.attach.p, g.attach.len, &l);
                mp_send(snd, m, l);
            } else {
                buf_str(b, ",\"pad\":\"");
                for (size_t k = 0; k < pad; k++) buf_append(b, "x", 1);
                buf_str(b, cfg.binary ? "\",\"b\":{\"_placeholder\":true,\"num\":0}}]" : "\"}]");
                sio_send_att(snd, '2', cfg.binary > 0, NULL, b->p, b->len);
            }
            g.sent++;
        }
        sock_flush(&snd->s);
        if (g.sent >= g.target_total) {
            g.t_send_end = now_ns();
            g.phase = PH_DRAIN;
        }
        if (g.phase == PH_MEASURE) return;
    }
    if (g.phase == PH_DRAIN) {
        if (g.received >= g.sent * (uint64_t)g.ready_target) {
            g.m_end = mark_now();
            finish();
        } else if (now > g.t_send_end && (double)(now - g.t_send_end) / 1e9 >= cfg.drain) {
            note_error("drain timeout: not every broadcast arrived");
            g.m_end = mark_now();
            finish();
        }
    }
}

static void start_sending(void) {
    if (g.phase != PH_BARRIER) return;
    uv_timer_stop(&g.t_phase);
    g.ready_target = g.ready;
    logmsg("%d receivers joined; sending %.0f/s for %.1fs", g.ready_target, cfg.rate, cfg.duration);
    g.target_total = (uint64_t)(cfg.rate * cfg.duration + 0.5);
    if (g.target_total < 1) g.target_total = 1;
    g.m_start = mark_now();
    g.t_send0 = now_ns();
    g.lat_seconds = (int)(cfg.duration + 1.999);
    g.lat_by_second = calloc((size_t)g.lat_seconds, sizeof(hist_t));
    g.phase = PH_MEASURE;
    uv_timer_start(&g.t_tick, on_send_tick, 0, 1);
}

static void on_barrier_timeout(uv_timer_t *t) {
    (void)t;
    note_error("join barrier timeout");
    start_sending();
}

static void setup_done(void) {
    uv_timer_stop(&g.t_setup);
    g.m_setup1 = mark_now();
    if (!g.m_setup1.t) g.m_setup1.t = now_ns();
    logmsg("setup: %d connected, %d failed in %.2fs", g.connected, g.failed,
           (double)(g.m_setup1.t - g.m_setup0.t) / 1e9);
    if (g.connected == 0) {
        g.m_start = g.m_end = g.m_setup1;
        finish();
        return;
    }
    switch (cfg.sc) {
    case SC_CONNECT:
        g.phase = PH_HOLD;
        g.m_start = g.m_setup1;
        uv_timer_start(&g.t_phase, on_hold_tick, 500, 500);
        break;
    case SC_ECHO_ACK:
        g.phase = PH_WARMUP;
        for (int i = 0; i < g.total; i++) {
            wsc_t *c = &g.ws[i];
            if (c->state != WS_READY) continue;
            for (int k = 0; k < cfg.inflight; k++) send_ack_req(c);
            sock_flush(&c->s);
        }
        if (cfg.warmup > 0) uv_timer_start(&g.t_phase, on_warmup_end, (uint64_t)(cfg.warmup * 1000), 0);
        else begin_measure();
        break;
    case SC_POLLING_ECHO:
        g.phase = PH_WARMUP;
        for (int i = 0; i < g.total; i++)
            if (g.pcs[i].state == PC_READY) pc_on_ready(&g.pcs[i]);
        if (cfg.warmup > 0) uv_timer_start(&g.t_phase, on_warmup_end, (uint64_t)(cfg.warmup * 1000), 0);
        else begin_measure();
        break;
    case SC_BROADCAST: {
        wsc_t *snd = &g.ws[g.receivers];
        if (snd->state != WS_READY) {
            note_error("sender did not connect");
            g.m_start = g.m_end = mark_now();
            finish();
            return;
        }
        g.phase = PH_BARRIER;
        char join[200];
        int jl = snprintf(join, sizeof join, "[\"join\",\"%s\"]", cfg.room);
        for (int i = 0; i < g.receivers; i++) {
            wsc_t *c = &g.ws[i];
            if (c->state != WS_READY) continue;
            if (cfg.msgpack) {
                size_t l;
                const char *m = mpw_event_str(cfg.nsp, cfg.join_ack ? 1 : -1, "join", cfg.room, &l);
                mp_send(c, m, l);
                if (!cfg.join_ack) {
                    m = mpw_event_str(cfg.nsp, -1, "echo", "joined", &l);
                    mp_send(c, m, l);
                }
            } else if (cfg.join_ack) {
                sio_send(c, '2', "1", join, (size_t)jl); /* 421["join","bench"]: the ack is the barrier */
            } else {
                sio_send(c, '2', NULL, join, (size_t)jl);
                sio_send(c, '2', NULL, "[\"echo\",\"joined\"]", 17);
            }
            sock_flush(&c->s);
        }
        uv_timer_start(&g.t_phase, on_barrier_timeout, (uint64_t)(cfg.timeout * 1000), 0);
        break;
    }
    }
}

static void pc_on_ready(pc_t *pc) {
    if (g.phase != PH_WARMUP && g.phase != PH_MEASURE) return;
    for (int k = 0; k < cfg.inflight; k++) pc_send_echo(pc);
    pc_post_kick(pc);
}

static void on_batch_check(uv_check_t *h) {
    (void)h;
    if (g.turn_reads && g.phase != PH_SETUP) {
        struct timespec ts = {0, (long)cfg.batch_us * 1000};
        nanosleep(&ts, NULL);
    }
    g.turn_reads = 0;
}

static void on_setup_timeout(uv_timer_t *t) {
    (void)t;
    if (g.phase != PH_SETUP) return;
    note_error("setup timeout");
    g.no_more_launch = 1;
    g.failed += g.total - g.started;
    g.started = g.total;
    for (int i = 0; i < g.total; i++) {
        if (cfg.sc == SC_POLLING_ECHO) {
            if (g.pcs[i].state > PC_IDLE && g.pcs[i].state < PC_READY) pc_fail(&g.pcs[i], "setup timeout");
        } else if (g.ws[i].state > WS_IDLE && g.ws[i].state < WS_READY) {
            ws_fail(&g.ws[i], "setup timeout");
        }
    }
    check_setup_done();
}

/* ------------------------------------------------------------------ main */

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen SCENARIO --port N [options]\n"
            "scenarios: connect | echo-ack | broadcast | polling-echo\n"
            "  --host H          server address (default 127.0.0.1; loopback only)\n"
            "  --port N          server port (required)\n"
            "  --path P          Engine.IO path (default /socket.io/)\n"
            "  --nsp NSP         Socket.IO namespace (default /)\n"
            "  --clients N       clients (connect: 10000, echo-ack: 100, broadcast receivers: 1000,\n"
            "                    polling-echo: 50)\n"
            "  --window W        handshakes in progress at once (default 256)\n"
            "  --hold S          connect: hold the idle clients S seconds (default 5)\n"
            "  --inflight K      echo-ack / polling-echo: requests in flight per client (default 4 / 1)\n"
            "  --duration S      measured window (default 5)\n"
            "  --warmup S        echo-ack / polling-echo: warm-up before the window (default 1)\n"
            "  --rate R          broadcast: broadcasts per second (default 1000)\n"
            "  --payload B       size of the JSON object argument in bytes (default 64)\n"
            "  --drain S         broadcast: wait at most S after the last send (default 10)\n"
            "  --room NAME       broadcast room (default bench)\n"
            "  --port2 N         broadcast: a second server of the same cluster; the receivers alternate\n"
            "                    between --port and --port2, the sender stays on --port\n"
            "  --join-ack        broadcast: receivers send join with an ack id and the ack is the barrier\n"
            "                    (instead of an echo after the join)\n"
            "  --server-pid PID  sample the server's CPU time and RSS from /proc; PID,PID,...: the sum\n"
            "                    over several server processes (up to 8)\n"
            "  --aux-pid PID     sample one more process's CPU time apart (e.g. redis-server)\n"
            "  --timeout S       limit of the setup phase (default 60)\n"
            "  --batch-us U      after each loop turn that read data, sleep U microseconds (default 0):\n"
            "                    fewer, larger reads; adds up to U to every measured latency\n"
            "  --tls             connect over TLS (wss://, https://); the server's certificate is not verified\n"
            "  --tls-ca FILE     with TLS, verify the server's chain against this CA (PEM) (implies --tls)\n"
            "  --tls-name NAME   with TLS, the SNI name and the name the certificate must carry (default localhost)\n"
            "  --parser P        json (default) or msgpack (socket.io-msgpack-parser; WebSocket scenarios)\n"
            "  --binary N        echo-ack / broadcast: an N-byte binary in the argument (default 0: none)\n"
            "  --quiet           no progress on stderr\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') usage();
    cfg.scenario = argv[1];
    if (!strcmp(cfg.scenario, "connect")) cfg.sc = SC_CONNECT;
    else if (!strcmp(cfg.scenario, "echo-ack")) cfg.sc = SC_ECHO_ACK;
    else if (!strcmp(cfg.scenario, "broadcast")) cfg.sc = SC_BROADCAST;
    else if (!strcmp(cfg.scenario, "polling-echo")) cfg.sc = SC_POLLING_ECHO;
    else usage();
    int inflight_set = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quiet")) {
            cfg.quiet = 1;
            continue;
        }
        if (!strcmp(a, "--join-ack")) {
            cfg.join_ack = 1;
            continue;
        }
        if (!strcmp(a, "--tls")) {
            cfg.tls = 1;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--host")) cfg.host = v;
        else if (!strcmp(a, "--port")) cfg.port = atoi(v);
        else if (!strcmp(a, "--path")) cfg.path = v;
        else if (!strcmp(a, "--nsp")) cfg.nsp = v;
        else if (!strcmp(a, "--clients")) cfg.clients = atoi(v);
        else if (!strcmp(a, "--window")) cfg.window = atoi(v);
        else if (!strcmp(a, "--hold")) cfg.hold = atof(v);
        else if (!strcmp(a, "--inflight")) cfg.inflight = atoi(v), inflight_set = 1;
        else if (!strcmp(a, "--duration")) cfg.duration = atof(v);
        else if (!strcmp(a, "--warmup")) cfg.warmup = atof(v);
        else if (!strcmp(a, "--rate")) cfg.rate = atof(v);
        else if (!strcmp(a, "--payload")) cfg.payload = atoi(v);
        else if (!strcmp(a, "--drain")) cfg.drain = atof(v);
        else if (!strcmp(a, "--room")) cfg.room = v;
        else if (!strcmp(a, "--server-pid")) {
            cfg.server_pid_arg = v;
            cfg.nserver_pids = 0;
            for (const char *q = v; *q;) {
                char *end;
                long pid = strtol(q, &end, 10);
                if (end == q || pid <= 0 || pid > 0x7fffffff || cfg.nserver_pids >= MAX_PIDS || (*end && *end != ','))
                    die("--server-pid wants PID or PID,PID,... (at most %d)", MAX_PIDS);
                cfg.server_pids[cfg.nserver_pids++] = (int)pid;
                q = *end ? end + 1 : end;
            }
            cfg.server_pid = cfg.nserver_pids ? cfg.server_pids[0] : 0;
        }
        else if (!strcmp(a, "--aux-pid")) cfg.aux_pid = atoi(v);
        else if (!strcmp(a, "--port2")) cfg.port2 = atoi(v);
        else if (!strcmp(a, "--timeout")) cfg.timeout = atof(v);
        else if (!strcmp(a, "--batch-us")) cfg.batch_us = atoi(v);
        else if (!strcmp(a, "--tls-ca")) cfg.tls_ca = v, cfg.tls = 1;
        else if (!strcmp(a, "--tls-name")) cfg.tls_name = v;
        else if (!strcmp(a, "--binary")) cfg.binary = atoi(v);
        else if (!strcmp(a, "--parser")) {
            if (!strcmp(v, "msgpack")) cfg.msgpack = 1;
            else if (strcmp(v, "json") != 0) die("--parser is json or msgpack");
        }
        else usage();
    }
    if (cfg.port <= 0 || cfg.port > 65535) die("--port is required");
    if (cfg.clients < 0)
        cfg.clients = cfg.sc == SC_CONNECT ? 10000 : cfg.sc == SC_ECHO_ACK ? 100 : cfg.sc == SC_BROADCAST ? 1000 : 50;
    if (!inflight_set && cfg.sc == SC_POLLING_ECHO) cfg.inflight = 1;
    if (cfg.clients < 1 || cfg.clients > 1000000) die("bad --clients");
    if (cfg.window < 1) die("bad --window");
    if (cfg.inflight < 1 || cfg.inflight > ACK_SLOTS) die("--inflight must be 1..%d", ACK_SLOTS);
    if (cfg.duration <= 0 || cfg.duration > 3600) die("bad --duration");
    if (cfg.hold < 0 || cfg.hold > 3600) die("bad --hold");
    if (cfg.rate <= 0 || cfg.rate > 1e6) die("bad --rate");
    if (cfg.payload < 0 || cfg.payload > 1000000) die("bad --payload");
    if (cfg.nsp[0] != '/') die("--nsp must start with /");
    if (cfg.binary < 0 || cfg.binary > 1000000) die("bad --binary");
    if (cfg.binary && cfg.sc != SC_ECHO_ACK && cfg.sc != SC_BROADCAST) die("--binary is for echo-ack and broadcast");
    if (cfg.msgpack && cfg.sc == SC_POLLING_ECHO) die("--parser msgpack is for the WebSocket scenarios");
    if (cfg.msgpack && mpw_init() != 0) die("out of memory");
    if (strlen(cfg.nsp) > 100 || strlen(cfg.room) > 100) die("--nsp / --room too long");
    if (uv_ip4_addr(cfg.host, cfg.port, &g.addr) != 0) die("--host must be an IPv4 address");
    if ((ntohl(g.addr.sin_addr.s_addr) >> 24) != 127) die("--host must be a loopback address (127.0.0.0/8)");
    snprintf(g.hostport, sizeof g.hostport, "%s:%d", cfg.host, cfg.port);
    if (cfg.port2) {
        if (cfg.port2 < 0 || cfg.port2 > 65535) die("bad --port2");
        if (cfg.sc != SC_BROADCAST) die("--port2 is for the broadcast scenario");
        uv_ip4_addr(cfg.host, cfg.port2, &g.addr2);
        snprintf(g.hostport2, sizeof g.hostport2, "%s:%d", cfg.host, cfg.port2);
    }
    if (strcmp(cfg.nsp, "/") != 0) snprintf(g.nsp_prefix, sizeof g.nsp_prefix, "%s,", cfg.nsp);
    g.nsp_len = strlen(g.nsp_prefix);
    if (cfg.tls) {
        char err[256];
        if (tls_client_init(cfg.tls_ca, cfg.tls_name, err, sizeof err) < 0) die("%s", err);
    }

    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    long need = (long)cfg.clients * (cfg.sc == SC_POLLING_ECHO ? 2 : 1) + 64;
    if ((long)rl.rlim_cur < need)
        logmsg("warning: RLIMIT_NOFILE is %ld, %ld descriptors needed", (long)rl.rlim_cur, need);
    rng_state ^= now_ns() ^ ((uint64_t)getpid() << 32);

    /* the JSON object argument: {"p":"xxx"} (echo-ack) or ,"p":"xxx"} (polling echo, after "t") */
    for (int k = 0; k < cfg.binary; k++) {
        uint8_t byte = (uint8_t)(k * 31 + 7); /* not a constant: a reordered or cut copy does not match */
        buf_append(&g.attach, &byte, 1);
    }
    if (cfg.sc == SC_ECHO_ACK) {
        buf_str(&g.body, "[\"echo-ack\",{\"p\":\"");
        for (size_t k = 0; k < echo_ack_pad(); k++) buf_append(&g.body, "x", 1);
        buf_str(&g.body, cfg.binary ? "\",\"b\":{\"_placeholder\":true,\"num\":0}}]" : "\"}]");
    } else if (cfg.sc == SC_POLLING_ECHO) {
        buf_str(&g.body, ",\"p\":\"");
        /* {"t":<us>,"p":"..."}: 13 bytes of syntax plus the digits of t */
        int digits = snprintf(NULL, 0, "%" PRIu64, now_us());
        for (int k = 13 + digits; k < cfg.payload; k++) buf_append(&g.body, "x", 1);
        buf_str(&g.body, "\"}");
    }

    g.loop = uv_default_loop();
    uv_timer_init(g.loop, &g.t_phase);
    uv_timer_init(g.loop, &g.t_tick);
    uv_timer_init(g.loop, &g.t_setup);
    if (cfg.batch_us > 0) {
        if (cfg.batch_us > 100000) die("--batch-us must be at most 100000");
        uv_check_init(g.loop, &g.batch);
        uv_check_start(&g.batch, on_batch_check);
        uv_unref((uv_handle_t *)&g.batch);
    }
    if (cfg.sc == SC_BROADCAST) {
        g.receivers = cfg.clients;
        g.total = cfg.clients + 1; /* the last client is the sender */
    } else {
        g.total = cfg.clients;
    }
    if (cfg.sc == SC_POLLING_ECHO) {
        g.pcs = calloc((size_t)g.total, sizeof *g.pcs);
        if (!g.pcs) die("out of memory");
    } else {
        g.ws = calloc((size_t)g.total, sizeof *g.ws);
        if (!g.ws) die("out of memory");
        if (cfg.sc == SC_BROADCAST) g.ws[g.receivers].sender = 1;
    }
    g.m_before = mark_now();
    g.m_setup0 = g.m_before;
    g.phase = PH_SETUP;
    if (cfg.port2)
        logmsg("%s: %d clients to %s%s and %s%s", cfg.scenario, g.total, g.hostport, cfg.nsp, g.hostport2, cfg.nsp);
    else
        logmsg("%s: %d clients to %s%s", cfg.scenario, g.total, g.hostport, cfg.nsp);
    uv_timer_start(&g.t_setup, on_setup_timeout, (uint64_t)(cfg.timeout * 1000), 0);
    launch_more();
    uv_run(g.loop, UV_RUN_DEFAULT);
    /* the loop only ends early if every handle closed without finishing */
    if (g.phase != PH_DONE) {
        note_error("event loop ended early");
        g.m_end = mark_now();
        finish();
    }
    return 0;
}
