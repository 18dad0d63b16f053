/* abi_server: a Socket.IO server written against sio.h, the peer of Tests/c/test_c_abi.py (which drives it with the
 * real python-socketio client).
 *
 *   abi_server PORT [LOOPS [BALANCING]]
 *                          listens on 127.0.0.1:PORT (0 picks one) with SIO_OPT_LOOPS = LOOPS (default 1, or
 *                          $SIO_TEST_LOOPS) and SIO_OPT_LOOP_BALANCING = BALANCING ("reuseport" | "round-robin",
 *                          default the library's, or $SIO_TEST_LOOP_BALANCING); prints "LOOPS <n>", "LISTENING <port>"
 *   $SIO_TEST_STOP          how the host stops: "stop" (default: sio_server_start, then sio_server_stop twice,
 *                          sio_server_wait, sio_server_destroy), "destroy" (sio_server_start, then only
 *                          sio_server_destroy, which stops and waits), "run" (sio_server_run on the main thread,
 *                          sio_server_stop from a signal thread, then sio_server_destroy)
 *
 * With several loops the callbacks of different sockets run at the same time on different threads: everything
 * they share here (the failure count, the per-loop thread table and counters, the registry of live sockets, the
 * worker's queue, stdout) is behind a mutex or atomic. Every socket callback checks that it runs on the socket's
 * loop (sio_socket_in_loop, and the same thread for every callback of one loop index, a different one per index).
 *
 * Namespace "/" (middleware: auth {"token": "secret"} or the connection is refused with "not authorized" and data
 * {"code": 401}); namespace "/deferred" (the same check, decided later on a worker thread via sio_next).
 * Events a client may send, with what the server does:
 *   echo ...args            emits "echo" back with the same arguments and attachments
 *   ack ...args (ack)       acknowledges with the same arguments and attachments
 *   ask [ms, "event"]       sio_socket_emit_with_ack(event, ["question"], timeout ms); then emits "answer"
 *                           [{"status": "SIO_OK" | "SIO_ETIMEOUT", "reply": <reply array> | null}]
 *   join ["room"] (ack)     joins; acks with the socket's rooms; leave likewise
 *   to_room [room, except|null, ...] broadcasts "room message" with the same arguments and attachments
 *   ask_room [room, ms] (ack) sio_namespace_broadcast_with_ack("poll", ["poll"]) to the room; acks
 *                           [{"status": ..., 0, "replies": [<reply array>, ...]}]
 *   info (ack)              acks [{"id", "ns", "auth", "query", "header", "address", "connected", "events", "ud",
 *                           "loop", "loops", "in_loop", "server_in_loop"}]
 *   where (ack)             acks [{"loop": sio_socket_loop_index, "loops": sio_server_loop_count, "in_loop",
 *                           "server_in_loop"}]
 *   post_self               the worker thread checks it is on no loop (sio_socket_in_loop / sio_server_in_loop false,
 *                           sio_socket_join SIO_ETHREAD), then sio_socket_post(socket): the task, on the socket's loop,
 *                           joins "posted-room" and emits "posted" [{"loop", "in_loop", "thread_ok", "rooms",
 *                           "worker_in_loop", "worker_join"}]
 *   post_to [sid] (ack)     from this socket's loop to socket `sid` (found in the registry): sio_socket_emit
 *                           "direct" [{"from": loop}] and sio_socket_post, whose task emits "posted" [{"from", "loop",
 *                           "in_loop", "thread_ok"}] to `sid`; acks [{"rc", "emit_rc", "from", "to",
 *                           "caller_in_target_loop", "join_rc"}] (join_rc: sio_socket_join(sid's socket) from here)
 *   post_gone (ack)         the handle of the last socket that disconnected (stale): acks [{"post", "loop_index",
 *                           "in_loop"}] (expected "SIO_ECLOSED", -3, false)
 *   flood [n]               emits n "flood" [i] to this socket and n "flood room" [i] to the room "load"
 *   ticker [n]              a second thread emits "tick" [i] (i < n) to this socket with sio_socket_emit, then
 *                           "tock" [n] to the namespace with sio_namespace_emit, while the loop runs
 *   kick                    a second thread disconnects this socket (sio_socket_disconnect)
 *   stop                    asks the main thread to stop the server (sio_server_stop from another thread)
 * Plain HTTP: GET /health answers 200 "ok"; other paths 404 (through sio_http_respond).
 * SIGINT / SIGTERM stop it the same way as "stop". Exit status 0 only when every API call returned what it should.
 * Lines on stdout: LOOPS <n>, LISTENING, CONNECT <ns> <id> loop=<k>, REFUSED <ns>, DISCONNECTING <id> <rooms>,
 * DISCONNECT <ns> <id> <reason>, FAIL <what>, then at the end STOPPED mode=<mode> threads=<left>/<before>,
 * LOOPSTAT <k> connects=<c> disconnects=<d> shutdown=<s> (one per loop), EXIT <failures>.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static sio_server_t *server;
static sio_namespace_t *root_ns;
static atomic_int failures;
static int loop_count = 1;
/* Set by the main thread before it stops the server: emits from the worker may then find it gone. */
static atomic_bool stopping;
/* Set once the server has stopped (sio_server_wait / sio_server_destroy returned): no callback may run after. */
static atomic_bool stopped;

