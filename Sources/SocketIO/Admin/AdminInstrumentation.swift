import EngineIO
import SIOLoop
import SocketIOCodec
#if canImport(Glibc)
import Glibc
#endif

extension SocketIOServer {
    /// Serves the official admin UI (@socket.io/admin-ui 0.5, https://admin.socket.io) as the reference's
    /// `instrument(io, options)` does: the admin namespace, its authentication, `config`, `server_stats` every
    /// `statsInterval` ms, and in development mode every socket, room change and event; the UI's commands
    /// (emit, join, leave, disconnect) act on a selection across loops, and across nodes through a cluster
    /// adapter. Call once, while setting up (before the loops run) or on the first loop. The hosted UI needs CORS
    /// (docs/OBSERVABILITY.md).
    @discardableResult
    public func instrument(_ options: AdminOptions = AdminOptions()) throws -> AdminInstrumentation {
        let primary = shards[0]
        if let existing = primary.instrumentation as? AdminInstrumentation { return existing }
        let instrumentation = try AdminInstrumentation(server: primary, options: options)
        primary.instrumentation = instrumentation
        instrumentation.start()
        return instrumentation
    }
}

/// The admin UI's server side for one server (all its loops). Immutable settings, plus two lock-protected tables
/// touched only when an admin connects (sessions, and the session a just-authenticated socket must be told);
/// everything else runs on the loop of the socket or namespace it is about, and reaches the UI by emitting to that
/// loop's admin namespace (a broadcast: it crosses loops, and nodes with a cluster adapter, as the reference's).
public final class AdminInstrumentation: @unchecked Sendable {
    public let options: AdminOptions
    public let serverId: String
    let namespaceName: String
    /// The reference's order: EMIT, JOIN, LEAVE, DISCONNECT, MJOIN, MLEAVE, MDISCONNECT (unless readonly),
    /// AGGREGATED_EVENTS, ALL_EVENTS (development).
    let features: [String]
    private unowned let server: SocketIOServer
    private let startedAt = AdminInstrumentation.monotonicSeconds()
    private let lock = Lock()
    /// Session ids handed to authenticated UIs (the reference's InMemoryStore), oldest first, at most `maxSessions`.
    private var sessions: [String] = []
    private var sessionSet: Set<String> = []
    static let maxSessions = 1000
    /// Admin socket id -> the session id it earned in the middleware, sent once it is connected.
    private var earned: [String: String] = [:]
    private var stats: StatsTimer?

