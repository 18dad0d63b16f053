// One node of a Socket.IO cluster over Redis, for checking clusters from outside (Tests/cluster, docs/REDIS.md):
//
//   sio-cluster-node --port P --redis redis://127.0.0.1:6379 --name A [--host 127.0.0.1] [--key socket.io] [--loops 1]
//
// Events on `/` (each handler acks when the client asks for an ack):
//   join(room) / leave(room) -> true
//   broadcast(obj): `bcast` obj to obj.rooms (array) or obj.room or everyone, except obj.except (string or
//     array), volatile when obj.volatile -> true
//   sock-broadcast(obj): the same from the socket (the sender excluded) -> true
//   echo-ack(...) -> the arguments
//   whoami() -> {node, id, port, loop}
//   fetch([room]) -> ids of fetchSockets;  fetch-full([room]) -> [{id, rooms, data}]
//   server-count() -> n;  all-rooms() -> [room]
//   ssemit(arg): serverSideEmit `hello` arg -> true
//   ssemit-ack(arg): serverSideEmit with ack `hello-ack` arg -> {err, responses}
//   sockets-join({target, room}) / sockets-leave({target, room}) / disconnect-sockets({target, close}) -> true
//   bcast-ack({room, payload}): to room, timeout 3000, `need-ack` payload -> {err, responses}
// Server side: `hello(arg)` emits `ss-hello` {node, arg} to every local client; `hello-ack(arg)` answers
// {node, arg}. Namespace `/chat`: `join` and `broadcast` only.
import SocketIO
import SocketIORedis
#if canImport(Glibc)
import Glibc
#endif

let usageText = """
    usage: sio-cluster-node --port P --redis redis://host:port --name NAME [--host 127.0.0.1] [--key socket.io]
                            [--loops 1]

      --loops N   event loops (threads) serving the port; 0 or auto: one per core (default 1). The process is
                  one node to the others whatever its loop count.
    """

func usage() -> Never {
    fputs(usageText + "\n", stderr)
    exit(2)
}

var port: Int?
var host = "127.0.0.1"
var redisURL = "redis://127.0.0.1:6379"
var name: String?
var key = "socket.io"
var loops = 1
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = arguments.next().flatMap { Int($0) }
    case "--host": host = arguments.next() ?? host
    case "--redis": redisURL = arguments.next() ?? redisURL
    case "--name": name = arguments.next()
    case "--key": key = arguments.next() ?? key
    case "--loops":
        let text = arguments.next() ?? ""
        guard let count = text == "auto" ? 0 : Int(text), (0...EngineServer.maxLoops).contains(count) else { usage() }
        loops = count
    case "--help", "-h":
        print(usageText)
        exit(0)
    default: usage()
    }
}
guard let port, let name else { usage() }

// Redis outages and what could not be published are reported at warn level; SIO_DEBUG adds debug output.
Log.setLevel(.info)

let loop = try EventLoop()
var options = SocketIOOptions()
options.engine.cors = CORSOptions(origin: .any)
options.loops = loops
let io = SocketIOServer(loop: loop, options: options)
do {
    io.adapterFactory = try RedisAdapter.factory(url: redisURL, key: key, clientName: name)
} catch {
    fputs("sio-cluster-node: \(error)\n", stderr)
    exit(2)
}

let main = io.of("/")
let chat = io.of("/chat")
/// The Redis adapter of `/` lives on the first loop: handlers on other loops reach it through that loop's queue.
let adapter = main.adapter as! RedisAdapter
func withAdapter(_ body: @escaping (RedisAdapter) -> Void) {
    if io.loop.isInLoopThread { body(adapter) } else { io.loop.execute { body(adapter) } }
}

func firstValue(_ arguments: SocketIOArguments) -> JSONValue? { (try? arguments.values())?.first }

/// `obj.rooms` (array) or `obj.room` or everyone; except `obj.except`; volatile when `obj.volatile`.
func target(_ base: BroadcastOperator, _ object: JSONValue?) -> BroadcastOperator {
    var target = base
    if let rooms = object?["rooms"]?.arrayValue {
        target = target.to(rooms.compactMap(\.stringValue))
    } else if let room = object?["room"]?.stringValue {
        target = target.to(room)
    }
    if let except = object?["except"] {
        if let list = except.arrayValue { target = target.except(list.compactMap(\.stringValue)) }
        if let one = except.stringValue { target = target.except(one) }
    }
    if object?["volatile"]?.boolValue == true { target = target.volatile }
    return target
}

func socketsTarget(_ object: JSONValue?) -> BroadcastOperator {
    if let room = object?["target"]?.stringValue { return main.to(room) }
    return main.broadcastOperator
}

func failure(_ error: SocketIOError?) -> JSONValue {
    switch error {
    case nil: return .null
    case .timeout?: return "operation has timed out"
    case .disconnected?: return "disconnected"
    case .invalidArguments(let message)?: return .string(message)
    }
}

