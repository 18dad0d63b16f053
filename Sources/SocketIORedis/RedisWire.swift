import MsgPackCodec
import SocketIO

/// The wire format of Node's `@socket.io/redis-adapter` 8.x (classic pub/sub) and `@socket.io/redis-emitter` 5.x,
/// as captured byte for byte in shared/fixtures/redis-adapter/wire-capture.md. Pure: bytes in, values out.
///
/// Channels (key `socket.io`, namespace `/`): broadcasts on `socket.io#/#` or, for exactly one room,
/// `socket.io#/#<room>#`; requests on `socket.io-request#/#`; responses on `socket.io-response#/#` (or
/// `socket.io-response#/#<uid>#` with `publishOnSpecificResponseChannel`). Broadcasts are msgpack
/// `[uid, packet, opts]`; requests and responses are JSON text except BROADCAST (7) and BROADCAST_ACK (9), which
/// are msgpack; a reader tells them apart by the first byte (`{` is JSON).
public enum RedisWire {
    /// Request and response types.
    public enum RequestType: Int, Sendable {
        case sockets = 0
        case allRooms = 1
        case remoteJoin = 2
        case remoteLeave = 3
        case remoteDisconnect = 4
        case remoteFetch = 5
        case serverSideEmit = 6
        case broadcast = 7
        case broadcastClientCount = 8
        case broadcastAck = 9
    }

    // MARK: Channels

    public struct Channels: Sendable, Equatable {
        /// `key#nsp#`: broadcasts (a room suffix `room#` for exactly one room).
        public let broadcast: String
        /// `key-request#nsp#`
        public let request: String
        /// `key-response#nsp#`
        public let response: String

        public init(key: String, namespace: String) {
            broadcast = key + "#" + namespace + "#"
            request = key + "-request#" + namespace + "#"
            response = key + "-response#" + namespace + "#"
        }

        /// `key-response#nsp#uid#`
        public func specificResponse(uid: String) -> String { response + uid + "#" }

        /// The channel a broadcast to `rooms` goes to.
        public func broadcastChannel(rooms: [String]) -> String {
            rooms.count == 1 ? broadcast + rooms[0] + "#" : broadcast
        }

        /// The PSUBSCRIBE pattern matching every broadcast channel of the namespace (glob characters of the key
        /// or namespace escaped, so the pattern matches exactly the channels Node's adapter publishes to).
        public var broadcastPattern: String { RedisWire.globEscaped(broadcast) + "*" }

        /// The room of a broadcast channel: "" for the plain channel, nil for a channel of another namespace.
        public func room(ofBroadcastChannel channel: String) -> String? {
            guard channel.hasPrefix(broadcast) else { return nil }
            let rest = channel.utf8.dropFirst(broadcast.utf8.count)
            guard !rest.isEmpty else { return "" }
            guard rest.last == UInt8(ascii: "#") else { return nil }
            return String(decoding: rest.dropLast(), as: UTF8.self)
        }
    }

    static func globEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if "*?[]\\".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    // MARK: Packets, options, flags

    /// A Socket.IO packet as the adapter carries it: `{type, data: [event, ...args], nsp}` (plus `id` if present).
    public struct Packet: Equatable, Sendable {
        public var type: Int
        public var data: [MsgPackValue]
        /// "/" when absent on the wire.
        public var namespace: String
        public var id: Int?

        public init(type: Int = 2, data: [MsgPackValue], namespace: String, id: Int? = nil) {
            self.type = type
            self.data = data
            self.namespace = namespace
            self.id = id
        }

        /// An EVENT packet of `event` with `arguments` (binary attachments become msgpack bins).
        public init(event: String, arguments: SocketIOArguments, namespace: String) {
            self.init(data: [.string(event)] + arguments.wireValues(), namespace: namespace)
        }

        public var value: MsgPackValue {
            var members: [(String, MsgPackValue)] = [("type", .int(Int64(type))), ("data", .array(data))]
            if let id { members.append(("id", .int(Int64(id)))) }
            members.append(("nsp", .string(namespace)))
            return .map(members)
        }

        public init?(_ value: MsgPackValue) {
            guard case .map = value, let data = value["data"]?.arrayValue else { return nil }
            self.type = value["type"]?.intValue ?? 2
            self.data = data
            self.namespace = value["nsp"]?.stringValue ?? "/"
            self.id = value["id"]?.intValue
        }

        /// The event name (a number names the event by its text, as in JavaScript).
        public var event: String? {
            guard let first = data.first else { return nil }
            if case .string(let name) = first { return name }
            return first.javaScriptText
        }

