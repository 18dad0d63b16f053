import SocketIOCodec

/// The reply a client asked for with its event. Send it once; later calls do nothing.
public final class SocketIOAck {
    private weak var socket: Socket?
    private let id: UInt64
    public private(set) var isSent = false

    init(socket: Socket, id: UInt64) {
        self.socket = socket
        self.id = id
    }

    /// Sends the acknowledgement with these arguments.
    public func send(_ arguments: SocketIOArguments) {
        guard !isSent else { return }
        isSent = true
        socket?.sendAck(id: id, arguments)
    }

    public func send(_ values: JSONValue...) { send(SocketIOArguments(values)) }
    public func callAsFunction(_ arguments: SocketIOArguments) { send(arguments) }
    public func callAsFunction(_ values: JSONValue...) { send(SocketIOArguments(values)) }
}
