"""The admin UI's server side (issue 18): `--admin` on sio-bench-server / sio-chat, driven by python-socketio
clients acting as @socket.io/admin-ui 0.5 (admin_ui.py), checked against what the UI's source reads and what the
reference's own tests (socketio/socket.io-admin-ui test/index.ts, test/events.ts) expect."""

from __future__ import annotations

import time

import pytest
import socketio

from admin_ui import ISO, AdminUI, check_serialized_socket, check_server_stats

# The reference's test hash: bcrypt of "changeit", cost 10 (test/index.ts).
HASH = "$2b$10$nu1FHRkuxkZkqID.31gz4uQsyERZAn.m4IIruysTsHDODBtrqS5Me"
ALL_FEATURES = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS",
                "ALL_EVENTS"]


def user(server, transports=("websocket",), namespace="/") -> socketio.Client:
    events = []
    client = socketio.Client(reconnection=False)
    client.on("*", lambda event, *args: events.append((event, args)), namespace=namespace)
    client.on("disconnect", lambda *reason: events.append(("disconnect", reason)), namespace=namespace)
    client.connect(server.url, namespaces=[namespace], transports=list(transports), wait_timeout=10)
    client.received = events
    return client


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def admin_server(start_server):
    return start_server(args=["--admin"])


def test_config_and_all_sockets(admin_server):
    first = user(admin_server)
    ui = AdminUI(admin_server.url).connect()
    (config,) = ui.wait("config")
    assert config == {"supportedFeatures": ALL_FEATURES}
    (sockets,) = ui.wait("all_sockets")
    assert len(sockets) == 2  # the user's and the UI's own, as the reference's test expects
    by_nsp = {s["nsp"]: s for s in sockets}
    assert by_nsp["/"]["id"] == first.get_sid("/")
    assert by_nsp["/admin"]["id"] == ui.client.get_sid("/admin")
    for socket in sockets:
        check_serialized_socket(socket)
    assert by_nsp["/"]["clientId"] == first.eio.sid[:12]
    assert by_nsp["/"]["transport"] == "websocket"
    ui.disconnect()
    first.disconnect()


def test_server_stats_every_two_seconds(admin_server):
    ui = AdminUI(admin_server.url).connect()
    (stats,) = ui.wait("server_stats", timeout=5)
    check_server_stats(stats)
    started = time.monotonic()
    client = user(admin_server, transports=("polling",))
    client.call("echo-ack", "x", timeout=10)
    # The next stats count the user (over polling) and what it sent.
    (later,) = ui.wait("server_stats", lambda a: a[0]["clientsCount"] == 2, timeout=6)
    check_server_stats(later)
    assert 1.0 < time.monotonic() - started < 6
    assert later["pollingClientsCount"] == 1
    assert {"name": "/", "socketsCount": 1} in later["namespaces"]
    assert {"name": "/admin", "socketsCount": 1} in later["namespaces"]
    seen: dict[str, int] = {}
    for args in [(later,)] + [e[1] for e in ui.seen if e[0] == "server_stats"]:
        for event in args[0]["aggregatedEvents"]:
            seen[event["type"]] = seen.get(event["type"], 0) + event["count"]
    assert seen.get("rawConnection", 0) >= 1 and seen.get("packetsIn", 0) >= 2 and seen.get("bytesOut", 0) > 0
    client.disconnect()
    (after,) = ui.wait("server_stats", lambda a: any(e["type"] == "rawDisconnection"
                                                     for e in a[0]["aggregatedEvents"]), timeout=6)
    assert [e["subType"] for e in after["aggregatedEvents"] if e["type"] == "rawDisconnection"][0] in (
        "transport close", "forced close")
    ui.disconnect()


