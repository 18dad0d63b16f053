"""Helpers shared by the Socket.IO integration tests (test_socketio_*.py).

- URLs for the Socket.IO endpoint (`/socket.io/`);
- `SioPolling`: a hand-driven Engine.IO long-polling session on `/socket.io/` (eio_util.Polling, other path);
- `WireSocket` (websocket-client) and `WirePolling` (requests): one Engine.IO connection to `/socket.io/` that
  speaks Socket.IO packets at the wire level, with the same interface (send packets, receive messages, expect the
  connection to end), so a wire-level test runs over either transport;
- `SioClient`: the real python-socketio client, recording every event it receives.

Every wait here is bounded. Engine.IO pings are answered by the wire helpers unless a test says otherwise.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import threading
import time

import requests
import socketio
import websocket

from eio_util import SEP, Polling, decode_payload, eio_url, eio_ws_url, parse_open, ws_connect, ws_next

SIO_PATH = "/socket.io/"


# --------------------------------------------------------------------------------------------------------------
# URLs


def sio_url(base: str, **query) -> str:
    """`base` + `/socket.io/?EIO=4&transport=polling` with `query` merged in; a value of None drops the key."""
    return eio_url(base, SIO_PATH, **query)


def sio_ws_url(base: str, **query) -> str:
    return eio_ws_url(base, SIO_PATH, **query)


def sio_ws_connect(base: str, timeout: float = 5, **query) -> websocket.WebSocket:
    return ws_connect(base, timeout, SIO_PATH, **query)


class SioPolling(Polling):
    """eio_util.Polling on the Socket.IO endpoint."""

    @classmethod
    def open(cls, base: str, **query) -> "SioPolling":
        return super().open(base, SIO_PATH, **query)


# --------------------------------------------------------------------------------------------------------------
# Socket.IO at the wire level, over either transport


class Ended(AssertionError):
    """The connection ended while a message was expected."""


def wait_until(predicate, timeout: float = 5, interval: float = 0.02, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


class _Wire:
    """Common part: one Engine.IO connection carrying Socket.IO packets.

    Messages are ("text", str) for an Engine.IO message packet as written on the wire ("42[...]": Engine.IO type
    4, then the Socket.IO packet) and ("binary", bytes) for a binary message; `send()` takes packets the same way.
    Engine.IO pings are answered and skipped; any other Engine.IO packet from the server ends the reading.
    """

    transport = ""
    open_packet: dict

    def send(self, *packets) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def recv(self, timeout: float = 5):  # pragma: no cover - overridden
        raise NotImplementedError

    def expect_ended(self, timeout: float = 5) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def expect(self, text: str, timeout: float = 5) -> None:
        got = self.recv(timeout)
        assert got == ("text", text), f"{self.transport}: expected {text!r}, got {got!r}"

    def expect_text(self, timeout: float = 5) -> str:
        kind, data = self.recv(timeout)
        assert kind == "text", f"{self.transport}: expected a text message, got {(kind, data)!r}"
        return data

    def connect(self, namespace: str = "/", auth=None) -> str:
        """Sends CONNECT and returns the socket id of the CONNECT reply; `/` and `/custom` also emit `auth`,
        which is consumed here."""
        prefix = "" if namespace == "/" else f"{namespace},"
        self.send("40" + prefix + ("" if auth is None else json.dumps(auth, separators=(",", ":"))))
        reply = self.expect_text()
        assert reply.startswith("40" + prefix), f"{self.transport}: CONNECT to {namespace} answered {reply!r}"
        sid = json.loads(reply[2 + len(prefix):])["sid"]
        if namespace in ("/", "/custom"):
            self.expect(f"42{prefix}" + json.dumps(["auth", auth or {}], separators=(",", ":")))
        return sid

    def roundtrip(self, value="ping?") -> None:
        """`message` -> `message-back` on the main namespace: the connection is alive and usable."""
        arg = json.dumps(value, separators=(",", ":"))
        self.send(f'42["message",{arg}]')
        self.expect(f'42["message-back",{arg}]')

    def assert_quiet(self, duration: float) -> None:
        """Nothing but pings arrives for `duration` seconds, and the connection stays open."""
        try:
            got = self.recv(duration)
        except TimeoutError:
            return
        raise AssertionError(f"{self.transport}: expected nothing, got {got!r}")


class WireSocket(_Wire):
    """websocket-client on `/socket.io/`."""

    transport = "websocket"

    def __init__(self, base: str, **query):
        self.ws = sio_ws_connect(base, **query)
        kind, data = ws_next(self.ws)
        assert kind == "text", f"expected the open packet, got {(kind, data)!r}"
        self.open_packet = parse_open(data)
        self.sid = self.open_packet["sid"]

    def send(self, *packets) -> bool:
        try:
            for p in packets:
                if isinstance(p, (bytes, bytearray)):
                    self.ws.send_binary(bytes(p))
                else:
                    self.ws.send(p)
            return True
        except (websocket.WebSocketException, ConnectionError, OSError):
            return False

    def recv(self, timeout: float = 5, answer_pings: bool = True):
        """The next Socket.IO message; raises Ended when the connection ends, TimeoutError when nothing comes."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"websocket: no message within {timeout} s")
            kind, data = ws_next(self.ws, remaining)
            if kind == "binary":
                return kind, data
            if kind == "text":
                if data == "2":
                    if answer_pings:
                        self.ws.send("3")
                    continue
                if data.startswith("4"):
                    return "text", data
                if data == "6":
                    continue
                raise Ended(f"websocket: Engine.IO packet {data!r}")
            raise Ended(f"websocket: connection ended ({kind} {data!r})")

    def expect_ended(self, timeout: float = 5, answer_pings: bool = True) -> tuple[str, object]:
        """Reads (and drops) messages until the server closes the WebSocket; returns how it ended."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"websocket: still open after {timeout} s")
            try:
                kind, data = ws_next(self.ws, remaining)
            except TimeoutError:
                raise AssertionError(f"websocket: still open after {timeout} s") from None
            if kind in ("close", "eof"):
                return kind, data
            if kind == "text" and data == "1":
                return "close-packet", None
            if answer_pings and kind == "text" and data == "2":
                self.ws.send("3")

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - teardown
            pass


class WirePolling(_Wire):
    """HTTP long-polling (requests) on `/socket.io/`; received packets are buffered between GETs."""

    transport = "polling"

    def __init__(self, base: str, **query):
        self.session = SioPolling.open(base, **query)
        self.open_packet = self.session.open_packet
        self.sid = self.session.sid
        self.pending: list[tuple[str, object]] = []
        self.ended = False

    @staticmethod
    def encode(packets) -> bytes:
        parts = []
        for p in packets:
            if isinstance(p, (bytes, bytearray)):
                parts.append("b" + base64.b64encode(bytes(p)).decode())
            else:
                parts.append(p)
        return SEP.join(parts).encode("utf-8")

    def send(self, *packets) -> bool:
        """POSTs the packets in one payload; False when the server refused it (session gone)."""
        try:
            r = self.session.post(self.encode(packets))
        except requests.RequestException:
            return False
        return r.status_code == 200

    def _poll(self, timeout: float, answer_pings: bool = True) -> None:
        try:
            r = self.session.get(timeout=max(0.5, timeout))
        except requests.RequestException as e:
            self.ended = True
            raise Ended(f"polling: GET failed ({e})") from None
        if r.status_code != 200:
            self.ended = True
            raise Ended(f"polling: GET answered HTTP {r.status_code} {r.text[:200]!r}")
        for ptype, data in decode_payload(r.text):
            if ptype == "2":
                if answer_pings:
                    self.session.post("3")
            elif ptype == "4":
                self.pending.append(("binary", data) if isinstance(data, bytes) else ("text", "4" + data))
            elif ptype == "1":
                self.pending.append(("close-packet", None))
            elif ptype == "6":
                pass
            else:
                self.pending.append(("engine", ptype + str(data)))

    def recv(self, timeout: float = 5, answer_pings: bool = True):
        deadline = time.monotonic() + timeout
        while not self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"polling: no message within {timeout} s")
            # A poll is held at most one ping interval; a GET that comes back empty-handed is simply repeated.
            self._poll(remaining, answer_pings)
        kind, data = self.pending.pop(0)
        if kind in ("text", "binary"):
            return kind, data
        raise Ended(f"polling: {kind} {data!r}")

    def expect_ended(self, timeout: float = 5, answer_pings: bool = True) -> tuple[str, object]:
        """Polls until the session is gone: a close packet, then HTTP 400 for the sid (the session is unknown)."""
        deadline = time.monotonic() + timeout
        saw_close = False
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"polling: session still open after {timeout} s")
            if any(k == "close-packet" for k, _ in self.pending):
                saw_close = True
            self.pending.clear()
            try:
                self._poll(max(0.5, deadline - time.monotonic()), answer_pings)
            except Ended:
                return ("closed-after-close-packet" if saw_close else "unknown-sid"), None

    def close(self) -> None:
        if not self.ended:
            try:
                self.session.post("1", timeout=2)
            except requests.RequestException:
                pass


def open_wire(base: str, transport: str, **query) -> _Wire:
    return WireSocket(base, **query) if transport == "websocket" else WirePolling(base, **query)


# --------------------------------------------------------------------------------------------------------------
# The real python-socketio client


_client_numbers = itertools.count(1)


class _ListHandler(logging.Handler):
    def __init__(self, sink: list):
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(f"{record.levelname}: {record.getMessage()}")


class SioClient:
    """A socketio.Client (no reconnection) that records every event, connect, connect_error and disconnect of
    the namespaces it is told about.

    `handlers` maps (namespace, event) to a function whose return value becomes the ack of that event.
    """

    def __init__(self, base: str, *, transports=None, namespaces=("/",), auth=None, handlers=None,
                 connect: bool = True, wait_timeout: float = 5):
        self.base = base
        self.transports = transports
        self.namespaces = list(namespaces)
        self.auth = auth
        # Warnings of the client libraries (e.g. "Unexpected packet from server, aborting") go into the failure
        # messages of this client's waits.
        self.warnings: list[str] = []
        logger = logging.getLogger(f"sio-test-client-{next(_client_numbers)}")
        logger.setLevel(logging.WARNING)
        logger.propagate = False
        logger.addHandler(_ListHandler(self.warnings))
        self.client = socketio.Client(reconnection=False, handle_sigint=False, logger=logger,
                                      engineio_logger=logger)
        self._cond = threading.Condition()
        self.log: list[tuple[str, str, tuple]] = []  # (namespace, event, args), in arrival order
        self._taken: set[int] = set()
        handlers = dict(handlers or {})
        for ns in set(self.namespaces) | {ns for ns, _ in handlers}:
            self._install(ns, {ev: fn for (n, ev), fn in handlers.items() if n == ns})
        if connect:
            self.connect(wait_timeout)

    def connect(self, wait_timeout: float = 5) -> None:
        """Connects every namespace; raises socketio.exceptions.ConnectionError when one is refused."""
        self.client.connect(self.base, transports=self.transports, namespaces=self.namespaces, auth=self.auth,
                            wait_timeout=wait_timeout)

    def _record(self, ns: str, event: str, args: tuple) -> None:
        with self._cond:
            self.log.append((ns, event, args))
            self._cond.notify_all()

    def _install(self, ns: str, handlers: dict) -> None:
        c = self.client
        c.on("connect", lambda: self._record(ns, "connect", ()), namespace=ns)
        c.on("disconnect", lambda reason=None: self._record(ns, "disconnect", (reason,)), namespace=ns)
        c.on("connect_error", lambda *data: self._record(ns, "connect_error", data), namespace=ns)
        c.on("*", lambda event, *args: self._record(ns, event, args), namespace=ns)
        for event, fn in handlers.items():
            def handler(*args, _event=event, _fn=fn):
                self._record(ns, _event, args)
                return _fn(*args)
            c.on(event, handler, namespace=ns)

    # -- inspection ------------------------------------------------------------------------------------------------
    def sid(self, ns: str = "/") -> str:
        sid = self.client.get_sid(ns)
        assert sid, f"not connected to {ns}"
        return sid

    def received(self, event: str, ns: str = "/") -> list[tuple]:
        """The arguments of every `event` received on `ns` so far."""
        with self._cond:
            return [args for n, e, args in self.log if n == ns and e == event]

    def wait_for(self, event: str, ns: str = "/", timeout: float = 5) -> tuple:
        """The arguments of the next not yet taken `event` on `ns`; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, (n, e, args) in enumerate(self.log):
                    if i not in self._taken and n == ns and e == event:
                        self._taken.add(i)
                        return args
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {event!r} on {ns} within {timeout} s; {self.state()}")
                self._cond.wait(remaining)

    def state(self) -> str:
        """For failure messages: transport, namespaces, what was received, the client libraries' warnings."""
        seen = [(n, e) for n, e, _ in self.log]
        return (f"transport {self.transport}, connected {self.client.connected}, namespaces "
                f"{list(self.client.namespaces)}, received {seen}, client warnings {self.warnings}")

    @property
    def transport(self) -> str | None:
        try:
            return self.client.transport()
        except Exception:  # noqa: BLE001
            return None

    # -- actions ---------------------------------------------------------------------------------------------------
    def _emit(self, event: str, args: tuple, ns: str, callback=None) -> None:
        try:
            self.client.emit(event, args, namespace=ns, callback=callback)
        except socketio.exceptions.BadNamespaceError as e:
            raise AssertionError(f"emit {event!r}: {e}; {self.state()}") from None

    def emit(self, event: str, *args, ns: str = "/") -> None:
        self._emit(event, tuple(args), ns)

    def call(self, event: str, *args, ns: str = "/", timeout: float = 5) -> list:
        """Emits with an ack and returns the ack's arguments as a list."""
        done = threading.Event()
        box = []

        def callback(*reply):
            box.append(list(reply))
            done.set()

        self._emit(event, tuple(args), ns, callback)
        if not done.wait(timeout):
            raise AssertionError(f"no ack for {event!r} on {ns} within {timeout} s; {self.state()}")
        return box[0]

    def call1(self, event: str, *args, ns: str = "/", timeout: float = 5):
        """`call()` for an ack with exactly one argument: returns that argument."""
        reply = self.call(event, *args, ns=ns, timeout=timeout)
        assert len(reply) == 1, f"ack of {event!r}: expected one argument, got {reply!r}"
        return reply[0]

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:  # noqa: BLE001 - teardown of a broken client must not mask the test's result
            pass
        try:
            self.client.eio.disconnect()
        except Exception:  # noqa: BLE001
            pass