        /// The arguments after the event name, for local delivery.
        public func arguments() throws -> SocketIOArguments {
            try SocketIOArguments.fromWire(data.dropFirst())
        }
    }

    /// Broadcast flags as the reference writes them: only the keys that were set.
    public struct Flags: Equatable, Sendable {
        public var volatile: Bool?
        public var compress: Bool?
        public var local: Bool?
        public var timeout: UInt64?

        public init(volatile: Bool? = nil, compress: Bool? = nil, local: Bool? = nil, timeout: UInt64? = nil) {
            self.volatile = volatile
            self.compress = compress
            self.local = local
            self.timeout = timeout
        }

        /// The flags of `options`, defaults left out (`compress` written only when false).
        public init(_ flags: BroadcastFlags) {
            volatile = flags.volatile ? true : nil
            compress = flags.compress ? nil : false
            local = flags.local ? true : nil
            timeout = flags.timeout
        }

        public var value: MsgPackValue {
            var members: [(String, MsgPackValue)] = []
            if let volatile { members.append(("volatile", .bool(volatile))) }
            if let compress { members.append(("compress", .bool(compress))) }
            if let local { members.append(("local", .bool(local))) }
            if let timeout { members.append(("timeout", .number(Double(timeout)))) }
            return .map(members)
        }

        public init(_ value: MsgPackValue?) {
            volatile = value?["volatile"]?.boolValue
            compress = value?["compress"]?.boolValue
            local = value?["local"]?.boolValue
            timeout = value?["timeout"]?.wholeNonNegative
        }

        /// As the Socket.IO layer's flags (never `local`: a message from Redis is delivered here only).
        public var broadcastFlags: BroadcastFlags {
            var flags = BroadcastFlags()
            flags.volatile = volatile ?? false
            flags.compress = compress ?? true
            flags.timeout = timeout
            return flags
        }
    }

    /// `{rooms, except}` (requests) or `{rooms, except, flags}` (broadcasts).
    public struct Options: Equatable, Sendable {
        public var rooms: [String]
        public var except: [String]
        public var flags: Flags?

        public init(rooms: [String] = [], except: [String] = [], flags: Flags? = nil) {
            self.rooms = rooms
            self.except = except
            self.flags = flags
        }

        /// Rooms sorted, so the same options always make the same bytes.
        public init(_ options: BroadcastOptions, withFlags: Bool) {
            rooms = options.rooms.sorted()
            except = options.except.sorted()
            flags = withFlags ? Flags(options.flags) : nil
        }

        public var value: MsgPackValue {
            var members: [(String, MsgPackValue)] = [
                ("rooms", .array(rooms.map { .string($0) })), ("except", .array(except.map { .string($0) })),
            ]
            if let flags { members.append(("flags", flags.value)) }
            return .map(members)
        }

        public init(_ value: MsgPackValue?) {
            rooms = value?["rooms"]?.stringArray ?? []
            except = value?["except"]?.stringArray ?? []
            flags = value?["flags"].map { Flags($0) }
        }

        public var broadcastOptions: BroadcastOptions {
            BroadcastOptions(rooms: Set(rooms), except: Set(except), flags: flags?.broadcastFlags ?? BroadcastFlags())
        }
    }

    // MARK: Broadcasts

    public struct Broadcast: Equatable, Sendable {
        /// The publishing adapter's uid (`emitter` for @socket.io/redis-emitter).
        public var uid: String
        public var packet: Packet
        public var options: Options

        public init(uid: String, packet: Packet, options: Options) {
            self.uid = uid
            self.packet = packet
            self.options = options
        }

        /// msgpack `[uid, packet, opts]`.
        public func encoded() -> [UInt8] {
            MsgPackValue.array([.string(uid), packet.value, options.value]).encoded()
        }

        public static func decode(_ bytes: [UInt8]) throws -> Broadcast {
            let value = try MsgPackValue.decode(bytes)
            guard let parts = value.arrayValue, parts.count >= 2, let packet = Packet(parts[1]) else {
                throw MsgPackError.invalid
            }
            let uid = parts[0].stringValue ?? ""
            return Broadcast(uid: uid, packet: packet, options: Options(parts.count > 2 ? parts[2] : nil))
        }
    }

    // MARK: Requests and responses

    /// A request or response body, decoded from JSON or msgpack (by its first byte) into one value tree.
    public static func decodeMessage(_ bytes: [UInt8]) throws -> MsgPackValue {
        if bytes.first == UInt8(ascii: "{") {
            return MsgPackValue(json: try JSONValue.parse(bytes))
        }
        return try MsgPackValue.decode(bytes)
    }

    static func json(_ members: [(String, JSONValue)]) -> [UInt8] {
        JSONValue.object(members).serialize()
    }

