/// JavaScript's `Number.prototype.toString()` (ECMAScript Number::toString, radix 10) for Doubles.
///
/// Needed twice: an EVENT whose first element is a number is dispatched in the reference server under that
/// number's JavaScript text (`[1.50]` is event "1.5", `[1e21]` is "1e+21"), and `JSONValue.serialize()` should
/// write numbers as `JSON.stringify` does. Swift's `description` already yields the shortest digits that round
/// trip, as JavaScript does; only the layout (where the exponent starts, "1.0" vs "1") differs, so this re-lays
/// those digits out by the ECMAScript rules.
enum JSNumberFormatting {
    /// The JavaScript text of a JSON number literal, as `String(JSON.parse(text))` gives it.
    static func string(fromJSONNumber bytes: UnsafeBufferPointer<UInt8>) -> String {
        // Fast path: plain integers below 10^15 are exact in a Double and print as themselves.
        var plain = bytes.count <= 16
        var digitStart = 0
        if plain, let first = bytes.first, first == ASCII.minus { digitStart = 1 }
        if plain {
            for k in digitStart..<bytes.count where !ASCII.isDigit(bytes[k]) {
                plain = false
                break
            }
        }
        if plain && bytes.count - digitStart <= 15 && bytes.count > digitStart {
            if bytes.count - digitStart == 1 && bytes[digitStart] == ASCII.zero { return "0" }  // "-0" too
            return String(decoding: bytes, as: UTF8.self)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let value = Double(text) else { return text }
        return string(value)
    }

    static func string(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        if value == 0 { return "0" }

        // Split Swift's shortest representation ("1.5", "1e-07", "1.2345e+20", "100.0") into its significant
        // digits and n, the position of the decimal point: value = 0.d1d2...dk * 10^n.
        var digits: [UInt8] = []
        var pointPosition = -1
        var exponent = 0
        var exponentNegative = false
        var inExponent = false
        for c in value.magnitude.description.utf8 {
            if inExponent {
                if c == ASCII.minus {
                    exponentNegative = true
                } else if ASCII.isDigit(c) {
                    exponent = exponent * 10 + Int(c - ASCII.zero)
                }
            } else if c == ASCII.dot {
                pointPosition = digits.count
            } else if c == ASCII.lowerE || c == ASCII.upperE {
                inExponent = true
            } else if ASCII.isDigit(c) {
                digits.append(c)
            }
        }
        if pointPosition < 0 { pointPosition = digits.count }
        var n = pointPosition + (exponentNegative ? -exponent : exponent)
        var leadingZeros = 0
        while leadingZeros < digits.count && digits[leadingZeros] == ASCII.zero { leadingZeros += 1 }
        digits.removeFirst(leadingZeros)
        n -= leadingZeros
        while digits.last == ASCII.zero { digits.removeLast() }
        let k = digits.count
        if k == 0 { return "0" }

        var out: [UInt8] = value < 0 ? [ASCII.minus] : []
        if k <= n && n <= 21 {
            out += digits
            out += repeatElement(ASCII.zero, count: n - k)
        } else if 0 < n && n <= 21 {
            out += digits[0..<n]
            out.append(ASCII.dot)
            out += digits[n...]
        } else if -6 < n && n <= 0 {
            out += [ASCII.zero, ASCII.dot]
            out += repeatElement(ASCII.zero, count: -n)
            out += digits
        } else {
            out.append(digits[0])
            if k > 1 {
                out.append(ASCII.dot)
                out += digits[1...]
            }
            out.append(ASCII.lowerE)
            out.append(n - 1 < 0 ? ASCII.minus : ASCII.plus)
            out += Array(String((n - 1).magnitude).utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
