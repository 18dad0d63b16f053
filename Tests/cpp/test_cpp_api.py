"""The C++ API (Include/sio.hpp over Include/sio.h + libsio.so) as a C++ program sees it.

Like Tests/c: `make install PREFIX=<tmp>` from the library in $SIO_LIB_DIR (default build/lib), plus sio.hpp copied
beside the installed sio.h (header-only: nothing else to install); C++ programs are compiled against that copy with
`c++ -std=c++17 -Wall -Wextra -Werror -pedantic $(pkg-config --cflags --libs sio)` and run with
LD_LIBRARY_PATH=<tmp>/lib:

- the header alone compiles warning-free (g++ and clang++, C++17 and C++20, extra warnings too) and calls only
  functions sio.h declares (no new exports);
- api_server.cpp, compiled with -fsanitize=address,undefined, driven by the real python-socketio client against 1 and
  2 loops (clients placed on different loops): offline checks (options, errors, moves, bad arguments), middleware
  refusals with data (also decided on another thread, dropped, throwing), acks both ways with timeouts, binary
  attachments, rooms and broadcasts (with acks, selections, fetch_sockets), exceptions on bad arguments and wrong
  threads, posts, handler exceptions, HTTP hooks, stale handles, and the four ways a server ends (stop + wait,
  destroyed with clients connected, run() returning, destroyed from inside its own handler), each freeing every
  handler (CANARIES 0) with no sanitizer report;
- examples/cpp/chat_server.cpp built with `make examples-cpp`: the tutorial's chat relays between clients, 1 and 2
  loops, and stops on SIGINT / SIGTERM.

Run: .venv/bin/pytest Tests/cpp   (or `make check-cpp`). Needs make, c++ (g++), pkg-config; clang++ is used when
present. Loopback only.
"""

from __future__ import annotations

import os
import pathlib
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
import socketio

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
INCLUDE_DIR = ROOT / "Include"
HEADER = INCLUDE_DIR / "sio.h"
CPP_HEADER = INCLUDE_DIR / "sio.hpp"
LIB_DIR = pathlib.Path(os.environ.get("SIO_LIB_DIR") or ROOT / "build" / "lib").resolve()
HOST = "127.0.0.1"
CXX_FLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
LSAN_SUPPRESSIONS = HERE / "lsan.supp"  # one library leak with several loops: see the file
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=97",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    "LSAN_OPTIONS": f"suppressions={LSAN_SUPPRESSIONS}:print_suppressions=0",
}
SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehavior")
TOKEN = {"token": "secret"}
STOP_REASONS = (socketio.Client.reason.SERVER_DISCONNECT, socketio.Client.reason.TRANSPORT_ERROR)
LOOPS = [1, 2]
LOOP_IDS = ["1loop", "2loops"]

pytestmark = pytest.mark.timeout(90)


def header_define(name: str) -> str:
    match = re.search(rf"^#define {name} (.+)$", HEADER.read_text(), re.M)
    assert match, f"{name} not in {HEADER}"
    return match.group(1).strip().strip('"')


VERSION = header_define("SIO_VERSION_STRING")


def run(cmd, *, env=None, cwd=None, timeout=900) -> subprocess.CompletedProcess:
    """Runs a command; fails the test with its output when it fails."""
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    return proc


# ---- building -------------------------------------------------------------------------------------------------------


class Installed:
    """A `make install PREFIX=...` tree (plus sio.hpp) and the environment to build and run against it."""

    def __init__(self, prefix: pathlib.Path):
        self.prefix = prefix
        self.env = dict(os.environ)
        self.env.pop("PKG_CONFIG_LIBDIR", None)
        self.env["PKG_CONFIG_PATH"] = str(prefix / "lib" / "pkgconfig")
        self.env["LD_LIBRARY_PATH"] = str(prefix / "lib")

    def pkg_config(self, *args: str) -> list[str]:
        return run(["pkg-config", *args, "sio"], env=self.env).stdout.split()


