"""A mixed cluster on the Redis streams adapter: our sio-cluster-node beside a Node.js socket.io 4.8.3 node on
@socket.io/redis-streams-adapter 0.3.1 (scripts/node-peer/node-cluster-node.js, which answers the same events),
python-socketio clients on both: broadcasts (rooms, except, binary, /chat), acknowledgements across, fetchSockets,
serverSideEmit with and without ack, socketsJoin / socketsLeave / disconnectSockets, and connection state recovery
moving a client from the Node node to ours and back.

Runs when SIO_NODE_PEER names a peer built by scripts/node-peer/build.sh (it needs the socket.io git repositories,
so CI, without GitHub, skips it): SIO_NODE_PEER=/work/nodepeer pytest Tests/cluster/test_streams_node_peer.py
"""

from __future__ import annotations

import re
import signal
import time

import pytest

from cluster_util import ClusterNode, NodePeerNode, barrier, node_peer_dir, payloads, wait_until

PEER = node_peer_dir()
pytestmark = pytest.mark.skipif(
    PEER is None, reason="no Node peer: set SIO_NODE_PEER to a directory made by scripts/node-peer/build.sh "
                         "(needs the socket.io sources from GitHub; the npm registry is not used)")
PUBLIC = "socket.io#/#"


@pytest.fixture
def mixed(redis, node_binary):
    """mixed(args) -> (ours, node): our node "S" and the Node node "N", both subscribed."""
    made = []

    def start(args=()):
        ours = ClusterNode(node_binary, "S", redis.url, streams=True, args=list(args)).start()
        made.append(ours)
        node = NodePeerNode(PEER, "N", redis.url, streams=True, args=list(args)).start()
        made.append(node)
        wait_until(lambda: redis.numsub(PUBLIC) == 2, message="both nodes subscribed")
        return ours, node

    yield start
    for process in made:
        process.cleanup()


