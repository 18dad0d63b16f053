"""One scripted run of two nodes on the Redis streams adapter, recording what they write to Redis byte for byte:
the stream (XRANGE after every step), every pub/sub message (a raw `PSUBSCRIBE *` connection), every command
(`MONITOR`), the session keys (GET + PTTL) and what each client received. The same run makes the fixture from
Node nodes (`python Tests/cluster/streams_capture.py --node-peer /work/nodepeer`, see
Tests/cluster/fixtures/redis-streams/wire-capture.md) and, in test_streams_node_wire.py, the run of our nodes that
is compared with it.

`run_capture(launch, redis)` -> the capture as a dict (the fixture's JSON); `launch(name, args)` starts a node.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import websocket

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from cluster_util import HOST, ROOT, Client, read_reply, resp_command, wait_until  # noqa: E402
from streams_util import RawClient  # noqa: E402
from wire_format import decoded_view, entry_data_view, msgpack_view  # noqa: E402

FIXTURE_DIR = ROOT / "Tests" / "cluster" / "fixtures" / "redis-streams"
RECOVERY_MS = 4000
STREAM = "socket.io"
PUBLIC = "socket.io#/#"

# -- Redis taps --------------------------------------------------------------------------------------------------


def unescape_monitor(text: str) -> bytes:
    """An argument of a MONITOR line back to its bytes (redis' sdscatrepr escapes)."""
    out = bytearray()
    i = 0
    simple = {"\\": 0x5C, '"': 0x22, "n": 0x0A, "r": 0x0D, "t": 0x09, "a": 0x07, "b": 0x08}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x" and i + 3 < len(text):
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
        out.extend(ch.encode("latin-1"))
        i += 1
    return bytes(out)


MONITOR_LINE = re.compile(r'^(\d+\.\d+) \[(\d+) ([^\]]+)\] (.*)$')
MONITOR_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_monitor(line: str):
    match = MONITOR_LINE.match(line)
    if not match:
        return None
    return float(match.group(1)), match.group(3), [unescape_monitor(a) for a in MONITOR_ARG.findall(match.group(4))]


class Tap:
    """`PSUBSCRIBE *` and `MONITOR` on their own connections, and a command connection named `capture` (its own
    commands are left out of the MONITOR record)."""

    def __init__(self, port: int):
        self.port = port
        self.lock = threading.Lock()
        self.pubsub: list[dict] = []
        self.commands: list[dict] = []
        self.last_event = time.monotonic()
        self.names: dict[str, str] = {}
        self.conn = socket.create_connection((HOST, port), timeout=5)
        self.reader = self.conn.makefile("rb")
        self.call("CLIENT", "SETNAME", "capture")
        self.own_addresses = {line.split(" addr=")[1].split(" ")[0] for line in self.client_list()
                              if " name=capture " in line}
        self._threads = [threading.Thread(target=self._psubscribe, daemon=True),
                         threading.Thread(target=self._monitor, daemon=True)]
        self._ready = threading.Barrier(3)
        for thread in self._threads:
            thread.start()
        self._ready.wait(5)

    def call(self, *parts):
        self.conn.sendall(resp_command(*parts))
        return read_reply(self.reader)

    def client_list(self) -> list[str]:
        return self.call("CLIENT", "LIST").decode().strip().splitlines()

    def learn_names(self) -> None:
        for line in self.client_list():
            fields = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
            if fields.get("name") and fields.get("addr"):
                self.names[fields["addr"]] = fields["name"]

    def _psubscribe(self) -> None:
        conn = socket.create_connection((HOST, self.port))
        stream = conn.makefile("rb")
        conn.sendall(resp_command("CLIENT", "SETNAME", "capture-psub"))
        read_reply(stream)
        conn.sendall(resp_command("PSUBSCRIBE", "*"))
        read_reply(stream)
        self._ready.wait(5)
        while True:
            try:
                reply = read_reply(stream)
            except (ConnectionError, OSError):
                return
            if isinstance(reply, list) and reply and reply[0] == b"pmessage":
                with self.lock:
                    self.pubsub.append({"channel": reply[2], "payload": reply[3], "at": time.monotonic()})
                    self.last_event = time.monotonic()

    def _monitor(self) -> None:
        conn = socket.create_connection((HOST, self.port))
        stream = conn.makefile("rb")
        conn.sendall(resp_command("CLIENT", "SETNAME", "capture-monitor"))
        read_reply(stream)
        conn.sendall(resp_command("MONITOR"))
        read_reply(stream)
        self._ready.wait(5)
        while True:
            line = stream.readline()
            if not line:
                return
            parsed = parse_monitor(line[1:].decode("latin-1").rstrip("\r\n"))
            if not parsed:
                continue
            _ts, address, args = parsed
            if address in self.own_addresses:
                continue
            with self.lock:
                self.commands.append({"address": address, "args": args, "at": time.monotonic()})
                self.last_event = time.monotonic()

    def quiet(self, seconds: float = 0.3, limit: float = 5.0) -> None:
        """Waits until nothing was published or commanded for `seconds` (blocking XREADs aside: they repeat)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self.lock:
                recent = [c for c in self.commands if c["at"] > time.monotonic() - seconds
                          and c["args"][:1] not in ([b"XREAD"], [b"xread"], [b"PING"], [b"ping"])]
                busy = bool(recent) or any(p["at"] > time.monotonic() - seconds for p in self.pubsub)
            if not busy:
                return
            time.sleep(0.05)

    def close(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass


# -- the scenario ------------------------------------------------------------------------------------------------


def text_or_hex(data: bytes):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"$hex": data.hex()}
    return text


class Run:
    """The state of one capture: nodes, clients, the tap, and the steps recorded so far."""

    def __init__(self, launch, redis):
        self.launch = launch
        self.redis = redis
        self.tap = Tap(redis.port)
        self.nodes: dict = {}
        self.clients: dict = {}
        self.raw: dict = {}
        self.steps: list[dict] = []
        self.pubsub_mark = 0
        self.command_mark = 0
        self.stream_last = "0-0"
        self.client_marks: dict[str, int] = {}
        self.live_raw: list[RawClient] = []  # raw clients to read from (and answer pings for) at each step
        self.labels: dict[str, str] = {}

    # clients ---------------------------------------------------------------------------------------------------
    def client(self, label: str, node: str, namespace: str = "/", transports=("websocket",)) -> Client:
        client = Client(self.nodes[node].url, transports=list(transports), namespace=namespace, label=label)
        self.clients[label] = client
        self.labels[label] = client.id
        return client

    def raw_client(self, label: str, node: str, previous: RawClient | None = None) -> RawClient:
        port = self.nodes[node].port
        client = previous.come_back(port, label=label) if previous else RawClient(port, label=label)
        self.raw[label] = client
        self.live_raw.append(client)
        self.labels.setdefault(label, client.sid)
        if client.pid:
            self.labels.setdefault(f"{label}.pid", client.pid)
        return client

    def received(self) -> dict:
        out = {}
        for label, client in list(self.clients.items()):
            events = client.events
            mark = self.client_marks.get(label, 0)
            if len(events) > mark:
                out[label] = [[name, decoded_view(data)] for name, data in events[mark:]]
            self.client_marks[label] = len(events)
        for label, client in list(self.raw.items()):
            mark = self.client_marks.get(label, 0)
            if len(client.events) > mark:
                out[label] = client.events[mark:]
            self.client_marks[label] = len(client.events)
        return out

    # recording -------------------------------------------------------------------------------------------------
    def snapshot(self, name: str, node: str | None, code: str, description: str = "", settle: float = 0.3,
                 extra: dict | None = None) -> dict:
        self.tap.quiet(settle)
        for client in list(self.live_raw):
            try:
                client.pump(0.05)
            except (OSError, websocket.WebSocketException):  # its node stopped
                self.live_raw.remove(client)
        self.tap.learn_names()
        with self.tap.lock:
            pubsub = self.tap.pubsub[self.pubsub_mark:]
            commands = self.tap.commands[self.command_mark:]
            self.pubsub_mark = len(self.tap.pubsub)
            self.command_mark = len(self.tap.commands)
        entries = self.tap.call("XRANGE", STREAM, "(" + self.stream_last, "+") if self.stream_last != "0-0" else \
            self.tap.call("XRANGE", STREAM, "-", "+")
        stream = []
        for entry_id, flat in entries or []:
            fields = [[flat[i].decode(), flat[i + 1].decode()] for i in range(0, len(flat), 2)]
            record = {"id": entry_id.decode(), "fields": fields}
            data = dict(fields).get("data")
            if data is not None:
                record["data_decoded"] = entry_data_view(data)
            stream.append(record)
            self.stream_last = entry_id.decode()
        step = {
            "name": name, "node": node, "code": code, "description": description,
            "stream": stream,
            "pubsub": [self._pubsub_record(p) for p in pubsub],
            "commands": [self._command_record(c) for c in commands],
            "sessions": self.sessions(),
            "received": self.received(),
        }
        if extra:
            step.update(extra)
        self.steps.append(step)
        return step

    def _pubsub_record(self, message: dict) -> dict:
        payload = message["payload"]
        record = {"channel": message["channel"].decode(), "payload_hex": payload.hex(),
                  "payload_b64": base64.b64encode(payload).decode()}
        try:
            record["decoded"] = msgpack_view(payload)
        except Exception as error:  # not msgpack: recorded as is
            record["decoded_error"] = str(error)
        return record

    def _command_record(self, command: dict) -> dict:
        name = self.tap.names.get(command["address"], command["address"])
        return {"client": name, "args": [text_or_hex(a) for a in command["args"]]}

    def sessions(self) -> list[dict]:
        keys = sorted(self.tap.call("KEYS", "sio:session:*") or [])
        out = []
        for key in keys:
            value = self.tap.call("GET", key)
            pttl = self.tap.call("PTTL", key)
            record = {"key": key.decode(), "value": value.decode() if value is not None else None, "pttl": pttl}
            if value is not None and not key.endswith(b"#since"):
                try:
                    record["decoded"] = msgpack_view(base64.b64decode(value))
                except Exception as error:
                    record["decoded_error"] = str(error)
            out.append(record)
        return out

    def cut(self, client: RawClient) -> None:
        self.live_raw.remove(client)
        client.cut()

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        for client in self.raw.values():
            client.close()
        self.tap.close()


def _wait_bcast(clients, message: str, timeout: float = 8.0) -> None:
    for client in clients:
        client.wait_for("bcast", lambda data, m=message: (data[0] if isinstance(data, list) else data).get("msg") == m,
                        timeout=timeout)


def run_capture(launch, redis, recovery_ms: int = RECOVERY_MS, extra_args=()) -> dict:
    """Runs every step on two nodes A and B started by `launch(name, args)`; returns the capture."""
    run = Run(launch, redis)
    args = ["--recovery-ms", str(recovery_ms), *extra_args]
    try:
        run.nodes["A"] = launch("A", args)
        wait_until(lambda: redis.numsub(PUBLIC) >= 1, message="A subscribed")
        run.nodes["B"] = launch("B", args)
        wait_until(lambda: redis.numsub(PUBLIC) >= 2, message="B subscribed")
        time.sleep(0.5)
        run.snapshot("start", None, "createAdapter(redisClient) on A, then on B",
                     "The two nodes connect: their connections, subscriptions and the first XREAD.")
        _scenario(run, recovery_ms)
        return {"labels": run.labels, "steps": run.steps, "names": sorted(set(run.tap.names.values()))}
    finally:
        run.close()


def _scenario(run: Run, recovery_ms: int) -> None:  # noqa: C901 (one linear script)
    a1 = run.client("a1", "A")
    a2 = run.client("a2", "A")
    b1 = run.client("b1", "B")
    b2 = run.client("b2", "B")
    chat_a = run.client("chat_a", "A", namespace="/chat")
    chat_b = run.client("chat_b", "B", namespace="/chat")
    a1.call("join", "room1")
    a2.call("join", "roomx")
    b1.call("join", "room1")
    b1.call("join", "roomx")
    b2.call("join", "room2")
    chat_b.call("join", "room1")
    r1 = run.raw_client("r1", "A")
    r1.call("join", "room1")
    run.snapshot("clients", None, "clients connect and join rooms (socket.join is local)",
                 "a1 (room1), a2 (roomx) on A; b1 (room1, roomx), b2 (room2) on B; /chat: chat_a on A, chat_b "
                 "(room1) on B; r1 (room1) on A, a raw client that keeps its pid and offset for recovery.")
    everyone = [a1, a2, b1, b2]

    def broadcast(name, payload, receivers, code, sender=a1, event="broadcast", extra_args=(), description=""):
        sender.call(event, payload, *extra_args)
        _wait_bcast(receivers, payload["msg"])
        run.snapshot(name, sender.node, code, description)

    broadcast("broadcast", {"msg": "to-all"}, everyone, 'io.emit("bcast", {msg: "to-all"})')
    broadcast("room", {"room": "room1", "msg": "to-room1"}, [a1, b1], 'io.to("room1").emit("bcast", ...)')
    broadcast("rooms-except", {"rooms": ["room1", "room2"], "except": "roomx", "msg": "r1-r2-not-x"}, [a1, b2],
              'io.to(["room1", "room2"]).except("roomx").emit("bcast", ...)')
    broadcast("socket-to", {"room": "room1", "msg": "from-a1"}, [b1], 'socket.to("room1").emit("bcast", ...)   // a1',
              event="sock-broadcast")
    broadcast("volatile", {"volatile": True, "msg": "volatile"}, everyone, 'io.volatile.emit("bcast", ...)')
    broadcast("compress", {"compress": False, "msg": "uncompressed"}, everyone, 'io.compress(false).emit("bcast", ...)')
    broadcast("text", {"msg": "text", "s": "é✓\u2028\"\\\u0001</script>", "f": 1.5, "tenth": 0.1, "n": -3,
                       "big": 4294967296, "huge": 1e21, "tiny": 1e-7, "safe": 9007199254740993, "neg0": -0.0,
                       "nested": {"b": 1, "a": [None, True, False]}},
              everyone, 'io.emit("bcast", {msg: "text", s: "é✓\\u2028\\"\\\\\\u0001</script>", f: 1.5, ...})',
              description="JSON.stringify of strings and numbers (the client sent them as JSON; Node parsed them).")
    broadcast("integer-keys", {"msg": "keys", "obj": {"b": 1, "2": 2, "a": 3, "1": 4}}, everyone,
              'io.emit("bcast", {msg: "keys", obj: {b: 1, 2: 2, a: 3, 1: 4}})',
              description="JavaScript orders integer-like keys first, ascending.")
    broadcast("binary", {"msg": "bin", "f": 1.5, "n": -3, "big": 4294967296}, everyone,
              'io.emit("bcast", {msg: "bin", f: 1.5, n: -3, big: 4294967296}, Buffer.from([1, 2, 255]))',
              extra_args=(b"\x01\x02\xff",),
              description="With a binary the entry's data is base64 of @msgpack/msgpack's encoding.")

    chat_a.call("broadcast", {"room": "room1", "msg": "chat-room1"})
    _wait_bcast([chat_b], "chat-room1")
    run.snapshot("chat", "A", 'io.of("/chat").to("room1").emit("bcast", ...)')

    a1.call("direct", {"msg": "direct"})
    _wait_bcast([a1], "direct")
    run.snapshot("direct", "A", 'socket.emit("bcast", {msg: "direct"})   // a1',
                 description="With connection state recovery, socket.emit goes through the adapter: a broadcast "
                             "to the socket's own room, logged.")

    answer = a1.call("bcast-ack", {"room": "roomx", "payload": {"q": 1}})
    run.snapshot("broadcast-ack", "A", 'await io.to("roomx").timeout(3000).emitWithAck("need-ack", {q: 1})',
                 "Over pub/sub (not logged): the request on the namespace channel, B's client count and its "
                 "client's ack on A's own channel.", extra={"answer": answer})

    answer = a1.call("fetch-full")
    run.snapshot("fetch-sockets", "A", "await io.fetchSockets()", extra={"answer": answer})
    answer = a1.call("fetch", "room1")
    run.snapshot("fetch-sockets-room", "A", 'await io.in("room1").fetchSockets()', extra={"answer": answer})

    a1.call("ssemit", {"n": 1})
    for client in (b1, b2):
        client.wait_for("ss-hello", lambda data: data["arg"] == {"n": 1})
    run.snapshot("server-side-emit", "A", 'io.serverSideEmit("hello", {n: 1})')
    a1.call("ssemit", {"n": 2}, b"\x01\x02\xff")
    for client in (b1, b2):
        client.wait_for("ss-hello", lambda data: data["arg"] == {"n": 2})
    run.snapshot("server-side-emit-binary", "A", 'io.serverSideEmit("hello", {n: 2}, Buffer.from([1, 2, 255]))')
    answer = a1.call("ssemit-ack", {"n": 3})
    run.snapshot("server-side-emit-ack", "A", 'await io.serverSideEmitWithAck("hello-ack", {n: 3})',
                 extra={"answer": answer})

    a1.call("sockets-join", {"target": b2.id, "room": "room3"})
    wait_until(lambda: "room3" in b2.call("whoami")["rooms"], message="b2 joined room3")
    run.snapshot("sockets-join", "A", 'io.in("<b2>").socketsJoin("room3")')
    a1.call("sockets-leave", {"target": "room3", "room": "room3"})
    wait_until(lambda: "room3" not in b2.call("whoami")["rooms"], message="b2 left room3")
    run.snapshot("sockets-leave", "A", 'io.in("room3").socketsLeave("room3")')

    answer = a1.call("all-rooms")
    run.snapshot("all-rooms", "A", 'io.of("/").adapter.rooms (ClusterAdapter has no message for allRooms)',
                 extra={"answer": answer})
    answer = a1.call("server-count")
    run.snapshot("server-count", "A", "await io.of('/').adapter.serverCount()", extra={"answer": answer})

    # Connection state recovery: r1 has received broadcasts (its offset is the last one's id).
    r1.pump(0.3)
    offset = r1.offset
    run.cut(r1)
    wait_until(lambda: run.tap.call("EXISTS", "sio:session:" + r1.pid) == 1, message="r1's session written")
    run.snapshot("session-write", "A", "the transport of r1 closes: adapter.persistSession({sid, pid, rooms, data})",
                 "SET sio:session:<pid> <base64 msgpack> PX maxDisconnectionDuration.", extra={"offset": offset})

    b1.call("broadcast", {"room": "room1", "msg": "missed-1"})
    b1.call("broadcast", {"msg": "missed-2"})
    _wait_bcast([a1], "missed-2")
    run.snapshot("missed", "B", 'io.to("room1").emit("bcast", {msg: "missed-1"}); io.emit("bcast", {msg: "missed-2"})')

    r1b = run.raw_client("r1b", "B", previous=r1)
    who = r1b.call("whoami")
    r1b.pump(0.3)
    run.snapshot("restore", "B", "r1 reconnects to B with auth {pid, offset}: adapter.restoreSession(pid, offset)",
                 "MULTI GET DEL EXEC of the session, XRANGE offset offset (still there?), then XRANGE after it; the "
                 "missed packets are sent with their ids appended.",
                 extra={"whoami": who, "same_id": r1b.sid == r1.sid})

    r2 = run.raw_client("r2", "A")
    r2.call("join", "room2")
    b1.call("broadcast", {"room": "room2", "msg": "for-r2"})
    r2.wait_messages(1)
    run.cut(r2)
    wait_until(lambda: run.tap.call("EXISTS", "sio:session:" + r2.pid) == 1, message="r2's session written")
    written = run.sessions()
    time.sleep(recovery_ms / 1000 + 0.5)
    gone = run.tap.call("EXISTS", "sio:session:" + r2.pid) == 0
    r2b = run.raw_client("r2b", "A", previous=r2)
    who = r2b.call("whoami")
    run.snapshot("session-expiry", "A", "r2's session expires (PX), then r2 comes back: a fresh session",
                 extra={"written": written, "expired": gone, "whoami": who, "same_id": r2b.sid == r2.sid})

    time.sleep(6.0)
    run.snapshot("idle", None, "6 s without traffic", "Heartbeats, if any.", settle=0.1)

    a1.call("disconnect-sockets", {"target": b2.id, "close": True})
    assert b2.disconnected.wait(5)
    run.snapshot("disconnect-sockets", "A", 'io.in("<b2>").disconnectSockets(true)')

    # B's sockets are closed with "server shutting down", a recoverable reason: their sessions are written. The
    # snapshot is taken before B has exited (it may take its time), while the sessions are young.
    def session_count():
        return len([s for s in run.sessions() if not s["key"].endswith("#since")])

    before = session_count()
    run.nodes["B"].proc.send_signal(signal.SIGTERM)
    try:  # b1, r1b and chat_b
        wait_until(lambda: session_count() >= before + 3, timeout=3, message="B's sessions written")
    except AssertionError:
        pass
    run.snapshot("close", "B", "B stops (SIGTERM: io.close())", settle=0.5)
    run.nodes["B"].stop()


# -- making the fixture from Node nodes --------------------------------------------------------------------------

def versions(peer: str) -> dict:
    out = {}
    for name in ("socket.io", "engine.io", "socket.io-adapter", "socket.io-parser", "@socket.io/redis-streams-adapter",
                 "@msgpack/msgpack", "@redis/client"):
        out[name] = json.loads((pathlib.Path(peer) / "node_modules" / name / "package.json").read_text())["version"]
    out["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    out["redis-server"] = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2][2:]
    sources = pathlib.Path(peer) / "SOURCES.txt"
    out["sources"] = sources.read_text().splitlines() if sources.exists() else []
    return out


def main() -> None:
    from cluster_util import NodePeerNode, RedisServer, tool

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--node-peer", required=True, help="the directory scripts/node-peer/build.sh made")
    parser.add_argument("--out", default=str(FIXTURE_DIR / "wire-capture.json"))
    options = parser.parse_args()
    redis = RedisServer(tool("redis-server")).start()
    made = []

    def launch(name, args):
        node = NodePeerNode(options.node_peer, name, redis.url, streams=True, args=args).start()
        made.append(node)
        return node

    try:
        capture = run_capture(launch, redis)
    finally:
        for node in made:
            node.cleanup()
        redis.cleanup()
    capture = {"generator": "Tests/cluster/streams_capture.py --node-peer (scripts/node-peer/build.sh)",
               "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
               "versions": versions(options.node_peer), "recovery_ms": RECOVERY_MS, **capture}
    path = pathlib.Path(options.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(capture, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path}: {len(capture['steps'])} steps")


if __name__ == "__main__":
    main()