@pytest.fixture(scope="session")
def toolchain():
    missing = [tool for tool in ("make", "c++", "g++", "pkg-config", "nm") if not shutil.which(tool)]
    if missing:
        pytest.fail(f"missing tools: {', '.join(missing)}", pytrace=False)
    if not (LIB_DIR / f"libsio.so.{VERSION}").is_file():
        pytest.fail(f"{LIB_DIR}/libsio.so.{VERSION} not found: run `make lib` or set SIO_LIB_DIR", pytrace=False)


@pytest.fixture(scope="session")
def installed(toolchain, tmp_path_factory) -> Installed:
    prefix = tmp_path_factory.mktemp("prefix")
    run(["make", "-C", ROOT, "install", f"PREFIX={prefix}", f"SIO_LIB_DIR={LIB_DIR}"])
    shutil.copy(CPP_HEADER, prefix / "include" / "sio.hpp")
    return Installed(prefix)


@pytest.fixture(scope="session")
def api_server(installed, tmp_path_factory) -> pathlib.Path:
    """api_server.cpp with ASan and UBSan, against the installed copy through pkg-config."""
    binary = tmp_path_factory.mktemp("bin") / "api_server"
    run(["g++", *CXX_FLAGS, *SANITIZE, "-g", "-O1", *installed.pkg_config("--cflags"), "-o", binary,
         HERE / "api_server.cpp", *installed.pkg_config("--libs"), "-lpthread"], env=installed.env)
    return binary


# ---- processes and clients ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Program:
    """A program whose stdout and stderr lines are collected as they come."""

    def __init__(self, argv, env):
        self.argv = [str(a) for a in argv]
        self.proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.errors: list[str] = []
        self.cond = threading.Condition()
        self.readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                        for stream, into in ((self.proc.stdout, self.lines), (self.proc.stderr, self.errors))]
        for reader in self.readers:
            reader.start()

    def _read(self, stream, into):
        for line in stream:
            with self.cond:
                into.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def output(self) -> str:
        with self.cond:
            return "\n".join(["--- stdout", *self.lines[-300:], "--- stderr", *self.errors[-300:]])

    def wait_line(self, pattern: str, timeout: float = 10.0) -> re.Match:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if m := regex.search(line):
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or not any(reader.is_alive() for reader in self.readers):
                    break
                self.cond.wait(min(left, 0.2))
        pytest.fail(f"no line matching {pattern!r} from {shlex.join(self.argv)}\n{self.output()}", pytrace=False)

    def matching(self, pattern: str) -> list[re.Match]:
        regex = re.compile(pattern)
        with self.cond:
            return [m for line in self.lines if (m := regex.search(line))]

    def wait_exit(self, timeout: float) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{shlex.join(self.argv)} did not exit within {timeout} s\n{self.output()}", pytrace=False)
        for reader in self.readers:
            reader.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


