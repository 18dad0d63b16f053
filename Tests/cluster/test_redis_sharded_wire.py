"""Our sharded pub/sub adapter (sio-cluster-node --redis-sharded) against the capture of Node's
(Tests/cluster/fixtures/redis-sharded/wire-capture.json: two Node socket.io 4.8.3 nodes on @socket.io/redis-adapter
8.3.0 `createShardedAdapter`, static and dynamic modes, see its .md). The capture's own script (sharded_capture.py)
runs on two of our nodes here, and what they SPUBLISH is compared with Node's step by step, random ids aside
(adapter uids, socket ids and request ids replaced by labels):

- the channel of every SPUBLISH and its encoding (JSON or notepack msgpack, by the first byte as the adapter reads it);
- JSON payloads as text, msgpack ones token by token (so a different byte anywhere else fails);
- the channels each node SSUBSCRIBEs and SUNSUBSCRIBEs (dynamic: one per public room, none per socket);
- what every client received and what each operation answered.
"""

from __future__ import annotations

import json
import re

import pytest

from cluster_util import ClusterNode, RedisServer
from sharded_capture import FIXTURE_DIR, run_sharded
from wire_format import Substitutions, learn_request_ids, msgpack_tree

FIXTURE = FIXTURE_DIR / "wire-capture.json"
MODES = ("static", "dynamic")


class ShardedNode(ClusterNode):
    """sio-cluster-node on the sharded adapter: the capture script's `--sharded MODE` is our `--sharded-mode`."""

    def argv(self) -> list[str]:
        argv = super().argv()
        argv[argv.index("--redis")] = "--redis-sharded"
        return [("--sharded-mode" if a == "--sharded" else a) for a in argv]


@pytest.fixture(scope="module")
def node() -> dict:
    return json.loads(FIXTURE.read_text())["modes"]


@pytest.fixture(scope="module")
def ours(tools, node_binary) -> dict:
    captures = {}
    for mode in MODES:
        redis = RedisServer(tools["redis-server"]).start()
        made = []

        def launch(name, args):
            made.append(ShardedNode(node_binary, name, redis.url, args=args).start())
            return made[-1]

        try:
            captures[mode] = run_sharded(launch, redis, mode)
        finally:
            for made_node in made:
                made_node.cleanup()
            redis.cleanup()
    return captures


# -- normalizing one capture -------------------------------------------------------------------------------------

def substitutions(capture: dict) -> Substitutions:
    subs = Substitutions()
    for label, value in capture["labels"].items():
        subs.add(value, label)
    for command in capture["steps"][0]["commands"]:
        args = command["args"]
        if str(args[0]).upper() == "SSUBSCRIBE":
            match = re.fullmatch(r"socket\.io#(/[^#]*)#([0-9a-f]{16})#", args[1])
            if match:
                subs.add(match.group(2), f"{command['client'].split('-')[0]}{match.group(1)}.uid")
    for step in capture["steps"]:
        for message in step["messages"]:
            learn_request_ids(message["decoded"], subs)
    return subs


def norm_tree(node, subs: Substitutions, opaque: bool = False):
    """A msgpack tree with ids replaced; inside a fetchSockets handshake (ports, keys, times of the run) only the
    token formats and map keys are kept."""
    name, value = node
    if isinstance(value, list):
        if name not in ("fixmap", "map16", "map32"):
            return name, [norm_tree(child, subs, opaque) for child in value]
        children = []
        for index in range(0, len(value), 2):
            key, item = value[index], value[index + 1]
            children.append(norm_tree(key, subs))
            children.append(norm_tree(item, subs, opaque or key[1] == "handshake"))
        return name, children
    if opaque:
        return name, None
    return name, subs.text(value) if isinstance(value, str) else value


def norm_json(value, subs: Substitutions, drop_handshake: bool = True):
    """A decoded JSON message with ids replaced; a fetchSockets answer's handshakes (the run's ports, keys and
    times) reduced to their keys, its sockets as a set (a node lists them in no particular order)."""
    def walk(item, key=None):
        if isinstance(item, dict):
            if key == "handshake" and drop_handshake:
                return sorted(item)
            out = {k: walk(v, k) for k, v in item.items()}
            if isinstance(out.get("sockets"), list):
                out["sockets"] = sorted(out["sockets"], key=json.dumps)
            return out
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item
    return walk(json.loads(subs.text(json.dumps(value, ensure_ascii=False))))


