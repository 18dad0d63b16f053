"""The Redis streams adapter across our nodes (sio-cluster-node --redis-streams): broadcasts, rooms and the
cross-node operations, a node killed or frozen (requests stop waiting for it once its heartbeat lapses), Redis
restarted, a node that loses Redis catching up from the stream, and messages written as Node's adapter writes
them. Connection state recovery is in test_streams_recovery.py."""

from __future__ import annotations

import base64
import json
import signal
import socket
import threading
import time

import msgpack
import pytest

from cluster_util import HOST, ClusterNode, barrier, payloads, read_reply, resp_command, wait_until
from streams_util import TCPProxy

PUBLIC = "socket.io#/#"
FAST_HEARTBEAT = ["--heartbeat-interval", "300", "--heartbeat-timeout", "1200", "--requests-timeout", "6000"]


@pytest.fixture
def start_nodes(redis, node_binary):
    """start_nodes(["A", "B"], args=[...], per_node={"C": ["--loops", "2"]}) -> {name: node}, all subscribed."""
    made: list[ClusterNode] = []

    def start(names, args=(), per_node=None, redis_url=None):
        nodes = {}
        for name in names:
            extra = [*args, *((per_node or {}).get(name, []))]
            node = ClusterNode(node_binary, name, redis_url or redis.url, streams=True, args=extra).start()
            made.append(node)
            nodes[name] = node
        expected = len([node for node in made if node.running])
        wait_until(lambda: redis.numsub(PUBLIC) == expected, message=f"{expected} nodes subscribed")
        return nodes

    yield start
    for node in made:
        node.cleanup()


def timed(function, *args, **kwargs):
    start = time.monotonic()
    result = function(*args, **kwargs)
    return result, time.monotonic() - start


def test_broadcasts_and_operations_across_three_nodes(start_nodes, clients, redis):
    nodes = start_nodes(["A", "B", "C"], per_node={"C": ["--loops", "2"]})
    a1 = clients(nodes["A"].url, transports=["websocket"], label="a1")
    b1 = clients(nodes["B"].url, transports=["polling"], label="b1")
    c1 = clients(nodes["C"].url, transports=["websocket"], label="c1")
    c2 = clients(nodes["C"].url, label="c2")
    everyone = [a1, b1, c1, c2]
    assert a1.call("server-count") == 3
    for client in (a1, c1):
        client.call("join", "red")
    b1.call("join", "blue")

    a1.call("broadcast", {"msg": "to-all"})
    b1.call("broadcast", {"room": "red", "msg": "to-red"})
    c2.call("broadcast", {"rooms": ["red", "blue"], "except": "blue", "msg": "red-not-blue"})
    c1.call("sock-broadcast", {"room": "red", "msg": "from-c1"})
    expected = {a1: ["to-all", "to-red", "red-not-blue", "from-c1"], c1: ["to-all", "to-red", "red-not-blue"],
                b1: ["to-all"], c2: ["to-all"]}
    for client, messages in expected.items():
        for message in messages:
            client.wait_for("bcast", lambda data, m=message: data.get("msg") == m)
    for sender in (a1, b1, c1):  # whatever each node sent before its sentinel has arrived everywhere by then
        barrier(sender, everyone, f"after-{sender.label}")
    for client in everyone:
        assert payloads(client).count("to-all") == 1
    # Several senders: each one's packets in its order, no order between them (without recovery a node delivers
    # its own broadcasts at once, the others' when the stream hands them over, as Node's adapter does).
    assert sorted(payloads(a1)) == sorted(["to-all", "to-red", "red-not-blue", "from-c1"])
    assert sorted(payloads(c1)) == sorted(["to-all", "to-red", "red-not-blue"])
    assert payloads(b1) == ["to-all"]

    # fetchSockets and serverSideEmit span the nodes.
    assert sorted(a1.call("fetch")) == sorted(client.id for client in everyone)
    assert sorted(b1.call("fetch", "red")) == sorted([a1.id, c1.id])
    described = {entry["id"]: entry for entry in c1.call("fetch-full")}
    assert described[b1.id]["data"] == {"node": "B"} and "blue" in described[b1.id]["rooms"]
    a1.call("ssemit", {"n": 1})
    for client in (b1, c1, c2):
        client.wait_for("ss-hello", lambda data: data["arg"] == {"n": 1})
    answer = a1.call("ssemit-ack", {"n": 2})
    assert answer["err"] is None
    assert sorted(reply["node"] for reply in answer["responses"]) == ["B", "C"]
    acks = b1.call("bcast-ack", {"room": "red", "payload": 7})
    assert acks["err"] is None and sorted(ack["from"] for ack in acks["responses"]) == ["a1", "c1"]

    # socketsJoin / socketsLeave / disconnectSockets reach every node.
    a1.call("sockets-join", {"target": b1.id, "room": "green"})
    wait_until(lambda: "green" in {e["id"]: e for e in a1.call("fetch-full")}[b1.id]["rooms"],
               message="b1 joined green")
    c1.call("broadcast", {"room": "green", "msg": "to-green"})
    b1.wait_for("bcast", lambda data: data.get("msg") == "to-green")
    a1.call("sockets-leave", {"target": b1.id, "room": "green"})
    wait_until(lambda: "green" not in {e["id"]: e for e in a1.call("fetch-full")}[b1.id]["rooms"],
               message="b1 left green")
    a1.call("disconnect-sockets", {"target": c2.id})
    assert c2.disconnected.wait(5)

    # The log holds the broadcasts with the reference's fields.
    entries = redis.command("XRANGE", "socket.io", "-", "+")
    assert entries
    fields = dict(zip(entries[0][1][0::2], entries[0][1][1::2]))
    assert set(fields) == {b"uid", b"nsp", b"type", b"data"}
    assert len(fields[b"uid"]) == 16 and fields[b"nsp"] == b"/" and fields[b"type"] == b"3"
    assert json.loads(fields[b"data"])["packet"] == {"type": 2, "data": ["bcast", {"msg": "to-all"}]}
    assert redis.command("XLEN", "socket.io") >= 5