#define CHECK(call)                                                                                                 \
    do {                                                                                                            \
        int rc_ = (call);                                                                                           \
        if (rc_ != SIO_OK) {                                                                                        \
            say("FAIL %s:%d %s -> %s", __FILE__, __LINE__, #call, sio_err_name(rc_));                               \
            atomic_fetch_add(&failures, 1);                                                                         \
        }                                                                                                           \
    } while (0)

#define EXPECT(cond)                                                                                                \
    do {                                                                                                            \
        if (!(cond)) {                                                                                              \
            say("FAIL %s:%d %s", __FILE__, __LINE__, #cond);                                                        \
            atomic_fetch_add(&failures, 1);                                                                         \
        }                                                                                                           \
    } while (0)

/* A call that may find the server gone once the host began stopping it. */
#define CHECK_UNLESS_STOPPING(call)                                                                                 \
    do {                                                                                                            \
        int rc_ = (call);                                                                                           \
        if (rc_ != SIO_OK && !(rc_ == SIO_ECLOSED && atomic_load(&stopping))) {                                     \
            say("FAIL %s:%d %s -> %s", __FILE__, __LINE__, #call, sio_err_name(rc_));                               \
            atomic_fetch_add(&failures, 1);                                                                         \
        }                                                                                                           \
    } while (0)

/* ---- loops: which thread serves which loop index, per-loop counters ------------------------------------------ */

#define MAX_LOOPS 64
static pthread_mutex_t loops_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t loop_threads[MAX_LOOPS];
static bool loop_thread_known[MAX_LOOPS];
static atomic_int loop_connects[MAX_LOOPS], loop_disconnects[MAX_LOOPS], loop_shutdowns[MAX_LOOPS];

/* True when the calling thread is the one that serves loop `index` (the first callback of a loop records it; no
 * two loop indexes may share a thread). */
static bool on_loop_thread(int index) {
    if (index < 0 || index >= loop_count) return false;
    pthread_t self = pthread_self();
    bool ok = true;
    pthread_mutex_lock(&loops_lock);
    if (loop_thread_known[index]) {
        ok = pthread_equal(loop_threads[index], self) != 0;
    } else {
        for (int k = 0; k < loop_count; k++)
            if (loop_thread_known[k] && pthread_equal(loop_threads[k], self)) ok = false;
        loop_threads[index] = self;
        loop_thread_known[index] = true;
    }
    pthread_mutex_unlock(&loops_lock);
    return ok;
}

/* Every socket callback: on the socket's loop, which is a loop of this server, and the server still running. */
static int socket_loop(sio_socket_t *socket, const char *where) {
    int index = sio_socket_loop_index(socket);
    if (index < 0 || index >= loop_count || !sio_socket_in_loop(socket) || !sio_server_in_loop(server) ||
        !on_loop_thread(index)) {
        say("FAIL %s: not on the socket's loop (index %d of %d, in_loop %d, server_in_loop %d)", where, index,
            loop_count, (int)sio_socket_in_loop(socket), (int)sio_server_in_loop(server));
        atomic_fetch_add(&failures, 1);
    }
    if (atomic_load(&stopped)) {
        say("FAIL %s: a callback after the server stopped", where);
        atomic_fetch_add(&failures, 1);
    }
    return index;
}

/* ---- the registry of live sockets (for post_to), and the last one gone (for post_gone) ----------------------- */

typedef struct entry {
    char id[64];
    sio_socket_t *socket;
    struct entry *next;
} entry_t;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t *registry;
static sio_socket_t *last_gone;

static void registry_add(const char *id, sio_socket_t *socket) {
    entry_t *e = calloc(1, sizeof *e);
    if (!e) abort();
    snprintf(e->id, sizeof e->id, "%s", id);
    e->socket = socket;
    pthread_mutex_lock(&registry_lock);
    e->next = registry;
    registry = e;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(sio_socket_t *socket) {
    pthread_mutex_lock(&registry_lock);
    for (entry_t **p = &registry; *p; p = &(*p)->next) {
        if ((*p)->socket == socket) {
            entry_t *gone = *p;
            *p = gone->next;
            free(gone);
            break;
        }
    }
    last_gone = socket;
    pthread_mutex_unlock(&registry_lock);
}

static sio_socket_t *registry_find(const char *id) {
    sio_socket_t *found = NULL;
    pthread_mutex_lock(&registry_lock);
    for (entry_t *e = registry; e; e = e->next)
        if (strcmp(e->id, id) == 0) found = e->socket;
    pthread_mutex_unlock(&registry_lock);
    return found;
}

static void registry_free(void) {
    pthread_mutex_lock(&registry_lock);
    while (registry) {
        entry_t *next = registry->next;
        free(registry);
        registry = next;
    }
    pthread_mutex_unlock(&registry_lock);
}

/* ---- the second thread: emits, disconnects and middleware decisions, off the loop thread ---------------------- */

typedef enum { JOB_TICKER, JOB_KICK, JOB_NEXT, JOB_POST } job_kind_t;
typedef struct job {
    job_kind_t kind;
    sio_socket_t *socket;
    sio_next_t *next;
    bool allow;
    long count;
    int loop;
    struct job *link;
} job_t;

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cond = PTHREAD_COND_INITIALIZER;
static job_t *jobs_head, *jobs_tail;
static bool jobs_quit;

static void post_job(job_t job) {
    job_t *j = malloc(sizeof *j);
    if (!j) abort();
    *j = job;
    j->link = NULL;
    pthread_mutex_lock(&jobs_lock);
    if (jobs_tail) jobs_tail->link = j;
    else jobs_head = j;
    jobs_tail = j;
    pthread_cond_signal(&jobs_cond);
    pthread_mutex_unlock(&jobs_lock);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void post_from_worker(sio_socket_t *socket, int loop);

static void *worker_main(void *unused) {
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&jobs_lock);
        while (!jobs_head && !jobs_quit) pthread_cond_wait(&jobs_cond, &jobs_lock);
        job_t *j = jobs_head;
        if (j) {
            jobs_head = j->link;
            if (!jobs_head) jobs_tail = NULL;
        }
        pthread_mutex_unlock(&jobs_lock);
        if (!j) return NULL; /* quit, queue drained */
        switch (j->kind) {
        case JOB_TICKER:
            for (long i = 0; i < j->count; i++) {
                char args[32];
                int n = snprintf(args, sizeof args, "[%ld]", i);
                CHECK_UNLESS_STOPPING(sio_socket_emit(j->socket, "tick", args, (size_t)n, NULL, 0));
            }
            {
                char args[32];
                int n = snprintf(args, sizeof args, "[%ld]", j->count);
                CHECK_UNLESS_STOPPING(sio_namespace_emit(root_ns, "tock", args, (size_t)n, NULL, 0));
            }
            break;
        case JOB_KICK:
            CHECK_UNLESS_STOPPING(sio_socket_disconnect(j->socket, false));
            break;
        case JOB_POST:
            post_from_worker(j->socket, j->loop);
            break;
        case JOB_NEXT:
            sleep_ms(20);
            if (j->allow) CHECK(sio_next(j->next, NULL, NULL));
            else CHECK(sio_next(j->next, "deferred refusal", "{\"code\":403}"));
            break;
        }
        free(j);
    }
}

/* ---- per-socket state ----------------------------------------------------------------------------------------- */

typedef struct {
    char ns[64];
    char id[64];
    int events; /* counted by the catch-all handler */
} conn_t;

static int middleware_mark; /* its address is the user data a middleware leaves for the connection handler */

static bool token_ok(sio_socket_t *socket) {
    size_t len = 0;
    const char *auth = sio_socket_auth(socket, &len);
    if (!auth) return false;
    const char *end = auth + len;
    const char *p = strstr(auth, "\"token\"");
    if (!p || p >= end) return false;
    p += 7;
    while (p < end && (*p == ' ' || *p == ':')) p++;
    return (size_t)(end - p) >= 8 && memcmp(p, "\"secret\"", 8) == 0;
}

static void middleware(sio_socket_t *socket, sio_next_t *next, void *user_data) {
    (void)user_data;
    socket_loop(socket, "middleware");
    EXPECT(!sio_socket_connected(socket));
    if (!token_ok(socket)) {
        say("REFUSED %s", sio_socket_namespace(socket));
        CHECK(sio_next(next, "not authorized", "{\"code\":401}"));
        return;
    }
    CHECK(sio_socket_set_user_data(socket, &middleware_mark));
    CHECK(sio_next(next, NULL, NULL));
}

static void deferred_middleware(sio_socket_t *socket, sio_next_t *next, void *user_data) {
    (void)user_data;
    socket_loop(socket, "deferred middleware");
    bool allow = token_ok(socket);
    if (!allow) say("REFUSED %s", sio_socket_namespace(socket));
    CHECK(sio_socket_set_user_data(socket, &middleware_mark));
    post_job((job_t){.kind = JOB_NEXT, .next = next, .allow = allow});
}

/* ---- event handlers -------------------------------------------------------------------------------------------- */

static void on_any(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)args, (void)ack, (void)ud;
    socket_loop(socket, event); /* the catch-all runs before every event's own handler */
    conn_t *c = sio_socket_get_user_data(socket);
    if (c) c->events++;
}

static void on_echo(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)ack, (void)ud;
    size_t len, n;
    const char *json = sio_args_json(args, &len);
    sio_buffer_t *bins = args_buffers(args, &n);
    CHECK(sio_socket_emit(socket, "echo", json, len, bins, n));
    free(bins);
}

static void on_ack(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)socket, (void)event, (void)ud;
    if (!ack) {
        say("FAIL ack event without an ack id");
        atomic_fetch_add(&failures, 1);
        return;
    }
    size_t len, n;
    const char *json = sio_args_json(args, &len);
    sio_buffer_t *bins = args_buffers(args, &n);
    CHECK(sio_ack_send(ack, json, len, bins, n));
    free(bins);
}

