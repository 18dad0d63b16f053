/* tls_server: HTTPS and WSS from C (issue 16), the peer of Tests/c/test_c_tls.py.
 *
 *   tls_server MODE PORT PLAIN_PORT CERT KEY OTHER_CERT OTHER_KEY [SNI_CERT SNI_KEY]
 *
 * MODE "files" gives the certificate and key as SIO_OPT_TLS_CERT_FILE / SIO_OPT_TLS_KEY_FILE; "pem" reads them here
 * and gives their text as SIO_OPT_TLS_CERT_PEM / SIO_OPT_TLS_KEY_PEM. With SNI_CERT and SNI_KEY, that pair is added
 * with sio_options_add_tls_certificate. Two loops (SIO_OPT_LOOPS 2, round-robin), a handshake timeout of 1 s
 * ($TLS_HANDSHAKE_TIMEOUT_MS overrides it: valgrind needs longer; $TLS_LOOPS the number of loops).
 * Listens with TLS on 127.0.0.1:PORT (sio_server_listen) and in plain HTTP on PLAIN_PORT (sio_server_listen_plain);
 * prints "LISTENING <port>", or "LISTEN_FAILED <error name>" and exits 4 when the TLS listen fails.
 * Namespace "/": "echo" (ack) acknowledges with the same arguments.
 * HTTP (either port): GET /reload -> sio_server_reload_tls(server, NULL); GET /reload-other -> reload with options
 * naming OTHER_CERT and OTHER_KEY; both answer 200 with the result's name ("SIO_OK", "SIO_EINVAL").
 * Failed handshakes print "TLS_ERROR <kind> <address> <reason>".
 * SIGINT / SIGTERM stop it; "EXIT <failures>"; exit status 0 only when every call returned what it should.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "util.h"

static sio_server_t *server;
static atomic_int failures;
static const char *other_cert, *other_key;
static uint64_t handshake_timeout = 1000;

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

static char *read_file(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    sb_t text = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, file)) > 0) sb_append(&text, chunk, n);
    fclose(file);
    return text.p;
}

static void on_echo(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack, void *ud) {
    (void)socket, (void)event, (void)ud;
    if (!ack) return;
    size_t len;
    const char *json = sio_args_json(args, &len);
    CHECK(sio_ack_send(ack, json, len, NULL, 0));
}

static void on_connection(sio_socket_t *socket, void *ud) {
    (void)ud;
    CHECK(sio_socket_on(socket, "echo", on_echo, NULL));
}

static void on_tls_error(sio_server_t *srv, int kind, const char *reason, const char *address, void *ud) {
    EXPECT(srv == server);
    EXPECT(ud == &server);
    EXPECT(kind == SIO_TLS_HANDSHAKE_FAILED || kind == SIO_TLS_HANDSHAKE_TIMEOUT || kind == SIO_TLS_HANDSHAKE_CLOSED);
    const char *names[] = {"failed", "timeout", "closed"};
    say("TLS_ERROR %s %s %s", kind >= 0 && kind <= 2 ? names[kind] : "?", address, reason);
}

static void on_http(sio_server_t *srv, sio_http_request_t *request, const char *method, const char *path, void *ud) {
    (void)ud, (void)method;
    int rc;
    if (strcmp(path, "/reload") == 0) {
        rc = sio_server_reload_tls(srv, NULL);
    } else if (strcmp(path, "/reload-other") == 0) {
        sio_options_t *options = sio_options_new();
        CHECK(sio_options_set_string(options, SIO_OPT_TLS_CERT_FILE, other_cert));
        CHECK(sio_options_set_string(options, SIO_OPT_TLS_KEY_FILE, other_key));
        CHECK(sio_options_set_uint(options, SIO_OPT_TLS_HANDSHAKE_TIMEOUT, handshake_timeout));
        rc = sio_server_reload_tls(srv, options);
        sio_options_free(options); /* not kept by the server */
    } else {
        CHECK(sio_http_respond(request, 404, "text/plain", "not found", 9));
        return;
    }
    const char *name = sio_err_name(rc);
    CHECK(sio_http_respond(request, 200, "text/plain", name, strlen(name)));
}

