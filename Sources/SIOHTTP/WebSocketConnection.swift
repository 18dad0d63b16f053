import SIOLoop
import WebSocketCodec

/// What a WebSocket's owner (the Engine.IO websocket transport) hears. Loop thread.
public protocol WebSocketDelegate: AnyObject {
    func webSocket(_ socket: WebSocketConnection, didReceiveText text: [UInt8])
    func webSocket(_ socket: WebSocketConnection, didReceiveBinary data: [UInt8])
    /// The connection is gone (closed by either side, or a protocol error). Called once.
    func webSocketDidClose(_ socket: WebSocketConnection)
}

/// A server-side WebSocket on an upgraded TCP connection: frames in through `WebSocketFrameParser`, frames out as
/// prebuilt byte arrays (a broadcast frame is built once and queued on every recipient without a copy). Pings are
/// answered here; a protocol violation closes with its code (1002, 1007, 1009).
public final class WebSocketConnection: ConnectionHandler {
    public let tcp: TCPConnection
    public var delegate: (any WebSocketDelegate)?
    private var parser: WebSocketFrameParser
    private var closing = false
    /// One logger for all connections: resolving a level takes a lock, so never per connection.
    private static let log = Logger("websocket")

    /// Takes over `tcp` (after the 101 response was queued) and parses `remainder`, the bytes that came with the
    /// handshake.
    public init(tcp: TCPConnection, maxMessageSize: Int, perMessageDeflate: PerMessageDeflate? = nil) {
        self.tcp = tcp
        self.parser = WebSocketFrameParser(maxMessageSize: maxMessageSize, perMessageDeflate: perMessageDeflate)
    }

    /// Starts reading; `remainder` holds bytes that arrived together with the handshake.
    public func start(remainder: [UInt8]) {
        tcp.handler = self
        if !remainder.isEmpty {
            remainder.withUnsafeBytes { connectionDidRead(tcp, $0) }
        }
        tcp.startReading()
    }

    public var bufferedBytes: Int { tcp.bufferedBytes }
    /// Queued here plus held by the kernel, not yet acknowledged by the peer (`TCPConnection.undeliveredBytes`).
    public var undeliveredBytes: Int { tcp.undeliveredBytes }
    public func hasUndelivered(moreThan limit: Int) -> Bool { tcp.hasUndelivered(moreThan: limit) }
    public var isOpen: Bool { !closing && tcp.isOpen }

    // MARK: Sending

    /// Queues a complete frame (from `WebSocketFrameEncoder`).
    @inline(__always) public func send(frame: [UInt8]) {
        guard !closing else { return }
        tcp.write(frame)
    }

    public func sendText(_ text: [UInt8]) {
        send(frame: WebSocketFrameEncoder.frame(opcode: .text, payload: text))
    }

    public func sendBinary(_ data: [UInt8]) {
        send(frame: WebSocketFrameEncoder.frame(opcode: .binary, payload: data))
    }

    /// Sends a close frame and closes the connection once it is written.
    public func close(code: WebSocketCloseCode = .normal, reason: String = "") {
        guard !closing else { return }
        closing = true
        tcp.write(WebSocketFrameEncoder.closeFrame(code: code, reason: reason))
        tcp.close()
    }

    /// Sends a close frame without a status code (the peer sees 1005) and closes, as the `ws` library's
    /// `close()` does.
    public func closeWithoutStatus() {
        guard !closing else { return }
        closing = true
        tcp.write(WebSocketFrameEncoder.frame(opcode: .close, payload: []))
        tcp.close()
    }

    // MARK: Receiving

    public func connectionDidRead(_ connection: TCPConnection, _ bytes: UnsafeRawBufferPointer) {
        guard !closing else { return }
        let failure = parser.feed(bytes) { event in
            guard !closing else { return }
            switch event {
            case .text(let text): delegate?.webSocket(self, didReceiveText: text)
            case .binary(let data): delegate?.webSocket(self, didReceiveBinary: data)
            case .ping(let payload): tcp.write(WebSocketFrameEncoder.frame(opcode: .pong, payload: payload))
            case .pong: break
            case .close(let code, _):
                // Echo the peer's code, as RFC 6455 5.5.1 asks, then close.
                close(code: code.map { WebSocketCloseCode(rawValue: $0) } ?? .normal)
            }
        }
        if let failure {
            Self.log.debug("closing \(tcp.remoteAddress): \(failure.reason)")
            close(code: failure.code, reason: failure.reason)
        }
    }

    public func connectionDidClose(_ connection: TCPConnection) {
        closing = true
        let owner = delegate
        delegate = nil
        owner?.webSocketDidClose(self)
    }
}
