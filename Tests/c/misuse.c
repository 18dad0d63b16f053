/* misuse: the C API used wrongly must answer with error codes, never crash. Run by Tests/c/test_c_abi.py.
 *
 *   misuse           offline checks and server life cycles, then a server on 127.0.0.1 (free port, printed as
 *                    "LISTENING <port>") run on this thread with sio_server_run, for the driver's clients:
 *
 *   1. GET /misuse                   sio_http_respond misuse inside the HTTP callback; answers 200 "first".
 *   2. a "witness" client (auth {"role": "witness"}) connects and emits "hold" with an ack (kept for later).
 *   3. a "victim" client (auth {"role": "victim"}) emits "keep" (ack kept unsent), then "misuse": invalid JSON,
 *      placeholder mismatches, reserved names, API calls from inside the callback; then the server disconnects it
 *      from inside that callback, and a posted task checks every socket call on the stale handle.
 *   4. a helper thread checks the [LOOP] calls from off the loop thread (SIO_ETHREAD), then the loop answers the
 *      witness's "hold" ack with ["held"] and emits "checks done" [failures] to it.
 *   4b. the helper also posts a task to the witness with sio_socket_post (it runs on the loop thread, where
 *      sio_socket_in_loop is true), and checks the loop functions on the stale victim (SIO_ECLOSED / false).
 *   5. the witness emits "finish": the event callback stops the server twice and destroys it from inside the
 *      callback; sio_server_run returns. The program prints "MISUSE failures=N" and exits 0 when N is 0.
 * Each failed expectation prints one "FAIL <line>: <call> -> <got> (expected <want>)" line.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static atomic_int failures;
static atomic_int checks;

static void fail(int line, const char *what, long got, long want) {
    say("FAIL %d: %s -> %ld (expected %ld)", line, what, got, want);
    atomic_fetch_add(&failures, 1);
}

/* An int result compared with an expected code. */
#define EQ(call, want)                                                                                              \
    do {                                                                                                            \
        long got_ = (long)(call);                                                                                   \
        atomic_fetch_add(&checks, 1);                                                                               \
        if (got_ != (long)(want)) fail(__LINE__, #call, got_, (long)(want));                                        \
    } while (0)
#define TRUE(cond) EQ(!!(cond), 1)
/* A pointer result that must be NULL. */
#define ISNULL(call) EQ((call) == NULL, 1)

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A one-shot flag with a condition variable. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool set;
} flag_t;
#define FLAG_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false}
static void flag_set(flag_t *f) {
    pthread_mutex_lock(&f->lock);
    f->set = true;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}
static void flag_wait(flag_t *f) {
    pthread_mutex_lock(&f->lock);
    while (!f->set) pthread_cond_wait(&f->cond, &f->lock);
    f->set = false;
    pthread_mutex_unlock(&f->lock);
}

/* Callbacks that must never run (registered only in calls that are expected to fail). */
static void never_event(sio_socket_t *s, const char *e, const sio_args_t *a, sio_ack_t *k, void *u) {
    (void)s, (void)e, (void)a, (void)k, (void)u;
    fail(__LINE__, "never_event ran", 1, 0);
}
static void never_disconnect(sio_socket_t *s, const char *r, void *u) {
    (void)s, (void)r, (void)u;
    fail(__LINE__, "never_disconnect ran", 1, 0);
}
static void never_connection(sio_socket_t *s, void *u) {
    (void)s, (void)u;
    fail(__LINE__, "never_connection ran", 1, 0);
}
static void never_middleware(sio_socket_t *s, sio_next_t *n, void *u) {
    (void)s, (void)n, (void)u;
    fail(__LINE__, "never_middleware ran", 1, 0);
}
static void never_ack(sio_socket_t *s, int st, const sio_args_t *r, void *u) {
    (void)s, (void)st, (void)r, (void)u;
    fail(__LINE__, "never_ack ran", 1, 0);
}
static void never_broadcast_ack(int st, const sio_args_t *const *r, size_t n, void *u) {
    (void)st, (void)r, (void)n, (void)u;
    fail(__LINE__, "never_broadcast_ack ran", 1, 0);
}

static void never_fetch(int status, const char *json, size_t len, void *ud) {
    (void)status, (void)json, (void)len, (void)ud;
    fail(__LINE__, "never_fetch ran", 1, 0);
}

static void never_server_side(sio_namespace_t *ns, const char *event, const sio_args_t *args, sio_server_ack_t *ack,
                              void *ud) {
    (void)ns, (void)event, (void)args, (void)ack, (void)ud;
    fail(__LINE__, "never_server_side ran", 1, 0);
}

static void never_server_side_ack(int status, const char *replies, size_t len, void *ud) {
    (void)status, (void)replies, (void)len, (void)ud;
    fail(__LINE__, "never_server_side_ack ran", 1, 0);
}

static void never_room_event(sio_namespace_t *ns, int event, const char *room, const char *sid, void *ud) {
    (void)ns, (void)event, (void)room, (void)sid, (void)ud;
}

