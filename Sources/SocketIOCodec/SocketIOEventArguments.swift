/// A view of an EVENT or ACK payload as the application wants it: the event name, and the arguments as one
/// JSON array of raw bytes, found without building a tree.
public struct SocketIOEventArguments {
    /// Splits an EVENT payload `["name", a, b]` into the name and `[a,b]` (`[]` when there are none).
    ///
    /// The name is the decoded first string; when the first element is a number it is that number's JavaScript
    /// text ("1", "1.5", "1e+21"), since the reference server dispatches it under that property name.
    /// The arguments are sliced with one copy; the payload must be one the decoder accepted (only the first
    /// element is checked here). Throws "invalid payload" when the payload is not an array starting with a
    /// string or a number.
    public static func event(_ payload: [UInt8]) throws(SocketIOCodecError) -> (name: String, arguments: [UInt8]) {
        let outcome: Result<(name: String, arguments: [UInt8]), SocketIOCodecError> = payload.withUnsafeBytes {
            bytes in
            guard let found = try? JSONScanCore.scanLeadingScalar(bytes) else { return .failure(.invalidPayload) }
            let p = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let name: String
            if p[found.element.lowerBound] == ASCII.quote {
                name = JSONStringCoding.decodeString(p, found.element)
            } else {
                name = JSNumberFormatting.string(
                    fromJSONNumber: UnsafeBufferPointer(start: p + found.element.lowerBound, count: found.element.count))
            }
            if found.closes { return .success((name, [ASCII.openBracket, ASCII.closeBracket])) }
            let rest = UnsafeRawBufferPointer(rebasing: bytes[found.next...])  // `a,b]`
            let arguments = [UInt8](unsafeUninitializedCapacity: rest.count + 1) { buffer, initialized in
                buffer[0] = ASCII.openBracket
                UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[1...])).copyMemory(from: rest)
                initialized = rest.count + 1
            }
            return .success((name, arguments))
        }
        return try outcome.get()
    }

    /// The arguments of an ACK payload, which is already a JSON array: returned as is.
    public static func ack(_ payload: [UInt8]) -> [UInt8] {
        payload
    }
}
