import EngineIOCodec
import SIOHTTP
import WebSocketCodec

/// Engine.IO over one WebSocket: each packet is one frame (text `<type digit><data>`; binary the raw bytes in v4,
/// the type byte then the bytes in v3, or `b4<base64>` text for a v3 client that asked for `b64`).
final class WebSocketTransport: EngineTransport, WebSocketDelegate {
    let connection: WebSocketConnection
    private let protocolVersion: EngineProtocol
    /// v3 only: false when the WebSocket request carried a non-empty `b64`.
    private let supportsBinary: Bool
    /// The negotiated permessage-deflate, and the size from which messages are compressed.
    private let deflate: PerMessageDeflate?
    private let deflateThreshold: Int
    /// Writes beyond this many queued bytes mean the client is not keeping up: volatile messages are dropped.
    private static let writableThreshold = 64 * 1024

    init(connection: WebSocketConnection, protocolVersion: EngineProtocol = .v4, supportsBinary: Bool = true,
         deflate: PerMessageDeflate? = nil, deflateThreshold: Int = 1024) {
        self.connection = connection
        self.protocolVersion = protocolVersion
        self.supportsBinary = supportsBinary
        self.deflate = deflate
        self.deflateThreshold = deflateThreshold
        super.init()
        connection.delegate = self
    }

    override var name: EngineTransportName { .websocket }
    override var isWritableNow: Bool { connection.bufferedBytes < Self.writableThreshold }
    override var bufferedBytes: Int { connection.bufferedBytes }
    override var undeliveredBytes: Int { connection.undeliveredBytes }
    override func hasUndelivered(moreThan limit: Int) -> Bool { connection.hasUndelivered(moreThan: limit) }

    override func send(_ message: EngineMessage) {
        let base64 = protocolVersion == .v3 && !supportsBinary && message.isBinary
        if let deflate, !base64, message.compress, message.data.count >= deflateThreshold {
            connection.send(frame: message.webSocketFrame(deflate: deflate, protocolVersion: protocolVersion))
        } else if protocolVersion == .v3 {
            connection.send(frame: message.v3WebSocketFrame(supportsBinary: supportsBinary))
        } else {
            connection.send(frame: message.webSocketFrame)
        }
    }

    override func close(reason: EngineCloseReason) -> Bool {
        connection.close(code: .normal)
        return true
    }

    func closeConnection() {
        connection.close(code: .normal)
    }

    func webSocket(_ socket: WebSocketConnection, didReceiveText text: [UInt8]) {
        guard let owner = self.socket else { return }
        do {
            if protocolVersion == .v3 {
                // Nil: a packet of no known type, which the reference ignores.
                if let packet = try EngineV3Codec.decodeText(text[...]) { owner.transport(self, received: packet) }
            } else {
                owner.transport(self, received: try EngineIOCodec.decodeText(text))
            }
        } catch {
            owner.transportFailedToDecode(self)
        }
    }

    func webSocket(_ socket: WebSocketConnection, didReceiveBinary data: [UInt8]) {
        if protocolVersion == .v3 {
            if let packet = EngineV3Codec.decodeBinary(data[...]) { self.socket?.transport(self, received: packet) }
            return
        }
        self.socket?.transport(self, received: EnginePacket(type: .message, data: data, isBinary: true))
    }

    func webSocketDidClose(_ socket: WebSocketConnection) {
        self.socket?.transportClosed(self, reason: .transportClose)
    }
}