static void ask_reply(sio_socket_t *socket, int status, const sio_args_t *reply, void *ud) {
    (void)ud;
    socket_loop(socket, "ask reply");
    if (status == SIO_ECLOSED) {
        EXPECT(reply == NULL);
        say("ASK_CLOSED");
        return;
    }
    sb_t b = {0};
    sb_printf(&b, "[{\"status\":\"%s\",\"reply\":", sio_err_name(status));
    if (status == SIO_OK) {
        size_t len;
        const char *json = sio_args_json(reply, &len);
        EXPECT(json != NULL);
        if (json) sb_append(&b, json, len);
    } else {
        EXPECT(reply == NULL);
        sb_puts(&b, "null");
    }
    sb_puts(&b, "}]");
    CHECK(sio_socket_emit(socket, "answer", b.p, b.len, NULL, 0));
    sb_free(&b);
}

static void on_ask(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)ack, (void)ud;
    size_t len;
    const char *json = sio_args_json(args, &len);
    flat_args_t a;
    if (flat_args_parse(&a, json, len) < 2 || !a.strings[1]) {
        say("FAIL ask needs [ms, event]");
        atomic_fetch_add(&failures, 1);
    } else {
        CHECK(sio_socket_emit_with_ack(socket, a.strings[1], "[\"question\"]", 12, NULL, 0, (uint32_t)a.numbers[0],
                                       ask_reply, NULL));
    }
    flat_args_free(&a);
}

