import SocketIO

/// The chat of one namespace (`/` or `/chat`): nicknames, history, typing notices and the online count, with the
/// event contract the page (ChatPage.swift) speaks. Loop thread only.
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
    private var history: [Message] = []
    private var nextMessageID = 1
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
        let nickname = socket.data["nickname"]?.stringValue ?? requestedNickname(socket) ?? "Guest-\(socket.id.prefix(4))"
        setNickname(nickname, for: socket)
        socket.emit("welcome", .object([
            ("nickname", .string(nickname)), ("online", .number(Double(namespace.sockets.count))),
            ("history", .array(history.map(json))),
        ]))
        socket.broadcast.emit("user joined", .object([
            ("nickname", .string(nickname)), ("online", .number(Double(namespace.sockets.count))),
        ]))
        namespace.emit("online", .number(Double(namespace.sockets.count)))

        socket.on("chat message") { [unowned self] arguments, ack in
            guard let text = (try? arguments.values())?.first?.stringValue,
                  !text.isEmpty, text.count <= Self.maxMessageLength else {
                ack?.send(.object([("ok", false), ("error", .string("a message is 1 to \(Self.maxMessageLength) characters"))]))
                return
            }
            let message = Message(id: nextMessageID, nickname: nicknames[socket.id] ?? "?", text: text, time: clock())
            nextMessageID += 1
            history.append(message)
            if history.count > Self.historySize { history.removeFirst(history.count - Self.historySize) }
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
            guard !nicknames.contains(where: { $0.value == wanted && $0.key != socket.id }) else {
                ack?.send(.object([("ok", false), ("error", "that nickname is taken")]))
                return
            }
            let old = nicknames[socket.id] ?? ""
            setNickname(wanted, for: socket)
            ack?.send(.object([("ok", true), ("nickname", .string(wanted))]))
            if old != wanted {
                namespace.emit("nickname changed", .object([("old", .string(old)), ("new", .string(wanted))]))
            }
        }
        socket.on("typing") { [unowned self] arguments, _ in
            let typing = (try? arguments.values())?.first?.boolValue ?? false
            socket.broadcast.volatile.emit("typing", .object([
                ("nickname", .string(nicknames[socket.id] ?? "")), ("typing", .bool(typing)),
            ]))
        }
        // For tests: `echo` acknowledges with its own arguments (binary included); `ignore` never answers.
        socket.on("echo") { arguments, ack in ack?.send(arguments) }
        socket.on("ignore") { _, _ in }

        socket.onDisconnect { [unowned self] _ in
            let nickname = nicknames.removeValue(forKey: socket.id) ?? ""
            namespace.emit("user left", .object([
                ("nickname", .string(nickname)), ("online", .number(Double(namespace.sockets.count))),
            ]))
            namespace.emit("online", .number(Double(namespace.sockets.count)))
        }
    }

    /// `auth.nickname`, when it is a valid name nobody else uses.
    private func requestedNickname(_ socket: Socket) -> String? {
        guard let wanted = (try? JSONValue.parse(socket.handshake.auth))?["nickname"]?.stringValue?.trimmed(),
              !wanted.isEmpty, wanted.count <= Self.maxNicknameLength,
              !nicknames.values.contains(wanted) else { return nil }
        return wanted
    }

    private func setNickname(_ nickname: String, for socket: Socket) {
        nicknames[socket.id] = nickname
        socket.data = .object([("nickname", .string(nickname))])
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
