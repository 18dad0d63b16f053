import CZlib

/// zlib counts in 32-bit integers: it is handed at most this many bytes at a time, in and out.
let zlibChunk = 1 << 30

/// One `operation` (deflate or inflate, with a sync flush) on `stream`: from `input` after its first `consumed`
/// bytes into `output` after its first `produced` bytes, at most `zlibChunk` of each. Returns zlib's status, the
/// bytes it used and made, and the output room it had (when it made less than that, it had nothing more to give).
/// The stream keeps no pointer into either buffer afterwards.
@inline(__always)
func zlibStep(_ stream: UnsafeMutablePointer<z_stream>, _ input: UnsafeRawBufferPointer, consumed: Int,
              _ output: inout [UInt8], produced: Int,
              _ operation: (UnsafeMutablePointer<z_stream>, Int32) -> Int32)
    -> (status: Int32, consumed: Int, made: Int, room: Int)
{
    let inputChunk = min(input.count - consumed, zlibChunk)
    let room = min(output.count - produced, zlibChunk)
    let status = output.withUnsafeMutableBytes { out -> Int32 in
        stream.pointee.next_in = input.baseAddress.map {
            UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) + consumed
        }
        stream.pointee.avail_in = uInt(inputChunk)
        stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
        stream.pointee.avail_out = uInt(room)
        return operation(stream, Z_SYNC_FLUSH)
    }
    let step = (status, inputChunk - Int(stream.pointee.avail_in), room - Int(stream.pointee.avail_out), room)
    stream.pointee.next_in = nil
    stream.pointee.next_out = nil
    return step
}
