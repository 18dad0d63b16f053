import COpenSSL

/// Standard base64 (RFC 4648, padded) through OpenSSL's EVP block coder: binary over long-polling, and the
/// WebSocket handshake's accept key.
public enum Base64 {
    public static func encodedCount(_ byteCount: Int) -> Int { (byteCount + 2) / 3 * 4 }

    public static func append(_ bytes: [UInt8], to out: inout [UInt8]) {
        let start = out.count
        let length = encodedCount(bytes.count)
        out.append(contentsOf: repeatElement(0, count: length + 1))  // EVP_EncodeBlock writes a trailing NUL
        let written = out.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { src in
                EVP_EncodeBlock(dst.baseAddress! + start, src.baseAddress, Int32(src.count))
            }
        }
        out.removeLast(length + 1 - Int(written))
    }

    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedCount(bytes.count) + 1)
        append(bytes, to: &out)
        return out
    }

    /// Decodes padded or unpadded base64; nil for anything else (other characters, impossible lengths).
    public static func decode(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        var input = Array(text)
        switch input.count % 4 {
        case 0: break
        case 2: input.append(contentsOf: [UInt8(ascii: "="), UInt8(ascii: "=")])
        case 3: input.append(UInt8(ascii: "="))
        default: return nil
        }
        if input.isEmpty { return [] }
        // EVP_DecodeBlock accepts surrounding whitespace and '=' anywhere; the reference does not care either way,
        // but we refuse anything outside the alphabet to keep the input honest.
        var padding = 0
        for (index, byte) in input.enumerated() {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                if padding > 0 { return nil }
            case UInt8(ascii: "="):
                guard index >= input.count - 2 else { return nil }
                padding += 1
            default:
                return nil
            }
        }
        var out = [UInt8](repeating: 0, count: input.count / 4 * 3)
        let written = out.withUnsafeMutableBufferPointer { dst in
            input.withUnsafeBufferPointer { src in
                EVP_DecodeBlock(dst.baseAddress, src.baseAddress, Int32(src.count))
            }
        }
        guard written >= 0 else { return nil }
        out.removeLast(out.count - (Int(written) - padding))
        return out
    }
}

extension Base64 {
    /// Decodes as Node's `Buffer.from(text, "base64")` reads: both alphabets (`+/` and `-_`), characters outside
    /// them skipped, the first `=` ends the data, and trailing bits that make no whole byte dropped. Never fails,
    /// so a peer's malformed text becomes some bytes, as it would on Node.
    public static func decodeForgiving(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3 + 2)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="): return out
            default: continue
            }
            accumulator = (accumulator << 6 | value) & 0xFFFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }
}
