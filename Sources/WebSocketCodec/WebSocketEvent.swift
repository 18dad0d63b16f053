/// What the parser hands to its caller: one case per complete message or control frame.
///
/// Payloads are owned arrays (already unmasked and, for text, UTF-8 validated) so the caller can keep them
/// without copying; the parser hands over its buffer and starts a new one for the next message.
public enum WebSocketEvent: Equatable, Sendable {
    /// A complete (possibly reassembled) text message: valid UTF-8, unmasked.
    case text([UInt8])
    /// A complete (possibly reassembled) binary message, unmasked.
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// The peer's close frame. `code` is nil when the body was empty; `reason` is valid UTF-8.
    case close(code: UInt16?, reason: [UInt8])
}
