"""Three `sio-cluster-node` processes on one redis-server, with websocket and polling clients: everything the
adapter does across nodes (issue "Scale out over Redis", the "Show" list)."""

from __future__ import annotations

import base64
import re
import time

import pytest

from cluster_util import (ClusterNode, RedisServer, barrier, fixture_messages, payloads, read_reply, resp_command,
                      wait_until)

WS = ["websocket"]
POLLING = ["polling"]


@pytest.fixture(scope="module")
def cluster(tools, node_binary):
    redis = RedisServer(tools["redis-server"]).start()
    nodes = {name: ClusterNode(node_binary, name, redis.url).start() for name in ("A", "B", "C")}
    # Every node subscribed to the request channel of `/` before any test counts on it.
    wait_until(lambda: redis.numsub("socket.io-request#/#") == 3, message="3 subscribers")
    yield redis, nodes
    for node in nodes.values():
        node.cleanup()
    redis.cleanup()


def spread(clients, nodes, transports_cycle=(WS, POLLING), count=6, label="c"):
    """`count` clients over the nodes A, B, C in turn, alternating websocket and polling."""
    made = []
    names = sorted(nodes)
    for index in range(count):
        node = nodes[names[index % len(names)]]
        made.append(clients(node.url, transports=transports_cycle[index % len(transports_cycle)],
                            label=f"{label}{index}"))
    return made


def test_server_count_is_the_number_of_nodes(cluster, clients):
    redis, nodes = cluster
    for node in nodes.values():
        client = clients(node.url, transports=WS)
        assert client.call("server-count") == 3
        assert client.node == node.name


def test_room_broadcast_reaches_members_on_every_node_and_nobody_else(cluster, clients):
    _, nodes = cluster
    everyone = spread(clients, nodes, count=9)
    members = everyone[:6]  # two on each node, websocket and polling
    for client in members:
        assert client.call("join", "r-room") is True
    sender = everyone[7]  # not a member, on node B
    assert sender.call("broadcast", {"room": "r-room", "msg": "to-room"}) is True
    barrier(sender, everyone, "room")
    for client in members:
        assert payloads(client) == ["to-room"], client.label
    for client in everyone[6:]:
        assert payloads(client) == [], client.label


def test_except_is_honoured_across_nodes(cluster, clients):
    _, nodes = cluster
    everyone = spread(clients, nodes, count=6)
    for client in everyone:
        client.call("join", "x-room")
    excluded = everyone[1:3]  # one on B (polling), one on C (websocket)
    for client in excluded:
        client.call("join", "x-muted")
    # except a room, and except a socket id on another node
    everyone[0].call("broadcast", {"room": "x-room", "except": "x-muted", "msg": "except-room"})
    everyone[0].call("broadcast", {"room": "x-room", "except": [everyone[4].id], "msg": "except-id"})
    barrier(everyone[0], everyone, "except")
    for client in everyone:
        expected = [] if client in excluded else ["except-room"]
        if client is not everyone[4]:
            expected.append("except-id")
        assert payloads(client) == expected, client.label


def test_several_rooms_and_everyone(cluster, clients):
    _, nodes = cluster
    everyone = spread(clients, nodes, count=6)
    everyone[0].call("join", "m-one")
    everyone[1].call("join", "m-two")
    everyone[2].call("join", "m-one")
    everyone[2].call("join", "m-two")  # in both rooms: gets it once
    everyone[3].call("broadcast", {"rooms": ["m-one", "m-two"], "msg": "two-rooms"})
    everyone[4].call("broadcast", {"msg": "all"})
    barrier(everyone[4], everyone, "rooms")
    for index, client in enumerate(everyone):
        expected = ["two-rooms"] if index in (0, 1, 2) else []
        assert [m for m in payloads(client) if m == "two-rooms"] == expected, client.label
        assert [m for m in payloads(client) if m == "all"] == ["all"], client.label


def test_socket_broadcast_excludes_the_sender(cluster, clients):
    _, nodes = cluster
    everyone = spread(clients, nodes, count=6)
    for client in everyone:
        client.call("join", "s-room")
    everyone[1].call("sock-broadcast", {"room": "s-room", "msg": "from-socket"})
    everyone[1].call("sock-broadcast", {"msg": "from-socket-all"})
    barrier(everyone[1], everyone, "sock")
    for client in everyone:
        expected = [] if client is everyone[1] else ["from-socket", "from-socket-all"]
        assert payloads(client) == expected, client.label


