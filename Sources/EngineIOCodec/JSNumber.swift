/// JavaScript's `Number(string)` (the StringNumericLiteral grammar), for the one place the reference's v3 parser
/// lets it decide: the `<length>` of a payload segment. So " 12", "0x1A", "1e1" and "+5" are lengths as they are
/// for the reference, and anything else is NaN.
enum JSNumber {
    /// The value of `utf8` (valid UTF-8) as `Number()` gives it; NaN when it is not a numeric literal.
    static func parse(_ utf8: ArraySlice<UInt8>) -> Double {
        guard let text = trimmed(utf8) else { return .nan }
        if text.isEmpty { return 0 }
        if text.count > 2, text[text.startIndex] == UInt8(ascii: "0"), let radix = radix(text[text.startIndex + 1]) {
            return integer(text.dropFirst(2), radix: radix)
        }
        var body = text
        var negative = false
        if let sign = body.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            body = body.dropFirst()
        }
        if body.elementsEqual("Infinity".utf8) { return negative ? -.infinity : .infinity }
        guard isDecimalLiteral(body), let value = Double(String(decoding: text, as: UTF8.self)) else { return .nan }
        return value
    }

    /// The text without the JavaScript white space and line terminators around it; nil when what remains is not
    /// ASCII (no numeric literal is).
    private static func trimmed(_ utf8: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        // One pass, no storage: where the first non-space scalar starts and where the last one ends.
        var first: Int?
        var lastEnd = utf8.startIndex
        var iterator = utf8.makeIterator()
        var decoder = UTF8()
        var offset = utf8.startIndex
        while case .scalarValue(let scalar) = decoder.decode(&iterator) {
            let length = UTF8.width(scalar)
            if !isWhiteSpace(scalar.value) {
                if first == nil { first = offset }
                lastEnd = offset + length
            }
            offset += length
        }
        guard let first else { return utf8[utf8.endIndex...] }
        let core = utf8[first..<lastEnd]
        return core.allSatisfy({ $0 < 0x80 }) ? core : nil
    }

    /// WhiteSpace and LineTerminator of ECMAScript: what `Number()` trims.
    private static func isWhiteSpace(_ value: UInt32) -> Bool {
        switch value {
        case 0x09...0x0D, 0x20, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
            return true
        default:
            return false
        }
    }

    private static func radix(_ letter: UInt8) -> Double? {
        switch letter | 0x20 {
        case UInt8(ascii: "x"): return 16
        case UInt8(ascii: "o"): return 8
        case UInt8(ascii: "b"): return 2
        default: return nil
        }
    }

    /// `0x…`, `0o…`, `0b…`: digits of the radix only (no sign, no separators).
    private static func integer(_ digits: ArraySlice<UInt8>, radix: Double) -> Double {
        var value = 0.0
        for byte in digits {
            let digit: Double
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Double(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Double(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Double(byte - UInt8(ascii: "A") + 10)
            default: return .nan
            }
            guard digit < radix else { return .nan }
            value = value * radix + digit
        }
        return value
    }

    /// `digits [. digits] [e [sign] digits]` or `. digits [e …]`, with at least one mantissa digit.
    private static func isDecimalLiteral(_ text: ArraySlice<UInt8>) -> Bool {
        var index = text.startIndex
        func digits() -> Int {
            let start = index
            while index < text.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[index]) { index += 1 }
            return index - start
        }
        var mantissa = digits()
        if index < text.endIndex, text[index] == UInt8(ascii: ".") {
            index += 1
            mantissa += digits()
        }
        guard mantissa > 0 else { return false }
        if index < text.endIndex, text[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < text.endIndex, text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return false }
        }
        return index == text.endIndex
    }
}
