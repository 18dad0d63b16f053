"""The cases of the official Socket.IO v5 conformance suite (socketio/socket.io-protocol, test-suite/test-suite.js),
one test per case, rewritten in Python against `/socket.io/`: requests for HTTP long-polling, websocket-client for
WebSocket. The suite has two parts: the Engine.IO cases again (on the Socket.IO endpoint, with the same heartbeat
settings) and the Socket.IO cases.

Deviations from the original, each to remove a race it usually wins, never to relax what it checks:
- the original awaits one frame at a time and ignores pings only in `waitForPackets`; here pings are answered and
  skipped everywhere the case is not about the heartbeat;
- where it fires two requests "at the same time", the port makes the intended order explicit and retries when the
  ping timer wins.
"""

import json
import threading
import time

import pytest
import requests
import websocket

from eio_util import MAX_PAYLOAD, PING_INTERVAL, PING_TIMEOUT, ws_expect_closed, ws_next
from sio_util import SioPolling, WireSocket, sio_url, sio_ws_connect, sio_ws_url

OPEN_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}


def _in_background(fn, *args, **kwargs):
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


def _ws_refused(url):
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


def _check_open_packet(value: dict, upgrades: list) -> None:
    assert set(value) == OPEN_KEYS, value
    assert isinstance(value["sid"], str)
    assert value["upgrades"] == upgrades
    assert value["pingInterval"] == int(PING_INTERVAL * 1000)
    assert value["pingTimeout"] == int(PING_TIMEOUT * 1000)
    assert value["maxPayload"] == MAX_PAYLOAD


def _next_non_ping(ws, timeout=5):
    """The next frame that is not an Engine.IO ping (pings are answered)."""
    deadline = time.monotonic() + timeout
    while True:
        kind, data = ws_next(ws, max(0.0, deadline - time.monotonic()))
        if (kind, data) != ("text", "2"):
            return kind, data
        ws.send("3")


@pytest.fixture
def wire(server):
    """initSocketIOConnection(): a WebSocket session connected to the main namespace, `auth` packet consumed."""
    w = WireSocket(server.url)
    w.send("40")
    reply = w.expect_text()
    assert reply.startswith("40{"), reply
    w.expect('42["auth",{}]')
    yield w
    w.close()


# ==============================================================================================================
# Engine.IO protocol (on /socket.io/)
# --------------------------------------------------------------------------------------------------------------
# handshake / HTTP long-polling


def test_eio_handshake_polling_opens_session(server):
    r = requests.get(sio_url(server.url), timeout=5)
    assert r.status_code == 200
    assert r.text.startswith("0")
    _check_open_packet(json.loads(r.text[1:]), ["websocket"])


def test_eio_handshake_polling_invalid_eio(server):
    assert requests.get(sio_url(server.url, EIO=None), timeout=5).status_code == 400
    assert requests.get(sio_url(server.url, EIO="abc"), timeout=5).status_code == 400


def test_eio_handshake_polling_invalid_transport(server):
    assert requests.get(sio_url(server.url, transport=None), timeout=5).status_code == 400
    assert requests.get(sio_url(server.url, transport="abc"), timeout=5).status_code == 400


def test_eio_handshake_polling_invalid_method(server):
    assert requests.post(sio_url(server.url), timeout=5).status_code == 400
    assert requests.put(sio_url(server.url), timeout=5).status_code == 400


# --------------------------------------------------------------------------------------------------------------
# handshake / WebSocket


def test_eio_handshake_websocket_opens_session(server):
    ws = sio_ws_connect(server.url)
    try:
        kind, data = ws_next(ws)
        assert kind == "text" and data.startswith("0"), (kind, data)
        _check_open_packet(json.loads(data[1:]), [])
    finally:
        ws.close()


def test_eio_handshake_websocket_invalid_eio(server):
    _ws_refused(sio_ws_url(server.url, EIO=None))
    _ws_refused(sio_ws_url(server.url, EIO="abc"))


