"""WebSocket permessage-deflate (RFC 7692), off by default as in the reference: the protocol server's
`/deflate.io/` path turns it on (every message compressed). Frames are built and read by hand with zlib."""

from __future__ import annotations

import base64
import os
import socket
import struct
import zlib

TAIL = b"\x00\x00\xff\xff"


def handshake(port: int, path: str, extensions: str | None):
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path}?EIO=4&transport=websocket HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        assert chunk, "closed during the handshake"
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    return conn, head.decode(), bytearray(rest)


def read_frame(conn, buffer: bytearray):
    def need(count: int):
        while len(buffer) < count:
            chunk = conn.recv(65536)
            assert chunk, "closed"
            buffer.extend(chunk)

    need(2)
    first, second = buffer[0], buffer[1]
    length, offset = second & 0x7F, 2
    if length == 126:
        need(4)
        length, offset = struct.unpack(">H", bytes(buffer[2:4]))[0], 4
    elif length == 127:
        need(10)
        length, offset = struct.unpack(">Q", bytes(buffer[2:10]))[0], 10
    need(offset + length)
    payload = bytes(buffer[offset:offset + length])
    del buffer[:offset + length]
    return first, payload


def send_frame(conn, opcode: int, payload: bytes, rsv1: bool):
    mask = os.urandom(4)
    header = bytes([0x80 | (0x40 if rsv1 else 0) | opcode])
    length = len(payload)
    header += bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + struct.pack(">H", length)
    conn.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def inflate(data: bytes) -> bytes:
    return zlib.decompressobj(wbits=-15).decompress(data + TAIL)


def test_compressed_messages_both_ways(server):
    conn, head, buffer = handshake(server.port, "/deflate.io/", "permessage-deflate; client_max_window_bits")
    try:
        assert "Sec-WebSocket-Extensions: permessage-deflate" in head, head
        first, payload = read_frame(conn, buffer)
        assert first & 0x40, "the open packet was not compressed"
        assert inflate(payload).startswith(b'0{"sid":')
        text = "4" + "compress me " * 50
        send_frame(conn, 0x1, deflate(text.encode()), rsv1=True)
        first, payload = read_frame(conn, buffer)
        assert first & 0x40 and first & 0x0F == 0x1
        assert len(payload) < len(text) // 4, "the echo was not compressed"
        assert inflate(payload).decode() == text
        send_frame(conn, 0x2, deflate(b"\x00\x01" * 300), rsv1=True)  # binary, compressed
        first, payload = read_frame(conn, buffer)
        assert first & 0x0F == 0x2 and inflate(payload) == b"\x00\x01" * 300
    finally:
        conn.close()


def test_off_unless_offered_and_off_by_default(server):
    conn, head, buffer = handshake(server.port, "/deflate.io/", None)
    try:
        assert "Sec-WebSocket-Extensions" not in head
        first, payload = read_frame(conn, buffer)
        assert not first & 0x40 and payload.startswith(b'0{"sid":')
    finally:
        conn.close()
    conn, head, buffer = handshake(server.port, "/engine.io/", "permessage-deflate")
    try:
        assert "Sec-WebSocket-Extensions" not in head, "compression must be off by default, as in the reference"
        first, payload = read_frame(conn, buffer)
        assert not first & 0x40
        send_frame(conn, 0x1, deflate(b"4x"), rsv1=True)  # RSV1 without the extension: 1002
        first, payload = read_frame(conn, buffer)
        assert first & 0x0F == 0x8 and struct.unpack(">H", payload[:2])[0] == 1002
    finally:
        conn.close()
