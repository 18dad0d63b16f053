"""The Pythonic layer over ``sio.h``: :class:`Server`, :class:`Namespace`, :class:`Socket`, :class:`BroadcastOperator`.

Threads (the rules of ``sio.h``, enforced here):

* The server's first loop runs on one thread (``sio-loop``), started by :meth:`Server.start` or :meth:`Server.run`;
  with ``loops=N`` libsio runs N - 1 more loops on threads of its own. Each connection lives on one loop, and every
  handler, middleware, ack callback and HTTP handler runs on the loop of the socket (or request) it is about: with
  one loop one at a time, with several loops handlers of sockets on different loops at the same time (each holding
  the GIL in turn). Do not block in them.
* Server and namespace work marked [LOOP] in ``sio.h`` (registering handlers, broadcasts with acknowledgement, ...)
  runs directly on any of the server's loop threads (``sio_server_in_loop``), else is posted to the first loop with
  ``sio_server_post``. Socket work marked [LOOP] (join, leave, rooms, handshake lookups, emits with
  acknowledgement, acknowledgements) runs directly on the socket's own loop thread (``sio_socket_in_loop``), else
  is posted to that loop with ``sio_socket_post``: fire and forget when it returns nothing, such as ``join``;
  waited for when it returns a value, such as ``rooms``. The [ANY THREAD] functions (emit, broadcast, disconnect,
  stop) are called directly. Posted work and direct emits share the target loop's one submit queue, so their order
  is kept.
* A loop thread that waits for work on another loop (a handler reading the rooms of a socket on another loop) runs,
  while it waits, the work other loop threads queued for its own loop, so two loops waiting on each other cannot
  dead-lock.
* Blocking helpers (:meth:`Socket.call`, :meth:`Server.wait`) refuse to run on a loop thread instead of
  dead-locking.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import ctypes
import itertools
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, Union, overload

from . import _codec, _lib
from ._lib import lib
from .errors import AckTimeoutError, ClosedError, ConnectionRefused, InvalidArgumentError, SIOError, StateError

__all__ = ["Server", "Namespace", "Socket", "BroadcastOperator", "Handshake", "Next", "HTTPResponse", "TLSErrorReport",
           "Future"]

log = logging.getLogger("sio")
_lib_log = logging.getLogger("sio.lib")

F = TypeVar("F", bound=Callable[..., Any])
Room = Union[str, "Socket"]
Rooms = Union[Room, Iterable[Room], None]
#: What an HTTP handler returns: ``(status, content_type, body)``, ``(status, body)``, or None for a 404.
HTTPResponse = Union[tuple[int, Union[str, None], Union[str, bytes]], tuple[int, Union[str, bytes]], None]

#: Event names with a meaning of their own in :meth:`Server.on`.
CONNECT_EVENTS = ("connect", "connection")
_SPECIAL_EVENTS = frozenset(CONNECT_EVENTS + ("disconnect", "disconnecting", "*"))

# ------------------------------------------------------------------------------------------------------------------
# Objects C refers to through `void *user_data`: small integer keys into these tables, never Python pointers.

class Future(concurrent.futures.Future):  # type: ignore[type-arg]
    """The futures the API returns (acknowledgements, ``fetch_sockets``, ``post``, ...): a
    :class:`concurrent.futures.Future` (``result()`` blocks, from any thread but a loop thread) that can also be
    awaited in a coroutine (``replies = await server.timeout(5).emit_with_ack("poll")``), on any asyncio loop."""

    def __await__(self) -> Any:
        return asyncio.wrap_future(self).__await__()


_keys = itertools.count(1)  # next() on itertools.count is atomic under the GIL
_objects: dict[int, Any] = {}  # servers and namespaces, for the life of the process (few of them)
_tasks: dict[int, tuple["Server", Callable[[], Any]]] = {}  # posted (sio_server_post, sio_socket_post), until run
_waiters: dict[int, "_AckWaiter"] = {}  # acks we wait for, until C calls back
_fetches: dict[int, "Future[list[dict[str, Any]]]"] = {}  # fetch_sockets waiting for C
_server_side_waiters: dict[int, "Future[list[Any]]"] = {}  # server_side_emit_with_ack
_live_servers: set["Server"] = set()


def _guard(what: str, function: Callable[..., None]) -> Callable[..., None]:
    """A C callback body that never lets an exception reach ctypes (which would only print it)."""

    def wrapper(*args: Any) -> None:
        try:
            function(*args)
        except BaseException:  # noqa: BLE001 - nothing may cross back into C
            log.exception("sio: internal error in the %s callback", what)

    return wrapper


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value is not None else ""


# ------------------------------------------------------------------------------------------------------------------
# Library logs -> logging


_LEVELS = {_lib.LOG_ERROR: logging.ERROR, _lib.LOG_WARN: logging.WARNING, _lib.LOG_INFO: logging.INFO,
           _lib.LOG_DEBUG: logging.DEBUG}
_component_loggers: dict[str, logging.Logger] = {}


_last_error = threading.local()  # the last error line libsio logged on this thread (listen failures say why there)


def _on_log(level: int, component: bytes | None, message: bytes | None, _user_data: int | None) -> None:
    name = _text(component) or "sio"
    if level == _lib.LOG_ERROR:
        _last_error.text = _text(message)
    logger = _component_loggers.get(name)
    if logger is None:
        logger = _component_loggers[name] = logging.getLogger("sio.lib." + name)
    logger.log(_LEVELS.get(level, logging.ERROR), "%s", _text(message))


def set_library_log_level(level: int) -> None:
    """Sets which lines libsio itself produces, as a :mod:`logging` level (``logging.DEBUG`` ... ``logging.ERROR``).

    By default every :class:`Server` created sets it from the effective level of the ``sio.lib`` logger, so
    configuring :mod:`logging` first is enough. libsio applies it to servers created afterwards. Debug lines also
    need the component named in ``SIO_DEBUG`` (e.g. ``SIO_DEBUG=engine,socket.io*``), as with Node's ``DEBUG``.
    """
    if level <= logging.DEBUG:
        value = _lib.LOG_DEBUG
    elif level <= logging.INFO:
        value = _lib.LOG_INFO
    elif level <= logging.WARNING:
        value = _lib.LOG_WARN
    else:
        value = _lib.LOG_ERROR
    lib.sio_set_log_level(value)


# ------------------------------------------------------------------------------------------------------------------
# The C callbacks: one ctypes object per type for the whole process, so none is ever collected while C holds it.


def _on_task(_server: int | None, user_data: int | None) -> None:
    entry = _tasks.pop(user_data or 0, None)
    if entry is None:
        return
    server, work = entry
    with server._state_lock:
        server._pending_tasks.discard(user_data or 0)
    work()


def _on_socket_task(_socket: int | None, user_data: int | None) -> None:
    _on_task(None, user_data)


def _on_connection(socket: int | None, user_data: int | None) -> None:
    namespace: Namespace = _objects[user_data or 0]
    namespace._connected(socket or 0)


def _on_middleware(socket: int | None, next_handle: int | None, user_data: int | None) -> None:
    namespace: Namespace = _objects[user_data or 0]
    namespace._middleware(socket or 0, next_handle or 0)


def _on_event(socket: int | None, event: bytes | None, args: int | None, ack: int | None,
              user_data: int | None) -> None:
    server: Server = _objects[user_data or 0]
    server._event(socket or 0, _text(event), args, ack)


def _on_disconnecting(socket: int | None, reason: bytes | None, user_data: int | None) -> None:
    server: Server = _objects[user_data or 0]
    server._disconnecting(socket or 0, _text(reason))


def _on_disconnect(socket: int | None, reason: bytes | None, user_data: int | None) -> None:
    server: Server = _objects[user_data or 0]
    server._disconnected(socket or 0, _text(reason))


def _on_ack(_socket: int | None, status: int, reply: int | None, user_data: int | None) -> None:
    waiter = _waiters.pop(user_data or 0, None)
    if waiter is None:
        return
    if status == 0:
        waiter.resolve(_decode_args(reply))
    else:
        waiter.fail(SIOError.from_code(status))


def _on_broadcast_ack(status: int, replies: Any, count: int, user_data: int | None) -> None:
    waiter = _waiters.pop(user_data or 0, None)
    if waiter is None:
        return
    values = [_decode_args(replies[index]) for index in range(count)] if count else []
    if status == 0:
        waiter.resolve(values)
    else:
        waiter.fail(AckTimeoutError(status, replies=values) if status == _lib.ETIMEOUT else SIOError.from_code(status))


def _on_http(_server: int | None, request: int | None, method: bytes | None, path: bytes | None,
             user_data: int | None) -> None:
    server: Server = _objects[user_data or 0]
    server._http(request or 0, _text(method), _text(path))


def _on_connection_error(_server: int | None, request: int | None, code: int, message: bytes | None,
                         context: bytes | None, user_data: int | None) -> None:
    server: Server = _objects[user_data or 0]
    server._connection_error(request or 0, code, _text(message), _text(context))


def _on_tls_error(_server: int | None, kind: int, reason: bytes | None, address: bytes | None,
                  user_data: int | None) -> None:
    server: Server = _objects[user_data or 0]
    server._tls_error(_lib.TLS_ERROR_KINDS.get(kind, str(kind)), _text(reason), _text(address))


def _on_fetch_sockets(status: int, text: int | None, length: int, user_data: int | None) -> None:
    future = _fetches.pop(user_data or 0, None)
    if future is None:
        return
    if status != 0 or not text:
        future.set_exception(SIOError.from_code(status or _lib.ESTATE, "fetch_sockets"))
        return
    future.set_result(json.loads(ctypes.string_at(text, length).decode("utf-8")))


def _on_server_side_event(_ns: int | None, event: bytes | None, args: int | None, ack: int | None,
                          user_data: int | None) -> None:
    namespace: Namespace = _objects[user_data or 0]
    namespace._server_side_event(_text(event), _decode_args(args), ack)


def _on_server_side_ack(status: int, text: int | None, length: int, user_data: int | None) -> None:
    future = _server_side_waiters.pop(user_data or 0, None)
    if future is None:
        return
    replies = json.loads(ctypes.string_at(text, length).decode("utf-8")) if text else []
    if status == 0:
        future.set_result(replies)
    elif status == _lib.ETIMEOUT:
        future.set_exception(AckTimeoutError(status, replies=replies))
    else:
        future.set_exception(SIOError.from_code(status, "server_side_emit"))


_ROOM_EVENT_NAMES = {0: "create-room", 1: "delete-room", 2: "join-room", 3: "leave-room"}


def _on_room_event(_ns: int | None, kind: int, room: bytes | None, sid: bytes | None, user_data: int | None) -> None:
    namespace: Namespace = _objects[user_data or 0]
    namespace._room_event(kind, _text(room), None if sid is None else _text(sid))


_LOG_CALLBACK = _lib.LOG_CB(_guard("log", _on_log))
_TASK_CALLBACK = _lib.TASK_CB(_guard("task", _on_task))
_SOCKET_TASK_CALLBACK = _lib.SOCKET_TASK_CB(_guard("socket task", _on_socket_task))
_CONNECTION_CALLBACK = _lib.CONNECTION_CB(_guard("connection", _on_connection))
_MIDDLEWARE_CALLBACK = _lib.MIDDLEWARE_CB(_guard("middleware", _on_middleware))
_EVENT_CALLBACK = _lib.EVENT_CB(_guard("event", _on_event))
_DISCONNECTING_CALLBACK = _lib.DISCONNECT_CB(_guard("disconnecting", _on_disconnecting))
_DISCONNECT_CALLBACK = _lib.DISCONNECT_CB(_guard("disconnect", _on_disconnect))
_ACK_CALLBACK = _lib.ACK_CB(_guard("ack", _on_ack))
_BROADCAST_ACK_CALLBACK = _lib.BROADCAST_ACK_CB(_guard("broadcast ack", _on_broadcast_ack))
_HTTP_CALLBACK = _lib.HTTP_CB(_guard("http", _on_http))
_CONNECTION_ERROR_CALLBACK = _lib.CONNECTION_ERROR_CB(_guard("connection error", _on_connection_error))
_TLS_ERROR_CALLBACK = _lib.TLS_ERROR_CB(_guard("tls error", _on_tls_error))
_ROOM_EVENT_CALLBACK = _lib.ROOM_EVENT_CB(_guard("room event", _on_room_event))
_FETCH_SOCKETS_CALLBACK = _lib.FETCH_SOCKETS_CB(_guard("fetch sockets", _on_fetch_sockets))
_SERVER_SIDE_EVENT_CALLBACK = _lib.SERVER_SIDE_EVENT_CB(_guard("server-side event", _on_server_side_event))
_SERVER_SIDE_ACK_CALLBACK = _lib.SERVER_SIDE_ACK_CB(_guard("server-side ack", _on_server_side_ack))

lib.sio_set_log_callback(_LOG_CALLBACK, None)


@atexit.register
def _shutdown() -> None:
    # Stop every server still running before the interpreter goes away under its loop thread, then give the log
    # sink back to libsio (nothing may call into a finalized interpreter).
    for server in list(_live_servers):
        try:
            server._close_blocking()
        except BaseException:  # noqa: BLE001
            log.exception("sio: closing %r at exit", server)
    lib.sio_set_log_callback(_lib.LOG_CB(), None)


# ------------------------------------------------------------------------------------------------------------------
# Helpers


def _decode_args(args: int | None) -> list[Any]:
    json_bytes, attachments = _lib.read_args(args)
    return _codec.decode(json_bytes, attachments)


#: Names the protocol reserves: they cannot be emitted (libsio refuses them, as the reference server does).
RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect", "disconnecting", "newListener",
                             "removeListener"})


def _event_name(event: str) -> bytes:
    if not isinstance(event, str) or not event or event in RESERVED_EVENTS:
        raise InvalidArgumentError(_lib.EINVAL, f"event name {event!r} (empty or reserved)")
    return _lib.c_str(event)


def _server_side_payload(event: str, args: tuple[Any, ...]) -> tuple[bytes, bytes]:
    """The C event name and JSON arguments of a server-side event, which carries JSON only (no bytes)."""
    name = _event_name(event)
    payload, attachments = _codec.encode(args)
    if attachments:
        raise InvalidArgumentError(_lib.EINVAL, "server_side_emit carries JSON only, not bytes")
    return name, payload


def _event_handler(socket: "Socket", event: str,
                   values: list[Any]) -> tuple[Callable[..., Any], tuple[Any, ...]] | None:
    """The handler of `event` for `socket` and its arguments: the socket's own, the namespace's, the socket's
    catch-all, the namespace's catch-all, in that order; None when there is none."""
    namespace = socket.namespace
    handler = socket._handlers.get(event)
    if handler is not None:
        return handler, tuple(values)
    handler = namespace._handlers.get(event)
    if handler is not None:
        return handler, (socket, *values)
    handler = socket._handlers.get("*")
    if handler is not None:
        return handler, (event, *values)
    handler = namespace._handlers.get("*")
    if handler is not None:
        return handler, (socket, event, *values)
    log.debug("sio: no handler for %r on %s", event, namespace.name)
    return None


