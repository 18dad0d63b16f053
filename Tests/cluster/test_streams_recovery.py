"""Connection state recovery across nodes on the Redis streams adapter (issue 13): sessions kept in Redis, missed
packets replayed from the stream. Clients drive the recovery handshake by hand (streams_util.RawClient: pid from
the CONNECT answer, the last string argument of each event as the offset), as socket.io-client does; they move
between nodes through a loopback proxy the test switches, or reconnect to another node's port.

Every case checks that what the client missed arrives exactly once and in order, with its rooms, id and data."""

from __future__ import annotations

import re
import signal
import time

import pytest

from cluster_util import ClusterNode, wait_until
from streams_util import RawClient, TCPProxy

PUBLIC = "socket.io#/#"
RECOVERY = ["--recovery-ms", "10000"]


@pytest.fixture
def cluster(redis, node_binary):
    """cluster(["A", "B"], args=[...], per_node={...}) -> {name: node} on the streams adapter, recovery on."""
    made: list[ClusterNode] = []

    def start(names, args=RECOVERY, per_node=None):
        nodes = {}
        for name in names:
            node = ClusterNode(node_binary, name, redis.url, streams=True,
                               args=[*args, *((per_node or {}).get(name, []))]).start()
            made.append(node)
            nodes[name] = node
        wait_for_nodes(redis, made)
        return nodes

    yield start
    for node in made:
        node.cleanup()


def wait_for_nodes(redis, nodes):
    expected = len([node for node in nodes if node.running])
    wait_until(lambda: redis.numsub(PUBLIC) == expected, message=f"{expected} nodes subscribed")


def send(sender: RawClient, room: str, *messages: str) -> None:
    for message in messages:
        sender.call("broadcast", {"room": room, "msg": message})


def settle(client: RawClient, seconds: float = 0.4) -> None:
    """Reads a little longer, so a duplicate would show."""
    client.pump(seconds)


def recovered_state(client: RawClient) -> dict:
    return client.call("whoami")


def test_a_client_moves_to_another_node_through_a_proxy(cluster, raw):
    nodes = cluster(["A", "B", "C"])
    proxy = TCPProxy(nodes["A"].port)
    try:
        sender = raw(nodes["C"].port, label="sender")
        client = raw.track(RawClient(proxy.port, label="client"))
        assert client.call("join", "news") is True
        send(sender, "news", "before")
        assert client.wait_messages(1) == ["before"]
        assert re.fullmatch(r"\d+-\d+", client.offset), "offsets are stream ids"
        first = recovered_state(client)
        assert first["node"] == "A" and first["recovered"] is False

        proxy.cut()
        time.sleep(0.2)  # node A notices the closed transport and keeps the session in Redis
        send(sender, "news", "missed-1", "missed-2")
        sender.call("broadcast", {"room": "elsewhere", "msg": "not-for-client"})
        sender.call("broadcast", {"msg": "missed-to-all"})
        sender.call("broadcast", {"room": client.sid, "msg": "missed-to-its-id"})
        send(sender, "news", "missed-3")

        proxy.switch(nodes["B"].port)
        back = raw.track(client.come_back(proxy.port))
        state = recovered_state(back)
        assert state["node"] == "B" and state["recovered"] is True
        assert back.sid == client.sid and back.pid == client.pid
        assert "news" in state["rooms"] and state["data"] == {"node": "A"}
        expected = ["missed-1", "missed-2", "missed-to-all", "missed-to-its-id", "missed-3"]
        assert back.wait_messages(len(expected)) == expected
        settle(back)
        assert back.messages() == expected, "each missed packet exactly once, in order"
        # Live again, in its rooms, on the new node.
        send(sender, "news", "after")
        assert back.wait_messages(len(expected) + 1)[-1] == "after"
        settle(back)
        assert back.messages().count("after") == 1
    finally:
        proxy.close()


def test_recovery_after_the_first_node_was_killed(cluster, raw):
    nodes = cluster(["A", "B"])
    sender = raw(nodes["B"].port, label="sender")
    client = raw(nodes["A"].port, label="client")
    client.call("join", "news")
    send(sender, "news", "before")
    client.wait_messages(1)
    client.cut()
    time.sleep(0.2)
    nodes["A"].stop(signal.SIGKILL)
    send(sender, "news", "missed-1", "missed-2")
    back = raw.track(client.come_back(nodes["B"].port))
    assert recovered_state(back)["recovered"] is True and back.sid == client.sid
    assert back.wait_messages(2) == ["missed-1", "missed-2"]
    settle(back)
    assert back.messages() == ["missed-1", "missed-2"]