def test_volatile_and_binary_broadcasts_cross_nodes(cluster, clients):
    _, nodes = cluster
    everyone = spread(clients, nodes, count=6)
    for client in everyone:
        client.call("join", "v-room")
    everyone[0].call("broadcast", {"room": "v-room", "volatile": True, "msg": "volatile"})
    blob = bytes([0, 1, 2, 3, 254, 255]) + b"binary!"
    everyone[0].call("broadcast", {"room": "v-room", "msg": "binary", "bin": blob})
    barrier(everyone[0], everyone, "binary")
    for index, client in enumerate(everyone):
        # Volatile: a polling client with no GET waiting may miss it (as with the reference); websocket clients,
        # idle here, get it on every node.
        if index % 2 == 0:
            assert payloads(client) == ["volatile", "binary"], client.label
        else:
            assert payloads(client) in (["volatile", "binary"], ["binary"]), client.label
        binary = [data for data in client.received("bcast") if data.get("msg") == "binary"][0]
        assert binary["bin"] == blob, client.label


def test_namespace_chat_spans_nodes(cluster, clients):
    _, nodes = cluster
    members = [clients(nodes[name].url, transports=transports, namespace="/chat", label=f"chat-{name}")
               for name, transports in (("A", WS), ("B", POLLING), ("C", WS))]
    outsider = clients(nodes["B"].url, transports=WS, namespace="/chat", label="chat-outsider")
    main_namespace = clients(nodes["C"].url, transports=WS, label="main")
    main_namespace.call("join", "chat-room")  # same room name in `/`: must not receive /chat's broadcast
    for client in members:
        assert client.call("join", "chat-room") is True
    members[0].call("broadcast", {"room": "chat-room", "msg": "in-chat"})
    for client in members:
        client.wait_for("bcast", lambda data: data.get("msg") == "in-chat")
    members[0].call("broadcast", {"msg": "chat-all"})
    outsider.wait_for("bcast", lambda data: data.get("msg") == "chat-all")
    assert payloads(outsider) == ["chat-all"]
    time.sleep(0.3)
    assert payloads(main_namespace) == []


def test_fetch_sockets_spans_nodes(cluster, clients):
    _, nodes = cluster
    everyone = spread(clients, nodes, count=6)
    for client in everyone[::2]:
        client.call("join", "f-room")
    ids = set(everyone[1].call("fetch"))
    assert {client.id for client in everyone} <= ids
    assert set(everyone[1].call("fetch", "f-room")) == {client.id for client in everyone[::2]}
    full = everyone[5].call("fetch-full", "f-room")
    assert sorted(entry["id"] for entry in full) == sorted(client.id for client in everyone[::2])
    by_id = {entry["id"]: entry for entry in full}
    for client in everyone[::2]:
        entry = by_id[client.id]
        assert entry["data"] == {"node": client.node}
        assert set(entry["rooms"]) == {client.id, "f-room"}


def test_all_rooms_spans_nodes(cluster, clients):
    _, nodes = cluster
    a, b, c = (clients(nodes[name].url, transports=WS) for name in ("A", "B", "C"))
    a.call("join", "ar-a")
    b.call("join", "ar-b")
    c.call("join", "ar-c")
    rooms = set(a.call("all-rooms"))
    assert {"ar-a", "ar-b", "ar-c", a.id, b.id, c.id} <= rooms


def test_sockets_join_and_leave_span_nodes(cluster, clients):
    _, nodes = cluster
    a = clients(nodes["A"].url, transports=WS, label="a")
    b = clients(nodes["B"].url, transports=POLLING, label="b")
    c = clients(nodes["C"].url, transports=WS, label="c")
    c.call("join", "sj-source")
    b.call("join", "sj-source")
    # One socket on another node, by id.
    a.call("sockets-join", {"target": c.id, "room": "sj-by-id"})
    wait_until(lambda: set(a.call("fetch", "sj-by-id")) == {c.id}, message="c in sj-by-id")
    # A room spanning nodes; the publisher's node applies it when the request comes back from Redis.
    a.call("join", "sj-source")
    a.call("sockets-join", {"target": "sj-source", "room": "sj-joined"})
    wait_until(lambda: set(b.call("fetch", "sj-joined")) == {a.id, b.id, c.id}, message="all in sj-joined")
    a.call("broadcast", {"room": "sj-joined", "msg": "joined"})
    for client in (a, b, c):
        client.wait_for("bcast", lambda data: data.get("msg") == "joined")
    a.call("sockets-leave", {"target": "sj-source", "room": "sj-joined"})
    wait_until(lambda: a.call("fetch", "sj-joined") == [], message="sj-joined empty")


def test_disconnect_sockets_spans_nodes(cluster, clients):
    _, nodes = cluster
    a = clients(nodes["A"].url, transports=WS, label="a")
    b = clients(nodes["B"].url, transports=POLLING, label="b")
    c = clients(nodes["C"].url, transports=WS, label="c")
    c.call("join", "d-room")
    b.call("join", "d-room")
    a.call("disconnect-sockets", {"target": c.id})
    assert c.disconnected.wait(10)
    assert not b.disconnected.is_set()
    a.call("disconnect-sockets", {"target": "d-room", "close": True})
    assert b.disconnected.wait(10)
    wait_until(lambda: not ({b.id, c.id} & set(a.call("fetch"))), message="b and c gone")
    assert not a.disconnected.is_set()


