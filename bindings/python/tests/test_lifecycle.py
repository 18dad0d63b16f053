"""Threads, failing handlers, logging, graceful stop, lifecycle and misuse, options, plain HTTP."""

from __future__ import annotations

import json
import logging
import signal
import socket as pysocket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
import socketio
import websocket
from conftest import HOST, PACKAGE, ThreadResult, started, wait_for

import sio


def test_emit_from_a_second_thread_while_the_loop_runs(server, clients):
    sockets = []
    server.on("connection", sockets.append)
    server.on("echo", lambda socket, value: value)
    url = started(server)
    client = clients(url)
    socket = wait_for(lambda: sockets, what="connection")[0]
    count = 200

    def produce():
        for index in range(count):
            if index % 2:
                socket.emit("n", index)
            else:
                server.emit("n", index, {"i": index})

    producer = ThreadResult(produce)
    # the loop keeps serving the client meanwhile
    assert client.client.call("echo", "during", timeout=5) == "during"
    producer.result()
    received = [client.next_event() for _ in range(count)]
    # python-socketio's client handles each message on a thread of its own, so it may reorder them: the order the
    # server keeps is checked on the wire in test_emits_from_threads_keep_order_on_the_wire.
    assert sorted(event[1][0] for event in received) == list(range(count))
    assert ("n", (4, {"i": 4})) in received


def test_emits_from_threads_keep_order_on_the_wire(server):
    sockets = []
    server.on("connection", sockets.append)
    url = started(server)
    ws = websocket.create_connection(url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=10)
    try:
        ws.recv()
        ws.send("40")
        assert ws.recv().startswith("40")
        socket = wait_for(lambda: sockets, what="connection")[0]
        per_thread = 300

        def produce(thread):
            for index in range(per_thread):
                target = socket if index % 2 else server
                target.emit("t", thread, index, b"%d" % index)

        producers = [ThreadResult(lambda thread=thread: produce(thread)) for thread in range(3)]
        seen: dict[int, list[int]] = {0: [], 1: [], 2: []}
        expected_binary = None
        while sum(len(v) for v in seen.values()) < 3 * per_thread:
            opcode, data = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_TEXT:
                text = data.decode()
                if text == "2":
                    ws.send("3")
                    continue
                assert expected_binary is None, "a packet came between a header and its attachment"
                assert text.startswith("451-"), text
                name, thread, index, placeholder = json.loads(text[4:])
                assert (name, placeholder) == ("t", {"_placeholder": True, "num": 0})
                expected_binary = (thread, index)
            else:
                assert expected_binary is not None, "an attachment without a header"
                thread, index = expected_binary
                assert data == b"%d" % index
                seen[thread].append(index)
                expected_binary = None
        for producer in producers:
            producer.result()
        assert seen == {thread: list(range(per_thread)) for thread in range(3)}
    finally:
        ws.close()


def test_many_threads_emit_concurrently(server, clients):
    url = started(server)
    client = clients(url)
    wait_for(lambda: server.of("/").sockets, what="connection")
    threads = [ThreadResult(lambda t=t: [server.emit("t", t, i) for i in range(50)]) for t in range(4)]
    for thread in threads:
        thread.result()
    got = [client.next_event()[1] for _ in range(200)]
    assert sorted(got) == sorted((t, i) for t in range(4) for i in range(50))


def test_handler_that_raises_is_logged_and_server_keeps_serving(server, clients, caplog):
    caplog.set_level(logging.ERROR, logger="sio")

    @server.on("explode")
    def explode(socket, value):
        raise RuntimeError(f"kaboom {value}")

    @server.on("ping me")
    def ping_me(socket):
        return "pong"

    url = started(server)
    client = clients(url)
    client.client.emit("explode", 1)
    with pytest.raises(socketio.exceptions.TimeoutError):
        client.client.call("explode", 2, timeout=0.5)  # the ack is not sent
    assert client.client.call("ping me", timeout=5) == "pong"
    errors = [r for r in caplog.records if r.name == "sio" and r.levelno == logging.ERROR]
    assert any("handler of 'explode'" in r.getMessage() and r.exc_info and "kaboom 1" in str(r.exc_info[1])
               for r in errors)
    assert client.client.connected


