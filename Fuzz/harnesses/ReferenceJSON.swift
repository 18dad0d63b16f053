// Reference models for the json and socketio_packet harnesses: an independent JSON validator and the placeholder rule.

/// A plain recursive-descent JSON validator written from RFC 8259, independent of the project's scanner.
/// UTF-8 validity comes from the standard library; the grammar treats bytes >= 0x80 inside strings as characters.
enum ReferenceJSON {
    static func isValid(_ bytes: [UInt8], maxDepth: Int) -> Bool {
        check(bytes, maxDepth: maxDepth).valid
    }

    /// Validity, and whether some object repeats a key (after unescaping), which a placeholder must not do.
    static func check(_ bytes: [UInt8], maxDepth: Int) -> (valid: Bool, duplicateKeys: Bool) {
        guard isValidUTF8(bytes) else { return (false, false) }
        var parser = Parser(bytes: bytes, maxDepth: maxDepth)
        parser.ws()
        guard parser.value(depth: 0) else { return (false, false) }
        parser.ws()
        return (parser.i == bytes.count, parser.duplicateKeys)
    }

    struct Parser {
        let bytes: [UInt8]
        let maxDepth: Int
        var i = 0
        var duplicateKeys = false

        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func ws() {
            while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
        }

        mutating func eat(_ c: UInt8) -> Bool {
            if peek == c { i += 1; return true }
            return false
        }

        mutating func literal(_ word: String) -> Bool {
            for c in word.utf8 { guard eat(c) else { return false } }
            return true
        }

        mutating func value(depth: Int) -> Bool {
            guard let c = peek else { return false }
            switch c {
            case UInt8(ascii: "{"):
                guard depth < maxDepth else { return false }
                i += 1; ws()
                if eat(UInt8(ascii: "}")) { return true }
                var keys: Set<[UInt8]> = []
                while true {
                    let keyStart = i
                    guard string() else { return false }
                    if !keys.insert(unescapedKey(bytes[keyStart..<i])).inserted { duplicateKeys = true }
                    ws()
                    guard eat(UInt8(ascii: ":")) else { return false }
                    ws()
                    guard value(depth: depth + 1) else { return false }
                    ws()
                    if eat(UInt8(ascii: "}")) { return true }
                    guard eat(UInt8(ascii: ",")) else { return false }
                    ws()
                }
            case UInt8(ascii: "["):
                guard depth < maxDepth else { return false }
                i += 1; ws()
                if eat(UInt8(ascii: "]")) { return true }
                while true {
                    guard value(depth: depth + 1) else { return false }
                    ws()
                    if eat(UInt8(ascii: "]")) { return true }
                    guard eat(UInt8(ascii: ",")) else { return false }
                    ws()
                }
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        mutating func string() -> Bool {
            guard eat(UInt8(ascii: "\"")) else { return false }
            while let c = peek {
                i += 1
                if c == UInt8(ascii: "\"") { return true }
                if c < 0x20 { return false }
                if c == UInt8(ascii: "\\") {
                    guard let e = peek else { return false }
                    i += 1
                    if e == UInt8(ascii: "u") {
                        for _ in 0..<4 {
                            guard let h = peek, isHex(h) else { return false }
                            i += 1
                        }
                    } else if !Array("\"\\/bfnrt".utf8).contains(e) {
                        return false
                    }
                }
            }
            return false
        }

        func isHex(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
        }

        func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }

        mutating func number() -> Bool {
            _ = eat(UInt8(ascii: "-"))
            if eat(UInt8(ascii: "0")) {
            } else if isDigit(peek) {
                while isDigit(peek) { i += 1 }
            } else {
                return false
            }
            if eat(UInt8(ascii: ".")) {
                guard isDigit(peek) else { return false }
                while isDigit(peek) { i += 1 }
            }
            if eat(UInt8(ascii: "e")) || eat(UInt8(ascii: "E")) {
                if !eat(UInt8(ascii: "+")) { _ = eat(UInt8(ascii: "-")) }
                guard isDigit(peek) else { return false }
                while isDigit(peek) { i += 1 }
            }
            return true
        }
    }
}

/// The UTF-8 of a string literal's value (quotes included in `literal`), decoding escapes; lone surrogate escapes
/// become U+FFFD. Written here rather than borrowed from the codec.
func unescapedKey(_ literal: ArraySlice<UInt8>) -> [UInt8] {
    var units: [UInt16] = []
    var out: [UInt8] = []
    func flushUnits() {
        if units.isEmpty { return }
        var scalars = String.UnicodeScalarView()
        var iterator = units.makeIterator()
        var decoder = UTF16()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let s): scalars.append(s)
            case .emptyInput: break loop
            case .error: scalars.append("\u{FFFD}")
            }
        }
        out += Array(String(scalars).utf8)
        units = []
    }
    var i = literal.startIndex + 1
    let end = literal.endIndex - 1
    while i < end {
        let c = literal[i]
        if c == UInt8(ascii: "\\") {
            let e = literal[i + 1]
            if e == UInt8(ascii: "u") {
                let hexText = String(decoding: literal[(i + 2)..<(i + 6)], as: UTF8.self)
                units.append(UInt16(hexText, radix: 16)!)
                i += 6
                continue
            }
            flushUnits()
            switch e {
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            default: out.append(e)
            }
            i += 2
        } else {
            flushUnits()
            out.append(c)
            i += 1
        }
    }
    flushUnits()
    return out
}

/// The number of placeholders, or nil when one is malformed: an object whose `_placeholder` is `true` must have
/// exactly the keys `_placeholder` and `num`, with `num` an integer in 0..<attachmentCount.
func placeholderModel(_ value: JSONValue, attachmentCount: Int) -> Int? {
    switch value {
    case .array(let elements):
        var total = 0
        for element in elements {
            guard let count = placeholderModel(element, attachmentCount: attachmentCount) else { return nil }
            total += count
        }
        return total
    case .object(let members):
        if value["_placeholder"] == .bool(true) {
            guard members.count == 2, let num = value["num"]?.doubleValue, num.isFinite,
                  num.rounded(.towardZero) == num, num >= 0, num < Double(attachmentCount)
            else { return nil }
            return 1
        }
        var total = 0
        for member in members {
            guard let count = placeholderModel(member.1, attachmentCount: attachmentCount) else { return nil }
            total += count
        }
        return total
    default:
        return 0
    }
}
