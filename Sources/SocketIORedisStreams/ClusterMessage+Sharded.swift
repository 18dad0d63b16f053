import MsgPackCodec
import SocketIOCodec

// MARK: Sharded pub/sub payloads

extension ClusterMessage {
    /// The whole message `{type, data, uid, nsp}` as @socket.io/redis-adapter's sharded adapter publishes it
    /// (lib/sharded-adapter.ts `encode`): notepack msgpack when the type may carry binaries and `data` holds one,
    /// else `JSON.stringify(message)`.
    public func shardedPayload() -> [UInt8] {
        var members: [(String, MsgPackValue)] = [("type", type.map { .int(Int64($0)) } ?? .null)]
        if let data { members.append(("data", data)) }
        if let uid { members.append(("uid", .string(uid))) }
        if let nsp { members.append(("nsp", .string(nsp))) }
        let message = MsgPackValue.map(members)
        if kind?.mayContainBinary == true, data?.containsBinary == true {
            return message.encoded(dialect: .notepack)
        }
        var json: [UInt8] = []
        var unused: [[UInt8]] = []
        message.appendJSON(to: &json, attachments: &unused, binary: .nodeBuffer)
        return json
    }

    /// Decodes a sharded payload as `onRawMessage` does: JSON when the first byte is `{`, notepack msgpack
    /// otherwise; then read as `onMessage` reads it (a `type` that is not a number, a `uid` or `nsp` that is not a
    /// string, read as absent). Nil for what is neither, or not an object.
    public init?(shardedPayload bytes: [UInt8]) {
        let value: MsgPackValue
        if bytes.first == UInt8(ascii: "{") {
            guard let json = try? JSONValue.parse(bytes) else { return nil }
            value = MsgPackValue(json: json, dialect: .notepack)
        } else {
            guard let decoded = try? MsgPackValue.decode(bytes) else { return nil }
            value = decoded
        }
        guard case .map = value else { return nil }
        self.init(uid: value["uid"]?.stringValue, nsp: value["nsp"]?.stringValue, type: value["type"]?.intValue,
                  data: value["data"].flatMap { $0.isUndefined ? nil : $0 })
    }
}
