#!/usr/bin/env python3
"""Writes the committed seed corpora (Fuzz/corpus/<harness>/) from the protocol specs' examples and the bad inputs
named in issues 2, 3 and 8. Run from anywhere: python3 Fuzz/scripts/make_seeds.py (it rewrites the directories).

Each harness reads a configuration prefix before its input (see the header comment of Fuzz/harnesses/<h>.swift);
the seeds below spell it out."""
import os, shutil, struct, zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def write(harness, seeds):
    d = os.path.join(ROOT, harness)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    names = set()
    for name, data in seeds:
        assert name not in names, name
        names.add(name)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def b(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


# ---------------------------------------------------------------- engineio_packet
OPEN = '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
eio_packets = {
    "open": OPEN, "close": "1", "ping": "2", "pong": "3", "ping-probe": "2probe", "pong-probe": "3probe",
    "message": "4hello", "message-helloworld": "4HelloWorld", "message-utf8": "4€", "upgrade": "5", "noop": "6",
    "binary": "bAQIDBA==", "binary-unpadded": "bAQIDBA", "binary-empty": "b", "binary-partial-pad": "bBA=",
    "bad-empty": "", "bad-type-7": "7", "bad-type-letter": "x", "bad-base64-char": "bAQ!DBA==",
    "bad-base64-length": "bAQIDB", "bad-base64-pad-middle": "bAQ=DBA==", "bad-base64-space": "bAQID BA==",
    "sio-connect": "40", "sio-event": '42["hey","Jude"]', "bad-sio-in-eio": "4abc",
}
eio = [("packet-" + k, b"\x00" + b(v)) for k, v in eio_packets.items()]
eio_payloads = {
    "spec": "4hello\x1e2\x1e4world", "spec-binary": "4hello\x1ebAQIDBA==", "utf8-binary": "4€\x1ebAQIDBA==",
    "sio-two-events": '42["hello"]\x1e42["world"]', "single": "4hello", "empty": "", "separator-only": "\x1e",
    "empty-segment": "4a\x1e\x1e4b", "bad-packet-last": "4hello\x1e9", "bad-packet-first": "x\x1e4hello",
    "close-then-message": "1\x1e4late", "many-separators": "6\x1e" * 40 + "6",
}
for k, v in eio_payloads.items():
    eio.append(("payload-" + k, b"\x01" + b(v)))
eio.append(("payload-limit1-two", b"\x03" + b"4a\x1e4b"))      # maxPackets 1
eio.append(("payload-limit2-three", b"\x05" + b"2\x1e3\x1e4"))  # maxPackets 2
eio.append(("payload-limit16-many", b"\x07" + b"6\x1e" * 20 + b"6"))
write("engineio_packet", eio)

# ---------------------------------------------------------------- engineio_v3_payload
# Byte 0: bit 0 text (0) or binary (1), bits 1-2 the packet limit. The v3 spec's and test suite's examples, then
# what the reference's parser reads oddly or refuses.
def v3_segment(packet):
    return "%d:%s" % (len(packet.encode("utf-16-le")) // 2, packet)


def v3_binary(packet, is_binary):
    return bytes([1 if is_binary else 0]) + bytes(int(d) for d in str(len(packet))) + b"\xff" + packet


V3_OPEN = '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}'
v3_text = {
    "spec-open": v3_segment(V3_OPEN), "spec-hey": "4:4hey", "spec-hello-world": "6:4hello6:4world",
    "spec-euro": "6:4hello2:4€", "spec-base64": "2:4€10:b4AQIDBA==", "suite-three": "6:4test16:4test26:4test3",
    "suite-ping": "1:2", "suite-close": "1:1", "surrogate-pair": "3:4😀1:2", "split-pair": "2:4😀", "pair-alone": "1:😀",
    "numbers": " 6:4hello0x6:4hello6e0:4hello+6:4hello6.0:4hello0b110:4hello0o6:4hello", "nbsp": "\u00a06:4hello",
    "empty-messages": "0:0:-0:1:6", "bad-empty": "", "bad-abc": "abc", "bad-colon": ":4hi", "bad-negative": "-1:4",
    "bad-fraction": "1.5:4h", "bad-short": "6:4he", "bad-type": "1:7", "bad-trailing": "3:4ab1", "bad-infinity": "Infinity:4",
    "close-then-garbage": "1:1garbage", "base64-unknown-type": "2:bX1:2", "base64-bad": "4:b4A!", "sio-event": v3_segment('42["hi",{"a":1}]'),
    "sio-binary-event": v3_segment('451-["b",{"_placeholder":true,"num":0}]') + "6:b4AQI=",
}
v3 = [("text-" + k, b"\x00" + b(v)) for k, v in v3_text.items()]
v3_bin = {
    "spec": v3_binary("4€".encode(), False) + v3_binary(b"\x04\x01\x02\x03\x04", True),
    "suite": bytes([0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4]),
    "wide-digit": bytes([1, 12, 255, 0xAA, 4, 7]), "truncated": bytes([1, 9, 255, 4, 1, 2]),
    "no-ff": bytes([1, 3, 4, 1, 2]), "unknown-type": bytes([1, 3, 255, 9, 1, 2]),
    "long-length": bytes([1]) + bytes([200]) * 110 + bytes([255, 4]), "surrogate": bytes([0, 4, 255, 0x34, 0xED, 0xA0, 0x80]),
    "overlong": bytes([0, 3, 255, 0x34, 0xC0, 0x80]), "base64-in-binary": bytes([0, 6, 255]) + b"b4AQID",
    "close-stops": bytes([0, 1, 255, 0x31, 0, 3, 255, 0x34, 0x68, 0x69]), "nan-length": bytes([0, 255, 255, 4]),
}
v3 += [("binary-" + k, b"\x01" + v) for k, v in v3_bin.items()]
v3.append(("text-limit1-two", b"\x02" + b("1:61:6")))
v3.append(("binary-limit2-three", b"\x05" + v3_binary(b"\x04a", True) * 3))
write("engineio_v3_payload", v3)

# ---------------------------------------------------------------- jsonp_body
# Byte 0: 0 raw POST body, 1 text sent as an encoded d= (5: with other fields around), 2 text in a GET frame.
jsonp = []
for k, v in {"spec": "d=6%3A4hello", "newline": "d=a\\nb", "escaped-newline": "d=a\\\\nb", "three": "d=a\\\\\\nb",
             "repeated": "d=1&d=2", "absent": "x=1", "encoded-key": "%64=4:4hi", "plus": "d=a+b%2Bc",
             "bad-escape-raw": "d=%ZZé", "bad-escape-mangled": "d=%41é%", "utf8": "d=%E2%82%AC", "lone-lead": "d=%C3",
             "no-value": "d", "empty-then-d": "d=&d", "empty": "", "surrogate-escape": "d=%ED%A0%80",
             "many-pairs": "&".join(["x=1"] * 999) + "&d=last"}.items():
    jsonp.append(("body-" + k, b"\x00" + b(v)))
for k, v in {"text": '4:4a"b', "newlines": "a\\nb\\\\nc\nd", "separators": "\u2028\u2029"}.items():
    jsonp.append(("encoded-" + k, b"\x01" + b(v)))
    jsonp.append(("encoded-fields-" + k, b"\x05" + b(v)))
for k, v in {"spec": "packet data", "escapes": 'a"b\\c\n\r\t\b\f\x01\x7f\u2028\u2029é😀', "index": "12ab4:4hi",
             "handshake": v3_segment(V3_OPEN)}.items():
    jsonp.append(("frame-" + k, b"\x02" + b(v)))
write("jsonp_body", jsonp)

# ---------------------------------------------------------------- socketio_packet
PH0 = '{"_placeholder":true,"num":0}'
PH1 = '{"_placeholder":true,"num":1}'
SEP = b"\x1e"


def att(data):
    return SEP + b"\x01" + bytes(data)


sio = []


def s(name, text, *attachments, config=0x00):
    sio.append((name, bytes([config]) + b(text) + b"".join(att(a) for a in attachments)))


# The socket.io-protocol examples (Readme) and test-suite messages.
s("connect", "0")
s("connect-admin-sid", '0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}')
s("connect-error", '4{"message":"Not authorized"}')
s("connect-error-string", '4"Not authorized"')
s("event", '2["foo"]')
s("event-admin", '2/admin,["bar"]')
s("binary-event", '51-["baz",%s]' % PH0, [1, 2, 3, 4])
s("binary-event-admin-two", '52-/admin,["baz",%s,%s]' % (PH0, PH1), [1, 2], [3, 4])
s("event-ack", '212["foo"]')
s("ack-admin", '3/admin,13["bar"]')
s("binary-ack", '61-15["bar",%s]' % PH0, [1, 2, 3, 4])
s("disconnect", "1")
s("disconnect-admin", "1/admin,")
s("connect-auth", '0{"token":"123"}')
s("connect-custom", "0/custom,")
s("connect-custom-auth", '0/custom,{"token":"abc"}')
s("connect-random-no-comma", "0/random")
s("disconnect-custom-then-event", "1/custom" + "\x1e" + '2["message","message to main namespace"]')
s("event-args", '2["message",1,"2",{"3":[true]}]')
s("binary-event-two", '52-["message",%s,%s]' % (PH0, PH1), [1, 2, 3], [4, 5, 6])
s("event-with-ack", '2456["message-with-ack",1,"2",{"3":[false]}]')
s("binary-event-with-ack", '52-789["message-with-ack",%s,%s]' % (PH0, PH1), [1, 2, 3], [4, 5, 6])
s("ack-reply", '3456[1,"2",{"3":[false]}]')
s("binary-ack-reply", '62-789[%s,%s]' % (PH0, PH1), [1, 2, 3], [4, 5, 6])
s("sequence", '0\x1e2["a"]\x1e' + '51-["b",%s]' % PH0 + "\x1e\x01xyz\x1e" + '3/x,7["c"]')
s("event-array-api", '2["foo",{"a":[1,2.5e3,null]}]', config=0x40)
# Bad inputs from issue 3 and the protocol test suite.
s("bad-event-error-name", '2["error"]')
s("bad-payload-object", "2{}")
s("bad-unknown-type", "abc")
s("bad-ack-id-letters", '2abc["message-with-ack",1,"2",{"3":[false]}]')
s("bad-tostring", '2[{"toString":"foo"}]')
s("bad-placeholder-splice", '51-["hello",{"_placeholder":true,"num":"splice"}]', b"x")
s("bad-attachments-5999999", '5999999-["hello"]')
s("bad-attachments-huge", "59999999999999999999999-[]")
s("binary-other-namespace", '51-/x,["hello",%s]' % PH0, b"data")
s("event-before-connect", '2/chat,["hello"]')
s("bad-binary-when-idle", "\x01abc")
s("bad-text-while-pending", '52-["a",%s,%s]' % (PH0, PH1) + "\x1e\x01x\x1e" + '2["b"]')
s("bad-attachment-count-zero", '50-["a"]')
s("bad-attachment-no-dash", '51["a"]')
s("bad-attachments-over-cap", '511-["a"]')
s("bad-reserved-connect", '2["connect"]')
s("bad-reserved-escaped", '2["\\u0063onnect"]')
s("bad-reserved-removeListener", '2["removeListener",1]')
s("event-number-name", "2[1]")
s("event-negative-number-name", "2[-1.5e3]")
s("ack-id-space", '2 ["a"]')
s("bad-ack-id-split", '21 2["a"]')
s("bad-ack-id-17-digits", '212345678901234567["a"]')
s("ack-id-16-digits", '21234567890123456["a"]')
s("namespace-utf8", '0/é,{}')
s("bad-namespace-invalid-utf8", b"0/\xff,{}")
s("bad-disconnect-payload", '1{"a":1}')
s("bad-ack-not-array", '3{"a":1}')
s("bad-connect-array", "0[]")
s("bad-event-empty-array", "2[]")
s("bad-event-first-object", '2[{"a":1}]')
s("deep-64", "2" + "[" * 64 + "]" * 64)
s("deep-65", "2" + "[" * 65 + "]" * 65)
s("deep-limit-3", '2["a",[[1]]]', config=0x18)          # maxNestingDepth 3
s("bad-deep-limit-3", '2["a",[[[1]]]]', config=0x18)
s("placeholder-keys-reordered", '51-["a",{"num":0,"_placeholder":true}]', b"x")
s("placeholder-num-float", '51-["a",{"_placeholder":true,"num":0.0}]', b"x")
s("bad-placeholder-num-out-of-range", '51-["a",{"_placeholder":true,"num":1}]', b"x")
s("bad-placeholder-extra-key", '51-["a",{"_placeholder":true,"num":0,"x":1}]', b"x")
s("bad-placeholder-duplicate-key", '51-["a",{"_placeholder":true,"num":0,"num":0}]', b"x")
s("placeholder-false", '51-["a",{"_placeholder":false,"num":9}]', b"x")
s("bad-placeholder-missing-num", '51-["a",{"_placeholder":true}]', b"x")
s("max-attachments-0", '51-["a",%s]' % PH0, b"x", config=0x01)
s("max-attachments-1", '52-["a",%s,%s]' % (PH0, PH1), b"x", b"y", config=0x02)
s("bad-invalid-utf8-payload", b'2["\xc0\xaf"]')
s("lone-surrogate-name", '2["\\ud800"]')
s("bad-trailing-comma", '2["a",]')
write("socketio_packet", sio)

# ---------------------------------------------------------------- json
js = []


def j(name, text, config=0x00):
    js.append((name, bytes([config]) + b(text)))


j("spec-event", '["hello",1,{"a":[true,false,null]},"x\\n\\u00e9"]')
j("placeholder", PH0, config=0x08)  # one attachment
j("placeholders-nested", '["a",%s,[{"num":0,"_placeholder":true}]]' % PH1, config=0x10)
j("numbers", '[-1.5e+10,0,"\\ud83d\\ude00",{}]')
j("number-big", "1e400")
j("number-neg-zero", "-0")
j("number-1e21", "[1e21,1e20,1E-7,1.5e-6,0.1,123456789012345678901234567890]")
j("number-precision", "[0.30000000000000004,5e-324,1.7976931348623157e308,9007199254740993]")
j("string-escapes", '"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\\u007f"')
j("string-lone-surrogate", '["\\ud800","\\udfff","\\ud83d"]')
j("string-utf8", '"é€😀"')
j("whitespace", ' \t\n\r[ 1 , { "a" : 2 } ] \r\n')
j("literals", "[true,false,null]")
j("object-duplicate-key", '{"a":1,"a":2,"b":3}')
j("object-many-keys", "{" + ",".join('"k%d":%d' % (i, i) for i in range(20)) + ',"k3":"again"}')
j("deep-64", "[" * 64 + "]" * 64)
j("deep-65", "[" * 65 + "]" * 65)
j("deep-objects-64", '{"a":' * 63 + "{}" + "}" * 63)
j("depth-limit-1", "[1,2]", config=0x01)
j("depth-limit-1-bad", "[[1]]", config=0x01)
j("tostring", '[{"toString":"foo"}]')
j("placeholder-num-forms", '[{"_placeholder":true,"num":1.0},{"_placeholder":true,"num":1e0},{"_placeholder":true,"num":-0}]', config=0x10)
j("placeholder-splice", '{"_placeholder":true,"num":"splice"}', config=0x08)
j("placeholder-missing-num", '{"_placeholder":true}', config=0x08)
j("placeholder-escaped-key", '{"\\u005fplaceholder":true,"n\\u0075m":0}', config=0x08)
j("placeholder-duplicate", '{"_placeholder":true,"_placeholder":true,"num":0}', config=0x08)
for name, text in {
    "bad-trailing-comma": "[1,]", "bad-leading-zero": "01", "bad-unquoted-key": "{a:1}", "bad-single-quote": "'a'",
    "bad-control-char": '"a\x01b"', "bad-escape": '"\\x41"', "bad-short-unicode": '"\\u12"', "bad-nan": "NaN",
    "bad-infinity": "Infinity", "bad-plus": "+1", "bad-dot": "1.", "bad-exp": "1e", "bad-empty": "",
    "bad-two-values": "1 2", "bad-literal": "nul", "bad-missing-comma": '["a" "b"]', "bad-missing-colon": '{"a" 1}',
    "bad-unterminated": '"abc', "bad-hex": "0x10",
}.items():
    j(name, text)
for name, raw in {
    "bad-overlong": b'"\xc0\xaf"', "bad-surrogate-utf8": b'"\xed\xa0\x80"', "bad-above-max": b'"\xf4\x90\x80\x80"',
    "bad-truncated-utf8": b'"\xe2\x82"', "bad-stray-continuation": b'"\x80"', "bad-utf8-outside-string": b"[\xc3\xa9]",
    "bom": b"\xef\xbb\xbf[]",
}.items():
    js.append((name, b"\x00" + raw))
write("json", js)

# ---------------------------------------------------------------- websocket_frame
# Config byte: bit 0 = unmasked allowed, bit 1 = permessage-deflate, bit 2 = client context takeover,
# bits 3-4 = client window (15, 9, 8, 12), bits 5-7 = maxMessageSize (0, 1, 125, 126, 1000, 65535, 65536, 1e6).
MAX_1E6, MAX_1000, MAX_125 = 7 << 5, 4 << 5, 2 << 5
UNMASKED, PMD, TAKEOVER = 1, 2, 4
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])


