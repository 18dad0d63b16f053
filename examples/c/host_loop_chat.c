/* host_loop_chat.c: the tutorial's chat served inside the program's own libuv loop (sio_server_create_on_loop):
 * one thread, the program's and the library's callbacks all on it, no lock anywhere.
 *
 *   host_loop_chat [--port 3000] [--host 0.0.0.0] [--roll-call SECONDS]
 *
 * The program's own parts of its loop: a timer that every SECONDS (10) asks every user "roll call" with an
 * acknowledgement and then tells everyone "[server] N of M here"; SIGINT / SIGTERM through uv_signal_t, which stop
 * the server gracefully, close the program's handles and let uv_run return. GET / serves the chat page; every
 * "chat message" is relayed to everyone. host_loop_chat_threaded.c is the same program with the server on a
 * thread of its own (sio_server_create + sio_server_start), as hosts had to write it before.
 *
 * Build:  cc host_loop_chat.c $(pkg-config --cflags --libs sio) -luv -o host_loop_chat
 */
#define _POSIX_C_SOURCE 200809L /* uv.h needs POSIX types under -std=c11 */
#include <sio.h>
#include <uv.h>

#include "roll_call_chat.h"

static uv_loop_t loop;
static sio_server_t *server;

/* The program's timer: the roll call is made right here, on the loop's thread. */
static void roll_call(uv_timer_t *timer) {
    (void)timer;
    ask_everyone();
}

static void on_signal(uv_signal_t *signal, int signum) {
    (void)signal;
    printf("signal %d: stopping\n", signum);
    fflush(stdout);
    sio_server_destroy(server);  /* on the loop thread: the server says goodbye and leaves the loop by itself */
    close_program_handles();
}

int main(int argc, char **argv) {
    long port, seconds;
    const char *host;
    read_command_line(argc, argv, &port, &host, &seconds);
    uv_loop_init(&loop);
    int rc = sio_server_create_on_loop(&server, &loop, NULL);
    if (!serve_chat(server, rc, host, port)) return 1;
    start_program_handles(&loop, roll_call, seconds, on_signal);
    printf("listening on *:%d\n", sio_server_port(server));
    fflush(stdout);

    uv_run(&loop, UV_RUN_DEFAULT);  /* returns once the server and the handles above have closed */
    return uv_loop_close(&loop) == 0 ? 0 : 1;
}
