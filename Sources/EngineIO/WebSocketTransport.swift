import EngineIOCodec
import SIOHTTP
import WebSocketCodec

/// Engine.IO over one WebSocket: each packet is one frame (text `<type digit><data>`, or binary raw bytes).
final class WebSocketTransport: EngineTransport, WebSocketDelegate {
    let connection: WebSocketConnection
    /// The negotiated permessage-deflate, and the size from which messages are compressed.
    private let deflate: PerMessageDeflate?
    private let deflateThreshold: Int
    /// Writes beyond this many queued bytes mean the client is not keeping up: volatile messages are dropped.
    private static let writableThreshold = 64 * 1024

    init(connection: WebSocketConnection, deflate: PerMessageDeflate? = nil, deflateThreshold: Int = 1024) {
        self.connection = connection
        self.deflate = deflate
        self.deflateThreshold = deflateThreshold
        super.init()
        connection.delegate = self
    }

    override var name: EngineTransportName { .websocket }
    override var isWritableNow: Bool { connection.bufferedBytes < Self.writableThreshold }
    override var bufferedBytes: Int { connection.bufferedBytes }

    override func send(_ message: EngineMessage) {
        if let deflate, message.compress, message.data.count >= deflateThreshold {
            connection.send(frame: message.webSocketFrame(deflate: deflate))
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
            owner.transport(self, received: try EngineIOCodec.decodeText(text))
        } catch {
            owner.transportFailedToDecode(self)
        }
    }

    func webSocket(_ socket: WebSocketConnection, didReceiveBinary data: [UInt8]) {
        self.socket?.transport(self, received: EnginePacket(type: .message, data: data, isBinary: true))
    }

    func webSocketDidClose(_ socket: WebSocketConnection) {
        self.socket?.transportClosed(self, reason: .transportClose)
    }
}