def frame(opcode, payload=b"", fin=True, rsv=0, key=KEY, length_form=None):
    payload = bytes(payload)
    out = bytearray([(0x80 if fin else 0) | rsv | opcode])
    mask = 0x80 if key is not None else 0
    n = len(payload)
    form = length_form or ("short" if n < 126 else "16" if n <= 0xFFFF else "64")
    if form == "short":
        out.append(mask | n)
    elif form == "16":
        out += bytes([mask | 126]) + struct.pack(">H", n)
    else:
        out += bytes([mask | 127]) + struct.pack(">Q", n)
    if key is not None:
        out += key
        out += bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    else:
        out += payload
    return bytes(out)


def header_only(opcode, declared, fin=True, key=KEY):
    return bytes([(0x80 if fin else 0) | opcode, 0x80 | 127]) + struct.pack(">Q", declared) + key


def deflate_raw(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


ws = []


def w(name, config, stream, split=3):
    ws.append((name, bytes([config, split]) + stream))


hello = b"Hello"
# RFC 6455 section 5.7.
w("rfc-unmasked-text", MAX_1E6 | UNMASKED, bytes([0x81, 0x05]) + hello)
w("rfc-masked-text", MAX_1E6, bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]))
w("rfc-fragmented-unmasked", MAX_1E6 | UNMASKED, bytes([0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F]))
w("rfc-ping-unmasked", MAX_1E6 | UNMASKED, bytes([0x89, 0x05]) + hello)
w("rfc-pong-masked", MAX_1E6, bytes([0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]))
w("rfc-binary-256-16bit", MAX_1E6 | UNMASKED, bytes([0x82, 0x7E, 0x01, 0x00]) + bytes((i * 7) & 0xFF for i in range(256)))
w("binary-300-64bit-length", MAX_1E6, frame(2, bytes(range(256)) + bytes(44), length_form="64"))
w("fragments-with-controls", MAX_1E6,
  frame(1, "naïve 😀".encode()[:6], fin=False) + frame(9, b"ping!") + frame(0, "naïve 😀".encode()[6:], fin=False)
  + frame(0, b"", fin=False) + frame(10) + frame(0, b" ok") + frame(8, b"\x03\xe8done"), split=0)
