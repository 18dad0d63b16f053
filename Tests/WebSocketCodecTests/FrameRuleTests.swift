import Testing
@testable import WebSocketCodec

/// Each rule the parser enforces on a client's frames, with the close code it must answer.
@Suite struct FrameRuleTests {
    @Test func unmaskedClientFrameIsRefusedOnlyWhenMaskingIsRequired() {
        let frame = clientFrame(1, hello, mask: nil)
        #expect(parse(frame).error?.code == .protocolError)
        #expect(parse(frame, requireMasking: false).events == [.text(hello)])
        // A masked frame is still unmasked when masking is optional.
        #expect(parse(clientFrame(1, hello), requireMasking: false).events == [.text(hello)])
    }

    @Test(arguments: [UInt8(0x40), 0x20, 0x10, 0x70])
    func reservedBitsWithoutExtensionAreRefused(bits: UInt8) {
        #expect(parse(clientFrame(1, hello, reservedBits: bits)).error?.code == .protocolError)
        #expect(parse(clientFrame(9, [], reservedBits: bits)).error?.code == .protocolError)
    }

    @Test(arguments: [UInt8(3), 4, 5, 6, 7, 11, 12, 13, 14, 15])
    func reservedOpcodesAreRefused(opcode: UInt8) {
        let result = parse(clientFrame(opcode, hello))
        #expect(result.error?.code == .protocolError)
        #expect(result.events.isEmpty)
    }

    @Test(arguments: [UInt8(8), 9, 10])
    func controlFramesMustBeFinal(opcode: UInt8) {
        #expect(parse(clientFrame(opcode, [], fin: false)).error?.code == .protocolError)
    }

    @Test(arguments: [UInt8(8), 9, 10])
    func controlFramesCarryAtMost125Bytes(opcode: UInt8) {
        let body: [UInt8] = [0x03, 0xE8] + Array(repeating: 0x61, count: 123)
        #expect(parse(clientFrame(opcode, body)).error == nil)
        #expect(parse(clientFrame(opcode, body + [0x61])).error?.code == .protocolError)
        // A 16-bit length field is enough to refuse it, before any payload arrives.
        let header = Array(clientFrame(opcode, body + [0x61]).prefix(2))
        #expect(parse(header).error?.code == .protocolError)
    }

    @Test func continuationWithoutMessageIsRefused() {
        #expect(parse(clientFrame(0, hello)).error?.code == .protocolError)
        // Also after a message has been completed.
        let result = parse(clientFrame(1, hello) + clientFrame(0, hello))
        #expect(result.events == [.text(hello)])
        #expect(result.error?.code == .protocolError)
    }

    @Test(arguments: [UInt8(1), 2])
    func newDataFrameDuringFragmentedMessageIsRefused(opcode: UInt8) {
        let result = parse(clientFrame(2, [1], fin: false) + clientFrame(opcode, [2]))
        #expect(result.error?.code == .protocolError)
        #expect(result.events.isEmpty)
    }

    @Test func controlFramesBetweenFragmentsAreDeliveredImmediately() {
        let bytes = clientFrame(1, Array("He".utf8), fin: false)
            + clientFrame(9, [7])
            + clientFrame(0, Array("ll".utf8), fin: false)
            + clientFrame(10, [8])
            + clientFrame(0, Array("o".utf8))
        #expect(parse(bytes).events == [.ping([7]), .pong([8]), .text(hello)])
        // Delivered when the control frame completes, not when the message does.
        var parser = WebSocketFrameParser(maxMessageSize: 100)
        var events: [WebSocketEvent] = []
        _ = parser.feed(clientFrame(1, [0x61], fin: false) + clientFrame(9, [1])) { events.append($0) }
        #expect(events == [.ping([1])])
    }

    @Test func closeBetweenFragmentsIsDelivered() {
        let bytes = clientFrame(1, [0x61], fin: false) + clientFrame(8, [0x03, 0xE8])
        #expect(parse(bytes).events == [.close(code: 1000, reason: [])])
    }

    @Test func singleFrameOverLimitIsRefusedFromItsHeader() {
        // Only the header is fed: the verdict must not wait for (or buffer) the payload.
        let header = Array(clientFrame(2, Array(repeating: 0, count: 101)).prefix(8))
        let result = parse(header, maxMessageSize: 100)
        #expect(result.error?.code == .messageTooBig)
        #expect(parse(clientFrame(2, Array(repeating: 0, count: 100)), maxMessageSize: 100).error == nil)
    }

