"""A server inside the host's own libuv loop (sio_server_create_on_loop, 0.4.0): host_loop.c runs its loop and, on
it, its own timer and TCP line protocol beside the engine, driven here by real python-socketio clients and a TCP
socket. Every callback of both kinds runs on the host loop's thread (host_loop.c prints FAIL otherwise); the host's
timer and TCP callbacks call into the API; the engine's own timers (pings) run on the host loop; the shutdown,
destroying the server on the loop thread or from another thread, leaves nothing on the loop (uv_loop_close returns
0) and no thread behind. The same under valgrind. And examples/c/host_loop_chat.c with its baseline
host_loop_chat_threaded.c (the server on a thread of its own), both built by `make examples`, behave the same."""

from __future__ import annotations

import signal
import socket
import time
import urllib.request

import pytest

from test_c_abi import (C_FLAGS, HERE, HOST, STOP_REASONS, Peer, Program, chat_server, free_port,  # noqa: F401
                        installed, run, toolchain, valgrind_prefix, valgrind_report)

pytestmark = pytest.mark.timeout(60)
MODES = ["inside", "thread"]


@pytest.fixture(scope="module")
def host_program(installed, tmp_path_factory):
    out = tmp_path_factory.mktemp("hostbin") / "host_loop"
    cflags = installed.pkg_config("--cflags")
    libs = installed.pkg_config("--libs")
    run(["cc", *C_FLAGS, "-g", *cflags, "-o", out, HERE / "host_loop.c", *libs, "-luv", "-lpthread"],
        env=installed.env)
    return out


class Host:
    """host_loop running, its Socket.IO URL and a connection to its TCP line protocol."""

    def __init__(self, program, installed, mode: str, ping_ms: int = 300, prefix=()):
        self.sio_port, self.tcp_port = free_port(), free_port()
        self.program = Program([program, self.sio_port, self.tcp_port, mode, ping_ms], installed.env, prefix=prefix)
        self.program.wait_line(rf"^READY {self.sio_port} {mode}$", timeout=60 if prefix else 10)
        self.url = f"http://{HOST}:{self.sio_port}"
        self.tcp = socket.create_connection((HOST, self.tcp_port), timeout=30)
        self.lines = self.tcp.makefile("r")

    def say(self, command: str) -> str:
        self.tcp.sendall(command.encode() + b"\n")
        return self.lines.readline().rstrip("\n")

    def ended(self, timeout: float = 10) -> int:
        rc = self.program.wait_exit(timeout)
        self.tcp.close()
        return rc


def peers(url: str) -> list[Peer]:
    handlers = {"question": lambda q: f"answer to {q}"}
    return [Peer(url, auth=None, transports=["websocket"], handlers=handlers),
            Peer(url, auth=None, transports=["polling"], handlers=handlers)]


def exchange(host: Host, clients: list[Peer], timeout: float = 10) -> None:
    """The traffic both ways: the engine's events and acks, the host's timer and TCP calling into the API."""
    a, b = clients
    assert a.call("echo", "x", {"n": 1}, timeout=timeout) == ("x", {"n": 1})
    assert b.call("later", timeout=timeout) == "later"  # acknowledged from a host timer made in the callback
    assert host.say("tick") == "ticking"  # the host's ticker broadcasts from its timer callback, 25 times
    for peer in clients:
        assert [peer.expect("tick", timeout)[0] for _ in range(25)] == list(range(1, 26))
    assert host.say("say héllo") == "ok héllo"  # a broadcast from the host's TCP read callback
    assert a.expect("said", timeout) == ("héllo",) and b.expect("said", timeout) == ("héllo",)
    assert host.say("ask") == 'answer SIO_OK ["answer to q"]'  # emit with ack from a TCP callback
    assert host.say("ticks") == "ticks 25" and a.call("ticks", timeout=timeout) == 25


