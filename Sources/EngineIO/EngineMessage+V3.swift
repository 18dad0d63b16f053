import EngineIOCodec
import WebSocketCodec

/// The caches of a message's Engine.IO v3 encodings: a broadcast reaching v3 and v4 clients encodes each form
/// once.
struct V3Encodings {
    var textSegment: [UInt8]?
    var binarySegment: [UInt8]?
    var binaryFrame: [UInt8]?
}

extension EngineMessage {
    /// The message in a v3 text payload: `<UTF-16 length>:<type><data>`, binary as `…:b4<base64>`.
    var v3TextSegment: [UInt8] {
        if let built = builtV3.textSegment { return built }
        var segment: [UInt8] = []
        segment.reserveCapacity(data.count + 8)
        EngineV3Payload.appendTextSegment(type, data, isBinary: isBinary, to: &segment)
        builtV3.textSegment = segment
        return segment
    }

    /// The message in a v3 XHR2 binary payload: `0x00|0x01 <length digits> 0xFF <packet>`.
    var v3BinarySegment: [UInt8] {
        if let built = builtV3.binarySegment { return built }
        var segment: [UInt8] = []
        segment.reserveCapacity(data.count + 10)
        EngineV3Payload.appendBinarySegment(type, data, isBinary: isBinary, to: &segment)
        builtV3.binarySegment = segment
        return segment
    }

    /// The WebSocket frame for a v3 client. Text is framed as in v4; binary carries its type byte first
    /// (`0x04` + data), or, for a client that asked for `b64=1`, travels as a `b4<base64>` text frame.
    func v3WebSocketFrame(supportsBinary: Bool) -> [UInt8] {
        guard isBinary else { return webSocketFrame }
        guard supportsBinary else {
            var text: [UInt8] = []
            EngineV3Codec.appendBase64(type, data, to: &text)
            return WebSocketFrameEncoder.frame(opcode: .text, payload: text)
        }
        if let built = builtV3.binaryFrame { return built }
        var payload: [UInt8] = []
        payload.reserveCapacity(data.count + 1)
        EngineV3Codec.appendBinary(type, data, to: &payload)
        let frame = WebSocketFrameEncoder.frame(opcode: .binary, payload: payload)
        builtV3.binaryFrame = frame
        return frame
    }
}