def _check(code: int, what: str | None = None) -> int:
    if code < 0:
        raise SIOError.from_code(code, what)
    return code


def _room_names(rooms: Rooms) -> list[str]:
    if rooms is None:
        return []
    if isinstance(rooms, (str, Socket)):
        rooms = [rooms]
    names = []
    for room in rooms:
        names.append(room.id if isinstance(room, Socket) else str(room))
    return names


def _ack_values(result: Any) -> tuple[Any, ...]:
    """A handler's return value as ack arguments: a tuple is several, None is none, anything else is one."""
    if result is None:
        return ()
    if isinstance(result, tuple):
        return result
    return (result,)


def _unwrap(values: list[Any]) -> Any:
    """python-socketio's convention for `call`: no value -> None, one -> it, several -> a tuple."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return tuple(values)


def _milliseconds(seconds: float | None, name: str) -> int:
    if seconds is None:
        return 0
    if seconds < 0:
        raise ValueError(f"{name} must not be negative")
    return max(1, min(int(round(seconds * 1000)), 0xFFFFFFFF))


def _runner(work: Callable[[], Any], result: concurrent.futures.Future[Any], wait: bool) -> Callable[[], None]:
    """The body of posted work: runs `work`, hands its result or exception to `result` (logged when nobody waits)."""

    def task() -> None:
        if not result.set_running_or_notify_cancel():
            return
        try:
            result.set_result(work())
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
            result.set_exception(error)
            if not wait:
                log.error("sio: posted work failed", exc_info=(type(error), error, error.__traceback__))

    return task


class _SocketJob:
    """Work posted to a socket's loop with ``sio_socket_post``. It runs once, by whichever comes first: libsio
    calling back on that loop, or that loop's thread while it waits for work of another loop (``Server._wait``).
    Jobs posted from a loop thread are also listed in the target loop's inbox for the second way."""

    __slots__ = ("server", "work", "dependants", "taken", "inbox")

    def __init__(self, server: "Server", work: Callable[[], None],
                 dependants: list[concurrent.futures.Future[Any]]) -> None:
        self.server = server
        self.work = work
        self.dependants = dependants
        self.taken = False
        self.inbox: collections.deque[_SocketJob] | None = None

    def __call__(self) -> None:  # libsio's call back, on the socket's loop
        if self.server._take(self):
            self.work()


class _AckWaiter:
    """An acknowledgement we are waiting for: a future, and optionally a callback run on the loop thread."""

    __slots__ = ("server", "future", "callback", "spread", "what")

    def __init__(self, server: "Server", callback: Callable[..., Any] | None, spread: bool, what: str) -> None:
        self.server = server
        self.future: Future[Any] = Future()
        self.future.set_running_or_notify_cancel()
        self.callback = callback
        self.spread = spread
        self.what = what

    def resolve(self, values: Any) -> None:
        if self.future.done():
            return
        self.future.set_result(values)
        if self.callback is not None:
            args = values if self.spread else [values]
            self.server._invoke(f"ack callback of {self.what}", self.callback, *args)

    def fail(self, error: BaseException) -> None:
        if self.future.done():
            return
        self.future.set_exception(error)
        if self.callback is not None:
            log.debug("sio: no acknowledgement for %s (%s); its callback is not called", self.what, error)


# ------------------------------------------------------------------------------------------------------------------
# Handshake


class _Lookup:
    """Values of the handshake looked up by name (``sio.h`` cannot list them): ``get``, ``[]``, ``in``. Given
    `known` (every value, read at once with ``sio_socket_handshake``), it never asks libsio."""

    __slots__ = ("_socket", "_kind", "_cache", "_complete")

    def __init__(self, socket: "Socket", kind: str, known: dict[str, str] | None = None) -> None:
        self._socket = socket
        self._kind = kind
        self._cache: dict[str, str | None] = {}
        self._complete = known is not None
        if known is not None:
            self._cache.update((self._key(name), value) for name, value in known.items())

    def _key(self, name: str) -> str:
        return name.lower() if self._kind == "header" else name

    def get(self, name: str, default: str | None = None) -> str | None:
        key = self._key(name)
        if key not in self._cache:
            if self._complete:
                return default
            self._cache[key] = self._socket._lookup(self._kind, name)
        value = self._cache[key]
        return default if value is None else value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __repr__(self) -> str:
        known = {k: v for k, v in self._cache.items() if v is not None}
        return f"<{self._kind} lookup {known!r}>"


class Handshake:
    """What the client sent when it connected: ``auth`` (the CONNECT payload, decoded JSON; ``{}`` when none),
    ``address`` (the peer's IP), ``headers`` and ``query`` (looked up by name: ``headers.get("user-agent")``,
    ``query["token"]``; header names in any case)."""

    __slots__ = ("auth", "address", "headers", "query")

    def __init__(self, socket: "Socket", auth: Any, address: str) -> None:
        self.auth = auth
        self.address = address
        self.headers = _Lookup(socket, "header")
        self.query = _Lookup(socket, "query")

    def __repr__(self) -> str:
        return f"Handshake(auth={self.auth!r}, address={self.address!r})"


class ConnectionErrorReport:
    """A request the engine refused (the reference's ``connection_error`` event), for finding out why clients
    cannot connect: ``code`` (0 unknown transport, 1 unknown session id, 2 bad handshake method, 3 bad request,
    4 forbidden, 5 unsupported protocol version), ``message`` (its text, "Session ID unknown"), ``context`` (a dict
    with the reference's keys: ``sid``, ``transport``, ``method``, ``protocol``, ``message``, or ``name`` with
    ``TRANSPORT_MISMATCH`` / ``TRANSPORT_HANDSHAKE_ERROR``), ``url`` (path and query) and ``headers`` (the request
    headers most useful for diagnosis, by lower-case name: those of ``HEADERS`` the request had)."""

    HEADERS = ("host", "origin", "referer", "user-agent", "x-forwarded-for")
    __slots__ = ("code", "message", "context", "url", "headers")

    def __init__(self, code: int, message: str, context: dict[str, str], url: str, headers: dict[str, str]) -> None:
        self.code = code
        self.message = message
        self.context = context
        self.url = url
        self.headers = headers

    def __repr__(self) -> str:
        return (f"ConnectionErrorReport(code={self.code}, message={self.message!r}, context={self.context!r}, "
                f"url={self.url!r})")


class TLSErrorReport:
    """A client whose TLS handshake did not complete (Node's ``tlsClientError``); its connection was closed and
    nothing else disturbed: ``kind`` ("failed": not TLS, a refused protocol, garbage, or the client rejected the
    certificate; "timeout": not complete within ``tls_handshake_timeout``; "closed": the client left during the
    handshake), ``reason`` (OpenSSL's, e.g. "wrong version number", "http request", "tlsv1 alert unknown ca"),
    ``address`` (the client's)."""

    __slots__ = ("kind", "reason", "address")

    def __init__(self, kind: str, reason: str, address: str) -> None:
        self.kind = kind
        self.reason = reason
        self.address = address

    def __repr__(self) -> str:
        return f"TLSErrorReport(kind={self.kind!r}, reason={self.reason!r}, address={self.address!r})"


def _pem_or_path(value: Any, name: str) -> tuple[bool, str]:
    """(is_pem, text): bytes (or a str starting with "-----BEGIN") are PEM text, a str or os.PathLike a file."""
    if isinstance(value, (bytes, bytearray)):
        return True, bytes(value).decode("ascii")
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return True, value
    if isinstance(value, (str, os.PathLike)):
        return False, os.fspath(value)
    raise InvalidArgumentError(_lib.EINVAL, f"option {name}: a file path (str, os.PathLike) or PEM bytes")


