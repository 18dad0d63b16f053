"""The record layer after the handshake (issue 16's memory bar): by default the engine protects records itself
(TLSRecordLayer.swift: keys from OpenSSL's handshake, libcrypto's AEADs) and frees OpenSSL's `SSL`; with
`--tls-openssl-records` OpenSSL keeps it. Both, for every AEAD suite of TLS 1.3 and 1.2 (the server limited to one
suite at a time through OpenSSL's configuration, OPENSSL_CONF: the same system policy mechanism that picks the
default ciphers), with small and large messages (many records each way), records split across TCP reads, a client's
close_notify, TLS 1.3 KeyUpdate both ways (openssl s_client's K and k commands), and a TLS 1.2 renegotiation attempt
refused. A CBC suite stays with OpenSSL."""

from __future__ import annotations

import os
import ssl
import subprocess
import time

import pytest

from conftest import HOST, TLSServer, client_context
from tls_util import RELAXED, RawTLS, SocketIOWire, parse_open, polling_request, time_until_closed

SUITES = {
    "tls13-aes128": ("TLSv1.3", "TLS_AES_128_GCM_SHA256", None),
    "tls13-aes256": ("TLSv1.3", "TLS_AES_256_GCM_SHA384", None),
    "tls13-chacha": ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", None),
    "tls12-aes128": ("TLSv1.2", None, "ECDHE-ECDSA-AES128-GCM-SHA256"),
    "tls12-aes256": ("TLSv1.2", None, "ECDHE-ECDSA-AES256-GCM-SHA384"),
    "tls12-chacha": ("TLSv1.2", None, "ECDHE-ECDSA-CHACHA20-POLY1305"),
}
CONFIG = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
{lines}
"""


def _config(tmp_path_factory, name: str, *lines: str) -> str:
    path = tmp_path_factory.mktemp("conf") / f"{name}.cnf"
    path.write_text(CONFIG.format(lines="\n".join(lines)))
    return str(path)


@pytest.fixture(scope="module")
def servers(pki, tmp_path_factory):
    """servers(suite, layer) -> a server offering only that suite, with that record layer."""
    started: dict[tuple[str, str], TLSServer] = {}

    def get(suite: str, layer: str) -> TLSServer:
        if (suite, layer) not in started:
            version, tls13, tls12 = SUITES[suite]
            lines = [f"Ciphersuites = {tls13}"] if tls13 else ["MaxProtocol = TLSv1.2", f"CipherString = {tls12}"]
            env = {"OPENSSL_CONF": _config(tmp_path_factory, f"{suite}-{layer}", *lines), "SIO_DEBUG": "tls"}
            args = ["--tls-openssl-records"] if layer == "openssl" else []
            started[(suite, layer)] = TLSServer("sio-protocol-server", pki.server, args=args, env=env).start()
        return started[(suite, layer)]

    yield get
    for srv in started.values():
        srv.stop()
        os.unlink(srv.log_path)


@pytest.mark.parametrize("layer", ["engine", "openssl"])
@pytest.mark.parametrize("suite", SUITES)
def test_every_aead_suite_both_record_layers(servers, pki, suite, layer):
    srv = servers(suite, layer)
    version, tls13, tls12 = SUITES[suite]
    name = tls13 or tls12
    # Small and large messages over WSS, many records each way.
    client = SocketIOWire(srv, pki)
    try:
        for size in (1, 100, 16_000, 16_384, 40_000, 300_000):
            text = "x" * size
            assert client.call("echo", text) == text
    finally:
        client.close()
    # A raw client: the negotiated suite; a polling exchange whose body spans records; a request in 1-byte records,
    # sent in pieces so that records straddle the server's reads.
    raw = RawTLS(srv.port, client_context(pki))
    try:
        assert raw.tls.version() == version and raw.tls.cipher()[0] == name, raw.tls.cipher()
        raw.send_records(polling_request("GET", f"{RELAXED}?EIO=4&transport=polling"))
        sid = parse_open(raw.read_http()[2].decode())["sid"]
        body = "4" + "y" * 50_000
        raw.send_records(polling_request("POST", f"{RELAXED}?EIO=4&transport=polling&sid={sid}", body))
        assert raw.read_http()[2] == b"ok"
        request = polling_request("GET", f"{RELAXED}?EIO=4&transport=polling&sid={sid}")
        for byte in request:
            raw.tls.write(bytes([byte]))
        wire = raw.outgoing.read()
        for start in range(0, len(wire), 7):
            raw.sock.sendall(wire[start:start + 7])
            if start % 70 == 0:
                time.sleep(0.001)
        assert raw.read_http()[2] == body.encode()
        # close_notify from the client: the server closes.
        raw.tls.unwrap()
    except ssl.SSLWantReadError:
        raw.sock.sendall(raw.outgoing.read())
    finally:
        raw.sock.sendall(raw.outgoing.read())
        assert time_until_closed(raw.sock, 3) < 2
        raw.close()
    log = srv.log_text()
    took_over = f"engine record layer for {version} {name}" in log
    assert took_over == (layer == "engine"), log[-2000:]
    assert "closing" not in log, log[-2000:]


def test_cbc_suite_stays_with_openssl(start_server, pki, tmp_path_factory):
    conf = _config(tmp_path_factory, "cbc", "MaxProtocol = TLSv1.2", "CipherString = ECDHE-ECDSA-AES128-SHA256")
    srv = start_server(env={"OPENSSL_CONF": conf, "SIO_DEBUG": "tls"})
    context = client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_2)
    context.set_ciphers("ECDHE-ECDSA-AES128-SHA256")
    raw = RawTLS(srv.port, context)
    raw.send_records(polling_request("GET", f"{RELAXED}?EIO=4&transport=polling"))
    assert raw.read_http()[0] == 200
    raw.close()
    srv.wait_log("OpenSSL keeps the record layer of TLSv1.2 ECDHE-ECDSA-AES128-SHA256")


def _s_client(port: int, *args: str, inputs: list[bytes], pause: float = 0.4) -> str:
    proc = subprocess.Popen(["openssl", "s_client", "-connect", f"{HOST}:{port}", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.8)
    try:
        for data in inputs:
            proc.stdin.write(data)
            proc.stdin.flush()
            time.sleep(pause)
    except BrokenPipeError:
        pass
    time.sleep(0.3)
    proc.kill()
    return proc.stdout.read().decode(errors="replace")


REQUEST = b"GET /engine.io-relaxed/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n"


@pytest.mark.parametrize("layer", ["engine", "openssl"])
def test_tls13_key_update_both_ways(servers, layer):
    srv = servers("tls13-aes256", layer)
    # K: the client updates its keys and asks the server to update its own; k: the client's only.
    out = _s_client(srv.port, "-tls1_3", inputs=[REQUEST, b"K\n", REQUEST, b"k\n", REQUEST, b"K\n", b"K\n", REQUEST])
    assert out.count('"sid"') == 4, out[-3000:]
    assert "KEYUPDATE" in out


def test_tls12_renegotiation_refused(start_server, pki, tmp_path_factory):
    conf = _config(tmp_path_factory, "reneg", "MaxProtocol = TLSv1.2", "CipherString = ECDHE-ECDSA-AES128-GCM-SHA256")
    srv = start_server(env={"OPENSSL_CONF": conf, "SIO_DEBUG": "tls"})
    out = _s_client(srv.port, "-tls1_2", inputs=[REQUEST, b"R\n", REQUEST])
    assert out.count('"sid"') == 1, out[-3000:]  # served before; the renegotiation ends the connection
    srv.wait_log("renegotiation refused")
    raw = RawTLS(srv.port, client_context(pki))  # the server goes on serving
    raw.send_records(REQUEST)
    assert raw.read_http()[0] == 200
    raw.close()
