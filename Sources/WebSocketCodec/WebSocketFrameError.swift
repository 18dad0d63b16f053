/// A protocol violation: the connection must be closed with `code`; `reason` is for logs and the close frame.
public struct WebSocketFrameError: Error, Equatable, Sendable {
    public var code: WebSocketCloseCode
    public var reason: String

    public init(code: WebSocketCloseCode, reason: String) {
        self.code = code
        self.reason = reason
    }

    static func protocolError(_ reason: String) -> WebSocketFrameError {
        WebSocketFrameError(code: .protocolError, reason: reason)
    }

    static func messageTooBig(_ reason: String) -> WebSocketFrameError {
        WebSocketFrameError(code: .messageTooBig, reason: reason)
    }

    static func invalidPayload(_ reason: String) -> WebSocketFrameError {
        WebSocketFrameError(code: .invalidPayload, reason: reason)
    }
}
