"""Prometheus metrics (``metrics=True``) and the admin UI (``Server.instrument``) through the binding, with real
python-socketio clients (one acting as @socket.io/admin-ui); Tests/observability covers the protocol itself."""

from __future__ import annotations

import queue

import pytest
import requests
import socketio
from conftest import started, wait_for

import sio

HASH = "$2b$10$nu1FHRkuxkZkqID.31gz4uQsyERZAn.m4IIruysTsHDODBtrqS5Me"  # bcrypt("changeit"), the reference's


@pytest.mark.parametrize("loops", [1, 2])
def test_metrics_and_instrument(clients, loops):
    server = sio.Server(metrics=True, loops=loops)
    try:
        server.instrument(auth={"username": "admin", "password_hash": HASH}, namespace="/ops", server_id="py-node")
        seen = []

        @server.event("hello")
        def hello(socket, value):
            seen.append(value)
            return value

        url = started(server)
        user = clients(url, transports=["websocket"])
        assert user.client.call("hello", 7, timeout=5) == 7
        text = requests.get(url + "/metrics", timeout=5).text
        sockets = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                      if line.startswith('sio_namespace_sockets{') and 'namespace="/"' in line)
        assert sockets == 1

        events: queue.Queue = queue.Queue()
        ui = socketio.Client(reconnection=False)
        for name in ("session", "config", "server_stats", "event_received"):
            ui.on(name, lambda *args, name=name: events.put((name, args)), namespace="/ops")
        with pytest.raises(socketio.exceptions.ConnectionError):
            ui.connect(url, namespaces=["/ops"], auth={"username": "admin", "password": "nope"}, wait_timeout=5)
        ui = socketio.Client(reconnection=False)
        for name in ("session", "config", "server_stats", "event_received"):
            ui.on(name, lambda *args, name=name: events.put((name, args)), namespace="/ops")
        ui.connect(url, namespaces=["/ops"], auth={"username": "admin", "password": "changeit"}, wait_timeout=5)
        got = {}
        wait_for(lambda: (got.update([events.get(timeout=5)]) or {"session", "config", "server_stats"} <= set(got)),
                 timeout=10, what="session, config and server_stats")
        assert got["config"][0]["supportedFeatures"][-1] == "ALL_EVENTS"
        assert got["server_stats"][0]["serverId"] == "py-node"
        user.client.emit("hello", 8)
        wait_for(lambda: seen == [7, 8], what="the handler")
        wait_for(lambda: (got.update([events.get(timeout=5)]) or "event_received" in got), what="event_received")
        assert got["event_received"][:3] == ("/", user.client.get_sid("/"), ["hello", 8])
        ui.disconnect()
    finally:
        server.close()


def test_instrument_refuses_a_hash_that_is_not_bcrypt():
    with sio.Server() as server:
        with pytest.raises(sio.InvalidArgumentError):
            server.instrument(auth={"username": "admin", "password_hash": "changeit"})
        with pytest.raises(sio.InvalidArgumentError):
            server.instrument(mode="staging")
