"""Helpers of the Redis streams adapter tests (test_streams*.py):

- `TCPProxy`: a loopback TCP proxy the test switches between nodes (or in front of Redis): `cut()` closes every
  connection, `blackhole()` drops the client side while the server side stays open and silent (a transport that
  died without a word), `refuse` turns new connections away.
- `RawClient`: the Socket.IO protocol by hand over websocket-client, doing what socket.io-client does for
  connection state recovery (python-socketio 5.18 as a client does not): it keeps the pid from the CONNECT answer
  and the last string argument of every event as its offset, and comes back with `auth={"pid","offset"}`.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import websocket

from cluster_util import HOST


class TCPProxy:
    def __init__(self, target_port: int):
        self.target_port = target_port
        self.refuse = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._pairs: list[dict] = []
        self._silenced: list[dict] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            if self.refuse:
                downstream.close()
                continue
            try:
                upstream = socket.create_connection((HOST, self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                downstream.close()
                continue
            pair = {"down": downstream, "up": upstream, "silent": False}
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair, "down", "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(pair, "up", "down"), daemon=True).start()

    def _pump(self, pair: dict, source: str, sink: str) -> None:
        while True:
            try:
                data = pair[source].recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if pair["silent"]:
                continue
            try:
                pair[sink].sendall(data)
            except OSError:
                break
        if not pair["silent"]:
            self._close(pair)

    @staticmethod
    def _close(pair: dict) -> None:
        for side in ("down", "up"):
            try:
                pair[side].shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                pair[side].close()
            except OSError:
                pass

    def switch(self, target_port: int) -> None:
        """New connections go to `target_port` from now on."""
        self.target_port = target_port

    def cut(self) -> None:
        """Closes every connection, both sides."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair["silent"] = False
            self._close(pair)

    def blackhole(self) -> None:
        """Closes the client side of every connection; the server side stays open and hears nothing more."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair["silent"] = True
            try:
                pair["down"].shutdown(socket.SHUT_RDWR)
                pair["down"].close()
            except OSError:
                pass
        self._silenced += pairs

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass
        self.cut()
        for pair in self._silenced:
            self._close(pair)


class RawClient:
    """One Engine.IO WebSocket session with the main namespace joined, by hand."""

    def __init__(self, port: int, auth: dict | None = None, label: str = ""):
        self.label = label
        self.ws = websocket.create_connection(f"ws://{HOST}:{port}/socket.io/?EIO=4&transport=websocket", timeout=5)
        opened = self.ws.recv()
        assert opened.startswith("0"), opened
        self.ws.send("40" + (json.dumps(auth) if auth else ""))
        self.events: list[list] = []
        self.offset: str | None = None
        self.ack_id = 0
        self._binary: tuple | None = None  # (attachments expected, received, event) of a binary event under way
        self.pid: str | None = None
        connected = json.loads(self.next_packet("40")[2:])
        self.sid = connected["sid"]
        self.pid = connected.get("pid")

    def _record(self, event: list) -> None:
        self.events.append(event)
        # socket.io-client's emitEvent: the last argument, when a string, is the offset to recover from.
        if self.pid and len(event) > 1 and isinstance(event[-1], str):
            self.offset = event[-1]

    def _on_packet(self, packet) -> str | None:
        """Handles one WebSocket message: answers pings, records events (binary ones once their attachments
        arrived, each as `{"$bin": hex}`); returns a text packet that is neither, for the caller to look at."""
        if isinstance(packet, bytes):
            if self._binary is not None:
                self._binary[1].append(packet)
                if len(self._binary[1]) == self._binary[0]:
                    event, attachments = self._binary[2], self._binary[1]
                    self._binary = None
                    self._record(self._fill(event, attachments))
            return None
        if packet == "2":
            self.ws.send("3")
            return None
        if packet.startswith("42") and packet[2:3] == "[":
            self._record(json.loads(packet[2:]))
            return None
        if packet.startswith("45"):
            count, _, rest = packet[2:].partition("-")
            if rest.startswith("["):
                self._binary = (int(count), [], json.loads(rest))
                return None
        return packet

    @staticmethod
    def _fill(value, attachments: list[bytes]):
        if isinstance(value, dict):
            if value.get("_placeholder") is True and isinstance(value.get("num"), int):
                return {"$bin": attachments[value["num"]].hex()}
            return {k: RawClient._fill(v, attachments) for k, v in value.items()}
        if isinstance(value, list):
            return [RawClient._fill(v, attachments) for v in value]
        return value

    def next_packet(self, prefix: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            packet = self._on_packet(self.ws.recv())
            if packet is not None and packet.startswith(prefix):
                return packet
        raise AssertionError(f"{self.label}: no packet {prefix!r}")

    def call(self, event: str, *args, timeout: float = 10.0):
        self.ack_id += 1
        self.ws.send(f"42{self.ack_id}" + json.dumps([event, *args]))
        reply = self.next_packet(f"43{self.ack_id}", timeout=timeout)
        return json.loads(reply[len(f"43{self.ack_id}"):])[0]

    def _read_until(self, deadline: float, done=lambda: False) -> None:
        self.ws.settimeout(0.1)
        try:
            while time.monotonic() < deadline and not done():
                try:
                    self._on_packet(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
        finally:
            self.ws.settimeout(5)

    def pump(self, seconds: float) -> None:
        """Reads (and answers pings) for `seconds`."""
        self._read_until(time.monotonic() + seconds)

    def messages(self, event: str = "bcast", key: str = "msg") -> list:
        return [e[1].get(key) for e in self.events if e[0] == event and len(e) > 1 and isinstance(e[1], dict)
                and key in e[1]]

    def wait_messages(self, count: int, event: str = "bcast", timeout: float = 8.0) -> list:
        self._read_until(time.monotonic() + timeout, lambda: len(self.messages(event)) >= count)
        return self.messages(event)

    def come_back(self, port: int, label: str = "") -> "RawClient":
        """A new connection recovering this session, as socket.io-client's reconnection does."""
        auth = {"pid": self.pid}
        if self.offset is not None:
            auth["offset"] = self.offset
        return RawClient(port, auth=auth, label=label or self.label)

    def cut(self) -> None:
        """Drops the TCP connection without a goodbye (a transport close on the server's side)."""
        try:
            self.ws.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.ws.sock.close()

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
