"""Socket.IO 2.x clients (python-socketio 4.6 over python-engineio 3.14, speaking Engine.IO v3) against
`sio-protocol-server --allow-eio3`, with the rules the reference applies for `conn.protocol === 3`; and v3 and v4
clients together in one room."""

from __future__ import annotations

import json
import queue
import threading
import time

import pytest
import requests
import socketio
import websocket

from v3_util import Polling, payload, split_payload

TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": ["polling", "websocket"]}


def wait_until(predicate, timeout: float = 5, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


class Client:
    """A python-socketio 4.x client recording what it receives."""

    def __init__(self, url: str, transports=("polling", "websocket"), namespaces=("/", "/features"), **options):
        self.sio = socketio.Client(**options)
        self.events: "queue.Queue[tuple]" = queue.Queue()
        self.connected: set[str] = set()
        self.errors: dict[str, tuple] = {}
        self.answers = {}
        for ns in namespaces:
            self._watch(ns)
        self.url, self.transports, self.namespaces = url, list(transports), list(namespaces)

    def _watch(self, ns: str) -> None:
        self.sio.on("connect", lambda: self.connected.add(ns), namespace=ns)
        self.sio.on("disconnect", lambda: self.connected.discard(ns), namespace=ns)
        self.sio.on("connect_error", lambda *data: self.errors.__setitem__(ns, data), namespace=ns)
        for event in ("auth", "news", "hello", "answer", "welcome", "back"):
            self.sio.on(event, (lambda e: lambda *args: self.events.put((ns, e, args)))(event), namespace=ns)
        self.sio.on("question", lambda *args: self.answers.get(ns, "yes"), namespace=ns)

    def connect(self, wait_for=None):
        self.sio.connect(self.url, transports=self.transports, namespaces=self.namespaces)
        for ns in wait_for if wait_for is not None else self.namespaces:
            wait_until(lambda: ns in self.connected, what=f"connected to {ns}")
        return self

    def next_event(self, name: str, timeout: float = 5):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name} event within {timeout} s")
            try:
                ns, event, args = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event == name:
                return ns, args

    def close(self):
        try:
            self.sio.disconnect()
        except Exception:
            pass


