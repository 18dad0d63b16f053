"""HTTPS and WSS from Python: ``Server(tls_cert=..., tls_key=...)``, ``reload_tls()``, ``on_tls_error``, and a bad
certificate raising ListenError with the file and OpenSSL's reason. Certificates from Tests/tls/certs.py (the
openssl CLI); real python-socketio clients verify the chain against the test root only."""

from __future__ import annotations

import shutil
import socket
import ssl
import sys
import threading

import pytest
import requests
import socketio

from conftest import HOST, ROOT, wait_for

import sio

sys.path.insert(0, str(ROOT / "Tests" / "tls"))
import certs  # noqa: E402
from tls_util import once_more_on_client_race  # noqa: E402  (python-engineio's client over TLS races itself)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return certs.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def _only_the_test_root(monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)


def session(pki) -> requests.Session:
    http = requests.Session()
    http.verify = str(pki.ca)
    http.trust_env = False
    return http


def leaf_served(port: int, pki) -> bytes:
    context = ssl.create_default_context(cafile=str(pki.ca))
    with socket.create_connection((HOST, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def echo_server(**options) -> sio.Server:
    server = sio.Server(**options)

    @server.on("echo")
    def echo(socket, *args):
        return args

    return server


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
@pytest.mark.parametrize("as_bytes", [False, True])
def test_python_server_over_tls(pki, transports, as_bytes):
    cert = pki.server.chain.read_bytes() if as_bytes else str(pki.server.chain)
    key = pki.server.key.read_bytes() if as_bytes else pki.server.key
    with echo_server(tls_cert=cert, tls_key=key, loops=2) as server:
        port = server.start(HOST, 0)

        def exchange() -> None:
            client = socketio.Client(http_session=session(pki), reconnection=False)
            try:
                client.connect(f"https://localhost:{port}", transports=transports, wait_timeout=5)
                assert client.call("echo", {"x": "tls"}, timeout=5) == {"x": "tls"}
            finally:
                client.disconnect()

        once_more_on_client_race(exchange)


def test_reload_tls_and_tls_errors(pki, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(pki.server.chain, cert)
    shutil.copy(pki.server.key, key)
    reports: list[sio.TLSErrorReport] = []
    lock = threading.Lock()
    with echo_server(tls_cert=cert, tls_key=key, tls_handshake_timeout=0.5) as server:

        @server.on_tls_error
        def tls_error(report):
            with lock:
                reports.append(report)

        port = server.start(HOST, 0)
        before = socketio.Client(http_session=session(pki), reconnection=False)
        before.connect(f"https://localhost:{port}", transports=["websocket"], wait_timeout=5)
        assert leaf_served(port, pki) == pki.server.leaf_der()

        shutil.copy(pki.renewed.chain, cert)
        shutil.copy(pki.renewed.key, key)
        server.reload_tls()
        assert leaf_served(port, pki) == pki.renewed.leaf_der()
        server.reload_tls(tls_cert=pki.server.chain, tls_key=pki.server.key)  # other files
        assert leaf_served(port, pki) == pki.server.leaf_der()
        with pytest.raises(sio.InvalidArgumentError, match="does not match"):
            server.reload_tls(tls_cert=pki.server.chain, tls_key=pki.sni.key)
        assert leaf_served(port, pki) == pki.server.leaf_der()  # kept
        assert before.call("echo", "still here", timeout=5) == "still here"

        with socket.create_connection((HOST, port), timeout=5) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\n\r\n")
            raw.recv(1024)
        silent = socket.create_connection((HOST, port), timeout=5)
        silent.sendall(b"\x16\x03")
        wait_for(lambda: len(reports) >= 2, what="two TLS error reports")
        silent.close()
        kinds = sorted(r.kind for r in reports)
        assert kinds == ["failed", "timeout"], reports
        assert any("http request" in r.reason for r in reports) and all(r.address == HOST for r in reports)
        before.disconnect()


def test_bad_certificate_raises_listen_error_naming_the_file(pki, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("nothing")
    server = sio.Server(tls_cert=garbage, tls_key=pki.server.key)
    try:
        with pytest.raises(sio.ListenError, match=str(garbage)) as raised:
            server.listen(HOST, 0)
        assert "no certificate" in str(raised.value)
    finally:
        server.close()
    server = sio.Server(tls_cert=pki.encrypted.chain, tls_key=pki.encrypted.key)
    try:
        with pytest.raises(sio.ListenError, match="no password"):
            server.listen(HOST, 0)
    finally:
        server.close()
    with echo_server(tls_cert=pki.encrypted.chain, tls_key=pki.encrypted.key, tls_key_password=certs.PASSWORD) as ok:
        port = ok.start(HOST, 0)
        assert leaf_served(port, pki) == pki.server.leaf_der()


def test_tls_options_checked(pki):
    with pytest.raises(sio.InvalidArgumentError):
        sio.Server(tls_cert=pki.server.chain)  # no key
    with pytest.raises(sio.InvalidArgumentError):
        sio.Server(tls_cert=pki.server.chain, tls_key=pki.server.key, tls_handshake_timeout=0)
    with pytest.raises(sio.InvalidArgumentError):
        sio.Server(tls_cert=42, tls_key=pki.server.key)
    plain = sio.Server()
    try:
        with pytest.raises(sio.StateError):
            plain.reload_tls()  # no TLS listener
    finally:
        plain.close()


def test_sni_from_python(pki):
    with echo_server(tls_cert=pki.server.chain, tls_key=pki.server.key,
                     tls_sni=[(pki.sni.chain, pki.sni.key)]) as server:
        port = server.start(HOST, 0)
        context = ssl.create_default_context(cafile=str(pki.ca))
        with socket.create_connection((HOST, port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="sni.test") as tls:
                assert tls.getpeercert(binary_form=True) == pki.sni.leaf_der()
