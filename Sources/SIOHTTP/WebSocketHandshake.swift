import COpenSSL

/// The server side of the RFC 6455 opening handshake.
public enum WebSocketHandshake {
    static let guid = Array("258EAFA5-E914-47DA-95CA-C5AB0DC85B11".utf8)
    /// OpenSSL 3's one-shot SHA1() looks the algorithm up on every call; fetch it once.
    nonisolated(unsafe) static let sha1 = EVP_MD_fetch(nil, "SHA1", nil)

    /// Why an upgrade request is not a valid WebSocket handshake; the text is what the `ws` library answers with.
    public static func validate(_ request: HTTPRequest) -> String? {
        guard request.method == "GET" else { return "Invalid HTTP method" }
        guard request.header("upgrade")?.lowercased() == "websocket" else { return "Invalid Upgrade header" }
        guard let key = request.header("sec-websocket-key"), isValidKey(key) else {
            return "Missing or invalid Sec-WebSocket-Key header"
        }
        guard let version = request.header("sec-websocket-version"), version == "13" || version == "8" else {
            return "Missing or invalid Sec-WebSocket-Version header"
        }
        if let offered = request.header("sec-websocket-protocol"), subprotocols(offered) == nil {
            return "Invalid Sec-WebSocket-Protocol header"
        }
        return nil
    }

    /// The subprotocols of a `Sec-WebSocket-Protocol` value, in order, or nil when it is not a comma-separated list
    /// of distinct tokens (optional spaces or tabs around each), exactly as the `ws` library parses it.
    public static func subprotocols(_ value: String) -> [String]? {
        let bytes = Array(value.utf8)
        var result: [String] = []
        var start = -1
        var end = -1
        func take(_ range: Range<Int>) -> Bool {
            let token = String(decoding: bytes[range], as: UTF8.self)
            guard !result.contains(token) else { return false }
            result.append(token)
            return true
        }
        for (index, byte) in bytes.enumerated() {
            if end == -1, HTTPHeaders.isTokenByte(byte) {
                if start == -1 { start = index }
            } else if index != 0, byte == 0x20 || byte == 0x09 {
                if end == -1, start != -1 { end = index }
            } else if byte == UInt8(ascii: ",") {
                guard start != -1 else { return nil }
                if end == -1 { end = index }
                guard take(start..<end) else { return nil }
                start = -1
                end = -1
            } else {
                return nil
            }
        }
        guard start != -1, end == -1, take(start..<bytes.count) else { return nil }
        return result
    }

    /// A key is the base64 of 16 bytes: 22 base64 characters and `==` (the `ws` library's rule).
    static func isValidKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else { return false }
        return bytes[..<22].allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"): return true
            default: return false
            }
        }
    }

    /// `Sec-WebSocket-Accept`: base64(SHA-1(key + GUID)).
    public static func acceptValue(forKey key: String) -> String {
        var input = Array(key.utf8)
        input.append(contentsOf: guid)
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        _ = input.withUnsafeBufferPointer { src in
            digest.withUnsafeMutableBufferPointer { dst in EVP_Digest(src.baseAddress, src.count, dst.baseAddress, nil, sha1, nil) }
        }
        var encoded = [UInt8](repeating: 0, count: 29)  // 28 characters and EVP_EncodeBlock's NUL
        let length = encoded.withUnsafeMutableBufferPointer { EVP_EncodeBlock($0.baseAddress, digest, Int32(digest.count)) }
        return String(decoding: encoded[..<Int(length)], as: UTF8.self)
    }

    /// The `101 Switching Protocols` response, with any extra headers (cookies, extensions).
    public static func response(forKey key: String, extraHeaders: [(name: String, value: String)] = []) -> [UInt8] {
        var headers: [(name: String, value: String)] = [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", acceptValue(forKey: key)),
        ]
        headers.append(contentsOf: extraHeaders)
        return HTTPResponse(status: 101, headers: headers).serialized(keepAlive: true)
    }

    /// What the `ws` library writes before destroying a socket whose handshake it refuses.
    public static func refusal(status: Int, message: String) -> [UInt8] {
        HTTPResponse(status: status, headers: [("Content-Type", "text/html")], text: message).serialized(keepAlive: false)
    }
}
