// Harness `msgpack`: the MessagePack decoder of the Redis adapter (MsgPackCodec/MsgPack.swift over msgpack-c),
// which reads what other nodes publish on Redis (the notepack.io format of Node's redis adapter).
//
// Input: the bytes of one message, in a heap block of exactly their size.
//
// Checked:
//  - no allocation is sized from what a header claims rather than from the bytes received (libFuzzer's
//    -malloc_limit_mb reports it: an array or map header may announce 2^32 - 1 members in 5 bytes);
//  - a decoded value encodes (MsgPackValue.encoded) to bytes that decode again, and the encoding is stable from
//    then on (decode . encode is the identity on what decode produces, `undefined` aside);
//  - nesting stays within msgpack-c's 32 levels; the encoding is at most 8 x the input (map keys that are not
//    strings become their JavaScript text: nil -> "null", a float64 -> up to 24 characters).
//
// Built from a copy of MsgPack.swift without its `import SocketIOCodec` (Makefile), compiled with the
// SocketIOCodec sources as one module.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard let value = try? MsgPackValue.decode(input) else { return 0 }
    verbose("msgpack: \(value)")
    fuzzCheck(depth(value) <= 33, "nesting \(depth(value))")
    let encoded = value.encoded()
    fuzzCheck(encoded.count <= 8 * size + 16, "encoded \(encoded.count) bytes from \(size)")
    guard let again = withExactCopy(encoded, { try? MsgPackValue.decode($0) }) else {
        fuzzFail("encoded value does not decode: \(hex(encoded))")
    }
    fuzzCheck(normalized(again) == normalized(value), "round trip changed the value: \(hex(encoded))")
    let twice = again.encoded()
    fuzzCheck(twice == encoded || normalizedBytes(value),
              "encoding is not stable: \(hex(encoded)) then \(hex(twice))")
    return 0
}

/// `undefined` inside an array is written as nil (notepack), so it comes back as null.
func normalized(_ value: MsgPackValue) -> MsgPackValue {
    switch value {
    case .undefined: return .null
    case .array(let elements): return .array(elements.map(normalized))
    case .map(let members): return .map(members.map { ($0.0, normalized($0.1)) })
    default: return value
    }
}

/// Whether the value holds something whose encoding may legitimately change once (an `undefined`).
func normalizedBytes(_ value: MsgPackValue) -> Bool {
    switch value {
    case .undefined: return true
    case .array(let elements): return elements.contains(where: normalizedBytes)
    case .map(let members): return members.contains { normalizedBytes($0.1) }
    default: return false
    }
}

func depth(_ value: MsgPackValue) -> Int {
    switch value {
    case .array(let elements): return 1 + (elements.map(depth).max() ?? 0)
    case .map(let members): return 1 + (members.map { depth($0.1) }.max() ?? 0)
    default: return 0
    }
}