def test_eio_handshake_websocket_invalid_transport(server):
    _ws_refused(sio_ws_url(server.url, transport=None))
    _ws_refused(sio_ws_url(server.url, transport="abc"))


# --------------------------------------------------------------------------------------------------------------
# heartbeat


def test_eio_heartbeat_polling_ping_pong(server):
    session = SioPolling.open(server.url)
    for _ in range(3):
        poll = session.get()
        assert poll.status_code == 200
        assert poll.text == "2"
        push = session.post("3")
        assert push.status_code == 200


def test_eio_heartbeat_polling_ping_timeout_closes_session(server):
    session = SioPolling.open(server.url)
    time.sleep(PING_INTERVAL + PING_TIMEOUT + 0.3)  # the suite sleeps exactly 500 ms; some slack avoids a race
    assert session.get().status_code == 400


def test_eio_heartbeat_websocket_ping_pong(server):
    ws = sio_ws_connect(server.url)
    try:
        assert ws_next(ws)[0] == "text"  # handshake
        for _ in range(3):
            assert ws_next(ws, timeout=2) == ("text", "2")
            ws.send("3")
    finally:
        ws.close()


def test_eio_heartbeat_websocket_ping_timeout_closes_session(server):
    ws = sio_ws_connect(server.url)
    try:
        assert ws_next(ws)[0] == "text"  # handshake
        ws_expect_closed(ws, timeout=PING_INTERVAL + PING_TIMEOUT + 1.5)
    finally:
        ws.close()


# --------------------------------------------------------------------------------------------------------------
# close


def test_eio_close_polling_forcefully_closes_session(server):
    for _attempt in range(3):
        session = SioPolling.open(server.url)
        pending = _in_background(session.get, timeout=5)
        time.sleep(0.05)  # the poll is pending on the server when the close packet arrives
        push = session.post("1")
        poll = pending()
        if poll.text == "2":
            continue  # the ping timer fired first: try again
        assert poll.status_code == 200
        assert poll.text == "6"
        assert push.status_code == 200
        assert session.get().status_code == 400
        return
    pytest.fail("the ping timer beat the close packet three times")


def test_eio_close_websocket_forcefully_closes_session(server):
    ws = sio_ws_connect(server.url)
    try:
        assert ws_next(ws)[0] == "text"  # handshake
        ws.send("1")
        ws_expect_closed(ws, timeout=2)
    finally:
        ws.close()


# --------------------------------------------------------------------------------------------------------------
# upgrade


def test_eio_upgrade_polling_to_websocket(server):
    session = SioPolling.open(server.url)
    ws = sio_ws_connect(server.url, sid=session.sid)
    try:
        ws.send("2probe")
        assert ws_next(ws) == ("text", "3probe")
        ws.send("5")
        # Beyond the suite: the upgraded session carries Socket.IO.
        ws.send("40")
        kind, data = _next_non_ping(ws)
        assert kind == "text" and data.startswith("40{"), (kind, data)
    finally:
        ws.close()


def test_eio_upgrade_ignores_http_requests_with_same_sid_after_upgrade(server):
    session = SioPolling.open(server.url)
    ws = sio_ws_connect(server.url, sid=session.sid)
    try:
        ws.send("2probe")
        assert ws_next(ws) == ("text", "3probe")  # the suite does not wait; waiting makes the order certain
        ws.send("5")
        time.sleep(0.05)
        assert session.get().status_code == 400
    finally:
        ws.close()


def test_eio_upgrade_ignores_websocket_with_same_sid_after_upgrade(server):
    session = SioPolling.open(server.url)
    ws = sio_ws_connect(server.url, sid=session.sid)
    try:
        ws.send("2probe")
        assert ws_next(ws) == ("text", "3probe")
        ws.send("5")
        time.sleep(0.05)
        _ws_refused(sio_ws_url(server.url, sid=session.sid))
    finally:
        ws.close()


# ==============================================================================================================
# Socket.IO protocol
# --------------------------------------------------------------------------------------------------------------
# connect