def _apply_tls_options(options: int, tls: Mapping[str, Any]) -> None:
    """The TLS keys of `tls` (tls_cert, tls_key, tls_key_password, tls_handshake_timeout, tls_sni) onto a
    sio_options_t."""
    def check(code: int, name: str, value: Any) -> None:
        if code != 0:
            raise InvalidArgumentError(code, f"option {name}={value!r}")

    cert, key = tls.get("tls_cert"), tls.get("tls_key")
    if (cert is None) != (key is None):
        raise InvalidArgumentError(_lib.EINVAL, "tls_cert and tls_key go together")
    if cert is not None:
        for value, name, file_key, pem_key in ((cert, "tls_cert", _lib.OPT_TLS_CERT_FILE, _lib.OPT_TLS_CERT_PEM),
                                                (key, "tls_key", _lib.OPT_TLS_KEY_FILE, _lib.OPT_TLS_KEY_PEM)):
            is_pem, text = _pem_or_path(value, name)
            check(lib.sio_options_set_string(options, pem_key if is_pem else file_key, _lib.c_str(text)), name,
                  "<PEM>" if is_pem else text)
    password = tls.get("tls_key_password")
    if password is not None:
        check(lib.sio_options_set_string(options, _lib.OPT_TLS_KEY_PASSWORD, _lib.c_str(password)),
              "tls_key_password", "***")
    timeout = tls.get("tls_handshake_timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise InvalidArgumentError(_lib.EINVAL, f"option tls_handshake_timeout={timeout!r}")
        check(lib.sio_options_set_uint(options, _lib.OPT_TLS_HANDSHAKE_TIMEOUT, int(round(timeout * 1000))),
              "tls_handshake_timeout", timeout)
    for entry in tls.get("tls_sni") or ():
        if not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
            raise InvalidArgumentError(_lib.EINVAL, f"tls_sni entry {entry!r}: (cert_file, key_file[, password])")
        sni_cert, sni_key = os.fspath(entry[0]), os.fspath(entry[1])
        sni_password = _lib.c_str(entry[2]) if len(entry) == 3 and entry[2] is not None else None
        check(lib.sio_options_add_tls_certificate(options, _lib.c_str(sni_cert), _lib.c_str(sni_key), sni_password),
              "tls_sni", entry)


# ------------------------------------------------------------------------------------------------------------------
# Socket


class Socket:
    """One client in one namespace. Handed to handlers; safe to keep and to use from any thread.

    ``id`` (also the name of its own room), ``namespace``, ``handshake``, ``data`` (a dict of your own) and
    ``connected`` may be read from any thread.
    """

    def __init__(self, server: "Server", namespace: "Namespace", handle: int) -> None:
        self.server = server
        self.namespace = namespace
        self._handle = handle
        self.id: str = _text(lib.sio_socket_id(handle))
        length = ctypes.c_size_t(0)
        pointer = lib.sio_socket_auth(handle, ctypes.byref(length))
        auth: Any = {}
        if pointer and length.value:
            try:
                auth = json.loads(ctypes.string_at(pointer, length.value))
            except ValueError:
                log.warning("sio: undecodable auth payload from socket %s", self.id)
        self.handshake = Handshake(self, auth, _text(lib.sio_socket_address(handle)))
        self.data: dict[str, Any] = {}
        self.connected = False
        self._handlers: dict[str, Callable[..., Any]] = {}
        # Made in a callback about this socket, so on its loop thread: remember which loop that thread runs.
        self._loop_index = max(lib.sio_socket_loop_index(handle), 0)
        server._loop_threads[threading.get_ident()] = self._loop_index

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<sio.Socket {self.id} {self.namespace.name} {state}>"

    @property
    def loop_index(self) -> int:
        """The index of the loop serving this socket, 0 .. ``server.loop_count - 1`` (always 0 with one loop). A
        connection stays on its loop for life; its handlers run on that loop's thread."""
        return self._loop_index

    # -- threads ----------------------------------------------------------------------------------------------

    def _on_loop(self, work: Callable[[], Any], *, wait: bool,
                 future: concurrent.futures.Future[Any] | None = None) -> Any:
        """Runs `work` where this socket's [LOOP] functions may be called: here on the socket's own loop thread,
        else posted to that loop (``sio_socket_post``). With `wait`, blocks for its result. ClosedError when the
        socket has left or the server does not run; `future` (if given) fails too if the posted work is dropped."""
        server = self.server
        with server._api():
            here = lib.sio_socket_in_loop(self._handle)
        if here:
            return work()
        if server._state != "running":
            raise ClosedError(_lib.ECLOSED, "the server is not running")
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()
        server._post_to_socket(self, _runner(work, result, wait),
                               dependants=[result] + ([future] if future is not None else []))
        if not wait:
            return None
        return server._wait(result)

    # -- reading ----------------------------------------------------------------------------------------------

    def _lookup(self, kind: str, name: str) -> str | None:
        key = _lib.c_str(name)

        def read() -> str | None:
            if kind == "header":
                value = lib.sio_socket_header(self._handle, key)
            else:
                value = lib.sio_socket_query(self._handle, key)
            return None if value is None else _text(value)

        try:
            return self._on_loop(read, wait=True)  # type: ignore[no-any-return]
        except ClosedError:
            return None

    @property
    def transport(self) -> str | None:
        """``"polling"`` or ``"websocket"``: what the connection uses now (the reference's
        ``socket.conn.transport.name``); None once the socket has left."""

        def read() -> str | None:
            name = lib.sio_socket_transport(self._handle)
            return name.decode() if name else None

        try:
            return self._on_loop(read, wait=True)  # type: ignore[no-any-return]
        except ClosedError:
            return None

    @property
    def rooms(self) -> set[str]:
        """The rooms the socket is in, its own ``id`` room included (empty once it has left)."""

        def read() -> set[str]:
            out = ctypes.c_void_p()
            code = lib.sio_socket_rooms(self._handle, ctypes.byref(out))
            if code == _lib.ECLOSED:
                return set()
            _check(code, "sio_socket_rooms")
            try:
                return set(json.loads(ctypes.string_at(out.value))) if out.value else set()
            finally:
                lib.sio_free(out)

        try:
            return self._on_loop(read, wait=True)  # type: ignore[no-any-return]
        except ClosedError:
            return set()

    # -- handlers ---------------------------------------------------------------------------------------------

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F) -> F: ...

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Handles `event` for this socket only: ``handler(*args)`` (no socket argument: it is bound), before the
        namespace's handler of the same name. ``"disconnect"`` / ``"disconnecting"`` get ``(reason)``; ``"*"``
        gets ``(event, *args)`` for events without a handler. Usable as a decorator."""

        def register(function: F) -> F:
            self._handlers[event] = function
            return function

        return register if handler is None else register(handler)

    # -- rooms -------------------------------------------------------------------------------------------------

    def join(self, room: Rooms) -> None:
        """Joins one room or several (from another thread: queued to the loop)."""
        self._each_room(room, lib.sio_socket_join, "sio_socket_join")

    enter_room = join

    def leave(self, room: Rooms) -> None:
        """Leaves one room or several (from another thread: queued to the loop)."""
        self._each_room(room, lib.sio_socket_leave, "sio_socket_leave")

    def _each_room(self, room: Rooms, function: Callable[[Any, bytes], int], what: str) -> None:
        names = [_lib.c_str(name) for name in _room_names(room)]

        def apply() -> None:
            for name in names:
                code = function(self._handle, name)
                if code not in (0, _lib.ECLOSED):  # a socket gone meanwhile is not an error here
                    _check(code, what)

        try:
            self._on_loop(apply, wait=False)
        except ClosedError:
            if self.server._state != "running":
                raise
            # The socket has left (sio_socket_post refused it): nothing to join or leave.

    leave_room = leave

    # -- emitting ----------------------------------------------------------------------------------------------

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None,
             timeout: float | None = None) -> None:
        """Sends `event` with `args` (JSON values; ``bytes`` anywhere become binary attachments) to this client.

        With `callback`, asks for an acknowledgement: ``callback(*reply)`` runs on the socket's loop thread when the
        client answers (within `timeout` seconds if given; `timeout` is ignored without a callback). If it never
        does (timeout, disconnect) the callback is not called; use :meth:`emit_with_ack` to see those failures.
        Emitting to a socket that has left does nothing.
        """
        if callback is not None:
            self.emit_with_ack(event, *args, timeout=timeout, callback=callback)
            return
        name = _event_name(event)
        payload, attachments = _codec.encode(args)
        array, count, keep = _lib.buffers(attachments)
        with self.server._api():
            code = lib.sio_socket_emit(self._handle, name, payload, len(payload), array, count)
        del keep
        if code == _lib.ECLOSED:
            log.debug("sio: emit %r to %s dropped: the socket has left", event, self.id)
            return
        _check(code, f"emit {event!r}")

    def send(self, *args: Any, callback: Callable[..., Any] | None = None, timeout: float | None = None) -> None:
        """``emit("message", *args)``."""
        self.emit("message", *args, callback=callback, timeout=timeout)

    def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None,
                      callback: Callable[..., Any] | None = None) -> Future[list[Any]]:
        """Sends `event` asking for an acknowledgement. Returns a future of the reply's argument list; it fails with
        :class:`AckTimeoutError` after `timeout` seconds (None: wait as long as the socket lives) and with
        :class:`ClosedError` if the socket leaves first. Callable from any thread; the future completes on the
        socket's loop thread (so do its done-callbacks)."""
        name = _event_name(event)
        payload, attachments = _codec.encode(args)
        milliseconds = _milliseconds(timeout, "timeout")
        waiter = _AckWaiter(self.server, callback, spread=True, what=f"{event!r} to {self.id}")

        def emit() -> None:
            key = next(_keys)
            _waiters[key] = waiter
            array, count, keep = _lib.buffers(attachments)
            code = lib.sio_socket_emit_with_ack(self._handle, name, payload, len(payload), array, count,
                                                milliseconds, _ACK_CALLBACK, key)
            del keep
            if code != 0:
                _waiters.pop(key, None)
                waiter.fail(SIOError.from_code(code, f"emit {event!r}"))

        try:
            self._on_loop(emit, wait=False, future=waiter.future)
        except SIOError as error:
            waiter.fail(error)
        return waiter.future

    def call(self, event: str, *args: Any, timeout: float = 60) -> Any:
        """Emits `event` and blocks until the client acknowledges it; returns the reply (None for no value, the
        value for one, a tuple for several). Raises :class:`AckTimeoutError` or :class:`ClosedError`. Not on the
        server's loop threads (it would block a loop that may have to deliver the reply): use
        ``emit(callback=...)`` there.
        """
        if self.server._in_loop():
            raise RuntimeError("Socket.call() would block the loop thread; use emit(..., callback=...) there")
        future = self.emit_with_ack(event, *args, timeout=timeout)
        try:
            return _unwrap(future.result(timeout + 5.0))
        except concurrent.futures.TimeoutError:
            raise AckTimeoutError(_lib.ETIMEOUT, f"{event!r}: no reply") from None

    # -- broadcasting from this socket -------------------------------------------------------------------------

    def to(self, room: Rooms) -> "BroadcastOperator":
        """Broadcast to `room` excluding this socket (like ``socket.to(room).emit`` in Node)."""
        return BroadcastOperator(self.namespace, rooms=_room_names(room), excepts=[self.id])

    in_ = to

    @property
    def broadcast(self) -> "BroadcastOperator":
        """Broadcast to every socket of the namespace except this one."""
        return BroadcastOperator(self.namespace, excepts=[self.id])

    # -- leaving -----------------------------------------------------------------------------------------------

    def disconnect(self, close: bool = False) -> None:
        """Disconnects the socket from its namespace (the client gets a DISCONNECT); with `close`, closes its whole
        connection. Does nothing if it already left."""
        with self.server._api():
            code = lib.sio_socket_disconnect(self._handle, bool(close))
        if code != _lib.ECLOSED:
            _check(code, "sio_socket_disconnect")


# ------------------------------------------------------------------------------------------------------------------
# Broadcasting