static void never_connection_error(sio_server_t *server, sio_http_request_t *request, int code, const char *message,
                                   const char *context, void *ud) {
    (void)server, (void)request, (void)code, (void)message, (void)context, (void)ud;
}
static void never_task(sio_server_t *s, void *u) {
    (void)s, (void)u;
    fail(__LINE__, "never_task ran", 1, 0);
}
static void never_http(sio_server_t *s, sio_http_request_t *r, const char *m, const char *p, void *u) {
    (void)s, (void)r, (void)m, (void)p, (void)u;
    fail(__LINE__, "never_http ran", 1, 0);
}
static void never_socket_task(sio_socket_t *s, void *u) {
    (void)s, (void)u;
    fail(__LINE__, "never_socket_task ran", 1, 0);
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

/* Handles that were never handed out (far above anything the table gives). */
#define FORGED_SOCKET ((sio_socket_t *)(uintptr_t)0x7fff0000dead0ULL)
#define FORGED_ACK ((sio_ack_t *)(uintptr_t)0x7fff0000dead8ULL)
#define FORGED_NEXT ((sio_next_t *)(uintptr_t)0x7fff0000deadcULL)

/* ---- logging ---------------------------------------------------------------------------------------------------- */

static atomic_int log_lines;
static void log_cb(int level, const char *component, const char *message, void *user_data) {
    TRUE(user_data == (void *)&log_lines);
    TRUE(level >= SIO_LOG_ERROR && level <= SIO_LOG_DEBUG && component != NULL && message != NULL);
    atomic_fetch_add(&log_lines, 1);
    fprintf(stderr, "[log %d %s] %s\n", level, component, message);
}

/* ---- 1. without a server -------------------------------------------------------------------------------------- */

static void check_versions_and_errors(void) {
    TRUE(strcmp(sio_version(), SIO_VERSION_STRING) == 0);
    EQ(sio_version_number(), SIO_VERSION_NUMBER);
    EQ(SIO_VERSION_NUMBER, SIO_VERSION_MAJOR * 10000 + SIO_VERSION_MINOR * 100 + SIO_VERSION_PATCH);

    static const struct {
        int code;
        const char *name, *text;
    } table[] = {
#define XX(name, code, text) {code, "SIO_" #name, text},
        SIO_ERRNO_MAP(XX)
#undef XX
    };
    size_t n = sizeof table / sizeof table[0];
    EQ(n, 10);
    for (size_t i = 0; i < n; i++) {
        const char *text = sio_strerror(table[i].code), *name = sio_err_name(table[i].code);
        if (!text || strcmp(text, table[i].text) != 0) fail(__LINE__, table[i].name, table[i].code, 0);
        if (!name || strcmp(name, table[i].name) != 0) fail(__LINE__, table[i].name, table[i].code, 0);
        atomic_fetch_add(&checks, 2);
    }
    const int unknown[] = {1, -10, -100, 42, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *text = sio_strerror(unknown[i]), *name = sio_err_name(unknown[i]);
        TRUE(text != NULL && strcmp(text, "unknown error") == 0);
        TRUE(name != NULL && strncmp(name, "SIO_", 4) == 0);
        for (size_t k = 0; k < n && name; k++) TRUE(strcmp(name, table[k].name) != 0);
    }
}

static void check_options(void) {
    EQ(sio_options_set_uint(NULL, SIO_OPT_PING_INTERVAL, 1000), SIO_EINVAL);
    EQ(sio_options_set_bool(NULL, SIO_OPT_ALLOW_UPGRADES, true), SIO_EINVAL);
    EQ(sio_options_set_string(NULL, SIO_OPT_PATH, "/x/"), SIO_EINVAL);
    sio_options_free(NULL);

    sio_options_t *o = sio_options_new();
    TRUE(o != NULL);
    /* unknown keys */
    EQ(sio_options_set_uint(o, (sio_option_t)0, 1), SIO_EINVAL);
    EQ(sio_options_set_uint(o, (sio_option_t)999, 1), SIO_EINVAL);
    EQ(sio_options_set_bool(o, (sio_option_t)-1, true), SIO_EINVAL);
    EQ(sio_options_set_string(o, (sio_option_t)999, "x"), SIO_EINVAL);
    /* keys of another type */
    EQ(sio_options_set_uint(o, SIO_OPT_PATH, 1), SIO_EINVAL);
    EQ(sio_options_set_uint(o, SIO_OPT_ALLOW_UPGRADES, 1), SIO_EINVAL);
    EQ(sio_options_set_bool(o, SIO_OPT_PING_INTERVAL, true), SIO_EINVAL);
    EQ(sio_options_set_bool(o, SIO_OPT_TRANSPORTS, true), SIO_EINVAL);
    EQ(sio_options_set_string(o, SIO_OPT_ALLOW_UPGRADES, "true"), SIO_EINVAL);
    EQ(sio_options_set_string(o, SIO_OPT_PING_TIMEOUT, "5"), SIO_EINVAL);
    EQ(sio_options_set_uint(o, SIO_OPT_ALLOW_EIO3, 1), SIO_EINVAL);
    EQ(sio_options_set_bool(o, SIO_OPT_ALLOW_EIO3, true), SIO_OK);
    EQ(sio_options_set_bool(o, SIO_OPT_ALLOW_EIO3, false), SIO_OK);
    /* values out of range / invalid */
    EQ(sio_options_set_string(o, SIO_OPT_PATH, NULL), SIO_EINVAL);
    EQ(sio_options_set_uint(o, SIO_OPT_PING_INTERVAL, UINT64_MAX), SIO_EINVAL);
    EQ(sio_options_set_uint(o, SIO_OPT_MAX_HTTP_BUFFER_SIZE, UINT64_MAX), SIO_EINVAL);
    EQ(sio_options_set_string(o, SIO_OPT_TRANSPORTS, "carrier-pigeon"), SIO_EINVAL);
    EQ(sio_options_set_string(o, SIO_OPT_TRANSPORTS, ""), SIO_EINVAL);
    /* every key with its own setter */
    EQ(sio_options_set_string(o, SIO_OPT_PATH, "/socket.io/"), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_PING_INTERVAL, 25000), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_PING_TIMEOUT, 20000), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_UPGRADE_TIMEOUT, 10000), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_MAX_HTTP_BUFFER_SIZE, 1000000), SIO_OK);
    EQ(sio_options_set_string(o, SIO_OPT_TRANSPORTS, "polling,websocket"), SIO_OK);
    EQ(sio_options_set_bool(o, SIO_OPT_ALLOW_UPGRADES, true), SIO_OK);
    EQ(sio_options_set_string(o, SIO_OPT_CORS_ORIGIN, "*"), SIO_OK);
    EQ(sio_options_set_bool(o, SIO_OPT_CORS_CREDENTIALS, false), SIO_OK);
    EQ(sio_options_set_string(o, SIO_OPT_COOKIE, "io"), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_HTTP_COMPRESSION_THRESHOLD, 1024), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_CONNECT_TIMEOUT, 45000), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_MAX_ATTACHMENTS, 10), SIO_OK);
    EQ(sio_options_set_bool(o, SIO_OPT_RECOVERY, false), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_RECOVERY_MAX_DISCONNECTION, 120000), SIO_OK);
    EQ(sio_options_set_bool(o, SIO_OPT_RECOVERY_SKIP_MIDDLEWARES, true), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_MAX_BUFFERED_BYTES, 16u << 20), SIO_OK);
    /* loops (since 0.3.0): 0 (one per core) to 64 */
    EQ(sio_options_set_uint(o, SIO_OPT_LOOPS, 65), SIO_EINVAL);
    EQ(sio_options_set_uint(o, SIO_OPT_LOOPS, UINT64_MAX), SIO_EINVAL);
    EQ(sio_options_set_bool(o, SIO_OPT_LOOPS, true), SIO_EINVAL);
    EQ(sio_options_set_string(o, SIO_OPT_LOOPS, "2"), SIO_EINVAL);
    EQ(sio_options_set_uint(o, SIO_OPT_LOOPS, 0), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_LOOPS, 64), SIO_OK);
    EQ(sio_options_set_uint(o, SIO_OPT_LOOPS, 1), SIO_OK);
    EQ(sio_options_set_string(o, SIO_OPT_LOOP_BALANCING, "round-robin"), SIO_OK);
    EQ(sio_options_set_string(o, SIO_OPT_LOOP_BALANCING, "reuseport"), SIO_OK);
    EQ(sio_options_set_string(o, SIO_OPT_LOOP_BALANCING, "random"), SIO_EINVAL);
    EQ(sio_options_set_string(o, SIO_OPT_LOOP_BALANCING, ""), SIO_EINVAL);
    EQ(sio_options_set_string(o, SIO_OPT_LOOP_BALANCING, NULL), SIO_EINVAL);
    EQ(sio_options_set_uint(o, SIO_OPT_LOOP_BALANCING, 1), SIO_EINVAL);
    EQ(sio_options_set_bool(o, SIO_OPT_LOOP_BALANCING, true), SIO_EINVAL);
    sio_server_t *s = NULL;
    EQ(sio_server_create(&s, o), SIO_OK);
    sio_options_free(o); /* the server copied them */
    TRUE(s != NULL);
    EQ(sio_server_loop_count(s), 1);
    sio_server_destroy(s);
}

