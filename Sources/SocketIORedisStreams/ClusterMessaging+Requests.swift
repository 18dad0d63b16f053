import MsgPackCodec
import SIOLoop
import SocketIO
import SocketIORedis

// ClusterMessaging: the requests that wait for other nodes (fetchSockets, serverSideEmit with ack, broadcasts with
// acks), over pub/sub as ClusterAdapter sends them, and the answers to other nodes' requests.
//
// How many answers to wait for is the reference's: `serverCount` (PUBSUB NUMSUB or SHARDNUMSUB of the namespace
// channel), minus this node. A node that dies closes its connection and leaves that count at once; one that dies
// while a request waits for it is given up when its heartbeat lapses (ClusterAdapterWithHeartbeat's `removeNode`).
// That is safe only for nodes counted in the request: so a request records the heartbeating nodes when they are
// exactly the others Redis counts, and otherwise (Node nodes, and the sharded adapter: no heartbeat) waits as the
// reference does.

extension ClusterMessaging {
    // MARK: fetchSockets

    func clusterFetchSockets(_ options: BroadcastOptions, completion: @escaping ([RemoteSocket]) -> Void) {
        clusterFetchSockets(options) { [log] error, sockets in
            if let error { log.warn("fetchSockets: \(error); answering with the \(sockets.count) socket(s) known") }
            completion(sockets)
        }
    }

    /// `fetchSockets` across the cluster; `error` is `.timeout` when a node did not answer in time (the flag's
    /// timeout, else `requestsTimeout`), with the sockets gathered so far.
    func clusterFetchSockets(_ options: BroadcastOptions, completion: @escaping (SocketIOError?, [RemoteSocket]) -> Void) {
        local.fetchSockets(options) { [self] localSockets in
            guard !options.flags.local, !closed else {
                completion(nil, localSockets)
                return
            }
            countOthers { [self] expected, heartbeating in
                guard expected > 0, !closed else {
                    completion(nil, localSockets)
                    return
                }
                let request = ClusterRequest(kind: .fetchSockets, expected: expected, waitingOn: heartbeating, adapter: self)
                request.sockets = localSockets
                request.finish = { [unowned request] error in completion(error, request.sockets) }
                start(request, timeout: options.flags.timeout ?? requestsTimeout,
                      publishing: .fetchSockets, ClusterPayload.fetchSockets(options, requestId: request.id))
            }
        }
    }

    func answerFetchSockets(_ request: ReceivedRequest, requester: String?) {
        guard let requester, let requestId = request.requestId else { return }
        local.fetchSockets(request.options.broadcastOptions) { [self] sockets in
            publishResponse(to: requester, .fetchSocketsResponse, ClusterPayload.fetchSocketsResponse(
                requestId: requestId, sockets: sockets.map(\.json)))
        }
    }

    // MARK: serverSideEmit

    func clusterServerSideEmit(_ event: String, _ arguments: SocketIOArguments) {
        guard !closed else { return }
        publishEphemeral(.serverSideEmit, ClusterPayload.serverSideEmit(serverSideData(event, arguments), requestId: nil))
    }

    /// `serverSideEmitWithAck`: every other node's answer, or `.timeout` and the answers so far after `timeout`
    /// (default `requestsTimeout`), or `.disconnected` when Redis cannot be reached.
    func clusterServerSideEmit(_ event: String, _ arguments: SocketIOArguments, timeout: UInt64?,
                               ack completion: @escaping (SocketIOError?, [JSONValue]) -> Void) {
        guard !closed else {
            completion(.disconnected, [])
            return
        }
        let data = serverSideData(event, arguments)
        countOthers { [self] expected, heartbeating in
            guard expected > 0, !closed else {
                completion(nil, [])
                return
            }
            let request = ClusterRequest(kind: .serverSideEmit, expected: expected, waitingOn: heartbeating, adapter: self)
            request.finish = { [unowned request] error in completion(error, request.responses) }
            start(request, timeout: timeout ?? requestsTimeout,
                  publishing: .serverSideEmit, ClusterPayload.serverSideEmit(data, requestId: request.id))
        }
    }