class Peer:
    """A python-socketio client; events it receives queue up for `expect`."""

    def __init__(self, url: str, *, auth=TOKEN, namespace="/", transports=None, headers=None, handlers=None,
                 connect=True):
        self.url, self.auth, self.namespace, self.transports, self.headers = url, auth, namespace, transports, headers
        self.sio = socketio.Client(reconnection=False)
        self.events: queue.Queue = queue.Queue()
        self.backlog: list[tuple[str, tuple]] = []
        self.disconnects: queue.Queue = queue.Queue()
        self.connect_errors: queue.Queue = queue.Queue()
        for event, fn in (handlers or {}).items():
            self.sio.on(event, fn, namespace=namespace)
        self.sio.on("*", lambda event, *args: self.events.put((event, args)), namespace=namespace)
        self.sio.on("disconnect", lambda reason=None: self.disconnects.put(reason), namespace=namespace)
        self.sio.on("connect_error", lambda data=None: self.connect_errors.put(data), namespace=namespace)
        if connect:
            self.connect()

    def connect(self):
        self.sio.connect(self.url, auth=self.auth, namespaces=[self.namespace], transports=self.transports,
                         headers=self.headers or {}, wait_timeout=10)

    @property
    def sid(self) -> str:
        return self.sio.get_sid(self.namespace)

    def emit(self, event, *args, callback=None):
        self.sio.emit(event, args, namespace=self.namespace, callback=callback)

    def leave(self):
        """Sends DISCONNECT for the namespace and leaves the connection open for the client's write loop to deliver
        it: python-engineio's disconnect() can end that loop before DISCONNECT went out (a client race), and the
        server then sees the transport close instead of the client's disconnect."""
        self.sio._send_packet(self.sio.packet_class(socketio.packet.DISCONNECT, namespace=self.namespace))

    def call(self, event, *args, timeout=10):
        return self.sio.call(event, args, namespace=self.namespace, timeout=timeout)

    def expect(self, event: str, timeout: float = 10.0) -> tuple:
        """The arguments of the next `event` (other events stay queued, in order)."""
        for i, (name, args) in enumerate(self.backlog):
            if name == event:
                del self.backlog[i]
                return args
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                name, args = self.events.get(timeout=max(left, 0.001))
            except queue.Empty:
                pytest.fail(f"no {event!r} within {timeout} s; got {self.backlog}", pytrace=False)
            if name == event:
                return args
            self.backlog.append((name, args))

    def expect_none(self, event: str, wait: float = 0.3):
        time.sleep(wait)
        while not self.events.empty():
            self.backlog.append(self.events.get_nowait())
        assert event not in [name for name, _ in self.backlog], f"unexpected {event!r}: {self.backlog}"

    def expect_disconnect(self, timeout: float = 10.0):
        try:
            return self.disconnects.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no disconnect within {timeout} s", pytrace=False)

    def close(self):
        try:
            self.sio.disconnect()
        except Exception:  # already gone
            pass


class Clients:
    """Creates peers for a test and disconnects them all at the end. With a 2-loop server the n-th peer is placed on
    loop n % 2 (it reconnects until the server's CONNECT line names that loop), so every test spans the loops."""

    def __init__(self, server: Program):
        self.server = server
        self.peers: list[Peer] = []

    def __call__(self, **kwargs) -> Peer:
        url = self.server.url + kwargs.pop("query", "")
        want = len(self.peers) % self.server.loops
        for _attempt in range(60):
            peer = Peer(url, connect=False, **kwargs)
            self.peers.append(peer)
            peer.connect()
            peer.id = peer.sid
            line = self.server.wait_line(rf"^CONNECT {re.escape(peer.namespace)} {re.escape(peer.id)} loop=(\d+)$")
            peer.loop = int(line.group(1))
            if self.server.loops == 1 or peer.loop == want:
                return peer
            self.peers.remove(peer)
            peer.close()
        pytest.fail(f"no connection landed on loop {want} in 60 attempts", pytrace=False)

    def close(self):
        for peer in self.peers:
            peer.close()