def published(step: dict, subs: Substitutions) -> list:
    """Every SPUBLISH of a step: publisher, channel, encoding and the payload, normalized; in the order of
    each publisher (two nodes' messages have no order between them)."""
    out = []
    for message in step["messages"]:
        payload = bytes.fromhex(message["payload_hex"])
        if message["encoding"] == "json":
            # Key order and number format matter: the text is compared (ids replaced), then the structure.
            body = ("json", subs.text(payload.decode()) if message["decoded"].get("type") != 8
                    else norm_json(message["decoded"], subs))
        else:
            body = ("msgpack", norm_tree(msgpack_tree(payload), subs))
        out.append((message["publisher"].split("-")[0], subs.text(message["channel"]), body))
    return sorted(out, key=lambda item: item[0])


def subscriptions(step: dict, subs: Substitutions) -> dict:
    out: dict[str, list] = {}
    for command in step["commands"]:
        verb = str(command["args"][0]).upper()
        if verb in ("SSUBSCRIBE", "SUNSUBSCRIBE"):
            out.setdefault(command["client"].split("-")[0], []).append(
                (verb, *[subs.text(a) for a in command["args"][1:]]))
    return {name: sorted(listed) for name, listed in out.items()}


def compare(node: dict, ours: dict, project) -> list[str]:
    differences = []
    for mode in MODES:
        node_subs, our_subs = substitutions(node[mode]), substitutions(ours[mode])
        node_steps = {s["name"]: s for s in node[mode]["steps"]}
        our_steps = {s["name"]: s for s in ours[mode]["steps"]}
        assert list(node_steps) == list(our_steps)
        for name in node_steps:
            expected = project(node_steps[name], node_subs)
            actual = project(our_steps[name], our_subs)
            if expected != actual:
                differences.append(f"{mode} step {name}:\n  Node: {expected!r}\n  ours: {actual!r}")
    return differences


# -- the comparisons ---------------------------------------------------------------------------------------------

def test_spublished_messages_are_nodes_bytes(node, ours):
    differences = compare(node, ours, published)
    assert not differences, "\n".join(differences)


def test_subscriptions_are_the_references(node, ours):
    """Per step, as Node's, but for two steps. "leave": Node's SUNSUBSCRIBE of the room goes out asynchronously and
    lands in the next step ("server-count"), ours at once, so the two are compared together. "close": a node of ours
    closes its subscriber connection, which drops every subscription at once (Redis does it); Node SUNSUBSCRIBEs
    each channel first."""
    def merged(capture):
        steps = [dict(s) for s in capture["steps"] if s["name"] != "close"]
        for index, step in enumerate(steps):
            if step["name"] == "server-count":
                steps[index - 1]["commands"] = steps[index - 1]["commands"] + step["commands"]
                step["commands"] = [c for c in step["commands"] if str(c["args"][0]).upper() not in
                                    ("SSUBSCRIBE", "SUNSUBSCRIBE")]
        return {**capture, "steps": steps}

    merged_node = {mode: merged(node[mode]) for mode in MODES}
    merged_ours = {mode: merged(ours[mode]) for mode in MODES}
    differences = compare(merged_node, merged_ours, subscriptions)
    assert not differences, "\n".join(differences)


def test_our_socket_ids_are_node_length_in_dynamic_mode(ours):
    """Node takes a 20-character room for a socket id (and sends `io.to(id)` on the namespace channel): in dynamic
    mode ours are 20 characters, in static mode they stay 15."""
    assert {len(value) for label, value in ours["dynamic"]["labels"].items()} == {20}
    assert {len(value) for label, value in ours["static"]["labels"].items()} == {15}


def test_clients_receive_what_nodes_clients_receive(node, ours):
    differences = compare(node, ours, lambda step, subs: {
        label: norm_json(events, subs) for label, events in step["received"].items()})
    assert not differences, "\n".join(differences)


def test_operations_answer_as_on_node(node, ours):
    def canonical(value):
        if isinstance(value, list):
            return sorted((canonical(v) for v in value), key=json.dumps)
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items() if k != "port"}
        return value

    differences = compare(node, ours, lambda step, subs: {
        key: canonical(norm_json(step[key], subs)) for key in ("answer",) if key in step})
    assert not differences, "\n".join(differences)
