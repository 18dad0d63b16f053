"""The official browser client on an https:// page (issue 16): sio-chat with --tls-cert/--tls-key serves the page,
the bundle and the chat over HTTPS and WSS; Chromium accepts the test certificate by its public key's hash
(--ignore-certificate-errors-spki-list, see conftest.py), which still checks the chain's signature and names."""

from __future__ import annotations

import shutil
import signal
import time

from playwright.sync_api import expect

from conftest import ChatServer


def test_chat_over_https_and_wss(open_chat, tls_chat_server):
    alice = open_chat(name="alice", server=tls_chat_server)
    bob = open_chat(name="bob", server=tls_chat_server)
    for tab in (alice, bob):
        assert tab.js("location.protocol") == "https:"
        assert tab.js("window.isSecureContext") is True
        tab.wait_for("window.socket.io.engine.transport.name === 'websocket'")
        assert tab.js("window.socket.io.engine.transport.ws.url").startswith("wss://")
        assert tab.js("window.socket.io.engine.secure") is True
    alice.set_nickname("alice")
    alice.send("hello over TLS")
    bob.expect_message("hello over TLS", "alice")
    bob.set_nickname("bob")
    bob.send("and back")
    alice.expect_message("and back", "bob")


def test_polling_only_over_https(open_chat, tls_chat_server):
    tab = open_chat(query="?transports=polling", server=tls_chat_server, wait=False)
    tab.wait_ready()
    other = open_chat(server=tls_chat_server)
    tab.send("polling over https")
    other.expect_message("polling over https")


def test_two_loops_over_tls(open_chat, request, tls_pki):
    srv = ChatServer("tls-loops", args=["--tls-cert", str(tls_pki.server.chain), "--tls-key", str(tls_pki.server.key),
                                   "--loops", "2"], scheme="https")
    request.node._chat_servers = getattr(request.node, "_chat_servers", []) + [srv]
    srv.start()
    try:
        tabs = [open_chat(name=f"t{i}", server=srv) for i in range(4)]
        tabs[0].send("to every loop")
        for tab in tabs[1:]:
            tab.expect_message("to every loop")
    finally:
        srv.close()


def test_certificate_reload_keeps_the_page_connected(open_chat, request, tls_pki, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(tls_pki.server.chain, cert)
    shutil.copy(tls_pki.server.key, key)
    srv = ChatServer("tls-reload", args=["--tls-cert", str(cert), "--tls-key", str(key)], scheme="https")
    request.node._chat_servers = getattr(request.node, "_chat_servers", []) + [srv]
    srv.start()
    try:
        before = open_chat(name="before", server=srv)
        before.wait_for("window.socket.io.engine.transport.name === 'websocket'")
        sid = before.js("window.socket.id")
        shutil.copy(tls_pki.renewed.chain, cert)
        shutil.copy(tls_pki.renewed.key, key)
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "certificate reloaded" not in srv.log_text():
            assert time.monotonic() < deadline, srv.log_text()
            time.sleep(0.05)
        after = open_chat(name="after", server=srv)  # a new connection: the renewed certificate
        after.send("after the reload")
        before.expect_message("after the reload")
        assert before.js("window.socket.id") == sid  # the old connection never dropped
        expect(before.page.locator("#online")).to_have_text("2 online")
    finally:
        srv.close()
