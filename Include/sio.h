/*
 * sio.h — a Socket.IO server (Engine.IO v4, Socket.IO v5) for C and every language that can call C.
 *
 * The engine speaks the same wire protocol as Node's `socket.io` 4.x, so every official client connects unchanged.
 * It runs on a libuv loop owned by the server, on its own thread (`sio_server_start`) or on yours (`sio_server_run`),
 * and with SIO_OPT_LOOPS on more loops of its own, one thread each, behind the same port (see LOOPS below); or
 * inside a libuv loop your program owns and runs, on that loop's thread (`sio_server_create_on_loop`, HOST LOOP).
 *
 * CONVENTIONS
 *   Errors      Functions return `int`: 0 (SIO_OK) on success, a negative SIO_E* code otherwise; `sio_strerror()`
 *               and `sio_err_name()` describe a code. Nothing you pass can crash the library: bad arguments, NULL
 *               handles, stale sockets and invalid JSON return an error.
 *   Threads     Every callback runs on the server's loop thread. Functions marked [LOOP] must be called on that
 *               thread (inside a callback, or in a function given to `sio_server_post`), or before the server is
 *               started; elsewhere they return SIO_ETHREAD. Functions marked [ANY THREAD] may be called from any
 *               thread: off the loop thread their work is queued to the loop and they return SIO_OK once queued
 *               (errors found later, such as a socket that has gone, are then silent). A host that calls
 *               sio_server_run on a thread of its own must not make [LOOP] calls from other threads once it
 *               did: between that call and the loop's start, use sio_server_post.
 *   Memory      Pointers passed INTO callbacks are borrowed for the duration of the callback: copy what you keep.
 *               Strings you pass are copied before the call returns. Destructors accept NULL. Memory returned
 *               with "free with sio_free" is yours.
 *   JSON        Event arguments are a JSON array in UTF-8 (`["hello",{"n":1}]`), given as bytes and a length.
 *               Binary values travel as attachments: the JSON holds placeholders `{"_placeholder":true,"num":N}`
 *               and `sio_buffer_t` N holds the bytes (exactly what the Socket.IO wire format does).
 *   Sockets     A `sio_socket_t *` is a handle, not memory: it stays safe to pass after the socket disconnected
 *               (calls then return SIO_ECLOSED). Strings a socket returns (id, namespace, headers) live until its
 *               disconnect callback has returned.
 *   Signals     Creating the first server sets SIGPIPE to ignored when it is at its default (as Node does): a peer
 *               that resets its connection while the server writes to it must not kill your process. A handler you
 *               installed before is left alone (it then sees those SIGPIPEs); the library never blocks or raises
 *               signals otherwise.
 *   Loops       With SIO_OPT_LOOPS = N > 1 the server has N loops: the first is the one sio_server_run or
 *               sio_server_start runs, the others start, stop and end with it. Each connection lives on one loop
 *               for its whole life (clients never notice which: no sticky sessions). Then:
 *               - "the loop thread" of a callback is the loop of the socket (or request) it is about, so
 *                 callbacks for different sockets run AT THE SAME TIME on different threads. Data your callbacks
 *                 share (the `user_data` you registered once, globals) must be thread-safe: a mutex or atomics.
 *                 Per-socket data (sio_socket_set_user_data) is touched on that socket's loop only.
 *               - [LOOP] functions on a server or namespace may be called on any of the server's loop threads
 *                 and act for that loop: a broadcast from any loop reaches the sockets of every loop, rooms span
 *                 the loops, handlers registered once apply to every loop. [LOOP] functions on a socket (and
 *                 its acks) must be called on the socket's own loop; its [ANY THREAD] functions are queued there.
 *               - sio_server_post runs its function on the first loop. Server-side events (Redis) arrive, and
 *                 sio_namespace_server_side_emit_with_ack's callback runs, on the first loop.
 *               With N = 1 (the default) there is one loop and all of this reduces to "the loop thread".
 */
#ifndef SIO_H
#define SIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------- */
/* Version                                                                                                          */