    @Test func fragmentsSummingOverLimitAreRefusedAtTheHeaderThatCrossesIt() {
        let first = clientFrame(2, Array(repeating: 1, count: 60), fin: false)
        let secondHeader = Array(clientFrame(0, Array(repeating: 2, count: 41)).prefix(6))
        let result = parse(first + secondHeader, maxMessageSize: 100)
        #expect(result.error?.code == .messageTooBig)
        let exact = first + clientFrame(0, Array(repeating: 2, count: 40))
        #expect(parse(exact, maxMessageSize: 100).events == [.binary(Array(repeating: 1, count: 60) + Array(repeating: 2, count: 40))])
    }

    @Test func limitAppliesPerMessageNotPerConnection() {
        let frame = clientFrame(2, Array(repeating: 9, count: 80))
        #expect(parse(frame + frame + frame, maxMessageSize: 100).events.count == 3)
    }

    @Test func hugeDeclaredLengthIsNotAllocatedUpFront() {
        // With no practical limit, a header claiming a terabyte must not allocate it: the parser keeps only what
        // arrives (this would crash or take minutes if it reserved the declared size).
        var parser = WebSocketFrameParser(maxMessageSize: Int.max)
        var events: [WebSocketEvent] = []
        let header = clientHeader(2, declaredLength: 1 << 40)
        #expect(parser.feed(header + Array(repeating: 0, count: 1000)) { events.append($0) } == nil)
        #expect(events.isEmpty)
    }

    @Test func sixtyFourBitLengthWithTopBitSetIsRefused() {
        let header = clientHeader(2, declaredLength: 1 << 63)
        #expect(parse(header, maxMessageSize: Int.max).error?.code == .protocolError)
        #expect(parse(header, maxMessageSize: 10).error?.code == .protocolError)
    }

    @Test(arguments: [LengthEncoding.extended16, .extended64])
    func nonMinimalLengthEncodingsAreAccepted(encoding: LengthEncoding) {
        #expect(parse(clientFrame(1, hello, lengthEncoding: encoding)).events == [.text(hello)])
    }

    @Test func emptyMessagesAndFragments() {
        #expect(parse(clientFrame(1, [])).events == [.text([])])
        #expect(parse(clientFrame(2, [])).events == [.binary([])])
        let fragmented = clientFrame(1, [], fin: false) + clientFrame(0, hello, fin: false) + clientFrame(0, [])
        #expect(parse(fragmented).events == [.text(hello)])
        #expect(parse(clientFrame(9, [])).events == [.ping([])])
    }

    @Test func invalidUTF8TextIsRefusedWith1007() {
        #expect(parse(clientFrame(1, [0x48, 0xFF])).error?.code == .invalidPayload)
        // Binary messages are not checked.
        #expect(parse(clientFrame(2, [0x48, 0xFF])).events == [.binary([0x48, 0xFF])])
    }

    @Test func textIsValidatedOverTheWholeMessage() {
        // U+1F600 split across fragments: each fragment alone is invalid, the message is not.
        let smiley: [UInt8] = [0xF0, 0x9F, 0x98, 0x80]
        let bytes = clientFrame(1, Array(smiley[0..<1]), fin: false)
            + clientFrame(0, Array(smiley[1..<3]), fin: false)
            + clientFrame(0, Array(smiley[3...]))
        #expect(parse(bytes).events == [.text(smiley)])
        let truncated = clientFrame(1, Array(smiley[0..<3]), fin: false) + clientFrame(0, [0x41])
        #expect(parse(truncated).error?.code == .invalidPayload)
    }

    @Test func manyFramesInOneRead() {
        var bytes: [UInt8] = []
        var expected: [WebSocketEvent] = []
        for index in 0..<200 {
            let payload = Array("message \(index)".utf8)
            bytes += clientFrame(1, payload, mask: [UInt8(index & 0xFF), 1, 2, 3])
            expected.append(.text(payload))
        }
        #expect(parse(bytes).events == expected)
    }

    @Test func afterAnErrorEveryFeedReturnsTheSameErrorAndNoEvents() {
        var parser = WebSocketFrameParser(maxMessageSize: 100)
        var events: [WebSocketEvent] = []
        let first = parser.feed(clientFrame(3, [])) { events.append($0) }
        #expect(first?.code == .protocolError)
        let second = parser.feed(clientFrame(1, hello)) { events.append($0) }
        #expect(second == first)
        #expect(events.isEmpty)
    }

    @Test func eventsBeforeTheViolationAreDelivered() {
        let result = parse(clientFrame(1, hello) + clientFrame(2, [1]) + clientFrame(3, []))
        #expect(result.events == [.text(hello), .binary([1])])
        #expect(result.error?.code == .protocolError)
    }
}
