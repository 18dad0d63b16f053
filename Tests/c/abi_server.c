/* abi_server: a Socket.IO server written against sio.h, the peer of Tests/c/test_c_abi.py (which drives it with the
 * real python-socketio client).
 *
 *   abi_server PORT        listens on 127.0.0.1:PORT (0 picks one) and prints "LISTENING <port>"
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
 *   info (ack)              acks [{"id", "ns", "auth", "query", "header", "address", "connected", "events", "ud"}]
 *   ticker [n]              a second thread emits "tick" [i] (i < n) to this socket with sio_socket_emit, then
 *                           "tock" [n] to the namespace with sio_namespace_emit, while the loop runs
 *   kick                    a second thread disconnects this socket (sio_socket_disconnect)
 *   stop                    asks the main thread to stop the server (sio_server_stop from another thread)
 * Plain HTTP: GET /health answers 200 "ok"; other paths 404 (through sio_http_respond).
 * SIGINT / SIGTERM stop it the same way as "stop". Exit status 0 only when every API call returned what it should.
 * Lines on stdout: LISTENING, CONNECT <ns> <id>, REFUSED <ns>, DISCONNECTING <id> <rooms>, DISCONNECT <ns> <id>
 * <reason>, FAIL <what>, EXIT <failures>.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static sio_server_t *server;
static sio_namespace_t *root_ns;
static atomic_int failures;

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

/* ---- the second thread: emits, disconnects and middleware decisions, off the loop thread ---------------------- */

typedef enum { JOB_TICKER, JOB_KICK, JOB_NEXT } job_kind_t;
typedef struct job {
    job_kind_t kind;
    sio_socket_t *socket;
    sio_next_t *next;
    bool allow;
    long count;
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
                CHECK(sio_socket_emit(j->socket, "tick", args, (size_t)n, NULL, 0));
            }
            {
                char args[32];
                int n = snprintf(args, sizeof args, "[%ld]", j->count);
                CHECK(sio_namespace_emit(root_ns, "tock", args, (size_t)n, NULL, 0));
            }
            break;
        case JOB_KICK:
            CHECK(sio_socket_disconnect(j->socket, false));
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
    bool allow = token_ok(socket);
    if (!allow) say("REFUSED %s", sio_socket_namespace(socket));
    CHECK(sio_socket_set_user_data(socket, &middleware_mark));
    post_job((job_t){.kind = JOB_NEXT, .next = next, .allow = allow});
}

/* ---- event handlers -------------------------------------------------------------------------------------------- */

static void on_any(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)args, (void)ack, (void)ud;
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
    sb_printf(&b, ",\"connected\":%s,\"events\":%d,\"ud\":%s}]", sio_socket_connected(socket) ? "true" : "false",
              c ? c->events : -1, c && strcmp(c->id, sio_socket_id(socket)) == 0 ? "true" : "false");
    if (ack) CHECK(sio_ack_send(ack, b.p, b.len, NULL, 0));
    sb_free(&b);
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
    char *rooms = NULL;
    CHECK(sio_socket_rooms(socket, &rooms));
    say("DISCONNECTING %s %s", sio_socket_id(socket), rooms ? rooms : "?");
    sio_free(rooms);
}

static void on_disconnect(sio_socket_t *socket, const char *reason, void *ud) {
    (void)ud;
    conn_t *c = sio_socket_get_user_data(socket);
    EXPECT(!sio_socket_connected(socket));
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
                    {"disconnect_sockets", on_operation}, {"fetch_sockets", on_operation}};
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        CHECK(sio_socket_on(socket, handlers[i].event, handlers[i].cb, NULL));
    CHECK(sio_socket_on_disconnecting(socket, on_disconnecting, NULL));
    CHECK(sio_socket_on_disconnect(socket, on_disconnect, NULL));
    say("CONNECT %s %s", c->ns, c->id);
}

static void on_http(sio_server_t *srv, sio_http_request_t *request, const char *method, const char *path, void *ud) {
    (void)srv, (void)ud;
    if (strcmp(method, "GET") == 0 && strcmp(path, "/health") == 0)
        CHECK(sio_http_respond(request, 200, "text/plain", "ok", 2));
    else
        CHECK(sio_http_respond(request, 404, "text/plain", "not found", 9));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    EXPECT(strcmp(sio_version(), SIO_VERSION_STRING) == 0);

    /* The server's threads inherit this mask: only the main thread takes these signals, with sigwait. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    sio_options_t *options = sio_options_new();
    EXPECT(options != NULL);
    CHECK(sio_options_set_uint(options, SIO_OPT_PING_INTERVAL, 2000));
    CHECK(sio_options_set_uint(options, SIO_OPT_PING_TIMEOUT, 2000));
    CHECK(sio_server_create(&server, options));
    sio_options_free(options);
    if (!server) return 1;

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
    CHECK(sio_server_start(server));
    say("LISTENING %d", sio_server_port(server));

    int sig = 0;
    sigwait(&stop_signals, &sig);
    say("STOPPING %d", sig);
    CHECK(sio_server_stop(server));
    CHECK(sio_server_stop(server)); /* repeated calls are fine */
    CHECK(sio_server_wait(server));

    pthread_mutex_lock(&jobs_lock);
    jobs_quit = true;
    pthread_cond_signal(&jobs_cond);
    pthread_mutex_unlock(&jobs_lock);
    pthread_join(worker, NULL);

    sio_server_destroy(server);
    int failed = atomic_load(&failures);
    say("EXIT %d", failed);
    return failed ? 1 : 0;
}
