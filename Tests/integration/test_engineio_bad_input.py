"""Bad input: each is answered with the right error and leaves other sessions alone.

Two healthy python-engineio clients (one polling, one websocket) stay connected to the shared server across this
module; after every test both must still echo.
"""

import threading
import time

import pytest
import requests

from eio_util import (
    MAX_PAYLOAD, OP_BINARY, OP_CLOSE, OP_CONT, OP_TEXT, EchoClient, Polling, RawWebSocket, assert_error,
    connect, eio_url, http_request_bytes, parse_open, raw_http, read_http_response, request_target,
    send_quietly, wait_closed,
)


HEALTHY_TRANSPORTS = (["polling"], ["websocket"])


@pytest.fixture(scope="module")
def _healthy_clients(_session_server):
    clients = [EchoClient(_session_server.url, t) for t in HEALTHY_TRANSPORTS]
    yield clients
    for c in clients:
        c.close()


@pytest.fixture
def healthy(server, _healthy_clients):
    """The module's long-lived clients; one broken by an earlier (already failed) test is replaced first."""
    for i, c in enumerate(_healthy_clients):
        if not c.is_connected or c.client.sid is None:
            c.close()
            _healthy_clients[i] = EchoClient(server.url, HEALTHY_TRANSPORTS[i])
    return _healthy_clients


@pytest.fixture(autouse=True)
def other_sessions_unharmed(server, healthy):
    for c in healthy:
        c.roundtrip("before")
    yield
    for c in healthy:
        assert c.is_connected, f"healthy {c.transport} client was disconnected ({c.disconnect_reason})"
        c.roundtrip("after")
        c.roundtrip(b"\x00after")
    # And new sessions can still be made.
    assert parse_open(requests.get(eio_url(server.url), timeout=5).text)["sid"]


# ------------------------------------------------------------------------------------------------------------
# query and method errors


@pytest.mark.parametrize("transport", ["__proto__", "constructor", "toString", "hasOwnProperty", "webtransport",
                                       "POLLING", ""])
def test_unknown_transport(server, transport):
    assert_error(requests.get(eio_url(server.url, transport=transport), timeout=5), 400, 0)


def test_missing_transport(server):
    assert_error(requests.get(eio_url(server.url, transport=None), timeout=5), 400, 0)


@pytest.mark.parametrize("sid", ["unknown-sid-0123456789", "__proto__", "constructor", "toString", "x"])
def test_unknown_sid(server, sid):
    assert_error(requests.get(eio_url(server.url, sid=sid), timeout=5), 400, 1)
    assert_error(requests.post(eio_url(server.url, sid=sid), data=b"4hello", timeout=5), 400, 1)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_handshake_with_bad_method(server, method):
    assert_error(requests.request(method, eio_url(server.url), data=b"4x", timeout=5), 400, 2)


@pytest.mark.parametrize("eio", ["3", None, "abc", "5", ""])
def test_unsupported_protocol_version(server, eio):
    assert_error(requests.get(eio_url(server.url, EIO=eio), timeout=5), 400, 5)


def test_forbidden_by_allow_request(server):
    assert_error(requests.get(eio_url(server.url, forbid="1"), timeout=5), 403, 4)


def test_websocket_handshake_forbidden(server):
    """forbid=1 on a direct WebSocket handshake: no session (refused before or right after the 101)."""
    try:
        ws = RawWebSocket.connect(server.port, forbid="1")
    except AssertionError as e:
        assert "expected 101, got 403" in str(e) or "expected 101, got 400" in str(e), str(e)
        return
    try:
        frame = ws.recv_frame(timeout=3)
        assert frame is None or frame.opcode == OP_CLOSE or not frame.payload.startswith(b"0"), \
            "a forbidden WebSocket handshake got an open packet"
    finally:
        ws.close()


# ------------------------------------------------------------------------------------------------------------
# polling sessions misused


