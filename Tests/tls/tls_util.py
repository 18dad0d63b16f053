"""Clients for the TLS tests: a bystander Engine.IO session over WSS, a hand-driven TLS client (ssl.MemoryBIO over
a socket, so a test controls every byte and every TLS record), and helpers for Engine.IO polling over HTTPS."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time

import websocket

HOST = "127.0.0.1"
SEP = "\x1e"
RELAXED = "/engine.io-relaxed/"  # the echo engine with the reference's 25 s heartbeat: raw clients need not answer


def parse_open(text: str) -> dict:
    assert text.startswith("0"), text
    return json.loads(text[1:])


class Bystander:
    """An Engine.IO echo session over WSS, opened before the trouble starts: `roundtrip()` must keep working."""

    def __init__(self, server, pki, path: str = RELAXED):
        self.ws = websocket.create_connection(f"{server.wss}{path}?EIO=4&transport=websocket", timeout=5,
                                              sslopt={"ca_certs": str(pki.ca)})
        self.sid = parse_open(self.ws.recv())["sid"]
        self.count = 0

    def roundtrip(self) -> None:
        self.count += 1
        text = f"bystander {self.count}"
        self.ws.send("4" + text)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = self.ws.recv()
            if message == "2":
                self.ws.send("3")
                continue
            assert message == "4" + text, message
            return
        raise AssertionError("no echo")

    def close(self) -> None:
        try:
            self.ws.close()
        except OSError:
            pass


def once_more_on_client_race(exchange):
    """Runs `exchange()` (a whole client session with python-engineio or python-socketio over TLS), once more if it
    fails the way their client does on its own: it reads and writes one ssl.SSLSocket from two threads, and OpenSSL
    objects are not thread-safe, so rarely (more under load) its reader sees a clean EOF or misses a message the
    server sent (seen with strace: the records written, no close on the server side). A second failure is real."""
    import queue

    import engineio
    import socketio

    try:
        return exchange()
    except (queue.Empty, socketio.exceptions.TimeoutError, socketio.exceptions.ConnectionError,
            engineio.exceptions.ConnectionError) as first:
        print(f"client failed once ({type(first).__name__}); trying again")
        return exchange()


class SocketIOWire:
    """Socket.IO over WSS on one thread (websocket-client, frames read in order, pings answered): for tests that
    must not depend on python-engineio's client, which reads and writes one ssl.SSLSocket from two threads (OpenSSL
    objects are not thread-safe: rarely, the reader then sees a clean EOF the server never sent)."""

    def __init__(self, server, pki, namespace: str = "/features", path: str = "/socket.io/"):
        self.ws = websocket.create_connection(f"{server.wss}{path}?EIO=4&transport=websocket", timeout=10,
                                              sslopt={"ca_certs": str(pki.ca)})
        parse_open(self.ws.recv())
        self.namespace = namespace
        self.ws.send(f"40{namespace},")
        self.backlog: list[str] = []
        assert self._next().startswith(f"40{namespace},")
        self.ack = 0

    def next_message(self) -> str:
        """The next message that was not an acknowledgement a `call` waited for."""
        return self.backlog.pop(0) if self.backlog else self._next()

    def _next(self) -> str:
        while True:
            message = self.ws.recv()
            if message == "2":
                self.ws.send("3")
                continue
            return message

    def call(self, event: str, *args):
        self.ack += 1
        self.ws.send(f"42{self.namespace},{self.ack}" + json.dumps([event, *args]))
        prefix = f"43{self.namespace},{self.ack}"
        while True:
            message = self._next()
            if message.startswith(prefix):
                values = json.loads(message[len(prefix):])
                return values[0] if len(values) == 1 else values
            self.backlog.append(message)

    def close(self) -> None:
        try:
            self.ws.close()
        except OSError:
            pass


class RawTLS:
    """A TLS client driven by hand over a blocking socket: the handshake through ssl.MemoryBIO, then
    `send_records(...)` writes each text as a TLS record of its own (all in one TCP write), `read_http()` reads one
    HTTP response."""

    def __init__(self, port: int, context: ssl.SSLContext, server_hostname: str = "localhost", *, handshake=True):
        self.sock = socket.create_connection((HOST, port), timeout=5)
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=server_hostname)
        self.buffer = b""
        if handshake:
            self.handshake()

    def client_hello(self) -> bytes:
        """The ClientHello, not sent (for tests that send it, or part of it, themselves)."""
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()

    def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                self._flush()
                return
            except ssl.SSLWantReadError:
                self._flush()
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("closed during the handshake")
                self.incoming.write(data)
            except ssl.SSLError:
                self._flush()  # the alert, as a socket-based client sends it
                raise

    def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def send_records(self, *texts: bytes) -> None:
        for text in texts:
            self.tls.write(text)
        self._flush()

    def _fill(self) -> bool:
        try:
            self.buffer += self.tls.read(65536)
            return True
        except ssl.SSLWantReadError:
            data = self.sock.recv(65536)
            if not data:
                return False
            self.incoming.write(data)
            return True
        except ssl.SSLZeroReturnError:
            return False

    def read_http(self) -> tuple[int, dict, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"closed before a response: {self.buffer!r}")
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            if not self._fill():
                raise ConnectionError("closed in a body")
            rest = self.buffer.partition(b"\r\n\r\n")[2]
        self.buffer = rest[length:]
        return status, headers, rest[:length]

    def peer_der(self) -> bytes:
        return self.tls.getpeercert(binary_form=True)

    def close(self) -> None:
        self.sock.close()


def polling_request(method: str, path_and_query: str, body: str = "", *, close: bool = False) -> bytes:
    connection = "close" if close else "keep-alive"
    data = body.encode()
    return (f"{method} {path_and_query} HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n"
            f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data


def time_until_closed(sock: socket.socket, limit: float) -> float:
    """Seconds until the peer closes `sock` (reads and drops what it sends), or `limit` + 1 if it does not."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if not sock.recv(65536):
                return time.monotonic() - start
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    return limit + 1


def in_background(work, count: int = 1) -> tuple[list[threading.Thread], list[BaseException]]:
    errors: list[BaseException] = []

    def run():
        try:
            work()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, errors
