/// A change in a namespace's rooms on this server: the reference adapter's `create-room`, `delete-room`,
/// `join-room` and `leave-room` events (for presence lists, "who is in this room" counters, cleaning up per-room
/// state). As in the reference, each socket's own room, named by its id, is reported too: created and joined
/// when the socket connects, left and deleted when it disconnects (filter with `room != socketID`).
public enum RoomEvent: Equatable, Sendable {
    /// The first socket joined `room`.
    case created(room: String)
    /// The last socket left `room`.
    case deleted(room: String)
    case joined(room: String, socketID: String)
    case left(room: String, socketID: String)
}
