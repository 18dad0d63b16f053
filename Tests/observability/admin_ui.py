"""A python-socketio client acting as the admin UI (@socket.io/admin-ui 0.5): it connects to the admin namespace
and records every event the UI listens to (ui/src/App.vue registerEventListeners), with the argument lists the
UI's handlers take. The shapes the UI's store reads (ui/src/store/modules/*.js) are checked by `check_*`."""

from __future__ import annotations

import queue
import re
import time

import socketio

# The events App.vue listens to.
UI_EVENTS = ("session", "config", "server_stats", "all_sockets", "socket_connected", "socket_updated",
             "socket_disconnected", "room_joined", "room_left", "event_received", "event_sent")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # new Date().toJSON()


class AdminUI:
    def __init__(self, url: str, namespace: str = "/admin", auth: dict | None = None,
                 transports=("websocket",)) -> None:
        self.client = socketio.Client(reconnection=False)
        self.namespace = namespace
        self.events: "queue.Queue[tuple[str, tuple]]" = queue.Queue()
        self.seen: list[tuple[str, tuple]] = []
        for name in UI_EVENTS:
            self.client.on(name, self._recorder(name), namespace=namespace)
        self.error: object = None
        self.client.on("connect_error", self._error, namespace=namespace)
        self.url = url
        self.auth = auth
        self.transports = list(transports)

    def _recorder(self, name):
        def record(*args):
            self.events.put((name, args))
        return record

    def _error(self, data=None):
        self.error = data

    def connect(self) -> "AdminUI":
        self.client.connect(self.url, namespaces=[self.namespace], auth=self.auth, transports=self.transports,
                            wait_timeout=10)
        return self

    def wait(self, name: str, predicate=lambda args: True, timeout: float = 10.0) -> tuple:
        """The next `name` event whose arguments satisfy `predicate` (events before it are kept in `seen`)."""
        for event in self.seen:
            if event[0] == name and predicate(event[1]):
                self.seen.remove(event)
                return event[1]
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name} event within {timeout} s; saw {[e[0] for e in self.seen]}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event[0] == name and predicate(event[1]):
                return event[1]
            self.seen.append(event)

    def none(self, name: str, predicate=lambda args: True, within: float = 1.0) -> None:
        """No `name` event satisfying `predicate` arrives within `within` seconds."""
        try:
            args = self.wait(name, predicate, timeout=within)
        except AssertionError:
            return
        raise AssertionError(f"unexpected {name}: {args}")

    def emit(self, event: str, *args) -> None:
        """The UI's commands: `emit("join", "/", "room1", socket_id)` sends the arguments as they are."""
        self.client.emit(event, args, namespace=self.namespace)

    def disconnect(self) -> None:
        self.client.disconnect()


def check_serialized_socket(socket: dict) -> None:
    """lib/typed-events.ts SerializedSocket, as main.js addSocket and the Socket views read it."""
    assert set(socket) == {"id", "clientId", "transport", "nsp", "data", "handshake", "rooms"}, socket
    assert isinstance(socket["id"], str) and isinstance(socket["clientId"], str)
    assert socket["transport"] in ("polling", "websocket")
    assert socket["nsp"].startswith("/")
    assert isinstance(socket["data"], dict)
    handshake = socket["handshake"]
    assert set(handshake) == {"address", "headers", "query", "issued", "secure", "time", "url", "xdomain"}, handshake
    assert isinstance(handshake["address"], str) and isinstance(handshake["headers"], dict)
    assert isinstance(handshake["query"], dict) and handshake["query"].get("EIO") == "4"
    assert isinstance(handshake["issued"], (int, float)) and isinstance(handshake["secure"], bool)
    assert isinstance(handshake["time"], str) and isinstance(handshake["url"], str)
    assert isinstance(handshake["xdomain"], bool)
    assert isinstance(socket["rooms"], list) and socket["rooms"][0] == socket["id"]


def check_server_stats(stats: dict) -> None:
    """lib/index.ts initStatsEmitter, as servers.js and the dashboard read it."""
    assert set(stats) == {"serverId", "hostname", "pid", "uptime", "clientsCount", "pollingClientsCount",
                          "aggregatedEvents", "namespaces"}, stats
    assert isinstance(stats["serverId"], str) and isinstance(stats["hostname"], str)
    assert isinstance(stats["pid"], int) and isinstance(stats["uptime"], (int, float))
    assert isinstance(stats["clientsCount"], int) and isinstance(stats["pollingClientsCount"], int)
    for event in stats["aggregatedEvents"]:
        assert set(event) - {"subType"} == {"timestamp", "type", "count"}, event
        assert event["type"] in ("rawConnection", "rawDisconnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut")
        assert event["timestamp"] % 1000 == 0 and event["count"] > 0
        assert ("subType" in event) == (event["type"] == "rawDisconnection")
    for namespace in stats["namespaces"]:
        assert set(namespace) == {"name", "socketsCount"} and isinstance(namespace["socketsCount"], int)
