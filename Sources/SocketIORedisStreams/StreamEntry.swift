import SocketIO
import SocketIORedis

/// One entry of a Redis stream: its id and its field/value pairs, as XRANGE and XREAD answer them.
struct StreamEntry {
    let id: LogPosition
    let fields: [(key: [UInt8], value: [UInt8])]

    /// The entries of an XRANGE reply (`[[id, [field, value, ...]], ...]`); entries whose id does not parse or
    /// whose fields are not pairs of strings are left out.
    static func entries(ofRange reply: RedisReply) -> [StreamEntry] {
        guard case .array(let items) = reply else { return [] }
        return items.compactMap(StreamEntry.init)
    }

    /// The entries of an XREAD reply for one stream (`[[key, [[id, [...]], ...]]]`); nil (a timeout) is none.
    static func entries(ofRead reply: RedisReply) -> [StreamEntry] {
        guard case .array(let streams) = reply, case .array(let parts)? = streams.first, parts.count >= 2 else { return [] }
        return entries(ofRange: parts[1])
    }

    init?(_ reply: RedisReply) {
        guard case .array(let parts) = reply, parts.count >= 2, let idText = parts[0].bytes,
              let id = LogPosition(String(decoding: idText, as: UTF8.self)), case .array(let flat) = parts[1] else {
            return nil
        }
        var fields: [(key: [UInt8], value: [UInt8])] = []
        fields.reserveCapacity(flat.count / 2)
        var index = 0
        while index + 1 < flat.count {
            guard let key = flat[index].bytes, let value = flat[index + 1].bytes else { return nil }
            fields.append((key, value))
            index += 2
        }
        self.id = id
        self.fields = fields
    }
}