def test_duplicate_get_closes_session(server):
    for _attempt in range(3):
        session = Polling.open(server.url)
        with connect(server.port) as first:
            first.sendall(http_request_bytes("GET", request_target(sid=session.sid), port=server.port))
            time.sleep(0.1)  # the first poll is pending
            second = requests.get(session.url(), timeout=5)
            response, _ = read_http_response(first)
        if response.body == b"2":
            continue  # the ping timer answered the first poll before the second arrived: the race is lost, retry
        assert second.status_code == 400, f"second concurrent GET: HTTP {second.status_code} {second.text!r}"
        assert response.status == 200
        assert b"1" in response.body.split(b"\x1e"), f"first GET should end with a close packet: {response.body!r}"
        assert_error(session.get(), 400, 1)
        return
    pytest.fail("the ping timer beat the duplicate poll three times")


def test_duplicate_post_closes_session(server):
    session = Polling.open(server.url)
    body = b"4" + b"a" * 100_000
    head = http_request_bytes("POST", request_target(sid=session.sid),
                              {"Content-Type": "text/plain;charset=UTF-8", "Content-Length": str(len(body))},
                              port=server.port)
    with connect(server.port) as slow:
        slow.sendall(head + body[:10])  # the first POST is under way: headers and the start of the body
        time.sleep(0.1)
        second = requests.post(session.url(), data=b"4second", timeout=5)
        assert second.status_code == 400, f"second concurrent POST: HTTP {second.status_code} {second.text!r}"
        send_quietly(slow, body[10:])
    assert_error(session.get(), 400, 1)


def test_post_with_octet_stream_content_type_is_answered(server):
    """EIO 4 payloads are text; a binary Content-Type is refused with 400 (and the session closed), not left
    hanging."""
    session = Polling.open(server.url)
    r = session.post(b"4hello", headers={"Content-Type": "application/octet-stream"}, timeout=5)
    assert r.status_code == 400, f"HTTP {r.status_code} {r.text!r}"
    assert session.get().status_code == 400


@pytest.mark.parametrize("body", [
    pytest.param("9abc", id="unknown-type"),
    pytest.param("abc", id="not-a-type"),
    pytest.param("", id="empty-payload"),
    pytest.param("4a\x1e\x1e4b", id="empty-packet-inside"),
    pytest.param("4a\x1e", id="empty-packet-at-end"),
])
def test_malformed_payload_is_refused_and_closes_session(server, body):
    session = Polling.open(server.url)
    r = session.post(body)
    assert r.status_code == 400, f"POST {body!r}: HTTP {r.status_code} {r.text!r}"
    assert session.get().status_code == 400


def test_client_ping_is_a_protocol_error(server):
    """In EIO 4 only the server pings; a client ping over polling closes the session."""
    session = Polling.open(server.url)
    session.post("2")
    time.sleep(0.05)
    assert session.get().status_code == 400


def test_oversize_post_is_refused_with_413(server):
    session = Polling.open(server.url)
    body = b"4" + b"x" * MAX_PAYLOAD  # one byte over
    data = http_request_bytes("POST", request_target(sid=session.sid),
                              {"Content-Type": "text/plain;charset=UTF-8"}, body, port=server.port)
    response = raw_http(server.port, data, timeout=10)
    assert response.status == 413, f"expected 413, got {response.status} {response.body[:200]!r}"


def test_post_of_exactly_max_payload_is_accepted(server):
    session = Polling.open(server.url)
    body = "4" + "y" * (MAX_PAYLOAD - 1)
    r = session.post(body, timeout=20)
    assert r.status_code == 200 and r.text == "ok", f"HTTP {r.status_code} {r.text[:200]!r}"
    received = session.receive(timeout=20)
    assert received == [("4", "y" * (MAX_PAYLOAD - 1))]


# ------------------------------------------------------------------------------------------------------------
# WebSocket frames


def _open_ws(server) -> RawWebSocket:
    ws = RawWebSocket.connect(server.port)
    frame = ws.recv_frame()
    assert frame is not None and frame.opcode == OP_TEXT and frame.payload.startswith(b"0"), frame
    return ws


def _expect_close_code(ws: RawWebSocket, code: int, what: str) -> None:
    frame = ws.expect_close(timeout=5)
    assert frame is not None, f"{what}: the server dropped the connection without a close frame (expected {code})"
    assert frame.close_code == code, f"{what}: close code {frame.close_code}, expected {code}"
    assert wait_closed(ws.sock, timeout=3), f"{what}: TCP connection still open after the close frame"


