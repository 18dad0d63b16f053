/// What one loop's Engine.IO server has counted since it started: plain integers owned by the loop thread (no lock,
/// no atomic), bumped where the events happen and read on that thread only, by a metrics scrape or the admin UI's
/// stats, which take a copy (a value) and gather every loop's copy through the loops' submit queues.
public struct EngineCounters: Sendable {
    /// Sessions opened (handshakes answered).
    public internal(set) var connections: UInt64 = 0
    /// Sessions ended, by `EngineCloseReason.allCases` index.
    public internal(set) var disconnections = [UInt64](repeating: 0, count: EngineCloseReason.allCases.count)
    /// Engine.IO message packets (and their payload bytes) received and queued for sending.
    public internal(set) var packetsIn: UInt64 = 0
    public internal(set) var bytesIn: UInt64 = 0
    public internal(set) var packetsOut: UInt64 = 0
    public internal(set) var bytesOut: UInt64 = 0
    /// Volatile packets dropped because the recipient could not take them then.
    public internal(set) var volatileDrops: UInt64 = 0
    /// Sessions closed because their undelivered output (queued, or held by the kernel) passed `maxBufferedBytes`.
    public internal(set) var backpressureCloses: UInt64 = 0
    /// Polling sessions that upgraded to WebSocket.
    public internal(set) var upgrades: UInt64 = 0
    /// Requests refused with an Engine.IO error code, by `EngineErrorCode` raw value.
    public internal(set) var handshakeErrors = [UInt64](repeating: 0, count: EngineErrorCode.allCases.count)

    public init() {}

    /// Adds another loop's counts (a process-wide total).
    public mutating func add(_ other: EngineCounters) {
        connections &+= other.connections
        for index in disconnections.indices { disconnections[index] &+= other.disconnections[index] }
        packetsIn &+= other.packetsIn
        bytesIn &+= other.bytesIn
        packetsOut &+= other.packetsOut
        bytesOut &+= other.bytesOut
        volatileDrops &+= other.volatileDrops
        backpressureCloses &+= other.backpressureCloses
        upgrades &+= other.upgrades
        for index in handshakeErrors.indices { handshakeErrors[index] &+= other.handshakeErrors[index] }
    }

    mutating func closed(_ reason: EngineCloseReason) {
        disconnections[reason.index] &+= 1
    }
}

extension EngineCloseReason {
    /// The reason's place in `allCases` (a switch, not a search: called at every close).
    var index: Int {
        switch self {
        case .transportClose: return 0
        case .transportError: return 1
        case .pingTimeout: return 2
        case .parseError: return 3
        case .forcedClose: return 4
        case .serverShuttingDown: return 5
        }
    }
}

extension EngineErrorCode {
    /// A label for metrics: the reference's message in snake case ("transport_unknown", ...).
    public var metricName: String {
        switch self {
        case .unknownTransport: return "transport_unknown"
        case .unknownSid: return "session_id_unknown"
        case .badHandshakeMethod: return "bad_handshake_method"
        case .badRequest: return "bad_request"
        case .forbidden: return "forbidden"
        case .unsupportedProtocolVersion: return "unsupported_protocol_version"
        }
    }
}
