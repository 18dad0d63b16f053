"""Engine.IO v3 at the wire level against the /engine.io/ echo of `sio-protocol-server --allow-eio3`: the cases
of the engine.io-protocol test suite's v3 branch, and the payload forms of the v3 parser (text, XHR2 binary,
base64), byte for byte."""

from __future__ import annotations

import json
import threading
import time

import requests
import websocket

from v3_util import (PING_INTERVAL, PING_TIMEOUT, Polling, binary_segment, payload, split_binary_payload,
                     split_payload, url, ws_connect)


# ---------------------------------------------------------------------------------------------------- handshake

def test_polling_handshake(server):
    r = requests.get(url(server.url), timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; charset=UTF-8"
    length, _, content = r.text.partition(":")
    assert length == str(len(content)) and content.startswith("0")
    value = json.loads(content[1:])
    # The v3 handshake: no maxPayload.
    assert set(value) == {"sid", "upgrades", "pingInterval", "pingTimeout"}
    assert value["upgrades"] == ["websocket"] and value["pingInterval"] == 300 and value["pingTimeout"] == 200


def test_missing_eio_means_v3(server):
    p = Polling(server.url, EIO=None)
    assert "maxPayload" not in p.handshake
    assert p.post(payload("4hello")).text == "ok"
    assert p.get_packets() == ["4hello"]


def test_v4_is_unchanged_beside_v3(server):
    r = requests.get(url(server.url, EIO="4"), timeout=5)
    assert r.text.startswith("0{") and json.loads(r.text[1:])["maxPayload"] == 1_000_000


def test_websocket_handshake(server):
    ws = ws_connect(server.url)
    try:
        opened = ws.recv()
        value = json.loads(opened[1:])
        assert opened[0] == "0" and value["upgrades"] == [] and "maxPayload" not in value
    finally:
        ws.close()


def test_bad_requests(server):
    assert requests.get(url(server.url, transport=None), timeout=5).status_code == 400
    assert requests.get(url(server.url, transport="abc"), timeout=5).status_code == 400
    assert requests.post(url(server.url), timeout=5).status_code == 400


def test_refused_when_allow_eio3_is_off(start_server):
    srv = start_server()
    for query in ({"EIO": "3"}, {"EIO": None}):
        r = requests.get(url(srv.url, **query), timeout=5)
        assert r.status_code == 400
        assert r.json() == {"code": 5, "message": "Unsupported protocol version"}
    assert requests.get(url(srv.url, EIO="4"), timeout=5).status_code == 200
    # No JSONP either: `j` is ignored, the v4 handshake is plain text.
    assert requests.get(url(srv.url, EIO="4", j="1"), timeout=5).text.startswith("0{")


# ---------------------------------------------------------------------------------------------------- messages

def test_text_packets(server):
    p = Polling(server.url, b64="1")
    assert p.post("6:4test16:4test26:4test3").text == "ok"
    assert p.get().text == "6:4test16:4test26:4test3"


def test_lengths_count_utf16_units(server):
    p = Polling(server.url, b64="1")
    text = "4é€😀"  # 1 + 1 + 1 + 2 units
    assert p.post(f"5:{text}").text == "ok"
    r = p.get()
    assert r.content == f"5:{text}".encode()
    assert split_payload(r.text) == [text]


def test_base64_binary_with_b64(server):
    p = Polling(server.url, b64="1")
    assert p.post("6:4hello10:b4AQIDBA==").text == "ok"
    r = p.get()
    assert r.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert r.text == "6:4hello10:b4AQIDBA=="


def test_xhr2_binary_payload_without_b64(server):
    p = Polling(server.url)
    assert p.post("6:4hello10:b4AQIDBA==").text == "ok"
    r = p.get()
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.content == bytes([0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4])


def test_xhr2_binary_post(server):
    p = Polling(server.url)
    body = binary_segment("4€".encode(), False) + binary_segment(b"\x04\x00\xff", True)
    assert p.post(body, "application/octet-stream").text == "ok"
    assert split_binary_payload(p.get().content) == [(False, "4€".encode()), (True, b"\x04\x00\xff")]


def test_text_only_batches_stay_text_without_b64(server):
    p = Polling(server.url)
    assert p.post(payload("4plain")).text == "ok"
    r = p.get()
    assert r.headers["Content-Type"] == "text/plain; charset=UTF-8" and r.text == "6:4plain"


def test_bad_payload_closes_the_session(server):
    p = Polling(server.url, b64="1")
    try:
        assert p.post("abc").status_code == 400
    except requests.ConnectionError:
        pass  # the connection may be closed with the answer
    assert p.get().status_code == 400


def test_packets_before_a_bad_one_are_delivered(server):
    p = Polling(server.url, b64="1")
    # Read as the reference reads it: "4ok" reaches the application, then the bad segment ends the session.
    t = threading.Thread(target=lambda: p.post("3:4ok1:9"))
    get = {}
    t2 = threading.Thread(target=lambda: get.setdefault("r", p.http.get(p.url(), timeout=5)))
    t2.start()
    time.sleep(0.1)
    t.start()
    t.join(5)
    t2.join(5)
    assert get["r"].status_code == 200 and "4ok" in split_payload(get["r"].text)


def test_oversized_body_is_refused(server):
    p = Polling(server.url, b64="1")
    body = "1000001:4" + "x" * 1_000_000
    r = p.post(body)
    assert r.status_code == 413


def test_websocket_text_and_binary(server):
    ws = ws_connect(server.url)
    try:
        ws.recv()
        ws.send("4hello")
        assert ws.recv() == "4hello"
        ws.send_binary(bytes([4, 1, 2, 3, 4]))
        frame = ws.recv_data()
        assert frame == (websocket.ABNF.OPCODE_BINARY, bytes([4, 1, 2, 3, 4]))
        # Base64 text from the client is binary too; this client takes binary frames back.
        ws.send("b4AQID")
        assert ws.recv_data() == (websocket.ABNF.OPCODE_BINARY, bytes([4, 1, 2, 3]))
        # A binary packet of no known type does nothing.
        ws.send_binary(bytes([9, 1]))
        ws.send("4after")
        assert ws.recv() == "4after"
    finally:
        ws.close()


def test_websocket_b64_client_gets_base64_text(server):
    ws = ws_connect(server.url, b64="1")
    try:
        ws.recv()
        ws.send_binary(bytes([4, 1, 2, 3, 4]))
        assert ws.recv_data() == (websocket.ABNF.OPCODE_TEXT, b"b4AQIDBA==")
    finally:
        ws.close()


def test_websocket_bad_packet_closes(server):
    ws = ws_connect(server.url)
    try:
        ws.recv()
        ws.send("abc")
        opcode, _ = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
    finally:
        ws.close()


# ---------------------------------------------------------------------------------------------------- heartbeat

def test_polling_ping_pong(server):
    p = Polling(server.url, b64="1")
    for _ in range(3):
        assert p.post("1:2").status_code == 200
        assert p.get().text == "1:3"


def test_websocket_ping_pong(server):
    ws = ws_connect(server.url)
    try:
        ws.recv()
        for _ in range(3):
            ws.send("2")
            assert ws.recv() == "3"
    finally:
        ws.close()


def test_server_never_pings_and_times_out_silent_clients(server):
    p = Polling(server.url, b64="1")
    start = time.monotonic()
    r = p.get(timeout=5)  # held until the session ends: no ping comes from the server
    assert r.status_code == 200 and split_payload(r.text) in (["1"], ["6"])
    assert time.monotonic() - start >= PING_INTERVAL + PING_TIMEOUT - 0.05
    assert p.post("1:2").status_code == 400


def test_pings_keep_the_session(server):
    p = Polling(server.url, b64="1")
    for _ in range(5):
        time.sleep(PING_INTERVAL)
        assert p.post("1:2").status_code == 200
        assert p.get().text == "1:3"


def test_a_pong_is_the_wrong_direction(server):
    p = Polling(server.url, b64="1")
    assert p.post("1:3").status_code == 200
    assert p.get().status_code in (200, 400)
    assert p.post("1:2").status_code == 400


def test_websocket_ping_timeout(server):
    ws = ws_connect(server.url, timeout=3)
    try:
        ws.recv()
        start = time.monotonic()
        opcode, _ = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert time.monotonic() - start >= PING_INTERVAL + PING_TIMEOUT - 0.05
    finally:
        ws.close()


# ---------------------------------------------------------------------------------------------------- close, upgrade

def test_polling_close(server):
    p = Polling(server.url, b64="1")
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", p.get()))
    t.start()
    time.sleep(0.1)
    assert p.post("1:1").status_code == 200
    t.join(5)
    assert got["r"].text == "1:6"
    assert p.get().status_code == 400


def test_upgrade(server):
    p = Polling(server.url, b64="1")
    ws = ws_connect(server.url, sid=p.sid)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        assert p.get().text == "1:6"
        ws.send("5")
        ws.send("4hello")
        assert ws.recv() == "4hello"
        # Polling is over for this session; a second WebSocket is turned away.
        assert p.get().status_code == 400
        other = ws_connect(server.url, sid=p.sid)
        try:
            assert other.recv_data(control_frame=True)[0] == websocket.ABNF.OPCODE_CLOSE
        finally:
            other.close()
        # The heartbeat goes on over the WebSocket.
        ws.send("2")
        assert ws.recv() == "3"
    finally:
        ws.close()


def test_upgrade_delivers_what_polling_had_queued(server):
    p = Polling(server.url, b64="1")
    ws = ws_connect(server.url, sid=p.sid)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        assert p.get().text == "1:6"
        assert p.post(payload("4queued")).text == "ok"
        ws.send("5")
        assert ws.recv() == "4queued"
    finally:
        ws.close()
