"""Handshakes that fail are refused cleanly and locally (issue 16): an expired certificate, a wrong host name, plain
HTTP sent to the TLS port, garbage, a truncated ClientHello, a client that stops mid-handshake. Each closes that
connection only, is reported (the server's `/connection-errors` list: {"tls": kind, "reason": ...}), and a
bystander session opened before keeps working."""

from __future__ import annotations

import os
import socket
import ssl
import time

import pytest
import requests

from conftest import HOST, client_context
from tls_util import Bystander, RawTLS, time_until_closed

HANDSHAKE_TIMEOUT = 1.0  # the session server's --tls-handshake-timeout


@pytest.fixture
def bystander(tls_server, pki):
    tls_server.tls_errors()  # start from an empty list
    peer = Bystander(tls_server, pki)
    peer.roundtrip()
    yield peer
    peer.roundtrip()  # still alive after whatever the test did
    peer.close()


def test_expired_certificate_refused_by_the_client(start_server, pki):
    srv = start_server(pair=pki.expired)
    context = ssl.create_default_context(cafile=str(pki.ca))
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        RawTLS(srv.port, context)
    errors = srv.wait_tls_errors(1)
    assert errors[0]["tls"] == "failed" and "certificate expired" in errors[0]["reason"], errors
    # The server goes on serving (a client that does not check dates).
    lenient = client_context(pki, check_hostname=False)
    lenient.verify_mode = ssl.CERT_NONE
    raw = RawTLS(srv.port, lenient)
    raw.send_records(b"GET /engine.io-relaxed/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert raw.read_http()[0] == 200
    raw.close()


def test_wrong_host_name_refused_by_the_client(start_server, pki):
    srv = start_server(pair=pki.other_host)
    bystander_context = client_context(pki, check_hostname=False)
    peer = RawTLS(srv.port, bystander_context)  # opened before
    with pytest.raises(ssl.SSLCertVerificationError, match="match|mismatch"):
        RawTLS(srv.port, client_context(pki), server_hostname="localhost")
    errors = srv.wait_tls_errors(1)
    assert errors[0]["tls"] == "failed" and "alert" in errors[0]["reason"], errors
    peer.send_records(b"GET /engine.io-relaxed/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert peer.read_http()[0] == 200
    peer.close()


def test_untrusted_certificate_reported(start_server, pki):
    srv = start_server(pair=pki.untrusted)
    with pytest.raises(ssl.SSLCertVerificationError):
        RawTLS(srv.port, client_context(pki))
    errors = srv.wait_tls_errors(1)
    assert "unknown ca" in errors[0]["reason"] or "bad certificate" in errors[0]["reason"], errors


def test_plain_http_to_the_tls_port_gets_a_plain_400(tls_server, bystander):
    response = requests.get(f"http://{HOST}:{tls_server.port}/engine.io-relaxed/?EIO=4&transport=polling", timeout=5)
    assert response.status_code == 400
    assert "HTTPS" in response.text
    errors = tls_server.wait_tls_errors(1)
    assert errors == [{"tls": "failed", "reason": errors[0]["reason"], "address": "127.0.0.1"}], errors
    assert "http request" in errors[0]["reason"]


@pytest.mark.parametrize("garbage", [b"\x00" * 64, b"\x16\x03\x01\xff\xff" + b"A" * 100, os.urandom(300),
                                     b"SSH-2.0-OpenSSH_9.2\r\n"])
def test_garbage_closed_at_once(tls_server, bystander, garbage):
    with socket.create_connection((HOST, tls_server.port), timeout=5) as sock:
        sock.sendall(garbage)
        assert time_until_closed(sock, 3.0) < 2.0
    errors = tls_server.wait_tls_errors(1)
    assert len(errors) == 1 and errors[0]["tls"] == "failed", errors


def test_truncated_client_hello_times_out(tls_server, pki, bystander):
    hello = RawTLS(tls_server.port, client_context(pki), handshake=False)
    data = hello.client_hello()
    hello.sock.sendall(data[: len(data) // 2])
    elapsed = time_until_closed(hello.sock, HANDSHAKE_TIMEOUT + 5)
    assert HANDSHAKE_TIMEOUT * 0.8 <= elapsed <= HANDSHAKE_TIMEOUT + 3, elapsed
    hello.close()
    errors = tls_server.wait_tls_errors(1)
    assert errors[0]["tls"] == "timeout", errors


def test_truncated_client_hello_then_close(tls_server, pki, bystander):
    hello = RawTLS(tls_server.port, client_context(pki), handshake=False)
    data = hello.client_hello()
    hello.sock.sendall(data[:40])
    time.sleep(0.1)
    hello.close()
    errors = tls_server.wait_tls_errors(1)
    assert errors[0]["tls"] == "closed", errors


def test_client_that_stops_mid_handshake_is_cut_after_the_timeout(tls_server, pki, bystander):
    client = RawTLS(tls_server.port, client_context(pki), handshake=False)
    client.sock.sendall(client.client_hello())
    first = client.sock.recv(65536)  # ServerHello and the rest of the server's flight
    assert first[:1] == b"\x16", first[:10]
    # ... and never sends its Finished.
    elapsed = time_until_closed(client.sock, HANDSHAKE_TIMEOUT + 5)
    assert elapsed <= HANDSHAKE_TIMEOUT + 3, elapsed
    client.close()
    errors = tls_server.wait_tls_errors(1)
    assert errors[0]["tls"] == "timeout", errors


def test_silent_connection_cut_after_the_timeout(tls_server, bystander):
    with socket.create_connection((HOST, tls_server.port), timeout=5) as sock:
        elapsed = time_until_closed(sock, HANDSHAKE_TIMEOUT + 5)
    assert HANDSHAKE_TIMEOUT * 0.8 <= elapsed <= HANDSHAKE_TIMEOUT + 3, elapsed
    errors = tls_server.wait_tls_errors(1)
    assert errors[0]["tls"] == "timeout" and "ClientHello" in errors[0]["reason"], errors


def test_probe_without_a_byte_is_not_reported(tls_server, bystander):
    for _ in range(5):
        socket.create_connection((HOST, tls_server.port), timeout=5).close()
    time.sleep(0.3)
    assert tls_server.tls_errors() == []


def test_flood_of_bad_handshakes_while_a_session_works(tls_server, pki, bystander):
    hello = RawTLS(tls_server.port, client_context(pki), handshake=False)
    data = hello.client_hello()
    hello.close()
    socks = []
    for index in range(60):
        sock = socket.create_connection((HOST, tls_server.port), timeout=5)
        sock.sendall([os.urandom(200), data[:30], b"GET / HTTP/1.1\r\n\r\n"][index % 3])
        socks.append(sock)
        if index % 10 == 0:
            bystander.roundtrip()
    # A good client gets in while the half-open ones wait for their timeout.
    good = RawTLS(tls_server.port, client_context(pki))
    good.send_records(b"GET /engine.io-relaxed/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert good.read_http()[0] == 200
    good.close()
    for sock in socks:
        assert time_until_closed(sock, HANDSHAKE_TIMEOUT + 5) <= HANDSHAKE_TIMEOUT + 3
        sock.close()
    errors = tls_server.wait_tls_errors(60)
    kinds = {e["tls"] for e in errors}
    assert len(errors) == 60 and kinds <= {"failed", "timeout"}, errors


def test_garbage_after_the_handshake_closes_that_connection(tls_server, pki, bystander):
    raw = RawTLS(tls_server.port, client_context(pki))
    raw.sock.sendall(b"\x17\x03\x03\x00\x20" + os.urandom(32))  # an application record that does not decrypt
    assert time_until_closed(raw.sock, 3) < 2
    raw.close()


def _tampered(record: bytes, case: str) -> bytes:
    if case == "flipped byte":
        return record[:-3] + bytes([record[-3] ^ 0x01]) + record[-2:]
    if case == "wrong version":
        return record[:1] + b"\x03\x01" + record[3:]
    if case == "wrong type":
        return b"\x16" + record[1:]  # TLS 1.3: a plaintext handshake record; TLS 1.2: a type the MAC does not cover
    if case == "too long":
        return b"\x17\x03\x03\x41\x01"  # 16,641 bytes announced: above either version's limit, refused unread
    if case == "truncated":
        return record[:-1]
    raise AssertionError(case)


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
@pytest.mark.parametrize("case", ["flipped byte", "wrong version", "wrong type", "too long", "truncated"])
def test_a_malformed_record_closes_that_connection_only(tls_server, pki, bystander, version, case):
    """The engine's record layer (TLSRecordLayer) on input a client forged after the handshake: that connection
    ends (a truncated record when the client then closes its side), nothing else is disturbed."""
    maximum = ssl.TLSVersion.TLSv1_2 if version == "TLSv1.2" else ssl.TLSVersion.TLSv1_3
    raw = RawTLS(tls_server.port, client_context(pki, maximum_version=maximum))
    assert raw.tls.version() == version
    # A first request in its own record is served: the session works before the forged record.
    raw.send_records(b"GET /engine.io-relaxed/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert raw.read_http()[0] == 200
    raw.tls.write(b"GET /engine.io-relaxed/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n")
    raw.sock.sendall(_tampered(raw.outgoing.read(), case))
    if case == "truncated":
        raw.sock.shutdown(socket.SHUT_WR)
    assert time_until_closed(raw.sock, 3) < 2
    raw.close()