def test_connection_and_ack_callback_errors_are_contained(server, clients, caplog):
    @server.on("connection")
    def bad_connection(socket):
        socket.emit("first", callback=lambda *a: 1 / 0)
        raise ValueError("in connection handler")

    @server.on("connection")
    def good_connection(socket):
        socket.emit("hello")

    url = started(server)
    client = socketio.Client(reconnection=False)
    client.on("first", lambda: "ack")
    hello = threading.Event()
    client.on("hello", lambda: hello.set())
    try:
        client.connect(url, wait_timeout=5)
        assert hello.wait(5)
        wait_for(lambda: any("ack callback" in r.getMessage() for r in caplog.records), what="ack callback error")
        assert any("connection handler" in r.getMessage() for r in caplog.records)
    finally:
        client.disconnect()


def test_graceful_stop_disconnects_clients(clients):
    server = sio.Server()
    reasons = []
    server.on("disconnect", lambda socket, reason: reasons.append(reason))
    url = started(server)
    try:
        a, b = clients(url), clients(url, transports=["polling"])
        wait_for(lambda: len(server.of("/").sockets) == 2, what="two sockets")
        ThreadResult(server.stop).result()
        assert server.wait(10)
        assert not server.running
        # Like the reference server, libsio closes a websocket with a close frame (python-engineio calls that a
        # "transport error") and answers a pending poll with an Engine.IO close packet (a poll that was not pending
        # at that moment finds the connection refused: a "transport error" too).
        seen = (socketio.Client.reason.TRANSPORT_ERROR, socketio.Client.reason.SERVER_DISCONNECT)
        assert a.disconnects.get(timeout=5) in seen
        assert b.disconnects.get(timeout=5) in seen
        assert reasons == ["server shutting down", "server shutting down"]
        server.stop()  # again: harmless
        with pytest.raises(sio.ClosedError):
            server.emit("late")  # posted work refused: the loop has ended
    finally:
        server.close()
    with pytest.raises(sio.ClosedError):
        server.emit("after close")
    server.close()  # again: harmless


def test_stop_and_close_from_inside_a_handler(clients):
    server = sio.Server()

    @server.on("shutdown")
    def shutdown(socket):
        server.close()  # on the loop thread: stops now, frees once the loop has ended
        return "bye"

    url = started(server)
    client = clients(url)
    client.client.emit("shutdown")
    assert client.disconnects.get(timeout=5) is not None
    assert server.wait(10)
    wait_for(lambda: server._handle is None, what="deferred destroy")


def test_context_manager_and_run_blocking():
    with sio.Server() as server:
        port_box = []

        def runner():
            server.listen(HOST, 0)
            port_box.append(server.port)
            server.run()

        thread = threading.Thread(target=runner, daemon=True)
        thread.start()
        wait_for(lambda: port_box, what="listening")
        wait_for(lambda: server.running, what="running")
        client = socketio.Client(reconnection=False)
        client.connect(f"http://{HOST}:{port_box[0]}", wait_timeout=5)
        client.disconnect()
        server.stop()
        thread.join(10)
        assert not thread.is_alive()


def test_start_twice_and_listen_errors():
    with sio.Server() as server:
        server.start(HOST, 0)
        with pytest.raises(sio.StateError):
            server.start(HOST, 0)
        port = server.port
        with sio.Server() as other:
            with pytest.raises(sio.ListenError):
                other.listen(HOST, port)
        # [LOOP] functions from this thread are marshalled to the loop; one listener per server (see README)
        with pytest.raises(sio.StateError):
            server.listen(HOST, 0)


def test_listen_fd():
    listener = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_STREAM)
    listener.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        with sio.Server() as server:
            server.on("echo", lambda socket, x: x)
            assert server.listen_fd(listener) == port
            server.start()
            client = socketio.Client(reconnection=False)
            client.connect(f"http://{HOST}:{port}", wait_timeout=5)
            try:
                assert client.call("echo", "fd", timeout=5) == "fd"
            finally:
                client.disconnect()
    finally:
        listener.close()


def test_post_runs_on_the_loop_thread(server, clients):
    url = started(server)
    clients(url)
    loop_threads = []
    server.on("x", lambda socket: loop_threads.append(threading.get_ident()))
    future = server.post(lambda a, b: (threading.current_thread().name, a + b), 1, 2)
    assert future.result(5) == ("sio-loop", 3)


def test_library_logs_reach_python_logging(caplog):
    caplog.set_level(logging.DEBUG)
    with sio.Server() as first:
        port = first.listen(HOST, 0)
        with sio.Server() as second:
            with pytest.raises(sio.ListenError):
                second.listen(HOST, port)
    records = [r for r in caplog.records if r.name.startswith("sio.lib.")]
    assert records, "no library log line was routed to logging"
    assert any(r.levelno == logging.ERROR for r in records)


