/// One extension offered in a Sec-WebSocket-Extensions header, e.g.
/// `permessage-deflate; client_max_window_bits; server_max_window_bits=10`.
struct WebSocketExtensionOffer: Equatable {
    struct Parameter: Equatable {
        var name: String
        /// nil for a parameter without `=`; quoted values arrive unquoted.
        var value: String?
    }

    var name: String
    var parameters: [Parameter]
}

/// Parses the Sec-WebSocket-Extensions grammar of RFC 6455 9.1:
///
///     extension-list = 1#extension
///     extension      = extension-token *( ";" extension-param )
///     extension-param = token [ "=" (token | quoted-string) ]
///
/// Several header lines are one list joined with commas, so callers may pass them joined. A malformed header
/// yields nil: the server then simply does not negotiate any extension.
enum WebSocketExtensionHeader {
    static func parse(_ header: String) -> [WebSocketExtensionOffer]? {
        var offers: [WebSocketExtensionOffer] = []
        for element in split(Array(header.utf8), on: UInt8(ascii: ",")) {
            let parts = split(element, on: UInt8(ascii: ";"))
            let name = trim(parts[0])
            // Empty list elements are allowed by the # rule ("a, , b").
            if name.isEmpty && parts.count == 1 { continue }
            guard isToken(name) else { return nil }
            var parameters: [WebSocketExtensionOffer.Parameter] = []
            for part in parts.dropFirst() {
                guard let parameter = parseParameter(part) else { return nil }
                parameters.append(parameter)
            }
            offers.append(WebSocketExtensionOffer(name: String(decoding: name, as: UTF8.self), parameters: parameters))
        }
        return offers.isEmpty ? nil : offers
    }

    private static func parseParameter(_ bytes: ArraySlice<UInt8>) -> WebSocketExtensionOffer.Parameter? {
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else {
            let name = trim(bytes)
            return isToken(name) ? .init(name: String(decoding: name, as: UTF8.self), value: nil) : nil
        }
        let name = trim(bytes[..<equals])
        var value = trim(bytes[(equals + 1)...])
        guard isToken(name) else { return nil }
        if value.first == UInt8(ascii: "\"") {
            guard let unquoted = unquote(value) else { return nil }
            value = unquoted[...]
        }
        // RFC 6455 9.1: a quoted value must still be a token once unquoted.
        guard isToken(value) else { return nil }
        return .init(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
    }

    /// Splits on `separator` outside quoted strings; each piece keeps its surrounding whitespace.
    private static func split(_ bytes: some Collection<UInt8>, on separator: UInt8) -> [ArraySlice<UInt8>] {
        let bytes = Array(bytes)
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        var inQuotes = false
        var escaped = false
        for (index, byte) in bytes.enumerated() {
            if inQuotes {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inQuotes = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inQuotes = true
            } else if byte == separator {
                pieces.append(bytes[start..<index])
                start = index + 1
            }
        }
        pieces.append(bytes[start...])
        return pieces
    }

    /// The content of a quoted-string with backslash escapes removed, or nil when it is not one whole string.
    private static func unquote(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        guard bytes.count >= 2, bytes.last == UInt8(ascii: "\"") else { return nil }
        var result: [UInt8] = []
        var escaped = false
        for byte in bytes.dropFirst().dropLast() {
            if escaped {
                result.append(byte)
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                return nil
            } else {
                result.append(byte)
            }
        }
        return escaped ? nil : result
    }

    private static func trim(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { slice.removeFirst() }
        while let last = slice.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { slice.removeLast() }
        return slice
    }

    /// RFC 7230 token: one or more visible ASCII characters other than separators.
    private static func isToken(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return false }
        return bytes.allSatisfy { byte in
            guard byte > 0x20 && byte < 0x7F else { return false }
            return !"()<>@,;:\\\"/[]?={}".utf8.contains(byte)
        }
    }
}
