/// Why the scanner stopped, and where. Cheap to make on the hot path (no text); the text is built only when the
/// error is reported through the public API.
struct JSONScanError: Error, Equatable {
    enum Kind: Equatable {
        case unexpectedByte
        case unexpectedEnd
        case tooDeep
        case invalidUTF8
        case invalidEscape
        case controlCharacter
        case trailingData
    }

    var kind: Kind
    var offset: Int

    init(_ kind: Kind, _ offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    var codecError: SocketIOCodecError {
        switch kind {
        case .unexpectedByte: return .init(reason: "invalid JSON: unexpected byte at offset \(offset)")
        case .unexpectedEnd: return .init(reason: "invalid JSON: unexpected end at offset \(offset)")
        case .tooDeep: return .init(reason: "invalid JSON: nesting too deep at offset \(offset)")
        case .invalidUTF8: return .init(reason: "invalid JSON: invalid UTF-8 at offset \(offset)")
        case .invalidEscape: return .init(reason: "invalid JSON: invalid escape at offset \(offset)")
        case .controlCharacter: return .init(reason: "invalid JSON: control character in string at offset \(offset)")
        case .trailingData: return .init(reason: "invalid JSON: trailing data at offset \(offset)")
        }
    }
}

/// What one scan learnt about a valid JSON text, for the callers that need more than "valid".
struct JSONScanSummary {
    /// Offset of the root value's first byte (after leading whitespace); its byte tells the root's kind.
    var rootStart = 0
    /// The byte range of the first element of a root array, if the root is a non-empty array.
    var firstElement: Range<Int>? = nil
    /// The number of elements of a root array.
    var elementCount = 0
    /// Placeholder objects seen (only counted when placeholders are checked).
    var placeholderCount = 0
    /// False when some object with `"_placeholder": true` is not exactly `{"_placeholder":true,"num":N}` with N
    /// an integer index into the attachments (only meaningful when placeholders are checked).
    var placeholdersValid = true
}

/// The one-pass validating JSON scanner behind `JSONScanner`, the packet decoder and `JSONValue.parse`.
///
/// Iterative, not recursive: the only per-level state is one byte per open container, kept in a buffer of
/// `min(maxDepth, input length)` bytes (on the stack for any sane depth), so hostile nesting can neither overflow
/// the thread's stack nor make the scanner allocate more than the input justifies. Linear time; each byte is
/// looked at a bounded number of times; ASCII runs inside strings are skipped eight bytes at a time.
///
/// It follows RFC 8259 strictly (what JavaScript's `JSON.parse` accepts, which is what the reference server
/// uses), with one addition: the input must be valid UTF-8 (RFC 3629; overlong forms and UTF-16 surrogates
/// encoded as UTF-8 are refused). Like `JSON.parse`, it accepts `\uD800`-style escapes of lone surrogates:
/// a JavaScript client that sends a string cut in the middle of a surrogate pair produces them, and the
/// reference server accepts that packet.
struct JSONScanCore {
    private let p: UnsafePointer<UInt8>
    private let n: Int
    private let maxDepth: Int
    /// The attachment count placeholders must point into, or -1 when placeholders are not checked.
    private let placeholderLimit: Int
    private let collectElements: Bool
    private(set) var elements: [Range<Int>] = []
    private(set) var summary = JSONScanSummary()

    // One byte of state per open container. Bit 0 says object or array; the other bits follow an object's keys
    // to decide whether it is a binary placeholder. Placeholders are flat objects, but their keys may come in any
    // order and around nested values, so the state must survive nested containers: hence on the stack.
    private static let isObject: UInt8 = 0x01
    private static let keyIsPlaceholder: UInt8 = 0x02  // the current key is "_placeholder"
    private static let keyIsNum: UInt8 = 0x04  // the current key is "num"
    private static let seenPlaceholder: UInt8 = 0x08
    private static let seenNum: UInt8 = 0x10
    private static let placeholderTrue: UInt8 = 0x20  // the last "_placeholder" value was `true`
    private static let notExact: UInt8 = 0x40  // another key, a repeated key, or an invalid "num"

