"""The Redis option on every surface: `sio-chat --redis` and the C ABI's SIO_OPT_REDIS_URL through the Python
binding. Two servers on one Redis; a client of each; what one says reaches the other."""

from __future__ import annotations

import os
import pathlib
import sys

import pytest
import socketio

from cluster_util import HOST, ROOT, Process, RedisServer, free_port, wait_port, wait_until


@pytest.fixture
def redis(tools):
    server = RedisServer(tools["redis-server"]).start()
    yield server
    server.stop()


class Chat(Process):
    """sio-chat with --redis."""

    def __init__(self, redis_url: str, name: str, flag: str = "--redis"):
        super().__init__(f"chat-{name}")
        self.redis_url = redis_url
        self.flag = flag
        self.port = 0

    def start(self) -> "Chat":
        bin_dir = pathlib.Path(os.environ.get("SIO_BIN_DIR") or ROOT / ".build" / "debug")
        for _attempt in range(3):
            self.port = free_port()
            self._spawn([str(bin_dir / "sio-chat"), "--host", HOST, "--port", str(self.port), self.flag, self.redis_url])
            if wait_port(self.port, self.proc):
                return self
            self.stop()
        raise RuntimeError(f"sio-chat did not start:\n{self.log_text()}")


def recording_client(url: str, event: str, transports: list[str] | None = None):
    client = socketio.Client(reconnection=False)
    received: list = []
    client.on(event, lambda *args: received.append(args))
    client.connect(url, transports=transports, wait_timeout=10)
    return client, received


@pytest.mark.parametrize("flag", ["--redis", "--redis-sharded"])
def test_sio_chat_rooms_span_servers_over_redis(redis, flag):
    first = Chat(f"redis://{HOST}:{redis.port}", "a", flag).start()
    second = Chat(f"redis://{HOST}:{redis.port}", "b", flag).start()
    alice, alice_got = recording_client(f"http://{HOST}:{first.port}", "chat message", ["websocket"])
    bob, bob_got = recording_client(f"http://{HOST}:{second.port}", "chat message", ["polling"])
    try:
        # Subscriptions are made when each server connects to Redis: say hello until the other side hears it.
        def crossed() -> bool:
            alice.emit("chat message", "hello from a")
            return any(args[0] == "hello from a" for args in bob_got)

        wait_until(crossed, timeout=10, interval=0.3, message="a message from server a reaching server b")
        bob.emit("chat message", "hello from b")
        wait_until(lambda: any(args[0] == "hello from b" for args in alice_got), message="b's message on server a")
        meta = next(args[1] for args in bob_got if args[0] == "hello from a")
        assert "nickname" in meta and "time" in meta
    finally:
        alice.disconnect()
        bob.disconnect()
        first.stop()
        second.stop()


def import_binding():
    lib = ROOT / "build" / "lib" / "libsio.so"
    if not lib.exists() and not os.environ.get("SIO_LIBRARY"):
        pytest.fail("build/lib/libsio.so missing: run scripts/build-libsio.sh", pytrace=False)
    os.environ.setdefault("SIO_LIBRARY", str(lib))
    sys.path.insert(0, str(ROOT / "bindings" / "python" / "src"))
    import sio  # noqa: E402  (the binding under test, over the C ABI)
    return sio


def test_python_binding_servers_share_rooms_over_redis(redis):
    sio = import_binding()

    servers = []
    for _ in range(2):
        server = sio.Server(redis_url=f"redis://{HOST}:{redis.port}", redis_key="surfaces")

        @server.on("connection")
        def joined(socket):
            socket.join("room")

        @server.event("say")
        def say(socket, text, _server=server):
            _server.to("room").emit("heard", text)

        servers.append(server)
    ports = [server.start(HOST, 0) for server in servers]
    clients = [recording_client(f"http://{HOST}:{port}", "heard") for port in ports]
    try:
        def crossed() -> bool:
            clients[0][0].emit("say", "across")
            return any(args[0] == "across" for args in clients[1][1])

        wait_until(crossed, timeout=10, interval=0.3, message="a broadcast from server 0 reaching server 1's client")
        assert any(args[0] == "across" for args in clients[0][1]), "the sender's own server delivered it too"
        with pytest.raises(Exception):
            sio.Server(redis_url="not a url")
    finally:
        for client, _ in clients:
            client.disconnect()
        for server in servers:
            server.close()


