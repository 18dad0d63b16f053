"""Fixtures: a binding `Server` run in-process on its loop thread (ephemeral loopback port), and real
python-socketio clients that record what they receive. Every wait is bounded."""

from __future__ import annotations

import os
import pathlib
import queue
import sys
import threading
import time
from typing import Any, Callable, Iterator

import pytest

HERE = pathlib.Path(__file__).resolve().parent
PACKAGE = HERE.parent
ROOT = PACKAGE.parents[1]

# Use the library built in the project unless told otherwise; import the package from the source tree.
if not os.environ.get("SIO_LIBRARY"):
    os.environ["SIO_LIBRARY"] = str(ROOT / "build" / "lib" / "libsio.so")
sys.path.insert(0, str(PACKAGE / "src"))

import socketio  # noqa: E402

import sio  # noqa: E402

HOST = "127.0.0.1"
TRANSPORTS = ["websocket", "polling"]


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Recorder:
    """A python-socketio client that records every event (name, args) in a queue."""

    def __init__(self, url: str, transports: list[str] | None = None, namespaces: list[str] | None = None,
                 auth: Any = None, headers: dict[str, str] | None = None) -> None:
        self.client = socketio.Client(reconnection=False)
        self.events: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()
        self.disconnects: queue.Queue[Any] = queue.Queue()
        self.connect_errors: queue.Queue[Any] = queue.Queue()
        self.url = url
        self.transports = transports
        self.namespaces = namespaces
        self.auth = auth
        self.headers = headers or {}
        for namespace in namespaces or ["/"]:
            self._hook(namespace)

    def _hook(self, namespace: str) -> None:
        @self.client.on("*", namespace=namespace)
        def any_event(event: str, *args: Any) -> None:
            self.events.put((event, args))

        @self.client.on("disconnect", namespace=namespace)
        def disconnected(*reason: Any) -> None:
            self.disconnects.put(reason[0] if reason else None)

        @self.client.on("connect_error", namespace=namespace)
        def connect_error(data: Any = None) -> None:
            self.connect_errors.put(data)

    def connect(self) -> "Recorder":
        self.client.connect(self.url, transports=self.transports, namespaces=self.namespaces, auth=self.auth,
                            headers=self.headers, wait_timeout=5)
        return self

    def next_event(self, timeout: float = 5.0) -> tuple[str, tuple[Any, ...]]:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no event arrived") from None

    def no_event(self, wait: float = 0.3) -> None:
        try:
            event = self.events.get(timeout=wait)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected event {event!r}")

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:  # noqa: BLE001
            pass


#: The loop counts the `server` fixture runs each test with: libsio's default (one loop), and several loops, where
#: connections are handed out in turn ("round-robin") so that the few clients of a test land on different loops and
#: their handlers run on different threads.
LOOPS = (1, 2, 3)


def server_options(loops: int) -> dict[str, Any]:
    options: dict[str, Any] = dict(ping_interval=5, ping_timeout=5)
    if loops > 1:
        options.update(loops=loops, loop_balancing="round-robin")
    return options


@pytest.fixture(params=LOOPS, ids=lambda loops: f"loops{loops}")
def server(request: pytest.FixtureRequest) -> Iterator[sio.Server]:
    """A binding server, not started yet: register handlers, then call `started(server)`. Every test using it runs
    with one loop (libsio's default) and with 2 and 3 loops."""
    instance = sio.Server(**server_options(request.param))
    try:
        yield instance
    finally:
        instance.close()


def started(instance: sio.Server) -> str:
    port = instance.start(HOST, 0)
    return f"http://{HOST}:{port}"


@pytest.fixture
def clients() -> Iterator[Callable[..., Recorder]]:
    made: list[Recorder] = []

    def make(url: str, **kwargs: Any) -> Recorder:
        recorder = Recorder(url, **kwargs)
        made.append(recorder)
        return recorder.connect()

    yield make
    for recorder in made:
        recorder.close()


class ThreadResult:
    """Runs `function` on a thread and keeps its result or exception."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(function,), daemon=True)
        self.thread.start()

    def _run(self, function: Callable[[], Any]) -> None:
        try:
            self.value = function()
        except BaseException as error:  # noqa: BLE001
            self.error = error

    def result(self, timeout: float = 10.0) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "thread did not finish"
        if self.error is not None:
            raise self.error
        return self.value
