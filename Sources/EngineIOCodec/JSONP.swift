/// JSONP polling, as the reference's transports/polling-jsonp.ts serves it to clients that cannot use XHR:
/// a GET is answered `___eio[<j>]("<payload>");` (JavaScript, not JSON: U+2028 and U+2029 escaped too), and a POST
/// carries the payload as the form field `d`, with the client's newline escaping undone.
public enum JSONP {
    /// The callback index written in `___eio[…]`: the ASCII digits of the `j` query value, as the reference keeps
    /// them (`j.replace(/[^0-9]/g, "")`).
    public static func callbackIndex(_ j: String) -> [UInt8] {
        j.utf8.filter { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// The GET response for a text payload: its `JSON.stringify`, then U+2028/U+2029 escaped, inside the call.
    public static func wrap(text payload: [UInt8], index: [UInt8]) -> [UInt8] {
        var out = head(index, capacity: payload.count + 16)
        appendJavaScriptString(payload, to: &out)
        out.append(contentsOf: [UInt8(ascii: ")"), UInt8(ascii: ";")])
        return out
    }

    /// The GET response for an XHR2 binary payload (a JSONP client that did not ask for `b64=1`): what
    /// `JSON.stringify` makes of a Node Buffer, `{"type":"Buffer","data":[…]}`, as the reference sends it.
    public static func wrap(binary payload: [UInt8], index: [UInt8]) -> [UInt8] {
        var out = head(index, capacity: payload.count * 4 + 40)
        out.append(contentsOf: "{\"type\":\"Buffer\",\"data\":[".utf8)
        for (offset, byte) in payload.enumerated() {
            if offset > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: String(byte).utf8)
        }
        out.append(contentsOf: "]});".utf8)
        return out
    }

    private static func head(_ index: [UInt8], capacity: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(capacity + index.count)
        out.append(contentsOf: "___eio[".utf8)
        out.append(contentsOf: index)
        out.append(contentsOf: "](".utf8)
        return out
    }

    /// `JSON.stringify` of a string (valid UTF-8), then the reference's U+2028/U+2029 replacements.
    static func appendJavaScriptString(_ text: [UInt8], to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        var index = 0
        while index < text.count {
            let byte = text[index]
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 15)])
            case 0xE2 where index + 2 < text.count && text[index + 1] == 0x80 && (text[index + 2] == 0xA8 || text[index + 2] == 0xA9):
                out.append(contentsOf: Array((text[index + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8))
                index += 2
            default:
                out.append(byte)
            }
            index += 1
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The payload of a POST body: the single `d` field (nil when there is none, or more than one), with the
    /// reference's unescaping: `\n` (backslash, n) becomes a newline unless a backslash precedes it, then `\\n`
    /// becomes `\n`. The body is read as text: invalid UTF-8 becomes U+FFFD first, as in Node.
    public static func payload(fromBody body: [UInt8]) -> [UInt8]? {
        let units = Array(String(decoding: body, as: UTF8.self).utf16)
        guard case .one(let value) = NodeQueryString.field([UInt16(UInt8(ascii: "d"))], in: units) else { return nil }
        return unescapeNewlines(Array(String(decoding: value, as: UTF16.self).utf8))
    }

    /// `data.replace(/(\\)?\\n/g, …)` (a newline unless escaped), then `.replace(/\\\\n/g, "\\n")`.
    static func unescapeNewlines(_ text: [UInt8]) -> [UInt8] {
        let backslash = UInt8(ascii: "\\"), n = UInt8(ascii: "n")
        guard text.contains(backslash) else { return text }
        var first: [UInt8] = []
        first.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if text[index] == backslash, index + 2 < text.count, text[index + 1] == backslash, text[index + 2] == n {
                first.append(contentsOf: text[index..<(index + 3)])
                index += 3
            } else if text[index] == backslash, index + 1 < text.count, text[index + 1] == n {
                first.append(0x0A)
                index += 2
            } else {
                first.append(text[index])
                index += 1
            }
        }
        var second: [UInt8] = []
        second.reserveCapacity(first.count)
        index = 0
        while index < first.count {
            if first[index] == backslash, index + 2 < first.count, first[index + 1] == backslash, first[index + 2] == n {
                second.append(contentsOf: [backslash, n])
                index += 3
            } else {
                second.append(first[index])
                index += 1
            }
        }
        return second
    }
}
