"""The admin UI across nodes (issue 18): two sio-chat nodes on one redis-server (the Redis adapter), the UI on the
first, a user on the second. The UI's commands reach the user through the adapter's cluster operations, the
second node's development events reach the UI through its admin namespace's broadcast, and all_sockets lists the
user (described by the other node's fetchSockets)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import socketio

from admin_ui import AdminUI
from conftest import free_port, wait_port


@pytest.fixture
def redis_url(tmp_path):
    binary = shutil.which("redis-server")
    assert binary, "redis-server not installed (scripts/bootstrap-redis.sh installs it)"
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port(port, proc)
    yield f"redis://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(5)


def test_commands_and_events_cross_nodes(start_server, redis_url):
    first = start_server("sio-chat", args=["--admin", "--redis", redis_url, "--recovery-ms", "0"])
    second = start_server("sio-chat", args=["--admin", "--redis", redis_url, "--recovery-ms", "0"])
    ui = AdminUI(first.url).connect()
    ui.wait("config")
    received = []
    user = socketio.Client(reconnection=False)
    user.on("*", lambda event, *args: received.append((event, args)))
    user.connect(second.url, transports=["websocket"], wait_timeout=10)
    sid = user.get_sid("/")

    # The second node's events reach the UI connected to the first.
    socket = ui.wait("socket_connected", lambda a: a[0]["id"] == sid)[0]
    assert socket["nsp"] == "/" and socket["transport"] == "websocket"

    ui.emit("emit", "/", sid, "from-admin", {"n": 1})
    deadline = time.monotonic() + 10
    while ("from-admin", ({"n": 1},)) not in received:
        assert time.monotonic() < deadline, received
        time.sleep(0.05)

    ui.emit("join", "/", "ops-room", sid)
    assert ui.wait("room_joined", lambda a: a[1] == "ops-room")[:3] == ("/", "ops-room", sid)
    ui.emit("leave", "/", "ops-room", sid)
    assert ui.wait("room_left", lambda a: a[1] == "ops-room")[:3] == ("/", "ops-room", sid)

    # A second UI on the first node lists the user of the second node among all sockets.
    other = AdminUI(first.url).connect()
    (sockets,) = other.wait("all_sockets")
    assert sid in {s["id"] for s in sockets if s["nsp"] == "/"}
    other.disconnect()

    ui.emit("_disconnect", "/", False, sid)
    reason = ui.wait("socket_disconnected", lambda a: a[1] == sid)[2]
    assert reason == "server namespace disconnect"
    deadline = time.monotonic() + 10
    while user.connected:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ui.disconnect()
