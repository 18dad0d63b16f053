import CLibUV

/// Bytes from the kernel's CSPRNG (`uv_random`: getrandom on Linux), for session ids and anything unguessable.
public enum SecureRandom {
    /// Bytes fetched from the kernel 4 KiB at a time (one getrandom call per ~270 ids, not two per connection);
    /// each byte is handed out once.
    private static let poolLock = Lock()
    nonisolated(unsafe) private static var pool = [UInt8](repeating: 0, count: 4096)
    nonisolated(unsafe) private static var poolUsed = 4096

    public static func bytes(_ count: Int) -> [UInt8] {
        guard count <= 256 else { return fresh(count) }
        return poolLock.withLock {
            if poolUsed + count > pool.count {
                pool = fresh(pool.count)
                poolUsed = 0
            }
            defer { poolUsed += count }
            return Array(pool[poolUsed..<(poolUsed + count)])
        }
    }

    private static func fresh(_ count: Int) -> [UInt8] {
        var random = [UInt8](repeating: 0, count: count)
        let rc = random.withUnsafeMutableBytes { uv_random(nil, nil, $0.baseAddress, $0.count, 0, nil) }
        // getrandom only fails before the kernel's pool is seeded at boot, or with invalid arguments.
        precondition(rc == 0, "the system CSPRNG failed: \(rc)")
        return random
    }

    private static let base64url = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// An unguessable id: 15 random bytes as 20 base64url characters (120 bits), as the reference's `base64id`
    /// makes them. For credentials: Engine.IO session ids, recovery's private ids.
    public static func identifier() -> String { identifier(randomBytes: 15) }

    /// A public id of 15 base64url characters (90 bits): short enough for Swift's inline strings, so holding one
    /// costs no allocation. For ids other clients may see anyway, such as Socket.IO socket ids.
    public static func shortIdentifier() -> String {
        let text = identifier(randomBytes: 12)  // 16 characters
        return String(text.utf8.prefix(15))!
    }

    private static func identifier(randomBytes count: Int) -> String {
        let random = bytes(count)
        var text: [UInt8] = []
        text.reserveCapacity(count / 3 * 4)
        var index = 0
        while index < count {
            let chunk = UInt32(random[index]) << 16 | UInt32(random[index + 1]) << 8 | UInt32(random[index + 2])
            text.append(base64url[Int(chunk >> 18 & 63)])
            text.append(base64url[Int(chunk >> 12 & 63)])
            text.append(base64url[Int(chunk >> 6 & 63)])
            text.append(base64url[Int(chunk & 63)])
            index += 3
        }
        return String(decoding: text, as: UTF8.self)
    }
}
