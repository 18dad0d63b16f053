import Testing
@testable import WebSocketCodec

/// permessage-deflate (RFC 7692): the examples of section 7.2.3, the RSV1 rules, limits and round trips.
@Suite struct PerMessageDeflateTests {
    private func parser(
        maxMessageSize: Int = 1 << 20, requireMasking: Bool = true, contextTakeover: Bool = false
    ) -> WebSocketFrameParser {
        let parameters = PerMessageDeflate.Parameters(
            serverNoContextTakeover: !contextTakeover, clientNoContextTakeover: !contextTakeover)
        return WebSocketFrameParser(
            maxMessageSize: maxMessageSize, requireMasking: requireMasking,
            perMessageDeflate: PerMessageDeflate(parameters: parameters))
    }

    private func run(_ parser: inout WebSocketFrameParser, _ chunks: [[UInt8]]) -> ParseResult {
        var result = ParseResult()
        for chunk in chunks {
            result.error = parser.feed(chunk) { result.events.append($0) }
            if result.error != nil { break }
        }
        return result
    }

    private func compressed(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
        clientFrame(opcode, payload, fin: fin, reservedBits: 0x40)
    }

    // MARK: RFC 7692 7.2.3 examples

    @Test func helloInOneCompressedFrame() {
        var p = parser(requireMasking: false)
        let frame: [UInt8] = [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        #expect(run(&p, [frame]).events == [.text(hello)])
        var masked = parser()
        #expect(run(&masked, [compressed(1, [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])]).events == [.text(hello)])
    }

    @Test func helloCompressedAndFragmented() {
        var p = parser(requireMasking: false)
        let frames: [[UInt8]] = [[0x41, 0x03, 0xF2, 0x48, 0xCD], [0x80, 0x04, 0xC9, 0xC9, 0x07, 0x00]]
        #expect(run(&p, frames).events == [.text(hello)])
    }

    @Test func secondMessageUsesTheSharedWindow() {
        var p = parser(requireMasking: false, contextTakeover: true)
        let first: [UInt8] = [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        let second: [UInt8] = [0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00]
        #expect(run(&p, [first + second]).events == [.text(hello), .text(hello)])
    }

    @Test func storedBlock() {
        var p = parser(requireMasking: false)
        let frame: [UInt8] = [0xC1, 0x0B, 0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00]
        #expect(run(&p, [frame]).events == [.text(hello)])
    }

    @Test func finalBlockSetBySender() {
        var p = parser(requireMasking: false, contextTakeover: true)
        let frame: [UInt8] = [0xC1, 0x08, 0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00]
        // The stream ended; the next message must start a fresh one.
        #expect(run(&p, [frame, frame]).events == [.text(hello), .text(hello)])
    }

    @Test func twoDeflateBlocksInOneMessage() {
        var p = parser(requireMasking: false)
        let body: [UInt8] = [0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xCA, 0xC9, 0xC9, 0x07, 0x00]
        #expect(run(&p, [[0xC1, UInt8(body.count)] + body]).events == [.text(hello)])
    }

    @Test func uncompressedMessagesStillWork() {
        var p = parser()
        let bytes = clientFrame(1, hello) + compressed(1, [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
            + clientFrame(2, [1, 2])
        #expect(run(&p, [bytes]).events == [.text(hello), .text(hello), .binary([1, 2])])
    }

    // MARK: Rules

    @Test func rsv1OnContinuationIsAProtocolError() {
        var p = parser()
        let bytes = compressed(1, [0xF2, 0x48, 0xCD], fin: false)
            + clientFrame(0, [0xC9, 0xC9, 0x07, 0x00], reservedBits: 0x40)
        #expect(run(&p, [bytes]).error?.code == .protocolError)
    }

    @Test(arguments: [UInt8(8), 9, 10])
    func rsv1OnControlFrameIsAProtocolError(opcode: UInt8) {
        var p = parser()
        #expect(run(&p, [clientFrame(opcode, [], reservedBits: 0x40)]).error?.code == .protocolError)
    }

    @Test(arguments: [UInt8(0x20), 0x10])
    func rsv2AndRsv3StayForbidden(bits: UInt8) {
        var p = parser()
        #expect(run(&p, [clientFrame(1, hello, reservedBits: bits)]).error?.code == .protocolError)
    }

    @Test func inflatedSizeIsCappedAt1009() {
        let sender = PerMessageDeflate(parameters: .init())
        let limit = 64 * 1024
        // A "zip bomb": 1 MiB of zeros compresses to about a kilobyte.
        let bomb = sender.deflate([UInt8](repeating: 0, count: 1 << 20))!
        #expect(bomb.count < 2_000)
        var p = parser(maxMessageSize: limit)
        #expect(run(&p, [compressed(2, bomb)]).error?.code == .messageTooBig)
        // Exactly at the limit is fine, one byte over is not.
        let zeros = [UInt8](repeating: 0, count: limit)
        let atLimit = sender.deflate(zeros)!
        var q = parser(maxMessageSize: limit)
        #expect(run(&q, [compressed(2, atLimit)]).events == [.binary(zeros)])
        var r = parser(maxMessageSize: limit - 1)
        #expect(run(&r, [compressed(2, atLimit)]).error?.code == .messageTooBig)
    }

    @Test func corruptDeflateDataIs1007() {
        var p = parser()
        #expect(run(&p, [compressed(2, [0xFF, 0xFF, 0xFF, 0xFF, 0x00])]).error?.code == .invalidPayload)
    }

    @Test func inflatedTextMustBeUTF8() {
        let sender = PerMessageDeflate(parameters: .init())
        var p = parser()
        #expect(run(&p, [compressed(1, sender.deflate([0x61, 0xC0, 0x80])!)]).error?.code == .invalidPayload)
    }

    // MARK: Compression and round trips

    @Test func emptyPayloadCompressesToOneZeroByte() {
        let sender = PerMessageDeflate(parameters: .init())
        #expect(sender.deflate([]) == [0x00])
        var p = parser()
        #expect(run(&p, [compressed(1, [0x00])]).events == [.text([])])
    }

    @Test(arguments: [false, true])
    func roundTrip(contextTakeover: Bool) {
        let sender = PerMessageDeflate(parameters: .init(
            serverNoContextTakeover: !contextTakeover, clientNoContextTakeover: !contextTakeover))
        var receiver = parser(maxMessageSize: 1 << 22, requireMasking: false, contextTakeover: contextTakeover)
        var rng = SplitMix64(seed: 5)
        var stream: [UInt8] = []
        var expected: [WebSocketEvent] = []
        for length in [0, 1, 100, 5000, 70_000, 300_000] {
            let json = Array(String(repeating: #"["chat message",{"user":"ada","text":"héllo"}]"#, count: length / 40 + 1).utf8)
            stream += sender.compressedFrame(opcode: .text, payload: json)!
            expected.append(.text(json))
            let noise = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            stream += sender.compressedFrame(opcode: .binary, payload: noise)!
            expected.append(.binary(noise))
        }
        let result = run(&receiver, randomSplits(stream, using: &rng, maxChunk: 9000))
        #expect(result.error == nil)
        #expect(result.events == expected)
    }

    @Test func repetitiveDataShrinks() {
        let sender = PerMessageDeflate(parameters: .init())
        let text = Array(String(repeating: "socket.io ", count: 1000).utf8)
        let frame = sender.compressedFrame(opcode: .text, payload: text)!
        #expect(frame.count < text.count / 20)
        #expect(frame[0] == 0xC1)
    }

    @Test func smallerServerWindowStillRoundTrips() throws {
        let sender = PerMessageDeflate(parameters: .init(serverMaxWindowBits: 9))
        let payload = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 % 700) }
        let receiver = PerMessageDeflate(parameters: .init(clientMaxWindowBits: 9))
        #expect(try receiver.inflate(sender.deflate(payload)!, maxSize: 1 << 20) == payload)
    }
}
