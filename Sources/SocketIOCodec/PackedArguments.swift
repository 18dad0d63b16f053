/// Arguments as the msgpack parser received them, kept beside their JSON text when encoding them again would write
/// the same bytes (`MsgPackPacketFastPath`): passing such arguments on (an ack echoing them, a relay) copies the bytes
/// instead of walking the JSON back to msgpack. The message is shared, not copied.
public struct PackedArguments: Sendable, Equatable {
    /// Where the arguments sit in their message: the elements after the event name, and how many there are.
    public struct Location: Sendable, Equatable {
        public let range: Range<Int>
        public let count: Int

        public init(range: Range<Int>, count: Int) {
            self.range = range
            self.count = count
        }
    }

    /// The whole Engine.IO message the arguments came in.
    public let message: [UInt8]
    public let location: Location

    public init(message: [UInt8], location: Location) {
        self.message = message
        self.location = location
    }
}