def test_recovery_after_every_node_restarted(cluster, raw, redis, node_binary):
    nodes = cluster(["A", "B"])
    sender = raw(nodes["B"].port, label="sender")
    cut_early = raw(nodes["A"].port, label="cut-early")
    cut_early.call("join", "news")
    connected = raw(nodes["A"].port, label="connected")  # still connected when its node stops
    connected.call("join", "news")
    send(sender, "news", "before")
    cut_early.wait_messages(1)
    connected.wait_messages(1)
    cut_early.cut()
    time.sleep(0.2)
    send(sender, "news", "missed-1")
    connected.wait_messages(2)
    sender.close()
    # A deploy: every node stops (SIGTERM: sessions of connected clients are kept as the server shuts down) and
    # comes back on the same port; the log and the sessions are in Redis.
    ports = {name: node.port for name, node in nodes.items()}
    for node in nodes.values():
        node.stop(signal.SIGTERM)
    for name, node in nodes.items():
        node.start(port=ports[name])
    wait_for_nodes(redis, list(nodes.values()))
    sender = raw(nodes["B"].port, label="sender-2")
    send(sender, "news", "missed-2")

    back = raw.track(cut_early.come_back(nodes["B"].port))
    assert recovered_state(back)["recovered"] is True and back.sid == cut_early.sid
    assert back.wait_messages(2) == ["missed-1", "missed-2"]
    again = raw.track(connected.come_back(nodes["A"].port))
    assert recovered_state(again)["recovered"] is True and again.sid == connected.sid
    assert again.wait_messages(1) == ["missed-2"]
    settle(back)
    settle(again)
    assert back.messages() == ["missed-1", "missed-2"] and again.messages() == ["missed-2"]


def test_a_client_that_received_no_event_yet_recovers(cluster, raw):
    """socket.io #4888 / #5538: without an offset the reference does not even try."""
    nodes = cluster(["A", "B"])
    sender = raw(nodes["B"].port, label="sender")
    client = raw(nodes["A"].port, label="client")
    client.call("join", "quiet")
    assert client.offset is None
    client.cut()
    time.sleep(0.2)
    send(sender, "quiet", "missed-1", "missed-2")
    back = raw.track(client.come_back(nodes["B"].port))  # auth {"pid"} only
    state = recovered_state(back)
    assert state["recovered"] is True and back.sid == client.sid and "quiet" in state["rooms"]
    assert back.wait_messages(2) == ["missed-1", "missed-2"]
    settle(back)
    assert back.messages() == ["missed-1", "missed-2"]


def test_repeated_recoveries_do_not_replay_what_was_replayed(cluster, raw):
    """socket.io #5419: replayed packets carry their offset, so the next recovery starts after them."""
    nodes = cluster(["A", "B"])
    sender = raw(nodes["B"].port, label="sender")
    client = raw(nodes["A"].port, label="client")
    client.call("join", "news")
    send(sender, "news", "m0")
    client.wait_messages(1)
    hops = [("A", "B"), ("B", "A"), ("A", "B"), ("B", "A")]
    current = client
    for index, (_, to) in enumerate(hops, start=1):
        current.cut()
        time.sleep(0.2)
        send(sender, "news", f"m{index}")
        current = raw.track(current.come_back(nodes[to].port))
        assert recovered_state(current)["recovered"] is True
        assert current.wait_messages(1) == [f"m{index}"], f"hop {index}"
        settle(current, 0.2)
        assert current.messages() == [f"m{index}"], f"hop {index}: nothing replayed twice"
        assert current.sid == client.sid


def test_the_old_transports_ping_timeout_does_not_end_the_recovered_session(cluster, raw):
    """socket.io #4880: the client comes back while its old transport still looks alive to the server (it died
    without a word). The old connection is closed when the session is taken over, so its ping timeout finds
    nothing to end; the recovered socket keeps its id, rooms and deliveries."""
    nodes = cluster(["A", "B"], args=[*RECOVERY, "--ping-interval", "400", "--ping-timeout", "400"])
    proxy = TCPProxy(nodes["A"].port)
    try:
        sender = raw(nodes["B"].port, label="sender")
        client = raw.track(RawClient(proxy.port, label="client"))
        client.call("join", "news")
        send(sender, "news", "before")
        client.wait_messages(1)
        proxy.blackhole()  # the client sees its connection drop; node A sees nothing
        send(sender, "news", "missed-1")
        back = raw.track(client.come_back(nodes["A"].port))
        state = recovered_state(back)
        assert state["recovered"] is True and back.sid == client.sid and "news" in state["rooms"]
        assert back.wait_messages(1) == ["missed-1"]
        for _ in range(10):  # well past the old transport's ping timeout (0.8 s); both answer their pings
            back.pump(0.1)
            sender.pump(0.1)
        state = recovered_state(back)
        assert "news" in state["rooms"]
        fetched = sender.call("fetch")
        assert fetched.count(client.sid) == 1
        send(sender, "news", "after")
        assert back.wait_messages(2) == ["missed-1", "after"]
        settle(back)
        assert back.messages() == ["missed-1", "after"]
    finally:
        proxy.close()


