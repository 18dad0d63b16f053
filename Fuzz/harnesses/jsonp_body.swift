// Harness `jsonp_body`: JSONP polling (EngineIOCodec/JSONP.swift, NodeQueryString.swift): POST bodies (the form
// field `d` as Node's querystring reads it, then the newline unescaping) and GET frames.
//
// Input: byte 0 picks the check: 0 a raw POST body; 1 text S sent as `d=` + encodeURIComponent(S), with a second
// field around it when byte 0 bit 1 is set; 2 text wrapped in a GET frame; the rest is the body or text.
//
// Checked:
//  - a raw body: the payload is valid UTF-8, bounded (3 bytes per body byte at most), and absent when the body
//    has no `d` (nor `%64`); a body `d=<value>` without `&`, `%` or `+` gives the value, newline-unescaped;
//  - an encoded body gives S back, newline-unescaped (model: the two regex replacements written as a scan of
//    the text with a different structure);
//  - a GET frame is `___eio[<digits>](` + a JavaScript string literal + `);` with no raw control character,
//    U+2028 or U+2029 in it, and the literal decodes (a JSON string decoder written here) to the text.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let mode = data[0]
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch mode & 3 {
    case 0: checkRawBody(input)
    case 1: checkEncodedBody(input, extraField: mode & 4 != 0)
    default: checkFrame(input)
    }
    return 0
}

func checkRawBody(_ body: [UInt8]) {
    let payload = withExactCopy(body) { JSONP.payload(fromBody: Array($0)) }
    verbose("jsonp body: \(payload.map { hex($0) } ?? "none")")
    guard let payload else { return }
    fuzzCheck(isValidUTF8(payload), "payload is not UTF-8: \(hex(payload))")
    fuzzCheck(payload.count <= 3 * body.count, "payload larger than the body allows")
    let text = Array(String(decoding: body, as: UTF8.self).utf8)
    // The name is `d` itself or percent-encoded (`%64`); a mangled name (`unescapeBuffer`) is always longer.
    fuzzCheck(text.contains(UInt8(ascii: "d")) || String(decoding: text, as: UTF8.self).contains("%64"),
              "a payload from a body without d")
    // The plain case: one pair `d=<value>` and nothing to decode.
    if text.starts(with: Array("d=".utf8)), !text.contains(UInt8(ascii: "&")), !text.contains(UInt8(ascii: "%")),
       !text.contains(UInt8(ascii: "+")) {
        fuzzCheck(payload == modelUnescape(Array(text.dropFirst(2))), "plain d= value differs: \(hex(body))")
    }
}

func checkEncodedBody(_ input: [UInt8], extraField: Bool) {
    let text = Array(String(decoding: input, as: UTF8.self).utf8)
    var body = Array("d=".utf8) + encodeURIComponent(text)
    if extraField { body = Array("x=1&".utf8) + body + Array("&y=%zz".utf8) }
    let payload = JSONP.payload(fromBody: body)
    fuzzCheck(payload == modelUnescape(text), "encoded d= value differs: \(hex(body))")
}

/// encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) as %XX of its UTF-8 bytes.
func encodeURIComponent(_ text: [UInt8]) -> [UInt8] {
    let hexDigits = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for byte in text {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
             UInt8(ascii: "!"), UInt8(ascii: "~"), UInt8(ascii: "*"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"):
            out.append(byte)
        default:
            out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]]
        }
    }
    return out
}

/// `/(\\)?\\n/g` (a newline unless a backslash precedes) then `/\\\\n/g` -> `\n`, as runs of backslashes: the first
/// regex finds a run's end only, so a single backslash before `n` becomes a newline and a longer run stays; the
/// second turns `\\n` into `\n`.
func modelUnescape(_ text: [UInt8]) -> [UInt8] {
    let backslash = UInt8(ascii: "\\"), n = UInt8(ascii: "n")
    var first: [UInt8] = []
    var i = 0
    while i < text.count {
        guard text[i] == backslash else {
            first.append(text[i])
            i += 1
            continue
        }
        var run = 0
        while i + run < text.count, text[i + run] == backslash { run += 1 }
        let followedByN = i + run < text.count && text[i + run] == n
        if followedByN && run == 1 {
            first.append(0x0A)
            i += 2
        } else {
            first += Array(repeating: backslash, count: run)
            i += run
        }
    }
    var second: [UInt8] = []
    i = 0
    while i < first.count {
        if i + 2 < first.count, first[i] == backslash, first[i + 1] == backslash, first[i + 2] == n {
            second += [backslash, n]
            i += 3
        } else {
            second.append(first[i])
            i += 1
        }
    }
    return second
}

func checkFrame(_ input: [UInt8]) {
    let text = Array(String(decoding: input, as: UTF8.self).utf8)
    let index = JSONP.callbackIndex(String(decoding: input.prefix(4), as: UTF8.self))
    let frame = JSONP.wrap(text: text, index: index)
    let head = Array("___eio[".utf8) + index + Array("](".utf8)
    fuzzCheck(frame.starts(with: head) && frame.suffix(2).elementsEqual(");".utf8), "frame shape: \(hex(frame))")
    fuzzCheck(index.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }, "index holds a non-digit")
    let literal = Array(frame[head.count..<(frame.count - 2)])
    fuzzCheck(!literal.contains { $0 < 0x20 }, "raw control character in the literal")
    fuzzCheck(!containsLineSeparators(literal), "raw U+2028/U+2029 in the literal")
    fuzzCheck(decodeJSONString(literal) == text, "the literal does not decode to the text: \(hex(frame))")
}

func containsLineSeparators(_ bytes: [UInt8]) -> Bool {
    guard bytes.count >= 3 else { return false }
    for i in 0..<(bytes.count - 2) where bytes[i] == 0xE2 && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9) {
        return true
    }
    return false
}

/// A JSON string literal to UTF-8 (escapes \" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs joined); nil if
/// it is not one.
func decodeJSONString(_ literal: [UInt8]) -> [UInt8]? {
    guard literal.count >= 2, literal.first == 0x22, literal.last == 0x22 else { return nil }
    var units: [UInt16] = []
    var i = 1
    let end = literal.count - 1
    var raw: [UInt8] = []
    func flushRaw() {
        units += Array(String(decoding: raw, as: UTF8.self).utf16)
        raw = []
    }
    while i < end {
        let c = literal[i]
        if c == 0x22 { return nil }
        guard c == 0x5C else {
            raw.append(c)
            i += 1
            continue
        }
        flushRaw()
        guard i + 1 < end else { return nil }
        let e = literal[i + 1]
        switch e {
        case 0x22, 0x5C, 0x2F: units.append(UInt16(e))
        case UInt8(ascii: "b"): units.append(8)
        case UInt8(ascii: "f"): units.append(12)
        case UInt8(ascii: "n"): units.append(10)
        case UInt8(ascii: "r"): units.append(13)
        case UInt8(ascii: "t"): units.append(9)
        case UInt8(ascii: "u"):
            guard i + 5 < end + 1, let value = UInt16(String(decoding: literal[(i + 2)..<(i + 6)], as: UTF8.self), radix: 16) else {
                return nil
            }
            units.append(value)
            i += 4
        default: return nil
        }
        i += 2
    }
    flushRaw()
    return Array(String(decoding: units, as: UTF16.self).utf8)
}