def start_server(binary, installed, loops: int, mode: str = "stop") -> Program:
    env = {**installed.env, **SANITIZER_ENV}
    for _ in range(3):  # the port can be taken between probing and binding: api_server then exits 3
        port = free_port()
        server = Program([binary, port, loops, mode], env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not server.matching(r"^LISTENING ") and server.proc.poll() is None:
            time.sleep(0.02)
        if server.matching(rf"^LISTENING {port}$"):
            server.port, server.url = port, f"http://{HOST}:{port}"
            server.loops = int(server.wait_line(r"^LOOPS (\d+)$").group(1))
            assert server.loops == loops, server.output()
            assert server.matching(r"^OFFLINE failures=0 canaries=0$"), server.output()
            # sio::set_log_handler got the engine's line about the refused address (LogLevel::error is 0).
            assert server.matching(r"^LOG 0 sio: listen on not-an-ip:0"), server.output()
            return server
        server.kill()
        if server.proc.returncode != 3:
            break
    pytest.fail(f"api_server did not start\n{server.output()}", pytrace=False)


def assert_clean_exit(server: Program, timeout: float = 20.0):
    """Exit 0 with EXIT 0, no FAIL line, every handler freed, and nothing from the sanitizers."""
    rc = server.wait_exit(timeout)
    out = server.output()
    assert not server.matching(r"^FAIL"), out
    assert not [line for line in server.errors if SANITIZER_REPORT.search(line)], out
    assert rc == 0, f"exit status {rc} (97: a sanitizer report)\n{out}"
    assert server.matching(r"^CANARIES 0$") and server.matching(r"^EXIT 0$"), out


@pytest.fixture(params=LOOPS, ids=LOOP_IDS)
def loops(request) -> int:
    return request.param


@pytest.fixture
def server(api_server, installed, loops):
    """api_server (mode "stop") on a free port; at the end SIGTERM stops it and it must exit cleanly."""
    srv = start_server(api_server, installed, loops)
    yield srv
    if srv.proc.poll() is None:
        srv.proc.send_signal(signal.SIGTERM)
    try:
        assert_clean_exit(srv)
    finally:
        srv.kill()


@pytest.fixture
def clients(server):
    made = Clients(server)
    yield made
    made.close()


# ---- the header -----------------------------------------------------------------------------------------------------


def compilers() -> list[str]:
    return [cxx for cxx in ("g++", "clang++") if shutil.which(cxx)]


@pytest.mark.parametrize("std", ["c++17", "c++20"])
@pytest.mark.parametrize("cxx", compilers())
def test_header_compiles_warning_free(installed, tmp_path, cxx, std):
    """With the brief's flags and more; in two translation units linked together (header-only: no ODR clash)."""
    main = tmp_path / "main.cpp"
    main.write_text("#include <sio.hpp>\nstd::string other();\n"
                    "int main() { return sio::library_compatible() && other() == \"\\\"x\\\"\" ? 0 : 1; }\n")
    other = tmp_path / "other.cpp"
    other.write_text("#include <sio.hpp>\nstd::string other() { sio::Options o; o.loops(1); "
                     "return sio::json_string(\"x\"); }\n")
    extra = ["-Wshadow", "-Wconversion", "-Wsign-conversion", "-Wold-style-cast", "-Wnon-virtual-dtor",
             "-Wzero-as-null-pointer-constant"]
    run([cxx, f"-std={std}", *CXX_FLAGS[1:], *extra, *installed.pkg_config("--cflags"), "-o", tmp_path / "a.out",
         main, other, *installed.pkg_config("--libs"), "-lpthread"], env=installed.env)
    run([tmp_path / "a.out"], env=installed.env)


@pytest.mark.parametrize("cxx", compilers())
def test_programs_compile_warning_free(installed, cxx):
    """api_server.cpp and the example with each compiler (the tests run g++ builds; clang warns about more)."""
    for source in (HERE / "api_server.cpp", ROOT / "examples" / "cpp" / "chat_server.cpp"):
        run([cxx, *CXX_FLAGS, "-fsyntax-only", *installed.pkg_config("--cflags"), source], env=installed.env)


def test_header_calls_only_functions_of_sio_h():
    """Header-only over the C ABI: every sio_* function sio.hpp calls is one sio.h declares (nothing new to export),
    and sio.hpp declares no function of its own with C linkage."""
    pre = run(["cc", "-E", "-P", "-x", "c", HEADER]).stdout
    declared = set(re.findall(r"(?<!\(\*)\b(sio_[a-z0-9_]+)\s*\(", pre))
    text = CPP_HEADER.read_text()
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)
    called = set(re.findall(r"\b(sio_[a-z0-9_]+)\s*\(", code))
    assert called and called - declared == set()
    assert 'extern "C"' not in code


def test_every_option_has_a_setter():
    keys = set(re.findall(r"\b(SIO_OPT_[A-Z_]+)\s*=", HEADER.read_text()))
    used = set(re.findall(r"\b(SIO_OPT_[A-Z_]+)\b", re.sub(r"/\*.*?\*/", "", CPP_HEADER.read_text(), flags=re.S)))
    assert keys and keys - used == set()