@pytest.mark.timeout(60)
def test_websocket_oversize_frame_closed_with_1009(server):
    ws = _open_ws(server)
    try:
        ws.send_frame(OP_TEXT, b"4" + b"z" * MAX_PAYLOAD)
        _expect_close_code(ws, 1009, "single frame of maxPayload+1 bytes")
    finally:
        ws.close()


@pytest.mark.timeout(60)
def test_websocket_oversize_fragmented_message_closed_with_1009(server):
    ws = _open_ws(server)
    try:
        part = b"z" * (MAX_PAYLOAD // 2 + 1)
        ws.send_frame(OP_TEXT, b"4" + part, fin=False)
        ws.send_frame(OP_CONT, part, fin=True)
        _expect_close_code(ws, 1009, "two fragments adding up to more than maxPayload")
    finally:
        ws.close()


def test_websocket_fragmented_message_within_limit_is_echoed(server):
    ws = _open_ws(server)
    try:
        ws.send_frame(OP_TEXT, b"4frag", fin=False)
        ws.send_frame(OP_CONT, b"men", fin=False)
        ws.send_frame(OP_CONT, b"ted", fin=True)
        frame = ws.recv_message()
        assert frame is not None and (frame.opcode, frame.payload) == (OP_TEXT, b"4fragmented"), frame
        ws.send_frame(OP_BINARY, b"\x01\x02", fin=False)
        ws.send_frame(OP_CONT, b"\x03", fin=True)
        frame = ws.recv_message()
        assert frame is not None and (frame.opcode, frame.payload) == (OP_BINARY, b"\x01\x02\x03"), frame
    finally:
        ws.close()


@pytest.mark.parametrize("rsv", [4, 2, 1], ids=["rsv1", "rsv2", "rsv3"])
def test_websocket_rsv_bits_closed_with_1002(server, rsv):
    ws = _open_ws(server)
    try:
        ws.send_frame(OP_TEXT, b"4hello", rsv=rsv)
        _expect_close_code(ws, 1002, f"text frame with RSV bits {rsv:03b}")
    finally:
        ws.close()


def test_websocket_unmasked_frame_closed_with_1002(server):
    ws = _open_ws(server)
    try:
        ws.send_frame(OP_TEXT, b"4hello", masked=False)
        _expect_close_code(ws, 1002, "unmasked client frame")
    finally:
        ws.close()


def test_websocket_upgrade_without_key_is_refused(server):
    data = http_request_bytes("GET", request_target(transport="websocket"), {
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}, port=server.port)
    response = raw_http(server.port, data)
    assert response.status == 400, f"expected 400, got {response.status} {response.body[:200]!r}"


# ------------------------------------------------------------------------------------------------------------
# abusive HTTP


@pytest.mark.parametrize("flood", ["10000-headers", "100KB-header"])
def test_header_flood_is_refused(server, flood):
    if flood == "10000-headers":
        headers = {f"X-Flood-{i}": "v" for i in range(10_000)}
    else:
        headers = {"X-Flood": "v" * 100_000}
    data = http_request_bytes("GET", request_target(), headers, port=server.port)
    with connect(server.port, timeout=10) as sock:
        send_quietly(sock, data)
        response, _ = read_http_response(sock, timeout=10)
        assert response.status in (400, 431), f"expected 400 or 431, got {response.status}"
        assert wait_closed(sock, timeout=5), "connection still open after refusing the header flood"


@pytest.mark.timeout(30)
def test_slow_client_does_not_delay_others(server, healthy):
    request = http_request_bytes("GET", request_target(), {"User-Agent": "trickle", "Accept": "*/*"},
                                 port=server.port)
    stop = threading.Event()
    sent = []

    def trickle():
        try:
            with connect(server.port, timeout=10) as sock:
                for i in range(len(request)):
                    if stop.is_set():
                        return
                    if not send_quietly(sock, request[i:i + 1]):
                        return
                    sent.append(i)
                    time.sleep(0.02)
        except OSError:
            pass

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        time.sleep(0.2)
        latencies = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            for c in healthy:
                latencies.append(c.roundtrip(f"ping {len(latencies)}"))
            time.sleep(0.05)
        assert sent, "the trickling client could not send anything"
        assert max(latencies) < 0.5, f"echo round trips up to {max(latencies):.3f} s while a client trickles"
    finally:
        stop.set()
        t.join(5)
