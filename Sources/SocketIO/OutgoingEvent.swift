/// An event on its way out, before encoding.
public struct OutgoingEvent: Sendable {
    public var event: String
    public var arguments: SocketIOArguments
    public init(event: String, arguments: SocketIOArguments) {
        self.event = event
        self.arguments = arguments
    }
}