class BroadcastOperator:
    """A target for broadcasts: sockets of a namespace in some rooms, except some. Immutable: each modifier returns
    a new operator. ``server.to("room").except_("other").emit("ev", 1)``."""

    __slots__ = ("namespace", "rooms", "excepts", "flags", "ack_timeout")

    def __init__(self, namespace: "Namespace", rooms: Iterable[str] = (), excepts: Iterable[str] = (),
                 flags: int = 0, ack_timeout: float | None = None) -> None:
        self.namespace = namespace
        self.rooms = tuple(rooms)
        self.excepts = tuple(excepts)
        self.flags = flags
        self.ack_timeout = ack_timeout

    def _copy(self, **changes: Any) -> "BroadcastOperator":
        return BroadcastOperator(self.namespace, rooms=changes.get("rooms", self.rooms),
                                 excepts=changes.get("excepts", self.excepts), flags=changes.get("flags", self.flags),
                                 ack_timeout=changes.get("ack_timeout", self.ack_timeout))

    def to(self, room: Rooms) -> "BroadcastOperator":
        """Adds rooms (a socket id is a room of its own)."""
        return self._copy(rooms=self.rooms + tuple(_room_names(room)))

    in_ = to

    def except_(self, room: Rooms) -> "BroadcastOperator":
        """Leaves out sockets in these rooms."""
        return self._copy(excepts=self.excepts + tuple(_room_names(room)))

    @property
    def volatile(self) -> "BroadcastOperator":
        """Dropped for recipients that cannot take it now."""
        return self._copy(flags=self.flags | _lib.BROADCAST_VOLATILE)

    @property
    def local(self) -> "BroadcastOperator":
        """This node only (with a cluster adapter)."""
        return self._copy(flags=self.flags | _lib.BROADCAST_LOCAL)

    def compress(self, compress: bool) -> "BroadcastOperator":
        flags = self.flags & ~_lib.BROADCAST_NO_COMPRESS if compress else self.flags | _lib.BROADCAST_NO_COMPRESS
        return self._copy(flags=flags)

    def timeout(self, seconds: float) -> "BroadcastOperator":
        """How long :meth:`emit_with_ack` waits for every acknowledgement (default 5 s)."""
        return self._copy(ack_timeout=seconds)

    def _rooms(self) -> tuple[Any, int, Any, int]:
        """The target and excepted rooms as C arrays and counts (the arrays keep their strings alive)."""
        to = [_lib.c_str(room) for room in self.rooms]
        excepts = [_lib.c_str(room) for room in self.excepts]
        return _lib.string_array(to), len(to), _lib.string_array(excepts), len(excepts)

    def emit(self, event: str, *args: Any, callback: Callable[[list[list[Any]]], Any] | None = None) -> None:
        """Sends `event` to every targeted socket (encoded once for all). With `callback`, asks each for an
        acknowledgement and calls ``callback(replies)`` (a list of argument lists) on the loop thread once all
        answered; on timeout it is not called (see :meth:`emit_with_ack`)."""
        if callback is not None:
            self.emit_with_ack(event, *args, callback=callback)
            return
        name = _event_name(event)
        payload, attachments = _codec.encode(args)
        array, count, keep = _lib.buffers(attachments)
        server = self.namespace.server
        with server._api():
            code = lib.sio_namespace_broadcast(self.namespace._handle, *self._rooms(), self.flags, name, payload,
                                               len(payload), array, count)
        del keep
        _check(code, f"broadcast {event!r}")

    def send(self, *args: Any, callback: Callable[[list[list[Any]]], Any] | None = None) -> None:
        """``emit("message", *args)``."""
        self.emit("message", *args, callback=callback)

    def emit_with_ack(self, event: str, *args: Any,
                      callback: Callable[[list[list[Any]]], Any] | None = None
                      ) -> Future[list[list[Any]]]:
        """Broadcasts asking every recipient for an acknowledgement. The future gets the list of replies (each a
        list of arguments) once all answered, or fails with :class:`AckTimeoutError` whose ``replies`` holds those
        received in time."""
        name = _event_name(event)
        payload, attachments = _codec.encode(args)
        rooms = self._rooms()
        milliseconds = _milliseconds(5.0 if self.ack_timeout is None else self.ack_timeout, "timeout")
        server = self.namespace.server
        waiter = _AckWaiter(server, callback, spread=False, what=f"broadcast {event!r}")

        def emit() -> None:
            key = next(_keys)
            _waiters[key] = waiter
            array, count, keep = _lib.buffers(attachments)
            code = lib.sio_namespace_broadcast_with_ack(
                self.namespace._handle, *rooms, self.flags, name, payload, len(payload), array, count, milliseconds,
                _BROADCAST_ACK_CALLBACK, key)
            del keep
            if code != 0:
                _waiters.pop(key, None)
                waiter.fail(SIOError.from_code(code, f"broadcast {event!r}"))

        try:
            server._on_loop(emit, wait=False, future=waiter.future)
        except SIOError as error:
            waiter.fail(error)
        return waiter.future

    # -- operations on the sockets reached (the reference's socketsJoin, socketsLeave, disconnectSockets,
    #    fetchSockets): across every node with the Redis adapter, this one only with `local`; any thread

    def _selection(self) -> tuple[Any, ...]:
        """The rooms, and the one flag operations take (``local``)."""
        return (*self._rooms(), self.flags & _lib.BROADCAST_LOCAL)

    def _change_rooms(self, function: Callable[..., int], room: Rooms, what: str) -> None:
        names = [_lib.c_str(name) for name in _room_names(room)]
        with self.namespace.server._api():
            code = function(self.namespace._handle, *self._selection(), _lib.string_array(names), len(names))
        _check(code, what)

    def sockets_join(self, room: Rooms) -> None:
        """The sockets reached join `room` (a name or several)."""
        self._change_rooms(lib.sio_namespace_sockets_join, room, "sockets_join")

    def sockets_leave(self, room: Rooms) -> None:
        """The sockets reached leave `room` (a name or several)."""
        self._change_rooms(lib.sio_namespace_sockets_leave, room, "sockets_leave")

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnects the sockets reached from the namespace; with `close`, their whole connections."""
        with self.namespace.server._api():
            code = lib.sio_namespace_disconnect_sockets(self.namespace._handle, *self._selection(), bool(close))
        _check(code, "disconnect_sockets")

    def fetch_sockets(self) -> Future[list[dict[str, Any]]]:
        """The sockets reached, as the reference describes them: dicts with ``id``, ``handshake``, ``rooms`` (own id
        first) and ``data``. A future (other nodes answer through Redis); on the loop thread, do not wait on it."""
        future: Future[list[dict[str, Any]]] = Future()
        key = next(_keys)
        _fetches[key] = future
        with self.namespace.server._api():
            code = lib.sio_namespace_fetch_sockets(self.namespace._handle, *self._selection(), _FETCH_SOCKETS_CALLBACK,
                                                   key)
        if code != 0:
            _fetches.pop(key, None)
            future.set_exception(SIOError.from_code(code, "fetch_sockets"))
        return future


# ------------------------------------------------------------------------------------------------------------------
# Middleware continuation


class Next:
    """Given to a ``deferred`` middleware: call exactly once, from any thread. ``next()`` lets the socket through
    (to the next middleware), ``next(ConnectionRefused(message, data))`` or ``next.refuse(message, data)`` refuses
    it."""

    __slots__ = ("_namespace", "_socket", "_handle", "_index", "_used")

    def __init__(self, namespace: "Namespace", socket: Socket, handle: int, index: int) -> None:
        self._namespace = namespace
        self._socket = socket
        self._handle = handle
        self._index = index
        self._used = False

    def __call__(self, error: BaseException | None = None) -> None:
        if self._used:
            raise StateError(_lib.ESTATE, "next() called twice")
        self._used = True
        namespace, socket, handle, index = self._namespace, self._socket, self._handle, self._index
        if error is not None:
            namespace._decide(socket, handle, error)
            return
        try:
            namespace._resume_middlewares(socket, handle, index)
        except ClosedError:
            if namespace.server._state != "running":
                raise
            # The client left while a middleware was deciding: let libsio release the continuation.
            namespace.server._sockets.pop(socket._handle, None)
            lib.sio_next(handle, b"the client left", None)

    def refuse(self, message: str = "Connection refused", data: Any = None) -> None:
        self(ConnectionRefused(message, data))


# ------------------------------------------------------------------------------------------------------------------
# Namespace


class Namespace:
    """A namespace (``server.of("/chat")``): its handlers, middlewares, sockets and broadcasts."""

    def __init__(self, server: "Server", name: str, handle: int) -> None:
        self.server = server
        self.name = name
        self._handle = handle
        self._key = next(_keys)
        _objects[self._key] = self
        self._connect_handlers: list[Callable[..., Any]] = []
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._middlewares: list[tuple[Callable[..., Any], bool]] = []
        self._middleware_registered = False
        self._room_event_handlers: list[Callable[[str, str, str | None], Any]] = []
        self._server_side_handlers: dict[str, list[Callable[..., Any]]] = {}
        self._sockets: dict[str, Socket] = {}

    def __repr__(self) -> str:
        return f"<sio.Namespace {self.name}>"

    # -- handlers ---------------------------------------------------------------------------------------------

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F) -> F: ...

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Registers a handler (usable as a decorator).

        * ``"connect"`` / ``"connection"``: ``handler(socket)`` when a socket joined (several allowed);
        * ``"disconnecting"`` / ``"disconnect"``: ``handler(socket, reason)``, while still in its rooms / after;
        * ``"*"``: ``handler(socket, event, *args)`` for events that have no handler of their own;
        * any other name: ``handler(socket, *args)``; its return value is the acknowledgement when the client asked
          for one (a tuple is several arguments, None none; a :class:`concurrent.futures.Future` defers it until it
          completes). A handler that raises is logged and sends no acknowledgement.
        """

        def register(function: F) -> F:
            if event in CONNECT_EVENTS:
                self._connect_handlers.append(function)
            else:
                self._handlers[event] = function
            return function

        return register if handler is None else register(handler)

    @overload
    def event(self, name_or_handler: F) -> F: ...

    @overload
    def event(self, name_or_handler: str) -> Callable[[F], F]: ...

    def event(self, name_or_handler: Any) -> Any:
        """``@ns.event`` registers a handler named after the function; ``@ns.event("chat message")`` names it."""
        if callable(name_or_handler):
            return self.on(name_or_handler.__name__, name_or_handler)
        return self.on(name_or_handler)

    def on_connection(self, handler: F) -> F:
        return self.on("connection", handler)

    def on_room_event(self, handler: F) -> F:
        """``handler(event, room, sid)`` for every room change of this namespace on this server, with the
        reference adapter's event names: ``"create-room"`` and ``"delete-room"`` (``sid`` None), ``"join-room"`` and
        ``"leave-room"``. Each socket's own room (named by its sid) is reported too, as in the reference: filter with
        ``room != sid``. Runs on the loop thread; usable as a decorator; several allowed. With several loops each
        loop reports the changes of its own sockets, on its thread (a room is created and deleted once per loop it
        has members on)."""

        def add() -> None:
            if not self._room_event_handlers:
                _check(lib.sio_namespace_on_room_event(self._handle, _ROOM_EVENT_CALLBACK, self._key),
                       "sio_namespace_on_room_event")
            self._room_event_handlers.append(handler)

        self.server._on_loop(add, wait=True)
        return handler

    # -- between the servers of a cluster (Redis adapter) ---------------------------------------------------------

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Sends `event` to every other server of the cluster (the reference's ``serverSideEmit``), not to clients.
        JSON arguments only (no bytes). Needs a Redis adapter (``redis_url`` or ``redis_streams_url``): :class:`StateError` otherwise."""
        name, payload = _server_side_payload(event, args)
        with self.server._api():
            code = lib.sio_namespace_server_side_emit(self._handle, name, payload, len(payload))
        _check(code, f"server_side_emit {event!r}")

    def server_side_emit_with_ack(self, event: str, *args: Any,
                                  timeout: float = 5.0) -> Future[list[Any]]:
        """Like :meth:`server_side_emit`, asking every other server for an answer (the reference's
        ``serverSideEmitWithAck``): the future gets the list of answers, or fails with :class:`AckTimeoutError`
        (``replies``: those received in time)."""
        name, payload = _server_side_payload(event, args)
        milliseconds = _milliseconds(timeout, "timeout")
        future: Future[list[Any]] = Future()

        def emit() -> None:
            key = next(_keys)
            _server_side_waiters[key] = future
            code = lib.sio_namespace_server_side_emit_with_ack(self._handle, name, payload, len(payload), milliseconds,
                                                               _SERVER_SIDE_ACK_CALLBACK, key)
            if code != 0:
                _server_side_waiters.pop(key, None)
                future.set_exception(SIOError.from_code(code, f"server_side_emit {event!r}"))

        self.server._on_loop(emit, wait=False, future=future)
        return future

    def on_server_side_event(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """``handler(*args)`` for `event` sent by another server with :meth:`server_side_emit` (usable as a
        decorator); when the sender waits for an answer, the handler's return value is it (one JSON value; None
        answers without a value). Runs on the loop thread. Needs a Redis adapter."""

        def register(function: F) -> F:
            def add() -> None:
                if event not in self._server_side_handlers:
                    _check(lib.sio_namespace_on_server_side_emit(self._handle, _event_name(event),
                                                                _SERVER_SIDE_EVENT_CALLBACK, self._key),
                           "sio_namespace_on_server_side_emit")
                    self._server_side_handlers[event] = []
                self._server_side_handlers[event].append(function)

            self.server._on_loop(add, wait=True)
            return function

        return register if handler is None else register(handler)

    def _server_side_event(self, event: str, args: list[Any], ack: int | None) -> None:
        for handler in list(self._server_side_handlers.get(event, ())):
            ok, value = self.server._call(f"server-side handler for {event!r} of {self.name}", handler, *args)
            if ack and ok and self._answer_server_side(ack, value, event):
                ack = None  # the first handler answers

    @staticmethod
    def _answer_server_side(ack: int, value: Any, event: str) -> bool:
        """Sends `value` as the answer to another server (on the first loop). False when it is not JSON."""
        try:
            text = b"" if value is None else json.dumps(value, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            log.exception("sio: the answer of the server-side handler for %r is not JSON", event)
            return False
        _check(lib.sio_server_ack_send(ack, text or None, len(text)), "sio_server_ack_send")
        return True

    def _room_event(self, kind: int, room: str, sid: str | None) -> None:
        name = _ROOM_EVENT_NAMES.get(kind)
        if name is None:
            return
        for handler in list(self._room_event_handlers):
            self.server._invoke(f"room event handler of {self.name}", handler, name, room, sid)

    def on_disconnect(self, handler: F) -> F:
        return self.on("disconnect", handler)

    @overload
    def use(self, middleware: F, *, deferred: bool = False) -> F: ...

    @overload
    def use(self, middleware: None = None, *, deferred: bool = False) -> Callable[[F], F]: ...

    def use(self, middleware: Callable[..., Any] | None = None, *, deferred: bool = False) -> Any:
        """Adds a middleware run before a socket may join (usable as ``@ns.use`` or ``@ns.use(deferred=True)``).

        ``middleware(socket)`` returns to let it through or raises :class:`ConnectionRefused` (``message``, ``data``)
        to refuse it; any other exception is logged and refuses it with ``"server error"``. With ``deferred=True``
        it is ``middleware(socket, next)`` and decides later by calling ``next`` (see :class:`Next`) from any
        thread. The socket is not connected yet: read its handshake, fill ``socket.data``.
        """

        def register(function: F) -> F:
            def add() -> None:
                if not self._middleware_registered:
                    _check(lib.sio_namespace_use(self._handle, _MIDDLEWARE_CALLBACK, self._key), "sio_namespace_use")
                    self._middleware_registered = True
                self._middlewares.append((function, deferred))

            self.server._on_loop(add, wait=True)
            return function

        return register if middleware is None else register(middleware)

    # -- sockets and broadcasts -------------------------------------------------------------------------------

    @property
    def sockets(self) -> dict[str, Socket]:
        """The connected sockets by id (a copy)."""
        return dict(self._sockets)

    def get_socket(self, sid: str) -> Socket | None:
        return self._sockets.get(sid)

    @property
    def _all(self) -> BroadcastOperator:
        return BroadcastOperator(self)

    def to(self, room: Rooms) -> BroadcastOperator:
        return self._all.to(room)

    in_ = to

    def except_(self, room: Rooms) -> BroadcastOperator:
        return self._all.except_(room)

    @property
    def volatile(self) -> BroadcastOperator:
        return self._all.volatile

    @property
    def local(self) -> BroadcastOperator:
        return self._all.local

    def compress(self, compress: bool) -> BroadcastOperator:
        return self._all.compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self._all.timeout(seconds)

    def fetch_sockets(self) -> Future[list[dict[str, Any]]]:
        """Every socket of the namespace; see :meth:`BroadcastOperator.fetch_sockets`."""
        return self._all.fetch_sockets()

    def sockets_join(self, room: Rooms) -> None:
        self._all.sockets_join(room)

    def sockets_leave(self, room: Rooms) -> None:
        self._all.sockets_leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        self._all.disconnect_sockets(close)

    def emit(self, event: str, *args: Any, to: Rooms = None, skip: Rooms = None,
             callback: Callable[[list[list[Any]]], Any] | None = None) -> None:
        """Broadcasts `event` to the namespace (or to the rooms `to`, except `skip`); see
        :meth:`BroadcastOperator.emit`."""
        self._all.to(to).except_(skip).emit(event, *args, callback=callback)

    def send(self, *args: Any, to: Rooms = None, skip: Rooms = None) -> None:
        self.emit("message", *args, to=to, skip=skip)

    # -- from C (loop thread) -----------------------------------------------------------------------------------

    def _middleware(self, handle: int, next_handle: int) -> None:
        socket = self.server._sockets.get(handle)
        if socket is None:
            socket = self.server._socket_class(self.server, self, handle)
            self.server._sockets[handle] = socket
        self._run_middlewares(socket, next_handle, 0)

    def _resume_middlewares(self, socket: Socket, next_handle: int, index: int) -> None:
        """A deferred middleware called ``next()`` (any thread): the chain goes on at `index`."""
        socket._on_loop(lambda: self._run_middlewares(socket, next_handle, index), wait=False)

    def _run_middlewares(self, socket: Socket, next_handle: int, index: int) -> None:
        middlewares = self._middlewares
        while index < len(middlewares):
            function, deferred = middlewares[index]
            index += 1
            try:
                if deferred:
                    function(socket, Next(self, socket, next_handle, index))
                    return
                function(socket)
            except BaseException as error:  # noqa: BLE001 - refused below
                self._decide(socket, next_handle, error)
                return
        self._decide(socket, next_handle, None)

    def _decide(self, socket: Socket, next_handle: int, error: BaseException | None) -> None:
        message: bytes | None = None
        data: bytes | None = None
        if error is not None:
            if isinstance(error, ConnectionRefused):
                message = _lib.c_str(str(error.message))
                if error.data is not None:
                    try:
                        data = json.dumps(error.data, separators=(",", ":"), ensure_ascii=False).encode()
                    except (TypeError, ValueError):
                        log.exception("sio: the data of ConnectionRefused is not JSON; refusing without it")
            else:
                log.error("sio: middleware of %s raised; refusing %s", self.name, socket.id,
                          exc_info=(type(error), error, error.__traceback__))
                message = b"server error"
            self.server._sockets.pop(socket._handle, None)
        code = lib.sio_next(next_handle, message, data)
        if code != 0:
            log.error("sio: sio_next failed for %s: %s", socket.id, SIOError.from_code(code))

    def _connected(self, handle: int) -> None:
        socket = self._attach(handle)
        for handler in list(self._connect_handlers):
            self.server._invoke(f"connection handler of {self.name}", handler, socket)

    def _attach(self, handle: int) -> Socket:
        """On the socket's loop thread, once it joined: its Socket, connected, with libsio's callbacks set."""
        server = self.server
        socket = server._sockets.get(handle)
        if socket is None:
            socket = server._socket_class(server, self, handle)
            server._sockets[handle] = socket
        socket.connected = True
        self._sockets[socket.id] = socket
        _check(lib.sio_socket_on_any(handle, _EVENT_CALLBACK, server._key), "sio_socket_on_any")
        _check(lib.sio_socket_on_disconnecting(handle, _DISCONNECTING_CALLBACK, server._key),
               "sio_socket_on_disconnecting")
        _check(lib.sio_socket_on_disconnect(handle, _DISCONNECT_CALLBACK, server._key), "sio_socket_on_disconnect")
        return socket


# ------------------------------------------------------------------------------------------------------------------
# Server

_UINT_OPTIONS = {
    "ping_interval": (_lib.OPT_PING_INTERVAL, 1000),
    "ping_timeout": (_lib.OPT_PING_TIMEOUT, 1000),
    "upgrade_timeout": (_lib.OPT_UPGRADE_TIMEOUT, 1000),
    "connect_timeout": (_lib.OPT_CONNECT_TIMEOUT, 1000),
    "max_http_buffer_size": (_lib.OPT_MAX_HTTP_BUFFER_SIZE, 1),
    "max_attachments": (_lib.OPT_MAX_ATTACHMENTS, 1),
    "max_buffered_bytes": (_lib.OPT_MAX_BUFFERED_BYTES, 1),
    "redis_requests_timeout": (_lib.OPT_REDIS_REQUESTS_TIMEOUT, 1000),
    "redis_streams_count": (_lib.OPT_REDIS_STREAMS_COUNT, 1),
    "redis_streams_maxlen": (_lib.OPT_REDIS_STREAMS_MAXLEN, 1),
    "redis_streams_heartbeat_interval": (_lib.OPT_REDIS_STREAMS_HEARTBEAT_INTERVAL, 1000),
    "redis_streams_heartbeat_timeout": (_lib.OPT_REDIS_STREAMS_HEARTBEAT_TIMEOUT, 1000),
}

_STRING_OPTIONS = {
    "redis_url": _lib.OPT_REDIS_URL,
    "redis_key": _lib.OPT_REDIS_KEY,
    "redis_streams_url": _lib.OPT_REDIS_STREAMS_URL,
    "redis_streams_name": _lib.OPT_REDIS_STREAMS_NAME,
    "redis_streams_session_prefix": _lib.OPT_REDIS_STREAMS_SESSION_PREFIX,
    "redis_sharded_url": _lib.OPT_REDIS_SHARDED_URL,
    "redis_sharded_mode": _lib.OPT_REDIS_SHARDED_MODE,
}


class Server:
    """A Socket.IO server (Engine.IO v4 / Socket.IO v5, any official client connects).

    Options (None keeps libsio's default; durations in seconds as in python-socketio):

    ``path`` ("/socket.io/"), ``ping_interval`` (25), ``ping_timeout`` (20), ``upgrade_timeout`` (10),
    ``max_http_buffer_size`` (1 000 000 bytes), ``transports`` (["polling", "websocket"]), ``allow_upgrades``
    (True), ``cors_allowed_origins`` (None = CORS off; "*" any origin; "reflect" echo the origin; or a list),
    ``cors_credentials`` (False), ``cookie`` (a cookie name; None = no cookie), ``http_compression`` (True) and
    ``compression_threshold`` (1024 bytes), ``connect_timeout`` (45), ``max_attachments`` (10 per packet),
    ``connection_state_recovery`` (False; True, or a dict with ``max_disconnection_duration`` (seconds, 120) and
    ``skip_middlewares`` (True)), ``max_buffered_bytes`` (16 MiB undelivered to a client that does not read,
    the kernel's share included),
    ``redis_url`` (None = this server alone; "redis://host:port" scales out over Redis, wire-compatible with Node's
    @socket.io/redis-adapter), ``redis_key`` ("socket.io"), ``redis_requests_timeout`` (5 seconds);
    or ``redis_streams_url`` ("redis://host:port": the Redis streams adapter, wire-compatible with Node's
    @socket.io/redis-streams-adapter: a node that loses Redis catches up from the stream, and with
    ``connection_state_recovery`` sessions are kept in Redis so clients recover on any server), with
    ``redis_streams_name`` ("socket.io"), ``redis_streams_count`` (1), ``redis_streams_maxlen`` (10 000 entries),
    ``redis_streams_session_prefix`` ("sio:session:"), ``redis_streams_heartbeat_interval`` (5 seconds) and
    ``redis_streams_heartbeat_timeout`` (10 seconds);
    or ``redis_sharded_url`` ("redis://host:port", Redis 7: the sharded pub/sub adapter, wire-compatible with Node's
    @socket.io/redis-adapter ``createShardedAdapter``, SSUBSCRIBE / SPUBLISH) with ``redis_sharded_mode``
    ("dynamic"; "static" or "dynamic-private"), ``redis_key`` as its channel prefix and ``redis_requests_timeout``.
    One Redis URL at most.
    ``allow_eio3`` (False; True also serves Engine.IO v3 / Socket.IO 2.x clients, JSONP polling included).
    ``metrics`` (False; True serves Prometheus metrics, text format 0.0.4, at ``metrics_path``, "/metrics", on the
    server's port: sessions by transport, sockets per namespace, connections and disconnections by reason, packets
    and bytes, broadcasts, drops, acks timed out, recoveries, handshake errors, per loop; docs/OBSERVABILITY.md).

    ``loops`` (None = libsio's default, 1; 0 = one per core; at most 64): event loops, one thread each, serving the
    server behind the same port; each connection lives on one of them for life (clients never notice: no sticky
    sessions). ``loop_balancing`` ("reuseport", the default: every loop listens with SO_REUSEPORT and the kernel
    picks; or "round-robin": the first loop accepts and hands connections out in turn, always so with
    :meth:`listen_fd`). :attr:`loop_count` tells how many loops there are, :attr:`Socket.loop_index` which one
    serves a socket.
    ``parser`` ("json", the reference's default; or "msgpack": socket.io-msgpack-parser, for clients made with
    ``serializer="msgpack"`` in python-socketio or the msgpack parser in JavaScript; one parser for all clients).

    HTTPS and WSS: ``tls_cert`` (the certificate chain, PEM: a file path, or the PEM itself as bytes; the server's
    certificate first, then the intermediates) and ``tls_key`` (its private key, likewise) make the server listen
    with TLS; ``tls_key_password`` (for an encrypted key; never prompted for), ``tls_handshake_timeout`` (10
    seconds), ``tls_sni`` (more certificates: a list of ``(cert_file, key_file)`` or ``(cert_file, key_file,
    password)``, each served to clients whose SNI host name it covers). Files are read when the server listens: a
    bad certificate or key makes :meth:`listen` (or :meth:`start`) raise :class:`ListenError` naming the file and
    OpenSSL's reason. TLS 1.2 and 1.3 only, the system's default ciphers, ALPN "http/1.1". :meth:`reload_tls`
    serves a renewed certificate without a restart; :meth:`on_tls_error` hears failed handshakes.

    With several loops, **handlers run on several threads at once**: each handler runs on the loop thread of the
    socket (or request) it is about, so handlers of sockets on different loops run concurrently, each holding the
    GIL in turn (a handler may be interrupted between two statements by one on another loop). Python state shared by
    handlers must be protected, e.g. with a :class:`threading.Lock`, when an update spans several statements (a
    read-modify-write of a dict entry, a check-then-act); per-socket state (``socket.data``) is only touched on its
    socket's loop. Every method still works from every thread: socket methods that must run on the socket's loop
    (``join``, ``rooms``, handshake lookups, ``emit(callback=...)``) are sent there when called elsewhere. Do not
    hold a lock of your own while reading ``rooms``, ``transport`` or the handshake of a socket of another loop: that
    loop may be waiting for the same lock.

    Use as a context manager, or call :meth:`close` when done.
    """

    #: The classes made for libsio's namespaces and sockets (:class:`AsyncServer` has its own).
    _namespace_class: type[Namespace] = Namespace
    _socket_class: type[Socket] = Socket

    def __init__(
        self,
        *,
        path: str | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        upgrade_timeout: float | None = None,
        max_http_buffer_size: int | None = None,
        transports: Iterable[str] | str | None = None,
        allow_upgrades: bool | None = None,
        cors_allowed_origins: str | Iterable[str] | None = None,
        cors_credentials: bool | None = None,
        cookie: str | None = None,
        http_compression: bool | None = None,
        compression_threshold: int | None = None,
        connect_timeout: float | None = None,
        max_attachments: int | None = None,
        connection_state_recovery: bool | Mapping[str, Any] | None = None,
        max_buffered_bytes: int | None = None,
        redis_url: str | None = None,
        redis_key: str | None = None,
        redis_requests_timeout: float | None = None,
        loops: int | None = None,
        loop_balancing: str | None = None,
        parser: str | None = None,
        allow_eio3: bool | None = None,
        tls_cert: str | os.PathLike[str] | bytes | None = None,
        tls_key: str | os.PathLike[str] | bytes | None = None,
        tls_key_password: str | None = None,
        tls_handshake_timeout: float | None = None,
        tls_sni: Iterable[tuple[Any, ...]] | None = None,
        redis_streams_url: str | None = None,
        redis_streams_name: str | None = None,
        redis_streams_count: int | None = None,
        redis_streams_maxlen: int | None = None,
        redis_streams_session_prefix: str | None = None,
        redis_streams_heartbeat_interval: float | None = None,
        redis_streams_heartbeat_timeout: float | None = None,
        redis_sharded_url: str | None = None,
        redis_sharded_mode: str | None = None,
        metrics: bool | None = None,
        metrics_path: str | None = None,
    ) -> None:
        self._handle: int | None = None
        self._key = next(_keys)
        self._api_lock = threading.RLock()
        self._state_lock = threading.RLock()
        self._state = "created"  # created -> running -> stopped -> closed
        self._thread: threading.Thread | None = None
        # Several loops: which loop each loop thread runs (learned as sockets appear on them), and per loop the
        # socket jobs other loop threads posted there, which that loop's thread runs itself while it waits.
        self._loop_threads: dict[int, int] = {}
        self._inboxes: dict[int, collections.deque[_SocketJob]] = {}
        self._cross = threading.Condition(threading.Lock())
        self._stopped = threading.Event()
        self._close_requested = False
        self._listening = False
        self._namespaces: dict[str, Namespace] = {}
        self._sockets: dict[int, Socket] = {}
        # Keys of the work posted to the loops and not run yet (under _state_lock). Once the loop has ended
        # (`_loop_ended`), nothing more is listed: what was is failed by _ended, what comes later is refused.
        self._pending_tasks: set[int] = set()
        self._loop_ended = False
        self._http_handler: Callable[[str, str], HTTPResponse] | None = None
        self._http_registered = False
        self._connection_error_handler: Callable[[ConnectionErrorReport], Any] | None = None
        self._connection_error_registered = False
        self._tls_error_handler: Callable[[TLSErrorReport], Any] | None = None
        self._tls: dict[str, Any] = {"tls_cert": tls_cert, "tls_key": tls_key, "tls_key_password": tls_key_password,
                                     "tls_handshake_timeout": tls_handshake_timeout,
                                     "tls_sni": list(tls_sni) if tls_sni is not None else None}

        options = lib.sio_options_new()
        if not options:
            raise MemoryError("sio_options_new")
        try:
            self._apply_options(options, locals())
            _apply_tls_options(options, self._tls)
            set_library_log_level(_lib_log.getEffectiveLevel())
            out = ctypes.c_void_p()
            _check(lib.sio_server_create(ctypes.byref(out), options), "sio_server_create")
            self._handle = out.value
        finally:
            lib.sio_options_free(options)
        _objects[self._key] = self
        _live_servers.add(self)
        self.of("/")

    @staticmethod
    def _apply_options(options: int, values: dict[str, Any]) -> None:
        def check(code: int, name: str, value: Any) -> None:
            if code != 0:
                raise InvalidArgumentError(code, f"option {name}={value!r}")

        def set_string(key: int, name: str, value: str) -> None:
            check(lib.sio_options_set_string(options, key, _lib.c_str(value)), name, value)

        def set_bool(key: int, name: str, value: bool) -> None:
            check(lib.sio_options_set_bool(options, key, bool(value)), name, value)

        def set_uint(key: int, name: str, value: float, scale: int) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidArgumentError(_lib.EINVAL, f"option {name}={value!r}")
            check(lib.sio_options_set_uint(options, key, int(round(value * scale))), name, value)

        if values["path"] is not None:
            set_string(_lib.OPT_PATH, "path", values["path"])
        for name, (key, scale) in _UINT_OPTIONS.items():
            if values[name] is not None:
                set_uint(key, name, values[name], scale)
        transports = values["transports"]
        if transports is not None:
            text = transports if isinstance(transports, str) else ",".join(transports)
            set_string(_lib.OPT_TRANSPORTS, "transports", text)
        if values["allow_upgrades"] is not None:
            set_bool(_lib.OPT_ALLOW_UPGRADES, "allow_upgrades", values["allow_upgrades"])
        if values["allow_eio3"] is not None:
            set_bool(_lib.OPT_ALLOW_EIO3, "allow_eio3", values["allow_eio3"])
        if values["metrics"] is not None:
            set_bool(_lib.OPT_METRICS, "metrics", values["metrics"])
        if values["metrics_path"] is not None:
            set_string(_lib.OPT_METRICS_PATH, "metrics_path", values["metrics_path"])
        origins = values["cors_allowed_origins"]
        if origins is not None:
            text = origins if isinstance(origins, str) else ",".join(origins)
            set_string(_lib.OPT_CORS_ORIGIN, "cors_allowed_origins", text)
        if values["cors_credentials"] is not None:
            set_bool(_lib.OPT_CORS_CREDENTIALS, "cors_credentials", values["cors_credentials"])
        if values["cookie"] is not None:
            set_string(_lib.OPT_COOKIE, "cookie", values["cookie"])
        for name, key in _STRING_OPTIONS.items():
            if values[name] is not None:
                set_string(key, name, values[name])
        loops = values["loops"]
        if loops is not None:
            if isinstance(loops, bool) or not isinstance(loops, int) or loops < 0:
                raise InvalidArgumentError(_lib.EINVAL, f"option loops={loops!r}")
            check(lib.sio_options_set_uint(options, _lib.OPT_LOOPS, loops), "loops", loops)
        if values["loop_balancing"] is not None:
            set_string(_lib.OPT_LOOP_BALANCING, "loop_balancing", values["loop_balancing"])
        if values["parser"] is not None:
            set_string(_lib.OPT_PARSER, "parser", values["parser"])
        if values["http_compression"] is False:
            set_uint(_lib.OPT_HTTP_COMPRESSION_THRESHOLD, "http_compression", 0, 1)
        elif values["compression_threshold"] is not None:
            if values["compression_threshold"] == 0:
                raise InvalidArgumentError(_lib.EINVAL, "compression_threshold=0 (use http_compression=False)")
            set_uint(_lib.OPT_HTTP_COMPRESSION_THRESHOLD, "compression_threshold", values["compression_threshold"], 1)
        recovery = values["connection_state_recovery"]
        if recovery is not None and recovery is not False:
            settings: Mapping[str, Any] = recovery if isinstance(recovery, Mapping) else {}
            unknown = set(settings) - {"max_disconnection_duration", "skip_middlewares"}
            if unknown:
                raise InvalidArgumentError(_lib.EINVAL, f"connection_state_recovery keys {sorted(unknown)}")
            if settings.get("max_disconnection_duration") is not None:
                set_uint(_lib.OPT_RECOVERY_MAX_DISCONNECTION, "max_disconnection_duration",
                         settings["max_disconnection_duration"], 1000)
            if settings.get("skip_middlewares") is not None:
                set_bool(_lib.OPT_RECOVERY_SKIP_MIDDLEWARES, "skip_middlewares", settings["skip_middlewares"])
            set_bool(_lib.OPT_RECOVERY, "connection_state_recovery", True)

    def __repr__(self) -> str:
        port = self.port if self._listening and self._handle is not None else None
        return f"<sio.Server {self._state} port={port}>"

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- threads ----------------------------------------------------------------------------------------------

    def _in_loop(self) -> bool:
        """True on one of the server's loop threads (any of them with several loops)."""
        with self._api_lock:
            handle = self._handle
            return handle is not None and bool(lib.sio_server_in_loop(handle))

    def _api(self) -> Any:
        """Held around direct C calls made off the loop thread, so that close() cannot free the server under them."""
        return _ApiGuard(self)

    def _on_loop(self, work: Callable[[], Any], *, wait: bool,
                 future: concurrent.futures.Future[Any] | None = None) -> Any:
        """Runs `work` where the server's and namespaces' [LOOP] functions may be called: here when on any of the
        server's loop threads or before the server started, else posted to the first loop. With `wait`, blocks for
        its result (never needed on a loop thread). `future` (if given) fails with ClosedError if the server drops
        the posted work. Socket work goes through :meth:`Socket._on_loop` instead (the socket's own loop)."""
        if self._in_loop():
            return work()
        with self._state_lock:
            if self._state == "created":
                if self._handle is None:
                    raise ClosedError(_lib.ECLOSED, "the server is closed")
                return work()
        if self._state != "running":
            raise ClosedError(_lib.ECLOSED, "the server is not running")
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._post(_runner(work, result, wait), dependants=[result] + ([future] if future is not None else []))
        if not wait:
            return None
        return result.result()

    def _post(self, work: Callable[[], None], dependants: list[concurrent.futures.Future[Any]] | None = None) -> None:
        key = next(_keys)

        def run() -> None:
            work()

        run.dependants = dependants or []  # type: ignore[attr-defined]
        self._list_task(key, run)
        try:
            with self._api():
                code = lib.sio_server_post(self._handle, _TASK_CALLBACK, key)
        except BaseException:
            self._unlist_task(key)
            raise
        if code != 0:
            self._unlist_task(key)
            raise SIOError.from_code(code, "sio_server_post")

    def _list_task(self, key: int, work: Callable[[], None]) -> None:
        """Lists posted work until it runs; refused once the loop has ended (_ended no longer looks). A key listed
        by a thread that then failed to post (a ClosedError from a server closed under it) was the flaky leftover
        of test_close_under_load_is_bounded: every failure path unlists."""
        with self._state_lock:
            if self._loop_ended:
                raise ClosedError(_lib.ECLOSED, "the server has stopped")
            _tasks[key] = (self, work)
            self._pending_tasks.add(key)

    def _unlist_task(self, key: int) -> None:
        with self._state_lock:
            _tasks.pop(key, None)
            self._pending_tasks.discard(key)

    def _post_to_socket(self, socket: "Socket", work: Callable[[], None],
                        dependants: list[concurrent.futures.Future[Any]]) -> None:
        """Posts `work` to `socket`'s loop (``sio_socket_post``). ClosedError when the socket has left or the server
        is stopping. From a loop thread, also lists it in the target loop's inbox (see :meth:`_wait`)."""
        job = _SocketJob(self, work, dependants)
        key = next(_keys)
        self._list_task(key, job)
        try:
            with self._api():
                code = lib.sio_socket_post(socket._handle, _SOCKET_TASK_CALLBACK, key)
        except BaseException:  # the server was closed meanwhile (ClosedError): nothing was posted
            self._unlist_task(key)
            raise
        if code != 0:
            self._unlist_task(key)
            raise SIOError.from_code(code, "sio_socket_post")
        if self._in_loop():
            # The target loop's thread may be blocked in _wait for work of this very loop: let it run this job
            # itself (in posting order with the other jobs listed there), so neither waits for the other forever.
            with self._cross:
                if not job.taken:
                    inbox = self._inboxes.get(socket.loop_index)
                    if inbox is None:
                        inbox = self._inboxes[socket.loop_index] = collections.deque()
                    inbox.append(job)
                    job.inbox = inbox
                    self._cross.notify_all()

    def _take(self, job: _SocketJob) -> bool:
        """Claims `job` for running (False if it already ran), taking it off its inbox."""
        with self._cross:
            if job.taken:
                return False
            job.taken = True
            inbox, job.inbox = job.inbox, None
            if inbox is not None:
                if inbox and inbox[0] is job:
                    inbox.popleft()
                else:
                    try:
                        inbox.remove(job)
                    except ValueError:
                        pass
            return True

    def _wake(self, _future: concurrent.futures.Future[Any]) -> None:
        with self._cross:
            self._cross.notify_all()

    def _wait(self, result: concurrent.futures.Future[Any]) -> Any:
        """Waits for posted socket work. On a loop thread, runs meanwhile the jobs other loop threads listed for
        this thread's loop: two loops waiting for each other's work (a handler on each reading the rooms of a socket
        on the other) cannot dead-lock."""
        index = self._loop_threads.get(threading.get_ident())
        if index is None or not self._in_loop():
            return result.result()
        result.add_done_callback(self._wake)
        while True:
            with self._cross:
                inbox = self._inboxes.get(index)
                while not result.done() and not inbox:
                    self._cross.wait()
                    inbox = self._inboxes.get(index)
                if result.done():
                    break
                assert inbox is not None
                job = inbox.popleft()
                job.inbox = None
                job.taken = True
            job.work()
        return result.result()

    def post(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        """Runs ``function(*args)`` on the (first) loop thread soon, at once when called on any of the server's loop
        threads. Returns its future. From any thread: the way to run several server operations together (socket
        operations belong to each socket's own loop, where they are sent anyway)."""
        future: Future[Any] = Future()

        def task() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(function(*args))
            except BaseException as error:  # noqa: BLE001
                future.set_exception(error)

        if self._in_loop():
            task()
        else:
            self._post(task, dependants=[future])
        return future

    def _call(self, what: str, function: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        """Runs an application function here and now: (True, its result), or (False, None) when it raised (logged)."""
        try:
            return True, function(*args)
        except Exception:  # noqa: BLE001 - an application error must not stop the server
            log.exception("sio: %s raised", what)
            return False, None

    def _invoke(self, what: str, function: Callable[..., Any], *args: Any) -> None:
        """Runs an application function whose result nobody needs (connection, disconnect, room event, ack
        callback ...): here and now. :class:`AsyncServer` runs it on the application's asyncio loop instead."""
        self._call(what, function, *args)

    # -- namespaces and handlers --------------------------------------------------------------------------------

    def of(self, name: str = "/") -> Namespace:
        """The namespace `name` (created on first use)."""
        if not name.startswith("/"):
            name = "/" + name
        existing = self._namespaces.get(name)
        if existing is not None:
            return existing
        encoded = _lib.c_str(name)

        def create() -> Namespace:
            known = self._namespaces.get(name)
            if known is not None:
                return known
            handle = lib.sio_server_of(self._handle, encoded)
            if not handle:
                raise InvalidArgumentError(_lib.EINVAL, f"namespace {name!r}")
            namespace = self._namespace_class(self, name, handle)
            _check(lib.sio_namespace_on_connection(handle, _CONNECTION_CALLBACK, namespace._key),
                   "sio_namespace_on_connection")
            self._namespaces[name] = namespace
            return namespace

        return self._on_loop(create, wait=True)  # type: ignore[no-any-return]

    @property
    def namespaces(self) -> dict[str, Namespace]:
        return dict(self._namespaces)

    @overload
    def on(self, event: str, handler: None = None, namespace: str | None = None) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F, namespace: str | None = None) -> F: ...

    def on(self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None) -> Any:
        """Registers a handler on `namespace` (default "/"); see :meth:`Namespace.on`. Usable as a decorator."""
        target = self.of(namespace or "/")
        return target.on(event) if handler is None else target.on(event, handler)

    @overload
    def event(self, name_or_handler: F, namespace: str | None = None) -> F: ...

    @overload
    def event(self, name_or_handler: str, namespace: str | None = None) -> Callable[[F], F]: ...

    def event(self, name_or_handler: Any, namespace: str | None = None) -> Any:
        """``@server.event`` (named after the function) or ``@server.event("chat message")``."""
        return self.of(namespace or "/").event(name_or_handler)

    def on_connection(self, handler: F) -> F:
        """``@server.on_connection``: ``handler(socket)`` for the main namespace."""
        return self.of("/").on_connection(handler)

    def on_disconnect(self, handler: F) -> F:
        return self.of("/").on_disconnect(handler)

    @overload
    def use(self, middleware: F, *, namespace: str | None = None, deferred: bool = False) -> F: ...

    @overload
    def use(self, middleware: None = None, *, namespace: str | None = None,
            deferred: bool = False) -> Callable[[F], F]: ...

    def use(self, middleware: Callable[..., Any] | None = None, *, namespace: str | None = None,
            deferred: bool = False) -> Any:
        """Adds a middleware to `namespace` (default "/"); see :meth:`Namespace.use`."""
        return self.of(namespace or "/").use(middleware, deferred=deferred)

    def on_http_request(self, handler: Callable[[str, str], HTTPResponse]) -> Callable[[str, str], HTTPResponse]:
        """``handler(method, path)`` answers plain HTTP requests outside the Socket.IO path (to serve a page):
        return ``(status, content_type, body)``, ``(status, body)`` or None (404). Runs on the loop thread."""

        def register() -> None:
            if not self._http_registered:
                _check(lib.sio_server_on_http_request(self._handle, _HTTP_CALLBACK, self._key),
                       "sio_server_on_http_request")
                self._http_registered = True

        self._http_handler = handler
        self._on_loop(register, wait=True)
        return handler

    def on_room_event(self, handler: F, *, namespace: str | None = None) -> F:
        """Room changes of `namespace` (default "/"); see :meth:`Namespace.on_room_event`."""
        return self.of(namespace or "/").on_room_event(handler)

    def on_connection_error(self, handler: Callable[[ConnectionErrorReport], Any]) -> Callable[[ConnectionErrorReport], Any]:
        """``handler(report)`` for every request the engine refuses with an Engine.IO error code (the reference's
        ``io.engine.on("connection_error")``): see :class:`ConnectionErrorReport`. The request was answered already.
        Runs on the loop thread; usable as a decorator."""

        def register() -> None:
            if not self._connection_error_registered:
                _check(lib.sio_server_on_connection_error(self._handle, _CONNECTION_ERROR_CALLBACK, self._key),
                       "sio_server_on_connection_error")
                self._connection_error_registered = True

        self._connection_error_handler = handler
        self._on_loop(register, wait=True)
        return handler

    def on_tls_error(self, handler: Callable[[TLSErrorReport], Any]) -> Callable[[TLSErrorReport], Any]:
        """``handler(report)`` for every client whose TLS handshake failed, timed out or was abandoned (after
        sending something: a bare port probe is not reported), see :class:`TLSErrorReport`. Runs on the loop thread
        of the connection (several at once with several loops); usable as a decorator."""
        with self._api():
            self._tls_error_handler = handler
            _check(lib.sio_server_on_tls_error(self._handle, _TLS_ERROR_CALLBACK, self._key), "sio_server_on_tls_error")
        return handler

    def reload_tls(self, tls_cert: str | os.PathLike[str] | bytes | None = None,
                   tls_key: str | os.PathLike[str] | bytes | None = None, tls_key_password: str | None = None,
                   tls_sni: Iterable[tuple[Any, ...]] | None = None) -> None:
        """Serves a renewed certificate without a restart: with no arguments, the files given as ``tls_cert`` and
        ``tls_key`` are read again; with ``tls_cert`` and ``tls_key``, those replace them (``tls_key_password`` and
        ``tls_sni`` likewise, else the current ones stay). New connections get the new certificate, open ones keep
        theirs. On error (:class:`InvalidArgumentError`, naming the file and OpenSSL's reason) the current
        certificate stays. Any thread; files are read on the calling thread."""
        replacing = tls_cert is not None or tls_key is not None
        with self._api():
            if not replacing and tls_key_password is None and tls_sni is None:
                _last_error.text = None
                code = lib.sio_server_reload_tls(self._handle, None)
            else:
                settings = dict(self._tls)
                if replacing:
                    settings["tls_cert"], settings["tls_key"] = tls_cert, tls_key
                if tls_key_password is not None:
                    settings["tls_key_password"] = tls_key_password
                if tls_sni is not None:
                    settings["tls_sni"] = list(tls_sni)
                options = lib.sio_options_new()
                if not options:
                    raise MemoryError("sio_options_new")
                try:
                    _apply_tls_options(options, settings)
                    _last_error.text = None
                    code = lib.sio_server_reload_tls(self._handle, options)
                finally:
                    lib.sio_options_free(options)
                if code == 0:
                    self._tls = settings
            if code < 0:
                reason = getattr(_last_error, "text", None)
                raise SIOError.from_code(code, f"reload_tls: {reason}" if reason else "reload_tls")

    # -- broadcasting (main namespace) -----------------------------------------------------------------------------

    def emit(self, event: str, *args: Any, to: Rooms = None, room: Rooms = None, skip_sid: Rooms = None,
             namespace: str | None = None, callback: Callable[[list[list[Any]]], Any] | None = None) -> None:
        """Broadcasts `event` to `namespace` (default "/"), to the rooms `to` (or `room`) if given, except the rooms
        (or socket ids) `skip_sid`. With `callback`, see :meth:`BroadcastOperator.emit`. Any thread."""
        targets = _room_names(to) + _room_names(room)
        self.of(namespace or "/").emit(event, *args, to=targets, skip=skip_sid, callback=callback)

    def send(self, *args: Any, to: Rooms = None, skip_sid: Rooms = None, namespace: str | None = None) -> None:
        self.emit("message", *args, to=to, skip_sid=skip_sid, namespace=namespace)

    def to(self, room: Rooms) -> BroadcastOperator:
        return self.of("/").to(room)

    in_ = to

    def except_(self, room: Rooms) -> BroadcastOperator:
        return self.of("/").except_(room)

    @property
    def volatile(self) -> BroadcastOperator:
        return self.of("/").volatile

    @property
    def local(self) -> BroadcastOperator:
        return self.of("/").local

    def compress(self, compress: bool) -> BroadcastOperator:
        return self.of("/").compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self.of("/").timeout(seconds)

    def get_socket(self, sid: str, namespace: str | None = None) -> Socket | None:
        return self.of(namespace or "/").get_socket(sid)

    def fetch_sockets(self, namespace: str | None = None) -> Future[list[dict[str, Any]]]:
        """Every socket of `namespace` (default "/") on every node; see :meth:`BroadcastOperator.fetch_sockets`.
        ``server.in_("room").fetch_sockets()`` narrows it."""
        return self.of(namespace or "/").fetch_sockets()

    def disconnect_sockets(self, close: bool = False, namespace: str | None = None) -> None:
        self.of(namespace or "/").disconnect_sockets(close)

    def server_side_emit(self, event: str, *args: Any, namespace: str | None = None) -> None:
        """See :meth:`Namespace.server_side_emit` (default namespace "/")."""
        self.of(namespace or "/").server_side_emit(event, *args)

    def server_side_emit_with_ack(self, event: str, *args: Any, timeout: float = 5.0,
                                  namespace: str | None = None) -> Future[list[Any]]:
        """See :meth:`Namespace.server_side_emit_with_ack` (default namespace "/")."""
        return self.of(namespace or "/").server_side_emit_with_ack(event, *args, timeout=timeout)

    def on_server_side_event(self, event: str, handler: Callable[..., Any] | None = None, *,
                             namespace: str | None = None) -> Any:
        """See :meth:`Namespace.on_server_side_event` (default namespace "/")."""
        return self.of(namespace or "/").on_server_side_event(event, handler)

    # -- lifecycle --------------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on (useful after listening on port 0)."""
        with self._api():
            return _check(lib.sio_server_port(self._handle), "sio_server_port")

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def loop_count(self) -> int:
        """How many loops (threads) serve the server: the ``loops`` option resolved (0 became the number of cores).
        """
        with self._api():
            return _check(lib.sio_server_loop_count(self._handle), "sio_server_loop_count")

    def _listen_once(self, listen: Callable[[], int], what: str) -> int:
        # One listener per server here: libsio reports only the first listener's port (sio_server_port), so the
        # port a second listen on port 0 picked could not be returned (see the README).
        def work() -> None:
            if self._listening:
                raise StateError(_lib.ESTATE, "the server already listens (one address per server)")
            _last_error.text = None
            code = listen()
            if code < 0:
                reason = getattr(_last_error, "text", None)  # logged on this thread by the failed listen
                raise SIOError.from_code(code, f"{what}: {reason}" if reason else what)
            self._listening = True

        self._on_loop(work, wait=True)
        return self.port

    def instrument(self, auth: Mapping[str, str] | bool | None = None, mode: str = "development",
                   read_only: bool = False, server_id: str | None = None, namespace: str = "/admin") -> None:
        """Serves the official admin UI (@socket.io/admin-ui, https://admin.socket.io), with python-socketio's
        ``instrument()`` parameters: ``auth`` None or False (no authentication) or ``{"username": ...,
        "password_hash": "$2b$..."}`` (a bcrypt hash: the plain password is never given to the server),
        ``mode`` "development" (every socket, room change and event) or "production" (the 2-second stats),
        ``read_only`` (no commands from the UI), ``server_id`` (default: the host name), ``namespace``. The hosted
        UI needs ``cors_allowed_origins="https://admin.socket.io"`` and ``cors_credentials=True``
        (docs/OBSERVABILITY.md). Raises :class:`InvalidArgumentError` for a hash that is not bcrypt. Once, any
        thread, before or after :meth:`start`."""
        options = lib.sio_options_new()
        if not options:
            raise MemoryError("sio_options_new")
        try:
            def put(key: int, name: str, value: Any, kind: str = "string") -> None:
                code = (lib.sio_options_set_bool(options, key, bool(value)) if kind == "bool"
                        else lib.sio_options_set_string(options, key, _lib.c_str(str(value))))
                if code != 0:
                    raise InvalidArgumentError(code, f"instrument {name}={value!r}")

            put(_lib.OPT_ADMIN_NAMESPACE, "namespace", namespace)
            put(_lib.OPT_ADMIN_MODE, "mode", mode)
            put(_lib.OPT_ADMIN_READONLY, "read_only", read_only, "bool")
            if server_id is not None:
                put(_lib.OPT_ADMIN_SERVER_ID, "server_id", server_id)
            if auth:
                if not isinstance(auth, Mapping) or set(auth) != {"username", "password_hash"}:
                    raise InvalidArgumentError(_lib.EINVAL, "instrument auth: {'username': ..., 'password_hash': ...}")
                put(_lib.OPT_ADMIN_USERNAME, "auth username", auth["username"])
                put(_lib.OPT_ADMIN_PASSWORD_HASH, "auth password_hash", auth["password_hash"])

            def work() -> None:
                code = lib.sio_server_instrument(self._handle, options)
                if code < 0:
                    raise SIOError.from_code(code, "instrument (is the password hash bcrypt?)")

            self._on_loop(work, wait=True)
        finally:
            lib.sio_options_free(options)

    def listen(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listens on `host` and `port` (0: a free one); returns the port. Once per server, before or after
        :meth:`start`."""
        encoded = _lib.c_str(host)
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} out of range")
        return self._listen_once(lambda: lib.sio_server_listen(self._handle, encoded, port), f"listen on {host}:{port}")

    def listen_fd(self, fd: int | Any) -> int:
        """Listens on an already bound TCP socket: a file descriptor or a :class:`socket.socket` (e.g. from a
        supervisor); it need not be listening yet. The server works on a duplicate of it, so the caller keeps (and
        closes) its own. Returns the port. Once per server, instead of :meth:`listen`."""
        number = fd.fileno() if hasattr(fd, "fileno") else int(fd)
        duplicate = os.dup(number)  # libsio owns (and closes) what it is given

        def listen() -> int:
            return lib.sio_server_listen_fd(self._handle, duplicate)  # type: ignore[no-any-return]

        try:
            return self._listen_once(listen, f"listen on fd {number}")
        except StateError:
            os.close(duplicate)  # refused before libsio saw it
            raise

    def start(self, host: str | None = None, port: int | None = None) -> int:
        """Starts the server's loop on a new thread and returns the port. Listens first on `host`/`port` if given
        (defaults 127.0.0.1:5000 when the server does not listen yet)."""
        return self._start_engine(host, port)

    def _start_engine(self, host: str | None, port: int | None) -> int:
        if self._state != "created":
            raise StateError(_lib.ESTATE, f"the server is {self._state}")
        if host is not None or port is not None or not self._listening:
            self.listen(host or "127.0.0.1", 5000 if port is None else port)
        with self._state_lock:
            if self._state != "created":
                raise StateError(_lib.ESTATE, f"the server is {self._state}")
            self._state = "running"
            self._thread = threading.Thread(target=self._run_loop, name="sio-loop", daemon=True)
            self._thread.start()
        return self.port

    def _run_loop(self) -> None:
        code = 0
        try:
            code = lib.sio_server_run(self._handle)
        finally:
            self._ended()
        if code != 0:
            log.error("sio: sio_server_run: %s", SIOError.from_code(code))

    def _ended(self) -> None:
        """On the loop thread once the loop has returned: fail what will never complete, free if asked."""
        with self._state_lock:
            if self._state == "running":
                self._state = "stopped"
            # From here on _list_task refuses: a thread posting while the loop ended cannot leave work listed
            # (and its dependants waiting) after this sweep.
            self._loop_ended = True
            entries = [_tasks.pop(key, None) for key in self._pending_tasks]
            self._pending_tasks.clear()
        for entry in entries:
            if entry is not None:
                for future in getattr(entry[1], "dependants", []):
                    if not future.done():
                        future.set_exception(ClosedError(_lib.ECLOSED, "the server stopped before running it"))
        for key, waiter in list(_waiters.items()):
            if waiter.server is self:
                _waiters.pop(key, None)
                waiter.fail(ClosedError(_lib.ECLOSED, "the server stopped"))
        for socket in self._sockets.values():
            socket.connected = False
        self._sockets.clear()
        for namespace in self._namespaces.values():
            namespace._sockets.clear()
        self._loop_threads.clear()
        with self._cross:
            self._inboxes.clear()
            self._cross.notify_all()
        self._stopped.set()
        if self._close_requested:
            self._destroy()

    def run(self, host: str | None = None, port: int | None = None) -> None:
        """Starts the server (see :meth:`start`) and blocks until it stops. Ctrl-C stops it gracefully and returns.
        """
        self._start_engine(host, port)
        try:
            while not self._stopped.wait(0.25):
                pass
        except KeyboardInterrupt:
            log.info("sio: interrupted, stopping")
            self._stop_engine()
            self._join()

    def stop(self) -> None:
        """Stops gracefully: every client gets a disconnect ("server shutting down"), connections close once their
        output is written (at most 2 s), then the loop ends. Any thread, any number of times. From the call on,
        what clients send no longer reaches event handlers or ack callbacks (handlers already running finish); the
        disconnect handlers still run."""
        self._stop_engine()

    def _stop_engine(self) -> None:
        with self._state_lock:
            if self._state == "created":
                self._state = "stopped"
                self._stopped.set()
                return
        if self._handle is None:
            return
        with self._api():
            if self._handle is not None:
                _check(lib.sio_server_stop(self._handle), "sio_server_stop")

    def wait(self, timeout: float | None = None) -> bool:
        """Waits until the loop has ended (after :meth:`stop`). True if it has. Not on a loop thread."""
        return self._join(timeout)

    def _join(self, timeout: float | None = None) -> bool:
        if self._in_loop():
            raise RuntimeError("Server.wait() on the loop thread would wait for itself")
        thread = self._thread
        if thread is None:
            return self._state != "running"
        thread.join(timeout)
        return not thread.is_alive()

    def close(self) -> None:
        """Stops, waits and frees the server. On a loop thread (inside a handler) it stops the server and frees it
        when the loops have ended. The server cannot be used afterwards."""
        self._close_blocking()

    def _close_blocking(self) -> None:
        self._close_requested = True
        self._stop_engine()
        if self._in_loop():
            return
        self._join()
        self._destroy()

    def _destroy(self) -> None:
        with self._api_lock:
            handle, self._handle = self._handle, None
            self._state = "closed"
            self._listening = False
        if handle is not None:
            lib.sio_server_destroy(handle)
        _live_servers.discard(self)
        _objects.pop(self._key, None)
        for namespace in self._namespaces.values():
            _objects.pop(namespace._key, None)

    # -- from C (loop thread) -----------------------------------------------------------------------------------

    def _event(self, handle: int, event: str, args: int | None, ack: int | None) -> None:
        socket = self._sockets.get(handle)
        if socket is None:
            log.warning("sio: event %r for an unknown socket", event)
            return
        try:
            values = _decode_args(args)
        except ValueError:
            log.exception("sio: undecodable arguments for %r from %s", event, socket.id)
            return
        namespace = socket.namespace
        found = _event_handler(socket, event, values)
        if found is None:
            return
        handler, call_args = found
        ok, result = self._call(f"handler of {event!r} on {namespace.name}", handler, *call_args)
        if not ok or not ack:
            if not ok and ack:
                log.warning("sio: the acknowledgement of %r from %s is not sent (its handler raised)",
                            event, socket.id)
            return
        if isinstance(result, concurrent.futures.Future):
            self._defer_ack(socket, ack, result, event)
        else:
            self._send_ack(ack, result, event)

    def _send_ack(self, ack: int, result: Any, event: str) -> None:
        try:
            payload, attachments = _codec.encode(_ack_values(result))
        except (TypeError, ValueError):
            log.exception("sio: the return value of the %r handler is not JSON; no acknowledgement sent", event)
            return
        array, count, keep = _lib.buffers(attachments)
        code = lib.sio_ack_send(ack, payload, len(payload), array, count)
        del keep
        if code != 0:
            log.warning("sio: acknowledgement of %r not sent: %s", event, SIOError.from_code(code))

    def _defer_ack(self, socket: Socket, ack: int, future: concurrent.futures.Future[Any], event: str) -> None:
        # sio_ack_send is [LOOP] on the socket's own loop: the ack is sent there, whichever thread completes.
        def done(completed: concurrent.futures.Future[Any]) -> None:
            def send() -> None:
                if completed.cancelled() or completed.exception() is not None:
                    error = None if completed.cancelled() else completed.exception()
                    log.error("sio: the deferred acknowledgement of %r failed; not sent", event,
                              exc_info=None if error is None else (type(error), error, error.__traceback__))
                    return
                self._send_ack(ack, completed.result(), event)

            try:
                socket._on_loop(send, wait=False)
            except SIOError:
                log.debug("sio: deferred acknowledgement of %r dropped: the socket left or the server stopped", event)

        future.add_done_callback(done)

    def _disconnecting(self, handle: int, reason: str) -> None:
        socket = self._sockets.get(handle)
        if socket is None:
            return
        self._leaving(socket, "disconnecting", reason)

    def _disconnected(self, handle: int, reason: str) -> None:
        socket = self._sockets.pop(handle, None)
        if socket is None:
            return
        socket.connected = False
        socket.namespace._sockets.pop(socket.id, None)
        self._leaving(socket, "disconnect", reason)

    def _leaving(self, socket: Socket, event: str, reason: str) -> None:
        """Runs the socket's own `event` handler ("disconnecting" or "disconnect"), then its namespace's."""
        own = socket._handlers.get(event)
        if own is not None:
            self._invoke(f"socket {event} handler", own, reason)
        handler = socket.namespace._handlers.get(event)
        if handler is not None:
            self._invoke(f"{event} handler of {socket.namespace.name}", handler, socket, reason)

    def _http(self, request: int, method: str, path: str) -> None:
        handler = self._http_handler
        response: Any = None
        if handler is not None:
            ok, response = self._call(f"HTTP handler ({method} {path})", handler, method, path)
            if not ok:
                lib.sio_http_respond(request, 500, b"text/plain; charset=utf-8", b"Internal Server Error", 21)
                return
        if response is None:
            lib.sio_http_respond(request, 404, b"text/plain; charset=utf-8", b"Not Found", 9)
            return
        try:
            if len(response) == 3:
                status, content_type, body = response
            else:
                status, body = response
                content_type = "text/html; charset=utf-8" if isinstance(body, str) else "application/octet-stream"
            data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            kind = None if content_type is None else _lib.c_str(content_type)
            code = lib.sio_http_respond(request, int(status), kind, data, len(data))
            _check(code, "sio_http_respond")
        except Exception:  # noqa: BLE001
            log.exception("sio: bad response from the HTTP handler for %s %s", method, path)
            lib.sio_http_respond(request, 500, b"text/plain; charset=utf-8", b"Internal Server Error", 21)

    def _connection_error(self, request: int, code: int, message: str, context: str) -> None:
        handler = self._connection_error_handler
        if handler is None:
            return
        try:
            details = json.loads(context) if context else {}
        except ValueError:
            details = {}
        headers = {}
        for name in ConnectionErrorReport.HEADERS:
            value = lib.sio_http_request_header(request, name.encode())
            if value is not None:
                headers[name] = value.decode("utf-8", "replace")
        url = (lib.sio_http_request_url(request) or b"").decode("utf-8", "replace")
        self._invoke("connection error handler", handler, ConnectionErrorReport(code, message, details, url, headers))


    def _tls_error(self, kind: str, reason: str, address: str) -> None:
        handler = self._tls_error_handler
        if handler is not None:
            self._invoke("TLS error handler", handler, TLSErrorReport(kind, reason, address))


class _ApiGuard:
    __slots__ = ("server",)

    def __init__(self, server: Server) -> None:
        self.server = server

    def __enter__(self) -> None:
        self.server._api_lock.acquire()
        if self.server._handle is None:
            self.server._api_lock.release()
            raise ClosedError(_lib.ECLOSED, "the server is closed")

    def __exit__(self, *exc: Any) -> None:
        self.server._api_lock.release()

