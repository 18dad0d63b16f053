"""N event loops in one process, one port (issue 12): `sio-protocol-server --loops N`.

What a multi-loop server promises, checked with real clients (python-socketio, python-engineio, requests,
websocket-client, raw sockets) against servers of this module's own (2 and 3 loops, SO_REUSEPORT; 3 loops with
round-robin balancing where the test is about where connections land):

- new TCP connections are spread over every loop; an Engine.IO session id's first character names its loop
  ('A' = loop 0, 'B' = loop 1, ...), and `/features` `loop` acks the index of the loop serving a socket;
- a polling request or a WebSocket upgrade arriving on another loop than its session's is handed over to the
  owning loop: sessions survive requests over many connections, upgrades accepted by any loop;
- broadcasts, rooms, acks (broadcast acks too), fetchSockets, socketsJoin/Leave and disconnectSockets reach
  sockets of every loop, and each sender's packets arrive in order;
- without `--loops` (or with `--loops 1`) session ids are not marked;
- SIGTERM under load stops every loop and exits 0.

Where a test must know which loop accepted a TCP connection, it first sends a polling handshake on it (keep-alive):
the handshake is served by the accepting loop, so the new session id's mark names it.
The python-socketio client runs each received event in a thread of its own (arrival order is lost); tests that
check order use `WireClient`, which reads Socket.IO packets off the wire in order.
Connection state recovery across loops is tested in test_multiloop_recovery.py.
"""

from __future__ import annotations

import base64
import collections
import itertools
import json
import os
import re
import signal
import threading
import time
import uuid

import pytest
import requests
import websocket

from conftest import NO_LOOPS_FLAG, ServerProcess, watching
from eio_util import (SEP, EchoClient, RawWebSocket, connect, decode_payload, eio_url, http_request_bytes,
                      in_background, parse_open, read_http_response, request_target, ws_next)
from sio_util import SioClient, sio_url, sio_ws_url, wait_until

F = "/features"
CLOSE = {"Connection": "close"}  # every HTTP request of `requests` here on a new TCP connection
HTTP_TIMEOUT = 5


def loop_of(sid: str) -> int:
    """The loop an Engine.IO session id names: 'A' -> 0, 'B' -> 1, ..."""
    return ord(sid[0]) - ord("A")


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------------------------
# servers


@pytest.fixture(scope="module")
def _servers():
    """get(loops, balancing="reuseport"): this module's server with that many loops, started on first use."""
    started: dict[tuple[int, str], ServerProcess] = {}

    def get(loops: int, balancing: str = "reuseport") -> ServerProcess:
        key = (loops, balancing)
        if key not in started:
            # The reference's default heartbeat: these tests are about loops, and a Python client starved of CPU
            # by the other tests' servers could miss the suites' 200 ms ping timeout.
            args = ["--ping-interval", "25000", "--ping-timeout", "20000"]
            if balancing != "reuseport":
                args += ["--loop-balancing", balancing]
            started[key] = ServerProcess(f"multiloop-{loops}-{balancing}", loops=loops, args=args).start()
        return started[key]

    yield get
    for srv in started.values():
        srv.stop()


@pytest.fixture(params=[2, 3], ids=lambda n: f"{n}-loops")
def multi(request, _servers):
    """A server with 2, then 3 loops (SO_REUSEPORT), shared by this module's tests; `.loops` is the count."""
    with watching(request, _servers(request.param), f"{request.param}-loop server") as srv:
        yield srv


@pytest.fixture(params=[(2, "reuseport"), (3, "reuseport"), (3, "round-robin")], ids=lambda p: f"{p[0]}-{p[1]}")
def spread(request, _servers):
    """`multi`, and a 3-loop server whose first loop hands new connections out in turn (--loop-balancing
    round-robin)."""
    loops, balancing = request.param
    with watching(request, _servers(loops, balancing), f"{loops}-loop {balancing} server") as srv:
        yield srv


# ---------------------------------------------------------------------------------------------------------------
# HTTP on connections whose loop is known


def probe_loop(sock, port: int, buffered: bytes = b"") -> tuple[int, bytes]:
    """Sends a polling handshake on `sock` (keep-alive): the loop now serving that connection, and the bytes read
    past the response. The probe's session is closed at once (on the same connection: no hand-over)."""
    sock.sendall(http_request_bytes("GET", request_target(), port=port))
    response, rest = read_http_response(sock, HTTP_TIMEOUT, buffered)
    assert response.status == 200, f"probe handshake: HTTP {response.status} {response.body[:200]!r}"
    sid = parse_open(response.body.decode())["sid"]
    sock.sendall(http_request_bytes("POST", request_target(sid=sid), {"Content-Type": "text/plain"}, b"1",
                                    port=port))
    response, rest = read_http_response(sock, HTTP_TIMEOUT, rest)
    assert response.status == 200, f"probe close: HTTP {response.status} {response.body[:200]!r}"
    return loop_of(sid), rest


