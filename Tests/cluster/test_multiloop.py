"""Multi-loop nodes over Redis (issue "Every core in one process"): two `sio-cluster-node --loops 2` (A, B) and one
single-loop node (C) on one redis-server. Each process is one node to the others whatever its loop count; clients
are placed on each loop of each node (`whoami` reports the serving loop), and everything the adapter does must
reach, and be asked from, sockets on either loop of either node: broadcasts (rooms, except, from a socket),
fetchSockets, serverSideEmit (with ack), broadcasts with acks, socketsJoin / disconnectSockets, allRooms."""

from __future__ import annotations

import pytest

from cluster_util import ClusterNode, RedisServer, barrier, payloads, placed_client, wait_until

WS = ["websocket"]
POLLING = ["polling"]
LOOPS = {"A": 2, "B": 2, "C": 1}


@pytest.fixture(scope="module")
def cluster(tools, node_binary):
    redis = RedisServer(tools["redis-server"]).start()
    nodes = {name: ClusterNode(node_binary, name, redis.url, loops=loops).start() for name, loops in LOOPS.items()}
    # One subscriber per process on the request channel of `/`: a 2-loop node subscribes once, not once per loop.
    wait_until(lambda: redis.numsub("socket.io-request#/#") == 3, message="3 subscribers")
    yield redis, nodes
    for node in nodes.values():
        node.cleanup()
    redis.cleanup()


def on_every_loop(clients, nodes, label="c", polling_on=()) -> dict[tuple[str, int], object]:
    """One client on each (node, loop): websocket, except the (node, loop) pairs in `polling_on`."""
    placed = {}
    for name in sorted(nodes):
        for loop in range(LOOPS[name]):
            transports = POLLING if (name, loop) in polling_on else WS
            placed[(name, loop)] = placed_client(clients, nodes[name], loop, transports, label=f"{label}-{name}{loop}")
    return placed


def test_each_process_is_one_node_whatever_its_loops(cluster, clients):
    redis, nodes = cluster
    assert redis.numsub("socket.io-request#/#") == 3
    assert redis.numsub("socket.io-response#/#") == 3
    placed = on_every_loop(clients, nodes, polling_on={("A", 1), ("B", 0)})
    for (name, loop), client in placed.items():
        who = client.call("whoami")
        assert (who["node"], who["loop"], who["id"]) == (name, loop, client.id)
        assert who["port"] == nodes[name].port
        # server-count counts nodes, not loops: 3 from a socket on either loop of either node
        assert client.call("server-count") == 3, (name, loop)
    # the loops of one node are behind one port: both loops of A and of B serve clients
    for name in ("A", "B"):
        assert {loop for (node, loop) in placed if node == name} == {0, 1}


def test_broadcasts_from_either_loop_reach_every_loop_of_every_node(cluster, clients):
    _, nodes = cluster
    placed = on_every_loop(clients, nodes, polling_on={("A", 0), ("B", 1)})
    extra = on_every_loop(clients, nodes, label="x")  # a second client on each loop: not in the room
    everyone = list(placed.values()) + list(extra.values())
    members = list(placed.values())
    for client in members:
        assert client.call("join", "ml-room") is True
    # from loop 1 of A to the room, from loop 0 of B to everyone, from C to the room except loop 1 of B
    placed[("A", 1)].call("broadcast", {"room": "ml-room", "msg": "room-from-A1"})
    placed[("B", 0)].call("broadcast", {"msg": "all-from-B0"})
    placed[("C", 0)].call("broadcast", {"room": "ml-room", "except": [placed[("B", 1)].id], "msg": "from-C-except"})
    for client in members:
        client.wait_for("bcast", lambda data: data.get("msg") == "room-from-A1")
    for client in everyone:
        client.wait_for("bcast", lambda data: data.get("msg") == "all-from-B0")
    for sender in (placed[("A", 1)], placed[("B", 0)], placed[("C", 0)]):
        barrier(sender, everyone, f"ml-{sender.label}")
    for client in members:
        expected = {"room-from-A1", "all-from-B0"} | ({"from-C-except"} if client is not placed[("B", 1)] else set())
        got = payloads(client)
        assert sorted(got) == sorted(expected), client.label  # each exactly once
    for client in extra.values():
        assert payloads(client) == ["all-from-B0"], client.label


def test_socket_broadcast_from_loop_one_excludes_only_the_sender(cluster, clients):
    _, nodes = cluster
    placed = on_every_loop(clients, nodes, label="s")
    everyone = list(placed.values())
    for client in everyone:
        client.call("join", "ml-sock")
    sender = placed[("B", 1)]
    sender.call("sock-broadcast", {"room": "ml-sock", "msg": "from-B1-socket"})
    barrier(sender, everyone, "ml-sock")
    for client in everyone:
        assert payloads(client) == ([] if client is sender else ["from-B1-socket"]), client.label