def test_options():
    options = dict(path="/custom/", ping_interval=1, ping_timeout=2.5, upgrade_timeout=3, max_http_buffer_size=10_000,
                   transports=["websocket"], allow_upgrades=False, cors_allowed_origins=["http://a.example"],
                   cors_credentials=True, cookie="io", http_compression=False, connect_timeout=4,
                   max_attachments=3, connection_state_recovery={"max_disconnection_duration": 60,
                                                                 "skip_middlewares": False},
                   max_buffered_bytes=1 << 20)
    with sio.Server(**options) as server:
        server.on("echo", lambda socket, x: x)
        port = server.start(HOST, 0)
        client = socketio.Client(reconnection=False)
        client.connect(f"http://{HOST}:{port}", socketio_path="/custom/", transports=["websocket"], wait_timeout=5)
        try:
            assert client.call("echo", 7, timeout=5) == 7
            assert client.eio.ping_interval == 1
        finally:
            client.disconnect()
    for bad in (dict(transports=["carrier-pigeon"]), dict(path="no-slash"), dict(ping_interval=-1),
                dict(connection_state_recovery={"nope": 1}), dict(ping_interval=10**12)):
        with pytest.raises(sio.InvalidArgumentError):
            sio.Server(**bad)


def test_allow_eio3():
    """Engine.IO v3 handshakes (a Socket.IO 2.x client) are refused by default and served with allow_eio3."""
    for allow in (False, True):
        with sio.Server(allow_eio3=allow or None) as server:
            port = server.start(HOST, 0)
            url = f"http://{HOST}:{port}/socket.io/?EIO=3&transport=polling"
            if not allow:
                with pytest.raises(urllib.error.HTTPError) as info:
                    urllib.request.urlopen(url, timeout=5)
                assert json.loads(info.value.read()) == {"code": 5, "message": "Unsupported protocol version"}
                continue
            with urllib.request.urlopen(url, timeout=5) as response:
                length, _, packet = response.read().decode().partition(":")
            assert packet.startswith("0{") and int(length) == len(packet)
            assert "maxPayload" not in json.loads(packet[1:])


def test_polling_refused_when_websocket_only():
    with sio.Server(transports="websocket") as server:
        port = server.start(HOST, 0)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://{HOST}:{port}/socket.io/?EIO=4&transport=polling", timeout=5)
        assert info.value.code == 400


def test_plain_http_handler(server):
    @server.on_http_request
    def page(method, path):
        if path == "/":
            return 200, "text/html; charset=utf-8", "<h1>chat ✓</h1>"
        if path.startswith("/bytes"):
            return 201, b"\x00\x01"
        if path == "/boom":
            raise RuntimeError("page failed")
        return None

    url = started(server)
    with urllib.request.urlopen(url + "/", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.read().decode() == "<h1>chat ✓</h1>"
    with urllib.request.urlopen(url + "/bytes?x=1", timeout=5) as response:
        assert (response.status, response.read()) == (201, b"\x00\x01")
    for path, status in (("/missing", 404), ("/boom", 500)):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url + path, timeout=5)
        assert info.value.code == status


