"""The real python-engineio client (engineio.Client) against the echo server, over each transport path:
polling only, websocket only, and the default (polling, then upgrade to websocket)."""

import time

import pytest

from eio_util import MAX_PAYLOAD, PING_INTERVAL, PING_TIMEOUT, EchoClient

# (id, transports argument, transport the client ends on)
MODES = [
    pytest.param(["polling"], "polling", id="polling"),
    pytest.param(["websocket"], "websocket", id="websocket"),
    pytest.param(None, "websocket", id="upgrade"),
]


@pytest.fixture
def make_client():
    clients = []

    def make(base, transports, path="engine.io"):
        c = EchoClient(base, transports, path)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def _wait_for_transport(client: EchoClient, expected: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while client.transport != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.transport == expected


@pytest.mark.parametrize("transports, final", MODES)
def test_client_connects(server, make_client, transports, final):
    client = make_client(server.url, transports)
    assert client.connected.wait(5), "connect event not fired"
    _wait_for_transport(client, final)
    assert client.client.sid and len(client.client.sid) >= 16
    # The client took the heartbeat settings from the handshake.
    assert client.client.ping_interval == PING_INTERVAL
    assert client.client.ping_timeout == PING_TIMEOUT


@pytest.mark.parametrize("transports, final", MODES)
def test_client_text_roundtrip(server, make_client, transports, final):
    client = make_client(server.url, transports)
    _wait_for_transport(client, final)
    for text in ["hello", "", "héllo wörld ☃ 😀", "4 looks like a packet type", "a\nb\tc\"{}[]"]:
        client.roundtrip(text)
    assert client.transport == final


@pytest.mark.parametrize("transports, final", MODES)
def test_client_binary_roundtrip(server, make_client, transports, final):
    client = make_client(server.url, transports)
    _wait_for_transport(client, final)
    for data in [b"\x01\x02\x03\x04", bytes(range(256)), b"\x00", b"\x1e\x1e", b"4hello"]:
        client.roundtrip(data)
    assert client.transport == final


@pytest.mark.parametrize("transports, final", MODES)
def test_client_mixed_burst(server, make_client, transports, final):
    """Text and binary messages sent back to back all come back (the client hands each message to a thread of its
    own, so arrival order is not observable: compare as multisets). At most 12: python-engineio refuses a
    polling payload of more than 16 packets."""
    client = make_client(server.url, transports)
    _wait_for_transport(client, final)
    sent = [f"m{i}" if i % 2 else f"b{i}".encode() for i in range(12)]
    for item in sent:
        client.send(item)
    got = [client.receive() for _ in sent]
    assert sorted(got, key=repr) == sorted(sent, key=repr)


def _under_limit(kind: str, transport: str):
    """A message whose encoded packet is just under maxPayload on that transport."""
    if kind == "text":
        return "x" * (MAX_PAYLOAD - 1000)
    if transport == "polling":  # sent as "b" + base64
        return bytes(range(256)) * ((MAX_PAYLOAD * 3 // 4 - 1000) // 256)
    return bytes(range(256)) * ((MAX_PAYLOAD - 1000) // 256)


def _over_limit(kind: str, transport: str):
    """A message whose encoded packet is just over maxPayload on that transport."""
    if kind == "text":
        return "x" * MAX_PAYLOAD  # "4" + 1,000,000 bytes
    if transport == "polling":
        return b"\xab" * (MAX_PAYLOAD * 3 // 4 + 3)  # base64 with the "b" prefix: 1,000,005 bytes
    return b"\xab" * (MAX_PAYLOAD + 1)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["text", "binary"])
@pytest.mark.parametrize("transports, final", MODES)
def test_client_message_just_under_max_payload(server, make_client, transports, final, kind):
    # The default heartbeat: the client is busy for a while with a megabyte (the limit, not the heartbeat, is tested).
    client = make_client(server.url, transports, path="engine.io-relaxed")
    _wait_for_transport(client, final)
    client.roundtrip(_under_limit(kind, final), timeout=20)
    assert client.is_connected
    client.roundtrip("still fine")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["text", "binary"])
@pytest.mark.parametrize("transports, final", MODES)
def test_client_message_over_max_payload_ends_session(server, make_client, transports, final, kind):
    """Over polling the POST gets 413 (the client gives up); over websocket the server closes with 1009."""
    client = make_client(server.url, transports)
    _wait_for_transport(client, final)
    client.send(_over_limit(kind, final))
    assert client.disconnected.wait(10), "the client is still connected after sending an oversize message"
    assert client.messages.empty(), "the oversize message was echoed"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("transports, final", MODES)
def test_client_idle_session_kept_alive_by_heartbeat(server, make_client, transports, final):
    client = make_client(server.url, transports)
    _wait_for_transport(client, final)
    time.sleep(2.0)  # more than six ping intervals with nothing but heartbeats
    assert client.is_connected, f"idle session dropped (reason {client.disconnect_reason})"
    client.roundtrip("after idling")
    assert client.transport == final
