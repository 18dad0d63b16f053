"""The real python-socketio client (socketio.Client) against `/socket.io/` of sio-protocol-server, every test over
each transport path: polling only, websocket only, and the default (polling, then upgrade to websocket).

The namespaces and events used here are the ones the server keeps for these tests: `/` and `/custom` (the
socket.io-protocol suite's configuration: `auth`, `message` -> `message-back`, `message-with-ack`), and `/features`,
`/protected`, `/dyn-*` (Sources/sio-protocol-server/Features.swift describes their events).

Where the expected value is a reference behaviour (socket.io 4.8, packages/socket.io/lib), the test says where.
The python-socketio client runs each received event in a thread of its own, so the order in which events are
recorded is not the order of arrival; tests compare sets or counts, and check for absence after a later event
(a sentinel) has arrived plus a short grace period.
"""

import time
import uuid

import pytest
import socketio
from socketio import packet as sio_packet

from sio_util import SioClient, wait_until

F = "/features"
GRACE = 0.25  # after a sentinel arrived: time for the client's handler threads to record earlier events

TRANSPORTS = [
    pytest.param(["polling"], id="polling"),
    pytest.param(["websocket"], id="websocket"),
    pytest.param(None, id="default"),
]


@pytest.fixture(params=TRANSPORTS)
def transports(request):
    return request.param


@pytest.fixture
def make_client(server, transports):
    """make_client(namespaces=("/features",), **SioClient options): a connected client, closed after the test."""
    clients = []

    def make(namespaces=(F,), **kwargs):
        kwargs.setdefault("transports", transports)
        c = SioClient(server.url, namespaces=namespaces, **kwargs)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def in_room(room: str, *clients: SioClient) -> None:
    for c in clients:
        assert c.call1("join", room, ns=F) is True


def settle(sender: SioClient, everyone: str, receivers) -> None:
    """Broadcasts a sentinel to the room `everyone` and waits until every receiver has it: whatever was sent to
    them before has been delivered by then."""
    token = uid("sentinel")
    assert sender.call1("broadcast", {"event": "sentinel", "data": token, "room": everyone}, ns=F) is True
    for c in receivers:
        deadline = time.monotonic() + 5
        while (token,) not in c.received("sentinel", F):
            assert time.monotonic() < deadline, f"sentinel {token} not received"
            time.sleep(0.01)
    time.sleep(GRACE)


# ------------------------------------------------------------------------------------------------------------
# namespaces


def test_default_namespace(make_client):
    c = make_client(namespaces=["/"])
    assert c.wait_for("auth") == ({},)  # python-socketio sends `40{}` when no auth is given
    c.emit("message", 1, "2", {"3": [True]}, None)
    assert c.wait_for("message-back") == (1, "2", {"3": [True]}, None)
    assert c.call("message-with-ack", "a", {"b": [1.5, False]}) == ["a", {"b": [1.5, False]}]


def test_custom_namespace(make_client):
    c = make_client(namespaces=["/custom"], auth={"token": "abc"})
    assert c.wait_for("auth", ns="/custom") == ({"token": "abc"},)
    c.emit("message", "to custom", ns="/custom")
    assert c.wait_for("message-back", ns="/custom") == ("to custom",)
    assert c.call("message-with-ack", 42, ns="/custom") == [42]
    assert c.received("message-back", "/") == []


def test_several_namespaces_over_one_connection(make_client):
    c = make_client(namespaces=["/", "/custom", F])
    sids = {ns: c.sid(ns) for ns in ["/", "/custom", F]}
    assert len(set(sids.values())) == 3, f"each namespace has a socket id of its own: {sids}"
    assert all(sid != c.client.eio.sid for sid in sids.values()), "socket ids differ from the Engine.IO sid"
    c.emit("message", "main")
    c.emit("message", "custom", ns="/custom")
    assert c.wait_for("message-back") == ("main",)
    assert c.wait_for("message-back", ns="/custom") == ("custom",)
    assert c.call("echo", "features", ns=F) == ["features"]


def test_auth_payload_reaches_the_server(make_client):
    auth = {"token": "xyz", "user": {"id": 7, "roles": ["a", "b"]}, "unicode": "h\u00e9 \u2603"}
    c = make_client(namespaces=["/", "/custom"], auth=auth)
    assert c.wait_for("auth") == (auth,)
    assert c.wait_for("auth", ns="/custom") == (auth,)


