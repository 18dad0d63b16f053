"""Reloading the certificate without a restart (issue 16): SIGHUP makes the server read its certificate files again;
connections made before keep working (their TLS sessions keep the old certificate), new ones get the new one; a
reload that fails keeps the current certificate. Under load: a client keeps echoing and new clients keep
connecting while the certificate changes under them."""

from __future__ import annotations

import shutil
import signal
import threading
import time

from certs import Pair

from conftest import client_context
from tls_util import Bystander, RawTLS, SocketIOWire, in_background

POLL = b"GET /engine.io-relaxed/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n"


def served_leaf(srv, pki) -> bytes:
    raw = RawTLS(srv.port, client_context(pki))
    try:
        raw.send_records(POLL)
        assert raw.read_http()[0] == 200
        return raw.peer_der()
    finally:
        raw.close()


def install(pair, cert, key):
    # Replace the files the way a renewal tool does: write aside, then rename over.
    shutil.copy(pair.chain, cert.with_suffix(".new"))
    shutil.copy(pair.key, key.with_suffix(".new"))
    cert.with_suffix(".new").replace(cert)
    key.with_suffix(".new").replace(key)


def reload(srv, expect: str) -> None:
    before = srv.log_text().count(expect)
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while srv.log_text().count(expect) == before:
        assert time.monotonic() < deadline, srv.log_text()
        time.sleep(0.05)


def test_sighup_reloads_new_connections_get_it_old_ones_stay(start_server, pki, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    install(pki.server, cert, key)
    srv = start_server(pair=Pair(chain=cert, key=key, leaf=cert))
    assert served_leaf(srv, pki) == pki.server.leaf_der()

    # Before the reload: a WSS session, a keep-alive HTTPS connection, a python-socketio client .
    bystander = Bystander(srv, pki)
    keep_alive = RawTLS(srv.port, client_context(pki))
    keep_alive.send_records(POLL)
    assert keep_alive.read_http()[0] == 200
    sio = SocketIOWire(srv, pki)

    install(pki.renewed, cert, key)
    reload(srv, "certificate reloaded")
    assert served_leaf(srv, pki) == pki.renewed.leaf_der()

    # Everything opened before still works, on the old certificate.
    bystander.roundtrip()
    keep_alive.send_records(POLL)
    assert keep_alive.read_http()[0] == 200
    assert keep_alive.peer_der() == pki.server.leaf_der()
    assert sio.call("echo", "after reload") == "after reload"

    # A reload that fails (a broken file) keeps the current certificate.
    cert.write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    reload(srv, "certificate not reloaded")
    assert str(cert) in srv.log_text().split("certificate not reloaded")[-1]
    assert served_leaf(srv, pki) == pki.renewed.leaf_der()
    bystander.roundtrip()

    sio.close()
    bystander.close()
    keep_alive.close()


def test_reload_under_load(start_server, pki, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    install(pki.server, cert, key)
    srv = start_server(pair=Pair(chain=cert, key=key, leaf=cert), args=["--loops", "2"])
    stop = threading.Event()
    seen: dict[bytes, int] = {}
    lock = threading.Lock()
    echoes = [0]

    def echo_forever():
        peer = Bystander(srv, pki)
        while not stop.is_set():
            peer.roundtrip()
            echoes[0] += 1
        peer.close()

    def connect_forever():
        while not stop.is_set():
            leaf = served_leaf(srv, pki)
            with lock:
                seen[leaf] = seen.get(leaf, 0) + 1

    threads, errors = in_background(echo_forever, 2)
    more, more_errors = in_background(connect_forever, 2)
    time.sleep(1.0)
    for round_ in range(3):
        install(pki.renewed if round_ % 2 == 0 else pki.server, cert, key)
        reload(srv, "certificate reloaded")
        time.sleep(0.7)
    stop.set()
    for thread in threads + more:
        thread.join(timeout=10)
    assert not errors and not more_errors, errors + more_errors
    assert echoes[0] > 20
    assert set(seen) == {pki.server.leaf_der(), pki.renewed.leaf_der()}, seen.keys()
    assert served_leaf(srv, pki) == pki.renewed.leaf_der()  # the last reload installed `renewed`
    assert srv.tls_errors() == []
