#!/usr/bin/env python3
"""python-socketio peer for the benchmarks: the same event contract as sio-bench-server.

Event contract, on namespaces "/" and "/chat":
  echo       -> emits "echo" back to the sender with the same arguments
  echo-ack   -> acks with the same arguments
  join       -> (room name) joins that room
  broadcast  -> ({room, ...}) emits "bcast" with the same object to the room,
                or to the whole namespace when "room" is absent

Stack: python-socketio AsyncServer on aiohttp, with uvloop as the asyncio loop (the
fastest server stack for python-socketio that PyPI offers here; see Benchmarks/requirements.txt).
Listens on 127.0.0.1 only.
"""
import argparse
import asyncio
import logging
import signal
import sys

import socketio
from aiohttp import web

NAMESPACES = ("/", "/chat")


def build_server(async_handlers: bool, ping_interval: float, ping_timeout: float) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        async_mode="aiohttp",
        cors_allowed_origins="*",
        logger=False,
        engineio_logger=False,
        async_handlers=async_handlers,
    )

    def register(nsp: str) -> None:
        async def echo(sid, *args):
            await sio.emit("echo", args, to=sid, namespace=nsp)

        async def echo_ack(sid, *args):
            return args  # a tuple: acked as the same list of arguments

        async def join(sid, room=None, *_):
            if isinstance(room, str):
                await sio.enter_room(sid, room, namespace=nsp)

        async def broadcast(sid, data=None, *_):
            room = data.get("room") if isinstance(data, dict) else None
            await sio.emit("bcast", data, room=room, namespace=nsp)

        sio.on("echo", echo, namespace=nsp)
        sio.on("echo-ack", echo_ack, namespace=nsp)
        sio.on("join", join, namespace=nsp)
        sio.on("broadcast", broadcast, namespace=nsp)

    for nsp in NAMESPACES:
        register(nsp)
    return sio


async def serve(port: int, async_handlers: bool, backlog: int, ping_interval: float, ping_timeout: float) -> None:
    sio = build_server(async_handlers, ping_interval, ping_timeout)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=backlog, reuse_address=True)
    await site.start()
    print(f"python-socketio peer listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--backlog", type=int, default=4096, help="listen backlog (default 4096)")
    ap.add_argument("--async-handlers", action="store_true",
                    help="run each event handler as its own task (python-socketio's default); "
                         "by default handlers run inline, which keeps per-client order and is faster")
    ap.add_argument("--ping-interval", type=float, default=25, help="Engine.IO pingInterval in seconds (default 25)")
    ap.add_argument("--ping-timeout", type=float, default=20, help="Engine.IO pingTimeout in seconds (default 20)")
    ap.add_argument("--no-uvloop", action="store_true", help="use the stock asyncio loop")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    coro = serve(args.port, args.async_handlers, args.backlog, args.ping_interval, args.ping_timeout)
    if args.no_uvloop:
        asyncio.run(coro)
    else:
        import uvloop
        uvloop.run(coro)


if __name__ == "__main__":
    main()
