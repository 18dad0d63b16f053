/* A plain C host that leaves SIGPIPE alone: every connecting socket is sent a burst of large messages, so a peer
 * that resets with unread data makes the server write to a dead connection. libsio must not let that kill the
 * process (it ignores SIGPIPE when it is at its default). With `--own-handler` the host installs a SIGPIPE handler
 * of its own first, which libsio must leave in place.
 * Usage: sigpipe_host PORT [--own-handler]. Prints "listening PORT" once ready; stops on SIGTERM. */
#define _POSIX_C_SOURCE 200809L
#include <sio.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char big[65536 + 16];

static void on_connection(sio_socket_t *socket, void *user_data) {
    (void)user_data;
    for (int i = 0; i < 40; i++) sio_socket_emit(socket, "burst", big, strlen(big), NULL, 0);
}

static void on_sigpipe(int signal_number) { (void)signal_number; }

static void *stop_on_sigterm(void *server) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    int signal_number;
    sigwait(&set, &signal_number);
    sio_server_stop(server);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    big[0] = '[';
    big[1] = '"';
    memset(big + 2, 'x', 65536);
    strcpy(big + 2 + 65536, "\"]");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (argc > 2 && strcmp(argv[2], "--own-handler") == 0) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = on_sigpipe;
        sigemptyset(&action.sa_mask);
        sigaction(SIGPIPE, &action, NULL);
    }
    sio_server_t *server;
    if (sio_server_create(&server, NULL) != SIO_OK) return 1;
    sio_namespace_on_connection(sio_server_of(server, "/"), on_connection, NULL);
    if (sio_server_listen(server, "127.0.0.1", (uint16_t)atoi(argv[1])) != SIO_OK) return 1;
    pthread_t stopper;
    pthread_create(&stopper, NULL, stop_on_sigterm, server);
    printf("listening %d\n", sio_server_port(server));
    fflush(stdout);
    sio_server_run(server);
    pthread_join(stopper, NULL);
    sio_server_destroy(server);
    return 0;
}
