import MsgPackCodec
import SocketIO
import SocketIORedis

extension ClusterMessaging {
    /// ClusterAdapter's `onMessage` (with ClusterAdapterWithHeartbeat's bookkeeping of who is alive first).
    func onMessage(_ message: ClusterMessage, offset: LogPosition?) {
        if message.uid == uid { return }
        guard message.nsp == namespace.name else { return }
        let sender = message.uid
        let kind = message.kind
        if let sender, sender != "emitter" {
            nodes.heard(sender, heartbeat: kind == .heartbeat || kind == .initialHeartbeat, now: loop.now)
        }
        switch kind {
        case .initialHeartbeat?:
            answerInitialHeartbeat()
        case .heartbeat?:
            break
        case .adapterClose?:
            if let sender { removeNode(sender) }
        case .broadcast?:
            guard let broadcast = ReceivedBroadcast(message.data) else { return }
            if let requestId = broadcast.requestId {
                answerBroadcastWithAck(broadcast, requestId: requestId, requester: sender)
            } else {
                deliver(broadcast, at: offset)
            }
        case .socketsJoin?:
            let request = ReceivedRequest(message.data)
            local.addSockets(request.options.broadcastOptions, rooms: request.rooms)
        case .socketsLeave?:
            let request = ReceivedRequest(message.data)
            local.deleteSockets(request.options.broadcastOptions, rooms: request.rooms)
        case .disconnectSockets?:
            let request = ReceivedRequest(message.data)
            local.disconnectSockets(request.options.broadcastOptions, close: request.close)
        case .fetchSockets?:
            answerFetchSockets(ReceivedRequest(message.data), requester: sender)
        case .serverSideEmit?:
            receivedServerSideEmit(ReceivedRequest(message.data), requester: sender)
        case .fetchSocketsResponse?, .serverSideEmitResponse?, .broadcastClientCount?, .broadcastAck?:
            received(response: message)
        case nil:
            log.debug("ignoring a message of unknown type \(message.type.map(String.init) ?? "NaN")")
        }
    }
}