w("mixed-stream", MAX_1E6, frame(1, hello) + frame(2, bytes(range(200))) + frame(1, b"") + frame(8, b"\x03\xe8"), split=7)
w("close-empty", MAX_1E6, frame(8))
w("close-1000-reason", MAX_1E6, frame(8, b"\x03\xe8bye"))
w("close-4000", MAX_1E6, frame(8, b"\x0f\xa0"))
w("close-1012", MAX_1E6, frame(8, b"\x03\xf4"))
w("max-125-exact", MAX_125, frame(2, bytes(125)))
# Bad inputs (issue 2 and RFC 6455).
w("bad-oversize-1009", MAX_1000, frame(2, bytes(1001)))
w("bad-oversize-declared-1009", MAX_1000, header_only(2, 2000))
w("bad-oversize-fragments-1009", MAX_1000, frame(2, bytes(600), fin=False) + frame(0, bytes(600)))
w("bad-rsv1-no-extension", MAX_1E6, frame(1, hello, rsv=0x40))
w("bad-rsv2", MAX_1E6, frame(1, hello, rsv=0x20))
w("bad-rsv3", MAX_1E6, frame(1, hello, rsv=0x10))
w("bad-unmasked", MAX_1E6, frame(1, hello, key=None))
w("bad-length-msb", MAX_1E6, header_only(2, 1 << 63))
w("bad-length-huge", MAX_1E6, header_only(2, (1 << 62) + 5))
w("bad-fragmented-ping", MAX_1E6, frame(9, b"x", fin=False))
w("bad-ping-126", MAX_1E6, frame(9, bytes(126)))
w("bad-continuation-first", MAX_1E6, frame(0, hello))
w("bad-new-message-mid-fragment", MAX_1E6, frame(1, b"a", fin=False) + frame(1, b"b"))
w("bad-close-1-byte", MAX_1E6, frame(8, b"\x03"))
w("bad-close-1005", MAX_1E6, frame(8, b"\x03\xed"))
w("bad-close-999", MAX_1E6, frame(8, b"\x03\xe7"))
w("bad-close-5000", MAX_1E6, frame(8, b"\x13\x88"))
w("bad-close-reason-utf8", MAX_1E6, frame(8, b"\x03\xe8\xff"))
w("bad-text-utf8", MAX_1E6, frame(1, b"\xed\xa0\x80"))
w("bad-text-utf8-across-fragments", MAX_1E6, frame(1, b"\xe2\x82", fin=False) + frame(0, b"x"))
w("text-utf8-across-fragments", MAX_1E6, frame(1, b"\xe2\x82", fin=False) + frame(0, b"\xac"))
w("bad-opcode-3", MAX_1E6, frame(3, b"x"))
w("bad-opcode-11", MAX_1E6, frame(11, b"x"))
w("trickle-byte-by-byte", MAX_1E6, frame(1, hello) + frame(9, b"p"), split=0)
# RFC 7692 section 7.2.3 examples (unmasked, as the RFC shows them) and masked variants.
w("rfc7692-hello", MAX_1E6 | UNMASKED | PMD, bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]))
w("rfc7692-fragmented", MAX_1E6 | UNMASKED | PMD,
  bytes([0x41, 0x03, 0xF2, 0x48, 0xCD, 0x80, 0x04, 0xC9, 0xC9, 0x07, 0x00]))
