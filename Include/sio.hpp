/*
 * sio.hpp — the C++17 face of sio.h: a Socket.IO server (Engine.IO v4, Socket.IO v5) with RAII owners, lambdas for
 * handlers, std::string_view in and std::string out, and exceptions for errors. Header-only: it adds no export to
 * libsio.so and links with the same `$(pkg-config --cflags --libs sio)` (plus -lpthread). Compiles warning-free with
 * `-std=c++17 -Wall -Wextra -Werror -pedantic`.
 *
 *     sio::Server server(sio::Options().loops(2));
 *     sio::Namespace chat = server.of("/");
 *     chat.on_connection([chat](sio::Socket socket) {
 *         socket.on("chat message", [chat](sio::Socket, const sio::Args& args, sio::Ack) {
 *             chat.emit("chat message", args);              // relayed to everyone, attachments included
 *         });
 *     });
 *     server.listen("0.0.0.0", 3000);
 *     server.run();                                          // until server.stop() from another thread
 *
 * Everything in sio.h's CONVENTIONS holds here; this header states what it adds.
 *
 * CONVENTIONS
 *   Owners      sio::Server and sio::Options own their C object (move-only; the destructor frees it). Every other
 *               type is a small copyable handle that owns nothing: Namespace, Socket, Broadcast (a value: rooms and
 *               flags), Ack, Next, ServerAck, HttpRequest, Args (a view of borrowed arguments). Handles of a server
 *               must not be used once that server is destroyed; a Socket handle stays safe after its socket left
 *               (calls then return false or an empty value, as SIO_ECLOSED does in C).
 *   Handlers    Handlers are std::function, so lambdas may capture anything copyable. The server keeps them (and
 *               what they captured) as long as the C library may call them, then frees them:
 *               - server and namespace handlers (on_connection, use, on_http_request, ...) until the Server is
 *                 destroyed. Replacing one (on_allow_request twice, or passing nullptr to remove it) keeps the old
 *                 one until then too: with several loops it may still be running on another thread;
 *               - a socket's handlers (on, on_any, on_disconnect, on_disconnecting) and its data() until its
 *                 disconnect handlers have returned; for a socket a middleware refused, soon after the refusal;
 *               - one-shot callbacks (emit_with_ack, post, fetch_sockets, ...) until they have run: sio.h calls
 *                 each exactly once once the call succeeded (and never when it returned false or threw).
 *               Destroying the Server stops it, waits until its loops have ended (no callback runs after that),
 *               then frees every handler. Destroyed from inside one of its own handlers it cannot wait for its own
 *               loop: it stops, and a helper thread waits for the end and then frees the handlers (the running one
 *               included, after it returned); a program that exits soon after should wait for that, e.g. for the
 *               destructor of something a handler captured. The wrapper owns no socket's C user data:
 *               sio_socket_set_user_data stays free for C code; C++ code has Socket::data().
 *   Errors      Exceptions (sio::Error, a std::runtime_error with the C code()), for every failure that is a bug or
 *               a setup problem: a bad option, a name with a NUL byte, invalid JSON, a reserved event name, a call
 *               on the wrong thread, a port in use, starting twice. Such errors happen once at setup or reveal a
 *               mistake; an exception cannot be ignored by accident and its what() names the call
 *               ("sio_socket_join: SIO_ETHREAD (must be called on the server's loop thread)"). std::error_code was
 *               not chosen: it would make every setup line checked by hand, for errors a program cannot handle
 *               better than by stopping (and sio.h's int codes remain, through handle(), for those who want them).
 *               The one failure that is ordinary at run time, SIO_ECLOSED (the socket left or the server stopped
 *               between deciding to send and sending), is no exception: emits, joins, posts and ack sends return
 *               `bool`, false when the target has gone, so a hot path replying to or broadcasting at sockets that
 *               may leave at any moment neither pays for exceptions nor needs a try block.
 *               Exceptions never cross into the C library. One thrown by a handler is caught where the library
 *               called it and given to Server::on_exception (by default one line on stderr); the connection lives
 *               on. A middleware that throws refuses its socket ("server error"); an allow-request handler that
 *               throws refuses the request; an HTTP handler that throws before answering gets the library's 500.
 *   Threads     As sio.h: [LOOP] functions must be called on the server's loop thread (inside a handler, or in a
 *               function given to Server::post), or before the server is started; [ANY THREAD] functions may be
 *               called anywhere. [SOCKET LOOP]: on the socket's own loop (inside that socket's handlers, or in a
 *               function given to Socket::post). A [LOOP] call from the wrong thread throws sio::Error with
 *               SIO_ETHREAD. With Options::loops(N > 1) handlers of different sockets run at the same time on
 *               different threads, and a handler registered once on a namespace or the server runs on all of them:
 *               what handlers share must be thread-safe (the handler objects themselves only need to be callable
 *               concurrently, which a lambda calling thread-safe code is). A socket's own handlers, and its data(),
 *               only ever run or are touched on its loop.
 *   Strings     std::string_view arguments are copied (NUL-terminated) before the C call: one containing a NUL
 *               byte throws SIO_EINVAL rather than being cut short. Strings returned are std::string copies, except
 *               views into arguments borrowed for the duration of a handler (Args, event names, reasons, HTTP
 *               method and path), which say so.
 *   JSON        Arguments stay JSON text plus binary attachments, as in sio.h: `emit("e", R"(["hi",{"n":1}])")`;
 *               sio::json_string() quotes a string. Binary values are placeholders
 *               {"_placeholder":true,"num":N} in the JSON and sio::Bytes N in the attachments.
 */
#ifndef SIO_HPP
#define SIO_HPP

#if !defined(__cplusplus) || (__cplusplus < 201703L && (!defined(_MSVC_LANG) || _MSVC_LANG < 201703L))
#error "sio.hpp needs C++17 or later"
#endif

#include <sio.h>

#include <any>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sio {

/* ---------------------------------------------------------------------------------------------------------------- */
/* Version                                                                                                          */

