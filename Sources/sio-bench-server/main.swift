// The benchmark server: the event contract of Benchmarks/ (issue "Benchmarks side by side with a peer"), on `/`
// and `/chat`. Runs one loop on the main thread.
import SocketIO
#if canImport(Glibc)
import Glibc
#endif

var port = 3000
var host = "127.0.0.1"
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = arguments.next().flatMap { Int($0) } ?? port
    case "--host": host = arguments.next() ?? host
    default:
        fputs("usage: sio-bench-server [--host 127.0.0.1] [--port 3000]\n", stderr)
        exit(2)
    }
}

let loop = try EventLoop()
var options = SocketIOOptions()
options.engine.cors = CORSOptions(origin: .any)
let io = SocketIOServer(loop: loop, options: options)

// Handlers are registered once per namespace (not per socket): an idle connection then carries no closures.
for name in ["/", "/chat"] {
    let namespace = io.of(name)
    // `echo`: the same arguments back, untouched bytes.
    namespace.on("echo") { socket, arguments, _ in socket.emit("echo", arguments) }
    namespace.on("echo-ack") { _, arguments, ack in ack?.send(arguments) }
    namespace.on("join") { socket, arguments, ack in
        if let room = (try? arguments.values())?.first?.stringValue { socket.join(room) }
        ack?.send(true)
    }
    // `broadcast`: `bcast` with the same object to `object.room`, or to the whole namespace. The object is parsed
    // once per broadcast to find the room; recipients share one encoded frame.
    namespace.on("broadcast") { _, arguments, _ in
        let room = (try? arguments.values())?.first?["room"]?.stringValue
        let target = room.map { namespace.to($0) } ?? namespace.broadcastOperator
        target.emit("bcast", arguments)
    }
}

do {
    try io.listen(host: host, port: port)
} catch {
    fputs("sio-bench-server: \(error)\n", stderr)
    exit(1)
}
let signals = SignalWatcher(loop: loop, signals: [SIGINT, SIGTERM]) { loop.stop() }
print("sio-bench-server listening on \(host):\(io.port)")
fflush(stdout)
loop.run()
signals.close()
