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
        // The closure returns nothing and fills these: a generic Result of a tuple would cost a runtime type
        // metadata lookup on every call.
        var name = ""
        var arguments: [UInt8] = []
        var found = false
        payload.withUnsafeBufferPointer { buffer in
            guard let split = try? JSONScanCore.scanLeadingScalar(UnsafeRawBufferPointer(buffer)) else { return }
            let p = buffer.baseAddress!
            let element = split.element
            if p[element.lowerBound] == ASCII.quote {
                name = JSONStringCoding.decodeString(p, element)
            } else {
                name = JSNumberFormatting.string(
                    fromJSONNumber: UnsafeBufferPointer(start: p + element.lowerBound, count: element.count))
            }
            if split.closes {
                arguments = [ASCII.openBracket, ASCII.closeBracket]
            } else {
                let rest = UnsafeBufferPointer(rebasing: buffer[split.next...])  // `a,b]`
                arguments.reserveCapacity(rest.count + 1)
                arguments.append(ASCII.openBracket)
                arguments.append(contentsOf: rest)
            }
            found = true
        }
        guard found else { throw .invalidPayload }
        return (name, arguments)
    }

    /// The arguments of an ACK payload, which is already a JSON array: returned as is.
    public static func ack(_ payload: [UInt8]) -> [UInt8] {
        payload
    }
}
