/// A msgpack writer for the few forms a packet's envelope needs (map and array headers, strings, unsigned integers)
/// and for bytes that already are msgpack, appending to one array reserved at about its final size.
///
/// The msgpack parser writes a packet with it when the packet's arguments are kept as they came
/// (`PackedArguments`): there msgpack-c's packer (`MsgPackWriter`) would cost a write callback for every header and
/// a copy out, more than the packet's own work. Each form is written as msgpack-c writes it, in its smallest form,
/// so the two writers give the same bytes (MsgPackBufferTests).
public struct MsgPackBuffer {
    public private(set) var bytes: [UInt8] = []
    /// Set by `abandon`: the bytes are not to be used.
    public private(set) var abandoned = false

    public init(capacity: Int) { bytes.reserveCapacity(capacity) }

    /// The packet holds something this writer does not write: its bytes are not to be used.
    public mutating func abandon() { abandoned = true }

    public mutating func writeMapHeader(_ count: Int) {
        header(count, short: 0x80, tag16: 0xde, tag32: 0xdf)
    }

    public mutating func writeArrayHeader(_ count: Int) {
        header(count, short: 0x90, tag16: 0xdc, tag32: 0xdd)
    }

    public mutating func writeString(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            switch utf8.count {
            case 0..<32: bytes.append(0xa0 | UInt8(utf8.count))
            case 0...0xff: bytes.append(0xd9); bytes.append(UInt8(utf8.count))
            case 0...0xffff: bytes.append(0xda); bigEndian(UInt64(utf8.count), size: 2)
            default: bytes.append(0xdb); bigEndian(UInt64(truncatingIfNeeded: utf8.count), size: 4)
            }
            append(utf8)
        }
    }

    /// A map's key known at compile time (below 32 bytes: a fixstr).
    public mutating func writeKey(_ key: StaticString) {
        bytes.append(0xa0 | UInt8(key.utf8CodeUnitCount))
        append(UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
    }

    public mutating func writeUInt(_ value: UInt64) {
        switch value {
        case 0..<0x80: bytes.append(UInt8(value))
        case 0..<0x100: bytes.append(0xcc); bigEndian(value, size: 1)
        case 0..<0x1_0000: bytes.append(0xcd); bigEndian(value, size: 2)
        case 0..<0x1_0000_0000: bytes.append(0xce); bigEndian(value, size: 4)
        default: bytes.append(0xcf); bigEndian(value, size: 8)
        }
    }

    /// Bytes that already are msgpack, as they are.
    public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw.assumingMemoryBound(to: UInt8.self))
    }

    /// Names (keys, namespaces) a byte at a time: cheaper than `append(contentsOf:)` for a few bytes.
    private mutating func append(_ utf8: UnsafeBufferPointer<UInt8>) {
        if utf8.count > 16 {
            bytes.append(contentsOf: utf8)
        } else {
            for byte in utf8 { bytes.append(byte) }
        }
    }

    /// A header whose count is in its tag below 16, then after a tag of 16 or 32 bits.
    private mutating func header(_ count: Int, short: UInt8, tag16: UInt8, tag32: UInt8) {
        switch count {
        case 0..<16: bytes.append(short | UInt8(count))
        case 0...0xffff: bytes.append(tag16); bigEndian(UInt64(count), size: 2)
        default: bytes.append(tag32); bigEndian(UInt64(truncatingIfNeeded: count), size: 4)
        }
    }

    private mutating func bigEndian(_ value: UInt64, size: Int) {
        for index in (0..<size).reversed() { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * index))) }
    }
}
