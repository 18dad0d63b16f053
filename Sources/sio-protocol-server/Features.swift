import SIOLoop
import SocketIO
import SocketIOCodec

/// Test namespaces for the project's own integration tests (Tests/integration/test_socketio_*.py).
///
/// `/features` events (each acks when asked):
/// - `join`(room) / `leave`(room) -> ack true; `rooms`() -> ack [rooms]
/// - `echo`(...args) -> ack with the same arguments (binary included); `emit-back`(event, ...args) -> emits them
/// - `broadcast`({event, data, room?, rooms?, except?, volatile?}) -> emit `event` with `data` to them; ack true
/// - `broadcast-others`({event, data}) -> `socket.broadcast`; ack true
/// - `ask`({data, timeout}) -> emits `question`(data) expecting an ack, then `answer`({ok, reply} or {ok:false, error})
/// - `broadcast-ask`({room, data, timeout}) -> to room with acks, then `broadcast-answer`({error, replies})
/// - `fetch`(room?) -> ack [ids]; `sockets-join`({target, room}), `sockets-leave`, `disconnect-sockets`({target, close})
/// - `disconnect-me`(close) -> server-side disconnect; `last-disconnect`(id) -> ack the reason that socket left with
/// - `seen`() -> ack the event names the catch-all listener saw on this socket
/// - `loop`() -> ack the index of the loop serving this socket (0 with one loop)
/// - `secure`() -> ack the handshake's `secure` (true over HTTPS/WSS)
/// - `room-events`(clear?) -> ack the room events of /features so far, in order (`[kind, room, socketID?]`, socket
///   ids joined or left as rooms left out), then empty the list when `clear` is true
/// - events named `forbidden` are refused by a per-packet middleware (the socket gets `refused` with the event name)
/// `/protected`: a middleware refuses unless auth `token` is "secret" (`{message: "not authorized", data: {code: 401}}`).
/// `/dyn-<anything>`: dynamic namespaces; on connection emit `hello`(namespace name).
enum Features {
    static func install(on io: SocketIOServer) {
        let features = io.of("/features")
        // Written by sockets of every loop: shared under a lock.
        let lastDisconnect = LockedDictionary()
        let roomEvents = LockedList()
        features.onRoomEvent { event in
            switch event {
            case .created(let room): roomEvents.append(.array(["created", .string(room)]))
            case .deleted(let room): roomEvents.append(.array(["deleted", .string(room)]))
            case .joined(let room, let id) where room != id:
                roomEvents.append(.array(["joined", .string(room), .string(id)]))
            case .left(let room, let id) where room != id:
                roomEvents.append(.array(["left", .string(room), .string(id)]))
            default: break
            }
        }
        features.onConnection { socket in
            var seen: [JSONValue] = []
            socket.onAny { event, _, _ in seen.append(.string(event)) }
            socket.use { event, _, next in
                if event == "forbidden" {
                    socket.emit("refused", .string(event))
                    next(MiddlewareError("forbidden event"))
                } else {
                    next(nil)
                }
            }
            socket.onDisconnect { reason in lastDisconnect.set(socket.id, reason.rawValue) }
            socket.on("loop") { _, ack in ack?.send(.number(Double(socket.server.loopIndex))) }
            socket.on("secure") { _, ack in ack?.send(.bool(socket.handshake.secure)) }
            socket.on("room-events") { arguments, ack in
                ack?.send(.array(roomEvents.take(clear: first(arguments)?.boolValue == true)))
            }
            socket.on("join") { arguments, ack in
                if let room = first(arguments)?.stringValue { socket.join(room) }
                ack?.send(true)
            }
            socket.on("leave") { arguments, ack in
                if let room = first(arguments)?.stringValue { socket.leave(room) }
                ack?.send(true)
            }
            socket.on("rooms") { _, ack in ack?.send(.array(socket.rooms.sorted().map { .string($0) })) }
            socket.on("echo") { arguments, ack in ack?.send(arguments) }
            socket.on("emit-back") { arguments, _ in
                guard var values = try? arguments.values(), let event = values.first?.stringValue else { return }
                values.removeFirst()
                socket.emit(event, SocketIOArguments(values, attachments: arguments.attachments))
            }
            socket.on("broadcast") { arguments, ack in
                guard let spec = first(arguments), let event = spec["event"]?.stringValue else { return }
                var target = features.broadcastOperator
                if let room = spec["room"]?.stringValue { target = target.to(room) }
                for room in spec["rooms"]?.arrayValue ?? [] { if let name = room.stringValue { target = target.to(name) } }
                if let except = spec["except"]?.stringValue { target = target.except(except) }
                if spec["volatile"]?.boolValue == true { target = target.volatile }
                target.emit(event, SocketIOArguments([spec["data"] ?? .null], attachments: arguments.attachments))
                ack?.send(true)
            }
            socket.on("broadcast-others") { arguments, ack in
                guard let spec = first(arguments), let event = spec["event"]?.stringValue else { return }
                socket.broadcast.emit(event, SocketIOArguments([spec["data"] ?? .null], attachments: arguments.attachments))
                ack?.send(true)
            }
            socket.on("ask") { arguments, _ in
                let spec = first(arguments)
                let timeout = spec?["timeout"]?.intValue.map { UInt64(max(0, $0)) }
                socket.emit("question", SocketIOArguments([spec?["data"] ?? .null]), timeout: timeout) { result in
                    switch result {
                    case .success(let reply):
                        // The reply's binaries stay attached: its placeholders keep their numbers.
                        let values = (try? reply.values()) ?? []
                        socket.emit("answer", SocketIOArguments([.object([("ok", true), ("reply", .array(values))])],
                                                                attachments: reply.attachments))
                    case .failure(let error):
                        socket.emit("answer", .object([("ok", false), ("error", .string("\(error)"))]))
                    }
                }
            }
            socket.on("broadcast-ask") { arguments, _ in
                let spec = first(arguments)
                let room = spec?["room"]?.stringValue ?? ""
                let timeout = UInt64(max(0, spec?["timeout"]?.intValue ?? 1000))
                features.to(room).timeout(timeout).emit("question", SocketIOArguments([spec?["data"] ?? .null])) { error, replies in
                    let values: [JSONValue] = replies.map { .array((try? $0.values()) ?? []) }
                    socket.emit("broadcast-answer", .object([
                        ("error", error.map { .string("\($0)") } ?? .null), ("replies", .array(values)),
                    ]))
                }
            }
            socket.on("fetch") { arguments, ack in
                var target = features.broadcastOperator
                if let room = first(arguments)?.stringValue { target = target.to(room) }
                target.fetchSockets { sockets in ack?.send(.array(sockets.map { .string($0.id) }.sorted { "\($0)" < "\($1)" })) }
            }
            socket.on("sockets-join") { arguments, ack in
                guard let spec = first(arguments), let target = spec["target"]?.stringValue,
                      let room = spec["room"]?.stringValue else { return }
                features.to(target).socketsJoin(room)
                ack?.send(true)
            }
            socket.on("sockets-leave") { arguments, ack in
                guard let spec = first(arguments), let target = spec["target"]?.stringValue,
                      let room = spec["room"]?.stringValue else { return }
                features.to(target).socketsLeave(room)
                ack?.send(true)
            }
            socket.on("disconnect-sockets") { arguments, ack in
                guard let spec = first(arguments), let target = spec["target"]?.stringValue else { return }
                ack?.send(true)
                features.to(target).disconnectSockets(close: spec["close"]?.boolValue ?? false)
            }
            socket.on("disconnect-me") { arguments, _ in
                socket.disconnect(close: first(arguments)?.boolValue ?? false)
            }
            socket.on("last-disconnect") { arguments, ack in
                let id = first(arguments)?.stringValue ?? ""
                ack?.send(lastDisconnect.get(id).map { .string($0) } ?? .null)
            }
            socket.on("seen") { _, ack in ack?.send(.array(seen)) }
        }

        let protected = io.of("/protected")
        protected.use { socket, next in
            let auth = try? JSONValue.parse(socket.handshake.auth)
            if auth?["token"]?.stringValue == "secret" {
                next(nil)
            } else {
                next(MiddlewareError("not authorized", data: .object([("code", 401)])))
            }
        }
        protected.onConnection { socket in socket.emit("welcome", .string(socket.id)) }

        io.of(where: { name, _ in name.hasPrefix("/dyn-") }).onConnection { socket in
            socket.emit("hello", .string(socket.namespace.name))
        }
    }

    static func first(_ arguments: SocketIOArguments) -> JSONValue? {
        (try? arguments.values())?.first
    }
}

/// A string dictionary shared by handlers on several loops.
final class LockedDictionary: @unchecked Sendable {
    private let lock = Lock()
    private var values: [String: String] = [:]

    func set(_ key: String, _ value: String) {
        lock.withLock {
            values[key] = value
            if values.count > 10_000 { values.removeAll() }
        }
    }

    func get(_ key: String) -> String? { lock.withLock { values[key] } }
}

/// JSON values appended by handlers on several loops.
final class LockedList: @unchecked Sendable {
    private let lock = Lock()
    private var values: [JSONValue] = []

    func append(_ value: JSONValue) {
        lock.withLock {
            values.append(value)
            if values.count > 10_000 { values.removeFirst(values.count - 10_000) }
        }
    }

    func take(clear: Bool) -> [JSONValue] {
        lock.withLock {
            defer { if clear { values.removeAll() } }
            return values
        }
    }
}
