"""Memory per idle connection, TLS against plain (issue 16): 1,000 idle Socket.IO clients over WSS, then 1,000 over
plain WS, each against a fresh `sio-bench-server`; the server's VmRSS before and after. The figures are printed
(run with -s) and written to artifacts/tls-memory.txt; the bound here only catches a regression (a record buffer
kept per idle connection would add 17 KB or more each)."""

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


def _measure(start_server, pki, tls: bool) -> tuple[int, int]:
    srv = start_server("sio-bench-server", pki.server if tls else None, plain=False)
    context = ssl.create_default_context(cafile=str(pki.ca)) if tls else None

    async def run():
        warm = await _open(srv.port, context, 20)  # warm the allocator and the code paths
        for writer in warm:
            writer.close()
        await asyncio.sleep(0.5)
        before = _settle(srv)
        connections = await _open(srv.port, context, COUNT)
        after = _settle(srv)
        for writer in connections:
            writer.close()
        return before, after

    before, after = asyncio.run(run())
    srv.stop()
    return before, after


@pytest.mark.timeout(240)
def test_memory_per_idle_wss_connection(start_server, pki):
    plain_before, plain_after = _measure(start_server, pki, tls=False)
    tls_before, tls_after = _measure(start_server, pki, tls=True)
    plain = (plain_after - plain_before) * 1024 / COUNT
    secure = (tls_after - tls_before) * 1024 / COUNT
    report = (f"idle connections: {COUNT} plain WS: {plain:.0f} bytes each (VmRSS {plain_before} -> {plain_after} KiB); "
              f"{COUNT} WSS: {secure:.0f} bytes each (VmRSS {tls_before} -> {tls_after} KiB); "
              f"TLS adds {secure - plain:.0f} bytes per idle connection")
    print(report)
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "tls-memory.txt").write_text(report + "\n")
    assert secure - plain < 24_000, report
