"""TLS on a multi-loop server (`--loops 2`): a connection moved to another loop carries its TLS session (the
OpenSSL `SSL`, with any record it had not processed yet) with the descriptor.

With `--loop-balancing round-robin` every new TCP connection goes to the next loop, so a polling request on a new
connection reaches the other loop half of the time and is moved to its session's owner; the moved connection then
stays there, keep-alive requests going on over the same TLS session. Session ids name their loop ('A', 'B')."""

from __future__ import annotations


import engineio
import pytest
import requests
import socketio
import websocket

from conftest import client_context, http_session
from tls_util import RELAXED, RawTLS, SocketIOWire, once_more_on_client_race, parse_open, polling_request

def loop_of(sid: str) -> int:
    return ord(sid[0]) - ord("A")


@pytest.fixture(scope="module")
def round_robin(pki):
    from conftest import TLSServer

    srv = TLSServer("sio-protocol-server", pki.server, args=["--loops", "2", "--loop-balancing", "round-robin"]).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def reuseport(pki):
    from conftest import TLSServer

    srv = TLSServer("sio-protocol-server", pki.server, args=["--loops", "2"]).start()
    yield srv
    srv.stop()


def new_connection_get(srv, pki, target: str) -> requests.Response:
    return requests.get(f"{srv.https}{target}", headers={"Connection": "close"}, verify=str(pki.ca), timeout=5)


def new_connection_post(srv, pki, target: str, body: str) -> requests.Response:
    return requests.post(f"{srv.https}{target}", data=body.encode(), headers={"Connection": "close"},
                         verify=str(pki.ca), timeout=5)


def test_polling_requests_moved_between_loops_over_tls(round_robin, pki):
    srv = round_robin
    sids = [parse_open(new_connection_get(srv, pki, f"{RELAXED}?EIO=4&transport=polling").text)["sid"]
            for _ in range(4)]
    assert {loop_of(sid) for sid in sids} == {0, 1}, sids
    for sid in sids:
        for index in range(4):  # each on a new connection: every other one lands on the wrong loop and moves
            assert new_connection_post(srv, pki, f"{RELAXED}?EIO=4&transport=polling&sid={sid}",
                                       f"4m{index}").text == "ok"
            assert new_connection_get(srv, pki, f"{RELAXED}?EIO=4&transport=polling&sid={sid}").text == f"4m{index}"
    assert srv.tls_errors() == []


def test_moved_connection_keeps_its_tls_session(round_robin, pki):
    srv = round_robin
    # Which loop does the next connection land on? A handshake on it says (its sid names the accepting loop).
    raw = RawTLS(srv.port, client_context(pki))
    raw.send_records(polling_request("GET", f"{RELAXED}?EIO=4&transport=polling"))
    here = loop_of(parse_open(raw.read_http()[2].decode())["sid"])
    # A session of the other loop, made on a connection of its own.
    while True:
        sid = parse_open(new_connection_get(srv, pki, f"{RELAXED}?EIO=4&transport=polling").text)["sid"]
        if loop_of(sid) != here:
            break
    # On the raw connection: the first request moves it (with its TLS session) to the owner; every later one on
    # the same TLS session is served there.
    for index in range(5):
        raw.send_records(polling_request("POST", f"{RELAXED}?EIO=4&transport=polling&sid={sid}", f"4k{index}"))
        assert raw.read_http()[2] == b"ok"
        raw.send_records(polling_request("GET", f"{RELAXED}?EIO=4&transport=polling&sid={sid}"))
        assert raw.read_http()[2] == f"4k{index}".encode()
    raw.close()


def test_records_after_the_moving_request_travel_with_the_session(round_robin, pki):
    """POST and GET as two TLS records in one TCP write: the POST moves the connection, and the GET's record, not
    yet decrypted when the connection stopped, is decrypted and answered by the new loop."""
    srv = round_robin
    for attempt in range(4):
        raw = RawTLS(srv.port, client_context(pki))
        raw.send_records(polling_request("GET", f"{RELAXED}?EIO=4&transport=polling"))
        here = loop_of(parse_open(raw.read_http()[2].decode())["sid"])
        while True:
            sid = parse_open(new_connection_get(srv, pki, f"{RELAXED}?EIO=4&transport=polling").text)["sid"]
            if loop_of(sid) != here:
                break
        raw.send_records(polling_request("POST", f"{RELAXED}?EIO=4&transport=polling&sid={sid}", f"4two{attempt}"),
                         polling_request("GET", f"{RELAXED}?EIO=4&transport=polling&sid={sid}"))
        status, _, body = raw.read_http()
        assert (status, body) == (200, b"ok")
        status, _, body = raw.read_http()
        assert (status, body) == (200, f"4two{attempt}".encode())
        raw.close()


