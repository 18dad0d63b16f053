// Harness `websocket_frame`: the incremental RFC 6455 frame parser (WebSocketFrameParser) with fragmentation,
// control frames, close bodies, UTF-8 checks, size limits and permessage-deflate (RFC 7692).
//
// Input: byte 0 configures the parser: bit 0 set = unmasked frames allowed (the server requires masking);
// bit 1 = permessage-deflate negotiated; bit 2 = with client context takeover; bits 3-4 = client window bits
// (15, 9, 8, 12); bits 5-7 = maxMessageSize (0, 1, 125, 126, 1000, 65535, 65536, 1000000). Byte 1 seeds the
// split of the stream into reads (0 = one byte per read). The rest is the byte stream from the client.
//
// Checked:
//  - a reference parser written from RFC 6455/7692 (whole stream, not incremental) yields the same events and
//    the same close code for the first violation;
//  - the stream fed whole and fed in reads of random sizes (each read in a heap block of exactly its size) gives
//    the same events and error;
//  - limits: messages within maxMessageSize, control payloads within 125 bytes, text and close reasons valid
//    UTF-8; without compression no more payload bytes out than came in; no more events than the stream has
//    frame headers room for;
//  - every event re-encodes (server frames unmasked, client frames masked, and, when the input negotiated
//    permessage-deflate, compressed) to a stream that parses back to the same events.

let maxSizes = [0, 1, 125, 126, 1000, 65535, 65536, 1_000_000]
let windowChoices = [15, 9, 8, 12]

struct Config {
    var requireMasking: Bool
    var deflate: PerMessageDeflate.Parameters?
    var maxMessageSize: Int

    init(_ byte: UInt8) {
        requireMasking = byte & 1 == 0
        if byte & 2 != 0 {
            deflate = PerMessageDeflate.Parameters(
                serverNoContextTakeover: true, clientNoContextTakeover: byte & 4 == 0, serverMaxWindowBits: 15,
                clientMaxWindowBits: windowChoices[Int(byte >> 3 & 3)])
        }
        maxMessageSize = maxSizes[Int(byte >> 5)]
    }

    /// A fresh parser (and a fresh extension object: permessage-deflate keeps per-connection zlib state).
    func makeParser() -> WebSocketFrameParser {
        WebSocketFrameParser(
            maxMessageSize: maxMessageSize, requireMasking: requireMasking,
            perMessageDeflate: deflate.map { PerMessageDeflate(parameters: $0) })
    }
}

struct Run: Equatable {
    var events: [WebSocketEvent] = []
    var errorCode: UInt16? = nil
}

func parseWhole(_ stream: UnsafeRawBufferPointer, _ config: Config) -> Run {
    var parser = config.makeParser()
    var run = Run()
    if let error = parser.feed(stream, { run.events.append($0) }) { run.errorCode = error.code.rawValue }
    // Sticky: once failed, always the same error.
    if let code = run.errorCode {
        let again = parser.feed([0x81, 0x80, 0, 0, 0, 0], { _ in fuzzFail("event after an error") })
        fuzzCheck(again?.code.rawValue == code, "error not sticky")
    }
    return run
}

func parseSplit(_ stream: UnsafeRawBufferPointer, seed: UInt8, _ config: Config) -> Run {
    var parser = config.makeParser()
    var run = Run()
    for range in splitPoints(count: stream.count, seed: seed) {
        let error = withExactCopy(stream[range]) { chunk in parser.feed(chunk, { run.events.append($0) }) }
        if let error {
            run.errorCode = error.code.rawValue
            break
        }
    }
    return run
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 2 else { return 0 }
    let config = Config(data[0])
    let seed = data[1]
    let stream = UnsafeRawBufferPointer(start: data + 2, count: size - 2)

    let whole = parseWhole(stream, config)
    verbose("websocket_frame: \(describe(whole))")
    let split = parseSplit(stream, seed: seed, config)
    fuzzCheck(whole == split, "split feeding differs: whole \(describe(whole)), split \(describe(split))")
    let model = ReferenceParser(config: config).parse(Array(stream))
    fuzzCheck(whole == model, "parser \(describe(whole)), reference \(describe(model)), input \(hex(UnsafeBufferPointer(start: data, count: size)))")

    // Limits.
    var payloadTotal = 0
    for event in whole.events {
        switch event {
        case .text(let bytes):
            fuzzCheck(bytes.count <= config.maxMessageSize, "text over the limit")
            fuzzCheck(isValidUTF8(bytes), "text not UTF-8")
            payloadTotal += bytes.count
        case .binary(let bytes):
            fuzzCheck(bytes.count <= config.maxMessageSize, "binary over the limit")
            payloadTotal += bytes.count
        case .ping(let bytes), .pong(let bytes):
            fuzzCheck(bytes.count <= 125, "control payload over 125")
            payloadTotal += bytes.count
        case .close(let code, let reason):
            fuzzCheck(reason.count <= 123 && (code != nil || reason.isEmpty), "close shape")
            fuzzCheck(isValidUTF8(reason), "close reason not UTF-8")
            payloadTotal += reason.count
        }
    }
    if config.deflate == nil {
        fuzzCheck(payloadTotal <= stream.count, "events carry \(payloadTotal) bytes from \(stream.count)")
    }
    let headerBytes = config.requireMasking ? 6 : 2
    fuzzCheck(whole.events.count <= stream.count / headerBytes, "\(whole.events.count) events from \(stream.count) bytes")

    // Re-encode and parse again.
    if !whole.events.isEmpty { checkReencoding(whole.events, config, seed: seed) }
    return 0
}

