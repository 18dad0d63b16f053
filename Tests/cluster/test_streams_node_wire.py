"""Our streams adapter against a capture of Node's (Tests/cluster/fixtures/redis-streams/wire-capture.json: two Node
socket.io 4.8.3 nodes on @socket.io/redis-streams-adapter 0.3.1, every operation, see its .md). The same script
(streams_capture.py) runs on two of our nodes here, and what they write is compared with Node's bytes step by step,
random ids aside (adapter uids, socket ids, pids, request ids and stream ids are replaced by labels; msgpack is
compared token by token, so a different byte anywhere else fails):

- the stream entries (fields, their order, JSON text and base64 msgpack);
- the pub/sub messages of each node, in order (our heartbeats aside: Node's 0.3 adapter sends none);
- the session keys and values (GET) and their expiry (PTTL);
- the reference's commands (XADD, SET ... PX, the restore's MULTI GET DEL EXEC and XRANGEs), channels subscribed;
- what every client received (event arguments, offsets appended or not) and what each operation answered.

Our nodes run with --sessions-on-leave (sessions written when sockets leave, as Node's adapter does). What differs
on purpose (heartbeats, the `#since` keys, the replay's paging) is left out by the projections below, each with
its reason, and docs/REDIS.md says the same.
Decoding Node's entries, payloads and sessions with our decoders is in the Swift tests
(Tests/SocketIORedisStreamsTests/NodeCaptureTests.swift).
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from cluster_util import ClusterNode, RedisServer
from streams_capture import FIXTURE_DIR, run_capture
from wire_format import Substitutions, learn_request_ids, msgpack_tree

FIXTURE = FIXTURE_DIR / "wire-capture.json"
OFFSET = re.compile(r"\b\d{13}-\d+\b")
HEARTBEATS = {1, 2, 13}  # INITIAL_HEARTBEAT, HEARTBEAT, ADAPTER_CLOSE: ours only (ClusterAdapterWithHeartbeat's)


@pytest.fixture(scope="module")
def node() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def ours(tools, node_binary) -> dict:
    redis = RedisServer(tools["redis-server"]).start()
    made = []

    def launch(name, args):
        made.append(ClusterNode(node_binary, name, redis.url, streams=True, args=[*args, "--sessions-on-leave"]).start())
        return made[-1]

    try:
        yield run_capture(launch, redis, recovery_ms=json.loads(FIXTURE.read_text())["recovery_ms"])
    finally:
        for made_node in made:
            made_node.cleanup()
        redis.cleanup()


# -- normalizing one capture -------------------------------------------------------------------------------------

def substitutions(capture: dict) -> Substitutions:
    subs = Substitutions()
    by_id = {}
    for label, value in capture["labels"].items():
        subs.add(value, label)
        by_id.setdefault(value, label)
    for command in capture["steps"][0]["commands"]:
        args = command["args"]
        if str(args[0]).upper() == "SUBSCRIBE":
            for channel in args[1:]:
                match = re.fullmatch(r"socket\.io#(/[^#]*)#([0-9a-f]{16})#", channel)
                if match:
                    subs.add(match.group(2), f"{command['client'].split('-')[0]}{match.group(1)}.uid")
    for step in capture["steps"]:
        for session in step["sessions"] + step.get("written", []):
            decoded = session.get("decoded") or {}
            if decoded.get("sid") in by_id:
                subs.add(decoded.get("pid"), by_id[decoded["sid"]] + ".pid")
        for message in step["pubsub"]:
            learn_request_ids(message.get("decoded"), subs)
    return subs


def norm_tree(node, subs: Substitutions, opaque: bool = False):
    """A msgpack tree with ids replaced. `opaque` (inside a fetchSockets handshake, which holds the run's ports,
    keys and times) keeps every token's format and the map keys, and drops the other values. The sockets of a
    fetchSockets answer are compared as a set: a node lists its sockets in no particular order (Node: in the order
    they connected)."""
    name, value = node
    if isinstance(value, list):
        if name not in ("fixmap", "map16", "map32"):
            return name, [norm_tree(child, subs, opaque) for child in value]
        children = []
        for index in range(0, len(value), 2):
            key, item = value[index], value[index + 1]
            children.append(norm_tree(key, subs))
            normalized = norm_tree(item, subs, opaque or key[1] == "handshake")
            if key[1] == "sockets" and isinstance(normalized[1], list):
                normalized = normalized[0], sorted(normalized[1], key=repr)
            children.append(normalized)
        return name, children
    if opaque:
        return name, None
    if isinstance(value, str):
        return name, OFFSET.sub("<offset>", subs.text(value))
    return name, value


def norm_json(value, subs: Substitutions):
    return json.loads(OFFSET.sub("<offset>", subs.text(json.dumps(value, ensure_ascii=False))))


def norm_entry(entry: dict, subs: Substitutions):
    fields = []
    for key, value in entry["fields"]:
        if key == "data" and not value.startswith("{"):
            fields.append((key, "base64-msgpack", norm_tree(msgpack_tree(base64.b64decode(value)), subs)))
        else:
            fields.append((key, subs.text(value)))
    return fields


def pubsub_by_sender(step: dict, subs: Substitutions, drop_heartbeats: bool) -> dict:
    out: dict[str, list] = {}
    for message in step["pubsub"]:
        decoded = message.get("decoded") or {}
        if drop_heartbeats and decoded.get("type") in HEARTBEATS:
            continue
        sender = subs.text(str(decoded.get("uid")))
        tree = norm_tree(msgpack_tree(bytes.fromhex(message["payload_hex"])), subs)
        out.setdefault(sender, []).append((subs.text(message["channel"]), tree))
    return out


def sessions(step: dict, subs: Substitutions) -> dict:
    return {subs.text(s["key"]): norm_tree(msgpack_tree(base64.b64decode(s["value"])), subs)
            for s in step["sessions"] if not s["key"].endswith("#since") and s["value"] is not None}


def steps(capture: dict) -> dict:
    return {step["name"]: step for step in capture["steps"]}


def compare_steps(node: dict, ours: dict, project) -> list[str]:
    node_subs, our_subs = substitutions(node), substitutions(ours)
    node_steps, our_steps = steps(node), steps(ours)
    assert list(node_steps) == list(our_steps)
    differences = []
    for name in node_steps:
        expected = project(node_steps[name], node_subs, False)
        actual = project(our_steps[name], our_subs, True)
        if expected != actual:
            differences.append(f"step {name}:\n  Node: {expected!r}\n  ours: {actual!r}")
    return differences


# -- the comparisons ---------------------------------------------------------------------------------------------

def test_the_fixture_is_nodes_own(node):
    """The fixture was made by Node's adapter (versions as the .md says), and Node sends no heartbeat."""
    assert node["versions"]["@socket.io/redis-streams-adapter"] == "0.3.1"
    assert node["versions"]["socket.io"] == "4.8.3"
    for step in node["steps"]:
        for message in step["pubsub"]:
            assert message["decoded"]["type"] not in HEARTBEATS, step["name"]