def test_a_session_older_than_the_limit_starts_fresh(cluster, raw):
    nodes = cluster(["A", "B"], args=["--recovery-ms", "1000"])
    sender = raw(nodes["B"].port, label="sender")
    client = raw(nodes["A"].port, label="client")
    client.call("join", "news")
    send(sender, "news", "before")
    client.wait_messages(1)
    client.cut()
    time.sleep(1.8)
    send(sender, "news", "missed")
    back = raw.track(client.come_back(nodes["B"].port))
    state = recovered_state(back)
    assert state["recovered"] is False
    assert back.sid != client.sid and back.pid != client.pid and "news" not in state["rooms"]
    settle(back)
    assert back.messages() == []


def test_unknown_sessions_and_bad_offsets_start_fresh(cluster, raw):
    nodes = cluster(["A"])
    for auth in ({"pid": "nobody", "offset": "1-0"}, {"pid": "nobody", "offset": "not an offset"}, {"pid": "nobody"},
                 {"pid": 12, "offset": 3}):
        client = raw(nodes["A"].port, auth=auth)
        assert recovered_state(client)["recovered"] is False and client.pid != "nobody"
    # A real pid with an offset the stream never had: not restored (the reference checks the offset exists).
    victim = raw(nodes["A"].port, label="victim")
    victim.call("direct", {"msg": "hello"})
    victim.wait_messages(1)
    victim.cut()
    time.sleep(0.2)
    back = raw(nodes["A"].port, auth={"pid": victim.pid, "offset": "1-0"})
    assert recovered_state(back)["recovered"] is False


def test_direct_emits_are_logged_and_replayed(cluster, raw):
    nodes = cluster(["A", "B"])
    client = raw(nodes["A"].port, label="client")
    client.call("direct", {"msg": "d1"})
    assert client.wait_messages(1) == ["d1"] and re.fullmatch(r"\d+-\d+", client.offset)
    offset_after_d1 = client.offset
    client.call("direct", {"msg": "d2"})
    client.wait_messages(2)
    # Come back claiming to have only d1: d2 is replayed from the log by another node.
    client.offset = offset_after_d1
    client.cut()
    time.sleep(0.2)
    back = raw.track(client.come_back(nodes["B"].port))
    assert recovered_state(back)["recovered"] is True
    assert back.wait_messages(1) == ["d2"]


def test_recovery_on_a_node_with_two_loops(cluster, raw):
    nodes = cluster(["A", "B"], per_node={"B": ["--loops", "2"]})
    sender = raw(nodes["A"].port, label="sender")
    loops_seen = set()
    for attempt in range(8):
        client = raw(nodes["B"].port, label=f"client-{attempt}")
        client.call("join", "news")
        first_loop = client.call("whoami")["loop"]
        # An emit to this one socket, from whichever loop serves it, goes through the first loop's adapter: its
        # offset is a stream id.
        client.call("direct", {"msg": f"direct-{attempt}"})
        client.wait_messages(1)
        assert re.fullmatch(r"\d+-\d+", client.offset), client.offset
        client.events.clear()
        send(sender, "news", f"before-{attempt}")
        client.wait_messages(1)
        client.cut()
        time.sleep(0.2)
        send(sender, "news", f"missed-{attempt}-a", f"missed-{attempt}-b")
        back = raw.track(client.come_back(nodes["B"].port))
        state = back.call("whoami")
        assert state["recovered"] is True and back.sid == client.sid, attempt
        assert back.wait_messages(2) == [f"missed-{attempt}-a", f"missed-{attempt}-b"], attempt
        send(sender, "news", f"after-{attempt}")
        assert back.wait_messages(3)[-1] == f"after-{attempt}"
        settle(back, 0.2)
        assert back.messages() == [f"missed-{attempt}-a", f"missed-{attempt}-b", f"after-{attempt}"]
        loops_seen.add((first_loop, state["loop"]))
        back.close()
        if any(a != b for a, b in loops_seen) and len(loops_seen) >= 2 and attempt >= 3:
            break
    assert any(1 in pair for pair in loops_seen), f"no socket on the second loop: {loops_seen}"


