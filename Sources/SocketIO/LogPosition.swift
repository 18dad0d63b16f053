/// A packet's place in a cluster adapter's ordered log, written `<milliseconds>-<sequence>` (a Redis stream entry
/// id). The Redis streams adapter hands it with every delivery, so a recovered socket skips what it was already
/// replayed and a session remembers where its socket joined.
public struct LogPosition: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var milliseconds: UInt64
    public var sequence: UInt64

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// Parses `^[0-9]+-[0-9]+$` (the reference's check of a client's offset); nil otherwise, or when a part does
    /// not fit 64 bits.
    public init?(_ text: String) {
        let utf8 = text.utf8
        guard let dash = utf8.firstIndex(of: UInt8(ascii: "-")),
              let milliseconds = LogPosition.decimal(utf8[..<dash]),
              let sequence = LogPosition.decimal(utf8[utf8.index(after: dash)...]) else { return nil }
        self.init(milliseconds: milliseconds, sequence: sequence)
    }

    private static func decimal(_ digits: Substring.UTF8View) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    public static let zero = LogPosition(milliseconds: 0, sequence: 0)

    /// The smallest position after this one (what an exclusive range starts at, as the reference's `nextOffset`).
    public var next: LogPosition {
        sequence == .max ? LogPosition(milliseconds: milliseconds &+ 1, sequence: 0)
            : LogPosition(milliseconds: milliseconds, sequence: sequence + 1)
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    public static func < (a: LogPosition, b: LogPosition) -> Bool {
        (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence)
    }
}