def test_stream_entries_are_nodes_bytes(node, ours):
    differences = compare_steps(node, ours, lambda step, subs, _ours: [norm_entry(e, subs) for e in step["stream"]])
    assert not differences, "\n".join(differences)


def test_pubsub_messages_are_nodes_bytes(node, ours):
    differences = compare_steps(node, ours, lambda step, subs, is_ours: pubsub_by_sender(step, subs, is_ours))
    assert not differences, "\n".join(differences)


def test_we_send_heartbeats_node_does_not(ours):
    """Ours: INITIAL_HEARTBEAT when a namespace's adapter starts, HEARTBEAT when idle, ADAPTER_CLOSE at the end,
    on the namespace channel, `{type, uid, nsp}` (ClusterAdapterWithHeartbeat's; Node's 0.3 adapter ignores them)."""
    subs = substitutions(ours)
    by_step = {step["name"]: [m["decoded"] for m in step["pubsub"]] for step in ours["steps"]}
    assert {m["type"] for m in by_step["start"]} >= {1}
    assert {m["type"] for m in by_step["idle"]} == {2}
    closing = [m for m in by_step["close"] if m["type"] == 13]
    assert sorted(subs.text(m["uid"]) for m in closing) == ["<B/.uid>", "<B/chat.uid>"]
    for message in closing:
        assert set(message) == {"type", "uid", "nsp"}


def test_sessions_are_nodes_bytes_and_expiry(node, ours):
    recovery = node["recovery_ms"]
    differences = compare_steps(node, ours, lambda step, subs, _ours: sessions(step, subs))
    assert not differences, "\n".join(differences)
    for capture in (node, ours):
        for step in capture["steps"]:
            for session in step["sessions"]:
                assert 0 < session["pttl"] <= recovery, (step["name"], session)
    expiry = steps(ours)["session-expiry"]
    assert expiry["expired"] and not expiry["same_id"] and not expiry["whoami"]["recovered"]


