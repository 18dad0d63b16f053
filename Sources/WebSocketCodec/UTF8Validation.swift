/// Strict UTF-8 validation (RFC 3629) without building a `String`, so a text message is checked in one pass and
/// handed on as the same bytes.
///
/// Rejects what RFC 6455 8.1 requires a receiver to reject: overlong encodings, UTF-16 surrogates
/// (U+D800-U+DFFF), code points above U+10FFFF, stray continuation bytes and truncated sequences. Public because
/// the Engine.IO and Socket.IO layers need the same check for their text packets.
public enum UTF8Validation {
    /// Whether `bytes` is a complete, well-formed UTF-8 sequence.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        while index < count {
            // Most payloads of a chat or JSON protocol are ASCII: check eight bytes per step, and when a step finds
            // a non-ASCII byte, jump straight to it.
            if index + 8 <= count {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let highBits = word & 0x8080_8080_8080_8080
                if highBits == 0 {
                    index += 8
                    continue
                }
                index += highBits.trailingZeroBitCount / 8
            }
            let lead = base.load(fromByteOffset: index, as: UInt8.self)
            if lead < 0x80 {
                index += 1
                continue
            }
            guard let length = sequenceLength(lead: lead, base: base, index: index, count: count) else {
                return false
            }
            index += length
        }
        return true
    }

    /// Whether `bytes` is a complete, well-formed UTF-8 sequence.
    public static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isValid($0) }
    }

    /// The length of the multi-byte sequence starting with `lead` at `index`, or nil when it is malformed.
    ///
    /// The ranges allowed for the second byte follow the table in RFC 3629 section 4: they are what excludes
    /// overlongs (E0, F0), surrogates (ED) and code points past U+10FFFF (F4); C0, C1 and F5-FF never start a
    /// sequence.
    @inline(__always)
    private static func sequenceLength(
        lead: UInt8, base: UnsafeRawPointer, index: Int, count: Int
    ) -> Int? {
        let length: Int
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondLow = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondHigh = 0x9F
        case 0xF0: length = 4; secondLow = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondHigh = 0x8F
        default: return nil
        }
        guard index + length <= count else { return nil }
        let second = base.load(fromByteOffset: index + 1, as: UInt8.self)
        guard second >= secondLow && second <= secondHigh else { return nil }
        var offset = 2
        while offset < length {
            let continuation = base.load(fromByteOffset: index + offset, as: UInt8.self)
            guard continuation & 0xC0 == 0x80 else { return nil }
            offset += 1
        }
        return length
    }
}
