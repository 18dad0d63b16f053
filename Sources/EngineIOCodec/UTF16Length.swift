/// Lengths in UTF-16 code units, as JavaScript's `String.length` counts them: what Engine.IO v3's `<length>:`
/// payload framing counts (a character outside the BMP, a surrogate pair, counts 2).
public enum UTF16Length {
    /// The UTF-16 length of valid UTF-8: one unit per scalar, two for a 4-byte sequence.
    public static func of(_ utf8: some Sequence<UInt8>) -> Int {
        var units = 0
        for byte in utf8 {
            if byte & 0xC0 != 0x80 { units += 1 }
            if byte >= 0xF0 { units += 1 }
        }
        return units
    }

    /// The UTF-16 units of the scalar whose UTF-8 sequence starts with `lead`.
    @inline(__always) static func units(lead: UInt8) -> Int { lead >= 0xF0 ? 2 : 1 }

    /// The byte length of the UTF-8 sequence that starts with `lead` (valid UTF-8 assumed).
    @inline(__always) static func sequenceLength(lead: UInt8) -> Int {
        switch lead {
        case ..<0x80: return 1
        case 0xF0...: return 4
        case 0xE0...: return 3
        default: return 2
        }
    }
}
