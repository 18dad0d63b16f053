"""HTTPS and WSS with real clients (issue 16): python-engineio and python-socketio over https polling, wss and the
upgrade, verifying the chain against the test root only; TLS versions, ALPN, SNI, the handshake's `secure`, plain
HTTP side by side, and certificates refused at start (a message naming the file and OpenSSL's reason)."""

from __future__ import annotations

import ssl
import subprocess
import threading
import warnings

import engineio
import pytest
import requests
import socketio

from conftest import HOST, binary, client_context, http_session
from tls_util import RELAXED, RawTLS, once_more_on_client_race, parse_open

TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": ["polling", "websocket"]}


def engineio_client(pki) -> tuple[engineio.Client, "queue.Queue[str]"]:
    import queue

    received: queue.Queue[str] = queue.Queue()
    client = engineio.Client(http_session=http_session(pki), ssl_verify=True)
    client.on("message", lambda data: received.put(data))
    return client, received


@pytest.mark.parametrize("mode", TRANSPORTS)
def test_engineio_client_over_tls(tls_server, pki, mode):
    def exchange():
        client, received = engineio_client(pki)
        client.connect(tls_server.https, engineio_path=RELAXED.strip("/"), transports=TRANSPORTS[mode])
        try:
            for index in range(5):
                client.send(f"hello {index}")
                assert received.get(timeout=5) == f"hello {index}"
            client.send(b"\x00\x01binary")
            assert received.get(timeout=5) == b"\x00\x01binary"
            expected = "websocket" if mode != "polling" else "polling"
            deadline = threading.Event()
            for _ in range(50):
                if client.transport() == expected:
                    break
                deadline.wait(0.1)
            assert client.transport() == expected
        finally:
            client.disconnect()

    once_more_on_client_race(exchange)
    assert tls_server.tls_errors() == []


@pytest.mark.parametrize("mode", TRANSPORTS)
def test_socketio_client_over_tls(tls_server, pki, mode):
    def exchange():
        client = socketio.Client(http_session=http_session(pki), ssl_verify=True)
        client.connect(tls_server.https, namespaces=["/features"], transports=TRANSPORTS[mode], wait_timeout=5)
        try:
            assert client.call("echo", {"text": "über TLS", "n": 1}, namespace="/features", timeout=5) == \
                {"text": "über TLS", "n": 1}
            big = "x" * 50_000  # several TLS records each way (larger ones: test_tls_record_layer.py)
            assert client.call("echo", big, namespace="/features", timeout=10) == big
            assert client.call("secure", namespace="/features", timeout=5) is True
        finally:
            client.disconnect()

    once_more_on_client_race(exchange)


def test_plain_listener_side_by_side(tls_server, pki):
    # The same server answers plain HTTP on its plain port, and the handshake is not secure there.
    plain = socketio.Client()
    plain.connect(tls_server.plain_url, namespaces=["/features"], transports=["websocket"], wait_timeout=5)
    try:
        assert plain.call("secure", namespace="/features", timeout=5) is False
    finally:
        plain.disconnect()
    polling = requests.get(f"{tls_server.plain_url}{RELAXED}?EIO=4&transport=polling", timeout=5)
    assert parse_open(polling.text)["sid"]


