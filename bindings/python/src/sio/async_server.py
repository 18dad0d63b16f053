"""``sio.AsyncServer``: the same server, with every handler on the application's asyncio loop.

Threads: libsio's loop threads (one, or N with ``loops=N``) run the engine; they never wait for Python code of the
application. Each C callback does the little that must happen on its loop thread (copying borrowed arguments,
setting libsio's per-socket callbacks, reading the handshake) and hands the rest to a :class:`_Bridge`, which wakes
the asyncio loop once per batch. Handlers, middlewares, ack callbacks, room events and error reports then run on
the asyncio loop's thread, one at a time, coroutines as tasks; what they call back into libsio goes through the
binding's usual paths (posted to the right loop when it must run there).

The bridge is bounded: per socket, events received whose handlers have not finished (``max_pending_events``); for
the whole server, the argument bytes of events not started yet (``max_pending_bytes``). An event beyond either bound
is not queued; the socket is disconnected (``on_overflow="disconnect"``, the default) or the event dropped
(``"drop"``). Middleware, connection and disconnect work is not counted: there is one of each per connection, so
the connections the engine holds bound it.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import ctypes
import inspect
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from . import _codec, _lib
from ._lib import lib
from .errors import ClosedError, InvalidArgumentError, SIOError, StateError
from .server import (
    HTTPResponse,
    Namespace,
    Next,
    Server,
    Socket,
    _event_handler,
    _Lookup,
    _unwrap,
)

__all__ = ["AsyncServer", "AsyncSocket"]

log = logging.getLogger("sio")

_OVERFLOW_ACTIONS = ("disconnect", "drop")


class _Bridge:
    """Work from libsio's loop threads to the application's asyncio loop, in the order given: a queue behind a lock
    that is held for a few list operations only (never while Python code of the application runs), drained on the
    asyncio loop one batch per wake-up (``call_soon_threadsafe`` once per batch, not per item)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_events: int, max_bytes: int) -> None:
        self.loop = loop
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.queued_bytes = 0  # arguments of the events queued and not started yet
        self._lock = threading.Lock()
        self._items: collections.deque[Callable[[], None]] = collections.deque()
        self._awake = False  # a drain is scheduled on the asyncio loop
        self._closed_warned = False

    def put(self, item: Callable[[], None]) -> bool:
        """Queues `item` (any thread). False when the asyncio loop is closed (the item never runs)."""
        with self._lock:
            self._items.append(item)
            if self._awake:
                return True
            self._awake = True
        return self._wake()

    def put_event(self, socket: "AsyncSocket", size: int, item: Callable[[], None]) -> bool:
        """Queues an event of `socket` with `size` bytes of arguments unless that passes a bound (then False and
        nothing queued). The event counts against the socket until :meth:`finished`, its bytes until
        :meth:`started`."""
        with self._lock:
            if socket._pending >= self.max_events or self.queued_bytes + size > self.max_bytes:
                return False
            socket._pending += 1
            self.queued_bytes += size
            self._items.append(item)
            if self._awake:
                return True
            self._awake = True
        return self._wake()

    def started(self, size: int) -> None:
        with self._lock:
            self.queued_bytes -= size

    def finished(self, socket: "AsyncSocket") -> None:
        with self._lock:
            socket._pending -= 1

    def _wake(self) -> bool:
        try:
            self.loop.call_soon_threadsafe(self._drain)
            return True
        except RuntimeError:  # the application's loop is closed: nothing will ever run the queue
            with self._lock:
                self._items.clear()
                self._awake = False
            if not self._closed_warned:
                self._closed_warned = True
                log.warning("sio: the asyncio loop of an AsyncServer is closed while the server runs; its events are "
                            "dropped (await server.stop() before the loop ends)")
            return False

    def _drain(self) -> None:
        # One batch per turn of the asyncio loop, so a flood from the engine cannot starve the application's tasks.
        with self._lock:
            batch, self._items = self._items, collections.deque()
        for item in batch:
            try:
                item()
            except Exception:  # noqa: BLE001 - one item must not lose the rest of the batch
                log.exception("sio: internal error in AsyncServer work")
        with self._lock:
            if not self._items:
                self._awake = False
                return
        self.loop.call_soon(self._drain)


