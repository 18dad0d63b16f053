import SIOLoop
import SocketIO
import SocketIOCodec

/// `/socket.io/` as the socket.io-protocol test suite's README configures it, plus test namespaces the project's
/// own integration tests drive (`/features`, `/protected`, dynamic `/dyn-*`). None of this is needed by the suite,
/// and none of it interferes with it.
enum SocketIOSuite {
    static func make(loop: EventLoop, loops: Int = 1) -> SocketIOServer {
        var options = SocketIOOptions()
        options.engine.pingInterval = 300
        options.engine.pingTimeout = 200
        options.engine.maxHttpBufferSize = 1_000_000
        options.engine.cors = CORSOptions(origin: .any)
        options.connectTimeout = 1000
        options.loops = loops
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

extension SocketIOArguments {
    /// `[auth]`: the handshake's auth object (validated JSON) as the single argument.
    init(trustedAuth auth: [UInt8]) {
        var json: [UInt8] = [UInt8(ascii: "[")]
        json.append(contentsOf: auth)
        json.append(UInt8(ascii: "]"))
        self = (try? SocketIOArguments(json: json)) ?? .none
    }
}
