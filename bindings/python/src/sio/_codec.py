"""Arguments between Python values and the C ABI: a JSON array plus binary attachments.

Outgoing: ``bytes``/``bytearray``/``memoryview`` anywhere in the values become attachments and the JSON holds the
placeholders ``{"_placeholder":true,"num":N}`` in document order, exactly as the Socket.IO wire format does.
Incoming: the JSON array is decoded and each placeholder is replaced by the bytes of its attachment.
"""

from __future__ import annotations

import json
from typing import Any

_decoder = json.JSONDecoder()


def encode(args: tuple[Any, ...] | list[Any]) -> tuple[bytes, list[bytes]]:
    """``(json_array_utf8, attachments)`` for `args`."""
    attachments: list[bytes] = []

    def default(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)):
            attachments.append(bytes(value))
            return {"_placeholder": True, "num": len(attachments) - 1}
        if isinstance(value, (set, frozenset)):
            return list(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    values = list(args)
    text = json.dumps(values, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=default)
    try:
        return text.encode("utf-8"), attachments
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800") has no UTF-8 form: escape non-ASCII instead (still valid JSON, same value).
        attachments.clear()
        text = json.dumps(values, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=default)
        return text.encode("ascii"), attachments


def decode(json_bytes: bytes, attachments: list[bytes]) -> list[Any]:
    """The argument list of an incoming event or ack, with placeholders turned back into bytes."""
    if not json_bytes:
        return []
    if not attachments:
        values = json.loads(json_bytes)
    else:
        count = len(attachments)

        def hook(obj: dict[str, Any]) -> Any:
            if obj.get("_placeholder") is True and len(obj) == 2:
                num = obj.get("num")
                if type(num) is int and 0 <= num < count:
                    return attachments[num]
            return obj

        values = json.loads(json_bytes, object_hook=hook)
    if not isinstance(values, list):
        raise ValueError("arguments are not a JSON array")
    return values
