"""The msgpack parser through the binding: `sio.Server(parser="msgpack")` with python-socketio's msgpack
serializer. Handlers see the same Python values as with JSON; bytes travel natively."""

from __future__ import annotations

import threading

import pytest
import socketio

import sio
from conftest import HOST


@pytest.mark.parametrize("loops", [1, 2])
def test_msgpack_clients_talk_to_a_msgpack_server(loops):
    server = sio.Server(parser="msgpack", loops=loops)
    seen = []

    @server.event("echo")
    def echo(socket, *args):
        seen.append(args)
        return list(args)

    @server.on("connection")
    def connected(socket):
        socket.emit("hello", {"blob": b"\x00\xff", "n": 1.5})

    port = server.start(HOST, 0)
    client = socketio.Client(serializer="msgpack", reconnection=False)
    hello = threading.Event()
    got = []
    client.on("hello", lambda data: (got.append(data), hello.set()))
    try:
        client.connect(f"http://{HOST}:{port}", transports=["websocket"], wait_timeout=5)
        assert hello.wait(5)
        assert got == [{"blob": b"\x00\xff", "n": 1.5}]
        reply = client.call("echo", ("text", 7, b"\x01\x02", {"k": [True, None]}), timeout=5)
        assert list(reply) == ["text", 7, b"\x01\x02", {"k": [True, None]}]
        assert seen == [("text", 7, b"\x01\x02", {"k": [True, None]})]
    finally:
        client.disconnect()
        server.close()


def test_unknown_parser_is_refused():
    with pytest.raises(sio.InvalidArgumentError):
        sio.Server(parser="protobuf")
