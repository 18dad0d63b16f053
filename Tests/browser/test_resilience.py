"""Connections that break: the server restarted under an open page, and connection state recovery."""

from __future__ import annotations

import os
import time

import pytest
from playwright.sync_api import expect

# What the official client reports when the server went away without a Socket.IO DISCONNECT packet, so that it
# reconnects by itself (an "io server disconnect" would need the application to call socket.connect()).
RECONNECTING_REASONS = {"transport close", "transport error", "ping timeout"}


@pytest.mark.timeout(90)
def test_server_restart_page_reconnects_and_delivers_what_was_sent_offline(chat_server, open_chat):
    alice = open_chat(name="alice")
    bob = open_chat(name="bob")
    alice.set_nickname("alice")
    alice.send("before the restart")
    bob.expect_message("before the restart", "alice")

    status = chat_server.stop()
    assert status == 0, f"sio-chat exited with status {status} on SIGTERM (graceful shutdown expected)"
    alice.wait_for("!window.socket.connected", timeout_ms=10_000)
    bob.wait_for("!window.socket.connected", timeout_ms=10_000)
    reasons = alice.js("window.chat.disconnects")
    assert reasons and reasons[0] in RECONNECTING_REASONS, f"alice's client saw {reasons!r}"
    assert alice.js("window.socket.active"), "the client gave up reconnecting"

    # Typed and sent while the server is down: the client buffers it.
    alice.send("sent while the server was down")
    assert alice.js("window.socket.sendBuffer.length") == 1
    expect(alice.page.locator("#connection")).to_contain_text("1 queued")

    time.sleep(1.0)
    chat_server.start()  # same port
    alice.wait_for("window.socket.connected && window.chat.ready", timeout_ms=20_000)
    bob.wait_for("window.socket.connected && window.chat.ready", timeout_ms=20_000)
    assert alice.js("window.chat.connects") == 2
    expect(alice.notice("^Reconnected")).to_have_count(1)

    # The buffered message reached the new server and everyone on it (live, or in the history for whoever was
    # back second).
    bob.expect_message("sent while the server was down", timeout_ms=15_000)
    alice.expect_message("sent while the server was down", timeout_ms=15_000)
    newcomer = open_chat(name="newcomer")
    newcomer.expect_message("sent while the server was down")
    assert "before the restart" not in [m["text"] for m in newcomer.messages()]  # a new process, a new history

    # Alice keeps the nickname she chose (the page re-applies it on the new server), and chat goes on.
    alice.wait_for("window.chat.nickname === 'alice'")
    alice.send("back to normal")
    bob.expect_message("back to normal", "alice")
    newcomer.expect_message("back to normal", "alice")


DROP_CONNECTION = """
() => {
  const s = window.socket;
  window.rawChat = [];
  s.on('chat message', (text, meta) => window.rawChat.push({text, nickname: meta && meta.nickname}));
  window.idBeforeDrop = s.id;
  // Reconnect after a fixed 2 s, so that the other page's message surely falls while this one is away.
  s.io.reconnectionDelay(2000);
  s.io.reconnectionDelayMax(2000);
  s.io.randomizationFactor(0);
  s.io.engine.close();   // the client sees its transport close and reconnects, as after a network blip
  return s.connected;
}
"""


@pytest.mark.skipif(bool(os.environ.get("SIO_CHAT_NO_RECOVERY")),
                    reason="SIO_CHAT_NO_RECOVERY set: the server under test has no connection state recovery")
