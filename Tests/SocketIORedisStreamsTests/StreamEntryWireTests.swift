import EngineIOCodec
import MsgPackCodec
import SocketIO
import Testing
@testable import SocketIORedis
@testable import SocketIORedisStreams

// What the streams adapter writes, checked against what @socket.io/redis-streams-adapter 0.3.1 writes, derived
// field by field from its source: there is no capture of a live Node node here (npm is unreachable), so these
// expectations are read off the code, with the lines they come from. Paths:
//   adapter.ts          socket.io-redis-streams-adapter lib/adapter.ts (0.3.1, e4e38eb)
//   util.ts             socket.io-redis-streams-adapter lib/util.ts
//   cluster-adapter.ts  socket.io packages/socket.io-adapter/lib/cluster-adapter.ts (2.5.8)
//   broadcast-operator  socket.io packages/socket.io/lib/broadcast-operator.ts (4.8.3)
//   Encoder.ts          msgpack-javascript src/Encoder.ts (v2.8.0)

/// Hex of a fixstr (every key and short value below): a0|len, then the UTF-8 bytes (Encoder.ts writeStringHeader).
func str(_ text: String) -> String {
    let bytes = Array(text.utf8)
    precondition(bytes.count < 32)
    return hex([0xA0 | UInt8(bytes.count)] + bytes)
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

let uid = "0123456789abcdef"

func event(_ name: String, _ json: String, attachments: [[UInt8]] = []) throws -> OutgoingEvent {
    OutgoingEvent(event: name, arguments: try SocketIOArguments(json: json, attachments: attachments))
}

func rooms(_ rooms: [String] = [], except: [String] = [], volatile: Bool = false, compress: Bool = true,
           timeout: UInt64? = nil) -> BroadcastOptions {
    var flags = BroadcastFlags()
    flags.volatile = volatile
    flags.compress = compress
    flags.timeout = timeout
    return BroadcastOptions(rooms: Set(rooms), except: Set(except), flags: flags)
}

@Suite("stream entries as the reference writes them")
struct StreamEntryWireTests {
    /// adapter.ts 348-379 `encode`: fields uid, nsp, type (`message.type.toString()`), data; data is
    /// `JSON.stringify(message.data)` without a binary. cluster-adapter.ts 432-437: a broadcast's data is
    /// `{packet, opts: encodeOptions(opts)}`; encodeOptions (157-162) is `{rooms, except, flags}`;
    /// broadcast-operator 218-221: the packet is `{type: PacketType.EVENT, data: [ev, ...args]}` (no nsp yet: the
    /// in-memory adapter sets it after ClusterAdapter published); `flags` is the operator's `{}` by default.
    @Test func aBroadcastIsJSONInTheDataField() throws {
        let message = ClusterMessage(uid: uid, nsp: "/", type: .broadcast, data: ClusterPayload.broadcast(
            try event("chat message", #"[{"text":"hi"},1.5,-3]"#), options: rooms()))
        let fields = message.streamFields()
        #expect(fields.map(\.0) == ["uid", "nsp", "type", "data"])
        #expect(text(fields[0].1) == uid)
        #expect(text(fields[1].1) == "/")
        #expect(text(fields[2].1) == "3")
        #expect(text(fields[3].1)
            == #"{"packet":{"type":2,"data":["chat message",{"text":"hi"},1.5,-3]},"opts":{"rooms":[],"except":[],"flags":{}}}"#)
    }

    /// Flags hold only what the operator set (broadcast-operator `volatile`, `compress`, `timeout`: each
    /// `Object.assign({}, this.flags, {...})`), rooms and except as arrays of the sets. (Node keeps the flags in the
    /// order the calls set them and the rooms in insertion order; we write volatile, compress, local, timeout, and
    /// rooms sorted, as the pub/sub adapter does.)
    @Test func roomsExceptAndFlags() throws {
        let data = ClusterPayload.broadcast(try event("e", "[]"), options: rooms(["b", "a"], except: ["x"], volatile: true,
                                                                                compress: false, timeout: 3000))
        let fields = ClusterMessage(uid: uid, nsp: "/chat", type: .broadcast, data: data).streamFields()
        #expect(text(fields[1].1) == "/chat")
        #expect(text(fields[3].1) == #"{"packet":{"type":2,"data":["e"]},"opts":{"rooms":["a","b"],"except":["x"],"#
                + #""flags":{"volatile":true,"compress":false,"timeout":3000}}}"#)
    }

    /// adapter.ts 358-372: BROADCAST may contain binary; with one (`hasBinary`), data is
    /// `Buffer.from(encode(message.data)).toString("base64")`, @msgpack/msgpack's encode: maps as fixmap (80|n),
    /// fixstr keys, the positive fixint 2, a fixarray, and the Buffer as bin 8 (c4 len bytes; Encoder.ts 214
    /// encodeBinary), `{}` as 80.
    @Test func aBroadcastWithABinaryIsBase64Msgpack() throws {
        let data = ClusterPayload.broadcast(
            try event("file", #"[{"_placeholder":true,"num":0}]"#, attachments: [[1, 2, 3]]), options: rooms())
        let field = ClusterMessage(uid: uid, nsp: "/", type: .broadcast, data: data).streamFields()[3].1
        let msgpack = "82" + str("packet") + "82" + str("type") + "02" + str("data") + "92" + str("file") + "c403010203"
            + str("opts") + "83" + str("rooms") + "90" + str("except") + "90" + str("flags") + "80"
        #expect(hex(Base64.decodeForgiving(field)) == msgpack)
        #expect(text(field) == "gqZwYWNrZXSCpHR5cGUCpGRhdGGSpGZpbGXEAwECA6RvcHRzg6Vyb29tc5CmZXhjZXB0kKVmbGFnc4A=")
        // `onlyPlaintext` skips the check: JSON.stringify then writes the Buffer as an object.
        let plain = ClusterMessage(uid: uid, nsp: "/", type: .broadcast, data: data).streamFields(onlyPlaintext: true)[3].1
        #expect(text(plain).contains(#"{"type":"Buffer","data":[1,2,3]}"#))
    }

    /// cluster-adapter.ts 515-521 (SOCKETS_JOIN `{opts, rooms}`), 535-541 (SOCKETS_LEAVE), 555-561
    /// (DISCONNECT_SOCKETS `{opts, close}`): logged (adapter.ts `isEphemeral` is false for them), type 4, 5, 6.
    @Test func roomOperationsAreLogged() {
        let join = ClusterMessage(uid: uid, nsp: "/", type: .socketsJoin,
                                  data: ClusterPayload.socketsChange(rooms(["a"]), rooms: ["b", "c"])).streamFields()
        #expect(text(join[2].1) == "4")
        #expect(text(join[3].1) == #"{"opts":{"rooms":["a"],"except":[],"flags":{}},"rooms":["b","c"]}"#)
        let leave = ClusterMessage(uid: uid, nsp: "/", type: .socketsLeave,
                                   data: ClusterPayload.socketsChange(rooms(), rooms: ["b"])).streamFields()
        #expect(text(leave[2].1) == "5")
        let disconnect = ClusterMessage(uid: uid, nsp: "/", type: .disconnectSockets,
                                        data: ClusterPayload.disconnect(rooms(except: ["z"]), close: true)).streamFields()
        #expect(text(disconnect[2].1) == "6")
        #expect(text(disconnect[3].1) == #"{"opts":{"rooms":[],"except":["z"],"flags":{}},"close":true}"#)
    }

    /// An entry as a Node node writes it, read back: adapter.ts 393-412 `decode` (parseInt of type, JSON when
    /// data starts with `{`, base64 msgpack otherwise) then cluster-adapter.ts 464-474 `addOffsetIfNecessary`
    /// (the entry id pushed as the last argument).
    @Test func entriesWrittenByNodeDecode() throws {
        let json = #"{"packet":{"type":2,"data":["news",{"id":7},"x"]},"opts":{"rooms":["r1"],"except":["s9"],"flags":{"compress":false}}}"#
        let message = try #require(ClusterMessage(streamFields: [
            (Array("uid".utf8), Array("fedcba9876543210".utf8)), (Array("nsp".utf8), Array("/".utf8)),
            (Array("type".utf8), Array("3".utf8)), (Array("data".utf8), Array(json.utf8)),
        ]))
        #expect(message.uid == "fedcba9876543210")
        #expect(message.kind == .broadcast)
        let broadcast = try #require(ReceivedBroadcast(message.data))
        #expect(broadcast.requestId == nil)
        #expect(broadcast.options.rooms == ["r1"] && broadcast.options.except == ["s9"])
        #expect(broadcast.options.broadcastOptions.flags.compress == false)
        #expect(broadcast.takesOffset)
        let delivered = try #require(broadcast.event(offset: "1700000000000-3"))
        #expect(delivered.event == "news")
        #expect(delivered.arguments.jsonText == #"[{"id":7},"x","1700000000000-3"]"#)

        // The binary form: bins become attachments; a volatile packet takes no offset (`notVolatile`).
        let packed = "82" + str("packet") + "82" + str("type") + "02" + str("data") + "92" + str("file") + "c403010203"
            + str("opts") + "83" + str("rooms") + "90" + str("except") + "90" + str("flags") + "81" + str("volatile") + "c3"
        let base64 = Base64.encode(hexBytes(packed))
        let binary = try #require(ClusterMessage(streamFields: [
            (Array("nsp".utf8), Array("/".utf8)), (Array("type".utf8), Array("3".utf8)), (Array("data".utf8), base64),
        ]))
        let file = try #require(ReceivedBroadcast(binary.data))
        #expect(!file.takesOffset)
        let fileEvent = try #require(file.event())
        #expect(fileEvent.arguments.jsonText == #"[{"_placeholder":true,"num":0}]"#)
        #expect(fileEvent.arguments.attachments == [[1, 2, 3]])
    }

    /// What the reference skips: no nsp (adapter.ts 151 `if (message.nsp)`), or data it cannot decode (383-389,
    /// "invalid format").
    @Test func entriesTheReferenceSkips() {
        #expect(ClusterMessage(streamFields: [(Array("type".utf8), Array("3".utf8))]) == nil)
        #expect(ClusterMessage(streamFields: [(Array("nsp".utf8), [])]) == nil)
        #expect(ClusterMessage(streamFields: [(Array("nsp".utf8), Array("/".utf8)), (Array("data".utf8), Array("{nope".utf8))]) == nil)
        #expect(ClusterMessage(streamFields: [(Array("nsp".utf8), Array("/".utf8)), (Array("data".utf8), Array("gqZw".utf8))]) == nil)
        // parseInt: "3abc" is 3, " 12" is 12, "x" is NaN (an unknown type, ignored by onMessage).
        #expect(ClusterMessage.parseInt(Array("3abc".utf8)) == 3)
        #expect(ClusterMessage.parseInt(Array(" 12".utf8)) == 12)
        #expect(ClusterMessage.parseInt(Array("x".utf8)) == nil)
        #expect(ClusterMessage.parseInt(Array("99999999999999999999999".utf8)) == nil)
    }

    /// util.ts 138-143 (`XADD <stream> MAXLEN ~ <maxLen> * ...`) and adapter.ts 250-259 `computeStreamName`
    /// with util.ts 202-210 `hashCode` (32-bit, the remainder keeps the hash's sign as JavaScript's `%`).
    @Test func streamNames() {
        var options = RedisStreamsAdapterOptions()
        #expect(options.streamName(forNamespace: "/") == "socket.io")
        options.streamCount = 4
        #expect(RedisStreamsAdapterOptions.hashCode("/") == 47)
        #expect(options.streamName(forNamespace: "/") == "socket.io-3")
        #expect(RedisStreamsAdapterOptions.hashCode("/chat") == 46_457_863)
        #expect(options.streamName(forNamespace: "/admin") == "socket.io-0")
        // A negative hash: Node names the stream "socket.io--3", which none of its readers (0-3) reads.
        #expect(RedisStreamsAdapterOptions.hashCode("/dashboard") == -1_694_060_731)
        #expect(options.streamName(forNamespace: "/dashboard") == "socket.io--3")
        // UTF-16 code units, as charCodeAt.
        #expect(RedisStreamsAdapterOptions.hashCode("/négatif") == 1_622_616_333)
    }
}

func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}
