/// Server-to-client frames (RFC 6455 5.2). A server never masks, so the header is the only thing to build: callers
/// append it and then the payload to one array, and a broadcast frame is encoded once and sent to many sockets.
public enum WebSocketFrameEncoder {
    /// Appends the header of one final frame (FIN set, no mask) for a payload of `payloadLength` bytes.
    /// `rsv1` marks a message compressed with permessage-deflate.
    public static func appendHeader(
        opcode: WebSocketOpcode, payloadLength: Int, rsv1: Bool = false, to out: inout [UInt8]
    ) {
        precondition(payloadLength >= 0, "negative WebSocket payload length")
        out.append(0x80 | (rsv1 ? WebSocketFrameHeader.rsv1 : 0) | opcode.rawValue)
        if payloadLength < 126 {
            out.append(UInt8(payloadLength))
        } else if payloadLength <= 0xFFFF {
            out.append(126)
            out.append(UInt8(payloadLength >> 8))
            out.append(UInt8(payloadLength & 0xFF))
        } else {
            out.append(127)
            let length = UInt64(payloadLength)
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift)))
            }
        }
    }

    /// Header size for a payload length (2, 4 or 10) — lets callers reserveCapacity exactly.
    public static func headerSize(payloadLength: Int) -> Int {
        if payloadLength < 126 { return 2 }
        if payloadLength <= 0xFFFF { return 4 }
        return 10
    }

    /// A whole frame: header and payload in one array.
    public static func frame(opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer, rsv1: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerSize(payloadLength: payload.count) + payload.count)
        appendHeader(opcode: opcode, payloadLength: payload.count, rsv1: rsv1, to: &out)
        out.append(contentsOf: payload)
        return out
    }

    /// A whole frame: header and payload in one array.
    public static func frame(opcode: WebSocketOpcode, payload: [UInt8], rsv1: Bool = false) -> [UInt8] {
        payload.withUnsafeBytes { frame(opcode: opcode, payload: $0, rsv1: rsv1) }
    }

    /// A close frame with code and reason, the reason truncated (at a character boundary) to fit the 125 bytes a
    /// control frame may carry.
    public static func closeFrame(code: WebSocketCloseCode, reason: String) -> [UInt8] {
        frame(opcode: .close, payload: WebSocketClosePayload.encode(code: code, reason: reason))
    }
}
