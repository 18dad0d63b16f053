"""The sharded pub/sub adapter across our nodes (sio-cluster-node --redis-sharded, Redis 7 SSUBSCRIBE/SPUBLISH), in
each subscription mode: broadcasts to everyone, to rooms and to one socket, fetchSockets, serverSideEmit (with and
without ack), broadcasts with acks, the room channels a dynamic node holds (PUBSUB SHARDCHANNELS), and the
subscriber coming back after Redis restarts. Wire compatibility with Node's adapter is in
test_redis_sharded_wire.py; a mixed cluster with a Node node in test_redis_sharded_node_peer.py."""

from __future__ import annotations

import pytest

from cluster_util import ClusterNode, barrier, payloads, wait_until

PUBLIC = "socket.io#/#"


class ShardedNode(ClusterNode):
    def argv(self) -> list[str]:
        argv = super().argv()
        argv[argv.index("--redis")] = "--redis-sharded"
        return argv


def shard_numsub(redis, channel: str) -> int:
    return int(redis.command("PUBSUB", "SHARDNUMSUB", channel)[1])


def shard_channels(redis) -> set[str]:
    return {channel.decode() for channel in redis.command("PUBSUB", "SHARDCHANNELS")}


@pytest.fixture
def start_nodes(redis, node_binary):
    made: list[ClusterNode] = []

    def start(names, mode):
        nodes = {}
        for name in names:
            node = ShardedNode(node_binary, name, redis.url, args=["--sharded-mode", mode]).start()
            made.append(node)
            nodes[name] = node
        wait_until(lambda: shard_numsub(redis, PUBLIC) == len(made), message=f"{len(made)} nodes subscribed")
        return nodes

    yield start
    for node in made:
        node.cleanup()


@pytest.mark.parametrize("mode", ["static", "dynamic", "dynamic-private"])
def test_broadcasts_and_requests_across_two_nodes(start_nodes, clients, redis, mode):
    nodes = start_nodes(["A", "B"], mode)
    a1 = clients(nodes["A"].url, transports=["websocket"], label="a1")
    a2 = clients(nodes["A"].url, label="a2")
    b1 = clients(nodes["B"].url, transports=["websocket"], label="b1")
    b2 = clients(nodes["B"].url, transports=["polling"], label="b2")
    everyone = [a1, a2, b1, b2]
    assert a1.call("server-count") == 2
    assert {len(client.id) for client in everyone} == ({20} if mode == "dynamic" else {15})
    a1.call("join", "red")
    b1.call("join", "red")
    b2.call("join", "blue")

    a1.call("broadcast", {"msg": "to-all"})
    b2.call("broadcast", {"room": "red", "msg": "to-red"})
    a2.call("broadcast", {"rooms": ["red", "blue"], "except": "blue", "msg": "red-not-blue"})
    b1.call("sock-broadcast", {"room": "red", "msg": "from-b1"})
    a2.call("broadcast", {"room": b2.id, "msg": "to-b2"})
    a1.call("broadcast", {"msg": "bin", "blob": b"\x00\x01\xfe"})
    expected = {a1: ["to-all", "to-red", "red-not-blue", "from-b1", "bin"], b1: ["to-all", "to-red", "red-not-blue", "bin"],
                a2: ["to-all", "bin"], b2: ["to-all", "to-b2", "bin"]}
    for client, messages in expected.items():
        for message in messages:
            client.wait_for("bcast", lambda data, m=message: data.get("msg") == m)
    for sender in (a1, b1):
        barrier(sender, everyone, f"after-{sender.label}")
    for client, messages in expected.items():
        assert sorted(payloads(client)) == sorted(messages), client.label
    assert b1.wait_for("bcast", lambda data: data.get("msg") == "bin")["blob"] == b"\x00\x01\xfe"

    # Room channels: dynamic modes hold one per room that exists on the node; dynamic only for public rooms.
    public_rooms = {PUBLIC + room + "#" for room in ("red", "blue")}
    if mode == "static":
        assert not public_rooms & shard_channels(redis)
    else:
        assert public_rooms <= shard_channels(redis)
    id_channels = {PUBLIC + client.id + "#" for client in everyone}
    assert bool(id_channels & shard_channels(redis)) == (mode == "dynamic-private")

    # fetchSockets, serverSideEmit and broadcasts with acks span the nodes (SHARDNUMSUB counts them).
    assert sorted(a1.call("fetch")) == sorted(client.id for client in everyone)
    assert sorted(b2.call("fetch", "red")) == sorted([a1.id, b1.id])
    described = {entry["id"]: entry for entry in a2.call("fetch-full")}
    assert described[b2.id]["data"] == {"node": "B"} and "blue" in described[b2.id]["rooms"]
    a1.call("ssemit", {"n": 1})
    for client in (b1, b2):
        client.wait_for("ss-hello", lambda data: data["arg"] == {"n": 1})
    assert not [data for name, data in a2.events if name == "ss-hello"]  # never to the sender's own node
    answer = b1.call("ssemit-ack", {"n": 2})
    assert answer["err"] is None and [reply["node"] for reply in answer["responses"]] == ["A"]
    acks = b2.call("bcast-ack", {"room": "red", "payload": 7})
    assert acks["err"] is None and sorted(ack["from"] for ack in acks["responses"]) == ["a1", "b1"]

    # socketsJoin / socketsLeave / disconnectSockets reach the other node; in dynamic modes the new room's channel
    # comes and goes with it.
    a1.call("sockets-join", {"target": b2.id, "room": "green"})
    wait_until(lambda: "green" in b2.call("whoami")["rooms"], message="b2 joined green")
    if mode != "static":
        wait_until(lambda: PUBLIC + "green#" in shard_channels(redis), message="green's channel")
    a2.call("broadcast", {"room": "green", "msg": "to-green"})
    b2.wait_for("bcast", lambda data: data.get("msg") == "to-green")
    a1.call("sockets-leave", {"target": b2.id, "room": "green"})
    wait_until(lambda: "green" not in b2.call("whoami")["rooms"], message="b2 left green")
    wait_until(lambda: PUBLIC + "green#" not in shard_channels(redis), message="green's channel gone")
    a1.call("disconnect-sockets", {"target": b2.id})
    assert b2.disconnected.wait(5)


def test_the_subscriber_comes_back_after_redis_restarts(start_nodes, clients, redis):
    nodes = start_nodes(["A", "B"], "dynamic")
    a1 = clients(nodes["A"].url, transports=["websocket"], label="a1")
    b1 = clients(nodes["B"].url, transports=["websocket"], label="b1")
    b1.call("join", "red")
    redis.stop()
    redis.start()
    # Both nodes subscribe again to everything they held, room channels included.
    wait_until(lambda: shard_numsub(redis, PUBLIC) == 2, timeout=15, message="both nodes subscribed again")
    wait_until(lambda: PUBLIC + "red#" in shard_channels(redis), timeout=15, message="red's channel again")
    wait_until(lambda: a1.call("server-count") == 2, timeout=15, message="A publishing again")
    a1.call("broadcast", {"room": "red", "msg": "after-restart"})
    b1.wait_for("bcast", lambda data: data.get("msg") == "after-restart")
    for node in nodes.values():
        assert node.running