def test_broadcasts_and_operations_both_ways(mixed, clients):
    ours, node = mixed()
    s1 = clients(ours.url, transports=["websocket"], label="s1")
    s2 = clients(ours.url, transports=["polling"], label="s2")
    n1 = clients(node.url, transports=["websocket"], label="n1")
    n2 = clients(node.url, label="n2")
    everyone = [s1, s2, n1, n2]
    assert {c.node for c in everyone} == {"S", "N"}
    assert s1.call("server-count") == 2 and n1.call("server-count") == 2
    s1.call("join", "red")
    n1.call("join", "red")
    n2.call("join", "blue")

    # Broadcasts from each side: to everyone, a room, rooms but a room, from a socket (sender excluded), binary.
    s1.call("broadcast", {"msg": "s-all"})
    n2.call("broadcast", {"msg": "n-all"})
    n2.call("broadcast", {"room": "red", "msg": "n-red"})
    s2.call("broadcast", {"rooms": ["red", "blue"], "except": "blue", "msg": "s-red-not-blue"})
    n1.call("sock-broadcast", {"room": "red", "msg": "n1-to-red"})
    s1.call("sock-broadcast", {"room": "red", "msg": "s1-to-red"})
    s2.call("broadcast", {"room": "blue", "msg": "s-bin"}, b"\x00\x01\xfe\xff")
    n1.call("broadcast", {"room": "red", "msg": "n-bin"}, b"\x10\x20")
    for sender in (s1, n1):
        barrier(sender, everyone, f"after-{sender.label}")
    # (payloads() lists the one-argument events; the binary ones come as [obj, bytes].)
    assert sorted(payloads(s1)) == sorted(["s-all", "n-all", "n-red", "s-red-not-blue", "n1-to-red"])
    assert sorted(payloads(n1)) == sorted(["s-all", "n-all", "n-red", "s-red-not-blue", "s1-to-red"])
    assert sorted(payloads(s2)) == ["n-all", "s-all"]
    assert sorted(payloads(n2)) == ["n-all", "s-all"]
    binary = [data for data in n2.received("bcast") if isinstance(data, list)]
    assert binary == [[{"room": "blue", "msg": "s-bin"}, b"\x00\x01\xfe\xff"]]
    for client in (s1, n1):  # n1 sent it: a broadcast from the server reaches the sender too
        binary = [data for data in client.received("bcast") if isinstance(data, list)]
        assert binary == [[{"room": "red", "msg": "n-bin"}, b"\x10\x20"]], client.label

    # /chat crosses too.
    chat_s = clients(ours.url, namespace="/chat", label="chat-s")
    chat_n = clients(node.url, namespace="/chat", label="chat-n")
    chat_n.call("join", "lobby")
    chat_s.call("broadcast", {"room": "lobby", "msg": "to-lobby"})
    chat_n.wait_for("bcast", lambda data: data.get("msg") == "to-lobby")
    chat_s.call("join", "lobby")
    chat_n.call("broadcast", {"room": "lobby", "msg": "from-node"})
    chat_s.wait_for("bcast", lambda data: data.get("msg") == "from-node")

    # fetchSockets from either side lists every socket, with data and rooms.
    for asker in (s1, n1):
        assert sorted(asker.call("fetch")) == sorted(c.id for c in everyone)
        assert sorted(asker.call("fetch", "red")) == sorted([s1.id, n1.id])
        described = {entry["id"]: entry for entry in asker.call("fetch-full")}
        assert described[n2.id]["data"] == {"node": "N"} and "blue" in described[n2.id]["rooms"]
        assert described[s2.id]["data"] == {"node": "S"}

    # serverSideEmit both ways, with and without ack (a binary argument too).
    s1.call("ssemit", {"n": 1})
    for client in (n1, n2):
        client.wait_for("ss-hello", lambda data: data == {"node": "N", "arg": {"n": 1}})
    n1.call("ssemit", {"n": 2}, b"\x01\x02")
    for client in (s1, s2):
        client.wait_for("ss-hello", lambda data: data == {"node": "S", "arg": {"n": 2}})
    assert s1.call("ssemit-ack", {"n": 3}) == {"err": None, "responses": [{"node": "N", "arg": {"n": 3}}]}
    assert n1.call("ssemit-ack", {"n": 4}) == {"err": None, "responses": [{"node": "S", "arg": {"n": 4}}]}

    # Broadcasts with acknowledgements: the clients of both nodes answer, whichever node asks.
    for asker in (s2, n2):
        acks = asker.call("bcast-ack", {"room": "red", "payload": {"from": asker.label}})
        assert acks["err"] is None
        assert sorted(ack["from"] for ack in acks["responses"]) == ["n1", "s1"]
        assert all(ack["payload"] == {"from": asker.label} for ack in acks["responses"])

    # socketsJoin / socketsLeave / disconnectSockets across, both ways.
    s1.call("sockets-join", {"target": n2.id, "room": "green"})
    wait_until(lambda: "green" in n2.call("whoami")["rooms"], message="n2 joined green (asked by ours)")
    n1.call("sockets-join", {"target": s2.id, "room": "green"})
    wait_until(lambda: "green" in s2.call("whoami")["rooms"], message="s2 joined green (asked by Node)")
    n2.call("broadcast", {"room": "green", "msg": "to-green"})
    s2.wait_for("bcast", lambda data: data.get("msg") == "to-green")
    s1.call("sockets-leave", {"target": "green", "room": "green"})
    wait_until(lambda: "green" not in n2.call("whoami")["rooms"] and "green" not in s2.call("whoami")["rooms"],
               message="everyone left green")
    n1.call("disconnect-sockets", {"target": s2.id, "close": True})
    assert s2.disconnected.wait(5)
    s1.call("disconnect-sockets", {"target": n2.id, "close": True})
    assert n2.disconnected.wait(5)
    assert sorted(s1.call("fetch")) == sorted([s1.id, n1.id])


