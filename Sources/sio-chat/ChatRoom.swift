import SocketIO

/// The chat of one namespace (`/` or `/chat`): nicknames, history, typing notices and the online count, with the
/// event contract the page (ChatPage.swift) speaks. With several loops its handlers run on every loop at once:
/// the room's state (history, nicknames) is kept under a lock, held only to read or change it, never while
/// emitting.
final class ChatRoom {
    struct Message {
        let id: Int
        let nickname: String
        let text: String
        let time: Double
    }

    static let historySize = 50
    static let maxMessageLength = 2000
    static let maxNicknameLength = 32

    private let namespace: Namespace
    private let lock = Lock()
    private var history: [Message] = []
    private var nextMessageID = 1
    /// Nicknames by socket id: one entry per connected socket of this process, so also the online count.
    private var nicknames: [String: String] = [:]
    private let clock: () -> Double

    init(namespace: Namespace, clock: @escaping () -> Double) {
        self.namespace = namespace
        self.clock = clock
        namespace.onConnection { [unowned self] socket in join(socket) }
    }

    private func join(_ socket: Socket) {
        // A recovered socket keeps its nickname (socket.data survives recovery); a page coming back after a server
        // restart asks for its own in the auth payload.
        let (nickname, online, recent) = lock.withLock {
            let nickname = socket.data["nickname"]?.stringValue ?? requestedNickname(socket) ?? "Guest-\(socket.id.prefix(4))"
            nicknames[socket.id] = nickname
            return (nickname, nicknames.count, history)
        }
        socket.data = .object([("nickname", .string(nickname))])
        socket.emit("welcome", .object([
            ("nickname", .string(nickname)), ("online", .number(Double(online))), ("history", .array(recent.map(json))),
        ]))
        socket.broadcast.emit("user joined", .object([
            ("nickname", .string(nickname)), ("online", .number(Double(online))),
        ]))
        namespace.emit("online", .number(Double(online)))

        socket.on("chat message") { [unowned self] arguments, ack in
            guard let text = (try? arguments.values())?.first?.stringValue,
                  !text.isEmpty, text.count <= Self.maxMessageLength else {
                ack?.send(.object([("ok", false), ("error", .string("a message is 1 to \(Self.maxMessageLength) characters"))]))
                return
            }
            let message = lock.withLock {
                let message = Message(id: nextMessageID, nickname: nicknames[socket.id] ?? "?", text: text, time: clock())
                nextMessageID += 1
                history.append(message)
                if history.count > Self.historySize { history.removeFirst(history.count - Self.historySize) }
                return message
            }
            // The text first, as the tutorial's page expects; details second.
            namespace.emit("chat message", .string(text), .object([
                ("id", .number(Double(message.id))), ("nickname", .string(message.nickname)),
                ("time", .number(message.time)),
            ]))
            ack?.send(.object([("ok", true)]))
        }
        socket.on("set nickname") { [unowned self] arguments, ack in
            let wanted = ((try? arguments.values())?.first?.stringValue ?? "").trimmed()
            guard !wanted.isEmpty, wanted.count <= Self.maxNicknameLength else {
                ack?.send(.object([("ok", false), ("error", .string("a nickname is 1 to \(Self.maxNicknameLength) characters"))]))
                return
            }
            let old: String? = lock.withLock {
                guard !nicknames.contains(where: { $0.value == wanted && $0.key != socket.id }) else { return nil }
                let old = nicknames[socket.id] ?? ""
                nicknames[socket.id] = wanted
                return old
            }
            guard let old else {
                ack?.send(.object([("ok", false), ("error", "that nickname is taken")]))
                return
            }
            socket.data = .object([("nickname", .string(wanted))])
            ack?.send(.object([("ok", true), ("nickname", .string(wanted))]))
            if old != wanted {
                namespace.emit("nickname changed", .object([("old", .string(old)), ("new", .string(wanted))]))
            }
        }
        socket.on("typing") { [unowned self] arguments, _ in
            let typing = (try? arguments.values())?.first?.boolValue ?? false
            let nickname = lock.withLock { nicknames[socket.id] ?? "" }
            socket.broadcast.volatile.emit("typing", .object([
                ("nickname", .string(nickname)), ("typing", .bool(typing)),
            ]))
        }
        // For tests: `echo` acknowledges with its own arguments (binary included); `ignore` never answers.
        socket.on("echo") { arguments, ack in ack?.send(arguments) }
        socket.on("ignore") { _, _ in }

        socket.onDisconnect { [unowned self] _ in
            let (nickname, online) = lock.withLock { (nicknames.removeValue(forKey: socket.id) ?? "", nicknames.count) }
            namespace.emit("user left", .object([
                ("nickname", .string(nickname)), ("online", .number(Double(online))),
            ]))
            namespace.emit("online", .number(Double(online)))
        }
    }

    /// `auth.nickname`, when it is a valid name nobody else uses. Under the lock.
    private func requestedNickname(_ socket: Socket) -> String? {
        guard let wanted = (try? JSONValue.parse(socket.handshake.auth))?["nickname"]?.stringValue?.trimmed(),
              !wanted.isEmpty, wanted.count <= Self.maxNicknameLength,
              !nicknames.values.contains(wanted) else { return nil }
        return wanted
    }

    private func json(_ message: Message) -> JSONValue {
        .object([("id", .number(Double(message.id))), ("nickname", .string(message.nickname)),
                 ("text", .string(message.text)), ("time", .number(message.time))])
    }
}

extension String {
    func trimmed() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