static void check_null_handles(void) {
    size_t len = 99;
    char *json = (char *)"x";
    sio_buffer_t buf = {(const uint8_t *)"ab", 2};

    sio_free(NULL);
    sio_server_destroy(NULL);
    EQ(sio_server_create(NULL, NULL), SIO_EINVAL);
    EQ(sio_server_listen(NULL, "127.0.0.1", 0), SIO_EINVAL);
    EQ(sio_server_listen_fd(NULL, 3), SIO_EINVAL);
    TRUE(sio_server_port(NULL) < 0);
    EQ(sio_server_run(NULL), SIO_EINVAL);
    EQ(sio_server_start(NULL), SIO_EINVAL);
    EQ(sio_server_stop(NULL), SIO_EINVAL);
    EQ(sio_server_wait(NULL), SIO_EINVAL);
    EQ(sio_server_post(NULL, never_task, NULL), SIO_EINVAL);
    EQ(sio_server_on_http_request(NULL, never_http, NULL), SIO_EINVAL);
    EQ(sio_http_respond(NULL, 200, "text/plain", "x", 1), SIO_EINVAL);
    ISNULL(sio_server_of(NULL, "/"));

    len = 99;
    ISNULL(sio_args_json(NULL, &len));
    EQ(len, 0);
    ISNULL(sio_args_json(NULL, NULL));
    EQ(sio_args_binary_count(NULL), 0);
    len = 99;
    ISNULL(sio_args_binary(NULL, 0, &len));
    EQ(len, 0);

    ISNULL(sio_namespace_name(NULL));
    EQ(sio_namespace_on_connection(NULL, never_connection, NULL), SIO_EINVAL);
    EQ(sio_namespace_use(NULL, never_middleware, NULL), SIO_EINVAL);
    EQ(sio_next(NULL, NULL, NULL), SIO_EINVAL);
    EQ(sio_next(NULL, "no", "{}"), SIO_EINVAL);
    EQ(sio_next(FORGED_NEXT, NULL, NULL), SIO_EINVAL);
    const char *room = "r";
    EQ(sio_namespace_broadcast(NULL, &room, 1, NULL, 0, 0, "e", "[1]", 3, NULL, 0), SIO_EINVAL);
    EQ(sio_namespace_emit(NULL, "e", "[1]", 3, NULL, 0), SIO_EINVAL);
    EQ(sio_namespace_broadcast_with_ack(NULL, NULL, 0, NULL, 0, 0, "e", "[1]", 3, NULL, 0, 100, never_broadcast_ack,
                                        NULL),
       SIO_EINVAL);
    EQ(sio_namespace_sockets_join(NULL, &room, 1, NULL, 0, 0, &room, 1), SIO_EINVAL);
    EQ(sio_namespace_sockets_leave(NULL, &room, 1, NULL, 0, 0, &room, 1), SIO_EINVAL);
    EQ(sio_namespace_disconnect_sockets(NULL, NULL, 0, NULL, 0, 0, false), SIO_EINVAL);
    EQ(sio_namespace_fetch_sockets(NULL, NULL, 0, NULL, 0, 0, never_fetch, NULL), SIO_EINVAL);
    EQ(sio_namespace_on_room_event(NULL, never_room_event, NULL), SIO_EINVAL);
    EQ(sio_server_on_connection_error(NULL, never_connection_error, NULL), SIO_EINVAL);
    TRUE(sio_server_loop_count(NULL) < 0);
    EQ(sio_server_in_loop(NULL), false);

    sio_socket_t *const sockets[] = {NULL, FORGED_SOCKET};
    for (size_t i = 0; i < 2; i++) {
        sio_socket_t *s = sockets[i];
        /* NULL: SIO_EINVAL or SIO_ECLOSED are both errors; the header does not say which. */
#define ERR(call)                                                                                                   \
    do {                                                                                                            \
        int rc_ = (call);                                                                                           \
        atomic_fetch_add(&checks, 1);                                                                               \
        if (rc_ != SIO_EINVAL && rc_ != SIO_ECLOSED) fail(__LINE__, #call, rc_, SIO_ECLOSED);                       \
    } while (0)
        ISNULL(sio_socket_id(s));
        ISNULL(sio_socket_namespace(s));
        ISNULL(sio_socket_get_namespace(s));
        EQ(sio_socket_connected(s), false);
        len = 99;
        ISNULL(sio_socket_auth(s, &len));
        EQ(len, 0);
        ISNULL(sio_socket_auth(s, NULL));
        ISNULL(sio_socket_query(s, "x"));
        ISNULL(sio_socket_header(s, "host"));
        ISNULL(sio_socket_address(s));
        ISNULL(sio_socket_transport(s));
        json = (char *)"x";
        ERR(sio_socket_rooms(s, &json));
        ISNULL(json);
        EQ(sio_socket_rooms(s, NULL), SIO_EINVAL);
        ERR(sio_socket_set_user_data(s, &len));
        ISNULL(sio_socket_get_user_data(s));
        ERR(sio_socket_on(s, "e", never_event, NULL));
        ERR(sio_socket_on_any(s, never_event, NULL));
        ERR(sio_socket_on_disconnect(s, never_disconnect, NULL));
        ERR(sio_socket_on_disconnecting(s, never_disconnect, NULL));
        ERR(sio_socket_emit(s, "e", "[1]", 3, NULL, 0));
        ERR(sio_socket_emit(s, "e", "[{\"_placeholder\":true,\"num\":0}]", 31, &buf, 1));
        ERR(sio_socket_emit_with_ack(s, "e", "[1]", 3, NULL, 0, 100, never_ack, NULL));
        ERR(sio_socket_join(s, "r"));
        ERR(sio_socket_leave(s, "r"));
        ERR(sio_socket_disconnect(s, false));
        ERR(sio_socket_disconnect(s, true));
        ERR(sio_socket_loop_index(s));
        EQ(sio_socket_in_loop(s), false);
        ERR(sio_socket_post(s, never_socket_task, NULL));
        ERR(sio_socket_post(s, NULL, NULL));
    }
    EQ(sio_ack_send(NULL, "[1]", 3, NULL, 0), SIO_EINVAL);
    EQ(sio_ack_send(FORGED_ACK, "[1]", 3, NULL, 0), SIO_EINVAL);
    /* Everything NULL at once. */
    EQ(sio_socket_on(NULL, NULL, NULL, NULL), SIO_EINVAL);
    EQ(sio_socket_emit(NULL, NULL, NULL, 0, NULL, 0), SIO_EINVAL);
    EQ(sio_socket_emit_with_ack(NULL, NULL, NULL, 0, NULL, 0, 0, NULL, NULL), SIO_EINVAL);
    EQ(sio_namespace_broadcast(NULL, NULL, 0, NULL, 0, 0, NULL, NULL, 0, NULL, 0), SIO_EINVAL);
}

/* ---- 2. server life cycles without clients ------------------------------------------------------------------- */

typedef struct {
    flag_t done;
    sio_server_t *expected;
    pthread_t thread;
    int wait_rc;
} task_probe_t;

static void probe_task(sio_server_t *server, void *ud) {
    task_probe_t *p = ud;
    TRUE(server == p->expected);
    p->thread = pthread_self();
    p->wait_rc = sio_server_wait(server); /* on the loop thread: SIO_ETHREAD */
    EQ(sio_server_run(server), SIO_ESTATE);
    EQ(sio_server_start(server), SIO_ESTATE);
    flag_set(&p->done);
}

static void stop_task(sio_server_t *server, void *ud) {
    (void)ud;
    EQ(sio_server_stop(server), SIO_OK);
    EQ(sio_server_stop(server), SIO_OK);
}

static void destroy_task(sio_server_t *server, void *ud) {
    EQ(sio_server_stop(server), SIO_OK);
    sio_server_destroy(server); /* from inside a callback: freed once the loop has ended */
    flag_set(ud);
}

typedef struct {
    sio_server_t *server;
    int rc;
} runner_t;
static void *runner(void *ud) {
    runner_t *r = ud;
    r->rc = sio_server_run(r->server);
    return NULL;
}

static void check_life_cycles(void) {
    sio_server_t *s = NULL;

    /* created and destroyed without listening or running */
    EQ(sio_server_create(&s, NULL), SIO_OK);
    TRUE(sio_server_port(s) < 0); /* not listening yet */
    sio_server_destroy(s);

    /* listening, never run */
    EQ(sio_server_create(&s, NULL), SIO_OK);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_OK);
    TRUE(sio_server_port(s) > 0);
    EQ(sio_server_listen(s, NULL, 0), SIO_EINVAL);
    EQ(sio_server_listen_fd(s, -1), SIO_EINVAL);
    int before = atomic_load(&log_lines);
    EQ(sio_server_listen(s, "not an address", 0), SIO_ELISTEN);
    EQ(sio_server_listen(s, "127.0.0.1", (uint16_t)sio_server_port(s)), SIO_ELISTEN); /* in use */
    TRUE(atomic_load(&log_lines) > before); /* the reasons went to the log callback */
    ISNULL(sio_server_of(s, NULL));
    ISNULL(sio_server_of(s, "/a,b"));
    sio_namespace_t *ns = sio_server_of(s, "chat");
    TRUE(ns != NULL && strcmp(sio_namespace_name(ns), "/chat") == 0);
    TRUE(sio_server_of(s, "/chat") == ns);
    EQ(sio_namespace_on_connection(ns, NULL, NULL), SIO_EINVAL);
    EQ(sio_namespace_use(ns, NULL, NULL), SIO_EINVAL);
    EQ(sio_server_post(s, NULL, NULL), SIO_EINVAL);
    sio_server_destroy(s);

    /* started on its own thread: post, stop twice, wait, then everything refuses */
    EQ(sio_server_create(&s, NULL), SIO_OK);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_OK);
    ns = sio_server_of(s, "/");
    EQ(sio_server_start(s), SIO_OK);
    EQ(sio_server_start(s), SIO_ESTATE);
    EQ(sio_server_run(s), SIO_ESTATE);
    task_probe_t probe = {.done = FLAG_INIT, .expected = s};
    EQ(sio_server_post(s, probe_task, &probe), SIO_OK);
    flag_wait(&probe.done);
    TRUE(!pthread_equal(probe.thread, pthread_self()));
    EQ(probe.wait_rc, SIO_ETHREAD);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_ETHREAD); /* [LOOP] from another thread while running */
    ISNULL(sio_server_of(s, "/other"));
    EQ(sio_namespace_emit(ns, "e", "[1]", 3, NULL, 0), SIO_OK); /* [ANY THREAD] */
    EQ(sio_server_stop(s), SIO_OK);
    EQ(sio_server_stop(s), SIO_OK);
    EQ(sio_server_wait(s), SIO_OK);
    EQ(sio_server_wait(s), SIO_OK);
    EQ(sio_server_stop(s), SIO_OK);
    EQ(sio_server_post(s, never_task, NULL), SIO_ECLOSED);
    EQ(sio_server_start(s), SIO_ESTATE);
    EQ(sio_server_run(s), SIO_ESTATE);
    EQ(sio_namespace_emit(ns, "e", "[1]", 3, NULL, 0), SIO_ECLOSED);
    TRUE(sio_server_port(s) > 0 || sio_server_port(s) < 0); /* answers, whatever it says */
    sio_server_destroy(s);

    /* started, destroyed while running (destroy stops and waits) */
    EQ(sio_server_create(&s, NULL), SIO_OK);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_OK);
    EQ(sio_server_start(s), SIO_OK);
    sio_server_destroy(s);

    /* run on a thread of ours, destroyed from here while it runs */
    runner_t r = {.rc = 12345};
    EQ(sio_server_create(&r.server, NULL), SIO_OK);
    pthread_t t;
    pthread_create(&t, NULL, runner, &r);
    probe = (task_probe_t){.done = FLAG_INIT, .expected = r.server};
    EQ(sio_server_post(r.server, probe_task, &probe), SIO_OK); /* queued before or while it runs */
    flag_wait(&probe.done);
    TRUE(pthread_equal(probe.thread, t));
    sio_server_destroy(r.server);
    pthread_join(t, NULL);
    EQ(r.rc, SIO_OK);

    /* run on this thread, stopped by a posted task; run again refuses */
    EQ(sio_server_create(&s, NULL), SIO_OK);
    EQ(sio_server_post(s, stop_task, NULL), SIO_OK);
    EQ(sio_server_run(s), SIO_OK);
    EQ(sio_server_run(s), SIO_ESTATE);
    EQ(sio_server_stop(s), SIO_OK);
    sio_server_destroy(s);

    /* started on its own thread, destroyed from inside a posted task */
    EQ(sio_server_create(&s, NULL), SIO_OK);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_OK);
    EQ(sio_server_start(s), SIO_OK);
    flag_t destroyed = FLAG_INIT;
    EQ(sio_server_post(s, destroy_task, &destroyed), SIO_OK);
    flag_wait(&destroyed);
    sleep_ms(300); /* let the loop end and free it (valgrind checks that it does) */
}