#define SIO_VERSION_MAJOR 0
#define SIO_VERSION_MINOR 5
#define SIO_VERSION_PATCH 0
#define SIO_VERSION_STRING "0.5.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH. Compare with sio_version_number() to check header against library.
 * A minor version only adds: a program built against 0.1 runs unchanged on 0.2 (same SONAME, libsio.so.0).
 *   0.5.0  SIO_OPT_REDIS_SHARDED_URL and SIO_OPT_REDIS_SHARDED_MODE (the sharded pub/sub adapter, Redis 7).
 *   0.4.0  sio_server_create_on_loop (a server inside the host's own libuv loop, on its thread; HOST LOOP below),
 *          SIO_OPT_METRICS and SIO_OPT_METRICS_PATH (Prometheus metrics on the server's port),
 *          sio_server_instrument and SIO_OPT_ADMIN_* (the admin UI's server side, see ADMIN UI below).
 *   0.3.0  SIO_OPT_LOOPS and SIO_OPT_LOOP_BALANCING (several loops behind one port; CONVENTIONS, Loops),
 *          SIO_OPT_PARSER (the msgpack parser), SIO_OPT_ALLOW_EIO3 (Engine.IO v3 / Socket.IO 2.x clients),
 *          SIO_OPT_REDIS_STREAMS_* (the Redis streams adapter),
 *          sio_server_loop_count, sio_server_in_loop, sio_socket_loop_index, sio_socket_in_loop, sio_socket_post,
 *          HTTPS and WSS (see TLS below): SIO_OPT_TLS_CERT_FILE, SIO_OPT_TLS_KEY_FILE, SIO_OPT_TLS_KEY_PASSWORD,
 *          SIO_OPT_TLS_CERT_PEM, SIO_OPT_TLS_KEY_PEM, SIO_OPT_TLS_HANDSHAKE_TIMEOUT,
 *          sio_options_add_tls_certificate, sio_server_listen_plain, sio_server_reload_tls,
 *          sio_server_on_tls_error.
 *   0.2.0  sio_server_on_connection_error, sio_namespace_on_room_event, sio_namespace_sockets_join,
 *          sio_namespace_sockets_leave, sio_namespace_disconnect_sockets, sio_namespace_fetch_sockets,
 *          sio_socket_transport, sio_namespace_server_side_emit, sio_namespace_server_side_emit_with_ack,
 *          sio_namespace_on_server_side_emit, sio_server_ack_send.
 *   0.1.0  the first release. */
#define SIO_VERSION_NUMBER (SIO_VERSION_MAJOR * 10000 + SIO_VERSION_MINOR * 100 + SIO_VERSION_PATCH)

/* The library's version, "MAJOR.MINOR.PATCH". Static string. [ANY THREAD] */
const char *sio_version(void);
/* The library's SIO_VERSION_NUMBER. [ANY THREAD] */
int sio_version_number(void);

/* ---------------------------------------------------------------------------------------------------------------- */
/* Errors                                                                                                           */

#define SIO_ERRNO_MAP(XX)                                                                                         \
    XX(OK, 0, "success")                                                                                          \
    XX(EINVAL, -1, "invalid argument")                                                                            \
    XX(ESTATE, -2, "not possible in the current state")                                                           \
    XX(ECLOSED, -3, "socket disconnected or server stopped")                                                      \
    XX(EJSON, -4, "arguments are not a valid JSON array, or placeholders do not match the attachments")           \
    XX(ELISTEN, -5, "cannot listen on that address")                                                              \
    XX(ETHREAD, -6, "must be called on the server's loop thread")                                                 \
    XX(ETIMEOUT, -7, "operation has timed out")                                                                   \
    XX(ENOMEM, -8, "out of memory")                                                                               \
    XX(EINTERNAL, -9, "internal error")

typedef enum {
#define SIO_XX(name, code, text) SIO_##name = code,
    SIO_ERRNO_MAP(SIO_XX)
#undef SIO_XX
} sio_error_t;

/* A sentence for an error code ("unknown error" for others). Static string. [ANY THREAD] */
const char *sio_strerror(int err);
/* The code's name, e.g. "SIO_EINVAL". Static string. [ANY THREAD] */
const char *sio_err_name(int err);

/* Frees memory the library returned with "free with sio_free". NULL is a no-op. [ANY THREAD] */
void sio_free(void *ptr);

/* ---------------------------------------------------------------------------------------------------------------- */
/* Logging                                                                                                          */

typedef enum { SIO_LOG_ERROR = 0, SIO_LOG_WARN = 1, SIO_LOG_INFO = 2, SIO_LOG_DEBUG = 3 } sio_log_level_t;

/* Receives the engine's log lines. `component` is like the reference's debug names ("engine", "socket.io:server");
 * both strings are borrowed. May be called on any server's loop thread (and on yours during setup). */
typedef void (*sio_log_cb)(int level, const char *component, const char *message, void *user_data);

/* Routes logs to `cb` (NULL restores stderr). Call before creating servers. */
void sio_set_log_callback(sio_log_cb cb, void *user_data);
/* Lines at or below `level` are written (default SIO_LOG_ERROR). `SIO_DEBUG=engine,socket.io*` in the environment
 * (or `DEBUG`) turns on debug lines for matching components. Call before creating servers. */
void sio_set_log_level(int level);

/* ---------------------------------------------------------------------------------------------------------------- */
/* Options                                                                                                          */

typedef struct sio_options_s sio_options_t;

/* Option keys. The comment gives the setter to use, the default, and the reference server's name. */
typedef enum {
    SIO_OPT_PATH = 1,                   /* string, "/socket.io/"                         (path) */
    SIO_OPT_PING_INTERVAL = 2,          /* uint ms, 25000                                (pingInterval) */
    SIO_OPT_PING_TIMEOUT = 3,           /* uint ms, 20000                                (pingTimeout) */
    SIO_OPT_UPGRADE_TIMEOUT = 4,        /* uint ms, 10000                                (upgradeTimeout) */
    SIO_OPT_MAX_HTTP_BUFFER_SIZE = 5,   /* uint bytes, 1000000                           (maxHttpBufferSize) */
    SIO_OPT_TRANSPORTS = 6,             /* string, "polling,websocket"                   (transports) */
    SIO_OPT_ALLOW_UPGRADES = 7,         /* bool, true                                    (allowUpgrades) */
    SIO_OPT_CORS_ORIGIN = 8,            /* string, unset = CORS off; "*" any origin; "reflect" echo the origin;
                                           else a comma-separated list of allowed origins (cors.origin) */
    SIO_OPT_CORS_CREDENTIALS = 9,       /* bool, false                                   (cors.credentials) */
    SIO_OPT_COOKIE = 10,                /* string cookie name, unset = no cookie         (cookie) */
    SIO_OPT_HTTP_COMPRESSION_THRESHOLD = 11, /* uint bytes, 1024; 0 turns compression off (httpCompression) */
    SIO_OPT_CONNECT_TIMEOUT = 12,       /* uint ms, 45000                                (connectTimeout) */
    SIO_OPT_MAX_ATTACHMENTS = 13,       /* uint, 10 binary attachments per packet */
    SIO_OPT_RECOVERY = 14,              /* bool, false                                   (connectionStateRecovery) */
    SIO_OPT_RECOVERY_MAX_DISCONNECTION = 15, /* uint ms, 120000                          (maxDisconnectionDuration) */
    SIO_OPT_RECOVERY_SKIP_MIDDLEWARES = 16,  /* bool, true                               (skipMiddlewares) */
    SIO_OPT_MAX_BUFFERED_BYTES = 17,    /* uint bytes, 16 MiB undelivered to a client that does not read (queued
                                           here, and over WebSocket also held by the kernel unacknowledged) */
    SIO_OPT_REDIS_URL = 18,             /* string "redis://host:port[/db]", unset = this server alone; set: rooms,
                                           broadcasts, fetchSockets... span every server on that Redis, wire-
                                           compatible with Node's @socket.io/redis-adapter 8 (docs/REDIS.md) */
    SIO_OPT_REDIS_KEY = 19,             /* string, "socket.io"                           (redis-adapter key) */
    SIO_OPT_REDIS_REQUESTS_TIMEOUT = 20, /* uint ms, 5000                                (requestsTimeout) */
    SIO_OPT_PER_MESSAGE_DEFLATE = 21,   /* bool, false: WebSocket compression (RFC 7692) for clients that offer it,
                                           without context takeover                     (perMessageDeflate) */
    SIO_OPT_PER_MESSAGE_DEFLATE_THRESHOLD = 22, /* uint bytes, 1024: smaller messages are sent uncompressed */
    SIO_OPT_LOOPS = 23,                 /* uint, 1: event loops (threads) serving the server; 0 = one per core; at
                                           most 64. Since 0.3.0; read the Loops rules above before going past 1 */
    SIO_OPT_LOOP_BALANCING = 24,        /* string, "reuseport": how new connections are spread over the loops:
                                           "reuseport" (every loop listens, SO_REUSEPORT: the kernel picks) or
                                           "round-robin" (the first loop accepts and hands them out in turn; always
                                           so for sio_server_listen_fd). Since 0.3.0 */
    SIO_OPT_ALLOW_EIO3 = 25,            /* bool, false: also serve Engine.IO v3 / Socket.IO 2.x clients (EIO=3 or
                                           no EIO; JSONP polling), with the reference's rules for them: in "/"
                                           from the start, socket ids "/nsp#<engine id>", CONNECT_ERROR with the
                                           error's data alone (allowEIO3). Since 0.3.0 */
    SIO_OPT_PARSER = 26,                /* string, "json": how packets are encoded (parser): "json" (the reference's
                                           default) or "msgpack" (socket.io-msgpack-parser 3.0); every client of
                                           the server must use the same. Arguments reach callbacks as JSON plus
                                           sio_buffer_t attachments either way. Since 0.3.0 */
    /* The sharded pub/sub adapter (docs/REDIS.md), wire-compatible with Node's @socket.io/redis-adapter 8.3
       createShardedAdapter: Redis 7 SSUBSCRIBE / SPUBLISH. Not with SIO_OPT_REDIS_URL or SIO_OPT_REDIS_STREAMS_URL
       (sio_server_create answers SIO_EINVAL); SIO_OPT_REDIS_REQUESTS_TIMEOUT and SIO_OPT_REDIS_KEY (its
       channelPrefix) apply. Since 0.5.0 */
    SIO_OPT_REDIS_SHARDED_URL = 27,     /* string "redis://host:port", unset = not used */
    SIO_OPT_REDIS_SHARDED_MODE = 28,    /* string, "dynamic": "static" (2 channels per namespace), "dynamic" (and one
                                           per public room; socket ids of 20 characters, as Node's) or
                                           "dynamic-private" (one per room)           (subscriptionMode) */
    /* The Redis streams adapter (docs/REDIS.md), wire-compatible with Node's @socket.io/redis-streams-adapter
       0.3: a Redis stream carries broadcasts (a node that loses Redis catches up from it) and, with
       SIO_OPT_RECOVERY, sessions are kept in Redis so a client recovers on any node. Not with SIO_OPT_REDIS_URL
       (sio_server_create answers SIO_EINVAL when both are set); SIO_OPT_REDIS_REQUESTS_TIMEOUT applies. */
    SIO_OPT_REDIS_STREAMS_URL = 30,     /* string "redis://host:port", unset = not used. Since 0.3.0 */
    SIO_OPT_REDIS_STREAMS_NAME = 31,    /* string, "socket.io"                           (streamName) */
    SIO_OPT_REDIS_STREAMS_COUNT = 32,   /* uint, 1: streams the namespaces are spread over (streamCount) */
    SIO_OPT_REDIS_STREAMS_MAXLEN = 33,  /* uint, 10000: entries a stream keeps, MAXLEN ~ (maxLen) */
    SIO_OPT_REDIS_STREAMS_READ_COUNT = 34, /* uint, 100: entries per XREAD              (readCount) */
    SIO_OPT_REDIS_STREAMS_BLOCK_TIME = 35, /* uint ms, 5000: how long an XREAD blocks    (blockTimeInMs) */
    SIO_OPT_REDIS_STREAMS_CHANNEL_PREFIX = 36, /* string, "socket.io"                    (channelPrefix) */
    SIO_OPT_REDIS_STREAMS_SESSION_PREFIX = 37, /* string, "sio:session:"                 (sessionKeyPrefix) */
    SIO_OPT_REDIS_STREAMS_HEARTBEAT_INTERVAL = 38, /* uint ms, 5000                      (heartbeatInterval) */
    SIO_OPT_REDIS_STREAMS_HEARTBEAT_TIMEOUT = 39,  /* uint ms, 10000: a node silent this long is taken for dead
                                                      by requests waiting for it        (heartbeatTimeout) */
    /* TLS (HTTPS and WSS), since 0.3.0. With a certificate and its key set, sio_server_listen and
     * sio_server_listen_fd serve TLS (sio_server_listen_plain does not). Paths are copied by the setter; the FILES
     * ARE READ by the first listen that uses TLS (a bad certificate or key fails it with SIO_ELISTEN and an
     * error log line naming the file and OpenSSL's reason) and again by sio_server_reload_tls. PEM text is copied
     * by the setter. An empty string unsets. Policy, not options: TLS 1.2 and 1.3 only, the system's default
     * cipher policy (OpenSSL's configuration), ALPN "http/1.1", renegotiation off, no server-side session cache
     * (resumption by stateless tickets); after the handshake the engine protects records itself for the AEAD
     * suites and frees OpenSSL's per-connection state (an idle TLS connection then costs about 0.6 KB more than a
     * plain one, instead of about 15 KB). */
    SIO_OPT_TLS_CERT_FILE = 40,         /* string path: the certificate chain, PEM, the server's certificate first
                                           and then the intermediates (fullchain.pem) */
    SIO_OPT_TLS_KEY_FILE = 41,          /* string path: its private key, PEM (PKCS#8, PKCS#1 or SEC1) */
    SIO_OPT_TLS_KEY_PASSWORD = 42,      /* string: the key's password when it is encrypted; never prompted for */
    SIO_OPT_TLS_CERT_PEM = 43,          /* string: the certificate chain as PEM text, instead of a file */
    SIO_OPT_TLS_KEY_PEM = 44,           /* string: the private key as PEM text, instead of a file */
    SIO_OPT_TLS_HANDSHAKE_TIMEOUT = 45, /* uint ms, 10000: a client must complete its TLS handshake this long after
                                           its connection was accepted, or the connection is closed (and reported
                                           to sio_server_on_tls_error) */
    /* Prometheus metrics (text exposition format 0.0.4) on the server's own port, answered on the loop that got
     * the request after every loop gave its counts through its submit queue (docs/OBSERVABILITY.md lists them).
     * Counting is always on and costs a few plain per-loop increments; these options only serve it. Since 0.4.0. */
    SIO_OPT_METRICS = 46,               /* bool, false: serve GET SIO_OPT_METRICS_PATH */
    SIO_OPT_METRICS_PATH = 47,          /* string, "/metrics": an exact path outside SIO_OPT_PATH */
    /* The admin UI (@socket.io/admin-ui 0.5), read by sio_server_instrument only (not by sio_server_create).
     * Since 0.4.0. */
    SIO_OPT_ADMIN_NAMESPACE = 48,       /* string, "/admin": the namespace the UI connects to (not "/") (namespaceName) */
    SIO_OPT_ADMIN_USERNAME = 49,        /* string, unset = no authentication: with SIO_OPT_ADMIN_PASSWORD_HASH, the
                                           UI's basic authentication (auth: {type: "basic", username, password}) */
    SIO_OPT_ADMIN_PASSWORD_HASH = 50,   /* string: the password's bcrypt hash ($2a$, $2b$ or $2y$), checked with
                                           libxcrypt off the loop thread; the plain password is never stored */
    SIO_OPT_ADMIN_READONLY = 51,        /* bool, false: the UI may not emit, join, leave or disconnect (readonly) */
    SIO_OPT_ADMIN_SERVER_ID = 52,       /* string, the host name: this server among the UI's servers (serverId) */
    SIO_OPT_ADMIN_MODE = 53             /* string, "development" (every socket, room change and event reach the
                                           UI) or "production" (the 2-second stats only) (mode) */
} sio_option_t;

/* A new options object with the defaults, or NULL when out of memory. Free with sio_options_free. [ANY THREAD] */
sio_options_t *sio_options_new(void);
/* NULL is a no-op. [ANY THREAD] */
void sio_options_free(sio_options_t *options);
/* Typed setters: SIO_EINVAL for a NULL object, an unknown key, a key of another type, or a value out of range. */
int sio_options_set_uint(sio_options_t *options, sio_option_t key, uint64_t value);
int sio_options_set_bool(sio_options_t *options, sio_option_t key, bool value);
/* `value` is copied. */
int sio_options_set_string(sio_options_t *options, sio_option_t key, const char *value);
/* SNI: one more certificate chain and key (PEM files, read when the default certificate's are, see
 * SIO_OPT_TLS_CERT_FILE), served to clients whose SNI host name it covers (its subject alternative names,
 * wildcards included); certificates are tried in the order added, after the default one (SIO_OPT_TLS_CERT_*),
 * which serves every other client. `key_password` may be NULL. Strings are copied. At most 64. Since 0.3.0.
 * [ANY THREAD] */
int sio_options_add_tls_certificate(sio_options_t *options, const char *cert_file, const char *key_file,
                                    const char *key_password);

/* ---------------------------------------------------------------------------------------------------------------- */
/* Server                                                                                                           */

typedef struct sio_server_s sio_server_t;
typedef struct sio_namespace_s sio_namespace_t;
typedef struct sio_socket_s sio_socket_t;

/* Creates a server (not yet listening). `options` is copied; NULL means defaults. On success `*out` is the server:
 * destroy it with sio_server_destroy. [ANY THREAD] */
int sio_server_create(sio_server_t **out, const sio_options_t *options);

/* HOST LOOP — a server inside a libuv loop your program owns and runs (a server on libuv, an editor, a game loop),
 * on that loop's thread: no thread of the library's, every callback on your loop's thread. Since 0.4.0.
 *
 * Creates the server on `loop` (a `uv_loop_t *`; sio.h does not include uv.h). Call it on the thread that runs (or
 * will run) `loop`: from then on that thread is the server's loop thread, for every rule of this header ([LOOP]
 * functions there, inside your own libuv callbacks too; [ANY THREAD] functions and sio_server_post from others).
 * The server runs as soon as `loop` does: listen and register callbacks, then run `loop` as you do anyway
 * (sio_server_run and sio_server_start return SIO_ESTATE). It keeps its sockets, timers and state on a libuv loop
 * of its own, embedded in yours: on `loop` it adds four handles (a uv_poll_t on its loop's epoll descriptor, a
 * uv_timer_t, a uv_prepare_t and a uv_check_t; only the poll keeps `loop` alive) and never touches anything else
 * of yours (`loop->data`, your handles, uv_walk stay yours). Its turns are short (they do not block), so your
 * loop's other handles are served between them. `options` as for sio_server_create, except SIO_OPT_LOOPS, which
 * must stay 1 (SIO_EINVAL otherwise, 0 included: more loops would be threads; for more cores make one host loop
 * per thread, each with its own server, or use sio_server_create). SIO_EINVAL for a NULL `loop`, SIO_EINTERNAL
 * where libuv cannot embed a loop (platforms without epoll/kqueue).
 *
 * Lifetime, in this order:
 *   1. sio_server_stop (any thread) stops gracefully, as always: clients are told, the disconnect callbacks run on
 *      the loop thread during the next iterations of `loop`, connections close once written (at most 2 s). When
 *      everything is closed the server removes its handles from `loop`: from then on nothing of it is there.
 *   2. sio_server_destroy frees it. On the loop thread (also inside a callback, yours or the library's) it stops
 *      the server if needed and returns at once; the memory is freed in a later iteration of `loop`, when the last
 *      handle closed, so keep running `loop`. On another thread it stops the server and waits until the loop
 *      thread has finished the stop (so `loop` must keep running). sio_server_wait (not on the loop thread) waits
 *      for the end of a stop likewise.
 *   3. Close your own handles and run `loop` until uv_run returns (UV_RUN_DEFAULT returns once nothing is active:
 *      the server's handles are then closed too); then uv_loop_close(loop) returns 0.
 * Never close or free `loop` while a server made on it exists (uv_loop_close would return UV_EBUSY), and do not
 * uv_close the server's handles yourself (e.g. from a uv_walk over `loop`: skip handles you did not make). If you
 * stop running `loop` (uv_stop) the server simply waits: nothing of it runs until `loop` runs again. */
struct uv_loop_s; /* libuv's uv_loop_t */
int sio_server_create_on_loop(sio_server_t **out, struct uv_loop_s *loop, const sio_options_t *options);

/* Listens on `host` ("0.0.0.0", "127.0.0.1", "::") and `port` (0 picks a free one, see sio_server_port). May be
 * called again to listen on more addresses. With the SIO_OPT_TLS_* options set, the address speaks HTTPS and WSS
 * (the certificate files are read by the first such call). SIO_ELISTEN when the address cannot be used, or the
 * certificate or key cannot (the error log line names the file and says why). [LOOP] */
int sio_server_listen(sio_server_t *server, const char *host, uint16_t port);
/* As sio_server_listen, but plain HTTP whatever the TLS options say: plain and TLS listeners side by side (e.g.
 * a plain port for a local health check). sio_server_port still reports the first listener. Since 0.3.0. [LOOP] */
int sio_server_listen_plain(sio_server_t *server, const char *host, uint16_t port);
/* Listens on an already bound TCP socket `fd` (for example one inherited from a supervisor), with TLS when the
 * options say so. On success the server owns `fd` and closes it when it stops. [LOOP] */
int sio_server_listen_fd(sio_server_t *server, int fd);
/* ADMIN UI. Serves the official admin UI (https://admin.socket.io, or @socket.io/admin-ui's own page) as the
 * reference's instrument(io, options) does, reading `options`' SIO_OPT_ADMIN_* (NULL: the defaults, no
 * authentication): the admin namespace (refusing wrong credentials with "invalid credentials" and handing the UI a
 * session id to reconnect with), `config`, `server_stats` every 2 s, in development mode every socket, room
 * change and event, and the UI's commands (emit, join, leave, disconnect) on every loop and, with a Redis
 * adapter, every node. The hosted UI is another origin and connects with credentials: set SIO_OPT_CORS_ORIGIN
 * "https://admin.socket.io" and SIO_OPT_CORS_CREDENTIALS (docs/OBSERVABILITY.md). Call once (again: SIO_OK, no
 * change), before sio_server_run / sio_server_start or on a loop thread. `options` is only read during the call.
 * SIO_EINVAL for a username without a hash (or the reverse), a hash that is not bcrypt, or a bad namespace.
 * Since 0.4.0. [LOOP] */
int sio_server_instrument(sio_server_t *server, const sio_options_t *options);

/* The port of the first listener, or a negative error (SIO_ESTATE when not listening). [ANY THREAD] */
int sio_server_port(const sio_server_t *server);

/* Runs the loop on the calling thread until sio_server_stop. SIO_ESTATE if already running or stopped. */
int sio_server_run(sio_server_t *server);
/* Runs the loop on a new thread and returns. SIO_ESTATE if already running or stopped. [ANY THREAD] */
int sio_server_start(sio_server_t *server);
/* Stops gracefully: every socket is disconnected ("server shutting down"), connections are closed once their
 * output is written (at most 2 s), then sio_server_run returns / the thread ends. Repeated calls return SIO_OK.
 * From the moment it is called, what clients send is no longer handed to event and ack callbacks (a loop still
 * busy with a burst of their packets drops the rest instead of running every handler first); callbacks already
 * running finish, and the disconnect callbacks still come, on the loop thread.
 * [ANY THREAD] — but not async-signal-safe (it takes a lock and allocates): from a signal, wake a thread that calls
 * it (sigwait, a self-pipe), as examples/c/chat_server.c does. */
int sio_server_stop(sio_server_t *server);
/* Waits for the thread started by sio_server_start to end (after sio_server_stop). SIO_ETHREAD on the loop
 * thread. */
int sio_server_wait(sio_server_t *server);
/* Stops the server if running, waits for it, and frees it with every namespace and socket handle. NULL is a no-op.
 * Called from inside a callback, the server stops and is freed when its loop has ended; the handle must not be
 * used again either way. */
void sio_server_destroy(sio_server_t *server);

/* Runs `fn(server, user_data)` on the loop thread soon (the first loop, with several): the way to use [LOOP]
 * functions from another thread. SIO_ECLOSED (and `fn` never runs) once the server is stopping. [ANY THREAD] */
typedef void (*sio_task_cb)(sio_server_t *server, void *user_data);
int sio_server_post(sio_server_t *server, sio_task_cb fn, void *user_data);

/* TLS ----------------------------------------------------------------------------------------------------------
 * Reloads the certificates without a restart (a renewed certificate): with `options` NULL, the files named by the
 * server's TLS options are read again (PEM text given is reused); with `options`, its TLS settings (SIO_OPT_TLS_*,
 * sio_options_add_tls_certificate) replace the server's, and its other settings are ignored; `options` is not
 * kept. Files are read on the calling thread. New connections get the new certificates; connections already open
 * keep theirs. SIO_EINVAL, with the current certificates kept and an error log line naming the file and
 * OpenSSL's reason, when they cannot be used; SIO_ESTATE with `options` NULL before any TLS listener exists.
 * Since 0.3.0. [ANY THREAD] */
int sio_server_reload_tls(sio_server_t *server, const sio_options_t *options);

typedef enum {
    SIO_TLS_HANDSHAKE_FAILED = 0,   /* not TLS (plain HTTP gets a plain 400), a refused protocol version, garbage,
                                       or the client rejected the certificate (an alert: "tlsv1 alert unknown ca") */
    SIO_TLS_HANDSHAKE_TIMEOUT = 1,  /* not complete within SIO_OPT_TLS_HANDSHAKE_TIMEOUT */
    SIO_TLS_HANDSHAKE_CLOSED = 2    /* the client closed its connection during the handshake */
} sio_tls_error_kind_t;
/* A client whose TLS handshake did not complete (Node's tlsClientError): its connection was closed, nothing else
 * was disturbed. `kind` is a sio_tls_error_kind_t, `reason` OpenSSL's reason ("wrong version number", "http
 * request") or what happened, `remote_address` the client's address; strings borrowed for the call. A connection
 * closed before sending a byte (a port probe) is not reported. Runs on the loop of the connection: with several
 * loops, on several threads at once. NULL removes it. Since 0.3.0. [ANY THREAD] */
typedef void (*sio_tls_error_cb)(sio_server_t *server, int kind, const char *reason, const char *remote_address,
                                 void *user_data);
int sio_server_on_tls_error(sio_server_t *server, sio_tls_error_cb cb, void *user_data);

/* How many loops serve the server (SIO_OPT_LOOPS resolved: 0 became the number of cores). Since 0.3.0.
 * [ANY THREAD] */
int sio_server_loop_count(const sio_server_t *server);
/* True when the calling thread is one of the server's loop threads: [LOOP] functions on the server and its
 * namespaces may be called here. Since 0.3.0. [ANY THREAD] */
bool sio_server_in_loop(const sio_server_t *server);

/* Plain HTTP requests outside the Socket.IO path (to serve a page), and the client bundle's paths under it
 * (`/socket.io/socket.io.js`, `.min.js`, `.map`, as the reference's serveClient): answer with sio_http_respond, exactly once,
 * during the callback. `method` and `path` (path and query) are borrowed. Without a handler such requests get 404. */
typedef struct sio_http_request_s sio_http_request_t;
typedef void (*sio_http_cb)(sio_server_t *server, sio_http_request_t *request, const char *method, const char *path,
                            void *user_data);
int sio_server_on_http_request(sio_server_t *server, sio_http_cb cb, void *user_data); /* [LOOP] */
/* During a sio_http_cb, sio_allow_request_cb or sio_connection_error_cb: a request header (any case) or NULL, and
 * the request target (path and query). Strings live until the callback returns. */
const char *sio_http_request_header(sio_http_request_t *request, const char *name);
const char *sio_http_request_url(sio_http_request_t *request);

/* Decides whether a handshake may open a session, before any namespace is involved (the reference's
 * allowRequest): return true to accept, false to refuse with HTTP 403 {"code":4,"message":"Forbidden"}. `request`
 * is valid during the callback (read it with sio_http_request_header / sio_http_request_url). NULL removes it. */
typedef bool (*sio_allow_request_cb)(sio_server_t *server, sio_http_request_t *request, void *user_data);
int sio_server_on_allow_request(sio_server_t *server, sio_allow_request_cb cb, void *user_data); /* [LOOP] */

/* Every request the engine refuses with an Engine.IO error code (the reference's `connection_error` event): the way
 * to see why clients cannot connect. `code` is 0 unknown transport, 1 unknown session id (a client still using a
 * session the server forgot: a restart, or a load balancer without sticky sessions), 2 bad handshake method, 3 bad
 * request, 4 forbidden (sio_allow_request_cb refused), 5 unsupported protocol version (an Engine.IO v3 client);
 * `message` is its text ("Session ID unknown"); `context_json` a JSON object with the details, string values, keys
 * as the reference's: {"transport":..}, {"sid":..}, {"method":..}, {"protocol":..}, {"message":..}, or {"name":
 * "TRANSPORT_MISMATCH","transport":..,"previousTransport":..} / {"name":"TRANSPORT_HANDSHAKE_ERROR"}. The request
 * has been answered already (sio_http_respond returns SIO_ESTATE); read it with sio_http_request_header /
 * sio_http_request_url. Everything is borrowed until the callback returns. Runs on the loop thread. NULL removes
 * it. Since 0.2.0. */
typedef void (*sio_connection_error_cb)(sio_server_t *server, sio_http_request_t *request, int code,
                                        const char *message, const char *context_json, void *user_data);
int sio_server_on_connection_error(sio_server_t *server, sio_connection_error_cb cb, void *user_data); /* [LOOP] */

/* `content_type` may be NULL (no header); `body` is copied. [LOOP, inside the sio_http_cb] */
int sio_http_respond(sio_http_request_t *request, int status, const char *content_type, const void *body,
                     size_t body_len);

/* ---------------------------------------------------------------------------------------------------------------- */
/* Arguments                                                                                                        */

/* Binary bytes: an attachment. In callbacks, borrowed. */
typedef struct {
    const uint8_t *data;
    size_t len;
} sio_buffer_t;

/* The arguments of an incoming event or acknowledgement. Borrowed for the duration of the callback. */
typedef struct sio_args_s sio_args_t;

/* The JSON array text (UTF-8, not NUL-terminated: use *len). Never NULL for a valid args. */
const char *sio_args_json(const sio_args_t *args, size_t *len);
/* Number of binary attachments. */
size_t sio_args_binary_count(const sio_args_t *args);
/* The bytes of attachment `index` (placeholder num) and their count in *len; NULL (and *len 0) when out of range. */
const uint8_t *sio_args_binary(const sio_args_t *args, size_t index, size_t *len);

/* ---------------------------------------------------------------------------------------------------------------- */
/* Namespaces                                                                                                       */

/* The namespace `name` ("/" is the main one; created on first use). The handle lives as long as the server.
 * NULL for invalid arguments or a wrong thread. [LOOP] */
sio_namespace_t *sio_server_of(sio_server_t *server, const char *name);
/* The namespace's name. Lives as long as the server. */
const char *sio_namespace_name(const sio_namespace_t *ns);

/* A socket joined the namespace (its CONNECT reply is already queued). Register its handlers here. */
typedef void (*sio_connection_cb)(sio_socket_t *socket, void *user_data);
int sio_namespace_on_connection(sio_namespace_t *ns, sio_connection_cb cb, void *user_data); /* [LOOP] */

/* Room changes of the namespace on this server (the reference adapter's create-room, delete-room, join-room and
 * leave-room events): for presence lists and per-room state. `event` is a sio_room_event_t; `room` and `socket_id`
 * are borrowed during the callback, `socket_id` is NULL for SIO_ROOM_CREATED and SIO_ROOM_DELETED. As in the
 * reference, each socket's own room (named by its id) is reported too: created and joined when the socket connects,
 * left and deleted when it disconnects. Callbacks registered before any socket joins see every change; several may
 * be registered and run in order. A room event callback may join and leave rooms, except for a socket that is
 * disconnecting (ignored). With several loops the callback runs on the loop of the socket concerned, one call at a
 * time across loops (under a lock: do not wait in it for another loop), and sees the process's rooms: a room is
 * created once when its first member anywhere joins and deleted once when its last member leaves. Since 0.2.0. */
typedef enum { SIO_ROOM_CREATED = 0, SIO_ROOM_DELETED = 1, SIO_ROOM_JOINED = 2, SIO_ROOM_LEFT = 3 } sio_room_event_t;
typedef void (*sio_room_event_cb)(sio_namespace_t *ns, int event, const char *room, const char *socket_id,
                                  void *user_data);
int sio_namespace_on_room_event(sio_namespace_t *ns, sio_room_event_cb cb, void *user_data); /* [LOOP] */

/* Middleware: decide whether `socket` may join. Call sio_next exactly once, now or later (from any thread). The
 * socket is not connected yet: you may read its handshake (auth, query, headers) and set its user data. */
typedef struct sio_next_s sio_next_t;
typedef void (*sio_middleware_cb)(sio_socket_t *socket, sio_next_t *next, void *user_data);
int sio_namespace_use(sio_namespace_t *ns, sio_middleware_cb cb, void *user_data); /* [LOOP] */
/* Lets the socket in (`error_message` NULL) or refuses it: the client's connect_error gets `error_message` and,
 * if not NULL, `error_data_json` (a JSON value) as data. Consumes `next`. [ANY THREAD] */
int sio_next(sio_next_t *next, const char *error_message, const char *error_data_json);

/* ---------------------------------------------------------------------------------------------------------------- */
/* Emitting                                                                                                         */

/* Flags for broadcasts. */
#define SIO_BROADCAST_VOLATILE 0x1    /* drop for recipients that cannot take it now */
#define SIO_BROADCAST_LOCAL 0x2       /* this node only (with a cluster adapter) */
#define SIO_BROADCAST_NO_COMPRESS 0x4 /* do not compress */

/* Emits `event` with `args_json` (a JSON array; NULL or "" means no arguments) and `n_binaries` attachments to
 * the sockets of `ns` in any of `rooms` (all sockets when n_rooms is 0), except those in any of `except`.
 * The packet is encoded once for all recipients. SIO_EJSON for invalid arguments. [ANY THREAD] */
int sio_namespace_broadcast(sio_namespace_t *ns, const char *const *rooms, size_t n_rooms, const char *const *except,
                            size_t n_except, unsigned flags, const char *event, const char *args_json,
                            size_t args_len, const sio_buffer_t *binaries, size_t n_binaries);

/* Every socket of `ns`. Shorthand for sio_namespace_broadcast without rooms. [ANY THREAD] */
int sio_namespace_emit(sio_namespace_t *ns, const char *event, const char *args_json, size_t args_len,
                       const sio_buffer_t *binaries, size_t n_binaries);

/* Operations on the sockets of a selection, as the reference's io.in(rooms).except(rooms).socketsJoin /
 * socketsLeave / disconnectSockets / fetchSockets: the sockets of `ns` in any of `rooms` (every socket when n_rooms
 * is 0), except those in any of `except`, on every node of a Redis cluster; `flags` 0, or SIO_BROADCAST_LOCAL for
 * this node only (other flags: SIO_EINVAL). Since 0.2.0. [ANY THREAD] */
/* They join each of `names` (n_names of them). */
int sio_namespace_sockets_join(sio_namespace_t *ns, const char *const *rooms, size_t n_rooms, const char *const *except,
                               size_t n_except, unsigned flags, const char *const *names, size_t n_names);
/* They leave each of `names`. */
int sio_namespace_sockets_leave(sio_namespace_t *ns, const char *const *rooms, size_t n_rooms,
                                const char *const *except, size_t n_except, unsigned flags, const char *const *names,
                                size_t n_names);
/* They are disconnected from `ns` (reason "server namespace disconnect"); with `close`, their connections close too
 * (and with them the clients' other namespaces), as sio_socket_disconnect does. */
int sio_namespace_disconnect_sockets(sio_namespace_t *ns, const char *const *rooms, size_t n_rooms,
                                     const char *const *except, size_t n_except, unsigned flags, bool close);
/* Called exactly once, on the loop thread, unless sio_namespace_fetch_sockets returned an error: `status` 0 and
 * `json` (NUL-terminated, `len` bytes, borrowed) a JSON array of the sockets reached, each as the reference's
 * RemoteSocket {"id":..,"handshake":{..},"rooms":[own id first, ..],"data":{}}. With the Redis adapter, nodes that
 * do not answer within the requests timeout are left out. */
typedef void (*sio_fetch_sockets_cb)(int status, const char *json, size_t len, void *user_data);
int sio_namespace_fetch_sockets(sio_namespace_t *ns, const char *const *rooms, size_t n_rooms,
                                const char *const *except, size_t n_except, unsigned flags, sio_fetch_sockets_cb cb,
                                void *user_data);

/* Events between the servers of a cluster, never seen by clients (the reference's io.serverSideEmit,
 * serverSideEmitWithAck and io.on(event) for them): with the Redis adapter only, SIO_ESTATE otherwise. Arguments
 * are JSON without binary attachments. Since 0.2.0. */
/* Sends `event` with `args_json` (a JSON array, NULL or "" for none) to every other server. [ANY THREAD] */
int sio_namespace_server_side_emit(sio_namespace_t *ns, const char *event, const char *args_json, size_t args_len);
/* Called exactly once, on the loop thread, unless sio_namespace_server_side_emit_with_ack returned an error:
 * `status` 0 when every other server answered, SIO_ETIMEOUT when `timeout_ms` passed first, SIO_ECLOSED when Redis
 * could not be reached; `replies_json` (NUL-terminated, `len` bytes, borrowed) is the JSON array of the answers
 * received, one value per server (null for an answer without a value). */
typedef void (*sio_server_side_ack_cb)(int status, const char *replies_json, size_t len, void *user_data);
/* Like sio_namespace_server_side_emit, asking every other server for an answer (`timeout_ms` > 0). [LOOP] */
int sio_namespace_server_side_emit_with_ack(sio_namespace_t *ns, const char *event, const char *args_json,
                                            size_t args_len, uint32_t timeout_ms, sio_server_side_ack_cb cb,
                                            void *user_data);
/* The answer another server waits for. Send it with sio_server_ack_send, at most once, during the callback or
 * later on the loop thread; an unanswered one is released once the asking server stopped waiting (the Redis
 * requests timeout, 5 s by default). */
typedef struct sio_server_ack_s sio_server_ack_t;
/* Handles `event` coming from the other servers; `args` is borrowed during the callback; `ack` is NULL unless the
 * sender waits for an answer. Several callbacks may be registered for one event; they run in order, on the loop
 * thread, and the first to send answers. [LOOP] */
typedef void (*sio_server_side_event_cb)(sio_namespace_t *ns, const char *event, const sio_args_t *args,
                                         sio_server_ack_t *ack, void *user_data);
int sio_namespace_on_server_side_emit(sio_namespace_t *ns, const char *event, sio_server_side_event_cb cb,
                                      void *user_data);
/* Answers with one JSON value (`value_json`, `len` bytes; NULL or 0 for an answer without a value). Consumes
 * `ack`, even when it returns SIO_EJSON for invalid JSON (then nothing is sent). SIO_EINVAL for an ack already sent
 * or released. [LOOP] */
int sio_server_ack_send(sio_server_ack_t *ack, const char *value_json, size_t len);

/* Called exactly once with the replies of a broadcast with acknowledgements: status 0 when every reached client
 * answered, SIO_ETIMEOUT (with the replies so far) when the timeout expired first, SIO_ECLOSED (with the replies so
 * far) when the server stopped first. `replies` is borrowed. */
typedef void (*sio_broadcast_ack_cb)(int status, const sio_args_t *const *replies, size_t n_replies,
                                     void *user_data);
/* Like sio_namespace_broadcast, waiting at most `timeout_ms` (> 0, else SIO_EINVAL) for every recipient's
 * acknowledgement. [LOOP] */
int sio_namespace_broadcast_with_ack(sio_namespace_t *ns, const char *const *rooms, size_t n_rooms,
                                     const char *const *except, size_t n_except, unsigned flags, const char *event,
                                     const char *args_json, size_t args_len, const sio_buffer_t *binaries,
                                     size_t n_binaries, uint32_t timeout_ms, sio_broadcast_ack_cb cb,
                                     void *user_data);

/* ---------------------------------------------------------------------------------------------------------------- */
/* Sockets                                                                                                          */

/* The getters below return NULL (or false) for a stale handle and off the loop thread alike. */

/* The socket's id (also the name of its own room). [LOOP] */
const char *sio_socket_id(sio_socket_t *socket);
/* The name of its namespace. [LOOP] */
const char *sio_socket_namespace(sio_socket_t *socket);
/* The namespace handle. [LOOP] */
sio_namespace_t *sio_socket_get_namespace(sio_socket_t *socket);
/* True while connected (false before a middleware let it in, and after it left). [LOOP] */
bool sio_socket_connected(sio_socket_t *socket);
/* The auth payload of its CONNECT packet as JSON ("{}" when none); *len gets its length. [LOOP] */
const char *sio_socket_auth(sio_socket_t *socket, size_t *len);
/* A query parameter of its handshake, or NULL. Lives until the socket's disconnect callback returned. [LOOP] */
const char *sio_socket_query(sio_socket_t *socket, const char *name);
/* A header of its handshake (any case), or NULL. Same lifetime. [LOOP] */
const char *sio_socket_header(sio_socket_t *socket, const char *name);
/* The peer's address ("127.0.0.1"). Same lifetime. [LOOP] */
const char *sio_socket_address(sio_socket_t *socket);
/* The transport its connection uses now: "polling" (until an upgrade completes) or "websocket" (the reference's
 * socket.conn.transport.name). A static string; NULL for a stale handle or off the loop thread. Since 0.2.0. [LOOP] */
const char *sio_socket_transport(sio_socket_t *socket);
/* The index of the loop serving the socket, 0 .. sio_server_loop_count() - 1 (always 0 with one loop), or
 * SIO_ECLOSED for a stale handle. A connection stays on its loop for life. Since 0.3.0. [ANY THREAD] */
int sio_socket_loop_index(sio_socket_t *socket);
/* True when the calling thread is the socket's loop thread, where its [LOOP] functions may be called.
 * Since 0.3.0. [ANY THREAD] */
bool sio_socket_in_loop(sio_socket_t *socket);
/* Runs `fn(socket, user_data)` on the socket's loop thread soon (in call order with other work queued there): the
 * way to use a socket's [LOOP] functions from another thread or another loop. SIO_ECLOSED (and `fn` never runs)
 * when the socket has left or the server is stopping; `fn` may still find the socket gone (its calls then return
 * SIO_ECLOSED). Since 0.3.0. [ANY THREAD] */
typedef void (*sio_socket_task_cb)(sio_socket_t *socket, void *user_data);
int sio_socket_post(sio_socket_t *socket, sio_socket_task_cb fn, void *user_data);
/* The rooms it is in (its id room included), as a JSON array of strings in *json_out: free with sio_free.
 * SIO_ECLOSED for a stale handle, SIO_ETHREAD off the loop thread. [LOOP] */
int sio_socket_rooms(sio_socket_t *socket, char **json_out);
/* Its whole handshake as the reference's object, JSON in *json_out (free with sio_free):
 * {"headers":{...},"time":"...","address":"...","xdomain":false,"secure":false,"issued":1700000000000,
 *  "url":"/socket.io/?EIO=4...","query":{...},"auth":{...}}. [LOOP] */
int sio_socket_handshake(sio_socket_t *socket, char **json_out);
/* True when connection state recovery restored this socket's session (same id, rooms and missed packets). [LOOP] */
bool sio_socket_recovered(sio_socket_t *socket);

/* Your pointer on the socket; the library never touches what it points to. [LOOP] */
int sio_socket_set_user_data(sio_socket_t *socket, void *user_data);
void *sio_socket_get_user_data(sio_socket_t *socket);

/* The acknowledgement a client asked for with an event. Send it with sio_ack_send, exactly once, during the event
 * callback or later on the loop thread; it is released when sent or when the socket disconnects. */
typedef struct sio_ack_s sio_ack_t;

/* An event from the client. `ack` is NULL when the client asked for no acknowledgement. */
typedef void (*sio_event_cb)(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack,
                             void *user_data);
/* Handles `event` (several handlers run in registration order). [LOOP] */
int sio_socket_on(sio_socket_t *socket, const char *event, sio_event_cb cb, void *user_data);
/* Handles every event, before the event's own handlers (catch-all). [LOOP] */
int sio_socket_on_any(sio_socket_t *socket, sio_event_cb cb, void *user_data);

/* The socket left: `reason` is the reference's string ("transport close", "client namespace disconnect", "server
 * namespace disconnect", "ping timeout", "server shutting down", ...). After this callback returns the handle is
 * stale. */
typedef void (*sio_disconnect_cb)(sio_socket_t *socket, const char *reason, void *user_data);
int sio_socket_on_disconnect(sio_socket_t *socket, sio_disconnect_cb cb, void *user_data); /* [LOOP] */
/* Like on_disconnect, but while the socket is still in its rooms. [LOOP] */
int sio_socket_on_disconnecting(sio_socket_t *socket, sio_disconnect_cb cb, void *user_data);

/* Replies to the client's acknowledgement request. Consumes `ack`. SIO_EJSON for invalid arguments (the ack is
 * still consumed). [LOOP] */
int sio_ack_send(sio_ack_t *ack, const char *args_json, size_t args_len, const sio_buffer_t *binaries,
                 size_t n_binaries);

/* Sends `event` to this client. [ANY THREAD] */
int sio_socket_emit(sio_socket_t *socket, const char *event, const char *args_json, size_t args_len,
                    const sio_buffer_t *binaries, size_t n_binaries);

/* The client's reply to an event sent with sio_socket_emit_with_ack: status 0 with `reply`, SIO_ETIMEOUT, or
 * SIO_ECLOSED when the socket left first (then `reply` is NULL). Called exactly once. */
typedef void (*sio_ack_cb)(sio_socket_t *socket, int status, const sio_args_t *reply, void *user_data);
/* Sends `event` asking for an acknowledgement, waiting at most `timeout_ms` (0: no timeout: then only the socket
 * leaving ends the wait, with SIO_ECLOSED). [LOOP] */
int sio_socket_emit_with_ack(sio_socket_t *socket, const char *event, const char *args_json, size_t args_len,
                             const sio_buffer_t *binaries, size_t n_binaries, uint32_t timeout_ms, sio_ack_cb cb,
                             void *user_data);

/* Joins / leaves a room. SIO_ECLOSED once the socket has left, SIO_ETHREAD off the loop thread. [LOOP] */
int sio_socket_join(sio_socket_t *socket, const char *room);
int sio_socket_leave(sio_socket_t *socket, const char *room);

/* Disconnects the socket from its namespace (the client gets a DISCONNECT packet); with `close`, closes the whole
 * connection. [ANY THREAD] */
int sio_socket_disconnect(sio_socket_t *socket, bool close);

#ifdef __cplusplus
}
#endif

#endif /* SIO_H */
