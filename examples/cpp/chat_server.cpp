// chat_server.cpp: the Socket.IO tutorial's chat (https://socket.io/get-started/chat) in C++17 against sio.hpp.
//
//   chat_server [--port 3000] [--host 0.0.0.0] [--client-js PATH] [--loops N]
//
// GET / serves the chat page; the page loads the official client from /socket.io/socket.io.js, served from PATH
// when --client-js is given (socket.io.min.js of socket-io-client 4.x), else answered with 404. Every
// "chat message" a client sends is relayed to everyone. SIGINT or SIGTERM stops the server gracefully.
//
// --loops N serves the port with N event loops, one thread each (0 = one per core, default 1), so the handlers
// below run on several threads at once. What they share is therefore either immutable once the server starts
// (the page, the bundle, the namespace handle) or thread-safe: the user count is a std::atomic and console lines
// go through one mutex (Console). Nothing per socket needs a lock: a socket's handlers all run on its own loop.
//
// Build:  c++ -std=c++17 chat_server.cpp -I<dir of sio.hpp> $(pkg-config --cflags --libs sio) -lpthread
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include <sio.hpp>

namespace {

const char chat_page[] = R"(<!DOCTYPE html>
<html>
  <head>
    <meta name="viewport" content="width=device-width,initial-scale=1.0">
    <title>Socket.IO chat</title>
    <style>
      body { margin: 0; padding-bottom: 3rem; font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
      #form { background: rgba(0, 0, 0, 0.15); padding: 0.25rem; position: fixed; bottom: 0; left: 0; right: 0; display: flex; height: 3rem; box-sizing: border-box; backdrop-filter: blur(10px); }
      #input { border: none; padding: 0 1rem; flex-grow: 1; border-radius: 2rem; margin: 0.25rem; }
      #input:focus { outline: none; }
      #form > button { background: #333; border: none; padding: 0 1rem; margin: 0.25rem; border-radius: 3px; outline: none; color: #fff; }
      #messages { list-style-type: none; margin: 0; padding: 0; }
      #messages > li { padding: 0.5rem 1rem; }
      #messages > li:nth-child(odd) { background: #efefef; }
    </style>
  </head>
  <body>
    <ul id="messages"></ul>
    <form id="form" action="">
      <input id="input" autocomplete="off" /><button>Send</button>
    </form>
    <script src="/socket.io/socket.io.js"></script>
    <script>
      var socket = io();

      var messages = document.getElementById('messages');
      var form = document.getElementById('form');
      var input = document.getElementById('input');

      form.addEventListener('submit', function(e) {
        e.preventDefault();
        if (input.value) {
          socket.emit('chat message', input.value);
          input.value = '';
        }
      });

      socket.on('chat message', function(msg) {
        var item = document.createElement('li');
        item.textContent = msg;
        messages.appendChild(item);
        window.scrollTo(0, document.body.scrollHeight);
      });
    </script>
  </body>
</html>
)";

// Whole lines to stdout or stderr from any loop thread, never interleaved.
class Console {
public:
    void out(const std::string &line) { write(std::cout, line); }
    void err(const std::string &line) { write(std::cerr, line); }

private:
    void write(std::ostream &stream, const std::string &line) {
        std::lock_guard<std::mutex> guard(lock_);
        stream << line << std::endl;
    }
    std::mutex lock_;
};

void usage(const char *argv0) {
    std::cerr << "usage: " << argv0 << " [--port PORT] [--host HOST] [--client-js PATH] [--loops N]\n";
}

std::optional<long> number(const char *text, long max) {
    char *end = nullptr;
    long value = std::strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value < 0 || value > max) return std::nullopt;
    return value;
}

} // namespace

int main(int argc, char **argv) {
    std::string host = "0.0.0.0";
    long port = 3000, loops = 1;
    std::optional<std::string> client_js; // the bundle, read once before the server starts
    for (int i = 1; i < argc; i += 2) { // every option takes a value
        std::string_view arg = argv[i];
        const char *text = i + 1 < argc ? argv[i + 1] : nullptr;
        std::optional<long> value;
        if (arg == "--port" && text && (value = number(text, 65535))) {
            port = *value;
        } else if (arg == "--loops" && text && (value = number(text, 64))) {
            loops = *value;
        } else if (arg == "--host" && text) {
            host = text;
        } else if (arg == "--client-js" && text) {
            std::ifstream file(text, std::ios::binary);
            if (!file) {
                std::perror(text);
                return 1;
            }
            client_js.emplace(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if (!client_js) std::cerr << "chat_server: no --client-js: /socket.io/socket.io.js will answer 404\n";

    // Block the stop signals before any thread starts, so that the server's threads inherit the mask; one thread
    // takes them with sigwait and calls stop() (thread-safe, but not async-signal-safe: not from a handler).
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    Console console;
    std::atomic<int> online{0}; // touched by every loop at once

    try {
        sio::Server server(sio::Options().loops(static_cast<unsigned>(loops)));
        server.listen(host, static_cast<uint16_t>(port));

        server.on_http_request([&client_js](sio::HttpRequest &request) {
            std::string_view path = request.path().substr(0, request.path().find('?'));
            if (request.method() != "GET" && request.method() != "HEAD") {
                request.respond(405, "text/plain", "Method Not Allowed");
            } else if (path == "/") {
                request.respond(200, "text/html; charset=utf-8", std::string_view(chat_page, sizeof chat_page - 1));
            } else if (client_js && path == "/socket.io/socket.io.js") {
                request.respond(200, "application/javascript; charset=utf-8", *client_js);
            } else {
                request.respond(404, "text/plain", "Not Found");
            }
        });
        // Why a client could not connect (a stale session id after a restart, an Engine.IO v3 client, ...).
        server.on_connection_error([&console](sio::HttpRequest &request, int code, std::string_view message,
                                              std::string_view context) {
            std::ostringstream line;
            line << "chat_server: refused " << request.url() << ": " << code << ' ' << message << ' ' << context;
            console.err(line.str());
        });

        sio::Namespace chat = server.of("/");
        chat.on_connection([&console, &online, chat](sio::Socket socket) {
            console.out("a user connected: " + socket.id() + " (" + std::to_string(++online) + " online)");
            // io.emit('chat message', msg): to everyone, the sender included, binary parts kept.
            socket.on("chat message", [chat, &console](sio::Socket, const sio::Args &args, sio::Ack) {
                if (!chat.emit("chat message", args)) console.err("chat_server: relay: server stopping");
            });
            socket.on_disconnect([&console, &online](sio::Socket gone, std::string_view reason) {
                console.out("user disconnected: " + gone.id() + " (" + std::string(reason) + ", " +
                            std::to_string(--online) + " online)");
            });
        });

        std::thread signals([&server, &console, &stop_signals] {
            int sig = 0;
            if (sigwait(&stop_signals, &sig) == 0) {
                console.out("signal " + std::to_string(sig) + ": stopping");
                server.stop();
            }
        });
        console.out("listening on *:" + std::to_string(server.port()) + " (" + std::to_string(server.loop_count()) +
                    (server.loop_count() == 1 ? " loop)" : " loops)"));
        try {
            server.run(); // until server.stop()
        } catch (...) {
            pthread_kill(signals.native_handle(), SIGTERM); // wake the signal thread so it can be joined
            signals.join();
            throw;
        }
        // Stopped by a signal: the signal thread has returned or is about to.
        signals.join();
    } catch (const sio::Error &e) {
        std::cerr << "chat_server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