    init(server: SocketIOServer, options: AdminOptions) throws {
        let name = options.namespaceName.hasPrefix("/") ? options.namespaceName : "/" + options.namespaceName
        guard name != "/" else { throw AdminError.invalidNamespace }
        if let auth = options.auth, !Bcrypt.isValidHash(auth.passwordHash) { throw AdminError.invalidPasswordHash }
        self.server = server
        self.options = options
        namespaceName = name
        serverId = options.serverId ?? AdminInstrumentation.hostname()
        var features = options.readonly ? [] : ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]
        features.append("AGGREGATED_EVENTS")
        if options.mode == .development { features.append("ALL_EVENTS") }
        self.features = features
    }

    func start() {
        let admin = server.of(namespaceName)
        if let auth = options.auth {
            admin.use { [unowned self] socket, next in authenticate(socket, auth, next) }
        }
        admin.onConnection { [unowned self] socket in adminConnected(socket) }
        if options.mode == .development {
            server.everywhere { [unowned self] shard in
                shard.engine.onUpgrade = { [unowned self, unowned shard] engineSocket in upgraded(engineSocket, on: shard) }
            }
            server.observeNamespaces { [unowned self] namespace in watch(namespace) }
        }
        let timer = StatsTimer(self)
        stats = timer
        server.loop.perform { [self] in
            emitStats()
            server.loop.schedule(timer, afterMilliseconds: options.statsInterval)
        }
    }

    // MARK: Authentication

    /// The reference's middleware: a known session id, or the username and a password matching the hash (checked
    /// off the loop); anything else is refused with "invalid credentials".
    private func authenticate(_ socket: Socket, _ auth: AdminAuth, _ next: @escaping (MiddlewareError?) -> Void) {
        let refused = MiddlewareError("invalid credentials")
        let sent = (try? JSONValue.parse(socket.handshake.auth)) ?? .object([])
        if let session = sent["sessionId"]?.stringValue, lock.withLock({ sessionSet.contains(session) }) {
            return next(nil)
        }
        guard sent["username"]?.stringValue == auth.username, let password = sent["password"]?.stringValue else {
            return next(refused)
        }
        let loop = socket.server.loop
        let id = socket.id
        Bcrypt.verify(password, hash: auth.passwordHash) { [self] ok in
            if ok {
                lock.withLock {
                    // A UI that left between its check and its connection never collects its entry: keep few.
                    if earned.count >= AdminInstrumentation.maxSessions { earned.removeAll() }
                    earned[id] = newSession()
                }
            }
            loop.execute { next(ok ? nil : refused) }
        }
    }

    /// Under `lock`.
    private func newSession() -> String {
        let session = SecureRandom.identifier()
        sessions.append(session)
        sessionSet.insert(session)
        if sessions.count > AdminInstrumentation.maxSessions { sessionSet.remove(sessions.removeFirst()) }
        return session
    }

    // MARK: An admin UI connected

    private func adminConnected(_ socket: Socket) {
        if let session = lock.withLock({ earned.removeValue(forKey: socket.id) }) {
            socket.emit("session", .string(session))
        }
        if !options.readonly { registerCommands(socket) }
        socket.emit("config", .object([("supportedFeatures", .array(features.map { .string($0) }))]))
        if options.mode == .development {
            allSockets(from: socket.server) { list in socket.emit("all_sockets", .array(list)) }
        }
    }

    /// Every socket of every namespace: each loop serializes its own; with a cluster adapter, the sockets other
    /// nodes describe (`fetchSockets`) are added.
    private func allSockets(from shard: SocketIOServer, _ completion: @escaping ([JSONValue]) -> Void) {
        shard.gatherFromLoops({ loopServer -> [(String, JSONValue)] in
            loopServer.namespaceNames.sorted().flatMap { name -> [(String, JSONValue)] in
                guard let namespace = loopServer.existingNamespace(name) else { return [] }
                return namespace.sockets.values.sorted { $0.id < $1.id }.map { ($0.id, AdminJSON.socket($0)) }
            }
        }) { perLoop in
            let local = perLoop.flatMap { $0 }
            guard shard.shards[0].hasCustomAdapter else { return completion(local.map(\.1)) }
            let known = Set(local.map(\.0))
            var remote: [JSONValue] = []
            let names = shard.namespaceNames.sorted()
            var waiting = names.count
            for name in names {
                guard let namespace = shard.existingNamespace(name) else {
                    waiting -= 1
                    continue
                }
                namespace.fetchSockets { sockets in
                    for socket in sockets where !known.contains(socket.id) { remote.append(AdminJSON.remote(socket, nsp: name)) }
                    waiting -= 1
                    if waiting == 0 { completion(local.map(\.1) + remote) }
                }
            }
            if waiting == 0 { completion(local.map(\.1) + remote) }
        }
    }

    // MARK: The UI's commands

    /// `emit(nsp, filter, event, ...args)`, `join(nsp, room, filter)`, `leave(nsp, room, filter)`,
    /// `_disconnect(nsp, close, filter)`: on the namespace's sockets, or those in room `filter` (a socket id is a
    /// room), on every loop and node. A namespace this server does not have is ignored (the reference would make it).
    private func registerCommands(_ socket: Socket) {
        func selection(_ values: [JSONValue], nsp index: Int, filter: Int) -> BroadcastOperator? {
            guard let name = values[safe: index]?.stringValue,
                  let namespace = socket.server.existingNamespace(name.hasPrefix("/") ? name : "/" + name) else { return nil }
            let room = values[safe: filter]?.stringValue
            return room.map { namespace.to($0) } ?? namespace.broadcastOperator
        }
        socket.on("emit") { arguments, _ in
            guard let values = try? arguments.values(), let event = values[safe: 2]?.stringValue,
                  let target = selection(values, nsp: 0, filter: 1) else { return }
            target.emit(event, SocketIOArguments(Array(values.dropFirst(3))))
        }
        socket.on("join") { arguments, _ in
            guard let values = try? arguments.values(), let room = values[safe: 1]?.stringValue,
                  let target = selection(values, nsp: 0, filter: 2) else { return }
            target.socketsJoin([room])
        }
        socket.on("leave") { arguments, _ in
            guard let values = try? arguments.values(), let room = values[safe: 1]?.stringValue,
                  let target = selection(values, nsp: 0, filter: 2) else { return }
            target.socketsLeave([room])
        }
        socket.on("_disconnect") { arguments, _ in
            guard let values = try? arguments.values(), let target = selection(values, nsp: 0, filter: 2) else { return }
            target.disconnectSockets(close: values[safe: 1]?.boolValue ?? false)
        }
    }

    // MARK: Development mode: everything that happens

    /// To every admin UI, from the loop of `shard` (its admin namespace broadcasts across loops and nodes).
    private func report(_ shard: SocketIOServer, _ event: String, _ arguments: SocketIOArguments) {
        shard.existingNamespace(namespaceName)?.emit(event, arguments)
    }

    private func report(_ shard: SocketIOServer, _ event: String, _ values: JSONValue...) {
        report(shard, event, SocketIOArguments(values))
    }

    /// The reference's registerVerboseListeners, on this loop's copy of `namespace`: its connection listener goes
    /// first (prepended), so the UI hears of a socket before the application's handlers run.
    private func watch(_ namespace: Namespace) {
        let name = namespace.name
        let isAdmin = name == namespaceName
        namespace.connectionHandlers.insert({ [unowned self] socket in
            let shard = socket.server
            let id = socket.id
            report(shard, "socket_connected", AdminJSON.socket(socket), .string(AdminJSON.isoNow()))
            if !isAdmin {
                socket.onAny { [unowned self] event, arguments, _ in
                    report(shard, "event_received", AdminJSON.eventReport(nsp: name, id: id, event: event, arguments))
                }
                socket.onAnyOutgoing { [unowned self] event, arguments in
                    report(shard, "event_sent", AdminJSON.eventReport(nsp: name, id: id, event: event, arguments))
                }
            }
            socket.onDisconnect { [unowned self] reason in
                report(shard, "socket_disconnected", .string(name), .string(id), .string(reason.rawValue),
                       .string(AdminJSON.isoNow()))
            }
        }, at: 0)
        namespace.roomEventHandlers.append { [unowned self, unowned namespace] event in
            switch event {
            case .joined(let room, let id):
                report(namespace.server, "room_joined", .string(name), .string(room), .string(id), .string(AdminJSON.isoNow()))
            case .left(let room, let id):
                report(namespace.server, "room_left", .string(name), .string(room), .string(id), .string(AdminJSON.isoNow()))
            case .created, .deleted:
                break
            }
        }
    }

    /// A session of `shard`'s loop upgraded: each of its sockets now uses WebSocket (`socket_updated`).
    private func upgraded(_ engineSocket: EngineSocket, on shard: SocketIOServer) {
        guard let client = engineSocket.delegate as? Client else { return }
        for socket in client.sockets {
            report(shard, "socket_updated", .object([("id", .string(socket.id)), ("nsp", .string(socket.namespace.name)),
                                                     ("transport", .string(engineSocket.transportName.rawValue))]))
        }
    }

    // MARK: server_stats

    /// The process's totals when the last stats went out (the aggregated events are what changed since).
    private var previous: EngineCounters?

    /// `server_stats`: this process as one server (every loop summed), on the first loop.
    fileprivate func emitStats() {
        server.gatherMetrics { [self] samples in
            var totals = EngineCounters()
            var polling = 0, clients = 0
            var sockets: [String: Int] = [:]
            for sample in samples {
                totals.add(sample.engine)
                polling += sample.pollingClients
                clients += sample.pollingClients + sample.websocketClients
                for namespace in sample.namespaces { sockets[namespace.name, default: 0] += namespace.sockets }
            }
            let events = previous.map { aggregatedEvents(totals, since: $0) } ?? []
            previous = totals
            let stats: JSONValue = .object([
                ("serverId", .string(serverId)), ("hostname", .string(AdminInstrumentation.hostname())),
                ("pid", .number(Double(getpid()))), ("uptime", .number(AdminInstrumentation.monotonicSeconds() - startedAt)),
                ("clientsCount", .number(Double(clients))), ("pollingClientsCount", .number(Double(polling))),
                ("aggregatedEvents", .array(events)),
                ("namespaces", .array(sockets.keys.sorted().map {
                    .object([("name", .string($0)), ("socketsCount", .number(Double(sockets[$0]!)))])
                })),
            ])
            report(server, "server_stats", stats)
        }
    }

    /// The reference's EventBuffer entries for what changed: `{timestamp, type, subType?, count}`, stamped with
    /// this second (the UI groups them by 10 s).
    private func aggregatedEvents(_ now: EngineCounters, since before: EngineCounters) -> [JSONValue] {
        let second = Double(AdminJSON.wallClockMilliseconds() / 1000 * 1000)
        var events: [JSONValue] = []
        func add(_ type: String, _ subType: String? = nil, _ count: UInt64) {
            guard count > 0 else { return }
            var members: [(String, JSONValue)] = [("timestamp", .number(second)), ("type", .string(type))]
            if let subType { members.append(("subType", .string(subType))) }
            members.append(("count", .number(Double(count))))
            events.append(.object(members))
        }
        add("rawConnection", nil, now.connections &- before.connections)
        for (index, reason) in EngineCloseReason.allCases.enumerated() {
            add("rawDisconnection", reason.rawValue, now.disconnections[index] &- before.disconnections[index])
        }
        add("packetsIn", nil, now.packetsIn &- before.packetsIn)
        add("packetsOut", nil, now.packetsOut &- before.packetsOut)
        add("bytesIn", nil, now.bytesIn &- before.bytesIn)
        add("bytesOut", nil, now.bytesOut &- before.bytesOut)
        return events
    }

    fileprivate func statsTick(_ timer: StatsTimer) {
        emitStats()
        server.loop.schedule(timer, afterMilliseconds: options.statsInterval)
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(cString: buffer)
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// The `server_stats` clock on the first loop.
private final class StatsTimer: TimerTarget {
    var timerSlot = TimerSlot()
    unowned let owner: AdminInstrumentation
    init(_ owner: AdminInstrumentation) { self.owner = owner }
    func timerFired(now: UInt64) { owner.statsTick(self) }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