def test_server_side_emit_reaches_the_other_nodes(cluster, clients):
    _, nodes = cluster
    on_node = {name: clients(nodes[name].url, transports=WS if name != "B" else POLLING, label=name)
               for name in ("A", "B", "C")}
    on_node["A"].call("ssemit", {"n": 1})
    for name in ("B", "C"):
        hello = on_node[name].wait_for("ss-hello")
        assert hello == {"node": name, "arg": {"n": 1}}
    # Not to the sender's own node.
    barrier(on_node["A"], list(on_node.values()), "sse")
    assert on_node["A"].received("ss-hello") == []


def test_server_side_emit_with_ack_collects_every_other_node(cluster, clients):
    _, nodes = cluster
    a = clients(nodes["A"].url, transports=WS)
    answer = a.call("ssemit-ack", {"n": 2}, timeout=15)
    assert answer["err"] is None
    assert sorted(answer["responses"], key=lambda r: r["node"]) == [
        {"node": "B", "arg": {"n": 2}}, {"node": "C", "arg": {"n": 2}}]


def test_broadcast_with_acks_collects_every_reply(cluster, clients):
    _, nodes = cluster
    everyone = spread(clients, nodes, count=6, label="ack")
    members = everyone[:5]
    for client in members:
        client.call("join", "ba-room")
    answer = everyone[5].call("bcast-ack", {"room": "ba-room", "payload": {"q": 1}}, timeout=15)
    assert answer["err"] is None
    assert sorted(reply["from"] for reply in answer["responses"]) == sorted(client.label for client in members)
    assert all(reply["payload"] == {"q": 1} for reply in answer["responses"])


def test_broadcast_with_acks_times_out_with_the_replies_so_far(cluster, clients):
    _, nodes = cluster
    a = clients(nodes["A"].url, transports=WS, label="a")
    b = clients(nodes["B"].url, transports=WS, label="b")
    silent = clients(nodes["C"].url, transports=WS, label="silent")
    # python-socketio acks every event that asks for it; this one answers after the 3000 ms timeout.
    silent.sio.handlers["/"]["need-ack"] = lambda data: time.sleep(4.5) or {"from": "late"}
    for client in (a, b, silent):
        client.call("join", "bt-room")
    answer = a.call("bcast-ack", {"room": "bt-room", "payload": 7}, timeout=15)
    assert answer["err"] == "operation has timed out"
    assert sorted(reply["from"] for reply in answer["responses"]) == ["a", "b"]


def _msgpack(value) -> bytes:
    """The few msgpack forms @socket.io/redis-emitter's messages use (as notepack.io writes them)."""
    if value is None:
        return b"\xc0"
    if value is True or value is False:
        return b"\xc3" if value else b"\xc2"
    if isinstance(value, int) and 0 <= value < 128:
        return bytes([value])
    if isinstance(value, str):
        data = value.encode()
        if len(data) < 32:
            return bytes([0xA0 | len(data)]) + data
        return b"\xd9" + bytes([len(data)]) + data
    if isinstance(value, list):
        assert len(value) < 16
        return bytes([0x90 | len(value)]) + b"".join(_msgpack(item) for item in value)
    if isinstance(value, dict):
        assert len(value) < 16
        return bytes([0x80 | len(value)]) + b"".join(_msgpack(k) + _msgpack(v) for k, v in value.items())
    raise TypeError(value)


def emitter_broadcast(event: str, argument, rooms: list[str], namespace: str = "/") -> tuple[str, bytes]:
    """What `new Emitter(redis).of(namespace).to(...rooms).emit(event, argument)` publishes."""
    channel = f"socket.io#{namespace}#" + (rooms[0] + "#" if len(rooms) == 1 else "")
    packet = {"type": 2, "data": [event, argument], "nsp": namespace}
    return channel, _msgpack(["emitter", packet, {"rooms": rooms, "flags": {}, "except": []}])


def test_the_emitter_format_is_what_the_capture_shows():
    captured = next(m for m in fixture_messages() if m["scenario"] == "emitter-room")
    channel, payload = emitter_broadcast("emitter-msg", {"e": 1}, ["room1"])
    assert channel == captured["channel"]
    assert payload == base64.b64decode(captured["payload_b64"])