def test_cors_header():
    with sio.Server(cors_allowed_origins="*") as server:
        port = server.start(HOST, 0)
        request = urllib.request.Request(f"http://{HOST}:{port}/socket.io/?EIO=4&transport=polling",
                                         headers={"Origin": "http://elsewhere.example"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.headers["Access-Control-Allow-Origin"] in ("*", "http://elsewhere.example")


def test_version_and_errors():
    assert sio.library_version.count(".") == 2
    error = sio.SIOError.from_code(-3)
    assert isinstance(error, sio.ClosedError) and error.name == "SIO_ECLOSED" and error.code == -3
    assert isinstance(sio.SIOError.from_code(-7), TimeoutError)
    assert isinstance(sio.SIOError.from_code(-1), ValueError)
    assert sio.SIOError.from_code(-99).name == "SIO_EUNKNOWN"


def test_socket_object_after_disconnect_is_inert(server, clients):
    sockets = []
    server.on("connection", sockets.append)
    url = started(server)
    client = clients(url)
    socket = wait_for(lambda: sockets, what="connection")[0]
    socket.disconnect()
    assert client.disconnects.get(timeout=5) == socketio.Client.reason.SERVER_DISCONNECT
    wait_for(lambda: not socket.connected, what="disconnect")
    socket.emit("nobody")  # dropped silently
    socket.join("r")
    socket.leave("r")
    socket.disconnect()
    assert socket.rooms == set()
    assert socket.handshake.headers.get("never-read") is None
    with pytest.raises(sio.ClosedError):
        socket.call("x", timeout=1)
    assert server.get_socket(socket.id) is None


def test_namespace_and_middleware_added_while_running(server, clients):
    url = started(server)
    late = server.of("/late")  # sio_server_of is a loop-thread function: posted and waited for

    @late.use
    def tag(socket):
        socket.data["tag"] = "late"

    @late.on("tag")
    def tag_event(socket):
        return socket.data["tag"]

    client = clients(url, namespaces=["/late"])
    assert client.client.call("tag", namespace="/late", timeout=5) == "late"


def test_run_stops_gracefully_on_ctrl_c():
    code = ("import sys; sys.path.insert(0, %r)\n" % str(PACKAGE / "src")) + (
        "import sio\n"
        "with sio.Server() as server:\n"
        "    server.listen('127.0.0.1', 0)\n"
        "    print(server.port, flush=True)\n"
        "    server.run()\n"
        "    print('returned', server.running, flush=True)\n")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        client = socketio.Client(reconnection=False)
        client.connect(f"http://{HOST}:{port}", wait_timeout=5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        assert process.returncode == 0, err
        assert out.strip() == "returned False"
        wait_for(lambda: not client.connected, what="client disconnected")
    finally:
        if process.poll() is None:
            process.kill()


def test_connection_errors_reach_the_handler(server, clients):
    """Server.on_connection_error: each refusal with its code, message, context, url and headers; a client that
    connects normally causes none."""
    reports: list[sio.ConnectionErrorReport] = []
    server.on_connection_error(reports.append)
    url = started(server)
    clients(url)  # a real python-socketio client: accepted, nothing reported
    base = url + "/socket.io/?EIO=4&transport=polling"
    for target, headers in [(base + "&sid=stale", {"Origin": "http://example.test", "User-Agent": "probe/1"}),
                            (base.replace("EIO=4", "EIO=3"), {}),
                            (base.replace("polling", "carrier-pigeon"), {})]:
        request = urllib.request.Request(target, headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 400
    wait_for(lambda: len(reports) == 3, what="three reports")
    # With several loops each request may be refused by another loop, whose thread reports it after answering: the
    # reports can come in any order.
    by_code = {report.code: report for report in reports}
    assert sorted(by_code) == [0, 1, 5]
    if server.loop_count == 1:
        assert [report.code for report in reports] == [1, 5, 0]  # one loop: in the order of the requests
    stale, old, unknown = by_code[1], by_code[5], by_code[0]
    assert (stale.code, stale.message, stale.context) == (1, "Session ID unknown", {"sid": "stale"})
    assert stale.url == "/socket.io/?EIO=4&transport=polling&sid=stale"
    assert stale.headers["origin"] == "http://example.test"
    assert stale.headers["user-agent"] == "probe/1"
    assert (old.code, old.context) == (5, {"protocol": "3"})
    assert (unknown.code, unknown.message, unknown.context) == (0, "Transport unknown", {"transport": "carrier-pigeon"})
    assert "Session ID unknown" in repr(stale)


def test_client_bundle_path_reaches_the_http_handler(server):
    """`/socket.io/socket.io.js` (the reference's serveClient path) goes to on_http_request, so a Python host can
    serve the official client bundle next to its page; other paths under /socket.io/ stay the engine's."""
    seen = []

    def handler(method: str, path: str):
        seen.append((method, path))
        return 200, "application/javascript; charset=utf-8", "/* bundle */"

    server.on_http_request(handler)
    url = started(server)
    with urllib.request.urlopen(url + "/socket.io/socket.io.js", timeout=5) as response:
        assert response.status == 200
        assert response.read() == b"/* bundle */"
        assert response.headers["Content-Type"].startswith("application/javascript")
    with urllib.request.urlopen(url + "/socket.io/?EIO=4&transport=polling", timeout=5) as response:
        assert response.read().startswith(b"0{")
    assert seen == [("GET", "/socket.io/socket.io.js")]


def test_work_posted_while_or_after_the_server_closes_is_never_left_listed(server, clients):
    """The race behind a flaky test_close_under_load_is_bounded: a thread that found the server running posts socket
    work just as close() finishes. The post fails (ClosedError) and must not leave its key listed."""
    url = started(server)
    client = clients(url)
    socket = wait_for(lambda: server.of("/").get_socket(client.client.get_sid()), what="the socket")
    server.close()
    for post in (lambda: server._post_to_socket(socket, lambda: None, []), lambda: server._post(lambda: None)):
        with pytest.raises(sio.ClosedError):
            post()
    assert server._pending_tasks == set()