static void ack_rooms(sio_socket_t *socket, sio_ack_t *ack) {
    char *rooms = NULL;
    CHECK(sio_socket_rooms(socket, &rooms));
    sb_t b = {0};
    sb_printf(&b, "[%s]", rooms ? rooms : "null");
    if (ack) CHECK(sio_ack_send(ack, b.p, b.len, NULL, 0));
    sb_free(&b);
    sio_free(rooms);
}

static void on_join(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)ud;
    size_t len;
    const char *json = sio_args_json(args, &len);
    flat_args_t a;
    flat_args_parse(&a, json, len);
    for (size_t i = 0; i < a.count; i++) {
        if (!a.strings[i]) continue;
        if (strcmp(event, "join") == 0) CHECK(sio_socket_join(socket, a.strings[i]));
        else CHECK(sio_socket_leave(socket, a.strings[i]));
    }
    flat_args_free(&a);
    ack_rooms(socket, ack);
}

static void on_to_room(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)socket, (void)event, (void)ack, (void)ud;
    size_t len, n;
    const char *json = sio_args_json(args, &len);
    flat_args_t a;
    flat_args_parse(&a, json, len);
    const char *rooms[1] = {a.strings[0]};
    const char *except[1] = {a.strings[1]};
    sio_buffer_t *bins = args_buffers(args, &n);
    CHECK(sio_namespace_broadcast(root_ns, rooms, rooms[0] ? 1 : 0, except, except[0] ? 1 : 0, 0, "room message",
                                  json, len, bins, n));
    free(bins);
    flat_args_free(&a);
}

typedef struct {
    sio_ack_t *ack;
} poll_ctx_t;

static void poll_done(int status, const sio_args_t *const *replies, size_t n_replies, void *ud) {
    poll_ctx_t *ctx = ud;
    sb_t b = {0};
    sb_printf(&b, "[{\"status\":\"%s\",\"replies\":[", sio_err_name(status));
    for (size_t i = 0; i < n_replies; i++) {
        size_t len;
        const char *json = sio_args_json(replies[i], &len);
        if (i) sb_puts(&b, ",");
        sb_append(&b, json, len);
    }
    sb_puts(&b, "]}]");
    /* The asking socket may have gone meanwhile: then the ack handle is stale and this returns an error. */
    int rc = sio_ack_send(ctx->ack, b.p, b.len, NULL, 0);
    if (rc != SIO_OK) say("POLL_ACK %s", sio_err_name(rc));
    sb_free(&b);
    free(ctx);
}

static void on_ask_room(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)socket, (void)event, (void)ud;
    size_t len;
    const char *json = sio_args_json(args, &len);
    flat_args_t a;
    flat_args_parse(&a, json, len);
    const char *rooms[1] = {a.strings[0]};
    poll_ctx_t *ctx = malloc(sizeof *ctx);
    if (!ctx) abort();
    ctx->ack = ack;
    int rc = sio_namespace_broadcast_with_ack(root_ns, rooms, rooms[0] ? 1 : 0, NULL, 0, 0, "poll", "[\"poll\"]", 8,
                                              NULL, 0, (uint32_t)a.numbers[1], poll_done, ctx);
    CHECK(rc);
    if (rc != SIO_OK) free(ctx);
    flat_args_free(&a);
}

static void fetch_done(int status, const char *json, size_t len, void *ud) {
    sio_ack_t *ack = ud;
    EXPECT(status == SIO_OK && json != NULL && json[len] == '\0');
    sb_t b = {0};
    sb_printf(&b, "[%.*s]", (int)len, json);
    int rc = sio_ack_send(ack, b.p, b.len, NULL, 0);
    if (rc != SIO_OK) say("FETCH_ACK %s", sio_err_name(rc));
    sb_free(&b);
}

/* ["sockets_join"|"sockets_leave"|"disconnect_sockets"|"fetch_sockets", room or null, except or null, name]:
 * the selection operations on "/", acknowledged with [rc] (fetch_sockets: with the sockets' JSON array). */
