/// Limits that protect the server from hostile packets. Defaults as the reference server.
public struct SocketIODecoderLimits: Sendable, Equatable {
    /// The most binary attachments one packet may announce (the reference parser's `maxAttachments`, 10).
    public var maxAttachments: Int
    /// The deepest nesting of arrays and objects accepted in a payload. The reference has no such limit (V8's
    /// JSON.parse is iterative); ours bounds the scanner's state and the depth of any tree built from a payload.
    public var maxNestingDepth: Int

    public init(maxAttachments: Int = 10, maxNestingDepth: Int = 64) {
        self.maxAttachments = maxAttachments
        self.maxNestingDepth = maxNestingDepth
    }
}

/// The decoder for one Engine.IO connection: a text message makes a packet, except that a binary packet
/// (BINARY_EVENT, BINARY_ACK) is only complete once the binary messages it announced have arrived.
///
/// It accepts and refuses what the reference parser (socket.io-parser `Decoder`) does, with the error texts of
/// `SocketIOCodecError`; any error means the connection should be closed, as the reference server does. The
/// payload is validated in one pass (JSON syntax, UTF-8, nesting depth, the shape the packet type requires,
/// and for binary packets the placeholders) and handed on as raw bytes.
///
/// A value type with no shared state: one per connection, used on that connection's loop thread.
public struct SocketIOPacketDecoder: Sendable {
    public enum Result: Sendable {
        case packet(SocketIOPacket)
        case needsAttachments
    }

    public var limits: SocketIODecoderLimits

    /// The binary packet collecting its attachments.
    private var pending: SocketIOPacket?
    private var expectedAttachments = 0
    /// Whether the pending packet's placeholders were well formed. Checked when the text arrived (in the same
    /// pass as the JSON) but reported, as the reference does, once the last attachment arrives.
    private var pendingPlaceholdersValid = true

    public init(limits: SocketIODecoderLimits = .init()) {
        self.limits = limits
    }

    /// Whether binary messages are expected before the next text message.
    public var isAwaitingAttachments: Bool { pending != nil }

    /// Forgets a partly received binary packet.
    public mutating func reset() {
        pending = nil
        expectedAttachments = 0
        pendingPlaceholdersValid = true
    }

    /// Decodes a text message (the Engine.IO message payload, without Engine.IO's "4").
    ///
    /// Errors: a malformed header, invalid JSON, a payload not valid for the type (CONNECT: an object or
    /// absent; DISCONNECT: absent; CONNECT_ERROR: a string or an object; EVENT: an array whose first element is
    /// a number or a string that is not reserved; ACK: an array), a text while attachments are pending, an
    /// attachment count above the limit, an ack id that is not a run of at most 16 digits.
    ///
    /// Like the reference, a packet without payload is accepted whatever its type (e.g. "2" is an EVENT with
    /// `payload == nil`); the server layer decides what that means (the reference treats it as no arguments).
    public mutating func decode(text: UnsafeRawBufferPointer) throws(SocketIOCodecError) -> Result {
        guard pending == nil else { throw .unexpectedText }
        guard let base = text.baseAddress, text.count > 0 else { throw .unknownPacketType }
        let p = base.assumingMemoryBound(to: UInt8.self)
        let header = try SocketIOPacketHeader.parse(p, count: text.count, maxAttachments: limits.maxAttachments)

        var packet = SocketIOPacket(type: header.type, namespace: header.namespace, ackId: header.ackId)
        var placeholdersValid = true
        if header.payloadStart < text.count {
            let body = UnsafeRawBufferPointer(rebasing: text[header.payloadStart...])
            guard header.type != .disconnect else { throw .invalidPayload }
            let summary: JSONScanSummary
            do {
                summary = try JSONScanCore.scan(
                    body, maxDepth: limits.maxNestingDepth,
                    placeholderLimit: header.type.isBinary ? header.attachmentCount : -1
                ).summary
            } catch {
                throw .invalidPayload
            }
            guard Self.isPayloadValid(header.type, p + header.payloadStart, summary) else { throw .invalidPayload }
            placeholdersValid = summary.placeholdersValid
            packet.payload = Array(body)
        }

        guard header.type.isBinary else { return .packet(packet) }
        packet.attachments.reserveCapacity(header.attachmentCount)
        pending = packet
        expectedAttachments = header.attachmentCount
        pendingPlaceholdersValid = placeholdersValid
        return .needsAttachments
    }

    /// Decodes a text message given as bytes.
    public mutating func decode(text: [UInt8]) throws(SocketIOCodecError) -> Result {
        var outcome = Result.needsAttachments
        var failure: SocketIOCodecError? = nil
        text.withUnsafeBytes { bytes in
            do throws(SocketIOCodecError) { outcome = try decode(text: bytes) } catch { failure = error }
        }
        if let failure { throw failure }
        return outcome
    }

    /// Decodes a text message given as a string.
    public mutating func decode(text: String) throws(SocketIOCodecError) -> Result {
        var text = text
        var outcome = Result.needsAttachments
        var failure: SocketIOCodecError? = nil
        text.withUTF8 { bytes in
            do throws(SocketIOCodecError) { outcome = try decode(text: UnsafeRawBufferPointer(bytes)) } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return outcome
    }

    /// Takes one binary message (an attachment). The array is kept as is, not copied.
    ///
    /// Errors when no binary packet is waiting ("got binary data when not reconstructing a packet"), and, once
    /// the last attachment has arrived, when a placeholder is not exactly `{"_placeholder":true,"num":N}` (keys in
    /// any order) with N an integer in `0..<attachmentCount` ("illegal attachments").
    public mutating func decode(binary: [UInt8]) throws(SocketIOCodecError) -> Result {
        guard pending != nil else { throw .unexpectedBinary }
        pending!.attachments.append(binary)
        guard pending!.attachments.count == expectedAttachments else { return .needsAttachments }
        let packet = pending!
        let valid = pendingPlaceholdersValid
        reset()
        guard valid else { throw .illegalAttachments }
        return .packet(packet)
    }

    /// Takes one binary message, copying it.
    public mutating func decode(binary: UnsafeRawBufferPointer) throws(SocketIOCodecError) -> Result {
        try decode(binary: Array(binary))
    }

    /// The reference parser's `isPayloadValid`, on the scanner's summary instead of a parsed value.
    private static func isPayloadValid(
        _ type: SocketIOPacketType, _ body: UnsafePointer<UInt8>, _ summary: JSONScanSummary
    ) -> Bool {
        let root = body[summary.rootStart]
        switch type {
        case .connect:
            return root == ASCII.openBrace
        case .disconnect:
            return false
        case .connectError:
            return root == ASCII.quote || root == ASCII.openBrace
        case .ack, .binaryAck:
            return root == ASCII.openBracket
        case .event, .binaryEvent:
            guard root == ASCII.openBracket, let first = summary.firstElement else { return false }
            let c = body[first.lowerBound]
            if c == ASCII.minus || ASCII.isDigit(c) { return true }
            guard c == ASCII.quote else { return false }
            return !isReservedEventName(body, first)
        }
    }

    /// Whether the validated string literal in `range` (quotes included) is a reserved event name.
    static func isReservedEventName(_ p: UnsafePointer<UInt8>, _ range: Range<Int>) -> Bool {
        let contents = UnsafeBufferPointer(start: p + range.lowerBound + 1, count: range.count - 2)
        guard contents.contains(ASCII.backslash) else {
            // The common case: compare bytes, no String made.
            return isReservedEvent(utf8: UnsafeRawBufferPointer(contents))
        }
        return socketIOReservedEvents.contains(JSONStringCoding.decodeString(p, range))
    }
}
