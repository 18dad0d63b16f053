// One node of a Socket.IO cluster over Redis, for checking clusters from outside (Tests/cluster, docs/REDIS.md):
//
//   sio-cluster-node --port P --redis redis://127.0.0.1:6379 --name A [--host 127.0.0.1] [--key socket.io] [--loops 1]
//   sio-cluster-node --port P --redis-streams redis://127.0.0.1:6379 --name A [--recovery-ms N] [stream options]
//   sio-cluster-node --port P --redis-sharded redis://127.0.0.1:6379 --name A [--sharded-mode dynamic]
//
// Events on `/` (each handler acks when the client asks for an ack):
//   join(room) / leave(room) -> true
//   broadcast(obj, ...): `bcast` with every argument to obj.rooms (array) or obj.room or everyone, except
//     obj.except (string or array), volatile when obj.volatile, compress(false) when obj.compress is false -> true
//   sock-broadcast(obj): the same from the socket (the sender excluded) -> true
//   echo-ack(...) -> the arguments
//   whoami() -> {node, id, port, loop, recovered, rooms, data}
//   direct(obj): `bcast` obj to this socket alone (through the adapter when recovery is on, so it is logged) -> true
//   fetch([room]) -> ids of fetchSockets;  fetch-full([room]) -> [{id, rooms, data}]
//   server-count() -> n;  all-rooms() -> [room]
//   ssemit(arg): serverSideEmit `hello` arg -> true
//   ssemit-ack(arg): serverSideEmit with ack `hello-ack` arg -> {err, responses}
//   sockets-join({target, room}) / sockets-leave({target, room}) / disconnect-sockets({target, close}) -> true
//   bcast-ack({room, payload}): to room, timeout 3000, `need-ack` payload -> {err, responses}
// Server side: `hello(arg)` emits `ss-hello` {node, arg} to every local client; `hello-ack(arg)` answers
// {node, arg}, after arg.delay ms when arg.slow names this node. Namespace `/chat`: `join` and `broadcast` only.
import SocketIO
import SocketIORedis
import SocketIORedisStreams
#if canImport(Glibc)
import Glibc
#endif

