"""Redis stopped and restarted during a chat: local delivery continues, nothing crashes, what could not be published
is counted and logged, and cross-node delivery resumes once the adapter reconnected (with backoff)."""

from __future__ import annotations

import re
import time

import pytest

from cluster_util import ClusterNode, RedisServer, barrier, payloads, wait_until


@pytest.fixture
def pair(tools, node_binary):
    redis = RedisServer(tools["redis-server"]).start()
    nodes = {name: ClusterNode(node_binary, name, redis.url).start() for name in ("A", "B")}
    wait_until(lambda: redis.numsub("socket.io-request#/#") == 2, message="2 subscribers")
    yield redis, nodes
    for node in nodes.values():
        node.cleanup()
    redis.cleanup()


def test_redis_restart_during_a_chat(pair, clients):
    redis, nodes = pair
    a1 = clients(nodes["A"].url, transports=["websocket"], label="a1")
    a2 = clients(nodes["A"].url, transports=["polling"], label="a2")
    b1 = clients(nodes["B"].url, transports=["websocket"], label="b1")
    everyone = [a1, a2, b1]
    for client in everyone:
        client.call("join", "chat")
    a1.call("broadcast", {"room": "chat", "msg": "before"})
    barrier(a1, everyone, "before")

    redis.stop()
    # Both nodes notice and keep serving their own clients.
    wait_until(lambda: "connection to" in nodes["A"].log_text() and "lost" in nodes["A"].log_text(),
               message="node A reports the lost connection")
    for round_trip in range(3):
        a1.call("broadcast", {"room": "chat", "msg": f"during-{round_trip}"})
        a2.wait_for("bcast", lambda data, r=round_trip: data.get("msg") == f"during-{r}")
    assert a1.call("server-count") == 1  # Redis cannot be asked: this node only
    # A newcomer can still connect and chat locally.
    a3 = clients(nodes["A"].url, transports=["polling"], label="a3")
    a3.call("join", "chat")
    a3.call("broadcast", {"room": "chat", "msg": "newcomer"})
    a1.wait_for("bcast", lambda data: data.get("msg") == "newcomer")
    # What could not be published is counted and logged.
    wait_until(lambda: re.search(r"\d+ message\(s\) could not be published", nodes["A"].log_text()),
               message="the unpublished count in node A's log")
    assert all(node.running for node in nodes.values())
    time.sleep(0.3)
    assert not [m for m in payloads(b1) if m and m.startswith("during")]

    redis.start()  # same port
    wait_until(lambda: redis.numsub("socket.io-request#/#") == 2, timeout=20, message="both nodes resubscribed")
    wait_until(lambda: a1.call("server-count") == 2, timeout=20, message="node A publishing again")
    wait_until(lambda: b1.call("server-count") == 2, timeout=20, message="node B publishing again")
    a1.call("broadcast", {"room": "chat", "msg": "after"})
    b1.call("broadcast", {"room": "chat", "msg": "after-b"})
    for client in everyone + [a3]:
        client.wait_for("bcast", lambda data: data.get("msg") == "after")
        client.wait_for("bcast", lambda data: data.get("msg") == "after-b")
    assert "again" in nodes["A"].log_text()
    assert all(node.running for node in nodes.values())


def test_a_node_starts_while_redis_is_down(tools, node_binary, clients):
    redis = RedisServer(tools["redis-server"])  # not started yet
    node = ClusterNode(node_binary, "late", redis.url).start()
    try:
        client = clients(node.url, transports=["websocket"])
        client.call("join", "solo")
        client.call("broadcast", {"room": "solo", "msg": "alone"})
        client.wait_for("bcast", lambda data: data.get("msg") == "alone")
        assert "cannot connect" in node.log_text()
        redis.start()
        wait_until(lambda: redis.numsub("socket.io-request#/#") == 1, timeout=20, message="subscribed")
        assert client.call("ssemit-ack", {"n": 1})["err"] is None
    finally:
        node.cleanup()
        redis.cleanup()
