"""HTTPS and WSS through the C ABI (issue 16): tls_server.c, compiled against the installed libsio like the other C
programs, driven by python-socketio over TLS (certificates from Tests/tls/certs.py, made with the openssl CLI).

- certificate and key as files and as PEM text (SIO_OPT_TLS_*); two loops, round-robin, so connections move;
- plain HTTP side by side (sio_server_listen_plain);
- SNI (sio_options_add_tls_certificate);
- sio_server_on_tls_error for garbage, plain HTTP and a stalled handshake;
- sio_server_reload_tls with the same files rewritten and with other options; a failing reload keeps the old;
- a bad certificate fails sio_server_listen with SIO_ELISTEN and an error line naming the file;
- the same traffic under valgrind.
"""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import sys
import time

import pytest
import requests
import socketio

from test_c_abi import C_FLAGS, HERE, HOST, ROOT, Program, free_port, installed, run, toolchain, valgrind_prefix  # noqa: F401
from test_c_abi import valgrind_report

sys.path.insert(0, str(ROOT / "Tests" / "tls"))
import certs  # noqa: E402
from tls_util import once_more_on_client_race  # noqa: E402  (python-engineio's client over TLS races itself)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return certs.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_program(installed, tmp_path_factory):
    out = tmp_path_factory.mktemp("tlsbin") / "tls_server"
    cflags = installed.pkg_config("--cflags")
    libs = installed.pkg_config("--libs")
    run(["cc", *C_FLAGS, "-g", *cflags, "-o", out, HERE / "tls_server.c", *libs, "-lpthread"], env=installed.env)
    return out


@pytest.fixture(autouse=True)
def _only_the_test_root(monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)


class Server:
    def __init__(self, program: Program, port: int, plain_port: int):
        self.program, self.port, self.plain_port = program, port, plain_port
        self.https = f"https://localhost:{port}"
        self.plain = f"http://{HOST}:{plain_port}"


def start(tls_program, installed, mode, cert, key, other, *, sni=None, prefix=(), timeout=10, env=None) -> Server:
    for _ in range(3):
        port, plain_port = free_port(), free_port()
        argv = [tls_program, mode, port, plain_port, cert, key, other.chain, other.key]
        if sni is not None:
            argv += [sni.chain, sni.key]
        program = Program(argv, {**installed.env, **(env or {})}, prefix=prefix)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and program.proc.poll() is None and not program.matching(r"^LISTEN"):
            time.sleep(0.02)
        if program.matching(rf"^LISTENING {port}$"):
            return Server(program, port, plain_port)
        program.kill()
        if program.matching(r"^LISTEN_FAILED"):
            break
    pytest.fail(f"tls_server did not start\n{program.output()}", pytrace=False)


def stop(server: Server, timeout: float = 10) -> None:
    server.program.proc.send_signal(signal.SIGTERM)
    rc = server.program.wait_exit(timeout)
    assert not server.program.matching(r"^FAIL"), server.program.output()
    assert rc == 0 and server.program.matching(r"^EXIT 0$"), server.program.output()


def session(pki) -> requests.Session:
    http = requests.Session()
    http.verify = str(pki.ca)
    http.trust_env = False
    return http


