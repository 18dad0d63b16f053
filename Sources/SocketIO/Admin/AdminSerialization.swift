import SocketIOCodec
#if canImport(Glibc)
import Glibc
#endif

/// The shapes the admin UI reads (the reference's `serialize` and `new Date()` as JSON).
enum AdminJSON {
    /// `new Date().toJSON()`: `2024-05-01T12:00:00.123Z`.
    static func isoNow() -> String { iso(milliseconds: wallClockMilliseconds()) }

    static func iso(milliseconds: UInt64) -> String {
        let base = Handshake.utc(milliseconds: milliseconds, format: "%Y-%m-%dT%H:%M:%S")
        let millis = Int(milliseconds % 1000)
        return base + "." + String(repeating: "0", count: millis < 10 ? 2 : millis < 100 ? 1 : 0) + String(millis) + "Z"
    }

    static func wallClockMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }

    /// A local socket as the UI's `SerializedSocket`: id, clientId (the Engine.IO id's first 12 characters, as
    /// the reference trims it), transport, nsp, data, handshake (without auth), rooms (its own id first).
    static func socket(_ socket: Socket) -> JSONValue {
        serialized(id: socket.id, clientId: String(socket.client.engine.id.prefix(12)),
                   transport: socket.transport.rawValue, nsp: socket.namespace.name, data: socket.data,
                   handshake: socket.handshake, rooms: socket.rooms)
    }

    /// A socket another node described (`fetchSockets`): a Node server running the reference's instrument() keeps
    /// clientId and transport in `data._admin`.
    static func remote(_ socket: RemoteSocket, nsp: String) -> JSONValue {
        let admin = socket.data["_admin"]
        return serialized(id: socket.id, clientId: admin?["clientId"]?.stringValue,
                          transport: admin?["transport"]?.stringValue, nsp: nsp, data: socket.data,
                          handshake: socket.handshake, rooms: socket.rooms)
    }

    private static func serialized(id: String, clientId: String?, transport: String?, nsp: String, data: JSONValue,
                                   handshake: Handshake, rooms: Set<String>) -> JSONValue {
        var members: [(String, JSONValue)] = [("id", .string(id))]
        if let clientId { members.append(("clientId", .string(clientId))) }
        if let transport { members.append(("transport", .string(transport))) }
        members.append(("nsp", .string(nsp)))
        members.append(("data", withoutAdmin(data)))
        members.append(("handshake", self.handshake(handshake)))
        let own = rooms.contains(id) ? [id] : []
        members.append(("rooms", .array((own + rooms.subtracting([id]).sorted()).map { .string($0) })))
        return .object(members)
    }

    /// `{_admin, ...rest}` → rest; data that is not an object shows as `{}`, as `{...data}` would.
    private static func withoutAdmin(_ data: JSONValue) -> JSONValue {
        guard case .object(let members) = data else { return .object([]) }
        return .object(members.filter { $0.0 != "_admin" })
    }

    /// The reference's handshake minus auth; `address` from cf-connecting-ip, then x-forwarded-for, as there.
    private static func handshake(_ handshake: Handshake) -> JSONValue {
        guard case .object(let members) = handshake.json else { return .object([]) }
        let address = handshake.header("cf-connecting-ip") ?? handshake.header("x-forwarded-for") ?? handshake.address
        var result: [(String, JSONValue)] = [("address", .string(address))]
        for key in ["headers", "query", "issued", "secure", "time", "url", "xdomain"] {
            if let value = members.first(where: { $0.0 == key })?.1 { result.append((key, value)) }
        }
        return .object(result)
    }

    /// `[nsp, id, [event, ...args], date]` for event_received / event_sent, keeping binary attachments as they are
    /// (their placeholders stay numbered in the same order).
    static func eventReport(nsp: String, id: String, event: String, _ arguments: SocketIOArguments) -> SocketIOArguments {
        var json: [UInt8] = [UInt8(ascii: "[")]
        JSONScanner.appendQuoted(nsp, to: &json)
        json.append(UInt8(ascii: ","))
        JSONScanner.appendQuoted(id, to: &json)
        json.append(contentsOf: Array(",[".utf8))
        JSONScanner.appendQuoted(event, to: &json)
        let inner = innerElements(arguments.json)
        if !inner.isEmpty {
            json.append(UInt8(ascii: ","))
            json.append(contentsOf: inner)
        }
        json.append(contentsOf: Array("],".utf8))
        JSONScanner.appendQuoted(isoNow(), to: &json)
        json.append(UInt8(ascii: "]"))
        return SocketIOArguments(trustedJSON: json, attachments: arguments.attachments)
    }

    /// The elements of a JSON array text, without its brackets (empty for `[]`).
    private static func innerElements(_ array: [UInt8]) -> ArraySlice<UInt8> {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        guard let open = array.firstIndex(of: UInt8(ascii: "[")),
              let close = array.lastIndex(of: UInt8(ascii: "]")), open < close else { return [] }
        var slice = array[(open + 1)..<close]
        while let first = slice.first, isSpace(first) { slice = slice.dropFirst() }
        while let last = slice.last, isSpace(last) { slice = slice.dropLast() }
        return slice
    }
}
