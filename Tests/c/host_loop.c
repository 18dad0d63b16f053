/* A host program that owns and runs its libuv loop and serves, on it, its own timers and TCP beside a Socket.IO
 * server made with sio_server_create_on_loop (Tests/c/test_host_loop.py drives it).
 *
 *   host_loop SIO_PORT TCP_PORT MODE [PING_MS]
 *     MODE inside: the TCP "quit" destroys the server in the TCP callback; thread: a thread of the host's destroys
 *     it while the loop keeps running. PING_MS (300) is the ping interval and timeout: short, the library's timers
 *     must run on the host loop for the clients to stay; long, the library's loop has no turn while the host idles.
 *
 * The host's own parts:
 *   - a ticker (uv_timer_t, every 20 ms, 25 times, then it stops; started by the TCP "tick"): each tick is
 *     counted and broadcast as "tick" [n] to every Socket.IO client, a call into the API from a host timer;
 *   - a line protocol on TCP_PORT (uv_tcp_t): "say TEXT" broadcasts "said" [TEXT] and answers "ok TEXT";
 *     "ask" asks the first connected socket "question" with an acknowledgement (2 s timeout) and answers
 *     "answer STATUS JSON" from the ack callback; "ticks" answers "ticks N"; "quit" shuts everything down (MODE).
 * The Socket.IO part: "echo" acknowledges its arguments; "later" acknowledges ["later"] from a host timer made in
 * the event callback (200 ms later: sio_ack_send outside the library's own turn); "ticks" acknowledges [N].
 *
 * Every callback, the host's and the library's, checks it runs on the main thread (the loop's); a FAIL line says
 * otherwise. At the end: "LOOP CLOSED rc" (uv_loop_close, 0 when nothing of the library is left), "THREADS n" (the
 * process's threads, from /proc/self/task, after the host's own thread ended), "DATA ok" (loop->data untouched),
 * and exit 0 unless a FAIL line was printed. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio.h>
#include <uv.h>

#include "util.h"

static uv_loop_t loop;
static pthread_t main_thread;
static atomic_int failures;
static sio_server_t *server;
static const char *mode = "inside";
static int data_marker;

static uv_timer_t ticker;
static int ticks;
static uv_tcp_t listener;
static uv_tcp_t *peer;        /* the one TCP client of the line protocol */
static char line[4096];
static size_t line_len;
static uv_async_t destroyed;  /* MODE thread: the host's thread says the server is gone */
static pthread_t destroyer;
static bool destroyer_started;

#define MAX_SOCKETS 64
static sio_socket_t *sockets[MAX_SOCKETS];

static void fail(const char *what) {
    atomic_fetch_add(&failures, 1);
    say("FAIL %s", what);
}

static void on_main(const char *where) {
    if (!pthread_equal(pthread_self(), main_thread)) fail(where);
}

/* ---- the host's TCP line protocol ---------------------------------------------------------------------------- */

static void written(uv_write_t *req, int status) {
    (void)status;
    free(req->data);
    free(req);
}

static void answer(const char *fmt, const char *text) {
    if (!peer) return;
    sb_t b = {0};
    sb_printf(&b, fmt, text);
    sb_puts(&b, "\n");
    uv_write_t *req = malloc(sizeof *req);
    if (!req) abort();
    req->data = b.p;
    uv_buf_t buf = uv_buf_init(b.p, (unsigned)b.len);
    if (uv_write(req, (uv_stream_t *)peer, &buf, 1, written) != 0) written(req, 0);
}

static void on_question_answered(sio_socket_t *socket, int status, const sio_args_t *reply, void *ud) {
    (void)socket;
    (void)ud;
    on_main("ack callback");
    size_t len = 0;
    const char *json = reply ? sio_args_json(reply, &len) : NULL;
    sb_t b = {0};
    sb_printf(&b, "%s %.*s", sio_err_name(status), (int)len, json ? json : "null");
    answer("answer %s", b.p);
    free(b.p);
}

static void closed_and_free(uv_handle_t *handle) { free(handle); }

static void shut_down(void);
static void on_tick(uv_timer_t *timer);

