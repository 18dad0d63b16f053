import Testing
@testable import EngineIOCodec

/// Engine.IO v3 payloads: every example of the v3 spec (socketio/engine.io-protocol, branch v3) and of its test
/// suite, UTF-16 length counting, and what the reference's v3 parser refuses.
@Suite struct EngineV3PayloadTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
    private func message(_ text: String) -> EnginePacket { EnginePacket(type: .message, data: bytes(text)) }
    private func binary(_ data: [UInt8]) -> EnginePacket { EnginePacket(type: .message, data: data, isBinary: true) }

    private func textPayload(_ packets: [EnginePacket]) -> [UInt8] {
        var out: [UInt8] = []
        for packet in packets { EngineV3Payload.appendTextSegment(packet.type, packet.data, isBinary: packet.isBinary, to: &out) }
        return out
    }

    private func binaryPayload(_ packets: [EnginePacket]) -> [UInt8] {
        var out: [UInt8] = []
        for packet in packets { EngineV3Payload.appendBinarySegment(packet.type, packet.data, isBinary: packet.isBinary, to: &out) }
        return out
    }

    // MARK: The spec's examples

    @Test func specHandshakeCountsCharacters() {
        let handshake = #"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}"#
        let wire = "96:0" + handshake
        #expect(textPayload([EnginePacket(type: .open, data: bytes(handshake))]) == bytes(wire))
        #expect(EngineV3Payload.decodeText(bytes(wire)) == .init(packets: [EnginePacket(type: .open, data: bytes(handshake))], error: nil))
    }

    @Test func specMessagesInAndOut() {
        #expect(textPayload([message("hey")]) == bytes("4:4hey"))
        #expect(EngineV3Payload.decodeText(bytes("6:4hello6:4world")).packets == [message("hello"), message("world")])
    }

    @Test func specCountsCharactersNotBytes() {
        // "2 (1 + 1) instead of 4 (1 + 3)".
        #expect(textPayload([message("hello"), message("€")]) == bytes("6:4hello2:4€"))
        #expect(EngineV3Payload.decodeText(bytes("6:4hello2:4€")).packets == [message("hello"), message("€")])
    }

    @Test func specBinaryPayload() {
        let wire: [UInt8] = [0x00, 0x04, 0xFF, 0x34, 0xE2, 0x82, 0xAC, 0x01, 0x05, 0xFF, 0x04, 0x01, 0x02, 0x03, 0x04]
        #expect(binaryPayload([message("€"), binary([1, 2, 3, 4])]) == wire)
        #expect(EngineV3Payload.decodeBinary(wire).packets == [message("€"), binary([1, 2, 3, 4])])
    }

    @Test func specBase64Payload() {
        #expect(textPayload([message("€"), binary([1, 2, 3, 4])]) == bytes("2:4€10:b4AQIDBA=="))
        #expect(EngineV3Payload.decodeText(bytes("2:4€10:b4AQIDBA==")).packets == [message("€"), binary([1, 2, 3, 4])])
    }

    @Test func specBinaryPacketCarriesItsType() throws {
        // "4|0|1|2|3|4|5": a message of bytes 0...5, as a WebSocket binary frame carries it.
        #expect(EngineV3Codec.decodeBinary([4, 0, 1, 2, 3, 4, 5]) == binary([0, 1, 2, 3, 4, 5]))
        var frame: [UInt8] = []
        EngineV3Codec.appendBinary(.message, [0, 1, 2, 3, 4, 5], to: &frame)
        #expect(frame == [4, 0, 1, 2, 3, 4, 5])
        #expect(try EngineV3Codec.decodeText(bytes("2probe")[...]) == EnginePacket(type: .ping, data: bytes("probe")))
        #expect(try EngineV3Codec.decodeText(bytes("b4AQIDBA==")[...]) == binary([1, 2, 3, 4]))
    }

    @Test func testSuiteExchanges() {
        // engine.io-protocol v3 test suite: the binary poll answer, the heartbeat and the upgrade's noop.
        #expect(binaryPayload([message("hello"), binary([1, 2, 3, 4])])
                == [0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4])
        #expect(textPayload([EnginePacket(type: .pong)]) == bytes("1:3"))
        #expect(textPayload([EnginePacket(type: .noop)]) == bytes("1:6"))
        #expect(EngineV3Payload.decodeText(bytes("6:4test16:4test26:4test3")).packets.count == 3)
    }

    // MARK: UTF-16 lengths

    @Test func surrogatePairsCountTwo() {
        #expect(UTF16Length.of(bytes("a€😀")) == 4)
        #expect(textPayload([message("😀")]) == bytes("3:4😀"))
        #expect(EngineV3Payload.decodeText(bytes("3:4😀1:2")).packets == [message("😀"), EnginePacket(type: .ping)])
        // Counted as Python counts code points (2) it is too short.
        #expect(EngineV3Payload.decodeText(bytes("2:4😀")).error != nil)
    }

    @Test func aSegmentEndingInsideAPairKeepsItsHalfThenFails() {
        // JavaScript's slice can end between the halves: the packet gets a lone surrogate (U+FFFD here), and the
        // low half cannot start a length.
        let decoded = EngineV3Payload.decodeText(bytes("2:4😀"))
        #expect(decoded.packets == [message("\u{FFFD}")])
        #expect(decoded.error == .invalidFraming)
        #expect(EngineV3Payload.decodeText(bytes("1:😀")).packets.isEmpty)
    }

    // MARK: Lengths as JavaScript's Number() reads them

    @Test func lengthsAreNumberLiterals() {
        for wire in ["6:4hello", " 6:4hello", "6 :4hello", "0x6:4hello", "6e0:4hello", "+6:4hello", "6.0:4hello",
                     "0b110:4hello", "0o6:4hello", "\u{A0}6:4hello"] {
            #expect(EngineV3Payload.decodeText(bytes(wire)) == .init(packets: [message("hello")], error: nil), "\(wire)")
        }
        // An empty message is skipped, as the reference skips it; so is "-0".
        #expect(EngineV3Payload.decodeText(bytes("0:1:2-0:")) == .init(packets: [EnginePacket(type: .ping)], error: nil))
        #expect(EngineV3Payload.decodeText(bytes(" :1:2")).packets == [EnginePacket(type: .ping)])
    }

    @Test func refusesWhatTheReferenceRefuses() {
        for wire in ["", "abc", ":4hi", "x:4hi", "-1:4", "1.5:4h", "6:4he", "1:7", "3:4ab1", "Infinity:4", "0x:4",
                     "-0x1:4", "1e:4", "2:4a3"] {
            #expect(EngineV3Payload.decodeText(bytes(wire)).error != nil, "\(wire)")
        }
        // The packets before the bad one still count (the reference hands them on first).
        #expect(EngineV3Payload.decodeText(bytes("3:4ok1:9")) == .init(packets: [message("ok")], error: .unknownType(0x39)))
    }

    @Test func stopsAfterAClosePacket() {
        #expect(EngineV3Payload.decodeText(bytes("1:13:4hi")).packets == [EnginePacket(type: .close)])
        #expect(EngineV3Payload.decodeText(bytes("1:1garbage")) == .init(packets: [EnginePacket(type: .close)], error: nil))
        let binaryClose: [UInt8] = [0, 1, 255, 0x31, 0, 3, 255, 0x34, 0x68, 0x69]
        #expect(EngineV3Payload.decodeBinary(binaryClose).packets == [EnginePacket(type: .close)])
    }

    @Test func repairsInvalidUTF8InTextBodies() {
        #expect(EngineV3Payload.decodeText([0x33, 0x3A, 0x34, 0x61, 0xFF]).packets == [message("a\u{FFFD}")])
    }

    @Test func base64WithoutAKnownTypeIsIgnored() {
        #expect(EngineV3Payload.decodeText(bytes("2:bX1:2")).packets == [EnginePacket(type: .ping)])
        #expect(EngineV3Payload.decodeText(bytes("4:b4A!")).error == .invalidBase64)
    }

    @Test func packetLimit() {
        let body = bytes(String(repeating: "1:6", count: 30))
        #expect(EngineV3Payload.decodeText(body, maxPackets: 20).error == .tooManyPackets)
        #expect(EngineV3Payload.decodeText(body, maxPackets: 30).packets.count == 30)
    }

    // MARK: XHR2 binary payloads as the reference reads them

    @Test func binaryPayloadQuirks() {
        // A header byte above 9 reads as its decimal text ("12"), and as many bytes are skipped as that has digits:
        // here the byte after 0xFF.
        #expect(EngineV3Payload.decodeBinary([1, 12, 255, 0xAA, 4, 7]).packets == [binary([7])])
        // The length counts the type byte: what follows a one-byte packet is the next header (here without 0xFF).
        #expect(EngineV3Payload.decodeBinary([1, 1, 255, 4, 9]) == .init(packets: [], error: .invalidFraming))
        // A truncated last packet is taken as far as it goes.
        #expect(EngineV3Payload.decodeBinary([1, 9, 255, 4, 1, 2]).packets == [binary([1, 2])])
        // No 0xFF: an error; neither are packets of an unknown type (ignored) nor empty ones.
        #expect(EngineV3Payload.decodeBinary([1, 3, 4, 1, 2]).error == .invalidFraming)
        #expect(EngineV3Payload.decodeBinary([1, 3, 255, 9, 1, 2]) == .init(packets: [], error: nil))
        #expect(EngineV3Payload.decodeBinary([]) == .init(packets: [], error: nil))
        // A length of more than 310 characters.
        #expect(EngineV3Payload.decodeBinary([1] + [UInt8](repeating: 200, count: 110) + [255, 4]).error == .invalidFraming)
    }

    @Test func binaryPayloadText() {
        // utf8.js without strict: an encoded surrogate becomes U+FFFD, an overlong form throws.
        #expect(EngineV3Payload.decodeBinary([0, 4, 255, 0x34, 0xED, 0xA0, 0x80]).packets == [message("\u{FFFD}")])
        #expect(EngineV3Payload.decodeBinary([0, 3, 255, 0x34, 0xC0, 0x80]).error == .invalidUTF8)
        #expect(EngineV3Payload.decodeBinary([0, 3, 255, 0x34, 0x68, 0x69, 0, 1, 255, 0x37]) ==
                .init(packets: [message("hi")], error: .unknownType(0x37)))
        #expect(EngineV3Payload.decodeBinary([0, 6, 255] + bytes("b4AQID")).packets == [binary([1, 2, 3])])
    }
}
