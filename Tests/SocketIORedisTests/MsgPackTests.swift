import Testing
@testable import MsgPackCodec
@testable import SocketIORedis
import SocketIO

/// notepack.io's encoding rules (the ones the capture does not happen to exercise), bad input, and the small
/// pure pieces of the adapter.
@Suite("msgpack and wire details")
struct MsgPackTests {
    func hex(_ bytes: [UInt8]) -> String { WireCaptureTests.hex(bytes) }

    @Test(arguments: [
        (0.0, "00"), (127.0, "7f"), (128.0, "cc80"), (255.0, "ccff"), (256.0, "cd0100"), (65535.0, "cdffff"),
        (65536.0, "ce00010000"), (4_294_967_295.0, "ceffffffff"), (4_294_967_296.0, "cf0000000100000000"),
        (-1.0, "ff"), (-32.0, "e0"), (-33.0, "d0df"), (-128.0, "d080"), (-129.0, "d1ff7f"), (-32768.0, "d18000"),
        (-32769.0, "d2ffff7fff"), (-2_147_483_649.0, "d3ffffffff7fffffff"), (1.5, "cb3ff8000000000000"),
        (-0.0, "00"), (1e300, "cb7e37e43c8800759c"),
    ])
    func numbersAsNotepackWritesThem(_ number: Double, _ expected: String) {
        #expect(hex(MsgPackValue.number(number).encoded()) == expected)
    }

    @Test func stringsAndBinariesUseTheSmallestFormat() {
        #expect(hex(MsgPackValue.string("").encoded()) == "a0")
        #expect(hex(MsgPackValue.string(String(repeating: "x", count: 31)).encoded()).hasPrefix("bf"))
        #expect(hex(MsgPackValue.string(String(repeating: "x", count: 32)).encoded()).hasPrefix("d920"))
        #expect(hex(MsgPackValue.string(String(repeating: "x", count: 256)).encoded()).hasPrefix("da0100"))
        #expect(hex(MsgPackValue.string(String(repeating: "x", count: 65536)).encoded()).hasPrefix("db00010000"))
        #expect(hex(MsgPackValue.binary([1, 2]).encoded()) == "c4020102")
        #expect(hex(MsgPackValue.binary([UInt8](repeating: 0, count: 256)).encoded()).hasPrefix("c50100"))
        #expect(hex(MsgPackValue.array(Array(repeating: .null, count: 16)).encoded()).hasPrefix("dc0010"))
    }

    @Test func undefinedIsNilInArraysAndDroppedFromMaps() throws {
        #expect(hex(MsgPackValue.array([.undefined, .int(1)]).encoded()) == "92c001")
        #expect(hex(MsgPackValue.map([("a", .undefined), ("b", .int(1))]).encoded()) == "81a16201")
        // notepack's legacy undefined (fixext 1, type 0, data 0) decodes as undefined: gone from maps.
        #expect(try MsgPackValue.decode(WireCaptureTests.hexBytes("82a161d40000a16201")) == .map([("b", .int(1))]))
    }

