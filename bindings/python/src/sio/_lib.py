"""Loading ``libsio`` and declaring the C ABI of ``sio.h`` for ctypes.

Nothing here is public. Every prototype mirrors ``Include/sio.h``; opaque handles travel as ``c_void_p`` (an ``int``
or ``None`` on the Python side). Sockets, acks and middleware continuations are numbers in the library's handle
table, never dereferenced here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_size_t,
    c_uint,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)

#: The library major version this binding speaks (``SIO_VERSION_MAJOR``).
ABI_MAJOR = 0
#: The oldest library version (``SIO_VERSION_NUMBER``) this binding was written against: 0.5.0, for the sharded
#: adapter (SIO_OPT_REDIS_SHARDED_*); 0.4.0 brought metrics and the admin UI (SIO_OPT_METRICS,
#: sio_server_instrument), 0.3.0 several loops (SIO_OPT_LOOPS, sio_server_in_loop, sio_socket_post, ...).
MIN_VERSION_NUMBER = 500

# Error codes (SIO_ERRNO_MAP).
OK = 0
EINVAL = -1
ESTATE = -2
ECLOSED = -3
EJSON = -4
ELISTEN = -5
ETHREAD = -6
ETIMEOUT = -7
ENOMEM = -8
EINTERNAL = -9

# Log levels (sio_log_level_t).
LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 0, 1, 2, 3

# Option keys (sio_option_t).
OPT_PATH = 1
OPT_PING_INTERVAL = 2
OPT_PING_TIMEOUT = 3
OPT_UPGRADE_TIMEOUT = 4
OPT_MAX_HTTP_BUFFER_SIZE = 5
OPT_TRANSPORTS = 6
OPT_ALLOW_UPGRADES = 7
OPT_CORS_ORIGIN = 8
OPT_CORS_CREDENTIALS = 9
OPT_COOKIE = 10
OPT_HTTP_COMPRESSION_THRESHOLD = 11
OPT_CONNECT_TIMEOUT = 12
OPT_MAX_ATTACHMENTS = 13
OPT_RECOVERY = 14
OPT_RECOVERY_MAX_DISCONNECTION = 15
OPT_RECOVERY_SKIP_MIDDLEWARES = 16
OPT_MAX_BUFFERED_BYTES = 17
OPT_REDIS_URL = 18
OPT_REDIS_KEY = 19
OPT_REDIS_REQUESTS_TIMEOUT = 20
OPT_REDIS_SHARDED_URL = 27
OPT_REDIS_SHARDED_MODE = 28
OPT_REDIS_STREAMS_URL = 30
OPT_REDIS_STREAMS_NAME = 31
OPT_REDIS_STREAMS_COUNT = 32
OPT_REDIS_STREAMS_MAXLEN = 33
OPT_REDIS_STREAMS_SESSION_PREFIX = 37
OPT_REDIS_STREAMS_HEARTBEAT_INTERVAL = 38
OPT_REDIS_STREAMS_HEARTBEAT_TIMEOUT = 39
OPT_LOOPS = 23
OPT_LOOP_BALANCING = 24
OPT_ALLOW_EIO3 = 25
OPT_PARSER = 26
OPT_TLS_CERT_FILE = 40
OPT_TLS_KEY_FILE = 41
OPT_TLS_KEY_PASSWORD = 42
OPT_TLS_CERT_PEM = 43
OPT_TLS_KEY_PEM = 44
OPT_TLS_HANDSHAKE_TIMEOUT = 45
OPT_METRICS = 46
OPT_METRICS_PATH = 47
OPT_ADMIN_NAMESPACE = 48
OPT_ADMIN_USERNAME = 49
OPT_ADMIN_PASSWORD_HASH = 50
OPT_ADMIN_READONLY = 51
OPT_ADMIN_SERVER_ID = 52
OPT_ADMIN_MODE = 53

# sio_tls_error_kind_t
TLS_ERROR_KINDS = {0: "failed", 1: "timeout", 2: "closed"}

# Broadcast flags.
BROADCAST_VOLATILE = 0x1
BROADCAST_LOCAL = 0x2
BROADCAST_NO_COMPRESS = 0x4


class Buffer(Structure):
    """``sio_buffer_t``."""

    _fields_ = [("data", c_void_p), ("len", c_size_t)]


# Callback types. Handles are c_void_p; strings stay c_void_p (not c_char_p) so that they are read explicitly
# with a known length or as a NUL-terminated UTF-8 string, and never converted behind our back.
LOG_CB = CFUNCTYPE(None, c_int, c_char_p, c_char_p, c_void_p)
TASK_CB = CFUNCTYPE(None, c_void_p, c_void_p)
HTTP_CB = CFUNCTYPE(None, c_void_p, c_void_p, c_char_p, c_char_p, c_void_p)
CONNECTION_ERROR_CB = CFUNCTYPE(None, c_void_p, c_void_p, c_int, c_char_p, c_char_p, c_void_p)
TLS_ERROR_CB = CFUNCTYPE(None, c_void_p, c_int, c_char_p, c_char_p, c_void_p)
ROOM_EVENT_CB = CFUNCTYPE(None, c_void_p, c_int, c_char_p, c_char_p, c_void_p)
FETCH_SOCKETS_CB = CFUNCTYPE(None, c_int, c_void_p, c_size_t, c_void_p)
SERVER_SIDE_EVENT_CB = CFUNCTYPE(None, c_void_p, c_char_p, c_void_p, c_void_p, c_void_p)
SERVER_SIDE_ACK_CB = CFUNCTYPE(None, c_int, c_void_p, c_size_t, c_void_p)
CONNECTION_CB = CFUNCTYPE(None, c_void_p, c_void_p)
MIDDLEWARE_CB = CFUNCTYPE(None, c_void_p, c_void_p, c_void_p)
BROADCAST_ACK_CB = CFUNCTYPE(None, c_int, POINTER(c_void_p), c_size_t, c_void_p)
EVENT_CB = CFUNCTYPE(None, c_void_p, c_char_p, c_void_p, c_void_p, c_void_p)
DISCONNECT_CB = CFUNCTYPE(None, c_void_p, c_char_p, c_void_p)
ACK_CB = CFUNCTYPE(None, c_void_p, c_int, c_void_p, c_void_p)
SOCKET_TASK_CB = CFUNCTYPE(None, c_void_p, c_void_p)

_size_p = POINTER(c_size_t)
_buffers = POINTER(Buffer)
_strings = POINTER(c_char_p)

# name: (restype, argtypes)
_PROTOTYPES: dict[str, tuple[object, list[object]]] = {
    "sio_version": (c_char_p, []),
    "sio_version_number": (c_int, []),
    "sio_strerror": (c_char_p, [c_int]),
    "sio_err_name": (c_char_p, [c_int]),
    "sio_free": (None, [c_void_p]),
    "sio_set_log_callback": (None, [LOG_CB, c_void_p]),
    "sio_set_log_level": (None, [c_int]),
    "sio_options_new": (c_void_p, []),
    "sio_options_free": (None, [c_void_p]),
    "sio_options_set_uint": (c_int, [c_void_p, c_int, c_uint64]),
    "sio_options_set_bool": (c_int, [c_void_p, c_int, c_bool]),
    "sio_options_set_string": (c_int, [c_void_p, c_int, c_char_p]),
    "sio_server_create": (c_int, [POINTER(c_void_p), c_void_p]),
    "sio_server_listen": (c_int, [c_void_p, c_char_p, c_uint16]),
    "sio_server_listen_fd": (c_int, [c_void_p, c_int]),
    "sio_server_instrument": (c_int, [c_void_p, c_void_p]),
    "sio_server_listen_plain": (c_int, [c_void_p, c_char_p, c_uint16]),
    "sio_options_add_tls_certificate": (c_int, [c_void_p, c_char_p, c_char_p, c_char_p]),
    "sio_server_reload_tls": (c_int, [c_void_p, c_void_p]),
    "sio_server_on_tls_error": (c_int, [c_void_p, TLS_ERROR_CB, c_void_p]),
    "sio_server_port": (c_int, [c_void_p]),
    "sio_server_run": (c_int, [c_void_p]),
    "sio_server_start": (c_int, [c_void_p]),
    "sio_server_stop": (c_int, [c_void_p]),
    "sio_server_wait": (c_int, [c_void_p]),
    "sio_server_destroy": (None, [c_void_p]),
    "sio_server_post": (c_int, [c_void_p, TASK_CB, c_void_p]),
    "sio_server_loop_count": (c_int, [c_void_p]),
    "sio_server_in_loop": (c_bool, [c_void_p]),
    "sio_server_on_http_request": (c_int, [c_void_p, HTTP_CB, c_void_p]),
    "sio_http_respond": (c_int, [c_void_p, c_int, c_char_p, c_char_p, c_size_t]),
    "sio_http_request_header": (c_char_p, [c_void_p, c_char_p]),
    "sio_http_request_url": (c_char_p, [c_void_p]),
    "sio_server_on_connection_error": (c_int, [c_void_p, CONNECTION_ERROR_CB, c_void_p]),
    "sio_args_json": (c_void_p, [c_void_p, _size_p]),
    "sio_args_binary_count": (c_size_t, [c_void_p]),
    "sio_args_binary": (c_void_p, [c_void_p, c_size_t, _size_p]),
    "sio_server_of": (c_void_p, [c_void_p, c_char_p]),
    "sio_namespace_name": (c_char_p, [c_void_p]),
    "sio_namespace_on_connection": (c_int, [c_void_p, CONNECTION_CB, c_void_p]),
    "sio_namespace_use": (c_int, [c_void_p, MIDDLEWARE_CB, c_void_p]),
    "sio_namespace_on_room_event": (c_int, [c_void_p, ROOM_EVENT_CB, c_void_p]),
    "sio_next": (c_int, [c_void_p, c_char_p, c_char_p]),
    "sio_namespace_broadcast": (
        c_int,
        [c_void_p, _strings, c_size_t, _strings, c_size_t, c_uint, c_char_p, c_char_p, c_size_t, _buffers, c_size_t],
    ),
    "sio_namespace_emit": (c_int, [c_void_p, c_char_p, c_char_p, c_size_t, _buffers, c_size_t]),
    "sio_namespace_sockets_join": (c_int, [c_void_p, _strings, c_size_t, _strings, c_size_t, c_uint, _strings, c_size_t]),
    "sio_namespace_sockets_leave": (c_int, [c_void_p, _strings, c_size_t, _strings, c_size_t, c_uint, _strings, c_size_t]),
    "sio_namespace_disconnect_sockets": (c_int, [c_void_p, _strings, c_size_t, _strings, c_size_t, c_uint, c_bool]),
    "sio_namespace_server_side_emit": (c_int, [c_void_p, c_char_p, c_char_p, c_size_t]),
    "sio_namespace_on_server_side_emit": (c_int, [c_void_p, c_char_p, SERVER_SIDE_EVENT_CB, c_void_p]),
    "sio_namespace_server_side_emit_with_ack": (
        c_int, [c_void_p, c_char_p, c_char_p, c_size_t, c_uint32, SERVER_SIDE_ACK_CB, c_void_p]
    ),
    "sio_server_ack_send": (c_int, [c_void_p, c_char_p, c_size_t]),
    "sio_namespace_fetch_sockets": (
        c_int, [c_void_p, _strings, c_size_t, _strings, c_size_t, c_uint, FETCH_SOCKETS_CB, c_void_p]
    ),
    "sio_namespace_broadcast_with_ack": (
        c_int,
        [c_void_p, _strings, c_size_t, _strings, c_size_t, c_uint, c_char_p, c_char_p, c_size_t, _buffers, c_size_t,
         c_uint32, BROADCAST_ACK_CB, c_void_p],
    ),
    "sio_socket_id": (c_char_p, [c_void_p]),
    "sio_socket_namespace": (c_char_p, [c_void_p]),
    "sio_socket_get_namespace": (c_void_p, [c_void_p]),
    "sio_socket_connected": (c_bool, [c_void_p]),
    "sio_socket_auth": (c_void_p, [c_void_p, _size_p]),
    "sio_socket_query": (c_char_p, [c_void_p, c_char_p]),
    "sio_socket_header": (c_char_p, [c_void_p, c_char_p]),
    "sio_socket_address": (c_char_p, [c_void_p]),
    "sio_socket_rooms": (c_int, [c_void_p, POINTER(c_void_p)]),
    "sio_socket_set_user_data": (c_int, [c_void_p, c_void_p]),
    "sio_socket_get_user_data": (c_void_p, [c_void_p]),
    "sio_socket_on": (c_int, [c_void_p, c_char_p, EVENT_CB, c_void_p]),
    "sio_socket_on_any": (c_int, [c_void_p, EVENT_CB, c_void_p]),
    "sio_socket_on_disconnect": (c_int, [c_void_p, DISCONNECT_CB, c_void_p]),
    "sio_socket_on_disconnecting": (c_int, [c_void_p, DISCONNECT_CB, c_void_p]),
    "sio_ack_send": (c_int, [c_void_p, c_char_p, c_size_t, _buffers, c_size_t]),
    "sio_socket_emit": (c_int, [c_void_p, c_char_p, c_char_p, c_size_t, _buffers, c_size_t]),
    "sio_socket_emit_with_ack": (
        c_int,
        [c_void_p, c_char_p, c_char_p, c_size_t, _buffers, c_size_t, c_uint32, ACK_CB, c_void_p],
    ),
    "sio_socket_join": (c_int, [c_void_p, c_char_p]),
    "sio_socket_leave": (c_int, [c_void_p, c_char_p]),
    "sio_socket_transport": (c_char_p, [c_void_p]),
    "sio_socket_disconnect": (c_int, [c_void_p, c_bool]),
    "sio_socket_loop_index": (c_int, [c_void_p]),
    "sio_socket_in_loop": (c_bool, [c_void_p]),
    "sio_socket_post": (c_int, [c_void_p, SOCKET_TASK_CB, c_void_p]),
}


class LibraryNotFound(ImportError):
    """``libsio`` could not be loaded."""


_HOW_TO_GET_IT = (
    "The sio Python package needs the native library libsio.so (the Swift Socket.IO engine). Build it with "
    "scripts/build-libsio.sh in the project (it lands in build/lib/) and either install it where the dynamic "
    "loader finds it (`make install PREFIX=/usr/local && ldconfig`), or point SIO_LIBRARY at the file, e.g. "
    "SIO_LIBRARY=/path/to/build/lib/libsio.so. Or install the wheel that carries it (scripts/build-wheel.sh): "
    "no Swift toolchain needed"
)


#: The copy a wheel from scripts/build-wheel.sh carries next to this file; auditwheel gave it a run path to the C
#: libraries it bundled (``../sio_server.libs``). A source install has none.
BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libsio.so.0")


def _load() -> ctypes.CDLL:
    explicit = os.environ.get("SIO_LIBRARY")
    if explicit:
        try:
            return ctypes.CDLL(explicit)
        except OSError as error:
            raise LibraryNotFound(f"SIO_LIBRARY={explicit!r} cannot be loaded: {error}. {_HOW_TO_GET_IT}") from error
    if os.path.exists(BUNDLED):
        # A wheel's own library, before anything on the system; a broken one is an error, never a silent fallback.
        try:
            return ctypes.CDLL(BUNDLED)
        except OSError as error:
            raise LibraryNotFound(f"the bundled {BUNDLED} cannot be loaded: {error}") from error
    candidates = []
    found = ctypes.util.find_library("sio")
    if found:
        candidates.append(found)
    candidates.append("libsio.so.0")  # the SONAME: found through LD_LIBRARY_PATH even where find_library is not
    errors = []
    for name in candidates:
        try:
            return ctypes.CDLL(name)
        except OSError as error:
            errors.append(f"{name}: {error}")
    detail = "; ".join(errors)
    raise LibraryNotFound(f"libsio was not found ({detail}). {_HOW_TO_GET_IT}")


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    missing = []
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            function = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        function.restype = restype
        function.argtypes = argtypes
    if missing:
        raise LibraryNotFound(f"{lib._name} lacks {', '.join(missing)}: it is not a compatible libsio")
    number = lib.sio_version_number()
    if number // 10000 != ABI_MAJOR or number < MIN_VERSION_NUMBER:
        raise LibraryNotFound(
            f"{lib._name} is libsio {lib.sio_version().decode()} (number {number}); this binding needs "
            f"{ABI_MAJOR}.x, at least number {MIN_VERSION_NUMBER}"
        )
    return lib


lib = _declare(_load())


def strerror(code: int) -> str:
    return (lib.sio_strerror(code) or b"unknown error").decode()


def err_name(code: int) -> str:
    return (lib.sio_err_name(code) or b"SIO_EUNKNOWN").decode()


def c_str(text: str) -> bytes:
    """UTF-8 for a C string argument; NUL bytes cannot cross the C boundary."""
    data = text.encode("utf-8")
    if b"\0" in data:
        raise ValueError(f"{text!r} contains a NUL character")
    return data


def read_args(args: int | None) -> tuple[bytes, list[bytes]]:
    """Copies a borrowed ``sio_args_t``: its JSON text and every attachment."""
    if not args:
        return b"[]", []
    length = c_size_t(0)
    pointer = lib.sio_args_json(args, ctypes.byref(length))
    json_bytes = ctypes.string_at(pointer, length.value) if pointer and length.value else b"[]"
    attachments = []
    count = lib.sio_args_binary_count(args)
    for index in range(count):
        size = c_size_t(0)
        data = lib.sio_args_binary(args, index, ctypes.byref(size))
        attachments.append(ctypes.string_at(data, size.value) if data and size.value else b"")
    return json_bytes, attachments


def buffers(attachments: list[bytes]) -> tuple[ctypes.Array[Buffer] | None, int, list[object]]:
    """A ``sio_buffer_t`` array over `attachments`, and the objects that must stay alive during the call."""
    if not attachments:
        return None, 0, []
    array = (Buffer * len(attachments))()
    keep: list[object] = []
    for index, data in enumerate(attachments):
        if data:
            pointer = c_char_p(data)  # points into the bytes object itself: no copy
            keep.append(pointer)
            keep.append(data)
            array[index].data = ctypes.cast(pointer, c_void_p).value
        else:
            array[index].data = None
        array[index].len = len(data)
    return array, len(attachments), keep


def string_array(names: list[bytes]) -> ctypes.Array[c_char_p] | None:
    if not names:
        return None
    array = (c_char_p * len(names))()
    for index, name in enumerate(names):
        array[index] = name
    return array
