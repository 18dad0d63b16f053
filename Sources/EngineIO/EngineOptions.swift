import SIOHTTP
import WebSocketCodec

/// Engine.IO server options, with the reference server's names and defaults.
public struct EngineOptions {
    /// Where the server answers (`/socket.io/` for Socket.IO, `/engine.io/` for a raw Engine.IO server).
    public var path = "/engine.io/"
    /// Milliseconds between the server's pings.
    public var pingInterval: UInt64 = 25_000
    /// Milliseconds the client has to answer a ping before the session is closed ("ping timeout").
    public var pingTimeout: UInt64 = 20_000
    /// Milliseconds an upgrade from polling to WebSocket may take.
    public var upgradeTimeout: UInt64 = 10_000
    /// Largest message (and polling request body) accepted, in bytes; sent to clients as `maxPayload`.
    public var maxHttpBufferSize = 1_000_000
    /// Transports clients may use.
    public var transports: Set<EngineTransportName> = [.polling, .websocket]
    /// Whether a polling session may upgrade to WebSocket.
    public var allowUpgrades = true
    /// Cross-origin requests (off by default, as in the reference).
    public var cors: CORSOptions?
    /// Called for every handshake: return a refusal to answer 403 `{"code":4,"message":"Forbidden"}` (or the
    /// refusal's message).
    public var allowRequest: ((HTTPRequest) -> EngineRefusal?)?
    /// The session cookie set on the handshake, off by default.
    public var cookie: CookieOptions?
    /// gzip/deflate of polling responses of at least this many bytes; nil turns compression off.
    public var httpCompressionThreshold: Int? = 1024
    /// WebSocket permessage-deflate (RFC 7692), off by default as in the reference. When on, messages of at least
    /// `perMessageDeflateThreshold` bytes are compressed for clients that offered the extension. The default terms
    /// (no context takeover either way) keep idle connections free of zlib memory and let a broadcast be
    /// compressed once for all recipients.
    public var perMessageDeflate: PerMessageDeflate.Options?
    public var perMessageDeflateThreshold = 1024
    /// Outgoing bytes one session may have undelivered (a client that does not read) before it is closed: queued
    /// here and, over WebSocket, also held by the kernel's send buffer and not yet acknowledged by the client (Linux
    /// autotunes that buffer up to 4 MB, which would otherwise hide a stalled reader for seconds).
    /// Volatile messages are dropped earlier, as soon as anything is still queued here.
    public var maxBufferedBytes = 16 * 1024 * 1024
    /// Serve Engine.IO v3 clients too (Socket.IO 2.x clients, the reference's `allowEIO3`; off by default as
    /// there): handshakes with `EIO=3` or no `EIO`, the v3 heartbeat and payloads, and JSONP polling.
    public var allowEIO3 = false
    /// Limits on HTTP requests (header size and count).
    public var httpLimits = HTTPLimits()

    public init() {}
}

public enum EngineTransportName: String, Sendable, Hashable {
    case polling, websocket
}

/// A refusal from `allowRequest`.
public struct EngineRefusal: Sendable {
    public var message: String
    public init(message: String = "Forbidden") { self.message = message }
}

/// The `io` cookie set on handshake responses.
public struct CookieOptions: Sendable {
    public var name = "io"
    public var path = "/"
    public var httpOnly = true
    public var sameSite = "Lax"
    public init() {}
}

/// Cross-origin resource sharing, as the `cors` package the reference server uses answers it.
public struct CORSOptions: Sendable {
    public enum Origin: Sendable {
        /// `Access-Control-Allow-Origin: *`.
        case any
        /// Echo the request's origin.
        case reflect
        /// Echo the request's origin when it is one of these.
        case list([String])
    }

    public var origin: Origin = .any
    public var credentials = false
    public var methods = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]
    /// Allowed request headers; nil echoes the preflight's `Access-Control-Request-Headers`.
    public var allowedHeaders: [String]?
    public var maxAge: Int?

    public init(origin: Origin = .any, credentials: Bool = false) {
        self.origin = origin
        self.credentials = credentials
    }
}
