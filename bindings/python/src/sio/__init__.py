"""sio — a Socket.IO server for Python on libsio (Swift on libuv, through its C ABI).

    import sio

    server = sio.Server(cors_allowed_origins="*")

    @server.event("chat message")
    def chat_message(socket, msg):
        server.emit("chat message", msg)

    server.run("0.0.0.0", 3000)

Every official Socket.IO client (JS, python-socketio, Swift, Java, ...) connects unchanged. Handlers run on the
server's loop thread (with ``sio.Server(loops=N)``, on the thread of the socket's loop: several at once); every
method is safe to call from any thread. ``sio.AsyncServer`` runs them, coroutines or not, on your asyncio loop
instead. See the README for the full guide.
"""

from __future__ import annotations

from . import _lib
from .async_server import AsyncServer, AsyncSocket
from .errors import (
    AckTimeoutError,
    ClosedError,
    ConnectionRefused,
    ConnectionRefusedError,
    Error,
    InvalidArgumentError,
    ListenError,
    SIOError,
    StateError,
    ThreadError,
)
from .server import (
    RESERVED_EVENTS,
    BroadcastOperator,
    ConnectionErrorReport,
    Future,
    Handshake,
    HTTPResponse,
    Namespace,
    Next,
    Server,
    Socket,
    TLSErrorReport,
    set_library_log_level,
)

__version__ = "0.5.0"

#: The version of the loaded libsio ("MAJOR.MINOR.PATCH").
library_version: str = _lib.lib.sio_version().decode()
#: The path or name libsio was loaded from.
library_path: str = _lib.lib._name

LibraryNotFound = _lib.LibraryNotFound

__all__ = [
    "AckTimeoutError",
    "AsyncServer",
    "AsyncSocket",
    "BroadcastOperator",
    "ClosedError",
    "ConnectionErrorReport",
    "ConnectionRefused",
    "Error",
    "Future",
    "Handshake",
    "HTTPResponse",
    "InvalidArgumentError",
    "LibraryNotFound",
    "ListenError",
    "Namespace",
    "Next",
    "RESERVED_EVENTS",
    "SIOError",
    "Server",
    "Socket",
    "StateError",
    "ThreadError",
    "TLSErrorReport",
    "library_path",
    "library_version",
    "set_library_log_level",
]
# ConnectionRefusedError (python-socketio's spelling) is importable but kept out of `import *`, where it would
# shadow the builtin of the same name.
_ = ConnectionRefusedError
