import Testing
import MsgPackCodec
import SocketIOCodec
@testable import SocketIO

/// The msgpack parser sends arguments it kept as they came (`MsgPackBuffer` around their bytes) exactly as it
/// sends the same arguments given as JSON (msgpack-c's packer, from their text).
@Suite("msgpack packets around kept arguments")
struct MsgPackParserPackedTests {
    let parser = MsgPackParser()

    /// Arguments as a client sends them (kept), and the same arguments as JSON text with attachments.
    func arguments(_ values: [JSONValue], binaries: [[UInt8]] = []) throws -> (kept: SocketIOArguments, json: SocketIOArguments) {
        let writer = MsgPackWriter()
        writer.writeMapHeader(4)
        writer.writeString("type"); writer.writeUInt(3)
        writer.writeString("data"); writer.writeArrayHeader(values.count)
        for value in values { writer.write(json: value, attachments: binaries.isEmpty ? nil : binaries) }
        writer.writeString("id"); writer.writeUInt(9)
        writer.writeString("nsp"); writer.writeString("/")
        let packet = try parser.decode(binary: writer.bytes)
        let packed = try #require(packet.packedArguments)
        let kept = SocketIOArguments(packed: packed)
        let json = try SocketIOArguments(json: try #require(packet.payload), attachments: packet.attachments)
        #expect(json.attachments == binaries)
        return (kept, json)
    }

    func bytes(_ packet: SocketIOOutgoingPacket) -> [UInt8] {
        guard case .binary(let bytes)? = parser.encode(packet).first else { return [] }
        return bytes
    }

    @Test(arguments: ["/", "/a-namespace-longer-than-thirty-two-bytes", "/é"])
    func acksAndEventsAreTheSameBytes(namespace: String) throws {
        let values: [JSONValue] = [.string("hi"), .number(70_000), .object([("n", .array([.null, .bool(true)]))]),
                                   SocketIOArguments.placeholder(0)]
        let (kept, json) = try arguments(values, binaries: [[1, 2, 3]])
        for ackId in [nil, 0, 200, 1 << 40] as [UInt64?] {
            for throughAdapter in [false, true] {
                let event = { (arguments: SocketIOArguments) in
                    SocketIOOutgoingPacket(kind: .event(OutgoingEvent(event: "echo", arguments: arguments)),
                                           namespace: namespace, ackId: ackId, throughAdapter: throughAdapter)
                }
                #expect(bytes(event(kept)) == bytes(event(json)))
            }
            guard let ackId else { continue }
            let ack = { (arguments: SocketIOArguments) in
                SocketIOOutgoingPacket(kind: .ack(arguments), namespace: namespace, ackId: ackId, throughAdapter: false)
            }
            #expect(bytes(ack(kept)) == bytes(ack(json)))
        }
        #expect(kept == json)
    }

    @Test func aLongEventNameAndNoArguments() throws {
        let (kept, json) = try arguments([])
        let name = String(repeating: "e", count: 300)
        let event = { (arguments: SocketIOArguments) in
            SocketIOOutgoingPacket(kind: .event(OutgoingEvent(event: name, arguments: arguments)), namespace: "/",
                                   ackId: nil, throughAdapter: false)
        }
        #expect(bytes(event(kept)) == bytes(event(json)))
        #expect(kept.json == Array("[]".utf8))
    }
}