def test_messages_in_the_emitter_format_reach_clients_on_all_nodes(cluster, clients):
    redis, nodes = cluster
    everyone = spread(clients, nodes, count=6)
    for client in everyone[:4]:
        client.call("join", "em-room")
    # Broadcast to a room, as the emitter publishes it.
    channel, payload = emitter_broadcast("emitter-msg", {"e": 1}, ["em-room"])
    assert redis.publish(channel, payload) == 3
    for client in everyone[:4]:
        assert client.wait_for("emitter-msg") == {"e": 1}
    # To everyone (no room).
    channel, payload = emitter_broadcast("emitter-msg", {"e": "all"}, [])
    redis.publish(channel, payload)
    for client in everyone:
        client.wait_for("emitter-msg", lambda data: data == {"e": "all"})
    assert [data for data in everyone[5].received("emitter-msg")] == [{"e": "all"}]
    # serverSideEmit and socketsJoin in the emitter's JSON (no uid for the join): every node acts, none is skipped.
    captured = {m["scenario"]: base64.b64decode(m["payload_b64"]) for m in fixture_messages()}
    redis.publish("socket.io-request#/#", captured["emitter-sse"])
    for client in everyone:
        assert client.wait_for("ss-hello")["arg"] == {"e": 2}
    redis.publish("socket.io-request#/#", b'{"type":2,"opts":{"rooms":["em-room"],"except":[]},"rooms":["em-joined"]}')
    wait_until(lambda: set(everyone[5].call("fetch", "em-joined")) == {c.id for c in everyone[:4]},
               message="em-room members in em-joined")


class Recorder:
    """PSUBSCRIBE * on its own connection: every message published on Redis, byte for byte (as the capture was
    made)."""

    def __init__(self, redis: RedisServer):
        import socket as socket_module
        import threading

        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Condition()
        self.conn = socket_module.create_connection(("127.0.0.1", redis.port))
        self.conn.sendall(resp_command("PSUBSCRIBE", "*"))
        self.stream = self.conn.makefile("rb")
        read_reply(self.stream)  # psubscribe confirmation
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                reply = read_reply(self.stream)
                if reply and reply[0] == b"pmessage":
                    with self.lock:
                        self.messages.append((reply[2].decode(), reply[3]))
                        self.lock.notify_all()
        except (OSError, ConnectionError, ValueError):
            pass

    def wait(self, predicate, timeout: float = 10.0) -> tuple[str, bytes]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for message in self.messages:
                    if predicate(*message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no such message; got {self.messages!r}")
                self.lock.wait(remaining)

    def close(self) -> None:
        self.conn.close()


def test_what_the_nodes_publish_is_what_node_publishes(cluster, clients):
    """The same calls as in the capture, made on a live node: the bytes on Redis equal the capture's once the
    random ids (the adapter uid, request ids) are put back."""
    redis, nodes = cluster
    captured = {(m["scenario"], m["index"]): m for m in fixture_messages()}
    recorder = Recorder(redis)
    try:
        a = clients(nodes["A"].url, transports=["websocket"], label="a")
        a.call("join", "room1")

        def check(scenario: str, predicate) -> None:
            expected = captured[(scenario, 0)]
            channel, payload = recorder.wait(predicate)
            assert channel == expected["channel"], scenario
            want = base64.b64decode(expected["payload_b64"])
            if payload[:1] == b"{":
                uid = re.search(rb'"uid":"([A-Za-z0-9]{6})"', payload).group(1)
                want_uid = re.search(rb'"uid":"([A-Za-z0-9]{6})"', want).group(1)
                payload = payload.replace(uid, want_uid)
            else:
                assert payload[:2] == b"\x93\xa6", scenario
                payload = payload[:2] + want[2:8] + payload[8:]
            assert payload == want, f"{scenario}: {payload!r} != {want!r}"

        a.call("broadcast", {"room": "room1", "msg": "hi"})
        check("room", lambda channel, payload: b"\xa2hi" in payload and channel.endswith("room1#"))
        a.call("broadcast", {"rooms": ["room1", "room2"], "msg": "hi"})
        check("two-rooms", lambda channel, payload: channel == "socket.io#/#" and b"room2" in payload)
        a.call("broadcast", {"room": "room1", "except": "roomx"})
        check("except", lambda channel, payload: b"roomx" in payload)
        a.call("broadcast", {"msg": "all"})
        check("all", lambda channel, payload: b"\xa3all" in payload)
        a.call("broadcast", {"room": "room1", "bin": bytes.fromhex("00010203feff62696e61727921")})
        check("binary", lambda channel, payload: b"\xc4\x0d" in payload)
        a.call("ssemit", {"n": 1})
        check("sse", lambda channel, payload: payload.endswith(b'["hello",{"n":1}]}'))
        a.call("ssemit", {"bin": bytes([1, 2, 255])})
        check("sse-bin", lambda channel, payload: b"Buffer" in payload)
    finally:
        recorder.close()
