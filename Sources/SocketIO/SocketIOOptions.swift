import EngineIO
import SIOHTTP
#if canImport(Glibc)
import Glibc
#endif

/// Socket.IO server options, with the reference server's names and defaults. Engine.IO options (path, heartbeat,
/// transports, CORS, ...) are in `engine`; the path defaults to `/socket.io/` here.
public struct SocketIOOptions {
    public var engine: EngineOptions
    /// Milliseconds a client has to join a namespace before its connection is closed.
    public var connectTimeout: UInt64 = 45_000
    /// Most binary attachments one packet may announce.
    public var maxAttachments = 10
    /// Connection state recovery, off by default.
    public var connectionStateRecovery: ConnectionStateRecovery?
    /// Remove a dynamic namespace once its last socket left.
    public var cleanupEmptyChildNamespaces = false
    /// How packets are encoded: nil is the built-in JSON parser (the reference's default); `MsgPackParser()` speaks
    /// socket.io-msgpack-parser. Every client of the server must use the same one.
    public var parser: (any SocketIOParser)?
    /// Event loops (threads) serving this server: 1 (the default) is one loop, the caller's; more add loops on
    /// threads of their own, each owning a share of the connections, behind the same port; 0 means one per core.
    /// Clients never notice which loop serves them (no sticky sessions needed). Handlers then run on the loop of
    /// the socket they are about, concurrently on different loops: state they share must be made thread-safe.
    public var loops = 1
    /// How a multi-loop server spreads new connections over its loops.
    public var loopBalancing = HTTPServerGroup.Balancing.reusePort
    /// Serve Prometheus metrics (text format 0.0.4) at `metricsPath` on the server's port; off by default. The
    /// counting itself is always on (plain per-loop counters); a scrape sums every loop's (docs/OBSERVABILITY.md).
    public var metrics = false
    /// Where the metrics are served when `metrics` is on (an exact path, outside the Socket.IO path).
    public var metricsPath = "/metrics"

    /// The value of a `--loops` flag: a count (0 means one per core) or `auto`; nil when it is neither or above
    /// `EngineServer.maxLoops`.
    public static func loops(fromArgument text: String) -> Int? {
        guard let count = text == "auto" ? 0 : Int(text), (0...EngineServer.maxLoops).contains(count) else { return nil }
        return count
    }

    /// `loops` with 0 resolved to the number of cores, within 1...EngineServer.maxLoops.
    public var resolvedLoops: Int {
        let wanted = loops > 0 ? loops : Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return min(max(wanted, 1), EngineServer.maxLoops)
    }

    public init() {
        engine = EngineOptions()
        engine.path = "/socket.io/"
    }
}

/// Lets a client that lost its connection briefly come back with the same id, rooms and data, and receive the
/// broadcasts it missed.
public struct ConnectionStateRecovery: Sendable {
    /// How long a disconnected session is kept, in milliseconds.
    public var maxDisconnectionDuration: UInt64 = 120_000
    /// Skip middlewares when a session is recovered.
    public var skipMiddlewares = true

    public init(maxDisconnectionDuration: UInt64 = 120_000, skipMiddlewares: Bool = true) {
        self.maxDisconnectionDuration = maxDisconnectionDuration
        self.skipMiddlewares = skipMiddlewares
    }
}

/// Why a socket left its namespace, with the reference server's reason strings.
public enum DisconnectReason: String, Sendable, CaseIterable {
    case serverNamespaceDisconnect = "server namespace disconnect"
    case clientNamespaceDisconnect = "client namespace disconnect"
    case serverShuttingDown = "server shutting down"
    case forcedServerClose = "forced server close"
    case forcedClose = "forced close"
    case pingTimeout = "ping timeout"
    case transportClose = "transport close"
    case transportError = "transport error"
    case parseError = "parse error"

    /// Reasons after which a session can be recovered.
    var isRecoverable: Bool {
        switch self {
        case .transportError, .transportClose, .forcedClose, .pingTimeout, .serverShuttingDown, .forcedServerClose:
            return true
        default:
            return false
        }
    }
}
