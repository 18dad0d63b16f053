import Testing
@testable import WebSocketCodec

/// Close frame bodies (RFC 6455 5.5.1 and 7.4): what a client may send, and what the encoder produces.
@Suite struct CloseFrameTests {
    private func closeBody(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + reason
    }

    @Test func emptyBodyHasNoCode() {
        #expect(parse(clientFrame(8, [])).events == [.close(code: nil, reason: [])])
    }

    @Test func oneByteBodyIsAProtocolError() {
        #expect(parse(clientFrame(8, [0x03])).error?.code == .protocolError)
    }

    @Test func codeAndReason() {
        let reason = Array("bye ✓".utf8)
        #expect(parse(clientFrame(8, closeBody(1000, reason))).events == [.close(code: 1000, reason: reason)])
    }

    @Test(arguments: [UInt16(1000), 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                      3000, 3999, 4000, 4999])
    func validCodesAreAccepted(code: UInt16) {
        #expect(parse(clientFrame(8, closeBody(code))).events == [.close(code: code, reason: [])])
    }

    @Test(arguments: [UInt16(0), 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
    func invalidCodesAreAProtocolError(code: UInt16) {
        #expect(parse(clientFrame(8, closeBody(code))).error?.code == .protocolError)
    }

    @Test func reasonMustBeUTF8() {
        #expect(parse(clientFrame(8, closeBody(1000, [0xCE, 0xBA, 0xE1]))).error?.code == .protocolError)
    }

    @Test func encoderWritesCodeThenReason() {
        let frame = WebSocketFrameEncoder.closeFrame(code: .goingAway, reason: "server shutting down")
        let reason = Array("server shutting down".utf8)
        #expect(frame == [0x88, UInt8(2 + reason.count), 0x03, 0xE9] + reason)
        #expect(parse(frame, requireMasking: false).events == [.close(code: 1001, reason: reason)])
    }

    @Test func longReasonIsTruncatedAtACharacterBoundary() {
        // 61 two-byte characters = 122 bytes fit; one more would need 124 bytes of reason.
        let reason = String(repeating: "é", count: 70)
        let frame = WebSocketFrameEncoder.closeFrame(code: .policyViolation, reason: reason)
        #expect(frame.count == 2 + 2 + 122)
        #expect(frame[1] == 124)
        let result = parse(frame, requireMasking: false)
        #expect(result.error == nil)
        #expect(result.events == [.close(code: 1008, reason: Array(String(repeating: "é", count: 61).utf8))])

        let ascii = WebSocketFrameEncoder.closeFrame(code: .normal, reason: String(repeating: "a", count: 300))
        #expect(ascii.count == 2 + 125)
        #expect(parse(ascii, requireMasking: false).error == nil)
    }
}
