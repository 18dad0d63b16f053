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
    var loops = 1
    var balancing = HTTPServerGroup.Balancing.reusePort
    var parser: (any SocketIOParser)?
    /// /socket.io/'s heartbeat (the suites' 300 / 200 ms unless told).
    var pingInterval: UInt64 = 300
    var pingTimeout: UInt64 = 200
    var allowEIO3 = false
    var tlsCert: String?
    var tlsKey: String?
    var tlsKeyPassword: String?
    var tlsHandshakeTimeout: UInt64 = 10_000
    var plainPort: Int?
    var sni: [TLSCertificate] = []
    var openSSLRecords = false

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
            case "--loops":
                let text = value()
                guard let loops = SocketIOOptions.loops(fromArgument: text) else {
                    fail("--loops needs 0-\(EngineServer.maxLoops) or auto")
                }
                result.loops = loops
            case "--loop-balancing":
                guard let balancing = HTTPServerGroup.Balancing(rawValue: value()) else {
                    fail("--loop-balancing is reuseport or round-robin")
                }
                result.balancing = balancing
            case "--ping-interval":
                guard let ms = UInt64(value()), ms > 0 else { fail("--ping-interval needs milliseconds") }
                result.pingInterval = ms
            case "--ping-timeout":
                guard let ms = UInt64(value()), ms > 0 else { fail("--ping-timeout needs milliseconds") }
                result.pingTimeout = ms
            case "--parser":
                guard let parser = SocketIOOptions.parser(named: value()) else { fail("--parser is json or msgpack") }
                result.parser = parser
            case "--allow-eio3": result.allowEIO3 = true
            case "--tls-cert": result.tlsCert = value()
            case "--tls-key": result.tlsKey = value()
            case "--tls-key-password": result.tlsKeyPassword = value()
            case "--tls-handshake-timeout":
                guard let ms = UInt64(value()), ms > 0 else { fail("--tls-handshake-timeout needs milliseconds") }
                result.tlsHandshakeTimeout = ms
            case "--tls-openssl-records": result.openSSLRecords = true
            case "--tls-sni":
                let parts = value().split(separator: ",", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { fail("--tls-sni needs CERT,KEY") }
                result.sni.append(TLSCertificate(certificateFile: parts[0], keyFile: parts[1]))
            case "--plain-port":
                guard let port = Int(value()), (0...65535).contains(port) else { fail("--plain-port needs 0-65535") }
                result.plainPort = port
            case "--help", "-h":
                print(usage)
                exit(0)
            default: fail("unknown argument \(arguments[index])")
            }
            index += 1
        }
        if (result.tlsCert == nil) != (result.tlsKey == nil) { fail("--tls-cert and --tls-key go together") }
        if result.plainPort != nil, result.tlsCert == nil { fail("--plain-port needs --tls-cert and --tls-key") }
        return result
    }

    static let usage = """
        usage: sio-protocol-server [--host 0.0.0.0] [--port 3000] [--loops 1] [--loop-balancing reuseport]
                                   [--parser json] [--allow-eio3] [--tls-cert FILE --tls-key FILE [--tls-key-password TEXT]
                                   [--tls-handshake-timeout MS] [--tls-sni CERT,KEY]...
                                   [--tls-openssl-records] [--plain-port N]]

          --loops N               event loops (threads) serving the port; 0 or auto: one per core (default 1)
          --loop-balancing MODE   how new connections are spread over the loops: reuseport (the kernel, default)
                                  or round-robin (the first loop hands them out)
          --ping-interval MS      /socket.io/'s heartbeat interval (default 300, as the protocol suite wants)
          --ping-timeout MS       /socket.io/'s heartbeat timeout (default 200)
          --parser NAME           how /socket.io/ and /recovery.io/ encode packets: json (default, the reference's
                                  default parser) or msgpack (socket.io-msgpack-parser); all clients must match
          --allow-eio3            also serve Engine.IO v3 / Socket.IO 2.x clients (EIO=3 or no EIO, JSONP polling)
                                  on every path, as the v3 branch of the engine.io-protocol suite expects
          --tls-cert FILE         serve HTTPS/WSS on --port: the certificate chain (PEM, server certificate first);
                                  SIGHUP reloads it and the key (new connections get them, open ones keep theirs)
          --tls-key FILE          the private key (PEM) of --tls-cert
          --tls-key-password TEXT the key's password, when it is encrypted
          --tls-handshake-timeout MS  a TLS handshake must complete within MS milliseconds (default 10000)
          --tls-sni CERT,KEY      one more certificate and key (PEM files), served to clients whose SNI host name
                                  it covers (repeatable)
          --tls-openssl-records   leave the record layer to OpenSSL after the handshake (default: the engine's)
          --plain-port N          also serve plain HTTP on port N (0: any free port, printed at start)
        """

    static func fail(_ message: String) -> Never {
        fputs("sio-protocol-server: \(message)\n\(usage)\n", stderr)
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
engineOptions.allowEIO3 = arguments.allowEIO3
// A test hook for the allowRequest path: handshakes carrying `forbid=1` are refused.
engineOptions.allowRequest = { request in request.queryValue("forbid") == "1" ? EngineRefusal() : nil }

// The same echo with WebSocket permessage-deflate on (threshold 0: every message compressed), for the project's own
// compression tests; the suites never use this path.
var deflateOptions = engineOptions
deflateOptions.path = "/deflate.io/"
deflateOptions.perMessageDeflate = PerMessageDeflate.Options()
deflateOptions.perMessageDeflateThreshold = 0

// The same echo with the reference's default heartbeat (25 s / 20 s), for the project's tests that send messages
// near maxPayload: a Python client busy masking a megabyte cannot be held to answer pings within 200 ms.
var relaxedOptions = engineOptions
relaxedOptions.path = "/engine.io-relaxed/"
relaxedOptions.pingInterval = 25_000
relaxedOptions.pingTimeout = 20_000

let echo = EchoHandler()
let io = SocketIOSuite.make(loop: loop, loops: arguments.loops, parser: arguments.parser, allowEIO3: arguments.allowEIO3,
                            heartbeat: (arguments.pingInterval, arguments.pingTimeout))
let loops = io.shards.map(\.loop)

// The project's own test hook for `connection_error`: every refusal of /engine.io/ and /socket.io/ is kept (the last
// 100), and `GET /connection-errors` lists them as JSON lines, oldest first (`?clear=1` empties the list after).
// Refusals happen on every loop: the list is shared under a lock.
let connectionErrorsLock = Lock()
nonisolated(unsafe) var connectionErrors: [String] = []
func record(_ error: EngineConnectionError) {
    let line = JSONValue.object([
        ("code", .number(Double(error.code.rawValue))), ("message", .string(error.message)),
        ("context", .object(error.context.map { ($0.name, .string($0.value)) })),
        ("method", .string(error.request.method)), ("url", .string(error.request.target)),
        ("address", .string(error.remoteAddress)),
    ])
    connectionErrorsLock.withLock {
        connectionErrors.append(String(decoding: line.serialize(), as: UTF8.self))
        if connectionErrors.count > 100 { connectionErrors.removeFirst() }
    }
}
io.engine.onConnectionError = record

/// TLS handshakes that failed are listed with the other refusals: `{"tls":"failed","reason":...,"address":...}`.
func recordTLS(_ error: TLSHandshakeError) {
    let line = JSONValue.object([
        ("tls", .string(error.kind.rawValue)), ("reason", .string(error.reason)), ("address", .string(error.remoteAddress)),
    ])
    connectionErrorsLock.withLock {
        connectionErrors.append(String(decoding: line.serialize(), as: UTF8.self))
        if connectionErrors.count > 100 { connectionErrors.removeFirst() }
    }
}

var tls: TLSContext?
if let cert = arguments.tlsCert, let key = arguments.tlsKey {
    do {
        let main = TLSCertificate(certificateFile: cert, keyFile: key, password: arguments.tlsKeyPassword)
        var options = TLSOptions(certificates: [main] + arguments.sni, handshakeTimeout: arguments.tlsHandshakeTimeout)
        options.recordLayer = arguments.openSSLRecords ? .openSSL : .engine
        tls = try TLSContext(options)
    } catch {
        fputs("sio-protocol-server: \(error)\n", stderr)
        exit(1)
    }
    tls?.onHandshakeError = recordTLS
}

// One HTTP server per loop, each with the raw echo engines of its loop and that loop's Socket.IO server.
let servers = loops.map { HTTPServer(loop: $0, limits: io.engine.httpLimits) }
let http = HTTPServerGroup(servers: servers, balancing: arguments.balancing)
var routers: [HTTPRouter] = []
/// `echoEngines[loop][path]`: the raw engines, so each can reach its twin on another loop.
final class EchoEngines: @unchecked Sendable { var byLoop: [[EngineServer]] = [] }
let echoEngines = EchoEngines()
for (index, loop) in loops.enumerated() {
    let engines = [relaxedOptions, engineOptions, deflateOptions].enumerated().map { path, options -> EngineServer in
        let engine = EngineServer(loop: loop, options: options)
        engine.onConnection = { socket in socket.delegate = echo }
        if loops.count > 1 {
            engine.shard = EngineServer.Shard(index: index, count: loops.count, transfer: { http.transfer($0, to: $1) },
                                              peer: { [unowned echoEngines] in echoEngines.byLoop[$0][path] })
        }
        engine.onConnectionError = options.path == engineOptions.path ? record : nil
        return engine
    }
    let router = HTTPRouter()
    for engine in engines { router.add(prefix: engine.options.path, engine) }
    router.fallback = { exchange in
        guard exchange.request.target.utf8.starts(with: "/connection-errors".utf8) else {
            exchange.respond(HTTPResponse(status: 404, text: "Not Found"))
            return
        }
        let lines = connectionErrorsLock.withLock {
            defer { if exchange.request.queryValue("clear") == "1" { connectionErrors.removeAll() } }
            return connectionErrors.map { $0 + "\n" }.joined()
        }
        exchange.respond(HTTPResponse(status: 200, text: lines))
    }
    servers[index].handler = router
    let server = servers[index]
    loop.addShutdownHook {
        for engine in engines { engine.close() }
        server.close()
    }
    routers.append(router)
    echoEngines.byLoop.append(engines)
}
io.attach(to: routers, of: http)
let recoveryIO = RecoverySuite.make(sharing: loops, parser: arguments.parser, allowEIO3: arguments.allowEIO3)
recoveryIO.attach(to: routers, of: http)

var plainNote = ""
do {
    try http.listen(host: arguments.host, port: arguments.port, tls: tls)
    if let plainPort = arguments.plainPort {
        plainNote = ", plain HTTP on \(try http.listen(host: arguments.host, port: plainPort))"
    }
} catch {
    fputs("sio-protocol-server: \(error)\n", stderr)
    exit(1)
}

// SIGINT/SIGTERM stop the loop gracefully (libuv signal handles run on the loop thread); SIGHUP reloads the
// certificate.
let signals = SignalWatcher(loop: loop, signals: [SIGINT, SIGTERM]) { loop.stop() }
let reloadSignal = SignalWatcher(loop: loop, signals: [SIGHUP]) {
    guard let tls else { return }
    do {
        try tls.reload()
        print("sio-protocol-server: certificate reloaded")
    } catch {
        print("sio-protocol-server: certificate not reloaded: \(error)")
    }
    fflush(stdout)
}
print("sio-protocol-server listening on \(arguments.host):\(http.port)" + (loops.count > 1 ? " with \(loops.count) loops" : "")
    + (tls != nil ? " (TLS)" : "") + plainNote)
fflush(stdout)
loop.run()
signals.close()
reloadSignal.close()
