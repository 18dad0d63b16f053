import EngineIO
import SocketIOCodec

/// A Socket.IO packet encoded once, as the Engine.IO messages that carry it (the text packet, then one binary
/// message per attachment). Every recipient of a broadcast is handed these same objects.
public struct EncodedPacket {
    public let messages: [EngineMessage]

    init(messages: [EngineMessage]) { self.messages = messages }

    /// EVENT (or BINARY_EVENT) `[event, ...arguments]` in `namespace`, with an ack id when a reply is wanted.
    /// `parser` nil is the built-in JSON parser; `throughAdapter` says a broadcast (for a byte-exact parser).
    static func event(_ outgoing: OutgoingEvent, namespace: String, ackId: UInt64?, volatile: Bool = false,
                      compress: Bool = true, parser: (any SocketIOParser)?, throughAdapter: Bool = false) -> EncodedPacket {
        if let parser {
            return with(parser.encode(SocketIOOutgoingPacket(kind: .event(outgoing), namespace: namespace, ackId: ackId,
                                                             throughAdapter: throughAdapter)),
                        volatile: volatile, compress: compress)
        }
        var text: [UInt8] = []
        text.reserveCapacity(outgoing.arguments.json.count + outgoing.event.utf8.count + namespace.utf8.count + 16)
        SocketIOPacketEncoder.appendEvent(
            namespace: namespace, event: outgoing.event, argumentsJSON: outgoing.arguments.json, ackId: ackId,
            attachmentCount: outgoing.arguments.attachments.count, to: &text)
        return with(text: text, attachments: outgoing.arguments.attachments, volatile: volatile, compress: compress)
    }

    /// ACK (or BINARY_ACK) for `ackId` in `namespace`.
    static func ack(_ arguments: SocketIOArguments, namespace: String, ackId: UInt64,
                    parser: (any SocketIOParser)?) -> EncodedPacket {
        if let parser {
            return with(parser.encode(SocketIOOutgoingPacket(kind: .ack(arguments), namespace: namespace, ackId: ackId,
                                                             throughAdapter: false)))
        }
        var text: [UInt8] = []
        SocketIOPacketEncoder.appendAck(namespace: namespace, ackId: ackId, argumentsJSON: arguments.json,
                                        attachmentCount: arguments.attachments.count, to: &text)
        return with(text: text, attachments: arguments.attachments)
    }

    /// CONNECT, DISCONNECT, CONNECT_ERROR: small packets with an optional JSON payload.
    static func control(_ type: SocketIOPacketType, namespace: String, payload: [UInt8]?,
                        parser: (any SocketIOParser)?) -> EncodedPacket {
        if let parser {
            return with(parser.encode(SocketIOOutgoingPacket(kind: .control(type, payload: payload), namespace: namespace,
                                                             ackId: nil, throughAdapter: false)))
        }
        let packet = SocketIOPacket(type: type, namespace: namespace, ackId: nil, payload: payload, attachments: [])
        return with(text: SocketIOPacketEncoder.encode(packet), attachments: [])
    }

    private static func with(text: [UInt8], attachments: [[UInt8]], volatile: Bool = false,
                             compress: Bool = true) -> EncodedPacket {
        var messages = [EngineMessage(text: text, isVolatile: volatile, compress: compress)]
        for attachment in attachments {
            messages.append(EngineMessage(binary: attachment, isVolatile: volatile, compress: compress))
        }
        return EncodedPacket(messages: messages)
    }

    private static func with(_ wire: [SocketIOWireMessage], volatile: Bool = false, compress: Bool = true) -> EncodedPacket {
        EncodedPacket(messages: wire.map { message in
            switch message {
            case .text(let text): return EngineMessage(text: text, isVolatile: volatile, compress: compress)
            case .binary(let data): return EngineMessage(binary: data, isVolatile: volatile, compress: compress)
            }
        })
    }
}