@pytest.mark.parametrize("auth", [None, {"token": "wrong"}, {"token": 123}], ids=["no-auth", "wrong", "number"])
def test_auth_refused_by_middleware(make_client, auth):
    c = make_client(namespaces=["/protected"], auth=auth, connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.connect()
    assert c.wait_for("connect_error", ns="/protected") == ({"message": "not authorized", "data": {"code": 401}},)
    assert c.received("welcome", "/protected") == []


def test_auth_accepted_by_middleware(make_client):
    c = make_client(namespaces=["/protected"], auth={"token": "secret"})
    assert c.wait_for("welcome", ns="/protected") == (c.sid("/protected"),)


def test_refused_namespace_leaves_others_alone(server, make_client):
    c = make_client(namespaces=["/", "/protected"], connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.connect()  # python-socketio gives up the whole connection when one namespace is refused ...
    assert c.wait_for("connect_error", ns="/protected") == ({"message": "not authorized", "data": {"code": 401}},)
    # ... but the server had accepted `/` meanwhile: it emitted `auth` there.
    assert c.wait_for("auth") == ({},)


def test_dynamic_namespace(make_client):
    c = make_client(namespaces=["/dyn-abc", "/dyn-x-y"])
    assert c.wait_for("hello", ns="/dyn-abc") == ("/dyn-abc",)
    assert c.wait_for("hello", ns="/dyn-x-y") == ("/dyn-x-y",)


def test_unknown_namespace_refused(make_client):
    c = make_client(namespaces=["/nope"], connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.connect()
    assert c.wait_for("connect_error", ns="/nope") == ({"message": "Invalid namespace"},)


# ------------------------------------------------------------------------------------------------------------
# rooms and broadcast


def test_rooms_join_and_leave(make_client):
    c = make_client()
    sid = c.sid(F)
    assert c.call1("rooms", ns=F) == [sid], "a socket is in its own id room"
    room = uid("room")
    in_room(room, c)
    assert sorted(c.call1("rooms", ns=F)) == sorted([sid, room])
    assert c.call1("leave", room, ns=F) is True
    assert c.call1("rooms", ns=F) == [sid]


def test_broadcast_to_room_reaches_members_only(make_client):
    room, everyone = uid("room"), uid("all")
    a, b, c = make_client(), make_client(), make_client()
    in_room(everyone, a, b, c)
    in_room(room, a, b)
    assert c.call1("broadcast", {"event": "news", "data": {"n": 1}, "room": room}, ns=F) is True
    settle(c, everyone, [a, b, c])
    assert a.received("news", F) == [({"n": 1},)]
    assert b.received("news", F) == [({"n": 1},)]
    assert c.received("news", F) == [], "the sender is not in the room"
    # After leaving, a member no longer gets the room's broadcasts.
    assert b.call1("leave", room, ns=F) is True
    assert c.call1("broadcast", {"event": "news", "data": {"n": 2}, "room": room}, ns=F) is True
    settle(c, everyone, [a, b, c])
    assert a.received("news", F) == [({"n": 1},), ({"n": 2},)]
    assert b.received("news", F) == [({"n": 1},)]


def test_broadcast_to_whole_namespace_includes_sender(make_client):
    everyone = uid("all")
    a, b = make_client(), make_client()
    in_room(everyone, a, b)
    assert a.call1("broadcast", {"event": "all-hands", "data": [1, 2]}, ns=F) is True
    a.wait_for("all-hands", ns=F)
    b.wait_for("all-hands", ns=F)


@pytest.mark.parametrize("by", ["room", "socket-id"])
def test_broadcast_except(make_client, by):
    room, everyone, excluded = uid("room"), uid("all"), uid("ex")
    a, b, c = make_client(), make_client(), make_client()
    in_room(everyone, a, b, c)
    in_room(room, a, b, c)
    in_room(excluded, b)
    target = excluded if by == "room" else b.sid(F)
    assert a.call1("broadcast", {"event": "news", "data": "x", "room": room, "except": target}, ns=F) is True
    settle(a, everyone, [a, b, c])
    assert a.received("news", F) == [("x",)]
    assert b.received("news", F) == []
    assert c.received("news", F) == [("x",)]


def test_broadcast_to_several_rooms_reaches_each_member_once(make_client):
    r1, r2, everyone = uid("r1"), uid("r2"), uid("all")
    both, only1, only2, none = make_client(), make_client(), make_client(), make_client()
    in_room(everyone, both, only1, only2, none)
    in_room(r1, both, only1)
    in_room(r2, both, only2)
    assert none.call1("broadcast", {"event": "news", "data": 3, "rooms": [r1, r2]}, ns=F) is True
    settle(none, everyone, [both, only1, only2, none])
    assert both.received("news", F) == [(3,)], "a socket in two target rooms gets the packet once"
    assert only1.received("news", F) == [(3,)]
    assert only2.received("news", F) == [(3,)]
    assert none.received("news", F) == []


def test_broadcast_to_everyone_but_the_sender(make_client):
    everyone = uid("all")
    a, b, c = make_client(), make_client(), make_client()
    in_room(everyone, a, b, c)
    token = uid("others")
    assert a.call1("broadcast-others", {"event": "others", "data": token}, ns=F) is True
    settle(a, everyone, [a, b, c])
    assert b.received("others", F) == [(token,)]
    assert c.received("others", F) == [(token,)]
    assert a.received("others", F) == [], "socket.broadcast excludes the sender"


def test_broadcast_stays_in_its_namespace(make_client):
    everyone = uid("all")
    a = make_client(namespaces=["/", F])
    b = make_client(namespaces=["/", "/custom", F])
    in_room(everyone, a, b)
    assert a.call1("broadcast", {"event": "nsp-news", "data": 1}, ns=F) is True
    settle(a, everyone, [a, b])
    assert b.received("nsp-news", F) == [(1,)]
    assert b.received("nsp-news", "/") == [] and b.received("nsp-news", "/custom") == []


# ------------------------------------------------------------------------------------------------------------
# acknowledgements


def test_ack_client_to_server(make_client):
    c = make_client()
    assert c.call("echo", 1, "two", [3, {"four": None}], True, ns=F) == [1, "two", [3, {"four": None}], True]
    assert c.call("echo", ns=F) == []
    # Several acks in flight at once, each answered to its own id. (At most 10: python-engineio's client refuses
    # a polling response of more than 16 packets, engineio/payload.py max_decode_packets, and drops the session.)
    replies = {}
    for i in range(10):
        c.client.emit("echo", (i, f"n{i}"), namespace=F, callback=lambda *r, i=i: replies.__setitem__(i, list(r)))
    wait_until(lambda: len(replies) == 10, what="10 acks")
    assert replies == {i: [i, f"n{i}"] for i in range(10)}


def test_ack_server_to_client(make_client):
    c = make_client(handlers={(F, "question"): lambda data: {"got": data}})
    c.emit("ask", {"data": [1, "two"], "timeout": 3000}, ns=F)
    assert c.wait_for("answer", ns=F) == ({"ok": True, "reply": [{"got": [1, "two"]}]},)
    assert c.received("question", F) == [([1, "two"],)]


def test_ack_server_to_client_several_values(make_client):
    c = make_client(handlers={(F, "question"): lambda data: (data, "second", 3)})
    c.emit("ask", {"data": "q", "timeout": 3000}, ns=F)
    assert c.wait_for("answer", ns=F) == ({"ok": True, "reply": ["q", "second", 3]},)


def test_ack_server_to_client_timeout(make_client):
    def slow(data):
        time.sleep(1.5)
        return "too late"

    c = make_client(handlers={(F, "question"): slow})
    start = time.monotonic()
    c.emit("ask", {"data": "q", "timeout": 300}, ns=F)
    assert c.wait_for("answer", ns=F) == ({"ok": False, "error": "timeout"},)
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 1.4, f"the timeout (300 ms) fired after {elapsed:.2f} s"
    # The late reply is dropped quietly, and the socket is still usable.
    time.sleep(1.3)
    assert c.call("echo", "alive", ns=F) == ["alive"]
    assert len(c.received("answer", F)) == 1


def test_broadcast_with_acks_collects_every_reply(make_client):
    room = uid("room")
    members = [make_client(handlers={(F, "question"): lambda data, n=n: f"{n}:{data}"}) for n in "abc"]
    asker = make_client()
    in_room(room, *members)
    asker.emit("broadcast-ask", {"room": room, "data": "q", "timeout": 3000}, ns=F)
    (answer,) = asker.wait_for("broadcast-answer", ns=F)
    assert answer["error"] is None, answer
    assert sorted(answer["replies"]) == [["a:q"], ["b:q"], ["c:q"]]


def test_broadcast_with_acks_times_out_with_the_replies_so_far(make_client):
    def silent(data):
        time.sleep(2.0)
        return "too late"

    room = uid("room")
    members = [make_client(handlers={(F, "question"): lambda data, n=n: n}) for n in "ab"]
    members.append(make_client(handlers={(F, "question"): silent}))
    asker = make_client()
    in_room(room, *members)
    start = time.monotonic()
    asker.emit("broadcast-ask", {"room": room, "data": "q", "timeout": 500}, ns=F)
    (answer,) = asker.wait_for("broadcast-answer", ns=F)
    elapsed = time.monotonic() - start
    assert answer["error"] == "timeout", answer
    assert sorted(answer["replies"]) == [["a"], ["b"]]
    assert 0.4 <= elapsed < 1.9, f"the timeout (500 ms) fired after {elapsed:.2f} s"


def test_broadcast_with_acks_to_an_empty_room(make_client):
    asker = make_client()
    asker.emit("broadcast-ask", {"room": uid("empty"), "data": "q", "timeout": 3000}, ns=F)
    start = time.monotonic()
    assert asker.wait_for("broadcast-answer", ns=F) == ({"error": None, "replies": []},)
    assert time.monotonic() - start < 2, "no recipient: the callback runs at once, not at the timeout"


# ------------------------------------------------------------------------------------------------------------
# binary


NESTED = {
    "name": "blob",
    "data": b"\x00\x01\x02\xff",
    "parts": [b"first", {"deep": b"\x80" * 1000, "more": [b"", b"x"]}],
    "n": 1.5,
    "none": None,
}


def test_binary_nested_echoed_by_ack(make_client):
    c = make_client()
    # Client to server: a BINARY_EVENT with six attachments in three arguments; back: a BINARY_ACK.
    reply = c.call("echo", NESTED, [b"a", b"b"], "text", ns=F)
    assert reply == [NESTED, [b"a", b"b"], "text"]
    assert isinstance(reply[0]["data"], bytes)


def test_binary_nested_emitted_back(make_client):
    c = make_client()
    c.emit("emit-back", "back", NESTED, b"top-level", [{"x": b"\x01"}], ns=F)
    assert c.wait_for("back", ns=F) == (NESTED, b"top-level", [{"x": b"\x01"}])


def test_binary_on_main_namespace(make_client):
    c = make_client(namespaces=["/"])
    c.emit("message", {"img": b"\x89PNG\r\n\x1a\n", "list": [b"1", b"2", b"3"]}, b"\x00")
    assert c.wait_for("message-back") == ({"img": b"\x89PNG\r\n\x1a\n", "list": [b"1", b"2", b"3"]}, b"\x00")
    assert c.call("message-with-ack", b"\x01\x02") == [b"\x01\x02"]


def test_binary_large_attachment(make_client):
    c = make_client()
    blob = bytes(range(256)) * 1024  # 256 KiB
    assert c.call("echo", {"blob": blob}, ns=F, timeout=10) == [{"blob": blob}]


# ------------------------------------------------------------------------------------------------------------
# catch-all and packet middleware


def test_catch_all_sees_every_event(make_client):
    c = make_client()
    c.emit("alpha", 1, ns=F)
    c.emit("beta", {"bin": b"\x01"}, ns=F)
    c.emit("gamma", ns=F)
    # onAny listeners run before the event's own handlers, so `seen` sees itself too
    # (packages/socket.io/lib/socket.ts, onevent()).
    assert c.call1("seen", ns=F) == ["alpha", "beta", "gamma", "seen"]


def test_packet_middleware_refuses_forbidden(make_client):
    c = make_client()
    acked = []
    c.client.emit("forbidden", ("payload",), namespace=F, callback=lambda *r: acked.append(r))
    assert c.wait_for("refused", ns=F) == ("forbidden",)
    # The event never reached a handler (no ack), and the socket stays connected and usable.
    assert c.call("echo", "after", ns=F) == ["after"]
    time.sleep(GRACE)
    assert acked == []
    assert c.client.connected and F in c.client.namespaces


def test_catch_all_sees_events_refused_by_middleware(make_client):
    # Reference: Socket.onevent() calls the onAny listeners, then dispatch() runs the packet middlewares
    # (packages/socket.io/lib/socket.ts), so a refused event is still seen by the catch-all.
    c = make_client()
    c.emit("forbidden", ns=F)
    assert c.wait_for("refused", ns=F) == ("forbidden",)
    assert c.call1("seen", ns=F) == ["forbidden", "seen"]


# ------------------------------------------------------------------------------------------------------------
# disconnection


def test_server_side_namespace_disconnect(make_client):
    a = make_client(namespaces=["/", F])
    observer = make_client()
    sid = a.sid(F)
    a.emit("disconnect-me", False, ns=F)
    assert a.wait_for("disconnect", ns=F) == ("server disconnect",)  # python-socketio's name for a DISCONNECT
    assert observer.call1("last-disconnect", sid, ns=F) == "server namespace disconnect"
    # Only that namespace: the connection and `/` stay.
    assert F not in a.client.namespaces
    a.emit("message", "still here")
    assert a.wait_for("message-back") == ("still here",)
    assert a.received("disconnect", "/") == []


def test_server_side_disconnect_closing_the_connection(make_client):
    a = make_client(namespaces=["/", F])
    observer = make_client()
    sid = a.sid(F)
    a.emit("disconnect-me", True, ns=F)
    a.wait_for("disconnect", ns=F)
    a.wait_for("disconnect", ns="/")
    wait_until(lambda: a.client.eio.state != "connected", what="Engine.IO connection closed")
    assert observer.call1("last-disconnect", sid, ns=F) is not None
    assert sid not in observer.call1("fetch", ns=F)


def test_server_side_disconnect_closing_the_connection_as_the_reference(make_client):
    # Reference: socket.disconnect(true) -> client._disconnect(), which calls socket.disconnect() (close=false) on
    # every socket of the connection -- each writes a DISCONNECT packet and leaves with "server namespace
    # disconnect" -- and then closes the transport (packages/socket.io/lib/socket.ts disconnect(),
    # lib/client.ts _disconnect()). The client therefore sees a server disconnect (socket.io-client: "io server
    # disconnect", no automatic reconnection), not a transport close.
    a = make_client(namespaces=["/", F])
    observer = make_client()
    sid = a.sid(F)
    a.emit("disconnect-me", True, ns=F)
    a.wait_for("disconnect", ns=F)
    a.wait_for("disconnect", ns="/")
    assert observer.call1("last-disconnect", sid, ns=F) == "server namespace disconnect"
    # python-socketio reports "server disconnect" for a DISCONNECT packet; for a transport that just closed it
    # reports python-engineio's reason (e.g. "transport error").
    assert a.received("disconnect", F) == [("server disconnect",)]
    assert a.received("disconnect", "/") == [("server disconnect",)]


def test_client_side_namespace_disconnect(make_client):
    a = make_client(namespaces=["/", F])
    observer = make_client()
    sid = a.sid(F)
    # The DISCONNECT packet for one namespace, as the client writes it. (python-socketio has no public call for
    # one namespace, and its disconnect() can lose the queued DISCONNECT packets over WebSocket: engineio's
    # Client.disconnect() stops the write loop and closes the socket without flushing the queue.)
    a.client._send_packet(a.client.packet_class(sio_packet.DISCONNECT, namespace=F))
    wait_until(lambda: observer.call1("last-disconnect", sid, ns=F) is not None, what="the server saw it")
    assert observer.call1("last-disconnect", sid, ns=F) == "client namespace disconnect"
    assert sid not in observer.call1("fetch", ns=F)
    # The server answers nothing, and the connection and the main namespace stay.
    a.emit("message", "still here")
    assert a.wait_for("message-back") == ("still here",)
    assert a.received("disconnect", F) == [] and a.received("disconnect", "/") == []


def test_client_side_disconnect_of_the_connection(make_client, transports):
    a = make_client(namespaces=["/", F])
    observer = make_client()
    sid = a.sid(F)
    a.client.disconnect()
    assert a.wait_for("disconnect", ns=F) == ("client disconnect",)
    wait_until(lambda: observer.call1("last-disconnect", sid, ns=F) is not None, what="the server saw it")
    # Over polling the DISCONNECT packets travel in the POST that closes; over WebSocket python-engineio may close
    # the socket before it writes them (see above), and the server sees the transport close.
    reasons = {"client namespace disconnect", "transport close"}
    if transports == ["polling"]:
        reasons = {"client namespace disconnect"}
    assert observer.call1("last-disconnect", sid, ns=F) in reasons


def test_last_disconnect_of_a_connected_socket_is_null(make_client):
    a, observer = make_client(), make_client()
    assert observer.call1("last-disconnect", a.sid(F), ns=F) is None


# ------------------------------------------------------------------------------------------------------------
# fetchSockets, socketsJoin, socketsLeave, disconnectSockets


def test_fetch_sockets(make_client):
    room = uid("room")
    a, b, c = make_client(), make_client(), make_client()
    in_room(room, a, b)
    assert sorted(c.call1("fetch", room, ns=F)) == sorted([a.sid(F), b.sid(F)])
    assert set(c.call1("fetch", ns=F)) >= {a.sid(F), b.sid(F), c.sid(F)}
    assert c.call1("fetch", uid("empty"), ns=F) == []
    assert c.call1("fetch", a.sid(F), ns=F) == [a.sid(F)], "each socket is in its own id room"


def test_sockets_join_and_leave(make_client):
    room, added = uid("room"), uid("added")
    a, b, c = make_client(), make_client(), make_client()
    in_room(room, a, b)
    assert c.call1("sockets-join", {"target": room, "room": added}, ns=F) is True
    assert sorted(c.call1("fetch", added, ns=F)) == sorted([a.sid(F), b.sid(F)])
    assert added in a.call1("rooms", ns=F)
    assert added not in c.call1("rooms", ns=F)
    # One socket by its id room.
    assert c.call1("sockets-join", {"target": c.sid(F), "room": added}, ns=F) is True
    assert sorted(c.call1("fetch", added, ns=F)) == sorted([a.sid(F), b.sid(F), c.sid(F)])
    # And out again.
    assert c.call1("sockets-leave", {"target": room, "room": added}, ns=F) is True
    assert c.call1("fetch", added, ns=F) == [c.sid(F)]
    assert added not in a.call1("rooms", ns=F)
    assert room in a.call1("rooms", ns=F)


def test_disconnect_sockets(make_client):
    room = uid("room")
    a = make_client(namespaces=["/", F])
    b, c = make_client(), make_client()
    in_room(room, a, b)
    a_sid, b_sid = a.sid(F), b.sid(F)
    assert c.call1("disconnect-sockets", {"target": room, "close": False}, ns=F) is True
    assert a.wait_for("disconnect", ns=F) == ("server disconnect",)
    assert b.wait_for("disconnect", ns=F) == ("server disconnect",)
    assert c.call1("fetch", room, ns=F) == []
    assert c.call1("last-disconnect", a_sid, ns=F) == "server namespace disconnect"
    assert c.call1("last-disconnect", b_sid, ns=F) == "server namespace disconnect"
    # `a` keeps its connection and its main namespace; `c` was not targeted.
    a.emit("message", "still here")
    assert a.wait_for("message-back") == ("still here",)
    assert c.call("echo", 1, ns=F) == [1]


def test_disconnect_sockets_closing_connections(make_client):
    room = uid("room")
    a = make_client(namespaces=["/", F])
    c = make_client()
    in_room(room, a)
    a_sid = a.sid(F)
    assert c.call1("disconnect-sockets", {"target": room, "close": True}, ns=F) is True
    wait_until(lambda: a.client.eio.state != "connected", what="a's connection closed")
    assert len(a.received("disconnect", "/")) == 1 and len(a.received("disconnect", F)) == 1
    # disconnectSockets(true) is socket.disconnect(true) on each (reason: see the test above).
    assert c.call1("last-disconnect", a_sid, ns=F) is not None
    assert c.call1("fetch", room, ns=F) == []
    assert c.call("echo", 1, ns=F) == [1]
