// The benchmark server: the event contract of Benchmarks/ (issue "Benchmarks side by side with a peer"), on `/`
// and `/chat`. One loop on the main thread by default; `--loops N` serves the port from N loops (issue 12).
import SocketIO
#if canImport(Glibc)
import Glibc
#endif

struct Arguments {
    var host = "127.0.0.1"
    var port = 3000
    var loops = 1
    var balancing = HTTPServerGroup.Balancing.reusePort
    /// Microseconds of CPU the `echo-ack` handler burns before acking (0: none).
    var burnMicroseconds = 0
    var parser: (any SocketIOParser)?
    var allowEIO3 = false
    var tlsCert: String?
    var tlsKey: String?
    var tlsKeyPassword: String?
    var tlsOpenSSLRecords = false
    /// Connection state recovery: how long a dropped session is kept, in ms (0: off).
    var recoveryMilliseconds: UInt64 = 0
    var maxBufferedBytes: Int?
    var pingInterval: UInt64?
    var pingTimeout: UInt64?
    var logLevel: LogLevel?
    /// Print `disconnect <sid> <reason>` for every socket that leaves (the resilience scenarios count them).
    var logDisconnects = false
    var metrics = false
    var admin: AdminOptions?

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
            case "--burn-us":
                guard let burn = Int(value()), (0...1_000_000).contains(burn) else { fail("--burn-us needs 0-1000000") }
                result.burnMicroseconds = burn
            case "--parser":
                guard let parser = SocketIOOptions.parser(named: value()) else { fail("--parser is json or msgpack") }
                result.parser = parser
            case "--allow-eio3": result.allowEIO3 = true
            case "--metrics": result.metrics = true
            case let flag where AdminOptions.flags.contains(flag):
                if let problem = AdminOptions.apply(flag, to: &result.admin, value: value) { fail(problem) }
            case "--tls-cert": result.tlsCert = value()
            case "--tls-key": result.tlsKey = value()
            case "--tls-key-password": result.tlsKeyPassword = value()
            case "--tls-openssl-records": result.tlsOpenSSLRecords = true
            case "--recovery-ms":
                guard let milliseconds = UInt64(value()) else { fail("--recovery-ms needs milliseconds") }
                result.recoveryMilliseconds = milliseconds
            case "--max-buffered-bytes":
                guard let bytes = Int(value()), bytes > 0 else { fail("--max-buffered-bytes needs a positive number") }
                result.maxBufferedBytes = bytes
            case "--ping-interval":
                guard let milliseconds = UInt64(value()), milliseconds > 0 else { fail("--ping-interval needs ms") }
                result.pingInterval = milliseconds
            case "--ping-timeout":
                guard let milliseconds = UInt64(value()), milliseconds > 0 else { fail("--ping-timeout needs ms") }
                result.pingTimeout = milliseconds
            case "--log-level":
                let levels: [String: LogLevel] = ["error": .error, "warn": .warn, "info": .info, "debug": .debug]
                guard let level = levels[value()] else { fail("--log-level is error, warn, info or debug") }
                result.logLevel = level
            case "--log-disconnects": result.logDisconnects = true
            case "--help", "-h":
                print(usage)
                exit(0)
            default: fail("unknown argument \(arguments[index])")
            }
            index += 1
        }
        if (result.tlsCert == nil) != (result.tlsKey == nil) { fail("--tls-cert and --tls-key go together") }
        if let problem = AdminOptions.check(result.admin) { fail(problem) }
        return result
    }

    static let usage = """
        usage: sio-bench-server [--host 127.0.0.1] [--port 3000] [--loops 1] [--loop-balancing reuseport] [--burn-us 0]
                                [--parser json] [--allow-eio3] [--tls-cert FILE --tls-key FILE [--tls-key-password TEXT]
                                [--tls-openssl-records]] [--recovery-ms 0] [--max-buffered-bytes 16777216]
                                [--ping-interval 25000] [--ping-timeout 20000] [--log-level error] [--log-disconnects]
                                [--metrics] \(AdminOptions.flagsUsage)

          --host ADDRESS          address to listen on (default 127.0.0.1)
          --port N                port to listen on (default 3000; 0: any free port)
          --loops N               event loops (threads) serving the port; 0 or auto: one per core (default 1)
          --loop-balancing MODE   how new connections are spread over the loops: reuseport (the kernel, default)
                                  or round-robin (the first loop hands them out)
          --burn-us N             the echo-ack handler burns N microseconds of its thread's CPU time before acking:
                                  a handler that does real work (default 0: acks at once)
          --parser NAME           json (default) or msgpack (socket.io-msgpack-parser); every client must match
          --allow-eio3            also serve Engine.IO v3 / Socket.IO 2.x clients (EIO=3 or no EIO, JSONP polling)
          --metrics               serve Prometheus metrics at /metrics on the same port (docs/OBSERVABILITY.md)
        \(AdminOptions.flagsHelp)
          --tls-cert FILE         serve HTTPS/WSS: the certificate chain (PEM, server certificate first); SIGHUP
                                  reloads it and the key (new connections get them, open ones keep theirs)
          --tls-key FILE          the private key (PEM) of --tls-cert
          --tls-key-password TEXT the key's password, when it is encrypted
          --tls-openssl-records   leave the record layer to OpenSSL after the handshake (about 15 KB more per
                                  idle connection; default: the engine's)
          --recovery-ms N         connection state recovery: keep a dropped session and the broadcasts it misses
                                  N ms (default 0: off)
          --max-buffered-bytes N  outgoing bytes undelivered to one client (one that does not read: queued here or
                                  in the kernel) before its session is closed (default 16777216, the engine's
                                  maxBufferedBytes)
          --ping-interval MS      Engine.IO pingInterval (default 25000)
          --ping-timeout MS       Engine.IO pingTimeout (default 20000)
          --log-level LEVEL       error (default), warn, info or debug: warn also reports sessions closed for
                                  queueing too much
          --log-disconnects       print "disconnect <socket id> <reason>" on stdout for every socket that leaves

        Event contract on / and /chat: echo, echo-ack, join, broadcast (see Benchmarks/README.md).
        """

    static func fail(_ message: String) -> Never {
        fputs("sio-bench-server: \(message)\n\(usage)\n", stderr)
        exit(2)
    }
}

