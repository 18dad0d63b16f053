import CZlib

/// A raw-deflate decompressor (no zlib header, as RFC 7692 sends it) that refuses to produce more than a limit.
///
/// A class because zlib keeps a pointer back to its `z_stream`: the struct must stay at one address for the life
/// of the stream, so it lives in memory this object allocates and frees.
final class ZlibInflateStream {
    enum Outcome {
        /// All input was used and all output it yields was written.
        case consumed
        /// The input held a final deflate block; the stream must be reset before it is used again.
        case ended
        /// Producing the output would exceed the limit; what was produced so far is incomplete.
        case tooBig
        /// The input is not valid deflate data.
        case corrupt(String)
        /// zlib failed for a reason unrelated to the input (out of memory).
        case failed(String)
    }

    private let stream: UnsafeMutablePointer<z_stream>

    /// `windowBits` is the LZ77 window of the compressor, 8 to 15; nil when zlib cannot start.
    init?(windowBits: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, -Int32(windowBits), zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            return nil
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Forgets the history of earlier messages (no context takeover, or after a final block).
    func reset() {
        inflateReset(stream)
    }

    /// Decompresses `input` and appends the result to `output`, which never grows past `limit + 1` bytes: memory
    /// follows what the data really inflates to, capped, whatever ratio a hostile peer chose.
    func inflate(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8], limit: Int) -> Outcome {
        let capacityLimit = limit == Int.max ? Int.max : limit + 1
        var consumedTotal = 0
        var produced = output.count
        defer { output.removeSubrange(produced...) }
        while true {
            if produced == output.count {
                if produced > limit { return .tooBig }
                let grown = min(capacityLimit, max(produced * 2, 16 * 1024), produced + zlibChunk)
                output.append(contentsOf: repeatElement(0, count: grown - produced))
            }
            let step = zlibStep(stream, input, consumed: consumedTotal, &output, produced: produced, CZlib.inflate)
            consumedTotal += step.consumed
            produced += step.made
            if produced > limit { return .tooBig }
            switch step.status {
            case Z_STREAM_END:
                return .ended
            case Z_OK, Z_BUF_ERROR:
                // Space left over after using all input means zlib has nothing more to give for it.
                if consumedTotal == input.count && step.made < step.room { return .consumed }
                if step.consumed == 0 && step.made == 0 {
                    return .corrupt("deflate data makes no progress")
                }
            case Z_DATA_ERROR, Z_NEED_DICT:
                return .corrupt(Self.message(stream, fallback: "invalid deflate data"))
            default:
                return .failed(Self.message(stream, fallback: "zlib inflate failed with \(step.status)"))
            }
        }
    }

    private static func message(_ stream: UnsafeMutablePointer<z_stream>, fallback: String) -> String {
        guard let text = stream.pointee.msg else { return fallback }
        return String(cString: text)
    }
}