    private enum ValueKind {
        case trueLiteral, otherLiteral, string, number, container
    }

    private init(_ p: UnsafePointer<UInt8>, _ n: Int, maxDepth: Int, placeholderLimit: Int, collectElements: Bool) {
        self.p = p
        self.n = n
        self.maxDepth = maxDepth
        self.placeholderLimit = placeholderLimit
        self.collectElements = collectElements
    }

    /// Scans one complete JSON text.
    /// - Parameters:
    ///   - placeholderLimit: the attachment count to check binary placeholders against, or -1 not to check them.
    ///   - collectElements: whether to return the byte range of every element of a root array.
    static func scan(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int, placeholderLimit: Int = -1, collectElements: Bool = false
    ) throws(JSONScanError) -> (summary: JSONScanSummary, elements: [Range<Int>]) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw JSONScanError(.unexpectedEnd, 0) }
        var core = JSONScanCore(
            base.assumingMemoryBound(to: UInt8.self), bytes.count, maxDepth: maxDepth,
            placeholderLimit: placeholderLimit, collectElements: collectElements)
        // Nesting can be no deeper than the input is long, so a huge maxDepth costs nothing on small inputs.
        let capacity = Swift.max(1, Swift.min(maxDepth, bytes.count))
        var failure: JSONScanError? = nil
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { stack in
            do throws(JSONScanError) { try core.run(stack: stack.baseAddress!) } catch { failure = error }
        }
        if let failure { throw failure }
        return (core.summary, core.elements)
    }

    /// For `SocketIOEventArguments`: reads `[` and a first element that must be a string or a number, then the
    /// `,` or `]` after it, without looking at the rest (the caller has a validated payload).
    /// - Returns: the element's range, whether the array ends after it, and the offset after the `,` or `]`.
    static func scanLeadingScalar(
        _ bytes: UnsafeRawBufferPointer
    ) throws(JSONScanError) -> (element: Range<Int>, closes: Bool, next: Int) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw JSONScanError(.unexpectedEnd, 0) }
        let core = JSONScanCore(
            base.assumingMemoryBound(to: UInt8.self), bytes.count, maxDepth: 1, placeholderLimit: -1,
            collectElements: false)
        var i = core.skipWhitespace(0)
        guard i < core.n else { throw JSONScanError(.unexpectedEnd, i) }
        guard core.p[i] == ASCII.openBracket else { throw JSONScanError(.unexpectedByte, i) }
        i = core.skipWhitespace(i + 1)
        guard i < core.n else { throw JSONScanError(.unexpectedEnd, i) }
        let start = i
        switch core.p[i] {
        case ASCII.quote: i = try core.scanString(i).end
        case ASCII.minus, ASCII.zero...ASCII.nine: i = try core.scanNumber(i)
        default: throw JSONScanError(.unexpectedByte, i)
        }
        let element = start..<i
        i = core.skipWhitespace(i)
        guard i < core.n else { throw JSONScanError(.unexpectedEnd, i) }
        switch core.p[i] {
        case ASCII.comma: return (element, false, i + 1)
        case ASCII.closeBracket: return (element, true, i + 1)
        default: throw JSONScanError(.unexpectedByte, i)
        }
    }

    // MARK: - The value loop

    private mutating func run(stack: UnsafeMutablePointer<UInt8>) throws(JSONScanError) {
        var i = skipWhitespace(0)
        guard i < n else { throw JSONScanError(.unexpectedEnd, i) }
        summary.rootStart = i
        var depth = 0
        var elementStart = 0
        let checkPlaceholders = placeholderLimit >= 0

        scanning: while true {
            // A value starts at i (whitespace already skipped).
            guard i < n else { throw JSONScanError(.unexpectedEnd, i) }
            let valueStart = i
            if depth == 1 && stack[0] & Self.isObject == 0 { elementStart = i }
            var kind: ValueKind
            switch p[i] {
            case ASCII.openBrace:
                guard depth < maxDepth else { throw JSONScanError(.tooDeep, i) }
                stack[depth] = Self.isObject
                depth &+= 1
                i = skipWhitespace(i &+ 1)
                if i < n && p[i] == ASCII.closeBrace {
                    i &+= 1
                    depth &-= 1
                    kind = .container  // an empty object is never a placeholder
                } else {
                    i = try scanKey(i, frame: &stack[depth &- 1])
                    continue scanning
                }
            case ASCII.openBracket:
                guard depth < maxDepth else { throw JSONScanError(.tooDeep, i) }
                stack[depth] = 0
                depth &+= 1
                i = skipWhitespace(i &+ 1)
                if i < n && p[i] == ASCII.closeBracket {
                    i &+= 1
                    depth &-= 1
                    kind = .container
                } else {
                    continue scanning
                }
            case ASCII.quote:
                i = try scanString(i).end
                kind = .string
            case ASCII.minus, ASCII.zero...ASCII.nine:
                i = try scanNumber(i)
                kind = .number
            case ASCII.lowerT:
                i = try expectLiteral(i, rest: 0x6575_7274, length: 4)  // "true", little-endian
                kind = .trueLiteral
            case ASCII.lowerF:
                i = try expectLiteral(i &+ 1, rest: 0x6573_6C61, length: 4)  // "alse"
                kind = .otherLiteral
            case ASCII.lowerN:
                i = try expectLiteral(i, rest: 0x6C6C_756E, length: 4)  // "null"
                kind = .otherLiteral
            default:
                throw JSONScanError(.unexpectedByte, i)
            }

            // A value ended at i. Record it in its container, then close as many containers as end here.
            while true {
                if depth == 0 {
                    i = skipWhitespace(i)
                    guard i == n else { throw JSONScanError(.trailingData, i) }
                    return
                }
                let inObject = stack[depth &- 1] & Self.isObject != 0
                if inObject {
                    if checkPlaceholders { noteMemberValue(kind, valueStart..<i, frame: &stack[depth &- 1]) }
                } else if depth == 1 {
                    noteElement(elementStart..<i)
                }
                i = skipWhitespace(i)
                guard i < n else { throw JSONScanError(.unexpectedEnd, i) }
                let c = p[i]
                if c == ASCII.comma {
                    i = skipWhitespace(i &+ 1)
                    if inObject { i = try scanKey(i, frame: &stack[depth &- 1]) }
                    continue scanning
                }
                guard c == (inObject ? ASCII.closeBrace : ASCII.closeBracket) else {
                    throw JSONScanError(.unexpectedByte, i)
                }
                i &+= 1
                depth &-= 1
                if inObject && checkPlaceholders { closeObject(stack[depth]) }
                kind = .container
            }
        }
    }

    @inline(__always)
    private func skipWhitespace(_ start: Int) -> Int {
        var i = start
        while i < n && ASCII.isJSONWhitespace(p[i]) { i &+= 1 }
        return i
    }

    private mutating func noteElement(_ range: Range<Int>) {
        if summary.elementCount == 0 { summary.firstElement = range }
        summary.elementCount &+= 1
        if collectElements { elements.append(range) }
    }

    /// Reads `"key"` and the `:` after it, returning the offset of the member's value.
    private func scanKey(_ start: Int, frame: inout UInt8) throws(JSONScanError) -> Int {
        guard start < n else { throw JSONScanError(.unexpectedEnd, start) }
        guard p[start] == ASCII.quote else { throw JSONScanError(.unexpectedByte, start) }
        let (end, escaped) = try scanString(start)
        if placeholderLimit >= 0 { noteKey(start &+ 1..<end &- 1, escaped: escaped, frame: &frame) }
        let colon = skipWhitespace(end)
        guard colon < n else { throw JSONScanError(.unexpectedEnd, colon) }
        guard p[colon] == ASCII.colon else { throw JSONScanError(.unexpectedByte, colon) }
        return skipWhitespace(colon &+ 1)
    }

    // MARK: - Tokens

    /// Scans a string literal starting at the quote at `start`; returns the offset after the closing quote and
    /// whether the literal contains escapes.
    private func scanString(_ start: Int) throws(JSONScanError) -> (end: Int, escaped: Bool) {
        var i = start &+ 1
        var escaped = false
        while true {
            // Skip plain ASCII eight bytes at a time: most strings are short ASCII words.
            while i &+ 8 <= n {
                let word = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
                if Self.needsAttention(word) { break }
                i &+= 8
            }
            guard i < n else { throw JSONScanError(.unexpectedEnd, i) }
            let c = p[i]
            if c == ASCII.quote { return (i &+ 1, escaped) }
            if c == ASCII.backslash {
                escaped = true
                guard i &+ 1 < n else { throw JSONScanError(.unexpectedEnd, n) }
                switch p[i &+ 1] {
                case ASCII.quote, ASCII.backslash, ASCII.slash, ASCII.lowerB, ASCII.lowerF, ASCII.lowerN,
                    ASCII.lowerR, ASCII.lowerT:
                    i &+= 2
                case ASCII.lowerU:
                    guard i &+ 6 <= n else { throw JSONScanError(.unexpectedEnd, n) }
                    for k in 2..<6 where ASCII.hexValue(p[i &+ k]) == nil {
                        throw JSONScanError(.invalidEscape, i)
                    }
                    i &+= 6
                default:
                    throw JSONScanError(.invalidEscape, i)
                }
            } else if c < 0x20 {
                throw JSONScanError(.controlCharacter, i)
            } else if c < 0x80 {
                i &+= 1
            } else {
                i = try scanUTF8Sequence(i)
            }
        }
    }

    /// True when the eight bytes contain a quote, a backslash, a control character or a non-ASCII byte.
    /// (Classic SWAR tests: exact about whether such a byte exists, which is all the caller needs.)
    @inline(__always)
    private static func needsAttention(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (w &- ones &* 0x20) & ~w
        let quoteBytes = w ^ (ones &* 0x22)
        let quotes = (quoteBytes &- ones) & ~quoteBytes
        let backslashBytes = w ^ (ones &* 0x5C)
        let backslashes = (backslashBytes &- ones) & ~backslashBytes
        return (control | quotes | backslashes | w) & highs != 0
    }

    /// Validates one multi-byte UTF-8 sequence starting at `start` (RFC 3629, Unicode table 3-7) and returns
    /// the offset after it.
    private func scanUTF8Sequence(_ start: Int) throws(JSONScanError) -> Int {
        let lead = p[start]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F  // no UTF-16 surrogates
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F  // nothing above U+10FFFF
        default: throw JSONScanError(.invalidUTF8, start)
        }
        guard start &+ length <= n else { throw JSONScanError(.invalidUTF8, start) }
        let second = p[start &+ 1]
        guard second >= low && second <= high else { throw JSONScanError(.invalidUTF8, start) }
        for k in 2..<length where p[start &+ k] & 0xC0 != 0x80 {
            throw JSONScanError(.invalidUTF8, start)
        }
        return start &+ length
    }

    /// Scans `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` and returns the offset after it. What follows
    /// is checked by the caller, so "01" fails there, on the "1".
    private func scanNumber(_ start: Int) throws(JSONScanError) -> Int {
        var i = start
        if p[i] == ASCII.minus {
            i &+= 1
            guard i < n else { throw JSONScanError(.unexpectedEnd, i) }
        }
        if p[i] == ASCII.zero {
            i &+= 1
        } else if ASCII.isDigit(p[i]) {
            i = skipDigits(i &+ 1)
        } else {
            throw JSONScanError(.unexpectedByte, i)
        }
        if i < n && p[i] == ASCII.dot {
            i = try requireDigits(i &+ 1)
        }
        if i < n && (p[i] == ASCII.lowerE || p[i] == ASCII.upperE) {
            i &+= 1
            if i < n && (p[i] == ASCII.plus || p[i] == ASCII.minus) { i &+= 1 }
            i = try requireDigits(i)
        }
        return i
    }

    @inline(__always)
    private func skipDigits(_ start: Int) -> Int {
        var i = start
        while i < n && ASCII.isDigit(p[i]) { i &+= 1 }
        return i
    }

    private func requireDigits(_ start: Int) throws(JSONScanError) -> Int {
        guard start < n else { throw JSONScanError(.unexpectedEnd, start) }
        guard ASCII.isDigit(p[start]) else { throw JSONScanError(.unexpectedByte, start) }
        return skipDigits(start &+ 1)
    }

    /// Checks the four bytes at `start` against `rest` (little-endian) and returns the offset after them.
    private func expectLiteral(_ start: Int, rest: UInt32, length: Int) throws(JSONScanError) -> Int {
        guard start &+ length <= n else { throw JSONScanError(.unexpectedEnd, n) }
        let word = UInt32(littleEndian: UnsafeRawPointer(p + start).loadUnaligned(as: UInt32.self))
        guard word == rest else { throw JSONScanError(.unexpectedByte, start) }
        return start &+ length
    }

    // MARK: - Binary placeholders

    /// Notes which key an object member has, for the placeholder check.
    private func noteKey(_ range: Range<Int>, escaped: Bool, frame: inout UInt8) {
        var f = frame & ~(Self.keyIsPlaceholder | Self.keyIsNum)
        let key: [UInt8]? = escaped ? JSONStringCoding.unescape(p, range) : nil
        if Self.keyEquals(p, range, key, JSONStringCoding.placeholderKey) {
            if f & Self.seenPlaceholder != 0 { f |= Self.notExact }
            f |= Self.seenPlaceholder | Self.keyIsPlaceholder
        } else if Self.keyEquals(p, range, key, JSONStringCoding.numKey) {
            if f & Self.seenNum != 0 { f |= Self.notExact }
            f |= Self.seenNum | Self.keyIsNum
        } else {
            f |= Self.notExact
        }
        frame = f
    }

    private static func keyEquals(
        _ p: UnsafePointer<UInt8>, _ range: Range<Int>, _ unescaped: [UInt8]?, _ expected: [UInt8]
    ) -> Bool {
        if let unescaped { return unescaped == expected }
        guard range.count == expected.count else { return false }
        for (k, byte) in expected.enumerated() where p[range.lowerBound &+ k] != byte { return false }
        return true
    }

    /// Notes an object member's value: `_placeholder` must be `true` and `num` a valid attachment index.
    private func noteMemberValue(_ kind: ValueKind, _ range: Range<Int>, frame: inout UInt8) {
        if frame & Self.keyIsPlaceholder != 0 {
            // As in JavaScript, the last of repeated keys wins.
            if kind == .trueLiteral { frame |= Self.placeholderTrue } else { frame &= ~Self.placeholderTrue }
        } else if frame & Self.keyIsNum != 0 {
            if kind != .number || !isAttachmentIndex(range) { frame |= Self.notExact }
        }
    }

    /// An object is a placeholder when its `_placeholder` is `true` (the reference's test); then it must be
    /// exactly `{"_placeholder":true,"num":N}`, keys in any order.
    private mutating func closeObject(_ frame: UInt8) {
        guard frame & Self.placeholderTrue != 0 else { return }
        if frame & Self.notExact == 0 && frame & Self.seenNum != 0 {
            summary.placeholderCount &+= 1
        } else {
            summary.placeholdersValid = false
        }
    }

    /// Whether the number text in `range` is an integer in `0..<placeholderLimit` ("1.0", "1e0" and "-0" count,
    /// as they are the same JavaScript number; "0.5" does not).
    private func isAttachmentIndex(_ range: Range<Int>) -> Bool {
        var value = 0
        var plain = true
        for k in range {
            let c = p[k]
            guard ASCII.isDigit(c) else {
                plain = false
                break
            }
            value = value &* 10 &+ Int(c &- ASCII.zero)
            if value >= placeholderLimit { return false }  // also stops any overflow
        }
        if plain { return true }
        let text = String(decoding: UnsafeBufferPointer(start: p + range.lowerBound, count: range.count), as: UTF8.self)
        guard let number = Double(text), number.isFinite, number.rounded(.towardZero) == number else { return false }
        return number >= 0 && number < Double(placeholderLimit)
    }
}
