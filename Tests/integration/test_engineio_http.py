"""HTTP features of the polling transport: CORS and response compression."""

import gzip

import requests

from eio_util import Polling, eio_url, parse_open

ORIGIN = "http://example.com"


def test_cors_handshake_allows_origin(server):
    r = requests.get(eio_url(server.url), headers={"Origin": ORIGIN}, timeout=5)
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") in (ORIGIN, "*"), dict(r.headers)
    parse_open(r.text)


def test_cors_on_established_session(server):
    session = Polling.open(server.url)
    r = session.post("4hi", headers={"Origin": ORIGIN})
    assert r.status_code == 200 and r.text == "ok"
    assert r.headers.get("Access-Control-Allow-Origin") in (ORIGIN, "*"), dict(r.headers)
    r = session.get(headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") in (ORIGIN, "*"), dict(r.headers)


def test_cors_preflight(server):
    r = requests.options(eio_url(server.url), headers={
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }, timeout=5)
    assert r.status_code == 204, f"HTTP {r.status_code} {r.text!r}"
    assert r.headers.get("Access-Control-Allow-Origin") in (ORIGIN, "*"), dict(r.headers)
    methods = {m.strip().upper() for m in r.headers.get("Access-Control-Allow-Methods", "").split(",")}
    assert {"GET", "POST"} <= methods, dict(r.headers)
    allowed = {h.strip().lower() for h in r.headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert "content-type" in allowed or "*" in allowed, dict(r.headers)


def test_polling_response_gzip_compressed_above_threshold(server):
    session = Polling.open(server.url)
    message = "4" + "compress me " * 200  # 2,401 bytes, above the 1,024-byte threshold
    assert session.post(message).text == "ok"
    r = requests.get(session.url(), headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True)
    assert r.status_code == 200
    assert r.headers.get("Content-Encoding") == "gzip", dict(r.headers)
    compressed = r.raw.read(decode_content=False)
    assert len(compressed) < len(message), "gzip body not smaller than the payload"
    assert gzip.decompress(compressed).decode("utf-8") == message


def test_polling_response_not_compressed_without_accept_encoding(server):
    session = Polling.open(server.url)
    message = "4" + "plain please " * 200
    assert session.post(message).text == "ok"
    r = requests.get(session.url(), headers={"Accept-Encoding": "identity"}, timeout=5, stream=True)
    assert r.status_code == 200
    assert r.headers.get("Content-Encoding") in (None, "identity"), dict(r.headers)
    assert r.raw.read(decode_content=False).decode("utf-8") == message