def test_library_frees_a_multi_loop_server(installed, tmp_path):
    """A Server with 2 loops, created and destroyed, under LeakSanitizer without suppressions (the servers of the
    loops once held each other and leaked)."""
    source = tmp_path / "two_loops.cpp"
    source.write_text("#include <sio.hpp>\nint main() { sio::Server s(sio::Options().loops(2)); }\n")
    run(["g++", *CXX_FLAGS, *SANITIZE, "-g", *installed.pkg_config("--cflags"), "-o", tmp_path / "two_loops", source,
         *installed.pkg_config("--libs"), "-lpthread"], env=installed.env)
    env = {**installed.env, **SANITIZER_ENV}
    env.pop("LSAN_OPTIONS")
    proc = subprocess.run([str(tmp_path / "two_loops")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "LeakSanitizer" not in proc.stderr, proc.stderr[-3000:]


# ---- api_server with python-socketio --------------------------------------------------------------------------------


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]], ids=["polling", "websocket"])
def test_echo_text_and_binary(clients, transports):
    peer = clients(transports=transports)
    peer.emit("echo", "hello", {"n": 1, "list": [1, 2.5, None, True]}, "ünïcødé ✓")
    assert peer.expect("echo") == ("hello", {"n": 1, "list": [1, 2.5, None, True]}, "ünïcødé ✓")
    blob = bytes(range(256)) * 400
    peer.emit("echo", b"\x00\x01\xff", {"nested": [b"abc", b""], "text": "t"}, blob)
    assert peer.expect("echo") == (b"\x00\x01\xff", {"nested": [b"abc", b""], "text": "t"}, blob)
    peer.emit("echo")
    assert peer.expect("echo") == ()


def test_client_acks(clients):
    peer = clients()
    assert peer.call("ack", "a", 1, {"k": [True, None]}) == ("a", 1, {"k": [True, None]})
    assert peer.call("ack", "x", b"\xde\xad\xbe\xef") == ("x", b"\xde\xad\xbe\xef")
    assert peer.call("ack") is None


def test_server_asks_with_reply_and_timeout(clients):
    def slow(*args):
        time.sleep(1.0)
        return "late"

    peer = clients(handlers={"question": lambda *args: ("yes", list(args)), "slow": slow})
    peer.emit("ask", 5000, "question")
    assert peer.expect("answer") == ({"status": "SIO_OK", "reply": ["yes", ["question"]]},)
    peer.emit("ask", 200, "slow")
    assert peer.expect("answer") == ({"status": "SIO_ETIMEOUT", "reply": None},)


def test_binary_attachments_made_in_cpp(clients):
    peer = clients()
    assert peer.call("bin") == (b"\x01\x02\x03", "mid", b"\x00\xff")
    assert peer.expect("bin") == (bytes((i * 7) & 0xFF for i in range(100000)),)


def test_rooms_and_broadcasts(clients, server):
    a, b, c = clients(), clients(), clients()
    assert a.call("join", "room-1") == sorted([a.id, "room-1"])
    assert b.call("join", "room-1") == sorted([b.id, "room-1"])
    assert b.call("join", "room-x") == sorted([b.id, "room-1", "room-x"])
    a.emit("to_room", "room-1", "hi", b"\x01")
    assert a.expect("room message") == ("room-1", "hi", b"\x01")
    assert b.expect("room message") == ("room-1", "hi", b"\x01")
    c.expect_none("room message")
    a.emit("to_room_except", "room-1", "room-x", b"\x02")
    assert a.expect("room message") == ("room-1", "room-x", b"\x02")
    b.expect_none("room message")
    assert b.call("leave", "room-1") == sorted([b.id, "room-x"])
    server.wait_line(rf"^ROOM created room-1$")
    server.wait_line(rf"^ROOM joined room-1 {re.escape(a.id)}$")
    server.wait_line(rf"^ROOM left room-1 {re.escape(b.id)}$")
    # Selections: the sockets of room-1 (a) join room-2, listed by fetch_sockets; then leave it again.
    fetched = a.call("pull", "room-1", "room-2")
    assert [s["id"] for s in fetched] == [a.id] and "room-2" in fetched[0]["rooms"]
    assert a.call("unpull", "room-1", "room-2") is True
    assert a.call("info")["rooms"] == sorted([a.id, "room-1"])
    # disconnect_sockets on a room.
    assert c.call("join", "room-k") == sorted([c.id, "room-k"])
    a.emit("kick_room", "room-k")
    assert c.expect_disconnect() == socketio.Client.reason.SERVER_DISCONNECT
    server.wait_line(rf"^DISCONNECTING {re.escape(c.id)} .*room-k.* server namespace disconnect$")
    server.wait_line(rf"^DISCONNECT / {re.escape(c.id)} server namespace disconnect$")


