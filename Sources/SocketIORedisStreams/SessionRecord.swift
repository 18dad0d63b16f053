import EngineIOCodec
import MsgPackCodec
import SocketIOCodec

/// A disconnected socket's session as the reference keeps it in Redis (lib/adapter.ts `persistSession`): under
/// `sessionKeyPrefix + pid`, the base64 of the msgpack of `{sid, pid, rooms, data}` (socket.io's `_onclose`
/// builds that object: `rooms` is `[...socket.rooms]`, the socket's own id first; `data` is `{}` when the
/// application set nothing). Pure, so the decoder is fuzzed on its own.
public struct SessionRecord: Equatable, Sendable {
    public var sid: String
    public var pid: String
    /// Every room, the socket's own id room included (first when we write it).
    public var rooms: [String]
    public var data: JSONValue

    public init(sid: String, pid: String, rooms: [String], data: JSONValue) {
        self.sid = sid
        self.pid = pid
        self.rooms = rooms
        self.data = data
    }

    /// The value SET under the session key. A null `data` is written `{}`, a Node socket's default.
    public func encoded() -> [UInt8] {
        let value = MsgPackValue.map([
            ("sid", .string(sid)), ("pid", .string(pid)), ("rooms", .array(rooms.map { .string($0) })),
            ("data", MsgPackValue(json: data.isNull ? .object([]) : data, dialect: .msgpackJavaScript)),
        ])
        return Base64.encode(value.encoded(dialect: .msgpackJavaScript))
    }

    /// Reads a stored value (ours or a Node node's). Nil unless it is a map with string `sid` and `pid` (what
    /// socket.io's Socket constructor relies on); rooms that are not strings are skipped, a missing `rooms` is
    /// none, and an empty `data` object reads as null (our default for "nothing set").
    public init?(decoding text: [UInt8]) {
        guard let value = try? MsgPackValue.decode(Base64.decodeForgiving(text)),
              let sid = value["sid"]?.stringValue, let pid = value["pid"]?.stringValue else { return nil }
        self.sid = sid
        self.pid = pid
        rooms = value["rooms"]?.stringArray ?? []
        let data = value["data"]?.jsonValue() ?? .null
        self.data = data.objectValue?.isEmpty == true ? .null : data
    }
}
