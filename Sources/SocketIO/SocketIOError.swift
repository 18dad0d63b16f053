/// Errors the Socket.IO layer reports to the application.
public enum SocketIOError: Error, Equatable, Sendable {
    /// An acknowledgement did not arrive in time ("operation has timed out").
    case timeout
    /// The socket disconnected before the acknowledgement arrived.
    case disconnected
    /// Arguments were not valid.
    case invalidArguments(String)
}
