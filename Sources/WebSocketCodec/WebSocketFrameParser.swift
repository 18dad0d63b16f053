/// Incremental parser for frames sent by a client (RFC 6455 5).
///
/// Bytes go in as they are read from the socket, in chunks of any size; complete messages and control frames come
/// out through a callback. Between calls it keeps only what an unfinished frame or message needs: at most 14 header
/// bytes and the payload received so far, never a buffer sized from what a header claims, so a peer cannot make
/// the server allocate memory it has not sent. Work is linear in the input.
///
/// One parser per connection; it is a value type with no locks, meant to be owned by the connection's loop thread.
public struct WebSocketFrameParser {
    /// The largest message (the sum of its fragments) accepted; larger ones end the connection with 1009.
    public let maxMessageSize: Int
    /// The negotiated permessage-deflate extension, if any: it allows RSV1 on the first frame of a message and
    /// inflates such messages before they are delivered.
    public let perMessageDeflate: PerMessageDeflate?

    /// The first violation seen; the parser refuses all further input with it.
    private var failure: WebSocketFrameError?
    /// Header bytes of a frame whose header was split across reads (at most 14).
    private var pendingHeader: [UInt8] = []
    /// The frame whose payload is being read, once its header was accepted.
    private var frame: FrameInProgress?
    /// The opcode (text or binary) of the data message being assembled, nil between messages.
    private var messageOpcode: WebSocketOpcode?
    /// Whether the data message being assembled had RSV1 set and must be inflated when complete.
    private var messageIsCompressed = false
    // Next to the other one-byte fields: a Bool between two words costs a word of padding per connection.
    /// Whether unmasked frames are refused. A server must refuse them (RFC 6455 5.1); tests that parse the
    /// server's own unmasked output turn this off.
    public let requireMasking: Bool
    /// Unmasked payload received so far for the data message being assembled, across its fragments.
    private var messageBytes: [UInt8] = []
    /// Unmasked payload received so far for the control frame being read (at most 125 bytes).
    private var controlBytes: [UInt8] = []

    /// What is known about the frame whose payload is being read.
    private struct FrameInProgress {
        var opcode: WebSocketOpcode
        var isFinal: Bool
        var mask: WebSocketMask?
        /// Payload bytes still to come.
        var remaining: Int
        /// Payload bytes already read: the key phase for the next chunk.
        var received: Int
    }

    /// - Parameters:
    ///   - maxMessageSize: the largest message accepted, after decompression; its compressed form is held to
    ///     the same limit.
    ///   - requireMasking: refuse unmasked frames, as a server must.
    ///   - perMessageDeflate: the extension agreed in the handshake, or nil when none was.
    public init(maxMessageSize: Int, requireMasking: Bool = true, perMessageDeflate: PerMessageDeflate? = nil) {
        self.maxMessageSize = max(0, maxMessageSize)
        self.requireMasking = requireMasking
        self.perMessageDeflate = perMessageDeflate
    }