/* A GET on 127.0.0.1:port with `extra` header lines; the status code of the answer, or -1. The head of the answer
 * goes to `head` (NUL-terminated) when not NULL. */
static int http_get(int port, const char *path, const char *extra, char *head, size_t head_size) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char request[512], response[2048];
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", path,
                     extra ? extra : "");
    size_t got = 0;
    if (write(fd, request, (size_t)n) == n) {
        ssize_t r;
        while (got < sizeof response - 1 && (r = read(fd, response + got, sizeof response - 1 - got)) > 0)
            got += (size_t)r;
    }
    close(fd);
    response[got] = '\0';
    char *end = strstr(response, "\r\n\r\n");
    if (end) *end = '\0';
    if (head) snprintf(head, head_size, "%s", response);
    int status = -1;
    if (sscanf(response, "HTTP/1.1 %d", &status) != 1) status = -1;
    return status;
}

static int http_status(int port, const char *path) { return http_get(port, path, NULL, NULL, 0); }

/* Options that change what a request sees. */
static void check_options_in_effect(void) {
    char head[2048];
    /* CORS: with SIO_OPT_CORS_ORIGIN unset CORS stays off, even with SIO_OPT_CORS_CREDENTIALS set */
    sio_options_t *o = sio_options_new();
    EQ(sio_options_set_bool(o, SIO_OPT_CORS_CREDENTIALS, true), SIO_OK);
    sio_server_t *s = NULL;
    EQ(sio_server_create(&s, o), SIO_OK);
    sio_options_free(o);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_OK);
    EQ(sio_server_start(s), SIO_OK);
    EQ(http_get(sio_server_port(s), "/socket.io/?EIO=4&transport=polling", "Origin: https://elsewhere.example\r\n",
                head, sizeof head),
       200);
    if (strstr(head, "Access-Control-Allow-Origin")) fail(__LINE__, "CORS headers with CORS_ORIGIN unset", 1, 0);
    atomic_fetch_add(&checks, 1);
    sio_server_destroy(s);

    /* SIO_OPT_PATH moves the Socket.IO path */
    o = sio_options_new();
    EQ(sio_options_set_string(o, SIO_OPT_PATH, "/custom/"), SIO_OK);
    EQ(sio_server_create(&s, o), SIO_OK);
    sio_options_free(o);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_OK);
    EQ(sio_server_start(s), SIO_OK);
    EQ(http_status(sio_server_port(s), "/custom/?EIO=4&transport=polling"), 200);
    EQ(http_status(sio_server_port(s), "/socket.io/?EIO=4&transport=polling"), 404);
    sio_server_destroy(s);
}