func checkReencoding(_ events: [WebSocketEvent], _ config: Config, seed: UInt8) {
    var serverStream: [UInt8] = []
    var clientStream: [UInt8] = []
    var compressedStream: [UInt8] = []
    let compressor = PerMessageDeflate(parameters: PerMessageDeflate.Parameters())
    var random = FuzzRandom(seed: UInt64(seed) &+ 77)
    for event in events {
        let (opcode, payload): (WebSocketOpcode, [UInt8])
        switch event {
        case .text(let b): (opcode, payload) = (.text, b)
        case .binary(let b): (opcode, payload) = (.binary, b)
        case .ping(let b): (opcode, payload) = (.ping, b)
        case .pong(let b): (opcode, payload) = (.pong, b)
        case .close(let code, let reason):
            opcode = .close
            payload = code.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] + reason } ?? []
        }
        serverStream += WebSocketFrameEncoder.frame(opcode: opcode, payload: payload)
        let key = (0..<4).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        clientStream += maskedFrame(opcode: opcode.rawValue, rsv1: false, payload: payload, key: key)
        if config.deflate == nil {
            continue
        } else if !opcode.isControl {
            guard let compressed = compressor.deflate(payload) else { fuzzFail("deflate failed") }
            compressedStream += maskedFrame(opcode: opcode.rawValue, rsv1: true, payload: compressed, key: key)
        } else {
            compressedStream += maskedFrame(opcode: opcode.rawValue, rsv1: false, payload: payload, key: key)
        }
    }
    let limit = config.maxMessageSize
    var server = WebSocketFrameParser(maxMessageSize: limit, requireMasking: false)
    var serverEvents: [WebSocketEvent] = []
    let serverError = server.feed(serverStream) { serverEvents.append($0) }
    fuzzCheck(serverError == nil && serverEvents == events, "server encoding does not parse back: \(String(describing: serverError))")

    var client = WebSocketFrameParser(maxMessageSize: limit, requireMasking: true)
    var clientEvents: [WebSocketEvent] = []
    let clientError = client.feed(clientStream) { clientEvents.append($0) }
    fuzzCheck(clientError == nil && clientEvents == events, "masked encoding does not parse back: \(String(describing: clientError))")

    guard config.deflate != nil else { return }
    var inflating = WebSocketFrameParser(
        maxMessageSize: limit, requireMasking: true,
        perMessageDeflate: PerMessageDeflate(parameters: PerMessageDeflate.Parameters()))
    var inflatedEvents: [WebSocketEvent] = []
    let inflateError = inflating.feed(compressedStream) { inflatedEvents.append($0) }
    // A compressed form may be larger than the limit for incompressible data (the limit holds for both forms).
    if inflateError?.code != .messageTooBig {
        fuzzCheck(inflateError == nil && inflatedEvents == events,
                  "compressed encoding does not parse back: \(String(describing: inflateError))")
    }
}

func maskedFrame(opcode: UInt8, rsv1: Bool, payload: [UInt8], key: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x80 | (rsv1 ? 0x40 : 0) | opcode]
    let n = payload.count
    if n < 126 {
        out.append(0x80 | UInt8(n))
    } else if n <= 0xFFFF {
        out += [0x80 | 126, UInt8(n >> 8), UInt8(n & 0xFF)]
    } else {
        out.append(0x80 | 127)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: n >> shift)) }
    }
    out += key
    for (k, b) in payload.enumerated() { out.append(b ^ key[k & 3]) }
    return out
}

