/// The header of a Socket.IO text packet: `<type>[<attachments>-][<namespace>,][<ack id>]`, then the payload.
///
/// Parsed byte by byte the way the reference parser (socket.io-parser `decodeString`) reads it, so that we accept
/// and refuse the same texts. Where the reference leans on JavaScript's `Number()` it accepts some odd forms by
/// accident; we follow it where that is cheap and harmless and refuse where it would produce garbage:
/// - type: the first byte must be a digit 0...6. (The reference also reads "" and a leading whitespace as
///   CONNECT, because `Number("")` is 0; we refuse those as "unknown packet type".)
/// - attachments: decimal digits then "-". (The reference also accepts what `Number()` does, e.g. "0x2-" or
///   " 2-"; we refuse those as "illegal attachments".) The count is never stored beyond the limit, so
///   "5999999999-" is refused as "too many attachments" without any allocation.
/// - ack id: like the reference, a run of digits and ASCII whitespace, whose `Number()` value is the id (so
///   `2 ["a"]` has ack id 0, as in the reference). A run with whitespace between digits (NaN in the reference)
///   or with more than 16 digits is refused as "invalid ack id".
struct SocketIOPacketHeader {
    var type: SocketIOPacketType
    var attachmentCount = 0
    var namespace = "/"
    var ackId: UInt64? = nil
    /// Offset of the first payload byte; equal to the text's length when there is no payload.
    var payloadStart = 0

    private init(type: SocketIOPacketType) {
        self.type = type
    }

    static func parse(_ p: UnsafePointer<UInt8>, count n: Int, maxAttachments: Int) throws(SocketIOCodecError) -> Self {
        guard n > 0, let type = SocketIOPacketType(rawValue: p[0] &- ASCII.zero) else {
            throw .unknownPacketType
        }
        var header = SocketIOPacketHeader(type: type)
        var i = 1

        if type.isBinary {
            var count = 0
            var digits = 0
            while i < n && ASCII.isDigit(p[i]) {
                // Saturate just past the limit: the exact value of an oversized count does not matter.
                if count <= maxAttachments {
                    let (times10, o1) = count.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times10.addingReportingOverflow(Int(p[i] &- ASCII.zero))
                    count = o1 || o2 ? Int.max : sum
                }
                digits += 1
                i += 1
            }
            guard i < n, p[i] == ASCII.minus, digits > 0, count >= 1 else { throw .illegalAttachments }
            guard count <= maxAttachments else { throw .tooManyAttachments }
            header.attachmentCount = count
            i += 1
        }

        if i < n && p[i] == ASCII.slash {
            let start = i
            while i < n && p[i] != ASCII.comma { i += 1 }
            header.namespace = try makeNamespace(UnsafeBufferPointer(start: p + start, count: i - start))
            if i < n { i += 1 }  // the comma
        }

        if i < n && (ASCII.isDigit(p[i]) || ASCII.isJSWhitespace(p[i])) {
            var value: UInt64 = 0
            var digits = 0
            var spaceAfterDigits = false
            var malformed = false
            while i < n {
                let c = p[i]
                if ASCII.isDigit(c) {
                    if spaceAfterDigits { malformed = true }
                    digits += 1
                    if digits <= 16 { value = value * 10 + UInt64(c &- ASCII.zero) }
                } else if ASCII.isJSWhitespace(c) {
                    if digits > 0 { spaceAfterDigits = true }
                } else {
                    break
                }
                i += 1
            }
            guard !malformed, digits <= 16 else { throw .invalidAckId }
            header.ackId = value
        }

        header.payloadStart = i
        return header
    }

    /// Most packets use the main namespace; others are short, so this rarely allocates.
    private static func makeNamespace(_ bytes: UnsafeBufferPointer<UInt8>) throws(SocketIOCodecError) -> String {
        if bytes.count == 1 { return "/" }
        var ascii = true
        for c in bytes where c >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        guard let namespace = String(validating: bytes, as: UTF8.self) else { throw .invalidNamespace }
        return namespace
    }
}
