import EngineIO
import SocketIOCodec

/// How Socket.IO packets travel in Engine.IO messages: the reference server's `parser` option. A server has one
/// parser for all its clients (as in the reference), so a broadcast is encoded once.
///
/// `nil` in `SocketIOOptions.parser` is the built-in JSON parser (socket.io-parser's format), which lives inside
/// each connection because a binary packet spans several messages (the text, then its attachments). A parser of
/// this protocol carries each packet in one message, so it needs no per-connection state; `MsgPackParser` is one.
/// Whatever the parser, handlers see the same `SocketIOArguments` (JSON text plus binary attachments).
public protocol SocketIOParser: Sendable {
    /// The name the C and Python options and `--parser` use.
    var name: String { get }
    /// The packet in one text message. Throwing closes the connection, as the reference does on a parser error.
    func decode(text: [UInt8]) throws -> SocketIOPacket
    /// The packet in one binary message.
    func decode(binary: [UInt8]) throws -> SocketIOPacket
    /// The Engine.IO messages that carry `packet`.
    func encode(_ packet: SocketIOOutgoingPacket) -> [SocketIOWireMessage]
}

/// A packet to encode, with what the reference's packet object holds.
public struct SocketIOOutgoingPacket {
    public enum Kind {
        case event(OutgoingEvent)
        case ack(SocketIOArguments)
        /// CONNECT, DISCONNECT or CONNECT_ERROR with its JSON payload (nil when none).
        case control(SocketIOPacketType, payload: [UInt8]?)
    }

    public var kind: Kind
    public var namespace: String
    public var ackId: UInt64?
    /// Sent through the adapter (a broadcast) rather than by one socket: the reference builds the two with their
    /// fields in another order, which a byte-exact parser reproduces.
    public var throughAdapter: Bool
}

/// One Engine.IO message of an encoded packet.
public enum SocketIOWireMessage {
    case text([UInt8])
    case binary([UInt8])
}

extension SocketIOOptions {
    /// The parser called `name` ("json": nil, the built-in one; "msgpack": `MsgPackParser`), or nil for an
    /// unknown name (the outer optional).
    public static func parser(named name: String) -> (any SocketIOParser)?? {
        switch name {
        case "json": return .some(nil)
        case "msgpack": return .some(MsgPackParser())
        default: return nil
        }
    }
}
