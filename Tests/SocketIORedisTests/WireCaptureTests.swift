import Testing
@testable import MsgPackCodec
@testable import SocketIORedis
import SocketIO
#if canImport(Glibc)
import Glibc
#endif

/// Every message of the reference capture (Fixtures/wire-capture.json, a copy of
/// shared/fixtures/redis-adapter/wire-capture.json: Node socket.io 4.8.3 + @socket.io/redis-adapter 8.2.0 +
/// @socket.io/redis-emitter 5.1.0) decodes to what the capture says and encodes back to the same bytes, both
/// generically (the value tree) and through the adapter's own encoders from the adapter's own inputs.
@Suite("Redis wire capture")
struct WireCaptureTests {
    struct Message {
        let scenario: String
        let index: Int
        let channel: String
        let encoding: String
        let bytes: [UInt8]
        let decoded: JSONValue
    }

    static let capture: JSONValue = {
        let path = String(#filePath).split(separator: "/").dropLast().joined(separator: "/")
        let file = "/" + path + "/Fixtures/wire-capture.json"
        guard let handle = fopen(file, "rb") else { fatalError("cannot open \(file)") }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, handle)
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return try! JSONValue.parse(bytes)
    }()

    static let messages: [Message] = capture["messages"]!.arrayValue!.map { entry in
        Message(scenario: entry["scenario"]!.stringValue!, index: entry["index"]!.intValue!,
                channel: entry["channel"]!.stringValue!, encoding: entry["encoding"]!.stringValue!,
                bytes: hexBytes(entry["payload_hex"]!.stringValue!), decoded: entry["decoded"]!)
    }

    static func message(_ scenario: String, _ index: Int = 0) -> Message {
        messages.first { $0.scenario == scenario && $0.index == index }!
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            out.append(UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)!)
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The capture's decoded view: binaries as `{"$bin": "<hex>"}`.
    static func fixtureView(_ value: MsgPackValue) -> JSONValue {
        switch value {
        case .binary(let data): return .object([("$bin", .string(hex(data)))])
        case .array(let elements): return .array(elements.map(fixtureView))
        case .map(let members): return .object(members.map { ($0.0, fixtureView($0.1)) })
        default: return value.jsonValue()
        }
    }

    /// Fixture values back to the adapter's inputs: `$bin` objects become placeholders and attachments.
    static func arguments(_ values: ArraySlice<JSONValue>) throws -> SocketIOArguments {
        var attachments: [[UInt8]] = []
        func convert(_ value: JSONValue) -> JSONValue {
            switch value {
            case .array(let elements): return .array(elements.map(convert))
            case .object(let members):
                if members.count == 1, members[0].0 == "$bin", let text = members[0].1.stringValue {
                    attachments.append(hexBytes(text))
                    return SocketIOArguments.placeholder(attachments.count - 1)
                }
                return .object(members.map { ($0.0, convert($0.1)) })
            default: return value
            }
        }
        let converted = values.map(convert)
        return try SocketIOArguments(json: JSONValue.array(converted).serialize(), attachments: attachments)
    }