@pytest.fixture
def clients():
    made: list[Client] = []

    def make(*args, **kwargs) -> Client:
        client = Client(*args, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.mark.parametrize("mode", TRANSPORTS)
def test_connects_with_the_implicit_main_namespace(server, clients, mode):
    c = clients(server.url, TRANSPORTS[mode]).connect()
    assert c.next_event("auth") == ("/", ({},))
    if mode != "polling":
        wait_until(lambda: c.sio.transport() == "websocket", what="websocket")
    # Socket ids are the Engine.IO id (`/nsp#<id>` outside `/`), as a 2.x client expects.
    rooms = c.sio.call("rooms", namespace="/features", timeout=5)
    assert rooms == [f"/features#{c.sio.sid}"]


@pytest.mark.parametrize("mode", TRANSPORTS)
def test_binary_and_acks_both_ways(server, clients, mode):
    c = clients(server.url, TRANSPORTS[mode]).connect()
    blob = bytes(range(256))
    reply = c.sio.call("echo", ["text é😀", {"blob": blob, "list": [b"\x00", 1]}], namespace="/features", timeout=5)
    assert reply == ["text é😀", {"blob": blob, "list": [b"\x00", 1]}]
    c.sio.emit("emit-back", ("back", b"\x01\x02", "x"), namespace="/features")  # a tuple: several arguments
    assert c.next_event("back") == ("/features", (b"\x01\x02", "x"))
    # The server asks, the client acknowledges.
    c.answers["/features"] = "yes"
    c.sio.emit("ask", {"data": "ready?", "timeout": 3000}, namespace="/features")
    _, (answer,) = c.next_event("answer")
    assert answer == {"ok": True, "reply": ["yes"]}
    assert c.sio.call("message-with-ack", {"x": 1}, timeout=5) == {"x": 1}


def test_namespaces(server, clients):
    c = clients(server.url, namespaces=["/", "/dyn-abc", "/protected", "/nope"]).connect(wait_for=["/", "/dyn-abc"])
    assert c.next_event("hello") == ("/dyn-abc", ("/dyn-abc",))
    # A 2.x client's CONNECT_ERROR carries the error's data alone (`err.data || err.message`) ...
    wait_until(lambda: "/protected" in c.errors, what="refusal")
    assert c.errors["/protected"] == ({"code": 401},)
    # ... but an unknown namespace gets the reference's object.
    wait_until(lambda: "/nope" in c.errors, what="invalid namespace")
    assert c.errors["/nope"] == ({"message": "Invalid namespace"},)


def sio_polling(base: str) -> tuple[Polling, list[str]]:
    """A raw v3 polling session on /socket.io/ with its first packets (the implicit CONNECT of `/` among them)."""
    p = Polling(base, "/socket.io/", b64="1")
    got = list(p.rest)
    while not any(m.startswith("40") for m in got):
        got += p.get_packets()
    return p, got


def test_wire_connect_packets_and_query_auth(server):
    p, got = sio_polling(server.url)
    assert "40" in got  # CONNECT for `/` with no payload
    assert p.post(payload("40/protected?token=secret&x=%41,")).text == "ok"
    seen = []
    while not any("welcome" in m for m in seen):
        seen += [m for m in p.get_packets() if m != "3"]
        p.post(payload("2"))
    assert "40/protected," in seen
    assert f'42/protected,["welcome","/protected#{p.sid}"]' in seen
    # Without the token (a new session: a second CONNECT to a joined namespace ends the connection), a 2.x
    # refusal: the data alone.
    p, _ = sio_polling(server.url)
    assert p.post(payload("40/protected,")).text == "ok"
    seen = []
    while not any(m.startswith("44/protected") for m in seen):
        seen += p.get_packets()
    assert '44/protected,{"code":401}' in seen


def test_disconnects(server, clients):
    watcher = clients(server.url).connect()
    c = clients(server.url).connect()
    sid = c.sio.sid
    c.sio.emit("disconnect-me", False, namespace="/features")
    wait_until(lambda: "/features" not in c.connected, what="server-side disconnect")
    assert watcher.sio.call("last-disconnect", f"/features#{sid}", namespace="/features", timeout=5) \
        == "server namespace disconnect"
    c.close()
    assert "/" in watcher.connected


class V4WebSocket:
    """A Socket.IO v5 client over a raw Engine.IO v4 WebSocket: pings answered, events collected."""

    def __init__(self, base: str, namespace: str):
        self.ws = websocket.create_connection(base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                              timeout=5)
        assert self.ws.recv().startswith("0{")
        self.ns = namespace
        self.ws.send(f"40{namespace},")
        self.expect(lambda m: m.startswith(f"40{namespace},"))

    def expect(self, predicate, timeout: float = 5) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.ws.recv()
            if message == "2":
                self.ws.send("3")
            elif predicate(message):
                return message
        raise AssertionError("expected message not received")

    def call(self, event: str, *args, ack: int = 1):
        self.ws.send(f"42{self.ns},{ack}" + json.dumps([event, *args]))
        reply = self.expect(lambda m: m.startswith(f"43{self.ns},{ack}["))
        return json.loads(reply[len(f"43{self.ns},{ack}"):])

    def close(self):
        self.ws.close()


def test_a_room_shared_by_v3_and_v4_clients(server, clients):
    v3 = clients(server.url).connect()
    v4 = V4WebSocket(server.url, "/features")
    try:
        assert v3.sio.call("join", "mixed", namespace="/features", timeout=5) is True
        assert v4.call("join", "mixed") == [True]
        # v3 to the room: the v4 client hears it.
        assert v3.sio.call("broadcast", {"event": "news", "data": {"from": "v3", "b": "é"}, "room": "mixed"},
                           namespace="/features", timeout=5) is True
        assert json.loads(v4.expect(lambda m: '"news"' in m)[len("42/features,"):]) == ["news", {"from": "v3", "b": "é"}]
        # v4 to the room: the v3 client hears it.
        assert v4.call("broadcast", {"event": "news", "data": "from v4", "room": "mixed"}, ack=2) == [True]
        ns, args = v3.next_event("news")
        while args != ("from v4",):
            ns, args = v3.next_event("news")
        assert ns == "/features"
        # Both are in the room's fetch.
        ids = v4.call("fetch", "mixed", ack=3)[0]
        assert f"/features#{v3.sio.sid}" in ids and len(ids) == 2
    finally:
        v4.close()


def test_reconnects_after_the_server_comes_back(start_server, clients):
    srv = start_server("--allow-eio3")
    port = srv.port
    c = clients(srv.url, ["websocket"], reconnection_delay=0.2, reconnection_delay_max=0.5).connect()
    first = c.sio.sid
    srv.stop()
    wait_until(lambda: "/" not in c.connected, what="disconnect seen")
    again = start_server("--allow-eio3", port=port)
    wait_until(lambda: {"/", "/features"} <= c.connected, timeout=15, what="reconnected")
    assert c.sio.sid != first
    assert c.sio.call("rooms", namespace="/features", timeout=5) == [f"/features#{c.sio.sid}"]
    assert again.alive()


def test_refused_when_allow_eio3_is_off(start_server):
    srv = start_server()
    c = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.connect(srv.url, transports=["polling"])
    r = requests.get(srv.url + "/socket.io/?EIO=3&transport=polling", timeout=5)
    assert r.status_code == 400 and r.json() == {"code": 5, "message": "Unsupported protocol version"}


def test_several_loops(start_server, clients):
    srv = start_server("--allow-eio3", "--loops", "2")
    group = [clients(srv.url, TRANSPORTS[mode]).connect() for mode in ("polling", "upgrade", "websocket", "polling")]
    loops = {c.sio.call("loop", namespace="/features", timeout=5) for c in group}
    for c in group:
        assert c.sio.call("join", "all", namespace="/features", timeout=5) is True
    v4 = V4WebSocket(srv.url, "/features")
    try:
        assert v4.call("join", "all") == [True]
        assert v4.call("broadcast", {"event": "news", "data": "to every loop", "room": "all"}, ack=2) == [True]
        for c in group:
            ns, args = c.next_event("news")
            assert args == ("to every loop",)
        assert len(v4.call("fetch", "all", ack=3)[0]) == len(group) + 1
    finally:
        v4.close()
    assert loops <= {0, 1}
