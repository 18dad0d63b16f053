"""A peer's reset must never kill the host (issue 17): a plain C host that does not touch SIGPIPE, under a flood of
peers that go away with unread data while the server is writing to them. libsio ignores SIGPIPE when it is at its
default (checked in the host's /proc status, since the kernel only raises it in a narrow race: libuv closes on the
first ECONNRESET, and EPIPE comes only on a later write), and leaves a handler the host installed alone."""

from __future__ import annotations

import base64
import os
import signal
import socket
import struct
import subprocess
import time

import pytest

from test_c_abi import C_FLAGS, HERE, installed, run, toolchain  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def host(installed, tmp_path_factory):  # noqa: F811
    binary = tmp_path_factory.mktemp("sigpipe") / "sigpipe_host"
    run(["cc", *C_FLAGS, *installed.pkg_config("--cflags"), "-o", binary, HERE / "sigpipe_host.c",
         *installed.pkg_config("--libs"), "-lpthread"], env=installed.env)
    return binary, installed.env


def start(host, *extra):
    binary, env = host
    proc = subprocess.Popen([str(binary), "0", *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    assert line.startswith("listening"), (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, int(line.split()[1])


def reset_after_connecting(port: int, abort: bool) -> None:
    """A WebSocket session that joins `/` (so the server starts writing 2.6 MB to it) and then goes away with its
    receive queue full: with an RST (`abort`), or with a FIN, after which the server's next writes meet the RST
    the peer's kernel answers with (EPIPE: SIGPIPE)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    sock.recv(4096)  # 101 and maybe the open packet
    mask = os.urandom(4)
    payload = b"40"
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    time.sleep(0.02)  # let the burst start
    if abort:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def flood(port: int, peers: int = 150) -> None:
    for n in range(peers):
        try:
            reset_after_connecting(port, abort=n % 2 == 0)
        except OSError:
            return  # the server is gone (the control run)


def test_peers_resetting_with_unread_data_do_not_kill_the_host(host):
    proc, port = start(host)
    try:
        flood(port)
        time.sleep(0.5)
        assert proc.poll() is None, f"the host died: exit {proc.returncode}, stderr {proc.stderr.read()!r}"
        # Still serving.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(f"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def signal_masks(pid: int) -> dict[str, int]:
    """SigIgn / SigCgt of a process, as bit masks (bit n-1 for signal n)."""
    masks = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("SigIgn", "SigCgt"):
                masks[name] = int(value.strip(), 16)
    return masks


SIGPIPE_BIT = 1 << (signal.SIGPIPE - 1)


def test_sigpipe_is_ignored_once_a_server_exists(host):
    proc, _ = start(host)
    try:
        masks = signal_masks(proc.pid)
        assert masks["SigIgn"] & SIGPIPE_BIT, masks
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_a_handler_of_the_host_is_left_alone(host):
    proc, port = start(host, "--own-handler")
    try:
        masks = signal_masks(proc.pid)
        assert masks["SigCgt"] & SIGPIPE_BIT and not masks["SigIgn"] & SIGPIPE_BIT, masks
        flood(port, peers=40)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