    @Test func theCaptureHasEveryScenario() {
        let scenarios = Set(Self.messages.map(\.scenario))
        #expect(scenarios == ["room", "socket-to", "two-rooms", "except", "all", "binary", "types", "flags", "chat-nsp",
                              "fetch", "fetch-room", "sse", "sse-bin", "sse-ack", "sockets-join", "sockets-leave",
                              "all-rooms", "bcast-ack", "emitter-room", "emitter-sse", "emitter-join", "disconnect"])
        #expect(Self.messages.count == 28)
    }

    // MARK: Generic: every message decodes to the capture's view and encodes back byte for byte

    @Test(arguments: WireCaptureTests.messages.indices)
    func decodesAndReencodesEveryMessage(_ position: Int) throws {
        let message = Self.messages[position]
        let value = try RedisWire.decodeMessage(message.bytes)
        #expect(Self.fixtureView(value) == message.decoded, "\(message.scenario) #\(message.index)")
        if message.encoding == "msgpack" {
            #expect(message.bytes.first != UInt8(ascii: "{"))
            #expect(Self.hex(value.encoded()) == Self.hex(message.bytes), "\(message.scenario) #\(message.index)")
        } else {
            #expect(message.bytes.first == UInt8(ascii: "{"))
            #expect(value.jsonValue().serialize() == message.bytes, "\(message.scenario) #\(message.index)")
        }
    }

    // MARK: Broadcasts, through the adapter's encoder from the adapter's inputs

    @Test(arguments: ["room", "socket-to", "two-rooms", "except", "all", "binary", "types", "flags", "chat-nsp",
                      "emitter-room"])
    func broadcast(_ scenario: String) throws {
        let message = Self.message(scenario)
        let decoded = try RedisWire.Broadcast.decode(message.bytes)
        let view = message.decoded.arrayValue!
        let packet = view[1], opts = view[2]
        #expect(decoded.uid == view[0].stringValue!)
        #expect(decoded.packet.type == 2)
        #expect(decoded.packet.namespace == packet["nsp"]!.stringValue!)
        let data = packet["data"]!.arrayValue!
        #expect(decoded.packet.event == data[0].stringValue!)
        let rooms = opts["rooms"]!.arrayValue!.map { $0.stringValue! }
        let except = opts["except"]!.arrayValue!.map { $0.stringValue! }
        #expect(decoded.options.rooms == rooms)
        #expect(decoded.options.except == except)

        // What local delivery gets: the arguments with binaries as attachments.
        let expectedArguments = try Self.arguments(data.dropFirst())
        let delivered = try decoded.packet.arguments()
        #expect(delivered.attachments == expectedArguments.attachments)
        #expect(try delivered.values() == expectedArguments.values())

        // The channel: a room suffix iff exactly one room.
        let channels = RedisWire.Channels(key: "socket.io", namespace: decoded.packet.namespace)
        #expect(channels.broadcastChannel(rooms: rooms) == message.channel)
        #expect(channels.room(ofBroadcastChannel: message.channel) == (rooms.count == 1 ? rooms[0] : ""))

        // The adapter's flags from what the application asked.
        var flags = BroadcastFlags()
        flags.volatile = opts["flags"]?["volatile"]?.boolValue ?? false
        flags.compress = opts["flags"]?["compress"]?.boolValue ?? true
        #expect(decoded.options.broadcastOptions.flags.volatile == flags.volatile)
        #expect(decoded.options.broadcastOptions.flags.compress == flags.compress)

        guard scenario != "emitter-room" else {
            // The emitter writes opts as {rooms, flags, except}: decoded above regardless of the order.
            #expect(decoded.uid == "emitter")
            return
        }
        let options = BroadcastOptions(rooms: Set(rooms), except: Set(except), flags: flags)
        let encoded = RedisWire.Broadcast(
            uid: decoded.uid,
            packet: RedisWire.Packet(event: data[0].stringValue!, arguments: expectedArguments,
                                     namespace: decoded.packet.namespace),
            options: RedisWire.Options(options, withFlags: true)).encoded()
        #expect(Self.hex(encoded) == Self.hex(message.bytes))
    }

    // MARK: Requests and responses, through the adapter's encoders

    @Test func fetchSockets() throws {
        for scenario in ["fetch", "fetch-room"] {
            let request = Self.message(scenario, 0)
            let value = try RedisWire.decodeMessage(request.bytes)
            #expect(value["type"]?.intValue == 5)
            let opts = RedisWire.Options(value["opts"])
            #expect(RedisWire.fetchRequest(uid: value["uid"]!.stringValue!, requestId: value["requestId"]!.stringValue!,
                                           rooms: opts.rooms, except: opts.except) == request.bytes)

            let response = Self.message(scenario, 1)
            let answer = try RedisWire.decodeMessage(response.bytes)
            let sockets = answer["sockets"]!.arrayValue!
            // Each socket read into a RemoteSocket, then written back as this adapter answers: same bytes.
            var rewritten: [JSONValue] = []
            for socket in sockets {
                let remote = RedisAdapter.remoteSocket(try #require(RedisWire.SocketDescription(socket)))
                #expect(remote.id == socket["id"]!.stringValue!)
                #expect(remote.socket == nil)
                #expect(remote.rooms == Set(socket["rooms"]!.stringArray!))
                #expect(remote.handshake.address == "127.0.0.1")
                #expect(remote.handshake.header("upgrade") == "websocket")
                #expect(remote.handshake.queryValue("EIO") == "4")
                #expect(UInt64(socket["handshake"]!["issued"]!.doubleValue!) == remote.handshake.time)
                rewritten.append(remote.json)
            }
            #expect(RedisWire.fetchResponse(requestId: answer["requestId"]!.stringValue!, sockets: rewritten)
                    == response.bytes)
        }
    }

    @Test func serverSideEmit() throws {
        let plain = Self.message("sse")
        #expect(RedisWire.serverSideEmitRequest(
            uid: "wiH2h2", requestId: nil,
            data: RedisAdapter.serverSideData("hello", try SocketIOArguments(json: #"[{"n":1}]"#))) == plain.bytes)

        // A binary argument travels as the Buffer object JSON.stringify makes of it.
        let binary = Self.message("sse-bin")
        let withBuffer = try SocketIOArguments(json: #"[{"bin":{"_placeholder":true,"num":0}}]"#,
                                               attachments: [[1, 2, 255]])
        #expect(RedisWire.serverSideEmitRequest(
            uid: "wiH2h2", requestId: nil, data: RedisAdapter.serverSideData("hello", withBuffer)) == binary.bytes)

        let request = Self.message("sse-ack", 0)
        #expect(RedisWire.serverSideEmitRequest(
            uid: "wiH2h2", requestId: "SnYBQf",
            data: RedisAdapter.serverSideData("hello-ack", try SocketIOArguments(json: #"[{"n":2}]"#))) == request.bytes)
        let response = Self.message("sse-ack", 1)
        #expect(RedisWire.serverSideEmitResponse(
            requestId: "SnYBQf", data: try JSONValue.parse(#"{"node":"B","arg":{"n":2}}"#)) == response.bytes)

        // The arguments a handler gets from a request.
        let value = try RedisWire.decodeMessage(binary.bytes)
        let data = value["data"]!.arrayValue!
        let arguments = try SocketIOArguments.fromWire(data.dropFirst())
        #expect(arguments.jsonText == #"[{"bin":{"type":"Buffer","data":[1,2,255]}}]"#)
        #expect(arguments.attachments.isEmpty)

        let emitter = try RedisWire.decodeMessage(Self.message("emitter-sse").bytes)
        #expect(emitter["uid"]?.stringValue == "emitter")
        #expect(emitter["requestId"] == nil)
        #expect(try SocketIOArguments.fromWire(emitter["data"]!.arrayValue!.dropFirst()).jsonText == #"[{"e":2}]"#)
    }

    @Test func socketsJoinLeaveDisconnect() throws {
        let join = Self.message("sockets-join")
        #expect(RedisWire.roomsRequest(uid: "wiH2h2", type: .remoteJoin, rooms: ["oRNSOPlxDqIvW5HLAAAE"], except: [],
                                       roomsToChange: ["room3"]) == join.bytes)
        let leave = Self.message("sockets-leave")
        #expect(RedisWire.roomsRequest(uid: "wiH2h2", type: .remoteLeave, rooms: ["room3"], except: [],
                                       roomsToChange: ["room3"]) == leave.bytes)
        let disconnect = Self.message("disconnect")
        #expect(RedisWire.disconnectRequest(uid: "wiH2h2", rooms: ["oRNSOPlxDqIvW5HLAAAE"], except: [], close: true)
                == disconnect.bytes)

        // The emitter's join has no uid; what a node applies.
        let emitter = try RedisWire.decodeMessage(Self.message("emitter-join").bytes)
        #expect(emitter["uid"] == nil)
        #expect(emitter["type"]?.intValue == RedisWire.RequestType.remoteJoin.rawValue)
        let target = RedisWire.Options(emitter["opts"]).broadcastOptions
        #expect(target.rooms == ["room2"])
        #expect(target.except.isEmpty)
        #expect(emitter["rooms"]?.stringArray == ["room4"])
    }

    @Test func allRooms() throws {
        #expect(RedisWire.allRoomsRequest(uid: "wiH2h2", requestId: "smlzol") == Self.message("all-rooms", 0).bytes)
        let response = Self.message("all-rooms", 1)
        let rooms = try RedisWire.decodeMessage(response.bytes)["rooms"]!.stringArray!
        #expect(RedisWire.allRoomsResponse(requestId: "smlzol", rooms: rooms) == response.bytes)
    }

    @Test func broadcastWithAcks() throws {
        let request = Self.message("bcast-ack", 0)
        var flags = BroadcastFlags()
        flags.timeout = 3000
        let bytes = RedisWire.broadcastRequest(
            uid: "wiH2h2", requestId: "zKDkl0",
            packet: RedisWire.Packet(event: "need-ack", arguments: try SocketIOArguments(json: #"[{"q":1}]"#),
                                     namespace: "/"),
            options: RedisWire.Options(BroadcastOptions(rooms: ["room1"], flags: flags), withFlags: true))
        #expect(Self.hex(bytes) == Self.hex(request.bytes))

        let decoded = try RedisWire.decodeMessage(request.bytes)
        #expect(decoded["type"]?.intValue == 7)
        let packet = try #require(RedisWire.Packet(decoded["packet"]!))
        #expect(packet.event == "need-ack")
        #expect(RedisWire.Options(decoded["opts"]).flags?.timeout == 3000)

        #expect(RedisWire.clientCountResponse(requestId: "zKDkl0", clientCount: 1) == Self.message("bcast-ack", 1).bytes)
        let ack = Self.message("bcast-ack", 2)
        let reply = try SocketIOArguments(json: #"[{"from":"b1","payload":{"q":1}}]"#)
        #expect(Self.hex(RedisWire.broadcastAckResponse(requestId: "zKDkl0", packet: reply.wireValues()[0]))
                == Self.hex(ack.bytes))
        let answer = try RedisWire.decodeMessage(ack.bytes)
        #expect(try SocketIOArguments.fromWire([answer["packet"]!]).jsonText == #"[{"from":"b1","payload":{"q":1}}]"#)
    }
}
