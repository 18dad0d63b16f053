"""JSONP polling byte for byte, with raw HTTP, as the reference's transports/polling-jsonp.ts serves it: GETs
answered `___eio[<j>]("<payload>");` (the payload through JSON.stringify, U+2028/U+2029 escaped), POSTs taking
the payload as the form field `d` with the client's newline escaping undone, and the reference's headers."""

from __future__ import annotations

import json
import re
import urllib.parse

from v3_util import raw_http, segment

IE = "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko"


def get(srv, query: str, agent: str | None = None):
    extra = f"User-Agent: {agent}\r\n" if agent else ""
    return raw_http(srv.port, f"GET /engine.io/?{query} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n".encode())


def post(srv, query: str, body: bytes, content_type: str = "application/x-www-form-urlencoded"):
    head = (f"POST /engine.io/?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    return raw_http(srv.port, head + body)


def handshake(srv, j: str = "7", extra: str = "&b64=1"):
    status, headers, body, lines = get(srv, f"EIO=3&transport=polling&j={j}{extra}")
    assert status == "HTTP/1.1 200 OK", status
    match = re.fullmatch(rb'___eio\[(\d*)\]\("(\d+):0(.*)"\);', body)
    assert match, body
    opened = json.loads(json.loads(b'"' + match.group(3) + b'"'))
    return opened["sid"], match, headers, lines


def test_handshake_frame_and_headers(server):
    sid, match, headers, lines = handshake(server)
    assert match.group(1) == b"7"
    inner = json.loads(b'"0' + match.group(3) + b'"')
    assert match.group(2) == str(len(inner)).encode()
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert "cache-control: no-store" in lines  # the reference's name, lower case
    assert "x-xss-protection" not in headers


def test_ie_gets_the_xss_header(server):
    _, headers, _, _ = get(server, "EIO=3&transport=polling&j=1&b64=1", agent=IE)
    assert headers["x-xss-protection"] == "0"
    _, headers, _, _ = get(server, "EIO=3&transport=polling&j=1", agent="Mozilla/4.0 (compatible;MSIE 8.0)")
    assert headers["x-xss-protection"] == "0"


def test_callback_index_keeps_digits_only(server):
    _, match, _, _ = handshake(server, j=urllib.parse.quote("1);alert(2"))
    assert match.group(1) == b"12"
    _, match, _, _ = handshake(server, j="")
    assert match.group(1) == b""


def echo(srv, sid: str, d: str, j: str = "7") -> tuple[tuple, bytes]:
    answer = post(srv, f"EIO=3&transport=polling&sid={sid}&j={j}", ("d=" + urllib.parse.quote(d, safe="")).encode())
    _, _, body, _ = get(srv, f"EIO=3&transport=polling&sid={sid}&j={j}")
    return answer, body


def test_post_answer_and_escaping_round_trip(server):
    sid, _, _, _ = handshake(server)
    text = '4a"b\\c\u2028d\u2029e/é😀\t'
    (status, headers, body, lines), polled = echo(server, sid, segment(text))
    assert status == "HTTP/1.1 200 OK" and body == b"ok"
    assert headers["content-type"] == "text/html" and "cache-control: no-store" in lines
    # JSON.stringify escapes the quote, the backslash and the tab; U+2028/U+2029 become \u2028/\u2029; the rest
    # (é, the emoji, the slash) stays as it is, in UTF-8.
    expected = '___eio[7]("' + segment(text).replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + '");'
    assert polled == expected.encode()


def test_newline_escapes_in_d(server):
    sid, _, _, _ = handshake(server)
    # The client sends a newline as backslash-n and a backslash-n as two backslashes and n.
    (_, _, body, _), polled = echo(server, sid, "4:4a\\nb")
    assert body == b"ok" and polled == b'___eio[7]("4:4a\\nb");'  # the message is "a<newline>b"
    (_, _, body, _), polled = echo(server, sid, "5:4a\\\\nb")
    assert polled == b'___eio[7]("5:4a\\\\nb");'  # the message is "a\nb" (backslash, n)


def test_responses_keep_the_handshake_index(server):
    sid, _, _, _ = handshake(server, j="3")
    _, polled = echo(server, sid, "3:4hi", j="99")
    assert polled == b'___eio[3]("3:4hi");'


def test_bodies_the_reference_ignores(server):
    sid, _, _, _ = handshake(server)
    q = f"EIO=3&transport=polling&sid={sid}&j=7"
    for body, content_type in ((b"d=3:4no&d=3:4no", "application/x-www-form-urlencoded"),
                               (b"x=3:4no", "application/x-www-form-urlencoded"),
                               (b"d=3:4no", "application/octet-stream")):
        status, _, answer, _ = post(server, q, body, content_type)
        assert status == "HTTP/1.1 200 OK" and answer == b"ok"
    (_, _, _, _), polled = echo(server, sid, "4:4yes")
    assert polled == b'___eio[7]("4:4yes");'


def test_binary_without_b64_is_a_buffer_object(server):
    sid, _, _, _ = handshake(server, extra="")
    _, polled = echo(server, sid, "6:b4AQI=")
    assert polled == b'___eio[7]({"type":"Buffer","data":[1,3,255,4,1,2]});'


def test_base64_binary_with_b64(server):
    sid, _, _, _ = handshake(server)
    _, polled = echo(server, sid, "6:b4AQI=")
    assert polled == b'___eio[7]("6:b4AQI=");'


def test_bad_payload_in_d_closes_the_session(server):
    sid, _, _, _ = handshake(server)
    q = f"EIO=3&transport=polling&sid={sid}&j=7"
    try:
        status, _, _, _ = post(server, q, b"d=abc")
        assert status.startswith("HTTP/1.1 400")
    except (ConnectionError, OSError):
        pass
    status, _, _, _ = get(server, q)
    assert status.startswith("HTTP/1.1 400")


def test_oversized_d_body_is_refused(server):
    sid, _, _, _ = handshake(server)
    status, _, _, _ = post(server, f"EIO=3&transport=polling&sid={sid}&j=7", b"d=" + b"x" * 1_000_001)
    assert status.startswith("HTTP/1.1 413")