static void check_listen_fd(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    TRUE(fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(fd, 16) == 0 &&
         getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
    sio_server_t *s = NULL;
    EQ(sio_server_create(&s, NULL), SIO_OK);
    EQ(sio_server_listen_fd(s, fd), SIO_OK);
    EQ(sio_server_port(s), ntohs(addr.sin_port));
    EQ(sio_server_start(s), SIO_OK);
    EQ(http_status(ntohs(addr.sin_port), "/no-handler"), 404); /* no HTTP handler: 404 */
    EQ(http_status(ntohs(addr.sin_port), "/socket.io/?EIO=4&transport=polling"), 200);
    sio_server_destroy(s);
}

/* ---- 2b. several loops (SIO_OPT_LOOPS) without clients -------------------------------------------------------- */

typedef struct {
    flag_t done;
    bool in_loop;
    int count;
    pthread_t thread;
} loop_probe_t;

static void loop_probe_task(sio_server_t *server, void *ud) {
    loop_probe_t *p = ud;
    p->in_loop = sio_server_in_loop(server);
    p->count = sio_server_loop_count(server);
    p->thread = pthread_self();
    EQ(sio_server_wait(server), SIO_ETHREAD);
    flag_set(&p->done);
}

static sio_options_t *loop_options(uint64_t loops, const char *balancing) {
    sio_options_t *o = sio_options_new();
    EQ(sio_options_set_uint(o, SIO_OPT_LOOPS, loops), SIO_OK);
    if (balancing) EQ(sio_options_set_string(o, SIO_OPT_LOOP_BALANCING, balancing), SIO_OK);
    return o;
}

/* Each life cycle of check_life_cycles with several loops: every loop starts, answers, stops and ends with the
 * server (at the end no thread of theirs is left). */
static void check_loops(void) {
    int threads_before = thread_count();
    TRUE(threads_before >= 1);
    sio_server_t *s = NULL;

    /* created with 3 (a refused value does not change it), never started */
    sio_options_t *o = loop_options(3, NULL);
    EQ(sio_options_set_uint(o, SIO_OPT_LOOPS, 65), SIO_EINVAL);
    EQ(sio_server_create(&s, o), SIO_OK);
    EQ(sio_server_loop_count(s), 3);
    EQ(sio_server_in_loop(s), false);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_OK);
    TRUE(sio_server_port(s) > 0);
    sio_server_destroy(s);

    /* started: sio_server_post runs on the first loop, sio_server_in_loop is true there and false here */
    EQ(sio_server_create(&s, o), SIO_OK);
    sio_options_free(o);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_OK);
    EQ(sio_server_start(s), SIO_OK);
    EQ(sio_server_start(s), SIO_ESTATE);
    loop_probe_t probe = {.done = FLAG_INIT};
    EQ(sio_server_post(s, loop_probe_task, &probe), SIO_OK);
    flag_wait(&probe.done);
    TRUE(probe.in_loop);
    EQ(probe.count, 3);
    TRUE(!pthread_equal(probe.thread, pthread_self()));
    EQ(sio_server_in_loop(s), false);
    for (int i = 0; i < 8; i++) /* new connections, on whichever loop the kernel picks */
        EQ(http_status(sio_server_port(s), "/socket.io/?EIO=4&transport=polling"), 200);
    EQ(sio_server_stop(s), SIO_OK);
    EQ(sio_server_wait(s), SIO_OK);
    EQ(sio_server_in_loop(s), false);
    EQ(sio_server_loop_count(s), 3);
    EQ(sio_server_post(s, never_task, NULL), SIO_ECLOSED);
    EQ(sio_server_start(s), SIO_ESTATE);
    sio_server_destroy(s);

    /* 2 loops, round-robin: destroyed while running (it stops and waits for every loop) */
    o = loop_options(2, "round-robin");
    EQ(sio_server_create(&s, o), SIO_OK);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_OK);
    EQ(sio_server_start(s), SIO_OK);
    for (int i = 0; i < 4; i++) EQ(http_status(sio_server_port(s), "/socket.io/?EIO=4&transport=polling"), 200);
    sio_server_destroy(s);

    /* 2 loops, the first run on a thread of ours, destroyed from here while it runs */
    runner_t r = {.rc = 12345};
    EQ(sio_server_create(&r.server, o), SIO_OK);
    EQ(sio_server_listen(r.server, "127.0.0.1", 0), SIO_OK);
    pthread_t t;
    pthread_create(&t, NULL, runner, &r);
    probe = (loop_probe_t){.done = FLAG_INIT};
    EQ(sio_server_post(r.server, loop_probe_task, &probe), SIO_OK);
    flag_wait(&probe.done);
    TRUE(pthread_equal(probe.thread, t)); /* the first loop is the one sio_server_run runs */
    TRUE(probe.in_loop);
    EQ(http_status(sio_server_port(r.server), "/socket.io/?EIO=4&transport=polling"), 200);
    sio_server_destroy(r.server);
    pthread_join(t, NULL);
    EQ(r.rc, SIO_OK);

    /* 2 loops, destroyed from inside a posted task */
    EQ(sio_server_create(&s, o), SIO_OK);
    sio_options_free(o);
    EQ(sio_server_listen(s, "127.0.0.1", 0), SIO_OK);
    EQ(sio_server_start(s), SIO_OK);
    flag_t destroyed = FLAG_INIT;
    EQ(sio_server_post(s, destroy_task, &destroyed), SIO_OK);
    flag_wait(&destroyed);

    /* 2 loops on an inherited descriptor (always round-robin) */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    TRUE(fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(fd, 16) == 0 &&
         getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
    o = loop_options(2, "reuseport");
    EQ(sio_server_create(&s, o), SIO_OK);
    sio_options_free(o);
    EQ(sio_server_listen_fd(s, fd), SIO_OK);
    EQ(sio_server_start(s), SIO_OK);
    for (int i = 0; i < 4; i++) EQ(http_status(ntohs(addr.sin_port), "/socket.io/?EIO=4&transport=polling"), 200);
    sio_server_destroy(s);

    /* 0: one loop per core */
    o = loop_options(0, NULL);
    EQ(sio_server_create(&s, o), SIO_OK);
    sio_options_free(o);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    EQ(sio_server_loop_count(s), cores < 1 ? 1 : cores > 64 ? 64 : cores);
    sio_server_destroy(s);

    /* every loop thread has ended (one destroyed from its own task ends a moment later) */
    int threads_left = thread_count();
    for (int i = 0; i < 300 && threads_left > threads_before; i++) {
        sleep_ms(10);
        threads_left = thread_count();
    }
    if (threads_left > threads_before) fail(__LINE__, "threads left after the multi-loop servers", threads_left,
                                            threads_before);
    atomic_fetch_add(&checks, 1);
}

/* ---- 3. a server with clients ---------------------------------------------------------------------------------- */

static sio_server_t *server;
static sio_namespace_t *root;
static pthread_t loop_thread;
static sio_socket_t *witness, *victim;
static sio_ack_t *held_ack, *kept_ack, *misuse_ack;
static atomic_int closed_acks, witness_gone, victim_gone, socket_tasks;
static flag_t helper_go = FLAG_INIT;
static bool helper_quit;

static const char *const bad_json[] = {
    "[1,", "{}", "1", "\"a\"", "[1]]", "[\"a\"", "[1] x", "[01]", "[\"\\x\"]", "[\xff\xfe]", "[tru]", "[1,]", "[,1]", "[\"\xff\"]",
};

