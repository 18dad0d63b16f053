extension JSONValue {
    /// Parses one complete JSON text, as `JSON.parse` would (plus: valid UTF-8 required, nesting limited).
    ///
    /// The text is validated first by `JSONScanner`, then built without recursion. Lone surrogate escapes,
    /// which a Swift string cannot hold, become U+FFFD.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64) throws(SocketIOCodecError) -> JSONValue {
        do {
            _ = try JSONScanCore.scan(bytes, maxDepth: maxDepth)
        } catch {
            throw error.codecError
        }
        var builder = JSONTreeBuilder(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count)
        return builder.build()
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws(SocketIOCodecError) -> JSONValue {
        let outcome: Result<JSONValue, SocketIOCodecError> = bytes.withUnsafeBytes { buffer in
            do throws(SocketIOCodecError) {
                return .success(try parse(buffer, maxDepth: maxDepth))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    public static func parse(_ text: String, maxDepth: Int = 64) throws(SocketIOCodecError) -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }
}

/// Builds a `JSONValue` from a text the scanner has already validated, with an explicit stack of open
/// containers instead of recursion.
private struct JSONTreeBuilder {
    private let p: UnsafePointer<UInt8>
    private let n: Int
    private var i = 0

    /// An array or object being filled.
    private struct OpenContainer {
        var isObject: Bool
        var elements: [JSONValue] = []
        var members: [(String, JSONValue)] = []
        /// The key whose value is being parsed.
        var key = ""
        /// Member positions by key, built once an object is big enough for linear search to cost.
        var index: [String: Int]? = nil

        mutating func add(_ value: JSONValue) {
            guard isObject else {
                elements.append(value)
                return
            }
            // A repeated key keeps its first position and takes the last value, as in JSON.parse.
            if let index {
                if let position = index[key] {
                    members[position].1 = value
                    return
                }
            } else if let position = members.firstIndex(where: { $0.0 == key }) {
                members[position].1 = value
                return
            }
            members.append((key, value))
            if index != nil {
                index![key] = members.count - 1
            } else if members.count == 16 {
                var built: [String: Int] = [:]
                for (position, member) in members.enumerated() where built[member.0] == nil {
                    built[member.0] = position
                }
                index = built
            }
        }

        func finish() -> JSONValue {
            isObject ? .object(members) : .array(elements)
        }
    }

    init(_ p: UnsafePointer<UInt8>, _ n: Int) {
        self.p = p
        self.n = n
    }

    mutating func build() -> JSONValue {
        var stack: [OpenContainer] = []
        skipWhitespace()
        while true {
            var value: JSONValue
            switch p[i] {
            case ASCII.openBrace, ASCII.openBracket:
                let isObject = p[i] == ASCII.openBrace
                i += 1
                skipWhitespace()
                if p[i] == (isObject ? ASCII.closeBrace : ASCII.closeBracket) {
                    i += 1
                    value = isObject ? .object([]) : .array([])
                } else {
                    var container = OpenContainer(isObject: isObject)
                    if isObject { container.key = readKey() }
                    stack.append(container)
                    continue
                }
            case ASCII.quote:
                value = .string(readString())
            case ASCII.lowerT:
                i += 4
                value = .bool(true)
            case ASCII.lowerF:
                i += 5
                value = .bool(false)
            case ASCII.lowerN:
                i += 4
                value = .null
            default:
                value = .number(readNumber())
            }
            // Add the value to its container; close the containers that end here.
            while true {
                guard var top = stack.popLast() else { return value }
                top.add(value)
                skipWhitespace()
                if p[i] == ASCII.comma {
                    i += 1
                    skipWhitespace()
                    if top.isObject { top.key = readKey() }
                    stack.append(top)
                    break
                }
                i += 1  // `]` or `}`
                value = top.finish()
            }
        }
    }

    private mutating func skipWhitespace() {
        while i < n && ASCII.isJSONWhitespace(p[i]) { i += 1 }
    }

    /// Reads `"key"`, the colon and the whitespace before the value.
    private mutating func readKey() -> String {
        let key = readString()
        skipWhitespace()
        i += 1  // `:`
        skipWhitespace()
        return key
    }

    private mutating func readString() -> String {
        let start = i
        i += 1
        while p[i] != ASCII.quote {
            i += p[i] == ASCII.backslash ? 2 : 1
        }
        i += 1
        return JSONStringCoding.decodeString(p, start..<i)
    }

    private mutating func readNumber() -> Double {
        let start = i
        while i < n && !ASCII.isJSONWhitespace(p[i]) && p[i] != ASCII.comma && p[i] != ASCII.closeBracket
            && p[i] != ASCII.closeBrace
        {
            i += 1
        }
        let text = String(decoding: UnsafeBufferPointer(start: p + start, count: i - start), as: UTF8.self)
        return Double(text) ?? .nan  // never nil: the scanner checked the JSON number grammar
    }
}
