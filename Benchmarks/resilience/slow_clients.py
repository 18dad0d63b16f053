#!/usr/bin/env python3
"""Clients that stop reading: each opens a WebSocket Socket.IO connection with a tiny receive buffer, joins a room,
and then never reads again, so everything the server sends them piles up in the server. Standard library only.

  slow_clients.py --port P --count K [--room bench] [--rcvbuf 4096]

Prints READY once every client's join was acknowledged; then waits for a line on stdin, reads each socket dry
(bounded) to learn whether the server closed it, and prints {"closed": n, "open": n, "bytes": ...} as JSON.
"""
import argparse
import base64
import json
import os
import select
import socket
import sys
import time


def recv_until(s, marker, limit=10.0):
    data = b""
    deadline = time.monotonic() + limit
    while marker not in data:
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {marker!r}")
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed during the handshake")
        data += chunk
    return data


def frame(text):
    """A masked client text frame (payloads here are short)."""
    payload = text.encode()
    mask = os.urandom(4)
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def connect(port, room, rcvbuf):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: the window stays small
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    recv_until(s, b'"sid"')  # 101 and the open packet
    s.sendall(frame("40"))
    recv_until(s, b"40{")
    s.sendall(frame(f'421["join","{room}"]'))
    recv_until(s, b"431[")
    return s


def drain(s, limit):
    """Reads until EOF or reset (the server closed it: True) or `limit` seconds without either (False)."""
    s.setblocking(False)
    total = 0
    deadline = time.monotonic() + limit
    hard = time.monotonic() + 5 * limit
    while time.monotonic() < min(deadline, hard):
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        try:
            chunk = s.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            return True, total
        except BlockingIOError:
            continue
        if not chunk:
            return True, total
        total += len(chunk)
        deadline = max(deadline, time.monotonic() + 0.5)  # still flowing: keep reading a little longer
    return False, total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--room", default="bench")
    ap.add_argument("--rcvbuf", type=int, default=4096)
    ap.add_argument("--drain-s", type=float, default=3.0, help="seconds of silence before a socket counts as open")
    args = ap.parse_args()
    socks = [connect(args.port, args.room, args.rcvbuf) for _ in range(args.count)]
    print("READY", flush=True)
    sys.stdin.readline()
    closed = opened = total = 0
    for s in socks:
        was_closed, n = drain(s, args.drain_s)
        closed += was_closed
        opened += not was_closed
        total += n
        s.close()
    print(json.dumps({"closed": closed, "open": opened, "bytes": total}), flush=True)


if __name__ == "__main__":
    main()
