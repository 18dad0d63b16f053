#!/usr/bin/env python3
"""Checks that the load generator counts a malformed server answer as an error instead of crashing.

A fake Socket.IO server (asyncio, one WebSocket per client) answers each echo-ack with a good ack, but first, for
every third request, with garbage (msgpack: a truncated map, a map with type 9, a text packet; JSON: a binary
packet without its attachment count, a stray binary frame), and for every third other request with an ack whose
binary was changed. The load generator must finish (exit 0, one JSON object), count the garbage in
errors.malformed, report ok false, and still count the good acks.

    Benchmarks/.venv/bin/python Benchmarks/loadgen/check_malformed.py [--loadgen Benchmarks/.build/loadgen]

Needs the msgpack package (in Benchmarks/.venv, which run.py creates). Loopback only; bounded in time.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import struct
import subprocess
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(op, data):
    n = len(data)
    head = bytes([0x80 | op])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + data


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
    data = bytearray(await reader.readexactly(n))
    for i in range(n):
        data[i] ^= mask[i & 3]
    return b0 & 0x0F, bytes(data)


def changed(b):
    return bytes([b[0] ^ 0xFF]) + b[1:] if b else b"x"


async def client(reader, writer, parser):
    head = await reader.readuntil(b"\r\n\r\n")
    key = [ln.split(b":", 1)[1].strip() for ln in head.split(b"\r\n") if ln.lower().startswith(b"sec-websocket-key:")][0]
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    writer.write(frame(1, b'0{"sid":"fake","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'))
    n = 0
    pending = None  # JSON: a binary echo-ack request waiting for its attachment
    while True:
        op, data = await read_frame(reader)
        if op == 8:
            return
        if parser == "msgpack":
            if op != 2:
                continue
            p = msgpack.unpackb(data)
            if p["type"] == 0:
                writer.write(frame(2, b"\xc1"))  # a byte msgpack never uses
                writer.write(frame(2, msgpack.packb({"type": 0, "nsp": "/", "data": {"sid": "s"}})))
                continue
            n += 1
            if n % 3 == 1:
                writer.write(frame(2, msgpack.packb({"type": 3, "nsp": "/", "id": p["id"], "data": [1]})[:-3]))
                writer.write(frame(2, msgpack.packb({"type": 9, "nsp": "/", "data": []})))
                writer.write(frame(1, b'43["text"]'))
            args = p["data"][1:]
            if n % 3 == 2:
                args = [{**args[0], "b": changed(args[0].get("b", b""))}]
            writer.write(frame(2, msgpack.packb({"type": 3, "nsp": "/", "id": p["id"], "data": args})))
        else:
            text = data.decode(errors="replace")
            if op == 1 and text == "40":
                writer.write(frame(1, b"45-oops"))  # no attachment count
                writer.write(frame(2, b"stray"))  # no binary packet waits for it
                writer.write(frame(1, b'40{"sid":"s"}'))
                continue
            if op == 1 and text.startswith("451-"):
                pending = text[4:]
                continue
            if op == 2 and pending is not None:
                n += 1
                digits = len(pending) - len(pending.lstrip("0123456789"))
                ack_id, args = pending[:digits], json.loads(pending[digits:])[1:]
                if n % 3 == 1:
                    writer.write(frame(1, b"46-" + ack_id.encode()))
                    writer.write(frame(2, b"stray"))
                attachment = changed(data) if n % 3 == 2 else data
                writer.write(frame(1, ("461-" + ack_id + json.dumps(args, separators=(",", ":"))).encode()))
                writer.write(frame(2, attachment))
                pending = None
        await writer.drain()


async def main_async(args, parser):
    server = await asyncio.start_server(lambda r, w: serve_one(r, w, parser), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cmd = [args.loadgen, "echo-ack", "--port", str(port), "--parser", parser, "--binary", "64", "--clients", "2",
           "--duration", "1", "--warmup", "0.2", "--timeout", "10", "--quiet"]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    server.close()
    assert proc.returncode == 0, f"{parser}: loadgen exited {proc.returncode}: {err.decode()}"
    res = json.loads(out)
    malformed, acks = res["errors"]["malformed"], res["metrics"]["acks"]
    assert malformed > 0, f"{parser}: no malformed packet counted: {res['errors']}"
    assert res["ok"] is False, f"{parser}: ok despite {malformed} malformed packets"
    assert acks > 0, f"{parser}: the good acks were not counted"
    print(f"{parser}: ok (malformed {malformed}, acks {acks}, first error: {res['errors']['first']})")


async def serve_one(reader, writer, parser):
    try:
        await client(reader, writer, parser)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loadgen", default=os.path.join(os.path.dirname(HERE), ".build", "loadgen"))
    args = ap.parse_args()
    for parser in ("msgpack", "json"):
        asyncio.run(main_async(args, parser))
    return 0


if __name__ == "__main__":
    sys.exit(main())