    func clusterOnServerSideEmit(_ event: String, _ handler: @escaping ServerSideEmitHandler) {
        serverSideHandlers[event, default: []].append(handler)
    }

    /// `[event, ...args]`, binaries as msgpack bins (the whole message is msgpack on pub/sub).
    private func serverSideData(_ event: String, _ arguments: SocketIOArguments) -> [MsgPackValue] {
        [.string(event)] + arguments.wireValues(dialect: .msgpackJavaScript)
    }

    func receivedServerSideEmit(_ request: ReceivedRequest, requester: String?) {
        guard let (event, arguments) = request.serverSideEvent else { return }
        var ack: ServerSideAck?
        if let requestId = request.requestId, let requester {
            // Only one answer, its one argument (`undefined` without one), as the reference's callback.
            ack = ServerSideAck { [self] value in
                publishResponse(to: requester, .serverSideEmitResponse, ClusterPayload.serverSideEmitResponse(
                    requestId: requestId, packet: value.map { MsgPackValue(json: $0, dialect: .msgpackJavaScript) } ?? .undefined))
            }
        }
        for handler in serverSideHandlers[event] ?? [] { handler(arguments, ack) }
    }

    // MARK: Broadcasts with acknowledgements

    func clusterBroadcastWithAck(_ event: OutgoingEvent, options: BroadcastOptions, clientCount: @escaping (Int) -> Void,
                                 ack: @escaping (SocketIOArguments) -> Void) {
        if !options.flags.local, !closed {
            let pending = ClusterAckRequest(adapter: self, clientCount: clientCount, ack: ack)
            ackRequests[pending.id] = pending
            // As the reference: forgotten once the broadcast's timeout passed.
            loop.schedule(pending, afterMilliseconds: options.flags.timeout ?? 5000)
            publishEphemeral(.broadcast, ClusterPayload.broadcast(event, options: options, requestId: pending.id))
            countOthers { _, heartbeating in pending.waitingOn = heartbeating }
        }
        local.broadcastWithAck(event, options: options, clientCount: clientCount, ack: ack)
    }

    func answerBroadcastWithAck(_ broadcast: ReceivedBroadcast, requestId: String, requester: String?) {
        guard let requester, let event = broadcast.event() else { return }
        local.broadcastWithAck(
            event, options: broadcast.options.broadcastOptions,
            clientCount: { [self] count in
                publishResponse(to: requester, .broadcastClientCount,
                                ClusterPayload.clientCount(requestId: requestId, clientCount: count))
            },
            ack: { [self] reply in
                // The client's first argument only, as the reference's `(arg) => ...`.
                let first = reply.wireValues(dialect: .msgpackJavaScript).first ?? .undefined
                publishResponse(to: requester, .broadcastAck, ClusterPayload.broadcastAck(requestId: requestId, packet: first))
            })
    }

    // MARK: Answers

    func received(response message: ClusterMessage) {
        let response = ReceivedRequest(message.data)
        guard let requestId = response.requestId else { return }
        let sender = message.uid ?? ""
        switch message.kind {
        case .broadcastClientCount?:
            guard let pending = ackRequests[requestId] else { return }
            pending.reported.insert(sender)
            pending.clientCount(response.clientCount ?? 0)
        case .broadcastAck?:
            guard let pending = ackRequests[requestId] else { return }
            let arguments = response.packet.flatMap { try? SocketIOArguments.fromWire([$0]) } ?? .none
            pending.ack(arguments)
        case .fetchSocketsResponse?:
            guard let request = requests[requestId], request.kind == .fetchSockets else { return }
            request.sockets += response.sockets.map(RedisAdapter.remoteSocket)
            answered(request, by: sender)
        case .serverSideEmitResponse?:
            guard let request = requests[requestId], request.kind == .serverSideEmit else { return }
            request.responses.append(response.packet?.jsonValue() ?? .null)
            answered(request, by: sender)
        default:
            return
        }
    }

