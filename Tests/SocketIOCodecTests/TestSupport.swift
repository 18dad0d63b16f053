import SocketIOCodec

/// Decodes one text message and its attachments with a fresh decoder; returns the packet or the first error.
func decodeMessages(
    _ text: String, _ attachments: [[UInt8]] = [], limits: SocketIODecoderLimits = .init()
) -> Result<SocketIOPacket, SocketIOCodecError> {
    var decoder = SocketIOPacketDecoder(limits: limits)
    do throws(SocketIOCodecError) {
        var result = try decoder.decode(text: text)
        for attachment in attachments {
            guard case .needsAttachments = result else { return .failure(.init(reason: "test: too many binaries")) }
            result = try decoder.decode(binary: attachment)
        }
        guard case .packet(let packet) = result else { return .failure(.init(reason: "test: packet incomplete")) }
        return .success(packet)
    } catch {
        return .failure(error)
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func text(_ b: [UInt8]?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }
