"""Transports, the client bundle, binary payloads and acks, with the official client in Chromium."""

from __future__ import annotations

import hashlib
import time
import urllib.request

import pytest
from playwright.sync_api import expect

# socket.io-client 4.8.1 socket.io.min.js (as scripts/fetch-client-js.sh verifies it).
CLIENT_JS_SHA256 = "b0e735814f8dcfecd6cdb8a7ce95a297a7e1e5f2727a29e6f5901801d52fa0c5"


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


@pytest.mark.chat_loops(1)  # one page, or nothing a second loop changes
def test_page_and_client_bundle_are_served(chat_server):
    status, ctype, body = _get(chat_server.url + "/")
    assert status == 200 and ctype.startswith("text/html"), (status, ctype)
    assert b'<ul id="messages"' in body and b'src="/socket.io/socket.io.js"' in body
    for path in ("/socket.io/socket.io.js", "/socket.io/socket.io.min.js"):
        status, ctype, body = _get(chat_server.url + path)
        assert status == 200, path
        assert "javascript" in ctype, (path, ctype)
        assert hashlib.sha256(body).hexdigest() == CLIENT_JS_SHA256, f"{path} is not socket.io-client 4.8.1"


def test_polling_only_and_websocket_only_clients_talk(open_chat, chat_server):
    poller = open_chat("?transports=polling", name="polling")
    wser = open_chat("?transports=websocket", name="websocket")
    if chat_server.loops > 1:  # on different loops; each polling request may reach either and is moved to its own
        assert (poller.loop(chat_server.loops), wser.loop(chat_server.loops)) == (0, 1)
    poller.set_nickname("poller")
    wser.set_nickname("wser")
    assert poller.transport() == "polling"
    assert wser.transport() == "websocket"

    poller.send("sent over long-polling")
    wser.expect_message("sent over long-polling", "poller")
    wser.send("sent over a websocket")
    poller.expect_message("sent over a websocket", "wser")
    for i in range(5):  # a few in a row each way
        poller.send(f"p{i}")
        wser.send(f"w{i}")
    for i in range(5):
        wser.expect_message(f"p{i}", "poller")
        poller.expect_message(f"w{i}", "wser")
    # Nobody upgraded or downgraded.
    assert poller.transport() == "polling"
    assert wser.transport() == "websocket"
    expect(poller.page.locator("#connection")).to_have_attribute("data-transport", "polling")
    expect(wser.page.locator("#connection")).to_have_attribute("data-transport", "websocket")


def test_default_client_upgrades_to_websocket(open_chat, chat_server):
    tab = open_chat(name="default", loop=1 if chat_server.loops > 1 else None)
    # With two loops: the session is loop 1's, the upgrade's websocket connection may reach loop 0 and is moved.
    sid = tab.engine_id()
    tab.wait_for("window.socket.io.engine.transport.name === 'websocket'")
    assert tab.engine_id() == sid, "upgraded in place: same Engine.IO session"
    expect(tab.page.locator("#connection")).to_have_attribute("data-transport", "websocket")
    expect(tab.page.locator("#connection")).to_have_text("Connected (websocket)")
    other = open_chat(name="other", loop=0 if chat_server.loops > 1 else None)
    tab.send("after the upgrade")
    other.expect_message("after the upgrade")
    other.send("and back")
    tab.expect_message("and back")
    assert tab.js("window.chat.connects") == 1  # upgraded in place, no reconnect