def test_a_deploy_of_a_node_on_two_loops_keeps_every_session(cluster, raw, redis):
    """SIGTERM on a multi-loop node: the sessions of the clients of every loop are written before it stops, so all
    of them recover (on the restarted node or another)."""
    nodes = cluster(["A", "B"], per_node={"A": ["--loops", "2"]})
    sender = raw(nodes["B"].port, label="sender")
    # The kernel spreads new connections over the two loops by a hash: connect until both have clients (8 at least).
    clients = []
    loops = set()
    while len(clients) < 32 and (len(clients) < 8 or loops != {0, 1}):
        client = raw(nodes["A"].port, label=f"client-{len(clients)}")
        client.call("join", "news")
        loops.add(client.call("whoami")["loop"])
        clients.append(client)
    assert loops == {0, 1}, f"clients on both loops: {loops}"
    send(sender, "news", "before")
    for client in clients:
        assert client.wait_messages(1) == ["before"]
    port = nodes["A"].port
    nodes["A"].stop(signal.SIGTERM)
    send(sender, "news", "missed")
    nodes["A"].start(port=port)
    wait_for_nodes(redis, list(nodes.values()))
    for index, client in enumerate(clients):
        back = raw.track(client.come_back(nodes["A" if index % 2 else "B"].port))
        assert recovered_state(back)["recovered"] is True, client.label
        assert back.sid == client.sid
        assert back.wait_messages(1) == ["missed"], client.label


def test_recovery_after_the_node_died_with_the_client_connected(cluster, raw):
    """The session is kept in Redis while the socket is connected, so SIGKILL of its node loses nothing: the
    client, cut by the kill, recovers on another node with its id, its rooms (one joined late) and its data."""
    nodes = cluster(["A", "B"])
    sender = raw(nodes["B"].port, label="sender")
    client = raw(nodes["A"].port, label="client")
    client.call("join", "news")
    send(sender, "news", "before")
    client.wait_messages(1)
    client.call("join", "late")  # after the session was first written: the change is written too
    time.sleep(0.2)  # what is still on its way to Redis when a node dies is lost with it
    nodes["A"].stop(signal.SIGKILL)
    send(sender, "news", "missed-1")
    send(sender, "late", "missed-late")
    back = raw.track(client.come_back(nodes["B"].port))
    state = recovered_state(back)
    assert state["recovered"] is True and back.sid == client.sid
    assert {"news", "late"} <= set(state["rooms"]) and state["data"] == {"node": "A"}
    assert back.wait_messages(2) == ["missed-1", "missed-late"]
    settle(back)
    assert back.messages() == ["missed-1", "missed-late"]


def test_the_reference_way_loses_the_sessions_of_a_dead_node(cluster, raw):
    """--sessions-on-leave writes sessions only when sockets leave, as Node's adapter: a node's death then loses
    its connected clients' sessions (the control case of the test above)."""
    nodes = cluster(["A", "B"], args=[*RECOVERY, "--sessions-on-leave"])
    client = raw(nodes["A"].port, label="client")
    client.call("direct", {"msg": "hello"})
    client.wait_messages(1)
    nodes["A"].stop(signal.SIGKILL)
    back = raw.track(client.come_back(nodes["B"].port))
    assert recovered_state(back)["recovered"] is False


def test_a_silent_cut_recovers_on_another_node(cluster, raw):
    """The transport died without a word: node A still thinks the client is there when it comes back on node B.
    The session kept while connected lets B restore it; A's next write of it finds it taken, and A's old socket
    leaves without writing it again (socket.io #4880 across nodes)."""
    nodes = cluster(["A", "B"], args=[*RECOVERY, "--session-refresh", "300"])
    proxy = TCPProxy(nodes["A"].port)
    try:
        sender = raw(nodes["B"].port, label="sender")
        client = raw.track(RawClient(proxy.port, label="client"))
        client.call("join", "news")
        send(sender, "news", "before")
        client.wait_messages(1)
        proxy.blackhole()
        send(sender, "news", "missed-1")
        back = raw.track(client.come_back(nodes["B"].port))
        state = recovered_state(back)
        assert state["recovered"] is True and back.sid == client.sid and "news" in state["rooms"]
        assert back.wait_messages(1) == ["missed-1"]
        back.call("join", "on-b")
        # A's old socket finds the session taken at its next refresh, and leaves.
        wait_until(lambda: "taken over" in nodes["A"].log_text(), timeout=5, message="A gives the session up")
        wait_until(lambda: sender.call("fetch").count(client.sid) == 1, timeout=5, message="one socket with that id")
        # The session goes on from B's socket, not from A's stale one.
        back.cut()
        time.sleep(0.2)
        send(sender, "news", "missed-2")
        again = raw.track(back.come_back(nodes["A"].port))
        state = recovered_state(again)
        assert state["recovered"] is True and "on-b" in state["rooms"]
        assert again.wait_messages(1) == ["missed-2"]
    finally:
        proxy.close()
