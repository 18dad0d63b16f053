import SocketIOCodec

/// The arguments of an event or an acknowledgement, as they travel: a JSON array (raw UTF-8 bytes) in which binary
/// values stand as placeholders `{"_placeholder":true,"num":N}`, plus the binary attachments in order.
///
/// Arguments received from clients are validated JSON. Nothing is parsed into a tree unless asked (`values()`):
/// relaying a message costs no JSON round trip.
public struct SocketIOArguments: Sendable, Equatable {
    /// A JSON array, e.g. `["hello",{"n":1}]`.
    public var json: [UInt8] { packed?.arguments.json ?? storedJSON }
    public var attachments: [[UInt8]] { packed?.arguments.attachments ?? storedAttachments }
    /// The same arguments as the msgpack parser received them: what an ack or a relay that passes them on sends,
    /// and what `json` and `attachments` are read from, on first use.
    let packed: PackedArguments?
    private let storedJSON: [UInt8]
    private let storedAttachments: [[UInt8]]

    /// Trusted bytes: callers inside the engine already validated them.
    init(trustedJSON json: [UInt8], attachments: [[UInt8]] = []) {
        storedJSON = json
        storedAttachments = attachments
        packed = nil
    }

    /// Arguments the msgpack parser checked, kept in their message.
    init(packed: PackedArguments) {
        storedJSON = []
        storedAttachments = []
        self.packed = packed
    }

    public static func == (lhs: SocketIOArguments, rhs: SocketIOArguments) -> Bool {
        lhs.json == rhs.json && lhs.attachments == rhs.attachments
    }

    /// Arguments from a JSON array text. Throws unless it is valid JSON, an array, and its placeholders match the
    /// attachments: each placeholder names an attachment, and there are as many placeholders as attachments.
    public init(json: [UInt8], attachments: [[UInt8]] = []) throws {
        _ = try JSONScanner.topLevelElements(json)
        if let error = JSONScanner.checkPlaceholders(json, attachmentCount: attachments.count) { throw error }
        let placeholders = json.withUnsafeBytes { JSONScanner.placeholderCount($0, attachmentCount: attachments.count) }
        guard placeholders == attachments.count else { throw SocketIOCodecError.illegalAttachments }
        self.init(trustedJSON: json, attachments: attachments)
    }

    public init(json: String, attachments: [[UInt8]] = []) throws {
        try self.init(json: Array(json.utf8), attachments: attachments)
    }

    /// Arguments from values; binary values are given as `attachments` and referenced with
    /// `SocketIOArguments.placeholder(n)`.
    public init(_ values: [JSONValue], attachments: [[UInt8]] = []) {
        self.init(trustedJSON: JSONValue.array(values).serialize(), attachments: attachments)
    }

    public static let none = SocketIOArguments(trustedJSON: Array("[]".utf8))

    /// The placeholder that stands for attachment `index`.
    public static func placeholder(_ index: Int) -> JSONValue {
        .object([("_placeholder", .bool(true)), ("num", .number(Double(index)))])
    }

    /// Parses the arguments into values (placeholders stay as objects; `attachments[num]` holds their bytes).
    public func values() throws -> [JSONValue] {
        try JSONValue.parse(json).arrayValue ?? []
    }

    /// The JSON text, for logs and tests.
    public var jsonText: String { String(decoding: json, as: UTF8.self) }

    /// The arguments with a string appended last (the recovery offset a cluster adapter stamps).
    public func appending(string: String) -> SocketIOArguments {
        var quoted: [UInt8] = []
        JSONScanner.appendQuoted(string, to: &quoted)
        return appending(jsonElement: quoted)
    }

    /// The arguments with one more element appended (the recovery offset of a stored broadcast).
    func appending(jsonElement element: [UInt8]) -> SocketIOArguments {
        var out = json
        guard out.last == UInt8(ascii: "]") else { return self }
        out.removeLast()
        if out.count > 1 { out.append(UInt8(ascii: ",")) }
        out.append(contentsOf: element)
        out.append(UInt8(ascii: "]"))
        return SocketIOArguments(trustedJSON: out, attachments: attachments)
    }
}
