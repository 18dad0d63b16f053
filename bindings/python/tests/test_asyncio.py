"""sio.AsyncServer: handlers (coroutines or not) on the application's asyncio loop, awaitable acknowledgements both
ways, async middleware, start/stop inside asyncio.run, and the bounded queue between libsio's threads and a slow
asyncio loop. Real python-socketio clients: the AsyncClient (websocket and polling) and the threaded Client."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import threading
import time
import warnings
from typing import Any, AsyncIterator, Iterator

import pytest
import socketio
from conftest import HOST, LOOPS, server_options, wait_for

import sio

WS = ["websocket"]
POLLING = ["polling"]


@pytest.fixture(params=LOOPS, ids=lambda loops: f"loops{loops}")
def loops(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
async def aclients() -> AsyncIterator[Any]:
    """Makes connected python-socketio AsyncClients; disconnects them at the end."""
    made: list[socketio.AsyncClient] = []

    async def make(url: str, transports: list[str] | None = None, handlers: dict[str, Any] | None = None,
                   **connect: Any) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        for event, handler in (handlers or {}).items():
            client.on(event, handler)
        made.append(client)
        await client.connect(url, transports=transports or WS, wait_timeout=5, **connect)
        return client

    yield make
    for client in made:
        await client.disconnect()


async def started(server: sio.AsyncServer) -> str:
    return f"http://{HOST}:{await server.start(HOST, 0)}"


async def until(predicate: Any, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_every_handler_runs_on_the_asyncio_loop_thread(loops, aclients):
    server = sio.AsyncServer(**server_options(loops))
    here = threading.get_ident()
    threads: list[tuple[str, int]] = []
    loops_seen: set[int] = set()

    @server.use
    async def middleware(socket):
        threads.append(("middleware", threading.get_ident()))

    @server.on("connection")
    def connected(socket):
        threads.append(("connection", threading.get_ident()))
        loops_seen.add(socket.loop_index)

    @server.event
    async def add(socket, a, b):
        threads.append(("coroutine", threading.get_ident()))
        await asyncio.sleep(0)
        return a + b

    @server.event
    def mul(socket, a, b):
        threads.append(("function", threading.get_ident()))
        return a * b

    @server.on("disconnect")
    async def gone(socket, reason):
        threads.append(("disconnect", threading.get_ident()))

    async with server:
        url = await started(server)
        # Consecutive WebSocket clients land on every loop (round-robin); one more on HTTP long-polling.
        peers = [await aclients(url) for _ in range(loops)] + [await aclients(url, transports=POLLING)]
        await until(lambda: len(server.of("/").sockets) == len(peers), what="every socket")
        await until(lambda: loops_seen == set(range(loops)), what="a socket on every loop")
        sums = await asyncio.gather(*(peer.call("add", (n, 1), timeout=5) for n, peer in enumerate(peers)))
        products = await asyncio.gather(*(peer.call("mul", (n, 3), timeout=5) for n, peer in enumerate(peers)))
        assert sums == [n + 1 for n in range(len(peers))] and products == [3 * n for n in range(len(peers))]
    kinds = {kind for kind, _ in threads}
    assert kinds == {"middleware", "connection", "coroutine", "function", "disconnect"}
    assert {thread for _, thread in threads} == {here}


async def test_a_slow_coroutine_does_not_hold_up_the_next_event(aclients):
    server = sio.AsyncServer()
    go = asyncio.Event()
    order: list[str] = []

    @server.event
    async def slow(socket):
        await go.wait()  # set only by the event sent after this one
        order.append("slow")
        return "slow done"

    @server.event
    async def fast(socket):
        order.append("fast")
        go.set()
        return "fast done"

    async with server:
        client = await aclients(await started(server))
        slow_reply = asyncio.ensure_future(client.call("slow", timeout=5))
        await asyncio.sleep(0.05)
        assert await client.call("fast", timeout=5) == "fast done"
        assert await slow_reply == "slow done"
    assert order == ["fast", "slow"]


async def test_a_sockets_events_wait_for_its_connection_handlers(aclients):
    server = sio.AsyncServer()

    @server.on("connection")
    async def first(socket):
        await asyncio.sleep(0.2)  # the client emits meanwhile
        socket.data["steps"] = ["first"]

    @server.on("connection")
    def second(socket):
        socket.data["steps"].append("second")

    @server.event
    def steps(socket):
        return socket.data.get("steps")

    async with server:
        client = await aclients(await started(server))
        assert await client.call("steps", timeout=5) == ["first", "second"]


async def test_await_socket_call_reply_timeout_and_closed(loops, aclients):
    server = sio.AsyncServer(**server_options(loops))
    outcomes: dict[str, Any] = {}
    done = asyncio.Event()

    @server.on("connection")
    async def connected(socket):
        outcomes["reply"] = await socket.call("double", 21, timeout=5)
        outcomes["several"] = await socket.call("pair", timeout=5)
        try:
            await socket.call("stall", timeout=0.3)
        except sio.AckTimeoutError as error:
            outcomes["timeout"] = error
        try:
            await socket.call("stall", timeout=30)  # the client leaves while it is asked
        except sio.ClosedError as error:
            outcomes["closed"] = error
        done.set()

    async def stall(*_: Any) -> None:
        await asyncio.sleep(10)

    async with server:
        client = await aclients(await started(server), handlers={
            "double": lambda n: n * 2, "pair": lambda: ("a", 1), "stall": stall})
        await until(lambda: "timeout" in outcomes, what="the timed-out call")
        await asyncio.sleep(0.1)
        await client.disconnect()
        await asyncio.wait_for(done.wait(), 5)
    assert outcomes["reply"] == 42 and outcomes["several"] == ("a", 1)
    assert isinstance(outcomes["timeout"], sio.AckTimeoutError) and isinstance(outcomes["closed"], sio.ClosedError)


async def test_awaited_broadcast_with_acks_and_its_timeout(loops, aclients):
    server = sio.AsyncServer(**server_options(loops))

    async def slow(question: str) -> str:
        await asyncio.sleep(1.0)
        return "late"

    async with server:
        url = await started(server)
        for n in range(3):
            await aclients(url, transports=WS if n else POLLING, handlers={"poll": lambda q, n=n: f"{q}:{n}"})
        replies = await server.timeout(5).emit_with_ack("poll", "q")
        assert sorted(replies) == [["q:0"], ["q:1"], ["q:2"]]
        await aclients(url, handlers={"poll": slow})
        with pytest.raises(sio.AckTimeoutError) as info:
            await server.timeout(0.3).emit_with_ack("poll", "t")
        assert sorted(info.value.replies) == [["t:0"], ["t:1"], ["t:2"]]
        # The same future is a concurrent.futures.Future too.
        future = server.timeout(5).emit_with_ack("poll", "f")
        assert isinstance(future, concurrent.futures.Future)
        assert len(await future) == 4


async def test_ack_callbacks_may_be_coroutines_on_the_loop(aclients):
    server = sio.AsyncServer()
    got: list[Any] = []
    here = threading.get_ident()

    @server.on("connection")
    def connected(socket):
        async def answered(*reply: Any) -> None:
            await asyncio.sleep(0)
            got.append((reply, threading.get_ident()))

        socket.emit("question", 1, callback=answered, timeout=5)
        server.emit("question", 2, callback=lambda replies: got.append((replies, threading.get_ident())))

    async with server:
        await aclients(await started(server), handlers={"question": lambda n: n + 10})
        await until(lambda: len(got) == 2, what="both callbacks")
    assert sorted(got, key=repr) == sorted([((11,), here), ([[12]], here)], key=repr)


async def test_async_middleware_refuses_with_data_and_lets_in(loops, aclients):
    server = sio.AsyncServer(**server_options(loops))
    pool = concurrent.futures.ThreadPoolExecutor(1)

    @server.use
    async def auth(socket):
        await asyncio.sleep(0.01)  # e.g. a database look-up
        if socket.handshake.auth.get("token") != "secret":
            raise sio.ConnectionRefused("not authorized", {"code": 401})
        socket.data["agent"] = socket.handshake.headers.get("x-agent")
        socket.data["room"] = socket.handshake.query.get("room")

    @server.use(deferred=True)
    def later(socket, next):
        pool.submit(next)  # decided on another thread

    @server.on("connection")
    def connected(socket):
        socket.join(socket.data["room"])

    @server.event
    def whoami(socket):
        return socket.data

    try:
        async with server:
            url = await started(server)
            refused = socketio.AsyncClient(reconnection=False)
            errors: list[Any] = []
            refused.on("connect_error", errors.append)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await refused.connect(url, auth={"token": "wrong"}, wait_timeout=5)
            assert errors == [{"message": "not authorized", "data": {"code": 401}}]
            client = await aclients(url + "?room=blue", auth={"token": "secret"}, headers={"X-Agent": "tests"})
            assert await client.call("whoami", timeout=5) == {"agent": "tests", "room": "blue"}
            assert server.of("/").get_socket(client.get_sid()).rooms == {client.get_sid(), "blue"}
    finally:
        pool.shutdown()


async def test_disconnecting_handlers_see_the_rooms_the_socket_left(aclients):
    server = sio.AsyncServer()
    seen: list[Any] = []

    @server.on("connection")
    def connected(socket):
        socket.join("lobby")

    @server.on("disconnecting")
    async def leaving(socket, reason):
        seen.append((reason, socket.rooms))

    async with server:
        client = await aclients(await started(server))
        sid = client.get_sid()
        await until(lambda: server.of("/").get_socket(sid) is not None and "lobby" in server.of("/").get_socket(sid).rooms,
                    what="the join")
        await client.disconnect()
        await until(lambda: seen, what="the disconnecting handler")
    assert len(seen) == 1 and seen[0][1] == {sid, "lobby"}
    assert seen[0][0] in ("client namespace disconnect", "transport close")  # as the client closes


async def test_sync_handlers_keep_working_deferred_ack_included(aclients):
    server = sio.AsyncServer()
    pool = concurrent.futures.ThreadPoolExecutor(1)

    @server.event
    def later(socket, n):
        return pool.submit(lambda: n * 2)  # a concurrent.futures.Future: acknowledged once it completes

    @server.event
    def broken(socket):
        raise ValueError("boom")

    try:
        async with server:
            client = await aclients(await started(server), transports=POLLING)
            assert await client.call("later", 4, timeout=5) == 8
            with pytest.raises(socketio.exceptions.TimeoutError):
                await client.call("broken", timeout=0.5)  # logged, no acknowledgement
            assert await client.call("later", 5, timeout=5) == 10  # still serving
    finally:
        pool.shutdown()


def test_clean_start_and_stop_inside_asyncio_run(loops):
    """The whole life in asyncio.run: the disconnect handlers ran before stop() returned, a handler task still
    running was cancelled after the grace period, no thread of the server is left, no warning about tasks."""
    events: list[Any] = []

    async def main() -> sio.AsyncServer:
        server = sio.AsyncServer(**server_options(loops))

        @server.event
        async def hang(socket):
            try:
                await asyncio.sleep(60)
            finally:
                events.append("hang cancelled")

        @server.on("disconnect")
        async def gone(socket, reason):
            await asyncio.sleep(0.05)
            events.append(reason)

        port = await server.start(HOST, 0)
        peers = []
        for n in range(2):
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(f"http://{HOST}:{port}", transports=WS if n else POLLING, wait_timeout=5)
            peers.append(client)
        await peers[0].emit("hang")
        await asyncio.sleep(0.1)
        await server.stop(grace=0.3)
        assert not server.running
        assert sorted(events) == ["hang cancelled", "server shutting down", "server shutting down"]
        await server.close()
        for client in peers:
            await client.disconnect()
        return server

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        server = asyncio.run(main())
        gc.collect()
    assert [str(w.message) for w in caught if "coroutine" in str(w.message) or "Task" in str(w.message)] == []
    assert server._handle is None and server._running_tasks == set()
    assert not [t for t in threading.enumerate() if t.name == "sio-loop"]


async def test_lifecycle_errors():
    server = sio.AsyncServer()
    with pytest.raises(TypeError):
        server.run()
    with pytest.raises(TypeError):
        with server:
            pass
    with pytest.raises(TypeError):
        @server.on_http_request
        async def page(method, path):
            return None
    with pytest.raises(sio.InvalidArgumentError):
        sio.AsyncServer(max_pending_events=0)
    with pytest.raises(sio.InvalidArgumentError):
        sio.AsyncServer(on_overflow="block")
    await server.stop()  # never started: nothing to wait for
    await server.close()
    with pytest.raises(sio.StateError):
        await server.start(HOST, 0)


# ------------------------------------------------------------------------------------------------------------------
# A slow asyncio loop. The application's loop runs on a thread of its own here, so that the test can block it (a
# plain handler waiting for an Event the test sets) and meanwhile drive threaded clients and the engine.


class AppLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="app-loop", daemon=True)
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def app_loop() -> Iterator[AppLoop]:
    made = AppLoop()
    yield made
    made.close()


class Blocking:
    """An AsyncServer on the application loop whose "block" handler stops that loop until `release` is set;
    "count" handlers record their first argument, disconnect handlers the reason."""

    def __init__(self, app_loop: AppLoop, **options: Any) -> None:
        self.app_loop = app_loop
        self.server = server = sio.AsyncServer(**options)
        self.release = threading.Event()
        self.entered = threading.Event()
        self.handled: list[Any] = []
        self.reasons: list[str] = []

        @server.event
        def block(socket):
            self.entered.set()
            self.release.wait(30)  # the asyncio loop stands still until the test says so

        @server.event
        async def count(socket, n, *payload):
            self.handled.append(n)
            return n

        @server.on("disconnect")
        def gone(socket, reason):
            self.reasons.append(reason)

        self.url = f"http://{HOST}:{app_loop.run(server.start(HOST, 0))}"

    def close(self) -> None:
        self.release.set()
        self.app_loop.run(self.server.close())


@pytest.fixture
def blocking(app_loop: AppLoop) -> Iterator[Any]:
    """Makes Blocking servers; closes them after the clients (request it before `clients`)."""
    made: list[Blocking] = []

    def make(**options: Any) -> Blocking:
        made.append(Blocking(app_loop, **dict(server_options(1), **options)))
        return made[-1]

    yield make
    for blocked in made:
        blocked.close()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_socket_flooding_a_blocked_loop_is_disconnected(blocking, clients, caplog, transport):
    caplog.set_level(logging.WARNING, logger="sio")
    blocked = blocking(max_pending_events=4)
    flooder = clients(blocked.url, transports=[transport])
    flooder.client.emit("block")
    for n in range(20):
        flooder.client.emit("count", n)
    assert flooder.disconnects.get(timeout=10) is not None  # "io server disconnect"
    # The engine kept serving while Python's loop stood still: a new client connects and gets a broadcast.
    other = clients(blocked.url, transports=[transport])
    blocked.server.emit("news", "engine alive")
    assert other.next_event() == ("news", ("engine alive",))
    assert blocked.handled == []
    blocked.release.set()
    assert other.client.call("count", 99, timeout=5) == 99
    assert blocked.handled == [0, 1, 2, 99]  # 4 pending at most: "block" and three more; the rest never queued
    wait_for(lambda: blocked.reasons == ["server namespace disconnect"], what="the disconnect handler")
    overflows = [r.getMessage() for r in caplog.records if "faster than the asyncio loop" in r.getMessage()]
    assert len(overflows) == 1 and "max_pending_events=4" in overflows[0]


def test_drop_keeps_the_socket_and_drops_events_beyond_the_bound(blocking, clients, caplog):
    caplog.set_level(logging.DEBUG, logger="sio")
    blocked = blocking(max_pending_events=4, on_overflow="drop")
    client = clients(blocked.url)
    client.client.emit("block")
    for n in range(20):
        client.client.emit("count", n)
    # Every event reached the engine while the loop stood still: "block" and three more queued, 17 dropped.
    wait_for(lambda: len(drops(caplog)) == 17, what="the drops")
    blocked.release.set()
    # Room again once the queued three have run (sent before that, "after" would be one event too many).
    wait_for(lambda: blocked.handled == [0, 1, 2], what="the queued events handled")
    assert client.client.call("count", "after", timeout=5) == "after"  # the socket stayed
    assert blocked.handled == [0, 1, 2, "after"]
    assert client.client.connected and blocked.reasons == []
    assert [r.levelno for r in drops(caplog)] == [logging.WARNING] + [logging.DEBUG] * 16


def drops(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "dropped: the asyncio loop is behind" in r.getMessage()]


def test_the_byte_bound_spans_the_server(blocking, clients):
    blocked = blocking(max_pending_bytes=1500)
    bridge = blocked.server._bridge
    blocker = clients(blocked.url)
    blocker.client.emit("block")
    assert blocked.entered.wait(10)
    a = clients(blocked.url)
    b = clients(blocked.url, transports=["polling"])
    a.client.emit("count", ("a", "x" * 1000))  # fits
    wait_for(lambda: bridge.queued_bytes > 1000, what="a's event queued")
    b.client.emit("count", ("b", "y" * 1000))  # would pass 1500 bytes queued in the whole server
    assert b.disconnects.get(timeout=10) is not None
    assert a.client.connected and blocker.client.connected
    blocked.release.set()
    wait_for(lambda: blocked.handled == ["a"], what="a's event")
    assert bridge.queued_bytes == 0
