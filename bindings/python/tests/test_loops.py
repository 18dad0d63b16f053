"""Several loops (``sio.Server(loops=N)``, libsio 0.3.0): connections spread over the loops, handlers on several
threads at once, broadcasts and acknowledgements across loops, socket methods called from another loop's thread,
selections (fetch_sockets, sockets_join) over every loop, and stopping under load. Real python-socketio clients;
raw WebSockets where the order on the wire is checked (python-socketio's client runs each message's handler on a
thread of its own, so it may reorder them)."""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import logging
import os
import queue
import threading
import time
from typing import Any

import pytest
import socketio
import websocket
from conftest import HOST, ThreadResult, server_options, started, wait_for

import sio
from sio._lib import lib

WS = ["websocket"]  # one TCP connection per client: with "round-robin", consecutive clients land on successive loops


@pytest.fixture(params=(2, 3), ids=lambda loops: f"loops{loops}")
def multi(request: pytest.FixtureRequest):
    """A server with several loops, connections handed out in turn ("round-robin"); not started yet."""
    instance = sio.Server(**server_options(request.param))
    try:
        yield instance
    finally:
        instance.close()


def socket_of(server: sio.Server, client: Any, namespace: str = "/") -> sio.Socket:
    """The server's Socket for a python-socketio client (or a RawClient)."""
    sid = client.sid if isinstance(client, RawClient) else client.client.get_sid(namespace)
    return wait_for(lambda: server.get_socket(sid, namespace), what=f"socket {sid}")


def spread(server: sio.Server, make: Any, per_loop: int = 1, **kwargs: Any) -> list[Any]:
    """`per_loop` clients on each loop (round-robin), checked: returns them ordered by loop, then arrival."""
    count = server.loop_count
    made = [make(server_url(server), transports=WS, **kwargs) for _ in range(count * per_loop)]
    by_loop = sorted(made, key=lambda client: socket_of(server, client).loop_index)
    indexes = [socket_of(server, client).loop_index for client in by_loop]
    assert indexes == [index for index in range(count) for _ in range(per_loop)], indexes
    return by_loop


def server_url(server: sio.Server) -> str:
    return f"http://{HOST}:{server.port}"


def in_own_loop(socket: sio.Socket) -> bool:
    return bool(lib.sio_socket_in_loop(socket._handle))


