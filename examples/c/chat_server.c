/* chat_server.c: the Socket.IO tutorial's chat (https://socket.io/get-started/chat) in plain C against sio.h.
 *
 *   chat_server [--port 3000] [--host 0.0.0.0] [--client-js PATH] [--loops N]
 *
 * GET / serves the chat page; the page loads the official client from /socket.io/socket.io.js, served from PATH
 * when --client-js is given (socket.io.min.js of socket-io-client 4.x), else answered with 404. Every
 * "chat message" a client sends is relayed to everyone. SIGINT or SIGTERM stops the server gracefully.
 * --loops N serves the port with N event loops, one thread each (SIO_OPT_LOOPS; 0 = one per core, default 1): the
 * callbacks then run on several threads at once. Nothing here needs a lock: the callbacks share only what is
 * written before the server starts (the page, the bundle, the namespace handle), and stdio locks each call.
 *
 * Build:  cc chat_server.c $(pkg-config --cflags --libs sio) -lpthread -o chat_server
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio.h>

static const char chat_page[] =
    "<!DOCTYPE html>\n"
    "<html>\n"
    "  <head>\n"
    "    <meta name=\"viewport\" content=\"width=device-width,initial-scale=1.0\">\n"
    "    <title>Socket.IO chat</title>\n"
    "    <style>\n"
    "      body { margin: 0; padding-bottom: 3rem; font-family: -apple-system, BlinkMacSystemFont, \"Segoe UI\", "
    "Roboto, Helvetica, Arial, sans-serif; }\n"
    "      #form { background: rgba(0, 0, 0, 0.15); padding: 0.25rem; position: fixed; bottom: 0; left: 0; right: 0; "
    "display: flex; height: 3rem; box-sizing: border-box; backdrop-filter: blur(10px); }\n"
    "      #input { border: none; padding: 0 1rem; flex-grow: 1; border-radius: 2rem; margin: 0.25rem; }\n"
    "      #input:focus { outline: none; }\n"
    "      #form > button { background: #333; border: none; padding: 0 1rem; margin: 0.25rem; border-radius: 3px; "
    "outline: none; color: #fff; }\n"
    "      #messages { list-style-type: none; margin: 0; padding: 0; }\n"
    "      #messages > li { padding: 0.5rem 1rem; }\n"
    "      #messages > li:nth-child(odd) { background: #efefef; }\n"
    "    </style>\n"
    "  </head>\n"
    "  <body>\n"
    "    <ul id=\"messages\"></ul>\n"
    "    <form id=\"form\" action=\"\">\n"
    "      <input id=\"input\" autocomplete=\"off\" /><button>Send</button>\n"
    "    </form>\n"
    "    <script src=\"/socket.io/socket.io.js\"></script>\n"
    "    <script>\n"
    "      var socket = io();\n"
    "\n"
    "      var messages = document.getElementById('messages');\n"
    "      var form = document.getElementById('form');\n"
    "      var input = document.getElementById('input');\n"
    "\n"
    "      form.addEventListener('submit', function(e) {\n"
    "        e.preventDefault();\n"
    "        if (input.value) {\n"
    "          socket.emit('chat message', input.value);\n"
    "          input.value = '';\n"
    "        }\n"
    "      });\n"
    "\n"
    "      socket.on('chat message', function(msg) {\n"
    "        var item = document.createElement('li');\n"
    "        item.textContent = msg;\n"
    "        messages.appendChild(item);\n"
    "        window.scrollTo(0, document.body.scrollHeight);\n"
    "      });\n"
    "    </script>\n"
    "  </body>\n"
    "</html>\n";

/* The client bundle, read once at start (NULL without --client-js). */
static char *client_js;
static size_t client_js_len;

static sio_namespace_t *chat;

static void on_http(sio_server_t *server, sio_http_request_t *request, const char *method, const char *path,
                    void *user_data) {
    (void)server, (void)user_data;
    size_t path_len = strcspn(path, "?"); /* path without its query */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        sio_http_respond(request, 405, "text/plain", "Method Not Allowed", 18);
    } else if (path_len == 1 && path[0] == '/') {
        sio_http_respond(request, 200, "text/html; charset=utf-8", chat_page, sizeof chat_page - 1);
    } else if (client_js && path_len == strlen("/socket.io/socket.io.js") &&
               strncmp(path, "/socket.io/socket.io.js", path_len) == 0) {
        sio_http_respond(request, 200, "application/javascript; charset=utf-8", client_js, client_js_len);
    } else {
        sio_http_respond(request, 404, "text/plain", "Not Found", 9);
    }
}

