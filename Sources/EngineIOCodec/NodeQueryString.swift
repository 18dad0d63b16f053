/// One field of an `application/x-www-form-urlencoded` body, read the way Node's `querystring.parse` reads it
/// (what the reference's JSONP transport uses for `d=`), on the body as JavaScript sees it: UTF-16 code units.
///
/// Its quirks are kept because they decide what reaches the parser: at most 1000 pairs are read; a value is
/// percent-decoded only when the pair showed a `%XX` escape (as Node's scan detects it); decoding is
/// `decodeURIComponent`, and when that throws, Node's `unescapeBuffer`, which keeps malformed escapes and keeps
/// only the low byte of every other code unit, then decodes the bytes as UTF-8 with U+FFFD.
enum NodeQueryString {
    enum Field: Equatable {
        case absent
        case one([UInt16])
        /// The name appeared more than once: Node makes an array, which the reference ignores.
        case repeated
    }

    static let maxPairs = 1000

    static func field(_ name: [UInt16], in s: [UInt16]) -> Field {
        var result = Field.absent
        var pairsLeft = maxPairs
        var lastPos = 0
        var afterEquals = false
        var key: [UInt16] = []
        var value: [UInt16] = []
        var keyEncoded = false
        var valueEncoded = false
        var escapeProgress = 0  // Node's `encodeCheck`: 1 after `%`, 2 and 3 after hex digits

        /// Records a finished pair; false once the pair limit is reached.
        func add() -> Bool {
            let decodedKey = keyEncoded && !key.isEmpty ? unescape(key) : key
            if decodedKey == name {
                switch result {
                case .absent: result = .one(valueEncoded && !value.isEmpty ? unescape(value) : value)
                case .one, .repeated: result = .repeated
                }
            }
            pairsLeft -= 1
            return pairsLeft > 0
        }

        for i in 0..<s.count {
            let c = s[i]
            if c == ampersand {
                if !afterEquals {
                    if lastPos < i {
                        key += s[lastPos..<i]
                    } else if key.isEmpty {
                        // An empty pair still counts against the limit.
                        pairsLeft -= 1
                        if pairsLeft == 0 { return result }
                        lastPos = i + 1
                        continue
                    }
                } else if lastPos < i {
                    value += s[lastPos..<i]
                }
                guard add() else { return result }
                keyEncoded = false
                valueEncoded = false
                key = []
                value = []
                escapeProgress = 0
                lastPos = i + 1
                afterEquals = false
                continue
            }
            if !afterEquals {
                if c == equals {
                    if lastPos < i { key += s[lastPos..<i] }
                    escapeProgress = 0
                    lastPos = i + 1
                    afterEquals = true
                    continue
                }
                if !keyEncoded {
                    if c == percent {
                        escapeProgress = 1
                        continue
                    }
                    if escapeProgress > 0 {
                        if isHex(c) {
                            escapeProgress += 1
                            if escapeProgress == 3 { keyEncoded = true }
                            continue
                        }
                        escapeProgress = 0
                    }
                }
                if c == plus {
                    if lastPos < i { key += s[lastPos..<i] }
                    key.append(space)
                    lastPos = i + 1
                    continue
                }
            }
            // Node runs this part for key characters too (once the key is known to be encoded).
            if c == plus {
                if lastPos < i { value += s[lastPos..<i] }
                value.append(space)
                lastPos = i + 1
            } else if !valueEncoded {
                if c == percent {
                    escapeProgress = 1
                } else if escapeProgress > 0 {
                    if isHex(c) {
                        escapeProgress += 1
                        if escapeProgress == 3 { valueEncoded = true }
                    } else {
                        escapeProgress = 0
                    }
                }
            }
        }
        if lastPos < s.count {
            if afterEquals { value += s[lastPos...] } else { key += s[lastPos...] }
        } else if !afterEquals && key.isEmpty {
            return result
        }
        _ = add()
        return result
    }

    /// Node's `querystring.unescape`: `decodeURIComponent`, or `unescapeBuffer` when that throws.
    static func unescape(_ s: [UInt16]) -> [UInt16] {
        if let decoded = decodeURIComponent(s) { return decoded }
        return Array(String(decoding: unescapeBuffer(s), as: UTF8.self).utf16)
    }

    /// ECMAScript's `decodeURIComponent`; nil where it throws a URIError (a `%` without two hex digits, escapes that
    /// are not one valid UTF-8 sequence per character).
    static func decodeURIComponent(_ s: [UInt16]) -> [UInt16]? {
        var out: [UInt16] = []
        out.reserveCapacity(s.count)
        var k = 0
        func escapedByte(at index: Int) -> UInt8? {
            guard index + 2 < s.count, s[index] == percent, let high = hexValue(s[index + 1]),
                  let low = hexValue(s[index + 2]) else { return nil }
            return high << 4 | low
        }
        while k < s.count {
            guard s[k] == percent else {
                out.append(s[k])
                k += 1
                continue
            }
            guard let lead = escapedByte(at: k) else { return nil }
            k += 3
            if lead < 0x80 {
                out.append(UInt16(lead))
                continue
            }
            let count: Int
            switch lead {
            case 0xC0...0xDF: count = 2
            case 0xE0...0xEF: count = 3
            case 0xF0...0xF7: count = 4
            default: return nil
            }
            var octets = [lead]
            for _ in 1..<count {
                guard let next = escapedByte(at: k), next & 0xC0 == 0x80 else { return nil }
                octets.append(next)
                k += 3
            }
            guard let character = String(validating: octets, as: UTF8.self) else { return nil }
            out.append(contentsOf: character.utf16)
        }
        return out
    }

    /// Node's `querystring.unescapeBuffer` (without space decoding): valid `%XX` become bytes, every other code
    /// unit becomes its low byte.
    static func unescapeBuffer(_ s: [UInt16]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var index = 0
        while index < s.count {
            var unit = s[index]
            if unit == percent, index < s.count - 2 {
                guard let high = hexValue(s[index + 1]) else {
                    out.append(UInt8(ascii: "%"))
                    index += 1
                    continue
                }
                if let low = hexValue(s[index + 2]) {
                    unit = UInt16(high << 4 | low)
                    index += 2
                } else {
                    out.append(UInt8(ascii: "%"))
                    index += 1
                    unit = s[index]
                }
            }
            out.append(UInt8(truncatingIfNeeded: unit))
            index += 1
        }
        return out
    }

    private static let ampersand = UInt16(UInt8(ascii: "&"))
    private static let equals = UInt16(UInt8(ascii: "="))
    private static let percent = UInt16(UInt8(ascii: "%"))
    private static let plus = UInt16(UInt8(ascii: "+"))
    private static let space = UInt16(UInt8(ascii: " "))

    private static func isHex(_ unit: UInt16) -> Bool { hexValue(unit) != nil }

    private static func hexValue(_ unit: UInt16) -> UInt8? {
        switch unit {
        case 0x30...0x39: return UInt8(unit - 0x30)
        case 0x41...0x46: return UInt8(unit - 0x41 + 10)
        case 0x61...0x66: return UInt8(unit - 0x61 + 10)
        default: return nil
        }
    }
}
