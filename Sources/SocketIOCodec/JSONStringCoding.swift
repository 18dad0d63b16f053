/// JSON string literals: reading them (escapes decoded into UTF-8) and writing them the way JavaScript's
/// `JSON.stringify` does, so that what we send is byte-identical to what the reference server would send.
public enum JSONStringCoding {
    public static let placeholderKey: [UInt8] = Array("_placeholder".utf8)
    static let numKey: [UInt8] = Array("num".utf8)

    /// Decodes the contents of a string literal that the scanner already validated (`range` excludes the quotes)
    /// into UTF-8. Escaped surrogate pairs become one scalar; a lone escaped surrogate, which JavaScript keeps
    /// but a Swift string cannot hold, becomes U+FFFD.
    static func unescape(_ p: UnsafePointer<UInt8>, _ range: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let c = p[i]
            guard c == ASCII.backslash, i + 1 < end else {
                out.append(c)
                i += 1
                continue
            }
            let e = p[i + 1]
            switch e {
            case ASCII.lowerB: out.append(0x08)
            case ASCII.lowerF: out.append(0x0C)
            case ASCII.lowerN: out.append(0x0A)
            case ASCII.lowerR: out.append(0x0D)
            case ASCII.lowerT: out.append(0x09)
            case ASCII.lowerU:
                guard var scalar = hex4(p, i + 2, end) else {
                    out.append(e)
                    i += 2
                    continue
                }
                i += 6
                if scalar >= 0xD800 && scalar <= 0xDBFF, i + 6 <= end, p[i] == ASCII.backslash,
                    p[i + 1] == ASCII.lowerU, let low = hex4(p, i + 2, end), low >= 0xDC00 && low <= 0xDFFF
                {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if scalar >= 0xD800 && scalar <= 0xDFFF {
                    scalar = 0xFFFD
                }
                appendUTF8(scalar, to: &out)
                continue
            default: out.append(e)  // \" \\ \/
            }
            i += 2
        }
        return out
    }

    private static func hex4(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> UInt32? {
        guard start + 4 <= end else { return nil }
        var value: UInt32 = 0
        for k in 0..<4 {
            guard let digit = ASCII.hexValue(p[start + k]) else { return nil }
            value = value << 4 | digit
        }
        return value
    }

    static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// The Swift string a validated string literal stands for; `range` includes the quotes.
    static func decodeString(_ p: UnsafePointer<UInt8>, _ range: Range<Int>) -> String {
        let contents = range.lowerBound + 1..<range.upperBound - 1
        var escaped = false
        for k in contents where p[k] == ASCII.backslash {
            escaped = true
            break
        }
        if !escaped {
            return String(decoding: UnsafeBufferPointer(start: p + contents.lowerBound, count: contents.count), as: UTF8.self)
        }
        return String(decoding: unescape(p, contents), as: UTF8.self)
    }

    /// Appends `bytes` (UTF-8) as the inside of a string literal, escaped exactly as `JSON.stringify` does:
    /// `\"`, `\\`, `\b \f \n \r \t`, other control characters as lowercase `\u00xx`; everything else verbatim.
    static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var runStart = 0
        for k in 0..<bytes.count {
            let c = bytes[k]
            if c >= 0x20 && c != ASCII.quote && c != ASCII.backslash { continue }
            if runStart < k { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<k])) }
            runStart = k + 1
            out.append(ASCII.backslash)
            switch c {
            case ASCII.quote, ASCII.backslash: out.append(c)
            case 0x08: out.append(ASCII.lowerB)
            case 0x0C: out.append(ASCII.lowerF)
            case 0x0A: out.append(ASCII.lowerN)
            case 0x0D: out.append(ASCII.lowerR)
            case 0x09: out.append(ASCII.lowerT)
            default:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(ASCII.lowerU)
                out.append(ASCII.zero)
                out.append(ASCII.zero)
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0x0F)])
            }
        }
        if runStart < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...])) }
    }

    /// Appends `s` as a JSON string literal, quotes included.
    static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(ASCII.quote)
        var s = s
        s.withUTF8 { appendEscaped($0, to: &out) }
        out.append(ASCII.quote)
    }
}
