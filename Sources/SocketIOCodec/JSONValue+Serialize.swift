extension JSONValue {
    /// The JSON text of the value, written as JavaScript's `JSON.stringify` writes it: no whitespace, strings
    /// escaped as `JSONScanner.appendQuoted` does, numbers in JavaScript's shortest form ("1", "1.5", "1e+21"),
    /// and non-finite numbers as `null`.
    public func serialize() -> [UInt8] {
        var out: [UInt8] = []
        append(to: &out)
        return out
    }

    /// Appends the JSON text of the value to `out`.
    public func append(to out: inout [UInt8]) {
        switch self {
        case .null:
            out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])  // null
        case .bool(let value):
            out.append(contentsOf: value ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .number(let value):
            if value.isFinite {
                out.append(contentsOf: JSNumberFormatting.string(value).utf8)
            } else {
                out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
            }
        case .string(let value):
            JSONStringCoding.appendQuoted(value, to: &out)
        case .array(let elements):
            out.append(ASCII.openBracket)
            for (position, element) in elements.enumerated() {
                if position > 0 { out.append(ASCII.comma) }
                element.append(to: &out)
            }
            out.append(ASCII.closeBracket)
        case .object(let members):
            out.append(ASCII.openBrace)
            for (position, member) in members.enumerated() {
                if position > 0 { out.append(ASCII.comma) }
                JSONStringCoding.appendQuoted(member.0, to: &out)
                out.append(ASCII.colon)
                member.1.append(to: &out)
            }
            out.append(ASCII.closeBrace)
        }
    }
}
