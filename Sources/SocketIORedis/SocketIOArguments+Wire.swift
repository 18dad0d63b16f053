import MsgPackCodec
import SocketIO

extension SocketIOArguments {
    /// Arguments from wire values (the elements after the event name); binaries become attachments.
    package static func fromWire(_ values: ArraySlice<MsgPackValue>) throws -> SocketIOArguments {
        var json: [UInt8] = [UInt8(ascii: "[")]
        var attachments: [[UInt8]] = []
        for (position, value) in values.enumerated() {
            if position > 0 { json.append(UInt8(ascii: ",")) }
            value.appendJSON(to: &json, attachments: &attachments)
        }
        json.append(UInt8(ascii: "]"))
        return try SocketIOArguments(json: json, attachments: attachments)
    }

    /// The arguments as wire values (placeholders resolved to binaries), numbers as `dialect` writes them.
    package func wireValues(dialect: MsgPackDialect = .notepack) -> [MsgPackValue] {
        guard let values = try? self.values() else { return [] }
        return values.map { MsgPackValue(json: $0, attachments: attachments, dialect: dialect) }
    }
}
