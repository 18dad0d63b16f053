"""Bad Socket.IO input, each case a test, sent at the wire level on one connection (over WebSocket and over HTTP
long-polling): the offending connection is closed (WebSocket: the server closes it; polling: the session ends),
and nothing else is harmed.

Two healthy python-socketio clients (one polling, one websocket, on `/` and `/features`) stay connected to the
shared server across this module; after every test both must still get `message-back`, and new connections must
still work.

The reference is socket.io 4.8 (packages/socket.io/lib/client.ts and packages/socket.io-parser/lib/index.ts):
- a packet the parser refuses -> Client.onerror() -> conn.close(): the sockets leave with "forced close";
- a packet that is well-formed but not valid in the connection's state (anything but CONNECT for a namespace the
  connection has not joined, or CONNECT for one it has) -> Client.ondecoded() -> Client.close(): the sockets leave
  with "forced server close";
- connectTimeout: no namespace joined in time -> Client.close().
"""

import time

import pytest
import requests

from sio_util import Ended, SioClient, open_wire, sio_url

F = "/features"
HEALTHY_TRANSPORTS = (["polling"], ["websocket"])
WIRE_TRANSPORTS = ["websocket", "polling"]
CONNECT_TIMEOUT = 1.0  # seconds, as the server is configured


def _healthy_client(base, transports):
    return SioClient(base, transports=transports, namespaces=["/", F])


@pytest.fixture(scope="module")
def _healthy_clients(_session_server):
    clients = [_healthy_client(_session_server.url, t) for t in HEALTHY_TRANSPORTS]
    yield clients
    for c in clients:
        c.close()


@pytest.fixture
def healthy(server, _healthy_clients):
    """The module's long-lived clients; one broken by an earlier (already failed) test is replaced first."""
    for i, c in enumerate(_healthy_clients):
        if not c.client.connected or set(c.client.namespaces) != {"/", F}:
            c.close()
            _healthy_clients[i] = _healthy_client(server.url, HEALTHY_TRANSPORTS[i])
    return _healthy_clients


def _message_back(c: SioClient, text: str) -> None:
    c.emit("message", text)
    deadline = time.monotonic() + 5
    while (text,) not in c.received("message-back"):
        assert time.monotonic() < deadline, (
            f"healthy {c.transports} client got no message-back for {text!r} "
            f"(connected: {c.client.connected}, namespaces: {list(c.client.namespaces)})")
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def other_connections_unharmed(server, healthy, request):
    for c in healthy:
        _message_back(c, f"before {request.node.name}")
    yield
    for c in healthy:
        assert c.client.connected, f"healthy {c.transports} client was disconnected: {c.received('disconnect')}"
        _message_back(c, f"after {request.node.name}")
        assert c.call("echo", {"bin": b"\x00after"}, ns=F) == [{"bin": b"\x00after"}]
    # And new connections can still be made.
    w = open_wire(server.url, "websocket")
    try:
        w.connect("/")
        w.roundtrip("new connection")
    finally:
        w.close()


@pytest.fixture(params=WIRE_TRANSPORTS)
def wire(request, server):
    """An Engine.IO connection to /socket.io/ (websocket or polling), no namespace joined yet."""
    w = open_wire(server.url, request.param)
    yield w
    w.close()


def last_disconnect(healthy, sid: str):
    """The reason the /features socket `sid` left with (None while it is connected)."""
    observer = healthy[0]
    deadline = time.monotonic() + 3
    while True:
        reason = observer.call1("last-disconnect", sid, ns=F)
        if reason is not None or time.monotonic() > deadline:
            return reason
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------------------------
# harmless


@pytest.mark.parametrize("packet", [
    '42["error"]',
    '42["error",{"message":"boom"}]',
    '42/features,["error"]',
    '42["error",1,2,3]',
    '4215["error"]',
], ids=["error", "error-with-object", "error-in-features", "error-with-args", "error-with-ack-id"])
def test_event_named_error_is_harmless(wire, packet):
    # An `error` event from a client is an ordinary event in the protocol (not a reserved name), and must not be
    # mistaken for an internal error, nor crash the server (CVE-2024-38355 in the reference: an EventEmitter "error"
    # without a listener threw; packages/socket.io/lib/socket.ts now registers `this.on("error", noop)`).
    wire.connect("/")
    wire.connect(F)
    wire.send(packet)
    wire.roundtrip("after error")
    wire.send('42/features,7["echo","still"]')
    wire.expect('43/features,7["still"]')