    @Test func timestampsBecomeISODatesInJSON() throws {
        // ext -1, 8-byte form: 1795775610 s + 111 ms.
        let seconds: UInt64 = 1_795_775_610, nanos: UInt64 = 111_000_000
        let packed = nanos << 34 | seconds
        var bytes: [UInt8] = [0xd7, 0xff]
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: packed >> UInt64(shift))) }
        let value = try MsgPackValue.decode(bytes)
        #expect(value.jsonValue() == .string("2026-11-27T10:33:30.111Z"))
    }

    /// 96-bit timestamps against what Node 20 prints for `JSON.stringify(new Date(s * 1e3 + ns / 1e6))`: years
    /// beyond 0-9999, sub-millisecond rounding toward zero, and null past a Date's range (fuzz finding
    /// redis-timestamp-year: a year near Int32.max trapped).
    @Test(arguments: [
        (Int64(1_795_775_610), UInt32(111_000_000), "\"2026-11-27T10:33:30.111Z\""),
        (-1, 1, "\"1969-12-31T23:59:59.001Z\""), (-1, 500_000_000, "\"1969-12-31T23:59:59.500Z\""),
        (0, 4_294_967_295, "\"1970-01-01T00:00:04.294Z\""), (-62_167_219_200, 0, "\"0000-01-01T00:00:00.000Z\""),
        (-62_167_219_201, 999_000_000, "\"-000001-12-31T23:59:59.999Z\""),
        (253_402_300_800, 0, "\"+010000-01-01T00:00:00.000Z\""), (8_640_000_000_000, 0, "\"+275760-09-13T00:00:00.000Z\""),
        (8_640_000_000_000, 1_000_000, "null"), (-8_640_000_000_000, 0, "\"-271821-04-20T00:00:00.000Z\""),
        (-8_640_000_000_001, 0, "null"), (67_767_976_233_532_799, 0, "null"), (Int64.min, 0, "null"),
    ])
    func timestampsAsJavaScriptDates(_ seconds: Int64, _ nanoseconds: UInt32, _ expected: String) throws {
        var bytes: [UInt8] = [0xc7, 0x0c, 0xff]
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: nanoseconds >> UInt32(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: seconds >> Int64(shift))) }
        let value = try MsgPackValue.decode(bytes)
        #expect(String(decoding: value.jsonValue().serialize(), as: UTF8.self) == expected)
        var json: [UInt8] = [], attachments: [[UInt8]] = []
        value.appendJSON(to: &json, attachments: &attachments)
        #expect(String(decoding: json, as: UTF8.self) == expected)
    }

    @Test(arguments: ["", "c1", "92", "9201", "a5616263", "8201", "00ff", "dc0001", "c4ff00"])
    func malformedMessagesAreRefused(_ text: String) {
        #expect(throws: MsgPackError.self) { try MsgPackValue.decode(WireCaptureTests.hexBytes(text)) }
        #expect(throws: (any Error).self) { try RedisWire.Broadcast.decode(WireCaptureTests.hexBytes(text)) }
    }

    /// Fuzz finding msgpack-alloc: msgpack-c sizes an array's or map's storage from its header, before any member
    /// arrived. Counts and lengths the input cannot hold are refused before msgpack-c sees them.
    @Test(arguments: ["dd0fffffff", "df7fffffff01", "dbffffffff61", "c6000100006162", "dc00039001", "c9000000020161"])
    func declaredSizesBeyondTheInputAreRefused(_ text: String) {
        let bytes = WireCaptureTests.hexBytes(text)
        #expect(!bytes.withUnsafeBytes(declaredSizesFit))
        #expect(throws: MsgPackError.self) { try MsgPackValue.decode(bytes) }
    }

    @Test(arguments: ["dc0003010203", "de0001a161c0", "c4020102", "c70301010203", "d40000", "93a0a0a0"])
    func declaredSizesThatFitAreAccepted(_ text: String) throws {
        let bytes = WireCaptureTests.hexBytes(text)
        #expect(bytes.withUnsafeBytes(declaredSizesFit))
        _ = try MsgPackValue.decode(bytes)
    }

    @Test func deepNestingIsRefusedNotCrashed() {
        let deep = [UInt8](repeating: 0x91, count: 100_000) + [0x00]
        #expect(throws: MsgPackError.self) { try MsgPackValue.decode(deep) }
    }

    @Test func broadcastsThatAreNotArraysOrLackAPacketAreRefused() throws {
        for value: MsgPackValue in [.int(1), .array([.string("x")]), .array([.string("x"), .int(2), .map([])])] {
            #expect(throws: (any Error).self) { try RedisWire.Broadcast.decode(value.encoded()) }
        }
        // A packet without nsp is for "/".
        let bare = MsgPackValue.array([.string("u"), .map([("type", .int(2)), ("data", .array([.string("e")]))]),
                                       .map([])])
        #expect(try RedisWire.Broadcast.decode(bare.encoded()).packet.namespace == "/")
    }

    @Test func channels() {
        let channels = RedisWire.Channels(key: "socket.io", namespace: "/chat")
        #expect(channels.broadcast == "socket.io#/chat#")
        #expect(channels.request == "socket.io-request#/chat#")
        #expect(channels.response == "socket.io-response#/chat#")
        #expect(channels.specificResponse(uid: "abc123") == "socket.io-response#/chat#abc123#")
        #expect(channels.broadcastPattern == "socket.io#/chat#*")
        #expect(channels.room(ofBroadcastChannel: "socket.io#/chat#") == "")
        #expect(channels.room(ofBroadcastChannel: "socket.io#/chat#a#b#") == "a#b")
        #expect(channels.room(ofBroadcastChannel: "socket.io#/#room#") == nil)
        #expect(RedisWire.Channels(key: "k[1]", namespace: "/a*").broadcastPattern == #"k\[1\]#/a\*#*"#)
    }

    @Test func urls() throws {
        #expect(try RedisEndpoint(url: "redis://127.0.0.1:6379") == RedisEndpoint(host: "127.0.0.1", port: 6379))
        #expect(try RedisEndpoint(url: "redis://localhost") == RedisEndpoint(host: "localhost", port: 6379))
        #expect(try RedisEndpoint(url: "redis://:p%40ss@h:7000/0")
                == RedisEndpoint(host: "h", port: 7000, username: nil, password: "p@ss"))
        #expect(try RedisEndpoint(url: "redis://user:pw@[::1]:6380")
                == RedisEndpoint(host: "::1", port: 6380, username: "user", password: "pw"))
        for bad in ["http://x", "redis://h:0", "redis://h:abc", "redis://h:70000", "127.0.0.1:6379"] {
            #expect(throws: RedisEndpoint.InvalidURL.self) { try RedisEndpoint(url: bad) }
        }
    }

    @Test func idsLookLikeUid2() {
        for _ in 0..<100 {
            let id = RedisAdapter.makeID()
            #expect(id.utf8.count == 6)
            #expect(id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) })
        }
    }

    @Test func argumentsRoundTripThroughTheWire() throws {
        let arguments = try SocketIOArguments(
            json: #"[1,"two",{"three":[3.5,null,true],"bin":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}]"#,
            attachments: [[0, 1, 2], [255]])
        let wire = arguments.wireValues()
        #expect(wire[2]["bin"] == .binary([0, 1, 2]))
        #expect(wire[3] == .binary([255]))
        let back = try SocketIOArguments.fromWire(wire[...])
        #expect(back.attachments == arguments.attachments)
        #expect(try back.values() == arguments.values())
    }
}
