"""Helpers shared by the Engine.IO integration tests.

- URLs for the raw Engine.IO endpoint (`/engine.io/`) and payload decoding;
- `Polling`: a hand-driven HTTP long-polling session (requests);
- `raw_http()` / `read_http_response()`: HTTP over a plain socket, for requests `requests` will not send;
- `RawWebSocket`: the WebSocket handshake done by hand and RFC 6455 frames built byte by byte (bad frames too);
- `ws_connect()` / `ws_next()`: websocket-client for well-formed WebSocket sessions;
- `EchoClient`: the real python-engineio client, with a queue of the messages it receives.

Every wait here is bounded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import engineio
import requests
import websocket

SEP = "\x1e"
PING_INTERVAL = 0.300  # seconds, as the server is configured
PING_TIMEOUT = 0.200
MAX_PAYLOAD = 1_000_000
EIO_PATH = "/engine.io/"

ERROR_MESSAGES = {
    0: "Transport unknown",
    1: "Session ID unknown",
    2: "Bad handshake method",
    3: "Bad request",
    4: "Forbidden",
    5: "Unsupported protocol version",
}


# --------------------------------------------------------------------------------------------------------------
# URLs and payloads


def eio_url(base: str, path: str = EIO_PATH, **query) -> str:
    """`base` + `path` (`/engine.io/`) + `?EIO=4&transport=polling` with `query` merged in; a value of None drops
    the key."""
    params = {"EIO": "4", "transport": "polling"}
    params.update(query)
    params = {k: v for k, v in params.items() if v is not None}
    return f"{base}{path}?{urllib.parse.urlencode(params)}"


def ws_base(base: str) -> str:
    return "ws://" + base.split("://", 1)[1]


def eio_ws_url(base: str, path: str = EIO_PATH, **query) -> str:
    query.setdefault("transport", "websocket")
    return ws_base(eio_url(base, path, **query))


def request_target(**query) -> str:
    """The request-target (path and query) for a raw HTTP request line."""
    return eio_url("", **query)


def decode_payload(text: str) -> list[tuple[str, object]]:
    """Splits a polling payload into (type, data) pairs; binary packets (`b<base64>`) become ("4", bytes)."""
    packets = []
    for encoded in text.split(SEP):
        if encoded.startswith("b"):
            packets.append(("4", base64.b64decode(encoded[1:])))
        else:
            packets.append((encoded[:1], encoded[1:]))
    return packets


def parse_open(text: str) -> dict:
    """The JSON of an open packet (`0{...}`) at the start of a payload or WebSocket frame."""
    first = text.split(SEP, 1)[0]
    assert first.startswith("0"), f"expected an open packet, got {text[:200]!r}"
    return json.loads(first[1:])


def assert_error(response: requests.Response, status: int, code: int) -> None:
    """An Engine.IO error answer as the reference server writes it: status, JSON `{"code", "message"}`."""
    desc = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, (
        f"{desc}: expected HTTP {status}, got {response.status_code} {response.text[:300]!r}")
    ctype = response.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), f"{desc}: expected a JSON error body, got Content-Type {ctype!r}"
    assert response.json() == {"code": code, "message": ERROR_MESSAGES[code]}, f"{desc}: body {response.text!r}"


# --------------------------------------------------------------------------------------------------------------
# HTTP long-polling by hand


def handshake(base: str, path: str = EIO_PATH, **query) -> dict:
    """A polling handshake; returns the open packet's JSON."""
    r = requests.get(eio_url(base, path, **query), timeout=5)
    assert r.status_code == 200, f"handshake: HTTP {r.status_code} {r.text[:300]!r}"
    return parse_open(r.text)