def test_chain_is_sent_and_verified(tls_server, pki):
    # The client trusts only the root: verification succeeds only because the server sends the intermediate.
    raw = RawTLS(tls_server.port, client_context(pki))
    try:
        assert raw.tls.version() in ("TLSv1.3", "TLSv1.2")
        assert raw.peer_der() == pki.server.leaf_der()
        raw.send_records(b"GET /engine.io-relaxed/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n")
        status, headers, body = raw.read_http()
        assert status == 200 and parse_open(body.decode())["sid"]
    finally:
        raw.close()
    # A client that trusts nothing of ours refuses the server.
    with pytest.raises(requests.exceptions.SSLError):
        session = requests.Session()
        session.trust_env = False
        session.verify = True  # the system's roots: no test root there
        session.get(f"{tls_server.https}{RELAXED}?EIO=4&transport=polling", timeout=5)
    tls_server.wait_tls_errors(1)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_versions_1_2_and_1_3(tls_server, pki, version):
    context = client_context(pki, minimum_version=version, maximum_version=version)
    raw = RawTLS(tls_server.port, context)
    try:
        assert raw.tls.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        raw.send_records(b"GET /engine.io-relaxed/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert raw.read_http()[0] == 200
    finally:
        raw.close()


def test_tls_1_1_and_older_refused(tls_server, pki):
    context = client_context(pki)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this client cannot even offer TLS 1.1")
    tls_server.tls_errors()
    with pytest.raises((ssl.SSLError, ConnectionError)):
        RawTLS(tls_server.port, context)
    errors = tls_server.wait_tls_errors(1)
    assert errors and errors[0]["tls"] == "failed", errors
    assert "protocol" in errors[0]["reason"] or "version" in errors[0]["reason"], errors


def test_alpn_http11(tls_server, pki):
    context = client_context(pki)
    context.set_alpn_protocols(["h2", "http/1.1"])
    raw = RawTLS(tls_server.port, context)
    assert raw.tls.selected_alpn_protocol() == "http/1.1"
    raw.close()
    context = client_context(pki)
    context.set_alpn_protocols(["h2"])  # nothing we speak: no ALPN answer, the client decides
    raw = RawTLS(tls_server.port, context)
    assert raw.tls.selected_alpn_protocol() is None
    raw.close()


def test_sni_picks_the_certificate(start_server, pki):
    srv = start_server(args=["--tls-sni", f"{pki.sni.chain},{pki.sni.key}"])
    for name, pair in (("localhost", pki.server), ("sni.test", pki.sni), ("a.wild.test", pki.sni),
                       ("unknown.test", pki.server)):
        context = client_context(pki)
        context.check_hostname = name != "unknown.test"
        raw = RawTLS(srv.port, context, server_hostname=name)
        try:
            assert raw.peer_der() == pair.leaf_der(), name
            raw.send_records(b"GET /engine.io-relaxed/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
            assert raw.read_http()[0] == 200
        finally:
            raw.close()


def test_encrypted_key_with_password(start_server, pki):
    from certs import PASSWORD

    srv = start_server(pair=pki.encrypted, args=["--tls-key-password", PASSWORD])
    client, received = engineio_client(pki)
    client.connect(srv.https, engineio_path=RELAXED.strip("/"), transports=["websocket"])
    client.send("encrypted key")
    assert received.get(timeout=5) == "encrypted key"
    client.disconnect()


def _refused_at_start(pki, tmp_path, program, cert, key, *extra) -> str:
    proc = subprocess.run([binary(program), "--host", HOST, "--port", "0", "--tls-cert", str(cert), "--tls-key",
                           str(key), *extra], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stderr


@pytest.mark.parametrize("program", ["sio-protocol-server", "sio-bench-server", "sio-chat"])
def test_bad_certificate_or_key_fails_at_start_naming_the_file(pki, tmp_path, program):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    missing = tmp_path / "missing.pem"
    cases = [
        (garbage, pki.server.key, [], str(garbage), "certificate"),
        (empty, pki.server.key, [], str(empty), "no certificate"),
        (missing, pki.server.key, [], str(missing), "No such file"),
        (pki.server.chain, missing, [], str(missing), "No such file"),
        (pki.server.chain, pki.sni.key, [], str(pki.sni.key), "does not match"),
        (pki.server.chain, garbage, [], str(garbage), "private key"),
        (pki.encrypted.chain, pki.encrypted.key, [], str(pki.encrypted.key), "password"),
        (pki.encrypted.chain, pki.encrypted.key, ["--tls-key-password", "wrong"], str(pki.encrypted.key),
         "wrong password"),
    ]
    for cert, key, extra, named, reason in cases:
        message = _refused_at_start(pki, tmp_path, program, cert, key, *extra)
        assert named in message, (cert, key, message)
        assert reason.lower() in message.lower(), (cert, key, message)


def test_expired_certificate_starts_with_a_warning(start_server, pki):
    srv = start_server(pair=pki.expired)
    srv.wait_log("has expired")
