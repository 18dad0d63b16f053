import SocketIOCodec

/// What is known of a socket anywhere in the cluster (for `fetchSockets`). `socket` is set for local sockets.
public struct RemoteSocket {
    public let id: String
    public let handshake: Handshake
    public let rooms: Set<String>
    public let data: JSONValue
    public let socket: Socket?

    /// A socket of this server (`socket` set) or one another node described (`socket` nil).
    public init(id: String, handshake: Handshake, rooms: Set<String>, data: JSONValue, socket: Socket? = nil) {
        self.id = id
        self.handshake = handshake
        self.rooms = rooms
        self.data = data
        self.socket = socket
    }
}

extension RemoteSocket {
    /// `{id, handshake, rooms, data}` as the reference answers REMOTE_FETCH: rooms start with the socket's own,
    /// the rest sorted; `data` `{}` when unset, as a Node socket's default.
    public var json: JSONValue {
        var list: [JSONValue] = [.string(id)]
        list += rooms.subtracting([id]).sorted().map { .string($0) }
        return .object([("id", .string(id)), ("handshake", handshake.json), ("rooms", .array(list)),
                        ("data", data.isNull ? .object([]) : data)])
    }
}

/// A session kept after a recoverable disconnect.
public struct PersistedSession {
    public let sid: String
    public let pid: String
    /// The rooms the socket had joined, its own id room left out.
    public let rooms: [String]
    public let data: JSONValue
    /// Where the socket started in a cluster adapter's log (nil without one): a client that comes back without an
    /// offset (it never received an event) misses everything logged after it.
    public let since: LogPosition?
    /// The socket's hold on a session kept while it was connected (see `LiveSession`), nil otherwise.
    public let token: String?

    public init(sid: String, pid: String, rooms: [String], data: JSONValue, since: LogPosition? = nil,
                token: String? = nil) {
        self.sid = sid
        self.pid = pid
        self.rooms = rooms
        self.data = data
        self.since = since
        self.token = token
    }
}

/// A connected socket's session, for an adapter that keeps sessions while their sockets are connected (the Redis
/// streams adapter): written when the socket joins (`claim`) and as it changes, so that the session outlives this
/// node if it dies. `session.token` names this socket's hold on it: a client that came back elsewhere took the
/// session, and the adapter then tells the old socket it was superseded (`LocalAdapter.closeSuperseded`).
public struct LiveSession {
    public let session: PersistedSession
    public let claim: Bool

    public init(session: PersistedSession, claim: Bool) {
        self.session = session
        self.claim = claim
    }
}

/// A restored session with the packets the client missed.
public struct RecoveredSession {
    public let session: PersistedSession
    public internal(set) var missedPackets: [OutgoingEvent]
    /// The last log position the replay covered: a later delivery at or before it is skipped for the socket, so
    /// a packet replayed and then delivered live (the two cross in flight) reaches the client once.
    public let replayedThrough: LogPosition?
    /// The offsets of `missedPackets`, when the in-memory adapter answered (a restore answered by another loop
    /// needs them to close the gap with what crossed it in flight).
    var missedOffsets: [String]?

    public init(session: PersistedSession, missedPackets: [OutgoingEvent], replayedThrough: LogPosition? = nil) {
        self.session = session
        self.missedPackets = missedPackets
        self.replayedThrough = replayedThrough
    }
}

/// Everything that crosses sockets goes through the adapter of a namespace, so a multi-loop or Redis adapter can
/// replace the in-memory one without touching the rest. Loop thread only (with several loops, each loop has its
/// own adapter per namespace, and completions run on the loop that asked).
public protocol SocketIOAdapter: AnyObject {
    func addAll(_ socketID: String, rooms: [String])
    func delete(_ socketID: String, room: String)
    func deleteAll(_ socketID: String)
    /// Rooms of a local socket (its own id room included).
    func rooms(of socketID: String) -> Set<String>
    /// Ids of local sockets that `options` reaches.
    func sockets(_ options: BroadcastOptions) -> [String]
    /// Every room with at least one local socket (id rooms included, as in the reference).
    func allRooms() -> Set<String>

    func broadcast(_ event: OutgoingEvent, options: BroadcastOptions)
    /// Broadcasts with one ack id for every recipient; `clientCount` reports how many were reached (once per
    /// server), `ack` each reply.
    func broadcastWithAck(_ event: OutgoingEvent, options: BroadcastOptions, clientCount: @escaping (Int) -> Void,
                          ack: @escaping (SocketIOArguments) -> Void)
    func fetchSockets(_ options: BroadcastOptions, completion: @escaping ([RemoteSocket]) -> Void)
    func addSockets(_ options: BroadcastOptions, rooms: [String])
    func deleteSockets(_ options: BroadcastOptions, rooms: [String])
    func disconnectSockets(_ options: BroadcastOptions, close: Bool)
    /// Number of servers sharing this adapter (1 for the in-memory adapter).
    func serverCount(_ completion: @escaping (Int) -> Void)

    func persistSession(_ session: PersistedSession)
    /// The kept session `pid` with the packets sent after `offset`, or nil; `completion` runs on this loop,
    /// possibly later (the session may be kept by another loop or node). `offset` is nil for a client that never
    /// received an event (only an adapter with a log can tell what it missed then).
    func restoreSession(pid: String, offset: String?, completion: @escaping (RecoveredSession?) -> Void)
    /// The position of the last logged packet delivered here (nil for adapters without a log): where a socket
    /// joining now starts.
    var logPosition: LogPosition? { get }
    /// With `SocketIOServer.adapterKeepsSessions`: a connected socket joined or changed its rooms.
    func keepLiveSession(_ live: LiveSession)
    /// With `SocketIOServer.adapterKeepsSessions`: a socket left for a reason that cannot be recovered from, so the
    /// session it held with `token` goes.
    func dropLiveSession(pid: String, token: String)
    func close()
}

extension SocketIOAdapter {
    public var logPosition: LogPosition? { nil }
    public func keepLiveSession(_ live: LiveSession) {}
    public func dropLiveSession(pid: String, token: String) {}
}