static void on_operation(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)socket, (void)ud;
    size_t len;
    const char *json = sio_args_json(args, &len);
    flat_args_t a;
    flat_args_parse(&a, json, len);
    const char *rooms[1] = {a.strings[0]};
    const char *except[1] = {a.strings[1]};
    const char *names[1] = {a.strings[2]};
    size_t n_rooms = rooms[0] ? 1 : 0, n_except = except[0] ? 1 : 0;
    int rc;
    if (strcmp(event, "sockets_join") == 0) {
        rc = sio_namespace_sockets_join(root_ns, rooms, n_rooms, except, n_except, 0, names, 1);
    } else if (strcmp(event, "sockets_leave") == 0) {
        rc = sio_namespace_sockets_leave(root_ns, rooms, n_rooms, except, n_except, SIO_BROADCAST_LOCAL, names, 1);
    } else if (strcmp(event, "disconnect_sockets") == 0) {
        rc = sio_namespace_disconnect_sockets(root_ns, rooms, n_rooms, except, n_except, 0, false);
    } else {
        rc = sio_namespace_fetch_sockets(root_ns, rooms, n_rooms, except, n_except, 0, fetch_done, ack);
        if (rc == SIO_OK) {
            flat_args_free(&a);
            return; /* acknowledged by fetch_done */
        }
    }
    sb_t b = {0};
    sb_printf(&b, "[%d]", rc);
    if (ack) CHECK(sio_ack_send(ack, b.p, b.len, NULL, 0));
    sb_free(&b);
    flat_args_free(&a);
}

static void on_info(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)args, (void)ud;
    conn_t *c = sio_socket_get_user_data(socket);
    size_t auth_len = 0;
    const char *auth = sio_socket_auth(socket, &auth_len);
    sio_namespace_t *ns = sio_socket_get_namespace(socket);
    EXPECT(ns != NULL && strcmp(sio_namespace_name(ns), sio_socket_namespace(socket)) == 0);
    sb_t b = {0};
    sb_puts(&b, "[{\"id\":");
    sb_json_string(&b, sio_socket_id(socket));
    sb_puts(&b, ",\"ns\":");
    sb_json_string(&b, sio_socket_namespace(socket));
    sb_puts(&b, ",\"auth\":");
    if (auth) sb_append(&b, auth, auth_len);
    else sb_puts(&b, "null");
    sb_puts(&b, ",\"query\":");
    sb_json_string(&b, sio_socket_query(socket, "x"));
    sb_puts(&b, ",\"missing_query\":");
    sb_json_string(&b, sio_socket_query(socket, "no-such-parameter"));
    sb_puts(&b, ",\"header\":");
    sb_json_string(&b, sio_socket_header(socket, "X-TEST"));
    sb_puts(&b, ",\"address\":");
    sb_json_string(&b, sio_socket_address(socket));
    sb_puts(&b, ",\"transport\":");
    sb_json_string(&b, sio_socket_transport(socket));
    sb_printf(&b, ",\"connected\":%s,\"events\":%d,\"ud\":%s", sio_socket_connected(socket) ? "true" : "false",
              c ? c->events : -1, c && strcmp(c->id, sio_socket_id(socket)) == 0 ? "true" : "false");
    sb_printf(&b, ",\"loop\":%d,\"loops\":%d,\"in_loop\":%s,\"server_in_loop\":%s}]", sio_socket_loop_index(socket),
              sio_server_loop_count(server), sio_socket_in_loop(socket) ? "true" : "false",
              sio_server_in_loop(server) ? "true" : "false");
    if (ack) CHECK(sio_ack_send(ack, b.p, b.len, NULL, 0));
    sb_free(&b);
}

static void on_where(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)args, (void)ud;
    sb_t b = {0};
    sb_printf(&b, "[{\"loop\":%d,\"loops\":%d,\"in_loop\":%s,\"server_in_loop\":%s}]", sio_socket_loop_index(socket),
              sio_server_loop_count(server), sio_socket_in_loop(socket) ? "true" : "false",
              sio_server_in_loop(server) ? "true" : "false");
    if (ack) CHECK(sio_ack_send(ack, b.p, b.len, NULL, 0));
    sb_free(&b);
}

/* post_self: the task posted by the worker thread, on the socket's loop. */
typedef struct {
    int loop;           /* sio_socket_loop_index as the poster saw it */
    bool worker_in_loop; /* sio_socket_in_loop || sio_server_in_loop on the worker (must be false) */
    int worker_join;    /* sio_socket_join from the worker (must be SIO_ETHREAD) */
} self_task_t;

static void self_task(sio_socket_t *socket, void *ud) {
    self_task_t *t = ud;
    int index = socket_loop(socket, "self task");
    bool thread_ok = index == t->loop && on_loop_thread(index);
    CHECK(sio_socket_join(socket, "posted-room")); /* a [LOOP] function, allowed here */
    char *rooms = NULL;
    CHECK(sio_socket_rooms(socket, &rooms));
    sb_t b = {0};
    sb_printf(&b, "[{\"loop\":%d,\"in_loop\":%s,\"thread_ok\":%s,\"rooms\":%s,\"worker_in_loop\":%s,"
                  "\"worker_join\":\"%s\"}]",
              index, sio_socket_in_loop(socket) ? "true" : "false", thread_ok ? "true" : "false",
              rooms ? rooms : "null", t->worker_in_loop ? "true" : "false", sio_err_name(t->worker_join));
    CHECK(sio_socket_emit(socket, "posted", b.p, b.len, NULL, 0));
    sb_free(&b);
    sio_free(rooms);
    free(t);
}

static void post_from_worker(sio_socket_t *socket, int loop) {
    self_task_t *t = malloc(sizeof *t);
    if (!t) abort();
    t->loop = sio_socket_loop_index(socket); /* [ANY THREAD] */
    EXPECT(t->loop == loop);
    t->worker_in_loop = sio_socket_in_loop(socket) || sio_server_in_loop(server);
    t->worker_join = sio_socket_join(socket, "never-joined");
    int rc = sio_socket_post(socket, self_task, t);
    CHECK_UNLESS_STOPPING(rc);
    if (rc != SIO_OK) free(t);
}

