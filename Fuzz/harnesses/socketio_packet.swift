// Harness `socketio_packet`: the stateful Socket.IO v5 packet decoder (SocketIOPacketDecoder) with binary
// attachments, the encoder, and the event/ack argument splitting.
//
// Input: byte 0 picks the limits (bits 0-2: maxAttachments 10, 0, 1, 2, 3, 5, 16, 10; bits 3-5: maxNestingDepth
// 64, 1, 2, 3, 8, 32, 100, 64) and bit 6 which text API is used. The rest is a sequence of Engine.IO messages
// separated by 0x1e; a message that starts with 0x01 is a binary message (the bytes after the 0x01), any other a
// text message. Each message is passed in a heap block of exactly its size. Like the server, the sequence stops
// at the first error (the connection would be closed).
//
// Checked:
//  - a reference decoder written from the protocol text and the decoder's documented rules (header grammar,
//    JSON validity by an independent validator, payload shapes per type, reserved event names, placeholders
//    judged on the parsed tree, text-while-pending and binary-while-idle) gives the same packets and the same
//    errors; only where the text repeats a key may the decoder be stricter about placeholders;
//  - limits: no more attachments than announced and than the cap; payload, namespace and attachments never
//    larger than the bytes received; tree depth within the nesting limit;
//  - encode(packet) decodes (with its attachments) to the same packet; an EVENT split into name and arguments and
//    built again with appendEvent, and an ACK built again with appendAck, decode to the same JSON values;
//  - the raw-buffer, array and String text APIs behave the same.

let attachmentChoices = [10, 0, 1, 2, 3, 5, 16, 10]
let nestingChoices = [64, 1, 2, 3, 8, 32, 100, 64]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let config = data[0]
    let limits = SocketIODecoderLimits(
        maxAttachments: attachmentChoices[Int(config & 7)], maxNestingDepth: nestingChoices[Int(config >> 3 & 7)])
    let useArrayAPI = config & 0x40 != 0
    let stream = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let messages = stream.split(separator: 0x1E, omittingEmptySubsequences: false).map { message -> Message in
        if message.first == 0x01 { return .binary(Array(message.dropFirst())) }
        return .text(Array(message))
    }
    var decoder = SocketIOPacketDecoder(limits: limits)
    var model = ReferenceDecoder(limits: limits)
    var packets = 0
    for message in messages {
        let actual: Outcome
        switch message {
        case .text(let bytes):
            actual = withExactCopy(bytes) { raw in
                Outcome(catching: { () throws(SocketIOCodecError) in
                    useArrayAPI ? try decoder.decode(text: bytes) : try decoder.decode(text: raw)
                })
            }
            // The String API must agree on valid UTF-8 (the only texts a WebSocket or polling body can carry),
            // compared on a fresh decoder when this one was idle.
            if !model.isPending, let string = String(validating: bytes, as: UTF8.self) {
                var other = SocketIOPacketDecoder(limits: limits)
                let viaString = Outcome(catching: { () throws(SocketIOCodecError) in try other.decode(text: string) })
                fuzzCheck(viaString == actual, "String API: \(viaString) vs \(actual) for \(hex(bytes))")
            }
        case .binary(let bytes):
            actual = withExactCopy(bytes) { raw in
                Outcome(catching: { () throws(SocketIOCodecError) in try decoder.decode(binary: raw) })
            }
        }
        let expected = model.feed(message)
        verbose("socketio_packet: \(message) -> \(actual)")
        // Repeated keys collapse in the model's tree; the decoder refuses them in a placeholder. Only then may it
        // be stricter.
        var excused = false
        if case .packet = expected, actual == .error(SocketIOCodecError.illegalAttachments.reason),
           model.lastTextRepeatsKeys
        {
            excused = true
        }
        fuzzCheck(actual == expected || excused, "decoder: \(actual); reference: \(expected); message \(message); input \(hex(UnsafeBufferPointer(start: data, count: size)))")
        fuzzCheck(decoder.isAwaitingAttachments == model.isPending, "pending state differs")
        switch actual {
        case .error: return 0
        case .needsAttachments: continue
        case .packet(let packet):
            packets += 1
            checkPacket(packet, limits: limits, inputSize: size)
        }
    }
    fuzzCheck(packets <= messages.count, "more packets than messages")
    return 0
}

enum Message: CustomStringConvertible {
    case text([UInt8])
    case binary([UInt8])
    var description: String {
        switch self {
        case .text(let b): return "text \(hex(b))"
        case .binary(let b): return "binary \(hex(b))"
        }
    }
}

enum Outcome: Equatable, CustomStringConvertible {
    case packet(SocketIOPacket)
    case needsAttachments
    case error(String)

    init(catching body: () throws(SocketIOCodecError) -> SocketIOPacketDecoder.Result) {
        do {
            switch try body() {
            case .packet(let p): self = .packet(p)
            case .needsAttachments: self = .needsAttachments
            }
        } catch {
            self = .error(error.reason)
        }
    }

