import SocketIOCodec

/// The reply a client asked for with its event. Send it once; later calls do nothing.
///
/// It holds its socket until sent (as the reference's ack callback captures its socket); a socket that has left
/// ignores the reply. Strong, not `weak`: a weakly referenced socket would keep a side table for life, and every
/// retain of it (each event it sends or receives) would take the slow path.
public final class SocketIOAck {
    private var socket: Socket?
    private let id: UInt64
    public private(set) var isSent = false

    init(socket: Socket, id: UInt64) {
        self.socket = socket
        self.id = id
    }

    /// Sends the acknowledgement with these arguments.
    public func send(_ arguments: SocketIOArguments) {
        guard !isSent, let socket else { return }
        isSent = true
        self.socket = nil
        socket.sendAck(id: id, arguments)
    }

    public func send(_ values: JSONValue...) { send(SocketIOArguments(values)) }
    public func callAsFunction(_ arguments: SocketIOArguments) { send(arguments) }
    public func callAsFunction(_ values: JSONValue...) { send(SocketIOArguments(values)) }
}