static void on_post_self(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)args, (void)ack, (void)ud;
    post_job((job_t){.kind = JOB_POST, .socket = socket, .loop = sio_socket_loop_index(socket)});
}

/* post_to: from one socket's loop to another socket (maybe on another loop). */
typedef struct {
    int from;
} to_task_t;

static void to_task(sio_socket_t *socket, void *ud) {
    to_task_t *t = ud;
    int index = socket_loop(socket, "post_to task");
    sb_t b = {0};
    sb_printf(&b, "[{\"from\":%d,\"loop\":%d,\"in_loop\":%s,\"thread_ok\":%s}]", t->from, index,
              sio_socket_in_loop(socket) ? "true" : "false", on_loop_thread(index) ? "true" : "false");
    CHECK(sio_socket_emit(socket, "posted", b.p, b.len, NULL, 0));
    sb_free(&b);
    free(t);
}

static void on_post_to(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)ud;
    size_t len;
    const char *json = sio_args_json(args, &len);
    flat_args_t a;
    flat_args_parse(&a, json, len);
    int from = sio_socket_loop_index(socket);
    sio_socket_t *target = a.strings[0] ? registry_find(a.strings[0]) : NULL;
    int rc = SIO_EINVAL, emit_rc = SIO_EINVAL, join_rc = SIO_EINVAL, to = -100;
    bool caller_in_target_loop = false;
    if (target) {
        to = sio_socket_loop_index(target);
        caller_in_target_loop = sio_socket_in_loop(target);
        /* a [LOOP] call on a socket of another loop is refused; on this loop it works */
        join_rc = sio_socket_join(target, "post-to-room");
        char direct[64];
        int n = snprintf(direct, sizeof direct, "[{\"from\":%d}]", from);
        emit_rc = sio_socket_emit(target, "direct", direct, (size_t)n, NULL, 0); /* [ANY THREAD] */
        to_task_t *t = malloc(sizeof *t);
        if (!t) abort();
        t->from = from;
        rc = sio_socket_post(target, to_task, t);
        if (rc != SIO_OK) free(t);
    }
    sb_t b = {0};
    sb_printf(&b, "[{\"rc\":\"%s\",\"emit_rc\":\"%s\",\"from\":%d,\"to\":%d,\"caller_in_target_loop\":%s,"
                  "\"join_rc\":\"%s\"}]",
              sio_err_name(rc), sio_err_name(emit_rc), from, to, caller_in_target_loop ? "true" : "false",
              sio_err_name(join_rc));
    if (ack) CHECK(sio_ack_send(ack, b.p, b.len, NULL, 0));
    sb_free(&b);
    flat_args_free(&a);
}

static void never_task(sio_socket_t *socket, void *ud) {
    (void)socket, (void)ud;
    say("FAIL a task posted to a stale socket ran");
    atomic_fetch_add(&failures, 1);
}

static void on_post_gone(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)socket, (void)event, (void)args, (void)ud;
    pthread_mutex_lock(&registry_lock);
    sio_socket_t *gone = last_gone;
    pthread_mutex_unlock(&registry_lock);
    sb_t b = {0};
    if (!gone) {
        sb_puts(&b, "[null]");
    } else {
        sb_printf(&b, "[{\"post\":\"%s\",\"loop_index\":%d,\"in_loop\":%s,\"connected\":%s}]",
                  sio_err_name(sio_socket_post(gone, never_task, NULL)), sio_socket_loop_index(gone),
                  sio_socket_in_loop(gone) ? "true" : "false", sio_socket_connected(gone) ? "true" : "false");
    }
    if (ack) CHECK(sio_ack_send(ack, b.p, b.len, NULL, 0));
    sb_free(&b);
}

static void on_flood(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)ack, (void)ud;
    static const char *const load_room = "load";
    size_t len;
    const char *json = sio_args_json(args, &len);
    flat_args_t a;
    flat_args_parse(&a, json, len);
    for (long i = 0; i < a.numbers[0]; i++) {
        char item[32];
        int n = snprintf(item, sizeof item, "[%ld]", i);
        CHECK_UNLESS_STOPPING(sio_socket_emit(socket, "flood", item, (size_t)n, NULL, 0));
        CHECK_UNLESS_STOPPING(sio_namespace_broadcast(root_ns, &load_room, 1, NULL, 0, 0, "flood room", item, (size_t)n,
                                                      NULL, 0));
    }
    flat_args_free(&a);
}

static void on_ticker(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)ack, (void)ud;
    size_t len;
    const char *json = sio_args_json(args, &len);
    flat_args_t a;
    flat_args_parse(&a, json, len);
    post_job((job_t){.kind = JOB_TICKER, .socket = socket, .count = a.numbers[0]});
    flat_args_free(&a);
}

static void on_kick(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)args, (void)ack, (void)ud;
    post_job((job_t){.kind = JOB_KICK, .socket = socket});
}

static void on_stop(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)socket, (void)event, (void)args, (void)ack, (void)ud;
    kill(getpid(), SIGUSR1); /* the main thread waits for it with sigwait */
}

static void on_disconnecting(sio_socket_t *socket, const char *reason, void *ud) {
    (void)reason, (void)ud;
    socket_loop(socket, "disconnecting");
    char *rooms = NULL;
    CHECK(sio_socket_rooms(socket, &rooms));
    say("DISCONNECTING %s %s", sio_socket_id(socket), rooms ? rooms : "?");
    sio_free(rooms);
}

