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
    var recoveryMilliseconds: UInt64 = 120_000
    var loops = 1
    var parser: (any SocketIOParser)?

    static let usage = """
        usage: sio-chat [--host 0.0.0.0] [--port 3000] [--client-js PATH] [--log-level error|warn|info|debug]
                        [--redis redis://HOST:PORT | --redis-streams redis://HOST:PORT] [--recovery-ms 120000]
                        [--loops 1] [--parser json|msgpack]

          --client-js PATH   socket.io.min.js (socket.io-client 4.8.1) to serve at /socket.io/socket.io.js;
                             scripts/fetch-client-js.sh downloads it
          --log-level LEVEL  log verbosity (default error); SIO_DEBUG=engine,socket.io* adds debug lines
          --redis URL        scale out: several sio-chat (or Node socket.io) servers share rooms through Redis
                             (each keeps its own recent history); see docs/REDIS.md for the load balancer
          --redis-streams URL  the same over a Redis stream (Node's @socket.io/redis-streams-adapter): a client
                             whose connection drops recovers on any server, with what it missed
          --recovery-ms N    connection state recovery keeps a dropped session N ms (default 120000; 0: off)
          --loops N          event loops (threads) serving the port; 0 or auto: one per core (default 1)
          --parser NAME      json (default) or msgpack (socket.io-msgpack-parser; the page then needs a client
                             built with it, so the bundled page only works with json)
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
            case "--recovery-ms":
                guard let milliseconds = UInt64(value(argument)) else { fail("--recovery-ms needs milliseconds") }
                result.recoveryMilliseconds = milliseconds
            case "--parser":
                guard let parser = SocketIOOptions.parser(named: value(argument)) else { fail("--parser is json or msgpack") }
                result.parser = parser
            case "--loops":
                let text = value(argument)
                guard let loops = text == "auto" ? 0 : Int(text), (0...EngineServer.maxLoops).contains(loops) else {
                    fail("--loops needs 0-\(EngineServer.maxLoops) or auto")
                }
                result.loops = loops
            case "--log-level":
                let name = value(argument)
                guard let level = [LogLevel.error, .warn, .info, .debug].first(where: { $0.name == name }) else {
                    fail("--log-level is error, warn, info or debug")
                }
                result.logLevel = level
            case "--help", "-h":
                print(usage)
                exit(0)
            default: fail("unknown argument \(argument)")
            }
        }
        return result
    }

    static func fail(_ message: String) -> Never {
        fputs("sio-chat: \(message)\n\(usage)\n", stderr)
        exit(2)
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
let http: HTTPServerGroup
do {
    http = try io.listen(host: arguments.host, port: arguments.port) { router in
        if let script {
            // Before the Socket.IO path, as the reference's `serveClient` does.
            router.add(prefix: "/socket.io/socket.io.js", script)
            router.add(prefix: "/socket.io/socket.io.min.js", script)
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
let loopsNote = io.shards.count > 1 ? " (\(io.shards.count) loops)" : ""
print("sio-chat: chat room at http://\(arguments.host == "0.0.0.0" ? "localhost" : arguments.host):\(http.port)\(loopsNote)")
fflush(stdout)
loop.run()
signals.close()
withExtendedLifetime(rooms) {}
