/// Options of the Redis streams adapter, with the names and defaults of @socket.io/redis-streams-adapter 0.3.1
/// (`createAdapter`'s defaults) and of socket.io-adapter's `ClusterAdapterOptions` for the heartbeat.
public struct RedisStreamsAdapterOptions: Sendable {
    /// The stream's name, or the prefix of the streams (`<name>-<i>`) when `streamCount` > 1.
    public var streamName = "socket.io"
    /// Streams to spread namespaces over (a namespace always uses the same one, so its packets stay in order).
    public var streamCount = 1
    /// Prefix of the pub/sub channels: `<prefix>#<nsp>#` for requests, `<prefix>#<nsp>#<uid>#` for answers.
    public var channelPrefix = "socket.io"
    /// `MAXLEN ~` of every XADD: how many entries the stream keeps (the window a client can recover from).
    public var maxLen = 10_000
    /// Entries fetched per XREAD.
    public var readCount = 100
    /// Milliseconds an XREAD blocks waiting for entries.
    public var blockTimeInMs: UInt64 = 5_000
    /// Prefix of the key a disconnected socket's session is kept under (`<prefix><pid>`).
    public var sessionKeyPrefix = "sio:session:"
    /// Skip the binary check when building stream entries (every payload is then JSON).
    public var onlyPlaintext = false
    /// Milliseconds between two heartbeats of this node (any message it publishes counts as one).
    public var heartbeatInterval: UInt64 = 5_000
    /// Milliseconds without a word from a node before it is taken for dead: requests stop waiting for it.
    public var heartbeatTimeout: UInt64 = 10_000
    /// Milliseconds to wait for the other nodes' answers (fetchSockets without a timeout flag, serverSideEmit
    /// with ack): the reference's `DEFAULT_TIMEOUT`.
    public var requestsTimeout: UInt64 = 5_000
    /// With connection state recovery: keep each session in Redis while its socket is connected too (written when
    /// it joins and when its rooms change, refreshed every `sessionRefreshInterval`), so a client recovers even
    /// when its node dies. Off: sessions are written when sockets leave, as the reference writes them.
    public var keepsConnectedSessions = true
    /// Milliseconds between two refreshes of the connected sessions (their data and expiry); nil: a quarter of
    /// maxDisconnectionDuration, at most 30 s.
    public var sessionRefreshInterval: UInt64?
    /// CLIENT SETNAME `<clientName>-pub`, `-sub`, `-xread` (shows in CLIENT LIST).
    public var clientName: String?
    /// Reconnection backoff: the first retry after this many milliseconds, doubling per failure up to the maximum.
    public var reconnectMinimumDelay: UInt64 = 100
    public var reconnectMaximumDelay: UInt64 = 5_000

    public init(streamName: String = "socket.io", streamCount: Int = 1, channelPrefix: String = "socket.io",
                maxLen: Int = 10_000, readCount: Int = 100, blockTimeInMs: UInt64 = 5_000,
                sessionKeyPrefix: String = "sio:session:", onlyPlaintext: Bool = false,
                heartbeatInterval: UInt64 = 5_000, heartbeatTimeout: UInt64 = 10_000, requestsTimeout: UInt64 = 5_000,
                clientName: String? = nil) {
        self.streamName = streamName
        self.streamCount = max(1, streamCount)
        self.channelPrefix = channelPrefix
        self.maxLen = max(1, maxLen)
        self.readCount = max(1, readCount)
        self.blockTimeInMs = blockTimeInMs
        self.sessionKeyPrefix = sessionKeyPrefix
        self.onlyPlaintext = onlyPlaintext
        self.heartbeatInterval = max(1, heartbeatInterval)
        self.heartbeatTimeout = max(1, heartbeatTimeout)
        self.requestsTimeout = max(1, requestsTimeout)
        self.clientName = clientName
    }

    /// The stream of namespace `name` (`computeStreamName`): the one stream, or `<streamName>-<i>` with
    /// `i = hashCode(name) % streamCount`. As in JavaScript the remainder keeps the hash's sign, so a namespace
    /// whose hash is negative gets a name like `socket.io--1`, which Node's adapter never reads (see docs/REDIS.md).
    public func streamName(forNamespace name: String) -> String {
        guard streamCount > 1 else { return streamName }
        return streamName + "-" + String(RedisStreamsAdapterOptions.hashCode(name) % Int32(clamping: streamCount))
    }

    /// lib/util.ts `hashCode`: `hash = hash * 31 + charCodeAt(i); hash |= 0` over UTF-16 code units, in 32 bits.
    public static func hashCode(_ text: String) -> Int32 {
        var hash: Int32 = 0
        for unit in text.utf16 { hash = hash &* 31 &+ Int32(unit) }
        return hash
    }
}
