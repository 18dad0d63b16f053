import SocketIO

// Apart from SessionRecord.swift, which stays free of the SocketIO module so that the fuzz harness redis_stream
// builds it alone.
extension SessionRecord {
    /// A socket's session: its own id room first, as socket.io's `[...socket.rooms]` has it, then the others
    /// sorted (Node lists them in the order they were joined, which a socket here does not keep; sorted, the same
    /// session always makes the same bytes, as RemoteSocket's rooms for fetchSockets).
    public init(_ session: PersistedSession) {
        self.init(sid: session.sid, pid: session.pid,
                  rooms: [session.sid] + session.rooms.filter { $0 != session.sid }.sorted(), data: session.data)
    }
}