def test_development_events(admin_server):
    ui = AdminUI(admin_server.url).connect()
    ui.wait("all_sockets")
    client = user(admin_server, transports=("polling", "websocket"))
    sid = client.get_sid("/")
    # The own room first (the reference joins it before the connection event), then the socket.
    args = ui.wait("room_joined", lambda a: a[2] == sid)
    assert args[:3] == ("/", sid, sid) and ISO.match(args[3])
    socket, stamp = ui.wait("socket_connected", lambda a: a[0]["id"] == sid)
    check_serialized_socket(socket)
    assert socket["nsp"] == "/" and socket["rooms"] == [sid] and ISO.match(stamp)
    # The upgrade to WebSocket: socket_updated {id, nsp, transport}, unless it was done before the socket joined
    # (python-socketio upgrades at once), which socket_connected then says, as the reference's would.
    if socket["transport"] == "polling":
        (update,) = ui.wait("socket_updated", lambda a: a[0]["id"] == sid)
        assert update == {"id": sid, "nsp": "/", "transport": "websocket"}

    assert client.call("echo-ack", {"n": 1}, timeout=10) == {"n": 1}
    nsp, id_, event_args, stamp = ui.wait("event_received", lambda a: a[1] == sid)
    assert (nsp, id_, event_args) == ("/", sid, ["echo-ack", {"n": 1}]) and ISO.match(stamp)
    client.emit("echo", ("a", 2, b"\x03"))
    nsp, id_, event_args, stamp = ui.wait("event_received", lambda a: a[2][0] == "echo")
    assert event_args == ["echo", "a", 2, b"\x03"]  # binary attachments pass through as they are
    nsp, id_, event_args, stamp = ui.wait("event_sent", lambda a: a[2][0] == "echo")
    assert (nsp, id_, event_args) == ("/", sid, ["echo", "a", 2, b"\x03"]) and ISO.match(stamp)

    client.call("join", "room1", timeout=10)
    assert ui.wait("room_joined", lambda a: a[1] == "room1")[:3] == ("/", "room1", sid)
    client.disconnect()
    left = ui.wait("room_left", lambda a: a[1] == "room1")
    assert left[:3] == ("/", "room1", sid) and ISO.match(left[3])
    nsp, id_, reason, stamp = ui.wait("socket_disconnected", lambda a: a[1] == sid)
    assert (nsp, id_) == ("/", sid) and reason in ("client namespace disconnect", "transport close")
    assert ISO.match(stamp)
    ui.disconnect()


def test_commands_act_on_the_selection(admin_server):
    ui = AdminUI(admin_server.url).connect()
    ui.wait("config")
    a, b = user(admin_server), user(admin_server)
    sid_a, sid_b = a.get_sid("/"), b.get_sid("/")

    ui.emit("emit", "/", sid_a, "hello", "world", 1)  # the selection: one socket (its own room)
    wait_until(lambda: ("hello", ("world", 1)) in a.received)
    time.sleep(0.3)
    assert not any(e[0] == "hello" for e in b.received)
    ui.emit("emit", "/", None, "everyone", {"x": 1})  # no filter: the whole namespace
    wait_until(lambda: ("everyone", ({"x": 1},)) in a.received and ("everyone", ({"x": 1},)) in b.received)

    ui.emit("join", "/", "room1", sid_b)
    assert ui.wait("room_joined", lambda a_: a_[1] == "room1")[:3] == ("/", "room1", sid_b)
    a.emit("broadcast", {"room": "room1", "v": 2})  # the bench server's broadcast to a room
    wait_until(lambda: ("bcast", ({"room": "room1", "v": 2},)) in b.received)
    assert not any(e[0] == "bcast" for e in a.received)
    ui.emit("leave", "/", "room1", sid_b)
    assert ui.wait("room_left", lambda a_: a_[1] == "room1")[:3] == ("/", "room1", sid_b)

    ui.emit("join", "/", "all")  # no filter: every socket of the namespace
    joined = {ui.wait("room_joined", lambda a_: a_[1] == "all")[2] for _ in range(2)}
    assert joined == {sid_a, sid_b}

    ui.emit("_disconnect", "/", False, sid_a)
    wait_until(lambda: any(e[0] == "disconnect" for e in a.received))
    assert ui.wait("socket_disconnected", lambda a_: a_[1] == sid_a)[2] == "server namespace disconnect"
    assert b.connected
    ui.emit("emit", "/nowhere", None, "x")  # a namespace the server does not have: ignored
    ui.emit("emit", 42)                     # malformed: ignored, the UI stays connected
    ui.emit("_disconnect", "/", True)        # close: every socket of / and its whole connection
    wait_until(lambda: not b.connected)
    assert ui.client.connected
    ui.disconnect()