def shut_down(host: Host, clients: list[Peer], mode: str, timeout: float = 10) -> None:
    assert host.say("quit") == f"bye {mode}"
    for peer in clients:
        peer.expect_disconnect(timeout)
    assert host.ended(timeout) == 0, host.program.output()
    out = host.program
    assert not out.matching(r"^FAIL"), out.output()
    assert len(out.matching(r"^DISCONNECT \S+ server shutting down$")) == len(clients), out.output()
    assert out.matching(r"^LOOP CLOSED 0$"), out.output()  # nothing of the library left on the host's loop
    assert out.matching(r"^THREADS 1$"), out.output()  # no thread of the library's, ever
    assert out.matching(r"^DATA ok$"), out.output()


@pytest.mark.parametrize("mode", MODES)
def test_the_host_loop_serves_its_own_timers_and_tcp_beside_the_engine(host_program, installed, mode):
    host = Host(host_program, installed, mode)
    clients = peers(host.url)
    try:
        exchange(host, clients)
        time.sleep(1.0)  # 3 ping intervals: the engine's heartbeat timers run on the host loop, the clients stay
        assert all(peer.sio.connected for peer in clients)
        assert clients[0].call("echo", 1) == 1
        shut_down(host, clients, mode)
    finally:
        for peer in clients:
            peer.close()
        host.program.kill()


def test_a_call_after_the_host_loop_idled_keeps_its_whole_timeout(host_program, installed):
    """The engine's loop has no turn while the host loop idles (pings every 25 s here): a call made from a host
    callback afterwards must count its timeout from now, not from the engine's last turn."""
    host = Host(host_program, installed, "inside", ping_ms=25000)
    clients = peers(host.url)
    try:
        assert host.say("tick") == "ticking"
        for peer in clients:
            assert [peer.expect("tick")[0] for _ in range(25)] == list(range(1, 26))
        time.sleep(3.0)  # > the 2 s timeout of "ask"
        assert host.say("ask") == 'answer SIO_OK ["answer to q"]'
        shut_down(host, clients, "inside")
    finally:
        for peer in clients:
            peer.close()
        host.program.kill()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("mode", MODES)
def test_valgrind_host_loop(host_program, installed, tmp_path, mode):
    log = tmp_path / "valgrind.log"
    host = Host(host_program, installed, mode, ping_ms=2000, prefix=valgrind_prefix(log))
    clients = peers(host.url)
    try:
        exchange(host, clients, timeout=30)
        shut_down(host, clients, mode, timeout=60)
        report = valgrind_report(log)
        assert "ERROR SUMMARY: 0 errors" in report, report
    finally:
        for peer in clients:
            peer.close()
        host.program.kill()


@pytest.mark.parametrize("name", ["host_loop_chat", "host_loop_chat_threaded"])
def test_the_host_loop_chat_example_and_its_threaded_baseline(chat_server, installed, name):
    port = free_port()
    chat = Program([chat_server.parent / name, "--host", HOST, "--port", port, "--roll-call", "1"], installed.env)
    try:
        chat.wait_line(rf"^listening on \*:{port}$")
        url = f"http://{HOST}:{port}"
        with urllib.request.urlopen(f"{url}/", timeout=5) as response:
            assert "socket.emit('chat message'" in response.read().decode()
        here = Peer(url, auth=None, handlers={"roll call": lambda: "here"})
        away = Peer(url, auth=None, transports=["polling"], handlers={"roll call": lambda: time.sleep(3)})
        here.emit("chat message", "hi ✓")
        assert here.expect("chat message") == ("hi ✓",) and away.expect("chat message") == ("hi ✓",)
        # The host's timer asks everyone each second; the one that answers after 3 s misses the 2 s timeout.
        deadline = time.monotonic() + 15
        while here.expect("chat message", 10) != ("[server] 1 of 2 here",):
            assert time.monotonic() < deadline, "no roll call with both users"
        chat.proc.send_signal(signal.SIGINT)
        for peer in (here, away):
            assert peer.expect_disconnect() in STOP_REASONS
        assert chat.wait_exit(10) == 0, chat.output()
        assert chat.matching(r"^signal 2: stopping$")
    finally:
        chat.kill()