def leaf_served(port: int, pki, name: str = "localhost") -> bytes:
    context = ssl.create_default_context(cafile=str(pki.ca))
    with socket.create_connection((HOST, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            return tls.getpeercert(binary_form=True)


def echo_over_tls(srv, pki, transports, value, timeout):
    """One python-socketio client over TLS: connect, echo `value`, disconnect; one more try on the client's race."""
    def exchange():
        client = socketio.Client(http_session=session(pki), reconnection=False)
        try:
            client.connect(srv.https, transports=transports, wait_timeout=timeout)
            assert client.call("echo", value, timeout=timeout) == value
        finally:
            client.disconnect()

    once_more_on_client_race(exchange)


@pytest.mark.parametrize("mode", ["files", "pem"])
def test_socketio_over_tls_from_c(tls_program, installed, pki, mode):
    srv = start(tls_program, installed, mode, pki.server.chain, pki.server.key, pki.renewed)
    try:
        for transports in (["polling"], ["websocket"], ["polling", "websocket"]):
            for _ in range(2):  # two loops, round-robin: sessions and requests on both
                echo_over_tls(srv, pki, transports, {"over": "tls", "transports": transports}, timeout=10)
        assert requests.get(f"{srv.plain}/nothing", timeout=5).status_code == 404  # the plain listener
    finally:
        stop(srv)


def test_sni_from_c(tls_program, installed, pki):
    srv = start(tls_program, installed, "files", pki.server.chain, pki.server.key, pki.renewed, sni=pki.sni)
    try:
        assert leaf_served(srv.port, pki) == pki.server.leaf_der()
        assert leaf_served(srv.port, pki, "sni.test") == pki.sni.leaf_der()
        assert leaf_served(srv.port, pki, "x.wild.test") == pki.sni.leaf_der()
    finally:
        stop(srv)


def test_tls_errors_reported_to_c(tls_program, installed, pki):
    srv = start(tls_program, installed, "files", pki.server.chain, pki.server.key, pki.renewed)
    try:
        with socket.create_connection((HOST, srv.port), timeout=5) as sock:
            sock.sendall(b"\x00" * 40)
        assert requests.get(f"http://{HOST}:{srv.port}/", timeout=5).status_code == 400  # plain HTTP to TLS
        stalled = socket.create_connection((HOST, srv.port), timeout=5)
        stalled.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello, then nothing
        srv.program.wait_line(r"^TLS_ERROR failed 127\.0\.0\.1 ")
        srv.program.wait_line(r"^TLS_ERROR failed 127\.0\.0\.1 .*http request")
        srv.program.wait_line(r"^TLS_ERROR timeout 127\.0\.0\.1 ", timeout=5)
        stalled.close()
        echo_over_tls(srv, pki, ["websocket"], "still serving", timeout=10)
    finally:
        stop(srv)


def test_reload_from_c(tls_program, installed, pki, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(pki.server.chain, cert)
    shutil.copy(pki.server.key, key)
    srv = start(tls_program, installed, "files", cert, key, pki.renewed)
    try:
        before = socketio.Client(http_session=session(pki), reconnection=False)
        before.connect(srv.https, transports=["websocket"], wait_timeout=10)
        assert leaf_served(srv.port, pki) == pki.server.leaf_der()
        # The same files, rewritten (a renewal), then read again.
        shutil.copy(pki.renewed.chain, cert)
        shutil.copy(pki.renewed.key, key)
        assert requests.get(f"{srv.plain}/reload", timeout=5).text == "SIO_OK"
        assert leaf_served(srv.port, pki) == pki.renewed.leaf_der()
        assert before.call("echo", "old session", timeout=10) == "old session"
        # A broken file: SIO_EINVAL, the current certificate stays, the error line names the file.
        cert.write_text("garbage")
        assert requests.get(f"{srv.plain}/reload", timeout=5).text == "SIO_EINVAL"
        # The log line is written by the loop thread and read by the program's reader thread: allow it to arrive.
        deadline = time.monotonic() + 5
        while not any(str(cert) in line for line in srv.program.errors) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(str(cert) in line for line in srv.program.errors), srv.program.output()
        assert leaf_served(srv.port, pki) == pki.renewed.leaf_der()
        # Other options: their TLS settings replace the server's.
        shutil.copy(pki.server.chain, cert)
        shutil.copy(pki.server.key, key)
        assert requests.get(f"{srv.plain}/reload-other", timeout=5).text == "SIO_OK"
        assert leaf_served(srv.port, pki) == pki.renewed.leaf_der()  # OTHER is the renewed pair
        assert before.call("echo", "still the old session", timeout=10) == "still the old session"
        before.disconnect()
    finally:
        stop(srv)


@pytest.mark.parametrize("case", ["garbage", "mismatch", "missing"])
def test_bad_certificate_fails_listen(tls_program, installed, pki, tmp_path, case):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    cert, key, named = {
        "garbage": (garbage, pki.server.key, garbage),
        "mismatch": (pki.server.chain, pki.sni.key, pki.sni.key),
        "missing": (tmp_path / "missing.pem", pki.server.key, tmp_path / "missing.pem"),
    }[case]
    program = Program([tls_program, "files", free_port(), free_port(), cert, key, pki.renewed.chain,
                       pki.renewed.key], installed.env)
    rc = program.wait_exit(10)
    assert rc == 4, program.output()
    assert program.matching(r"^LISTEN_FAILED SIO_ELISTEN$"), program.output()
    assert not program.matching(r"^FAIL"), program.output()
    assert any(str(named) in line for line in program.errors), program.output()


# Valgrind is slow: a longer handshake timeout. One loop: a multi-loop server keeps its shards alive in a cycle
# (ShardGroup <-> SocketIOServer), a leak of the multi-loop code that valgrind would report here, not TLS's.
VALGRIND_ENV = {"TLS_HANDSHAKE_TIMEOUT_MS": "30000", "TLS_LOOPS": "1"}


@pytest.mark.timeout(180)
def test_valgrind_tls_traffic(tls_program, installed, pki, tmp_path):
    log = tmp_path / "valgrind.log"
    srv = start(tls_program, installed, "pem", pki.server.chain, pki.server.key, pki.renewed,
                prefix=valgrind_prefix(log), timeout=60, env=VALGRIND_ENV)
    try:
        for transports in (["polling", "websocket"], ["websocket"]):
            echo_over_tls(srv, pki, transports, "under valgrind", timeout=30)
        with socket.create_connection((HOST, srv.port), timeout=5) as sock:
            sock.sendall(b"garbage" * 10)
        srv.program.wait_line(r"^TLS_ERROR failed", timeout=30)
        assert requests.get(f"{srv.plain}/reload-other", timeout=30).text == "SIO_OK"
        srv.program.proc.send_signal(signal.SIGTERM)
        rc = srv.program.wait_exit(60)
        report = valgrind_report(log)
        assert not srv.program.matching(r"^FAIL"), srv.program.output()
        assert rc == 0, f"exit status {rc} (99: valgrind found errors)\n{report}"
        assert "ERROR SUMMARY: 0 errors" in report, report
    finally:
        srv.program.kill()