def test_broadcast_with_acks_and_timeout(clients):
    def late(*args):
        time.sleep(1.5)
        return "pb"

    a = clients(handlers={"poll": lambda *args: "pa"})
    b = clients(handlers={"poll": late})
    c = clients(handlers={"poll": lambda *args: "pc"})
    for peer in (a, b, c):
        peer.call("join", "room-p")
    timed_out = a.call("ask_room", "room-p", 500)
    assert timed_out["status"] == "SIO_ETIMEOUT" and sorted(timed_out["replies"]) == [["pa"], ["pc"]]
    b.call("leave", "room-p", timeout=15)
    answered = a.call("ask_room", "room-p", 5000)
    assert answered["status"] == "SIO_OK" and sorted(answered["replies"]) == [["pa"], ["pc"]]


def test_middleware_refusal_with_data(clients, server):
    refused = Peer(server.url, auth={"token": "bad"}, connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        refused.connect()
    assert refused.connect_errors.get(timeout=5) == {"message": "not authorized", "data": {"code": 401}}
    server.wait_line(r"^REFUSED /$")
    # Decided on another thread, both ways.
    deferred = Peer(server.url, auth={"token": "nope"}, namespace="/deferred", connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        deferred.connect()
    assert deferred.connect_errors.get(timeout=5) == {"message": "deferred refusal", "data": {"code": 403}}
    ok = clients(namespace="/deferred")
    ok.emit("kick")
    assert ok.expect_disconnect() == socketio.Client.reason.SERVER_DISCONNECT
    # A middleware that drops its Next refuses; one that throws refuses with "server error" and is reported.
    dropped = Peer(server.url, namespace="/dropped", connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        dropped.connect()
    assert dropped.connect_errors.get(timeout=5)["message"] == "middleware did not decide"
    throws = Peer(server.url, namespace="/throws", connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        throws.connect()
    assert throws.connect_errors.get(timeout=5)["message"] == "server error"
    server.wait_line(r"^EXCEPTION middleware: middleware failed$")


def test_socket_getters_and_data(clients, server):
    peer = clients(query="?q=hello", headers={"X-Test": "yes"}, transports=["websocket"])
    peer.emit("echo", 1)
    peer.expect("echo")
    info = peer.call("info")
    assert info["id"] == peer.id and info["ns"] == "/" and info["auth"] == TOKEN
    assert info["query"] == "hello" and info["missing_query"] is False and info["header"] == "yes"
    assert info["address"] == HOST and info["transport"] == "websocket"
    assert info["connected"] is True and info["recovered"] is False and info["loop"] == peer.loop
    assert info["tier"] == "vip"  # sio::Socket::data() set in the middleware
    assert info["events"] == 2  # on_any counted "echo" and "info" before their handlers ran
    assert info["handshake_has_url"] is True and info["rooms"] == [peer.id]
    assert peer.call("early") == "early"  # registered by the middleware, before the socket was in


def test_exceptions_on_bad_arguments(clients, server):
    peer = clients()
    assert peer.call("misuse") == 0  # failures among the checks (each a FAIL line otherwise)
    assert peer.expect("misuse done") == (0,)


def test_thread_rules_and_posts(clients):
    peer = clients()
    peer.emit("thread")
    assert peer.expect("from thread") == (1,)
    (rooms,) = peer.expect("posted")
    assert sorted(rooms) == sorted([peer.id, "posted-room"])
    assert peer.expect("server posted") == (True,)


def test_handler_exception_is_reported_and_the_socket_lives_on(clients, server):
    peer = clients()
    peer.emit("throw")
    server.wait_line(r'^EXCEPTION event "throw" handler: boom$')
    peer.emit("echo", "still here")
    assert peer.expect("echo") == ("still here",)


def test_disconnect_from_another_thread_and_stale_handle(clients, server):
    a, b = clients(), clients()
    b.emit("kick")
    assert b.expect_disconnect() == socketio.Client.reason.SERVER_DISCONNECT
    server.wait_line(rf"^DISCONNECT / {re.escape(b.id)} server namespace disconnect$")
    assert a.call("gone") is True


def test_http_hooks(clients, server):
    import requests

    with urllib.request.urlopen(f"{server.url}/health", timeout=5) as response:
        assert response.read() == b"ok" and response.headers["Content-Type"] == "text/plain"
    with urllib.request.urlopen(f"{server.url}/bytes", timeout=5) as response:
        assert response.status == 201 and response.read() == b"\x00\x01\x02\xff"
        assert response.headers["Content-Type"] is None
    got = requests.get(f"{server.url}/echo-header?x=1", headers={"X-Echo": "hey"}, timeout=5)
    assert got.text == "hey /echo-header?x=1"
    assert requests.get(f"{server.url}/throw", timeout=5).status_code == 500
    server.wait_line(r"^EXCEPTION HTTP handler: http handler failed$")
    base = f"{server.url}/socket.io/?EIO=4&transport=polling"
    denied = requests.get(base, headers={"X-Deny": "1"}, timeout=5)
    assert denied.status_code == 403 and denied.json() == {"code": 4, "message": "Forbidden"}
    assert requests.get(base + "&sid=nope", timeout=5).status_code == 400
    server.wait_line(r'^CONNERR 1 Session ID unknown \{"sid":"nope"\} /socket\.io/\?EIO=4&transport=polling&sid=nope$')
    server.wait_line(r"^CONNERR 4 Forbidden ")
    peer = clients()  # still serving
    assert peer.call("ack", 1) == 1


# ---- how a server ends, with clients connected ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["stop", "destroy", "run", "inside"])
def test_server_ends_with_clients_connected(api_server, installed, loops, mode):
    """stop() + wait(), the Server destroyed with clients connected, run() returning after stop(), or the Server
    destroyed from inside its own handler: every client is told, the pending server-to-client ack ends with
    SIO_ECLOSED, every handler and callback is freed (CANARIES 0), no sanitizer report, exit 0."""
    srv = start_server(api_server, installed, loops, mode)
    made = Clients(srv)
    release = threading.Event()  # the "silent" handler answers only once the test is over (too late)
    try:
        peers = [made(handlers={"silent": lambda *args: release.wait(30)}) for _ in range(2 * loops)]
        peers[0].emit("ask", 0, "silent")  # no timeout: only the end of the socket ends the wait
        peers[0].call("join", "room-end")
        time.sleep(0.3)
        peers[-1].emit("self_destruct" if mode == "inside" else "stop")
        for peer in peers:
            assert peer.expect_disconnect(15) in STOP_REASONS
        assert_clean_exit(srv, timeout=30)
        srv.wait_line(r"^ANSWER SIO_ECLOSED$")
        for peer in peers:
            srv.wait_line(rf"^DISCONNECT / {re.escape(peer.id)} server shutting down$")
        if mode == "inside":
            srv.wait_line(r"^SELF_DESTRUCT returned$")
    finally:
        release.set()
        made.close()
        srv.kill()


# ---- the example ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chat_server(installed, tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("examples")
    proc = run(["make", "-C", ROOT, "examples-cpp", f"EXAMPLES_OUT={out}"], env=installed.env)
    assert f"pkg-config ({installed.prefix})" in proc.stdout, proc.stdout
    assert "-std=c++17 -Wall -Wextra -Werror -pedantic" in proc.stdout, proc.stdout
    return out / "chat_server_cpp"


def start_chat(chat_server, installed, *args) -> tuple[Program, str]:
    for _ in range(3):
        port = free_port()
        chat = Program([chat_server, "--host", HOST, "--port", port, *args], installed.env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and chat.proc.poll() is None:
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    return chat, f"http://{HOST}:{port}"
            except OSError:
                time.sleep(0.05)
        chat.kill()
    pytest.fail("chat_server did not start", pytrace=False)


@pytest.mark.parametrize("loops", ["1", "2"], ids=["1loop", "2loops"])
def test_chat_example_relays_to_everyone(chat_server, installed, loops):
    chat, url = start_chat(chat_server, installed, "--loops", loops)
    peers: list[Peer] = []
    try:
        with urllib.request.urlopen(f"{url}/", timeout=5) as response:
            page = response.read().decode()
            assert response.headers["Content-Type"].startswith("text/html")
        for needle in ('id="messages"', 'id="form"', 'src="/socket.io/socket.io.js"', "socket.emit('chat message'",
                       "socket.on('chat message'"):
            assert needle in page
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{url}/socket.io/socket.io.js", timeout=5)
        assert err.value.code == 404
        chat.wait_line(rf"^listening on \*:\d+ \({loops} loops?\)$")
        peers = [Peer(url, auth=None), Peer(url, auth=None, transports=["polling"]), Peer(url, auth=None)]
        alice, bob, carol = peers
        alice.emit("chat message", "hi bob")
        for peer in peers:
            assert peer.expect("chat message") == ("hi bob",)
        bob.emit("chat message", "hi ✓")
        carol.emit("chat message", b"\x00bin")
        for peer in peers:
            got = sorted([peer.expect("chat message"), peer.expect("chat message")], key=repr)
            assert got == sorted([("hi ✓",), (b"\x00bin",)], key=repr)
        chat.wait_line(r"^a user connected: \S+ \(3 online\)$")
        bob.leave()
        chat.wait_line(r"^user disconnected: \S+ \(client namespace disconnect, 2 online\)$")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{url}/socket.io/?EIO=4&transport=polling&sid=forgotten", timeout=5)
        expected = 'chat_server: refused /socket.io/?EIO=4&transport=polling&sid=forgotten: 1 Session ID unknown ' \
                   '{"sid":"forgotten"}'
        deadline = time.monotonic() + 5
        while expected not in chat.errors and time.monotonic() < deadline:
            time.sleep(0.05)
        assert expected in chat.errors, chat.output()
        chat.proc.send_signal(signal.SIGINT)
        for peer in (alice, carol):
            assert peer.expect_disconnect() in STOP_REASONS
        assert chat.wait_exit(10) == 0, chat.output()
    finally:
        for peer in peers:
            peer.close()
        chat.kill()


def test_chat_example_serves_the_client_js_and_stops_on_sigterm(chat_server, installed, tmp_path):
    client_js = tmp_path / "socket.io.js"
    client_js.write_text("/* stand-in for the client bundle */\n")
    chat, url = start_chat(chat_server, installed, "--client-js", client_js, "--loops", "2")
    try:
        with urllib.request.urlopen(f"{url}/socket.io/socket.io.js", timeout=5) as response:
            assert response.read() == client_js.read_bytes()
            assert "javascript" in response.headers["Content-Type"]
        peers = [Peer(url, auth=None) for _ in range(4)]
        chat.proc.send_signal(signal.SIGTERM)
        for peer in peers:
            assert peer.expect_disconnect() in STOP_REASONS
        assert chat.wait_exit(10) == 0, chat.output()
    finally:
        chat.kill()


def test_chat_example_refuses_bad_arguments(chat_server, installed):
    for args in (["--port", "70000"], ["--loops", "65"], ["--bogus"]):
        proc = subprocess.run([str(chat_server), *args], env=installed.env, capture_output=True, text=True, timeout=10)
        assert proc.returncode == 2 and "usage:" in proc.stderr
