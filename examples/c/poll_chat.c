/* poll_chat.c: the README's asyncio example (sio.AsyncServer) as the same program on the plain C API, kept to
 * measure what the binding saves (README, "API tour"); the same tests drive both.
 *
 *   poll_chat [--port 3000] [--host 0.0.0.0]
 *
 * A middleware refuses clients without a "token" in their auth ("not authorized", {"code":401}); every socket
 * joins "lobby"; "chat message" is relayed to the lobby but the sender and acknowledged with true; "poll" asks
 * the sender back ("name?", 5 s), then everyone ("vote", 5 s), and acknowledges [name, number of votes]. SIGINT or
 * SIGTERM stops it gracefully.
 *
 * Build:  cc poll_chat.c $(pkg-config --cflags --libs sio) -lpthread -o poll_chat
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio.h>

static sio_namespace_t *lobby_ns;

static void auth(sio_socket_t *socket, sio_next_t *next, void *ud) {
    (void)ud;
    size_t len;
    const char *json = sio_socket_auth(socket, &len); /* raw JSON: no parser here, a key search will do */
    if (!json || !strstr(json, "\"token\"")) sio_next(next, "not authorized", "{\"code\":401}");
    else sio_next(next, NULL, NULL);
}

static void on_chat_message(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack,
                            void *ud) {
    (void)ud;
    size_t len;
    const char *json = sio_args_json(args, &len);
    const char *rooms[] = {"lobby"}, *except[] = {sio_socket_id(socket)};
    sio_namespace_broadcast(lobby_ns, rooms, 1, except, 1, 0, event, json, len, NULL, 0);
    if (ack) sio_ack_send(ack, "[true]", 6, NULL, 0);
}

/* A poll in flight: the client's ack, the question, then the sender's name. */
typedef struct {
    sio_ack_t *ack;
    char *question; /* the JSON arguments of "poll", e.g. ["lunch?"] */
    char *name;     /* the JSON of the sender's answer, e.g. "bob" */
} poll_t;

static void poll_free(poll_t *poll) {
    free(poll->question);
    free(poll->name);
    free(poll);
}

static char *copy(const char *text, size_t len) {
    char *out = malloc(len + 1);
    if (!out) abort();
    memcpy(out, text, len);
    out[len] = '\0';
    return out;
}

static void on_votes(int status, const sio_args_t *const *replies, size_t n_replies, void *ud) {
    poll_t *poll = ud;
    if (status == SIO_OK) {
        char reply[512];
        int n = snprintf(reply, sizeof reply, "[%s,%zu]", poll->name, n_replies);
        if (n > 0 && (size_t)n < sizeof reply) sio_ack_send(poll->ack, reply, (size_t)n, NULL, 0);
    }
    (void)replies;
    poll_free(poll);
}

static void on_name(sio_socket_t *socket, int status, const sio_args_t *reply, void *ud) {
    poll_t *poll = ud;
    size_t len;
    const char *json = status == SIO_OK ? sio_args_json(reply, &len) : NULL;
    /* ["bob"] -> "bob": the first argument, if it is the only one */
    if (!json || len < 3 || json[0] != '[' || json[len - 1] != ']') {
        poll_free(poll);
        return;
    }
    poll->name = copy(json + 1, len - 2);
    if (sio_namespace_broadcast_with_ack(sio_socket_get_namespace(socket), NULL, 0, NULL, 0, 0, "vote",
                                         poll->question, strlen(poll->question), NULL, 0, 5000, on_votes,
                                         poll) != SIO_OK)
        poll_free(poll);
}

static void on_poll(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)event, (void)ud;
    if (!ack) return;
    poll_t *poll = calloc(1, sizeof *poll);
    if (!poll) abort();
    size_t len;
    const char *json = sio_args_json(args, &len);
    poll->ack = ack;
    poll->question = copy(json, len);
    if (sio_socket_emit_with_ack(socket, "name?", NULL, 0, NULL, 0, 5000, on_name, poll) != SIO_OK) poll_free(poll);
}

static void on_connection(sio_socket_t *socket, void *ud) {
    (void)ud;
    sio_socket_join(socket, "lobby");
    sio_socket_on(socket, "chat message", on_chat_message, NULL);
    sio_socket_on(socket, "poll", on_poll, NULL);
}

static void *signal_thread(void *arg) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig;
    if (sigwait(&set, &sig) == 0) sio_server_stop(arg);
    return NULL;
}

int main(int argc, char **argv) {
    const char *host = "0.0.0.0";
    long port = 3000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) host = argv[++i];
        else {
            fprintf(strcmp(argv[i], "--help") ? stderr : stdout, "usage: %s [--port PORT] [--host ADDRESS]\n", argv[0]);
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sio_server_t *server;
    if (sio_server_create(&server, NULL) != SIO_OK) return 1;
    int rc = sio_server_listen(server, host, (uint16_t)port);
    if (rc != SIO_OK) {
        fprintf(stderr, "poll_chat: cannot listen on %s:%ld: %s\n", host, port, sio_strerror(rc));
        sio_server_destroy(server);
        return 1;
    }
    lobby_ns = sio_server_of(server, "/");
    sio_namespace_use(lobby_ns, auth, NULL);
    sio_namespace_on_connection(lobby_ns, on_connection, NULL);
    pthread_t signals;
    if (pthread_create(&signals, NULL, signal_thread, server) != 0) return 1;
    printf("listening on *:%d\n", sio_server_port(server));
    fflush(stdout);
    rc = sio_server_run(server);
    pthread_join(signals, NULL);
    sio_server_destroy(server);
    return rc == SIO_OK ? 0 : 1;
}
