import EngineIOCodec
import MsgPackCodec
import SocketIO
import SocketIOCodec
import Testing
@testable import SocketIORedis
@testable import SocketIORedisStreams
#if canImport(Glibc)
import Glibc
#endif

/// What two Node socket.io 4.8.3 nodes on @socket.io/redis-streams-adapter 0.3.1 wrote to a real redis-server
/// (Tests/cluster/fixtures/redis-streams/wire-capture.json; how it was made: wire-capture.md there), read with our
/// decoders: every stream entry, pub/sub payload and session decodes to what it means (the capture's own decoded
/// view, and what Node's clients received), and our encoders, given what was decoded or the adapter's own typed
/// inputs, write Node's bytes again. Tests/cluster/test_streams_node_wire.py compares a live run of our nodes with
/// the same capture.
@Suite("Node's streams adapter as captured")
struct NodeCaptureTests {
    struct Entry {
        let step: String
        let id: String
        let fields: [(key: [UInt8], value: [UInt8])]
        let decoded: JSONValue?
    }

    struct Payload {
        let step: String
        let channel: String
        let bytes: [UInt8]
        let decoded: JSONValue
    }

    struct Session {
        let step: String
        let value: [UInt8]
        let decoded: JSONValue
    }

    static let capture: JSONValue = {
        let directory = String(#filePath).split(separator: "/").dropLast(2).joined(separator: "/")
        let file = "/" + directory + "/cluster/fixtures/redis-streams/wire-capture.json"
        guard let handle = fopen(file, "rb") else { fatalError("cannot open \(file)") }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while case let count = fread(&chunk, 1, chunk.count, handle), count > 0 { bytes += chunk[0..<count] }
        return try! JSONValue.parse(bytes, maxDepth: 128)
    }()

    static var steps: [JSONValue] { capture["steps"]!.arrayValue! }

    static func step(_ name: String) -> JSONValue { steps.first { $0["name"]?.stringValue == name }! }

    static let entries: [Entry] = steps.flatMap { step in
        step["stream"]!.arrayValue!.map { entry in
            Entry(step: step["name"]!.stringValue!, id: entry["id"]!.stringValue!,
                  fields: entry["fields"]!.arrayValue!.map { pair in
                      (Array(pair.arrayValue![0].stringValue!.utf8), Array(pair.arrayValue![1].stringValue!.utf8))
                  },
                  decoded: entry["data_decoded"]?["value"])
        }
    }

    static let payloads: [Payload] = steps.flatMap { step in
        step["pubsub"]!.arrayValue!.map { message in
            Payload(step: step["name"]!.stringValue!, channel: message["channel"]!.stringValue!,
                    bytes: hexBytes(message["payload_hex"]!.stringValue!), decoded: message["decoded"]!)
        }
    }

    static let sessions: [Session] = steps.flatMap { step in
        (step["sessions"]!.arrayValue! + (step["written"]?.arrayValue ?? [])).compactMap { session in
            guard let value = session["value"]?.stringValue, let decoded = session["decoded"] else { return nil }
            return Session(step: step["name"]!.stringValue!, value: Array(value.utf8), decoded: decoded)
        }
    }

    /// A decoded value as the capture shows it (Python's msgpack): a binary as `{"$bin": hex}`.
    static func view(_ value: MsgPackValue) -> JSONValue {
        switch value {
        case .binary(let data): return ["$bin": .string(hex(data))]
        case .array(let elements): return .array(elements.map(view))
        case .map(let members): return .object(members.map { ($0.0, view($0.1)) })
        default: return value.jsonValue()
        }
    }

    // MARK: Stream entries

    @Test func theCaptureHoldsEveryLoggedKind() {
        let kinds = Set(NodeCaptureTests.entries.compactMap { ClusterMessage(streamFields: $0.fields)?.kind })
        #expect(kinds == [.broadcast, .socketsJoin, .socketsLeave, .disconnectSockets])
        #expect(NodeCaptureTests.entries.count >= 15)
    }

    /// uid, nsp, type, data in that order; data JSON or base64 msgpack, decoded to the capture's view.
    @Test func everyEntryDecodes() throws {
        for entry in NodeCaptureTests.entries {
            let message = try #require(ClusterMessage(streamFields: entry.fields), "\(entry.step)")
            #expect(entry.fields.map { text($0.key) } == ["uid", "nsp", "type", "data"], "\(entry.step)")
            #expect(message.uid == text(entry.fields[0].value))
            #expect(message.nsp == text(entry.fields[1].value))
            #expect(message.type == Int(text(entry.fields[2].value)))
            #expect(message.data.map(NodeCaptureTests.view) == entry.decoded, "\(entry.step)")
        }
    }

    /// The decoded message written again: the same fields, byte for byte (JSON.stringify of numbers and strings,
    /// key order, base64 of @msgpack/msgpack's encoding).
    @Test func everyEntryEncodesBackToNodesBytes() throws {
        for entry in NodeCaptureTests.entries {
            let message = try #require(ClusterMessage(streamFields: entry.fields))
            let fields = message.streamFields()
            #expect(fields.map { Array($0.0.utf8) } == entry.fields.map(\.key), "\(entry.step)")
            #expect(fields.map(\.1) == entry.fields.map(\.value), "\(entry.step): \(text(fields.last!.1))")
        }
    }

    /// The adapter's own encoders, from the event and options a broadcast or room operation is made of, write the
    /// entry Node wrote.
    @Test func typedEncodersWriteNodesEntries() throws {
        for entry in NodeCaptureTests.entries {
            let message = try #require(ClusterMessage(streamFields: entry.fields))
            let request = ReceivedRequest(message.data)
            let data: MsgPackValue
            switch message.kind {
            case .broadcast?:
                let broadcast = try #require(ReceivedBroadcast(message.data))
                let event = try #require(broadcast.event())
                data = ClusterPayload.broadcast(event, options: broadcast.options.broadcastOptions)
            case .socketsJoin?, .socketsLeave?:
                data = ClusterPayload.socketsChange(request.options.broadcastOptions, rooms: request.rooms)
            case .disconnectSockets?:
                data = ClusterPayload.disconnect(request.options.broadcastOptions, close: request.close)
            default:
                Issue.record("\(entry.step): unexpected type \(message.type ?? -1)")
                continue
            }
            let ours = ClusterMessage(uid: message.uid!, nsp: message.nsp!, type: message.kind!, data: data)
            #expect(ours.streamFields().map(\.1) == entry.fields.map(\.value), "\(entry.step)")
        }
    }

    /// What each entry means, checked against what Node's clients received: the event and its arguments, the
    /// entry id appended as the offset unless the broadcast was volatile (r1, a raw client in room1 and in every
    /// broadcast to all, shows the exact arguments).
    @Test func broadcastsMeanWhatNodesClientsReceived() throws {
        var checked = 0
        for entry in NodeCaptureTests.entries {
            guard let message = ClusterMessage(streamFields: entry.fields), message.kind == .broadcast,
                  let received = NodeCaptureTests.step(entry.step)["received"]?["r1"]?.arrayValue,
                  let broadcast = ReceivedBroadcast(message.data) else { continue }
            let event = try #require(broadcast.event(offset: broadcast.takesOffset ? entry.id : nil))
            #expect(broadcast.takesOffset == (entry.step != "volatile"))
            var expected = received.first!.arrayValue!
            #expect(expected.removeFirst() == .string(event.event))
            let arguments = try event.arguments.values().map { value -> JSONValue in
                guard let index = MsgPackValue.placeholderIndex(value.objectValue ?? []) else { return value }
                return ["$bin": .string(hex(event.arguments.attachments[index]))]
            }
            #expect(arguments == expected, "\(entry.step)")
            checked += 1
        }
        #expect(checked >= 9)
    }

    /// The restore replays, in stream order, the entries after the offset that are for the session's rooms
    /// (`shouldIncludePacket`), each with its id: what Node's node B sent the recovered client.
    @Test func theRestoreReplaysWhatShouldIncludePacketSelects() throws {
        let session = try #require(SessionRecord(decoding: Array(
            NodeCaptureTests.step("session-write")["sessions"]!.arrayValue![0]["value"]!.stringValue!.utf8)))
        let missed = NodeCaptureTests.entries.filter { $0.step == "missed" }
        var replayed: [JSONValue] = []
        for entry in missed {
            let broadcast = try #require(ReceivedBroadcast(ClusterMessage(streamFields: entry.fields)?.data))
            guard shouldInclude(rooms: Set(session.rooms), broadcast.options) else { continue }
            let event = try #require(broadcast.event(offset: entry.id))
            replayed.append(.array([.string(event.event)] + (try event.arguments.values())))
        }
        #expect(replayed.count == 2)
        #expect(replayed == NodeCaptureTests.step("restore")["received"]!["r1b"]!.arrayValue!)
        #expect(NodeCaptureTests.step("restore")["whoami"]?["recovered"] == true)
    }

    // MARK: Pub/sub payloads

    @Test func theCaptureHoldsEveryPubSubKind() {
        let kinds = Set(NodeCaptureTests.payloads.compactMap { try? ClusterMessage(pubSubPayload: $0.bytes).kind })
        #expect(kinds == [.broadcast, .fetchSockets, .fetchSocketsResponse, .serverSideEmit, .serverSideEmitResponse,
                          .broadcastClientCount, .broadcastAck])
    }

    /// `{type, data, uid, nsp}`: decoded to the capture's view and written back byte for byte.
    @Test func everyPayloadDecodesAndEncodesBack() throws {
        for payload in NodeCaptureTests.payloads {
            let message = try ClusterMessage(pubSubPayload: payload.bytes)
            #expect(message.type == payload.decoded["type"]?.intValue, "\(payload.step)")
            #expect(message.uid == payload.decoded["uid"]?.stringValue)
            #expect(message.nsp == payload.decoded["nsp"]?.stringValue)
            #expect(message.data.map(NodeCaptureTests.view) == payload.decoded["data"], "\(payload.step)")
            #expect(message.pubSubPayload() == payload.bytes, "\(payload.step)")
            // Requests go to the namespace channel, answers to the requester's own.
            let requester = message.kind.map { [.broadcast, .fetchSockets, .serverSideEmit].contains($0) } ?? false
            #expect(payload.channel.hasPrefix("socket.io#/#"))
            #expect((payload.channel == "socket.io#/#") == requester, "\(payload.step)")
        }
    }

    /// The adapter's own encoders, from each request's or answer's inputs, write Node's payloads.
    @Test func typedEncodersWriteNodesPayloads() throws {
        for payload in NodeCaptureTests.payloads {
            let message = try ClusterMessage(pubSubPayload: payload.bytes)
            let request = ReceivedRequest(message.data)
            let requestId = try #require(request.requestId ?? (message.kind == .serverSideEmit ? "" : nil))
            let data: MsgPackValue
            switch message.kind {
            case .broadcast?:
                let broadcast = try #require(ReceivedBroadcast(message.data))
                data = ClusterPayload.broadcast(try #require(broadcast.event()), options: broadcast.options.broadcastOptions,
                                                requestId: requestId)
            case .fetchSockets?:
                data = ClusterPayload.fetchSockets(request.options.broadcastOptions, requestId: requestId)
            case .serverSideEmit?:
                data = ClusterPayload.serverSideEmit(request.packet?.arrayValue ?? [],
                                                     requestId: request.requestId)
            case .serverSideEmitResponse?:
                data = ClusterPayload.serverSideEmitResponse(requestId: requestId, packet: request.packet ?? .undefined)
            case .broadcastClientCount?:
                data = ClusterPayload.clientCount(requestId: requestId, clientCount: request.clientCount ?? -1)
            case .broadcastAck?:
                data = ClusterPayload.broadcastAck(requestId: requestId, packet: request.packet ?? .undefined)
            case .fetchSocketsResponse?:
                let sockets = message.data?["sockets"]?.arrayValue?.map { $0.jsonValue() } ?? []
                data = ClusterPayload.fetchSocketsResponse(requestId: requestId, sockets: sockets)
            default:
                Issue.record("\(payload.step): unexpected type \(message.type ?? -1)")
                continue
            }
            let ours = ClusterMessage(uid: message.uid!, nsp: message.nsp!, type: message.kind!, data: data)
            #expect(ours.pubSubPayload() == payload.bytes, "\(payload.step)")
        }
    }

    /// Node's fetchSockets answer read as the adapter reads it: every socket of B with its rooms and data.
    @Test func fetchSocketsAnswersDescribeTheSockets() throws {
        let answer = try #require(NodeCaptureTests.payloads.first { $0.step == "fetch-sockets" && $0.channel != "socket.io#/#" })
        let response = ReceivedRequest(try ClusterMessage(pubSubPayload: answer.bytes).data)
        let labels = NodeCaptureTests.capture["labels"]!
        #expect(Set(response.sockets.map(\.id)) == [labels["b1"]!.stringValue!, labels["b2"]!.stringValue!])
        for socket in response.sockets.map(RedisAdapter.remoteSocket) {
            #expect(socket.data == ["node": "B"])
            #expect(socket.rooms.contains(socket.id))
            #expect(socket.handshake.query.contains { $0.name == "EIO" && $0.value == "4" })
        }
    }

    // MARK: Sessions

    /// `SET sio:session:<pid> <base64 msgpack {sid, pid, rooms, data}> PX <maxDisconnectionDuration>`: decoded to
    /// the capture's view, written back byte for byte, from the record and from the socket's session.
    @Test func everySessionDecodesAndEncodesBack() throws {
        #expect(NodeCaptureTests.sessions.count >= 4)
        for session in NodeCaptureTests.sessions {
            let record = try #require(SessionRecord(decoding: session.value), "\(session.step)")
            #expect(record.sid == session.decoded["sid"]?.stringValue)
            #expect(record.pid == session.decoded["pid"]?.stringValue)
            #expect(.array(record.rooms.map { .string($0) }) == session.decoded["rooms"])
            #expect(record.data == session.decoded["data"])
            #expect(record.encoded() == session.value, "\(session.step)")
            let persisted = PersistedSession(sid: record.sid, pid: record.pid, rooms: record.rooms.reversed(),
                                             data: record.data)
            #expect(SessionRecord(persisted).encoded() == session.value, "\(session.step)")
        }
        for command in NodeCaptureTests.step("session-write")["commands"]!.arrayValue! {
            let args = command["args"]!.arrayValue!.compactMap(\.stringValue)
            guard args.first == "SET" else { continue }
            #expect(args[3...] == ["PX", String(NodeCaptureTests.capture["recovery_ms"]!.intValue!)])
        }
    }

    // MARK: JavaScript's property order

    /// Node writes an object as JavaScript holds it: array-index keys first, ascending (the capture's
    /// "integer-keys" step), a repeated key in its first place with its last value (JSON.parse).
    @Test func objectsTakeJavaScriptsPropertyOrder() throws {
        let ordered = MsgPackValue(json: try JSONValue.parse(#"{"b":1,"2":2,"a":3,"1":4,"01":5,"4294967295":6,"b":7}"#))
        #expect(ordered.mapKeys == ["1", "2", "b", "a", "01", "4294967295"])
        #expect(ordered["b"] == .int(7))
        let plain = try JSONValue.parse(#"{"z":1,"y":2}"#)
        #expect(MsgPackValue(json: plain).mapKeys == ["z", "y"])
    }
}

private extension MsgPackValue {
    var mapKeys: [String] {
        guard case .map(let members) = self else { return [] }
        return members.map(\.0)
    }
}
