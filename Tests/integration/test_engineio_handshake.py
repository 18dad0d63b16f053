"""Handshake fields over both transports, and session ids."""

import re

import requests

from eio_util import MAX_PAYLOAD, PING_INTERVAL, PING_TIMEOUT, eio_url, parse_open, ws_connect, ws_next

SID_RE = re.compile(r"^[A-Za-z0-9_-]{16,}={0,2}$")  # base64url-ish, at least 16 characters


def _check_fields(value: dict, upgrades: list) -> None:
    assert set(value) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}, value
    assert isinstance(value["sid"], str) and SID_RE.match(value["sid"]), value["sid"]
    assert value["upgrades"] == upgrades
    # Numbers, not strings: clients do arithmetic on them.
    for key, expected in (("pingInterval", int(PING_INTERVAL * 1000)), ("pingTimeout", int(PING_TIMEOUT * 1000)),
                          ("maxPayload", MAX_PAYLOAD)):
        assert type(value[key]) is int and value[key] == expected, (key, value[key])


def test_polling_handshake_fields(server):
    r = requests.get(eio_url(server.url), timeout=5)
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers.get("Content-Type")
    _check_fields(parse_open(r.text), ["websocket"])


def test_websocket_handshake_fields(server):
    ws = ws_connect(server.url)
    try:
        kind, data = ws_next(ws)
        assert kind == "text", (kind, data)
        _check_fields(parse_open(data), [])
    finally:
        ws.close()


def test_sids_unique_and_unguessable_looking(server):
    sids = []
    with requests.Session() as http:
        for _ in range(100):
            r = http.get(eio_url(server.url), timeout=5)
            assert r.status_code == 200
            sids.append(parse_open(r.text)["sid"])
    assert len(set(sids)) == 100, "duplicate session ids"
    for sid in sids:
        assert SID_RE.match(sid), sid
    # Not a counter: consecutive ids share no long common prefix, and their characters vary.
    prefixes = [len(_common_prefix(a, b)) for a, b in zip(sids, sids[1:])]
    assert max(prefixes) < 8, f"consecutive sids share up to {max(prefixes)} leading characters"
    assert len(set("".join(sids))) > 40, "sids use suspiciously few distinct characters"


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]
