/// What `JSONWalker` reports, in document order, about a JSON text: containers come with their element count up
/// front (what length-prefixed formats such as MessagePack need), so there are no end events.
public protocol JSONVisitor {
    mutating func beginArray(count: Int)
    mutating func beginObject(count: Int)
    /// A member's key, UTF-8; its value follows.
    mutating func key(_ utf8: UnsafeBufferPointer<UInt8>)
    /// A string value, UTF-8 with its escapes decoded (a lone escaped surrogate as U+FFFD, as `JSONValue`).
    mutating func string(_ utf8: UnsafeBufferPointer<UInt8>)
    mutating func number(_ value: Double)
    mutating func bool(_ value: Bool)
    mutating func null()
    /// A Socket.IO placeholder `{"_placeholder":true,"num":N}` for one of the attachments.
    mutating func placeholder(_ index: Int)
}

/// Converts JSON text the engine already validated (event arguments) into visitor calls in one linear pass plus a
/// counting pass, without building `JSONValue`s: the msgpack parser's way out for every packet.
///
/// It reports the values `JSONValue.parse` would make, and only for texts whose objects keep their member order
/// as a JavaScript object holds them: at most 16 members, keys in ASCII without escapes, none repeated, none an
/// array index ("0", "17"), none `_placeholder` except in a placeholder exactly as the engine writes it
/// (`{"_placeholder":true,"num":N}`, N below `attachmentCount`). For anything else `walk` reports nothing and
/// returns false: the caller takes the general path (`JSONValue.parse`), which handles every text.
public enum JSONWalker {
    public static func walk<Visitor: JSONVisitor>(
        _ text: UnsafeRawBufferPointer, attachmentCount: Int, into visitor: inout Visitor
    ) -> Bool {
        // Offsets are kept in 32 bits: larger texts (none an engine limit lets through) take the general path.
        guard let base = text.baseAddress, text.count > 0, text.count < Int(Int32.max) else { return false }
        let p = base.assumingMemoryBound(to: UInt8.self)
        let n = text.count
        // Scratch space sized by the text (a container takes at least two bytes), on the stack for small texts:
        // the walk allocates nothing of its own on the hot path.
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: n / 2 + 1) { counts in
            guard countContainers(p, n, attachmentCount: attachmentCount, into: counts) else { return false }
            report(p, n, counts: counts, into: &visitor)
            return true
        }
    }

    static let maxPlainMembers = 16
    /// Deeper texts are left to the general path (whose own limit is 64 levels too).
    static let maxDepth = 64
    private static let placeholderPrefix: [UInt8] = Array("{\"_placeholder\":true,\"num\":".utf8)

    /// Fills `counts` with the element count of every container in the order they open; false for a text `walk`
    /// leaves alone.
    static func countContainers(
        _ p: UnsafePointer<UInt8>, _ n: Int, attachmentCount: Int, into counts: UnsafeMutableBufferPointer<Int32>
    ) -> Bool {
        // Per open container: its slot in `counts` and where its keys start in `keys`; `objects` has bit d set when
        // the container at depth d is an object.
        withUnsafeTemporaryAllocation(of: (slot: Int32, firstKey: Int32).self, capacity: maxDepth) { open in
            withUnsafeTemporaryAllocation(of: (start: Int32, count: Int32).self, capacity: maxDepth * maxPlainMembers) { keys in
                var depth = 0
                var objects: UInt64 = 0
                var keyCount = 0
                var containers = 0
                var expectKey = false
                var i = 0
                while i < n {
                    let c = p[i]
                    if ASCII.isJSONWhitespace(c) || c == ASCII.colon {
                        i += 1
                        continue
                    }
                    if c == ASCII.comma {
                        expectKey = depth > 0 && objects & (1 << (depth - 1)) != 0
                        i += 1
                        continue
                    }
                    if c == ASCII.closeBracket || c == ASCII.closeBrace {
                        guard depth > 0 else { return false }  // not valid JSON: never reported
                        depth -= 1
                        keyCount = Int(open[depth].firstKey)
                        expectKey = false
                        i += 1
                        continue
                    }
                    // A value starts here, or (in an object, after `{` or `,`) a key.
                    if depth > 0 {
                        let slot = Int(open[depth - 1].slot)
                        if objects & (1 << (depth - 1)) != 0 {
                            if expectKey {
                                guard c == ASCII.quote else { return false }
                                let end = stringEnd(p, n, i)
                                let key = (start: Int32(i + 1), count: Int32(end - i - 2))
                                guard plainKey(p, key), counts[slot] < maxPlainMembers else { return false }
                                for k in Int(open[depth - 1].firstKey)..<keyCount where equal(p, keys[k], key) {
                                    return false
                                }
                                keys[keyCount] = key
                                keyCount += 1
                                counts[slot] += 1
                                expectKey = false
                                i = end
                                continue
                            }
                        } else {
                            counts[slot] += 1
                        }
                    }
                    switch c {
                    case ASCII.openBracket, ASCII.openBrace:
                        if c == ASCII.openBrace, let length = placeholderLength(p, n, i) {
                            guard let index = placeholderIndex(p, i, length), index < attachmentCount else { return false }
                            i += length
                            continue
                        }
                        guard depth < maxDepth else { return false }
                        open[depth] = (Int32(containers), Int32(keyCount))
                        counts[containers] = 0
                        containers += 1
                        if c == ASCII.openBrace { objects |= 1 << depth } else { objects &= ~(1 << depth) }
                        depth += 1
                        expectKey = c == ASCII.openBrace
                        i += 1
                    case ASCII.quote:
                        i = stringEnd(p, n, i)
                    default:
                        i = scalarEnd(p, n, i)
                    }
                }
                return depth == 0
            }
        }
    }

    private static func report<Visitor: JSONVisitor>(
        _ p: UnsafePointer<UInt8>, _ n: Int, counts: UnsafeMutableBufferPointer<Int32>, into visitor: inout Visitor
    ) {
        var next = 0
        var depth = 0
        var objects: UInt64 = 0  // bit d: the container at depth d is an object (the count pass kept depth <= 64)
        var expectKey = false
        var i = 0
        while i < n {
            let c = p[i]
            switch c {
            case ASCII.space, ASCII.newline, ASCII.carriageReturn, ASCII.tab, ASCII.colon:
                i += 1
            case ASCII.comma:
                expectKey = objects & (1 << (depth - 1)) != 0
                i += 1
            case ASCII.closeBracket, ASCII.closeBrace:
                depth -= 1
                expectKey = false
                i += 1
            case ASCII.openBracket:
                visitor.beginArray(count: Int(counts[next]))
                next += 1
                objects &= ~(1 << depth)
                depth += 1
                i += 1
            case ASCII.openBrace:
                if let length = placeholderLength(p, n, i) {
                    visitor.placeholder(placeholderIndex(p, i, length)!)
                    i += length
                    continue
                }
                visitor.beginObject(count: Int(counts[next]))
                next += 1
                objects |= 1 << depth
                depth += 1
                expectKey = true
                i += 1
            case ASCII.quote:
                let end = stringEnd(p, n, i)
                if expectKey {
                    visitor.key(UnsafeBufferPointer(start: p + i + 1, count: end - i - 2))
                    expectKey = false
                } else {
                    reportString(p, i + 1..<end - 1, into: &visitor)
                }
                i = end
            case ASCII.lowerT:
                visitor.bool(true)
                i = scalarEnd(p, n, i)
            case ASCII.lowerF:
                visitor.bool(false)
                i = scalarEnd(p, n, i)
            case ASCII.lowerN:
                visitor.null()
                i = scalarEnd(p, n, i)
            default:
                let end = scalarEnd(p, n, i)
                visitor.number(number(p, i..<end))
                i = end
            }
        }
    }

    private static func reportString<Visitor: JSONVisitor>(
        _ p: UnsafePointer<UInt8>, _ contents: Range<Int>, into visitor: inout Visitor
    ) {
        var k = contents.lowerBound
        while k < contents.upperBound && p[k] != ASCII.backslash { k += 1 }
        if k == contents.upperBound {
            visitor.string(UnsafeBufferPointer(start: p + contents.lowerBound, count: contents.count))
        } else {
            JSONStringCoding.unescape(p, contents).withUnsafeBufferPointer { visitor.string($0) }
        }
    }

    /// The offset just past the string literal starting at `start` (its opening quote).
    @inline(__always)
    private static func stringEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int) -> Int {
        var i = start + 1
        while i < n && p[i] != ASCII.quote { i += p[i] == ASCII.backslash ? 2 : 1 }
        return i + 1
    }

    /// The offset just past the number or literal starting at `start`.
    @inline(__always)
    private static func scalarEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int) -> Int {
        var i = start
        while i < n {
            let c = p[i]
            if ASCII.isJSONWhitespace(c) || c == ASCII.comma || c == ASCII.closeBracket || c == ASCII.closeBrace { break }
            i += 1
        }
        return i
    }

    /// A key whose member keeps its place in a JavaScript object and whose bytes are its UTF-8.
    private static func plainKey(_ p: UnsafePointer<UInt8>, _ key: (start: Int32, count: Int32)) -> Bool {
        plainKey(p, Int(key.start)..<Int(key.start + key.count))
    }

    private static func plainKey(_ p: UnsafePointer<UInt8>, _ key: Range<Int>) -> Bool {
        guard !key.isEmpty else { return true }
        for k in key where p[k] >= 0x80 || p[k] == ASCII.backslash { return false }
        if key.count == JSONStringCoding.placeholderKey.count, matches(p, key.lowerBound, JSONStringCoding.placeholderKey) { return false }
        // An array index: the canonical decimal text of an integer below 2^32 - 1 (JavaScript lists those first).
        guard ASCII.isDigit(p[key.lowerBound]), key.count <= 10, p[key.lowerBound] != ASCII.zero || key.count == 1 else {
            return true
        }
        var value: UInt64 = 0
        for k in key {
            guard ASCII.isDigit(p[k]) else { return true }
            value = value * 10 + UInt64(p[k] - ASCII.zero)
        }
        return value >= 4_294_967_295
    }


    @inline(__always)
    private static func equal(
        _ p: UnsafePointer<UInt8>, _ a: (start: Int32, count: Int32), _ b: (start: Int32, count: Int32)
    ) -> Bool {
        guard a.count == b.count else { return false }
        for k in 0..<Int(a.count) where p[Int(a.start) + k] != p[Int(b.start) + k] { return false }
        return true
    }

    /// Whether the bytes at `start` begin with `expected` (the caller knows they are long enough).
    @inline(__always)
    private static func matches(_ p: UnsafePointer<UInt8>, _ start: Int, _ expected: [UInt8]) -> Bool {
        for k in 0..<expected.count where p[start + k] != expected[k] { return false }
        return true
    }

    /// The length of a placeholder exactly as the engine writes it, starting at `start` (a `{`), or nil.
    private static func placeholderLength(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int) -> Int? {
        let prefix = placeholderPrefix.count
        guard n - start > prefix + 1, p[start + 1] == ASCII.quote, p[start + 2] == UInt8(ascii: "_") else { return nil }
        guard matches(p, start, placeholderPrefix) else { return nil }
        var i = start + prefix
        while i < n && ASCII.isDigit(p[i]) { i += 1 }
        guard i > start + prefix, i - (start + prefix) <= 9, i < n, p[i] == ASCII.closeBrace else { return nil }
        return i + 1 - start
    }

    private static func placeholderIndex(_ p: UnsafePointer<UInt8>, _ start: Int, _ length: Int) -> Int? {
        let digits = start + placeholderPrefix.count..<start + length - 1
        guard p[digits.lowerBound] != ASCII.zero || digits.count == 1 else { return nil }
        var value = 0
        for k in digits { value = value * 10 + Int(p[k] - ASCII.zero) }
        return value
    }

    /// The number `JSONValue.parse` reads from a validated JSON number: integers of up to 15 digits exactly, the
    /// rest correctly rounded by the C library, as Swift's `Double(String)` does.
    private static func number(_ p: UnsafePointer<UInt8>, _ range: Range<Int>) -> Double {
        var k = range.lowerBound
        let negative = p[k] == ASCII.minus
        if negative { k += 1 }
        if range.upperBound - k <= 15 {
            var value: Int64 = 0
            var whole = true
            for j in k..<range.upperBound {
                let c = p[j]
                guard ASCII.isDigit(c) else {
                    whole = false
                    break
                }
                value = value * 10 + Int64(c - ASCII.zero)
            }
            if whole { return negative ? -Double(value) : Double(value) }
        }
        let text = String(decoding: UnsafeBufferPointer(start: p + range.lowerBound, count: range.count), as: UTF8.self)
        return Double(text) ?? .nan
    }
}
