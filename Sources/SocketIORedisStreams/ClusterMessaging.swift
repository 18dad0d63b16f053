import MsgPackCodec
import SIOLoop
import SocketIO
import SocketIORedis

/// socket.io-adapter's `ClusterAdapter` message layer (onMessage, the requests and their answers) over whatever
/// carries the messages: the transport seam between the streams adapter (XADD and pub/sub) and the sharded
/// pub/sub adapter (SPUBLISH). A conforming adapter provides its state and how a message goes out; the shared
/// logic is in the extensions (ClusterMessaging+OnMessage.swift, RedisStreamsAdapter+Requests.swift). Loop thread
/// only.
protocol ClusterMessaging: AnyObject {
    var namespace: Namespace { get }
    /// This adapter's id on the wire.
    var uid: String { get }
    var local: any LocalAdapter { get }
    var loop: EventLoop { get }
    var closed: Bool { get }
    var log: Logger { get }
    var requestsTimeout: UInt64 { get }
    var nodes: ClusterNodes { get set }
    var requests: [String: ClusterRequest] { get set }
    var ackRequests: [String: ClusterAckRequest] { get set }
    var serverSideHandlers: [String: [ServerSideEmitHandler]] { get set }

    /// A message for every node that needs no log (requests, broadcasts with acks); false when it could not be
    /// sent.
    @discardableResult
    func publishEphemeral(_ type: ClusterMessageType, _ data: MsgPackValue?) -> Bool
    /// An answer on the requester's own channel.
    func publishResponse(to requester: String, _ type: ClusterMessageType, _ data: MsgPackValue)
    /// Nodes with this namespace, this one included, at least 1.
    func serverCount(_ completion: @escaping (Int) -> Void)
    /// A broadcast from another node (`offset`: its position in a log, if it came through one).
    func deliver(_ broadcast: ReceivedBroadcast, at offset: LogPosition?)
    /// A node announced itself (INITIAL_HEARTBEAT): the streams adapter answers with its own heartbeat.
    func answerInitialHeartbeat()
}