static void command(const char *text) {
    on_main("tcp read callback");
    if (strncmp(text, "say ", 4) == 0) {
        sb_t args = {0};
        sb_puts(&args, "[");
        sb_json_string(&args, text + 4);
        sb_puts(&args, "]");
        int rc = sio_namespace_emit(sio_server_of(server, "/"), "said", args.p, args.len, NULL, 0);
        free(args.p);
        if (rc != SIO_OK) fail("sio_namespace_emit from a TCP callback");
        answer("ok %s", text + 4);
    } else if (strcmp(text, "ask") == 0) {
        sio_socket_t *first = NULL;
        for (int i = 0; i < MAX_SOCKETS && !first; i++) first = sockets[i];
        if (!first) {
            answer("answer %s", "none");
            return;
        }
        if (sio_socket_emit_with_ack(first, "question", "[\"q\"]", 5, NULL, 0, 2000, on_question_answered, NULL)
            != SIO_OK)
            fail("sio_socket_emit_with_ack from a TCP callback");
    } else if (strcmp(text, "tick") == 0) {
        ticks = 0;
        uv_timer_start(&ticker, on_tick, 20, 20);
        answer("%s", "ticking");
    } else if (strcmp(text, "ticks") == 0) {
        char n[32];
        snprintf(n, sizeof n, "%d", ticks);
        answer("ticks %s", n);
    } else if (strcmp(text, "quit") == 0) {
        shut_down();
    } else {
        answer("unknown %s", text);
    }
}

static void alloc_line(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)handle;
    (void)suggested;
    static char chunk[1024];
    *buf = uv_buf_init(chunk, sizeof chunk);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    if (nread < 0) {
        if (peer == (uv_tcp_t *)stream) peer = NULL;
        uv_close((uv_handle_t *)stream, closed_and_free);
        return;
    }
    for (ssize_t i = 0; i < nread; i++) {
        char c = buf->base[i];
        if (c == '\n') {
            line[line_len] = '\0';
            line_len = 0;
            command(line);
        } else if (line_len + 1 < sizeof line) {
            line[line_len++] = c;
        }
    }
}

static void on_tcp_connection(uv_stream_t *server_stream, int status) {
    on_main("tcp connection callback");
    if (status != 0) return;
    uv_tcp_t *client = malloc(sizeof *client);
    if (!client) abort();
    uv_tcp_init(&loop, client);
    if (uv_accept(server_stream, (uv_stream_t *)client) != 0 || peer) {
        uv_close((uv_handle_t *)client, closed_and_free);
        return;
    }
    peer = client;
    uv_read_start((uv_stream_t *)client, alloc_line, on_read);
}

/* ---- the host's ticker ----------------------------------------------------------------------------------------- */

static void on_tick(uv_timer_t *timer) {
    on_main("host timer callback");
    ticks++;
    char args[32];
    int n = snprintf(args, sizeof args, "[%d]", ticks);
    if (sio_namespace_emit(sio_server_of(server, "/"), "tick", args, (size_t)n, NULL, 0) != SIO_OK)
        fail("sio_namespace_emit from a host timer");
    if (ticks == 25) uv_timer_stop(timer);
}

/* ---- the Socket.IO part ---------------------------------------------------------------------------------------- */

static void ack_later(uv_timer_t *timer) {
    on_main("deferred ack timer");
    sio_ack_t *ack = timer->data;
    if (sio_ack_send(ack, "[\"later\"]", 9, NULL, 0) != SIO_OK) fail("sio_ack_send from a host timer");
    uv_close((uv_handle_t *)timer, closed_and_free);
}

static void on_event(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)socket;
    (void)ud;
    on_main("event callback");
    if (!sio_server_in_loop(server)) fail("sio_server_in_loop in an event callback");
    if (!ack) return;
    if (strcmp(event, "echo") == 0) {
        size_t len;
        const char *json = sio_args_json(args, &len);
        sio_ack_send(ack, json, len, NULL, 0);
    } else if (strcmp(event, "later") == 0) {
        uv_timer_t *timer = malloc(sizeof *timer);
        if (!timer) abort();
        uv_timer_init(&loop, timer);
        timer->data = ack;
        uv_timer_start(timer, ack_later, 200, 0);
    } else if (strcmp(event, "ticks") == 0) {
        char reply[32];
        int n = snprintf(reply, sizeof reply, "[%d]", ticks);
        sio_ack_send(ack, reply, (size_t)n, NULL, 0);
    }
}

static void on_disconnect(sio_socket_t *socket, const char *reason, void *ud) {
    (void)ud;
    on_main("disconnect callback");
    for (int i = 0; i < MAX_SOCKETS; i++)
        if (sockets[i] == socket) sockets[i] = NULL;
    say("DISCONNECT %s %s", sio_socket_id(socket), reason);
}

static void on_connection(sio_socket_t *socket, void *ud) {
    (void)ud;
    on_main("connection callback");
    for (int i = 0; i < MAX_SOCKETS; i++) {
        if (!sockets[i]) {
            sockets[i] = socket;
            break;
        }
    }
    sio_socket_on_any(socket, on_event, NULL);
    sio_socket_on_disconnect(socket, on_disconnect, NULL);
    say("CONNECT %s", sio_socket_id(socket));
}

