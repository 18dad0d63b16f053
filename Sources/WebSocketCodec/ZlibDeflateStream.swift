import CZlib

/// A raw-deflate compressor (no zlib header) that ends every message with a sync flush, as RFC 7692 7.2.1 asks.
///
/// A class for the same reason as `ZlibInflateStream`: the `z_stream` must not move while zlib holds it.
final class ZlibDeflateStream {
    private let stream: UnsafeMutablePointer<z_stream>

    /// `windowBits` 9 to 15 (zlib cannot write raw deflate with a 256-byte window); nil when zlib cannot start.
    init?(windowBits: Int, level: Int, memoryLevel: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = deflateInit2_(
            stream, Int32(level), Z_DEFLATED, -Int32(windowBits), Int32(memoryLevel), Z_DEFAULT_STRATEGY,
            zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            return nil
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Compresses `input` and flushes to a byte boundary, appending to `output`. The result ends with the
    /// 0x00 0x00 0xFF 0xFF of the empty stored block the flush writes. Returns false if zlib failed.
    func deflate(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) -> Bool {
        var consumedTotal = 0
        var produced = output.count
        defer { output.removeSubrange(produced...) }
        // Room for the whole result in the usual case; the loop below grows it if zlib needs more.
        let bound = Int(deflateBound(stream, uLong(min(input.count, zlibChunk)))) + 16
        output.append(contentsOf: repeatElement(0, count: bound))
        while true {
            if produced == output.count {
                output.append(contentsOf: repeatElement(0, count: max(produced / 2, 1024)))
            }
            let step = zlibStep(stream, input, consumed: consumedTotal, &output, produced: produced, CZlib.deflate)
            consumedTotal += step.consumed
            produced += step.made
            guard step.status == Z_OK || step.status == Z_BUF_ERROR else { return false }
            // Done once all input is in and the flush fitted (zlib left output space unused).
            if consumedTotal == input.count && step.made < step.room { return true }
        }
    }

    /// Forgets the history of earlier messages (server_no_context_takeover).
    func reset() {
        deflateReset(stream)
    }
}
