import Foundation
import Testing
import MsgPackCodec
import SocketIOCodec

/// `MsgPackBuffer` (the msgpack parser's writer around arguments kept as they came) writes every form as msgpack-c
/// writes it (`MsgPackWriter`), at each boundary between one form and the next.
@Suite("msgpack buffer writes what msgpack-c writes")
struct MsgPackBufferTests {
    static let counts = [0, 1, 15, 16, 255, 256, 0xffff, 0x1_0000, 0x12_3456]
    static let lengths = [0, 1, 31, 32, 255, 256, 0xffff, 0x1_0000]
    static let numbers: [UInt64] = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff, 0x1_0000_0000,
                                    1 << 53, .max]

    func both(_ write: (inout MsgPackBuffer, MsgPackWriter) -> Void) -> ([UInt8], [UInt8]) {
        var buffer = MsgPackBuffer(capacity: 8)
        let writer = MsgPackWriter()
        write(&buffer, writer)
        #expect(!buffer.abandoned)
        return (buffer.bytes, writer.bytes)
    }

    @Test(arguments: counts) func headers(_ count: Int) {
        let (mine, theirs) = both { buffer, writer in
            buffer.writeMapHeader(count); writer.writeMapHeader(count)
            buffer.writeArrayHeader(count); writer.writeArrayHeader(count)
        }
        #expect(mine == theirs)
    }

    @Test(arguments: lengths) func strings(_ length: Int) {
        let text = String(repeating: "é", count: length / 2) + String(repeating: "x", count: length % 2)
        let (mine, theirs) = both { buffer, writer in
            buffer.writeString(text); writer.writeString(text)
        }
        #expect(mine == theirs)
        #expect(mine.count >= length)
    }

    @Test func unsignedIntegersAndKeys() {
        let (mine, theirs) = both { buffer, writer in
            for number in Self.numbers {
                buffer.writeUInt(number); writer.writeUInt(number)
            }
            for key: StaticString in ["id", "nsp", "type", "data", ""] {
                buffer.writeKey(key); writer.writeKey(key)
            }
        }
        #expect(mine == theirs)
    }

    @Test func rawBytesAsTheyAre() {
        let raw: [UInt8] = (0..<300).map { UInt8($0 % 256) }
        var buffer = MsgPackBuffer(capacity: 1)
        buffer.writeArrayHeader(1)
        raw.withUnsafeBytes { buffer.writeRaw($0) }
        #expect(buffer.bytes == [0x91] + raw)
    }
}
