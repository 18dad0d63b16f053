import MsgPackCodec
import SocketIO
import SocketIOCodec
import SocketIORedis

/// The `data` of each cluster message, built with the members in the order socket.io-adapter's ClusterAdapter
/// writes them (lib/cluster-adapter.ts), and read back into typed values. Pure. Options are
/// `encodeOptions(opts)`: `{rooms, except, flags}` (RedisWire.Options: rooms sorted, only the flags that were set).
public enum ClusterPayload {
    /// The packet a broadcast carries: `{type: 2, data: [event, ...args]}` (the broadcast operator's packet; the
    /// in-memory adapter adds `nsp` only after ClusterAdapter published it).
    public static func packet(_ event: OutgoingEvent) -> MsgPackValue {
        .map([("type", .int(2)), ("data", .array(eventData(event)))])
    }

    /// `[event, ...args]`, binaries as msgpack bins, numbers as @msgpack/msgpack writes them.
    public static func eventData(_ event: OutgoingEvent) -> [MsgPackValue] {
        [.string(event.event)] + event.arguments.wireValues(dialect: .msgpackJavaScript)
    }

    static func options(_ options: BroadcastOptions) -> MsgPackValue {
        RedisWire.Options(options, withFlags: true).value
    }

    /// BROADCAST: `{packet, opts}` (`broadcast`), or `{packet, requestId, opts}` with acknowledgements
    /// (`broadcastWithAck`).
    public static func broadcast(_ event: OutgoingEvent, options: BroadcastOptions, requestId: String? = nil) -> MsgPackValue {
        var members: [(String, MsgPackValue)] = [("packet", packet(event))]
        if let requestId { members.append(("requestId", .string(requestId))) }
        members.append(("opts", ClusterPayload.options(options)))
        return .map(members)
    }

    /// SOCKETS_JOIN / SOCKETS_LEAVE: `{opts, rooms}`.
    public static func socketsChange(_ options: BroadcastOptions, rooms: [String]) -> MsgPackValue {
        .map([("opts", ClusterPayload.options(options)), ("rooms", .array(rooms.map { .string($0) }))])
    }

    /// DISCONNECT_SOCKETS: `{opts, close}`.
    public static func disconnect(_ options: BroadcastOptions, close: Bool) -> MsgPackValue {
        .map([("opts", ClusterPayload.options(options)), ("close", .bool(close))])
    }

    /// FETCH_SOCKETS: `{opts, requestId}`.
    public static func fetchSockets(_ options: BroadcastOptions, requestId: String) -> MsgPackValue {
        .map([("opts", ClusterPayload.options(options)), ("requestId", .string(requestId))])
    }

    /// FETCH_SOCKETS_RESPONSE: `{requestId, sockets: [{id, handshake, rooms, data}]}`.
    public static func fetchSocketsResponse(requestId: String, sockets: [JSONValue]) -> MsgPackValue {
        .map([("requestId", .string(requestId)),
              ("sockets", .array(sockets.map { MsgPackValue(json: $0, dialect: .msgpackJavaScript) }))])
    }

    /// SERVER_SIDE_EMIT: `{packet: [event, ...args]}`, or `{requestId, packet}` when an answer is awaited.
    public static func serverSideEmit(_ packet: [MsgPackValue], requestId: String?) -> MsgPackValue {
        var members: [(String, MsgPackValue)] = []
        if let requestId { members.append(("requestId", .string(requestId))) }
        members.append(("packet", .array(packet)))
        return .map(members)
    }

    /// SERVER_SIDE_EMIT_RESPONSE: `{requestId, packet}`; an answer without an argument is `undefined`, which
    /// @msgpack/msgpack writes as nil.
    public static func serverSideEmitResponse(requestId: String, packet: MsgPackValue) -> MsgPackValue {
        .map([("requestId", .string(requestId)), ("packet", packet)])
    }

    /// BROADCAST_CLIENT_COUNT: `{requestId, clientCount}`.
    public static func clientCount(requestId: String, clientCount: Int) -> MsgPackValue {
        .map([("requestId", .string(requestId)), ("clientCount", .int(Int64(clientCount)))])
    }

    /// BROADCAST_ACK: `{requestId, packet}`, the first argument of one client's acknowledgement.
    public static func broadcastAck(requestId: String, packet: MsgPackValue) -> MsgPackValue {
        .map([("requestId", .string(requestId)), ("packet", packet)])
    }
}

// MARK: Reading what other nodes sent

/// A BROADCAST's data: the packet, who it is for, and the request id when acknowledgements are awaited.
public struct ReceivedBroadcast: Equatable {
    public var packet: RedisWire.Packet
    public var options: RedisWire.Options
    public var requestId: String?

    /// Nil unless `data` has a `packet` with a `data` array.
    public init?(_ data: MsgPackValue?) {
        guard let data, let packet = data["packet"].flatMap(RedisWire.Packet.init) else { return nil }
        self.packet = packet
        options = RedisWire.Options(data["opts"])
        requestId = data["requestId"]?.stringValue
    }

    /// The event to deliver, the offset (a stream id) last among its arguments when given (`addOffsetIfNecessary`,
    /// or the replay's `packet.data.push(entry.id)`). Nil when the packet names no event or its arguments are not
    /// valid Socket.IO arguments.
    public func event(offset: String? = nil) -> OutgoingEvent? {
        guard let name = packet.event, let arguments = try? packet.arguments() else { return nil }
        return OutgoingEvent(event: name, arguments: offset.map { arguments.appending(string: $0) } ?? arguments)
    }

    /// `addOffsetIfNecessary`: an EVENT without an ack id that is not volatile gets the offset.
    public var takesOffset: Bool { packet.type == 2 && packet.id == nil && options.flags?.volatile == nil }
}

/// What a request or response carries, beyond the options: everything the adapter reads, absent when missing
/// or of the wrong type.
public struct ReceivedRequest {
    public var options: RedisWire.Options
    public var rooms: [String]
    public var close: Bool
    public var requestId: String?
    /// SERVER_SIDE_EMIT: `[event, ...args]`; SERVER_SIDE_EMIT_RESPONSE and BROADCAST_ACK: the answer.
    public var packet: MsgPackValue?
    public var clientCount: Int?
    public var sockets: [RedisWire.SocketDescription]

    public init(_ data: MsgPackValue?) {
        options = RedisWire.Options(data?["opts"])
        rooms = data?["rooms"]?.stringArray ?? []
        close = data?["close"]?.boolValue ?? false
        requestId = data?["requestId"]?.stringValue
        packet = data?["packet"]
        clientCount = data?["clientCount"]?.intValue
        sockets = data?["sockets"]?.arrayValue?.compactMap(RedisWire.SocketDescription.init) ?? []
    }

    /// SERVER_SIDE_EMIT's event (a number names it by its text) and arguments, binaries as attachments.
    public var serverSideEvent: (event: String, arguments: SocketIOArguments)? {
        guard let elements = packet?.arrayValue, let first = elements.first,
              let arguments = try? SocketIOArguments.fromWire(elements.dropFirst()) else { return nil }
        return (first.stringValue ?? first.javaScriptText ?? "", arguments)
    }
}

/// `shouldIncludePacket` (lib/adapter.ts): a replayed broadcast is for the session when it went to everyone or to
/// one of its rooms, and to none of its rooms was it excluded. `rooms` include the socket's own id.
func shouldInclude(rooms: Set<String>, _ options: RedisWire.Options) -> Bool {
    (options.rooms.isEmpty || options.rooms.contains(where: rooms.contains)) && !options.except.contains(where: rooms.contains)
}
