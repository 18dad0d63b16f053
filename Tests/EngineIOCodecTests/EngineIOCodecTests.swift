import Testing
@testable import EngineIOCodec

/// The examples of the Engine.IO v4 spec (socketio/engine.io-protocol README), and bad inputs.
@Suite struct EngineIOCodecTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func decodesEveryPacketType() throws {
        let cases: [(String, EnginePacketType, String)] = [
            ("0{\"sid\":\"abc\"}", .open, "{\"sid\":\"abc\"}"), ("1", .close, ""), ("2", .ping, ""),
            ("2probe", .ping, "probe"), ("3", .pong, ""), ("3probe", .pong, "probe"), ("4hello", .message, "hello"),
            ("5", .upgrade, ""), ("6", .noop, ""),
        ]
        for (wire, type, data) in cases {
            let packet = try EngineIOCodec.decodeText(bytes(wire))
            #expect(packet.type == type)
            #expect(packet.data == bytes(data))
            #expect(!packet.isBinary)
            #expect(EngineIOCodec.encodeText(type, bytes(data)) == bytes(wire))
        }
    }

    @Test func decodesBase64BinaryFromPolling() throws {
        let packet = try EngineIOCodec.decodeText(bytes("bAQIDBA=="))
        #expect(packet == EnginePacket(type: .message, data: [1, 2, 3, 4], isBinary: true))
        #expect(try EngineIOCodec.decodeText(bytes("bAQIDBA")).data == [1, 2, 3, 4])  // unpadded, as Node accepts
        #expect(try EngineIOCodec.decodeText(bytes("b")).data == [])
    }

    @Test func splitsTheSpecPayload() throws {
        // The spec's example: a text message and a binary message in one polling payload.
        let packets = try EngineIOCodec.decodePayload(bytes("4hello\u{1e}bAQIDBA=="))
        #expect(packets == [EnginePacket(type: .message, data: bytes("hello")),
                            EnginePacket(type: .message, data: [1, 2, 3, 4], isBinary: true)])
    }

    /// Fuzz finding: text over polling is made valid UTF-8 the way Node's decoder does (U+FFFD), so an echo never
    /// puts invalid UTF-8 into a WebSocket text frame.
    @Test func repairsInvalidUTF8InPollingText() throws {
        let packets = try EngineIOCodec.decodePayload([UInt8(ascii: "4"), 0x61, 0xFF, 0x62, 0x1e] + Array("bAQ==".utf8))
        #expect(packets[0].data == [0x61, 0xEF, 0xBF, 0xBD, 0x62])
        #expect(packets[1] == EnginePacket(type: .message, data: [1], isBinary: true))
    }

    @Test func encodesThePayloadTheSpecShows() {
        var text: [UInt8] = []
        EngineIOCodec.appendPollingSegment(EnginePacket(type: .message, data: bytes("hello")), to: &text)
        var binary: [UInt8] = []
        EngineIOCodec.appendPollingSegment(EnginePacket(type: .message, data: [1, 2, 3, 4], isBinary: true), to: &binary)
        #expect(EngineIOCodec.joinPayload([text, binary]) == bytes("4hello\u{1e}bAQIDBA=="))
        #expect(EngineIOCodec.joinPayload([text]) == bytes("4hello"))
    }

    @Test(arguments: ["", "7", "9abc", "x", "b!!!!", "bA", "b====", "bAB=C"])
    func refusesMalformedPackets(_ wire: String) {
        #expect(throws: EngineDecodeError.self) { try EngineIOCodec.decodeText(bytes(wire)) }
    }

    @Test func refusesAPayloadWithOneBadPacket() {
        #expect(throws: EngineDecodeError.self) { try EngineIOCodec.decodePayload(bytes("4ok\u{1e}\u{1e}4ok")) }
        #expect(throws: EngineDecodeError.self) { try EngineIOCodec.decodePayload(bytes("4ok\u{1e}9")) }
    }

    @Test func boundsThePacketCountOfAPayload() {
        let body = bytes(String(repeating: "6\u{1e}", count: 20) + "6")
        #expect(throws: EngineDecodeError.tooManyPackets) { try EngineIOCodec.decodePayload(body, maxPackets: 20) }
        #expect((try? EngineIOCodec.decodePayload(body, maxPackets: 21))?.count == 21)
    }

    @Test func base64RoundTripsEveryLength() {
        for length in 0..<70 {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let encoded = Base64.encode(data)
            #expect(encoded.count == Base64.encodedCount(length))
            #expect(encoded.withUnsafeBytes { Base64.decode($0) } == data)
        }
    }
}