/* The version of sio.h this was compiled with, and the library's at run time. [ANY THREAD] */
constexpr int header_version_number = SIO_VERSION_NUMBER;
inline std::string version() { return sio_version(); }
inline int version_number() noexcept { return sio_version_number(); }
/* True when the loaded library can serve this header: same major version, same or later minor. [ANY THREAD] */
inline bool library_compatible() noexcept {
    int runtime = sio_version_number();
    return runtime / 10000 == SIO_VERSION_MAJOR && runtime >= SIO_VERSION_NUMBER;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Errors                                                                                                           */

/* sio.h's error codes (SIO_ERRNO_MAP). */
enum class Errc : int {
    ok = SIO_OK,
    invalid_argument = SIO_EINVAL,
    bad_state = SIO_ESTATE,
    closed = SIO_ECLOSED,
    bad_json = SIO_EJSON,
    listen_failed = SIO_ELISTEN,
    wrong_thread = SIO_ETHREAD,
    timeout = SIO_ETIMEOUT,
    no_memory = SIO_ENOMEM,
    internal = SIO_EINTERNAL,
};
#define SIO_HPP_COUNT_(name, code, text) +1
static_assert(0 SIO_ERRNO_MAP(SIO_HPP_COUNT_) == 10, "sio.h has a new error code: add it to sio::Errc");
#undef SIO_HPP_COUNT_

/* "SIO_ETIMEOUT" and "operation has timed out" for a code. Static strings. [ANY THREAD] */
inline const char *err_name(Errc code) noexcept { return sio_err_name(static_cast<int>(code)); }
inline const char *strerror(Errc code) noexcept { return sio_strerror(static_cast<int>(code)); }

/* What every throwing call throws. what() is "<call>: <SIO_NAME> (<sentence>)[: <detail>]". */
class Error : public std::runtime_error {
public:
    Error(int code, const std::string &call, const std::string &detail = {})
        : std::runtime_error(call + ": " + sio_err_name(code) + " (" + sio_strerror(code) + ")" +
                             (detail.empty() ? std::string() : ": " + detail)),
          code_(code) {}
    /* The SIO_E* code (negative). */
    int code() const noexcept { return code_; }
    Errc errc() const noexcept { return static_cast<Errc>(code_); }
    /* "SIO_EINVAL" */
    const char *name() const noexcept { return sio_err_name(code_); }

private:
    int code_;
};

/* ---------------------------------------------------------------------------------------------------------------- */
/* Logging (process-wide, as in sio.h: call before creating servers)                                                */

enum class LogLevel : int { error = SIO_LOG_ERROR, warn = SIO_LOG_WARN, info = SIO_LOG_INFO, debug = SIO_LOG_DEBUG };
/* `component` and `message` are borrowed during the call. May run on any server's loop thread, concurrently. */
using LogHandler = std::function<void(LogLevel level, std::string_view component, std::string_view message)>;
/* Routes the engine's log lines to `handler` (nullptr restores stderr). Handlers set are kept until the process
 * exits (a loop may still be calling the previous one). Call before creating servers. */
inline void set_log_handler(LogHandler handler);
/* Lines at or below `level` are written (default LogLevel::error). Call before creating servers. */
inline void set_log_level(LogLevel level) noexcept { sio_set_log_level(static_cast<int>(level)); }

/* ---------------------------------------------------------------------------------------------------------------- */
/* Binary and arguments                                                                                             */

/* A view of bytes (an attachment): sio_buffer_t in C++ dress. Owns nothing; in handlers it is borrowed. */
struct Bytes {
    const uint8_t *data = nullptr;
    size_t size = 0;

    constexpr Bytes() noexcept = default;
    constexpr Bytes(const uint8_t *bytes, size_t count) noexcept : data(bytes), size(count) {}
    Bytes(const std::vector<uint8_t> &bytes) noexcept : data(bytes.data()), size(bytes.size()) {}
    /* The bytes of a string (not a JSON string: raw bytes). */
    explicit Bytes(std::string_view bytes) noexcept
        : data(reinterpret_cast<const uint8_t *>(bytes.data())), size(bytes.size()) {}

    constexpr const uint8_t *begin() const noexcept { return data; }
    constexpr const uint8_t *end() const noexcept { return data + size; }
    constexpr bool empty() const noexcept { return size == 0; }
    std::vector<uint8_t> to_vector() const { return size ? std::vector<uint8_t>(data, data + size) : std::vector<uint8_t>(); }
    std::string_view as_chars() const noexcept { return {reinterpret_cast<const char *>(data), size}; }
};

/* A view of several Bytes (the attachments of one emit): from `{a, b}`, a std::vector<Bytes> or a pointer and a
 * count. Owns nothing: pass it straight to the call (a braced list lives until the call returns). */
class Binaries {
public:
    constexpr Binaries() noexcept = default;
    /* A braced list's array lives until the end of the full expression: fine as an argument, dangling in a named
     * variable (`sio::Binaries b = {x, y};` then `emit(.., b)` reads freed stack): name a std::vector<Bytes>. */
    Binaries(std::initializer_list<Bytes> list) noexcept : count_(list.size()) { items_ = list.begin(); }
    Binaries(const std::vector<Bytes> &list) noexcept : items_(list.data()), count_(list.size()) {}
    constexpr Binaries(const Bytes *items, size_t count) noexcept : items_(items), count_(count) {}
    constexpr const Bytes *begin() const noexcept { return items_; }
    constexpr const Bytes *end() const noexcept { return items_ + count_; }
    constexpr size_t size() const noexcept { return count_; }
    constexpr const Bytes &operator[](size_t i) const noexcept { return items_[i]; }

private:
    const Bytes *items_ = nullptr;
    size_t count_ = 0;
};

/* Arguments kept beyond a handler: Args::copy(). Emits accept it as they accept Args. */
struct Message {
    std::string json;                         /* the JSON array text */
    std::vector<std::vector<uint8_t>> binaries; /* attachment N is binaries[N] */
    std::vector<Bytes> views() const {
        std::vector<Bytes> out;
        out.reserve(binaries.size());
        for (const auto &b : binaries) out.emplace_back(b);
        return out;
    }
};

/* The arguments of an incoming event or acknowledgement: the JSON array text and its attachments. A view,
 * borrowed for the duration of the handler (copy() what you keep). An Args may be empty (no reply: operator bool is
 * false, json() is ""). Any thread may read it during the handler. */
class Args {
public:
    constexpr Args() noexcept = default;
    explicit constexpr Args(const sio_args_t *args) noexcept : args_(args) {}
    explicit constexpr operator bool() const noexcept { return args_ != nullptr; }
    /* `["hello",{"n":1}]`; "" for an empty Args. */
    std::string_view json() const noexcept {
        size_t len = 0;
        const char *text = args_ ? sio_args_json(args_, &len) : nullptr;
        return text ? std::string_view(text, len) : std::string_view();
    }
    size_t binary_count() const noexcept { return args_ ? sio_args_binary_count(args_) : 0; }
    /* Attachment `index` (placeholder num); empty when out of range. */
    Bytes binary(size_t index) const noexcept {
        size_t len = 0;
        const uint8_t *data = args_ ? sio_args_binary(args_, index, &len) : nullptr;
        return Bytes(data, len);
    }
    std::vector<Bytes> binaries() const {
        std::vector<Bytes> out(binary_count());
        for (size_t i = 0; i < out.size(); i++) out[i] = binary(i);
        return out;
    }
    Message copy() const {
        Message m{std::string(json()), {}};
        for (size_t i = 0, n = binary_count(); i < n; i++) m.binaries.push_back(binary(i).to_vector());
        return m;
    }
    const sio_args_t *handle() const noexcept { return args_; }

private:
    const sio_args_t *args_ = nullptr;
};

/* `s` as a JSON string literal, quotes included: `json_string("a\"b")` is `"a\"b"`. Bytes are taken as UTF-8 and
 * kept; quotes, backslashes and control characters are escaped. */
inline std::string json_string(std::string_view s);

/* ---------------------------------------------------------------------------------------------------------------- */
/* Options                                                                                                          */

/* Owns a sio_options_t (move-only). Setters return *this to chain and throw sio::Error(SIO_EINVAL) for a value the
 * library refuses (out of range, unknown name). The server copies the options when created: change them freely
 * after. Defaults and the reference's names are in sio.h next to each SIO_OPT_*. [ANY THREAD], one thread at a time. */
class Options {
public:
    using milliseconds = std::chrono::milliseconds;
    Options();
    ~Options() { sio_options_free(options_); }
    Options(Options &&other) noexcept : options_(std::exchange(other.options_, nullptr)) {}
    Options &operator=(Options &&other) noexcept {
        if (this != &other) {
            sio_options_free(options_);
            options_ = std::exchange(other.options_, nullptr);
        }
        return *this;
    }
    Options(const Options &) = delete;
    Options &operator=(const Options &) = delete;

    Options &path(std::string_view value) { return set_string(SIO_OPT_PATH, value); }
    Options &ping_interval(milliseconds value) { return set_ms(SIO_OPT_PING_INTERVAL, value); }
    Options &ping_timeout(milliseconds value) { return set_ms(SIO_OPT_PING_TIMEOUT, value); }
    Options &upgrade_timeout(milliseconds value) { return set_ms(SIO_OPT_UPGRADE_TIMEOUT, value); }
    Options &max_http_buffer_size(uint64_t bytes) { return set_uint(SIO_OPT_MAX_HTTP_BUFFER_SIZE, bytes); }
    /* "polling,websocket", "websocket", ... */
    Options &transports(std::string_view value) { return set_string(SIO_OPT_TRANSPORTS, value); }
    Options &allow_upgrades(bool value) { return set_bool(SIO_OPT_ALLOW_UPGRADES, value); }
    /* "*", "reflect", or a comma-separated list of origins. */
    Options &cors_origin(std::string_view value) { return set_string(SIO_OPT_CORS_ORIGIN, value); }
    Options &cors_credentials(bool value) { return set_bool(SIO_OPT_CORS_CREDENTIALS, value); }
    /* The cookie's name; "" for none. */
    Options &cookie(std::string_view name) { return set_string(SIO_OPT_COOKIE, name); }
    /* 0 turns HTTP compression off. */
    Options &http_compression_threshold(uint64_t bytes) { return set_uint(SIO_OPT_HTTP_COMPRESSION_THRESHOLD, bytes); }
    Options &connect_timeout(milliseconds value) { return set_ms(SIO_OPT_CONNECT_TIMEOUT, value); }
    Options &max_attachments(uint64_t count) { return set_uint(SIO_OPT_MAX_ATTACHMENTS, count); }
    Options &recovery(bool on) { return set_bool(SIO_OPT_RECOVERY, on); }
    Options &recovery_max_disconnection(milliseconds value) { return set_ms(SIO_OPT_RECOVERY_MAX_DISCONNECTION, value); }
    Options &recovery_skip_middlewares(bool value) { return set_bool(SIO_OPT_RECOVERY_SKIP_MIDDLEWARES, value); }
    Options &max_buffered_bytes(uint64_t bytes) { return set_uint(SIO_OPT_MAX_BUFFERED_BYTES, bytes); }
    /* "redis://host:port[/db]"; "" for none. */
    Options &redis_url(std::string_view url) { return set_string(SIO_OPT_REDIS_URL, url); }
    Options &redis_key(std::string_view key) { return set_string(SIO_OPT_REDIS_KEY, key); }
    Options &redis_requests_timeout(milliseconds value) { return set_ms(SIO_OPT_REDIS_REQUESTS_TIMEOUT, value); }
    Options &per_message_deflate(bool on) { return set_bool(SIO_OPT_PER_MESSAGE_DEFLATE, on); }
    Options &per_message_deflate_threshold(uint64_t bytes) { return set_uint(SIO_OPT_PER_MESSAGE_DEFLATE_THRESHOLD, bytes); }
    /* Event loops (threads) serving the server, 1 by default, 0 = one per core, at most 64. Past 1, read "Threads"
     * above and "Loops" in sio.h: handlers then run concurrently. */
    Options &loops(unsigned count) { return set_uint(SIO_OPT_LOOPS, count); }
    /* "reuseport" or "round-robin". */
    Options &loop_balancing(std::string_view value) { return set_string(SIO_OPT_LOOP_BALANCING, value); }
    /* "json" or "msgpack". */
    Options &parser(std::string_view value) { return set_string(SIO_OPT_PARSER, value); }
    /* Also serve Engine.IO v3 / Socket.IO 2.x clients (allowEIO3). */
    Options &allow_eio3(bool on) { return set_bool(SIO_OPT_ALLOW_EIO3, on); }
    /* HTTPS and WSS: paths are copied here, the files read by the first listen with TLS (see sio.h, TLS). */
    Options &tls_cert_file(std::string_view path) { return set_string(SIO_OPT_TLS_CERT_FILE, path); }
    Options &tls_key_file(std::string_view path) { return set_string(SIO_OPT_TLS_KEY_FILE, path); }
    Options &tls_key_password(std::string_view password) { return set_string(SIO_OPT_TLS_KEY_PASSWORD, password); }
    Options &tls_cert_pem(std::string_view pem) { return set_string(SIO_OPT_TLS_CERT_PEM, pem); }
    Options &tls_key_pem(std::string_view pem) { return set_string(SIO_OPT_TLS_KEY_PEM, pem); }
    Options &tls_handshake_timeout(milliseconds value) { return set_ms(SIO_OPT_TLS_HANDSHAKE_TIMEOUT, value); }
    /* One more certificate for SNI (files; the password may be empty). */
    Options &tls_certificate(std::string_view cert_file, std::string_view key_file,
                             std::string_view key_password = {});
    /* The sharded pub/sub adapter, Redis 7 (not with redis_url or redis_streams_url; see sio.h and docs/REDIS.md);
     * mode "static", "dynamic" (default) or "dynamic-private". Since 0.5.0. */
    Options &redis_sharded_url(std::string_view url) { return set_string(SIO_OPT_REDIS_SHARDED_URL, url); }
    Options &redis_sharded_mode(std::string_view mode) { return set_string(SIO_OPT_REDIS_SHARDED_MODE, mode); }
    /* The Redis streams adapter (not with redis_url; see sio.h and docs/REDIS.md). */
    Options &redis_streams_url(std::string_view url) { return set_string(SIO_OPT_REDIS_STREAMS_URL, url); }
    Options &redis_streams_name(std::string_view name) { return set_string(SIO_OPT_REDIS_STREAMS_NAME, name); }
    Options &redis_streams_count(uint64_t count) { return set_uint(SIO_OPT_REDIS_STREAMS_COUNT, count); }
    Options &redis_streams_maxlen(uint64_t entries) { return set_uint(SIO_OPT_REDIS_STREAMS_MAXLEN, entries); }
    Options &redis_streams_read_count(uint64_t entries) { return set_uint(SIO_OPT_REDIS_STREAMS_READ_COUNT, entries); }
    Options &redis_streams_block_time(milliseconds value) { return set_ms(SIO_OPT_REDIS_STREAMS_BLOCK_TIME, value); }
    Options &redis_streams_channel_prefix(std::string_view prefix) {
        return set_string(SIO_OPT_REDIS_STREAMS_CHANNEL_PREFIX, prefix);
    }
    Options &redis_streams_session_prefix(std::string_view prefix) {
        return set_string(SIO_OPT_REDIS_STREAMS_SESSION_PREFIX, prefix);
    }
    Options &redis_streams_heartbeat_interval(milliseconds value) {
        return set_ms(SIO_OPT_REDIS_STREAMS_HEARTBEAT_INTERVAL, value);
    }
    Options &redis_streams_heartbeat_timeout(milliseconds value) {
        return set_ms(SIO_OPT_REDIS_STREAMS_HEARTBEAT_TIMEOUT, value);
    }
    /* Prometheus metrics on the server's port (sio.h, SIO_OPT_METRICS). */
    Options &metrics(bool on) { return set_bool(SIO_OPT_METRICS, on); }
    Options &metrics_path(std::string_view path) { return set_string(SIO_OPT_METRICS_PATH, path); }
    /* The admin UI, read by Server::instrument (sio.h, ADMIN UI). */
    Options &admin_namespace(std::string_view name) { return set_string(SIO_OPT_ADMIN_NAMESPACE, name); }
    Options &admin_username(std::string_view name) { return set_string(SIO_OPT_ADMIN_USERNAME, name); }
    Options &admin_password_hash(std::string_view hash) { return set_string(SIO_OPT_ADMIN_PASSWORD_HASH, hash); }
    Options &admin_readonly(bool on) { return set_bool(SIO_OPT_ADMIN_READONLY, on); }
    Options &admin_server_id(std::string_view id) { return set_string(SIO_OPT_ADMIN_SERVER_ID, id); }
    /* "development" or "production". */
    Options &admin_mode(std::string_view mode) { return set_string(SIO_OPT_ADMIN_MODE, mode); }

    /* Any key, by type (for keys newer than this header). */
    Options &set_uint(sio_option_t key, uint64_t value);
    Options &set_bool(sio_option_t key, bool value);
    Options &set_string(sio_option_t key, std::string_view value);

    const sio_options_t *handle() const noexcept { return options_; }

private:
    Options &set_ms(sio_option_t key, milliseconds value);
    sio_options_t *options_;
};

/* ---------------------------------------------------------------------------------------------------------------- */
/* Handles                                                                                                          */

class Server;
class Namespace;
class Socket;
class Broadcast;
namespace detail {
struct ServerState;
struct NextState;
}

/* Status of an acknowledgement wait: Errc::ok, Errc::timeout, or Errc::closed (the socket left / the server
 * stopped first). */
using Status = Errc;

/* A client's request for an acknowledgement, given to an event handler (empty when the client asked for none:
 * check `if (ack)`). Send it once, during the handler or later on the socket's loop (keep a copy in a lambda and
 * Socket::post to it). The library releases it when the socket disconnects. */
class Ack {
public:
    Ack() noexcept = default;
    explicit operator bool() const noexcept { return ack_ != nullptr; }
    /* Replies with `json` (a JSON array; "" for no values) and `binaries`. True when sent; false when the socket
     * has left. Throws SIO_EJSON for invalid arguments (the ack is consumed), SIO_EINVAL for an empty Ack or one
     * already sent (by this or another copy), SIO_ETHREAD off the socket's loop. [SOCKET LOOP] */
    bool send(std::string_view json = {}, Binaries binaries = {});
    bool send(const Args &args);
    bool send(const Message &message);
    sio_ack_t *handle() const noexcept { return ack_; }

private:
    friend struct detail::ServerState;
    Ack(sio_ack_t *ack, sio_socket_t *socket) noexcept : ack_(ack), socket_(socket) {}
    bool send_raw(const char *json, size_t len, const sio_buffer_t *bins, size_t n);
    sio_ack_t *ack_ = nullptr;
    sio_socket_t *socket_ = nullptr;
};

/* A middleware's decision, to take exactly once: allow() or refuse(). Copyable (all copies are one decision), and
 * may be taken later, from any thread, before the server is destroyed. When the last copy goes without a decision
 * the socket is refused ("middleware did not decide") rather than left waiting. [ANY THREAD] */
class Next {
public:
    /* Lets the socket in. Throws SIO_ESTATE when already decided. */
    void allow();
    void operator()() { allow(); }
    /* Refuses it: the client's connect_error gets `message` and, unless empty, `data_json` (a JSON value) as data.
     * Throws SIO_EJSON for invalid `data_json` (nothing decided then), SIO_ESTATE when already decided. */
    void refuse(std::string_view message, std::string_view data_json = {});
    bool decided() const noexcept;

private:
    friend struct detail::ServerState;
    explicit Next(std::shared_ptr<detail::NextState> state) noexcept : state_(std::move(state)) {}
    std::shared_ptr<detail::NextState> state_;
};

/* A server-side acknowledgement another server of a Redis cluster waits for (on_server_side_emit). Send at most
 * once, during the handler or later on the first loop. [LOOP] */
class ServerAck {
public:
    ServerAck() noexcept = default;
    explicit operator bool() const noexcept { return ack_ != nullptr; }
    /* Answers with one JSON value ("" for none). False when already sent or released (the asker stopped waiting).
     * Throws SIO_EJSON for invalid JSON (consumed: that server's answer is missing), SIO_ETHREAD off the loop. */
    bool send(std::string_view value_json = {});
    sio_server_ack_t *handle() const noexcept { return ack_; }

private:
    friend struct detail::ServerState;
    explicit ServerAck(sio_server_ack_t *ack) noexcept : ack_(ack) {}
    sio_server_ack_t *ack_ = nullptr;
};

/* A plain HTTP request (on_http_request, on_allow_request, on_connection_error), valid during that handler only. */
class HttpRequest {
public:
    /* "GET", and the path with its query; borrowed during the handler ("" outside on_http_request). */
    std::string_view method() const noexcept { return method_; }
    std::string_view path() const noexcept { return path_; }
    /* The request target (path and query). */
    std::string url() const;
    /* A request header (any case), or nullopt. */
    std::optional<std::string> header(std::string_view name) const;
    /* Answers, once, inside on_http_request (else SIO_ESTATE). `content_type` "" for no header. [LOOP] */
    void respond(int status, std::string_view content_type, std::string_view body);
    void respond(int status, std::string_view content_type, Bytes body);
    sio_http_request_t *handle() const noexcept { return request_; }

private:
    friend struct detail::ServerState;
    HttpRequest(sio_http_request_t *request, std::string_view method, std::string_view path) noexcept
        : request_(request), method_(method), path_(path) {}
    sio_http_request_t *request_;
    std::string_view method_, path_;
};

enum class RoomEvent : int {
    created = SIO_ROOM_CREATED,
    deleted = SIO_ROOM_DELETED,
    joined = SIO_ROOM_JOINED,
    left = SIO_ROOM_LEFT,
};

/* Handler types. Views and Args they receive are borrowed for the call. */
using ConnectionHandler = std::function<void(Socket socket)>;
using Middleware = std::function<void(Socket socket, Next next)>;
using EventHandler = std::function<void(Socket socket, const Args &args, Ack ack)>;
using AnyEventHandler = std::function<void(Socket socket, std::string_view event, const Args &args, Ack ack)>;
using DisconnectHandler = std::function<void(Socket socket, std::string_view reason)>;
/* A client's reply: status ok with `reply`, or timeout / closed with an empty `reply`. */
using AckHandler = std::function<void(Status status, const Args &reply)>;
/* Replies of a broadcast with acks: ok when every reached client answered, timeout / closed with those so far. */
using BroadcastAckHandler = std::function<void(Status status, const std::vector<Args> &replies)>;
/* fetch_sockets: a JSON array of the reference's RemoteSocket objects. */
using FetchSocketsHandler = std::function<void(Status status, std::string_view sockets_json)>;
/* `socket_id` is "" for created / deleted. */
using RoomEventHandler = std::function<void(RoomEvent event, std::string_view room, std::string_view socket_id)>;
using HttpHandler = std::function<void(HttpRequest &request)>;
/* Return false to refuse the handshake (HTTP 403). */
using AllowRequestHandler = std::function<bool(HttpRequest &request)>;
using ConnectionErrorHandler =
    std::function<void(HttpRequest &request, int code, std::string_view message, std::string_view context_json)>;
using ServerSideHandler = std::function<void(std::string_view event, const Args &args, ServerAck ack)>;
using ServerSideAckHandler = std::function<void(Status status, std::string_view replies_json)>;
using Task = std::function<void()>;
using SocketTask = std::function<void(Socket socket)>;
/* `where` names the handler kind ("event \"chat message\"", "middleware", ...); rethrow `error` to look at it. */
using ExceptionHandler = std::function<void(std::string_view where, std::exception_ptr error)>;

/* ---------------------------------------------------------------------------------------------------------------- */
/* Broadcast: an immutable selection of a namespace's sockets (the reference's io.to(room).except(room)...)       */

/* Each modifier returns a new Broadcast; the original is unchanged. Rooms are copied in. */
class Broadcast {
public:
    Broadcast to(std::string_view room) const;
    Broadcast to(const std::vector<std::string> &rooms) const;
    Broadcast except(std::string_view room) const;
    Broadcast except(const std::vector<std::string> &rooms) const;
    /* SIO_BROADCAST_VOLATILE: dropped for recipients that cannot take it now. */
    Broadcast as_volatile() const { return with_flag(SIO_BROADCAST_VOLATILE, true); }
    /* SIO_BROADCAST_LOCAL: this node only (with Redis). */
    Broadcast local() const { return with_flag(SIO_BROADCAST_LOCAL, true); }
    Broadcast compress(bool on) const { return with_flag(SIO_BROADCAST_NO_COMPRESS, !on); }

    /* Emits to the selection (encoded once). False once the server has stopped. Throws SIO_EJSON / SIO_EINVAL
     * (invalid arguments, a reserved event name). [ANY THREAD] */
    bool emit(std::string_view event, std::string_view json = {}, Binaries binaries = {}) const;
    bool emit(std::string_view event, const Args &args) const;
    bool emit(std::string_view event, const Message &message) const;
    /* Asks every recipient for an acknowledgement, waiting at most `timeout` (> 0). `done` runs exactly once, on
     * the loop thread. [LOOP] */
    bool emit_with_ack(std::string_view event, std::string_view json, Binaries binaries,
                       std::chrono::milliseconds timeout, BroadcastAckHandler done) const;
    /* The selection joins / leaves rooms, is disconnected, or is listed (the reference's socketsJoin, socketsLeave,
     * disconnectSockets, fetchSockets; only the local() flag applies to them). False once the server has stopped.
     * `done` runs exactly once, on a loop thread. [ANY THREAD] */
    bool sockets_join(const std::vector<std::string> &rooms) const;
    bool sockets_join(std::string_view room) const { return sockets_join(std::vector<std::string>{std::string(room)}); }
    bool sockets_leave(const std::vector<std::string> &rooms) const;
    bool sockets_leave(std::string_view room) const { return sockets_leave(std::vector<std::string>{std::string(room)}); }
    bool disconnect_sockets(bool close = false) const;
    bool fetch_sockets(FetchSocketsHandler done) const;

    const std::vector<std::string> &rooms() const noexcept { return to_; }
    const std::vector<std::string> &excepted() const noexcept { return except_; }
    unsigned flags() const noexcept { return flags_; }

private:
    friend class Namespace;
    Broadcast(sio_namespace_t *ns, detail::ServerState *state) noexcept : ns_(ns), state_(state) {}
    Broadcast with_flag(unsigned flag, bool on) const {
        Broadcast b = *this;
        b.flags_ = on ? (b.flags_ | flag) : (b.flags_ & ~flag);
        return b;
    }
    bool emit_raw(std::string_view event, const char *json, size_t len, const sio_buffer_t *bins, size_t n) const;
    bool rooms_op(const std::vector<std::string> &names, bool join) const;

    sio_namespace_t *ns_;
    detail::ServerState *state_;
    std::vector<std::string> to_, except_;
    unsigned flags_ = 0;
};

/* ---------------------------------------------------------------------------------------------------------------- */
/* Namespace                                                                                                        */

/* A namespace of a server (Server::of, Socket::nsp). A handle, valid as long as its server. */
class Namespace {
public:
    /* An empty handle; calls on it throw SIO_EINVAL. */
    Namespace() noexcept = default;
    /* "/chat". Lives as long as the server. [ANY THREAD] */
    std::string name() const;

    /* A socket joined: register its handlers here. Runs on the socket's loop. [LOOP] */
    void on_connection(ConnectionHandler handler);
    /* A middleware: decides with `next` whether the socket (not yet connected) may join; it may read the
     * handshake and set data(). Middlewares run in registration order, on the socket's loop. [LOOP] */
    void use(Middleware middleware);
    /* Room changes on this server (created, deleted, joined, left), each socket's own room included. [LOOP] */
    void on_room_event(RoomEventHandler handler);

    /* Every socket of the namespace. As Broadcast::emit. [ANY THREAD] */
    bool emit(std::string_view event, std::string_view json = {}, Binaries binaries = {}) const {
        return all().emit(event, json, binaries);
    }
    bool emit(std::string_view event, const Args &args) const { return all().emit(event, args); }
    bool emit(std::string_view event, const Message &message) const { return all().emit(event, message); }
    /* The selection builders: every socket of the namespace, those in a room, those not in a room. */
    Broadcast all() const noexcept { return Broadcast(ns_, state_); }
    Broadcast to(std::string_view room) const { return all().to(room); }
    Broadcast to(const std::vector<std::string> &rooms) const { return all().to(rooms); }
    Broadcast except(std::string_view room) const { return all().except(room); }

    /* Between the servers of a Redis cluster (SIO_ESTATE without SIO_OPT_REDIS_URL). JSON without attachments. */
    /* [ANY THREAD] */
    bool server_side_emit(std::string_view event, std::string_view json = {}) const;
    /* `done` runs exactly once, on the first loop. [LOOP] */
    bool server_side_emit_with_ack(std::string_view event, std::string_view json, std::chrono::milliseconds timeout,
                                   ServerSideAckHandler done) const;
    /* Runs on the first loop. [LOOP] */
    void on_server_side_emit(std::string_view event, ServerSideHandler handler);

    sio_namespace_t *handle() const noexcept { return ns_; }
    friend bool operator==(const Namespace &a, const Namespace &b) noexcept { return a.ns_ == b.ns_; }
    friend bool operator!=(const Namespace &a, const Namespace &b) noexcept { return a.ns_ != b.ns_; }

private:
    friend class Server;
    friend class Socket;
    friend struct detail::ServerState;
    Namespace(sio_namespace_t *ns, detail::ServerState *state) noexcept : ns_(ns), state_(state) {}
    detail::ServerState *need(const char *call) const;
    sio_namespace_t *ns_ = nullptr;
    detail::ServerState *state_ = nullptr;
};

/* ---------------------------------------------------------------------------------------------------------------- */
/* Socket                                                                                                           */

/* A client connected to a namespace. A handle: copy it freely, keep it after the socket left (calls then return
 * false / empty), never past the server. Getters throw SIO_ETHREAD off the socket's loop. */
class Socket {
public:
    /* An empty handle (operator bool false); calls on it throw SIO_EINVAL. */
    Socket() noexcept = default;
    /* The id, also the name of its own room; "" once gone. [SOCKET LOOP] */
    std::string id() const;
    /* Its namespace (handle / name). [SOCKET LOOP] */
    Namespace nsp() const;
    std::string nsp_name() const;
    /* True while connected (false in a middleware, and after it left). [SOCKET LOOP] */
    bool connected() const;
    /* The CONNECT packet's auth payload as JSON ("{}" when none). [SOCKET LOOP] */
    std::string auth() const;
    /* A handshake query parameter / header (any case), or nullopt. [SOCKET LOOP] */
    std::optional<std::string> query(std::string_view name) const;
    std::optional<std::string> header(std::string_view name) const;
    /* The peer's address; the transport now ("polling" or "websocket"). [SOCKET LOOP] */
    std::string address() const;
    std::string transport() const;
    /* The whole handshake as the reference's JSON object. [SOCKET LOOP] */
    std::string handshake() const;
    /* The rooms it is in, its own id room included, sorted. [SOCKET LOOP] */
    std::vector<std::string> rooms() const;
    /* True when connection state recovery restored it. [SOCKET LOOP] */
    bool recovered() const;
    /* The loop serving it (0 .. loop_count-1), -1 once gone; whether the caller is on that loop. [ANY THREAD] */
    int loop_index() const noexcept;
    bool in_loop() const noexcept;

    /* Your data on the socket, from its middleware until its disconnect handlers have returned (then destroyed,
     * on its loop). Throws SIO_ECLOSED once gone. [SOCKET LOOP] */
    std::any &data() const;

    /* Handlers of this socket (several per event run in registration order; on_any before them). False when the
     * socket has left. [SOCKET LOOP] */
    bool on(std::string_view event, EventHandler handler) const;
    bool on_any(AnyEventHandler handler) const;
    /* The socket left (`reason` as the reference's); after the last one returns the handle is stale. */
    bool on_disconnect(DisconnectHandler handler) const;
    /* Like on_disconnect, while it is still in its rooms. */
    bool on_disconnecting(DisconnectHandler handler) const;

    /* Sends `event` to this client. False when it has left. Throws SIO_EJSON / SIO_EINVAL. [ANY THREAD] */
    bool emit(std::string_view event, std::string_view json = {}, Binaries binaries = {}) const;
    bool emit(std::string_view event, const Args &args) const;
    bool emit(std::string_view event, const Message &message) const;
    /* Sends `event` asking for an acknowledgement; `done` runs exactly once on the socket's loop (ok, timeout after
     * `timeout` unless it is 0, or closed). False (and `done` never runs) when the socket has left. [SOCKET LOOP] */
    bool emit_with_ack(std::string_view event, std::string_view json, Binaries binaries,
                       std::chrono::milliseconds timeout, AckHandler done) const;
    /* Rooms. False when it has left. [SOCKET LOOP] */
    bool join(std::string_view room) const;
    bool leave(std::string_view room) const;
    /* Disconnects it from the namespace; with `close`, closes the whole connection. False when gone. [ANY THREAD] */
    bool disconnect(bool close = false) const;
    /* Runs `task(socket)` on the socket's loop soon: the way to its [SOCKET LOOP] calls from elsewhere. False (and
     * `task` never runs) when it has left or the server is stopping. [ANY THREAD] */
    bool post(SocketTask task) const;

    explicit operator bool() const noexcept { return socket_ != nullptr; }
    sio_socket_t *handle() const noexcept { return socket_; }
    friend bool operator==(const Socket &a, const Socket &b) noexcept { return a.socket_ == b.socket_; }
    friend bool operator!=(const Socket &a, const Socket &b) noexcept { return a.socket_ != b.socket_; }

private:
    friend struct detail::ServerState;
    friend struct detail::NextState;
    Socket(sio_socket_t *socket, detail::ServerState *state) noexcept : socket_(socket), state_(state) {}
    /* Throws SIO_ETHREAD when the socket exists but the caller is not on its loop; false when it is gone. */
    bool on_its_loop(const char *call) const;
    void need(const char *call) const {
        if (!socket_ || !state_) throw Error(SIO_EINVAL, call, "empty sio::Socket");
    }
    std::string text(const char *value, const char *call) const;
    bool emit_raw(std::string_view event, const char *json, size_t len, const sio_buffer_t *bins, size_t n) const;
    template <class Held, class Register>
    bool add_handler(const char *call, std::unique_ptr<Held> held, Register reg) const;

    sio_socket_t *socket_ = nullptr;
    detail::ServerState *state_ = nullptr;
};

/* ---------------------------------------------------------------------------------------------------------------- */
/* Server                                                                                                           */

/* Owns a sio_server_t and every handler given to it (move-only; moving keeps handlers, handles and a running loop
 * untouched). Methods of an empty Server (moved from, or reset) throw SIO_EINVAL. */
class Server {
public:
    /* A server with default options / with `options` (copied). Not yet listening. Throws on failure. */
    Server();
    explicit Server(const Options &options);
    /* Destroys it: stops it if running (every socket is told "server shutting down"), waits for its loops to end,
     * frees it and its handlers. From inside one of its own handlers the server stops at once and a helper thread
     * waits for its loops to end, then frees everything (the loop cannot wait for itself). [ANY THREAD] */
    ~Server() { reset(); }
    Server(Server &&other) noexcept
        : server_(std::exchange(other.server_, nullptr)), state_(std::move(other.state_)) {}
    Server &operator=(Server &&other) noexcept {
        if (this != &other) {
            reset();
            server_ = std::exchange(other.server_, nullptr);
            state_ = std::move(other.state_);
        }
        return *this;
    }
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;
    /* What the destructor does, now; the Server is then empty. */
    void reset() noexcept;

    /* Listens on host:port (0 picks a free one); again for more addresses. Throws SIO_ELISTEN. [LOOP] */
    void listen(std::string_view host, uint16_t port);
    /* Listens on a bound TCP socket, which the server then owns. [LOOP] */
    void listen_fd(int fd);
    /* Serves the admin UI with `options`' admin settings (sio.h, ADMIN UI). Throws SIO_EINVAL. [LOOP] */
    void instrument(const Options &options);
    /* The first listener's port. Throws SIO_ESTATE when not listening. [ANY THREAD] */
    int port() const;

    /* Runs the loop(s) on this thread until stop(). The Server may be destroyed by a handler meanwhile: run() does
     * not touch it after the loop ended. Throws SIO_ESTATE if it ran already. */
    void run();
    /* Runs the loop(s) on a new thread and returns. [ANY THREAD] */
    void start();
    /* Stops gracefully (see sio_server_stop); repeated calls are fine. Not async-signal-safe. [ANY THREAD] */
    void stop();
    /* Waits for the thread start() made to end, after stop(). Throws SIO_ETHREAD on a loop thread. */
    void wait();
    /* Runs `task` on the (first) loop soon. False (and it never runs) once the server is stopping. [ANY THREAD] */
    bool post(Task task);
    /* Loops serving the server; whether the caller is on one of them. [ANY THREAD] */
    int loop_count() const;
    bool in_loop() const noexcept { return server_ && sio_server_in_loop(server_); }

    /* The namespace `name` ("/" the main one), created on first use. Throws SIO_EINVAL for an invalid name or a
     * call off the loop thread once running. [LOOP] */
    Namespace of(std::string_view name = "/");

    /* HTTP requests outside the Socket.IO path (and the client bundle's paths under it): answer with
     * request.respond(), or get a 500. nullptr restores the 404. Runs on the request's loop. [LOOP] */
    void on_http_request(HttpHandler handler);
    /* Decides whether a handshake may open a session (the reference's allowRequest). nullptr removes it. [LOOP] */
    void on_allow_request(AllowRequestHandler handler);
    /* Every request the engine refused with an Engine.IO error code. nullptr removes it. [LOOP] */
    void on_connection_error(ConnectionErrorHandler handler);
    /* Receives the exceptions handlers threw (default: a line on stderr). Runs on the thread of the handler that
     * threw, concurrently with several loops. Exceptions it throws are dropped. [ANY THREAD] */
    void on_exception(ExceptionHandler handler);

    sio_server_t *handle() const noexcept { return server_; }
    explicit operator bool() const noexcept { return server_ != nullptr; }

private:
    sio_server_t *need(const char *call) const;
    sio_server_t *server_ = nullptr;
    std::unique_ptr<detail::ServerState> state_;
};

/* ================================================================================================================ */
/* Implementation                                                                                                   */
/* ================================================================================================================ */

namespace detail {

inline void check(int rc, const char *call) {
    if (rc != SIO_OK) throw Error(rc, call);
}
/* SIO_ECLOSED -> false; other errors throw. */
inline bool status(int rc, const char *call) {
    if (rc == SIO_ECLOSED) return false;
    check(rc, call);
    return true;
}
/* A NUL-terminated copy, refusing embedded NULs (which C would silently cut at). */
inline std::string cstr(std::string_view s, const char *call) {
    if (s.find('\0') != std::string_view::npos) throw Error(SIO_EINVAL, call, "string contains a NUL byte");
    return std::string(s);
}
inline uint32_t ms32(std::chrono::milliseconds ms, const char *call) {
    if (ms.count() < 0 || static_cast<unsigned long long>(ms.count()) > 0xFFFFFFFFull)
        throw Error(SIO_EINVAL, call, "timeout out of range");
    return static_cast<uint32_t>(ms.count());
}

/* Attachments as the sio_buffer_t array C wants (on the stack up to 8). */
class Buffers {
public:
    explicit Buffers(Binaries b) {
        sio_buffer_t *out = b.size() <= kSmall ? small_ : (big_.resize(b.size()), big_.data());
        for (size_t i = 0; i < b.size(); i++) out[i] = sio_buffer_t{b[i].data, b[i].size};
        data_ = b.size() ? out : nullptr;
        size_ = b.size();
    }
    explicit Buffers(const Args &a) {
        size_ = a.binary_count();
        sio_buffer_t *out = size_ <= kSmall ? small_ : (big_.resize(size_), big_.data());
        for (size_t i = 0; i < size_; i++) {
            Bytes b = a.binary(i);
            out[i] = sio_buffer_t{b.data, b.size};
        }
        data_ = size_ ? out : nullptr;
    }
    explicit Buffers(const Message &m) {
        size_ = m.binaries.size();
        sio_buffer_t *out = size_ <= kSmall ? small_ : (big_.resize(size_), big_.data());
        for (size_t i = 0; i < size_; i++) out[i] = sio_buffer_t{m.binaries[i].data(), m.binaries[i].size()};
        data_ = size_ ? out : nullptr;
    }
    Buffers(const Buffers &) = delete;
    Buffers &operator=(const Buffers &) = delete;
    const sio_buffer_t *data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }

private:
    static constexpr size_t kSmall = 8;
    sio_buffer_t small_[kSmall] = {};
    std::vector<sio_buffer_t> big_;
    const sio_buffer_t *data_ = nullptr;
    size_t size_ = 0;
};

/* const char* arrays for room lists. */
inline std::vector<const char *> pointers(const std::vector<std::string> &names) {
    std::vector<const char *> out;
    out.reserve(names.size());
    for (const auto &n : names) out.push_back(n.c_str());
    return out;
}

/* Appends code point `cp` as UTF-8. */
inline void put_utf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

/* Parses the JSON array of strings the library returns (sio_socket_rooms). */
inline std::vector<std::string> parse_string_array(std::string_view s, const char *call) {
    std::vector<std::string> out;
    size_t i = 0;
    auto fail = [&]() -> std::vector<std::string> { throw Error(SIO_EINTERNAL, call, "unexpected JSON"); };
    auto ws = [&] {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++;
    };
    auto hex4 = [&](uint32_t &v) {
        if (i + 4 > s.size()) return false;
        v = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
            else return false;
        }
        return true;
    };
    ws();
    if (i >= s.size() || s[i++] != '[') return fail();
    ws();
    if (i < s.size() && s[i] == ']') return out;
    for (;;) {
        ws();
        if (i >= s.size() || s[i++] != '"') return fail();
        std::string item;
        for (;;) {
            if (i >= s.size()) return fail();
            char c = s[i++];
            if (c == '"') break;
            if (c != '\\') {
                item += c;
                continue;
            }
            if (i >= s.size()) return fail();
            char e = s[i++];
            switch (e) {
            case '"': item += '"'; break;
            case '\\': item += '\\'; break;
            case '/': item += '/'; break;
            case 'b': item += '\b'; break;
            case 'f': item += '\f'; break;
            case 'n': item += '\n'; break;
            case 'r': item += '\r'; break;
            case 't': item += '\t'; break;
            case 'u': {
                uint32_t cp;
                if (!hex4(cp)) return fail();
                if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < s.size() && s[i] == '\\' && s[i + 1] == 'u') {
                    size_t back = i;
                    i += 2;
                    uint32_t low;
                    if (hex4(low) && low >= 0xDC00 && low < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    else i = back;
                }
                put_utf8(item, cp);
                break;
            }
            default: return fail();
            }
        }
        out.push_back(std::move(item));
        ws();
        if (i >= s.size()) return fail();
        char c = s[i++];
        if (c == ']') return out;
        if (c != ',') return fail();
    }
}