/* io.emit('chat message', msg): to everyone, the sender included. */
static void on_chat_message(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack,
                            void *user_data) {
    (void)socket, (void)ack, (void)user_data;
    size_t len;
    const char *json = sio_args_json(args, &len);
    sio_buffer_t binaries[8]; /* a message with binary parts keeps them (up to 8) */
    size_t n = sio_args_binary_count(args);
    if (n > 8) return;
    for (size_t i = 0; i < n; i++) binaries[i].data = sio_args_binary(args, i, &binaries[i].len);
    int rc = sio_namespace_emit(chat, event, json, len, binaries, n);
    if (rc != SIO_OK) fprintf(stderr, "chat_server: relay: %s\n", sio_strerror(rc));
}

static void on_disconnect(sio_socket_t *socket, const char *reason, void *user_data) {
    (void)user_data;
    printf("user disconnected: %s (%s)\n", sio_socket_id(socket), reason);
    fflush(stdout);
}

static void on_connection(sio_socket_t *socket, void *user_data) {
    (void)user_data;
    printf("a user connected: %s\n", sio_socket_id(socket));
    fflush(stdout);
    sio_socket_on(socket, "chat message", on_chat_message, NULL);
    sio_socket_on_disconnect(socket, on_disconnect, NULL);
}

/* SIGINT / SIGTERM: taken by this thread with sigwait (the other threads block them), which then calls
 * sio_server_stop. sio_server_stop is thread-safe but not async-signal-safe (it locks and allocates), so it is
 * not called from a signal handler. */
static void *signal_thread(void *arg) {
    sio_server_t *server = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig;
    if (sigwait(&set, &sig) == 0) {
        printf("signal %d: stopping\n", sig);
        fflush(stdout);
        sio_server_stop(server);
    }
    return NULL;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *data = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 65536;
            char *grown = realloc(data, cap);
            if (!grown) break;
            data = grown;
        }
        size_t n = fread(data + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(data);
        return NULL;
    }
    return data ? data : malloc(1);
}

/* Why a client could not connect (a stale session id after a restart, an old Engine.IO v3 client, ...): one line on
 * stderr, as the reference's `io.engine.on("connection_error")` would log it. */
static void on_connection_error(sio_server_t *server, sio_http_request_t *request, int code, const char *message,
                                const char *context_json, void *user_data) {
    (void)server, (void)user_data;
    const char *url = sio_http_request_url(request);
    fprintf(stderr, "chat_server: refused %s: %d %s %s\n", url ? url : "?", code, message, context_json);
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--port PORT] [--host HOST] [--client-js PATH] [--loops N]\n", argv0);
}

int main(int argc, char **argv) {
    const char *host = "0.0.0.0";
    long port = 3000;
    long loops = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            port = strtol(argv[++i], &end, 10);
            if (*end || port < 0 || port > 65535) {
                usage(argv[0]);
                return 2;
            }
        } else if (strcmp(argv[i], "--loops") == 0 && i + 1 < argc) {
            char *end;
            loops = strtol(argv[++i], &end, 10);
            if (*end || loops < 0 || loops > 64) {
                usage(argv[0]);
                return 2;
            }
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else if (strcmp(argv[i], "--client-js") == 0 && i + 1 < argc) {
            client_js = read_file(argv[++i], &client_js_len);
            if (!client_js) {
                perror(argv[i]);
                return 1;
            }
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if (!client_js) fprintf(stderr, "chat_server: no --client-js: /socket.io/socket.io.js will answer 404\n");

    /* Block the stop signals before any thread starts, so that the server's threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    sio_server_t *server = NULL;
    sio_options_t *options = sio_options_new();
    int rc = options ? sio_options_set_uint(options, SIO_OPT_LOOPS, (uint64_t)loops) : SIO_ENOMEM;
    if (rc == SIO_OK) rc = sio_server_create(&server, options);
    sio_options_free(options);
    if (rc == SIO_OK) rc = sio_server_listen(server, host, (uint16_t)port);
    if (rc != SIO_OK) {
        fprintf(stderr, "chat_server: cannot listen on %s:%ld: %s\n", host, port, sio_strerror(rc));
        sio_server_destroy(server);
        free(client_js);
        return 1;
    }
    sio_server_on_http_request(server, on_http, NULL);
    sio_server_on_connection_error(server, on_connection_error, NULL);
    chat = sio_server_of(server, "/");
    sio_namespace_on_connection(chat, on_connection, NULL);

    pthread_t signals;
    if (pthread_create(&signals, NULL, signal_thread, server) != 0) {
        sio_server_destroy(server);
        free(client_js);
        return 1;
    }
    printf("listening on *:%d (%d loop%s)\n", sio_server_port(server), sio_server_loop_count(server),
           sio_server_loop_count(server) == 1 ? "" : "s");
    fflush(stdout);

    rc = sio_server_run(server); /* until sio_server_stop */

    /* Stopped by a signal: the signal thread has returned. (Stopped otherwise: wake it so it can be joined.) */
    pthread_kill(signals, SIGTERM);
    pthread_join(signals, NULL);
    sio_server_destroy(server);
    free(client_js);
    return rc == SIO_OK ? 0 : 1;
}
