"""Server-sent heartbeat: pings every pingInterval, the session closed when no pong comes within pingTimeout, and
a client's close packet."""

import time

import requests

from eio_util import (
    PING_INTERVAL, PING_TIMEOUT, Polling, assert_error, decode_payload, eio_url, parse_open, ws_connect,
    ws_expect_closed, ws_next,
)

SLACK = 0.7  # seconds allowed on top of pingInterval + pingTimeout for timers and a loaded machine


def test_polling_client_that_stops_answering_pings_is_closed(server):
    session = Polling.open(server.url)
    start = time.monotonic()
    # One poll: the first ping arrives after about pingInterval. Then the client goes silent (no pong).
    first = session.get()
    assert first.status_code == 200 and first.text == "2", first.text
    ping_at = time.monotonic() - start
    assert PING_INTERVAL * 0.8 <= ping_at <= PING_INTERVAL + SLACK, f"first ping after {ping_at:.3f} s"
    # The next poll, made once the pong is overdue, gets a close packet or an unknown-sid error.
    time.sleep(PING_TIMEOUT + 0.3)
    r = session.get()
    if r.status_code == 200:
        packets = decode_payload(r.text)
        assert ("1", "") in packets, f"expected a close packet, got {r.text!r}"
        assert session.get().status_code == 400
    else:
        assert_error(r, 400, 1)


def test_polling_client_without_any_poll_is_closed(server):
    session = Polling.open(server.url)
    time.sleep(PING_INTERVAL + PING_TIMEOUT + SLACK)
    assert_error(session.get(), 400, 1)


def test_websocket_client_that_stops_answering_pings_is_closed(server):
    ws = ws_connect(server.url)
    try:
        assert ws_next(ws)[0] == "text"  # open
        start = time.monotonic()
        kind, _ = ws_expect_closed(ws, timeout=PING_INTERVAL + PING_TIMEOUT + SLACK + 1)
        elapsed = time.monotonic() - start
        assert elapsed <= PING_INTERVAL + PING_TIMEOUT + SLACK, f"closed only after {elapsed:.3f} s"
        assert elapsed >= PING_INTERVAL + PING_TIMEOUT - 0.1, f"closed too early ({elapsed:.3f} s)"
    finally:
        ws.close()


def test_websocket_pings_are_2_and_pongs_3_keep_session(server):
    ws = ws_connect(server.url)
    try:
        kind, data = ws_next(ws)
        sid = parse_open(data)["sid"]
        last = time.monotonic()
        for _ in range(5):
            assert ws_next(ws, timeout=PING_INTERVAL + SLACK) == ("text", "2")
            now = time.monotonic()
            assert now - last >= PING_INTERVAL * 0.8, f"pings {now - last:.3f} s apart"
            last = now
            ws.send("3")
        # Alive after five rounds: still echoes.
        ws.send("4still here")
        kind, data = ws_next(ws)
        while (kind, data) == ("text", "2"):
            ws.send("3")
            kind, data = ws_next(ws)
        assert (kind, data) == ("text", "4still here")
        # The session is known over HTTP too (as a websocket session, a polling request for it is refused
        # as a bad request, not as an unknown sid).
        r = requests.get(eio_url(server.url, sid=sid), timeout=5)
        assert_error(r, 400, 3)
    finally:
        ws.close()


def test_websocket_close_packet_closes_session(server):
    """The client sends `1`: the server closes the session at once, pongs or not."""
    ws = ws_connect(server.url)
    try:
        kind, data = ws_next(ws)
        sid = parse_open(data)["sid"]
        ws.send("1")
        start = time.monotonic()
        # Keep answering pings: only the close packet may end this session, not a ping timeout.
        ws_expect_closed(ws, timeout=2, answer_pings=True)
        elapsed = time.monotonic() - start
        assert elapsed < PING_INTERVAL + PING_TIMEOUT, f"closed after {elapsed:.3f} s: by ping timeout?"
    finally:
        ws.close()
    assert_error(requests.get(eio_url(server.url, sid=sid), timeout=5), 400, 1)


def test_polling_close_packet_closes_session(server):
    session = Polling.open(server.url)
    r = session.post("1")
    assert r.status_code == 200
    assert_error(session.get(), 400, 1)
