/* The allow-request hook and HTTP request accessors: a server that refuses handshakes carrying the header
 * `X-Deny` (any value) or the query `deny=1`, and counts what it saw. Prints `LISTENING <port>`, runs on its own
 * thread until SIGTERM, then `SEEN <allowed> <refused>` and `EXIT 0`. Usage: allow_request PORT */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio.h>

static int allowed, refused;

static bool allow(sio_server_t *server, sio_http_request_t *request, void *user_data) {
    (void)server;
    (void)user_data;
    const char *url = sio_http_request_url(request);
    const char *deny = sio_http_request_header(request, "x-DENY");
    if (url == NULL || strncmp(url, "/socket.io/", 11) != 0) {
        printf("FAIL url %s\n", url ? url : "(null)");
    }
    if (sio_http_request_header(request, "no-such-header") != NULL) printf("FAIL phantom header\n");
    if (deny != NULL || strstr(url, "deny=1") != NULL) {
        refused++;
        return false;
    }
    allowed++;
    return true;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    sio_server_t *server = NULL;
    if (sio_server_create(&server, NULL) != SIO_OK) return 1;
    if (sio_server_on_allow_request(NULL, allow, NULL) != SIO_EINVAL) printf("FAIL NULL server accepted\n");
    if (sio_http_request_url(NULL) != NULL || sio_http_request_header(NULL, "x") != NULL) printf("FAIL NULL request\n");
    if (sio_server_on_allow_request(server, allow, NULL) != SIO_OK) return 1;
    int rc = sio_server_listen(server, "127.0.0.1", (uint16_t)atoi(argv[1]));
    if (rc != SIO_OK) {
        fprintf(stderr, "listen: %s\n", sio_strerror(rc));
        return 3;
    }
    if (sio_server_start(server) != SIO_OK) return 1;
    printf("LISTENING %d\n", sio_server_port(server));
    fflush(stdout);

    int signal_number = 0;
    sigwait(&signals, &signal_number);
    sio_server_stop(server);
    sio_server_wait(server);
    printf("SEEN %d %d\n", allowed, refused);
    sio_server_destroy(server);
    printf("EXIT 0\n");
    return 0;
}
