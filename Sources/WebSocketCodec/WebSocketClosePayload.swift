/// The body of a close frame (RFC 6455 5.5.1): empty, or a 2-byte big-endian code followed by a UTF-8 reason.
enum WebSocketClosePayload {
    /// Splits and checks a received close body. A 1-byte body, a code that may not appear on the wire
    /// (see `WebSocketCloseCode.isValidOnTheWire`) or a reason that is not UTF-8 is a protocol error.
    static func decode(_ body: [UInt8]) throws(WebSocketFrameError) -> (code: UInt16?, reason: [UInt8]) {
        if body.isEmpty { return (nil, []) }
        guard body.count >= 2 else {
            throw .protocolError("close frame body of 1 byte")
        }
        let code = UInt16(body[0]) << 8 | UInt16(body[1])
        guard WebSocketCloseCode(rawValue: code).isValidOnTheWire else {
            throw .protocolError("invalid close code \(code)")
        }
        let reason = Array(body[2...])
        guard UTF8Validation.isValid(reason) else {
            throw .protocolError("close reason is not valid UTF-8")
        }
        return (code, reason)
    }

    /// The body of a close frame we send: the code, then as much of `reason` as fits in 123 bytes without
    /// cutting a UTF-8 sequence in half (a control frame carries at most 125 bytes).
    static func encode(code: WebSocketCloseCode, reason: String) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(125)
        body.append(UInt8(code.rawValue >> 8))
        body.append(UInt8(code.rawValue & 0xFF))
        var utf8 = Array(reason.utf8)
        if utf8.count > 123 {
            var end = 123
            // Back up over continuation bytes (10xxxxxx) to the start of the sequence that does not fit.
            while end > 0 && utf8[end] & 0xC0 == 0x80 {
                end -= 1
            }
            utf8.removeSubrange(end...)
        }
        body.append(contentsOf: utf8)
        return body
    }
}