/* A handler kept alive by the server. */
struct Held {
    virtual ~Held() = default;
};
template <class F>
struct HeldFn final : Held {
    HeldFn(ServerState *s, F f) : state(s), fn(std::move(f)) {}
    ServerState *state;
    F fn;
};
struct HeldEvent final : Held {
    HeldEvent(ServerState *s, std::string e, EventHandler f) : state(s), event(std::move(e)), fn(std::move(f)) {}
    ServerState *state;
    std::string event;
    EventHandler fn;
};

/* What the wrapper keeps per socket: its data and handlers. Created on first use on the socket's loop, destroyed
 * after its disconnect handlers (or after a middleware refused it, or with the server). */
struct SocketRecord {
    ServerState *state = nullptr;
    std::any data;
    std::vector<std::unique_ptr<Held>> handlers;
    std::vector<DisconnectHandler> disconnect;
};

/* Everything a Server owns besides its C object. Its address never changes (moving a Server moves the pointer). */
struct ServerState {
    std::mutex lock; /* guards the containers below, which loops reach concurrently */
    std::vector<std::unique_ptr<Held>> handlers;
    std::unordered_map<sio_socket_t *, std::unique_ptr<SocketRecord>> sockets;
    ExceptionHandler on_exception;

    template <class T>
    T *keep(std::unique_ptr<T> held) {
        T *raw = held.get();
        std::lock_guard<std::mutex> guard(lock);
        handlers.push_back(std::move(held));
        return raw;
    }
    void drop(const Held *held) noexcept {
        std::lock_guard<std::mutex> guard(lock);
        for (auto it = handlers.begin(); it != handlers.end(); ++it) {
            if (it->get() == held) {
                handlers.erase(it);
                return;
            }
        }
    }