def test_binary_broadcasts_cross_nodes(start_nodes, clients, redis):
    nodes = start_nodes(["A", "B"])
    a1 = clients(nodes["A"].url, transports=["websocket"])
    b1 = clients(nodes["B"].url, transports=["websocket"])
    a1.call("broadcast", {"msg": "bin", "blob": b"\x00\x01\xfe"})
    data = b1.wait_for("bcast", lambda data: data.get("msg") == "bin")
    assert data["blob"] == b"\x00\x01\xfe"
    # In the log as the reference writes a payload with binaries: base64 of msgpack.
    last = redis.command("XREVRANGE", "socket.io", "+", "-", "COUNT", "1")[0][1]
    fields = dict(zip(last[0::2], last[1::2]))
    decoded = msgpack.unpackb(base64.b64decode(fields[b"data"]))
    assert decoded["packet"]["data"][1]["blob"] == b"\x00\x01\xfe"


def test_a_killed_node_is_not_waited_for(start_nodes, clients):
    nodes = start_nodes(["A", "B", "C"], args=FAST_HEARTBEAT)
    a1 = clients(nodes["A"].url, transports=["websocket"])
    b1 = clients(nodes["B"].url, transports=["websocket"])
    c1 = clients(nodes["C"].url, transports=["websocket"])
    assert a1.call("ssemit-ack", {"n": 0})["err"] is None  # everyone has heard everyone's heartbeat by now
    time.sleep(0.5)

    # A request in flight when C dies: C's answer would come after 4 s, but its heartbeat lapses first.
    result = {}

    def ask():
        result["answer"], result["seconds"] = timed(a1.call, "ssemit-ack", {"slow": "C", "delay": 4000}, timeout=15)

    asking = threading.Thread(target=ask)
    asking.start()
    time.sleep(0.3)
    nodes["C"].stop(signal.SIGKILL)
    asking.join(15)
    assert result["answer"]["err"] is None, result
    assert [reply["node"] for reply in result["answer"]["responses"]] == ["B"]
    assert result["seconds"] < 3.5, f"waited {result['seconds']:.1f} s for a dead node (requests timeout 6 s)"

    # Later requests do not count it at all: Redis dropped its subscription with its connection.
    fetched, seconds = timed(a1.call, "fetch")
    assert sorted(fetched) == sorted([a1.id, b1.id]) and seconds < 1.5
    answer, seconds = timed(a1.call, "ssemit-ack", {"n": 1})
    assert answer["err"] is None and [r["node"] for r in answer["responses"]] == ["B"] and seconds < 1.5
    assert a1.call("server-count") == 2
    assert c1 is not None


