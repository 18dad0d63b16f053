import Testing
@testable import WebSocketCodec

/// The examples of RFC 6455 section 5.7, byte for byte.
@Suite struct RFC6455ExampleTests {
    @Test func singleFrameUnmaskedText() {
        let frame: [UInt8] = [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]
        #expect(parse(frame, requireMasking: false).events == [.text(hello)])
        #expect(parse(frame).error?.code == .protocolError)
        #expect(WebSocketFrameEncoder.frame(opcode: .text, payload: hello) == frame)
    }

    @Test func singleFrameMaskedText() {
        let frame: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        let result = parse(frame)
        #expect(result.error == nil)
        #expect(result.events == [.text(hello)])
    }

    @Test func fragmentedUnmaskedText() {
        let first: [UInt8] = [0x01, 0x03, 0x48, 0x65, 0x6C]
        let second: [UInt8] = [0x80, 0x02, 0x6C, 0x6F]
        #expect(parse(first + second, requireMasking: false).events == [.text(hello)])
        #expect(parse([first, second], requireMasking: false).events == [.text(hello)])
    }

    @Test func unmaskedPingAndMaskedPong() {
        let ping: [UInt8] = [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]
        #expect(parse(ping, requireMasking: false).events == [.ping(hello)])
        #expect(WebSocketFrameEncoder.frame(opcode: .ping, payload: hello) == ping)
        let pong: [UInt8] = [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(parse(pong).events == [.pong(hello)])
    }

    @Test func binary256BytesWith16BitLength() {
        let payload = (0..<256).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let frame: [UInt8] = [0x82, 0x7E, 0x01, 0x00] + payload
        #expect(parse(frame, requireMasking: false).events == [.binary(payload)])
        #expect(WebSocketFrameEncoder.frame(opcode: .binary, payload: payload) == frame)
        #expect(parse(clientFrame(2, payload)).events == [.binary(payload)])
    }

    @Test func binary64KiBWith64BitLength() {
        let payload = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }
        let frame: [UInt8] = [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00] + payload
        #expect(parse(frame, requireMasking: false).events == [.binary(payload)])
        #expect(WebSocketFrameEncoder.frame(opcode: .binary, payload: payload) == frame)
        #expect(parse(clientFrame(2, payload)).events == [.binary(payload)])
    }
}
