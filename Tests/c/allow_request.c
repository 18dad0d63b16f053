/* The allow-request hook, the connection-error hook and HTTP request accessors: a server that refuses handshakes
 * carrying the header `X-Deny` (any value) or the query `deny=1`, and counts what it saw. Each connection error is
 * printed as `ERROR <code> <message>|<context_json>|<url>|<x-trace header or ->`. Prints `LISTENING <port>`, runs
 * on its own thread until SIGTERM, then `SEEN <allowed> <refused>` and `EXIT 0`. Usage: allow_request PORT [LOOPS]
 * (SIO_OPT_LOOPS, default 1: with several the callbacks run on every loop at once, so the counters are atomic and
 * each line is written whole). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio.h>

static atomic_int allowed, refused;
static pthread_mutex_t out = PTHREAD_MUTEX_INITIALIZER;

static bool allow(sio_server_t *server, sio_http_request_t *request, void *user_data) {
    (void)user_data;
    const char *url = sio_http_request_url(request);
    const char *deny = sio_http_request_header(request, "x-DENY");
    if (!sio_server_in_loop(server)) printf("FAIL allow-request callback off the loops\n");
    if (url == NULL || strncmp(url, "/socket.io/", 11) != 0) {
        printf("FAIL url %s\n", url ? url : "(null)");
    }
    if (sio_http_request_header(request, "no-such-header") != NULL) printf("FAIL phantom header\n");
    if (deny != NULL || strstr(url, "deny=1") != NULL) {
        atomic_fetch_add(&refused, 1);
        return false;
    }
    atomic_fetch_add(&allowed, 1);
    return true;
}

static void connection_error(sio_server_t *server, sio_http_request_t *request, int code, const char *message,
                             const char *context_json, void *user_data) {
    if (user_data != (void *)&refused) printf("FAIL user_data\n");
    if (!sio_server_in_loop(server)) printf("FAIL connection-error callback off the loops\n");
    const char *trace = sio_http_request_header(request, "X-Trace");
    /* Answered already: responding again is refused. */
    if (sio_http_respond(request, 200, NULL, "", 0) != SIO_ESTATE) printf("FAIL respond to an answered request\n");
    pthread_mutex_lock(&out);
    printf("ERROR %d %s|%s|%s|%s\n", code, message, context_json, sio_http_request_url(request), trace ? trace : "-");
    fflush(stdout);
    pthread_mutex_unlock(&out);
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) return 2;
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    sio_server_t *server = NULL;
    sio_options_t *options = sio_options_new();
    if (!options || sio_options_set_uint(options, SIO_OPT_LOOPS, argc == 3 ? strtoul(argv[2], NULL, 10) : 1) != SIO_OK)
        return 1;
    int created = sio_server_create(&server, options);
    sio_options_free(options);
    if (created != SIO_OK) return 1;
    printf("LOOPS %d\n", sio_server_loop_count(server));
    if (sio_server_on_allow_request(NULL, allow, NULL) != SIO_EINVAL) printf("FAIL NULL server accepted\n");
    if (sio_http_request_url(NULL) != NULL || sio_http_request_header(NULL, "x") != NULL) printf("FAIL NULL request\n");
    if (sio_server_on_allow_request(server, allow, NULL) != SIO_OK) return 1;
    if (sio_server_on_connection_error(NULL, connection_error, NULL) != SIO_EINVAL) printf("FAIL NULL server accepted\n");
    if (sio_server_on_connection_error(server, connection_error, &refused) != SIO_OK) return 1;
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
    printf("SEEN %d %d\n", atomic_load(&allowed), atomic_load(&refused));
    sio_server_destroy(server);
    printf("EXIT 0\n");
    return 0;
}
