/// The 4-byte masking key of a client frame (RFC 6455 5.3): payload byte `i` is XORed with key byte `i % 4`.
///
/// A frame's payload may arrive in several reads, so `apply` takes the position within the payload at which the
/// chunk starts and rotates the key accordingly. The bulk of the work XORs eight bytes at a time.
struct WebSocketMask {
    /// Key bytes in wire order.
    let bytes: (UInt8, UInt8, UInt8, UInt8)

    init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        bytes = (b0, b1, b2, b3)
    }

    /// Key byte number `index % 4`.
    @inline(__always)
    func byte(_ index: Int) -> UInt8 {
        switch index & 3 {
        case 0: return bytes.0
        case 1: return bytes.1
        case 2: return bytes.2
        default: return bytes.3
        }
    }

    /// Unmasks (or masks: XOR is its own inverse) `chunk` in place, where `chunk` starts at byte
    /// `payloadOffset` of the frame's payload.
    func apply(to chunk: UnsafeMutableRawBufferPointer, payloadOffset: Int) {
        guard let base = chunk.baseAddress else { return }
        let count = chunk.count
        // Eight key bytes in memory order, starting with the one that applies to chunk[0]. Built through memory
        // rather than shifts so the result is the same on either byte order.
        var wideKey: UInt64 = 0
        withUnsafeMutableBytes(of: &wideKey) { key in
            for position in 0..<8 {
                key[position] = byte(payloadOffset + position)
            }
        }
        var index = 0
        while index + 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            base.storeBytes(of: word ^ wideKey, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        // Eight is a multiple of four, so the key phase at `index` is unchanged.
        while index < count {
            let masked = base.load(fromByteOffset: index, as: UInt8.self)
            base.storeBytes(of: masked ^ byte(payloadOffset + index), toByteOffset: index, as: UInt8.self)
            index += 1
        }
    }
}