def test_python_binding_operations_and_server_side_events_span_servers(redis):
    """Over the C ABI: fetch_sockets, sockets_join, disconnect_sockets and server_side_emit reach the other server,
    as the reference's fetchSockets, socketsJoin, disconnectSockets and serverSideEmit do over the Redis adapter."""
    sio = import_binding()
    servers = [sio.Server(redis_url=f"redis://{HOST}:{redis.port}", redis_key="operations") for _ in range(2)]
    heard: list = []
    servers[1].on_server_side_event("hello", lambda *args: heard.append(args))
    servers[1].on_server_side_event("who", lambda question: {"node": 1, "question": question})
    ports = [server.start(HOST, 0) for server in servers]
    (alice, _), (bob, bob_got) = (recording_client(f"http://{HOST}:{port}", "news") for port in ports)
    try:
        ids = {alice.get_sid("/"), bob.get_sid("/")}

        def both_seen() -> bool:
            return {s["id"] for s in servers[0].fetch_sockets().result(timeout=10)} == ids

        wait_until(both_seen, timeout=10, interval=0.3, message="server 0 fetching the sockets of both servers")
        remote = next(s for s in servers[0].fetch_sockets().result(timeout=10) if s["id"] == bob.get_sid("/"))
        assert remote["rooms"] == [bob.get_sid("/")] and remote["handshake"]["address"] == HOST

        servers[0].in_(bob.get_sid("/")).sockets_join("club")  # applied by server 1, where bob is
        wait_until(lambda: [s["id"] for s in servers[0].in_("club").fetch_sockets().result(timeout=10)]
                   == [bob.get_sid("/")], timeout=10, interval=0.2, message="bob in club")
        servers[0].to("club").emit("news", "for the club")
        wait_until(lambda: ("for the club",) in bob_got, timeout=10, message="club news on server 1")

        servers[0].server_side_emit("hello", {"from": 0}, [1, 2])
        wait_until(lambda: heard == [({"from": 0}, [1, 2])], timeout=10, message="server 1 hearing server 0")
        with pytest.raises(sio.InvalidArgumentError):
            servers[0].server_side_emit("hello", b"bytes")
        answers = servers[0].server_side_emit_with_ack("who", "are you?", timeout=5).result(timeout=10)
        assert answers == [{"node": 1, "question": "are you?"}]
        with pytest.raises(sio.AckTimeoutError) as late:  # server 1 has no handler for it: no answer
            servers[0].server_side_emit_with_ack("nobody-answers", timeout=0.3).result(timeout=10)
        assert late.value.replies == []

        servers[0].in_("club").disconnect_sockets()
        wait_until(lambda: not bob.connected, timeout=10, message="bob disconnected by server 0")
        assert alice.connected
    finally:
        alice.disconnect()
        bob.disconnect()
        for server in servers:
            server.close()


def test_python_binding_server_side_emit_needs_redis():
    sio = import_binding()
    with sio.Server() as server:
        with pytest.raises(sio.StateError):
            server.server_side_emit("hello")
        with pytest.raises(sio.StateError):
            server.on_server_side_event("hello", lambda *args: None)


def check_two_binding_servers(servers, adapter: str, after_crossing):
    """Two binding servers on one Redis adapter, a client of each in the room "room": a room broadcast from server 0
    reaches server 1's client (`after_crossing(bob_got)` then checks what the adapter left in Redis), fetch_sockets
    sees both clients, a server-side event is answered by node 1."""
    for server in servers:
        @server.on("connection")
        def joined(socket):
            socket.join("room")
    servers[1].on_server_side_event("who", lambda question: {"node": 1, "question": question})
    ports = [server.start(HOST, 0) for server in servers]
    (alice, _), (bob, bob_got) = (recording_client(f"http://{HOST}:{port}", "news") for port in ports)
    try:
        def crossed() -> bool:
            servers[0].to("room").emit("news", "across")
            return any(args[0] == "across" for args in bob_got)

        wait_until(crossed, timeout=10, interval=0.3, message="a room broadcast from server 0 reaching server 1's client")
        after_crossing(bob_got)
        ids = {alice.get_sid("/"), bob.get_sid("/")}
        wait_until(lambda: {s["id"] for s in servers[0].fetch_sockets().result(timeout=10)} == ids, timeout=10,
                   interval=0.3, message=f"fetch_sockets across the {adapter} adapter")
        answers = servers[0].server_side_emit_with_ack("who", "are you?", timeout=5).result(timeout=10)
        assert answers == [{"node": 1, "question": "are you?"}]
    finally:
        alice.disconnect()
        bob.disconnect()
        for server in servers:
            server.close()


def test_python_binding_on_the_streams_adapter(redis):
    """SIO_OPT_REDIS_STREAMS_* through the binding: two servers on one stream share broadcasts, operations and
    server-side events; with connection_state_recovery, offsets are stream ids."""
    sio = import_binding()
    url = f"redis://{HOST}:{redis.port}"
    servers = [sio.Server(redis_streams_url=url, redis_streams_name="surfaces-stream", redis_streams_maxlen=500,
                          redis_streams_heartbeat_interval=0.5, redis_streams_heartbeat_timeout=2,
                          connection_state_recovery={"max_disconnection_duration": 10}) for _ in range(2)]

    def stream_offsets(bob_got):
        # With recovery on, the offset a client gets is the stream entry's id.
        offset = next(args for args in bob_got if args[0] == "across")[-1]
        assert isinstance(offset, str) and offset.count("-") == 1 and offset.replace("-", "").isdigit()
        assert redis.command("XLEN", "surfaces-stream") >= 1

    check_two_binding_servers(servers, "streams", stream_offsets)
    with pytest.raises(sio.InvalidArgumentError):
        sio.Server(redis_url=url, redis_streams_url=url)
    with pytest.raises(Exception):
        sio.Server(redis_streams_url="not a url")


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_python_binding_on_the_sharded_adapter(redis, mode):
    """SIO_OPT_REDIS_SHARDED_URL / _MODE through the binding: two servers on Redis 7 sharded pub/sub share room
    broadcasts, fetch_sockets and server-side events; in dynamic mode a public room has its own shard channel; a bad
    mode and two adapters at once are refused."""
    sio = import_binding()
    url = f"redis://{HOST}:{redis.port}"
    servers = [sio.Server(redis_sharded_url=url, redis_sharded_mode=mode) for _ in range(2)]

    def room_channel(_bob_got):
        channels = {c.decode() if isinstance(c, bytes) else c for c in redis.command("PUBSUB", "SHARDCHANNELS")}
        assert any(c.endswith("#room#") for c in channels) == (mode == "dynamic"), channels

    check_two_binding_servers(servers, "sharded", room_channel)
    with pytest.raises(sio.InvalidArgumentError):
        sio.Server(redis_url=url, redis_sharded_url=url)
    with pytest.raises(Exception):
        sio.Server(redis_sharded_url=url, redis_sharded_mode="sometimes")
