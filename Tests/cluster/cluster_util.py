"""Cluster test helpers: a real redis-server, `sio-cluster-node` processes and nginx, all on loopback ports chosen here.

scripts/bootstrap-redis.sh installs redis-server and nginx (Debian packages) when missing; nothing is started as
a system service. The node binary comes from $SIO_BIN_DIR (scripts/test.sh sets it to `swift build
--show-bin-path`; default .build/debug); `swift build --product sio-cluster-node` makes it.

- `RedisServer`: redis-server with no persistence in a temporary directory; `stop()` / `start()` keep the port
  (the outage tests restart it under running nodes).
- `ClusterNode`: one `sio-cluster-node --port P --redis URL --name NAME [--loops N]`; its log is kept and shown on
  failure.
- `Nginx`: nginx in the foreground with a generated config (see nginx_config in test_nginx.py and docs/REDIS.md).
- `Client`: a python-socketio client recording the events a test looks at; on `/` it knows its node and the loop
  serving it (`whoami`); `placed_client` reconnects until a client lands on the loop wanted.
"""

from __future__ import annotations

import atexit
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import socketio

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT = 15.0
FIXTURES = ROOT / "Tests" / "SocketIORedisTests" / "Fixtures" / "wire-capture.json"

_live: list = []


def _cleanup_all() -> None:
    for process in list(_live):
        try:
            process.cleanup()
        except Exception:
            pass


atexit.register(_cleanup_all)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None, timeout: float = START_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message} (last: {last!r})")


def tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}", os.X_OK) else None)
    if not path:
        pytest.fail(f"{name} not found: run scripts/bootstrap-redis.sh", pytrace=False)
    return path


# -- processes ---------------------------------------------------------------------------------------------------

class Process:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, label: str):
        self.label = label
        self.proc: subprocess.Popen | None = None
        self.log_path = ""
        self._log = None
        self.keep_log = False  # set when a failed test showed this log; otherwise it is deleted at stop
        self.dirs: list[str] = []

    def _spawn(self, cmd: list[str], cwd: str | None = None, env: dict | None = None) -> None:
        self._remove_log()
        self._log = tempfile.NamedTemporaryFile(prefix=f"cluster-{self.label}-", suffix=".log", delete=False)
        self.log_path = self._log.name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=cwd, env=env)
        if self not in _live:
            _live.append(self)

    def log_text(self) -> str:
        try:
            return pathlib.Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        if self in _live:
            _live.remove(self)

    def cleanup(self) -> None:
        """Stops the process and removes its files (the log stays if a failed test showed it)."""
        self.stop()
        self._remove_log()
        for directory in self.dirs:
            shutil.rmtree(directory, ignore_errors=True)

    def _remove_log(self) -> None:
        if self.log_path and not self.keep_log:
            try:
                os.unlink(self.log_path)
            except OSError:
                pass


class RedisServer(Process):
    def __init__(self, binary: str):
        super().__init__("redis")
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="cluster-redis-")
        self.dirs.append(self.dir)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}"

    def start(self) -> "RedisServer":
        self._spawn([self.binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
                     "--dir", self.dir, "--protected-mode", "no", "--loglevel", "warning"])
        if not wait_port(self.port, self.proc):
            raise RuntimeError(f"redis-server did not start on {self.port}:\n{self.log_text()}")
        return self

    def command(self, *parts: bytes | str, timeout: float = 5.0):
        """One RESP command on a fresh connection; returns the decoded reply."""
        with socket.create_connection((HOST, self.port), timeout=timeout) as conn:
            conn.sendall(resp_command(*parts))
            return read_reply(conn.makefile("rb"))

    def publish(self, channel: str, payload: bytes) -> int:
        return self.command("PUBLISH", channel, payload)

    def numsub(self, channel: str) -> int:
        reply = self.command("PUBSUB", "NUMSUB", channel)
        return int(reply[1])


def resp_command(*parts: bytes | str) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_reply(stream):
    line = stream.readline()
    if not line:
        raise ConnectionError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        length = int(rest)
        if length < 0:
            return None
        data = stream.read(length + 2)
        return data[:-2]
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [read_reply(stream) for _ in range(count)]
    raise RuntimeError(f"unexpected reply {line!r}")


class ClusterNode(Process):
    """`streams` picks the streams adapter (--redis-streams); `args` are passed on (--recovery-ms ...)."""

    def __init__(self, binary: str, name: str, redis_url: str, loops: int = 1, streams: bool = False,
                 args: list[str] | None = None):
        super().__init__(f"node-{name}")
        self.binary = binary
        self.name = name
        self.redis_url = redis_url
        self.loops = loops
        self.streams = streams
        self.args = list(args or [])
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def argv(self) -> list[str]:
        return [self.binary, "--port", str(self.port), "--redis-streams" if self.streams else "--redis",
                self.redis_url, "--name", self.name, "--host", HOST, *self.args] \
            + (["--loops", str(self.loops)] if self.loops != 1 else [])

    def environment(self) -> dict | None:
        return None

    def start(self, port: int | None = None) -> "ClusterNode":
        """Starts on `port` (a restart keeps its port) or a free one."""
        for _attempt in range(3):
            self.port = port or free_port()
            self._spawn(self.argv(), env=self.environment())
            if wait_port(self.port, self.proc):
                return self
            self.stop()
        raise RuntimeError(f"node {self.name} did not start:\n{self.log_text()}")