class AsyncSocket(Socket):
    """A :class:`Socket` of an :class:`AsyncServer`: the same methods, with ``call`` a coroutine. Its handshake
    (``headers``, ``query``) is read once, when the socket appears, so reading it never waits for libsio."""

    def __init__(self, server: "AsyncServer", namespace: Namespace, handle: int) -> None:
        super().__init__(server, namespace, handle)  # on the socket's loop thread
        self._pending = 0  # events queued or running (under the bridge's lock)
        self._overflowed = False
        self._gate: list[Callable[[], None]] | None = None  # work held back while connection handlers run
        self._rooms_when_leaving: set[str] | None = None
        out = ctypes.c_void_p()
        if lib.sio_socket_handshake(handle, ctypes.byref(out)) == 0 and out.value:
            try:
                whole = json.loads(ctypes.string_at(out.value))
                self.handshake.headers = _Lookup(self, "header", whole.get("headers") or {})
                self.handshake.query = _Lookup(self, "query", whole.get("query") or {})
            except ValueError:
                log.warning("sio: undecodable handshake of socket %s", self.id)
            finally:
                lib.sio_free(out)

    def _gated(self, item: Callable[[], None]) -> None:
        """Runs `item` now, or after the connection handlers if they are still running (asyncio thread)."""
        if self._gate is not None:
            self._gate.append(item)
        else:
            item()

    @property
    def rooms(self) -> set[str]:
        """The rooms the socket is in (a short wait for its loop). Once it began leaving (``disconnecting`` handlers
        run after that, on the asyncio loop), the rooms it was in then."""
        if self._rooms_when_leaving is not None:
            return set(self._rooms_when_leaving)
        return super().rooms

    async def call(self, event: str, *args: Any, timeout: float = 60) -> Any:  # type: ignore[override]
        """Emits `event` and waits (without blocking the loop) for the client's acknowledgement: None for no value,
        the value for one, a tuple for several. Raises :class:`AckTimeoutError` after `timeout` seconds, or
        :class:`ClosedError` if the socket leaves first."""
        return _unwrap(await self.emit_with_ack(event, *args, timeout=timeout))


class AsyncNamespace(Namespace):
    """A namespace of an :class:`AsyncServer`: middlewares, connection handlers and server-side events on the
    application's asyncio loop."""

    server: "AsyncServer"

    # -- from C (the socket's loop thread) ---------------------------------------------------------------------------

    def _middleware(self, handle: int, next_handle: int) -> None:
        server = self.server
        socket = server._sockets.get(handle)
        if socket is None:
            socket = server._socket_class(server, self, handle)
            server._sockets[handle] = socket
        server._bridge_put(lambda: server._spawn(self._chain(socket, next_handle, 0)))

    def _resume_middlewares(self, socket: Socket, next_handle: int, index: int) -> None:
        if self.server._state != "running":
            raise ClosedError(_lib.ECLOSED, "the server is not running")
        self.server._bridge_put(lambda: self.server._spawn(self._chain(socket, next_handle, index)))

    def _connected(self, handle: int) -> None:
        socket = self._attach(handle)
        handlers = list(self._connect_handlers)
        if not handlers:
            return
        assert isinstance(socket, AsyncSocket)
        socket._gate = []  # set before anything else of this socket is queued: its events wait for the handlers
        self.server._bridge_put(lambda: self.server._spawn(self._greet(socket, handlers)))

    def _server_side_event(self, event: str, args: list[Any], ack: int | None) -> None:
        handlers = list(self._server_side_handlers.get(event, ()))
        self.server._bridge_put(lambda: self.server._spawn(self._serve_server_side(event, handlers, args, ack)))

    # -- on the asyncio loop ---------------------------------------------------------------------------------------

    async def _chain(self, socket: Socket, next_handle: int, index: int) -> None:
        middlewares = self._middlewares
        while index < len(middlewares):
            function, deferred = middlewares[index]
            index += 1
            try:
                result = function(socket, Next(self, socket, next_handle, index)) if deferred else function(socket)
                if inspect.isawaitable(result):
                    await result
                if deferred:
                    return  # its next() goes on
            except asyncio.CancelledError:
                lib.sio_next(next_handle, b"server shutting down", None)
                raise
            except BaseException as error:  # noqa: BLE001 - refused below
                self._decide(socket, next_handle, error)
                return
        self._decide(socket, next_handle, None)

    async def _greet(self, socket: AsyncSocket, handlers: list[Callable[..., Any]]) -> None:
        try:
            for handler in handlers:
                await self.server._await_call(f"connection handler of {self.name}", handler, socket)
        finally:
            waiting, socket._gate = socket._gate or [], None
            for item in waiting:
                try:
                    item()
                except Exception:  # noqa: BLE001
                    log.exception("sio: internal error in AsyncServer work")

    async def _serve_server_side(self, event: str, handlers: list[Callable[..., Any]], args: list[Any],
                                 ack: int | None) -> None:
        for handler in handlers:
            ok, value = await self.server._await_call(f"server-side handler for {event!r} of {self.name}", handler,
                                                      *args)
            if ack and ok:
                answer, ack = ack, None  # the first handler answers
                try:
                    self.server._on_loop(lambda: self._answer_server_side(answer, value, event), wait=False)
                except SIOError:
                    log.debug("sio: the answer to server-side event %r is dropped: the server stopped", event)


