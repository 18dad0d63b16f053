"""Hostile requests the reference server (Node engine.io 6 with ws 8) answers in a particular way, answered the
same way here (issue 14's five edge cases). Raw sockets, so the test sees exactly what the server writes."""

from __future__ import annotations

import base64
import os
import time

import requests

from eio_util import (OP_CLOSE, OP_TEXT, Polling, RawWebSocket, connect, http_request_bytes, read_http_response,
                      request_target, send_quietly, wait_closed)


def upgrade_request(port: int, headers: dict[str, str] | None = None, **query) -> bytes:
    query.setdefault("transport", "websocket")
    base = {"Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), "Sec-WebSocket-Version": "13"}
    base.update(headers or {})
    return http_request_bytes("GET", request_target(**query), base, port=port)


def test_upgrade_with_polling_transport_is_accepted_then_closed_without_a_session(server):
    """1. The reference answers 101 and closes at once (a close frame without status), never sending an open
    packet."""
    ws = RawWebSocket.connect(server.port, transport="polling")
    try:
        frame = ws.recv_frame(timeout=5)
        assert frame is not None, "the connection ended without a close frame"
        assert frame.opcode == OP_CLOSE, f"expected a close frame first, got opcode {frame.opcode} {frame.payload!r}"
        assert frame.payload == b"", "closed without a status code, as ws's close() does"
        assert wait_closed(ws.sock, timeout=3)
    finally:
        ws.close()


def test_second_concurrent_post_is_refused_and_the_first_is_dropped(server):
    """2. A POST whose body is still arriving, then a second POST: the second gets 400, the session is closed and
    the first request's connection is dropped at once."""
    session = Polling.open(server.url)
    first = connect(server.port)
    try:
        head = http_request_bytes("POST", request_target(sid=session.sid), {"Content-Type": "text/plain;charset=UTF-8",
                                  "Content-Length": "100"}, port=server.port)
        assert send_quietly(first, head + b"4hel")  # 4 of 100 bytes
        time.sleep(0.2)
        second = session.post("4second", timeout=5)
        assert second.status_code == 400
        started = time.monotonic()
        assert wait_closed(first, timeout=2), "the first POST's connection was left open"
        assert time.monotonic() - started < 1.5
        gone = session.get(timeout=5)
        assert gone.status_code == 400 and gone.json()["code"] == 1, "the session was closed"
    finally:
        first.close()


def test_upgrade_with_a_thousand_small_headers_is_accepted(server):
    """3. About 9 KB of headers in 1,000 lines: within the reference's 16 KB, so accepted."""
    extra = {f"x-h{i}": "v" for i in range(1000)}
    request = upgrade_request(server.port, extra)
    assert 8_000 < len(request) < 16_000
    sock = connect(server.port)
    try:
        sock.sendall(request)
        response, rest = read_http_response(sock, head_only=True)
        assert response.status == 101, response.status
        ws = RawWebSocket(sock, rest, response)
        frame = ws.recv_message(timeout=5)
        assert frame is not None and frame.opcode == OP_TEXT and frame.payload.startswith(b"0{"), frame
    finally:
        sock.close()


def test_invalid_websocket_protocol_list_is_refused(server):
    """4. `Sec-WebSocket-Protocol: b<10,000 spaces>x` is not a token list: 400 at once, as ws answers."""
    sock = connect(server.port)
    try:
        sock.sendall(upgrade_request(server.port, {"Sec-WebSocket-Protocol": "b" + " " * 10_000 + "x"}))
        response, _ = read_http_response(sock)
        assert response.status == 400
        assert b"Invalid Sec-WebSocket-Protocol header" in response.body
        assert wait_closed(sock, timeout=3)
    finally:
        sock.close()


def test_valid_websocket_protocol_list_selects_the_first(server):
    """A valid list is answered with its first protocol, as ws does without a handleProtocols hook (a browser
    that offers protocols fails the connection when none is selected)."""
    sock = connect(server.port)
    try:
        sock.sendall(upgrade_request(server.port, {"Sec-WebSocket-Protocol": "chat, superchat"}))
        response, _ = read_http_response(sock, head_only=True)
        assert response.status == 101
        assert response.headers.get("sec-websocket-protocol") == "chat"
    finally:
        sock.close()


def test_duplicate_websocket_protocols_are_refused(server):
    sock = connect(server.port)
    try:
        sock.sendall(upgrade_request(server.port, {"Sec-WebSocket-Protocol": "chat, chat"}))
        response, _ = read_http_response(sock)
        assert response.status == 400
    finally:
        sock.close()


def test_upgrade_packet_without_probe_is_accepted(server):
    """5. The `5` packet straight away, without `2probe`/`3probe`: the reference upgrades anyway."""
    session = Polling.open(server.url)
    ws = RawWebSocket.connect(server.port, sid=session.sid)
    try:
        ws.send_text("5")
        time.sleep(0.2)
        ws.send_text("4after-upgrade")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            frame = ws.recv_message(timeout=max(0.1, deadline - time.monotonic()))
            assert frame is not None and frame.opcode == OP_TEXT, frame
            if frame.payload == b"4after-upgrade":
                break
        else:
            raise AssertionError("no echo over the upgraded WebSocket")
        # Polling is over for this session: a GET is now a transport mismatch.
        r = requests.get(session.url(), timeout=5)
        assert r.status_code == 400
    finally:
        ws.close()
