import SIOLoop
import SocketIO
import SocketIOCodec

/// `/socket.io/` as the socket.io-protocol test suite's README configures it, plus test namespaces the project's
/// own integration tests drive (`/features`, `/protected`, dynamic `/dyn-*`). None of this is needed by the suite,
/// and none of it interferes with it.
enum SocketIOSuite {
    static func make(loop: EventLoop, loops: Int = 1, parser: (any SocketIOParser)? = nil,
                     allowEIO3: Bool = false, heartbeat: (interval: UInt64, timeout: UInt64) = (300, 200)) -> SocketIOServer {
        var options = SocketIOOptions()
        options.engine.allowEIO3 = allowEIO3
        options.engine.pingInterval = heartbeat.interval
        options.engine.pingTimeout = heartbeat.timeout
        options.engine.maxHttpBufferSize = 1_000_000
        options.engine.cors = CORSOptions(origin: .any)
        options.connectTimeout = 1000
        options.loops = loops
        options.parser = parser
        let io = SocketIOServer(loop: loop, options: options)

        for name in ["/", "/custom"] {
            io.of(name).onConnection { socket in
                socket.emit("auth", SocketIOArguments(trustedAuth: socket.handshake.auth))
                socket.on("message") { arguments, _ in socket.emit("message-back", arguments) }
                socket.on("message-with-ack") { arguments, ack in ack?.send(arguments) }
            }
        }
        Features.install(on: io)
        return io
    }
}

/// `/recovery.io/`: a Socket.IO server with connection state recovery on (10 s), for the project's recovery tests,
/// on the same loops as `/socket.io/`. The reference's default heartbeat, so raw test clients need not answer pings.
/// Namespace `/` events: `join`(room) -> ack true; `broadcast`({event, data, room?}) -> ack true; `loop`() -> ack the
/// serving loop's index; `emit-back`(event, data) -> emits it to this socket.
enum RecoverySuite {
    static func make(sharing loops: [EventLoop], parser: (any SocketIOParser)? = nil,
                     allowEIO3: Bool = false) -> SocketIOServer {
        var options = SocketIOOptions()
        options.engine.allowEIO3 = allowEIO3
        options.engine.path = "/recovery.io/"
        options.engine.cors = CORSOptions(origin: .any)
        options.connectionStateRecovery = ConnectionStateRecovery(maxDisconnectionDuration: 10_000)
        options.parser = parser
        let io = SocketIOServer(sharing: loops, options: options)
        let main = io.of("/")
        main.on("join") { socket, arguments, ack in
            if let room = Features.first(arguments)?.stringValue { socket.join(room) }
            ack?.send(true)
        }
        main.on("broadcast") { _, arguments, ack in
            guard let spec = Features.first(arguments), let event = spec["event"]?.stringValue else { return }
            let target = spec["room"]?.stringValue.map { main.to($0) } ?? main.broadcastOperator
            target.emit(event, SocketIOArguments([spec["data"] ?? .null]))
            ack?.send(true)
        }
        main.on("emit-back") { socket, arguments, _ in
            guard let values = try? arguments.values(), let event = values.first?.stringValue else { return }
            socket.emit(event, SocketIOArguments(Array(values.dropFirst())))
        }
        main.on("loop") { socket, _, ack in ack?.send(.number(Double(socket.server.loopIndex))) }
        main.onConnection { socket in socket.emit("welcome", .object([("recovered", .bool(socket.recovered))])) }
        return io
    }
}

extension SocketIOArguments {
    /// `[auth]`: the handshake's auth object (validated JSON) as the single argument.
    init(trustedAuth auth: [UInt8]) {
        var json: [UInt8] = [UInt8(ascii: "[")]
        json.append(contentsOf: auth)
        json.append(UInt8(ascii: "]"))
        self = (try? SocketIOArguments(json: json)) ?? .none
    }
}