def reference_commands(step: dict, subs: Substitutions, is_ours: bool) -> dict:
    """Per node, the commands that carry the reference's wire format, normalized: XADD (data left to the entry
    comparison), SET of a session (value left to the session comparison), the restore (MULTI GET DEL EXEC of the
    session key, XRANGE of the offset, XRANGE after it). Ours also read and delete the `#since` key in the same
    MULTI and page the replay with COUNT 1000: those are dropped here."""
    out: dict[str, list] = {}
    for command in step["commands"]:
        args = [a if isinstance(a, str) else json.dumps(a) for a in command["args"]]
        verb = args[0].upper()
        node_name = command["client"].split("-")[0]
        if verb == "XADD":
            shown = [subs.text(a) for a in args[:-1]] + ["<data>"]
        elif verb == "SET" and args[1].startswith("sio:session:"):
            if args[1].endswith("#since"):
                continue
            shown = ["SET", subs.text(args[1]), "<session>", *args[3:]]
        elif verb in ("GET", "DEL") and args[1].startswith("sio:session:"):
            if args[1].endswith("#since"):
                continue
            shown = [verb, subs.text(args[1])]
        elif verb in ("MULTI", "EXEC"):
            shown = [verb]
        elif verb == "XRANGE":
            shown = [OFFSET.sub("<offset>", a) for a in args[:4]]
            if is_ours and args[4:] == ["COUNT", "1000"]:
                pass
            elif args[4:]:
                shown += args[4:]
        else:
            continue
        out.setdefault(node_name, []).append(shown)
    if is_ours:
        for commands in out.values():
            # The reference's replay ends with an XRANGE that finds nothing; ours stops when a page was not full.
            while len(commands) >= 2 and commands[-1][0] == "XRANGE" and commands[-2][0] == "XRANGE" \
                    and commands[-1] == commands[-2]:
                commands.pop()
    return out


def test_commands_are_the_references(node, ours):
    def project(step, subs, is_ours):
        commands = reference_commands(step, subs, is_ours)
        if not is_ours:
            # Node's replay asks once more after the last page (an empty XRANGE); ours knows it reached the end.
            for listed in commands.values():
                ranges = [i for i, c in enumerate(listed) if c[0] == "XRANGE" and c[3] == "+"]
                if len(ranges) >= 2:
                    del listed[ranges[-1]]
            # A restore of an expired session: Node still asks for the offset (its GETDEL and XRANGE go out
            # together); ours stops at the missing session.
            if step["name"] == "session-expiry":
                for listed in commands.values():
                    listed[:] = [c for c in listed if c[0] != "XRANGE"]
        if step["name"] == "close":  # B closes its sockets in no particular order (Node: as they connected)
            for listed in commands.values():
                listed.sort()
        return commands

    differences = compare_steps(node, ours, project)
    assert not differences, "\n".join(differences)


def test_subscriptions_are_the_references(node, ours):
    def channels(capture):
        subs = substitutions(capture)
        found = set()
        for command in capture["steps"][0]["commands"]:
            if str(command["args"][0]).upper() == "SUBSCRIBE":
                found |= {subs.text(c) for c in command["args"][1:]}
        return found

    assert channels(ours) == channels(node)
    assert channels(node) == {"socket.io#/#", "socket.io#/#<A/.uid>#", "socket.io#/chat#", "socket.io#/chat#<A/chat.uid>#",
                              "socket.io#/#<B/.uid>#", "socket.io#/chat#<B/chat.uid>#"}


def test_clients_receive_what_nodes_clients_receive(node, ours):
    def project(step, subs, _ours):
        return {label: norm_json(events, subs) for label, events in step["received"].items()}

    differences = compare_steps(node, ours, project)
    assert not differences, "\n".join(differences)


def test_operations_answer_as_on_node(node, ours):
    def canonical(value):
        if isinstance(value, list):
            return sorted((canonical(v) for v in value), key=json.dumps)
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items() if k != "port"}
        return value

    def project(step, subs, _ours):
        return {key: canonical(norm_json(step[key], subs)) for key in ("answer", "whoami", "same_id", "expired")
                if key in step}

    differences = compare_steps(node, ours, project)
    assert not differences, "\n".join(differences)