class Polling:
    """One HTTP long-polling session driven by hand (on `/engine.io/` unless `path` says otherwise)."""

    def __init__(self, base: str, sid: str, open_packet: dict | None = None, path: str = EIO_PATH):
        self.base = base
        self.sid = sid
        self.open_packet = open_packet or {}
        self.path = path

    @classmethod
    def open(cls, base: str, path: str = EIO_PATH, **query) -> "Polling":
        data = handshake(base, path, **query)
        return cls(base, data["sid"], data, path)

    def url(self, **query) -> str:
        return eio_url(self.base, self.path, sid=self.sid, **query)

    def get(self, timeout: float = 5, **kwargs) -> requests.Response:
        return requests.get(self.url(), timeout=timeout, **kwargs)

    def post(self, body, timeout: float = 5, **kwargs) -> requests.Response:
        if isinstance(body, str):
            body = body.encode("utf-8")
        return requests.post(self.url(), data=body, timeout=timeout, **kwargs)

    def receive(self, timeout: float = 5) -> list[tuple[str, object]]:
        """GETs until something other than pings arrives (pings are answered); returns the other packets."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(timeout=max(0.5, deadline - time.monotonic()))
            assert r.status_code == 200, f"GET {r.url}: HTTP {r.status_code} {r.text[:300]!r}"
            packets = decode_payload(r.text)
            others = [p for p in packets if p[0] != "2"]
            if len(others) != len(packets):
                pong = self.post("3")
                assert pong.status_code == 200, f"pong POST: HTTP {pong.status_code}"
            if others:
                return others
            assert time.monotonic() < deadline, "no packet other than pings arrived in time"


# --------------------------------------------------------------------------------------------------------------
# HTTP over a plain socket


class ConnectionClosed(Exception):
    """The peer closed (or reset) the connection before a complete HTTP response arrived."""

    def __init__(self, msg: str, partial: bytes = b""):
        super().__init__(msg)
        self.partial = partial


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    raw_head: bytes = field(repr=False, default=b"")


def connect(port: int, timeout: float = 5) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def send_quietly(sock: socket.socket, data: bytes) -> bool:
    """sendall that tolerates the server closing early (it may answer and close before reading everything)."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False
    except socket.timeout:
        return False


def _recv(sock: socket.socket, deadline: float) -> bytes:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("timed out waiting for the server")
    sock.settimeout(remaining)
    try:
        return sock.recv(65536)
    except socket.timeout:
        raise TimeoutError("timed out waiting for the server") from None
    except ConnectionResetError:
        return b""


def read_http_response(sock: socket.socket, timeout: float = 5, buffered: bytes = b"",
                       head_only: bool = False) -> tuple[RawResponse, bytes]:
    """Reads one HTTP/1.1 response; returns it and whatever bytes followed it."""
    deadline = time.monotonic() + timeout
    buf = buffered
    while b"\r\n\r\n" not in buf:
        chunk = _recv(sock, deadline)
        if not chunk:
            raise ConnectionClosed("connection closed before the response head", buf)
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    assert parts[0].startswith("HTTP/1."), f"not an HTTP response: {lines[0]!r}"
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if head_only or status in (101, 204, 304) or 100 <= status < 200:
        return RawResponse(status, reason, headers, b"", head), rest
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            while b"\r\n" not in rest:
                chunk = _recv(sock, deadline)
                if not chunk:
                    raise ConnectionClosed("connection closed inside a chunked body", head + rest)
                rest += chunk
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                chunk = _recv(sock, deadline)
                if not chunk:
                    raise ConnectionClosed("connection closed inside a chunked body", head + rest)
                rest += chunk
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                return RawResponse(status, reason, headers, body, head), rest
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = _recv(sock, deadline)
            if not chunk:
                raise ConnectionClosed("connection closed inside the body", head + rest)
            rest += chunk
        return RawResponse(status, reason, headers, rest[:length], head), rest[length:]
    # No length: the body runs to the end of the connection.
    while True:
        chunk = _recv(sock, deadline)
        if not chunk:
            return RawResponse(status, reason, headers, rest, head), b""
        rest += chunk