static void check_bad_arguments(sio_socket_t *s) {
    const char *room = "room-a";
    sio_buffer_t one = {(const uint8_t *)"\x01\x02", 2};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        const char *j = bad_json[i];
        size_t n = strlen(j);
        int before = atomic_load(&failures);
        EQ(sio_socket_emit(s, "e", j, n, NULL, 0), SIO_EJSON);
        EQ(sio_socket_emit_with_ack(s, "e", j, n, NULL, 0, 100, never_ack, NULL), SIO_EJSON);
        EQ(sio_namespace_emit(root, "e", j, n, NULL, 0), SIO_EJSON);
        EQ(sio_namespace_broadcast(root, &room, 1, NULL, 0, 0, "e", j, n, NULL, 0), SIO_EJSON);
        EQ(sio_namespace_broadcast_with_ack(root, NULL, 0, NULL, 0, 0, "e", j, n, NULL, 0, 100, never_broadcast_ack,
                                            NULL),
           SIO_EJSON);
        if (atomic_load(&failures) != before) say("FAIL ^ with args_json '%s'", j);
    }
    /* placeholders that do not match the attachments */
    static const struct {
        const char *json;
        size_t n_bins;
    } mismatch[] = {
        {"[{\"_placeholder\":true,\"num\":0}]", 0}, /* placeholder without attachment */
        {"[1]", 1},                                  /* attachment without placeholder */
        {"[{\"_placeholder\":true,\"num\":1}]", 1}, /* num out of range */
        {"[{\"_placeholder\":true,\"num\":-1}]", 1},
        {"[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":2}]", 2},
        {"", 1}, /* no arguments but an attachment */
    };
    sio_buffer_t two[2] = {one, one};
    for (size_t i = 0; i < sizeof mismatch / sizeof mismatch[0]; i++) {
        const char *j = mismatch[i].json;
        size_t n = strlen(j), b = mismatch[i].n_bins;
        int before = atomic_load(&failures);
        EQ(sio_socket_emit(s, "e", j, n, two, b), SIO_EJSON);
        EQ(sio_namespace_emit(root, "e", j, n, two, b), SIO_EJSON);
        EQ(sio_socket_emit_with_ack(s, "e", j, n, two, b, 100, never_ack, NULL), SIO_EJSON);
        if (atomic_load(&failures) != before) say("FAIL ^ with args_json '%s' and %zu attachment(s)", j, b);
    }
    /* attachments array NULL with a count */
    int rc = sio_socket_emit(s, "e", "[{\"_placeholder\":true,\"num\":0}]", 31, NULL, 1);
    atomic_fetch_add(&checks, 1);
    if (rc != SIO_EJSON && rc != SIO_EINVAL) fail(__LINE__, "emit with binaries NULL, n 1", rc, SIO_EJSON);
    /* the same with matching placeholders works */
    EQ(sio_socket_emit(s, "bin", "[{\"_placeholder\":true,\"num\":0}]", 31, &one, 1), SIO_OK);
    EQ(sio_socket_emit(s, "e", NULL, 0, NULL, 0), SIO_OK); /* no arguments */
    EQ(sio_socket_emit(s, "e", "", 0, NULL, 0), SIO_OK);
    EQ(sio_socket_emit(s, "e", "[]", 2, NULL, 0), SIO_OK);
    EQ(sio_socket_emit(s, "e", "[1,2] ", 5, NULL, 0), SIO_OK); /* args_len excludes the trailing space */

    /* event names: reserved ones, empty, NULL */
    static const char *const reserved[] = {"connect",       "connect_error",  "disconnect",
                                           "disconnecting", "newListener",    "removeListener"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        EQ(sio_socket_emit(s, reserved[i], "[1]", 3, NULL, 0), SIO_EINVAL);
        EQ(sio_namespace_emit(root, reserved[i], "[1]", 3, NULL, 0), SIO_EINVAL);
        EQ(sio_socket_emit_with_ack(s, reserved[i], "[1]", 3, NULL, 0, 100, never_ack, NULL), SIO_EINVAL);
    }
    EQ(sio_socket_emit(s, "", "[1]", 3, NULL, 0), SIO_EINVAL);
    EQ(sio_socket_emit(s, NULL, "[1]", 3, NULL, 0), SIO_EINVAL);
    EQ(sio_socket_emit(s, "\xff\xfe", "[1]", 3, NULL, 0), SIO_EINVAL); /* not UTF-8 */
    EQ(sio_socket_emit_with_ack(s, "e", "[1]", 3, NULL, 0, 100, NULL, NULL), SIO_EINVAL);

    /* broadcast flags and room lists */
    EQ(sio_namespace_broadcast(root, &room, 1, NULL, 0, 0x100, "e", "[1]", 3, NULL, 0), SIO_EINVAL);
    EQ(sio_namespace_broadcast(root, NULL, 1, NULL, 0, 0, "e", "[1]", 3, NULL, 0), SIO_EINVAL);
    EQ(sio_namespace_broadcast(root, NULL, 0, NULL, 1, 0, "e", "[1]", 3, NULL, 0), SIO_EINVAL);
    const char *with_null[2] = {"room-a", NULL};
    EQ(sio_namespace_broadcast(root, with_null, 2, NULL, 0, 0, "e", "[1]", 3, NULL, 0), SIO_EINVAL);
    EQ(sio_namespace_broadcast_with_ack(root, with_null, 2, NULL, 0, 0, "e", "[1]", 3, NULL, 0, 100,
                                        never_broadcast_ack, NULL),
       SIO_EINVAL);
    EQ(sio_namespace_broadcast_with_ack(root, NULL, 0, NULL, 0, 0, "e", "[1]", 3, NULL, 0, 100, NULL, NULL),
       SIO_EINVAL);
    EQ(sio_namespace_broadcast(root, &room, 1, &room, 1,
                               SIO_BROADCAST_VOLATILE | SIO_BROADCAST_LOCAL | SIO_BROADCAST_NO_COMPRESS, "e", "[1]",
                               3, NULL, 0),
       SIO_OK);

    /* operations on selections: only SIO_BROADCAST_LOCAL, no NULL names, a callback for fetch */
    EQ(sio_namespace_sockets_join(root, &room, 1, NULL, 0, SIO_BROADCAST_VOLATILE, &room, 1), SIO_EINVAL);
    EQ(sio_namespace_sockets_join(root, &room, 1, NULL, 0, 0, with_null, 2), SIO_EINVAL);
    EQ(sio_namespace_sockets_join(root, &room, 1, NULL, 0, 0, NULL, 1), SIO_EINVAL);
    EQ(sio_namespace_sockets_leave(root, with_null, 2, NULL, 0, 0, &room, 1), SIO_EINVAL);
    EQ(sio_namespace_disconnect_sockets(root, NULL, 0, with_null, 2, 0, false), SIO_EINVAL);
    EQ(sio_namespace_disconnect_sockets(root, NULL, 0, NULL, 0, SIO_BROADCAST_NO_COMPRESS, false), SIO_EINVAL);
    EQ(sio_namespace_fetch_sockets(root, NULL, 0, NULL, 0, 0, NULL, NULL), SIO_EINVAL);
    EQ(sio_namespace_fetch_sockets(root, NULL, 0, NULL, 0, 0x100, never_fetch, NULL), SIO_EINVAL);
    const char *nobody = "ops-nobody"; /* a room no socket is in: valid calls that change nothing */
    EQ(sio_namespace_sockets_join(root, &nobody, 1, NULL, 0, SIO_BROADCAST_LOCAL, &nobody, 1), SIO_OK);
    EQ(sio_namespace_sockets_leave(root, &nobody, 1, NULL, 0, 0, &nobody, 1), SIO_OK);
    EQ(sio_namespace_on_room_event(root, NULL, NULL), SIO_EINVAL);
    /* server-side events need the Redis adapter; bad names and JSON first */
    EQ(sio_namespace_server_side_emit(root, "hello", "[1]", 3), SIO_ESTATE);
    EQ(sio_namespace_server_side_emit(root, "", "[1]", 3), SIO_EINVAL);
    EQ(sio_namespace_server_side_emit(root, "connect", "[1]", 3), SIO_EINVAL);
    EQ(sio_namespace_server_side_emit(root, "hello", "[1", 2), SIO_EJSON);
    EQ(sio_namespace_on_server_side_emit(root, "hello", never_server_side, NULL), SIO_ESTATE);
    EQ(sio_namespace_on_server_side_emit(root, "hello", NULL, NULL), SIO_EINVAL);
    EQ(sio_namespace_on_server_side_emit(NULL, "hello", never_server_side, NULL), SIO_EINVAL);
    EQ(sio_namespace_server_side_emit(NULL, "hello", "[1]", 3), SIO_EINVAL);
    EQ(sio_namespace_server_side_emit_with_ack(root, "hello", "[1]", 3, 100, never_server_side_ack, NULL), SIO_ESTATE);
    EQ(sio_namespace_server_side_emit_with_ack(root, "hello", "[1]", 3, 0, never_server_side_ack, NULL), SIO_EINVAL);
    EQ(sio_namespace_server_side_emit_with_ack(root, "hello", "[1]", 3, 100, NULL, NULL), SIO_EINVAL);
    EQ(sio_namespace_server_side_emit_with_ack(root, "hello", "[1", 2, 100, never_server_side_ack, NULL), SIO_EJSON);
    EQ(sio_server_ack_send(NULL, "1", 1), SIO_EINVAL);
    EQ(sio_server_ack_send((sio_server_ack_t *)(uintptr_t)0x7fff0000deae0ULL, "1", 1), SIO_EINVAL); /* forged */

    /* registration with NULLs */
    EQ(sio_socket_on(s, NULL, never_event, NULL), SIO_EINVAL);
    EQ(sio_socket_on(s, "e", NULL, NULL), SIO_EINVAL);
    EQ(sio_socket_on_any(s, NULL, NULL), SIO_EINVAL);
    EQ(sio_socket_on_disconnect(s, NULL, NULL), SIO_EINVAL);
    EQ(sio_socket_on_disconnecting(s, NULL, NULL), SIO_EINVAL);
    EQ(sio_socket_join(s, NULL), SIO_EINVAL);
    EQ(sio_socket_leave(s, NULL), SIO_EINVAL);
    ISNULL(sio_socket_query(s, NULL));
    ISNULL(sio_socket_header(s, NULL));
}

static void victim_closed_ack(sio_socket_t *s, int status, const sio_args_t *reply, void *ud) {
    (void)ud;
    TRUE(s == victim);
    EQ(status, SIO_ECLOSED);
    ISNULL(reply);
    atomic_fetch_add(&closed_acks, 1);
}

static void stale_checks(sio_server_t *srv, void *ud);

static void on_keep(sio_socket_t *s, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)s, (void)event, (void)ud;
    size_t len = 0;
    const char *json = sio_args_json(args, &len);
    TRUE(json != NULL && len == 2 && memcmp(json, "[]", 2) == 0); /* no arguments: "[]", never NULL */
    EQ(sio_args_binary_count(args), 0);
    TRUE(ack != NULL);
    kept_ack = ack; /* never sent: released when the socket goes */
}

