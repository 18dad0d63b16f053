import SIOLoop

/// Session ids: 15 bytes from the kernel's CSPRNG (`uv_random`, which uses getrandom), base64url, 20 characters,
/// as the reference's `base64id` makes them.
enum SessionID {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func generate() -> String {
        let random = SecureRandom.bytes(15)
        var text: [UInt8] = []
        text.reserveCapacity(20)
        var index = 0
        while index < 15 {
            let chunk = UInt32(random[index]) << 16 | UInt32(random[index + 1]) << 8 | UInt32(random[index + 2])
            text.append(alphabet[Int(chunk >> 18 & 63)])
            text.append(alphabet[Int(chunk >> 12 & 63)])
            text.append(alphabet[Int(chunk >> 6 & 63)])
            text.append(alphabet[Int(chunk & 63)])
            index += 3
        }
        return String(decoding: text, as: UTF8.self)
    }
}
