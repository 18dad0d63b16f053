/// Which JavaScript msgpack library a value's bytes must match, where the two the Socket.IO packages use differ.
public enum MsgPackDialect: Sendable {
    /// notepack.io 3 (the classic Redis adapter, the msgpack parser): integers up to 2^64 as integers, `undefined`
    /// members dropped from maps.
    case notepack
    /// @msgpack/msgpack 2.8 `encode` with its default options (the Redis streams adapter): only safe integers
    /// (|n| < 2^53) as integers, any other number as float64 (Encoder.ts `encodeNumber`); `undefined` members
    /// written as nil, since `ignoreUndefined` is false by default (`encodeMap`).
    case msgpackJavaScript
}

extension MsgPackValue {
    /// A JavaScript number as `dialect` encodes it.
    public static func number(_ value: Double, dialect: MsgPackDialect) -> MsgPackValue {
        switch dialect {
        case .notepack:
            return number(value)
        case .msgpackJavaScript:
            // Number.isSafeInteger: finite, whole, and within ±(2^53 - 1); -0 is one (written as 0).
            guard value.isFinite, value.rounded(.towardZero) == value, value.magnitude <= 9_007_199_254_740_991 else {
                return .double(value)
            }
            return .int(Int64(value))
        }
    }

    /// The MessagePack bytes of the value, as `dialect` writes them.
    public func encoded(dialect: MsgPackDialect) -> [UInt8] {
        let writer = MsgPackWriter(dialect: dialect)
        writer.write(self)
        return writer.bytes
    }
}