    static func jsonOptions(rooms: [String], except: [String]) -> JSONValue {
        .object([("rooms", .array(rooms.map { .string($0) })), ("except", .array(except.map { .string($0) }))])
    }

    /// REMOTE_FETCH `{uid, requestId, type: 5, opts: {rooms, except}}`.
    public static func fetchRequest(uid: String, requestId: String, rooms: [String], except: [String]) -> [UInt8] {
        json([("uid", .string(uid)), ("requestId", .string(requestId)), ("type", 5),
              ("opts", jsonOptions(rooms: rooms, except: except))])
    }

    /// `{requestId, sockets: [{id, handshake, rooms, data}]}`.
    public static func fetchResponse(requestId: String, sockets: [JSONValue]) -> [UInt8] {
        json([("requestId", .string(requestId)), ("sockets", .array(sockets))])
    }

    /// ALL_ROOMS `{uid, requestId, type: 1}`.
    public static func allRoomsRequest(uid: String, requestId: String) -> [UInt8] {
        json([("uid", .string(uid)), ("requestId", .string(requestId)), ("type", 1)])
    }

    /// `{requestId, rooms: [...]}`.
    public static func allRoomsResponse(requestId: String, rooms: [String]) -> [UInt8] {
        json([("requestId", .string(requestId)), ("rooms", .array(rooms.map { .string($0) }))])
    }

    /// Legacy SOCKETS response `{requestId, sockets: [ids]}`.
    public static func socketsResponse(requestId: String, sockets: [String]) -> [UInt8] {
        json([("requestId", .string(requestId)), ("sockets", .array(sockets.map { .string($0) }))])
    }

    /// REMOTE_JOIN / REMOTE_LEAVE `{uid, type, opts: {rooms, except}, rooms: [...]}`.
    public static func roomsRequest(uid: String, type: RequestType, rooms: [String], except: [String],
                                    roomsToChange: [String]) -> [UInt8] {
        json([("uid", .string(uid)), ("type", .number(Double(type.rawValue))),
              ("opts", jsonOptions(rooms: rooms, except: except)),
              ("rooms", .array(roomsToChange.map { .string($0) }))])
    }

    /// REMOTE_DISCONNECT `{uid, type: 4, opts: {rooms, except}, close}`.
    public static func disconnectRequest(uid: String, rooms: [String], except: [String], close: Bool) -> [UInt8] {
        json([("uid", .string(uid)), ("type", 4), ("opts", jsonOptions(rooms: rooms, except: except)),
              ("close", .bool(close))])
    }

    /// Legacy response to a `sid` form request: `{requestId}`.
    public static func emptyResponse(requestId: String) -> [UInt8] {
        json([("requestId", .string(requestId))])
    }

    /// SERVER_SIDE_EMIT `{uid, type: 6, data}` or, with an ack, `{uid, requestId, type: 6, data}`.
    public static func serverSideEmitRequest(uid: String, requestId: String?, data: [JSONValue]) -> [UInt8] {
        var members: [(String, JSONValue)] = [("uid", .string(uid))]
        if let requestId { members.append(("requestId", .string(requestId))) }
        members.append(("type", 6))
        members.append(("data", .array(data)))
        return json(members)
    }

    /// `{type: 6, requestId, data}` (`data` absent when the ack had no argument).
    public static func serverSideEmitResponse(requestId: String, data: JSONValue?) -> [UInt8] {
        var members: [(String, JSONValue)] = [("type", 6), ("requestId", .string(requestId))]
        if let data { members.append(("data", data)) }
        return json(members)
    }

    /// BROADCAST (with acks), msgpack `{uid, requestId, type: 7, packet, opts: {rooms, except, flags}}`.
    public static func broadcastRequest(uid: String, requestId: String, packet: Packet, options: Options) -> [UInt8] {
        MsgPackValue.map([("uid", .string(uid)), ("requestId", .string(requestId)), ("type", .int(7)),
                          ("packet", packet.value), ("opts", options.value)]).encoded()
    }

    /// BROADCAST_CLIENT_COUNT, JSON `{type: 8, requestId, clientCount}`.
    public static func clientCountResponse(requestId: String, clientCount: Int) -> [UInt8] {
        json([("type", 8), ("requestId", .string(requestId)), ("clientCount", .number(Double(clientCount)))])
    }

    /// BROADCAST_ACK, msgpack `{type: 9, requestId, packet: <the client's first ack argument>}`.
    public static func broadcastAckResponse(requestId: String, packet: MsgPackValue) -> [UInt8] {
        MsgPackValue.map([("type", .int(9)), ("requestId", .string(requestId)), ("packet", packet)]).encoded()
    }
}
