/* roll_call_chat.h: what host_loop_chat.c and its baseline host_loop_chat_threaded.c share, all but how the server
 * is hosted: the chat page (the tutorial's, loading the official client from its CDN), the chat's callbacks and the
 * roll call (on the server's loop thread), the command line, and the program's handles on its libuv loop (a timer,
 * SIGINT and SIGTERM). */
#ifndef ROLL_CALL_CHAT_H
#define ROLL_CALL_CHAT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio.h>
#include <uv.h>

#define MAX_USERS 1024

static sio_namespace_t *chat;
static sio_socket_t *users[MAX_USERS];  /* the connected users */
static int asked, answered, pending;    /* the roll call going on */

static const char chat_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Socket.IO chat</title>\n"
    "<style>body{margin:0;font-family:sans-serif}#form{position:fixed;bottom:0;left:0;right:0;display:flex}"
    "#input{flex-grow:1}#messages{list-style:none;margin:0;padding:0}#messages>li{padding:.5rem 1rem}</style>\n"
    "</head><body><ul id=\"messages\"></ul><form id=\"form\"><input id=\"input\" autocomplete=\"off\"/>"
    "<button>Send</button></form>\n"
    "<script src=\"https://cdn.socket.io/4.8.1/socket.io.min.js\"></script><script>\n"
    "const socket = io(), form = document.getElementById('form'), input = document.getElementById('input');\n"
    "form.addEventListener('submit', (e) => { e.preventDefault();\n"
    "  if (input.value) { socket.emit('chat message', input.value); input.value = ''; } });\n"
    "socket.on('chat message', (msg) => { const li = document.createElement('li'); li.textContent = msg;\n"
    "  document.getElementById('messages').appendChild(li); });\n"
    "socket.on('roll call', (callback) => callback('here'));\n"
    "</script></body></html>\n";

static void on_http(sio_server_t *s, sio_http_request_t *request, const char *method, const char *path, void *ud) {
    (void)s, (void)method, (void)ud;
    if (strcmp(path, "/") == 0) sio_http_respond(request, 200, "text/html; charset=utf-8", chat_page, sizeof chat_page - 1);
    else sio_http_respond(request, 404, "text/plain", "Not Found", 9);
}

static void on_chat_message(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack,
                            void *ud) {
    (void)socket, (void)ack, (void)ud;
    size_t len;
    const char *json = sio_args_json(args, &len);
    sio_namespace_emit(chat, event, json, len, NULL, 0);
}

static void on_disconnect(sio_socket_t *socket, const char *reason, void *ud) {
    (void)reason, (void)ud;
    for (int i = 0; i < MAX_USERS; i++)
        if (users[i] == socket) users[i] = NULL;
}

static void on_connection(sio_socket_t *socket, void *ud) {
    (void)ud;
    for (int i = 0; i < MAX_USERS; i++) {
        if (!users[i]) {
            users[i] = socket;
            break;
        }
    }
    sio_socket_on(socket, "chat message", on_chat_message, NULL);
    sio_socket_on_disconnect(socket, on_disconnect, NULL);
}

/* One user's answer (or SIO_ETIMEOUT, SIO_ECLOSED): the last one tells everyone. */
static void on_answer(sio_socket_t *socket, int status, const sio_args_t *reply, void *ud) {
    (void)socket, (void)reply, (void)ud;
    if (status == SIO_OK) answered++;
    if (--pending > 0) return;
    char text[96];
    int n = snprintf(text, sizeof text, "[\"[server] %d of %d here\"]", answered, asked);
    sio_namespace_emit(chat, "chat message", text, (size_t)n, NULL, 0);
}

/* Asks every user "roll call" with an acknowledgement ([LOOP]: on the server's loop thread). */
static void ask_everyone(void) {
    if (pending > 0) return;  /* the last one is still going */
    asked = answered = 0;
    for (int i = 0; i < MAX_USERS; i++) {
        if (users[i] && sio_socket_emit_with_ack(users[i], "roll call", NULL, 0, NULL, 0, 2000, on_answer, NULL) == SIO_OK) {
            asked++;
            pending++;
        }
    }
}

/* The command line: --port N (3000), --host ADDRESS (0.0.0.0), --roll-call SECONDS (10). --help prints the usage
 * and exits 0, a bad command line exits 2. */
static void read_command_line(int argc, char **argv, long *port, const char **host, long *seconds) {
    *port = 3000;
    *host = "0.0.0.0";
    *seconds = 10;
    int ok = argc % 2 == 1;
    for (int i = 1; ok && i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--host") == 0) {
            *host = argv[i + 1];
            continue;
        }
        long *target = strcmp(argv[i], "--port") == 0 ? port : strcmp(argv[i], "--roll-call") == 0 ? seconds : NULL;
        char *end;
        if (!target) break;
        *target = strtol(argv[i + 1], &end, 10);
        ok = !*end && *target >= 0 && *target <= 65535;
    }
    int help = argc == 2 && strcmp(argv[1], "--help") == 0;
    if (ok && *seconds > 0 && !help) return;
    fprintf(help ? stdout : stderr, "usage: %s [--port PORT] [--host ADDRESS] [--roll-call SECONDS]\n", argv[0]);
    exit(help ? 0 : 2);
}

/* After the server was made (`rc`): listens and sets the chat up. False, with the reason on stderr, when it cannot. */
static int serve_chat(sio_server_t *server, int rc, const char *host, long port) {
    if (rc == SIO_OK) rc = sio_server_listen(server, host, (uint16_t)port);
    if (rc != SIO_OK) {
        fprintf(stderr, "cannot listen on %s:%ld: %s\n", host, port, sio_strerror(rc));
        return 0;
    }
    sio_server_on_http_request(server, on_http, NULL);
    chat = sio_server_of(server, "/");
    sio_namespace_on_connection(chat, on_connection, NULL);
    return 1;
}

/* The program's own handles on its loop: the roll call's timer, SIGINT and SIGTERM. */
static uv_timer_t roll_call_timer;
static uv_signal_t sigint, sigterm;

static void start_program_handles(uv_loop_t *loop, uv_timer_cb roll_call, long seconds, uv_signal_cb stop) {
    uv_timer_init(loop, &roll_call_timer);
    uv_timer_start(&roll_call_timer, roll_call, (uint64_t)seconds * 1000, (uint64_t)seconds * 1000);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, stop, SIGINT);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, stop, SIGTERM);
}

static void close_program_handles(void) {
    uv_close((uv_handle_t *)&roll_call_timer, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
}

#endif
