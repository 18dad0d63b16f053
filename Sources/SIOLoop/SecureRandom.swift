import CLibUV

/// Bytes from the kernel's CSPRNG (`uv_random`: getrandom on Linux), for session ids and anything unguessable.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var random = [UInt8](repeating: 0, count: count)
        let rc = random.withUnsafeMutableBytes { uv_random(nil, nil, $0.baseAddress, $0.count, 0, nil) }
        // getrandom only fails before the kernel's pool is seeded at boot, or with invalid arguments.
        precondition(rc == 0, "the system CSPRNG failed: \(rc)")
        return random
    }
}