    /* The socket's record, made (with the disconnect hook that ends it) on first use; nullptr when the socket has
     * left. Call on the socket's loop. */
    SocketRecord *record(sio_socket_t *socket) {
        {
            std::lock_guard<std::mutex> guard(lock);
            auto it = sockets.find(socket);
            if (it != sockets.end()) return it->second.get();
        }
        auto made = std::make_unique<SocketRecord>();
        made->state = this;
        SocketRecord *raw = made.get();
        {
            std::lock_guard<std::mutex> guard(lock);
            sockets.emplace(socket, std::move(made));
        }
        int rc = sio_socket_on_disconnect(socket, &ServerState::on_disconnect_cb, raw);
        if (rc != SIO_OK) {
            forget(socket);
            if (rc == SIO_ECLOSED) return nullptr;
            throw Error(rc, "sio_socket_on_disconnect");
        }
        return raw;
    }
    /* Ends the socket's record (idempotent). On the socket's loop, or once no handler of it can run. */
    void forget(sio_socket_t *socket) noexcept {
        std::unique_ptr<SocketRecord> gone;
        {
            std::lock_guard<std::mutex> guard(lock);
            auto it = sockets.find(socket);
            if (it == sockets.end()) return;
            gone = std::move(it->second);
            sockets.erase(it);
        }
        /* destroyed here, outside the lock: captures may do anything in their destructors */
    }