def test_websocket_upgrade_moved_between_loops_over_tls(round_robin, pki):
    srv = round_robin
    for _ in range(4):
        sid = parse_open(new_connection_get(srv, pki, f"{RELAXED}?EIO=4&transport=polling").text)["sid"]
        ws = websocket.create_connection(f"{srv.wss}{RELAXED}?EIO=4&transport=websocket&sid={sid}", timeout=5,
                                         sslopt={"ca_certs": str(pki.ca)})
        ws.send("2probe")
        assert ws.recv() == "3probe"
        ws.send("5")
        ws.send("4over wss")
        assert ws.recv() == "4over wss"
        ws.close()


def _socketio_client(srv, pki, transports) -> tuple[socketio.Client, int]:
    """A connected python-socketio client that answered `loop`, `echo` and `secure`, and the loop serving it.

    One retry with a new client: python-engineio reads and writes the same `ssl.SSLSocket` from two threads, and
    OpenSSL objects are not thread-safe; rarely (about 1 client in 100 on a loaded machine, more when replies take
    an extra hop between loops) the reader's SSL_read, racing the writer, reports a clean EOF on EAGAIN and the
    client drops a connection the server never closed (seen with strace: no close or shutdown on the server side,
    EAGAIN then "Connection to remote host was lost" in the client, with a write from its other thread between).
    """
    for attempt in range(2):
        client = socketio.Client(http_session=http_session(pki), reconnection=False)
        try:
            client.connect(srv.https, namespaces=["/features"], transports=transports, wait_timeout=5)
            loop = client.call("loop", namespace="/features", timeout=5)
            assert client.call("echo", [1, "two"], namespace="/features", timeout=5) == [1, "two"]
            assert client.call("secure", namespace="/features", timeout=5) is True
            return client, loop
        except (socketio.exceptions.TimeoutError, socketio.exceptions.ConnectionError):
            client.disconnect()
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
def test_socketio_clients_on_both_loops(round_robin, reuseport, pki, transports):
    for srv in (round_robin, reuseport):
        clients = []
        loops = set()
        for _ in range(4):
            client, loop = _socketio_client(srv, pki, transports)
            clients.append(client)
            loops.add(loop)
        if srv is round_robin and transports == ["websocket"]:
            assert loops == {0, 1}  # one connection per client: they alternate
        for client in clients:
            client.disconnect()


def test_engineio_upgrade_on_two_loops(round_robin, pki):
    import queue

    def exchange():
        received: queue.Queue = queue.Queue()
        client = engineio.Client(http_session=http_session(pki))
        client.on("message", lambda data: received.put(data))
        client.connect(round_robin.https, engineio_path=RELAXED.strip("/"))
        try:
            for index in range(3):
                client.send(f"x{index}")
                assert received.get(timeout=5) == f"x{index}"
        finally:
            client.disconnect()

    for _ in range(3):
        once_more_on_client_race(exchange)


def test_broadcast_across_loops_over_tls(round_robin, pki):
    clients = [SocketIOWire(round_robin, pki) for _ in range(4)]  # one connection each: they alternate loops
    try:
        assert {c.call("loop") for c in clients} == {0, 1}
        assert clients[0].call("broadcast", {"event": "news", "data": "hello"}) is True
        for client in clients:
            while True:
                message = client.next_message()
                if message.startswith('42/features,["news"'):
                    assert message == '42/features,["news","hello"]', message
                    break
    finally:
        for client in clients:
            client.close()


def _masked_text_frame(text: str) -> bytes:
    import os as _os

    payload = text.encode()
    mask = _os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_upgrade_and_first_frame_in_one_write_moved_between_loops(round_robin, pki):
    """The upgrade request and the client's first WebSocket frame as two TLS records in one TCP write, on whichever
    loop the connection lands: when it must move, the frame's record travels with the session and is answered by
    the session's loop after its 101."""
    import base64
    import os as _os

    for _ in range(4):
        sid = parse_open(new_connection_get(round_robin, pki, f"{RELAXED}?EIO=4&transport=polling").text)["sid"]
        raw = RawTLS(round_robin.port, client_context(pki))
        key = base64.b64encode(_os.urandom(16)).decode()
        upgrade = (f"GET {RELAXED}?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: localhost\r\n"
                   f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\n\r\n").encode()
        raw.send_records(upgrade, _masked_text_frame("2probe"))
        while b"\r\n\r\n" not in raw.buffer:
            assert raw._fill()
        head, _, raw.buffer = raw.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        while len(raw.buffer) < 8:
            assert raw._fill()
        assert raw.buffer[:8] == b"\x81\x063probe", raw.buffer
        raw.close()
