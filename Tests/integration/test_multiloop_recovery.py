"""Connection state recovery on a multi-loop server, when the reconnection lands on another loop (issue 12).

Drives the Socket.IO protocol by hand over websocket-client against `/recovery.io/` of `sio-protocol-server`
(recovery on, 10 s), so the test sees the offsets the server stamps and chooses what the client acknowledges.
A new TCP connection is accepted by whichever loop the kernel picks; the session must come back on any of them.
"""

from __future__ import annotations

import json
import time

import pytest
import websocket

from conftest import ServerProcess

PATH = "/recovery.io/"


@pytest.fixture(scope="module", params=[2, 3], ids=lambda n: f"{n}-loops")
def loops_server(request):
    server = ServerProcess(f"recovery-{request.param}-loops", loops=request.param).start()
    yield server
    server.stop()


class RawClient:
    """One Engine.IO WebSocket session with the main namespace joined."""

    def __init__(self, server, auth: dict | None = None):
        host, port = server.host, server.port
        self.ws = websocket.create_connection(
            f"ws://{host}:{port}{PATH}?EIO=4&transport=websocket", timeout=5)
        opened = self.ws.recv()
        assert opened.startswith("0"), opened
        self.eio_sid = json.loads(opened[1:])["sid"]
        self.ws.send("40" + (json.dumps(auth) if auth else ""))
        connected = self.next_packet("40")
        self.sid = json.loads(connected[2:])["sid"]
        self.pid = json.loads(connected[2:]).get("pid")
        self.events: list[list] = []
        self.ack_id = 0

    def next_packet(self, prefix: str) -> str:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            packet = self.ws.recv()
            if packet == "2":
                self.ws.send("3")
                continue
            if packet.startswith(prefix):
                return packet
            if packet.startswith("42"):
                self.events.append(json.loads(packet[2:]))
        raise AssertionError(f"no packet {prefix!r}")

    def call(self, event: str, *args):
        self.ack_id += 1
        self.ws.send(f"42{self.ack_id}" + json.dumps([event, *args]))
        reply = self.next_packet(f"43{self.ack_id}")
        return json.loads(reply[len(f"43{self.ack_id}"):])[0]

    def wait_events(self, name: str, count: int, timeout: float = 5.0) -> list:
        deadline = time.monotonic() + timeout
        self.ws.settimeout(0.2)
        try:
            while time.monotonic() < deadline and len([e for e in self.events if e[0] == name]) < count:
                try:
                    packet = self.ws.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                if packet == "2":
                    self.ws.send("3")
                elif packet.startswith("42"):
                    self.events.append(json.loads(packet[2:]))
        finally:
            self.ws.settimeout(5)
        return [e for e in self.events if e[0] == name]

    def cut(self):
        """Drops the TCP connection without a goodbye (a transport error on the server's side)."""
        self.ws.sock.shutdown(2)
        self.ws.sock.close()

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


def test_recovery_lands_on_any_loop(loops_server):
    """Every loop is exercised as both the first and the recovering loop: ids, rooms and missed packets survive."""
    sender = RawClient(loops_server)
    seen_pairs = set()
    try:
        for attempt in range(40):
            client = RawClient(loops_server)
            first_loop = client.call("loop")
            assert client.call("join", "news") is True
            sender.call("broadcast", {"event": "news", "data": f"before-{attempt}", "room": "news"})
            received = client.wait_events("news", 1)
            assert received[-1][1] == f"before-{attempt}"
            offset = received[-1][-1]
            client.cut()
            time.sleep(0.05)  # let the server notice the cut transport
            for n in range(3):
                sender.call("broadcast", {"event": "news", "data": f"missed-{attempt}-{n}", "room": "news"})
            back = RawClient(loops_server, auth={"pid": client.pid, "offset": offset})
            try:
                assert back.sid == client.sid, "recovered with the same id"
                missed = back.wait_events("news", 3)
                assert [e[1] for e in missed] == [f"missed-{attempt}-{n}" for n in range(3)], "in order, once"
                welcome = back.wait_events("welcome", 1)
                assert welcome[0][1]["recovered"] is True
                # Still in its room on the new loop.
                sender.call("broadcast", {"event": "news", "data": f"after-{attempt}", "room": "news"})
                after = back.wait_events("news", 4)
                assert after[-1][1] == f"after-{attempt}"
                seen_pairs.add((first_loop, back.call("loop")))
            finally:
                back.close()
            if {a for a, b in seen_pairs if a != b} and len(seen_pairs) >= loops_server.loops and attempt >= 8:
                break
    finally:
        sender.close()
    assert any(a != b for a, b in seen_pairs), f"no recovery crossed loops: {seen_pairs}"


def test_expired_or_unknown_session_starts_fresh(loops_server):
    client = RawClient(loops_server, auth={"pid": "unknown-pid", "offset": "nothing"})
    try:
        welcome = client.wait_events("welcome", 1)
        assert welcome[0][1]["recovered"] is False
        assert client.pid and client.pid != "unknown-pid"
    finally:
        client.close()