@pytest.mark.parametrize("packets", [
    ['42["no-such-event",1]', '421["no-such-event-with-ack"]'],
    ['42[1,"numeric event name"]'],
    ['43["ack without id"]', '4399["ack with an unknown id"]', '4399[]'],
], ids=["unknown-events", "numeric-event-name", "stray-acks"])
def test_well_formed_packets_without_a_handler_are_ignored(wire, packets):
    # Reference: an event nobody listens to is dropped; an ACK whose id is not pending is dropped ("bad ack",
    # Socket.onack()); a number is a valid event name (socket.io-parser isPayloadValid()).
    wire.connect("/")
    wire.send(*packets)
    wire.roundtrip("after ignored packets")


# ------------------------------------------------------------------------------------------------------------
# packets the parser refuses: the connection is closed, its sockets leave with "forced close"


MALFORMED = [
    pytest.param("42{}", id="event-payload-not-an-array"),
    pytest.param("4abc", id="unknown-packet-type"),
    pytest.param('42abc["message",1]', id="invalid-ack-id"),
    pytest.param('42[{"toString":"foo"}]', id="event-name-an-object"),
    pytest.param("42[]", id="event-without-name"),
    pytest.param("42[null]", id="event-name-null"),
    pytest.param('42["message",1', id="truncated-json"),
    pytest.param('42["message"]x', id="trailing-garbage"),
    pytest.param("47", id="packet-type-7"),
    pytest.param('40"a string"', id="connect-payload-not-an-object"),
    pytest.param('2[{"toString":"foo"}]', id="engineio-ping-from-client"),
] + [pytest.param(f'42["{name}"]', id=f"reserved-{name}") for name in
     ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]]


@pytest.mark.parametrize("packet", MALFORMED)
def test_malformed_packet_closes_the_connection(wire, healthy, packet):
    wire.connect("/")
    sid = wire.connect(F)
    wire.send(packet)
    wire.expect_ended()
    if not packet.startswith("2"):  # an Engine.IO protocol error closes the transport: "transport error"
        assert last_disconnect(healthy, sid) == "forced close"


@pytest.mark.parametrize("num", ['"splice"', "1", "-1", "0.5", "null", '"0"'],
                         ids=["string", "out-of-range", "negative", "fraction", "null", "numeric-string"])
def test_invalid_placeholder_closes_the_connection(wire, num):
    # socket.io-parser (binary.ts, _reconstructPacket) refuses a `num` that is not a number in [0, n); the issue
    # asks for an integer, so a fraction (which the reference lets through as `undefined`) is refused too.
    wire.connect("/")
    wire.send('451-["hello",{"_placeholder":true,"num":' + num + '}]', b"\x01\x02")
    wire.expect_ended()


@pytest.mark.parametrize("packet", ['45999999-["a"]', '4511-["message"]', '4599999999999999999999-["a"]'],
                         ids=["999999", "11-over-the-limit", "overflowing"])
def test_too_many_attachments_closes_the_connection(wire, packet):
    wire.connect("/")
    start = time.monotonic()
    wire.send(packet)
    wire.expect_ended()
    assert time.monotonic() - start < 3, "refused when the header is read, not after waiting for attachments"


def test_text_while_attachments_pending_closes_the_connection(wire):
    wire.connect("/")
    wire.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', b"\x01")
    wire.send('42["message","text while one attachment is still due"]')
    wire.expect_ended()


def test_binary_with_none_pending_closes_the_connection(wire):
    wire.connect("/")
    wire.send(b"\x01\x02\x03")
    wire.expect_ended()


def test_ten_attachments_are_accepted(wire):
    # The limit (10, as socket.io-parser's maxAttachments) itself is fine.
    wire.connect("/")
    placeholders = ",".join('{"_placeholder":true,"num":%d}' % i for i in range(10))
    wire.send(f'4510-["message",[{placeholders}]]', *[bytes([i]) for i in range(10)])
    wire.expect(f'4510-["message-back",[{placeholders}]]')
    for i in range(10):
        assert wire.recv() == ("binary", bytes([i]))


