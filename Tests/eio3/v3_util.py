"""Engine.IO v3 at the wire level, for the tests that check bytes: URLs, payload framing as the reference's v3
parser writes it (lengths in UTF-16 units), a hand-driven polling session, raw HTTP for exact responses.
Every wait is bounded."""

from __future__ import annotations

import json
import socket
import urllib.parse

import requests
import websocket

PING_INTERVAL = 0.300  # seconds, as sio-protocol-server configures /engine.io/ and /socket.io/
PING_TIMEOUT = 0.200


def url(base: str, path: str = "/engine.io/", **query) -> str:
    """`base` + `path` + `?EIO=3&transport=polling` with `query` merged in; None drops a key."""
    params = {"EIO": "3", "transport": "polling"}
    params.update(query)
    params = {k: v for k, v in params.items() if v is not None}
    return f"{base}{path}?{urllib.parse.urlencode(params)}"


def ws_url(base: str, path: str = "/engine.io/", **query) -> str:
    return url(base, path, **{"transport": "websocket", **query}).replace("http://", "ws://", 1)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def segment(packet: str) -> str:
    """One packet of a v3 text payload: `<UTF-16 length>:<packet>`."""
    return f"{utf16_len(packet)}:{packet}"


def payload(*packets: str) -> str:
    return "".join(segment(p) for p in packets)


def split_payload(text: str) -> list[str]:
    """Splits a v3 text payload, counting UTF-16 units as the JavaScript client does."""
    units = text.encode("utf-16-le")
    packets, i = [], 0
    while i < len(units):
        colon = units.index(b":\x00", i)
        while (colon - i) % 2:
            colon = units.index(b":\x00", colon + 1)
        n = int(units[i:colon].decode("utf-16-le"))
        start = colon + 2
        packets.append(units[start:start + 2 * n].decode("utf-16-le"))
        i = start + 2 * n
    return packets


def binary_segment(packet: bytes, is_binary: bool) -> bytes:
    return bytes([1 if is_binary else 0]) + bytes(int(d) for d in str(len(packet))) + b"\xff" + packet


def split_binary_payload(body: bytes) -> list[tuple[bool, bytes]]:
    out, i = [], 0
    while i < len(body):
        is_binary = body[i] == 1
        end = body.index(0xFF, i)
        n = int("".join(str(d) for d in body[i + 1:end]))
        out.append((is_binary, body[end + 1:end + 1 + n]))
        i = end + 1 + n
    return out


class Polling:
    """One v3 polling session driven by hand (requests)."""

    def __init__(self, base: str, path: str = "/engine.io/", **query):
        self.base, self.path = base, path
        self.http = requests.Session()
        r = self.http.get(url(base, path, **query), timeout=5)
        r.raise_for_status()
        self.first = r
        packets = split_payload(r.text)
        assert packets[0].startswith("0"), packets
        self.handshake = json.loads(packets[0][1:])
        self.sid = self.handshake["sid"]
        self.rest = packets[1:]

    def url(self, **query) -> str:
        return url(self.base, self.path, sid=self.sid, **query)

    def get(self, timeout: float = 5) -> requests.Response:
        return self.http.get(self.url(), timeout=timeout)

    def get_packets(self, timeout: float = 5) -> list[str]:
        r = self.get(timeout)
        assert r.status_code == 200, (r.status_code, r.text)
        return split_payload(r.text)

    def post(self, body, content_type: str = "text/plain;charset=UTF-8", timeout: float = 5) -> requests.Response:
        data = body.encode("utf-8") if isinstance(body, str) else body
        return self.http.post(self.url(), data=data, headers={"Content-Type": content_type}, timeout=timeout)

    def close(self) -> None:
        self.http.close()


def ws_connect(base: str, path: str = "/engine.io/", timeout: float = 5, **query) -> websocket.WebSocket:
    return websocket.create_connection(ws_url(base, path, **query), timeout=timeout)


def raw_http(port: int, request: bytes, timeout: float = 5) -> tuple[str, dict[str, str], bytes, list[str]]:
    """Sends `request` as is on a new connection (closed after one response); returns the status line, the
    headers (lower-case names), the body, and the header lines exactly as sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return lines[0], headers, body, lines[1:]
