"""Fixtures: the `sio-protocol-server` binary started on a free loopback port.

- `server`: one process shared by the whole session (restarted if a test killed it; that test fails);
- `fresh_server`: a process of its own, for tests that could disturb others or measure the process;
- `server_factory`: starts processes of the test's own with a chosen loop count (test_multiloop.py).
Each gives a `ServerProcess` whose `.url` (also `str()`) is the base URL, e.g. http://127.0.0.1:41234.

The binary comes from $SIO_BIN_DIR (scripts/test.sh sets it to `swift build --show-bin-path`; default
.build/debug). To cross-check another implementation of the same contract, set SIO_SERVER_CMD to a command
line with `{port}` and `{host}` placeholders; it replaces the binary. SIO_SERVER_ARGS adds arguments to the
binary's command line (e.g. `--allow-eio3`, to check that v4 behaviour does not change with it); a
`ServerProcess` can also be given its own (`args`/`extra_args`, as Tests/eio3 does).
SIO_TEST_LOOPS=N runs every server of the suite with `--loops N` (N event loops on one port; unset: no flag, one
loop, as before), so the whole suite doubles as a multi-loop test: scripts/test.sh runs it with 1, 2 and 3 loops.
test_multiloop.py starts its own multi-loop servers whatever this says (`server_factory(loops=N)`).
On a failed test, the server's log lines written during that test are added to the report.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pathlib
import shlex
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SERVER_NAME = "sio-protocol-server"
START_TIMEOUT = 10.0
STOP_GRACE = 3.0

_live: list["ServerProcess"] = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


NO_LOOPS_FLAG = "default"  # ServerProcess(loops=NO_LOOPS_FLAG): no --loops flag at all, whatever $SIO_TEST_LOOPS says


def loops_from_env() -> int | None:
    """$SIO_TEST_LOOPS as a number, or None when unset (the server's default, one loop, no flag passed)."""
    text = os.environ.get("SIO_TEST_LOOPS", "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pytest.fail(f"SIO_TEST_LOOPS must be a number of loops, not {text!r}", pytrace=False)


def _server_command(port: int, loops: int | str | None = None) -> list[str]:
    """The server's command line; `loops` (else $SIO_TEST_LOOPS) adds `--loops N`; NO_LOOPS_FLAG adds nothing."""
    loops = loops_from_env() if loops is None else None if loops == NO_LOOPS_FLAG else loops
    custom = os.environ.get("SIO_SERVER_CMD")
    if custom:
        cmd = [part.format(port=port, host=HOST) for part in shlex.split(custom)]
    else:
        bin_dir = pathlib.Path(os.environ.get("SIO_BIN_DIR") or ROOT / ".build" / "debug")
        binary = bin_dir / SERVER_NAME
        if not os.access(binary, os.X_OK):
            pytest.fail(f"{binary} not found or not executable: build it (swift build) or set SIO_BIN_DIR",
                        pytrace=False)
        cmd = [str(binary), "--port", str(port), "--host", HOST, *shlex.split(os.environ.get("SIO_SERVER_ARGS", ""))]
    if loops is not None:
        cmd += ["--loops", str(loops)]
    return cmd


class ServerProcess:
    def __init__(self, name: str, loops: int | str | None = None, args=(), extra_args=(), port: int = 0):
        """`loops`: pass `--loops N` whatever $SIO_TEST_LOOPS says (None: as $SIO_TEST_LOOPS says; NO_LOOPS_FLAG:
        no flag). `args` / `extra_args`: more arguments for the command line (e.g. `--loop-balancing round-robin`).
        `port`: a fixed port (0: a free one at every start)."""
        self.name = name
        self.loops = loops
        self.args = list(args) + list(extra_args)
        self.fixed_port = port
        self.exit_expected = False  # set by a test that ends the process on purpose (no "exited during" failure)
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path = ""
        self._log = None
        self.restarts = 0
        self.keep_log = False  # set when a failed test printed from this log; otherwise it is deleted at stop

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self) -> "ServerProcess":
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probing it and the server binding it
            self.port = self.fixed_port or _free_port()
            cmd = _server_command(self.port, self.loops) + self.args
            self._log = tempfile.NamedTemporaryFile(prefix=f"sio-{self.name}-", suffix=".log", delete=False)
            self.log_path = self._log.name
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            _live.append(self)
            if self._wait_ready():
                return self
            last_error = f"{shlex.join(cmd)} did not accept connections on port {self.port}"
            self.stop()
        raise RuntimeError(f"{last_error} within {START_TIMEOUT} s\n--- server log ---\n{self.log_text()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self._log:
            self._log.close()
            if not self.keep_log:
                try:
                    os.unlink(self.log_path)
                except OSError:
                    pass
        if self in _live:
            _live.remove(self)

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    # -- inspection ----------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def host(self) -> str:
        return HOST

    @property
    def pid(self) -> int:
        return self.proc.pid

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name} {self.url} pid {self.proc.pid if self.proc else None}>"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def returncode(self):
        return None if self.proc is None else self.proc.poll()

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_text(self, since: int = 0, limit: int = 30_000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                data = f.read()
        except OSError as e:
            return f"(no log: {e})"
        if len(data) > limit:
            data = b"[... %d bytes cut ...]\n" % (len(data) - limit) + data[-limit:]
        return data.decode("utf-8", "replace")

    def rss_kib(self) -> int:
        """VmRSS of the server process, in KiB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS line")


@atexit.register
def _kill_leftovers() -> None:
    for srv in list(_live):
        srv.stop()


# ---------------------------------------------------------------------------------------------------------------
# fixtures


@contextlib.contextmanager
def watching(request, srv: ServerProcess, what: str):
    """For fixtures over a longer-lived process (e.g. module-scoped): restarts it if an earlier test killed it,
    adds its log to this test's failure report, and fails the test if the process dies during it."""
    if not srv.alive():
        srv.restart()
    _watch(request, srv, what)
    since = srv.log_size()
    yield srv
    _assert_survived(srv, since)


@pytest.fixture(scope="session")
def _session_server():
    srv = ServerProcess("session").start()
    yield srv
    srv.stop()


def _watch(request, srv: ServerProcess, what: str):
    """Marks the log position for the failure report, and fails the test if the server died during it."""
    request.node._sio_servers = getattr(request.node, "_sio_servers", []) + [(what, srv, srv.log_size())]


def _assert_survived(srv: ServerProcess, since: int) -> None:
    if not srv.alive():
        pytest.fail(f"the server process exited during this test (exit status {srv.returncode()})\n"
                    f"--- server log ---\n{srv.log_text(since)}", pytrace=False)


@pytest.fixture
def server(request, _session_server):
    """The shared server (session-scoped process). Fails the test if the process dies during it."""
    if not _session_server.alive():
        _session_server.restart()  # an earlier test killed it; that test has already failed
    _watch(request, _session_server, "shared server")
    since = _session_server.log_size()
    yield _session_server
    _assert_survived(_session_server, since)


@pytest.fixture
def fresh_server(request):
    """A server process of this test's own, stopped afterwards."""
    srv = ServerProcess(request.node.name[:40].replace("/", "_")).start()
    _watch(request, srv, "own server")
    try:
        yield srv
        _assert_survived(srv, 0)
    finally:
        srv.stop()


@pytest.fixture
def server_factory(request):
    """`start(loops=None, name=None, args=())` starts a server process of this test's own (`loops` and `args` as
    ServerProcess takes them); every one is watched like `fresh_server` (unless the test set `exit_expected`) and
    stopped afterwards."""
    started: list[ServerProcess] = []

    def start(loops: int | str | None = None, name: str | None = None, args=()) -> ServerProcess:
        label = name or request.node.name[:40].replace("/", "_")
        srv = ServerProcess(label, loops=loops, args=args).start()
        started.append(srv)
        _watch(request, srv, f"own server {len(started)} (loops {loops})")
        return srv

    try:
        yield start
        for srv in started:
            if not srv.exit_expected:
                _assert_survived(srv, 0)
    finally:
        for srv in started:
            srv.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        for what, srv, since in getattr(item, "_sio_servers", []):
            srv.keep_log = True
            text = srv.log_text(since)
            report.sections.append((f"{what} log ({srv.log_path}) [{report.when}]", text or "(empty)"))
    return report