    /// Feeds bytes read from the socket. Calls `onEvent` once per complete message or control frame, in order.
    /// Returns nil when all bytes were consumed (a partial frame is kept), or the first violation (then the caller
    /// closes the connection with `error.code`); after an error every call returns that same error.
    ///
    /// Events for frames that completed before the violation in the same chunk have already been delivered.
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer, _ onEvent: (WebSocketEvent) -> Void
    ) -> WebSocketFrameError? {
        if let failure { return failure }
        do {
            var index = 0
            while index < bytes.count {
                if frame == nil {
                    index = try readHeader(bytes, from: index)
                } else {
                    index = readPayload(bytes, from: index)
                }
                if let frame, frame.remaining == 0 {
                    try finishFrame(onEvent)
                }
            }
            return nil
        } catch {
            failure = error
            pendingHeader = []
            messageBytes = []
            controlBytes = []
            return error
        }
    }

    /// Feeds bytes read from the socket; see `feed(_:_:)` taking a raw buffer.
    public mutating func feed(_ bytes: [UInt8], _ onEvent: (WebSocketEvent) -> Void) -> WebSocketFrameError? {
        bytes.withUnsafeBytes { feed($0, onEvent) }
    }

    // MARK: - Header

    /// Reads header bytes starting at `index`; returns the index after the bytes used. Sets `frame` once the whole
    /// header has arrived and passed the rules.
    private mutating func readHeader(
        _ bytes: UnsafeRawBufferPointer, from index: Int
    ) throws(WebSocketFrameError) -> Int {
        if pendingHeader.isEmpty {
            // Usual case: the whole header is in this read, decode it in place.
            let rest = UnsafeRawBufferPointer(rebasing: bytes[index...])
            if let header = WebSocketFrameHeader.decode(rest) {
                try begin(header)
                return index + header.headerLength
            }
            if rest.count >= 2 {
                try checkFirstBytes(WebSocketFrameHeader(firstByte: rest[0], secondByte: rest[1]))
            }
            pendingHeader.reserveCapacity(WebSocketFrameHeader.maximumLength)
            pendingHeader.append(contentsOf: rest)
            return bytes.count
        }
        // The header started in an earlier read: copy only as many bytes as it still needs.
        var index = index
        while index < bytes.count {
            let needed = pendingHeader.count < 2
                ? 2
                : WebSocketFrameHeader(firstByte: pendingHeader[0], secondByte: pendingHeader[1]).headerLength
            let take = min(needed - pendingHeader.count, bytes.count - index)
            pendingHeader.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
            index += take
            guard pendingHeader.count == needed else { break }
            let start = WebSocketFrameHeader(firstByte: pendingHeader[0], secondByte: pendingHeader[1])
            if pendingHeader.count < start.headerLength {
                // Only the first two bytes so far: judge them now rather than after the rest arrives.
                try checkFirstBytes(start)
                continue
            }
            let decoded = pendingHeader.withUnsafeBytes { WebSocketFrameHeader.decode($0) }
            // Released rather than kept: an idle connection holds no header buffer.
            pendingHeader = []
            guard let header = decoded else {
                throw WebSocketFrameError(code: .internalError, reason: "header bookkeeping out of step")
            }
            try begin(header)
            break
        }
        return index
    }

    /// Applies every rule to a complete header and starts reading its payload.
    private mutating func begin(_ header: WebSocketFrameHeader) throws(WebSocketFrameError) {
        let opcode = try checkFirstBytes(header)
        let length = try checkLength(header, opcode: opcode)
        if opcode == .text || opcode == .binary {
            messageOpcode = opcode
            messageIsCompressed = header.reservedBits & WebSocketFrameHeader.rsv1 != 0
        }
        frame = FrameInProgress(
            opcode: opcode, isFinal: header.isFinal, mask: header.mask, remaining: length, received: 0)
    }

    /// The rules that the first two bytes decide: reserved bits, opcode, control frame shape, masking and the
    /// order of fragments. Returns the opcode.
    @discardableResult
    private func checkFirstBytes(_ header: WebSocketFrameHeader) throws(WebSocketFrameError) -> WebSocketOpcode {
        guard let opcode = WebSocketOpcode(rawValue: header.opcodeValue) else {
            throw .protocolError("reserved opcode \(header.opcodeValue)")
        }
        if header.reservedBits & ~WebSocketFrameHeader.rsv1 != 0 {
            throw .protocolError("RSV2 or RSV3 set without a negotiated extension")
        }
        if header.reservedBits & WebSocketFrameHeader.rsv1 != 0 {
            // permessage-deflate marks a compressed message on its first frame only (RFC 7692 6).
            if perMessageDeflate == nil {
                throw .protocolError("RSV1 set without a negotiated extension")
            }
            if opcode.isControl || opcode == .continuation {
                throw .protocolError("RSV1 set on a control or continuation frame")
            }
        }
        if requireMasking && !header.isMasked {
            throw .protocolError("client frame is not masked")
        }
        if opcode.isControl {
            if !header.isFinal {
                throw .protocolError("fragmented control frame")
            }
            if header.lengthCode > 125 {
                throw .protocolError("control frame payload over 125 bytes")
            }
        } else if opcode == .continuation {
            if messageOpcode == nil {
                throw .protocolError("continuation frame without a message in progress")
            }
        } else if messageOpcode != nil {
            throw .protocolError("new data frame while a fragmented message is in progress")
        }
        return opcode
    }

    /// The rules on the declared payload length, checked before any of the payload is stored. Returns the length.
    private func checkLength(
        _ header: WebSocketFrameHeader, opcode: WebSocketOpcode
    ) throws(WebSocketFrameError) -> Int {
        if header.payloadLength & (1 << 63) != 0 {
            throw .protocolError("64-bit payload length with the most significant bit set")
        }
        if !opcode.isControl {
            // Both terms are below 2^63, so the sum cannot overflow.
            let messageLength = UInt64(messageBytes.count) + header.payloadLength
            if messageLength > UInt64(maxMessageSize) {
                throw .messageTooBig("message of \(messageLength) bytes exceeds the limit of \(maxMessageSize)")
            }
        }
        return Int(header.payloadLength)
    }

    // MARK: - Payload

    /// Copies and unmasks as much of the current frame's payload as this read holds; returns the next index.
    private mutating func readPayload(_ bytes: UnsafeRawBufferPointer, from index: Int) -> Int {
        guard var current = frame else { return index }
        let take = min(current.remaining, bytes.count - index)
        let chunk = UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)])
        if current.opcode.isControl {
            Self.append(chunk, to: &controlBytes, mask: current.mask, payloadOffset: current.received)
        } else {
            Self.append(chunk, to: &messageBytes, mask: current.mask, payloadOffset: current.received)
        }
        current.remaining -= take
        current.received += take
        frame = current
        return index + take
    }

    private static func append(
        _ chunk: UnsafeRawBufferPointer, to buffer: inout [UInt8], mask: WebSocketMask?, payloadOffset: Int
    ) {
        let start = buffer.count
        buffer.append(contentsOf: chunk)
        guard let mask else { return }
        buffer.withUnsafeMutableBytes { all in
            mask.apply(to: UnsafeMutableRawBufferPointer(rebasing: all[start...]), payloadOffset: payloadOffset)
        }
    }

    /// Called when the current frame's payload is complete: emits a control frame, or a data message when this
    /// was its final fragment.
    private mutating func finishFrame(_ onEvent: (WebSocketEvent) -> Void) throws(WebSocketFrameError) {
        guard let finished = frame else { return }
        frame = nil
        if finished.opcode.isControl {
            let payload = controlBytes
            controlBytes = []
            switch finished.opcode {
            case .ping: onEvent(.ping(payload))
            case .pong: onEvent(.pong(payload))
            default:
                let close = try WebSocketClosePayload.decode(payload)
                onEvent(.close(code: close.code, reason: close.reason))
            }
            return
        }
        guard finished.isFinal, let opcode = messageOpcode else { return }
        // Hand the buffer over to the event: the next message starts a fresh one, nothing is copied.
        var payload = messageBytes
        messageBytes = []
        messageOpcode = nil
        if messageIsCompressed, let perMessageDeflate {
            messageIsCompressed = false
            payload = try perMessageDeflate.inflate(payload, maxSize: maxMessageSize)
        }
        if opcode == .text {
            guard UTF8Validation.isValid(payload) else {
                throw .invalidPayload("text message is not valid UTF-8")
            }
            onEvent(.text(payload))
        } else {
            onEvent(.binary(payload))
        }
    }
}