    /* Reports the exception being handled. */
    void report(std::string_view where) noexcept {
        std::exception_ptr error = std::current_exception();
        try {
            ExceptionHandler handler;
            {
                std::lock_guard<std::mutex> guard(lock);
                handler = on_exception;
            }
            if (handler) {
                handler(where, error);
                return;
            }
        } catch (...) {
            return;
        }
        try {
            std::rethrow_exception(error);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "sio: %.*s threw: %s\n", static_cast<int>(where.size()), where.data(), e.what());
        } catch (...) {
            std::fprintf(stderr, "sio: %.*s threw a non-std::exception\n", static_cast<int>(where.size()), where.data());
        }
    }

    /* ---- trampolines: C calls these with the held handler as user data ---- */

    static void on_disconnect_cb(sio_socket_t *socket, const char *reason, void *user_data) {
        auto *rec = static_cast<SocketRecord *>(user_data);
        ServerState *state = rec->state;
        std::string_view why = reason ? reason : "";
        /* by index: a handler may add another */
        for (size_t i = 0; i < rec->disconnect.size(); i++) {
            try {
                DisconnectHandler fn = rec->disconnect[i];
                fn(Socket(socket, state), why);
            } catch (...) {
                state->report("disconnect handler");
            }
        }
        state->forget(socket);
    }
    static void on_disconnecting_cb(sio_socket_t *socket, const char *reason, void *user_data) {
        auto *held = static_cast<HeldFn<DisconnectHandler> *>(user_data);
        try {
            held->fn(Socket(socket, held->state), reason ? reason : "");
        } catch (...) {
            held->state->report("disconnecting handler");
        }
    }
    static void on_event_cb(sio_socket_t *socket, const char *, const sio_args_t *args, sio_ack_t *ack,
                            void *user_data) {
        auto *held = static_cast<HeldEvent *>(user_data);
        try {
            held->fn(Socket(socket, held->state), Args(args), Ack(ack, socket));
        } catch (...) {
            held->state->report("event \"" + held->event + "\" handler");
        }
    }
    static void on_any_cb(sio_socket_t *socket, const char *event, const sio_args_t *args, sio_ack_t *ack,
                          void *user_data) {
        auto *held = static_cast<HeldFn<AnyEventHandler> *>(user_data);
        try {
            held->fn(Socket(socket, held->state), event ? event : "", Args(args), Ack(ack, socket));
        } catch (...) {
            held->state->report("on_any handler");
        }
    }
    static void on_connection_cb(sio_socket_t *socket, void *user_data) {
        auto *held = static_cast<HeldFn<ConnectionHandler> *>(user_data);
        try {
            held->fn(Socket(socket, held->state));
        } catch (...) {
            held->state->report("connection handler");
        }
    }
    static void on_middleware_cb(sio_socket_t *socket, sio_next_t *next, void *user_data);
    static void on_room_event_cb(sio_namespace_t *, int event, const char *room, const char *socket_id,
                                 void *user_data) {
        auto *held = static_cast<HeldFn<RoomEventHandler> *>(user_data);
        try {
            held->fn(static_cast<RoomEvent>(event), room ? room : "", socket_id ? socket_id : "");
        } catch (...) {
            held->state->report("room event handler");
        }
    }
    static void on_http_cb(sio_server_t *, sio_http_request_t *request, const char *method, const char *path,
                           void *user_data) {
        auto *held = static_cast<HeldFn<HttpHandler> *>(user_data);
        try {
            HttpRequest r(request, method ? method : "", path ? path : "");
            held->fn(r);
        } catch (...) {
            held->state->report("HTTP handler");
        }
    }
    static bool on_allow_request_cb(sio_server_t *, sio_http_request_t *request, void *user_data) {
        auto *held = static_cast<HeldFn<AllowRequestHandler> *>(user_data);
        try {
            HttpRequest r(request, "", "");
            return held->fn(r);
        } catch (...) {
            held->state->report("allow-request handler");
            return false;
        }
    }
    static void on_connection_error_cb(sio_server_t *, sio_http_request_t *request, int code, const char *message,
                                       const char *context_json, void *user_data) {
        auto *held = static_cast<HeldFn<ConnectionErrorHandler> *>(user_data);
        try {
            HttpRequest r(request, "", "");
            held->fn(r, code, message ? message : "", context_json ? context_json : "");
        } catch (...) {
            held->state->report("connection-error handler");
        }
    }
    static void on_server_side_cb(sio_namespace_t *, const char *event, const sio_args_t *args, sio_server_ack_t *ack,
                                  void *user_data) {
        auto *held = static_cast<HeldFn<ServerSideHandler> *>(user_data);
        try {
            held->fn(event ? event : "", Args(args), ServerAck(ack));
        } catch (...) {
            held->state->report("server-side event handler");
        }
    }

    /* One-shot callbacks: the library calls each exactly once; the holder is deleted after the call. */
    static void on_ack_cb(sio_socket_t *, int status, const sio_args_t *reply, void *user_data) {
        std::unique_ptr<HeldFn<AckHandler>> held(static_cast<HeldFn<AckHandler> *>(user_data));
        try {
            held->fn(static_cast<Status>(status), Args(reply));
        } catch (...) {
            held->state->report("acknowledgement handler");
        }
    }
    static void on_broadcast_ack_cb(int status, const sio_args_t *const *replies, size_t n, void *user_data) {
        std::unique_ptr<HeldFn<BroadcastAckHandler>> held(static_cast<HeldFn<BroadcastAckHandler> *>(user_data));
        try {
            std::vector<Args> all;
            all.reserve(n);
            for (size_t i = 0; i < n; i++) all.emplace_back(replies[i]);
            held->fn(static_cast<Status>(status), all);
        } catch (...) {
            held->state->report("broadcast acknowledgement handler");
        }
    }
    static void on_fetch_cb(int status, const char *json, size_t len, void *user_data) {
        std::unique_ptr<HeldFn<FetchSocketsHandler>> held(static_cast<HeldFn<FetchSocketsHandler> *>(user_data));
        try {
            held->fn(static_cast<Status>(status), json ? std::string_view(json, len) : std::string_view());
        } catch (...) {
            held->state->report("fetch_sockets handler");
        }
    }
    static void on_server_side_ack_cb(int status, const char *json, size_t len, void *user_data) {
        std::unique_ptr<HeldFn<ServerSideAckHandler>> held(static_cast<HeldFn<ServerSideAckHandler> *>(user_data));
        try {
            held->fn(static_cast<Status>(status), json ? std::string_view(json, len) : std::string_view());
        } catch (...) {
            held->state->report("server-side acknowledgement handler");
        }
    }
    static void on_task_cb(sio_server_t *, void *user_data) {
        std::unique_ptr<HeldFn<Task>> held(static_cast<HeldFn<Task> *>(user_data));
        try {
            held->fn();
        } catch (...) {
            held->state->report("posted task");
        }
    }
    static void on_socket_task_cb(sio_socket_t *socket, void *user_data) {
        std::unique_ptr<HeldFn<SocketTask>> held(static_cast<HeldFn<SocketTask> *>(user_data));
        try {
            held->fn(Socket(socket, held->state));
        } catch (...) {
            held->state->report("posted socket task");
        }
    }
    /* Ends a refused socket's record on its loop, after the refusal. */
    static void forget_cb(sio_socket_t *socket, void *user_data) {
        static_cast<ServerState *>(user_data)->forget(socket);
    }
};

