"""Byte-level views of what cluster nodes write to Redis, for the wire captures (streams_capture.py) and the tests
that compare our bytes with Node's (test_streams_node_wire.py):

- `msgpack_tokens(data)`: the msgpack encoding as a list of tokens `(format, value)` (e.g. `("fixstr", "abc")`,
  `("uint16", 3000)`, `("fixmap", 2)`); two encodings are byte for byte equal iff their token lists are, so ids
  can be substituted in the tokens and the rest still compared exactly.
- `Substitutions`: random tokens (adapter uids, socket ids, pids, request ids) -> stable labels, for JSON text and
  msgpack tokens alike.
- `hexdump(data)`: the `hexdump -C` layout of the fixtures' .md files.
"""

from __future__ import annotations

import base64
import json
import re
import struct

# -- msgpack tokens ----------------------------------------------------------------------------------------------


class MsgPackFormatError(ValueError):
    pass


def msgpack_tokens(data: bytes) -> list[tuple]:
    """Every msgpack token of `data` in order (exactly one top-level value), each `(format, value)`: containers
    give their element count, strings their text (or bytes if not UTF-8), bin its hex, numbers their value
    (floats as the hex of their bytes, so -0.0 and NaN payloads compare exactly), ext `(type, hex)`."""
    tokens: list[tuple] = []
    end = _token(data, 0, tokens)
    if end != len(data):
        raise MsgPackFormatError(f"{len(data) - end} trailing bytes")
    return tokens


def _need(data: bytes, at: int, count: int) -> None:
    if at + count > len(data):
        raise MsgPackFormatError("truncated")


def _text(raw: bytes):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _token(data: bytes, at: int, out: list) -> int:
    _need(data, at, 1)
    byte = data[at]
    at += 1
    if byte <= 0x7F:
        out.append(("posfixint", byte))
        return at
    if byte >= 0xE0:
        out.append(("negfixint", byte - 0x100))
        return at
    if 0x80 <= byte <= 0x8F:
        out.append(("fixmap", byte & 0x0F))
        for _ in range(2 * (byte & 0x0F)):
            at = _token(data, at, out)
        return at
    if 0x90 <= byte <= 0x9F:
        out.append(("fixarray", byte & 0x0F))
        for _ in range(byte & 0x0F):
            at = _token(data, at, out)
        return at
    if 0xA0 <= byte <= 0xBF:
        length = byte & 0x1F
        _need(data, at, length)
        out.append(("fixstr", _text(data[at:at + length])))
        return at + length
    simple = {0xC0: ("nil", None), 0xC2: ("false", False), 0xC3: ("true", True)}
    if byte in simple:
        out.append(simple[byte])
        return at
    sized = {0xC4: ("bin8", 1), 0xC5: ("bin16", 2), 0xC6: ("bin32", 4), 0xD9: ("str8", 1), 0xDA: ("str16", 2),
             0xDB: ("str32", 4)}
    if byte in sized:
        name, width = sized[byte]
        _need(data, at, width)
        length = int.from_bytes(data[at:at + width], "big")
        at += width
        _need(data, at, length)
        raw = data[at:at + length]
        out.append((name, raw.hex() if name.startswith("bin") else _text(raw)))
        return at + length
    numbers = {0xCA: ("float32", 4), 0xCB: ("float64", 8)}
    if byte in numbers:
        name, width = numbers[byte]
        _need(data, at, width)
        out.append((name, data[at:at + width].hex()))
        return at + width
    integers = {0xCC: ("uint8", ">B"), 0xCD: ("uint16", ">H"), 0xCE: ("uint32", ">I"), 0xCF: ("uint64", ">Q"),
                0xD0: ("int8", ">b"), 0xD1: ("int16", ">h"), 0xD2: ("int32", ">i"), 0xD3: ("int64", ">q")}
    if byte in integers:
        name, layout = integers[byte]
        width = struct.calcsize(layout)
        _need(data, at, width)
        out.append((name, struct.unpack(layout, data[at:at + width])[0]))
        return at + width
    containers = {0xDC: ("array16", 2, 1), 0xDD: ("array32", 4, 1), 0xDE: ("map16", 2, 2), 0xDF: ("map32", 4, 2)}
    if byte in containers:
        name, width, per = containers[byte]
        _need(data, at, width)
        count = int.from_bytes(data[at:at + width], "big")
        at += width
        out.append((name, count))
        for _ in range(per * count):
            at = _token(data, at, out)
        return at
    fixext = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
    if byte in fixext:
        length = fixext[byte]
        _need(data, at, 1 + length)
        kind = struct.unpack(">b", data[at:at + 1])[0]
        out.append((f"fixext{length}", (kind, data[at + 1:at + 1 + length].hex())))
        return at + 1 + length
    ext = {0xC7: ("ext8", 1), 0xC8: ("ext16", 2), 0xC9: ("ext32", 4)}
    if byte in ext:
        name, width = ext[byte]
        _need(data, at, width + 1)
        length = int.from_bytes(data[at:at + width], "big")
        at += width
        kind = struct.unpack(">b", data[at:at + 1])[0]
        at += 1
        _need(data, at, length)
        out.append((name, (kind, data[at:at + length].hex())))
        return at + length
    raise MsgPackFormatError(f"byte {byte:#04x} is not msgpack")


