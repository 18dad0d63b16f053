/* Compiled (not run) by test_c_abi.py as C11 and as C++17 with -Wall -Wextra -Werror -pedantic: the header must be
 * self-contained (included first), idempotent, and its declarations usable from both languages. */
#include <sio.h>
#include <sio.h> /* the include guard works */

#ifdef __cplusplus
#define SIO_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define SIO_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

SIO_STATIC_ASSERT(sizeof(sio_buffer_t) == 2 * sizeof(void *), "sio_buffer_t is two machine words");
SIO_STATIC_ASSERT(SIO_VERSION_NUMBER == SIO_VERSION_MAJOR * 10000 + SIO_VERSION_MINOR * 100 + SIO_VERSION_PATCH,
                  "version number formula");
SIO_STATIC_ASSERT(SIO_OK == 0 && SIO_EINVAL == -1 && SIO_EINTERNAL == -9, "error codes are ABI");
SIO_STATIC_ASSERT(SIO_BROADCAST_VOLATILE == 1 && SIO_BROADCAST_LOCAL == 2 && SIO_BROADCAST_NO_COMPRESS == 4,
                  "broadcast flags are ABI");
SIO_STATIC_ASSERT(SIO_OPT_LOOPS == 23 && SIO_OPT_LOOP_BALANCING == 24, "the loop options (0.3.0) are ABI");
SIO_STATIC_ASSERT(SIO_VERSION_NUMBER >= 300, "the loop functions need 0.3.0");

/* Callbacks of every type, so their typedefs are exercised in both languages. */
static void log_cb(int level, const char *component, const char *message, void *user_data) {
    (void)level, (void)component, (void)message, (void)user_data;
}
static void task_cb(sio_server_t *server, void *user_data) { (void)server, (void)user_data; }
static void http_cb(sio_server_t *server, sio_http_request_t *request, const char *method, const char *path,
                    void *user_data) {
    (void)server, (void)method, (void)path, (void)user_data;
    sio_http_respond(request, 200, "text/plain", "ok", 2);
}
static void connection_cb(sio_socket_t *socket, void *user_data) { (void)socket, (void)user_data; }
static void middleware_cb(sio_socket_t *socket, sio_next_t *next, void *user_data) {
    (void)socket, (void)user_data;
    sio_next(next, NULL, NULL);
}
static void event_cb(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack,
                     void *user_data) {
    (void)socket, (void)event, (void)user_data;
    size_t len = 0;
    const char *json = sio_args_json(args, &len);
    sio_ack_send(ack, json, len, NULL, 0);
}
static void disconnect_cb(sio_socket_t *socket, const char *reason, void *user_data) {
    (void)socket, (void)reason, (void)user_data;
}
static void ack_cb(sio_socket_t *socket, int status, const sio_args_t *reply, void *user_data) {
    (void)socket, (void)status, (void)reply, (void)user_data;
}
static void broadcast_ack_cb(int status, const sio_args_t *const *replies, size_t n_replies, void *user_data) {
    (void)status, (void)replies, (void)n_replies, (void)user_data;
}
static void socket_task_cb(sio_socket_t *socket, void *user_data) {
    /* what a posted task may do: it runs on the socket's loop */
    if (sio_socket_in_loop(socket) && sio_socket_loop_index(socket) >= 0) sio_socket_join(socket, "room");
    (void)user_data;
}

/* Every callback type stored in a variable of the header's typedef. */
sio_log_cb header_check_log = log_cb;
sio_task_cb header_check_task = task_cb;
sio_http_cb header_check_http = http_cb;
sio_connection_cb header_check_connection = connection_cb;
sio_middleware_cb header_check_middleware = middleware_cb;
sio_event_cb header_check_event = event_cb;
sio_disconnect_cb header_check_disconnect = disconnect_cb;
sio_ack_cb header_check_ack = ack_cb;
sio_broadcast_ack_cb header_check_broadcast_ack = broadcast_ack_cb;
sio_socket_task_cb header_check_socket_task = socket_task_cb;

/* The loop functions (0.3.0) have exactly these signatures, in both languages. */
int (*header_check_loop_count)(const sio_server_t *) = sio_server_loop_count;
bool (*header_check_server_in_loop)(const sio_server_t *) = sio_server_in_loop;
int (*header_check_loop_index)(sio_socket_t *) = sio_socket_loop_index;
bool (*header_check_socket_in_loop)(sio_socket_t *) = sio_socket_in_loop;
int (*header_check_socket_post)(sio_socket_t *, sio_socket_task_cb, void *) = sio_socket_post;

/* The host-loop function (0.4.0): its loop is libuv's struct uv_loop_s, declared (not defined) by sio.h, which
 * includes no libuv header. */
SIO_STATIC_ASSERT(SIO_VERSION_NUMBER >= 400, "sio_server_create_on_loop needs 0.4.0");
int (*header_check_create_on_loop)(sio_server_t **, struct uv_loop_s *, const sio_options_t *) =
    sio_server_create_on_loop;

int header_check(void);
int header_check(void) {
    sio_error_t code = SIO_ETIMEOUT;
    sio_log_level_t level = SIO_LOG_DEBUG;
    sio_option_t key = SIO_OPT_LOOP_BALANCING;
    sio_buffer_t buffer = {NULL, 0};
    (void)buffer;
    return (int)code + (int)level + (int)key;
}