/* The shared state of a middleware decision (all copies of one Next). */
struct NextState {
    NextState(sio_next_t *n, sio_socket_t *s, ServerState *st) noexcept : next(n), socket(s), state(st) {}
    ~NextState() {
        if (!used.exchange(true)) finish(sio_next(next, "middleware did not decide", nullptr), true);
    }
    NextState(const NextState &) = delete;
    NextState &operator=(const NextState &) = delete;

    /* sio_next once; the record of a refused socket is ended on its loop after the refusal. */
    int decide(const char *message, const char *data) noexcept {
        if (used.exchange(true)) return SIO_ESTATE;
        int rc = sio_next(next, message, data);
        if (rc != SIO_OK) {
            used = false;
            return rc;
        }
        finish(rc, message != nullptr);
        return rc;
    }
    void finish(int rc, bool refused) noexcept {
        if (rc != SIO_OK || !refused) return;
        /* Queued behind the refusal on the socket's loop; if the socket is already gone (refused synchronously on
         * its loop), nothing of it can run any more: end the record now. */
        if (sio_socket_post(socket, &ServerState::forget_cb, state) != SIO_OK && sio_socket_in_loop(socket))
            state->forget(socket);
    }

    sio_next_t *next;
    sio_socket_t *socket;
    ServerState *state;
    std::atomic<bool> used{false};
};

inline void ServerState::on_middleware_cb(sio_socket_t *socket, sio_next_t *next, void *user_data) {
    auto *held = static_cast<HeldFn<Middleware> *>(user_data);
    std::shared_ptr<NextState> decision;
    try {
        decision = std::make_shared<NextState>(next, socket, held->state);
    } catch (...) {
        sio_next(next, "server error", nullptr);
        return;
    }
    try {
        held->fn(Socket(socket, held->state), Next(decision));
    } catch (...) {
        held->state->report("middleware");
        decision->decide("server error", nullptr);
    }
}

/* Handlers given to set_log_handler, kept until exit. */
struct LogHandlers {
    std::mutex lock;
    std::vector<std::unique_ptr<LogHandler>> kept;
    static LogHandlers &get() {
        static LogHandlers *all = new LogHandlers(); /* never destroyed: a loop may log during exit */
        return *all;
    }
    static void call(int level, const char *component, const char *message, void *user_data) {
        try {
            (*static_cast<LogHandler *>(user_data))(static_cast<LogLevel>(level), component ? component : "",
                                                    message ? message : "");
        } catch (...) {
        }
    }
};

} // namespace detail

/* ---- free functions ---- */

inline void set_log_handler(LogHandler handler) {
    if (!handler) {
        sio_set_log_callback(nullptr, nullptr);
        return;
    }
    auto &all = detail::LogHandlers::get();
    auto held = std::make_unique<LogHandler>(std::move(handler));
    LogHandler *raw = held.get();
    {
        std::lock_guard<std::mutex> guard(all.lock);
        all.kept.push_back(std::move(held));
    }
    sio_set_log_callback(&detail::LogHandlers::call, raw);
}

inline std::string json_string(std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xF];
            } else {
                out += ch;
            }
        }
    }
    out += '"';
    return out;
}

/* ---- Options ---- */

inline Options::Options() : options_(sio_options_new()) {
    if (!options_) throw Error(SIO_ENOMEM, "sio_options_new");
}
inline Options &Options::set_uint(sio_option_t key, uint64_t value) {
    detail::check(sio_options_set_uint(options_, key, value), "sio_options_set_uint");
    return *this;
}
inline Options &Options::set_bool(sio_option_t key, bool value) {
    detail::check(sio_options_set_bool(options_, key, value), "sio_options_set_bool");
    return *this;
}
inline Options &Options::set_string(sio_option_t key, std::string_view value) {
    std::string text = detail::cstr(value, "sio_options_set_string");
    detail::check(sio_options_set_string(options_, key, text.c_str()), "sio_options_set_string");
    return *this;
}
inline Options &Options::tls_certificate(std::string_view cert_file, std::string_view key_file,
                                         std::string_view key_password) {
    std::string cert = detail::cstr(cert_file, "sio_options_add_tls_certificate");
    std::string key = detail::cstr(key_file, "sio_options_add_tls_certificate");
    std::string password = detail::cstr(key_password, "sio_options_add_tls_certificate");
    detail::check(sio_options_add_tls_certificate(options_, cert.c_str(), key.c_str(),
                                                  password.empty() ? nullptr : password.c_str()),
                  "sio_options_add_tls_certificate");
    return *this;
}
inline Options &Options::set_ms(sio_option_t key, milliseconds value) {
    if (value.count() < 0) throw Error(SIO_EINVAL, "sio_options_set_uint", "negative duration");
    return set_uint(key, static_cast<uint64_t>(value.count()));
}

/* ---- Ack, Next, ServerAck, HttpRequest ---- */

inline bool Ack::send_raw(const char *json, size_t len, const sio_buffer_t *bins, size_t n) {
    if (!ack_) throw Error(SIO_EINVAL, "sio_ack_send", "no acknowledgement to send (none asked, or sent)");
    int rc = sio_ack_send(ack_, json, len, bins, n);
    if (rc == SIO_ETHREAD) throw Error(rc, "sio_ack_send");
    ack_ = nullptr; /* consumed in every other case */
    if (rc == SIO_EINVAL) {
        /* sio.h answers EINVAL both for an ack already sent and for one released because its socket left */
        if (!sio_socket_connected(socket_)) return false;
        throw Error(rc, "sio_ack_send", "acknowledgement already sent");
    }
    return detail::status(rc, "sio_ack_send");
}
inline bool Ack::send(std::string_view json, Binaries binaries) {
    detail::Buffers b(binaries);
    return send_raw(json.empty() ? nullptr : json.data(), json.size(), b.data(), b.size());
}
inline bool Ack::send(const Args &args) {
    detail::Buffers b(args);
    std::string_view json = args.json();
    return send_raw(json.empty() ? nullptr : json.data(), json.size(), b.data(), b.size());
}
inline bool Ack::send(const Message &message) {
    detail::Buffers b(message);
    return send_raw(message.json.empty() ? nullptr : message.json.data(), message.json.size(), b.data(), b.size());
}

inline void Next::allow() {
    int rc = state_ ? state_->decide(nullptr, nullptr) : SIO_EINVAL;
    if (rc == SIO_ESTATE) throw Error(rc, "sio_next", "already decided");
    detail::check(rc, "sio_next");
}
inline void Next::refuse(std::string_view message, std::string_view data_json) {
    std::string text = detail::cstr(message, "sio_next");
    std::string data = detail::cstr(data_json, "sio_next");
    int rc = state_ ? state_->decide(text.c_str(), data.empty() ? nullptr : data.c_str()) : SIO_EINVAL;
    if (rc == SIO_ESTATE) throw Error(rc, "sio_next", "already decided");
    detail::check(rc, "sio_next");
}
inline bool Next::decided() const noexcept { return state_ && state_->used.load(); }

inline bool ServerAck::send(std::string_view value_json) {
    if (!ack_) throw Error(SIO_EINVAL, "sio_server_ack_send", "no acknowledgement to send");
    int rc = sio_server_ack_send(ack_, value_json.empty() ? nullptr : value_json.data(), value_json.size());
    if (rc == SIO_ETHREAD) throw Error(rc, "sio_server_ack_send");
    ack_ = nullptr;
    if (rc == SIO_EINVAL) return false;
    detail::check(rc, "sio_server_ack_send");
    return true;
}

