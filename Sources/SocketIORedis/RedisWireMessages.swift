import MsgPackCodec
import SocketIO

// What other nodes publish, read into typed values: the request and response decoders of the Redis adapter. Pure
// (bytes in, values out), so they are fuzzed on their own (Fuzz/harnesses/redis_message.swift). Members this
// adapter does not act on are ignored, and a member of the wrong type reads as absent, as in the reference.

extension RedisWire {
    /// A request from `key-request#nsp#` (JSON, or msgpack for BROADCAST).
    /// The memberwise initializer (internal) builds expected values in tests and in the fuzz harness.
    public struct Request: Equatable {
        public var type: RequestType
        /// The requesting adapter (answers go to `key-response#nsp#<uid>#` with publishOnSpecificResponseChannel).
        public var uid: String?
        /// Set when the requester waits for answers.
        public var requestId: String?
        /// `opts`: the sockets concerned. Nil in the legacy one-socket forms of REMOTE_JOIN, _LEAVE, _DISCONNECT.
        public var options: Options?
        /// REMOTE_JOIN and REMOTE_LEAVE: the rooms to join or leave; the legacy SOCKETS request: rooms to list.
        public var rooms: [String] = []
        /// REMOTE_DISCONNECT: close the underlying connection too.
        public var close = false
        /// The legacy one-socket forms: the socket's id and, to join or leave, the room.
        public var sid: String?
        public var room: String?
        /// SERVER_SIDE_EMIT: `[event, ...args]`.
        public var data: [MsgPackValue]?
        /// BROADCAST: the packet to deliver and collect acknowledgements for.
        public var packet: Packet?
    }

    /// An answer from `key-response#nsp#` (or the requester's own channel): JSON, or msgpack for BROADCAST_ACK.
    public struct Response: Equatable {
        public var requestId: String
        /// Set on the answers to BROADCAST (8, 9) and SERVER_SIDE_EMIT (6).
        public var type: Int?
        /// BROADCAST_CLIENT_COUNT: how many sockets of the answering node got the broadcast.
        public var clientCount: Int?
        /// BROADCAST_ACK: the first argument of one socket's acknowledgement.
        public var packet: MsgPackValue?
        /// REMOTE_FETCH: the answering node's sockets (entries without an id are left out).
        public var sockets: [SocketDescription]?
        /// ALL_ROOMS: the answering node's rooms.
        public var rooms: [String]?
        /// SERVER_SIDE_EMIT: the acknowledgement's argument.
        public var data: MsgPackValue?

        /// Throws for bytes that are neither JSON nor msgpack, and for a missing `requestId`.
        public init(decoding bytes: [UInt8]) throws {
            let value = try RedisWire.decodeMessage(bytes)
            guard let requestId = value["requestId"]?.stringValue else { throw MsgPackError.invalid }
            self.requestId = requestId
            type = value["type"]?.intValue
            clientCount = value["clientCount"]?.intValue
            packet = value["packet"]
            sockets = value["sockets"]?.arrayValue?.compactMap { SocketDescription($0) }
            rooms = value["rooms"]?.stringArray
            data = value["data"]
        }
    }

    /// A socket as another node describes it in a REMOTE_FETCH answer: `{id, handshake, rooms, data}`.
    public struct SocketDescription: Equatable {
        public var id: String
        /// Handshake headers; a list value (Node's `set-cookie`-style arrays) is joined with ", ".
        public var headers: [Header]
        public var url: String
        /// The client's `auth` payload as JSON text (`{}` when absent).
        public var auth: [UInt8]
        public var address: String
        /// Milliseconds since the epoch (0 when absent or not a non-negative integer-valued number).
        public var issued: UInt64
        public var secure: Bool
        /// The socket's rooms (just its id when absent).
        public var rooms: Set<String>
        public var data: JSONValue

        public struct Header: Equatable {
            public var name: String
            public var value: String
        }

        public init?(_ value: MsgPackValue) {
            guard let id = value["id"]?.stringValue else { return nil }
            self.id = id
            let handshake = value["handshake"]
            headers = []
            if case .map(let members)? = handshake?["headers"] {
                for (name, header) in members {
                    if let text = header.stringValue {
                        headers.append(Header(name: name, value: text))
                    } else if let list = header.stringArray {
                        headers.append(Header(name: name, value: list.joined(separator: ", ")))
                    }
                }
            }
            url = handshake?["url"]?.stringValue ?? ""
            auth = handshake?["auth"].map { $0.jsonValue().serialize() } ?? Array("{}".utf8)
            address = handshake?["address"]?.stringValue ?? ""
            issued = handshake?["issued"]?.wholeNonNegative ?? 0
            secure = handshake?["secure"]?.boolValue ?? false
            rooms = Set(value["rooms"]?.stringArray ?? [id])
            data = value["data"]?.jsonValue() ?? .null
        }
    }
}

extension RedisWire.Request {
    /// Throws for bytes that are neither JSON nor msgpack, and for a missing or unknown `type`.
    public init(decoding bytes: [UInt8]) throws {
        let value = try RedisWire.decodeMessage(bytes)
        guard let number = value["type"]?.intValue, let type = RedisWire.RequestType(rawValue: number) else {
            throw MsgPackError.invalid
        }
        self.init(type: type, uid: value["uid"]?.stringValue, requestId: value["requestId"]?.stringValue,
                  options: value["opts"].map { RedisWire.Options($0) }, rooms: value["rooms"]?.stringArray ?? [],
                  close: value["close"]?.boolValue ?? false, sid: value["sid"]?.stringValue,
                  room: value["room"]?.stringValue, data: value["data"]?.arrayValue,
                  packet: value["packet"].flatMap { RedisWire.Packet($0) })
    }

    /// SERVER_SIDE_EMIT's event (a number names it by its text, as in JavaScript) and arguments, binaries as
    /// attachments; nil unless `data` is `[event, ...]` with valid arguments.
    public func serverSideEvent() -> (event: String, arguments: SocketIOArguments)? {
        guard let data, let first = data.first,
              let arguments = try? SocketIOArguments.fromWire(data.dropFirst()) else { return nil }
        return (first.stringValue ?? first.javaScriptText ?? "", arguments)
    }
}
