"""`connection_error`: every request the engine refuses with an Engine.IO error code is reported to the application
(EngineServer.onConnectionError; the reference's `io.engine.on("connection_error")`), with the reference's code,
message and context. The protocol server records the reports and lists them at `GET /connection-errors`.

Covered on both endpoints (/engine.io/ and /socket.io/) and both ways in (HTTP request, WebSocket upgrade): the
error cases by hand (as the protocol suites do), and a real python-engineio client refused by allowRequest.
"""

import json
import time

import pytest
import requests
import engineio
import websocket

from eio_util import EIO_PATH, Polling, eio_url, eio_ws_url, http_request_bytes, raw_http
from sio_util import SIO_PATH


def _reports(server, clear=False):
    r = requests.get(f"{server.url}/connection-errors" + ("?clear=1" if clear else ""), timeout=5)
    assert r.status_code == 200
    return [json.loads(line) for line in r.text.splitlines()]


def _only_report(server, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        reports = _reports(server, clear=True)
        if reports or time.monotonic() > deadline:
            assert len(reports) == 1, reports
            return reports[0]
        time.sleep(0.05)


@pytest.fixture
def clean(server):
    _reports(server, clear=True)
    return server


@pytest.fixture(params=[EIO_PATH, SIO_PATH], ids=["engine.io", "socket.io"])
def path(request):
    return request.param


@pytest.mark.parametrize("query, status, code, message, context", [
    pytest.param({"transport": "carrier-pigeon"}, 400, 0, "Transport unknown", {"transport": "carrier-pigeon"},
                 id="unknown-transport"),
    pytest.param({"transport": None}, 400, 0, "Transport unknown", {"transport": ""}, id="no-transport"),
    pytest.param({"sid": "not-a-session"}, 400, 1, "Session ID unknown", {"sid": "not-a-session"}, id="unknown-sid"),
    pytest.param({"transport": "websocket"}, 400, 3, "Bad request", {"name": "TRANSPORT_HANDSHAKE_ERROR"},
                 id="websocket-without-upgrade"),
    pytest.param({"EIO": "3"}, 400, 5, "Unsupported protocol version", {"protocol": "3"}, id="eio3"),
])
def test_refused_polling_requests_are_reported(clean, path, query, status, code, message, context):
    url = eio_url(clean.url, path, **query)
    r = requests.get(url, timeout=5)
    assert r.status_code == status
    assert r.json() == {"code": code, "message": message}
    report = _only_report(clean)
    assert report["code"] == code
    assert report["message"] == message
    assert report["context"] == context
    assert report["method"] == "GET"
    assert report["url"] == url[len(clean.url):]
    assert report["address"] == "127.0.0.1"


def test_allow_request_refusal_is_reported(clean):
    """The protocol server's allowRequest hook (on /engine.io/ only) refuses handshakes carrying forbid=1."""
    r = requests.get(eio_url(clean.url, forbid="1"), timeout=5)
    assert r.status_code == 403
    assert r.json() == {"code": 4, "message": "Forbidden"}
    report = _only_report(clean)
    assert (report["code"], report["message"], report["context"]) == (4, "Forbidden", {"message": "Forbidden"})


def test_bad_handshake_method_is_reported(clean, path):
    r = requests.put(eio_url(clean.url, path), timeout=5)
    assert r.status_code == 400
    report = _only_report(clean)
    assert (report["code"], report["message"], report["context"]) == (2, "Bad handshake method", {"method": "PUT"})


def test_transport_mismatch_is_reported(clean, path):
    """A websocket request line for a polling session, without the upgrade: TRANSPORT_MISMATCH."""
    session = Polling.open(clean.url, path)
    r = requests.get(eio_url(clean.url, path, sid=session.sid, transport="websocket"), timeout=5)
    assert r.status_code == 400
    report = _only_report(clean)
    assert report["code"] == 3
    assert report["context"] == {"name": "TRANSPORT_MISMATCH", "transport": "websocket",
                                 "previousTransport": "polling"}


def test_origin_with_a_control_byte_never_reaches_the_engine(clean, path):
    """The engine's INVALID_ORIGIN check (the reference's) is a second line: the HTTP layer refuses a header value
    with a control byte first, as Node's llhttp does, so there is no Engine.IO error to report."""
    target = eio_url("", path)
    response = raw_http(clean.port, http_request_bytes("GET", target, {"Origin": "http://a\x01b"}, port=clean.port))
    assert response.status == 400
    time.sleep(0.2)
    assert _reports(clean) == []


def test_refused_websocket_upgrade_is_reported(clean, path):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(eio_ws_url(clean.url, path, sid="gone-after-restart"), timeout=5)
    assert refused.value.status_code == 400
    report = _only_report(clean)
    assert (report["code"], report["context"]) == (1, {"sid": "gone-after-restart"})


def test_accepted_requests_are_not_reported(clean, path):
    session = Polling.open(clean.url, path)
    assert session.get().status_code == 200
    ws = websocket.create_connection(eio_ws_url(clean.url, path), timeout=5)
    ws.close()
    time.sleep(0.2)
    assert _reports(clean) == []


def test_real_client_refused_by_allow_request_is_reported(clean):
    """The real python-engineio client, refused by the server's allowRequest hook (on /engine.io/, handshakes with
    forbid=1): the client gets its connection error, the application a report with the client's request."""
    client = engineio.Client()
    with pytest.raises(engineio.exceptions.ConnectionError):
        client.connect(clean.url + "/?forbid=1", transports=["polling"], engineio_path="engine.io")
    report = _only_report(clean)
    assert (report["code"], report["message"], report["context"]) == (4, "Forbidden", {"message": "Forbidden"})
    assert report["url"].startswith("/engine.io/?") and "forbid=1" in report["url"]
    assert "transport=polling" in report["url"] and "EIO=4" in report["url"]