    var description: String {
        switch self {
        case .packet(let p):
            return "packet(type \(p.type) nsp \(p.namespace) id \(String(describing: p.ackId)) payload \(p.payload.map { hex($0) } ?? "nil") attachments \(p.attachments.count))"
        case .needsAttachments: return "needsAttachments"
        case .error(let reason): return "error(\(reason))"
        }
    }
}

/// Feeds a packet's encoding and its attachments to a fresh decoder.
func decodeAgain(_ text: [UInt8], _ attachments: [[UInt8]], limits: SocketIODecoderLimits) -> Outcome {
    var decoder = SocketIOPacketDecoder(limits: limits)
    var outcome = withExactCopy(text) { raw in
        Outcome(catching: { () throws(SocketIOCodecError) in try decoder.decode(text: raw) })
    }
    for attachment in attachments {
        guard outcome == .needsAttachments else { return .error("attachment after \(outcome)") }
        outcome = Outcome(catching: { () throws(SocketIOCodecError) in try decoder.decode(binary: attachment) })
    }
    return outcome
}

func checkPacket(_ packet: SocketIOPacket, limits: SocketIODecoderLimits, inputSize: Int) {
    // Limits.
    fuzzCheck(packet.attachments.count <= limits.maxAttachments, "\(packet.attachments.count) attachments over the cap")
    fuzzCheck(packet.type.isBinary == !packet.attachments.isEmpty, "attachments on a non-binary packet or none on a binary one")
    let total = (packet.payload?.count ?? 0) + packet.namespace.utf8.count + packet.attachments.reduce(0) { $0 + $1.count }
    fuzzCheck(total <= inputSize, "packet holds \(total) bytes from an input of \(inputSize)")
    let tree = packet.payload.flatMap { try? JSONValue.parse($0, maxDepth: limits.maxNestingDepth) }
    if packet.payload != nil {
        guard let tree else { fuzzFail("accepted payload does not parse: \(hex(packet.payload!))") }
        fuzzCheck(depth(tree) <= limits.maxNestingDepth, "payload deeper than the limit")
    }

    // Encode, decode again.
    let encoded = SocketIOPacketEncoder.encode(packet)
    let again = decodeAgain(encoded, packet.attachments, limits: limits)
    fuzzCheck(again == .packet(packet), "re-encoded \(hex(encoded)) decodes to \(again), not \(Outcome.packet(packet))")

    // EVENT: name and arguments, built again.
    if (packet.type == .event || packet.type == .binaryEvent), let payload = packet.payload,
       case .array(let elements)? = tree, let name = elements.first?.stringValue
    {
        guard let split = try? SocketIOEventArguments.event(payload) else { fuzzFail("event() refused an accepted payload") }
        fuzzCheck(split.name == name, "event name \(split.name) != \(name)")
        var text: [UInt8] = []
        SocketIOPacketEncoder.appendEvent(
            namespace: packet.namespace, event: split.name, argumentsJSON: split.arguments, ackId: packet.ackId,
            attachmentCount: packet.attachments.count, to: &text)
        let rebuilt = decodeAgain(text, packet.attachments, limits: limits)
        guard case .packet(let p) = rebuilt, let rebuiltPayload = p.payload else {
            fuzzFail("appendEvent output \(hex(text)) decodes to \(rebuilt)")
        }
        fuzzCheck(p.type == packet.type && p.namespace == packet.namespace && p.ackId == packet.ackId,
                  "appendEvent changed the header")
        fuzzCheck((try? JSONValue.parse(rebuiltPayload, maxDepth: limits.maxNestingDepth)) == tree,
                  "appendEvent payload \(hex(rebuiltPayload)) differs from \(hex(payload))")
    }
    // ACK with an id: built again.
    if (packet.type == .ack || packet.type == .binaryAck), let ackId = packet.ackId, let payload = packet.payload {
        var text: [UInt8] = []
        SocketIOPacketEncoder.appendAck(
            namespace: packet.namespace, ackId: ackId, argumentsJSON: SocketIOEventArguments.ack(payload),
            attachmentCount: packet.attachments.count, to: &text)
        let rebuilt = decodeAgain(text, packet.attachments, limits: limits)
        fuzzCheck(rebuilt == .packet(packet), "appendAck output \(hex(text)) decodes to \(rebuilt)")
    }
}

func depth(_ value: JSONValue) -> Int {
    switch value {
    case .array(let elements): return 1 + (elements.map(depth).max() ?? 0)
    case .object(let members): return 1 + (members.map { depth($0.1) }.max() ?? 0)
    default: return 0
    }
}

/// The decoder's contract, written from socket.io-parser's behaviour and the rules in SocketIOPacketDecoder's and
/// SocketIOPacketHeader's documentation, with JSON judged by ReferenceJSON and JSONValue trees.
struct ReferenceDecoder {
    let limits: SocketIODecoderLimits
    private var pending: SocketIOPacket?
    private var expected = 0
    private var placeholdersOK = true
    /// The text repeats a key somewhere: the decoder may then refuse placeholders the tree model accepts.
    private var duplicateKeys = false