def wait_closed(sock: socket.socket, timeout: float = 3) -> bool:
    """True when the peer closes (EOF or reset) within `timeout`, discarding anything it still sends."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if not _recv(sock, deadline):
                return True
        except TimeoutError:
            return False
        except OSError:
            return True


def raw_http(port: int, data: bytes, timeout: float = 5) -> RawResponse:
    """Sends `data` on a new connection and reads one response (the connection is closed afterwards)."""
    with connect(port, timeout) as sock:
        send_quietly(sock, data)
        response, _ = read_http_response(sock, timeout)
        return response


def http_request_bytes(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"",
                       port: int | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}" if port else "Host: 127.0.0.1"]
    hdrs = dict(headers or {})
    if body and "Content-Length" not in hdrs:
        hdrs["Content-Length"] = str(len(body))
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --------------------------------------------------------------------------------------------------------------
# WebSocket frames by hand

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def mask_bytes(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def build_frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, masked: bool = True) -> bytes:
    b0 = (0x80 if fin else 0) | ((rsv & 0x7) << 4) | (opcode & 0xF)
    mask_bit = 0x80 if masked else 0
    n = len(payload)
    if n < 126:
        head = bytes([b0, mask_bit | n])
    elif n < 65536:
        head = bytes([b0, mask_bit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mask_bit | 127]) + struct.pack("!Q", n)
    if masked:
        key = os.urandom(4)
        return head + key + mask_bytes(payload, key)
    return head + payload


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes
    masked: bool

    @property
    def close_code(self) -> int:
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else 1005


class RawWebSocket:
    """A WebSocket client over a plain socket: the upgrade written by hand, frames built and parsed here."""

    def __init__(self, sock: socket.socket, buffered: bytes = b"", response: RawResponse | None = None):
        self.sock = sock
        self.buf = buffered
        self.response = response

    @classmethod
    def connect(cls, port: int, **query) -> "RawWebSocket":
        query.setdefault("transport", "websocket")
        sock = connect(port)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(http_request_bytes("GET", request_target(**query), {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13",
        }, port=port))
        response, rest = read_http_response(sock, head_only=True)
        assert response.status == 101, f"WebSocket upgrade: expected 101, got {response.status} {response.body!r}"
        expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        assert response.headers.get("sec-websocket-accept") == expected, response.headers
        return cls(sock, rest, response)

    def send_raw(self, data: bytes) -> bool:
        return send_quietly(self.sock, data)

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, masked: bool = True) -> bool:
        return self.send_raw(build_frame(opcode, payload, fin=fin, rsv=rsv, masked=masked))

    def send_text(self, text: str) -> bool:
        return self.send_frame(OP_TEXT, text.encode("utf-8"))

    def _fill(self, n: int, deadline: float) -> bool:
        while len(self.buf) < n:
            try:
                chunk = _recv(self.sock, deadline)
            except OSError:
                chunk = b""
            if not chunk:
                return False
            self.buf += chunk
        return True

    def recv_frame(self, timeout: float = 5) -> Frame | None:
        """The next frame, or None when the connection ends first. Raises TimeoutError."""
        deadline = time.monotonic() + timeout
        if not self._fill(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if not self._fill(4, deadline):
                return None
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            if not self._fill(10, deadline):
                return None
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            if not self._fill(pos + 4, deadline):
                return None
            key = self.buf[pos:pos + 4]
            pos += 4
        if not self._fill(pos + n, deadline):
            return None
        payload = self.buf[pos:pos + n]
        self.buf = self.buf[pos + n:]
        if masked:
            payload = mask_bytes(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 0x7, b0 & 0xF, payload, masked)

    def recv_message(self, timeout: float = 5, answer_pings: bool = True) -> Frame | None:
        """The next text/binary/close frame; Engine.IO pings ("2") are answered with "3" and skipped."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if frame is None or frame.opcode in (OP_CLOSE, OP_BINARY):
                return frame
            if frame.opcode == OP_TEXT:
                if answer_pings and frame.payload == b"2":
                    self.send_text("3")
                    continue
                return frame

    def expect_close(self, timeout: float = 5, answer_pings: bool = True) -> Frame | None:
        """Reads until the server's close frame (returned) or the end of the connection (None)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv_message(max(0.0, deadline - time.monotonic()), answer_pings=answer_pings)
            if frame is None or frame.opcode == OP_CLOSE:
                return frame

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------------------------------------------
# websocket-client


def ws_connect(base: str, timeout: float = 5, path: str = EIO_PATH, **query) -> websocket.WebSocket:
    return websocket.create_connection(eio_ws_url(base, path, **query), timeout=timeout)


def ws_next(ws: websocket.WebSocket, timeout: float = 5) -> tuple[str, object]:
    """("text", str) | ("binary", bytes) | ("close", code) | ("eof", None); raises TimeoutError."""
    ws.settimeout(timeout)
    try:
        opcode, frame = ws.recv_data_frame(control_frame=False)
    except websocket.WebSocketTimeoutException:
        raise TimeoutError(f"no WebSocket frame within {timeout} s") from None
    except (websocket.WebSocketException, ConnectionError, OSError):
        # closed, reset, or bytes that are not a WebSocket frame (e.g. an HTTP error written after the 101)
        return ("eof", None)
    if opcode == websocket.ABNF.OPCODE_TEXT:
        return ("text", frame.data.decode("utf-8"))
    if opcode == websocket.ABNF.OPCODE_BINARY:
        return ("binary", bytes(frame.data))
    if opcode == websocket.ABNF.OPCODE_CLOSE:
        data = frame.data or b""
        return ("close", struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005)
    return ("other", frame)


def ws_expect_closed(ws: websocket.WebSocket, timeout: float, answer_pings: bool = False) -> tuple[str, object]:
    """Reads until the server closes the WebSocket; returns ("close", code) or ("eof", None)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"WebSocket still open after {timeout} s")
        try:
            kind, data = ws_next(ws, remaining)
        except TimeoutError:
            raise TimeoutError(f"WebSocket still open after {timeout} s") from None
        if kind in ("close", "eof"):
            return kind, data
        if answer_pings and kind == "text" and data == "2":
            ws.send("3")