BINARY_ROUND_TRIP = """
async () => {
  const bytes = new Uint8Array(1500);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
  const small = new Uint8Array([0, 1, 2, 253, 254, 255]);
  const empty = new ArrayBuffer(0);
  const toArray = async (v) => {
    if (v instanceof ArrayBuffer) return {kind: 'ArrayBuffer', bytes: Array.from(new Uint8Array(v))};
    if (ArrayBuffer.isView(v)) return {kind: v.constructor.name, bytes: Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))};
    if (typeof Blob !== 'undefined' && v instanceof Blob) return {kind: 'Blob', bytes: Array.from(new Uint8Array(await v.arrayBuffer()))};
    return {kind: typeof v, value: v};
  };
  const started = performance.now();
  // emitWithAck() resolves with the first argument only: take them all with a callback.
  const reply = await new Promise((resolve, reject) => window.socket.timeout(5000).emit(
      'echo', bytes.buffer, {label: 'nested', blob: small, list: [empty, 'text', 42]}, 'tail',
      (err, ...args) => err ? reject(err) : resolve(args)));
  return {
    ms: performance.now() - started,
    count: reply.length,
    first: await toArray(reply[0]),
    label: reply[1] && reply[1].label,
    nested: await toArray(reply[1] && reply[1].blob),
    emptyBack: await toArray(reply[1] && reply[1].list && reply[1].list[0]),
    listRest: reply[1] && reply[1].list && reply[1].list.slice(1),
    tail: reply[2],
    transport: window.socket.io.engine.transport.name,
  };
}
"""


@pytest.mark.parametrize("transports", ["websocket", "polling"])
def test_binary_round_trip_through_echo_with_ack(open_chat, transports):
    tab = open_chat(f"?transports={transports}", name=transports)
    r = tab.js(BINARY_ROUND_TRIP)
    assert r["transport"] == transports
    assert r["count"] == 3
    assert r["first"]["kind"] == "ArrayBuffer"
    assert r["first"]["bytes"] == [(i * 7 + 3) & 0xFF for i in range(1500)]
    assert r["label"] == "nested"
    assert r["nested"]["kind"] == "ArrayBuffer"  # a Uint8Array sent comes back as an ArrayBuffer
    assert r["nested"]["bytes"] == [0, 1, 2, 253, 254, 255]
    assert r["emptyBack"] == {"kind": "ArrayBuffer", "bytes": []}
    assert r["listRest"] == ["text", 42]
    assert r["tail"] == "tail"


ACK_TIMEOUTS = """
async () => {
  const s = window.socket;
  const t0 = performance.now();
  const ignored = await new Promise((resolve) => {
    s.timeout(500).emit('ignore', 'nobody answers', (err, ...rest) => resolve({
      err: err ? {name: err.name, message: err.message} : null, rest, ms: performance.now() - t0 }));
  });
  const t1 = performance.now();
  const echoed = await new Promise((resolve) => {
    s.timeout(2000).emit('echo', 'pong', 7, {a: [1, null, true]}, (err, ...args) => resolve({
      err: err ? err.message : null, args, ms: performance.now() - t1 }));
  });
  const plain = await new Promise((resolve) => s.emit('echo', 'no timeout', (...args) => resolve(args)));
  let promiseTimeout = null;
  try {
    await s.timeout(300).emitWithAck('ignore');
  } catch (e) {
    promiseTimeout = e.message;
  }
  return {ignored, echoed, plain, promiseTimeout, connected: s.connected};
}
"""


@pytest.mark.chat_loops(1)  # one page, or nothing a second loop changes
def test_ack_with_timeout(open_chat):
    tab = open_chat(name="acks")
    r = tab.js(ACK_TIMEOUTS)
    assert r["ignored"]["err"] == {"name": "Error", "message": "operation has timed out"}, r
    assert r["ignored"]["rest"] == []
    assert 450 <= r["ignored"]["ms"] < 1500, r
    assert r["echoed"]["err"] is None, r
    assert r["echoed"]["args"] == ["pong", 7, {"a": [1, None, True]}]
    assert r["echoed"]["ms"] < 2000
    assert r["plain"] == ["no timeout"]
    assert r["promiseTimeout"] == "operation has timed out"
    assert r["connected"] is True
    # A late ack must not upset anything: the socket still works.
    time.sleep(0.2)
    assert tab.js("window.socket.timeout(2000).emitWithAck('echo', 'still here')") == "still here"