class AsyncServer(Server):
    """A Socket.IO server whose handlers run on the application's asyncio loop (python-socketio's
    ``AsyncServer``). The same options, decorators and methods as :class:`Server`, and:

    * ``await server.start(host, port)`` (returns the port), ``await server.stop()``, ``await server.wait()``,
      ``await server.close()``, or ``async with sio.AsyncServer() as server:``; all inside the loop that runs the
      handlers (the one that called ``start``), e.g. under ``asyncio.run``.
    * Handlers, middlewares, ack callbacks, room-event and error handlers may be coroutine functions (or return an
      awaitable); plain functions work too. All run on the asyncio loop's thread, whatever ``loops`` is: state they
      share needs no lock. An event handler's return value (awaited) is the acknowledgement. Each event handler that
      is a coroutine runs as a task of its own (a slow one does not hold up the next event); a socket's events wait
      until its connection handlers have finished.
    * ``await socket.call(event, ...)`` and ``await server.timeout(5).emit_with_ack(event, ...)`` wait for
      acknowledgements without blocking the loop (every future the API returns can be awaited). Plain emits
      return at once (the engine queues the bytes).
    * ``on_http_request`` handlers are the exception: libsio needs the response during its callback, so they must
      be plain functions, and run on the engine's loop thread.

    Backpressure: libsio's threads never wait for the asyncio loop. When it falls behind, work queues up between the
    two, bounded by ``max_pending_events`` (per socket: events received whose handlers have not finished, queued or
    running; default 1024) and ``max_pending_bytes`` (per server: argument bytes of the events not started yet,
    JSON and binary; default 64 MiB). An event beyond a bound is never queued: with ``on_overflow="disconnect"``
    (the default) its socket is disconnected (the client gets "io server disconnect", the server's disconnect
    handlers "server namespace disconnect"); with ``"drop"`` the event is dropped (no handler, no acknowledgement:
    the client's ack times out) and the socket stays. Either way a warning is logged once per socket.
    """

    _namespace_class = AsyncNamespace
    _socket_class = AsyncSocket

    def __init__(self, *, max_pending_events: int = 1024, max_pending_bytes: int = 64 << 20,
                 on_overflow: str = "disconnect", **options: Any) -> None:
        for name, value in (("max_pending_events", max_pending_events), ("max_pending_bytes", max_pending_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(_lib.EINVAL, f"option {name}={value!r} (a positive integer)")
        if on_overflow not in _OVERFLOW_ACTIONS:
            raise InvalidArgumentError(_lib.EINVAL, f"option on_overflow={on_overflow!r} (one of {_OVERFLOW_ACTIONS})")
        self.max_pending_events = max_pending_events
        self.max_pending_bytes = max_pending_bytes
        self.on_overflow = on_overflow
        self._bridge: _Bridge | None = None
        self._ended_event: asyncio.Event | None = None
        self._running_tasks: set[asyncio.Task[Any]] = set()
        super().__init__(**options)

    def __repr__(self) -> str:
        return "<sio.Async" + super().__repr__()[len("<sio."):]

    # -- lifecycle (on the application's asyncio loop) -----------------------------------------------------------------

    async def start(self, host: str | None = None, port: int | None = None) -> int:  # type: ignore[override]
        """Starts the engine (its loops on threads of their own) and returns the port; handlers will run on the
        calling asyncio loop. Listens first on `host`/`port` if given (defaults 127.0.0.1:5000 when the server does
        not listen yet)."""
        if self._state != "created":
            raise StateError(_lib.ESTATE, f"the server is {self._state}")
        self._bridge = _Bridge(asyncio.get_running_loop(), self.max_pending_events, self.max_pending_bytes)
        self._ended_event = asyncio.Event()
        return self._start_engine(host, port)

    async def stop(self, grace: float = 2.0) -> None:  # type: ignore[override]
        """Stops gracefully and returns once the engine has ended: every client gets a disconnect, the disconnect
        handlers have run (reason "server shutting down"), and handler tasks still running got `grace` seconds to
        finish before they are cancelled (awaited, `grace` more). Repeatable; a handler may await it."""
        self._stop_engine()
        if self._ended_event is None:
            return
        await self._ended_event.wait()
        await self._settle(grace)

    async def wait(self) -> None:  # type: ignore[override]
        """Returns once the server has stopped (after :meth:`stop`, from anywhere)."""
        if self._ended_event is not None:
            await self._ended_event.wait()

    async def close(self) -> None:  # type: ignore[override]
        """Stops (see :meth:`stop`) and frees the server; it cannot be used afterwards."""
        await self.stop()
        self._join()
        self._destroy()

    async def __aenter__(self) -> "AsyncServer":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __enter__(self) -> "AsyncServer":
        raise TypeError("use `async with sio.AsyncServer(...)`")

    def run(self, host: str | None = None, port: int | None = None) -> None:
        raise TypeError("an AsyncServer runs on your asyncio loop: `await server.start(host, port)`")

    def on_http_request(self, handler: Callable[[str, str], HTTPResponse]) -> Callable[[str, str], HTTPResponse]:
        """As :meth:`Server.on_http_request`; the handler must be a plain function (libsio needs the response
        during its callback): it runs on the engine's loop thread, not on the asyncio loop."""
        if inspect.iscoroutinefunction(handler):
            raise TypeError("on_http_request handlers cannot be coroutines: libsio needs the response at once")
        return super().on_http_request(handler)

    def _ended(self) -> None:  # the first loop's thread, after every loop ended
        super()._ended()
        if self._ended_event is not None:
            # Last in the queue: when it is set, every disconnect the engine reported has been handed over.
            self._bridge_put(self._ended_event.set)

    async def _settle(self, grace: float) -> None:
        current = asyncio.current_task()
        tasks = {task for task in self._running_tasks if task is not current}
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        if pending:
            log.warning("sio: %d handler task(s) still running %.1f s after the server stopped: cancelled",
                        len(pending), grace)
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=grace)

    # -- running application code (asyncio loop) -----------------------------------------------------------------------

    def _bridge_put(self, item: Callable[[], None]) -> None:
        bridge = self._bridge
        if bridge is None:
            raise StateError(_lib.ESTATE, "the AsyncServer has not been started")
        bridge.put(item)

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        assert self._bridge is not None
        task = self._bridge.loop.create_task(coroutine)  # type: ignore[arg-type]
        self._running_tasks.add(task)
        task.add_done_callback(self._running_tasks.discard)

    def _run(self, what: str, function: Callable[..., Any], args: tuple[Any, ...],
             done: Callable[[bool, Any], None] | None = None) -> None:
        """Calls `function(*args)` now; an awaitable result is awaited in a task. `done(ok, value)` follows."""
        try:
            result = function(*args)
        except Exception:  # noqa: BLE001 - an application error must not stop the server
            log.exception("sio: %s raised", what)
            if done is not None:
                done(False, None)
            return
        if inspect.isawaitable(result):
            self._spawn(self._conclude(what, result, done))
        elif done is not None:
            done(True, result)

    async def _conclude(self, what: str, awaitable: Awaitable[Any], done: Callable[[bool, Any], None] | None) -> None:
        try:
            value = await awaitable
        except asyncio.CancelledError:
            if done is not None:
                done(False, None)
            raise
        except Exception:  # noqa: BLE001
            log.exception("sio: %s raised", what)
            if done is not None:
                done(False, None)
            return
        if done is not None:
            done(True, value)

    async def _await_call(self, what: str, function: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        try:
            result = function(*args)
            if inspect.isawaitable(result):
                result = await result
            return True, result
        except Exception:  # noqa: BLE001
            log.exception("sio: %s raised", what)
            return False, None

    def _invoke(self, what: str, function: Callable[..., Any], *args: Any) -> None:
        # Any thread (the engine's, mostly): the application's function runs on the asyncio loop.
        self._bridge_put(lambda: self._run(what, function, args))

    # -- from C (the socket's loop thread) ---------------------------------------------------------------------------

    def _event(self, handle: int, event: str, args: int | None, ack: int | None) -> None:
        socket = self._sockets.get(handle)
        if not isinstance(socket, AsyncSocket):
            log.warning("sio: event %r for an unknown socket", event)
            return
        json_bytes, attachments = _lib.read_args(args)  # borrowed: copied here, decoded on the asyncio loop
        size = len(json_bytes) + sum(len(data) for data in attachments)
        bridge = self._bridge
        assert bridge is not None

        def run() -> None:
            socket._gated(lambda: self._run_event(socket, event, json_bytes, attachments, ack, size))

        if not bridge.put_event(socket, size, run):
            self._overflow(socket, event, size)

    def _overflow(self, socket: AsyncSocket, event: str, size: int) -> None:
        bridge = self._bridge
        assert bridge is not None
        warn = not socket._overflowed
        socket._overflowed = True
        if self.on_overflow == "drop":
            level = logging.WARNING if warn else logging.DEBUG
            log.log(level, "sio: event %r of %s dropped: the asyncio loop is behind (%d of its events pending, "
                    "max_pending_events=%d; %d + %d bytes queued, max_pending_bytes=%d)", event, socket.id,
                    socket._pending, bridge.max_events, bridge.queued_bytes, size, bridge.max_bytes)
            return
        if not warn:
            return  # disconnected already; its last events are still arriving
        log.warning("sio: %s disconnected: it sends events faster than the asyncio loop handles them (%d pending, "
                    "max_pending_events=%d; %d + %d bytes queued, max_pending_bytes=%d)", socket.id, socket._pending,
                    bridge.max_events, bridge.queued_bytes, size, bridge.max_bytes)
        lib.sio_socket_disconnect(socket._handle, False)

    def _disconnecting(self, handle: int, reason: str) -> None:
        socket = self._sockets.get(handle)
        if isinstance(socket, AsyncSocket) and ("disconnecting" in socket._handlers
                                                or "disconnecting" in socket.namespace._handlers):
            # Its handlers run later, on the asyncio loop, when it has left: keep the rooms they may ask for.
            socket._rooms_when_leaving = Socket.rooms.fget(socket)  # type: ignore[attr-defined]
        super()._disconnecting(handle, reason)

    def _leaving(self, socket: Socket, event: str, reason: str) -> None:
        handlers: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = []
        own = socket._handlers.get(event)
        if own is not None:
            handlers.append((f"socket {event} handler", own, (reason,)))
        handler = socket.namespace._handlers.get(event)
        if handler is not None:
            handlers.append((f"{event} handler of {socket.namespace.name}", handler, (socket, reason)))
        if not handlers:
            return
        assert isinstance(socket, AsyncSocket)

        def run() -> None:
            for what, function, args in handlers:
                self._run(what, function, args)

        self._bridge_put(lambda: socket._gated(run))

    # -- on the asyncio loop ---------------------------------------------------------------------------------------

    def _run_event(self, socket: AsyncSocket, event: str, json_bytes: bytes, attachments: list[bytes],
                   ack: int | None, size: int) -> None:
        bridge = self._bridge
        assert bridge is not None
        bridge.started(size)
        try:
            values = _codec.decode(json_bytes, attachments)
        except ValueError:
            log.exception("sio: undecodable arguments for %r from %s", event, socket.id)
            bridge.finished(socket)
            return
        found = _event_handler(socket, event, values)
        if found is None:
            bridge.finished(socket)
            return
        handler, call_args = found

        def done(ok: bool, result: Any) -> None:
            bridge.finished(socket)
            if ack:
                self._reply(socket, ack, ok, result, event)

        self._run(f"handler of {event!r} on {socket.namespace.name}", handler, call_args, done)

    def _reply(self, socket: AsyncSocket, ack: int, ok: bool, result: Any, event: str) -> None:
        if not ok:
            log.warning("sio: the acknowledgement of %r from %s is not sent (its handler raised)", event, socket.id)
            return
        if isinstance(result, concurrent.futures.Future):
            self._defer_ack(socket, ack, result, event)
            return
        try:
            socket._on_loop(lambda: self._send_ack(ack, result, event), wait=False)  # sio_ack_send is [LOOP]
        except SIOError:
            log.debug("sio: acknowledgement of %r dropped: the socket left or the server stopped", event)

