#!/usr/bin/env python3
"""Churn: `--concurrency` client slots, each running one short-lived client after another until `--duration`
seconds passed; every client lives a uniform `--life-min`..`--life-max` seconds. Kinds, drawn at random:

  ws        python-socketio AsyncClient over WebSocket only: connect, echo-ack every 0.25 s, disconnect
  polling   the same over long-polling only
  upgrade   the same with the default transports (polling, then the upgrade to WebSocket)
  cut-ws    raw socket: WebSocket handshake, open, CONNECT, then half a frame and a reset (SO_LINGER 0)
  cut-poll  raw socket: polling handshake, then a POST announcing more body than it sends, and a reset

Needs python-socketio[asyncio_client] (Benchmarks/.venv). Prints one JSON line: per kind, clients started and
finished, failures (a normal client that could not connect, an ack that did not come, an error), acks.
"""
import argparse
import asyncio
import base64
import json
import os
import random
import socket
import struct
import sys
import time

import socketio

KINDS = [("ws", 30), ("polling", 20), ("upgrade", 30), ("cut-ws", 10), ("cut-poll", 10)]
TRANSPORTS = {"ws": ["websocket"], "polling": ["polling"], "upgrade": ["polling", "websocket"]}


class Stats:
    def __init__(self):
        self.kinds = {k: {"started": 0, "finished": 0, "failed": 0, "acks": 0} for k, _ in KINDS}
        self.errors = []

    def fail(self, kind, what):
        self.kinds[kind]["failed"] += 1
        if len(self.errors) < 20:
            self.errors.append(f"{kind}: {what}")


async def normal(kind, url, life, stats):
    c = socketio.AsyncClient(reconnection=False)
    try:
        await c.connect(url, transports=TRANSPORTS[kind], wait_timeout=10)
    except Exception as e:  # noqa: BLE001 - any failure to connect counts
        stats.fail(kind, f"connect: {e!r}")
        return
    try:
        end = time.monotonic() + life
        while time.monotonic() < end:
            reply = await c.call("echo-ack", {"p": "x" * 32}, timeout=10)
            if reply != {"p": "x" * 32}:
                stats.fail(kind, f"echo-ack answered {reply!r}")
                return
            stats.kinds[kind]["acks"] += 1
            await asyncio.sleep(0.25)
        stats.kinds[kind]["finished"] += 1
    except Exception as e:  # noqa: BLE001
        stats.fail(kind, f"during its life: {e!r}")
    finally:
        try:
            await c.disconnect()
        except Exception:  # noqa: BLE001 - best effort
            pass


def reset(writer):
    """Closes with an RST: SO_LINGER on, zero seconds."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def read_until(reader, marker, limit=10):
    data = b""
    while marker not in data:
        chunk = await asyncio.wait_for(reader.read(65536), limit)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


async def cut_ws(reader, writer, life):
    """WebSocket handshake, open, CONNECT; later the first byte of a 100-byte frame."""
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    await read_until(reader, b'"sid"')
    mask = os.urandom(4)
    payload = b"40"
    writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    await read_until(reader, b"40{")
    await asyncio.sleep(life * random.random())
    writer.write(bytes([0x81, 0x80 | 100]) + os.urandom(4) + b"4")


async def cut_poll(reader, writer, life):
    """Polling handshake; later a POST announcing 200 bytes of body and sending 2."""
    writer.write(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = await read_until(reader, b'"maxPayload"')
    sid = data.split(b'"sid":"', 1)[1].split(b'"', 1)[0].decode()
    await asyncio.sleep(life * random.random())
    writer.write((f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 200\r\n\r\n40").encode())


CUTS = {"cut-ws": cut_ws, "cut-poll": cut_poll}


async def cut(kind, port, life, stats):
    """A raw client that goes away mid-request with a reset."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await CUTS[kind](reader, writer, life)
        await writer.drain()
        stats.kinds[kind]["finished"] += 1
    except Exception as e:  # noqa: BLE001
        stats.fail(kind, repr(e))
    finally:
        reset(writer)


async def slot(url, port, args, stats, deadline, rng):
    names = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    while time.monotonic() < deadline:
        kind = rng.choices(names, weights)[0]
        life = rng.uniform(args.life_min, args.life_max)
        stats.kinds[kind]["started"] += 1
        if kind in TRANSPORTS:
            await normal(kind, url, life, stats)
        else:
            await cut(kind, port, life, stats)


async def main_async(args):
    stats = Stats()
    url = f"http://127.0.0.1:{args.port}"
    deadline = time.monotonic() + args.duration
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    cpu0 = time.process_time()
    # slots start spread over the first second, not all at once
    tasks = []
    for i in range(args.concurrency):
        tasks.append(asyncio.create_task(slot(url, args.port, args, stats, deadline, random.Random(rng.random()))))
        await asyncio.sleep(1.0 / args.concurrency)
    await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    out = {"kinds": stats.kinds, "errors": stats.errors, "wall_s": wall,
           "started": sum(k["started"] for k in stats.kinds.values()),
           "failed": sum(k["failed"] for k in stats.kinds.values()),
           "loadgen_cpu_util": (time.process_time() - cpu0) / wall}
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--concurrency", type=int, default=500)
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--life-min", type=float, default=1)
    ap.add_argument("--life-max", type=float, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    try:
        import uvloop
        uvloop.run(main_async(args))
    except ImportError:
        asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