# --------------------------------------------------------------------------------------------------------------
# The real python-engineio client


class EchoClient:
    """An engineio.Client connected to the echo server; `roundtrip()` checks one message comes back unchanged."""

    def __init__(self, base: str, transports=None, path: str = "engine.io"):
        self.client = engineio.Client()
        self.messages: queue.Queue = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.disconnect_reason = None
        self.client.on("connect", self.connected.set)
        self.client.on("message", self.messages.put)
        self.client.on("disconnect", self._on_disconnect)
        self.client.connect(base, transports=transports, engineio_path=path)

    def _on_disconnect(self, reason=None):
        self.disconnect_reason = reason
        self.disconnected.set()

    @property
    def transport(self) -> str:
        return self.client.transport()

    @property
    def is_connected(self) -> bool:
        return self.client.state == "connected" and not self.disconnected.is_set()

    def send(self, data) -> None:
        self.client.send(data)

    def receive(self, timeout: float = 10):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no message echoed within {timeout} s (state {self.client.state}, "
                f"transport {self.client.transport()}, disconnected: {self.disconnected.is_set()})") from None

    def roundtrip(self, data, timeout: float = 10) -> float:
        """Sends `data`, asserts the same value comes back, returns the round-trip time in seconds."""
        start = time.monotonic()
        self.send(data)
        got = self.receive(timeout)
        elapsed = time.monotonic() - start
        assert type(got) is type(data), f"sent {type(data).__name__}, got {type(got).__name__}"
        assert got == data, f"echo differs: sent {len(data)} items, got {len(got)}"
        return elapsed

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:  # teardown of an already broken client must not mask the test's own result
            pass


# --------------------------------------------------------------------------------------------------------------
# the conformance suites' helpers


def in_background(fn, *args, **kwargs):
    """Runs fn in a thread; returns a callable that joins it and returns its result (or re-raises)."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed back to the caller
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def result(timeout=10):
        t.join(timeout)
        assert not t.is_alive(), f"background request still running after {timeout} s"
        if "error" in box:
            raise box["error"]
        return box["value"]

    return result


def ws_refused(url):
    """A WebSocket connection attempt the server must refuse: no 101, or closed right after it."""
    try:
        ws = websocket.create_connection(url, timeout=5)
    except websocket.WebSocketBadStatusException as e:
        assert e.status_code == 400, f"{url}: expected the upgrade refused with HTTP 400, got {e.status_code}"
        return
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        return
    try:
        ws_expect_closed(ws, timeout=3)
    finally:
        ws.close()