# ------------------------------------------------------------------------------------------------------------
# packets that are valid but not in this state: the reference closes the connection (Client.ondecoded())


# The CONNECT that follows the bad packet tells the two outcomes apart without a race against connectTimeout:
# the reference has closed the connection before it reads the CONNECT; a server that ignored the packet answers it.


def _expect_closed_before_connect(wire):
    try:
        reply = wire.recv(timeout=3)
    except Ended:
        return
    except TimeoutError:
        pytest.fail(f"{wire.transport}: neither closed nor was the CONNECT answered within 3 s")
    pytest.fail(f"{wire.transport}: the bad packet was ignored: the connection is open, CONNECT answered {reply!r}")


def test_event_before_connect(wire):
    wire.send('42["message","before connect"]', "40")
    _expect_closed_before_connect(wire)


def test_ack_before_connect(wire):
    wire.send('431["reply"]', "40")
    _expect_closed_before_connect(wire)


def test_binary_event_before_connect(wire):
    wire.send('451-["message",{"_placeholder":true,"num":0}]', b"\x01", "40")
    _expect_closed_before_connect(wire)


def test_binary_attachment_for_a_namespace_not_joined(wire, healthy):
    wire.connect("/")
    sid = wire.connect(F)
    wire.send('451-/custom,["message",{"_placeholder":true,"num":0}]', b"\x01\x02")
    wire.expect_ended(timeout=3)
    assert last_disconnect(healthy, sid) == "forced server close"


def test_event_for_a_namespace_refused_by_middleware(wire):
    wire.connect("/")
    wire.send("40/protected,")
    wire.expect('44/protected,{"message":"not authorized","data":{"code":401}}')
    wire.send('42/protected,["message","after refusal"]')
    wire.expect_ended(timeout=3)


def test_event_for_a_namespace_after_leaving_it(wire):
    wire.connect("/")
    wire.connect("/custom")
    wire.send("41/custom,")
    wire.roundtrip("left /custom")  # the DISCONNECT was processed
    wire.send('42/custom,["message","after leaving"]')
    wire.expect_ended(timeout=3)


def test_second_connect_to_a_joined_namespace(wire):
    wire.connect("/")
    wire.send("40")
    wire.expect_ended(timeout=3)


def test_refused_connect_is_answered_and_the_connection_stays(wire):
    # Refusals themselves are not errors: CONNECT_ERROR, and the connection goes on.
    wire.connect("/")
    wire.send("40/protected,")
    wire.expect('44/protected,{"message":"not authorized","data":{"code":401}}')
    wire.send("40/nope,")
    wire.expect('44/nope,{"message":"Invalid namespace"}')
    wire.roundtrip("after refusals")
    wire.send('40/protected,{"token":"secret"}')
    reply = wire.expect_text()
    assert reply.startswith("40/protected,{"), reply


# ------------------------------------------------------------------------------------------------------------
# connectTimeout


def test_connect_timeout_closes_a_connection_that_joins_nothing(wire):
    start = time.monotonic()
    wire.expect_ended(timeout=5)  # pings are answered: only connectTimeout can close it
    elapsed = time.monotonic() - start
    assert CONNECT_TIMEOUT * 0.8 <= elapsed < CONNECT_TIMEOUT + 1.5, f"closed after {elapsed:.2f} s"


def test_connect_timeout_spares_a_connection_that_joined(wire):
    wire.connect("/")
    wire.assert_quiet(CONNECT_TIMEOUT + 0.5)  # pings answered meanwhile
    wire.roundtrip("after connectTimeout")


def test_connect_timeout_counts_a_refused_connect_as_nothing(wire):
    wire.send("40/protected,")
    wire.expect('44/protected,{"message":"not authorized","data":{"code":401}}')
    start = time.monotonic()
    wire.expect_ended(timeout=5)
    assert time.monotonic() - start < CONNECT_TIMEOUT + 1.5


def test_polling_session_of_a_closed_connection_is_gone(server):
    w = open_wire(server.url, "polling")
    w.connect("/")
    w.send("42{}")
    w.expect_ended()
    r = requests.get(sio_url(server.url, sid=w.sid), timeout=5)
    assert r.status_code == 400
    assert r.json() == {"code": 1, "message": "Session ID unknown"}