def test_basic_auth_with_bcrypt_and_session_ids(start_server):
    server = start_server(args=["--admin-user", "admin", "--admin-password-hash", HASH])
    for auth in (None, {"username": "admin", "password": "wrong"}, {"username": "root", "password": "changeit"},
                 {"sessionId": "1234"}):
        ui = AdminUI(server.url, auth=auth)
        with pytest.raises(socketio.exceptions.ConnectionError):
            ui.connect()
        assert ui.error == {"message": "invalid credentials"} or ui.error == "invalid credentials", ui.error
    ui = AdminUI(server.url, auth={"username": "admin", "password": "changeit"}).connect()
    (session,) = ui.wait("session")
    assert isinstance(session, str) and len(session) >= 16
    assert ui.wait("config")[0]["supportedFeatures"] == ALL_FEATURES
    ui.disconnect()
    # Reconnecting with the session id alone, as the UI does after a reload.
    again = AdminUI(server.url, auth={"sessionId": session}).connect()
    assert again.wait("config")[0]["supportedFeatures"] == ALL_FEATURES
    again.none("session", within=0.5)
    again.disconnect()


def test_an_invalid_hash_is_refused_at_start(start_server):
    with pytest.raises(RuntimeError, match="bcrypt"):
        start_server(args=["--admin-user", "admin", "--admin-password-hash", "changeit"])


def test_readonly_refuses_commands(start_server):
    server = start_server(args=["--admin", "--admin-readonly"])
    ui = AdminUI(server.url).connect()
    assert ui.wait("config")[0] == {"supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}
    client = user(server)
    sid = client.get_sid("/")
    ui.emit("emit", "/", sid, "hello", "world")
    ui.emit("join", "/", "room1", sid)
    ui.emit("_disconnect", "/", True, sid)
    time.sleep(1.0)
    assert client.connected and not any(e[0] == "hello" for e in client.received)
    ui.none("room_joined", lambda a: a[1] == "room1", within=0.2)
    client.disconnect()
    ui.disconnect()


def test_production_mode_sends_stats_only(start_server):
    server = start_server(args=["--admin", "--admin-mode", "production"])
    ui = AdminUI(server.url).connect()
    assert ui.wait("config")[0] == {"supportedFeatures": ALL_FEATURES[:-1]}
    client = user(server)
    client.call("echo-ack", 1, timeout=10)
    (stats,) = ui.wait("server_stats", lambda a: a[0]["clientsCount"] == 2, timeout=6)
    check_server_stats(stats)
    for name in ("all_sockets", "socket_connected", "room_joined", "event_received", "event_sent"):
        assert not any(e[0] == name for e in ui.seen), name
    client.disconnect()
    ui.disconnect()


def test_sio_chat_admin_with_cors_for_the_hosted_ui(start_server):
    server = start_server("sio-chat", args=["--admin"])
    import requests
    url = server.url + "/socket.io/?EIO=4&transport=polling"
    response = requests.get(url, headers={"Origin": "https://admin.socket.io"}, timeout=5)
    assert response.headers["Access-Control-Allow-Origin"] == "https://admin.socket.io"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    preflight = requests.options(url, headers={"Origin": "https://admin.socket.io",
                                               "Access-Control-Request-Method": "POST"}, timeout=5)
    assert preflight.status_code == 204
    ui = AdminUI(server.url, transports=("polling", "websocket")).connect()
    assert ui.wait("config")[0]["supportedFeatures"] == ALL_FEATURES
    chat = user(server, namespace="/chat")
    # sio-chat has connection state recovery on: like the reference's, its broadcasts (the admin namespace's too)
    # carry an offset as a last argument, which the UI's handlers, taking fixed arguments, never read.
    args = ui.wait("socket_connected", lambda a: a[0]["nsp"] == "/chat")
    check_serialized_socket(args[0])
    assert ISO.match(args[1])
    chat.disconnect()
    ui.disconnect()
