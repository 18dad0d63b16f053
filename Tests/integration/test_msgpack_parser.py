"""The msgpack parser (`--parser msgpack`, socket.io-msgpack-parser's format) with python-socketio's msgpack
serializer: every packet type, binary carried natively, acks both ways, namespaces, rooms, connect_error data.
A server has one parser, as in the reference: a JSON client cannot talk to it."""

from __future__ import annotations

import threading
import time

import msgpack
import pytest
import socketio

from conftest import ServerProcess
import websocket

NS = "/features"


@pytest.fixture(scope="module")
def msgpack_server():
    server = ServerProcess("msgpack", args=["--parser", "msgpack"]).start()
    yield server
    server.stop()


def client(server, namespaces=(NS,), transports=("websocket",), **kwargs) -> socketio.Client:
    sio = socketio.Client(serializer="msgpack", reconnection=False)
    sio.connect(server.url, namespaces=list(namespaces), transports=list(transports), wait_timeout=5, **kwargs)
    return sio


@pytest.mark.parametrize("transports", [("websocket",), ("polling",), ("polling", "websocket")])
def test_arguments_round_trip_with_types_and_binary(msgpack_server, transports):
    sio = client(msgpack_server, transports=transports)
    try:
        arguments = ["text", 1, 1.5, -7, True, None, {"nested": [1, {"b": b"\x00\x01\xff"}]}, b"raw bytes"]
        reply = sio.call("echo", tuple(arguments), namespace=NS, timeout=5)
        assert list(reply) == arguments
        assert isinstance(reply[1], int) and isinstance(reply[2], float)
        assert isinstance(reply[-1], bytes)
    finally:
        sio.disconnect()


def test_server_emit_with_binary_and_client_ack(msgpack_server):
    sio = client(msgpack_server)
    got = []
    done = threading.Event()

    @sio.on("bin", namespace=NS)
    def on_bin(*args):
        got.append(args)
        done.set()

    answers = []
    answered = threading.Event()

    @sio.on("question", namespace=NS)
    def on_question(data):
        return {"reply-to": data, "blob": b"\xde\xad"}

    @sio.on("answer", namespace=NS)
    def on_answer(data):
        answers.append(data)
        answered.set()

    try:
        sio.emit("emit-back", ("bin", b"\x01\x02", {"k": "v"}), namespace=NS)
        assert done.wait(5)
        assert got == [(b"\x01\x02", {"k": "v"})]
        sio.emit("ask", {"data": "why?", "timeout": 3000}, namespace=NS)
        assert answered.wait(5)
        assert answers[0]["ok"] is True
        assert answers[0]["reply"] == [{"reply-to": "why?", "blob": b"\xde\xad"}]
    finally:
        sio.disconnect()


def test_rooms_and_broadcasts_between_msgpack_clients(msgpack_server):
    a, b, c = client(msgpack_server), client(msgpack_server), client(msgpack_server)
    received = {name: [] for name in "abc"}
    for name, sio in zip("abc", (a, b, c)):
        sio.on("news", (lambda name: lambda data: received[name].append(data))(name), namespace=NS)
    try:
        for sio in (a, b):
            assert sio.call("join", "room-x", namespace=NS, timeout=5) is True
        assert a.call("broadcast", {"event": "news", "data": {"n": 1, "b": b"\x07"}, "room": "room-x"},
                      namespace=NS, timeout=5) is True
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (not received["a"] or not received["b"]):
            time.sleep(0.05)
        assert received["a"] == [{"n": 1, "b": b"\x07"}] and received["b"] == [{"n": 1, "b": b"\x07"}]
        time.sleep(0.2)
        assert received["c"] == []
    finally:
        for sio in (a, b, c):
            sio.disconnect()


def test_connect_error_carries_its_data(msgpack_server):
    sio = socketio.Client(serializer="msgpack", reconnection=False)
    errors = []
    sio.on("connect_error", lambda data: errors.append(data), namespace="/protected")
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(msgpack_server.url, namespaces=["/protected"], transports=["websocket"], wait_timeout=3)
    sio.disconnect()
    assert errors and errors[0]["message"] == "not authorized" and errors[0]["data"] == {"code": 401}


