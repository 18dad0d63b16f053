// sio-chat: the Socket.IO tutorial's chat room, grown up. Serves the page at `/`, the official client bundle at
// /socket.io/socket.io.js, and a chat on `/` and on `/chat`.
import SocketIO
import SocketIORedis
import SocketIORedisStreams
#if canImport(Glibc)
import Glibc
#endif

struct ChatArguments {
    var host = "0.0.0.0"
    var port = 3000
    var clientJS: String?
    var logLevel: LogLevel?
    var redis: String?
    var redisStreams: String?
    var redisSharded: String?
    var recoveryMilliseconds: UInt64 = 120_000
    var loops = 1
    var parser: (any SocketIOParser)?
    var allowEIO3 = false
    var tlsCert: String?
    var tlsKey: String?
    var tlsKeyPassword: String?
    var metrics = false
    var admin: AdminOptions?

    static let usage = """
        usage: sio-chat [--host 0.0.0.0] [--port 3000] [--client-js PATH] [--log-level error|warn|info|debug]
                        [--redis URL | --redis-streams URL | --redis-sharded URL] [--recovery-ms 120000]
                        [--loops 1] [--parser json|msgpack] [--allow-eio3]
                        [--tls-cert FILE --tls-key FILE [--tls-key-password TEXT]] [--metrics]
                        \(AdminOptions.flagsUsage)

          --client-js PATH   socket.io.min.js (socket.io-client 4.8.1) to serve at /socket.io/socket.io.js;
                             scripts/fetch-client-js.sh downloads it
          --log-level LEVEL  log verbosity (default error); SIO_DEBUG=engine,socket.io* adds debug lines
          --redis URL        scale out: several sio-chat (or Node socket.io) servers share rooms through Redis
                             (each keeps its own recent history); see docs/REDIS.md for the load balancer
          --redis-streams URL  the same over a Redis stream (Node's @socket.io/redis-streams-adapter): a client
                             whose connection drops recovers on any server, with what it missed
          --redis-sharded URL  the same over Redis 7 sharded pub/sub (Node's createShardedAdapter, dynamic mode)
          --recovery-ms N    connection state recovery keeps a dropped session N ms (default 120000; 0: off)
          --loops N          event loops (threads) serving the port; 0 or auto: one per core (default 1)
          --parser NAME      json (default) or msgpack (socket.io-msgpack-parser; the page then needs a client
                             built with it, so the bundled page only works with json)
          --allow-eio3       also let Socket.IO 2.x clients (Engine.IO v3, JSONP polling too) into the chat
          --tls-cert FILE    serve the page and the chat over HTTPS/WSS: the certificate chain (PEM, the server's
                             certificate first, then intermediates); kill -HUP reloads it and the key without a
                             restart (new connections get the new certificate, open ones keep theirs)
          --tls-key FILE     the private key (PEM) of --tls-cert
          --tls-key-password TEXT  the key's password, when it is encrypted
          --metrics          serve Prometheus metrics at /metrics on the same port (docs/OBSERVABILITY.md)
        \(AdminOptions.flagsHelp)
        """

    static func parse(_ list: [String]) -> ChatArguments {
        var result = ChatArguments()
        var iterator = list.dropFirst().makeIterator()
        func value(_ flag: String) -> String {
            guard let next = iterator.next() else { fail("\(flag) needs a value") }
            return next
        }
        while let argument = iterator.next() {
            switch argument {
            case "--host": result.host = value(argument)
            case "--port":
                guard let port = Int(value(argument)), (0...65535).contains(port) else { fail("--port needs 0-65535") }
                result.port = port
            case "--client-js": result.clientJS = value(argument)
            case "--redis": result.redis = value(argument)
            case "--redis-streams": result.redisStreams = value(argument)
            case "--redis-sharded": result.redisSharded = value(argument)
            case "--recovery-ms":
                guard let milliseconds = UInt64(value(argument)) else { fail("--recovery-ms needs milliseconds") }
                result.recoveryMilliseconds = milliseconds
            case "--parser":
                guard let parser = SocketIOOptions.parser(named: value(argument)) else { fail("--parser is json or msgpack") }
                result.parser = parser
            case "--loops":
                let text = value(argument)
                guard let loops = SocketIOOptions.loops(fromArgument: text) else {
                    fail("--loops needs 0-\(EngineServer.maxLoops) or auto")
                }
                result.loops = loops
            case "--log-level":
                let name = value(argument)
                guard let level = [LogLevel.error, .warn, .info, .debug].first(where: { $0.name == name }) else {
                    fail("--log-level is error, warn, info or debug")
                }
                result.logLevel = level
            case "--allow-eio3": result.allowEIO3 = true
            case "--metrics": result.metrics = true
            case let flag where AdminOptions.flags.contains(flag):
                if let problem = AdminOptions.apply(flag, to: &result.admin, value: { value(flag) }) { fail(problem) }
            case "--tls-cert": result.tlsCert = value(argument)
            case "--tls-key": result.tlsKey = value(argument)
            case "--tls-key-password": result.tlsKeyPassword = value(argument)
            case "--help", "-h":
                print(usage)
                exit(0)
            default: fail("unknown argument \(argument)")
            }
        }
        if (result.tlsCert == nil) != (result.tlsKey == nil) { fail("--tls-cert and --tls-key go together") }
        if let problem = AdminOptions.check(result.admin) { fail(problem) }
        return result
    }

    static func fail(_ message: String) -> Never {
        fputs("sio-chat: \(message)\n\(usage)\n", stderr)
        exit(2)
    }
}