func describe(_ run: Run) -> String {
    let events = run.events.map { event -> String in
        switch event {
        case .text(let b): return "text(\(hex(b, limit: 16)))"
        case .binary(let b): return "binary(\(hex(b, limit: 16)))"
        case .ping(let b): return "ping(\(hex(b, limit: 16)))"
        case .pong(let b): return "pong(\(hex(b, limit: 16)))"
        case .close(let code, let reason): return "close(\(String(describing: code)), \(hex(reason, limit: 16)))"
        }
    }
    return "[\(events.joined(separator: ", "))] error \(run.errorCode.map(String.init) ?? "none")"
}

/// RFC 6455 section 5 and RFC 7692, for a whole stream at once: frames are read while their header and payload
/// are complete; the first violation ends the stream with its close code. The order of the rules within a frame
/// is the parser's documented one (what the first two bytes decide, then the length, then the payload).
struct ReferenceParser {
    let config: Config

    func parse(_ s: [UInt8]) -> Run {
        var run = Run()
        let inflater = config.deflate.map { PerMessageDeflate(parameters: $0) }
        var messageOpcode: UInt8? = nil
        var compressed = false
        var message: [UInt8] = []
        var i = 0
        func fail(_ code: UInt16) -> Run { run.errorCode = code; return run }
        while i + 2 <= s.count {
            let b0 = s[i], b1 = s[i + 1]
            let fin = b0 & 0x80 != 0, rsv = b0 & 0x70, opcode = b0 & 0x0F
            let masked = b1 & 0x80 != 0, len7 = Int(b1 & 0x7F)
            let isControl = opcode >= 8
            guard [0, 1, 2, 8, 9, 10].contains(opcode) else { return fail(1002) }
            if rsv & 0x30 != 0 { return fail(1002) }
            if rsv & 0x40 != 0 && (config.deflate == nil || isControl || opcode == 0) { return fail(1002) }
            if config.requireMasking && !masked { return fail(1002) }
            if isControl {
                if !fin || len7 > 125 { return fail(1002) }
            } else if opcode == 0 {
                if messageOpcode == nil { return fail(1002) }
            } else if messageOpcode != nil {
                return fail(1002)
            }
            var headerLength = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0)
            let maskOffset = headerLength
            if masked { headerLength += 4 }
            guard i + headerLength <= s.count else { break }
            var length: UInt64 = UInt64(len7)
            if len7 == 126 { length = UInt64(s[i + 2]) << 8 | UInt64(s[i + 3]) }
            if len7 == 127 { length = (2..<10).reduce(0) { $0 << 8 | UInt64(s[i + $1]) } }
            if length >> 63 != 0 { return fail(1002) }
            if !isControl && UInt64(message.count) + length > UInt64(config.maxMessageSize) { return fail(1009) }
            if opcode == 1 || opcode == 2 {
                messageOpcode = opcode
                compressed = rsv & 0x40 != 0
            }
            guard UInt64(s.count - i - headerLength) >= length else { break }
            var payload = Array(s[(i + headerLength)..<(i + headerLength + Int(length))])
            if masked {
                for k in payload.indices { payload[k] ^= s[i + maskOffset + (k & 3)] }
            }
            i += headerLength + Int(length)
            if isControl {
                switch opcode {
                case 9: run.events.append(.ping(payload))
                case 10: run.events.append(.pong(payload))
                default:
                    if payload.isEmpty {
                        run.events.append(.close(code: nil, reason: []))
                    } else {
                        guard payload.count >= 2 else { return fail(1002) }
                        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
                        let allowed = (1000...1003).contains(code) || (1007...1014).contains(code)
                            || (3000...4999).contains(code)
                        guard allowed, isValidUTF8(payload[2...]) else { return fail(1002) }
                        run.events.append(.close(code: code, reason: Array(payload[2...])))
                    }
                }
                continue
            }
            message += payload
            guard fin, let kind = messageOpcode else { continue }
            var complete = message
            message = []
            messageOpcode = nil
            if compressed, let inflater {
                compressed = false
                do { complete = try inflater.inflate(complete, maxSize: config.maxMessageSize) } catch {
                    return fail(error.code.rawValue)
                }
            }
            if kind == 1 {
                guard isValidUTF8(complete) else { return fail(1007) }
                run.events.append(.text(complete))
            } else {
                run.events.append(.binary(complete))
            }
        }
        return run
    }
}
