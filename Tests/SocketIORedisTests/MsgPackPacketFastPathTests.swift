import Testing
import MsgPackCodec
import SocketIOCodec

/// The msgpack parser's fast path (`MsgPackPacketFastPath`): the general decoder's packet, with the arguments kept
/// exactly where encoding their JSON would write the same bytes, and left to the general decoder everywhere else.
@Suite("msgpack arguments sent on as they came")
struct MsgPackPacketFastPathTests {
    /// A packet `{type, data, nsp}` whose data is an array header, the event name (EVENT) and `elements`' bytes.
    func packet(type: UInt64 = 2, elements: [UInt8], count: Int) -> [UInt8] {
        let writer = MsgPackWriter()
        writer.writeMapHeader(3)
        writer.writeString("type")
        writer.writeUInt(type)
        writer.writeString("data")
        writer.writeArrayHeader(count + (type == 2 ? 1 : 0))
        if type == 2 { writer.writeString("e") }
        elements.withUnsafeBytes { writer.writeRaw($0) }
        writer.writeString("nsp")
        writer.writeString("/")
        return writer.bytes
    }

    /// The arguments' bytes the fast path keeps, or nil where it leaves the packet to the general decoder. The
    /// packet must be one the general decoder accepts, and where the fast path takes it, the same packet.
    func found(_ input: [UInt8], type: UInt64 = 2) throws -> [UInt8]? {
        let general = try MsgPackPacketDecoder.decode(input)
        guard let fast = MsgPackPacketFastPath.decode(input), let packed = fast.packedArguments else { return nil }
        #expect(packed.message == input)
        #expect(fast == general)  // the payload and attachments read from the kept bytes
        return Array(input[packed.location.range])
    }

    /// The general path's bytes for these values (no array header): what the server writes after decoding them.
    func encoded(_ values: [JSONValue], attachments: [[UInt8]] = []) -> [UInt8] {
        let writer = MsgPackWriter()
        for value in values { writer.write(json: value, attachments: attachments.isEmpty ? nil : attachments) }
        return writer.bytes
    }

    @Test func canonicalArgumentsAreFoundWholeForEventsAndAcks() throws {
        let values: [JSONValue] = [.number(1), .string("hi"), .object([("a", .array([.bool(true), .null]))]),
                                   .number(-1.5), .number(4_294_967_296), .number(-100_000)]
        let elements = encoded(values)
        #expect(try found(packet(elements: elements, count: values.count)) == elements)
        #expect(try found(packet(type: 3, elements: elements, count: values.count), type: 3) == elements)
        #expect(try found(packet(elements: [], count: 0)) == [])
    }

    /// The official client's packet: `options` and `id` beside `data`, the members in its order.
    @Test func theOfficialClientsEventShape() throws {
        let writer = MsgPackWriter()
        writer.writeMapHeader(5)
        writer.writeString("type"); writer.writeUInt(2)
        writer.writeString("data"); writer.writeArrayHeader(2); writer.writeString("echo-ack")
        let start = writer.bytes.count
        writer.writeMapHeader(1); writer.writeString("p"); writer.writeString(String(repeating: "x", count: 64))
        let end = writer.bytes.count
        writer.writeString("options"); writer.writeMapHeader(1); writer.writeString("compress"); writer.write(.bool(true))
        writer.writeString("id"); writer.writeUInt(7)
        writer.writeString("nsp"); writer.writeString("/")
        let input = writer.bytes
        #expect(try found(input) == Array(input[start..<end]))
    }

    @Test func binariesAreFoundAsTheyCame() throws {
        let bin: [UInt8] = [0xC4, 3, 1, 2, 3]
        #expect(try found(packet(elements: bin, count: 1)) == bin)
    }

    @Test(arguments: [
        ([0xCC, 0x05], "uint8 for a fixint"),
        ([0xCD, 0x00, 0x80], "uint16 for a uint8"),
        ([0xD0, 0xF0], "int8 for a negative fixint"),
        ([0xD1, 0x00, 0x05], "int16 for a positive value"),
        ([0xCF, 0, 0x20, 0, 0, 0, 0, 0, 1], "uint64 above 2^53"),
        ([0xCA, 0x3F, 0xC0, 0, 0], "float32"),
        ([0xCB, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0], "float64 for an integer"),
        ([0xCB, 0x7F, 0xF8, 0, 0, 0, 0, 0, 0], "NaN (JSON has none)"),
        ([0xD9, 0x01, 0x61], "str8 for a fixstr"),
        ([0xA2, 0xC3, 0xA9], "a string outside ASCII"),
        ([0xC5, 0x00, 0x01, 0x07], "bin16 for a bin8"),
        ([0xDC, 0x00, 0x01, 0xC0], "array16 for a fixarray"),
        ([0x82, 0xA1, 0x62, 0x01, 0xA1, 0x31, 0x02], "a map with an array-index key"),
        ([0x82, 0xA1, 0x61, 0x01, 0xA1, 0x61, 0x02], "a map with a repeated key"),
        ([0x81, 0xA1, 0x22, 0x01], "a key JSON escapes"),
        ([0x81, 0xD9, 0x01, 0x61, 0x01], "a key in a str8"),
        ([0x81, 0xA1, 0x61, 0xD4, 0x00, 0x00], "undefined in a map"),
        ([0xD6, 0xFF, 0, 0, 0, 0], "a timestamp"),
        ([0x82, 0xAC] + Array("_placeholder".utf8) + [0xC3, 0xA3] + Array("num".utf8) + [0x00], "a placeholder lookalike"),
    ] as [([UInt8], String)])
    func leavesToTheRoundTrip(_ element: [UInt8], _ why: String) throws {
        let input = packet(elements: element, count: 1)
        do {
            #expect(try found(input) == nil, "\(why)")
        } catch {
            // The decoder refuses the lookalike (no binary for it); nothing else here may be refused.
            #expect(why == "a placeholder lookalike", "\(why): \(error)")
        }
    }