/// Nanoseconds of CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID: time the thread is preempted does
/// not count, so the burn is the same amount of work however busy the machine is).
@inline(__always)
func threadCPUNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Spins until the calling thread has used `nanoseconds` more CPU time.
func burn(nanoseconds: Int64) {
    let end = threadCPUNanoseconds() + nanoseconds
    while threadCPUNanoseconds() < end {}
}

let arguments = Arguments.parse(CommandLine.arguments)
let burnNanoseconds = Int64(arguments.burnMicroseconds) * 1_000

let loop = try EventLoop()
var options = SocketIOOptions()
options.engine.cors = CORSOptions(origin: .any)
options.loops = arguments.loops
options.loopBalancing = arguments.balancing
options.parser = arguments.parser
options.engine.allowEIO3 = arguments.allowEIO3
if arguments.recoveryMilliseconds > 0 {
    options.connectionStateRecovery = ConnectionStateRecovery(maxDisconnectionDuration: arguments.recoveryMilliseconds)
}
if let bytes = arguments.maxBufferedBytes { options.engine.maxBufferedBytes = bytes }
if let interval = arguments.pingInterval { options.engine.pingInterval = interval }
if let timeout = arguments.pingTimeout { options.engine.pingTimeout = timeout }
if let level = arguments.logLevel { Log.setLevel(level) }
options.metrics = arguments.metrics
if arguments.admin != nil {
    // The hosted admin UI is a page on another origin that connects with credentials (docs/OBSERVABILITY.md).
    options.engine.cors = CORSOptions(origin: .list(["https://admin.socket.io"]), credentials: true)
}
let io = SocketIOServer(loop: loop, options: options)
if let admin = arguments.admin {
    do {
        try io.instrument(admin)
    } catch {
        Arguments.fail("--admin: \(error)")
    }
}

// Handlers are registered once per namespace (not per socket): an idle connection then carries no closures. They
// apply to every loop and run on the loop of their socket; they share no mutable state.
for name in ["/", "/chat"] {
    let namespace = io.of(name)
    // `echo`: the same arguments back, untouched bytes.
    namespace.on("echo") { socket, arguments, _ in socket.emit("echo", arguments) }
    if burnNanoseconds > 0 {
        namespace.on("echo-ack") { _, arguments, ack in
            burn(nanoseconds: burnNanoseconds)
            ack?.send(arguments)
        }
    } else {
        namespace.on("echo-ack") { _, arguments, ack in ack?.send(arguments) }
    }
    namespace.on("join") { socket, arguments, ack in
        if let room = (try? arguments.values())?.first?.stringValue { socket.join(room) }
        ack?.send(true)
    }
    // `broadcast`: `bcast` with the same object to `object.room`, or to the whole namespace. The object is parsed
    // once per broadcast to find the room; recipients share one encoded frame. The socket's namespace is the one of
    // the handler's loop; the broadcast reaches the room's members on every loop.
    namespace.on("broadcast") { socket, arguments, _ in
        let room = (try? arguments.values())?.first?["room"]?.stringValue
        let target = room.map { socket.namespace.to($0) } ?? socket.namespace.broadcastOperator
        target.emit("bcast", arguments)
    }
}

if arguments.logDisconnects {
    // A closure per socket: only when asked (the connect scenario measures an idle socket's memory without it).
    // Loops write whole lines with one fputs each (stdio locks the stream).
    io.onConnection { socket in
        let id = socket.id
        socket.onDisconnect { reason in
            fputs("disconnect \(id) \(reason.rawValue)\n", stdout)
            fflush(stdout)
        }
    }
}

var tls: TLSContext?
do {
    if let cert = arguments.tlsCert, let key = arguments.tlsKey {
        var options = TLSOptions(certificateFile: cert, keyFile: key, password: arguments.tlsKeyPassword)
        options.recordLayer = arguments.tlsOpenSSLRecords ? .openSSL : .engine
        tls = try TLSContext(options)
    }
    try io.listen(host: arguments.host, port: arguments.port, tls: tls)
} catch {
    fputs("sio-bench-server: \(error)\n", stderr)
    exit(1)
}
let signals = SignalWatcher(loop: loop, signals: [SIGINT, SIGTERM]) { loop.stop() }
let reloadSignal = SignalWatcher(loop: loop, signals: [SIGHUP]) {
    guard let tls else { return }
    do {
        try tls.reload()
        print("sio-bench-server: certificate reloaded")
    } catch {
        print("sio-bench-server: certificate not reloaded: \(error)")
    }
    fflush(stdout)
}
let loopCount = io.shards.count
let loopNote = loopCount > 1 ? ", \(loopCount) loops (\(arguments.balancing.rawValue))" : ""
let burnNote = burnNanoseconds > 0 ? ", echo-ack burns \(arguments.burnMicroseconds) us" : ""
let tlsNote = tls != nil ? ", TLS" : ""
let metricsNote = arguments.metrics ? ", metrics at \(options.metricsPath)" : ""
print("sio-bench-server listening on \(arguments.host):\(io.port)\(loopNote)\(burnNote)\(tlsNote)\(metricsNote)")
fflush(stdout)
loop.run()
signals.close()
reloadSignal.close()