class RawClient:
    """A Socket.IO client over a raw WebSocket, keeping the wire order of what it receives. `call` sends an event
    with an ack id and waits for the acknowledgement."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url.replace("http://", "ws://") +
                                              "/socket.io/?EIO=4&transport=websocket", timeout=10)
        assert self.ws.recv().startswith("0{")
        self.ws.send("40")
        reply = self.ws.recv()
        assert reply.startswith("40{"), reply
        self.sid: str = json.loads(reply[2:])["sid"]
        self.events: queue.Queue[list[Any] | None] = queue.Queue()
        self._acks: dict[int, queue.Queue[list[Any]]] = {}
        self._ids = itertools.count(1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                text = self.ws.recv()
            except Exception:  # noqa: BLE001 - closed
                self.events.put(None)
                return
            if text == "2":
                self.ws.send("3")
            elif text.startswith("42"):
                self.events.put(json.loads(text[2:]))
            elif text.startswith("43"):
                body = text[2:]
                digits = len(body) - len(body.lstrip("0123456789"))
                self._acks.pop(int(body[:digits])).put(json.loads(body[digits:]))
            elif text.startswith("41") or text.startswith("1"):
                self.events.put(None)

    def call(self, event: str, *args: Any, timeout: float = 5.0) -> list[Any]:
        ack_id = next(self._ids)
        answer: queue.Queue[list[Any]] = queue.Queue()
        self._acks[ack_id] = answer
        self.ws.send("42%d%s" % (ack_id, json.dumps([event, *args])))
        return answer.get(timeout=timeout)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def raw_clients():
    made: list[RawClient] = []

    def make(url: str, **_: Any) -> RawClient:
        client = RawClient(url)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# ------------------------------------------------------------------------------------------------------------------


def test_loop_options_and_counts():
    with sio.Server() as one:
        assert one.loop_count == 1
    for loops in (1, 2, 3):
        with sio.Server(loops=loops) as server:
            assert server.loop_count == loops
    cores = min(max(os.sysconf("SC_NPROCESSORS_ONLN"), 1), 64)
    with sio.Server(loops=0) as server:
        assert server.loop_count == cores
    for balancing in ("reuseport", "round-robin"):
        with sio.Server(loops=2, loop_balancing=balancing) as server:
            assert server.loop_count == 2
    for bad in (dict(loops=-1), dict(loops=65), dict(loops="2"), dict(loops=True), dict(loops=1.5),
                dict(loop_balancing="random"), dict(loop_balancing="")):
        with pytest.raises(sio.InvalidArgumentError):
            sio.Server(**bad)


def test_one_loop_keeps_everything_on_the_loop_thread(clients):
    with sio.Server() as server:
        seen = []
        server.on("connection", lambda socket: seen.append((socket.loop_index, threading.current_thread().name,
                                                           in_own_loop(socket), server._in_loop())))
        url = started(server)
        clients(url)
        wait_for(lambda: seen, what="connection")
        assert seen == [(0, "sio-loop", True, True)]
        assert not server._in_loop()


def test_connections_land_on_every_loop_and_handlers_run_at_once(multi, clients):
    count = multi.loop_count
    connected: list[tuple[int, int, bool, bool]] = []
    meeting = threading.Barrier(count, timeout=5)
    lock = threading.Lock()
    tally: dict[str, int] = {}

    @multi.on("connection")
    def connection(socket):
        connected.append((socket.loop_index, threading.get_ident(), in_own_loop(socket), multi._in_loop()))

    @multi.event
    def meet(socket):
        # Returns only once a handler runs on every loop at the same moment: they run concurrently.
        meeting.wait()
        return socket.loop_index, threading.get_ident()

    @multi.event
    def count_me(socket):
        with lock:  # a read-modify-write over shared state: handlers of several loops run at once
            tally[socket.id] = tally.get(socket.id, 0) + 1

    started(multi)
    peers = spread(multi, clients, per_loop=2)
    wait_for(lambda: len(connected) == 2 * count, what="connection handlers")
    threads = {}
    for index, ident, own, any_loop in connected:
        assert own and any_loop
        assert threads.setdefault(index, ident) == ident  # one thread per loop
    assert sorted(threads) == list(range(count)) and len(set(threads.values())) == count

    firsts = [peers[2 * index] for index in range(count)]  # one client on each loop
    calls = [ThreadResult(lambda peer=peer: peer.client.call("meet", timeout=10)) for peer in firsts]
    met = [call.result(15) for call in calls]
    assert sorted(tuple(m) for m in met) == sorted(threads.items())

    for peer in peers:
        for _ in range(25):
            peer.client.emit("count_me")
    wait_for(lambda: sum(tally.values()) == 25 * len(peers), timeout=10, what="every event counted")
    assert sorted(tally.values()) == [25] * len(peers)


def test_reuseport_spreads_connections(clients):
    with sio.Server(loops=2, ping_interval=5, ping_timeout=5) as server:  # default balancing: "reuseport"
        server.on("echo", lambda socket, value: value)
        url = started(server)
        peers = [clients(url, transports=WS) for _ in range(24)]
        for index, peer in enumerate(peers):
            assert peer.client.call("echo", index, timeout=5) == index
        assert {socket_of(server, peer).loop_index for peer in peers} == {0, 1}


def test_broadcasts_from_every_loop_reach_rooms_on_every_loop_in_order(multi, clients, raw_clients):
    count = multi.loop_count
    per_sender = 40
    targets = ("r0", "r1", "all")

    @multi.event
    def join(socket, rooms):
        socket.join(rooms)
        return sorted(socket.rooms)

    @multi.event
    def shout(socket, target, seq):
        if seq % 2:
            socket.to(target).emit("msg", socket.id, seq)  # from the socket (excluding it)
        else:
            multi.to(target).emit("msg", socket.id, seq)  # a namespace broadcast from this loop

    started(multi)
    receivers = spread(multi, raw_clients, per_loop=2)  # two on each loop
    rooms_of = {}
    for position, receiver in enumerate(receivers):
        rooms = ["all", f"r{position % 2}"]  # r0 and r1 each have a member on every loop
        assert receiver.call("join", rooms) == [sorted(rooms + [receiver.sid])]
        rooms_of[receiver.sid] = set(rooms)
    senders = spread(multi, clients)  # one on each loop
    sender_ids = [sender.client.get_sid() for sender in senders]

    for seq in range(per_sender):
        for sender in senders:
            sender.client.emit("shout", (targets[seq % 3], seq))

    for receiver in receivers:
        expected = {sid: [seq for seq in range(per_sender) if targets[seq % 3] in rooms_of[receiver.sid]]
                    for sid in sender_ids}
        got: dict[str, list[int]] = {sid: [] for sid in sender_ids}
        total = sum(len(v) for v in expected.values())
        for _ in range(total):
            event = receiver.events.get(timeout=10)
            assert event is not None and event[0] == "msg", event
            got[event[1]].append(event[2])
        assert got == expected  # every message, and each sender's in the order it sent them
        with pytest.raises(queue.Empty):
            receiver.events.get(timeout=0.1)


def test_join_then_broadcast_keeps_its_order_on_every_loop(multi, clients):
    """socket.join(room) then a broadcast to room, from a thread that is no loop and from another loop's handler:
    the join (sent to the socket's loop) comes first, so the socket gets the broadcast."""

    @multi.event
    def pull(socket, sid, room):
        other = multi.get_socket(sid)
        assert other.loop_index != socket.loop_index
        other.join(room)
        multi.to(room).emit("pulled", room)

    @multi.event
    def wait_here(socket):
        with pytest.raises(RuntimeError):
            multi.wait(0.1)  # on any loop thread: it would wait for itself

    started(multi)
    peers = spread(multi, clients)
    for round_ in range(10):
        for index, peer in enumerate(peers):
            room = f"main-{round_}-{index}"
            socket_of(multi, peer).join(room)
            multi.to(room).emit("in", room)
            assert peer.next_event() == ("in", (room,))
            room = f"pulled-{round_}-{index}"
            peers[(index + 1) % len(peers)].client.emit("pull", (peer.client.get_sid(), room))
            assert peer.next_event() == ("pulled", (room,))
    for peer in peers:
        assert peer.client.call("wait_here", timeout=5) is None


def test_server_emit_with_ack_to_a_socket_of_another_loop(multi, clients):
    replies: list[tuple[tuple[Any, ...], bool, int]] = []
    refused: list[BaseException] = []

    @multi.event
    def ask(socket, sid):
        other = multi.get_socket(sid)
        assert other.loop_index != socket.loop_index and not in_own_loop(other)
        other.emit("question", 1, callback=lambda *reply: replies.append((reply, in_own_loop(other),
                                                                          other.loop_index)))
        try:
            other.call("question", 0, timeout=1)  # would block a loop: refused on every loop thread
        except RuntimeError as error:
            refused.append(error)
        return other.emit_with_ack("question", 41, timeout=5)  # a future: the ack to `socket` follows it

    started(multi)
    peers = spread(multi, clients)
    for peer in peers:
        peer.client.on("question", lambda n: (n + 1, "ok"))
    for asker, answerer in zip(peers, peers[1:] + peers[:1]):
        assert asker.client.call("ask", answerer.client.get_sid(), timeout=10) == [42, "ok"]
    wait_for(lambda: len(replies) == len(peers), what="ack callbacks")
    # Each callback ran on the answering socket's own loop.
    assert sorted(replies, key=lambda r: r[2]) == [((2, "ok"), True, index) for index in range(len(peers))]
    assert len(refused) == len(peers)


def test_broadcast_with_ack_collects_replies_from_every_loop(multi, clients):
    collected: list[tuple[list[list[Any]], bool]] = []

    @multi.event
    def trigger(socket):
        # A [LOOP] namespace function, called from whichever loop this socket is on.
        multi.timeout(5).emit_with_ack("poll", "h", callback=lambda replies: collected.append(
            (replies, multi._in_loop())))

    url = started(multi)
    peers = spread(multi, clients, per_loop=2)
    for index, peer in enumerate(peers):
        peer.client.on("poll", lambda q, index=index: f"{q}:{index}")
    expected = sorted([f"q:{index}"] for index in range(len(peers)))
    assert sorted(multi.timeout(5).emit_with_ack("poll", "q").result(10)) == expected

    peers[-1].client.emit("trigger")  # a socket of the last loop
    wait_for(lambda: collected, timeout=10, what="the broadcast's replies")
    replies, on_a_loop = collected[0]
    assert sorted(replies) == sorted([f"h:{index}"] for index in range(len(peers))) and on_a_loop

    slow = socketio.Client(reconnection=False)
    slow.on("poll", lambda q: time.sleep(2))
    try:
        slow.connect(url, transports=WS, wait_timeout=5)
        with pytest.raises(sio.AckTimeoutError) as info:
            multi.timeout(0.5).emit_with_ack("poll", "t").result(10)
        assert sorted(info.value.replies) == sorted([f"t:{index}"] for index in range(len(peers)))
    finally:
        slow.disconnect()


def test_socket_methods_from_a_handler_on_another_loop(multi, clients, caplog):
    caplog.set_level(logging.DEBUG, logger="sio")

    @multi.event
    def inspect(socket, sid):
        other = multi.get_socket(sid)
        assert other.loop_index != socket.loop_index and not in_own_loop(other)
        other.join("x")
        other.join(["y", "z"])
        other.leave("z")
        return {"rooms": sorted(other.rooms), "tag": other.handshake.query.get("tag"),
                "header": other.handshake.headers.get("x-tag"), "transport": other.transport,
                "auth": other.handshake.auth, "address": other.handshake.address}

    url = started(multi)
    looker = clients(url, transports=WS)
    looked_at = clients(url + "?tag=bee", transports=WS, headers={"X-Tag": "hive"}, auth={"n": 1})
    sid = looked_at.client.get_sid()
    assert socket_of(multi, looker).loop_index != socket_of(multi, looked_at).loop_index
    assert looker.client.call("inspect", sid, timeout=10) == {
        "rooms": sorted([sid, "x", "y"]), "tag": "bee", "header": "hive", "transport": "websocket",
        "auth": {"n": 1}, "address": "127.0.0.1"}
    multi.to("y").emit("in y")
    assert looked_at.next_event() == ("in y", ())
    looker.no_event(0.1)
    problems = [r.getMessage() for r in caplog.records
                if r.name.startswith("sio") and (r.levelno >= logging.WARNING or "SIO_ETHREAD" in r.getMessage())]
    assert problems == []


def test_loops_reading_each_others_sockets_at_once_do_not_deadlock(multi, clients):
    """Each loop's handler waits for the next loop to answer about one of its sockets while that loop's handler does
    the same about the next: a cycle of waits, which the waiting loop threads break by running each other's work."""
    count = multi.loop_count
    together = threading.Barrier(count, timeout=5)

    @multi.event
    def peek(socket, sid, round_):
        other = multi.get_socket(sid)
        together.wait()  # every loop is inside a handler now: none of them serves its queue
        other.join(f"seen-{round_}")
        rooms = other.rooms
        return sorted(rooms), other.handshake.query.get("nope"), other.transport

    url = started(multi)
    peers = spread(multi, clients)
    sids = [peer.client.get_sid() for peer in peers]
    for round_ in range(5):
        calls = [ThreadResult(lambda peer=peer, sid=sid: peer.client.call("peek", (sid, round_), timeout=10))
                 for peer, sid in zip(peers, sids[1:] + sids[:1])]
        results = [call.result(15) for call in calls]
        for (rooms, missing, transport), sid in zip(results, sids[1:] + sids[:1]):
            assert rooms == sorted([sid] + [f"seen-{r}" for r in range(round_ + 1)])
            assert (missing, transport) == (None, "websocket")
    assert multi.post(lambda: 1).result(5) == 1  # every loop still serves


def test_fetch_sockets_and_sockets_join_across_loops(multi, clients):
    @multi.event
    def join(socket, room):
        socket.join(room)

    @multi.event
    def red_ids(socket):
        # From a handler: a future (the ack follows it), never waited on here.
        future = multi.in_("red").fetch_sockets()
        mapped: concurrent.futures.Future[list[str]] = concurrent.futures.Future()
        future.add_done_callback(lambda done: mapped.set_result(sorted(s["id"] for s in done.result())))
        return mapped

    @multi.event
    def move(socket, source, target):
        multi.in_(source).sockets_join(target)
        multi.in_(source).sockets_leave(source)

    url = started(multi)
    peers = spread(multi, clients, per_loop=2)
    sids = [peer.client.get_sid() for peer in peers]
    for peer in peers:
        assert peer.client.call("join", "red", timeout=5) is None

    multi.in_("red").except_(sids[0]).sockets_join("blue")
    fetched = multi.in_("blue").fetch_sockets().result(timeout=5)
    assert sorted(s["id"] for s in fetched) == sorted(sids[1:])
    assert all(set(s["rooms"]) == {s["id"], "red", "blue"} for s in fetched)
    assert {sid for sid in sids if "blue" in multi.get_socket(sid).rooms} == set(sids[1:])
    assert peers[-1].client.call("red_ids", timeout=10) == sorted(sids)

    peers[-1].client.call("move", ("blue", "green"), timeout=5)
    wait_for(lambda: sorted(s["id"] for s in multi.in_("green").fetch_sockets().result(5)) == sorted(sids[1:]),
             what="green")
    assert multi.in_("blue").fetch_sockets().result(5) == []
    multi.to("green").emit("news")
    for peer in peers[1:]:
        assert peer.next_event() == ("news", ())
    peers[0].no_event(0.1)

    multi.in_("green").disconnect_sockets()
    for peer in peers[1:]:
        assert peer.disconnects.get(timeout=5) == "server disconnect"
    wait_for(lambda: [s["id"] for s in multi.fetch_sockets().result(5)] == [sids[0]], what="only the first left")


def test_deferred_middleware_and_acks_on_every_loop(multi, clients):
    pool = concurrent.futures.ThreadPoolExecutor(2)
    continued: list[tuple[int, bool]] = []

    @multi.use(deferred=True)
    def later(socket, next):
        pool.submit(next)

    @multi.use
    def after(socket):  # the continuation runs on the socket's own loop
        continued.append((socket.loop_index, in_own_loop(socket)))

    @multi.event
    def slow_square(socket, n):
        return pool.submit(lambda: (time.sleep(0.05), n * n)[1])  # sent on the socket's loop when done

    try:
        started(multi)
        peers = spread(multi, clients, per_loop=2)
        assert sorted(continued) == sorted((index // 2, True) for index in range(len(peers)))
        for index, peer in enumerate(peers):
            assert peer.client.call("slow_square", index, timeout=5) == index * index
    finally:
        pool.shutdown()


def test_post_and_server_calls_from_every_loop(multi, clients):
    late_tags: list[int] = []

    @multi.event
    def where(socket):
        here = threading.get_ident()
        ran = multi.post(threading.get_ident).result(0)  # on a loop thread: runs at once, on this thread
        return socket.loop_index, ran == here, multi._in_loop()

    @multi.event
    def open_late(socket):
        late = multi.of("/late")  # [LOOP] server functions on this loop, registering for every loop
        late.use(lambda s: late_tags.append(s.loop_index))
        late.on("hello", lambda s: s.loop_index)

    url = started(multi)
    peers = spread(multi, clients)
    for index, peer in enumerate(peers):
        assert peer.client.call("where", timeout=5) == (index, True, True)
    assert multi.post(lambda: threading.current_thread().name).result(5) == "sio-loop"  # the first loop
    peers[-1].client.call("open_late", timeout=5)
    late_peers = [clients(url, transports=WS, namespaces=["/late"]) for _ in range(multi.loop_count)]
    indexes = {peer.client.call("hello", namespace="/late", timeout=5) for peer in late_peers}
    assert indexes == set(range(multi.loop_count)) and sorted(late_tags) == sorted(indexes)


def test_close_from_a_handler_on_another_loop(clients):
    server = sio.Server(**server_options(3))

    @server.on("shutdown")
    def shutdown(socket):
        assert socket.loop_index != 0
        server.close()  # stops now, frees once every loop has ended
        return "bye"

    url = started(server)
    peers = [clients(url, transports=WS) for _ in range(3)]
    target = next(peer for peer in peers if socket_of(server, peer).loop_index == 2)
    target.client.emit("shutdown")
    for peer in peers:
        assert peer.disconnects.get(timeout=5) is not None
    assert server.wait(10)
    wait_for(lambda: server._handle is None, what="deferred destroy")


@pytest.mark.parametrize("loops", (1, 3))
def test_stop_drops_what_clients_send_afterwards(loops, clients):
    # A loop held in a handler while its client's burst queues up behind it: once stop() has been called, the
    # rest of the burst must not reach the handler (before, a busy Python server ran thousands of queued events
    # first and close() took seconds).
    server = sio.Server(**server_options(loops))
    calls: list[int] = []
    holding = threading.Event()
    released = threading.Event()

    @server.event
    def burst(socket, n):
        calls.append(n)
        if n == 0:
            holding.set()
            released.wait(10)

    url = started(server)
    peers = [clients(url, transports=WS) for _ in range(loops)]
    talker = next(peer for peer in peers if socket_of(server, peer).loop_index == loops - 1)  # the last loop: a companion with 3
    for n in range(500):
        talker.client.emit("burst", n)
    assert holding.wait(10)
    wait_for(lambda: talker.client.eio.queue.empty(), what="the burst written")
    server.stop()
    released.set()
    assert server.wait(10)
    assert calls == [0]
    assert talker.disconnects.get(timeout=5) is not None
    server.close()


@pytest.mark.parametrize("loops", (2, 3))
def test_close_under_load_is_bounded(loops, clients):
    server = sio.Server(**server_options(loops))
    reasons: list[str] = []
    server.on("connection", lambda socket: socket.join("all"))
    server.on("disconnect", lambda socket, reason: reasons.append(reason))

    @server.event
    def chat(socket, n):
        socket.to("all").emit("chat", socket.id, n)
        return n

    url = started(server)
    # Consecutive WebSocket clients cover every loop (round-robin); one more on HTTP long-polling.
    peers = [clients(url, transports=WS) for _ in range(3 * loops)] + [clients(url, transports=["polling"])]
    wait_for(lambda: len(server.of("/").sockets) == len(peers), what="every socket")
    assert {socket.loop_index for socket in server.of("/").sockets.values()} == set(range(loops))
    stop = threading.Event()

    def talk(peer: Any) -> None:
        n = 0
        while not stop.is_set() and peer.client.connected:
            try:
                peer.client.emit("chat", n)
            except Exception:  # noqa: BLE001 - disconnected meanwhile
                return
            n += 1
            time.sleep(0.002)

    futures: list[concurrent.futures.Future[Any]] = []

    def meddle() -> int:
        # Socket work posted to every loop from another thread, while the server stops under it.
        done = 0
        while not stop.is_set():
            for socket in list(server.of("/").sockets.values()):
                try:
                    socket.rooms
                    socket.join("busy")
                    socket.handshake.headers.get("host")
                    futures.append(socket.emit_with_ack("never-answered", timeout=30))
                    server.to("busy").emit("busy")
                except sio.ClosedError:
                    pass
                done += 1
        return done

    talkers = [threading.Thread(target=talk, args=(peer,), daemon=True) for peer in peers]
    for thread in talkers:
        thread.start()
    meddler = ThreadResult(meddle)
    time.sleep(1.0)
    began = time.monotonic()
    server.close()
    elapsed = time.monotonic() - began
    stop.set()
    assert elapsed < 8, f"close() took {elapsed:.1f} s"
    assert meddler.result(10) > 0
    for thread in talkers:
        thread.join(10)
        assert not thread.is_alive()
    for peer in peers:
        assert peer.disconnects.get(timeout=10) is not None
    assert reasons == ["server shutting down"] * len(peers)
    # Every ack asked for completed: answered (python-socketio acknowledges events it has no handler for), or
    # failed with ClosedError when the server stopped first.
    assert futures and all(future.done() for future in futures)
    assert all(future.exception() is None or isinstance(future.exception(), sio.ClosedError) for future in futures)
    assert server._pending_tasks == set()