int main(int argc, char **argv) {
    if (argc != 8 && argc != 10) {
        fprintf(stderr, "usage: %s files|pem PORT PLAIN_PORT CERT KEY OTHER_CERT OTHER_KEY [SNI_CERT SNI_KEY]\n",
                argv[0]);
        return 2;
    }
    other_cert = argv[6];
    other_key = argv[7];
    const char *timeout = getenv("TLS_HANDSHAKE_TIMEOUT_MS");
    if (timeout) handshake_timeout = strtoull(timeout, NULL, 10);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    sio_options_t *options = sio_options_new();
    EXPECT(options != NULL);
    const char *loops = getenv("TLS_LOOPS");
    CHECK(sio_options_set_uint(options, SIO_OPT_LOOPS, loops ? strtoull(loops, NULL, 10) : 2));
    CHECK(sio_options_set_string(options, SIO_OPT_LOOP_BALANCING, "round-robin"));
    CHECK(sio_options_set_uint(options, SIO_OPT_TLS_HANDSHAKE_TIMEOUT, handshake_timeout));
    EXPECT(sio_options_set_string(options, SIO_OPT_TLS_HANDSHAKE_TIMEOUT, "1") == SIO_EINVAL);
    EXPECT(sio_options_add_tls_certificate(options, NULL, "key.pem", NULL) == SIO_EINVAL);
    EXPECT(sio_options_add_tls_certificate(NULL, "cert.pem", "key.pem", NULL) == SIO_EINVAL);
    if (strcmp(argv[1], "pem") == 0) {
        char *cert = read_file(argv[4]), *key = read_file(argv[5]);
        if (!cert || !key) return 2;
        CHECK(sio_options_set_string(options, SIO_OPT_TLS_CERT_PEM, cert));
        CHECK(sio_options_set_string(options, SIO_OPT_TLS_KEY_PEM, key));
        memset(key, 0, strlen(key)); /* copied by the setter */
        free(cert);
        free(key);
    } else {
        CHECK(sio_options_set_string(options, SIO_OPT_TLS_CERT_FILE, argv[4]));
        CHECK(sio_options_set_string(options, SIO_OPT_TLS_KEY_FILE, argv[5]));
    }
    if (argc == 10) CHECK(sio_options_add_tls_certificate(options, argv[8], argv[9], NULL));
    CHECK(sio_server_create(&server, options));
    sio_options_free(options);
    if (!server) return 1;

    CHECK(sio_server_on_tls_error(server, on_tls_error, &server));
    CHECK(sio_server_on_http_request(server, on_http, NULL));
    CHECK(sio_namespace_on_connection(sio_server_of(server, "/"), on_connection, NULL));

    int rc = sio_server_listen(server, "127.0.0.1", (uint16_t)atoi(argv[2]));
    if (rc != SIO_OK) {
        say("LISTEN_FAILED %s", sio_err_name(rc));
        EXPECT(sio_server_reload_tls(server, NULL) == SIO_ESTATE); /* no TLS listener was made */
        sio_server_destroy(server);
        return 4;
    }
    CHECK(sio_server_listen_plain(server, "127.0.0.1", (uint16_t)atoi(argv[3])));
    EXPECT(sio_server_port(server) == atoi(argv[2])); /* the first listener */
    CHECK(sio_server_start(server));
    say("LISTENING %d", sio_server_port(server));

    int sig = 0;
    sigwait(&stop_signals, &sig);
    CHECK(sio_server_stop(server));
    CHECK(sio_server_wait(server));
    CHECK(sio_server_on_tls_error(server, NULL, NULL));
    sio_server_destroy(server);
    int failed = atomic_load(&failures);
    say("EXIT %d", failed);
    return failed ? 1 : 0;
}