/// Answers 404 (for paths under the Socket.IO path that are not Socket.IO's).
final class NotFoundRoute: HTTPServerHandler {
    func httpServer(handle exchange: HTTPExchange) {
        exchange.respond(HTTPResponse(status: 404, headers: [("Content-Type", "text/plain")], text: "Not Found"))
    }

    func httpServer(upgrade: HTTPUpgrade) {
        upgrade.connection.write(WebSocketHandshake.refusal(status: 404, message: "Not Found"))
        upgrade.connection.close()
    }
}

func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
        if count < chunk.count { break }
    }
    return bytes
}

func wallClockMilliseconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) * 1000 + Double(now.tv_nsec / 1_000_000)
}

let arguments = ChatArguments.parse(CommandLine.arguments)
if let level = arguments.logLevel { Log.setLevel(level) }

let loop = try EventLoop()
var options = SocketIOOptions()
if arguments.recoveryMilliseconds > 0 {
    options.connectionStateRecovery = ConnectionStateRecovery(maxDisconnectionDuration: arguments.recoveryMilliseconds)
}
options.loops = arguments.loops
options.parser = arguments.parser
options.engine.allowEIO3 = arguments.allowEIO3
options.metrics = arguments.metrics
if arguments.admin != nil {
    // The hosted admin UI is a page on another origin that connects with credentials (docs/OBSERVABILITY.md).
    options.engine.cors = CORSOptions(origin: .list(["https://admin.socket.io"]), credentials: true)
}
let io = SocketIOServer(loop: loop, options: options)
if let url = arguments.redis {
    do {
        io.adapterFactory = try RedisAdapter.factory(url: url)
    } catch {
        ChatArguments.fail("--redis: \(error)")
    }
}
if let url = arguments.redisStreams {
    guard arguments.redis == nil else { ChatArguments.fail("--redis and --redis-streams: pick one") }
    do {
        io.adapterFactory = try RedisStreamsAdapter.factory(url: url)
    } catch {
        ChatArguments.fail("--redis-streams: \(error)")
    }
}
if let url = arguments.redisSharded {
    guard arguments.redis == nil, arguments.redisStreams == nil else {
        ChatArguments.fail("--redis-sharded with --redis or --redis-streams: pick one")
    }
    do {
        io.adapterFactory = try RedisShardedAdapter.factory(url: url)
    } catch {
        ChatArguments.fail("--redis-sharded: \(error)")
    }
}
if let admin = arguments.admin {
    do {
        try io.instrument(admin)
    } catch {
        ChatArguments.fail("--admin: \(error)")
    }
}
let rooms = [ChatRoom(namespace: io.of("/"), clock: wallClockMilliseconds),
             ChatRoom(namespace: io.of("/chat"), clock: wallClockMilliseconds)]

var script: StaticContent?
if let path = arguments.clientJS {
    guard let bundle = readFile(path) else { ChatArguments.fail("cannot read \(path)") }
    script = StaticContent(body: bundle, contentType: "application/javascript; charset=utf-8")
} else {
    fputs("sio-chat: no --client-js given: the page will not find /socket.io/socket.io.js "
        + "(run scripts/fetch-client-js.sh)\n", stderr)
}
let page = StaticContent(body: Array(ChatPage.html.utf8), contentType: "text/html; charset=utf-8",
                         cacheControl: "no-cache")
var tls: TLSContext?
if let cert = arguments.tlsCert, let key = arguments.tlsKey {
    do {
        tls = try TLSContext(TLSOptions(certificateFile: cert, keyFile: key, password: arguments.tlsKeyPassword))
    } catch {
        fputs("sio-chat: \(error)\n", stderr)
        exit(1)
    }
}
let http: HTTPServerGroup
do {
    http = try io.listen(host: arguments.host, port: arguments.port, tls: tls) { router in
        if let script {
            // Before the Socket.IO path, as the reference's `serveClient` does.
            router.add(path: "/socket.io/socket.io.js", script)
            router.add(path: "/socket.io/socket.io.min.js", script)
        }
        // No source maps are shipped: their paths are 404, not the Socket.IO path's "Transport unknown".
        for map in ["/socket.io/socket.io.js.map", "/socket.io/socket.io.min.js.map"] {
            router.add(path: map, NotFoundRoute())
        }
        router.fallback = { exchange in
            let path = exchange.request.path
            if path == "/" || path == "/index.html" {
                page.httpServer(handle: exchange)
            } else {
                exchange.respond(HTTPResponse(status: 404, headers: [("Content-Type", "text/plain")], text: "Not Found"))
            }
        }
    }
} catch {
    fputs("sio-chat: \(error)\n", stderr)
    exit(1)
}
let signals = SignalWatcher(loop: loop, signals: [SIGINT, SIGTERM]) {
    print("sio-chat: shutting down")
    loop.stop()
}
// kill -HUP: a renewed certificate without a restart.
let reloadSignal = SignalWatcher(loop: loop, signals: [SIGHUP]) {
    guard let tls else { return }
    do {
        try tls.reload()
        print("sio-chat: certificate reloaded")
    } catch {
        print("sio-chat: certificate not reloaded (the old one stays): \(error)")
    }
    fflush(stdout)
}
let loopsNote = io.shards.count > 1 ? " (\(io.shards.count) loops)" : ""
let scheme = tls == nil ? "http" : "https"
print("sio-chat: chat room at \(scheme)://\(arguments.host == "0.0.0.0" ? "localhost" : arguments.host):\(http.port)\(loopsNote)")
fflush(stdout)
loop.run()
signals.close()
reloadSignal.close()
withExtendedLifetime(rooms) {}
