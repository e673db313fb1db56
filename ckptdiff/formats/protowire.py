"""A minimal, strictly bounds-checked decoder for the protobuf wire format (no generated code, no TensorFlow)."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from ckptdiff.errors import CorruptArtifact

WIRE_VARINT = 0
WIRE_FIXED64 = 1
WIRE_LENGTH_DELIMITED = 2
WIRE_START_GROUP = 3
WIRE_END_GROUP = 4
WIRE_FIXED32 = 5

MAX_VARINT_BYTES = 10
"""A 64-bit varint never needs more than 10 bytes; more is corruption, not a longer number."""
MAX_FIELD_NUMBER = (1 << 29) - 1

Buffer = bytes | bytearray | memoryview
FieldValue = int | memoryview
"""An int for varint/fixed fields, a memoryview into the input for length-delimited ones."""
Message = dict[int, list[FieldValue]]
"""A decoded message: field number -> every value it carried, in wire order."""

_FIXED32 = struct.Struct("<I")
_FIXED64 = struct.Struct("<Q")


def read_varint(data: Buffer, pos: int, context: str, end: int | None = None) -> tuple[int, int]:
    """Decode one unsigned base-128 varint.

    Args:
        data: the bytes.
        pos: where the varint starts.
        context: what is being decoded (file and structure), for the error message.
        end: where the readable region stops (len(data) by default).

    Returns:
        The value (0 <= value < 2**64) and the position just after it.

    Raises:
        CorruptArtifact: the varint runs past end or is longer than 10 bytes.
    """
    stop = len(data) if end is None else end
    if pos < stop and data[pos] < 0x80:  # the common one-byte case
        return data[pos], pos + 1
    result = 0
    shift = 0
    for i in range(MAX_VARINT_BYTES):
        if pos + i >= stop:
            raise CorruptArtifact(f"{context}: truncated varint at byte {pos}")
        byte = data[pos + i]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if result >= 1 << 64:
                raise CorruptArtifact(f"{context}: varint at byte {pos} overflows 64 bits")
            return result, pos + i + 1
        shift += 7
    raise CorruptArtifact(f"{context}: varint at byte {pos} is longer than {MAX_VARINT_BYTES} bytes")


def to_signed64(value: int) -> int:
    """Reinterpret a decoded varint as the two's-complement int64 (or int32) protobuf stored."""
    return value - (1 << 64) if value >= 1 << 63 else value


def iter_fields(data: Buffer, context: str) -> Iterator[tuple[int, int, FieldValue]]:
    """Yield (field_number, wire_type, value) for every field of one serialized message.

    Length-delimited values are memoryviews into data (no copy). Groups (wire types 3 and 4,
    deprecated and unused by TensorFlow's protos) are rejected.

    Args:
        data: the serialized message.
        context: what is being decoded, for the error message.

    Raises:
        CorruptArtifact: the bytes are not a well-formed message.
    """
    view = data if isinstance(data, memoryview) else memoryview(data)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    end = len(view)
    pos = 0
    while pos < end:
        tag, pos = read_varint(view, pos, context, end)
        number, wire_type = tag >> 3, tag & 7
        if number == 0 or number > MAX_FIELD_NUMBER:
            raise CorruptArtifact(f"{context}: invalid field number {number} before byte {pos}")
        if wire_type == WIRE_VARINT:
            value, pos = read_varint(view, pos, context, end)
            yield number, wire_type, value
        elif wire_type == WIRE_FIXED64:
            if pos + 8 > end:
                raise CorruptArtifact(f"{context}: truncated fixed64 field {number} at byte {pos}")
            yield number, wire_type, _FIXED64.unpack_from(view, pos)[0]
            pos += 8
        elif wire_type == WIRE_LENGTH_DELIMITED:
            length, pos = read_varint(view, pos, context, end)
            if length > end - pos:
                raise CorruptArtifact(
                    f"{context}: field {number} claims {length} bytes at byte {pos}, only {end - pos} remain"
                )
            yield number, wire_type, view[pos : pos + length]
            pos += length
        elif wire_type == WIRE_FIXED32:
            if pos + 4 > end:
                raise CorruptArtifact(f"{context}: truncated fixed32 field {number} at byte {pos}")
            yield number, wire_type, _FIXED32.unpack_from(view, pos)[0]
            pos += 4
        else:
            raise CorruptArtifact(f"{context}: unsupported wire type {wire_type} for field {number}")


def parse_message(data: Buffer, context: str) -> Message:
    """Decode one message into {field_number: [values in wire order]}.

    Raises:
        CorruptArtifact: the bytes are not a well-formed message.
    """
    fields: Message = {}
    for number, _, value in iter_fields(data, context):
        fields.setdefault(number, []).append(value)
    return fields


def get_int(fields: Message, number: int, context: str, default: int = 0, signed: bool = False) -> int:
    """The last value of a scalar integer field (protobuf's last-one-wins rule), or default."""
    values = fields.get(number)
    if not values:
        return default
    value = values[-1]
    if not isinstance(value, int):
        raise CorruptArtifact(f"{context}: field {number} should be an integer, found bytes")
    return to_signed64(value) if signed else value


def get_bytes(fields: Message, number: int, context: str) -> memoryview | None:
    """The last value of a length-delimited field, or None when absent."""
    values = fields.get(number)
    if not values:
        return None
    value = values[-1]
    if not isinstance(value, memoryview):
        raise CorruptArtifact(f"{context}: field {number} should be length-delimited, found an integer")
    return value


def get_str(fields: Message, number: int, context: str, default: str = "") -> str:
    """The last value of a string field, decoded as UTF-8 (undecodable bytes backslash-escaped)."""
    value = get_bytes(fields, number, context)
    return default if value is None else decode_utf8(value)


def get_repeated_bytes(fields: Message, number: int, context: str) -> list[memoryview]:
    """Every value of a repeated message or string field."""
    values: list[memoryview] = []
    for value in fields.get(number, []):
        if not isinstance(value, memoryview):
            raise CorruptArtifact(f"{context}: field {number} should be length-delimited, found an integer")
        values.append(value)
    return values


def get_repeated_str(fields: Message, number: int, context: str) -> list[str]:
    """Every value of a repeated string field, decoded as UTF-8."""
    return [decode_utf8(v) for v in get_repeated_bytes(fields, number, context)]


def decode_utf8(value: Buffer) -> str:
    """Decode protobuf string bytes; bytes that are not UTF-8 are shown backslash-escaped."""
    return bytes(value).decode("utf-8", errors="backslashreplace")


__all__ = [
    "Message",
    "FieldValue",
    "WIRE_VARINT",
    "WIRE_FIXED64",
    "WIRE_LENGTH_DELIMITED",
    "WIRE_FIXED32",
    "read_varint",
    "to_signed64",
    "iter_fields",
    "parse_message",
    "get_int",
    "get_bytes",
    "get_str",
    "get_repeated_bytes",
    "get_repeated_str",
    "decode_utf8",
]
