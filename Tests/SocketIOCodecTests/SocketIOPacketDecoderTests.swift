import Testing
import SocketIOCodec

@Suite("Socket.IO packet decoder")
struct SocketIOPacketDecoderTests {
    /// Every example of the Socket.IO v5 protocol README, plus the auth and connect_error forms, decodes to the
    /// expected fields and re-encodes to the same bytes.
    @Test(arguments: [
        ("0", SocketIOPacketType.connect, "/", nil as UInt64?, nil as String?, 0),
        (#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#, .connect, "/", nil, #"{"sid":"wZX3oN0bSVIhsaknAAAI"}"#, 0),
        ("0/admin,", .connect, "/admin", nil, nil, 0),
        (#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#, .connect, "/admin", nil, #"{"sid":"oSO0OpakMV_3jnilAAAA"}"#, 0),
        (#"0/admin,{"token":"123"}"#, .connect, "/admin", nil, #"{"token":"123"}"#, 0),
        (#"4{"message":"Not authorized"}"#, .connectError, "/", nil, #"{"message":"Not authorized"}"#, 0),
        (#"4/admin,"Not authorized""#, .connectError, "/admin", nil, #""Not authorized""#, 0),
        (#"2["foo"]"#, .event, "/", nil, #"["foo"]"#, 0),
        (#"2/admin,["bar"]"#, .event, "/admin", nil, #"["bar"]"#, 0),
        (#"2["hello",1]"#, .event, "/", nil, #"["hello",1]"#, 0),
        (#"2/admin,["project:delete",123]"#, .event, "/admin", nil, #"["project:delete",123]"#, 0),
        (#"212["foo"]"#, .event, "/", 12, #"["foo"]"#, 0),
        ("312[]", .ack, "/", 12, "[]", 0),
        (#"2/admin,13["foo"]"#, .event, "/admin", 13, #"["foo"]"#, 0),
        (#"3/admin,13["bar"]"#, .ack, "/admin", 13, #"["bar"]"#, 0),
        ("3/admin,13[]", .ack, "/admin", 13, "[]", 0),
        (#"314["bar"]"#, .ack, "/", 14, #"["bar"]"#, 0),
        (#"215["foo"]"#, .event, "/", 15, #"["foo"]"#, 0),
        (#"51-["baz",{"_placeholder":true,"num":0}]"#, .binaryEvent, "/", nil,
         #"["baz",{"_placeholder":true,"num":0}]"#, 1),
        (#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, .binaryEvent, "/admin",
         nil, #"["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, 2),
        (#"51-14["foo",{"_placeholder":true,"num":0}]"#, .binaryEvent, "/", 14,
         #"["foo",{"_placeholder":true,"num":0}]"#, 1),
        (#"61-15["bar",{"_placeholder":true,"num":0}]"#, .binaryAck, "/", 15,
         #"["bar",{"_placeholder":true,"num":0}]"#, 1),
        ("1", .disconnect, "/", nil, nil, 0),
        ("1/admin,", .disconnect, "/admin", nil, nil, 0),
    ])
    func specExamplesRoundTrip(
        wire: String, type: SocketIOPacketType, namespace: String, ackId: UInt64?, payload: String?,
        attachmentCount: Int
    ) throws {
        let attachments: [[UInt8]] = (0..<attachmentCount).map { [UInt8($0), 1, 2, 3] }
        let packet = try decodeMessages(wire, attachments).get()
        #expect(packet.type == type)
        #expect(packet.namespace == namespace)
        #expect(packet.ackId == ackId)
        #expect(text(packet.payload) == payload)
        #expect(packet.attachments == attachments)
        #expect(text(SocketIOPacketEncoder.encode(packet)) == wire)
    }

    @Test func binaryPacketWaitsForItsAttachments() throws {
        var decoder = SocketIOPacketDecoder()
        let first = try decoder.decode(text: #"52-["a",{"_placeholder":true,"num":1},{"num":0,"_placeholder":true}]"#)
        guard case .needsAttachments = first else { Issue.record("expected needsAttachments"); return }
        #expect(decoder.isAwaitingAttachments)
        guard case .needsAttachments = try decoder.decode(binary: [1]) else { Issue.record("expected more"); return }
        guard case .packet(let packet) = try decoder.decode(binary: [2, 3]) else { Issue.record("no packet"); return }
        #expect(packet.attachments == [[1], [2, 3]])
        #expect(!decoder.isAwaitingAttachments)
        // The decoder is ready for the next packet.
        guard case .packet(let next) = try decoder.decode(text: #"2["b"]"#) else { Issue.record("no packet"); return }
        #expect(next.type == .event)
    }

    @Test func binaryPacketWithoutPayloadIsAccepted() throws {
        // The reference validates the payload only when there is one.
        let packet = try decodeMessages("51-", [[9]]).get()
        #expect(packet.type == .binaryEvent && packet.payload == nil && packet.attachments == [[9]])
    }

    @Test func errorEventNameIsNotReserved() throws {
        let packet = try decodeMessages(#"2["error"]"#).get()
        #expect(text(packet.payload) == #"["error"]"#)
    }

    @Test func eventNamedByANumberIsAccepted() throws {
        #expect(try decodeMessages("2[1,2]").get().type == .event)
        #expect(try decodeMessages("2[-1.5e3]").get().type == .event)
    }

    @Test func packetsWithoutPayloadAreAccepted() throws {
        // As in the reference: only a present payload is validated.
        #expect(try decodeMessages("2").get().payload == nil)
        #expect(try decodeMessages("3/admin,7").get().ackId == 7)
        #expect(try decodeMessages("4").get().type == .connectError)
    }

    @Test func namespaceWithoutCommaRunsToTheEnd() throws {
        let packet = try decodeMessages("0/admin").get()
        #expect(packet.namespace == "/admin" && packet.payload == nil)
        #expect(try decodeMessages("0/ünïcode,").get().namespace == "/ünïcode")
    }

    @Test func ackIdEdges() throws {
        #expect(try decodeMessages(#"29999999999999999["a"]"#).get().ackId == 9_999_999_999_999_999)  // 16 digits
        #expect(decodeMessages(#"212345678901234567["a"]"#) == .failure(.invalidAckId))  // 17 digits
        #expect(try decodeMessages(#"20["a"]"#).get().ackId == 0)
        // The reference reads the ack id with Number(), which trims whitespace: these match it.
        #expect(try decodeMessages(#"2 ["a"]"#).get().ackId == 0)
        #expect(try decodeMessages(#"2 12 ["a"]"#).get().ackId == 12)
        #expect(decodeMessages(#"21 2["a"]"#) == .failure(.invalidAckId))  // NaN in the reference
    }

    @Test func attachmentLimits() throws {
        let ten = (0..<10).map { [UInt8($0)] }
        #expect(try decodeMessages(#"510-["a"]"#, ten).get().attachments.count == 10)
        #expect(decodeMessages(#"511-["a"]"#) == .failure(.tooManyAttachments))
        #expect(decodeMessages(#"62-["a"]"#, limits: .init(maxAttachments: 1)) == .failure(.tooManyAttachments))
        #expect(decodeMessages(#"51["a"]"#) == .failure(.illegalAttachments))  // no "-"
        #expect(decodeMessages("51") == .failure(.illegalAttachments))
        #expect(decodeMessages(#"50-["a"]"#) == .failure(.illegalAttachments))
        #expect(decodeMessages(#"5-["a"]"#) == .failure(.illegalAttachments))
        #expect(decodeMessages(#"5x-["a"]"#) == .failure(.illegalAttachments))
        #expect(decodeMessages(#"599999999999999999999999999999-["a"]"#) == .failure(.tooManyAttachments))
    }

    // MARK: - Bad inputs: each must throw

    @Test(arguments: [
        ("2{}", SocketIOCodecError.invalidPayload),
        ("abc", .unknownPacketType),
        ("9", .unknownPacketType),
        ("7[]", .unknownPacketType),
        ("", .unknownPacketType),
        (" 0", .unknownPacketType),
        (#"2abc["a"]"#, .invalidPayload),
        (#"2[{"toString":"foo"}]"#, .invalidPayload),
        ("2[]", .invalidPayload),
        ("2[null]", .invalidPayload),
        ("2[true]", .invalidPayload),
        (#"2[["a"]]"#, .invalidPayload),
        (#"2"a""#, .invalidPayload),
        (#"2["a""#, .invalidPayload),
        (#"2["a"]x"#, .invalidPayload),
        (#"2["a",]"#, .invalidPayload),
        (#"5999999-["a"]"#, .tooManyAttachments),
        ("3{}", .invalidPayload),
        (#"3"a""#, .invalidPayload),
        ("1{}", .invalidPayload),
        ("1[]", .invalidPayload),
        ("0[]", .invalidPayload),
        (#"0"a""#, .invalidPayload),
        ("0null", .invalidPayload),
        ("0 x", .invalidPayload),
        ("4[]", .invalidPayload),
        ("4null", .invalidPayload),
        (#"2,["a"]"#, .invalidPayload),
        (#"51-[{"_placeholder":true,"num":0}]"#, .invalidPayload),  // first element must be the name
    ])
    func refusesMalformedText(wire: String, error: SocketIOCodecError) {
        #expect(decodeMessages(wire) == .failure(error))
    }

    @Test(arguments: ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"])
    func refusesReservedEventNames(name: String) {
        #expect(decodeMessages("2[\"\(name)\"]") == .failure(.invalidPayload))
        #expect(decodeMessages("2[\"\(name)\",1,2]") == .failure(.invalidPayload))
        #expect(decodeMessages("51-[\"\(name)\",{\"_placeholder\":true,\"num\":0}]") == .failure(.invalidPayload))
    }

    @Test func refusesReservedEventNameWrittenWithEscapes() throws {
        #expect(decodeMessages(#"2["conn\u0065ct"]"#) == .failure(.invalidPayload))
        #expect(try decodeMessages(#"2["conn\u0065cted"]"#).get().type == .event)
    }

    @Test(arguments: [
        #"51-["hello",{"_placeholder":true,"num":"splice"}]"#,
        #"51-["hello",{"_placeholder":true,"num":1}]"#,
        #"51-["hello",{"_placeholder":true,"num":-1}]"#,
        #"51-["hello",{"_placeholder":true,"num":0.5}]"#,
        #"51-["hello",{"_placeholder":true,"num":null}]"#,
        #"51-["hello",{"_placeholder":true,"num":[0]}]"#,
        #"51-["hello",{"_placeholder":true}]"#,
        #"51-["hello",{"_placeholder":true,"num":0,"extra":1}]"#,
        #"51-["hello",{"extra":{},"_placeholder":true,"num":0}]"#,
        #"51-["hello",{"_placeholder":true,"num":0,"num":0}]"#,
        #"51-["hello",{"_placeholder":false,"num":0,"_placeholder":true,"x":1}]"#,
        #"51-["hello",{"_placeholde\u0072":true,"num":7}]"#,
        #"51-["hello",[{"a":[{"_placeholder":true,"num":1e3}]}]]"#,
    ])
    func refusesIllegalPlaceholdersOnceTheAttachmentsArrive(wire: String) throws {
        var decoder = SocketIOPacketDecoder()
        guard case .needsAttachments = try decoder.decode(text: wire) else {
            Issue.record("text should be accepted")
            return
        }
        #expect(throws: SocketIOCodecError.illegalAttachments) { try decoder.decode(binary: [1, 2, 3]) }
        #expect(!decoder.isAwaitingAttachments)
    }

    @Test(arguments: [
        #"51-["hello",{"_placeholder":true,"num":0}]"#,
        #"51-["hello",{"num":0,"_placeholder":true}]"#,
        #"51-["hello",{ "_placeholder" : true , "num" : 0 }]"#,
        #"51-["hello",{"_placeholder":true,"num":0.0}]"#,
        #"51-["hello",{"_placeholder":true,"num":-0}]"#,
        #"51-["hello",{"_placeholder":false,"num":5}]"#,
        #"51-["hello",{"_placeholder":"true","num":5}]"#,
        #"51-["hello",{"_placeholder":true,"_placeholder":false,"num":9}]"#,
        #"51-["hello",{"a":{"b":[{"_placeholder":true,"num":0}]}}]"#,
        #"51-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#,
        #"51-["hello"]"#,
    ])
    func acceptsWellFormedPlaceholders(wire: String) throws {
        let packet = try decodeMessages(wire, [[7]]).get()
        #expect(packet.attachments == [[7]])
    }

    @Test func placeholdersInPlainEventsAreOrdinaryObjects() throws {
        #expect(try decodeMessages(#"2["a",{"_placeholder":true,"num":"x"}]"#).get().type == .event)
    }

    @Test func deepNestingIsRefusedWithoutOverflowingTheStack() {
        let deep = "2" + String(repeating: "[", count: 100_000)
        #expect(decodeMessages(deep) == .failure(.invalidPayload))
        let deepObject = "2[\"a\"," + String(repeating: "{\"a\":", count: 100_000) + "1" + String(repeating: "}", count: 100_000) + "]"
        #expect(decodeMessages(deepObject) == .failure(.invalidPayload))
    }

    @Test func nestingLimitIsExact() throws {
        // The event array itself is one level: 63 more arrays make 64.
        let ok = "2[\"a\"," + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "]"
        #expect(try decodeMessages(ok).get().type == .event)
        let tooDeep = "2[\"a\"," + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "]"
        #expect(decodeMessages(tooDeep) == .failure(.invalidPayload))
        let custom = SocketIODecoderLimits(maxNestingDepth: 2)
        #expect(decodeMessages(#"2["a",[1]]"#, limits: custom).map(\.type) == .success(.event))
        #expect(decodeMessages(#"2["a",[[1]]]"#, limits: custom) == .failure(.invalidPayload))
    }

    @Test func binaryMessageWithoutPendingPacketIsRefused() {
        var decoder = SocketIOPacketDecoder()
        #expect(throws: SocketIOCodecError.unexpectedBinary) { try decoder.decode(binary: [1, 2, 3]) }
        _ = try? decoder.decode(text: #"2["a"]"#)
        #expect(throws: SocketIOCodecError.unexpectedBinary) { try decoder.decode(binary: [1]) }
    }

    @Test func textWhileAttachmentsArePendingIsRefused() throws {
        var decoder = SocketIOPacketDecoder()
        _ = try decoder.decode(text: #"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        _ = try decoder.decode(binary: [1])
        #expect(throws: SocketIOCodecError.unexpectedText) { try decoder.decode(text: #"2["b"]"#) }
        decoder.reset()
        #expect(!decoder.isAwaitingAttachments)
        guard case .packet = try decoder.decode(text: #"2["b"]"#) else { Issue.record("no packet"); return }
    }

    @Test func invalidUTF8IsRefused() {
        var decoder = SocketIOPacketDecoder()
        let badPayload: [UInt8] = bytes(#"2["a",""#) + [0xC3, 0x28] + bytes(#""]"#)
        #expect(throws: SocketIOCodecError.invalidPayload) { try decoder.decode(text: badPayload) }
        let badNamespace: [UInt8] = bytes("0/") + [0xFF] + bytes(",")
        #expect(throws: SocketIOCodecError.invalidNamespace) { try decoder.decode(text: badNamespace) }
    }

    @Test func decodesFromARawBuffer() throws {
        var decoder = SocketIOPacketDecoder()
        let wire = bytes(#"2/chat,5["msg",{"text":"hé"}]"#)
        let result = try wire.withUnsafeBytes { buffer throws(SocketIOCodecError) in try decoder.decode(text: buffer) }
        guard case .packet(let packet) = result else { Issue.record("no packet"); return }
        #expect(packet.namespace == "/chat" && packet.ackId == 5)
        #expect(text(packet.payload) == #"["msg",{"text":"hé"}]"#)
    }
}
