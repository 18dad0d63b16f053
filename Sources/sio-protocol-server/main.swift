// The server the official protocol test suites (socketio/engine.io-protocol, socketio/socket.io-protocol) expect:
// a raw Engine.IO echo server at /engine.io/ and a Socket.IO server at /socket.io/, configured as their READMEs say.
import EngineIO
import SIOHTTP
import SocketIO
import WebSocketCodec
import SIOLoop
#if canImport(Glibc)
import Glibc
#endif

struct Arguments {
    var host = "0.0.0.0"
    var port = 3000

    static func parse(_ arguments: [String]) -> Arguments {
        var result = Arguments()
        var index = 1
        func value() -> String {
            index += 1
            guard index < arguments.count else { fail("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--port":
                guard let port = Int(value()), (0...65535).contains(port) else { fail("--port needs 0-65535") }
                result.port = port
            case "--host": result.host = value()
            case "--help", "-h":
                print("usage: sio-protocol-server [--host 0.0.0.0] [--port 3000]")
                exit(0)
            default: fail("unknown argument \(arguments[index])")
            }
            index += 1
        }
        return result
    }

    static func fail(_ message: String) -> Never {
        fputs("sio-protocol-server: \(message)\n", stderr)
        exit(2)
    }
}

/// Echoes every message back on the same session, text as text and binary as binary.
final class EchoHandler: EngineSocketDelegate {
    func engineSocket(_ socket: EngineSocket, didReceiveText text: [UInt8]) { socket.send(text: text) }
    func engineSocket(_ socket: EngineSocket, didReceiveBinary data: [UInt8]) { socket.send(binary: data) }
    func engineSocket(_ socket: EngineSocket, didCloseWith reason: EngineCloseReason) {}
}

let arguments = Arguments.parse(CommandLine.arguments)
let loop = try EventLoop()

var engineOptions = EngineOptions()
engineOptions.path = "/engine.io/"
engineOptions.pingInterval = 300
engineOptions.pingTimeout = 200
engineOptions.maxHttpBufferSize = 1_000_000
engineOptions.cors = CORSOptions(origin: .any)
// A test hook for the allowRequest path: handshakes carrying `forbid=1` are refused.
engineOptions.allowRequest = { request in request.queryValue("forbid") == "1" ? EngineRefusal() : nil }

let echo = EchoHandler()
let engine = EngineServer(loop: loop, options: engineOptions)
engine.onConnection = { socket in socket.delegate = echo }

// The same echo with WebSocket permessage-deflate on (threshold 0: every message compressed), for the project's own
// compression tests; the suites never use this path.
var deflateOptions = engineOptions
deflateOptions.path = "/deflate.io/"
deflateOptions.perMessageDeflate = PerMessageDeflate.Options()
deflateOptions.perMessageDeflateThreshold = 0
let deflateEngine = EngineServer(loop: loop, options: deflateOptions)
deflateEngine.onConnection = { socket in socket.delegate = echo }

// The same echo with the reference's default heartbeat (25 s / 20 s), for the project's tests that send messages
// near maxPayload: a Python client busy masking a megabyte cannot be held to answer pings within 200 ms.
var relaxedOptions = engineOptions
relaxedOptions.path = "/engine.io-relaxed/"
relaxedOptions.pingInterval = 25_000
relaxedOptions.pingTimeout = 20_000
let relaxedEngine = EngineServer(loop: loop, options: relaxedOptions)
relaxedEngine.onConnection = { socket in socket.delegate = echo }

let router = HTTPRouter()
router.add(prefix: relaxedOptions.path, relaxedEngine)
router.add(prefix: engineOptions.path, engine)
router.add(prefix: deflateOptions.path, deflateEngine)
let io = SocketIOSuite.make(loop: loop)
io.attach(to: router)

// The project's own test hook for `connection_error`: every refusal of /engine.io/ and /socket.io/ is kept (the last
// 100), and `GET /connection-errors` lists them as JSON lines, oldest first (`?clear=1` empties the list after).
var connectionErrors: [String] = []
func record(_ error: EngineConnectionError) {
    let line = JSONValue.object([
        ("code", .number(Double(error.code.rawValue))), ("message", .string(error.message)),
        ("context", .object(error.context.map { ($0.name, .string($0.value)) })),
        ("method", .string(error.request.method)), ("url", .string(error.request.target)),
        ("address", .string(error.remoteAddress)),
    ])
    connectionErrors.append(String(decoding: line.serialize(), as: UTF8.self))
    if connectionErrors.count > 100 { connectionErrors.removeFirst() }
}
engine.onConnectionError = record
io.engine.onConnectionError = record
router.fallback = { exchange in
    guard exchange.request.target.utf8.starts(with: "/connection-errors".utf8) else {
        exchange.respond(HTTPResponse(status: 404, text: "Not Found"))
        return
    }
    exchange.respond(HTTPResponse(status: 200, text: connectionErrors.map { $0 + "\n" }.joined()))
    if exchange.request.queryValue("clear") == "1" { connectionErrors.removeAll() }
}
let http = HTTPServer(loop: loop, limits: engine.httpLimits)
http.handler = router

do {
    try http.listen(host: arguments.host, port: arguments.port)
} catch {
    fputs("sio-protocol-server: \(error)\n", stderr)
    exit(1)
}
loop.addShutdownHook {
    engine.close()
    deflateEngine.close()
    relaxedEngine.close()
    io.close()
    http.close()
}

// SIGINT/SIGTERM stop the loop gracefully (libuv signal handles run on the loop thread).
let signals = SignalWatcher(loop: loop, signals: [SIGINT, SIGTERM]) { loop.stop() }
print("sio-protocol-server listening on \(arguments.host):\(http.port)")
fflush(stdout)
loop.run()
signals.close()
