import Synchronization

/// Arguments as the msgpack parser received them, in the form encoding their JSON would write again byte for byte
/// (`MsgPackPacketFastPath`). Passing them on (an ack echoing them, a relay) copies their bytes; their JSON text
/// and attachments are made only when somebody reads them (a C or Python handler, a JSON client of a relay), once.
/// The message is shared, not copied. Safe to read from any thread: arguments travel between loops.
public final class PackedArguments: Sendable {
    /// Where the arguments sit in their message: the elements after the event name, and how many there are.
    public struct Location: Sendable, Equatable {
        public let range: Range<Int>
        public let count: Int

        public init(range: Range<Int>, count: Int) {
            self.range = range
            self.count = count
        }
    }

    /// The arguments read: a JSON array text with placeholders, and the binaries they stand for.
    public final class Read: Sendable {
        public let json: [UInt8]
        public let attachments: [[UInt8]]

        public init(json: [UInt8], attachments: [[UInt8]]) {
            self.json = json
            self.attachments = attachments
        }
    }

    /// Reads the arguments' bytes (`count` values) as JSON; only ever given bytes the decoder checked.
    public typealias Reader = @Sendable (_ elements: UnsafeRawBufferPointer, _ count: Int) -> Read

    /// The whole Engine.IO message the arguments came in.
    public let message: [UInt8]
    public let location: Location
    /// An EVENT's name (the first element of its `data`, before `location`); nil for an ACK.
    public let eventName: String?
    private let reader: Reader
    private let read = AtomicLazyReference<Read>()

    public init(message: [UInt8], location: Location, eventName: String?, reader: @escaping Reader) {
        self.message = message
        self.location = location
        self.eventName = eventName
        self.reader = reader
    }

    /// The arguments as JSON, made on first use by whichever thread asks first; every caller gets the same.
    public var arguments: Read {
        if let done = read.load() { return done }
        let made = message.withUnsafeBytes { reader(UnsafeRawBufferPointer(rebasing: $0[location.range]), location.count) }
        return read.storeIfNil(made)
    }

    /// The packet's payload as the JSON parser gives it: `["name",a,b]` for an event, the arguments for an ack.
    public var payload: [UInt8] {
        let json = arguments.json
        guard let eventName else { return json }
        var payload: [UInt8] = [UInt8(ascii: "[")]
        payload.reserveCapacity(json.count + eventName.utf8.count + 4)
        JSONScanner.appendQuoted(eventName, to: &payload)
        if json.count > 2 {
            payload.append(UInt8(ascii: ","))
            payload.append(contentsOf: json.dropFirst())
        } else {
            payload.append(UInt8(ascii: "]"))
        }
        return payload
    }
}