static void on_misuse(sio_socket_t *s, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)args, (void)ud;
    TRUE(pthread_equal(pthread_self(), loop_thread));
    TRUE(s == victim);
    check_bad_arguments(s);

    /* calling back into the API from inside an event callback */
    EQ(sio_socket_join(s, "room-b"), SIO_OK);
    EQ(sio_socket_join(s, "room-b"), SIO_OK); /* twice is fine */
    char *rooms = NULL;
    EQ(sio_socket_rooms(s, &rooms), SIO_OK);
    TRUE(rooms && strstr(rooms, "\"room-a\"") && strstr(rooms, "\"room-b\"") && strstr(rooms, sio_socket_id(s)));
    sio_free(rooms);
    EQ(sio_socket_leave(s, "room-b"), SIO_OK);
    EQ(sio_socket_leave(s, "never-joined"), SIO_OK);
    EQ(sio_socket_emit(s, "inside", "[\"callback\"]", 12, NULL, 0), SIO_OK);
    const char *room = "room-a";
    EQ(sio_namespace_broadcast(root, &room, 1, NULL, 0, 0, "room", "[1]", 3, NULL, 0), SIO_OK);
    EQ(sio_server_run(server), SIO_ESTATE);
    EQ(sio_server_start(server), SIO_ESTATE);
    EQ(sio_server_wait(server), SIO_ETHREAD);

    /* the ack: invalid JSON consumes it, a second send finds nothing */
    TRUE(ack != NULL);
    misuse_ack = ack;
    EQ(sio_ack_send(ack, "[1,", 3, NULL, 0), SIO_EJSON);
    EQ(sio_ack_send(ack, "[1]", 3, NULL, 0), SIO_EINVAL);

    /* an ack request still open when the socket goes: its callback gets SIO_ECLOSED */
    EQ(sio_socket_emit_with_ack(s, "never-answered", "[]", 2, NULL, 0, 0, victim_closed_ack, NULL), SIO_OK);

    /* disconnect from inside the callback: after it, the handle refuses */
    EQ(sio_socket_disconnect(s, false), SIO_OK);
    EQ(sio_socket_connected(s), false);
    EQ(sio_socket_emit(s, "e", "[1]", 3, NULL, 0), SIO_ECLOSED);
    EQ(sio_socket_emit_with_ack(s, "e", "[1]", 3, NULL, 0, 100, never_ack, NULL), SIO_ECLOSED);
    EQ(sio_socket_join(s, "late"), SIO_ECLOSED);
    EQ(sio_socket_disconnect(s, false), SIO_ECLOSED);
    EQ(sio_server_post(server, stale_checks, NULL), SIO_OK);
}

/* Posted after the victim's disconnect: every call on its stale handle. */
static void stale_checks(sio_server_t *srv, void *ud) {
    (void)ud;
    TRUE(srv == server);
    TRUE(pthread_equal(pthread_self(), loop_thread));
    EQ(atomic_load(&victim_gone), 1);
    EQ(atomic_load(&closed_acks), 1);
    sio_socket_t *s = victim;
    size_t len = 99;
    char *json = (char *)"x";
    sio_buffer_t buf = {(const uint8_t *)"ab", 2};
    ISNULL(sio_socket_id(s));
    ISNULL(sio_socket_namespace(s));
    ISNULL(sio_socket_get_namespace(s));
    EQ(sio_socket_connected(s), false);
    ISNULL(sio_socket_auth(s, &len));
    EQ(len, 0);
    ISNULL(sio_socket_query(s, "x"));
    ISNULL(sio_socket_header(s, "host"));
    ISNULL(sio_socket_address(s));
    ISNULL(sio_socket_transport(s));
    EQ(sio_socket_rooms(s, &json), SIO_ECLOSED);
    ISNULL(json);
    EQ(sio_socket_set_user_data(s, &len), SIO_ECLOSED);
    ISNULL(sio_socket_get_user_data(s));
    EQ(sio_socket_on(s, "e", never_event, NULL), SIO_ECLOSED);
    EQ(sio_socket_on_any(s, never_event, NULL), SIO_ECLOSED);
    EQ(sio_socket_on_disconnect(s, never_disconnect, NULL), SIO_ECLOSED);
    EQ(sio_socket_on_disconnecting(s, never_disconnect, NULL), SIO_ECLOSED);
    EQ(sio_socket_emit(s, "e", "[1]", 3, NULL, 0), SIO_ECLOSED);
    EQ(sio_socket_emit(s, "e", "[{\"_placeholder\":true,\"num\":0}]", 31, &buf, 1), SIO_ECLOSED);
    EQ(sio_socket_emit_with_ack(s, "e", "[1]", 3, NULL, 0, 100, never_ack, NULL), SIO_ECLOSED);
    EQ(sio_socket_join(s, "r"), SIO_ECLOSED);
    EQ(sio_socket_leave(s, "r"), SIO_ECLOSED);
    EQ(sio_socket_disconnect(s, false), SIO_ECLOSED);
    EQ(sio_socket_disconnect(s, true), SIO_ECLOSED);
    EQ(sio_socket_loop_index(s), SIO_ECLOSED);
    EQ(sio_socket_in_loop(s), false);
    EQ(sio_socket_post(s, never_socket_task, NULL), SIO_ECLOSED);
    /* acks of the gone socket: released with it */
    EQ(sio_ack_send(kept_ack, "[1]", 3, NULL, 0), SIO_EINVAL);
    EQ(sio_ack_send(misuse_ack, "[1]", 3, NULL, 0), SIO_EINVAL);
    /* the namespace and the other socket are unaffected */
    EQ(sio_socket_emit(witness, "still here", "[]", 2, NULL, 0), SIO_OK);
    TRUE(sio_socket_connected(witness));
    flag_set(&helper_go);
}

/* Posted to the witness by the helper thread with sio_socket_post. */
static void witness_task(sio_socket_t *s, void *ud) {
    TRUE(ud == (void *)&socket_tasks);
    TRUE(s == witness);
    TRUE(pthread_equal(pthread_self(), loop_thread));
    TRUE(sio_socket_in_loop(s));
    TRUE(sio_server_in_loop(server));
    EQ(sio_socket_loop_index(s), 0);
    EQ(sio_socket_join(s, "posted"), SIO_OK); /* [LOOP] functions work here */
    EQ(sio_socket_leave(s, "posted"), SIO_OK);
    atomic_fetch_add(&socket_tasks, 1);
}

static void report_task(sio_server_t *srv, void *ud) {
    (void)srv, (void)ud;
    TRUE(pthread_equal(pthread_self(), loop_thread));
    EQ(atomic_load(&socket_tasks), 1); /* posted to the same loop before this task */
    EQ(sio_ack_send(held_ack, "[\"held\"]", 8, NULL, 0), SIO_OK);
    EQ(sio_ack_send(held_ack, "[\"held\"]", 8, NULL, 0), SIO_EINVAL); /* consumed */
    char args[32];
    int n = snprintf(args, sizeof args, "[%d]", atomic_load(&failures));
    EQ(sio_socket_emit(witness, "checks done", args, (size_t)n, NULL, 0), SIO_OK);
}