def test_recovery_moves_a_client_from_node_to_ours_and_back(mixed, raw, redis):
    """A client of the Node node, cut, comes back to ours: same id, rooms and data, every packet it missed (sent
    from both nodes) once, in order, with stream ids as offsets; then cut again and back to Node, the same."""
    ours, node = mixed(["--recovery-ms", "30000"])
    sender_s = raw(ours.port, label="sender-s")
    sender_n = raw(node.port, label="sender-n")
    client = raw(node.port, label="client")
    assert client.call("join", "news") is True
    assert client.call("whoami")["node"] == "N"
    sender_s.call("broadcast", {"room": "news", "msg": "before"})
    assert client.wait_messages(1) == ["before"]
    assert re.fullmatch(r"\d+-\d+", client.offset)

    client.cut()
    # The Node node writes the session once it sees the transport close (it keeps none while connected).
    wait_until(lambda: redis.command("EXISTS", "sio:session:" + client.pid) == 1, message="the Node node's session")
    sender_s.call("broadcast", {"room": "news", "msg": "missed-1"})
    sender_n.call("broadcast", {"msg": "missed-2"})
    sender_n.call("broadcast", {"room": "elsewhere", "msg": "not-for-it"})
    sender_s.call("broadcast", {"room": client.sid, "msg": "missed-3"})

    on_ours = raw.track(client.come_back(ours.port, label="client@S"))
    state = on_ours.call("whoami")
    assert state["node"] == "S" and state["recovered"] is True
    assert on_ours.sid == client.sid and on_ours.pid == client.pid
    assert "news" in state["rooms"] and state["data"] == {"node": "N"}
    assert on_ours.wait_messages(3) == ["missed-1", "missed-2", "missed-3"]
    on_ours.pump(0.5)
    assert on_ours.messages() == ["missed-1", "missed-2", "missed-3"], "once each, in order"
    sender_n.call("broadcast", {"room": "news", "msg": "live-on-ours"})
    assert on_ours.wait_messages(4)[-1] == "live-on-ours"

    on_ours.cut()
    time.sleep(0.3)
    sender_n.call("broadcast", {"room": "news", "msg": "missed-4"})
    sender_s.call("broadcast", {"msg": "missed-5"})

    back = raw.track(on_ours.come_back(node.port, label="client@N"))
    state = back.call("whoami")
    assert state["node"] == "N" and state["recovered"] is True
    assert back.sid == client.sid and "news" in state["rooms"] and state["data"] == {"node": "N"}
    assert back.wait_messages(2) == ["missed-4", "missed-5"]
    back.pump(0.5)
    assert back.messages() == ["missed-4", "missed-5"], "nothing replayed twice (socket.io #5419)"
    offsets = [event[-1] for event in on_ours.events + back.events if event[0] == "bcast"]
    assert all(re.fullmatch(r"\d+-\d+", o) for o in offsets) and offsets == sorted(offsets, key=lambda o: tuple(
        int(part) for part in o.split("-")))


def test_a_session_ours_keeps_while_connected_recovers_on_node(mixed, raw):
    """Ours keeps sessions in Redis while sockets are connected (the reference's value under the reference's key):
    a Node node restores one when its client comes back there."""
    ours, node = mixed(["--recovery-ms", "30000"])
    sender = raw(node.port, label="sender")
    client = raw(ours.port, label="client")
    client.call("join", "news")
    sender.call("broadcast", {"room": "news", "msg": "first"})
    assert client.wait_messages(1) == ["first"]
    client.cut()
    time.sleep(0.3)
    sender.call("broadcast", {"room": "news", "msg": "missed"})
    back = raw.track(client.come_back(node.port, label="client@N"))
    state = back.call("whoami")
    assert state["recovered"] is True and back.sid == client.sid and state["data"] == {"node": "S"}
    assert back.wait_messages(1) == ["missed"]


def test_requests_stop_counting_a_node_killed(mixed, clients, redis):
    """A Node node killed with SIGKILL: its connections close, Redis stops counting it, and our requests answer
    at once with what is left."""
    ours, node = mixed()
    s1 = clients(ours.url, label="s1")
    n1 = clients(node.url, label="n1")
    assert sorted(s1.call("fetch")) == sorted([s1.id, n1.id])
    node.stop(signal.SIGKILL)
    wait_until(lambda: redis.numsub(PUBLIC) == 1, message="the Node node's subscription gone")
    started = time.monotonic()
    assert s1.call("fetch") == [s1.id]
    assert s1.call("ssemit-ack", {"n": 1}) == {"err": None, "responses": []}
    assert time.monotonic() - started < 3
