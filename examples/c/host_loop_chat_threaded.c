/* host_loop_chat_threaded.c: host_loop_chat.c as a host with its own libuv loop had to write it before
 * sio_server_create_on_loop: the server runs on a thread of its own (sio_server_start), and everything the host
 * loop wants of it crosses threads. Kept as the baseline the README's comparison measures; same behaviour, same
 * command line, same tests.
 *
 *   host_loop_chat_threaded [--port 3000] [--host 0.0.0.0] [--roll-call SECONDS]
 *
 * What the second thread costs: the roll call ([LOOP] functions: sio_socket_emit_with_ack) must be posted to the
 * server's thread (sio_server_post) and its tally is made there; the user list is touched on that thread only, so
 * the host's timer cannot read it; stopping must not block the host loop, so the server is stopped, waited for on
 * a third thread, and the host loop is told (uv_async_t) when it may close its handles and free the server.
 *
 * Build:  cc host_loop_chat_threaded.c $(pkg-config --cflags --libs sio) -luv -lpthread -o host_loop_chat_threaded
 */
#define _POSIX_C_SOURCE 200809L /* uv.h needs POSIX types under -std=c11 */
#include <pthread.h>
#include <signal.h>
#include <sio.h>
#include <uv.h>

#include "roll_call_chat.h"

static uv_loop_t loop;
static uv_async_t server_ended;
static pthread_t stopper;
static sio_server_t *server;

/* Posted by the host's timer: runs on the server's thread, where the users and the [LOOP] functions are. */
static void roll_call_on_server_thread(sio_server_t *s, void *ud) {
    (void)s, (void)ud;
    ask_everyone();
}

static void roll_call(uv_timer_t *timer) {
    (void)timer;
    sio_server_post(server, roll_call_on_server_thread, NULL);
}

/* Stopping waits for the server's thread; the host loop must keep running meanwhile, so a third thread waits. */
static void *stop_and_wait(void *arg) {
    (void)arg;
    sio_server_stop(server);
    sio_server_wait(server);
    uv_async_send(&server_ended);
    return NULL;
}

static void on_server_ended(uv_async_t *async) {
    pthread_join(stopper, NULL);
    sio_server_destroy(server);
    uv_close((uv_handle_t *)async, NULL);
    close_program_handles();
}

static void on_signal(uv_signal_t *signal, int signum) {
    printf("signal %d: stopping\n", signum);
    fflush(stdout);
    uv_signal_stop(&sigint);
    uv_signal_stop(&sigterm);
    (void)signal;
    if (pthread_create(&stopper, NULL, stop_and_wait, NULL) != 0) abort();
}

int main(int argc, char **argv) {
    long port, seconds;
    const char *host;
    read_command_line(argc, argv, &port, &host, &seconds);
    uv_loop_init(&loop);
    /* The server's thread must not take the stop signals: they are the host loop's (uv_signal_t). */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int rc = sio_server_create(&server, NULL);
    if (!serve_chat(server, rc, host, port)) return 1;
    if (sio_server_start(server) != SIO_OK) return 1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    uv_async_init(&loop, &server_ended, on_server_ended);
    start_program_handles(&loop, roll_call, seconds, on_signal);
    printf("listening on *:%d\n", sio_server_port(server));
    fflush(stdout);

    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0 ? 0 : 1;
}