def test_a_frozen_node_is_given_up_when_its_heartbeat_lapses(start_nodes, clients):
    nodes = start_nodes(["A", "B", "C"], args=FAST_HEARTBEAT)
    a1 = clients(nodes["A"].url, transports=["websocket"])
    b1 = clients(nodes["B"].url, transports=["websocket"])
    clients(nodes["C"].url, transports=["websocket"])
    assert len(a1.call("fetch")) == 3
    time.sleep(0.5)
    nodes["C"].proc.send_signal(signal.SIGSTOP)  # its connections stay open: Redis still counts it
    try:
        fetched, seconds = timed(a1.call, "fetch")
        assert sorted(fetched) == sorted([a1.id, b1.id])
        assert seconds < 3.5, f"waited {seconds:.1f} s for a frozen node (requests timeout 6 s)"
        assert "seems down" in nodes["A"].log_text()
    finally:
        nodes["C"].proc.send_signal(signal.SIGCONT)
    # Back: its heartbeats make it count again.
    wait_until(lambda: len(a1.call("fetch")) == 3, timeout=15, message="C answers again")


def test_redis_restarted_mid_run(start_nodes, clients, redis):
    nodes = start_nodes(["A", "B"])
    a1 = clients(nodes["A"].url, transports=["websocket"], label="a1")
    a2 = clients(nodes["A"].url, transports=["polling"], label="a2")
    b1 = clients(nodes["B"].url, transports=["websocket"], label="b1")
    a1.call("broadcast", {"msg": "before"})
    barrier(a1, [a1, a2, b1], "before")

    redis.stop()
    wait_until(lambda: "lost" in nodes["A"].log_text(), message="node A reports the lost connection")
    a1.call("broadcast", {"msg": "during"})  # not logged: delivered here at once
    a2.wait_for("bcast", lambda data: data.get("msg") == "during")
    assert a1.call("server-count") == 1

    redis.start()
    wait_until(lambda: redis.numsub(PUBLIC) == 2, timeout=20, message="both nodes subscribed again")
    wait_until(lambda: a1.call("server-count") == 2, timeout=20, message="A publishing again")
    for attempt in range(40):  # the readers come back with backoff too
        b1.call("broadcast", {"msg": f"after-{attempt}"})
        try:
            a1.wait_for("bcast", lambda data, n=attempt: data.get("msg") == f"after-{n}", timeout=0.5)
            break
        except AssertionError:
            continue
    a1.call("broadcast", {"msg": "last"})
    for client in (a1, a2, b1):
        client.wait_for("bcast", lambda data: data.get("msg") == "last")
    assert all(node.running for node in nodes.values())
    # The stream it had read was gone with the old Redis (no persistence): said plainly.
    wait_until(lambda: "is gone" in nodes["B"].log_text() or "is gone" in nodes["A"].log_text(),
               message="the lost stream in a log")


def test_a_node_that_loses_redis_catches_up_from_the_stream(start_nodes, clients, redis):
    proxy = TCPProxy(redis.port)
    try:
        nodes = start_nodes(["A"])
        nodes.update(start_nodes(["B"], redis_url=f"redis://{HOST}:{proxy.port}"))
        a1 = clients(nodes["A"].url, transports=["websocket"], label="a1")
        b1 = clients(nodes["B"].url, transports=["websocket"], label="b1")
        for client in (a1, b1):
            client.call("join", "chat")
        barrier(a1, [a1, b1], "start")

        proxy.refuse = True
        proxy.cut()
        wait_until(lambda: redis.numsub(PUBLIC) == 1, message="B off Redis")
        for n in range(20):
            a1.call("broadcast", {"room": "chat", "msg": f"away-{n}"})
        time.sleep(0.5)
        assert not [m for m in payloads(b1) if m and m.startswith("away")]

        proxy.refuse = False
        wait_until(lambda: len([m for m in payloads(b1) if m and m.startswith("away")]) == 20, timeout=20,
                   message="B's client got what was published while B was away")
        assert [m for m in payloads(b1) if m and m.startswith("away")] == [f"away-{n}" for n in range(20)]
        barrier(a1, [a1, b1], "end")
        assert "trimmed" not in nodes["B"].log_text()
    finally:
        proxy.close()