static void on_disconnect(sio_socket_t *socket, const char *reason, void *ud) {
    (void)ud;
    int index = socket_loop(socket, "disconnect");
    conn_t *c = sio_socket_get_user_data(socket);
    EXPECT(!sio_socket_connected(socket));
    if (index >= 0 && index < MAX_LOOPS) {
        atomic_fetch_add(&loop_disconnects[index], 1);
        if (strcmp(reason, "server shutting down") == 0) atomic_fetch_add(&loop_shutdowns[index], 1);
    }
    registry_remove(socket);
    say("DISCONNECT %s %s %s", c ? c->ns : "?", c ? c->id : "?", reason);
    free(c);
}

/* Room changes of "/": `ROOM <event> <room> <socket id or ->`. */
static void on_room_event(sio_namespace_t *ns, int event, const char *room, const char *socket_id, void *ud) {
    static const char *names[] = {"create-room", "delete-room", "join-room", "leave-room"};
    EXPECT(ns == root_ns && ud == &root_ns);
    EXPECT(event >= SIO_ROOM_CREATED && event <= SIO_ROOM_LEFT);
    EXPECT((socket_id == NULL) == (event == SIO_ROOM_CREATED || event == SIO_ROOM_DELETED));
    say("ROOM %s %s %s", names[event & 3], room, socket_id ? socket_id : "-");
}

static void on_connection(sio_socket_t *socket, void *ud) {
    (void)ud;
    int index = socket_loop(socket, "connection");
    EXPECT(sio_socket_connected(socket));
    EXPECT(sio_socket_get_user_data(socket) == &middleware_mark); /* left by the middleware */
    conn_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    snprintf(c->ns, sizeof c->ns, "%s", sio_socket_namespace(socket));
    snprintf(c->id, sizeof c->id, "%s", sio_socket_id(socket));
    CHECK(sio_socket_set_user_data(socket, c));
    CHECK(sio_socket_on_any(socket, on_any, NULL));
    static const struct {
        const char *event;
        sio_event_cb cb;
    } handlers[] = {{"echo", on_echo},     {"ack", on_ack},           {"ask", on_ask},   {"join", on_join},
                    {"leave", on_join},    {"to_room", on_to_room},   {"info", on_info}, {"ticker", on_ticker},
                    {"kick", on_kick},     {"ask_room", on_ask_room}, {"stop", on_stop},
                    {"sockets_join", on_operation}, {"sockets_leave", on_operation},
                    {"disconnect_sockets", on_operation}, {"fetch_sockets", on_operation},
                    {"where", on_where},   {"post_self", on_post_self}, {"post_to", on_post_to},
                    {"post_gone", on_post_gone}, {"flood", on_flood}};
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        CHECK(sio_socket_on(socket, handlers[i].event, handlers[i].cb, NULL));
    CHECK(sio_socket_on_disconnecting(socket, on_disconnecting, NULL));
    CHECK(sio_socket_on_disconnect(socket, on_disconnect, NULL));
    if (index >= 0 && index < MAX_LOOPS) atomic_fetch_add(&loop_connects[index], 1);
    registry_add(c->id, socket);
    say("CONNECT %s %s loop=%d", c->ns, c->id, index);
}

static void on_http(sio_server_t *srv, sio_http_request_t *request, const char *method, const char *path, void *ud) {
    (void)srv, (void)ud;
    EXPECT(sio_server_in_loop(srv));
    if (strcmp(method, "GET") == 0 && strcmp(path, "/health") == 0)
        CHECK(sio_http_respond(request, 200, "text/plain", "ok", 2));
    else
        CHECK(sio_http_respond(request, 404, "text/plain", "not found", 9));
}

/* The threads of this process (entries of /proc/self/task), or -1. */
static int thread_count(void) {
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(dir);
    return n;
}

static void never_server_task(sio_server_t *srv, void *ud) {
    (void)srv, (void)ud;
    say("FAIL a task posted to a stopped server ran");
    atomic_fetch_add(&failures, 1);
}

/* sio_server_stop from a thread of ours (mode "run": the main thread runs the first loop). */
static sigset_t stop_signals;
static void *signal_thread(void *unused) {
    (void)unused;
    int sig = 0;
    sigwait(&stop_signals, &sig);
    say("STOPPING %d", sig);
    atomic_store(&stopping, true);
    CHECK(sio_server_stop(server));
    CHECK(sio_server_stop(server)); /* repeated calls are fine */
    return NULL;
}