def fresh_handshake_loop(base: str) -> int:
    """A polling handshake on a new connection (the session is then closed): the loop that accepted it."""
    r = requests.get(eio_url(base), headers=CLOSE, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, f"handshake: HTTP {r.status_code} {r.text[:200]!r}"
    sid = parse_open(r.text)["sid"]
    requests.post(eio_url(base, sid=sid), data=b"1", headers=CLOSE, timeout=HTTP_TIMEOUT)
    return loop_of(sid)


# ---------------------------------------------------------------------------------------------------------------
# Socket.IO at the wire level, in order, with a reader thread


class WireClient:
    """One Engine.IO connection to `/socket.io/` (websocket-client, or requests with a new TCP connection for every
    request) with `/features` connected. A reader thread answers pings, answers `question` with `answer(data)` when
    set, and records the Socket.IO packets of `/features` in arrival order. Every wait is bounded."""

    def __init__(self, base: str, transport: str, name: str = "", answer=None):
        self.base = base
        self.transport = transport
        self.name = name or transport
        self.answer = answer
        self._cond = threading.Condition()
        self.events: list[tuple[str, list]] = []  # (event, args) of /features, in arrival order
        self.acks: dict[int, list] = {}
        self.disconnected = False  # a /features DISCONNECT packet arrived
        self.ended: str | None = None  # why the connection ended
        self._ids = itertools.count(1)
        self._post_lock = threading.Lock()  # one POST at a time per polling session
        self._stop = False
        if transport == "websocket":
            self.ws = websocket.create_connection(sio_ws_url(base), timeout=HTTP_TIMEOUT)
            kind, data = ws_next(self.ws)
            assert kind == "text", f"{self.name}: expected the open packet, got {(kind, data)!r}"
            opened = parse_open(data)
        else:
            r = requests.get(sio_url(base), headers=CLOSE, timeout=HTTP_TIMEOUT)
            assert r.status_code == 200, f"{self.name}: handshake HTTP {r.status_code} {r.text[:200]!r}"
            opened = parse_open(r.text)
        self.eio_sid = opened["sid"]
        self.loop = loop_of(self.eio_sid)
        self._thread = threading.Thread(target=self._read, daemon=True, name=f"wire-{self.name}")
        self._thread.start()
        self._connected: str | None = None
        self.send(f"0{F},")
        self._wait(lambda: self._connected is not None, f"CONNECT to {F}")
        self.sid = self._connected

    # -- wire --------------------------------------------------------------------------------------------------
    def _url(self) -> str:
        return sio_url(self.base, sid=self.eio_sid)

    def _send_engine(self, packets: list[str]) -> bool:
        try:
            if self.transport == "websocket":
                for p in packets:
                    self.ws.send(p)
                return True
            with self._post_lock:
                r = requests.post(self._url(), data=SEP.join(packets).encode(), headers=CLOSE, timeout=HTTP_TIMEOUT)
            return r.status_code == 200
        except (websocket.WebSocketException, requests.RequestException, OSError):
            return False

    def send(self, *sio_packets: str) -> bool:
        """Sends Socket.IO packets (as written on the wire, e.g. `2/features,["echo",1]`), in one payload when
        polling."""
        return self._send_engine(["4" + p for p in sio_packets])

    def _end(self, why: str) -> None:
        with self._cond:
            if self.ended is None:
                self.ended = why
            self._cond.notify_all()

    def _read(self) -> None:
        try:
            self._read_loop()
        except Exception as e:  # noqa: BLE001 - reported by the waits instead of as a stray thread exception
            self._end(f"reader thread failed: {e!r}")

    def _read_loop(self) -> None:
        while not self._stop:
            if self.transport == "websocket":
                try:
                    kind, data = ws_next(self.ws, 1.0)
                except TimeoutError:
                    continue
                if kind == "text":
                    if not self._engine_packet(data):
                        return
                elif kind != "binary":
                    self._end(f"websocket {kind} {data!r}")
                    return
            else:
                try:
                    r = requests.get(self._url(), headers=CLOSE, timeout=HTTP_TIMEOUT)
                except requests.RequestException as e:
                    self._end(f"GET failed: {e}")
                    return
                if r.status_code != 200:
                    self._end(f"GET answered HTTP {r.status_code} {r.text[:200]!r}")
                    return
                for ptype, data in decode_payload(r.text):
                    if isinstance(data, bytes):
                        continue
                    if not self._engine_packet(ptype + data):
                        return

    def _engine_packet(self, text: str) -> bool:
        """Handles one Engine.IO packet; False when the connection is over."""
        if text == "2":
            self._send_engine(["3"])
        elif text.startswith("4"):
            self._sio_packet(text[1:])
        elif text == "1":
            self._end("close packet")
            return False
        return True

    def _sio_packet(self, packet: str) -> None:
        prefix = packet[:1]
        if not packet[1:].startswith(F + ","):
            return  # another namespace
        body = packet[1 + len(F) + 1:]
        match = re.match(r"(\d*)", body)
        ack_id = int(match.group(1)) if match.group(1) else None
        body = body[match.end():]
        with self._cond:
            if prefix == "0":
                self._connected = json.loads(body)["sid"]
            elif prefix == "1":
                self.disconnected = True
            elif prefix == "2":
                event, *args = json.loads(body)
                self.events.append((event, args))
                if event == "question" and ack_id is not None and self.answer is not None:
                    reply = self.answer(*args)
                    threading.Thread(target=self.send, args=(f"3{F},{ack_id}" + compact([reply]),),
                                     daemon=True).start()
            elif prefix == "3" and ack_id is not None:
                self.acks[ack_id] = json.loads(body)
            elif prefix == "4":
                self._connected = f"refused: {body}"
            self._cond.notify_all()

    # -- Socket.IO ---------------------------------------------------------------------------------------------
    def _wait(self, predicate, what: str, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.ended is not None and not predicate()):
                    raise AssertionError(f"{self.name} (loop {self.loop}): no {what} within {timeout} s "
                                         f"(ended: {self.ended}, events {[e for e, _ in self.events][-10:]})")
                self._cond.wait(min(remaining, 0.2))

    def emit(self, event: str, *args) -> bool:
        return self.send(f"2{F}," + compact([event, *args]))

    def call(self, event: str, *args, timeout: float = 5) -> list:
        ack_id = next(self._ids)
        assert self.send(f"2{F},{ack_id}" + compact([event, *args])), f"{self.name}: could not send {event!r}"
        self._wait(lambda: ack_id in self.acks, f"ack of {event!r}", timeout)
        with self._cond:
            return self.acks.pop(ack_id)

    def call1(self, event: str, *args, timeout: float = 5):
        reply = self.call(event, *args, timeout=timeout)
        assert len(reply) == 1, f"ack of {event!r}: {reply!r}"
        return reply[0]

    def received(self, event: str) -> list[list]:
        with self._cond:
            return [args for e, args in self.events if e == event]

    def wait_count(self, event: str, count: int, timeout: float = 10) -> list[list]:
        self._wait(lambda: sum(1 for e, _ in self.events if e == event) >= count, f"{count} x {event!r}", timeout)
        return self.received(event)

    def wait_ended(self, timeout: float = 5) -> str:
        self._wait(lambda: self.ended is not None, "end of the connection", timeout)
        return self.ended

    def close(self) -> None:
        self._stop = True
        if self.ended is None:
            self._send_engine(["1"])
        if self.transport == "websocket":
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - teardown
                pass
        self._thread.join(HTTP_TIMEOUT + 1)


@pytest.fixture
def wire():
    """wire(base, transport, **WireClient options): a WireClient closed after the test."""
    clients: list[WireClient] = []

    def make(base: str, transport: str, **kwargs) -> WireClient:
        c = WireClient(base, transport, name=kwargs.pop("name", f"{transport}-{len(clients)}"), **kwargs)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def on_every_loop(make, srv: ServerProcess, per_loop: int = 2, **kwargs) -> list[WireClient]:
    """WireClients, alternately websocket and polling, until every loop has `per_loop` of them (all are kept)."""
    clients: list[WireClient] = []
    counts = collections.Counter()
    for i in range(20 * srv.loops * per_loop):
        if all(counts[n] >= per_loop for n in range(srv.loops)):
            return clients
        c = make(srv.url, ("websocket", "polling")[i % 2], name=f"c{i}", **kwargs)
        clients.append(c)
        counts[c.loop] += 1
    raise AssertionError(f"after {len(clients)} connections, clients per loop: {dict(counts)}")


def halves(clients: list[WireClient]) -> tuple[list[WireClient], list[WireClient]]:
    """Splits clients of on_every_loop(per_loop >= 2) into two groups that each have a client on every loop."""
    first: dict[int, WireClient] = {}
    for c in clients:
        first.setdefault(c.loop, c)
    chosen = list(first.values())
    return chosen, [c for c in clients if c not in chosen]


@pytest.fixture
def sio_clients():
    """sio_clients(base, **SioClient options): a python-socketio client closed after the test."""
    clients: list[SioClient] = []

    def make(base: str, **kwargs) -> SioClient:
        kwargs.setdefault("namespaces", (F,))
        c = SioClient(base, **kwargs)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


# ---------------------------------------------------------------------------------------------------------------
# where connections land


def test_new_connections_land_on_every_loop(spread, sio_clients):
    loops = list(range(spread.loops))
    marks = [fresh_handshake_loop(spread.url) for _ in range(30)]
    assert set(marks) == set(loops), f"30 handshakes on new connections landed on loops {collections.Counter(marks)}"

    # The real client: the loop serving a socket is the one its Engine.IO session id names, whatever the transport.
    seen = collections.Counter()
    for i, transports in zip(range(24), itertools.cycle([["websocket"], ["polling"], None])):
        c = sio_clients(spread.url, transports=transports)
        sid = c.client.eio.sid
        served_by = c.call1("loop", ns=F)
        assert served_by == loop_of(sid), f"client {i} ({transports}): session {sid} served by loop {served_by}"
        seen[served_by] += 1
    assert set(seen) == set(loops), f"24 python-socketio clients were served by loops {dict(seen)}"


def test_round_robin_hands_connections_out_in_turn(_servers, request):
    with watching(request, _servers(3, "round-robin"), "3-loop round-robin server") as srv:
        marks = [fresh_handshake_loop(srv.url) for _ in range(12)]
    counts = collections.Counter(marks)
    assert set(counts) == {0, 1, 2} and max(counts.values()) - min(counts.values()) <= 2, (
        f"12 sequential connections under round-robin: {marks}")


@pytest.mark.parametrize("flags", [NO_LOOPS_FLAG, 1], ids=["no-flag", "loops-1"])
def test_one_loop_does_not_mark_session_ids(server_factory, sio_clients, flags):
    srv = server_factory(loops=flags)
    sids = []
    for _ in range(30):
        r = requests.get(eio_url(srv.url), headers=CLOSE, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text
        sids.append(parse_open(r.text)["sid"])
    firsts = collections.Counter(s[0] for s in sids)
    assert len(firsts) >= 5, f"first characters of 30 session ids with one loop: {dict(firsts)}"
    assert all(len(s) == 20 for s in sids), sids
    assert sio_clients(srv.url, transports=["websocket"]).call1("loop", ns=F) == 0


# ---------------------------------------------------------------------------------------------------------------
# polling requests on every loop


@pytest.mark.timeout(60)
def test_polling_session_over_new_connections_on_every_loop(spread):
    """Raw Engine.IO long-polling with `requests`, every request on a new TCP connection: a GET always pending
    (its own thread), POSTs of numbered messages, pings answered. Everything is echoed, in order, and the session
    stays on its loop while handshakes made meanwhile land on every loop."""
    base = spread.url
    r = requests.get(eio_url(base), headers=CLOSE, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    sid = parse_open(r.text)["sid"]
    owner = loop_of(sid)
    url = eio_url(base, sid=sid)
    post_lock = threading.Lock()
    received: list[str] = []
    problems: list[str] = []
    stop = threading.Event()
    cond = threading.Condition()

    def post(body: str) -> None:
        with post_lock:
            resp = requests.post(url, data=body.encode(), headers=CLOSE, timeout=HTTP_TIMEOUT)
        if resp.status_code != 200 or resp.text != "ok":
            problems.append(f"POST {body[:40]!r}: HTTP {resp.status_code} {resp.text[:200]!r}")

    def poll() -> None:
        gets = 0
        while not stop.is_set():
            try:
                resp = requests.get(url, headers=CLOSE, timeout=HTTP_TIMEOUT)
            except requests.RequestException as e:
                problems.append(f"GET {gets}: {e}")
                return
            gets += 1
            if resp.status_code != 200:
                problems.append(f"GET {gets}: HTTP {resp.status_code} {resp.text[:200]!r}")
                return
            for ptype, data in decode_payload(resp.text):
                if ptype == "2":
                    post("3")
                elif ptype == "4":
                    with cond:
                        received.append(data)
                        cond.notify_all()
                elif ptype == "1":
                    problems.append("the server closed the session")
                    return

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    expected = []
    probes = []
    try:
        for batch in range(50):
            messages = [f"m{batch * 4 + k}" for k in range(4)]
            expected += messages
            post(SEP.join("4" + m for m in messages))
            probes.append(fresh_handshake_loop(base))
            assert not problems, problems
        with cond:
            deadline = time.monotonic() + 10
            while len(received) < len(expected) and not problems and time.monotonic() < deadline:
                cond.wait(0.2)
        assert not problems, problems
        assert received == expected, f"echoes differ: {len(received)} of {len(expected)}, first difference at " \
            f"{next((i for i, (a, b) in enumerate(zip(received, expected)) if a != b), len(received))}"
    finally:
        stop.set()
        post("1")  # releases the pending GET
        poller.join(HTTP_TIMEOUT + 1)
    assert set(probes) == set(range(spread.loops)), f"handshakes meanwhile landed on {collections.Counter(probes)}"
    assert loop_of(sid) == owner
    # The session is gone now (closed by the client): any loop says so.
    for _ in range(2 * spread.loops):
        gone = requests.get(url, headers=CLOSE, timeout=HTTP_TIMEOUT)
        assert gone.status_code == 400 and gone.json()["code"] == 1, gone.text


@pytest.mark.timeout(60)
def test_polling_requests_handed_over_from_every_loop(spread):
    """Each POST and GET of one session goes on a connection whose loop a probe handshake showed first: requests
    arrive on the owning loop and on the others; every message comes back in order; afterwards the connection is
    served by the owning loop (the hand-over moved it)."""
    base, port = spread.url, spread.port
    r = requests.get(eio_url(base), headers=CLOSE, timeout=HTTP_TIMEOUT)
    sid = parse_open(r.text)["sid"]
    owner = loop_of(sid)
    target = request_target(sid=sid)
    arrivals = collections.Counter()
    moved_then = collections.Counter()
    received: list[str] = []
    expected: list[str] = []

    def on_some_loop(method: str, body: bytes = b"") -> bytes:
        with connect(port) as sock:
            arrived_on, rest = probe_loop(sock, port)
            arrivals[arrived_on] += 1
            headers = {"Content-Type": "text/plain"} if method == "POST" else {}
            sock.sendall(http_request_bytes(method, target, headers, body, port=port))
            response, rest = read_http_response(sock, HTTP_TIMEOUT, rest)
            assert response.status == 200, f"{method} arriving on loop {arrived_on} (session on {owner}): " \
                f"HTTP {response.status} {response.body[:200]!r}"
            if arrived_on != owner:
                now_on, _ = probe_loop(sock, port, rest)
                moved_then[now_on] += 1
            return response.body

    for i in range(40):
        if i % 4 == 3:  # binary (base64 over polling), echoed as binary
            expected.append(bytes([i, 0, 255]) * 3)
            assert on_some_loop("POST", b"b" + base64.b64encode(expected[-1])) == b"ok"
        else:
            expected.append(f"r{i}")
            assert on_some_loop("POST", f"4r{i}".encode()) == b"ok"
        while len(received) < len(expected):
            packets = decode_payload(on_some_loop("GET").decode())
            if any(p == "2" for p, _ in packets):
                assert on_some_loop("POST", b"3") == b"ok"
            received += [data for p, data in packets if p == "4"]
    assert received == expected
    assert set(arrivals) == set(range(spread.loops)), f"requests arrived on loops {dict(arrivals)}"
    assert set(moved_then) == {owner}, (
        f"after a request was handed over to loop {owner}, probes on the same connection were served by "
        f"{dict(moved_then)}")


RELAXED = "/engine.io-relaxed/"  # the same echo with a 25 s heartbeat: no pings to answer while a body trickles in


def foreign_connection(srv: ServerProcess, owner: int, tries: int = 64):
    """A connection (and the bytes read past its probe) accepted by another loop than `owner`."""
    for _ in range(tries):
        sock = connect(srv.port)
        loop, rest = probe_loop(sock, srv.port)
        if loop != owner:
            return sock, rest
        sock.close()
    raise AssertionError(f"{tries} new connections all landed on loop {owner}")


@pytest.mark.timeout(60)
def test_large_and_slow_posts_handed_over(multi):
    """A POST whose body arrives in pieces, and a large one (300 KB), each on a connection of another loop than
    the session's: answered `ok`, echoed whole; the large echo comes back through a GET on another loop too."""
    r = requests.get(eio_url(multi.url, RELAXED), headers=CLOSE, timeout=HTTP_TIMEOUT)
    sid = parse_open(r.text)["sid"]
    owner = loop_of(sid)
    target = eio_url("", RELAXED, sid=sid)
    cases = [("slow", "4" + "s" * 5000, [40, 1000, 3000]), ("large", "4" + "L" * 300_000, [])]
    for name, message, cuts in cases:
        body = message.encode()
        sock, rest = foreign_connection(multi, owner)
        with sock:
            head = http_request_bytes("POST", target, {"Content-Type": "text/plain;charset=UTF-8",
                                                       "Content-Length": str(len(body))}, port=multi.port)
            pieces, last = [], 0
            for cut in cuts:
                pieces.append(body[last:cut])
                last = cut
            pieces.append(body[last:])
            sock.sendall(head)
            for piece in pieces:
                time.sleep(0.05)
                sock.sendall(piece)
            response, _ = read_http_response(sock, HTTP_TIMEOUT, rest)
            assert (response.status, response.body) == (200, b"ok"), f"{name} POST: {response}"
        sock, rest = foreign_connection(multi, owner)
        with sock:
            sock.sendall(http_request_bytes("GET", target, port=multi.port))
            response, _ = read_http_response(sock, HTTP_TIMEOUT, rest)
            assert response.status == 200, f"{name} GET: {response.status} {response.body[:200]!r}"
            assert decode_payload(response.body.decode()) == [("4", message[1:])], f"{name}: echo differs"
    requests.post(eio_url(multi.url, RELAXED, sid=sid), data=b"1", headers=CLOSE, timeout=HTTP_TIMEOUT)


# ---------------------------------------------------------------------------------------------------------------
# upgrades accepted by another loop


def _raw_upgrade(sock, port: int, sid: str, buffered: bytes) -> RawWebSocket:
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(http_request_bytes("GET", request_target(transport="websocket", sid=sid), {
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13",
    }, port=port))
    response, rest = read_http_response(sock, HTTP_TIMEOUT, buffered, head_only=True)
    assert response.status == 101, f"upgrade: HTTP {response.status} {response.body[:200]!r}"
    return RawWebSocket(sock, rest, response)


def _next_text(ws: RawWebSocket, timeout: float = 5) -> str:
    """The next text frame other than a ping (answered) or a noop."""
    deadline = time.monotonic() + timeout
    while True:
        frame = ws.recv_message(max(0.0, deadline - time.monotonic()))
        assert frame is not None and frame.opcode == 0x1, f"expected a text frame, got {frame!r}"
        text = frame.payload.decode()
        if text != "6":
            return text


@pytest.mark.timeout(60)
def test_upgrades_accepted_by_any_loop(spread):
    """Polling handshake on one connection, WebSocket upgrade on another whose loop a probe showed: the probe
    dance (2probe, 3probe, 5) and messages both ways work whichever loop accepted the upgrade; a message posted
    before the upgrade and one sent during it arrive."""
    base, port = spread.url, spread.port
    pairs = []
    for i in range(16):
        r = requests.get(eio_url(base), headers=CLOSE, timeout=HTTP_TIMEOUT)
        sid = parse_open(r.text)["sid"]
        owner = loop_of(sid)
        pending = None
        if i % 2 == 0:  # a GET held by the owning loop: the probe's answer releases it with a noop
            pending = in_background(requests.get, eio_url(base, sid=sid), headers=CLOSE, timeout=HTTP_TIMEOUT)
            time.sleep(0.05)
        with connect(port) as sock:
            accepted_by, rest = probe_loop(sock, port)
            ws = _raw_upgrade(sock, port, sid, rest)
            ws.send_text("2probe")
            assert _next_text(ws) == "3probe", f"upgrade {i}: session on loop {owner}, upgrade on {accepted_by}"
            if pending is not None:
                released = pending(5)
                assert released.status_code == 200 and ("6", "") in decode_payload(released.text), (
                    f"upgrade {i} (session on loop {owner}, upgrade on {accepted_by}): the pending GET got "
                    f"{released.status_code} {released.text!r}")
            # Posted during the upgrade, no GET pending: its echo waits for polling, then goes first on the WebSocket.
            post = requests.post(eio_url(base, sid=sid), data=b"4before", headers=CLOSE, timeout=HTTP_TIMEOUT)
            assert post.status_code == 200, post.text
            ws.send_text("5")
            ws.send_text(f"4hello-{i}")
            got = []
            while len(got) < 2:
                got.append(_next_text(ws))
            assert got == ["4before", f"4hello-{i}"], f"upgrade {i} (session on loop {owner}, upgrade on " \
                f"{accepted_by}): {got}"
            ws.send_text("1")
            ws.close()
        pairs.append((owner, accepted_by))
    foreign = [p for p in pairs if p[0] != p[1]]
    assert foreign, f"no upgrade landed on another loop than its session's: {pairs}"


@pytest.mark.timeout(60)
def test_python_engineio_upgrades_on_a_multiloop_server(spread):
    """python-engineio (polling, then websocket on a new connection), several times: every client ends on the
    WebSocket and echoes in order."""
    marks = []
    for i in range(8):
        c = EchoClient(spread.url, transports=["polling", "websocket"])
        try:
            wait_until(lambda: c.transport == "websocket", timeout=5, what=f"client {i} upgraded")
            for k in range(5):
                c.roundtrip(f"{i}-{k}")
            c.roundtrip(b"\x00\x01binary")
            marks.append(loop_of(c.client.sid))
        finally:
            c.close()
    assert all(0 <= m < spread.loops for m in marks), marks


# ---------------------------------------------------------------------------------------------------------------
# broadcasts, rooms and acks across loops


@pytest.mark.timeout(60)
def test_broadcasts_from_every_loop_arrive_in_order(multi, wire):
    """Every client (on every loop, both transports) sends numbered broadcasts to two overlapping rooms that
    together hold everyone; every client receives each sender's numbers once, all of them, in order."""
    clients = on_every_loop(wire, multi, per_loop=2)
    first, second = uid("first"), uid("second")
    for i, c in enumerate(clients):
        rooms = [first] if i % 2 else [second]
        if i < 2:
            rooms = [first, second]  # in both: must still get each message once
        for room in rooms:
            assert c.call1("join", room) is True
    count = 30

    def send_all(index: int, c: WireClient) -> None:
        packets = [f"2{F}," + compact(["broadcast", {"event": "num", "data": {"from": index, "n": n},
                                                      "rooms": [first, second]}]) for n in range(count)]
        for start in range(0, count, 5):  # polling: 5 packets a POST
            assert c.send(*packets[start:start + 5]), f"sender {index} could not send"

    threads = [threading.Thread(target=send_all, args=(i, c), daemon=True) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    total = count * len(clients)
    for r in clients:
        got = r.wait_count("num", total, timeout=20)
        per_sender = collections.defaultdict(list)
        for (data,) in got:
            per_sender[data["from"]].append(data["n"])
        for s in range(len(clients)):
            assert per_sender[s] == list(range(count)), (
                f"receiver {r.name} (loop {r.loop}, {r.transport}) from sender {s} (loop {clients[s].loop}): "
                f"{per_sender[s]}")
        assert len(got) == total, f"{r.name}: {len(got)} messages, expected {total}"


def test_broadcast_to_room_and_except_across_loops(multi, wire):
    clients = on_every_loop(wire, multi, per_loop=2)
    room = uid("room")
    members, others = halves(clients)
    for c in members:
        assert c.call1("join", room) is True
    excluded = members[-1]
    token = uid("token")
    assert others[0].call1("broadcast", {"event": "to-room", "data": token, "room": room,
                                         "except": excluded.sid}) is True
    for c in members[:-1]:
        c.wait_count("to-room", 1)
    # A sentinel to everyone, then nothing else may have arrived for non-members or the excluded one.
    sentinel = uid("sentinel")
    assert others[0].call1("broadcast", {"event": "sentinel", "data": sentinel}) is True
    for c in clients:
        c.wait_count("sentinel", 1)
        expected = [[token]] if c in members[:-1] else []
        assert c.received("to-room") == expected, f"{c.name} (loop {c.loop})"
    # socket.broadcast: everyone but the sender, on every loop.
    sender = clients[-1]
    assert sender.call1("broadcast-others", {"event": "others", "data": 1}) is True
    for c in clients[:-1]:
        c.wait_count("others", 1)
    assert clients[0].call1("broadcast", {"event": "sentinel-2", "data": 2}) is True
    sender.wait_count("sentinel-2", 1)
    assert sender.received("others") == []


def test_broadcast_acks_from_every_loop(multi, wire):
    """`broadcast-ask` to a room with members on every loop, asked from a socket on each loop: every reply
    arrives."""
    members = on_every_loop(wire, multi, per_loop=2, answer=lambda data: "unset")
    room = uid("room")
    for i, c in enumerate(members):
        c.answer = lambda data, i=i: f"{i}:{data}"
        assert c.call1("join", room) is True
    askers = {}
    for c in members:
        askers.setdefault(c.loop, c)
    assert set(askers) == set(range(multi.loops))
    for loop, asker in sorted(askers.items()):
        question = f"q{loop}"
        before = len(asker.received("broadcast-answer"))
        assert asker.emit("broadcast-ask", {"room": room, "data": question, "timeout": 3000})
        answer = asker.wait_count("broadcast-answer", before + 1)[before][0]
        assert answer["error"] is None, f"asked from loop {loop}: {answer}"
        assert sorted(answer["replies"]) == sorted([[f"{i}:{question}"] for i in range(len(members))]), (
            f"asked from loop {loop} ({len(members)} members on loops {[m.loop for m in members]}): {answer}")


def test_broadcast_ack_timeout_across_loops(multi, wire):
    """A member that never answers: the timeout fires with the replies of the others (on every loop)."""
    members = on_every_loop(wire, multi, per_loop=1, answer=lambda data: "yes")
    silent = wire(multi.url, "websocket", name="silent")  # no answer function: never acks
    room = uid("room")
    for c in members + [silent]:
        assert c.call1("join", room) is True
    asker = members[0]
    start = time.monotonic()
    assert asker.emit("broadcast-ask", {"room": room, "data": "q", "timeout": 500})
    (answer,) = asker.wait_count("broadcast-answer", 1)[0]
    elapsed = time.monotonic() - start
    assert answer["error"] == "timeout", answer
    assert answer["replies"] == [["yes"]] * len(members), answer
    assert 0.4 <= elapsed < 2.5, f"the timeout (500 ms) fired after {elapsed:.2f} s"


def test_fetch_sockets_of_every_loop(multi, wire):
    clients = on_every_loop(wire, multi, per_loop=2)
    room = uid("room")
    members, _ = halves(clients)
    for c in members:
        assert c.call1("join", room) is True
    for asker in clients:
        assert asker.call1("fetch", room) == sorted(c.sid for c in members), f"fetch asked from loop {asker.loop}"
        everyone = set(asker.call1("fetch"))
        assert everyone >= {c.sid for c in clients}
        other = next(c for c in clients if c.loop != asker.loop)
        assert asker.call1("fetch", other.sid) == [other.sid], "a socket's own id room, on another loop"


def test_sockets_join_and_leave_across_loops(multi, wire):
    clients = on_every_loop(wire, multi, per_loop=2)
    room, added = uid("room"), uid("added")
    members, _ = halves(clients)
    for c in members:
        assert c.call1("join", room) is True
    for asker in (clients[0], next(c for c in clients if c.loop != clients[0].loop)):
        assert asker.call1("sockets-join", {"target": room, "room": added}) is True
        assert asker.call1("fetch", added) == sorted(c.sid for c in members)
        for c in members:  # asked of the socket's own loop
            assert added in c.call1("rooms"), f"{c.name} on loop {c.loop}, joined from loop {asker.loop}"
        assert asker.call1("sockets-leave", {"target": room, "room": added}) is True
        assert asker.call1("fetch", added) == []
        for c in members:
            assert added not in c.call1("rooms") and room in c.call1("rooms"), c.name
    # One socket, by its id, on another loop than the asker's.
    asker = clients[0]
    target = next(c for c in clients if c.loop != asker.loop)
    assert asker.call1("sockets-join", {"target": target.sid, "room": added}) is True
    assert asker.call1("fetch", added) == [target.sid]
    assert added in target.call1("rooms")


def test_disconnect_sockets_across_loops(multi, wire):
    clients = on_every_loop(wire, multi, per_loop=3)
    room, closing = uid("room"), uid("closing")
    asker = clients[0]
    rest = clients[1:]
    soft, hard = halves(rest)  # three a loop, less the asker: both groups have sockets on every loop
    assert {c.loop for c in soft} == {c.loop for c in hard} == set(range(multi.loops))
    for c in soft:
        assert c.call1("join", room) is True
    for c in hard:
        assert c.call1("join", closing) is True
    soft_sids = [c.sid for c in soft]

    assert asker.call1("disconnect-sockets", {"target": room, "close": False}) is True
    for c in soft:
        c._wait(lambda c=c: c.disconnected, f"DISCONNECT of {F} (loop {c.loop})")
    assert asker.call1("fetch", room) == []
    for sid in soft_sids:
        assert asker.call1("last-disconnect", sid) == "server namespace disconnect"
    for c in soft:  # the connection itself stays open
        assert c.ended is None, f"{c.name}: {c.ended}"

    assert asker.call1("disconnect-sockets", {"target": closing, "close": True}) is True
    for c in hard:
        c.wait_ended()
    assert asker.call1("fetch", closing) == []
    assert asker.call("echo", 1) == [1]


# ---------------------------------------------------------------------------------------------------------------
# shutdown


@pytest.mark.timeout(90)
def test_sigterm_under_load_with_three_loops(server_factory, wire):
    srv = server_factory(loops=3, name="multiloop-shutdown")
    stop = threading.Event()
    clients = []
    for i in range(20):
        clients.append(wire(srv.url, "websocket", name=f"ws{i}"))
    for i in range(12):
        clients.append(wire(srv.url, "polling", name=f"poll{i}"))
    sio = [SioClient(srv.url, namespaces=("/",)) for _ in range(10)]  # polling, then upgraded
    eio = [EchoClient(srv.url, transports=["polling"]) for _ in range(8)]
    assert {c.loop for c in clients} == {0, 1, 2}
    sent = collections.Counter()

    def load(kind: str, c) -> None:
        n = 0
        while not stop.is_set():
            try:
                if kind == "wire":
                    ok = c.emit("emit-back", "tick", n)
                    if not ok:
                        return
                elif kind == "sio":
                    c.emit("message", n)
                else:
                    c.send(f"m{n}")
            except Exception:  # noqa: BLE001 - the server goes away under the load on purpose
                return
            n += 1
            sent[kind] += 1
            time.sleep(0.05)

    threads = [threading.Thread(target=load, args=("wire", c), daemon=True) for c in clients]
    threads += [threading.Thread(target=load, args=("sio", c), daemon=True) for c in sio]
    threads += [threading.Thread(target=load, args=("eio", c), daemon=True) for c in eio]
    try:
        for t in threads:
            t.start()
        time.sleep(1.5)
        # Under this load a client thread can miss the 200 ms ping timeout (with one loop too): a few sessions may
        # be gone; the load must be flowing on every loop.
        busy = {c.loop for c in clients if c.ended is None and c.received("tick")}
        assert busy == {0, 1, 2}, [(c.name, c.loop, c.ended) for c in clients]
        srv.exit_expected = True
        start = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        try:
            code = srv.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001
            pytest.fail(f"still running 5 s after SIGTERM under load (sent {dict(sent)})\n{srv.log_text()}")
        elapsed = time.monotonic() - start
        log = srv.log_text()
        assert code == 0, f"exit status {code} after SIGTERM under load\n{log}"
        for bad in ("Fatal error", "fatal error", "Segmentation", "Illegal instruction", "Assertion failed",
                    "Abort", "Trace/breakpoint", "crash"):
            assert bad not in log, f"server log after SIGTERM shows {bad!r}:\n{log}"
        assert elapsed < 5
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        for c in sio:
            c.close()
        for c in eio:
            c.close()
