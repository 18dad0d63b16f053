"""Memory per idle connection, TLS against plain (issue 16): idle Socket.IO clients over WSS and over plain WS, each
kind against a fresh `sio-bench-server`, the server's VmRSS measured around 1,000 more clients after 500 that stay
connected (the marginal cost of a connection: the memory a burst of handshakes leaves to the allocator is paid by
the first ones), and around the first 1,000 too; WSS also with `--tls-openssl-records` (OpenSSL's record layer, for
comparison). The figures are printed (run with -s) and written to artifacts/tls-memory.txt. The bound catches a
regression: OpenSSL's state kept per idle connection would add about 15 KB each."""

from __future__ import annotations

import asyncio
import base64
import os
import pathlib
import ssl
import time

import pytest

from conftest import HOST, ROOT

COUNT = 1000


def _settle(srv) -> int:
    time.sleep(1.0)
    last = srv.rss_kib()
    for _ in range(15):
        time.sleep(0.3)
        now = srv.rss_kib()
        if abs(now - last) < 32:
            return now
        last = now
    return last


async def _open(port: int, context: ssl.SSLContext | None, count: int):
    connections = []

    async def one():
        reader, writer = await asyncio.open_connection(HOST, port, ssl=context,
                                                       server_hostname="localhost" if context else None)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        await reader.readuntil(b"\r\n\r\n")
        header = await reader.readexactly(2)
        await reader.readexactly(header[1] & 0x7F)  # the open packet (short)
        mask = os.urandom(4)
        payload = b"40"
        writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        header = await reader.readexactly(2)
        await reader.readexactly(header[1] & 0x7F)  # the CONNECT answer
        connections.append(writer)

    for start in range(0, count, 50):
        await asyncio.gather(*(one() for _ in range(min(50, count - start))))
    return connections


WARM = 500


def _measure(start_server, pki, tls: bool, args=()) -> tuple[float, float]:
    """(bytes per connection over the first COUNT, bytes per connection over COUNT more after WARM)."""
    results = []
    for warm in (0, WARM):
        srv = start_server("sio-bench-server", pki.server if tls else None, args=args, plain=False)
        context = ssl.create_default_context(cafile=str(pki.ca)) if tls else None

        async def run():
            kept = await _open(srv.port, context, max(warm, 20))  # warm the allocator and the code paths
            if not warm:
                for writer in kept:
                    writer.close()
                kept = []
            await asyncio.sleep(0.5)
            before = _settle(srv)
            connections = await _open(srv.port, context, COUNT)
            after = _settle(srv)
            for writer in connections + kept:
                writer.close()
            return before, after

        before, after = asyncio.run(run())
        srv.stop()
        results.append((after - before) * 1024 / COUNT)
    return results[0], results[1]


@pytest.mark.timeout(300)
def test_memory_per_idle_wss_connection(start_server, pki):
    plain_first, plain = _measure(start_server, pki, tls=False)
    secure_first, secure = _measure(start_server, pki, tls=True)
    openssl_first, openssl = _measure(start_server, pki, tls=True, args=["--tls-openssl-records"])
    report = (f"bytes per idle connection, {COUNT} after {WARM} (first {COUNT}): plain WS {plain:.0f} "
              f"({plain_first:.0f}); WSS {secure:.0f} ({secure_first:.0f}); WSS with OpenSSL's record layer "
              f"{openssl:.0f} ({openssl_first:.0f}). TLS adds {secure - plain:.0f} ({secure_first - plain_first:.0f}); "
              f"OpenSSL's record layer would add {openssl - plain:.0f}")
    print(report)
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "tls-memory.txt").write_text(report + "\n")
    assert secure - plain < 4_000, report
