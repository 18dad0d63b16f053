"""A capture of Node's sharded pub/sub adapter (@socket.io/redis-adapter 8.3.0 `createShardedAdapter`, Redis 7
SSUBSCRIBE / SPUBLISH), in both subscription modes (static, dynamic), for the adapter we do not have yet: two Node
nodes do every operation while MONITOR records every command byte for byte (sharded messages cannot be seen with
PSUBSCRIBE; MONITOR's SPUBLISH lines carry the payloads, unescaped back to bytes).

    python Tests/cluster/sharded_capture.py --node-peer /work/nodepeer

writes Tests/cluster/fixtures/redis-sharded/wire-capture.json; its .md describes the formats.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import signal
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cluster_util import ROOT, wait_until  # noqa: E402
from streams_capture import (Run, broadcast_step, connect_clients, plain_broadcasts, request_steps,  # noqa: E402
                             versions, with_node_peers)
from wire_format import msgpack_view  # noqa: E402

FIXTURE_DIR = ROOT / "Tests" / "cluster" / "fixtures" / "redis-sharded"


def shard_numsub(run: Run, channel: str) -> int:
    return int(run.tap.call("PUBSUB", "SHARDNUMSUB", channel)[1])


def messages_of(step: dict) -> list[dict]:
    """The SPUBLISHes of a step: channel, payload bytes (hex), JSON or notepack msgpack (by the first byte, as the
    adapter decodes), decoded."""
    out = []
    for command in step["commands"]:
        args = command["args"]
        if str(args[0]).upper() != "SPUBLISH":
            continue
        payload = bytes.fromhex(args[2]["$hex"]) if isinstance(args[2], dict) else args[2].encode()
        record = {"publisher": command["client"], "channel": args[1], "payload_hex": payload.hex()}
        if payload[:1] == b"{":
            record["encoding"] = "json"
            record["decoded"] = json.loads(payload)
        else:
            record["encoding"] = "msgpack"
            record["decoded"] = msgpack_view(payload)
        out.append(record)
    return out


def run_sharded(launch, redis, mode: str) -> dict:
    run = Run(launch, redis)
    channel = "socket.io#/#"
    try:
        run.nodes["A"] = launch("A", ["--sharded", mode])
        wait_until(lambda: shard_numsub(run, channel) >= 1, message="A subscribed")
        run.nodes["B"] = launch("B", ["--sharded", mode])
        wait_until(lambda: shard_numsub(run, channel) >= 2, message="B subscribed")
        time.sleep(0.5)
        run.snapshot("start", None, f"createShardedAdapter(pub, sub, {{subscriptionMode: '{mode}'}}) on A, then B",
                     "SSUBSCRIBE of the namespace's channel and of the node's own response channel.")
        _scenario(run)
        for step in run.steps:
            step["messages"] = messages_of(step)
        return {"labels": run.labels, "steps": run.steps}
    finally:
        run.close()


def _scenario(run: Run) -> None:
    c = connect_clients(run)
    a1, a2, b1, b2, chat_a, chat_b = (c[label] for label in ("a1", "a2", "b1", "b2", "chat_a", "chat_b"))
    run.snapshot("clients", None, "clients connect and join rooms",
                 "a1 (room1), a2 (roomx) on A; b1 (room1, roomx), b2 (room2) on B; /chat: chat_b (room1) on B. In "
                 "dynamic mode each node SSUBSCRIBEs socket.io#<nsp>#<room># when one of its sockets makes a "
                 "public room exist (create-room).")
    everyone = [a1, a2, b1, b2]

    def broadcast(*args, **kwargs):
        broadcast_step(run, a1, *args, **kwargs)

    plain_broadcasts(run, c, {"room": "dynamic: on the room's own channel socket.io#/#room1#.",
                              "socket-to": "dynamic: on room1's channel too."})
    broadcast("to-socket-id", {"room": b1.id, "msg": "to-b1"}, [b1], 'io.to("<b1>").emit("bcast", ...)',
              description="dynamic: a room that looks like a socket id (20 characters) goes on the namespace channel.")
    broadcast("integer-keys", {"msg": "keys", "obj": {"b": 1, "2": 2, "a": 3}, "f": 1.5, "big": 4294967296},
              everyone, 'io.emit("bcast", {msg: "keys", obj: {b: 1, 2: 2, a: 3}, f: 1.5, big: 4294967296})')
    broadcast("binary", {"msg": "bin", "f": 1.5, "n": -3, "big": 4294967296}, everyone,
              'io.emit("bcast", {msg: "bin", ...}, Buffer.from([1, 2, 255]))', extra_args=(b"\x01\x02\xff",),
              description="With a binary the whole message is notepack msgpack instead of JSON.")
    broadcast_step(run, chat_a, "chat", {"room": "room1", "msg": "chat-room1"}, [chat_b],
                   'io.of("/chat").to("room1").emit("bcast", ...)', node="A")
    request_steps(run, c, {
        "broadcast-ack": "On the namespace channel even in dynamic mode (serverCount counts every node).",
        "sockets-join": "dynamic: B subscribes to room3's channel as the room comes to exist there.",
        "sockets-leave": "dynamic: on the namespace channel (only broadcasts use a room's channel); B unsubscribes "
                         "as the room disappears."})
    b2.call("leave", "room2")
    run.snapshot("leave", "B", 'socket.leave("room2")   // b2', "dynamic: SUNSUBSCRIBE of the room's channel.")
    answer = a1.call("server-count")
    run.snapshot("server-count", "A", "await io.of('/').adapter.serverCount()", extra={"answer": answer})
    a1.call("disconnect-sockets", {"target": b2.id, "close": True})
    assert b2.disconnected.wait(5)
    run.snapshot("disconnect-sockets", "A", 'io.in("<b2>").disconnectSockets(true)')
    run.nodes["B"].proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    run.snapshot("close", "B", "B stops (SIGTERM: io.close())", settle=0.5)
    run.nodes["B"].stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--node-peer", required=True, help="the directory scripts/node-peer/build.sh made")
    parser.add_argument("--out", default=str(FIXTURE_DIR / "wire-capture.json"))
    options = parser.parse_args()
    captures = {mode: with_node_peers(options.node_peer, False, lambda launch, redis, m=mode: run_sharded(launch, redis, m))
                for mode in ("static", "dynamic")}
    peer_versions = versions(options.node_peer)
    peer_versions["@socket.io/redis-adapter"] = json.loads(
        (pathlib.Path(options.node_peer) / "node_modules/@socket.io/redis-adapter/package.json").read_text())["version"]
    peer_versions["notepack.io"] = json.loads(
        (pathlib.Path(options.node_peer) / "node_modules/notepack.io/package.json").read_text())["version"]
    capture = {"generator": "Tests/cluster/sharded_capture.py --node-peer (scripts/node-peer/build.sh)",
               "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
               "versions": peer_versions, "modes": captures}
    path = pathlib.Path(options.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(capture, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path}: " + ", ".join(f"{mode} {len(c['steps'])} steps" for mode, c in captures.items()))


if __name__ == "__main__":
    main()
