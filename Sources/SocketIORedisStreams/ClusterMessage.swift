import EngineIOCodec
import MsgPackCodec
import SocketIOCodec

/// The message types of socket.io-adapter's `ClusterAdapter` (lib/cluster-adapter.ts, `enum MessageType`): the
/// numbers on the wire of @socket.io/redis-streams-adapter.
public enum ClusterMessageType: Int, Sendable, CaseIterable {
    case initialHeartbeat = 1
    case heartbeat = 2
    case broadcast = 3
    case socketsJoin = 4
    case socketsLeave = 5
    case disconnectSockets = 6
    case fetchSockets = 7
    case fetchSocketsResponse = 8
    case serverSideEmit = 9
    case serverSideEmitResponse = 10
    case broadcastClientCount = 11
    case broadcastAck = 12
    case adapterClose = 13

    /// The types whose `data` may hold binaries, so a stream entry carries them as base64 msgpack instead of JSON
    /// (lib/adapter.ts `encode`, `mayContainBinary`).
    var mayContainBinary: Bool {
        switch self {
        case .broadcast, .fetchSocketsResponse, .serverSideEmit, .serverSideEmitResponse, .broadcastAck: true
        default: false
        }
    }
}

/// One message between the nodes of a cluster on the Redis streams adapter, `{uid, nsp, type, data}`, in the two
/// forms the reference (lib/adapter.ts 0.3.1) gives it:
///
/// - a stream entry (XADD): fields `uid`, `nsp`, `type` (the number as text) and, when there is data, `data`:
///   `JSON.stringify(data)`, or base64 of the msgpack of `data` when it holds binaries (`encode` / `decode`);
/// - a pub/sub payload (requests that need no log, and every response): the msgpack of the whole message, keys in
///   the order the reference builds it: `type`, `data`, then `uid` and `nsp` (`publishAndReturnOffset`).
///
/// msgpack is @msgpack/msgpack 2.8's (`MsgPackDialect.msgpackJavaScript`), not notepack's. Pure: bytes in, values
/// out, so the decoders are fuzzed on their own (Fuzz/harnesses/redis_stream_entry.swift).
public struct ClusterMessage: Equatable, Sendable {
    /// The sending adapter (16 hex characters on Node); nil when absent or not a string.
    public var uid: String?
    /// The namespace; nil when absent or not a string.
    public var nsp: String?
    /// The type number (`parseInt` of the field in a stream entry); nil when it is not a number.
    public var type: Int?
    public var data: MsgPackValue?

    public init(uid: String?, nsp: String?, type: Int?, data: MsgPackValue? = nil) {
        self.uid = uid
        self.nsp = nsp
        self.type = type
        self.data = data
    }

    public init(uid: String, nsp: String, type: ClusterMessageType, data: MsgPackValue? = nil) {
        self.init(uid: uid, nsp: nsp, type: type.rawValue, data: data)
    }

    public var kind: ClusterMessageType? { type.flatMap(ClusterMessageType.init(rawValue:)) }
}

// MARK: Pub/sub payloads

extension ClusterMessage {
    /// msgpack `{type, data, uid, nsp}` (`data` only when there is some), as `doPublish` / `doPublishResponse`
    /// encode an ephemeral message or a response.
    public func pubSubPayload() -> [UInt8] {
        var members: [(String, MsgPackValue)] = [("type", type.map { .int(Int64($0)) } ?? .null)]
        if let data { members.append(("data", data)) }
        members.append(("uid", uid.map { .string($0) } ?? .undefined))
        members.append(("nsp", nsp.map { .string($0) } ?? .undefined))
        return MsgPackValue.map(members).encoded(dialect: .msgpackJavaScript)
    }

    /// Decodes a pub/sub payload (what the subscriber's `decode(payload)` yields, then read as `onMessage`
    /// reads it: a `type` that is not a number, a `uid` or `nsp` that is not a string, read as absent).
    public init(pubSubPayload bytes: [UInt8]) throws(MsgPackError) {
        let value = try MsgPackValue.decode(bytes)
        guard case .map = value else { throw .invalid }
        self.init(uid: value["uid"]?.stringValue, nsp: value["nsp"]?.stringValue, type: value["type"]?.intValue,
                  data: value["data"].flatMap { $0.isUndefined ? nil : $0 })
    }
}

