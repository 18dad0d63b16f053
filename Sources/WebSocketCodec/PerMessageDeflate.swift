import CZlib

/// The permessage-deflate extension (RFC 7692) for one connection, or shared for outgoing broadcasts.
///
/// Negotiate with `PerMessageDeflate.negotiate(offer:options:)` during the handshake, send
/// `parameters.responseHeaderValue` back, and pass the object to `WebSocketFrameParser` so that messages with
/// RSV1 are accepted and inflated. Outgoing messages are compressed with `compressedFrame(opcode:payload:)`.
///
/// zlib state is created on first use. In a direction without context takeover it is released after every
/// message, so an idle connection holds no zlib memory; with context takeover it lives as long as this object.
/// Not thread-safe: owned by one loop thread like the connection it belongs to.
public final class PerMessageDeflate {
    public let parameters: Parameters
    private let compressionLevel: Int
    private let memoryLevel: Int
    private var inflater: ZlibInflateStream?
    private var deflater: ZlibDeflateStream?

    /// The four bytes a sender strips from the end of each compressed message and a receiver puts back
    /// (RFC 7692 7.2.1 and 7.2.2).
    private static let flushTail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    public init(parameters: Parameters, compressionLevel: Int = 6, memoryLevel: Int = 8) {
        self.parameters = parameters
        self.compressionLevel = min(max(compressionLevel, 0), 9)
        self.memoryLevel = min(max(memoryLevel, 1), 9)
    }

    /// Takes the compression settings from the options the parameters were negotiated with.
    public convenience init(parameters: Parameters, options: Options) {
        self.init(parameters: parameters, compressionLevel: options.compressionLevel, memoryLevel: options.memoryLevel)
    }

    /// Decompresses the payload of a message that had RSV1 set. A result over `maxSize` bytes is refused with
    /// 1009 as soon as the output passes the limit, so a small "zip bomb" cannot make the server allocate more
    /// than `maxSize + 1` bytes; data that is not deflate is refused with 1007.
    public func inflate(_ compressed: UnsafeRawBufferPointer, maxSize: Int) throws(WebSocketFrameError) -> [UInt8] {
        try inflateResult(compressed, maxSize: maxSize).get()
    }

    /// Decompresses the payload of a message that had RSV1 set; see the raw-buffer variant.
    public func inflate(_ compressed: [UInt8], maxSize: Int) throws(WebSocketFrameError) -> [UInt8] {
        try compressed.withUnsafeBytes { inflateResult($0, maxSize: maxSize) }.get()
    }

    private func inflateResult(
        _ compressed: UnsafeRawBufferPointer, maxSize: Int
    ) -> Result<[UInt8], WebSocketFrameError> {
        // At least 9 bits: zlib cannot compress raw deflate with an 8-bit window and silently uses 9, so a client
        // told to use 8 may really use 9; a larger window than the sender's is always safe for inflating.
        let windowBits = max(parameters.clientMaxWindowBits, 9)
        guard let stream = inflater ?? ZlibInflateStream(windowBits: windowBits) else {
            return .failure(WebSocketFrameError(code: .internalError, reason: "cannot start zlib inflate"))
        }
        // Kept only while the client's history matters; otherwise released when this message is done.
        inflater = parameters.clientNoContextTakeover ? nil : stream
        var output: [UInt8] = []
        var outcome = stream.inflate(compressed, appendingTo: &output, limit: maxSize)
        if case .consumed = outcome {
            outcome = Self.flushTail.withUnsafeBytes { stream.inflate($0, appendingTo: &output, limit: maxSize) }
        }
        switch outcome {
        case .consumed:
            return .success(output)
        case .ended:
            // The client closed its deflate stream with a final block; the next message starts a new one.
            stream.reset()
            return .success(output)
        case .tooBig:
            inflater = nil
            return .failure(.messageTooBig("inflated message exceeds the limit of \(maxSize) bytes"))
        case .corrupt(let reason):
            inflater = nil
            return .failure(.invalidPayload("permessage-deflate: \(reason)"))
        case .failed(let reason):
            inflater = nil
            return .failure(WebSocketFrameError(code: .internalError, reason: "permessage-deflate: \(reason)"))
        }
    }

    /// Compresses an outgoing payload: the bytes to send in a frame with RSV1 set, without the trailing
    /// 0x00 0x00 0xFF 0xFF. Returns nil only if zlib fails (out of memory); send the payload uncompressed then.
    public func deflate(_ payload: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let stream = deflater ?? ZlibDeflateStream(
            windowBits: parameters.serverMaxWindowBits, level: compressionLevel, memoryLevel: memoryLevel)
        else { return nil }
        deflater = parameters.serverNoContextTakeover ? nil : stream
        var output: [UInt8] = []
        guard stream.deflate(payload, appendingTo: &output) else {
            deflater = nil
            return nil
        }
        if output.count >= 4 && output.suffix(4).elementsEqual(Self.flushTail) {
            output.removeLast(4)
        }
        // RFC 7692 7.2.3.6: an empty compressed payload is sent as a single 0x00 byte.
        if output.isEmpty { output = [0x00] }
        return output
    }

    /// Compresses an outgoing payload; see the raw-buffer variant.
    public func deflate(_ payload: [UInt8]) -> [UInt8]? {
        payload.withUnsafeBytes { deflate($0) }
    }

    /// A whole compressed frame (RSV1 set), or nil if zlib failed. Encode a broadcast once with a shared object
    /// that has `serverNoContextTakeover` and send the same bytes to every recipient that negotiated the extension.
    public func compressedFrame(opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let compressed = deflate(payload) else { return nil }
        var frame: [UInt8] = []
        frame.reserveCapacity(WebSocketFrameEncoder.headerSize(payloadLength: compressed.count) + compressed.count)
        WebSocketFrameEncoder.appendHeader(opcode: opcode, payloadLength: compressed.count, rsv1: true, to: &frame)
        frame += compressed
        return frame
    }

    /// A whole compressed frame (RSV1 set), or nil if zlib failed.
    public func compressedFrame(opcode: WebSocketOpcode, payload: [UInt8]) -> [UInt8]? {
        payload.withUnsafeBytes { compressedFrame(opcode: opcode, payload: $0) }
    }
}