    @Test func aRepeatedDataMemberIsLeftAlone() throws {
        let writer = MsgPackWriter()
        writer.writeMapHeader(4)
        writer.writeString("type"); writer.writeUInt(3)
        writer.writeString("data"); writer.writeArrayHeader(1); writer.writeUInt(1)
        writer.writeString("data"); writer.writeArrayHeader(1); writer.writeUInt(2)
        writer.writeString("nsp"); writer.writeString("/")
        #expect(try found(writer.bytes, type: 3) == nil)
    }

    /// Random arguments (seeded), encoded as the server encodes them: wherever `find` takes them, its bytes are
    /// the encoding of what the decoder made of them; it takes the plain ones (ASCII strings), a good share.
    @Test func randomArgumentsAgree() throws {
        var random = SeededRandom(seed: 0xA11CE)
        let generator = MsgPackTextWalkTests()
        var taken = 0
        for _ in 0..<2_000 {
            let values = (0..<random.below(4)).map { _ in generator.randomValue(&random, depth: 0) }
            let input = packet(elements: encoded(values), count: values.count)
            let decoded = try MsgPackPacketDecoder.decode(input)
            guard let bytes = try found(input) else { continue }
            taken += 1
            var arguments = try JSONValue.parse(try #require(decoded.payload)).arrayValue ?? []
            arguments.removeFirst()
            #expect(bytes == encoded(arguments, attachments: decoded.attachments), "\(values)")
        }
        #expect(taken > 600)
    }
}

/// The arguments the fast path keeps are read as JSON only when asked, once, whichever thread asks.
@Suite("msgpack arguments read when asked")
struct PackedArgumentsReadingTests {
    func event(_ arguments: [JSONValue]) throws -> SocketIOPacket {
        let writer = MsgPackWriter()
        writer.writeMapHeader(3)
        writer.writeString("type"); writer.writeUInt(2)
        writer.writeString("data"); writer.writeArrayHeader(arguments.count + 1); writer.writeString("chat")
        for value in arguments { writer.write(json: value, attachments: nil) }
        writer.writeString("nsp"); writer.writeString("/room")
        return try #require(MsgPackPacketFastPath.decode(writer.bytes))
    }

    @Test func theNameIsReadAndTheArgumentsWait() throws {
        let packet = try event([.string("hi"), .number(2)])
        let packed = try #require(packet.packedArguments)
        #expect(packed.eventName == "chat")
        #expect(packed.location.count == 2)
        #expect(packet.namespace == "/room")
        #expect(packed.arguments.json == Array(#"["hi",2]"#.utf8))
        #expect(packet.payload == Array(#"["chat","hi",2]"#.utf8))
        #expect(try event([]).payload == Array(#"["chat"]"#.utf8))
    }

    @Test func everyThreadGetsTheSameReading() async throws {
        let packed = try #require(try event([.object([("n", .number(1))]), .string("x")]).packedArguments)
        let readings = await withTaskGroup(of: PackedArguments.Read.self) { group in
            for _ in 0..<32 { group.addTask { packed.arguments } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(readings.allSatisfy { $0 === readings[0] })
        #expect(readings[0].json == Array(#"[{"n":1},"x"]"#.utf8))
    }

    @Test func changingThePayloadLeavesTheBytesBehind() throws {
        var packet = try event([.string("hi")])
        packet.payload = Array(#"["other"]"#.utf8)
        #expect(packet.packedArguments == nil)
        #expect(packet.payload == Array(#"["other"]"#.utf8))
        var binary = try event([.string("hi")])
        binary.attachments = [[1, 2]]
        #expect(binary.packedArguments == nil)
        #expect(binary.payload == Array(#"["chat","hi"]"#.utf8))
    }
}