let usageText = """
    usage: sio-cluster-node --port P (--redis URL | --redis-streams URL | --redis-sharded URL) --name NAME
                            [--host 127.0.0.1] [--loops 1]
                            [--recovery-ms N] [--ping-interval MS] [--ping-timeout MS] [--requests-timeout MS]
                            [--key socket.io]                                    (pub/sub adapter)
                            [--stream-name socket.io] [--stream-count 1] [--stream-maxlen 10000] [--block-ms 5000]
                            [--heartbeat-interval 5000] [--heartbeat-timeout 10000]  (streams adapter)
                            [--session-refresh MS] [--sessions-on-leave]
                            [--sharded-mode static|dynamic|dynamic-private]  (sharded adapter)

      --redis URL          the classic pub/sub adapter (Node's @socket.io/redis-adapter)
      --redis-streams URL  the streams adapter (Node's @socket.io/redis-streams-adapter): sessions kept in Redis
      --redis-sharded URL  the sharded pub/sub adapter (Node's createShardedAdapter; Redis 7 SSUBSCRIBE/SPUBLISH)
      --sharded-mode MODE  its subscriptionMode (default dynamic)
      --recovery-ms N      connection state recovery with maxDisconnectionDuration N ms (default: off)
      --sessions-on-leave  streams: write sessions only when sockets leave, as Node's adapter (default: also while
                           connected, refreshed every --session-refresh ms, so a node's death loses none)
      --loops N            event loops (threads) serving the port; 0 or auto: one per core (default 1). The process
                           is one node to the others whatever its loop count.
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
var streams = false
var sharded = false
var shardedOptions = RedisShardedAdapterOptions()
var recoveryMilliseconds: UInt64?
var pingInterval: UInt64?
var pingTimeout: UInt64?
var requestsTimeout: UInt64 = 5000
var streamOptions = RedisStreamsAdapterOptions()
var arguments = CommandLine.arguments.dropFirst().makeIterator()
func number(_ text: String?) -> UInt64 {
    guard let text, let value = UInt64(text) else { usage() }
    return value
}
while let argument = arguments.next() {
    switch argument {
    case "--port": port = arguments.next().flatMap { Int($0) }
    case "--host": host = arguments.next() ?? host
    case "--redis": redisURL = arguments.next() ?? redisURL
    case "--redis-streams":
        redisURL = arguments.next() ?? redisURL
        streams = true
    case "--redis-sharded":
        redisURL = arguments.next() ?? redisURL
        sharded = true
    case "--sharded-mode":
        guard let mode = arguments.next().flatMap(ShardedSubscriptionMode.init(rawValue:)) else { usage() }
        shardedOptions.subscriptionMode = mode
    case "--recovery-ms": recoveryMilliseconds = number(arguments.next())
    case "--ping-interval": pingInterval = number(arguments.next())
    case "--ping-timeout": pingTimeout = number(arguments.next())
    case "--requests-timeout": requestsTimeout = number(arguments.next())
    case "--stream-name": streamOptions.streamName = arguments.next() ?? streamOptions.streamName
    case "--stream-count": streamOptions.streamCount = max(1, Int(number(arguments.next())))
    case "--stream-maxlen": streamOptions.maxLen = max(1, Int(number(arguments.next())))
    case "--block-ms": streamOptions.blockTimeInMs = number(arguments.next())
    case "--heartbeat-interval": streamOptions.heartbeatInterval = max(1, number(arguments.next()))
    case "--heartbeat-timeout": streamOptions.heartbeatTimeout = max(1, number(arguments.next()))
    case "--session-refresh": streamOptions.sessionRefreshInterval = max(1, number(arguments.next()))
    case "--sessions-on-leave": streamOptions.keepsConnectedSessions = false
    case "--name": name = arguments.next()
    case "--key": key = arguments.next() ?? key
    case "--loops":
        let text = arguments.next() ?? ""
        guard let count = SocketIOOptions.loops(fromArgument: text) else { usage() }
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
if let recoveryMilliseconds {
    options.connectionStateRecovery = ConnectionStateRecovery(maxDisconnectionDuration: recoveryMilliseconds)
}
if let pingInterval { options.engine.pingInterval = max(1, pingInterval) }
if let pingTimeout { options.engine.pingTimeout = max(1, pingTimeout) }
let io = SocketIOServer(loop: loop, options: options)
do {
    if sharded {
        shardedOptions.clientName = name
        shardedOptions.requestsTimeout = max(1, requestsTimeout)
        io.adapterFactory = try RedisShardedAdapter.factory(url: redisURL, options: shardedOptions)
    } else if streams {
        streamOptions.clientName = name
        streamOptions.requestsTimeout = max(1, requestsTimeout)
        io.adapterFactory = try RedisStreamsAdapter.factory(url: redisURL, options: streamOptions)
    } else {
        io.adapterFactory = try RedisAdapter.factory(url: redisURL, key: key, requestsTimeout: max(1, requestsTimeout),
                                                     clientName: name)
    }
} catch {
    fputs("sio-cluster-node: \(error)\n", stderr)
    exit(2)
}

let main = io.of("/")
let chat = io.of("/chat")
/// The Redis adapter of `/` lives on the first loop: handlers on other loops reach it through that loop's queue.
let adapter = main.adapter as! any ClusterAdapter
func withAdapter(_ body: @escaping (any ClusterAdapter) -> Void) {
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
    if object?["compress"]?.boolValue == false { target = target.compress(false) }
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
    // A recovered socket keeps the data it had (set by the node it first joined).
    if !socket.recovered { socket.data = ["node": .string(name)] }
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
                   "loop": .number(Double(socket.server.loopIndex)), "recovered": .bool(socket.recovered),
                   "rooms": .array(socket.rooms.sorted().map { .string($0) }), "data": socket.data])
    }
    socket.on("direct") { arguments, ack in
        socket.emit("bcast", arguments)
        ack?.send(true)
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
        withAdapter { $0.serverSideEmit("hello-ack", arguments, timeout: nil) { error, responses in
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
    let arg = firstValue(arguments) ?? .null
    let answer: JSONValue = ["node": .string(name), "arg": arg]
    if arg["slow"]?.stringValue == name, let delay = arg["delay"]?.doubleValue, delay > 0 {
        io.loop.schedule(Later { ack?.send(answer) }, afterMilliseconds: UInt64(delay))
    } else {
        ack?.send(answer)
    }
}

/// Work for later on the first loop's timer queue (kept alive by the queue until it fires).
final class Later: TimerTarget {
    var timerSlot = TimerSlot()
    private var work: (() -> Void)?
    private var keepAlive: Later?
    init(_ work: @escaping () -> Void) {
        self.work = work
        keepAlive = self
    }
    func timerFired(now: UInt64) {
        work?()
        work = nil
        keepAlive = nil
    }
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
let adapterText = sharded ? "redis sharded \(redisURL), \(shardedOptions.subscriptionMode.rawValue)"
    : streams ? "redis streams \(redisURL), stream \(streamOptions.streamName)" : "redis \(redisURL), key \(key)"
print("sio-cluster-node \(name) listening on \(host):\(io.port) (\(adapterText), \(io.shards.count) loop(s))")
fflush(stdout)
loop.run()
signals.close()