def msgpack_tree(data: bytes):
    """The tokens of `data` nested: a container is `(format, [children])` (a map's children alternate key and
    value), a scalar `(format, value)`. Equal trees mean equal bytes."""
    tokens = msgpack_tokens(data)
    position = 0

    def build():
        nonlocal position
        name, value = tokens[position]
        position += 1
        if name in ("fixmap", "map16", "map32"):
            return name, [build() for _ in range(2 * value)]
        if name in ("fixarray", "array16", "array32"):
            return name, [build() for _ in range(value)]
        return name, value

    return build()


def token_lines(data: bytes) -> list[str]:
    """The tokens of `data` with their offsets, indented by depth, for the .md files."""
    lines: list[str] = []
    _describe(data, 0, 0, lines)
    return lines


def _describe(data: bytes, at: int, depth: int, lines: list) -> int:
    byte = data[at]
    if 0x80 <= byte <= 0x8F or 0x90 <= byte <= 0x9F or byte in (0xDC, 0xDD, 0xDE, 0xDF):
        if byte <= 0x8F:
            count, header, per, name = byte & 0x0F, 1, 2, "fixmap"
        elif byte <= 0x9F:
            count, header, per, name = byte & 0x0F, 1, 1, "fixarray"
        else:
            width = 2 if byte in (0xDC, 0xDE) else 4
            count = int.from_bytes(data[at + 1:at + 1 + width], "big")
            header, per = 1 + width, (2 if byte in (0xDE, 0xDF) else 1)
            name = {0xDC: "array16", 0xDD: "array32", 0xDE: "map16", 0xDF: "map32"}[byte]
        noun = "entries" if per == 2 else "elements"
        lines.append(f"{at:04x}  {'  ' * depth}{data[at:at + header].hex(' ')}  {name}, {count} {noun}")
        at += header
        for _ in range(per * count):
            at = _describe(data, at, depth + 1, lines)
        return at
    one: list[tuple] = []
    end = _token(data, at, one)
    raw = data[at:end]
    shown = raw.hex(" ") if len(raw) <= 12 else raw[:12].hex(" ") + " …"
    name, value = one[0]
    lines.append(f"{at:04x}  {'  ' * depth}{shown}  {name} {json.dumps(value) if isinstance(value, str) else value}")
    return end


# -- substitutions -----------------------------------------------------------------------------------------------


class Substitutions:
    """Random tokens -> labels (`<A.uid>`, `<a1>`, `<req1>`...). Tokens are registered as they are learned; a
    request id is labelled in order of first appearance (`request(value)`)."""

    def __init__(self):
        self.labels: dict[str, str] = {}
        self._requests = 0

    def add(self, token: str | None, label: str) -> None:
        if token and token not in self.labels:
            self.labels[token] = f"<{label}>"

    def request(self, token: str | None) -> None:
        if token and token not in self.labels:
            self._requests += 1
            self.labels[token] = f"<req{self._requests}>"

    def text(self, value: str) -> str:
        """Every known token in `value` replaced (longest first, so no token is replaced inside another)."""
        if not self.labels:
            return value
        pattern = re.compile("|".join(re.escape(token) for token in sorted(self.labels, key=len, reverse=True)))
        return pattern.sub(lambda match: self.labels[match.group(0)], value)

    def tokens(self, tokens: list[tuple]) -> list[tuple]:
        out = []
        for name, value in tokens:
            if isinstance(value, str) and name in ("fixstr", "str8", "str16", "str32"):
                value = self.text(value)
            out.append((name, value))
        return out


def learn_request_ids(value, subs: Substitutions) -> None:
    """Registers every `requestId` found in a decoded message."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "requestId" and isinstance(item, str):
                subs.request(item)
            learn_request_ids(item, subs)
    elif isinstance(value, list):
        for item in value:
            learn_request_ids(item, subs)


# -- decoding for the fixtures' "decoded" views -------------------------------------------------------------------

def decoded_view(value):
    """A msgpack-decoded value as JSON: bin as `{"$bin": hex}`, ext as `{"$ext": [type, hex]}`."""
    import msgpack

    if isinstance(value, (bytes, bytearray)):
        return {"$bin": bytes(value).hex()}
    if isinstance(value, msgpack.ExtType):
        return {"$ext": [value.code, value.data.hex()]}
    if isinstance(value, dict):
        return {str(k): decoded_view(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [decoded_view(v) for v in value]
    return value


def msgpack_view(data: bytes):
    import msgpack

    return decoded_view(msgpack.unpackb(data, raw=False, strict_map_key=False))


def entry_data_view(text: str):
    """A stream entry's `data` as the reference decodes it: JSON when it starts with `{`, else base64 msgpack."""
    if text.startswith("{"):
        return {"encoding": "json", "value": json.loads(text)}
    raw = base64.b64decode(text)
    return {"encoding": "base64-msgpack", "value": msgpack_view(raw), "msgpack_hex": raw.hex()}


def hexdump(data: bytes) -> str:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset:offset + 16]
        hex_part = " ".join(f"{b:02x}" for b in chunk[:8]) + "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hex_part:<48}  |{text}|")
    return "\n".join(lines)
