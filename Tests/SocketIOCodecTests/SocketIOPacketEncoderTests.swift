import Testing
import SocketIOCodec

@Suite("Socket.IO packet encoder")
struct SocketIOPacketEncoderTests {
    private func event(
        _ namespace: String, _ name: String, _ args: String, ackId: UInt64? = nil, attachments: Int = 0
    ) -> String {
        var out: [UInt8] = []
        SocketIOPacketEncoder.appendEvent(
            namespace: namespace, event: name, argumentsJSON: bytes(args), ackId: ackId, attachmentCount: attachments,
            to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func appendEventLaysOutTheHeaderAsTheReference() {
        #expect(event("/", "hello", "[1]") == #"2["hello",1]"#)
        #expect(event("/", "hello", "[]") == #"2["hello"]"#)
        #expect(event("/", "hello", " [ ] ") == #"2["hello"]"#)
        #expect(event("/", "hello", "") == #"2["hello"]"#)
        #expect(event("/admin", "project:delete", "[123]") == #"2/admin,["project:delete",123]"#)
        #expect(event("/", "hi", "[]", ackId: 12) == #"212["hi"]"#)
        #expect(event("/admin", "foo", "[]", ackId: 13) == #"2/admin,13["foo"]"#)
        #expect(event("", "foo", "[]") == #"2["foo"]"#)
        #expect(event("/", "hey", #"["Jude",{"a":[1,2]}]"#) == #"2["hey","Jude",{"a":[1,2]}]"#)
        #expect(
            event("/", "baz", #"[{"_placeholder":true,"num":0}]"#, attachments: 1)
                == #"51-["baz",{"_placeholder":true,"num":0}]"#)
        #expect(
            event("/admin", "foo", #"[{"_placeholder":true,"num":0}]"#, ackId: 14, attachments: 1)
                == #"51-/admin,14["foo",{"_placeholder":true,"num":0}]"#)
        #expect(event("/", "one", "42") == #"2["one",42]"#)  // a non-array is sent as one argument
    }

    @Test func appendEventKeepsWhatIsAlreadyInTheBuffer() {
        var out: [UInt8] = [0x34]  // an Engine.IO "4" written first by the caller
        SocketIOPacketEncoder.appendEvent(
            namespace: "/", event: "a", argumentsJSON: bytes("[1]"), ackId: nil, attachmentCount: 0, to: &out)
        #expect(text(out) == #"42["a",1]"#)
    }

    @Test func eventNamesAreEscapedAsJSONStringify() {
        #expect(event("/", "a\"b\\c\n\u{1}é😀", "[]") == #"2["a\"b\\c\n\u0001é😀"]"#)
    }

    @Test func appendAck() {
        func ack(_ namespace: String, _ id: UInt64, _ args: String, attachments: Int = 0) -> String {
            var out: [UInt8] = []
            SocketIOPacketEncoder.appendAck(
                namespace: namespace, ackId: id, argumentsJSON: bytes(args), attachmentCount: attachments, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(ack("/", 12, "[]") == "312[]")
        #expect(ack("/admin", 13, #"["bar"]"#) == #"3/admin,13["bar"]"#)
        #expect(ack("/", 0, "") == "30[]")
        #expect(ack("/", 15, #"["bar",{"_placeholder":true,"num":0}]"#, attachments: 1)
            == #"61-15["bar",{"_placeholder":true,"num":0}]"#)
        #expect(ack("/", UInt64.max, "[]") == "318446744073709551615[]")
    }

    @Test func encodeWholePackets() {
        #expect(text(SocketIOPacketEncoder.encode(SocketIOPacket(type: .connect))) == "0")
        #expect(
            text(SocketIOPacketEncoder.encode(SocketIOPacket(type: .connect, payload: bytes(#"{"sid":"x"}"#))))
                == #"0{"sid":"x"}"#)
        #expect(
            text(SocketIOPacketEncoder.encode(SocketIOPacket(type: .disconnect, namespace: "/chat"))) == "1/chat,")
        #expect(
            text(
                SocketIOPacketEncoder.encode(
                    SocketIOPacket(
                        type: .connectError, namespace: "/random", payload: bytes(#"{"message":"Invalid namespace"}"#))
                )) == #"4/random,{"message":"Invalid namespace"}"#)
        let binary = SocketIOPacket(
            type: .binaryEvent, namespace: "/", ackId: nil, payload: bytes(#"["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
            attachments: [[1], [2]])
        #expect(text(SocketIOPacketEncoder.encode(binary)) == #"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
    }

    @Test func encodedPacketsDecodeBack() throws {
        var out: [UInt8] = []
        SocketIOPacketEncoder.appendEvent(
            namespace: "/nsp", event: "ev\"ent", argumentsJSON: bytes(#"[1,"two",{"3":[true]}]"#), ackId: 99,
            attachmentCount: 0, to: &out)
        var decoder = SocketIOPacketDecoder()
        guard case .packet(let packet) = try decoder.decode(text: out) else { Issue.record("no packet"); return }
        #expect(packet.namespace == "/nsp" && packet.ackId == 99)
        let (name, args) = try SocketIOEventArguments.event(packet.payload!)
        #expect(name == "ev\"ent")
        #expect(text(args) == #"[1,"two",{"3":[true]}]"#)
    }

    @Test func namespaceValidity() {
        #expect(SocketIOPacketEncoder.isValidNamespace("/admin"))
        #expect(!SocketIOPacketEncoder.isValidNamespace("/a,b"))
    }
}