@pytest.mark.parametrize("ns", ["/", "/chat"])
def test_connection_state_recovery_delivers_missed_messages(open_chat, ns, chat_server):
    query = "" if ns == "/" else f"?ns={ns}"
    away = open_chat(query, name="away")
    other = open_chat(query, name="other")
    if chat_server.loops > 1:
        assert (away.loop(chat_server.loops), other.loop(chat_server.loops)) == (0, 1)
    away.set_nickname("away")
    other.set_nickname("other")
    away.wait_for("window.socket.io.engine.transport.name === 'websocket'")
    other.send("before the drop")
    away.expect_message("before the drop", "other")

    assert away.js(DROP_CONNECTION) is False
    time.sleep(0.5)  # the server notices the closed transport
    other.send("while you were away")
    other.expect_message("while you were away", "other")
    assert away.js("window.socket.connected") is False

    away.wait_for("window.socket.connected", timeout_ms=15_000)
    assert away.js("window.socket.recovered") is True, "the session was not recovered"
    assert away.js("window.socket.id === window.idBeforeDrop"), "a recovered session keeps its socket id"
    # The missed broadcast was replayed to the socket itself (not only shown from the history)...
    away.wait_for("window.rawChat.some(m => m.text === 'while you were away')", timeout_ms=5_000)
    assert away.js("window.rawChat.filter(m => m.text === 'while you were away').length") == 1
    # ... and the page shows it once, with its sender.
    away.expect_message("while you were away", "other")
    expect(away.notice("caught up on the messages you missed")).to_have_count(1)
    assert away.js("window.chat.disconnects") == ["forced close"]

    # The recovered session still chats both ways, under the same nickname.
    away.send("I am back")
    other.expect_message("I am back", "away")
    other.send("welcome back")
    away.expect_message("welcome back", "other")
    assert [m["text"] for m in away.messages()].count("before the drop") == 1


DROP_AND_RECONNECT_FAST = """
() => {
  const s = window.socket;
  s.io.reconnectionDelay(800);
  s.io.reconnectionDelayMax(800);
  s.io.randomizationFactor(0);
  window.idBeforeDrop = s.id;
  window.engineBeforeDrop = s.io.engine.id;
  s.io.engine.close();
  return s.connected;
}
"""


@pytest.mark.skipif(bool(os.environ.get("SIO_CHAT_NO_RECOVERY")),
                    reason="SIO_CHAT_NO_RECOVERY set: the server under test has no connection state recovery")
@pytest.mark.timeout(120)
@pytest.mark.chat_loops(2)
def test_connection_state_recovery_across_loops(open_chat, chat_server):
    """With two loops, no sticky sessions: a client that reconnects gets a new Engine.IO session on whichever loop
    takes it, and its Socket.IO session (id, rooms, missed packets) is recovered there all the same. The page drops
    its connection until one reconnection has landed on another loop than the one before (each must recover)."""
    assert chat_server.loops == 2
    # WebSocket only: each reconnection is a new TCP connection, which the kernel gives to either loop (a polling
    # handshake would reuse one of the browser's pooled keep-alive connections, always on the same loop).
    away = open_chat("?transports=websocket", name="away")
    other = open_chat(name="other")
    away.set_nickname("away")
    other.set_nickname("other")
    away.js("""() => { window.rawChat = [];
        window.socket.on('chat message', (text) => window.rawChat.push(text)); }""")
    loops_seen = [away.loop(chat_server.loops)]
    for round_ in range(12):
        assert away.js(DROP_AND_RECONNECT_FAST) is False
        time.sleep(0.4)  # the server notices the closed transport
        text = f"missed #{round_}"
        other.send(text)
        other.expect_message(text)
        away.wait_for("window.socket.connected && window.socket.io.engine.id !== window.engineBeforeDrop",
                      timeout_ms=15_000)
        assert away.js("window.socket.recovered") is True, f"round {round_}: the session was not recovered"
        assert away.js("window.socket.id === window.idBeforeDrop"), "a recovered session keeps its socket id"
        away.wait_for("(t) => window.rawChat.includes(t)", arg=text, timeout_ms=5_000)
        assert away.js("(t) => window.rawChat.filter(m => m === t).length", text) == 1, "replayed once"
        loops_seen.append(away.loop(chat_server.loops))
        if loops_seen[-1] != loops_seen[-2]:
            break
    assert len(set(loops_seen)) > 1, f"every reconnection landed on the same loop: {loops_seen}"
    # Still one session, chatting both ways, counted once.
    away.send("back on another loop")
    other.expect_message("back on another loop", "away")
    other.send("welcome back")
    away.expect_message("welcome back", "other")
    expect(other.page.locator("#online")).to_have_text("2 online")
