// api_server: a Socket.IO server written against sio.hpp, the peer of Tests/cpp/test_cpp_api.py (which drives it
// with the real python-socketio client). Built with -std=c++17 -Wall -Wextra -Werror -pedantic and
// -fsanitize=address,undefined.
//
//   api_server PORT LOOPS MODE
//       MODE "stop"     start(); on "stop" (event or SIGTERM): stop(), wait(), then the Server is destroyed
//            "destroy"  start(); on "stop": the Server is destroyed with its clients connected (no stop() first)
//            "run"      run() on the main thread; a controller thread calls stop(); then the Server is destroyed
//            "inside"   start(); the event "self_destruct" destroys the Server from inside its own handler
//
// Before listening it runs the offline checks (options, errors, moves, bad arguments) and prints
// "OFFLINE failures=<n>". Then "LOOPS <n>", "LISTENING <port>", and per connection "CONNECT <ns> <id> loop=<k>".
// Every handler captures a Canary: after the Server is destroyed the program prints "CANARIES <live>" (0 when every
// handler and one-shot callback was freed), then "EXIT <failures>", and exits 0 only without failures.
//
// With LOOPS > 1 handlers of different sockets run at the same time: what they share here (failures, stdout, the
// worker threads, the last gone socket) is atomic or behind a mutex.
//
// Namespaces: "/" (middleware: auth token "secret" or refused "not authorized" {"code":401}; sets data()),
// "/deferred" (decided on a worker thread: token "secret" allowed, else "deferred refusal" {"code":403}),
// "/dropped" (the middleware drops its Next), "/throws" (the middleware throws).
// Events on "/" (see the handlers below): echo, ack, ask, bin, join, leave, to_room, to_room_except, ask_room,
// pull, kick_room, info, misuse, thread, throw, kick, gone, stop, self_destruct.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <any>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <sio.hpp>

using namespace std::chrono_literals;

