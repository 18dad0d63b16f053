"""Rooms and broadcasts (with except, acks), middleware acceptance and refusal."""

from __future__ import annotations

import threading
import time

import pytest
import socketio
from conftest import ThreadResult, started, wait_for

import sio


def _room_server(server):
    @server.on("join")
    def join(socket, *rooms):
        socket.join(list(rooms))
        return sorted(socket.rooms)

    @server.on("leave")
    def leave(socket, room):
        socket.leave(room)
        return sorted(socket.rooms)


def test_rooms_and_broadcast_with_except(server, clients):
    _room_server(server)
    url = started(server)
    a, b, c = clients(url), clients(url), clients(url)
    assert a.client.call("join", ("red", "blue"), timeout=5) == sorted(["red", "blue", a.client.get_sid()])
    b.client.call("join", "red", timeout=5)
    c.client.call("join", "blue", timeout=5)

    server.to("red").emit("to red", 1)
    assert a.next_event() == ("to red", (1,))
    assert b.next_event() == ("to red", (1,))
    c.no_event()

    server.to("red").to("blue").except_("blue").emit("red not blue", {"x": b"\x01"})
    assert b.next_event() == ("red not blue", ({"x": b"\x01"},))
    a.no_event()
    c.no_event()

    server.emit("all but a", skip_sid=a.client.get_sid())
    assert b.next_event() == ("all but a", ())
    assert c.next_event() == ("all but a", ())
    a.no_event()

    server.emit("direct", "hi", to=c.client.get_sid())
    assert c.next_event() == ("direct", ("hi",))
    a.no_event(0.1)
    b.no_event(0.1)

    assert a.client.call("leave", "red", timeout=5) == sorted(["blue", a.client.get_sid()])
    server.to("red").volatile.compress(False).emit("to red again")
    assert b.next_event() == ("to red again", ())
    a.no_event()


def test_socket_to_excludes_sender_and_broadcast_flag(server, clients):
    _room_server(server)

    @server.on("shout")
    def shout(socket, text):
        socket.to("room").emit("shout", text)

    @server.on("tell others")
    def tell_others(socket, text):
        socket.broadcast.emit("told", text)

    url = started(server)
    a, b = clients(url), clients(url)
    a.client.call("join", "room", timeout=5)
    b.client.call("join", "room", timeout=5)
    a.client.emit("shout", "hey")
    assert b.next_event() == ("shout", ("hey",))
    a.no_event()
    b.client.emit("tell others", "psst")
    assert a.next_event() == ("told", ("psst",))
    b.no_event()


def test_broadcast_with_acks(server, clients):
    url = started(server)
    fast = [socketio.Client(reconnection=False) for _ in range(2)]
    for index, client in enumerate(fast):
        client.on("poll", lambda q, index=index: f"{q}:{index}")
        client.connect(url, wait_timeout=5)
    slow = socketio.Client(reconnection=False)
    slow.on("poll", lambda q: time.sleep(1.0))
    try:
        wait_for(lambda: len(server.of("/").sockets) == 2, what="two sockets")
        replies = server.timeout(5).emit_with_ack("poll", "q").result(10)
        assert sorted(replies) == [["q:0"], ["q:1"]]

        got = []
        done = threading.Event()
        server.emit("poll", "cb", callback=lambda replies: (got.append(replies), done.set()))
        assert done.wait(10)
        assert sorted(got[0]) == [["cb:0"], ["cb:1"]]

        slow.connect(url, wait_timeout=5)
        wait_for(lambda: len(server.of("/").sockets) == 3, what="three sockets")
        future = server.timeout(0.3).emit_with_ack("poll", "t")
        with pytest.raises(sio.AckTimeoutError) as info:
            future.result(10)
        assert sorted(info.value.replies) == [["t:0"], ["t:1"]]
    finally:
        for client in fast + [slow]:
            client.disconnect()