    init(limits: SocketIODecoderLimits) { self.limits = limits }

    var isPending: Bool { pending != nil }

    mutating func feed(_ message: Message) -> Outcome {
        switch message {
        case .text(let bytes):
            if pending != nil { return .error(SocketIOCodecError.unexpectedText.reason) }
            return decodeText(bytes)
        case .binary(let bytes):
            guard var packet = pending else { return .error(SocketIOCodecError.unexpectedBinary.reason) }
            packet.attachments.append(bytes)
            guard packet.attachments.count == expected else {
                pending = packet
                return .needsAttachments
            }
            pending = nil
            if !placeholdersOK {
                return .error(SocketIOCodecError.illegalAttachments.reason)
            }
            return .packet(packet)
        }
    }

    private mutating func decodeText(_ t: [UInt8]) -> Outcome {
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        func isJSSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
        duplicateKeys = false
        guard let first = t.first, first >= 0x30, first <= 0x36 else {
            return .error(SocketIOCodecError.unknownPacketType.reason)
        }
        let type = SocketIOPacketType(rawValue: first - 0x30)!
        var i = 1
        var count = 0
        if type.isBinary {
            let start = i
            while i < t.count && isDigit(t[i]) { i += 1 }
            let digits = t[start..<i]
            guard i < t.count, t[i] == UInt8(ascii: "-"), !digits.isEmpty else {
                return .error(SocketIOCodecError.illegalAttachments.reason)
            }
            let significant = digits.drop(while: { $0 == 0x30 })
            if significant.isEmpty { return .error(SocketIOCodecError.illegalAttachments.reason) }
            if significant.count > 6 { return .error(SocketIOCodecError.tooManyAttachments.reason) }
            count = Int(String(decoding: significant, as: UTF8.self))!
            if count > limits.maxAttachments { return .error(SocketIOCodecError.tooManyAttachments.reason) }
            i += 1
        }
        var namespace = "/"
        if i < t.count && t[i] == UInt8(ascii: "/") {
            let start = i
            while i < t.count && t[i] != UInt8(ascii: ",") { i += 1 }
            guard let name = String(validating: t[start..<i], as: UTF8.self) else {
                return .error(SocketIOCodecError.invalidNamespace.reason)
            }
            namespace = name
            if i < t.count { i += 1 }
        }
        var ackId: UInt64? = nil
        if i < t.count && (isDigit(t[i]) || isJSSpace(t[i])) {
            let start = i
            while i < t.count && (isDigit(t[i]) || isJSSpace(t[i])) { i += 1 }
            // Number() of the run: surrounding whitespace trimmed, the rest must be digits only.
            let run = t[start..<i]
            let trimmed = run.drop(while: isJSSpace).reversed().drop(while: isJSSpace).reversed()
            guard trimmed.allSatisfy(isDigit), trimmed.count <= 16 else {
                return .error(SocketIOCodecError.invalidAckId.reason)
            }
            ackId = trimmed.isEmpty ? 0 : UInt64(String(decoding: trimmed, as: UTF8.self))!
        }
        var packet = SocketIOPacket(type: type, namespace: namespace, ackId: ackId)
        var ok = true
        duplicateKeys = false
        if i < t.count {
            let body = Array(t[i...])
            if type == .disconnect { return .error(SocketIOCodecError.invalidPayload.reason) }
            let judged = ReferenceJSON.check(body, maxDepth: limits.maxNestingDepth)
            guard judged.valid, let tree = try? JSONValue.parse(body, maxDepth: limits.maxNestingDepth) else {
                return .error(SocketIOCodecError.invalidPayload.reason)
            }
            guard Self.shapeIsValid(type, tree) else { return .error(SocketIOCodecError.invalidPayload.reason) }
            if type.isBinary {
                ok = placeholderModel(tree, attachmentCount: count) != nil
                duplicateKeys = judged.duplicateKeys
            }
            packet.payload = body
        }
        guard type.isBinary else { return .packet(packet) }
        pending = packet
        expected = count
        placeholdersOK = ok
        return .needsAttachments
    }

    /// Whether the last text repeated a key in some object.
    var lastTextRepeatsKeys: Bool { duplicateKeys }

    static func shapeIsValid(_ type: SocketIOPacketType, _ tree: JSONValue) -> Bool {
        switch type {
        case .connect: return tree.objectValue != nil
        case .disconnect: return false
        case .connectError: return tree.objectValue != nil || tree.stringValue != nil
        case .ack, .binaryAck: return tree.arrayValue != nil
        case .event, .binaryEvent:
            guard let first = tree.arrayValue?.first else { return false }
            if first.doubleValue != nil { return true }
            guard let name = first.stringValue else { return false }
            return !socketIOReservedEvents.contains(name)
        }
    }
}
