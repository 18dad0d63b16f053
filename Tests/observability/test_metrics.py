"""Prometheus metrics (issue 18): `--metrics` serves /metrics on the server's port in text format 0.0.4; a real
Prometheus scrapes it and PromQL sees the values move as real python-socketio clients connect, emit and leave."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import requests
import socketio

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def client(server, transports=("websocket",)) -> socketio.SimpleClient:
    sio = socketio.SimpleClient()
    sio.connect(server.url, transports=list(transports), wait_timeout=10)
    return sio


def parse(text: str) -> dict[str, dict]:
    """Families by name: type, help, and samples {labels text: value}. Checks the shape of every line."""
    families: dict[str, dict] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, help_text = line[7:].split(" ", 1)
            families.setdefault(name, {"samples": {}})["help"] = help_text
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            families.setdefault(name, {"samples": {}})["type"] = kind
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels, value = match.groups()
            assert name in families, f"{name} has no HELP/TYPE before its samples"
            families[name]["samples"][labels or ""] = float(value)
    return families


def total(families, name, **labels) -> float:
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    return sum(v for k, v in families[name]["samples"].items() if all(w in k for w in wanted))


def test_metrics_are_off_by_default(start_server):
    server = start_server()
    assert requests.get(server.url + "/metrics", timeout=5).status_code == 404


def test_format_is_prometheus_text_0_0_4_and_promtool_accepts_it(start_server):
    server = start_server(args=["--metrics"])
    clients = [client(server), client(server, ("polling",))]
    clients[0].call("echo-ack", ["x"], timeout=10)
    response = requests.get(server.url + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = parse(response.text)
    for name, family in families.items():
        assert family["type"] in ("counter", "gauge"), name
        assert name.endswith("_total") == (family["type"] == "counter"), name
    assert total(families, "sio_engine_clients") == 2
    assert total(families, "sio_engine_clients", transport="polling") == 1
    assert total(families, "sio_namespace_sockets", namespace="/") == 2
    assert total(families, "sio_engine_packets_received_total") >= 3  # two CONNECTs and the event
    promtool = shutil.which("promtool")
    assert promtool, "promtool not installed (Debian's prometheus package has it)"
    check = subprocess.run([promtool, "check", "metrics"], input=response.text, text=True, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert requests.post(server.url + "/metrics", timeout=5).status_code == 405
    head = requests.head(server.url + "/metrics", timeout=5)
    assert head.status_code == 200 and head.content == b""
    for sio in clients:
        sio.disconnect()


def test_prometheus_scrapes_and_promql_follows_the_load(start_server, prometheus):
    server = start_server(args=["--metrics"])
    prom = prometheus(f"127.0.0.1:{server.port}")
    prom.wait_for('up{job="sio"}', lambda v: v == 1)
    assert prom.targets_up()
    prom.wait_for('sum(sio_engine_clients)', lambda v: v == 0)

    clients = [client(server) for _ in range(3)] + [client(server, ("polling",))]
    prom.wait_for('sum(sio_engine_clients)', lambda v: v == 4)
    prom.wait_for('sum(sio_engine_clients{transport="polling"})', lambda v: v == 1)
    prom.wait_for('sum(sio_namespace_sockets{namespace="/"})', lambda v: v == 4)
    prom.wait_for('sum(sio_namespace_connections_total{namespace="/"})', lambda v: v == 4)

    received_before = prom.scalar('sum(sio_engine_packets_received_total)')
    for sio in clients:
        for _ in range(5):
            assert sio.call("echo-ack", {"n": 1}, timeout=10) == {"n": 1}
    prom.wait_for('sum(sio_engine_packets_received_total)', lambda v: v >= received_before + 20)
    prom.wait_for('sum(sio_engine_bytes_received_total)', lambda v: v > 0)
    prom.wait_for('sum(sio_engine_packets_sent_total)', lambda v: v >= 20)

    # One broadcast from the first client reaches all four sockets (the bench server's `broadcast` includes the
    # sender), whichever loops they are on.
    clients[0].emit("broadcast", {"hello": 1})
    for sio in clients:
        assert sio.receive(timeout=10) == ["bcast", {"hello": 1}]
    prom.wait_for('sum(sio_broadcasts_total{namespace="/"})', lambda v: v == 1)
    prom.wait_for('sum(sio_broadcast_deliveries_total{namespace="/"})', lambda v: v == 4)

    requests.get(server.url + "/socket.io/?EIO=4&transport=carrier-pigeon", timeout=5)
    prom.wait_for('sum(sio_engine_handshake_errors_total{reason="transport_unknown"})', lambda v: v == 1)

    for sio in clients:
        sio.disconnect()
    prom.wait_for('sum(sio_namespace_sockets)', lambda v: v == 0)
    prom.wait_for('sum(sio_engine_clients)', lambda v: v == 0)
    # python-socketio sends DISCONNECT then closes the transport: which of the two the server reads first decides
    # the reason ("client namespace disconnect" or "transport close"), so the test asks for the two together.
    prom.wait_for('sum(sio_namespace_disconnections_total{namespace="/",'
                  'reason=~"client namespace disconnect|transport close"})', lambda v: v == 4)
    prom.wait_for('sum(sio_engine_disconnections_total)', lambda v: v == 4)
    # A counter's rate over the run is what a dashboard plots: it is there and positive.
    assert prom.scalar('sum(increase(sio_engine_connections_total[1m]))') > 0


def test_sio_chat_serves_metrics_beside_its_page(start_server):
    server = start_server("sio-chat", args=["--metrics"])
    sio = client(server)
    families = parse(server.metrics())
    assert total(families, "sio_namespace_sockets", namespace="/") == 1
    assert requests.get(server.url + "/", timeout=5).status_code == 200
    sio.disconnect()


def test_redis_adapter_state_and_lag(start_server, tmp_path):
    """With the Redis adapter the scrape reports both connections up and a measured PING round trip; with Redis
    gone, the connections are down and the lag is NaN (no answer), and the endpoint still answers."""
    redis_server = shutil.which("redis-server")
    assert redis_server, "redis-server not installed (scripts/bootstrap-redis.sh installs it)"
    from conftest import free_port, wait_port
    port = free_port()
    redis = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(tmp_path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_port(port, redis)
        server = start_server("sio-chat", args=["--metrics", "--redis", f"redis://127.0.0.1:{port}"])
        deadline = time.monotonic() + 10
        while True:
            families = parse(server.metrics())
            if total(families, "sio_adapter_connection_up") == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert families["sio_adapter_connection_up"]["samples"] == {'{role="pub"}': 1, '{role="sub"}': 1}
        lag = families["sio_adapter_lag_seconds"]["samples"][""]
        assert 0 < lag < 1
    finally:
        redis.terminate()
        redis.wait(5)
    families = parse(server.metrics())
    assert total(families, "sio_adapter_connection_up") == 0
    lag = families["sio_adapter_lag_seconds"]["samples"][""]
    assert lag != lag  # NaN