def test_what_was_trimmed_while_away_is_logged(start_nodes, clients, redis):
    redis.command("CONFIG", "SET", "stream-node-max-entries", "4")  # so that MAXLEN ~ trims small streams
    proxy = TCPProxy(redis.port)
    try:
        nodes = start_nodes(["A"], args=["--stream-maxlen", "5"])
        nodes.update(start_nodes(["B"], args=["--stream-maxlen", "5"], redis_url=f"redis://{HOST}:{proxy.port}"))
        a1 = clients(nodes["A"].url, transports=["websocket"])
        b1 = clients(nodes["B"].url, transports=["websocket"])
        barrier(a1, [a1, b1], "start")
        proxy.refuse = True
        proxy.cut()
        wait_until(lambda: redis.numsub(PUBLIC) == 1, message="B off Redis")
        for n in range(40):
            a1.call("broadcast", {"msg": f"away-{n}"})
        assert redis.command("XLEN", "socket.io") < 20
        proxy.refuse = False
        wait_until(lambda: "were trimmed while this node was away" in nodes["B"].log_text(), timeout=20,
                   message="B says it had to skip")
        # What is still in the stream arrives, in order.
        wait_until(lambda: "away-39" in payloads(b1), timeout=10, message="the newest entries")
        got = [m for m in payloads(b1) if m and m.startswith("away")]
        assert got == sorted(got, key=lambda m: int(m.split("-")[1])) and len(got) < 40
    finally:
        proxy.close()


# -- messages as Node's adapter writes them ---------------------------------------------------------------------

NODE_UID = "feedfacecafebeef"


def test_an_entry_written_as_node_writes_it_is_delivered(start_nodes, clients, redis):
    nodes = start_nodes(["A"])
    a1 = clients(nodes["A"].url, transports=["websocket"])
    a1.call("join", "r1")
    data = {"packet": {"type": 2, "data": ["bcast", {"msg": "from-node"}]},
            "opts": {"rooms": ["r1"], "except": [], "flags": {}}}
    # util.ts XADD: [stream, "MAXLEN", "~", maxLen, "*", ...fields]; adapter.ts encode: uid, nsp, type, data.
    redis.command("XADD", "socket.io", "MAXLEN", "~", "10000", "*", "uid", NODE_UID, "nsp", "/", "type", "3",
                  "data", json.dumps(data, separators=(",", ":")))
    a1.wait_for("bcast", lambda d: d.get("msg") == "from-node")
    # A binary payload, base64 msgpack as @msgpack/msgpack writes it.
    packed = msgpack.packb({"packet": {"type": 2, "data": ["bcast", {"msg": "bin", "b": b"\x07"}]},
                            "opts": {"rooms": [], "except": [], "flags": {}}}, use_bin_type=True)
    redis.command("XADD", "socket.io", "MAXLEN", "~", "10000", "*", "uid", NODE_UID, "nsp", "/", "type", "3",
                  "data", base64.b64encode(packed))
    got = a1.wait_for("bcast", lambda d: d.get("msg") == "bin")
    assert got["b"] == b"\x07"
    # SOCKETS_JOIN from Node: applied here.
    redis.command("XADD", "socket.io", "*", "uid", NODE_UID, "nsp", "/", "type", "4", "data",
                  json.dumps({"opts": {"rooms": [a1.id], "except": [], "flags": {}}, "rooms": ["joined-by-node"]}))
    wait_until(lambda: "joined-by-node" in a1.call("fetch-full")[0]["rooms"], message="joined")


class Subscriber:
    """A raw RESP subscriber (what a Node node's subClient is subscribed to)."""

    def __init__(self, port: int, channel: str):
        self.conn = socket.create_connection((HOST, port), timeout=5)
        self.stream = self.conn.makefile("rb")
        self.conn.sendall(resp_command("SUBSCRIBE", channel))
        assert read_reply(self.stream)[0] == b"subscribe"

    def next_message(self) -> bytes:
        reply = read_reply(self.stream)
        assert reply[0] == b"message", reply
        return reply[2]

    def close(self):
        self.conn.close()