def test_fetch_sockets_from_either_loop_spans_loops_and_nodes(cluster, clients):
    _, nodes = cluster
    placed = on_every_loop(clients, nodes, label="f", polling_on={("A", 1)})
    members = [placed[key] for key in (("A", 0), ("A", 1), ("B", 1), ("C", 0))]
    for client in members:
        client.call("join", "ml-fetch")
    ids = {client.id for client in placed.values()}
    for asker in (placed[("A", 1)], placed[("B", 0)], placed[("C", 0)]):
        assert ids <= set(asker.call("fetch")), asker.label
        assert set(asker.call("fetch", "ml-fetch")) == {client.id for client in members}, asker.label
    full = placed[("B", 1)].call("fetch-full", "ml-fetch")
    by_id = {entry["id"]: entry for entry in full}
    assert sorted(by_id) == sorted(client.id for client in members)
    for client in members:
        assert by_id[client.id]["data"] == {"node": client.node}
        assert set(by_id[client.id]["rooms"]) == {client.id, "ml-fetch"}
    rooms = set(placed[("A", 1)].call("all-rooms"))
    assert {"ml-fetch"} | ids <= rooms


def test_server_side_emit_from_either_loop(cluster, clients):
    _, nodes = cluster
    placed = on_every_loop(clients, nodes, label="e", polling_on={("B", 1)})
    placed[("A", 1)].call("ssemit", {"from": "A1"})  # the adapter lives on A's first loop: asked from its second
    for (name, loop), client in placed.items():
        if name != "A":  # every loop of every other node hears it once
            assert client.wait_for("ss-hello", lambda data: data["arg"] == {"from": "A1"}) == \
                {"node": name, "arg": {"from": "A1"}}
    barrier(placed[("A", 1)], list(placed.values()), "ml-sse")
    for (name, loop), client in placed.items():
        hellos = [data for data in client.received("ss-hello") if data["arg"] == {"from": "A1"}]
        assert len(hellos) == (0 if name == "A" else 1), (name, loop, hellos)
    # with ack, from the second loop of B: one answer per other node (A once, though it has two loops; C)
    answer = placed[("B", 1)].call("ssemit-ack", {"n": 3}, timeout=15)
    assert answer["err"] is None
    assert sorted(answer["responses"], key=lambda r: r["node"]) == [
        {"node": "A", "arg": {"n": 3}}, {"node": "C", "arg": {"n": 3}}]
    answer = placed[("C", 0)].call("ssemit-ack", {"n": 4}, timeout=15)
    assert sorted(r["node"] for r in answer["responses"]) == ["A", "B"]


def test_broadcast_with_acks_from_either_loop_collects_every_loop(cluster, clients):
    _, nodes = cluster
    placed = on_every_loop(clients, nodes, label="k", polling_on={("A", 0)})
    for client in placed.values():
        client.call("join", "ml-ack")
    for asker in (placed[("A", 1)], placed[("B", 0)]):
        answer = asker.call("bcast-ack", {"room": "ml-ack", "payload": {"q": asker.label}}, timeout=15)
        assert answer["err"] is None, (asker.label, answer)
        assert sorted(reply["from"] for reply in answer["responses"]) == sorted(c.label for c in placed.values())
        assert all(reply["payload"] == {"q": asker.label} for reply in answer["responses"])


def test_sockets_join_and_disconnect_sockets_across_loops(cluster, clients):
    _, nodes = cluster
    placed = on_every_loop(clients, nodes, label="j")
    target = placed[("B", 1)]
    placed[("A", 0)].call("sockets-join", {"target": target.id, "room": "ml-by-id"})
    wait_until(lambda: set(placed[("C", 0)].call("fetch", "ml-by-id")) == {target.id}, message="B1 in ml-by-id")
    # a room on both loops of A and on B's loop 0; joined to another room from A's loop 1
    for key in (("A", 0), ("A", 1), ("B", 0)):
        placed[key].call("join", "ml-src")
    placed[("A", 1)].call("sockets-join", {"target": "ml-src", "room": "ml-dst"})
    wanted = {placed[key].id for key in (("A", 0), ("A", 1), ("B", 0))}
    wait_until(lambda: set(placed[("B", 1)].call("fetch", "ml-dst")) == wanted, message="ml-src in ml-dst")
    # disconnect that room from C: the sockets on both loops of A and on B's loop 0 go, the others stay
    placed[("C", 0)].call("disconnect-sockets", {"target": "ml-dst"})
    for key in (("A", 0), ("A", 1), ("B", 0)):
        assert placed[key].disconnected.wait(10), key
    for key in (("B", 1), ("C", 0)):
        assert not placed[key].disconnected.is_set(), key
    wait_until(lambda: not (wanted & set(placed[("B", 1)].call("fetch"))), message="ml-dst gone")
