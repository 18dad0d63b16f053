"""A mixed cluster on the sharded pub/sub adapter: one Node.js socket.io 4.8 node (@socket.io/redis-adapter 8.3
`createShardedAdapter`) beside one of ours, in static and dynamic mode: broadcasts to everyone, to a room (its own
channel in dynamic mode) and to one socket id, both ways; fetchSockets; serverSideEmit with ack.

Runs when SIO_NODE_PEER names a peer built by scripts/node-peer/build.sh (it needs the socket.io git repositories,
so CI, without GitHub, skips it): SIO_NODE_PEER=/work/nodepeer pytest Tests/cluster/test_redis_sharded_node_peer.py
"""

from __future__ import annotations

import pytest

from cluster_util import NodePeerNode, node_peer_dir, wait_until
from test_redis_sharded import PUBLIC, ShardedNode, shard_numsub

PEER = node_peer_dir()
pytestmark = pytest.mark.skipif(
    PEER is None, reason="no Node peer: set SIO_NODE_PEER to a directory made by scripts/node-peer/build.sh")


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_a_node_node_and_ours_share_everything(redis, node_binary, clients, mode):
    made = []
    try:
        made.append(NodePeerNode(PEER, "N", redis.url, streams=False, args=["--sharded", mode]).start())
        made.append(ShardedNode(node_binary, "S", redis.url, args=["--sharded-mode", mode]).start())
        wait_until(lambda: shard_numsub(redis, PUBLIC) == 2, message="both nodes subscribed")
        node, ours = made
        n1 = clients(node.url, transports=["websocket"], label="n1")
        s1 = clients(ours.url, transports=["websocket"], label="s1")
        s2 = clients(ours.url, label="s2")
        n1.call("join", "red")
        s1.call("join", "red")
        assert len(s1.id) == (20 if mode == "dynamic" else 15)

        n1.call("broadcast", {"msg": "from-node"})
        s2.call("broadcast", {"msg": "from-ours"})
        n1.call("broadcast", {"room": "red", "msg": "node-to-red"})
        s2.call("broadcast", {"room": "red", "msg": "ours-to-red"})
        n1.call("broadcast", {"room": s2.id, "msg": "node-to-s2"})
        s1.call("broadcast", {"room": n1.id, "msg": "ours-to-n1"})
        for client, messages in ((n1, ["from-node", "from-ours", "node-to-red", "ours-to-red", "ours-to-n1"]),
                                 (s1, ["from-node", "from-ours", "node-to-red", "ours-to-red"]),
                                 (s2, ["from-node", "from-ours", "node-to-s2"])):
            for message in messages:
                client.wait_for("bcast", lambda data, m=message: data.get("msg") == m)

        assert sorted(n1.call("fetch")) == sorted([n1.id, s1.id, s2.id])
        assert sorted(s2.call("fetch", "red")) == sorted([n1.id, s1.id])
        answer = s1.call("ssemit-ack", {"n": 1})
        assert answer["err"] is None and [reply["node"] for reply in answer["responses"]] == ["N"]
        answer = n1.call("ssemit-ack", {"n": 2})
        assert answer["err"] is None and [reply["node"] for reply in answer["responses"]] == ["S"]
    finally:
        for process in made:
            process.cleanup()