def test_middleware_refusal_with_message_and_data(server, clients):
    calls = []

    @server.use
    def first(socket):
        calls.append("first")

    @server.use
    def auth(socket):
        calls.append("auth")
        if socket.handshake.auth.get("token") != "secret":
            raise sio.ConnectionRefused("not authorized", {"code": 401, "hint": "token ✓"})
        socket.data["ok"] = True

    @server.on("ok?")
    def ok(socket):
        return socket.data.get("ok", False)

    url = started(server)
    refused = socketio.Client(reconnection=False)
    errors = []
    refused.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        refused.connect(url, auth={"token": "wrong"}, wait_timeout=5)
    assert errors == [{"message": "not authorized", "data": {"code": 401, "hint": "token ✓"}}]
    assert calls == ["first", "auth"]

    accepted = clients(url, auth={"token": "secret"})
    assert accepted.client.call("ok?", timeout=5) is True
    assert server.of("/").sockets.keys() == {accepted.client.get_sid()}


def test_middleware_that_raises_refuses_with_server_error(server, caplog):
    @server.use
    def broken(socket):
        raise KeyError("boom")

    url = started(server)
    client = socketio.Client(reconnection=False)
    errors = []
    client.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(url, wait_timeout=5)
    assert errors == [{"message": "server error"}]
    assert any("middleware of / raised" in r.getMessage() and r.exc_info for r in caplog.records)


def test_deferred_middleware_decides_from_another_thread(server, clients):
    @server.use(deferred=True)
    def slow_auth(socket, next):
        def decide():
            time.sleep(0.1)
            if socket.handshake.auth.get("user") == "eve":
                next.refuse("go away", ["eve"])
            else:
                socket.data["checked"] = True
                next()

        threading.Thread(target=decide, daemon=True).start()

    @server.use
    def after(socket):
        assert socket.data["checked"]

    url = started(server)
    good = clients(url, auth={"user": "bob"})
    assert good.client.connected
    bad = socketio.Client(reconnection=False)
    errors = []
    bad.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        bad.connect(url, auth={"user": "eve"}, wait_timeout=5)
    assert errors == [{"message": "go away", "data": ["eve"]}]


def test_namespace_middleware_only_guards_its_namespace(server, clients):
    admin = server.of("/admin")

    @admin.use
    def no_one(socket):
        raise sio.ConnectionRefused("admins only")

    url = started(server)
    client = clients(url)
    assert client.client.connected
    other = socketio.Client(reconnection=False)
    errors = []
    other.on("connect_error", lambda data: errors.append(data), namespace="/admin")
    with pytest.raises(socketio.exceptions.ConnectionError):
        other.connect(url, namespaces=["/admin"], wait_timeout=5)
    assert errors == [{"message": "admins only"}]


def test_join_from_another_thread_keeps_order_with_emit(server, clients):
    sockets = []
    server.on("connection", sockets.append)
    url = started(server)
    client = clients(url)
    socket = wait_for(lambda: sockets, what="connection")[0]

    def work():
        socket.join("later")
        server.to("later").emit("in later")  # queued after the join: same submit queue
        return socket.rooms

    assert ThreadResult(work).result() == {socket.id, "later"}
    assert client.next_event() == ("in later", ())


