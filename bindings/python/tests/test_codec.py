"""The argument codec (no server needed)."""

from __future__ import annotations

import json

import pytest

from sio import _codec


def test_bytes_become_placeholders_in_document_order():
    payload, attachments = _codec.encode(("a", {"x": b"1", "y": [bytearray(b"2"), memoryview(b"3")]}, b""))
    assert json.loads(payload) == ["a", {"x": {"_placeholder": True, "num": 0},
                                         "y": [{"_placeholder": True, "num": 1}, {"_placeholder": True, "num": 2}]},
                                   {"_placeholder": True, "num": 3}]
    assert attachments == [b"1", b"2", b"3", b""]
    assert _codec.decode(payload, attachments) == ["a", {"x": b"1", "y": [b"2", b"3"]}, b""]


def test_compact_utf8_json():
    payload, attachments = _codec.encode(("é ✓", {"k": [1, 2.5, None, True]}))
    assert payload == '["é ✓",{"k":[1,2.5,null,true]}]'.encode()
    assert attachments == []


def test_lone_surrogate_falls_back_to_ascii_escapes():
    payload, _ = _codec.encode(("\ud800", "é"))
    assert payload == b'["\\ud800","\\u00e9"]'


def test_placeholders_without_attachments_stay_objects():
    data = b'[{"_placeholder":true,"num":0}]'
    assert _codec.decode(data, []) == [{"_placeholder": True, "num": 0}]
    assert _codec.decode(b'[{"_placeholder":true,"num":5}]', [b"x"]) == [{"_placeholder": True, "num": 5}]


def test_unserializable_values_raise():
    with pytest.raises(TypeError):
        _codec.encode((object(),))
    with pytest.raises(ValueError):
        _codec.encode((float("inf"),))
    assert json.loads(_codec.encode(({1, 2},))[0]) in ([[1, 2]], [[2, 1]])
