/// The reference server's handshake and request errors, answered as `{"code":N,"message":"..."}`.
public enum EngineErrorCode: Int, Sendable, CaseIterable {
    case unknownTransport = 0
    case unknownSid = 1
    case badHandshakeMethod = 2
    case badRequest = 3
    case forbidden = 4
    case unsupportedProtocolVersion = 5

    public var message: String {
        switch self {
        case .unknownTransport: return "Transport unknown"
        case .unknownSid: return "Session ID unknown"
        case .badHandshakeMethod: return "Bad handshake method"
        case .badRequest: return "Bad request"
        case .forbidden: return "Forbidden"
        case .unsupportedProtocolVersion: return "Unsupported protocol version"
        }
    }

    /// 403 for a refusal by `allowRequest`, 400 for everything else.
    public var status: Int { self == .forbidden ? 403 : 400 }
}

/// Why a session ended, with the reference server's reason strings.
public enum EngineCloseReason: String, Sendable, CaseIterable {
    case transportClose = "transport close"
    case transportError = "transport error"
    case pingTimeout = "ping timeout"
    case parseError = "parse error"
    case forcedClose = "forced close"
    case serverShuttingDown = "server shutting down"
}