/* The helper thread: [LOOP] calls from off the loop thread while the server runs. */
static void *helper_main(void *unused) {
    (void)unused;
    flag_wait(&helper_go);
    if (helper_quit) return NULL;
    TRUE(!pthread_equal(pthread_self(), loop_thread));
    sio_socket_t *w = witness;
    char *json = NULL;
    const char *room = "room-a";
    EQ(sio_server_listen(server, "127.0.0.1", 0), SIO_ETHREAD);
    EQ(sio_server_listen_fd(server, 0), SIO_ETHREAD);
    ISNULL(sio_server_of(server, "/"));
    EQ(sio_namespace_on_connection(root, never_connection, NULL), SIO_ETHREAD);
    EQ(sio_namespace_use(root, never_middleware, NULL), SIO_ETHREAD);
    EQ(sio_server_on_http_request(server, never_http, NULL), SIO_ETHREAD);
    EQ(sio_namespace_broadcast_with_ack(root, NULL, 0, NULL, 0, 0, "e", "[1]", 3, NULL, 0, 100, never_broadcast_ack,
                                        NULL),
       SIO_ETHREAD);
    EQ(sio_socket_emit_with_ack(w, "e", "[1]", 3, NULL, 0, 100, never_ack, NULL), SIO_ETHREAD);
    EQ(sio_ack_send(held_ack, "[\"too early\"]", 13, NULL, 0), SIO_ETHREAD);
    /* [LOOP] socket calls: the header promises SIO_ETHREAD (or NULL for pointer results) */
    EQ(sio_socket_join(w, "r"), SIO_ETHREAD);
    EQ(sio_socket_leave(w, "r"), SIO_ETHREAD);
    EQ(sio_socket_rooms(w, &json), SIO_ETHREAD);
    EQ(sio_socket_on(w, "e", never_event, NULL), SIO_ETHREAD);
    EQ(sio_socket_on_any(w, never_event, NULL), SIO_ETHREAD);
    EQ(sio_socket_on_disconnect(w, never_disconnect, NULL), SIO_ETHREAD);
    EQ(sio_socket_on_disconnecting(w, never_disconnect, NULL), SIO_ETHREAD);
    EQ(sio_socket_set_user_data(w, NULL), SIO_ETHREAD);
    ISNULL(sio_socket_id(w));
    /* [ANY THREAD] calls are queued */
    EQ(sio_socket_emit(w, "from helper", "[1]", 3, NULL, 0), SIO_OK);
    EQ(sio_namespace_emit(root, "from helper", "[2]", 3, NULL, 0), SIO_OK);
    EQ(sio_namespace_broadcast(root, &room, 1, NULL, 0, 0, "from helper", "[3]", 3, NULL, 0), SIO_OK);
    EQ(sio_namespace_emit(root, "e", "[1,", 3, NULL, 0), SIO_EJSON); /* validated before queueing */
    int rc = sio_socket_emit(victim, "e", "[1]", 3, NULL, 0);       /* stale: ECLOSED now or silently later */
    atomic_fetch_add(&checks, 1);
    if (rc != SIO_OK && rc != SIO_ECLOSED) fail(__LINE__, "emit on stale socket from a thread", rc, SIO_ECLOSED);
    /* the loop functions (since 0.3.0) from off the loop */
    EQ(sio_server_in_loop(server), false);
    EQ(sio_server_loop_count(server), 1);
    EQ(sio_socket_in_loop(w), false);
    EQ(sio_socket_loop_index(w), 0);
    EQ(sio_socket_post(w, NULL, NULL), SIO_EINVAL);
    EQ(sio_socket_post(victim, never_socket_task, NULL), SIO_ECLOSED); /* stale */
    EQ(sio_socket_loop_index(victim), SIO_ECLOSED);
    EQ(sio_socket_in_loop(victim), false);
    EQ(sio_socket_post(w, witness_task, (void *)&socket_tasks), SIO_OK);
    EQ(sio_server_post(server, report_task, NULL), SIO_OK);
    return NULL;
}

/* Connection and middleware */

static int next_checks_done;
static void middleware(sio_socket_t *s, sio_next_t *next, void *ud) {
    (void)s, (void)ud;
    if (!next_checks_done++) {
        EQ(sio_next(next, NULL, "{\"a\":1}"), SIO_EINVAL); /* data without a message */
        EQ(sio_next(next, "no", "{bad json"), SIO_EJSON);
        EQ(sio_next(next, "\xff\xfe", NULL), SIO_EINVAL); /* message not UTF-8 */
    }
    EQ(sio_next(next, NULL, NULL), SIO_OK); /* the failed calls above did not consume it */
    EQ(sio_next(next, NULL, NULL), SIO_EINVAL);
    EQ(sio_next(next, "late", NULL), SIO_EINVAL);
}

static void on_hold(sio_socket_t *s, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)s, (void)event, (void)args, (void)ud;
    TRUE(ack != NULL);
    held_ack = ack;
}

static void on_finish(sio_socket_t *s, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)args, (void)ack, (void)ud;
    EQ(sio_server_stop(server), SIO_OK);
    EQ(sio_socket_post(s, never_socket_task, NULL), SIO_ECLOSED); /* the server is stopping */
    EQ(sio_server_post(server, never_task, NULL), SIO_ECLOSED);
    EQ(sio_server_stop(server), SIO_OK);
    sio_server_destroy(server); /* inside an event callback: freed when the loop has ended */
}

static void on_witness_disconnect(sio_socket_t *s, const char *reason, void *ud) {
    (void)s, (void)ud;
    TRUE(strcmp(reason, "server shutting down") == 0);
    atomic_fetch_add(&witness_gone, 1);
}

static void on_victim_disconnect(sio_socket_t *s, const char *reason, void *ud) {
    (void)ud;
    TRUE(s == victim);
    TRUE(strcmp(reason, "server namespace disconnect") == 0);
    TRUE(sio_socket_id(s) != NULL); /* strings live until this callback returns */
    EQ(sio_socket_connected(s), false);
    atomic_fetch_add(&victim_gone, 1);
}

static void on_connection(sio_socket_t *s, void *ud) {
    (void)ud;
    loop_thread = pthread_self();
    TRUE(sio_socket_in_loop(s));
    TRUE(sio_server_in_loop(server));
    EQ(sio_socket_loop_index(s), 0);
    EQ(sio_server_loop_count(server), 1);
    size_t len = 0;
    const char *auth = sio_socket_auth(s, &len);
    TRUE(auth != NULL && len == strlen(auth));
    if (auth && strstr(auth, "witness")) {
        witness = s;
        EQ(sio_socket_on(s, "hold", on_hold, NULL), SIO_OK);
        EQ(sio_socket_on(s, "finish", on_finish, NULL), SIO_OK);
        EQ(sio_socket_on_disconnect(s, on_witness_disconnect, NULL), SIO_OK);
    } else {
        victim = s;
        EQ(sio_socket_on(s, "keep", on_keep, NULL), SIO_OK);
        EQ(sio_socket_on(s, "misuse", on_misuse, NULL), SIO_OK);
        EQ(sio_socket_on_disconnect(s, on_victim_disconnect, NULL), SIO_OK);
    }
    /* calling back into the API from inside the connection callback */
    EQ(sio_socket_emit(s, "welcome", "[1]", 3, NULL, 0), SIO_OK);
    EQ(sio_socket_join(s, "room-a"), SIO_OK);
    EQ(sio_server_run(server), SIO_ESTATE);
    EQ(sio_server_wait(server), SIO_ETHREAD);
}

static void on_http(sio_server_t *srv, sio_http_request_t *req, const char *method, const char *path, void *ud) {
    (void)method, (void)ud;
    TRUE(srv == server);
    if (strcmp(path, "/misuse") == 0) {
        EQ(sio_http_respond(req, 99, "text/plain", "x", 1), SIO_EINVAL);
        EQ(sio_http_respond(req, 600, "text/plain", "x", 1), SIO_EINVAL);
        EQ(sio_http_respond(req, 200, "text/plain\r\nX-Injected: 1", "x", 1), SIO_EINVAL);
        EQ(sio_http_respond(req, 200, "text/plain", NULL, 5), SIO_EINVAL);
        EQ(sio_http_respond(req, 200, "text/plain", "first", 5), SIO_OK);
        EQ(sio_http_respond(req, 200, "text/plain", "second", 6), SIO_ESTATE);
    }
    /* other paths: no answer at all (the library must still answer the client) */
}

int main(void) {
    alarm(120); /* a hang is a failure, not a stuck test run */
    sio_set_log_callback(log_cb, (void *)&log_lines);

    check_versions_and_errors();
    check_options();
    check_null_handles();
    check_life_cycles();
    check_listen_fd();
    check_loops();
    check_options_in_effect();
    say("OFFLINE failures=%d checks=%d", atomic_load(&failures), atomic_load(&checks));

    EQ(sio_server_create(&server, NULL), SIO_OK);
    if (!server) return 1;
    EQ(sio_server_listen(server, "127.0.0.1", 0), SIO_OK);
    root = sio_server_of(server, "/");
    TRUE(root != NULL);
    EQ(sio_namespace_use(root, middleware, NULL), SIO_OK);
    EQ(sio_namespace_on_connection(root, on_connection, NULL), SIO_OK);
    EQ(sio_server_on_http_request(server, on_http, NULL), SIO_OK);
    pthread_t helper;
    pthread_create(&helper, NULL, helper_main, NULL);
    say("LISTENING %d", sio_server_port(server));
    EQ(sio_server_run(server), SIO_OK); /* returns after on_finish destroyed it */
    /* `server` is gone: not touched again */
    helper_quit = true;
    flag_set(&helper_go); /* in case the clients never came */
    pthread_join(helper, NULL);
    EQ(atomic_load(&witness_gone), 1);

    sio_set_log_callback(NULL, NULL);
    int failed = atomic_load(&failures);
    say("MISUSE failures=%d checks=%d", failed, atomic_load(&checks));
    return failed ? 1 : 0;
}
