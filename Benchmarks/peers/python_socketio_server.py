#!/usr/bin/env python3
"""python-socketio peer for the benchmarks: the same event contract as sio-bench-server.

Event contract, on namespaces "/" and "/chat":
  echo       -> emits "echo" back to the sender with the same arguments
  echo-ack   -> acks with the same arguments (after burning --burn-us microseconds of CPU, when given)
  join       -> (room name) joins that room
  broadcast  -> ({room, ...}) emits "bcast" with the same object to the room,
                or to the whole namespace when "room" is absent

Stack: python-socketio AsyncServer on aiohttp, with uvloop as the asyncio loop (the
fastest server stack for python-socketio that PyPI offers here; see Benchmarks/requirements.txt).
--parser msgpack: serializer='msgpack' (python-socketio's MsgPackPacket, the msgpack package): one msgpack map
{type, data, nsp, id} per packet in a binary Engine.IO message, the format of socket.io-msgpack-parser.
Listens on 127.0.0.1 only; with --tls-cert/--tls-key it serves HTTPS/WSS (aiohttp with an ssl.SSLContext).
"""
import argparse
import asyncio
import logging
import signal
import ssl
import sys
import time

import socketio
from aiohttp import web

NAMESPACES = ("/", "/chat")


def burn(ns: int) -> None:
    """Spins until this thread has used ns more nanoseconds of CPU time (CLOCK_THREAD_CPUTIME_ID), as
    sio-bench-server --burn-us does: the same work per ack whatever else runs on the machine."""
    end = time.thread_time_ns() + ns
    while time.thread_time_ns() < end:
        pass


def build_server(async_handlers: bool, ping_interval: float, ping_timeout: float,
                 burn_us: int = 0, log_disconnects: bool = False, parser: str = "json") -> socketio.AsyncServer:
    sio = socketio.AsyncServer(
        serializer="msgpack" if parser == "msgpack" else "default",
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        async_mode="aiohttp",
        cors_allowed_origins="*",
        logger=False,
        engineio_logger=False,
        async_handlers=async_handlers,
    )

    burn_ns = burn_us * 1000

    def register(nsp: str) -> None:
        async def echo(sid, *args):
            await sio.emit("echo", args, to=sid, namespace=nsp)

        async def echo_ack(sid, *args):
            return args  # a tuple: acked as the same list of arguments

        async def echo_ack_work(sid, *args):
            burn(burn_ns)  # the handler's "real work", on the loop's thread like ours
            return args

        async def join(sid, room=None, *_):
            if isinstance(room, str):
                await sio.enter_room(sid, room, namespace=nsp)

        async def broadcast(sid, data=None, *_):
            room = data.get("room") if isinstance(data, dict) else None
            await sio.emit("bcast", data, room=room, namespace=nsp)

        sio.on("echo", echo, namespace=nsp)
        sio.on("echo-ack", echo_ack_work if burn_ns > 0 else echo_ack, namespace=nsp)
        sio.on("join", join, namespace=nsp)
        sio.on("broadcast", broadcast, namespace=nsp)
        if log_disconnects:
            async def disconnect(sid, reason=None):
                print(f"disconnect {sid} {reason}", flush=True)

            sio.on("disconnect", disconnect, namespace=nsp)

    for nsp in NAMESPACES:
        register(nsp)
    return sio


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """Server side, TLS 1.2 and 1.3, ALPN http/1.1, the system's cipher policy (as sio-bench-server --tls-cert)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def serve(port: int, async_handlers: bool, backlog: int, ping_interval: float, ping_timeout: float,
                burn_us: int, log_disconnects: bool = False, parser: str = "json",
                ssl_context: ssl.SSLContext = None) -> None:
    sio = build_server(async_handlers, ping_interval, ping_timeout, burn_us, log_disconnects, parser)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=backlog, reuse_address=True, ssl_context=ssl_context)
    await site.start()
    tls_note = ", TLS" if ssl_context else ""
    print(f"python-socketio peer listening on 127.0.0.1:{port}{tls_note}", file=sys.stderr, flush=True)
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
    ap.add_argument("--burn-us", type=int, default=0,
                    help="the echo-ack handler burns this many microseconds of CPU time before acking (default 0)")
    ap.add_argument("--log-disconnects", action="store_true",
                    help='print "disconnect <sid> <reason>" on stdout for every socket that leaves')
    ap.add_argument("--parser", choices=("json", "msgpack"), default="json",
                    help="json (default) or msgpack (serializer='msgpack', as socket.io-msgpack-parser)")
    ap.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS/WSS: the certificate chain (PEM)")
    ap.add_argument("--tls-key", metavar="FILE", help="the private key (PEM) of --tls-cert")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.burn_us < 0:
        ap.error("--burn-us must be >= 0")
    if (args.tls_cert is None) != (args.tls_key is None):
        ap.error("--tls-cert and --tls-key go together")
    ssl_context = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    coro = serve(args.port, args.async_handlers, args.backlog, args.ping_interval, args.ping_timeout, args.burn_us,
                 args.log_disconnects, args.parser, ssl_context)
    if args.no_uvloop:
        asyncio.run(coro)
    else:
        import uvloop
        uvloop.run(coro)


if __name__ == "__main__":
    main()
