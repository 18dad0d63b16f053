"""Fixtures for the HTTPS / WSS tests (issue 16): test certificates made with the openssl CLI (certs.py), and
servers started with `--tls-cert/--tls-key`.

- `pki`: the certificates of the session (a root the clients trust, an intermediate the server sends, leaves);
- `tls_server`: one `sio-protocol-server` over TLS for the session (plain HTTP side by side on `plain_port`);
- `start_server(binary="sio-protocol-server", pair=pki.server, args=())`: servers of a test's own (stopped at the
  end), e.g. with `--loops 2`, an expired certificate, or certificate files the test replaces.

A `TLSServer` knows its `port`, `plain_port` (if any), `https` (https://localhost:PORT), and reads the server's
`/connection-errors` list (where failed handshakes appear as `{"tls": kind, "reason": ..., "address": ...}`).
Binaries come from $SIO_BIN_DIR (default .build/debug). Clients verify the chain against `pki.ca` only: the
environment's CA bundle variables (REQUESTS_CA_BUNDLE, ...) are ignored.
"""

from __future__ import annotations

import atexit
import json
import os
import pathlib
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import pytest
import requests

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import certs  # noqa: E402

HOST = "127.0.0.1"
NAME = "localhost"
START_TIMEOUT = 15.0

_live: list["TLSServer"] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def binary(name: str) -> str:
    bin_dir = pathlib.Path(os.environ.get("SIO_BIN_DIR") or ROOT / ".build" / "debug")
    path = bin_dir / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not found: build it (swift build) or set SIO_BIN_DIR", pytrace=False)
    return str(path)


class TLSServer:
    def __init__(self, program: str, pair: certs.Pair | None, args=(), plain: bool = True, ca: pathlib.Path | None = None,
                 env: dict[str, str] | None = None):
        self.env = env
        self.program = program
        self.pair = pair
        self.args = list(args)
        self.plain = plain and program == "sio-protocol-server"
        self.ca = ca
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.plain_port = 0
        log = tempfile.NamedTemporaryFile(prefix=f"sio-tls-{program}-", suffix=".log", delete=False)
        self.log_path = log.name
        log.close()

    def command(self) -> list[str]:
        cmd = [binary(self.program), "--host", HOST, "--port", str(self.port)]
        if self.pair is not None:
            cmd += ["--tls-cert", str(self.pair.chain), "--tls-key", str(self.pair.key)]
        if self.plain:
            cmd += ["--plain-port", str(self.plain_port)]
        if self.pair is not None and self.program == "sio-protocol-server":
            cmd += shlex.split(os.environ.get("SIO_TLS_SERVER_ARGS", ""))  # e.g. --tls-openssl-records
        return cmd + self.args

    def start(self) -> "TLSServer":
        for _ in range(3):
            self.port, self.plain_port = free_port(), free_port()
            cmd = self.command()
            with open(self.log_path, "ab") as log:
                log.write(f"--- {shlex.join(cmd)}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True, env={**os.environ, **(self.env or {})})
            _live.append(self)
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"{shlex.join(self.command())} did not start\n{self.log_text()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if "listening" in self.log_text() or "chat room at" in self.log_text():
                try:
                    with socket.create_connection((HOST, self.port), timeout=0.5):
                        return True  # a bare TCP probe: never reported as a failed handshake
                except OSError:
                    pass
            time.sleep(0.05)
        return False

    def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self in _live:
            _live.remove(self)
        return proc.returncode

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return pathlib.Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def rss_kib(self) -> int:
        for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    @property
    def https(self) -> str:
        return f"https://{NAME}:{self.port}"

    @property
    def wss(self) -> str:
        return f"wss://{NAME}:{self.port}"

    @property
    def plain_url(self) -> str:
        return f"http://{HOST}:{self.plain_port}"

    def connection_errors(self, clear: bool = True) -> list[dict]:
        """The server's refusals so far (TLS ones have a "tls" key), read over the plain port."""
        url = f"{self.plain_url}/connection-errors" + ("?clear=1" if clear else "")
        text = requests.get(url, timeout=5).text
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def tls_errors(self, clear: bool = True) -> list[dict]:
        return [e for e in self.connection_errors(clear) if "tls" in e]

    def wait_tls_errors(self, count: int, timeout: float = 10.0) -> list[dict]:
        """Polls until at least `count` TLS refusals were recorded (keeps them all, then clears)."""
        deadline = time.monotonic() + timeout
        seen: list[dict] = []
        while time.monotonic() < deadline:
            seen += self.tls_errors()
            if len(seen) >= count:
                return seen
            time.sleep(0.1)
        return seen

    def wait_log(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in the server log:\n{self.log_text()}")


@atexit.register
def _kill_leftovers() -> None:
    for srv in list(_live):
        srv.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> certs.PKI:
    return certs.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def tls_server(pki):
    srv = TLSServer("sio-protocol-server", pki.server, args=["--tls-handshake-timeout", "1000"]).start()
    yield srv
    srv.stop()
    os.unlink(srv.log_path)


@pytest.fixture
def start_server(pki, request):
    started: list[TLSServer] = []

    def start(program: str = "sio-protocol-server", pair: certs.Pair | None = pki.server, args=(),
              plain: bool = True, env: dict[str, str] | None = None) -> TLSServer:
        srv = TLSServer(program, pair, args=args, plain=plain, env=env).start()
        started.append(srv)
        return srv

    yield start
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for srv in started:
        srv.stop()
        if failed:
            print(f"--- log of {srv.program} ---\n{srv.log_text()[-20000:]}")
        os.unlink(srv.log_path)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    # Only the test root is trusted: the machine's CA bundle variables would make requests ignore `verify`.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)


def client_context(pki: certs.PKI, **kwargs) -> ssl.SSLContext:
    """A client context that trusts the test root only (and checks host names)."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    for name, value in kwargs.items():
        setattr(context, name, value)
    return context


def http_session(pki: certs.PKI) -> requests.Session:
    session = requests.Session()
    session.verify = str(pki.ca)
    session.trust_env = False
    return session
