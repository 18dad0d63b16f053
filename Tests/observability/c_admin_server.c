/* c_admin_server: a C host of libsio with Prometheus metrics and the admin UI, for test_c_admin.py.
 *
 *   c_admin_server PORT HASH     metrics on, instrument() with user "admin" and bcrypt HASH on namespace "/ops",
 *                                server id "c-host"; prints "LISTENING <port>" and runs until SIGTERM
 *
 * Before listening it checks what sio_server_instrument refuses (SIO_EINVAL): a username without a hash, a hash
 * that is not bcrypt, a namespace option that is "/". */
#include <sio.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sio_server_t *server;

static void on_term(int sig) {
    (void)sig;
    sio_server_stop(server);
}

#define EXPECT(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
            return 1;                                                         \
        }                                                                     \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT HASH\n", argv[0]);
        return 2;
    }
    EXPECT(sio_version_number() >= 400);
    sio_options_t *options = sio_options_new();
    EXPECT(options != NULL);
    EXPECT(sio_options_set_bool(options, SIO_OPT_METRICS, true) == SIO_OK);
    EXPECT(sio_options_set_string(options, SIO_OPT_METRICS_PATH, "/stats") == SIO_OK);
    EXPECT(sio_options_set_string(options, SIO_OPT_METRICS_PATH, "relative") == SIO_EINVAL);
    EXPECT(sio_server_create(&server, options) == SIO_OK);
    sio_options_free(options);

    sio_options_t *admin = sio_options_new();
    EXPECT(sio_options_set_string(admin, SIO_OPT_ADMIN_NAMESPACE, "/") == SIO_EINVAL);
    EXPECT(sio_options_set_string(admin, SIO_OPT_ADMIN_MODE, "staging") == SIO_EINVAL);
    EXPECT(sio_options_set_string(admin, SIO_OPT_ADMIN_NAMESPACE, "/ops") == SIO_OK);
    EXPECT(sio_options_set_string(admin, SIO_OPT_ADMIN_SERVER_ID, "c-host") == SIO_OK);
    EXPECT(sio_options_set_string(admin, SIO_OPT_ADMIN_MODE, "development") == SIO_OK);
    EXPECT(sio_options_set_bool(admin, SIO_OPT_ADMIN_READONLY, false) == SIO_OK);
    EXPECT(sio_options_set_string(admin, SIO_OPT_ADMIN_USERNAME, "admin") == SIO_OK);
    EXPECT(sio_server_instrument(server, admin) == SIO_EINVAL); /* a user without a hash */
    EXPECT(sio_options_set_string(admin, SIO_OPT_ADMIN_PASSWORD_HASH, "changeit") == SIO_OK);
    EXPECT(sio_server_instrument(server, admin) == SIO_EINVAL); /* not bcrypt */
    EXPECT(sio_options_set_string(admin, SIO_OPT_ADMIN_PASSWORD_HASH, argv[2]) == SIO_OK);
    EXPECT(sio_server_instrument(NULL, admin) == SIO_EINVAL);
    EXPECT(sio_server_instrument(server, admin) == SIO_OK);
    EXPECT(sio_server_instrument(server, admin) == SIO_OK); /* again: no change */
    sio_options_free(admin);

    EXPECT(sio_server_listen(server, "127.0.0.1", (uint16_t)atoi(argv[1])) == SIO_OK);
    printf("LISTENING %d\n", sio_server_port(server));
    fflush(stdout);
    signal(SIGTERM, on_term);
    sio_server_run(server);
    sio_server_destroy(server);
    return 0;
}
