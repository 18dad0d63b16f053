"""Room events on a multi-loop server (issue 12): one handler registered once sees the process's rooms, whichever
loops the members sit on: a room is created once when its first member joins anywhere and deleted once when its
last member leaves, after every join and leave, in one order."""

from __future__ import annotations

import uuid

import pytest
import socketio

from conftest import ServerProcess

NS = "/features"


@pytest.fixture(scope="module", params=[1, 2, 3], ids=lambda n: f"{n}-loops")
def server_with_loops(request):
    server = ServerProcess(f"room-events-{request.param}-loops", loops=request.param).start()
    server.loop_count = request.param
    yield server
    server.stop()


def connect_on_every_loop(server, wanted: int) -> list[tuple[socketio.Client, int]]:
    """Clients until every loop has at least one (fresh connections spread over the loops), `wanted` at least."""
    clients: list[tuple[socketio.Client, int]] = []
    loops: set[int] = set()
    for _ in range(60):
        sio = socketio.Client(reconnection=False)
        sio.connect(server.url, namespaces=[NS], transports=["websocket"], wait_timeout=5)
        clients.append((sio, sio.call("loop", namespace=NS, timeout=5)))
        loops.add(clients[-1][1])
        if len(loops) == server.loop_count and len(clients) >= wanted:
            break
    assert len(loops) == server.loop_count, f"clients landed on loops {loops} only"
    return clients


def events_for(client: socketio.Client, room: str) -> list[list]:
    return [e for e in client.call("room-events", False, namespace=NS, timeout=5) if e[1] == room]


def test_a_room_spanning_loops_is_created_and_deleted_once(server_with_loops):
    room = "r-" + uuid.uuid4().hex[:8]
    clients = connect_on_every_loop(server_with_loops, wanted=4)
    observer = clients[0][0]
    try:
        for sio, _ in clients:
            assert sio.call("join", room, namespace=NS, timeout=5) is True
        for sio, _ in clients:
            assert sio.call("leave", room, namespace=NS, timeout=5) is True
        events = events_for(observer, room)
        kinds = [e[0] for e in events]
        assert kinds.count("created") == 1 and kinds.count("deleted") == 1, kinds
        assert kinds[0] == "created" and kinds[-1] == "deleted", kinds
        assert kinds.count("joined") == len(clients) and kinds.count("left") == len(clients), kinds
        # Every member's join comes after the creation and every leave before the deletion.
        members = {sio.get_sid(NS) for sio, _ in clients}
        assert {e[2] for e in events if e[0] == "joined"} == members
    finally:
        for sio, _ in clients:
            sio.disconnect()


def test_disconnects_leave_rooms_across_loops(server_with_loops):
    room = "d-" + uuid.uuid4().hex[:8]
    clients = connect_on_every_loop(server_with_loops, wanted=3)
    watcher = socketio.Client(reconnection=False)
    watcher.connect(server_with_loops.url, namespaces=[NS], transports=["websocket"], wait_timeout=5)
    try:
        for sio, _ in clients:
            sio.call("join", room, namespace=NS, timeout=5)
        for sio, _ in clients:
            sio.disconnect()
        deadline_events = []
        for _ in range(50):
            deadline_events = [e[0] for e in events_for(watcher, room)]
            if "deleted" in deadline_events:
                break
        assert deadline_events.count("created") == 1 and deadline_events[-1] == "deleted", deadline_events
        assert deadline_events.count("left") == len(clients)
    finally:
        watcher.disconnect()