def test_requests_from_a_node_node_are_answered_in_its_format(start_nodes, clients, redis):
    nodes = start_nodes(["A"])
    a1 = clients(nodes["A"].url, transports=["websocket"])
    a1.call("join", "r1")
    inbox = Subscriber(redis.port, f"socket.io#/#{NODE_UID}#")
    try:
        # FETCH_SOCKETS as ClusterAdapter publishes it: {type: 7, data: {opts, requestId}, uid, nsp}.
        request = msgpack.packb({"type": 7, "data": {"opts": {"rooms": ["r1"], "except": [], "flags": {}},
                                                     "requestId": "0123abcd0123abcd"}, "uid": NODE_UID, "nsp": "/"})
        assert redis.publish(PUBLIC, request) == 1  # node A is the one subscriber of the public channel
        answer = msgpack.unpackb(inbox.next_message(), raw=False)
        assert list(answer) == ["type", "data", "uid", "nsp"]
        assert answer["type"] == 8 and answer["nsp"] == "/" and len(answer["uid"]) == 16
        assert answer["data"]["requestId"] == "0123abcd0123abcd"
        [described] = answer["data"]["sockets"]
        assert described["id"] == a1.id and described["rooms"][0] == a1.id and "r1" in described["rooms"]
        assert described["data"] == {"node": "A"} and set(described["handshake"]) >= {"headers", "issued", "auth"}
        # SERVER_SIDE_EMIT with ack, and the answer without a value keeps `packet` as nil.
        redis.publish(PUBLIC, msgpack.packb({"type": 9, "data": {"requestId": "r2", "packet": ["hello-ack", {"x": 1}]},
                                             "uid": NODE_UID, "nsp": "/"}))
        answer = msgpack.unpackb(inbox.next_message(), raw=False)
        assert answer["type"] == 10 and answer["data"] == {"requestId": "r2", "packet": {"node": "A", "arg": {"x": 1}}}
        # INITIAL_HEARTBEAT gets a HEARTBEAT on the public channel (ClusterAdapterWithHeartbeat).
        public = Subscriber(redis.port, PUBLIC)
        try:
            redis.publish(PUBLIC, msgpack.packb({"type": 1, "uid": NODE_UID, "nsp": "/"}))
            seen = []
            for _ in range(5):
                message = msgpack.unpackb(public.next_message(), raw=False)
                seen.append(message)
                if message.get("type") == 2 and message.get("uid") != NODE_UID:
                    break
            assert any(m.get("type") == 2 and m.get("uid") != NODE_UID and list(m) == ["type", "uid", "nsp"]
                       for m in seen), seen
        finally:
            public.close()
    finally:
        inbox.close()


def test_namespaces_spread_over_several_streams(start_nodes, clients, redis):
    """--stream-count 3: each namespace has its stream, `<name>-<hashCode(nsp) % 3>` (the reference's
    computeStreamName): "/" (hash 47) in socket.io-2, "/chat" (hash 46457863) in socket.io-1."""
    nodes = start_nodes(["A", "B"], args=["--stream-count", "3"])
    wait_until(lambda: redis.numsub("socket.io#/chat#") == 2, message="both nodes on /chat")
    a_main = clients(nodes["A"].url, transports=["websocket"])
    b_main = clients(nodes["B"].url, transports=["websocket"])
    a_chat = clients(nodes["A"].url, transports=["websocket"], namespace="/chat")
    b_chat = clients(nodes["B"].url, transports=["websocket"], namespace="/chat")
    a_main.call("broadcast", {"msg": "main"})
    b_main.wait_for("bcast", lambda data: data.get("msg") == "main")
    b_chat.call("broadcast", {"msg": "chat"})
    a_chat.wait_for("bcast", lambda data: data.get("msg") == "chat")
    assert redis.command("XLEN", "socket.io-2") >= 1 and redis.command("XLEN", "socket.io-1") >= 1
    assert redis.command("XLEN", "socket.io") == 0 and redis.command("XLEN", "socket.io-0") == 0
    assert payloads(a_chat) == ["chat"] and "chat" not in payloads(b_main)