def test_room_events_follow_joins_leaves_and_disconnects(server, clients):
    """on_room_event: the reference adapter's create-room / join-room / leave-room / delete-room, in order, for
    rooms joined by handlers and by socketsJoin-style broadcasts, and for each socket's own room."""
    events: list[tuple[str, str, str | None]] = []
    server.on_room_event(lambda event, room, sid: events.append((event, room, sid)))
    server.on("join", lambda socket, room: socket.join(room))
    server.on("leave", lambda socket, room: socket.leave(room))
    url = started(server)
    alice, bob = clients(url), clients(url)
    a, b = alice.client.get_sid("/"), bob.client.get_sid("/")
    wait_for(lambda: ("join-room", b, b) in events, what="bob's own room")
    assert events[:4] == [("create-room", a, None), ("join-room", a, a), ("create-room", b, None), ("join-room", b, b)]
    del events[:]

    assert alice.client.call("join", "lobby", timeout=5) is None
    assert bob.client.call("join", "lobby", timeout=5) is None
    assert alice.client.call("join", "lobby", timeout=5) is None  # already in: nothing reported
    # With several loops the handler still sees the process's rooms (docs/ARCHITECTURE.md, RoomCensus): the room
    # is created once, whichever loops its members are on, and stays while a member is left on any loop.
    assert events == [("create-room", "lobby", None), ("join-room", "lobby", a), ("join-room", "lobby", b)]
    del events[:]

    assert alice.client.call("leave", "lobby", timeout=5) is None
    assert events == [("leave-room", "lobby", a)]
    del events[:]

    bob.client.disconnect()
    wait_for(lambda: ("delete-room", "lobby", None) in events, what="bob's rooms gone")
    # In the order the rooms were joined, as the reference leaves them: the own room first.
    assert events == [("leave-room", b, b), ("delete-room", b, None), ("leave-room", "lobby", b),
                      ("delete-room", "lobby", None)]


def test_operations_on_the_sockets_of_a_selection(server, clients):
    """sockets_join / sockets_leave / disconnect_sockets / fetch_sockets (the reference's socketsJoin, ...),
    observed by real python-socketio clients."""
    server.on("join", lambda socket, room: socket.join(room))
    url = started(server)
    a, b, c = clients(url), clients(url), clients(url)
    sa, sb, sc = (x.client.get_sid("/") for x in (a, b, c))
    for peer in (a, b):
        peer.client.call("join", "red", timeout=5)

    server.in_("red").except_(sb).sockets_join("blue")
    fetched = server.in_("blue").fetch_sockets().result(timeout=5)
    assert [s["id"] for s in fetched] == [sa]
    assert fetched[0]["rooms"] == [sa, "blue", "red"]
    assert fetched[0]["handshake"]["address"] == "127.0.0.1" and fetched[0]["data"] == {}
    assert {s["id"] for s in server.fetch_sockets().result(timeout=5)} == {sa, sb, sc}

    server.in_("red").local.sockets_leave(["red"])
    assert server.in_("red").fetch_sockets().result(timeout=5) == []

    server.to("blue").emit("news", "blue only")
    assert a.next_event() == ("news", ("blue only",))

    server.in_("blue").disconnect_sockets()
    assert a.disconnects.get(timeout=5) == "server disconnect"  # python-socketio's name for it
    wait_for(lambda: {s["id"] for s in server.fetch_sockets().result(timeout=5)} == {sb, sc}, what="a gone")
    assert b.client.call("join", "still", timeout=5) is None
    with pytest.raises(ValueError):  # NUL cannot cross into C
        server.in_("red").sockets_join(["ok", "bad\0name"])


def test_room_event_handler_may_disconnect_the_socket(server, clients):
    """A handler that disconnects a socket on join-room leaves no room behind: every room created is deleted, and
    joins after the disconnection (the rest of the same call) are ignored."""
    events: list[tuple[str, str, str | None]] = []

    def handler(event: str, room: str, sid: str | None) -> None:
        events.append((event, room, sid))
        if event == "join-room" and room == "trap" and sid:
            server.get_socket(sid).disconnect()

    server.on_room_event(handler)
    server.on("join", lambda socket, rooms: socket.join(rooms))
    url = started(server)
    victim = clients(url)
    sid = victim.client.get_sid("/")
    victim.client.emit("join", ["trap", "after"])
    wait_for(lambda: ("delete-room", "trap", None) in events, what="trap emptied")
    time.sleep(0.2)
    created = {room for event, room, _ in events if event == "create-room"}
    deleted = {room for event, room, _ in events if event == "delete-room"}
    assert created == deleted == {sid, "trap"}, events
    assert server.in_("after").fetch_sockets().result(timeout=5) == []
    assert server.in_("trap").fetch_sockets().result(timeout=5) == []
