"""Exceptions of the sio package."""

from __future__ import annotations

from typing import Any


class Error(Exception):
    """Base class of every exception this package raises on purpose."""


class SIOError(Error):
    """A libsio function returned an error code (``SIO_E*``).

    ``code`` is the negative code, ``name`` its name (``"SIO_ECLOSED"``). ``SIOError.from_code`` picks the most
    precise subclass.
    """

    code: int
    name: str

    def __init__(self, code: int, message: str | None = None, *, name: str | None = None) -> None:
        from . import _lib

        self.code = code
        self.name = name or _lib.err_name(code)
        text = _lib.strerror(code)
        super().__init__(f"{self.name}: {text}" + (f" ({message})" if message else ""))

    @staticmethod
    def from_code(code: int, message: str | None = None) -> "SIOError":
        from . import _lib

        cls: type[SIOError] = {
            _lib.EINVAL: InvalidArgumentError,
            _lib.ESTATE: StateError,
            _lib.ECLOSED: ClosedError,
            _lib.EJSON: InvalidArgumentError,
            _lib.ELISTEN: ListenError,
            _lib.ETHREAD: ThreadError,
            _lib.ETIMEOUT: AckTimeoutError,
        }.get(code, SIOError)
        return cls(code, message)


class InvalidArgumentError(SIOError, ValueError):
    """``SIO_EINVAL`` or ``SIO_EJSON``: the library refused an argument (reserved event name, bad JSON...)."""


class StateError(SIOError):
    """``SIO_ESTATE``: not possible in the server's current state (started twice, not listening...)."""


class ClosedError(SIOError):
    """``SIO_ECLOSED``: the socket has disconnected or the server has stopped."""


class ListenError(SIOError, OSError):
    """``SIO_ELISTEN``: the address cannot be listened on, or (with TLS) the certificate or key cannot be used."""


class ThreadError(SIOError):
    """``SIO_ETHREAD``: a loop-thread-only function was called elsewhere (the binding normally prevents this)."""


class AckTimeoutError(SIOError, TimeoutError):
    """``SIO_ETIMEOUT``: an acknowledgement did not arrive in time.

    For a broadcast with acknowledgements, ``replies`` holds the replies received before the timeout.
    """

    replies: list[list[Any]]

    def __init__(self, code: int, message: str | None = None, *, replies: list[list[Any]] | None = None) -> None:
        super().__init__(code, message)
        self.replies = replies or []


class ConnectionRefused(Error):
    """Raise in a middleware to refuse a connection.

    The client's ``connect_error`` receives ``message`` and, when it is not None, ``data`` (any JSON value) as
    ``err.data``, like the reference server's ``next(new Error(message))`` with ``err.data = data``.
    """

    def __init__(self, message: str = "Connection refused", data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


#: python-socketio spells it ``socketio.exceptions.ConnectionRefusedError``; the same class under that name eases
#: porting (it is not the builtin ``ConnectionRefusedError``).
ConnectionRefusedError = ConnectionRefused  # noqa: A001