def test_auth_and_namespaces(msgpack_server):
    sio = socketio.Client(serializer="msgpack", reconnection=False)
    welcome = threading.Event()
    sio.on("welcome", lambda sid: welcome.set(), namespace="/protected")
    try:
        sio.connect(msgpack_server.url, namespaces=["/protected", NS], transports=["websocket"],
                    auth={"token": "secret"}, wait_timeout=5)
        assert welcome.wait(5)
        assert sio.call("echo", ("both",), namespace=NS, timeout=5) == "both"
    finally:
        sio.disconnect()


def test_server_side_disconnect(msgpack_server):
    sio = client(msgpack_server)
    gone = threading.Event()
    sio.on("disconnect", lambda *reason: gone.set(), namespace=NS)
    sio.emit("disconnect-me", False, namespace=NS)
    assert gone.wait(5)
    sio.disconnect()


def test_wire_format_is_the_references_byte_for_byte(msgpack_server):
    """One binary frame per packet holding one map, with the reference's field order (notepack writes keys in
    insertion order): CONNECT `{type, data, nsp}`, ACK `{id, type, data, nsp}`, a socket's emit `{type, data, nsp}`."""
    ws = websocket.create_connection(f"ws://{msgpack_server.host}:{msgpack_server.port}/socket.io/?EIO=4&transport=websocket",
                                     timeout=5)
    try:
        assert ws.recv().startswith("0{")

        def next_map():
            while True:
                opcode, data = ws.recv_data()
                if opcode == websocket.ABNF.OPCODE_TEXT and data == b"2":
                    ws.send("3")
                    continue
                assert opcode == websocket.ABNF.OPCODE_BINARY, (opcode, data)
                return data

        ws.send_binary(msgpack.packb({"type": 0, "nsp": NS}))
        connected = msgpack.unpackb(next_map())
        assert list(connected) == ["type", "data", "nsp"] and connected["type"] == 0 and "sid" in connected["data"]
        ws.send_binary(msgpack.packb({"type": 2, "data": ["echo", b"\x01", 2.5], "nsp": NS, "id": 5}))
        reply = next_map()
        assert reply == msgpack.packb({"id": 5, "type": 3, "data": [b"\x01", 2.5], "nsp": NS})
        ws.send_binary(msgpack.packb({"type": 2, "data": ["emit-back", "back", 7], "nsp": NS}))
        assert next_map() == msgpack.packb({"type": 2, "data": ["back", 7], "nsp": NS})
        # A text message is no packet for this parser: the connection is closed.
        ws.send("42[\"echo\"]")
        ws.settimeout(3)
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
            for _ in range(10):
                opcode, data = ws.recv_data()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    raise ConnectionError("closed")
    finally:
        ws.close()


def test_invalid_packets_close_the_connection(msgpack_server):
    for bad in [msgpack.packb({"type": 9, "nsp": "/"}), msgpack.packb({"type": 2, "nsp": NS, "data": "x"}),
                msgpack.packb({"type": 2, "data": ["disconnect"], "nsp": NS}), b"\xc1", msgpack.packb([1, 2])]:
        ws = websocket.create_connection(f"ws://{msgpack_server.host}:{msgpack_server.port}/socket.io/?EIO=4&transport=websocket",
                                         timeout=5)
        try:
            ws.recv()
            ws.send_binary(msgpack.packb({"type": 0, "nsp": NS}))
            ws.recv_data()
            ws.send_binary(bad)
            closed = False
            for _ in range(10):
                try:
                    opcode, _ = ws.recv_data()
                except (websocket.WebSocketConnectionClosedException, OSError):
                    closed = True
                    break
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    closed = True
                    break
            assert closed, f"still open after {bad!r}"
        finally:
            ws.close()


def test_json_client_is_refused_by_a_msgpack_server(msgpack_server):
    sio = socketio.Client(reconnection=False)  # the JSON parser
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(msgpack_server.url, namespaces=[NS], transports=["websocket"], wait_timeout=3)
    sio.disconnect()