    private func answered(_ request: ClusterRequest, by sender: String) {
        request.answered += 1
        request.answeredBy.insert(sender)
        if request.answered >= request.expected { finish(request, error: nil) }
    }

    // MARK: Bookkeeping

    /// How many other nodes should answer (NUMSUB minus this one), and the heartbeating nodes when they are
    /// exactly those (so each one's death may be counted as its answer).
    func countOthers(_ completion: @escaping (_ expected: Int, _ heartbeating: Set<String>) -> Void) {
        serverCount { [self] count in
            let others = count - 1
            let live = nodes.live
            completion(others, live.count == others ? live : [])
        }
    }

    private func start(_ request: ClusterRequest, timeout: UInt64, publishing type: ClusterMessageType,
                       _ data: MsgPackValue) {
        requests[request.id] = request
        loop.schedule(request, afterMilliseconds: timeout)
        if !publishEphemeral(type, data) { finish(request, error: .disconnected) }
    }

    func finish(_ request: ClusterRequest, error: SocketIOError?) {
        guard requests.removeValue(forKey: request.id) != nil else { return }
        loop.cancelTimer(request)
        let finish = request.finish
        request.finish = nil
        finish?(error)
    }

    /// A node said goodbye or went silent: the requests that counted on it stop waiting for it
    /// (ClusterAdapterWithHeartbeat's `removeNode`), and broadcasts with acks take its client count as 0.
    func removeNode(_ uid: String) {
        guard nodes.remove(uid) else { return }
        for request in Array(requests.values) {
            guard request.waitingOn.remove(uid) != nil, !request.answeredBy.contains(uid) else { continue }
            request.expected -= 1
            if request.answered >= request.expected { finish(request, error: nil) }
        }
        for pending in Array(ackRequests.values) {
            guard pending.waitingOn.remove(uid) != nil, pending.reported.insert(uid).inserted else { continue }
            pending.clientCount(0)
        }
    }

    func forgetAckRequest(_ id: String) { ackRequests.removeValue(forKey: id) }
}

/// A request waiting for the other nodes' answers.
final class ClusterRequest: TimerTarget {
    enum Kind { case fetchSockets, serverSideEmit }

    let id = RedisStreamsAdapter.randomID()
    let kind: Kind
    /// Answers still needed in all (NUMSUB minus this node, less the nodes given up).
    var expected: Int
    var answered = 0
    var answeredBy: Set<String> = []
    /// Heartbeating nodes counted in `expected`: one that dies before answering is given up.
    var waitingOn: Set<String>
    var sockets: [RemoteSocket] = []
    var responses: [JSONValue] = []
    var finish: ((SocketIOError?) -> Void)?
    unowned let adapter: any ClusterMessaging
    var timerSlot = TimerSlot()

    init(kind: Kind, expected: Int, waitingOn: Set<String>, adapter: any ClusterMessaging) {
        self.kind = kind
        self.expected = expected
        self.waitingOn = waitingOn
        self.adapter = adapter
    }

    func timerFired(now: UInt64) { adapter.finish(self, error: .timeout) }
}

/// A broadcast with acknowledgements sent to the other nodes: their client counts and acks go to the requester's
/// callbacks until the broadcast's timeout.
final class ClusterAckRequest: TimerTarget {
    let id = RedisStreamsAdapter.randomID()
    unowned let adapter: any ClusterMessaging
    let clientCount: (Int) -> Void
    let ack: (SocketIOArguments) -> Void
    /// Nodes whose client count arrived (or was taken as 0).
    var reported: Set<String> = []
    var waitingOn: Set<String> = []
    var timerSlot = TimerSlot()

    init(adapter: any ClusterMessaging, clientCount: @escaping (Int) -> Void, ack: @escaping (SocketIOArguments) -> Void) {
        self.adapter = adapter
        self.clientCount = clientCount
        self.ack = ack
    }

    func timerFired(now: UInt64) { adapter.forgetAckRequest(id) }
}