func firstArgument(_ reply: SocketIOArguments) -> JSONValue { (try? reply.values())?.first ?? .null }

main.onConnection { socket in
    socket.data = ["node": .string(name)]
    socket.on("join") { arguments, ack in
        if let room = firstValue(arguments)?.stringValue { socket.join(room) }
        ack?.send(true)
    }
    socket.on("leave") { arguments, ack in
        if let room = firstValue(arguments)?.stringValue { socket.leave(room) }
        ack?.send(true)
    }
    socket.on("broadcast") { arguments, ack in
        target(main.broadcastOperator, firstValue(arguments)).emit("bcast", arguments)
        ack?.send(true)
    }
    socket.on("sock-broadcast") { arguments, ack in
        target(socket.broadcast, firstValue(arguments)).emit("bcast", arguments)
        ack?.send(true)
    }
    socket.on("echo-ack") { arguments, ack in ack?.send(arguments) }
    socket.on("whoami") { _, ack in
        ack?.send(["node": .string(name), "id": .string(socket.id), "port": .number(Double(io.port)),
                   "loop": .number(Double(socket.server.loopIndex))])
    }
    socket.on("fetch") { arguments, ack in
        let room = firstValue(arguments)?.stringValue
        let operatorTarget = room.map { main.to($0) } ?? main.broadcastOperator
        operatorTarget.fetchSockets { sockets in
            ack?.send(.array(sockets.map { .string($0.id) }))
        }
    }
    socket.on("fetch-full") { arguments, ack in
        let room = firstValue(arguments)?.stringValue
        let operatorTarget = room.map { main.to($0) } ?? main.broadcastOperator
        operatorTarget.fetchSockets { sockets in
            ack?.send(.array(sockets.map { remote in
                .object([("id", .string(remote.id)), ("rooms", .array(remote.rooms.sorted().map { .string($0) })),
                         ("data", remote.data)])
            }))
        }
    }
    socket.on("server-count") { _, ack in
        withAdapter { $0.serverCount { count in ack?.send(.number(Double(count))) } }
    }
    socket.on("all-rooms") { _, ack in
        withAdapter { $0.allRooms { _, rooms in ack?.send(.array(rooms.sorted().map { .string($0) })) } }
    }
    socket.on("ssemit") { arguments, ack in
        withAdapter { $0.serverSideEmit("hello", arguments) }
        ack?.send(true)
    }
    socket.on("ssemit-ack") { arguments, ack in
        withAdapter { $0.serverSideEmit("hello-ack", arguments) { error, responses in
            ack?.send(["err": failure(error), "responses": .array(responses)])
        } }
    }
    socket.on("sockets-join") { arguments, ack in
        let object = firstValue(arguments)
        if let room = object?["room"]?.stringValue { socketsTarget(object).socketsJoin(room) }
        ack?.send(true)
    }
    socket.on("sockets-leave") { arguments, ack in
        let object = firstValue(arguments)
        if let room = object?["room"]?.stringValue { socketsTarget(object).socketsLeave(room) }
        ack?.send(true)
    }
    socket.on("disconnect-sockets") { arguments, ack in
        let object = firstValue(arguments)
        // Ack first: the asking socket may be among those disconnected.
        ack?.send(true)
        socketsTarget(object).disconnectSockets(close: object?["close"]?.boolValue ?? false)
    }
    socket.on("bcast-ack") { arguments, ack in
        let object = firstValue(arguments)
        var operatorTarget = main.broadcastOperator.timeout(3000)
        if let room = object?["room"]?.stringValue { operatorTarget = operatorTarget.to(room) }
        let payload = object?["payload"] ?? .null
        operatorTarget.emit("need-ack", SocketIOArguments([payload])) { error, replies in
            ack?.send(["err": failure(error), "responses": .array(replies.map(firstArgument))])
        }
    }
}

adapter.onServerSideEmit("hello") { arguments, _ in
    let arg = firstValue(arguments) ?? .null
    main.local.emit("ss-hello", ["node": .string(name), "arg": arg])
}
adapter.onServerSideEmit("hello-ack") { arguments, ack in
    ack?.send(["node": .string(name), "arg": firstValue(arguments) ?? .null])
}

chat.onConnection { socket in
    socket.data = ["node": .string(name)]
    socket.on("join") { arguments, ack in
        if let room = firstValue(arguments)?.stringValue { socket.join(room) }
        ack?.send(true)
    }
    socket.on("broadcast") { arguments, ack in
        target(chat.broadcastOperator, firstValue(arguments)).emit("bcast", arguments)
        ack?.send(true)
    }
}

do {
    try io.listen(host: host, port: port)
} catch {
    fputs("sio-cluster-node: \(error)\n", stderr)
    exit(1)
}
let signals = SignalWatcher(loop: loop, signals: [SIGINT, SIGTERM]) { loop.stop() }
print("sio-cluster-node \(name) listening on \(host):\(io.port) (redis \(redisURL), key \(key), \(io.shards.count) loop(s))")
fflush(stdout)
loop.run()
signals.close()
