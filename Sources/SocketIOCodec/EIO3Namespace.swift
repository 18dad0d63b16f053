/// The namespace of a packet from an Engine.IO v3 (Socket.IO 2.x) client, read as the reference reads it
/// (`new URL(packet.nsp, "https://socket.io")`): a 2.x client sends a namespace's query with its CONNECT
/// (`0/chat?token=abc,`), which becomes the namespace `/chat` and the auth object `{"token":"abc"}`.
///
/// The path is normalised as the URL parser does it: tabs and newlines dropped, trailing spaces and controls
/// trimmed, `\` as `/`, `.` and `..` segments resolved, characters outside the path set percent-encoded. Not
/// followed: a namespace that starts with `//` names a host in a URL; nil for it (the reference takes a valid
/// host and throws for others; no client sends one).
public enum EIO3Namespace {
    public static func parse(_ namespace: String) -> (name: String, auth: [UInt8])? {
        if namespace == "/" { return ("/", Array("{}".utf8)) }
        var text = Array(namespace.utf8).filter { $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        while let last = text.last, last <= 0x20 { text.removeLast() }
        while let first = text.first, first <= 0x20 { text.removeFirst() }
        var end = text.firstIndex(of: UInt8(ascii: "#")) ?? text.count
        let queryStart = text[..<end].firstIndex(of: UInt8(ascii: "?"))
        let query = queryStart.map { text[($0 + 1)..<end] }
        if let queryStart { end = queryStart }
        let path = text[..<end]
        guard let name = pathname(path) else { return nil }
        return (name, authObject(query.map(formEntries) ?? []))
    }

    /// The URL's pathname for a path-absolute reference.
    static func pathname(_ path: ArraySlice<UInt8>) -> String? {
        let isSlash = { (byte: UInt8) in byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") }
        guard let first = path.first, isSlash(first) else { return "/" }
        if path.count > 1, isSlash(path[path.startIndex + 1]) { return nil }
        var segments: [[UInt8]] = []
        let pieces = path.dropFirst().split(omittingEmptySubsequences: false, whereSeparator: isSlash)
        for (index, piece) in pieces.enumerated() {
            let last = index == pieces.count - 1
            if isDoubleDot(piece) {
                if !segments.isEmpty { segments.removeLast() }
                if last { segments.append([]) }
            } else if isSingleDot(piece) {
                if last { segments.append([]) }
            } else {
                segments.append(percentEncoded(piece))
            }
        }
        var out: [UInt8] = []
        for segment in segments {
            out.append(UInt8(ascii: "/"))
            out.append(contentsOf: segment)
        }
        return out.isEmpty ? "/" : String(decoding: out, as: UTF8.self)
    }

    private static func isSingleDot(_ piece: ArraySlice<UInt8>) -> Bool {
        piece.elementsEqual(".".utf8) || lowercased(piece) == Array("%2e".utf8)
    }

    private static func isDoubleDot(_ piece: ArraySlice<UInt8>) -> Bool {
        let text = lowercased(piece)
        return [Array("..".utf8), Array(".%2e".utf8), Array("%2e.".utf8), Array("%2e%2e".utf8)].contains(text)
    }

    private static func lowercased(_ piece: ArraySlice<UInt8>) -> [UInt8] {
        piece.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
    }

    /// The URL path percent-encode set (as Node 20 applies it): controls, space, `"`, `<`, `>`, `` ` ``, `{`, `}`
    /// and everything beyond ASCII, as `%XX` of its UTF-8 bytes.
    private static func percentEncoded(_ piece: ArraySlice<UInt8>) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in piece {
            switch byte {
            case 0...0x20, 0x22, 0x3C, 0x3E, 0x60, 0x7B, 0x7D, 0x7F...:
                out.append(contentsOf: [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default:
                out.append(byte)
            }
        }
        return out
    }

    /// `application/x-www-form-urlencoded` entries, as `URLSearchParams` reads them.
    static func formEntries(_ query: ArraySlice<UInt8>) -> [(name: String, value: String)] {
        var entries: [(name: String, value: String)] = []
        for pair in query.split(separator: UInt8(ascii: "&")) {
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            let name = formDecoded(pair[..<equals])
            let value = equals < pair.endIndex ? formDecoded(pair[(equals + 1)...]) : ""
            entries.append((name, value))
        }
        return entries
    }

    private static func formDecoded(_ bytes: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
                      let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// `JSON.stringify(Object.fromEntries(entries))`: the last value of a repeated name wins at the place of its
    /// first appearance, and names that are array indices come first, in numeric order, as JavaScript orders keys.
    static func authObject(_ entries: [(name: String, value: String)]) -> [UInt8] {
        var names: [String] = []
        var values: [String: String] = [:]
        for (name, value) in entries {
            if values.updateValue(value, forKey: name) == nil { names.append(name) }
        }
        let indices = names.compactMap { name in arrayIndex(name).map { ($0, name) } }.sorted { $0.0 < $1.0 }.map(\.1)
        let others = names.filter { arrayIndex($0) == nil }
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (position, name) in (indices + others).enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            JSONScanner.appendQuoted(name, to: &out)
            out.append(UInt8(ascii: ":"))
            JSONScanner.appendQuoted(values[name]!, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The value of a canonical array index ("0", "17", below 2^32 - 1), which JavaScript objects order first.
    private static func arrayIndex(_ name: String) -> UInt64? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 10, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              bytes.count == 1 || bytes[0] != 0x30, let value = UInt64(name), value < 4_294_967_295 else { return nil }
        return value
    }
}
