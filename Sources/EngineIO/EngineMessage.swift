import EngineIOCodec
import WebSocketCodec

/// One outgoing packet, immutable and shared: a broadcast builds one and hands it to every recipient. Each
/// transport's encoding (the WebSocket frame, the polling segment) is built on first use and then reused, so N
/// recipients cost one encoding and N references, never N copies. Loop thread only (the lazy encodings are
/// unsynchronised); the shared control packets below are built eagerly.
public final class EngineMessage {
    public let type: EnginePacketType
    public let data: [UInt8]
    public let isBinary: Bool
    /// Droppable when the recipient is not ready to write (Socket.IO's `volatile`).
    public let isVolatile: Bool
    /// Allow HTTP compression of the polling response carrying it.
    public let compress: Bool

    public init(type: EnginePacketType = .message, data: [UInt8], isBinary: Bool = false, isVolatile: Bool = false,
                compress: Bool = true) {
        self.type = type
        self.data = data
        self.isBinary = isBinary
        self.isVolatile = isVolatile
        self.compress = compress
    }

    public convenience init(text: [UInt8], isVolatile: Bool = false, compress: Bool = true) {
        self.init(type: .message, data: text, isBinary: false, isVolatile: isVolatile, compress: compress)
    }

    public convenience init(binary: [UInt8], isVolatile: Bool = false, compress: Bool = true) {
        self.init(type: .message, data: binary, isBinary: true, isVolatile: isVolatile, compress: compress)
    }

    /// The WebSocket frame: a text frame `<type digit><data>`, or a binary frame with the raw bytes.
    public var webSocketFrame: [UInt8] {
        if let builtFrame { return builtFrame }
        let frame: [UInt8]
        if isBinary {
            frame = WebSocketFrameEncoder.frame(opcode: .binary, payload: data)
        } else {
            var text: [UInt8] = []
            let length = data.count + 1
            text.reserveCapacity(WebSocketFrameEncoder.headerSize(payloadLength: length) + length)
            WebSocketFrameEncoder.appendHeader(opcode: .text, payloadLength: length, to: &text)
            text.append(type.wireByte)
            text.append(contentsOf: data)
            frame = text
        }
        builtFrame = frame
        return frame
    }
    private var builtFrame: [UInt8]?

    /// The polling segment: `<type digit><data>` or `b<base64>`.
    public var pollingSegment: [UInt8] {
        if let builtSegment { return builtSegment }
        var segment: [UInt8] = []
        segment.reserveCapacity(isBinary ? Base64.encodedCount(data.count) + 1 : data.count + 1)
        EngineIOCodec.appendPollingSegment(EnginePacket(type: type, data: data, isBinary: isBinary), to: &segment)
        builtSegment = segment
        return segment
    }
    private var builtSegment: [UInt8]?
    /// Engine.IO v3 encodings, built on first use like the two above (EngineMessage+V3.swift).
    var builtV3 = V3Encodings()

    /// The same message for one other loop: the bytes (and the WebSocket frame, built here once) are shared, the
    /// lazily built encodings are the copy's own, so the two loops never write to one object. Call on the loop
    /// that owns this message; hand each other loop its own copy.
    public func copyForAnotherLoop() -> EngineMessage {
        let copy = EngineMessage(type: type, data: data, isBinary: isBinary, isVolatile: isVolatile, compress: compress)
        copy.builtFrame = webSocketFrame
        copy.builtSegment = builtSegment
        return copy
    }

    /// The frame compressed with permessage-deflate, built once per message for every recipient with the same
    /// stateless terms (no server context takeover, same window): the compressed bytes do not depend on who sends.
    private var deflatedFrame: [UInt8]?
    private var deflatedWindowBits = 0

    func webSocketFrame(deflate: PerMessageDeflate, protocolVersion: EngineProtocol = .v4) -> [UInt8] {
        if protocolVersion == .v3, isBinary {
            // A v3 binary frame starts with its type byte: compressed for this recipient alone (v3 clients that
            // offer permessage-deflate and receive binary are rare).
            var payload: [UInt8] = []
            EngineV3Codec.appendBinary(type, data, to: &payload)
            return deflate.compressedFrame(opcode: .binary, payload: payload) ?? v3WebSocketFrame(supportsBinary: true)
        }
        let shareable = deflate.parameters.serverNoContextTakeover
        if shareable, let cached = deflatedFrame, deflatedWindowBits == deflate.parameters.serverMaxWindowBits {
            return cached
        }
        var payload: [UInt8] = []
        if !isBinary {
            payload.reserveCapacity(data.count + 1)
            payload.append(type.wireByte)
        }
        payload.append(contentsOf: data)
        guard let frame = deflate.compressedFrame(opcode: isBinary ? .binary : .text, payload: payload) else {
            return webSocketFrame
        }
        if shareable {
            deflatedFrame = frame
            deflatedWindowBits = deflate.parameters.serverMaxWindowBits
        }
        return frame
    }

    fileprivate func prepared() -> EngineMessage {
        _ = webSocketFrame
        _ = pollingSegment
        return self
    }

    static let ping = EngineMessage(type: .ping, data: []).prepared()
    static let pong = EngineMessage(type: .pong, data: []).prepared()
    static let noop = EngineMessage(type: .noop, data: []).prepared()
    static let close = EngineMessage(type: .close, data: []).prepared()
    static let probePong = EngineMessage(type: .pong, data: Array("probe".utf8)).prepared()
}
