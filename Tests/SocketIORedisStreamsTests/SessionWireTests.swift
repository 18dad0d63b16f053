import EngineIOCodec
import MsgPackCodec
import SocketIO
import Testing
@testable import SocketIORedis
@testable import SocketIORedisStreams

// Sessions: adapter.ts 424-436 `persistSession` (key `sessionKeyPrefix + session.pid`, default "sio:session:"
// at 192; value `Buffer.from(encode(session)).toString("base64")`; util.ts 171-180 SET with PX
// maxDisconnectionDuration) of the object socket.io's socket.ts 660-665 hands it: `{sid, pid, rooms:
// [...this.rooms], data}` (the socket's own id room first, `data` `{}` by default, socket.ts 113).
// adapter.ts 439-495 `restoreSession`: offset checked against /^[0-9]+-[0-9]+$/, GETDEL as MULTI GET DEL
// (util.ts 185-199), the packets after the offset from XRANGE, kept when `nsp` and `type === "3"` match and
// `shouldIncludePacket` (497-506) says so, each with the entry id pushed last.

@Suite("sessions as the reference keeps them")
struct SessionWireTests {
    @Test func theSessionValue() {
        let record = SessionRecord(sid: "s1", pid: "p1", rooms: ["s1", "room"], data: .null)
        let msgpack = "84" + str("sid") + str("s1") + str("pid") + str("p1") + str("rooms") + "92" + str("s1") + str("room")
            + str("data") + "80"
        #expect(hex(Base64.decodeForgiving(record.encoded())) == msgpack)
        #expect(text(record.encoded()) == "hKNzaWSiczGjcGlkonAxpXJvb21zkqJzMaRyb29tpGRhdGGA")
    }

    @Test func dataKeepsItsShape() throws {
        let data: JSONValue = ["user": "ana", "n": 3, "big": .number(9_007_199_254_740_993), "list": [true, .null]]
        let record = SessionRecord(sid: "s", pid: "p", rooms: ["s"], data: data)
        let decoded = try #require(SessionRecord(decoding: record.encoded()))
        #expect(decoded.sid == "s" && decoded.pid == "p" && decoded.rooms == ["s"])
        #expect(decoded.data["user"] == "ana" && decoded.data["n"] == 3)
        // Beyond 2^53 a number is a float64, as @msgpack/msgpack writes it.
        let value = try MsgPackValue.decode(Base64.decodeForgiving(record.encoded()))
        #expect(value["data"]?["big"] == .double(9_007_199_254_740_992))
    }

    /// A session as a Node node stores it: its default `data: {}` reads as our "nothing set"; rooms that are not
    /// strings are skipped; a value without string sid and pid is no session.
    @Test func sessionsWrittenByNodeDecode() throws {
        let node = Base64.encode(hexBytes("84" + str("sid") + str("abc") + str("pid") + str("def") + str("rooms") + "93"
                                          + str("abc") + str("r1") + "c0" + str("data") + "80"))
        let record = try #require(SessionRecord(decoding: node))
        #expect(record.sid == "abc" && record.pid == "def" && record.rooms == ["abc", "r1"] && record.data == .null)
        #expect(SessionRecord(decoding: Base64.encode(hexBytes("81" + str("sid") + str("abc")))) == nil)
        #expect(SessionRecord(decoding: Array("not base64 at all!".utf8)) == nil)
        #expect(SessionRecord(decoding: []) == nil)
    }

    /// `shouldIncludePacket`: everyone, or one of the session's rooms (its id included), and none excluded.
    @Test func theReplayFilter() {
        let rooms: Set<String> = ["sid", "news"]
        #expect(shouldInclude(rooms: rooms, RedisWire.Options()))
        #expect(shouldInclude(rooms: rooms, RedisWire.Options(rooms: ["news", "other"])))
        #expect(shouldInclude(rooms: rooms, RedisWire.Options(rooms: ["sid"])))
        #expect(!shouldInclude(rooms: rooms, RedisWire.Options(rooms: ["other"])))
        #expect(!shouldInclude(rooms: rooms, RedisWire.Options(except: ["sid"])))
        #expect(!shouldInclude(rooms: rooms, RedisWire.Options(rooms: ["news"], except: ["news"])))
    }

    /// Offsets: the reference's check, and its `nextOffset` (an exclusive range on Redis before 6.2).
    @Test func logPositions() throws {
        let position = try #require(LogPosition("1700000000000-7"))
        #expect(position.description == "1700000000000-7")
        #expect(position.next.description == "1700000000000-8")
        #expect(LogPosition(milliseconds: 5, sequence: .max).next == LogPosition(milliseconds: 6, sequence: 0))
        #expect(LogPosition("1-2") ?? .zero < LogPosition("1-10") ?? .zero)
        #expect(LogPosition("2-0") ?? .zero > LogPosition("1-99") ?? .zero)
        for bad in ["", "-", "1-", "-1", "1-2-3", "a-1", "1 -2", "+1-2", "1-2 ", "99999999999999999999-0", "nothing"] {
            #expect(LogPosition(bad) == nil, "\(bad)")
        }
    }
}
