import CZlib

/// gzip / deflate of HTTP response bodies (Engine.IO's `httpCompression` for polling responses).
public enum HTTPCompression {
    public enum Encoding: String, Sendable {
        case gzip, deflate
    }

    /// The encoding to use for a request's `Accept-Encoding`, preferring gzip; nil when neither is accepted.
    public static func negotiate(_ acceptEncoding: String?) -> Encoding? {
        guard let accept = acceptEncoding?.lowercased() else { return nil }
        let offered = accept.split(separator: ",").map { item -> (String, Bool) in
            let parts = item.split(separator: ";").map { $0.trimmingSpaces() }
            let refused = parts.dropFirst().contains { $0.replacingSpaces() == "q=0" || $0.replacingSpaces() == "q=0.0" }
            return (String(parts.first ?? ""), !refused)
        }
        if offered.contains(where: { ($0.0 == "gzip" || $0.0 == "*") && $0.1 }) { return .gzip }
        if offered.contains(where: { $0.0 == "deflate" && $0.1 }) { return .deflate }
        return nil
    }

    /// Compresses `bytes` in one shot (gzip wrapper or zlib wrapper, as Node's zlib streams produce).
    public static func compress(_ bytes: [UInt8], encoding: Encoding, level: Int32 = Z_DEFAULT_COMPRESSION) -> [UInt8]? {
        var stream = z_stream()
        let windowBits: Int32 = encoding == .gzip ? 15 + 16 : 15
        guard deflateInit2_(&stream, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY,
                            ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))))
        var input = bytes
        let result: Int32 = input.withUnsafeMutableBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                stream.next_in = src.baseAddress
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard result == Z_STREAM_END else { return nil }
        out.removeLast(out.count - Int(stream.total_out))
        return out
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}

extension String {
    func replacingSpaces() -> String { String(filter { $0 != " " && $0 != "\t" }) }
}