namespace {

// ---- output and checks ---------------------------------------------------------------------------------------------

std::mutex say_lock;
void say(const std::string &line) {
    std::lock_guard<std::mutex> guard(say_lock);
    std::cout << line << std::endl;
}

std::atomic<int> failures{0};
void fail(const std::string &what, int line) {
    failures++;
    say("FAIL line " + std::to_string(line) + ": " + what);
}
#define EXPECT(cond)                                                                                                   \
    do {                                                                                                               \
        if (!(cond)) fail(#cond, __LINE__);                                                                            \
    } while (0)
// `expr` must throw sio::Error with code `expected`.
#define EXPECT_ERROR(expr, expected)                                                                                   \
    do {                                                                                                               \
        try {                                                                                                          \
            (void)(expr);                                                                                              \
            fail(std::string(#expr) + " did not throw", __LINE__);                                                     \
        } catch (const sio::Error &e_) {                                                                               \
            if (e_.code() != (expected))                                                                               \
                fail(std::string(#expr) + " threw " + e_.what() + ", not " + sio_err_name(expected), __LINE__);        \
        }                                                                                                              \
    } while (0)
#define EXPECT_NO_THROW(expr)                                                                                          \
    do {                                                                                                               \
        try {                                                                                                          \
            (void)(expr);                                                                                              \
        } catch (const std::exception &e_) {                                                                           \
            fail(std::string(#expr) + " threw " + e_.what(), __LINE__);                                               \
        }                                                                                                              \
    } while (0)

// Counts live handler captures: every handler takes one, so 0 after the Server is gone means all were freed.
std::atomic<int> live_canaries{0};
struct Canary {
    Canary() { live_canaries++; }
    Canary(const Canary &) { live_canaries++; }
    Canary &operator=(const Canary &) = default;
    ~Canary() {
        if (--live_canaries == 0) freed_all();
    }
    static void freed_all();
};
std::mutex freed_lock;
std::condition_variable freed_cond;
void Canary::freed_all() {
    std::lock_guard<std::mutex> guard(freed_lock);
    freed_cond.notify_all();
}

// Threads the handlers start (joined before the Server is destroyed).
class Workers {
public:
    template <class F>
    void spawn(F fn) {
        std::lock_guard<std::mutex> guard(lock_);
        threads_.emplace_back(std::move(fn));
    }
    void join_all() {
        for (;;) {
            std::vector<std::thread> taken;
            {
                std::lock_guard<std::mutex> guard(lock_);
                taken.swap(threads_);
            }
            if (taken.empty()) return;
            for (auto &t : taken) t.join();
        }
    }

private:
    std::mutex lock_;
    std::vector<std::thread> threads_;
};
Workers workers;

// A stop request (the "stop" event, SIGINT / SIGTERM).
std::mutex stop_lock;
std::condition_variable stop_cond;
bool stop_requested = false;
void request_stop() {
    std::lock_guard<std::mutex> guard(stop_lock);
    stop_requested = true;
    stop_cond.notify_all();
}
void wait_stop() {
    std::unique_lock<std::mutex> guard(stop_lock);
    stop_cond.wait(guard, [] { return stop_requested; });
}

// ---- small JSON helpers for the flat argument arrays the tests send ---------------------------------------------

// The top-level elements of a JSON array: strings unquoted (simple escapes), anything else as its JSON text.
std::vector<std::string> flat(std::string_view json) {
    std::vector<std::string> out;
    size_t i = json.find('[');
    if (i == std::string_view::npos) return out;
    i++;
    while (i < json.size()) {
        while (i < json.size() && (json[i] == ' ' || json[i] == ',')) i++;
        if (i >= json.size() || json[i] == ']') break;
        if (json[i] == '"') {
            std::string s;
            for (i++; i < json.size() && json[i] != '"'; i++) {
                if (json[i] == '\\' && i + 1 < json.size()) i++;
                s += json[i];
            }
            i++;
            out.push_back(s);
        } else {
            size_t start = i;
            int depth = 0;
            bool in_string = false;
            for (; i < json.size(); i++) {
                char c = json[i];
                if (in_string) {
                    if (c == '\\') i++;
                    else if (c == '"') in_string = false;
                } else if (c == '"') {
                    in_string = true;
                } else if (c == '{' || c == '[') {
                    depth++;
                } else if (c == '}' || c == ']') {
                    if (depth == 0) break;
                    depth--;
                } else if (c == ',' && depth == 0) {
                    break;
                }
            }
            out.emplace_back(json.substr(start, i - start));
        }
    }
    return out;
}

std::string json_array(const std::vector<std::string> &strings) {
    std::string out = "[";
    for (size_t i = 0; i < strings.size(); i++) out += (i ? "," : "") + sio::json_string(strings[i]);
    return out + "]";
}

std::string status_name(sio::Status s) { return sio::err_name(s); }

// What the "/" middleware leaves on a socket, and its handlers update.
struct SocketInfo {
    std::string tier;
    int events = 0;
};

// ---- offline checks -------------------------------------------------------------------------------------------------

static_assert(!std::is_copy_constructible_v<sio::Server> && !std::is_copy_assignable_v<sio::Server>);
static_assert(std::is_nothrow_move_constructible_v<sio::Server> && std::is_nothrow_move_assignable_v<sio::Server>);
static_assert(!std::is_copy_constructible_v<sio::Options> && std::is_nothrow_move_constructible_v<sio::Options>);
static_assert(std::is_copy_constructible_v<sio::Socket> && std::is_copy_constructible_v<sio::Namespace>);
static_assert(std::is_copy_constructible_v<sio::Ack> && std::is_copy_constructible_v<sio::Next>);
static_assert(std::is_base_of_v<std::runtime_error, sio::Error>);
static_assert(sizeof(sio::Bytes) == sizeof(sio_buffer_t));

void offline_checks() {
    // Errors.
    sio::Error e(SIO_ETHREAD, "sio_socket_join");
    EXPECT(e.code() == SIO_ETHREAD && e.errc() == sio::Errc::wrong_thread && std::string(e.name()) == "SIO_ETHREAD");
    EXPECT(std::string(e.what()) == "sio_socket_join: SIO_ETHREAD (must be called on the server's loop thread)");
    EXPECT(std::string(sio::err_name(sio::Errc::timeout)) == "SIO_ETIMEOUT");
    EXPECT(sio::library_compatible() && sio::version_number() == sio::header_version_number);
    EXPECT(sio::version() == SIO_VERSION_STRING);

    // Options: every setter once with a valid value, then refusals.
    sio::Options all;
    EXPECT_NO_THROW(all.path("/socket.io/")
                        .ping_interval(25s)
                        .ping_timeout(20000ms)
                        .upgrade_timeout(10s)
                        .max_http_buffer_size(1000000)
                        .transports("polling,websocket")
                        .allow_upgrades(true)
                        .cors_origin("*")
                        .cors_credentials(false)
                        .cookie("io")
                        .http_compression_threshold(1024)
                        .connect_timeout(45s)
                        .max_attachments(10)
                        .recovery(false)
                        .recovery_max_disconnection(2min)
                        .recovery_skip_middlewares(true)
                        .max_buffered_bytes(16u << 20)
                        .redis_url("")
                        .redis_key("socket.io")
                        .redis_requests_timeout(5s)
                        .per_message_deflate(false)
                        .per_message_deflate_threshold(1024)
                        .loops(1)
                        .loop_balancing("round-robin")
                        .parser("json"));
    EXPECT_ERROR(sio::Options().loops(65), SIO_EINVAL);
    EXPECT_ERROR(sio::Options().path("no-slash"), SIO_EINVAL);
    EXPECT_ERROR(sio::Options().transports("carrier-pigeon"), SIO_EINVAL);
    EXPECT_ERROR(sio::Options().parser("xml"), SIO_EINVAL);
    EXPECT_ERROR(sio::Options().loop_balancing("random"), SIO_EINVAL);
    EXPECT_ERROR(sio::Options().ping_interval(-1ms), SIO_EINVAL);
    EXPECT_ERROR(sio::Options().ping_interval(std::chrono::hours(25)), SIO_EINVAL);
    EXPECT_ERROR(sio::Options().redis_url("http://nope"), SIO_EINVAL);
    EXPECT_ERROR(sio::Options().cookie(std::string_view("a\0b", 3)), SIO_EINVAL);
    EXPECT_ERROR(sio::Options().set_bool(SIO_OPT_LOOPS, true), SIO_EINVAL); // a key of another type
    // Options move: the moved-from object is empty and refuses setters.
    sio::Options source;
    source.loops(1);
    sio::Options moved(std::move(source));
    EXPECT(source.handle() == nullptr && moved.handle() != nullptr);
    EXPECT_ERROR(source.loops(1), SIO_EINVAL);
    sio::Options assigned;
    assigned = std::move(moved);
    EXPECT(moved.handle() == nullptr && assigned.handle() != nullptr);

    // JSON helpers.
    EXPECT(sio::json_string("a\"b\\\n\x01\xc3\xa9") == "\"a\\\"b\\\\\\n\\u0001\xc3\xa9\"");
    EXPECT(json_array({"x", "y z"}) == "[\"x\",\"y z\"]");

    // Bytes and Binaries.
    std::vector<uint8_t> v{1, 2, 3};
    sio::Bytes b(v);
    EXPECT(b.size == 3 && b.data == v.data() && b.to_vector() == v && !b.empty());
    EXPECT(sio::Bytes(std::string_view("hi")).as_chars() == "hi");
    std::vector<sio::Bytes> list{b, sio::Bytes()};
    sio::Binaries bins(list);
    EXPECT(bins.size() == 2 && bins[0].size == 3 && bins[1].empty());

    // listen_fd: a bound socket handed over (the server owns it then); the port is the socket's.
    {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        EXPECT(fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
        EXPECT(::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) == 0);
        sio::Server by_fd;
        EXPECT_ERROR(by_fd.listen_fd(-1), SIO_EINVAL);
        EXPECT_NO_THROW(by_fd.listen_fd(fd));
        EXPECT(by_fd.port() == ntohs(addr.sin_port));
    }

    // A server that never runs: created, handlers given, destroyed; its handlers are freed with it.
    int before = live_canaries;
    {
        sio::Server unused;
        Canary canary;
        unused.of("/").on_connection([canary](sio::Socket) {});
        unused.on_http_request([canary](sio::HttpRequest &) {});
        EXPECT(live_canaries == before + 3);
        EXPECT_ERROR(unused.port(), SIO_ESTATE);     // not listening
        EXPECT_ERROR(unused.of("a,b"), SIO_EINVAL);  // invalid namespace name
        EXPECT_ERROR(unused.listen("not-an-ip", 0), SIO_ELISTEN);
        EXPECT_ERROR(unused.listen(std::string_view("127.0.0.1\0", 10), 0), SIO_EINVAL);
        sio::Namespace ns = unused.of("/");
        EXPECT(ns.name() == "/" && unused.of("/") == ns && unused.of("other") != ns);
        EXPECT(unused.of("other").name() == "/other");
        EXPECT_ERROR(ns.emit("e", "{not json"), SIO_EJSON);
        EXPECT_ERROR(ns.emit("e", "[1,"), SIO_EJSON);
        EXPECT_ERROR(ns.emit("connect"), SIO_EINVAL);       // a reserved event name
        EXPECT_ERROR(ns.emit(""), SIO_EINVAL);
        EXPECT_ERROR(ns.to(std::string_view("r\0", 2)), SIO_EINVAL);
        EXPECT(ns.emit("queued", "[1]"));                   // before start: queued, true
        EXPECT(ns.to("a").to("b").except("c").as_volatile().emit("e", "[]"));
        EXPECT_ERROR(ns.to("r").emit_with_ack("e", "[]", {}, 0ms, [canary](sio::Status, const std::vector<sio::Args> &) {}),
                     SIO_EINVAL);                           // timeout must be > 0
        EXPECT_ERROR(ns.to("r").emit_with_ack("e", "[]", {}, -1ms, [canary](sio::Status, const std::vector<sio::Args> &) {}),
                     SIO_EINVAL);
        EXPECT(live_canaries == before + 3);                // refused one-shot callbacks are freed at once
        // The Broadcast operator is immutable.
        sio::Broadcast base = ns.to("a");
        sio::Broadcast more = base.to("b").except("c").local().compress(false);
        EXPECT(base.rooms().size() == 1 && base.excepted().empty() && base.flags() == 0);
        EXPECT(more.rooms().size() == 2 && more.excepted().size() == 1 &&
               more.flags() == (SIO_BROADCAST_LOCAL | SIO_BROADCAST_NO_COMPRESS));
        EXPECT(more.compress(true).flags() == SIO_BROADCAST_LOCAL);
        // Redis-only calls without Redis.
        EXPECT_ERROR(ns.server_side_emit("e", "[]"), SIO_ESTATE);
        EXPECT_ERROR(ns.on_server_side_emit("e", [canary](std::string_view, const sio::Args &, sio::ServerAck) {}),
                     SIO_ESTATE);
        EXPECT_ERROR(ns.server_side_emit_with_ack("e", "[]", 1s, [canary](sio::Status, std::string_view) {}),
                     SIO_ESTATE);
        EXPECT(live_canaries == before + 3);                // refused registrations are dropped
        EXPECT(unused.post([canary] {}));                   // queued before start: runs when destroyed
        EXPECT_ERROR(sio::Ack().send("[]"), SIO_EINVAL);
        EXPECT_ERROR(sio::ServerAck().send(), SIO_EINVAL);
    }
    EXPECT(live_canaries == before);

    // Moves: a moved-from Server is empty and refuses calls; destroying it is a no-op.
    sio::Server a;
    sio::Server b2(std::move(a));
    EXPECT(!a && b2 && a.handle() == nullptr);
    EXPECT_ERROR(a.port(), SIO_EINVAL);
    EXPECT_ERROR(a.of("/"), SIO_EINVAL);
    EXPECT_ERROR(a.start(), SIO_EINVAL);
    EXPECT_ERROR(a.post([] {}), SIO_EINVAL);
    EXPECT(!a.in_loop());
    a.reset();
    sio::Server c;
    c = std::move(b2); // destroys c's own (never run) server
    EXPECT(c && !b2);
    sio::Server &alias = c;
    c = std::move(alias); // self-move leaves it alone
    EXPECT(c);
}

// ---- the server -----------------------------------------------------------------------------------------------------

std::unique_ptr<sio::Server> server; // reset from a handler in mode "inside"
std::mutex gone_lock;
sio::Socket last_gone; // the last socket that disconnected (a stale handle)

void register_root(sio::Namespace root, const std::string &mode) {
    Canary canary;
    root.use([canary](sio::Socket socket, sio::Next next) {
        EXPECT(!socket.connected() && socket.in_loop());
        if (socket.auth().find("\"secret\"") == std::string::npos) {
            EXPECT_ERROR(next.refuse("not authorized", "{bad json"), SIO_EJSON); // nothing decided then
            EXPECT(!next.decided());
            next.refuse("not authorized", R"({"code":401})");
            EXPECT(next.decided());
            EXPECT_ERROR(next.allow(), SIO_ESTATE);
            say("REFUSED /");
            return;
        }
        socket.data() = SocketInfo{"vip", 0};
        // A handler given before the socket is in: it works once connected.
        EXPECT(socket.on("early", [canary](sio::Socket, const sio::Args &, sio::Ack ack) { ack.send("[\"early\"]"); }));
        next();
        EXPECT_ERROR(next.allow(), SIO_ESTATE);
    });

    root.on_room_event([canary](sio::RoomEvent event, std::string_view room, std::string_view socket_id) {
        static const char *names[] = {"created", "deleted", "joined", "left"};
        if (room.substr(0, 5) == "room-")
            say("ROOM " + std::string(names[static_cast<int>(event)]) + " " + std::string(room) +
                (socket_id.empty() ? "" : " " + std::string(socket_id)));
    });

    root.on_connection([canary, root, mode](sio::Socket socket) {
        say("CONNECT / " + socket.id() + " loop=" + std::to_string(socket.loop_index()));
        EXPECT(socket.connected() && socket.nsp() == root && socket.nsp_name() == "/");
        EXPECT(std::any_cast<SocketInfo>(&socket.data()) && std::any_cast<SocketInfo &>(socket.data()).tier == "vip");

        socket.on_any([canary](sio::Socket s, std::string_view, const sio::Args &, sio::Ack) {
            std::any_cast<SocketInfo &>(s.data()).events++;
        });
        socket.on("echo", [canary](sio::Socket s, const sio::Args &args, sio::Ack) {
            EXPECT(s.emit("echo", args));
        });
        socket.on("ack", [canary](sio::Socket, const sio::Args &args, sio::Ack ack) {
            EXPECT(ack && ack.send(args));
        });
        // ask [ms, event]: the server asks the client, with a timeout (0: none), and reports what came back.
        socket.on("ask", [canary](sio::Socket s, const sio::Args &args, sio::Ack) {
            auto a = flat(args.json());
            auto ms = std::chrono::milliseconds(std::stol(a.at(0)));
            EXPECT(s.emit_with_ack(a.at(1), R"(["question"])", {}, ms, [canary, s](sio::Status st, const sio::Args &reply) {
                EXPECT(st == sio::Status::ok ? bool(reply) : !reply);
                std::string answer = "[{\"status\":\"" + status_name(st) + "\",\"reply\":" +
                                     (reply ? std::string(reply.json()) : "null") + "}]";
                say("ANSWER " + status_name(st));
                s.emit("answer", answer); // false once the socket has gone (a server being destroyed)
            }));
        });
        // bin (ack): attachments made here, from a vector and from a string; sent back as an emit and an ack.
        socket.on("bin", [canary](sio::Socket s, const sio::Args &, sio::Ack ack) {
            std::vector<uint8_t> first{1, 2, 3};
            std::string second("\x00\xff", 2);
            std::vector<uint8_t> big(100000);
            for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<uint8_t>(i * 7);
            const char *json = R"([{"_placeholder":true,"num":0},"mid",{"_placeholder":true,"num":1}])";
            EXPECT(s.emit("bin", R"([{"_placeholder":true,"num":0}])", {sio::Bytes(big)}));
            EXPECT(ack.send(json, {sio::Bytes(first), sio::Bytes(second)}));
        });
        socket.on("join", [canary](sio::Socket s, const sio::Args &args, sio::Ack ack) {
            EXPECT(s.join(flat(args.json()).at(0)));
            EXPECT(ack.send("[" + json_array(s.rooms()) + "]"));
        });
        socket.on("leave", [canary](sio::Socket s, const sio::Args &args, sio::Ack ack) {
            EXPECT(s.leave(flat(args.json()).at(0)));
            EXPECT(ack.send("[" + json_array(s.rooms()) + "]"));
        });
        socket.on("to_room", [canary, root](sio::Socket, const sio::Args &args, sio::Ack) {
            EXPECT(root.to(flat(args.json()).at(0)).emit("room message", args));
        });
        socket.on("to_room_except", [canary, root](sio::Socket, const sio::Args &args, sio::Ack) {
            auto a = flat(args.json());
            EXPECT(root.to(a.at(0)).except(a.at(1)).emit("room message", args.copy()));
        });
        // ask_room [room, ms] (ack): a broadcast with acks; its replies go back through the socket's loop.
        socket.on("ask_room", [canary, root](sio::Socket s, const sio::Args &args, sio::Ack ack) {
            auto a = flat(args.json());
            auto ms = std::chrono::milliseconds(std::stol(a.at(1)));
            EXPECT(root.to(a.at(0)).emit_with_ack(
                "poll", R"(["poll"])", {}, ms, [canary, s, ack](sio::Status st, const std::vector<sio::Args> &replies) {
                    std::string json = "[{\"status\":\"" + status_name(st) + "\",\"replies\":[";
                    for (size_t i = 0; i < replies.size(); i++) json += (i ? "," : "") + std::string(replies[i].json());
                    json += "]}]";
                    // The Ack belongs to the socket's loop: post to it (the thread-safe way, whichever loop runs this).
                    s.post([ack, json](sio::Socket) mutable { EXPECT(ack.send(json)); });
                }));
        });
        // pull [room, target] (ack): the sockets of `room` join `target`; acks with fetch_sockets of `target`.
        socket.on("pull", [canary, root](sio::Socket s, const sio::Args &args, sio::Ack ack) {
            auto a = flat(args.json());
            EXPECT(root.to(a.at(0)).sockets_join(a.at(1)));
            EXPECT(root.to(a.at(1)).fetch_sockets([canary, s, ack](sio::Status st, std::string_view json) {
                EXPECT(st == sio::Status::ok);
                std::string reply = "[" + std::string(json) + "]";
                s.post([ack, reply](sio::Socket) mutable { EXPECT(ack.send(reply)); });
            }));
        });
        socket.on("unpull", [canary, root](sio::Socket, const sio::Args &args, sio::Ack ack) {
            auto a = flat(args.json());
            EXPECT(root.to(a.at(0)).sockets_leave(a.at(1)));
            EXPECT(ack.send("[true]"));
        });
        socket.on("kick_room", [canary, root](sio::Socket, const sio::Args &args, sio::Ack) {
            EXPECT(root.to(flat(args.json()).at(0)).disconnect_sockets());
        });
        socket.on("info", [canary](sio::Socket s, const sio::Args &, sio::Ack ack) {
            std::string json = "[{\"id\":" + sio::json_string(s.id()) + ",\"ns\":" + sio::json_string(s.nsp_name()) +
                               ",\"auth\":" + s.auth() + ",\"query\":" + sio::json_string(s.query("q").value_or("-")) +
                               ",\"missing_query\":" + (s.query("nope") ? "true" : "false") +
                               ",\"header\":" + sio::json_string(s.header("X-Test").value_or("-")) +
                               ",\"address\":" + sio::json_string(s.address()) +
                               ",\"transport\":" + sio::json_string(s.transport()) +
                               ",\"connected\":" + (s.connected() ? "true" : "false") +
                               ",\"recovered\":" + (s.recovered() ? "true" : "false") +
                               ",\"loop\":" + std::to_string(s.loop_index()) +
                               ",\"tier\":" + sio::json_string(std::any_cast<SocketInfo &>(s.data()).tier) +
                               ",\"events\":" + std::to_string(std::any_cast<SocketInfo &>(s.data()).events) +
                               ",\"handshake_has_url\":" + (s.handshake().find("\"url\"") != std::string::npos ? "true" : "false") +
                               ",\"rooms\":" + json_array(s.rooms()) + "}]";
            EXPECT(ack.send(json));
        });
        // misuse (ack): bad arguments on the loop thread each throw the expected sio::Error; acks the failure
        // count so far, then checks that a second send of the same ack throws.
        socket.on("misuse", [canary, root](sio::Socket s, const sio::Args &, sio::Ack ack) {
            int before = failures;
            EXPECT_ERROR(s.emit("e", "{not json"), SIO_EJSON);
            EXPECT_ERROR(s.emit("connect"), SIO_EINVAL);
            EXPECT_ERROR(s.emit(std::string_view("a\0b", 3)), SIO_EINVAL);
            EXPECT_ERROR(s.emit("e", "[]", {sio::Bytes(nullptr, 5)}), SIO_EJSON);
            EXPECT_ERROR(s.join(std::string_view("r\0", 2)), SIO_EINVAL);
            EXPECT_ERROR(s.on(std::string_view("e\0", 2), [](sio::Socket, const sio::Args &, sio::Ack) {}), SIO_EINVAL);
            EXPECT_ERROR(s.emit_with_ack("e", "[]", {}, -5ms, [canary](sio::Status, const sio::Args &) {}), SIO_EINVAL);
            EXPECT_ERROR(s.emit_with_ack("e", "[", {}, 1s, [canary](sio::Status, const sio::Args &) {}), SIO_EJSON);
            EXPECT_ERROR(root.to("r").emit_with_ack("e", "[]", {}, 0ms, [canary](sio::Status, const std::vector<sio::Args> &) {}),
                         SIO_EINVAL);
            EXPECT_ERROR(root.emit("disconnect", "[]"), SIO_EINVAL);
            EXPECT_ERROR(server->of("bad,name"), SIO_EINVAL);
            EXPECT_ERROR(server->wait(), SIO_ETHREAD); // on a loop thread
            EXPECT_ERROR(server->start(), SIO_ESTATE); // running already
            EXPECT_ERROR(server->run(), SIO_ESTATE);
            EXPECT_ERROR(server->listen("not-an-ip", 0), SIO_ELISTEN);
            EXPECT(std::any_cast<int>(&s.data()) == nullptr && std::any_cast<SocketInfo>(&s.data()) != nullptr);
            sio::Ack copy = ack;
            EXPECT(ack.send("[" + std::to_string(failures - before) + "]"));
            EXPECT_ERROR(ack.send("[]"), SIO_EINVAL);  // this copy is spent
            EXPECT_ERROR(copy.send("[]"), SIO_EINVAL); // the other copy: already sent (the socket is connected)
            s.emit("misuse done", "[" + std::to_string(failures - before) + "]");
        });
        // thread: a worker thread checks the thread rules, then reaches the socket's loop with post().
        socket.on("thread", [canary](sio::Socket s, const sio::Args &, sio::Ack) {
            workers.spawn([s] {
                EXPECT(!s.in_loop() && !server->in_loop());
                EXPECT_ERROR(s.join("x"), SIO_ETHREAD);
                EXPECT_ERROR(s.id(), SIO_ETHREAD);
                EXPECT_ERROR(s.rooms(), SIO_ETHREAD);
                EXPECT_ERROR(s.data(), SIO_ETHREAD);
                EXPECT_ERROR(s.on("x", [](sio::Socket, const sio::Args &, sio::Ack) {}), SIO_ETHREAD);
                EXPECT_ERROR(s.emit_with_ack("x", "[]", {}, 1s, [](sio::Status, const sio::Args &) {}), SIO_ETHREAD);
                EXPECT(s.emit("from thread", "[1]"));
                EXPECT(s.post([](sio::Socket on_loop) {
                    EXPECT(on_loop.in_loop());
                    EXPECT(on_loop.join("posted-room"));
                    on_loop.emit("posted", "[" + json_array(on_loop.rooms()) + "]");
                }));
                EXPECT(server->post([s] {
                    EXPECT(server->in_loop());
                    s.emit("server posted", "[true]");
                }));
            });
        });
        socket.on("throw", [canary](sio::Socket, const sio::Args &, sio::Ack) { throw std::logic_error("boom"); });
        socket.on("kick", [canary](sio::Socket s, const sio::Args &, sio::Ack) {
            workers.spawn([s] { EXPECT(s.disconnect()); });
        });
        // gone (ack): the last socket that left, used from a worker thread: [ANY THREAD] calls say it has gone.
        socket.on("gone", [canary](sio::Socket s, const sio::Args &, sio::Ack ack) {
            sio::Socket stale;
            {
                std::lock_guard<std::mutex> guard(gone_lock);
                stale = last_gone;
            }
            workers.spawn([s, stale, ack]() mutable {
                bool ok = stale && !stale.emit("x", "[]") && !stale.disconnect() && stale.loop_index() == -1 &&
                          !stale.in_loop() && !stale.post([](sio::Socket) { fail("posted to a gone socket", __LINE__); });
                s.post([ack, ok](sio::Socket) mutable { ack.send(ok ? "[true]" : "[false]"); });
            });
        });
        socket.on("stop", [canary](sio::Socket, const sio::Args &, sio::Ack) { request_stop(); });
        if (mode == "inside") {
            socket.on("self_destruct", [canary](sio::Socket s, const sio::Args &, sio::Ack) {
                say("SELF_DESTRUCT");
                server.reset(); // inside its own handler: stops now, freed by a helper thread once the loops ended
                (void)s.emit("x", "[]"); // the handle stays safe to use meanwhile
                say("SELF_DESTRUCT returned");
            });
        }
        socket.on_disconnecting([canary](sio::Socket s, std::string_view reason) {
            say("DISCONNECTING " + s.id() + " " + json_array(s.rooms()) + " " + std::string(reason));
        });
        socket.on_disconnect([canary](sio::Socket s, std::string_view reason) {
            EXPECT(std::any_cast<SocketInfo>(&s.data()) != nullptr); // data lives until the disconnect handlers end
            say("DISCONNECT / " + s.id() + " " + std::string(reason));
            std::lock_guard<std::mutex> guard(gone_lock);
            last_gone = s;
        });
        // A second disconnect handler runs after the first; the socket has gone: on() says false, no throw.
        socket.on_disconnect([canary](sio::Socket s, std::string_view) {
            EXPECT(!s.on("late", [](sio::Socket, const sio::Args &, sio::Ack) {})); // gone: false, not a throw
        });
    });
}

void register_others(sio::Server &srv) {
    Canary canary;
    sio::Namespace deferred = srv.of("/deferred");
    deferred.use([canary](sio::Socket socket, sio::Next next) {
        bool allow = socket.auth().find("\"secret\"") != std::string::npos;
        workers.spawn([next, allow]() mutable {
            std::this_thread::sleep_for(50ms);
            if (allow) next.allow();
            else next.refuse("deferred refusal", R"({"code":403})");
        });
    });
    deferred.on_connection([canary](sio::Socket socket) {
        say("CONNECT /deferred " + socket.id() + " loop=" + std::to_string(socket.loop_index()));
        socket.on("kick", [canary](sio::Socket s, const sio::Args &, sio::Ack) { EXPECT(s.disconnect()); });
    });
    srv.of("/dropped").use([canary](sio::Socket socket, sio::Next) {
        socket.data() = std::string("set before the refusal"); // freed with the refused socket
    });
    srv.of("/throws").use([canary](sio::Socket, sio::Next) { throw std::runtime_error("middleware failed"); });

    srv.on_http_request([canary](sio::HttpRequest &request) {
        std::string_view path = request.path().substr(0, request.path().find('?')); // path() has the query
        if (request.method() == "GET" && path == "/health") {
            request.respond(200, "text/plain", "ok");
            EXPECT_ERROR(request.respond(200, "text/plain", "twice"), SIO_ESTATE);
        } else if (path == "/bytes") {
            std::vector<uint8_t> body{0, 1, 2, 255};
            request.respond(201, "", sio::Bytes(body));
        } else if (path == "/echo-header") {
            request.respond(200, "text/plain", request.header("x-echo").value_or("none") + " " + request.url());
        } else if (path == "/throw") {
            throw std::runtime_error("http handler failed"); // the library answers 500
        } else {
            request.respond(404, "text/plain", "Not Found");
        }
    });
    srv.on_allow_request([canary](sio::HttpRequest &request) { return !request.header("X-Deny"); });
    srv.on_connection_error([canary](sio::HttpRequest &request, int code, std::string_view message,
                                     std::string_view context) {
        say("CONNERR " + std::to_string(code) + " " + std::string(message) + " " + std::string(context) + " " +
            request.url());
    });
    srv.on_exception([canary](std::string_view where, std::exception_ptr error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception &e) {
            say("EXCEPTION " + std::string(where) + ": " + e.what());
        }
    });
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 4) {
        std::cerr << "usage: api_server PORT LOOPS stop|destroy|run|inside\n";
        return 2;
    }
    int port = std::atoi(argv[1]);
    unsigned loops = static_cast<unsigned>(std::atoi(argv[2]));
    std::string mode = argv[3];

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::atomic<bool> exiting{false};
    std::thread signals([&] {
        int sig = 0;
        if (sigwait(&stop_signals, &sig) == 0 && !exiting) request_stop();
    });

    // Process-wide logging, before any server exists: the engine's lines at warn and above come here.
    sio::set_log_level(sio::LogLevel::warn);
    sio::set_log_handler([](sio::LogLevel level, std::string_view component, std::string_view message) {
        if (message.find("not-an-ip") != std::string_view::npos)
            say("LOG " + std::to_string(static_cast<int>(level)) + " " + std::string(component) + ": " +
                std::string(message));
    });

    offline_checks();
    say("OFFLINE failures=" + std::to_string(failures.load()) + " canaries=" + std::to_string(live_canaries.load()));

    {
        // Built in one Server, handlers registered, then moved twice before it runs: handlers and namespace handles
        // survive the moves.
        sio::Server first(sio::Options().loops(loops).ping_interval(2s).ping_timeout(5s));
        sio::Namespace root = first.of("/");
        register_root(root, mode);
        sio::Server second(std::move(first));
        register_others(second);
        server = std::make_unique<sio::Server>();
        *server = std::move(second);
        EXPECT(!first && !second && server->of("/") == root);
    }
    try {
        server->listen("127.0.0.1", static_cast<uint16_t>(port));
    } catch (const sio::Error &e) {
        say(std::string("LISTEN FAILED ") + e.what());
        exiting = true;
        pthread_kill(signals.native_handle(), SIGTERM);
        signals.join();
        return 3;
    }
    say("LOOPS " + std::to_string(server->loop_count()));
    say("LISTENING " + std::to_string(server->port()));

    if (mode == "run") {
        std::thread controller([] {
            wait_stop();
            server->stop();
            server->stop(); // repeated: fine
        });
        server->run();
        controller.join();
        workers.join_all();
        server.reset();
    } else if (mode == "inside") {
        server->start();
        // The handler that destroys the server runs on a loop; wait until every handler was freed.
        std::unique_lock<std::mutex> guard(freed_lock);
        bool freed = freed_cond.wait_for(guard, 30s, [] { return live_canaries == 0; });
        guard.unlock();
        EXPECT(freed && !server);
        workers.join_all();
    } else {
        server->start();
        EXPECT_ERROR(server->start(), SIO_ESTATE);
        wait_stop();
        workers.join_all();
        if (mode == "stop") {
            server->stop();
            server->wait();
        }
        server.reset(); // mode "destroy": with its clients still connected
    }
    say("STOPPED mode=" + mode);
    say("CANARIES " + std::to_string(live_canaries.load()));
    EXPECT(live_canaries == 0);
    {
        std::lock_guard<std::mutex> guard(gone_lock);
        last_gone = sio::Socket();
    }
    exiting = true;
    pthread_kill(signals.native_handle(), SIGTERM);
    signals.join();
    say("EXIT " + std::to_string(failures.load()));
    return failures == 0 ? 0 : 1;
}