inline std::string HttpRequest::url() const {
    const char *u = sio_http_request_url(request_);
    return u ? u : "";
}
inline std::optional<std::string> HttpRequest::header(std::string_view name) const {
    std::string key = detail::cstr(name, "sio_http_request_header");
    const char *v = sio_http_request_header(request_, key.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
}
inline void HttpRequest::respond(int status, std::string_view content_type, Bytes body) {
    std::string type = detail::cstr(content_type, "sio_http_respond");
    detail::check(sio_http_respond(request_, status, type.empty() ? nullptr : type.c_str(), body.data, body.size),
                  "sio_http_respond");
}
inline void HttpRequest::respond(int status, std::string_view content_type, std::string_view body) {
    respond(status, content_type, Bytes(body));
}

/* ---- Broadcast ---- */

inline Broadcast Broadcast::to(std::string_view room) const {
    Broadcast b = *this;
    b.to_.push_back(detail::cstr(room, "sio::Broadcast::to"));
    return b;
}
inline Broadcast Broadcast::to(const std::vector<std::string> &rooms) const {
    Broadcast b = *this;
    for (const auto &r : rooms) b.to_.push_back(detail::cstr(r, "sio::Broadcast::to"));
    return b;
}
inline Broadcast Broadcast::except(std::string_view room) const {
    Broadcast b = *this;
    b.except_.push_back(detail::cstr(room, "sio::Broadcast::except"));
    return b;
}
inline Broadcast Broadcast::except(const std::vector<std::string> &rooms) const {
    Broadcast b = *this;
    for (const auto &r : rooms) b.except_.push_back(detail::cstr(r, "sio::Broadcast::except"));
    return b;
}
inline bool Broadcast::emit_raw(std::string_view event, const char *json, size_t len, const sio_buffer_t *bins,
                                size_t n) const {
    std::string name = detail::cstr(event, "sio_namespace_broadcast");
    auto to = detail::pointers(to_), except = detail::pointers(except_);
    return detail::status(sio_namespace_broadcast(ns_, to.data(), to.size(), except.data(), except.size(), flags_,
                                                  name.c_str(), json, len, bins, n),
                          "sio_namespace_broadcast");
}
inline bool Broadcast::emit(std::string_view event, std::string_view json, Binaries binaries) const {
    detail::Buffers b(binaries);
    return emit_raw(event, json.empty() ? nullptr : json.data(), json.size(), b.data(), b.size());
}
inline bool Broadcast::emit(std::string_view event, const Args &args) const {
    detail::Buffers b(args);
    std::string_view json = args.json();
    return emit_raw(event, json.empty() ? nullptr : json.data(), json.size(), b.data(), b.size());
}
inline bool Broadcast::emit(std::string_view event, const Message &message) const {
    detail::Buffers b(message);
    return emit_raw(event, message.json.empty() ? nullptr : message.json.data(), message.json.size(), b.data(),
                    b.size());
}
inline bool Broadcast::emit_with_ack(std::string_view event, std::string_view json, Binaries binaries,
                                     std::chrono::milliseconds timeout, BroadcastAckHandler done) const {
    const char *call = "sio_namespace_broadcast_with_ack";
    std::string name = detail::cstr(event, call);
    uint32_t ms = detail::ms32(timeout, call);
    detail::Buffers b(binaries);
    auto to = detail::pointers(to_), except = detail::pointers(except_);
    auto held = std::make_unique<detail::HeldFn<BroadcastAckHandler>>(state_, std::move(done));
    int rc = sio_namespace_broadcast_with_ack(ns_, to.data(), to.size(), except.data(), except.size(), flags_,
                                              name.c_str(), json.empty() ? nullptr : json.data(), json.size(),
                                              b.data(), b.size(), ms, &detail::ServerState::on_broadcast_ack_cb,
                                              held.get());
    if (!detail::status(rc, call)) return false;
    held.release(); /* the callback deletes it */
    return true;
}
inline bool Broadcast::rooms_op(const std::vector<std::string> &names, bool join) const {
    const char *call = join ? "sio_namespace_sockets_join" : "sio_namespace_sockets_leave";
    std::vector<std::string> checked;
    checked.reserve(names.size());
    for (const auto &n : names) checked.push_back(detail::cstr(n, call));
    auto to = detail::pointers(to_), except = detail::pointers(except_), list = detail::pointers(checked);
    unsigned flags = flags_ & SIO_BROADCAST_LOCAL;
    int rc = join ? sio_namespace_sockets_join(ns_, to.data(), to.size(), except.data(), except.size(), flags,
                                               list.data(), list.size())
                  : sio_namespace_sockets_leave(ns_, to.data(), to.size(), except.data(), except.size(), flags,
                                                list.data(), list.size());
    return detail::status(rc, call);
}
inline bool Broadcast::sockets_join(const std::vector<std::string> &rooms) const { return rooms_op(rooms, true); }
inline bool Broadcast::sockets_leave(const std::vector<std::string> &rooms) const { return rooms_op(rooms, false); }
inline bool Broadcast::disconnect_sockets(bool close) const {
    auto to = detail::pointers(to_), except = detail::pointers(except_);
    return detail::status(sio_namespace_disconnect_sockets(ns_, to.data(), to.size(), except.data(), except.size(),
                                                           flags_ & SIO_BROADCAST_LOCAL, close),
                          "sio_namespace_disconnect_sockets");
}
inline bool Broadcast::fetch_sockets(FetchSocketsHandler done) const {
    auto to = detail::pointers(to_), except = detail::pointers(except_);
    auto held = std::make_unique<detail::HeldFn<FetchSocketsHandler>>(state_, std::move(done));
    int rc = sio_namespace_fetch_sockets(ns_, to.data(), to.size(), except.data(), except.size(),
                                         flags_ & SIO_BROADCAST_LOCAL, &detail::ServerState::on_fetch_cb, held.get());
    if (!detail::status(rc, "sio_namespace_fetch_sockets")) return false;
    held.release();
    return true;
}

/* ---- Namespace ---- */

inline detail::ServerState *Namespace::need(const char *call) const {
    if (!ns_ || !state_) throw Error(SIO_EINVAL, call, "empty sio::Namespace");
    return state_;
}

inline std::string Namespace::name() const {
    const char *n = sio_namespace_name(ns_);
    return n ? n : "";
}
inline void Namespace::on_connection(ConnectionHandler handler) {
    need("sio_namespace_on_connection");
    auto *held = state_->keep(std::make_unique<detail::HeldFn<ConnectionHandler>>(state_, std::move(handler)));
    int rc = sio_namespace_on_connection(ns_, &detail::ServerState::on_connection_cb, held);
    if (rc != SIO_OK) {
        state_->drop(held);
        throw Error(rc, "sio_namespace_on_connection");
    }
}
inline void Namespace::use(Middleware middleware) {
    need("sio_namespace_use");
    auto *held = state_->keep(std::make_unique<detail::HeldFn<Middleware>>(state_, std::move(middleware)));
    int rc = sio_namespace_use(ns_, &detail::ServerState::on_middleware_cb, held);
    if (rc != SIO_OK) {
        state_->drop(held);
        throw Error(rc, "sio_namespace_use");
    }
}
inline void Namespace::on_room_event(RoomEventHandler handler) {
    need("sio_namespace_on_room_event");
    auto *held = state_->keep(std::make_unique<detail::HeldFn<RoomEventHandler>>(state_, std::move(handler)));
    int rc = sio_namespace_on_room_event(ns_, &detail::ServerState::on_room_event_cb, held);
    if (rc != SIO_OK) {
        state_->drop(held);
        throw Error(rc, "sio_namespace_on_room_event");
    }
}
inline bool Namespace::server_side_emit(std::string_view event, std::string_view json) const {
    std::string name = detail::cstr(event, "sio_namespace_server_side_emit");
    return detail::status(
        sio_namespace_server_side_emit(ns_, name.c_str(), json.empty() ? nullptr : json.data(), json.size()),
        "sio_namespace_server_side_emit");
}
inline bool Namespace::server_side_emit_with_ack(std::string_view event, std::string_view json,
                                                 std::chrono::milliseconds timeout, ServerSideAckHandler done) const {
    const char *call = "sio_namespace_server_side_emit_with_ack";
    std::string name = detail::cstr(event, call);
    uint32_t ms = detail::ms32(timeout, call);
    auto held = std::make_unique<detail::HeldFn<ServerSideAckHandler>>(state_, std::move(done));
    int rc = sio_namespace_server_side_emit_with_ack(ns_, name.c_str(), json.empty() ? nullptr : json.data(),
                                                     json.size(), ms, &detail::ServerState::on_server_side_ack_cb,
                                                     held.get());
    if (!detail::status(rc, call)) return false;
    held.release();
    return true;
}
inline void Namespace::on_server_side_emit(std::string_view event, ServerSideHandler handler) {
    need("sio_namespace_on_server_side_emit");
    std::string name = detail::cstr(event, "sio_namespace_on_server_side_emit");
    auto *held = state_->keep(std::make_unique<detail::HeldFn<ServerSideHandler>>(state_, std::move(handler)));
    int rc = sio_namespace_on_server_side_emit(ns_, name.c_str(), &detail::ServerState::on_server_side_cb, held);
    if (rc != SIO_OK) {
        state_->drop(held);
        throw Error(rc, "sio_namespace_on_server_side_emit");
    }
}

/* ---- Socket ---- */

inline bool Socket::on_its_loop(const char *call) const {
    need(call);
    if (sio_socket_in_loop(socket_)) return true;
    if (sio_socket_loop_index(socket_) < 0) return false; /* gone */
    throw Error(SIO_ETHREAD, call);
}
inline std::string Socket::text(const char *value, const char *call) const {
    if (value) return value;
    on_its_loop(call);
    return {};
}
inline std::string Socket::id() const {
    on_its_loop("sio_socket_id");
    return text(sio_socket_id(socket_), "sio_socket_id");
}
inline Namespace Socket::nsp() const {
    on_its_loop("sio_socket_get_namespace");
    return Namespace(sio_socket_get_namespace(socket_), state_);
}
inline std::string Socket::nsp_name() const {
    on_its_loop("sio_socket_namespace");
    return text(sio_socket_namespace(socket_), "sio_socket_namespace");
}
inline bool Socket::connected() const { return on_its_loop("sio_socket_connected") && sio_socket_connected(socket_); }
inline std::string Socket::auth() const {
    if (!on_its_loop("sio_socket_auth")) return {};
    size_t len = 0;
    const char *a = sio_socket_auth(socket_, &len);
    return a ? std::string(a, len) : std::string();
}
inline std::optional<std::string> Socket::query(std::string_view name) const {
    std::string key = detail::cstr(name, "sio_socket_query");
    if (!on_its_loop("sio_socket_query")) return std::nullopt;
    const char *v = sio_socket_query(socket_, key.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
}
inline std::optional<std::string> Socket::header(std::string_view name) const {
    std::string key = detail::cstr(name, "sio_socket_header");
    if (!on_its_loop("sio_socket_header")) return std::nullopt;
    const char *v = sio_socket_header(socket_, key.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
}
inline std::string Socket::address() const {
    on_its_loop("sio_socket_address");
    return text(sio_socket_address(socket_), "sio_socket_address");
}
inline std::string Socket::transport() const {
    on_its_loop("sio_socket_transport");
    return text(sio_socket_transport(socket_), "sio_socket_transport");
}
inline std::string Socket::handshake() const {
    need("sio_socket_handshake");
    char *json = nullptr;
    int rc = sio_socket_handshake(socket_, &json);
    std::string out = json ? json : "";
    sio_free(json);
    if (rc == SIO_ECLOSED) return {};
    detail::check(rc, "sio_socket_handshake");
    return out;
}
inline std::vector<std::string> Socket::rooms() const {
    need("sio_socket_rooms");
    char *json = nullptr;
    int rc = sio_socket_rooms(socket_, &json);
    std::unique_ptr<char, void (*)(void *)> owned(json, &sio_free);
    if (rc == SIO_ECLOSED) return {};
    detail::check(rc, "sio_socket_rooms");
    return detail::parse_string_array(json ? json : "[]", "sio_socket_rooms");
}
inline bool Socket::recovered() const { return on_its_loop("sio_socket_recovered") && sio_socket_recovered(socket_); }
inline int Socket::loop_index() const noexcept {
    int index = socket_ ? sio_socket_loop_index(socket_) : -1;
    return index < 0 ? -1 : index;
}
inline bool Socket::in_loop() const noexcept { return socket_ && sio_socket_in_loop(socket_); }

inline std::any &Socket::data() const {
    detail::SocketRecord *rec = on_its_loop("sio::Socket::data") ? state_->record(socket_) : nullptr;
    if (!rec) throw Error(SIO_ECLOSED, "sio::Socket::data");
    return rec->data;
}

template <class H, class Register>
bool Socket::add_handler(const char *call, std::unique_ptr<H> held, Register reg) const {
    if (!on_its_loop(call)) return false;
    detail::SocketRecord *rec = state_->record(socket_);
    if (!rec) return false;
    H *raw = held.get();
    rec->handlers.push_back(std::move(held));
    int rc = reg(raw);
    if (rc != SIO_OK) {
        rec->handlers.pop_back();
        return detail::status(rc, call);
    }
    return true;
}
inline bool Socket::on(std::string_view event, EventHandler handler) const {
    std::string name = detail::cstr(event, "sio_socket_on");
    auto held = std::make_unique<detail::HeldEvent>(state_, name, std::move(handler));
    return add_handler("sio_socket_on", std::move(held), [&](detail::HeldEvent *h) {
        return sio_socket_on(socket_, h->event.c_str(), &detail::ServerState::on_event_cb, h);
    });
}
inline bool Socket::on_any(AnyEventHandler handler) const {
    auto held = std::make_unique<detail::HeldFn<AnyEventHandler>>(state_, std::move(handler));
    return add_handler("sio_socket_on_any", std::move(held), [&](detail::HeldFn<AnyEventHandler> *h) {
        return sio_socket_on_any(socket_, &detail::ServerState::on_any_cb, h);
    });
}
inline bool Socket::on_disconnecting(DisconnectHandler handler) const {
    auto held = std::make_unique<detail::HeldFn<DisconnectHandler>>(state_, std::move(handler));
    return add_handler("sio_socket_on_disconnecting", std::move(held), [&](detail::HeldFn<DisconnectHandler> *h) {
        return sio_socket_on_disconnecting(socket_, &detail::ServerState::on_disconnecting_cb, h);
    });
}
inline bool Socket::on_disconnect(DisconnectHandler handler) const {
    if (!on_its_loop("sio_socket_on_disconnect")) return false;
    detail::SocketRecord *rec = state_->record(socket_); /* its one C disconnect callback runs these */
    if (!rec) return false;
    rec->disconnect.push_back(std::move(handler));
    return true;
}

inline bool Socket::emit_raw(std::string_view event, const char *json, size_t len, const sio_buffer_t *bins,
                             size_t n) const {
    need("sio_socket_emit");
    std::string name = detail::cstr(event, "sio_socket_emit");
    return detail::status(sio_socket_emit(socket_, name.c_str(), json, len, bins, n), "sio_socket_emit");
}
inline bool Socket::emit(std::string_view event, std::string_view json, Binaries binaries) const {
    detail::Buffers b(binaries);
    return emit_raw(event, json.empty() ? nullptr : json.data(), json.size(), b.data(), b.size());
}
inline bool Socket::emit(std::string_view event, const Args &args) const {
    detail::Buffers b(args);
    std::string_view json = args.json();
    return emit_raw(event, json.empty() ? nullptr : json.data(), json.size(), b.data(), b.size());
}
inline bool Socket::emit(std::string_view event, const Message &message) const {
    detail::Buffers b(message);
    return emit_raw(event, message.json.empty() ? nullptr : message.json.data(), message.json.size(), b.data(),
                    b.size());
}
inline bool Socket::emit_with_ack(std::string_view event, std::string_view json, Binaries binaries,
                                  std::chrono::milliseconds timeout, AckHandler done) const {
    const char *call = "sio_socket_emit_with_ack";
    need(call);
    std::string name = detail::cstr(event, call);
    uint32_t ms = detail::ms32(timeout, call);
    detail::Buffers b(binaries);
    auto held = std::make_unique<detail::HeldFn<AckHandler>>(state_, std::move(done));
    int rc = sio_socket_emit_with_ack(socket_, name.c_str(), json.empty() ? nullptr : json.data(), json.size(),
                                      b.data(), b.size(), ms, &detail::ServerState::on_ack_cb, held.get());
    if (!detail::status(rc, call)) return false;
    held.release();
    return true;
}
inline bool Socket::join(std::string_view room) const {
    need("sio_socket_join");
    std::string name = detail::cstr(room, "sio_socket_join");
    return detail::status(sio_socket_join(socket_, name.c_str()), "sio_socket_join");
}
inline bool Socket::leave(std::string_view room) const {
    need("sio_socket_leave");
    std::string name = detail::cstr(room, "sio_socket_leave");
    return detail::status(sio_socket_leave(socket_, name.c_str()), "sio_socket_leave");
}
inline bool Socket::disconnect(bool close) const {
    need("sio_socket_disconnect");
    return detail::status(sio_socket_disconnect(socket_, close), "sio_socket_disconnect");
}
inline bool Socket::post(SocketTask task) const {
    need("sio_socket_post");
    auto held = std::make_unique<detail::HeldFn<SocketTask>>(state_, std::move(task));
    if (!detail::status(sio_socket_post(socket_, &detail::ServerState::on_socket_task_cb, held.get()),
                        "sio_socket_post"))
        return false;
    held.release();
    return true;
}

/* ---- Server ---- */

inline Server::Server() : state_(std::make_unique<detail::ServerState>()) {
    detail::check(sio_server_create(&server_, nullptr), "sio_server_create");
}
inline Server::Server(const Options &options) : state_(std::make_unique<detail::ServerState>()) {
    detail::check(sio_server_create(&server_, options.handle()), "sio_server_create");
}
inline void Server::reset() noexcept {
    if (!server_) {
        state_.reset();
        return;
    }
    sio_server_t *server = std::exchange(server_, nullptr);
    std::unique_ptr<detail::ServerState> state = std::move(state_);
    if (sio_server_in_loop(server)) {
        /* Inside one of its callbacks: the loop cannot wait for itself, and sio.h says nothing of when a server
         * destroyed there has ended. Stop now; a helper thread waits for the end (sio_server_destroy off the loop
         * waits) and then frees the handlers, the one running now included. */
        sio_server_stop(server);
        try {
            detail::ServerState *raw = state.get();
            std::thread([server, raw] {
                sio_server_destroy(server);
                delete raw;
            }).detach();
            (void)state.release();
        } catch (...) {
            /* No thread: the library frees the server when its loop ends; the handlers must then stay (leaked). */
            sio_server_destroy(server);
            (void)state.release();
        }
        return;
    }
    sio_server_destroy(server);
    /* `state` goes here: no callback can run any more */
}
inline sio_server_t *Server::need(const char *call) const {
    if (!server_) throw Error(SIO_EINVAL, call, "empty sio::Server (moved from or reset)");
    return server_;
}
inline void Server::listen(std::string_view host, uint16_t port) {
    std::string h = detail::cstr(host, "sio_server_listen");
    int rc = sio_server_listen(need("sio_server_listen"), h.c_str(), port);
    if (rc != SIO_OK) throw Error(rc, "sio_server_listen", h + ":" + std::to_string(port));
}
inline void Server::listen_fd(int fd) { detail::check(sio_server_listen_fd(need("sio_server_listen_fd"), fd), "sio_server_listen_fd"); }
inline void Server::instrument(const Options &options) {
    detail::check(sio_server_instrument(need("sio_server_instrument"), options.handle()), "sio_server_instrument");
}
inline int Server::port() const {
    int p = sio_server_port(need("sio_server_port"));
    if (p < 0) throw Error(p, "sio_server_port");
    return p;
}
inline void Server::run() {
    sio_server_t *server = need("sio_server_run");
    int rc = sio_server_run(server); /* `this` may be gone after: a handler may have destroyed it */
    detail::check(rc, "sio_server_run");
}
inline void Server::start() { detail::check(sio_server_start(need("sio_server_start")), "sio_server_start"); }
inline void Server::stop() { detail::check(sio_server_stop(need("sio_server_stop")), "sio_server_stop"); }
inline void Server::wait() { detail::check(sio_server_wait(need("sio_server_wait")), "sio_server_wait"); }
inline bool Server::post(Task task) {
    sio_server_t *server = need("sio_server_post");
    auto held = std::make_unique<detail::HeldFn<Task>>(state_.get(), std::move(task));
    if (!detail::status(sio_server_post(server, &detail::ServerState::on_task_cb, held.get()), "sio_server_post"))
        return false;
    held.release();
    return true;
}
inline int Server::loop_count() const {
    int n = sio_server_loop_count(need("sio_server_loop_count"));
    if (n < 0) throw Error(n, "sio_server_loop_count");
    return n;
}
inline Namespace Server::of(std::string_view name) {
    std::string n = detail::cstr(name, "sio_server_of");
    sio_namespace_t *ns = sio_server_of(need("sio_server_of"), n.c_str());
    if (!ns) throw Error(SIO_EINVAL, "sio_server_of", "invalid name \"" + n + "\", or called off the loop thread");
    return Namespace(ns, state_.get());
}
inline void Server::on_http_request(HttpHandler handler) {
    sio_server_t *server = need("sio_server_on_http_request");
    if (!handler) {
        detail::check(sio_server_on_http_request(server, nullptr, nullptr), "sio_server_on_http_request");
        return;
    }
    auto *held = state_->keep(std::make_unique<detail::HeldFn<HttpHandler>>(state_.get(), std::move(handler)));
    int rc = sio_server_on_http_request(server, &detail::ServerState::on_http_cb, held);
    if (rc != SIO_OK) {
        state_->drop(held);
        throw Error(rc, "sio_server_on_http_request");
    }
}
inline void Server::on_allow_request(AllowRequestHandler handler) {
    sio_server_t *server = need("sio_server_on_allow_request");
    if (!handler) {
        detail::check(sio_server_on_allow_request(server, nullptr, nullptr), "sio_server_on_allow_request");
        return;
    }
    auto *held = state_->keep(std::make_unique<detail::HeldFn<AllowRequestHandler>>(state_.get(), std::move(handler)));
    int rc = sio_server_on_allow_request(server, &detail::ServerState::on_allow_request_cb, held);
    if (rc != SIO_OK) {
        state_->drop(held);
        throw Error(rc, "sio_server_on_allow_request");
    }
}
inline void Server::on_connection_error(ConnectionErrorHandler handler) {
    sio_server_t *server = need("sio_server_on_connection_error");
    if (!handler) {
        detail::check(sio_server_on_connection_error(server, nullptr, nullptr), "sio_server_on_connection_error");
        return;
    }
    auto *held =
        state_->keep(std::make_unique<detail::HeldFn<ConnectionErrorHandler>>(state_.get(), std::move(handler)));
    int rc = sio_server_on_connection_error(server, &detail::ServerState::on_connection_error_cb, held);
    if (rc != SIO_OK) {
        state_->drop(held);
        throw Error(rc, "sio_server_on_connection_error");
    }
}
inline void Server::on_exception(ExceptionHandler handler) {
    need("sio::Server::on_exception");
    std::lock_guard<std::mutex> guard(state_->lock);
    state_->on_exception = std::move(handler);
}

} // namespace sio

#endif /* SIO_HPP */
