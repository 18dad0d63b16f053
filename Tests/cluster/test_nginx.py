"""The deployment behind nginx (docs/REDIS.md): two nodes on one Redis, nginx in front with a routing cookie.

Measured with Node nodes before this was written: plain round robin fails every polling session (the next request
of a session lands on the other node: "Session ID unknown"); `ip_hash` puts every loopback client on one node;
hashing on `$arg_sid` or on the `io` cookie fails because the handshake carries neither. What works is a cookie
nginx sets itself: a `map` from `$upstream_addr` to a short node name, `Set-Cookie` on every response, and a `map`
from that cookie to a one-server upstream (browsers need `withCredentials: true` across origins).
"""

from __future__ import annotations

import concurrent.futures
import json
import threading

import pytest
import requests
import websocket

from cluster_util import ClusterNode, Nginx, RedisServer, barrier, payloads, wait_until

SESSIONS = 300
UPGRADED_SESSIONS = 100


def nginx_config(nodes: dict[str, ClusterNode], sticky: bool = True) -> str:
    """The routing-cookie config of docs/REDIS.md; with sticky=False, plain round robin (the control)."""
    servers = "\n".join(f"        server 127.0.0.1:{node.port};" for node in nodes.values())
    singles = "\n".join(
        f"    upstream sio_{name.lower()} {{ server 127.0.0.1:{node.port}; }}" for name, node in nodes.items())
    names = "\n".join(
        f'        "~127\\.0\\.0\\.1:{node.port}$" {name.lower()};' for name, node in nodes.items())
    backends = "\n".join(f"        {name.lower()} sio_{name.lower()};" for name in nodes)
    routing = f"""
    # Which node answered (the last address tried), as a short name for the cookie.
    map $upstream_addr $sio_node {{
        default "";
{names}
    }}
    # A request carrying the cookie goes to that node; without it (a handshake), round robin.
    map $cookie_sio_node $sio_backend {{
        default sio_cluster;
{backends}
    }}
{singles}
""" if sticky else ""
    target = "$sio_backend" if sticky else "sio_cluster"
    cookie = 'add_header Set-Cookie "sio_node=$sio_node; Path=/; HttpOnly; SameSite=Lax" always;' if sticky else ""
    return f"""
worker_processes 1;
pid {{{{DIR}}}}/nginx.pid;
events {{ worker_connections 2048; }}
http {{
    access_log {{{{DIR}}}}/access.log;
    client_body_temp_path {{{{DIR}}}}/client_body;
    proxy_temp_path {{{{DIR}}}}/proxy;
    fastcgi_temp_path {{{{DIR}}}}/fastcgi;
    uwsgi_temp_path {{{{DIR}}}}/uwsgi;
    scgi_temp_path {{{{DIR}}}}/scgi;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ""      close;
    }}
    upstream sio_cluster {{
{servers}
    }}
{routing}
    server {{
        listen 127.0.0.1:{{{{PORT}}}};
        location /socket.io/ {{
            proxy_pass http://{target};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 120s;
            proxy_buffering off;
            {cookie}
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def deployment(tools, node_binary):
    redis = RedisServer(tools["redis-server"]).start()
    nodes = {name: ClusterNode(node_binary, name, redis.url).start() for name in ("A", "B")}
    wait_until(lambda: redis.numsub("socket.io-request#/#") == 2, message="2 subscribers")
    proxy = Nginx(tools["nginx"], nginx_config(nodes)).start()
    yield redis, nodes, proxy
    proxy.cleanup()
    for node in nodes.values():
        node.cleanup()
    redis.cleanup()


class PollingSession:
    """One Engine.IO polling session driven by hand through nginx, with its own cookie jar."""

    def __init__(self, base: str):
        self.base = base + "/socket.io/?EIO=4&transport=polling"
        self.http = requests.Session()
        self.sid = ""
        self.errors: list[str] = []

    def _check(self, response: requests.Response, what: str) -> str:
        body = response.text
        if response.status_code != 200 or "Session ID unknown" in body:
            self.errors.append(f"{what}: {response.status_code} {body[:120]}")
        return body

    def open(self) -> None:
        body = self._check(self.http.get(self.base, timeout=10), "handshake")
        self.sid = json.loads(body[1:])["sid"]

    def post(self, packet: str) -> None:
        self._check(self.http.post(f"{self.base}&sid={self.sid}", data=packet.encode(), timeout=10), f"POST {packet}")

    def get(self) -> str:
        return self._check(self.http.get(f"{self.base}&sid={self.sid}", timeout=30), "GET")

    @property
    def node(self) -> str:
        return self.http.cookies.get("sio_node", "")


def test_polling_sessions_through_nginx_all_stay_on_their_node(deployment):
    _, nodes, proxy = deployment
    sessions = [PollingSession(proxy.url) for _ in range(SESSIONS)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        # Every session open at once, then each joins `/` and makes acknowledged round trips.
        list(pool.map(lambda s: s.open(), sessions))

        def exercise(session: PollingSession) -> None:
            if session.errors:
                return
            session.post("40")
            reply = session.get()
            if not reply.startswith("40{"):
                session.errors.append(f"CONNECT: {reply[:80]}")
                return
            for round_trip in range(3):
                session.post(f'42{round_trip}["echo-ack",{round_trip}]')
                reply = session.get()
                if f"43{round_trip}[{round_trip}]" not in reply:
                    session.errors.append(f"ack {round_trip}: {reply[:80]}")
            session.post("1")

        list(pool.map(exercise, sessions))
    failures = [(s.sid, s.errors) for s in sessions if s.errors]
    assert failures == [], f"{len(failures)} of {SESSIONS} sessions failed, e.g. {failures[:3]}"
    spread = {s.node for s in sessions}
    assert spread == {name.lower() for name in nodes}, spread


def test_upgraded_sessions_through_nginx(deployment):
    """Polling handshake, then the WebSocket upgrade: the upgrade request carries the cookie to the same node."""
    _, nodes, proxy = deployment
    host = proxy.url.removeprefix("http://")
    errors: list[str] = []
    lock = threading.Lock()

    def run(_index: int) -> str:
        session = PollingSession(proxy.url)
        session.open()
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.http.cookies)
        ws = websocket.create_connection(
            f"ws://{host}/socket.io/?EIO=4&transport=websocket&sid={session.sid}", header=[f"Cookie: {cookie}"],
            timeout=10)
        try:
            ws.send("2probe")
            probe = ws.recv()
            if probe != "3probe":
                raise AssertionError(f"probe answered {probe!r}")
            ws.send("5")
            ws.send("40")
            while not (reply := ws.recv()).startswith("40{"):
                pass
            ws.send('427["echo-ack","up"]')
            while (reply := ws.recv()) != '437["up"]':
                if reply == "2":
                    ws.send("3")
        finally:
            ws.close()
        if session.errors:
            with lock:
                errors.extend(session.errors)
        return session.node

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        used = list(pool.map(run, range(UPGRADED_SESSIONS)))
    assert errors == []
    assert set(used) == {name.lower() for name in nodes}


def test_socketio_clients_through_nginx_chat_across_nodes(deployment, clients):
    _, nodes, proxy = deployment
    everyone = []
    for index in range(12):
        transports = (["polling"], ["websocket"], None)[index % 3]  # polling only, websocket only, with upgrade
        everyone.append(clients(proxy.url, transports=transports, label=f"n{index}"))
    assert {client.node for client in everyone} == set(nodes)
    for client in everyone:
        assert client.call("join", "lobby") is True
    everyone[0].call("broadcast", {"room": "lobby", "msg": "through-nginx"})
    barrier(everyone[0], everyone, "nginx")
    for client in everyone:
        assert payloads(client) == ["through-nginx"], client.label
    assert set(everyone[3].call("fetch", "lobby")) == {client.id for client in everyone}


def test_plain_round_robin_loses_polling_sessions(tools, deployment):
    """The control: without the routing cookie, polling sessions hit the node that does not know them."""
    _, nodes, _ = deployment
    proxy = Nginx(tools["nginx"], nginx_config(nodes, sticky=False)).start()
    try:
        sessions = [PollingSession(proxy.url) for _ in range(20)]
        for session in sessions:
            session.open()
            session.post("40")  # round robin sends it to the other node
        lost = [s for s in sessions if any("Session ID unknown" in e for e in s.errors)]
        assert len(lost) >= len(sessions) // 2, [s.errors for s in sessions]
    finally:
        proxy.cleanup()
