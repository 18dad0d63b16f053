import MsgPackCodec
import SocketIO
import Testing
@testable import SocketIORedis
@testable import SocketIORedisStreams

// Pub/sub payloads: adapter.ts 310-323 (`doPublish`: an ephemeral message is `Buffer.from(encode(message))` on
// `${channelPrefix}#${nsp}#`) and 331-346 (`doPublishResponse`: the same on `${channelPrefix}#${nsp}#${uid}#`).
// The message object is built `{type, data}` by the caller, then cluster-adapter.ts 685-691
// `publishAndReturnOffset` (and 702-708 `publishResponse`) add `uid`, then `nsp`: so the keys come in the
// order type, data, uid, nsp. @msgpack/msgpack writes small maps as fixmap (80|n), the type as a positive
// fixint, strings as fixstr (Encoder.ts).

let tail = str("uid") + str(uid) + str("nsp") + str("/")

@Suite("pub/sub payloads as the reference writes them")
struct PubSubWireTests {
    /// cluster-adapter.ts 606-611 (FETCH_SOCKETS, `{opts: encodeOptions(opts), requestId}`), type 7.
    @Test func fetchSockets() {
        let message = ClusterMessage(uid: uid, nsp: "/", type: .fetchSockets,
                                     data: ClusterPayload.fetchSockets(rooms(["r"]), requestId: "aaaaaaaaaaaaaaaa"))
        let opts = "83" + str("rooms") + "91" + str("r") + str("except") + "90" + str("flags") + "80"
        #expect(hex(message.pubSubPayload())
            == "84" + str("type") + "07" + str("data") + "82" + str("opts") + opts + str("requestId")
            + str("aaaaaaaaaaaaaaaa") + tail)
    }

    /// cluster-adapter.ts 620-624 (SERVER_SIDE_EMIT without ack: `{packet}`) and 666-672 (with ack:
    /// `{requestId, packet}`), type 9. The packet is `[event, ...args]` as msgpack (no JSON round here).
    @Test func serverSideEmit() {
        let plain = ClusterMessage(uid: uid, nsp: "/", type: .serverSideEmit,
                                   data: ClusterPayload.serverSideEmit([.string("hello"), .int(1)], requestId: nil))
        #expect(hex(plain.pubSubPayload())
            == "84" + str("type") + "09" + str("data") + "81" + str("packet") + "92" + str("hello") + "01" + tail)
        let withAck = ClusterMessage(uid: uid, nsp: "/", type: .serverSideEmit,
                                     data: ClusterPayload.serverSideEmit([.string("hello")], requestId: "bbbbbbbbbbbbbbbb"))
        #expect(hex(withAck.pubSubPayload())
            == "84" + str("type") + "09" + str("data") + "82" + str("requestId") + str("bbbbbbbbbbbbbbbb")
            + str("packet") + "91" + str("hello") + tail)
    }

    /// cluster-adapter.ts 488-498 (BROADCAST with ack: `{packet, requestId, opts}`), sent on pub/sub (adapter.ts
    /// `isEphemeral`: a broadcast with a requestId).
    @Test func broadcastWithAck() throws {
        let data = ClusterPayload.broadcast(try event("q", "[]"), options: rooms(timeout: 1000), requestId: "cccccccccccccccc")
        let message = ClusterMessage(uid: uid, nsp: "/", type: .broadcast, data: data)
        let packet = "82" + str("type") + "02" + str("data") + "91" + str("q")
        let opts = "83" + str("rooms") + "90" + str("except") + "90" + str("flags") + "81" + str("timeout") + "cd03e8"
        #expect(hex(message.pubSubPayload())
            == "84" + str("type") + "03" + str("data") + "83" + str("packet") + packet + str("requestId")
            + str("cccccccccccccccc") + str("opts") + opts + tail)
    }

    /// The answers, on the requester's channel: cluster-adapter.ts 228-236 (BROADCAST_CLIENT_COUNT
    /// `{requestId, clientCount}`, 11), 244-250 (BROADCAST_ACK `{requestId, packet: arg}`, 12), 322-329
    /// (SERVER_SIDE_EMIT_RESPONSE `{requestId, packet: arg}`, 10). An acknowledgement without an argument makes
    /// `packet: undefined`, which @msgpack/msgpack writes (ignoreUndefined is false by default, Encoder.ts
    /// encodeMap) as nil: the key stays, unlike notepack.
    @Test func answers() {
        let count = ClusterMessage(uid: uid, nsp: "/", type: .broadcastClientCount,
                                   data: ClusterPayload.clientCount(requestId: "r", clientCount: 200))
        #expect(hex(count.pubSubPayload())
            == "84" + str("type") + "0b" + str("data") + "82" + str("requestId") + str("r") + str("clientCount") + "ccc8" + tail)
        let ack = ClusterMessage(uid: uid, nsp: "/", type: .broadcastAck,
                                 data: ClusterPayload.broadcastAck(requestId: "r", packet: .undefined))
        #expect(hex(ack.pubSubPayload())
            == "84" + str("type") + "0c" + str("data") + "82" + str("requestId") + str("r") + str("packet") + "c0" + tail)
        let answer = ClusterMessage(uid: uid, nsp: "/", type: .serverSideEmitResponse,
                                    data: ClusterPayload.serverSideEmitResponse(requestId: "r", packet: .string("ok")))
        #expect(hex(answer.pubSubPayload())
            == "84" + str("type") + "0a" + str("data") + "82" + str("requestId") + str("r") + str("packet") + str("ok") + tail)
    }

    /// Heartbeats (ClusterAdapterWithHeartbeat, cluster-adapter.ts 773-795: `{type: INITIAL_HEARTBEAT}` and
    /// `{type: HEARTBEAT}`, ADAPTER_CLOSE 13 at close) carry no data. 0.3's adapter sends none and ignores
    /// them (`onMessage`'s default case): ours go on pub/sub, not in the log.
    @Test func heartbeats() {
        #expect(hex(ClusterMessage(uid: uid, nsp: "/", type: .heartbeat).pubSubPayload()) == "83" + str("type") + "02" + tail)
        #expect(hex(ClusterMessage(uid: uid, nsp: "/", type: .adapterClose).pubSubPayload()) == "83" + str("type") + "0d" + tail)
    }

    /// @msgpack/msgpack's numbers (Encoder.ts 98-155 `encodeNumber`): safe integers in the smallest int format,
    /// every other number (2^53 and beyond, fractions) float64. notepack writes 2^53 as uint 64.
    @Test(arguments: [
        (0.0, "00"), (-0.0, "00"), (127.0, "7f"), (128.0, "cc80"), (65536.0, "ce00010000"),
        (4_294_967_296.0, "cf0000000100000000"), (9_007_199_254_740_991.0, "cf001fffffffffffff"),
        (9_007_199_254_740_992.0, "cb4340000000000000"), (-33.0, "d0df"), (-2_147_483_649.0, "d3ffffffff7fffffff"),
        (1.5, "cb3ff8000000000000"), (-9_007_199_254_740_992.0, "cbc340000000000000"),
    ])
    func numbers(_ value: Double, _ expected: String) {
        #expect(hex(MsgPackValue.number(value, dialect: .msgpackJavaScript).encoded(dialect: .msgpackJavaScript)) == expected)
    }

    @Test func notepackDiffers() {
        #expect(hex(MsgPackValue.number(9_007_199_254_740_992.0).encoded()) == "cf0020000000000000")
        #expect(hex(MsgPackValue.map([("a", .undefined)]).encoded()) == "80")
        #expect(hex(MsgPackValue.map([("a", .undefined)]).encoded(dialect: .msgpackJavaScript)) == "81" + str("a") + "c0")
    }

    /// Payloads a Node node publishes, read back: the requester's uid names where the answer goes, a `type` that
    /// is not a number reads as unknown, and what is not msgpack is refused (adapter.ts 300-306 "invalid format").
    @Test func payloadsFromNodeDecode() throws {
        let bytes = hexBytes("84" + str("type") + "07" + str("data") + "82" + str("opts") + "83" + str("rooms") + "90"
                             + str("except") + "90" + str("flags") + "80" + str("requestId") + str("dddddddddddddddd") + tail)
        let message = try ClusterMessage(pubSubPayload: bytes)
        #expect(message.kind == .fetchSockets && message.uid == uid && message.nsp == "/")
        let request = ReceivedRequest(message.data)
        #expect(request.requestId == "dddddddddddddddd")
        #expect(request.options.rooms.isEmpty)
        #expect(try ClusterMessage(pubSubPayload: hexBytes("81" + str("type") + str("3"))).kind == nil)
        #expect(throws: MsgPackError.self) { try ClusterMessage(pubSubPayload: [0xc1]) }
        #expect(throws: MsgPackError.self) { try ClusterMessage(pubSubPayload: hexBytes("93010203")) }
    }

    /// A FETCH_SOCKETS_RESPONSE as cluster-adapter.ts 286-303 builds it: `{requestId, sockets: [{id, handshake,
    /// rooms, data}]}` (handshake without sessionStore).
    @Test func fetchedSocketsDecode() throws {
        let socket = "84" + str("id") + str("s1") + str("handshake") + "82" + str("address") + str("::1") + str("issued")
            + "cf0000018bcfe56800" + str("rooms") + "92" + str("s1") + str("room") + str("data") + "81" + str("k") + "01"
        let data = try MsgPackValue.decode(hexBytes("82" + str("requestId") + str("r") + str("sockets") + "91" + socket))
        let response = ReceivedRequest(data)
        let described = try #require(response.sockets.first)
        #expect(described.id == "s1" && described.address == "::1" && described.issued == 1_700_000_000_000)
        #expect(described.rooms == ["s1", "room"])
        #expect(described.data == ["k": 1])
    }
}
