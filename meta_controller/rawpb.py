"""Protobuf messages with one large ``bytes`` field, without protobuf's copies of that field.

protobuf (upb) copies a ``bytes`` field when it parses a message and again on every read of the
field, and the constructor and the serializer copy it once more each: three to four copies of
every 4 MiB chunk the meta-controller moves. `split` lifts the field out of the serialized
message (a view, no copy; protobuf parses the rest as usual) and `join` serializes a message
and the field in one copy. The bytes on the wire are protobuf's own: a field is a key varint
(``number << 3 | wire type``), then for a length-delimited field (wire type 2) a length varint
and the bytes; fields may come in any order and, for a field that is not repeated, the last one
wins (`split` does the same). A malformed message raises protobuf's `DecodeError`, as
``FromString`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from google.protobuf.message import DecodeError, Message

__all__ = ["Raw", "deserializer", "join", "serializer", "split"]

M = TypeVar("M", bound=Message)

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
_MAX_FIELD: Final = (1 << 29) - 1


@dataclass(frozen=True)
class Raw(Generic[M]):
    """A message and its large ``bytes`` field, kept apart: ``message`` has that field empty."""

    message: M
    data: bytes | memoryview


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 64:
            raise DecodeError("varint longer than 10 bytes")


def _put_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def split(raw: bytes, field: int) -> tuple[bytes, memoryview]:
    """(the message without field ``field``, that field's bytes as a view into ``raw``)."""
    buf = memoryview(raw)
    rest: list[memoryview] = []
    data = buf[:0]
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _varint(buf, pos)
        number, kind = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if kind == _VARINT:
            _, pos = _varint(buf, pos)
        elif kind == _FIXED64:
            pos += 8
        elif kind == _FIXED32:
            pos += 4
        elif kind == _LEN:
            length, pos = _varint(buf, pos)
            if number == field:
                if pos + length > len(buf):
                    raise DecodeError("truncated length-delimited field")
                data = buf[pos : pos + length]
                pos += length
                continue
            pos += length
        else:  # groups (3, 4) are not used by proto3 messages
            raise DecodeError(f"unsupported wire type {kind}")
        if pos > len(buf):
            raise DecodeError("truncated field")
        rest.append(buf[start:pos])
    return b"".join(rest), data


def join(message: Message, field: int, data: bytes | memoryview) -> bytes:
    """``message`` serialized with ``data`` as its length-delimited field ``field`` (one copy of
    ``data``; ``message`` must not set that field itself). Byte for byte protobuf's own output
    when ``field`` has the highest number of the fields set."""
    if not 0 < field <= _MAX_FIELD:
        raise ValueError(f"field number {field}")
    if not len(data):  # proto3 does not write an empty bytes field
        return message.SerializeToString()
    head = _put_varint(field << 3 | _LEN) + _put_varint(len(data))
    return b"".join((message.SerializeToString(), head, data))


def deserializer(cls: type[M], field: int) -> Callable[[bytes], Raw[M]]:
    """A gRPC deserializer of ``cls`` messages keeping field ``field`` as a view (no copy)."""

    def parse(raw: bytes) -> Raw[M]:
        rest, data = split(raw, field)
        return Raw(cls.FromString(rest), data)

    return parse


def serializer(field: int) -> Callable[[Raw[M]], bytes]:
    """A gRPC serializer of `Raw` messages whose ``data`` is field ``field``."""

    def serialize(raw: Raw[M]) -> bytes:
        return join(raw.message, field, raw.data)

    return serialize