// MARK: Stream entries

extension ClusterMessage {
    /// The entry's fields in the reference's order (`encode`: uid, nsp, type, then data when the message has
    /// some). `onlyPlaintext` skips the binary check, as the option of that name does.
    public func streamFields(onlyPlaintext: Bool = false) -> [(String, [UInt8])] {
        var fields: [(String, [UInt8])] = [
            ("uid", Array((uid ?? "").utf8)), ("nsp", Array((nsp ?? "").utf8)), ("type", Array(String(type ?? 0).utf8)),
        ]
        if let data {
            fields.append(("data", ClusterMessage.encodeData(data, kind: kind, onlyPlaintext: onlyPlaintext)))
        }
        return fields
    }

    /// `JSON.stringify(data)`, or base64 of msgpack when `data` may and does hold a binary.
    static func encodeData(_ data: MsgPackValue, kind: ClusterMessageType?, onlyPlaintext: Bool) -> [UInt8] {
        if !onlyPlaintext, kind?.mayContainBinary == true, data.containsBinary {
            return Base64.encode(data.encoded(dialect: .msgpackJavaScript))
        }
        var json: [UInt8] = []
        var unused: [[UInt8]] = []
        // JSON.stringify writes a Buffer as {"type":"Buffer","data":[...]} (onlyPlaintext with a binary anyway).
        data.appendJSON(to: &json, attachments: &unused, binary: .nodeBuffer)
        return json
    }

    /// Decodes an entry's fields as `onRawMessage` / `decode` read them: nil for an entry the reference skips (no
    /// `nsp`: `if (message.nsp)`) or cannot decode (`data` neither JSON nor base64 msgpack). A repeated field keeps
    /// the last value, as the object built from the reply does.
    public init?(streamFields fields: [(key: [UInt8], value: [UInt8])]) {
        var uid: [UInt8]?, nsp: [UInt8]?, type: [UInt8]?, data: [UInt8]?
        for field in fields {
            switch field.key {
            case Array("uid".utf8): uid = field.value
            case Array("nsp".utf8): nsp = field.value
            case Array("type".utf8): type = field.value
            case Array("data".utf8): data = field.value
            default: continue
            }
        }
        guard let nsp, !nsp.isEmpty else { return nil }
        var decoded: MsgPackValue?
        if let data, !data.isEmpty {
            if data.first == UInt8(ascii: "{") {
                guard let json = try? JSONValue.parse(data) else { return nil }
                decoded = MsgPackValue(json: json, dialect: .msgpackJavaScript)
            } else {
                guard let value = try? MsgPackValue.decode(Base64.decodeForgiving(data)) else { return nil }
                decoded = value
            }
        }
        self.init(uid: uid.map { String(decoding: $0, as: UTF8.self) }, nsp: String(decoding: nsp, as: UTF8.self),
                  type: type.flatMap(ClusterMessage.parseInt), data: decoded)
    }

    /// JavaScript's `parseInt(text, 10)`: leading whitespace, an optional sign, then as many digits as there are;
    /// nil (NaN) without a digit or beyond an Int.
    static func parseInt(_ text: [UInt8]) -> Int? {
        var index = text.startIndex
        while index < text.endIndex, [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D].contains(text[index]) { index += 1 }
        var negative = false
        if index < text.endIndex, text[index] == UInt8(ascii: "-") || text[index] == UInt8(ascii: "+") {
            negative = text[index] == UInt8(ascii: "-")
            index += 1
        }
        var value = 0
        var digits = 0
        while index < text.endIndex, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int(text[index] - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        return negative ? -value : value
    }
}

extension MsgPackValue {
    /// Whether a binary is anywhere inside (the reference's `hasBinary`).
    var containsBinary: Bool {
        switch self {
        case .binary: return true
        case .array(let elements): return elements.contains { $0.containsBinary }
        case .map(let members): return members.contains { $0.1.containsBinary }
        default: return false
        }
    }
}