static void on_log(int level, const char *component, const char *message, void *ud) {
    (void)ud;
    if (level <= SIO_LOG_WARN) say("LOG %s %s", component, message);
}

/* ---- shutting down --------------------------------------------------------------------------------------------- */

static void close_host_handles(void) {
    uv_timer_stop(&ticker);
    uv_close((uv_handle_t *)&ticker, NULL);
    uv_close((uv_handle_t *)&listener, NULL);
    if (peer) {
        uv_close((uv_handle_t *)peer, closed_and_free);
        peer = NULL;
    }
}

static void *destroy_from_a_thread(void *arg) {
    (void)arg;
    sio_server_destroy(server);  /* off the loop thread: stops, waits while the loop thread finishes the stop */
    server = NULL;
    uv_async_send(&destroyed);
    return NULL;
}

static void on_destroyed(uv_async_t *async) {
    on_main("async callback");
    say("SHUTDOWN thread");
    uv_close((uv_handle_t *)async, NULL);
    close_host_handles();
}

static void shut_down(void) {
    answer("bye %s", mode);
    if (strcmp(mode, "thread") == 0) {
        if (pthread_create(&destroyer, NULL, destroy_from_a_thread, NULL) != 0) abort();
        destroyer_started = true;
        return;
    }
    sio_server_destroy(server);  /* on the loop thread: returns at once; freed in a later iteration */
    server = NULL;
    say("SHUTDOWN inside");
    uv_close((uv_handle_t *)&destroyed, NULL);
    close_host_handles();
}

static int count_threads(void) {
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return -1;
    int n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (entry->d_name[0] != '.') n++;
    closedir(dir);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: host_loop SIO_PORT TCP_PORT inside|thread [PING_MS]\n");
        return 2;
    }
    mode = argv[3];
    main_thread = pthread_self();
    sio_set_log_callback(on_log, NULL);
    if (uv_loop_init(&loop) != 0) return 1;
    loop.data = &data_marker;

    sio_options_t *options = sio_options_new();
    unsigned ping = argc > 4 ? (unsigned)atoi(argv[4]) : 300;
    sio_options_set_uint(options, SIO_OPT_PING_INTERVAL, ping);
    sio_options_set_uint(options, SIO_OPT_PING_TIMEOUT, ping);
    sio_options_set_uint(options, SIO_OPT_LOOPS, 2);
    sio_server_t *refused = NULL;
    if (sio_server_create_on_loop(&refused, &loop, options) != SIO_EINVAL || refused) fail("loops=2 on a host loop");
    if (sio_server_create_on_loop(&refused, NULL, NULL) != SIO_EINVAL) fail("a NULL host loop");
    sio_options_set_uint(options, SIO_OPT_LOOPS, 1);
    int rc = sio_server_create_on_loop(&server, &loop, options);
    sio_options_free(options);
    if (rc != SIO_OK) {
        say("FAIL sio_server_create_on_loop: %s", sio_strerror(rc));
        return 1;
    }
    if (sio_server_run(server) != SIO_ESTATE || sio_server_start(server) != SIO_ESTATE) fail("run/start refused");
    if (!sio_server_in_loop(server)) fail("sio_server_in_loop on the host loop's thread");
    if (sio_server_loop_count(server) != 1) fail("one loop");
    sio_namespace_on_connection(sio_server_of(server, "/"), on_connection, NULL);
    rc = sio_server_listen(server, "127.0.0.1", (uint16_t)atoi(argv[1]));
    if (rc != SIO_OK) {
        say("FAIL listen: %s", sio_strerror(rc));
        return 1;
    }

    uv_tcp_init(&loop, &listener);
    struct sockaddr_in address;
    uv_ip4_addr("127.0.0.1", atoi(argv[2]), &address);
    if (uv_tcp_bind(&listener, (const struct sockaddr *)&address, 0) != 0 ||
        uv_listen((uv_stream_t *)&listener, 16, on_tcp_connection) != 0) {
        say("FAIL host tcp listen");
        return 1;
    }
    uv_timer_init(&loop, &ticker);
    uv_async_init(&loop, &destroyed, on_destroyed);
    say("READY %d %s", sio_server_port(server), mode);

    uv_run(&loop, UV_RUN_DEFAULT);

    if (destroyer_started) pthread_join(destroyer, NULL);
    say("LOOP CLOSED %d", uv_loop_close(&loop));
    say("THREADS %d", count_threads());
    say(loop.data == &data_marker ? "DATA ok" : "FAIL loop->data changed");
    return atomic_load(&failures) ? 1 : 0;
}