w("rfc7692-context-takeover", MAX_1E6 | UNMASKED | PMD | TAKEOVER,
  bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00]))
w("rfc7692-stored-block", MAX_1E6 | UNMASKED | PMD,
  bytes([0xC1, 0x0B, 0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00]))
w("rfc7692-bfinal", MAX_1E6 | UNMASKED | PMD, bytes([0xC1, 0x08, 0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00]))
w("pmd-masked-text", MAX_1E6 | PMD, frame(1, deflate_raw(b"Hello, Hello, Hello!"), rsv=0x40))
w("pmd-masked-binary-and-plain", MAX_1E6 | PMD,
  frame(2, deflate_raw(bytes(100)), rsv=0x40) + frame(1, b"plain") + frame(9, b"p"))
w("pmd-window-9", MAX_1E6 | PMD | (1 << 3), frame(1, deflate_raw(b"abcabcabcabc"), rsv=0x40))
w("pmd-empty-message", MAX_1E6 | PMD, frame(1, b"\x00", rsv=0x40))
w("bad-pmd-zip-bomb-1009", MAX_1000 | PMD, frame(2, deflate_raw(bytes(200000)), rsv=0x40))
w("bad-pmd-corrupt-1007", MAX_1E6 | PMD, frame(1, b"\xff\xff\xff\xff", rsv=0x40))
w("bad-pmd-rsv1-on-continuation", MAX_1E6 | PMD, frame(1, b"a", fin=False) + frame(0, b"b", rsv=0x40))
w("bad-pmd-rsv1-on-ping", MAX_1E6 | PMD, frame(9, b"a", rsv=0x40))
w("bad-pmd-inflates-to-bad-utf8", MAX_1E6 | PMD, frame(1, deflate_raw(b"\xff\xfe"), rsv=0x40))
write("websocket_frame", ws)

