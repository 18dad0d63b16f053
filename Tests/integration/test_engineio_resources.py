"""Resource use: connections opened and dropped must leave nothing behind. Each test has a server of its own."""

import socket
import struct
import time

import pytest
import requests

from eio_util import EchoClient, eio_url, parse_open

BATCH = 100


def _open_and_drop(port: int, count: int, reset: bool) -> None:
    """Opens `count` TCP connections (BATCH at a time) and closes them without sending a byte."""
    done = 0
    while done < count:
        socks = []
        for _ in range(min(BATCH, count - done)):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if reset:  # close with RST instead of FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            socks.append(s)
        time.sleep(0.02)
        for s in socks:
            s.close()
        done += len(socks)


def _settle(srv) -> int:
    """RSS once the server has had time to see every close (stable for a moment), in KiB."""
    time.sleep(0.5)
    last = srv.rss_kib()
    for _ in range(10):
        time.sleep(0.2)
        now = srv.rss_kib()
        if abs(now - last) < 64:
            return now
        last = now
    return last


@pytest.mark.timeout(90)
def test_idle_connections_leave_no_memory_behind(fresh_server):
    srv = fresh_server
    assert parse_open(requests.get(eio_url(srv.url), timeout=5).text)["sid"]  # warm up the request path
    before = _settle(srv)
    _open_and_drop(srv.port, 1000, reset=False)
    after_first = _settle(srv)
    _open_and_drop(srv.port, 500, reset=False)
    _open_and_drop(srv.port, 500, reset=True)
    after_second = _settle(srv)
    growth = after_second - after_first
    print(f"VmRSS KiB: before {before}, after round 1 {after_first}, after round 2 {after_second}")
    assert growth < 2048, (f"second round of 1,000 connections grew VmRSS by {growth} KiB "
                           f"(before {before}, after 1st {after_first}, after 2nd {after_second})")
    # And the server still serves.
    client = EchoClient(srv.url, ["websocket"])
    try:
        client.roundtrip("alive")
    finally:
        client.close()
