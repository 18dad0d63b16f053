/// Encodes packets from the server to a client: the Engine.IO message payload text (without Engine.IO's "4"),
/// laid out exactly as the reference encoder (socket.io-parser `encodeAsString`) lays it out:
/// `<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]`. Binary attachments are sent by the caller,
/// after the text, in order.
///
/// Payloads are trusted bytes (produced by our own code or validated on the way in); nothing here re-scans them.
/// A namespace must not contain a comma (the comma ends it on the wire; the reference encoder throws): check
/// names with `isValidNamespace` when they are registered, not per packet.
public enum SocketIOPacketEncoder {
    /// Encodes a whole packet; for binary types the attachment count is `packet.attachments.count`.
    public static func encode(_ packet: SocketIOPacket) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerCapacity(packet.namespace) + (packet.payload?.count ?? 0))
        appendHeader(
            type: packet.type, namespace: packet.namespace, ackId: packet.ackId,
            attachmentCount: packet.attachments.count, to: &out)
        if let payload = packet.payload { out.append(contentsOf: payload) }
        return out
    }

    /// Appends the header alone: type, `N-` for binary types, `/nsp,` when the namespace is not "/", ack id.
    public static func appendHeader(
        type: SocketIOPacketType, namespace: String, ackId: UInt64?, attachmentCount: Int, to out: inout [UInt8]
    ) {
        out.append(ASCII.zero &+ type.rawValue)
        if type.isBinary {
            appendDecimal(UInt64(Swift.max(0, attachmentCount)), to: &out)
            out.append(ASCII.minus)
        }
        if !isMainNamespace(namespace) {
            out.append(contentsOf: namespace.utf8)
            out.append(ASCII.comma)
        }
        if let ackId { appendDecimal(ackId, to: &out) }
    }

    /// Appends an EVENT (BINARY_EVENT when `attachmentCount > 0`) carrying `[event, ...arguments]`, straight into
    /// the caller's buffer so the Engine.IO and WebSocket layers can put their headers in front without a
    /// second copy.
    ///
    /// `argumentsJSON` is a JSON array `[a,b]` (`[]` or empty bytes for none); its elements are spliced after the
    /// event name with one copy. Anything that does not start with `[` is sent as a single argument.
    public static func appendEvent(
        namespace: String, event: String, argumentsJSON: [UInt8], ackId: UInt64?, attachmentCount: Int,
        to out: inout [UInt8]
    ) {
        out.reserveCapacity(out.count + headerCapacity(namespace) + event.utf8.count + argumentsJSON.count + 4)
        appendHeader(
            type: attachmentCount > 0 ? .binaryEvent : .event, namespace: namespace, ackId: ackId,
            attachmentCount: attachmentCount, to: &out)
        out.append(ASCII.openBracket)
        JSONStringCoding.appendQuoted(event, to: &out)
        argumentsJSON.withUnsafeBufferPointer { args in
            var i = 0
            while i < args.count && ASCII.isJSONWhitespace(args[i]) { i += 1 }
            guard i < args.count else {
                out.append(ASCII.closeBracket)  // no arguments
                return
            }
            guard args[i] == ASCII.openBracket else {
                out.append(ASCII.comma)
                out.append(contentsOf: args)
                out.append(ASCII.closeBracket)
                return
            }
            let afterOpen = i + 1
            i = afterOpen
            while i < args.count && ASCII.isJSONWhitespace(args[i]) { i += 1 }
            if i < args.count && args[i] == ASCII.closeBracket {
                out.append(ASCII.closeBracket)  // `[]`
            } else {
                out.append(ASCII.comma)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: args[afterOpen...]))  // `a,b]`
            }
        }
    }

    /// Appends an ACK (BINARY_ACK when `attachmentCount > 0`) whose payload is `argumentsJSON`, a JSON array
    /// (`[]` for none; empty bytes are sent as `[]`, since the reference requires an ACK payload to be an array).
    public static func appendAck(
        namespace: String, ackId: UInt64, argumentsJSON: [UInt8], attachmentCount: Int, to out: inout [UInt8]
    ) {
        out.reserveCapacity(out.count + headerCapacity(namespace) + argumentsJSON.count + 2)
        appendHeader(
            type: attachmentCount > 0 ? .binaryAck : .ack, namespace: namespace, ackId: ackId,
            attachmentCount: attachmentCount, to: &out)
        if argumentsJSON.isEmpty {
            out.append(ASCII.openBracket)
            out.append(ASCII.closeBracket)
        } else {
            out.append(contentsOf: argumentsJSON)
        }
    }

    /// Whether a namespace name can be sent: it must not contain a comma. (Names should also start with "/".)
    public static func isValidNamespace(_ namespace: String) -> Bool {
        !namespace.utf8.contains(ASCII.comma)
    }

    // MARK: - Helpers

    /// The reference leaves out the namespace when it is "/" (or empty).
    @inline(__always)
    private static func isMainNamespace(_ namespace: String) -> Bool {
        let utf8 = namespace.utf8
        return utf8.isEmpty || (utf8.count == 1 && utf8.first == ASCII.slash)
    }

    /// Type, attachment count, namespace, comma, ack id: a generous bound, to reserve once.
    @inline(__always)
    private static func headerCapacity(_ namespace: String) -> Int {
        namespace.utf8.count + 48
    }

    /// Appends `{"_placeholder":true,"num":N}`, the JSON that stands for attachment `index` among the arguments.
    public static func appendPlaceholder(_ index: Int, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"_placeholder":true,"num":"#.utf8)
        appendDecimal(UInt64(index), to: &out)
        out.append(ASCII.closeBrace)
    }

    /// Appends the decimal digits of `value`, written backwards into a small stack buffer then appended at once.
    public static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 {
            out.append(ASCII.zero &+ UInt8(value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var rest = value
            var k = 20
            repeat {
                k &-= 1
                digits[k] = ASCII.zero &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            } while rest != 0
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[k..<20]))
        }
    }
}
