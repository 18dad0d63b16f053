import Testing
@testable import WebSocketCodec

/// Server frames: header forms, sizes, and a round trip through the parser.
@Suite struct EncoderTests {
    @Test(arguments: [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (1 << 40, 10)])
    func headerSize(length: Int, size: Int) {
        #expect(WebSocketFrameEncoder.headerSize(payloadLength: length) == size)
        var header: [UInt8] = []
        WebSocketFrameEncoder.appendHeader(opcode: .binary, payloadLength: length, to: &header)
        #expect(header.count == size)
    }

    @Test func headerBytes() {
        var out: [UInt8] = [0xAA]
        WebSocketFrameEncoder.appendHeader(opcode: .text, payloadLength: 126, to: &out)
        #expect(out == [0xAA, 0x81, 126, 0x00, 0x7E])
        out = []
        WebSocketFrameEncoder.appendHeader(opcode: .binary, payloadLength: 0x0102_0304_05, rsv1: true, to: &out)
        #expect(out == [0xC2, 127, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05])
        out = []
        WebSocketFrameEncoder.appendHeader(opcode: .pong, payloadLength: 125, to: &out)
        #expect(out == [0x8A, 125])
    }

    @Test func headerThenPayloadInOneArray() {
        let payload = Array(repeating: UInt8(0x5A), count: 300)
        var out: [UInt8] = []
        out.reserveCapacity(WebSocketFrameEncoder.headerSize(payloadLength: payload.count) + payload.count)
        WebSocketFrameEncoder.appendHeader(opcode: .binary, payloadLength: payload.count, to: &out)
        out += payload
        #expect(out == WebSocketFrameEncoder.frame(opcode: .binary, payload: payload))
        let fromRaw = payload.withUnsafeBytes { WebSocketFrameEncoder.frame(opcode: .binary, payload: $0) }
        #expect(fromRaw == out)
    }

    @Test func roundTripThroughTheParser() {
        var rng = SplitMix64(seed: 99)
        var stream: [UInt8] = []
        var expected: [WebSocketEvent] = []
        for length in [0, 1, 5, 125, 126, 127, 1000, 65535, 65536, 100_000] {
            let payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            stream += WebSocketFrameEncoder.frame(opcode: .binary, payload: payload)
            expected.append(.binary(payload))
            let text = Array(String(repeating: "é", count: length / 2).utf8)
            stream += WebSocketFrameEncoder.frame(opcode: .text, payload: text)
            expected.append(.text(text))
        }
        stream += WebSocketFrameEncoder.frame(opcode: .ping, payload: [1])
        stream += WebSocketFrameEncoder.frame(opcode: .pong, payload: [2])
        stream += WebSocketFrameEncoder.closeFrame(code: .normal, reason: "bye")
        expected += [.ping([1]), .pong([2]), .close(code: 1000, reason: Array("bye".utf8))]

        let whole = parse(stream, requireMasking: false)
        #expect(whole.error == nil)
        #expect(whole.events == expected)
        let split = parse(randomSplits(stream, using: &rng, maxChunk: 777), requireMasking: false)
        #expect(split.events == expected)
        // Server frames are unmasked, so a parser that requires masking refuses them.
        #expect(parse(stream).error?.code == .protocolError)
    }
}