static const char *setting(int argc, char **argv, int index, const char *env) {
    if (argc > index) return argv[index];
    const char *value = getenv(env);
    return value && *value ? value : NULL;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s PORT [LOOPS [reuseport|round-robin]]\n", argv[0]);
        return 2;
    }
    const char *loops_text = setting(argc, argv, 2, "SIO_TEST_LOOPS");
    const char *balancing = setting(argc, argv, 3, "SIO_TEST_LOOP_BALANCING");
    const char *mode = getenv("SIO_TEST_STOP");
    if (!mode || !*mode) mode = "stop";
    if (strcmp(mode, "stop") != 0 && strcmp(mode, "destroy") != 0 && strcmp(mode, "run") != 0) {
        fprintf(stderr, "SIO_TEST_STOP: stop, destroy or run\n");
        return 2;
    }
    EXPECT(strcmp(sio_version(), SIO_VERSION_STRING) == 0);

    /* The server's threads inherit this mask: only the main thread takes these signals, with sigwait. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    sio_options_t *options = sio_options_new();
    EXPECT(options != NULL);
    CHECK(sio_options_set_uint(options, SIO_OPT_PING_INTERVAL, 2000));
    CHECK(sio_options_set_uint(options, SIO_OPT_PING_TIMEOUT, 2000));
    long wanted = loops_text ? strtol(loops_text, NULL, 10) : 1;
    CHECK(sio_options_set_uint(options, SIO_OPT_LOOPS, (uint64_t)wanted));
    if (balancing) CHECK(sio_options_set_string(options, SIO_OPT_LOOP_BALANCING, balancing));
    CHECK(sio_server_create(&server, options));
    sio_options_free(options);
    if (!server) return 1;
    loop_count = sio_server_loop_count(server);
    EXPECT(loop_count >= 1 && loop_count <= MAX_LOOPS && (wanted == 0 || loop_count == wanted));
    if (loop_count < 1 || loop_count > MAX_LOOPS) loop_count = 1;
    EXPECT(!sio_server_in_loop(server)); /* the setting-up thread is no loop */
    say("LOOPS %d", loop_count);

    int rc = sio_server_listen(server, "127.0.0.1", (uint16_t)atoi(argv[1]));
    if (rc != SIO_OK) {
        fprintf(stderr, "listen: %s\n", sio_strerror(rc));
        sio_server_destroy(server);
        return 3;
    }
    root_ns = sio_server_of(server, "/");
    sio_namespace_t *deferred = sio_server_of(server, "/deferred");
    EXPECT(root_ns && deferred);
    CHECK(sio_namespace_use(root_ns, middleware, NULL));
    CHECK(sio_namespace_on_connection(root_ns, on_connection, NULL));
    EXPECT(sio_namespace_on_room_event(NULL, on_room_event, NULL) == SIO_EINVAL);
    EXPECT(sio_namespace_on_room_event(root_ns, NULL, NULL) == SIO_EINVAL);
    CHECK(sio_namespace_on_room_event(root_ns, on_room_event, &root_ns));
    CHECK(sio_namespace_use(deferred, deferred_middleware, NULL));
    CHECK(sio_namespace_on_connection(deferred, on_connection, NULL));
    CHECK(sio_server_on_http_request(server, on_http, NULL));

    pthread_t worker;
    if (pthread_create(&worker, NULL, worker_main, NULL) != 0) return 1;
    int threads_before = thread_count(); /* this thread and the worker: the server's loops run none yet */

    if (strcmp(mode, "run") == 0) {
        pthread_t stopper;
        if (pthread_create(&stopper, NULL, signal_thread, NULL) != 0) return 1;
        threads_before++;
        say("LISTENING %d", sio_server_port(server));
        CHECK(sio_server_run(server)); /* the first loop on this thread, the others on theirs, until the stop */
        atomic_store(&stopped, true);
        pthread_join(stopper, NULL);
        threads_before--;
    } else {
        CHECK(sio_server_start(server));
        say("LISTENING %d", sio_server_port(server));
        int sig = 0;
        sigwait(&stop_signals, &sig);
        say("STOPPING %d", sig);
        atomic_store(&stopping, true);
        if (strcmp(mode, "stop") == 0) {
            CHECK(sio_server_stop(server));
            CHECK(sio_server_stop(server)); /* repeated calls are fine */
            CHECK(sio_server_wait(server));
            atomic_store(&stopped, true);
            EXPECT(sio_server_post(server, never_server_task, NULL) == SIO_ECLOSED);
            EXPECT(sio_namespace_emit(root_ns, "late", "[1]", 3, NULL, 0) == SIO_ECLOSED);
        }
    }

    if (strcmp(mode, "destroy") != 0) {
        /* every loop has ended: no loop thread is left, no callback runs from now on */
        EXPECT(!sio_server_in_loop(server));
        EXPECT(sio_server_loop_count(server) == loop_count);
    }
    sio_server_destroy(server);
    atomic_store(&stopped, true);
    int threads_left = thread_count();
    for (int i = 0; i < 300 && threads_left > threads_before; i++) { /* a thread takes a moment to vanish */
        sleep_ms(10);
        threads_left = thread_count();
    }

    pthread_mutex_lock(&jobs_lock);
    jobs_quit = true;
    pthread_cond_signal(&jobs_cond);
    pthread_mutex_unlock(&jobs_lock);
    pthread_join(worker, NULL);

    say("STOPPED mode=%s threads=%d/%d", mode, threads_left, threads_before);
    EXPECT(threads_left <= threads_before); /* every loop's thread has ended */
    for (int k = 0; k < loop_count; k++) {
        int connects = atomic_load(&loop_connects[k]), disconnects = atomic_load(&loop_disconnects[k]);
        say("LOOPSTAT %d connects=%d disconnects=%d shutdown=%d", k, connects, disconnects,
            atomic_load(&loop_shutdowns[k]));
        EXPECT(connects == disconnects); /* every socket of every loop was told it left */
    }
    registry_free();
    int failed = atomic_load(&failures);
    say("EXIT %d", failed);
    return failed ? 1 : 0;
}