NODE_PEER_SCRIPT = ROOT / "scripts" / "node-peer" / "node-cluster-node.js"


class NodePeerNode(ClusterNode):
    """A Node.js socket.io 4.8 node (scripts/node-peer/node-cluster-node.js over the packages that
    scripts/node-peer/build.sh laid out in `peer`), answering the same events as sio-cluster-node."""

    def __init__(self, peer: str, name: str, redis_url: str, streams: bool = True, args: list[str] | None = None):
        super().__init__(shutil.which("node") or "node", name, redis_url, streams=streams, args=args)
        self.label = f"node-js-{name}"
        self.peer = peer

    def argv(self) -> list[str]:
        return [self.binary, str(NODE_PEER_SCRIPT), "--peer", self.peer, *super().argv()[1:]]

    def environment(self) -> dict:
        return {**os.environ, "NODE_PATH": "/usr/share/nodejs"}


def node_peer_dir() -> str | None:
    """$SIO_NODE_PEER when it holds a built peer (scripts/node-peer/build.sh), else None."""
    peer = os.environ.get("SIO_NODE_PEER")
    if peer and (pathlib.Path(peer) / "node_modules" / "@socket.io" / "redis-streams-adapter").exists():
        return peer
    return None


class Nginx(Process):
    def __init__(self, binary: str, config: str):
        super().__init__("nginx")
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="cluster-nginx-")
        self.dirs.append(self.dir)
        os.chmod(self.dir, 0o777)  # workers (user nobody when started as root) write their temp files here
        self.port = free_port()
        self.config = config.replace("{{DIR}}", self.dir).replace("{{PORT}}", str(self.port))

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> "Nginx":
        path = pathlib.Path(self.dir) / "nginx.conf"
        path.write_text(self.config)
        self._spawn([self.binary, "-e", f"{self.dir}/error.log", "-p", self.dir, "-c", str(path),
                     "-g", "daemon off;"])
        if not wait_port(self.port, self.proc):
            raise RuntimeError(f"nginx did not start:\n{self.log_text()}\n{self.error_log()}")
        return self

    def error_log(self) -> str:
        try:
            return (pathlib.Path(self.dir) / "error.log").read_text(errors="replace")
        except OSError:
            return ""


# -- clients -----------------------------------------------------------------------------------------------------

class Client:
    """A python-socketio client that records `bcast`, `ss-hello`, `emitter-msg` and `need-ack` events."""

    RECORDED = ("bcast", "ss-hello", "emitter-msg", "need-ack", "chat-msg")

    def __init__(self, url: str, transports: list[str] | None = None, namespace: str = "/", label: str = ""):
        self.url = url
        self.namespace = namespace
        self.label = label
        self.sio = socketio.Client(reconnection=False)
        self.events: list[tuple[str, object]] = []
        self.lock = threading.Condition()
        self.disconnected = threading.Event()
        for event in self.RECORDED:
            self.sio.on(event, self._recorder(event), namespace=namespace)
        self.sio.on("disconnect", lambda *args: self.disconnected.set(), namespace=namespace)
        self.sio.connect(url, transports=transports, namespaces=[namespace], wait_timeout=10)
        if namespace == "/":
            who = self.call("whoami")
            self.id, self.node, self.loop = who["id"], who["node"], who.get("loop")
        else:
            self.id, self.node, self.loop = self.sio.get_sid(namespace), None, None

    def _recorder(self, event: str):
        def handler(*args):
            data = args[0] if len(args) == 1 else list(args)
            with self.lock:
                self.events.append((event, data))
                self.lock.notify_all()
            if event == "need-ack":
                return {"from": self.label or self.id, "payload": data}
            return None
        return handler

    def call(self, event: str, *args, timeout: float = 10):
        data = args[0] if len(args) == 1 else (tuple(args) if args else None)
        return self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    def received(self, event: str) -> list:
        with self.lock:
            return [data for name, data in self.events if name == event]

    def wait_for(self, event: str, predicate=lambda data: True, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for name, data in self.events:
                    if name == event and predicate(data):
                        return data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.label or self.id}: no {event} matching within {timeout} s; "
                                         f"got {self.events!r}")
                self.lock.wait(remaining)

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:
            pass


def placed_client(make, node, loop: int, transports: list[str] | None = None, label: str = "",
                  attempts: int = 40) -> Client:
    """A client of `node` on its loop `loop` (`make` is the `clients` fixture): it reconnects until `whoami` says
    so (the kernel spreads new connections over the loops)."""
    for _attempt in range(attempts):
        client = make(node.url, transports=transports, label=label)
        if client.loop == loop:
            return client
        client.close()
    raise AssertionError(f"no connection to {node.name} landed on loop {loop} in {attempts} attempts")


def barrier(sender: Client, everyone: list[Client], tag: str) -> None:
    """Broadcasts a sentinel to everyone from `sender`'s node and waits until every client has it. Redis keeps the
    order of one publisher's messages, so whatever `sender` broadcast before has arrived everywhere by then."""
    sender.call("broadcast", {"sentinel": tag})
    for client in everyone:
        client.wait_for("bcast", lambda data: isinstance(data, dict) and data.get("sentinel") == tag)


def payloads(client: Client, key: str = "msg") -> list:
    return [data.get(key) for data in client.received("bcast") if isinstance(data, dict) and key in data]


def fixture_messages() -> list[dict]:
    return json.loads(FIXTURES.read_text())["messages"]