def _connect_case(server, packet: str, prefix: str, auth_packet: str) -> None:
    w = WireSocket(server.url)
    try:
        w.send(packet)
        reply = w.expect_text()
        assert reply.startswith(prefix), reply
        handshake = json.loads(reply[len(prefix):])
        assert set(handshake) == {"sid"}, handshake
        assert isinstance(handshake["sid"], str)
        w.expect(auth_packet)
    finally:
        w.close()


def test_connect_main_namespace(server):
    _connect_case(server, "40", "40", '42["auth",{}]')


def test_connect_main_namespace_with_payload(server):
    _connect_case(server, '40{"token":"123"}', "40", '42["auth",{"token":"123"}]')


def test_connect_custom_namespace(server):
    _connect_case(server, "40/custom,", "40/custom,", '42/custom,["auth",{}]')


def test_connect_custom_namespace_with_payload(server):
    _connect_case(server, '40/custom,{"token":"abc"}', "40/custom,", '42/custom,["auth",{"token":"abc"}]')


def test_connect_unknown_namespace_refused(server):
    w = WireSocket(server.url)
    try:
        w.send("40/random")
        w.expect('44/random,{"message":"Invalid namespace"}')
    finally:
        w.close()


def test_connect_invalid_handshake_closes(server):
    w = WireSocket(server.url)
    try:
        w.send("4abc")
        w.expect_ended(timeout=2)
    finally:
        w.close()


def test_connect_no_handshake_closes(server):
    w = WireSocket(server.url)
    try:
        # The suite does not answer pings, so the heartbeat may close first; answering them leaves
        # connectTimeout (1000 ms) as the only reason to close.
        start = time.monotonic()
        w.expect_ended(timeout=5)
        assert time.monotonic() - start < 3
    finally:
        w.close()


# --------------------------------------------------------------------------------------------------------------
# disconnect


def test_disconnect_main_namespace(wire):
    wire.send("41")
    # The suite: the next frame is the server's ping, i.e. nothing is answered and the session stays open.
    assert ws_next(wire.ws, timeout=2) == ("text", "2")
    wire.ws.send("3")


def test_connect_then_disconnect_custom_namespace(wire):
    assert ws_next(wire.ws, timeout=2) == ("text", "2")  # the suite waits for a ping first
    wire.ws.send("3")
    wire.send("40/custom")
    reply = wire.expect_text()
    assert reply.startswith("40/custom,"), reply
    wire.expect('42/custom,["auth",{}]')
    wire.send("41/custom")
    wire.send('42["message","message to main namespace"]')
    wire.expect('42["message-back","message to main namespace"]')


# --------------------------------------------------------------------------------------------------------------
# message


def test_message_plain_text(wire):
    wire.send('42["message",1,"2",{"3":[true]}]')
    wire.expect('42["message-back",1,"2",{"3":[true]}]')


def test_message_binary_attachments(wire):
    wire.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
              bytes([1, 2, 3]), bytes([4, 5, 6]))
    wire.expect('452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    assert wire.recv() == ("binary", bytes([1, 2, 3]))
    assert wire.recv() == ("binary", bytes([4, 5, 6]))


def test_message_plain_text_with_ack(wire):
    wire.send('42456["message-with-ack",1,"2",{"3":[false]}]')
    wire.expect('43456[1,"2",{"3":[false]}]')


def test_message_binary_attachments_with_ack(wire):
    wire.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
              bytes([1, 2, 3]), bytes([4, 5, 6]))
    wire.expect('462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    assert wire.recv() == ("binary", bytes([1, 2, 3]))
    assert wire.recv() == ("binary", bytes([4, 5, 6]))


@pytest.mark.parametrize("packet", [
    pytest.param("4abc", id="unknown-packet-type"),
    pytest.param("42{}", id="invalid-payload-format"),
    pytest.param('42abc["message-with-ack",1,"2",{"3":[false]}]', id="invalid-ack-id"),
])
def test_message_invalid_format_closes(wire, packet):
    wire.send(packet)
    wire.expect_ended(timeout=2)