# ---------------------------------------------------------------- http_request
# Byte 0: limits (0 default, 1 = 256 B head/8 headers/64 B body, 2 = 64/3/8, 3 = default with no body);
# byte 1: split seed (0 = one byte per read).
hs = []


def h(name, text, limits=0, split=5):
    hs.append((name, bytes([limits, split]) + b(text)))


HOST = "Host: localhost:3000\r\n"
WSKEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
UPGRADE = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
h("polling-handshake", "GET /socket.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1\r\n" + HOST + "Accept: */*\r\n\r\n")
h("engineio-handshake", "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\n" + HOST + "\r\n")
h("polling-post", "POST /socket.io/?EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC HTTP/1.1\r\n" + HOST
  + "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 18\r\n\r\n4hello\x1e2\x1e4world")
h("polling-post-octet-stream", "POST /engine.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\n" + HOST
  + "Content-Type: application/octet-stream\r\nContent-Length: 6\r\n\r\n4hello")
h("polling-post-chunked", "POST /engine.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\n" + HOST
  + "Transfer-Encoding: chunked\r\n\r\n3\r\n4he\r\n3\r\nllo\r\n0\r\n\r\n")
h("websocket-upgrade", "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" + HOST + UPGRADE + WSKEY
  + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58")
h("websocket-upgrade-sid", "GET /engine.io/?EIO=4&transport=websocket&sid=lv_VI97HAXpY6yYWAAAC HTTP/1.1\r\n" + HOST
  + UPGRADE + WSKEY + "\r\n")
h("pmd-offers", "GET /ws HTTP/1.1\r\n" + UPGRADE + WSKEY
  + 'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; client_max_window_bits="12", '
  + "permessage-deflate; client_no_context_takeover; server_no_context_takeover, x-webkit-deflate-frame\r\n\r\n")
h("pmd-bad-offers", "GET /ws HTTP/1.1\r\n" + UPGRADE + WSKEY
  + "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=08, permessage-deflate; "
  + "server_max_window_bits=8, permessage-deflate; foo, permessage-deflate; client_max_window_bits=16\r\n\r\n")
h("chunked-with-trailer", "POST /engine.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
  + "6\r\n4hello\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n")
h("cors-preflight", "OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n" + HOST
  + "Origin: http://example.com\r\nAccess-Control-Request-Method: POST\r\n\r\n")
h("accept-encoding", "GET /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nAccept-Encoding: gzip;q=0, deflate, br\r\n\r\n")
h("cookie", "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nCookie: io=abc; other=1\r\n\r\n")
h("pipelined-keepalive", ("GET /a?x=1&y=%20b HTTP/1.1\r\nHost: h\r\n\r\n" * 3)
  + "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", split=0)
h("http10", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n")
h("query-escapes", "GET /socket.io/?EIO=4&transport=polling&a=%zz&b=%e9&c=a+b&d=%&e&=f&g==h HTTP/1.1\r\n\r\n")
h("obs-fold", "GET / HTTP/1.1\r\nX-Folded: one\r\n two\r\n\r\n")
h("expect-continue", "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
# Bad inputs from issue 2.
h("bad-transport-proto", "GET /engine.io/?EIO=4&transport=__proto__ HTTP/1.1\r\n\r\n")
h("bad-transport-constructor", "GET /engine.io/?EIO=4&transport=constructor HTTP/1.1\r\n\r\n")
h("bad-transport-tostring", "GET /engine.io/?EIO=4&transport=toString HTTP/1.1\r\n\r\n")
h("bad-unknown-sid", "GET /engine.io/?EIO=4&transport=polling&sid=unknown HTTP/1.1\r\n\r\n")
h("bad-handshake-post", "POST /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
h("bad-eio3", "GET /engine.io/?EIO=3&transport=polling HTTP/1.1\r\n\r\n")
h("bad-upgrade-without-key", "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\n" + UPGRADE + "\r\n")
h("bad-oversize-post-413", "POST /engine.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nContent-Length: 1000001\r\n\r\n4")
h("bad-oversize-post-small-limit", "POST /x HTTP/1.1\r\nContent-Length: 65\r\n\r\n" + "a" * 65 + "GET / HTTP/1.1\r\n\r\n", limits=1)
h("bad-chunked-over-limit", "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n" + "a" * 65 + "\r\n0\r\n\r\n", limits=1)
h("bad-header-flood", "GET / HTTP/1.1\r\n" + "".join("X-%d: v\r\n" % i for i in range(101)) + "\r\n")
h("bad-header-flood-small", "GET / HTTP/1.1\r\n" + "".join("X-%d: v\r\n" % i for i in range(9)) + "\r\n", limits=1)
h("bad-header-bytes", "GET /" + "a" * 300 + " HTTP/1.1\r\n\r\n", limits=1)
h("bad-trickled-request", "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n", split=0)
h("bad-garbage", "NOT HTTP AT ALL\r\n\r\n")
h("bad-nul-in-url", "GET /a\x00b HTTP/1.1\r\n\r\n")
h("bad-content-length-and-chunked", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
h("bad-double-content-length", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
h("connect-method", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\nrest")
h("no-body-allowed", "POST /x HTTP/1.1\r\nContent-Length: 1\r\n\r\na", limits=3)
h("tiny-limits", "GET / HTTP/1.1\r\nA: b\r\n\r\n", limits=2)
write("http_request", hs)

# ---------------------------------------------------------------- msgpack
# A small notepack-style encoder (what Node's redis adapter publishes), for the seeds of the msgpack harness.
def mp(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if 0 <= v < 1 << 8:
            return b"\xcc" + struct.pack(">B", v)
        if 0 <= v < 1 << 16:
            return b"\xcd" + struct.pack(">H", v)
        if 0 <= v < 1 << 32:
            return b"\xce" + struct.pack(">I", v)
        if 0 <= v:
            return b"\xcf" + struct.pack(">Q", v)
        if v >= -(1 << 7):
            return b"\xd0" + struct.pack(">b", v)
        if v >= -(1 << 31):
            return b"\xd2" + struct.pack(">i", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        d = v.encode()
        if len(d) < 32:
            return bytes([0xA0 | len(d)]) + d
        return b"\xd9" + bytes([len(d)]) + d
    if isinstance(v, (bytes, bytearray)):
        return b"\xc4" + bytes([len(v)]) + bytes(v)
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return bytes([0x80 | len(v)]) + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


packet = {"type": 2, "data": ["chat message", "hello"], "nsp": "/"}
opts = {"rooms": ["room1"], "except": [], "flags": {}}
binpacket = {"type": 5, "data": ["file", b"\x01\x02\x03"], "nsp": "/chat"}
msgs = [
    ("broadcast", mp(["uid-1", packet, opts])),
    ("broadcast-binary", mp(["uid-1", binpacket, {"rooms": [], "except": ["sid"], "flags": {"volatile": True}}])),
    ("request-broadcast-ack", mp({"uid": "uid-1", "requestId": "r1", "type": 7, "packet": packet, "opts": opts})),
    ("response-ack", mp({"type": 9, "requestId": "r1", "packet": [1, "two", {"3": [False]}]})),
    ("request-sockets", mp({"uid": "u", "requestId": "r2", "type": 0, "rooms": ["a", "b"]})),
    ("numbers", mp([0, 127, 128, 255, 65536, 1 << 40, (1 << 64) - 1, -1, -33, -129, -(1 << 63), 1.5, -0.0, 1e300])),
    ("float32", b"\x92\xca\x3f\xc0\x00\x00\xca\x7f\x80\x00\x00"),
    ("undefined-ext0", b"\x93\xd4\x00\x00\x01\xd4\x00\x00"),
    ("undefined-in-map", b"\x82\xa1a\xd4\x00\x00\xa1b\x01"),
    ("arraybuffer-ext0", b"\xc7\x03\x00abc"),
    ("timestamp-ext-1", b"\xd6\xff\x5f\x5e\x10\x00"),
    ("timestamp96", b"\xc7\x0c\xff" + b"\x00" * 4 + struct.pack(">q", 1600000000)),
    ("map-non-string-keys", b"\x85\x01\xa1x\xc0\xa1y\xc3\xa1z\xcb" + struct.pack(">d", 0.1) + b"\xa1w\xff\xa1v"),
    ("map-repeated-key", b"\x82\xa1k\x01\xa1k\x02"),
    ("str16-bin16", b"\x92\xda\x00\x03abc\xc5\x00\x02\x00\xff"),
    ("str-invalid-utf8", b"\xa2\xff\xfe"),
    ("nested-32", b"\x91" * 31 + b"\x90"),
    ("nested-33", b"\x91" * 32 + b"\x90"),
    ("array16-short", b"\xdc\x00\x10\x01\x02"),
    ("bad-str32-huge", b"\xdb\x7f\xff\xff\xffabc"),
    ("bad-truncated", mp(["uid-1", packet, opts])[:-3]),
    ("bad-trailing", mp([1, 2]) + b"\x03"),
    ("bad-c1", b"\xc1"),
    ("bad-empty", b""),
]
write("msgpack", msgs)

# ---------------------------------------------------------------- msgpack_packet
# Packets of socket.io-msgpack-parser 3.0 (one map per message), as a client sends them, and broken ones.
P = lambda **fields: mp(fields)
write("msgpack_packet", [
    ("connect", P(type=0, nsp="/")),
    ("connect-auth", P(type=0, data={"token": "abc", "n": 1.5}, nsp="/admin")),
    ("disconnect", P(type=1, nsp="/chat")),
    ("event", P(type=2, data=["chat message", "hello", 1, None, True], nsp="/")),
    ("event-ack", P(type=2, data=["echo", {"a": [1, 2]}], nsp="/", id=7)),
    ("event-binary", P(type=2, data=["file", b"\x00\x01\xff", {"nested": b"\x02"}], nsp="/")),
    ("event-number-name", P(type=2, data=[12, "x"], nsp="/")),
    ("ack", P(id=7, type=3, data=["ok", b"\x09"], nsp="/")),
    ("connect-error", P(type=4, data={"message": "no"}, nsp="/")),
    # The fast path's forms (MsgPackPacketFastPath): the official client's member order with `options`, numbers of every
    # width, `data` before `type`.
    ("event-official", P(type=2, data=["echo-ack", {"p": "x" * 40, "n": -7, "f": 1.5, "big": 4294967296,
                                                     "l": [True, None, False], "neg": -70000}],
                         options={"compress": True}, id=12, nsp="/")),
    ("ack-data-first", P(data=[{"ok": True, "v": [1, -200, 70000, 0.25, b"\x05"]}], type=3, id=3, nsp="/chat")),
    ("bad-type", P(type=5, data=["x"], nsp="/")),
    ("bad-reserved", P(type=2, data=["disconnect"], nsp="/")),
    ("bad-placeholder", P(type=2, data=["x", {"_placeholder": True, "num": 0}], nsp="/")),
    ("bad-id", P(type=2, data=["x"], nsp="/", id=-1)),
    ("bad-nsp", P(type=2, data=["x"], nsp=1)),
    ("bad-not-map", mp([2, ["x"], "/"])),
    ("bad-c1", b"\xc1"),
])

# ---------------------------------------------------------------- redis_message
# Every message of the reference capture (Node socket.io 4.8.3 + @socket.io/redis-adapter 8.2.0, the copy the unit
# tests read), plus hand-made requests and responses for the branches the capture does not reach.
CAPTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "SocketIORedisTests",
                       "Fixtures", "wire-capture.json")
import json
with open(CAPTURE) as f:
    captured = json.load(f)["messages"]
redis = [("capture-%s-%d" % (m["scenario"], m["index"]), bytes.fromhex(m["payload_hex"])) for m in captured]
J = lambda v: json.dumps(v, separators=(",", ":")).encode()
redis += [
    ("legacy-join", J({"uid": "u", "requestId": "r", "type": 2, "sid": "abc", "room": "r1"})),
    ("legacy-disconnect", J({"uid": "u", "requestId": "r", "type": 4, "sid": "abc", "close": True})),
    ("legacy-sockets", J({"uid": "u", "requestId": "r", "type": 0, "rooms": ["a", 1, None]})),
    ("sse-number-event", J({"uid": "u", "type": 6, "data": [42, {"type": "Buffer", "data": [1, 2]}]})),
    ("sse-placeholder-without-attachment", J({"uid": "u", "type": 6, "data": ["e", {"_placeholder": True, "num": 0}]})),
    ("response-client-count", J({"type": 8, "requestId": "r", "clientCount": 3})),
    ("response-client-count-huge", J({"type": 8, "requestId": "r", "clientCount": 1e300})),
    ("response-sse", J({"type": 6, "requestId": "r", "data": {"a": [1, "b", None]}})),
    ("response-fetch-odd", J({"requestId": "r", "sockets": [{"id": "s", "handshake": {"headers": {"a": ["x", "y"],
        "b": 1}, "issued": -5, "auth": {"t": 1}}, "rooms": []}, {"noid": 1}, 7]})),
    # A 96-bit timestamp far beyond the years a JavaScript Date holds.
    ("response-ack-timestamp", b"\x83\xa4type\x09\xa9requestId\xa1r\xa6packet\xc7\x0c\xff" + b"\x00" * 4
        + struct.pack(">q", 1 << 62)),
    ("broadcast-flags-timeout", mp(["u", {"type": 2, "data": ["e"], "nsp": "/"},
                                    {"rooms": [], "except": [], "flags": {"timeout": 1e19, "volatile": 1}}])),
    ("broadcast-ack-id", mp(["u", {"type": 5, "data": ["e", b"\x00"], "nsp": "/", "id": 7}, {}])),
    ("bad-json", b'{"type":'),
    ("bad-type", J({"uid": "u", "type": 99})),
]
write("redis_message", redis)

print("seeds written under", os.path.normpath(ROOT))

# ---------------------------------------------------------------- redis_stream
# What the Redis streams adapter reads (@socket.io/redis-streams-adapter 0.3): stream entries as NUL-separated
# field/value lists (uid, nsp, type, data: JSON, or base64 of @msgpack/msgpack), pub/sub payloads (msgpack
# {type, data, uid, nsp}), session values (base64 msgpack {sid, pid, rooms, data}) and offsets.
import base64
NUL = b"\x00"
UID = "0123456789abcdef"


def entry(*pairs):
    return NUL.join(b(x) for pair in pairs for x in pair)


OPTS = {"rooms": [], "except": [], "flags": {}}
bdata = lambda v: base64.b64encode(mp(v))
stream = [
    ("entry-broadcast", entry(("uid", UID), ("nsp", "/"), ("type", "3"),
                              ("data", J({"packet": {"type": 2, "data": ["chat", {"text": "hi"}, 1.5]}, "opts": OPTS})))),
    ("entry-broadcast-rooms", entry(("uid", UID), ("nsp", "/chat"), ("type", "3"), ("data", J({
        "packet": {"type": 2, "data": ["e"]}, "opts": {"rooms": ["a", "b"], "except": ["s"], "flags": {"volatile": True}}})))),
    ("entry-broadcast-binary", entry(("uid", UID), ("nsp", "/"), ("type", "3"),
                                     ("data", bdata({"packet": {"type": 2, "data": ["file", b"\x01\x02\x03"]}, "opts": OPTS})))),
    ("entry-sockets-join", entry(("uid", UID), ("nsp", "/"), ("type", "4"),
                                 ("data", J({"opts": OPTS, "rooms": ["r1", "r2"]})))),
    ("entry-disconnect", entry(("uid", UID), ("nsp", "/"), ("type", "6"), ("data", J({"opts": OPTS, "close": True})))),
    ("entry-heartbeat-no-data", entry(("uid", UID), ("nsp", "/"), ("type", "2"))),
    ("entry-emitter", entry(("uid", "emitter"), ("nsp", "/"), ("type", "3"),
                            ("data", J({"packet": {"type": 2, "data": [42, None]}, "opts": OPTS})))),
    ("entry-type-garbage", entry(("nsp", "/"), ("type", " 3abc"), ("data", J({})))),
    ("entry-repeated-fields", entry(("nsp", "/a"), ("nsp", "/"), ("type", "3"), ("type", "5"))),
    ("entry-bad-json", entry(("nsp", "/"), ("type", "3"), ("data", "{\"packet\":"))),
    ("entry-bad-base64", entry(("nsp", "/"), ("type", "3"), ("data", "!!!!"))),
    ("entry-url-safe-base64", entry(("nsp", "/"), ("type", "3"), ("data", base64.urlsafe_b64encode(mp({"a": b"\xff\xfe"}))))),
    ("entry-no-nsp", entry(("uid", UID), ("type", "3"))),
    ("pubsub-fetch", mp({"type": 7, "data": {"opts": OPTS, "requestId": "r" * 16}, "uid": UID, "nsp": "/"})),
    ("pubsub-ssemit-ack", mp({"type": 9, "data": {"requestId": "r1", "packet": ["hello", b"\x00", {"n": 1}]},
                              "uid": UID, "nsp": "/"})),
    ("pubsub-broadcast-ack", mp({"type": 3, "data": {"packet": {"type": 2, "data": ["q"]}, "requestId": "r2", "opts": OPTS},
                                 "uid": UID, "nsp": "/"})),
    ("pubsub-fetch-response", mp({"type": 8, "data": {"requestId": "r", "sockets": [{"id": "s", "handshake": {
        "headers": {"host": "x"}, "issued": 1700000000000, "auth": {}}, "rooms": ["s", "r"], "data": {}}]}, "uid": UID, "nsp": "/"})),
    ("pubsub-ack-nil", mp({"type": 12, "data": {"requestId": "r", "packet": None}, "uid": UID, "nsp": "/"})),
    ("pubsub-client-count", mp({"type": 11, "data": {"requestId": "r", "clientCount": 3}, "uid": UID, "nsp": "/"})),
    ("pubsub-heartbeat", mp({"type": 2, "uid": UID, "nsp": "/"})),
    ("pubsub-type-string", mp({"type": "3", "uid": UID, "nsp": "/"})),
    ("session", base64.b64encode(mp({"sid": "s1", "pid": "p1", "rooms": ["s1", "room"], "data": {}}))),
    ("session-data", base64.b64encode(mp({"sid": "s", "pid": "p", "rooms": ["s", 7, None], "data": {"u": [1.5, b"\x01"]}}))),
    ("session-missing-pid", base64.b64encode(mp({"sid": "s", "rooms": []}))),
    # The sharded pub/sub adapter's payloads (@socket.io/redis-adapter createShardedAdapter): the whole message as
    # JSON text, or notepack msgpack with a binary.
    ("sharded-broadcast-json", J({"type": 3, "data": {"packet": {"type": 2, "data": ["bcast", {"obj": {"2": 2, "b": 1}}]},
                                  "opts": {"rooms": ["room1"], "except": [], "flags": {}}}, "uid": UID, "nsp": "/"})),
    ("sharded-fetch-json", J({"type": 7, "data": {"opts": OPTS, "requestId": "r" * 16}, "uid": UID, "nsp": "/"})),
    ("sharded-ssemit-json-buffer", J({"type": 9, "data": {"packet": ["hello", {"type": "Buffer", "data": [1, 2]}]},
                                      "uid": UID, "nsp": "/"})),
    ("sharded-json-truncated", b'{"type":3,"data":{"packet":'),
    ("offset", b"1700000000000-0"),
    ("offset-max", b"18446744073709551615-18446744073709551615"),
    ("offset-overflow", b"18446744073709551616-0"),
    ("offset-bad", b"1-2-3"),
]
write("redis_stream", stream)
