"""Events and acknowledgements both ways, binary attachments, handshake, namespaces."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest
import socketio
from conftest import TRANSPORTS, ThreadResult, started, wait_for

import sio


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_event_and_ack_from_client(server, clients, transport):
    received = []

    @server.event("chat message")
    def chat_message(socket, msg):
        received.append((socket.id, msg))
        server.emit("chat message", msg)

    @server.event
    def add(socket, a, b):
        return a + b

    @server.on("pair")
    def pair(socket):
        return "x", 2

    @server.on("nothing")
    def nothing(socket):
        return None

    url = started(server)
    client = clients(url, transports=[transport])
    client.client.emit("chat message", "héllo ✓")
    assert client.next_event() == ("chat message", ("héllo ✓",))
    assert received == [(client.client.get_sid(), "héllo ✓")]
    assert client.client.call("add", (2, 3), timeout=5) == 5
    assert client.client.call("pair", timeout=5) == ("x", 2)
    assert client.client.call("nothing", timeout=5) is None


def test_unhandled_event_gets_no_ack_and_catch_all(server, clients):
    seen = []

    @server.on("*")
    def catch_all(socket, event, *args):
        seen.append((event, args))
        return "caught " + event

    @server.on("known")
    def known(socket):
        return "known"

    url = started(server)
    client = clients(url)
    assert client.client.call("other", 1, timeout=5) == "caught other"
    assert client.client.call("known", timeout=5) == "known"
    assert seen == [("other", (1,))]


def test_server_emit_with_ack_callback_and_timeout(server, clients):
    results = []
    done = threading.Event()
    futures: list[concurrent.futures.Future] = []

    @server.on("connection")
    def connected(socket):
        socket.emit("question", 41, callback=lambda *reply: (results.append(reply), done.set()), timeout=5)
        futures.append(socket.emit_with_ack("slow", timeout=0.3))

    url = started(server)
    client = socketio.Client(reconnection=False)

    @client.on("question")
    def question(n):
        return n + 1, "ok"

    @client.on("slow")
    def slow():
        time.sleep(1.0)
        return "late"

    try:
        client.connect(url, wait_timeout=5)
        assert done.wait(5)
        assert results == [(42, "ok")]
        wait_for(lambda: futures, what="the slow emit")
        with pytest.raises(sio.AckTimeoutError):
            futures[0].result(5)
    finally:
        client.disconnect()


def test_call_from_another_thread(server, clients):
    sockets = []
    server.on("connection", sockets.append)
    url = started(server)
    client = socketio.Client(reconnection=False)
    client.on("double", lambda value: value * 2)
    client.on("never", lambda: time.sleep(1.5))
    try:
        client.connect(url, wait_timeout=5)
        wait_for(lambda: sockets, what="connection")
        socket = sockets[0]
        assert ThreadResult(lambda: socket.call("double", 21, timeout=5)).result() == 42
        with pytest.raises(sio.AckTimeoutError):
            socket.call("never", timeout=0.3)
    finally:
        client.disconnect()


def test_call_on_loop_thread_is_refused(server, clients):
    errors = []

    @server.on("connection")
    def connected(socket):
        try:
            socket.call("x", timeout=1)
        except RuntimeError as error:
            errors.append(error)

    url = started(server)
    clients(url)
    wait_for(lambda: errors, what="the refusal")


def test_ack_of_disconnected_socket_fails_with_closed(server, clients):
    futures = []

    @server.on("connection")
    def connected(socket):
        futures.append(socket.emit_with_ack("hang"))
        socket.disconnect()

    url = started(server)
    clients(url)
    wait_for(lambda: futures, what="connection")
    with pytest.raises(sio.ClosedError):
        futures[0].result(5)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_binary_nested_both_ways(server, clients, transport):
    got = []

    @server.event("upload")
    def upload(socket, payload, extra):
        got.append((payload, extra))
        socket.emit("download", {"files": [b"\x00\x01", {"deep": bytearray(b"\xff" * 3)}]}, b"", "text")
        return payload["blob"], {"n": [b"ack-bytes"]}

    url = started(server)
    client = clients(url, transports=[transport])
    reply = client.client.call("upload", ({"blob": b"\x10\x20", "list": [1, b"abc"]}, [b"x", None]), timeout=5)
    assert reply == (b"\x10\x20", {"n": [b"ack-bytes"]})
    assert got == [({"blob": b"\x10\x20", "list": [1, b"abc"]}, [b"x", None])]
    assert client.next_event() == ("download", ({"files": [b"\x00\x01", {"deep": b"\xff\xff\xff"}]}, b"", "text"))


def test_handshake_auth_query_headers_address(server, clients):
    seen = {}

    @server.use
    def check(socket):
        seen["auth"] = socket.handshake.auth
        seen["token"] = socket.handshake.query.get("token")
        seen["missing"] = socket.handshake.query.get("nope")
        seen["header"] = socket.handshake.headers.get("X-Custom")
        seen["has_header"] = "x-custom" in socket.handshake.headers
        seen["address"] = socket.handshake.address
        socket.data["user"] = socket.handshake.auth.get("user")

    @server.on("whoami")
    def whoami(socket):
        return socket.data["user"], socket.namespace.name, socket.id, sorted(socket.rooms)

    url = started(server)
    client = clients(url + "?token=abc", auth={"user": "ann", "n": 1}, headers={"X-Custom": "yes"})
    user, namespace, sid, rooms = client.client.call("whoami", timeout=5)
    assert (user, namespace, sid, rooms) == ("ann", "/", client.client.get_sid(), [client.client.get_sid()])
    assert seen == {"auth": {"user": "ann", "n": 1}, "token": "abc", "missing": None, "header": "yes",
                    "has_header": True, "address": "127.0.0.1"}


def test_handshake_read_from_another_thread(server, clients):
    sockets = []
    server.on("connection", sockets.append)
    url = started(server)
    clients(url + "?k=v", headers={"X-A": "b"})
    socket = wait_for(lambda: sockets, what="connection")[0]
    assert ThreadResult(lambda: (socket.handshake.query["k"], socket.handshake.headers["x-a"])).result() == ("v", "b")


def test_namespaces(server, clients):
    chat = server.of("/chat")
    main_events = []

    @chat.on("connection")
    def chat_connected(socket):
        socket.emit("welcome", socket.namespace.name)

    @chat.event("say")
    def say(socket, text):
        chat.emit("said", text)

    @server.on("say")
    def main_say(socket, text):
        main_events.append(text)

    url = started(server)
    client = clients(url, namespaces=["/", "/chat"])
    assert client.next_event() == ("welcome", ("/chat",))
    client.client.emit("say", "hi", namespace="/chat")
    assert client.next_event() == ("said", ("hi",))
    assert main_events == []
    assert set(server.namespaces) == {"/", "/chat"}


def test_per_socket_handlers_and_disconnect(server, clients):
    reasons = []
    own = []

    @server.on("connection")
    def connected(socket):
        socket.on("private", lambda n: n * 10)
        socket.on("disconnect", lambda reason: own.append(reason))

    @server.on("leave me")
    def leave_me(socket):
        socket.join("room")
        socket.disconnect()

    @server.on("disconnecting")
    def disconnecting(socket, reason):
        reasons.append(("disconnecting", reason, sorted(socket.rooms)))

    @server.on("disconnect")
    def disconnect(socket, reason):
        reasons.append(("disconnect", reason, socket.connected, sorted(socket.rooms)))

    url = started(server)
    # The server ends the session here: python-engineio's client.disconnect() sometimes exits its write loop before
    # sending DISCONNECT/CLOSE (a race in the client), and the server then only notices at the ping timeout.
    client = clients(url)
    sid = client.client.get_sid()
    assert client.client.call("private", 4, timeout=5) == 40
    client.client.emit("leave me")
    wait_for(lambda: len(reasons) == 2, what="disconnect handlers")
    assert reasons == [("disconnecting", "server namespace disconnect", sorted(["room", sid])),
                       ("disconnect", "server namespace disconnect", False, [])]
    assert own == ["server namespace disconnect"]
    assert server.of("/").sockets == {}


def test_server_side_disconnect(server, clients):
    @server.on("kick me")
    def kick(socket):
        socket.disconnect()

    url = started(server)
    client = clients(url)
    client.client.emit("kick me")
    assert client.disconnects.get(timeout=5) == socketio.Client.reason.SERVER_DISCONNECT


def test_deferred_ack_with_future(server, clients):
    pool = concurrent.futures.ThreadPoolExecutor(1)

    @server.on("work")
    def work(socket, n):
        return pool.submit(lambda: (time.sleep(0.1), n * n)[1])

    url = started(server)
    client = clients(url)
    try:
        assert client.client.call("work", 9, timeout=5) == 81
    finally:
        pool.shutdown()


def test_reserved_and_invalid_emits_raise(server, clients):
    sockets = []
    server.on("connection", sockets.append)
    url = started(server)
    clients(url)
    socket = wait_for(lambda: sockets, what="connection")[0]
    for name in ("connect", "disconnect", "connect_error", ""):
        with pytest.raises(sio.InvalidArgumentError):
            socket.emit(name, 1)
        with pytest.raises(sio.InvalidArgumentError):
            server.emit(name)
    with pytest.raises(TypeError):
        socket.emit("x", object())
    with pytest.raises(ValueError):
        socket.emit("x", float("nan"))


@pytest.mark.parametrize("transports, expected", [(["polling"], "polling"), (["websocket"], "websocket"),
                                                  (None, "websocket")])
def test_socket_transport(server, clients, transports, expected):
    """Socket.transport: what the connection uses now; after an upgrade, "websocket"."""
    sockets = []
    server.on("connection", sockets.append)
    url = started(server)
    clients(url, transports=transports)
    socket = wait_for(lambda: sockets, what="connection")[0]
    wait_for(lambda: socket.transport == expected, what=f"transport {expected}")
