"""The LevelDB-style table TensorFlow writes for V2 `.index` files and V1 checkpoints: blocks, CRCs, snappy.

See tensorflow/core/lib/io/table*.cc and format.cc. No TensorFlow is imported.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ckptdiff.errors import CorruptArtifact, NotATable, UnreadableArtifact
from ckptdiff.formats import protowire as pw
from ckptdiff.storage import Location, as_location

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
"""Two block handles padded to 40 bytes, then the 8-byte magic."""
BLOCK_TRAILER_SIZE = 5
"""One compression-type byte and a masked CRC32C of the block plus that byte."""
COMPRESSION_NONE = 0
COMPRESSION_SNAPPY = 1
CRC_MASK_DELTA = 0xA282EAD8
SNAPPY_MAX_EXPANSION = 22
"""A 3-byte snappy copy yields at most 64 bytes: a longer claimed output is corruption."""


def crc32c_of(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC32C (Castagnoli) of data continuing crc, by the C-accelerated `crc32c` package (imported on first use)."""
    import crc32c

    return int(crc32c.crc32c(data, crc))


def mask_crc32c(crc: int) -> int:
    """crc32c::Mask: TensorFlow stores CRCs rotated and offset so that CRCs of data holding CRCs stay strong."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + CRC_MASK_DELTA) & 0xFFFFFFFF


@dataclass(frozen=True)
class _BlockHandle:
    offset: int
    size: int


def _read_handle(data: memoryview, pos: int, end: int, what: str) -> tuple[_BlockHandle, int]:
    try:
        offset, pos = pw.read_varint(data, pos, what, end)
        size, pos = pw.read_varint(data, pos, what, end)
    except CorruptArtifact as exc:
        raise NotATable(str(exc)) from None
    return _BlockHandle(offset, size), pos


def _read_block(data: memoryview, handle: _BlockHandle, limit: int, what: str) -> memoryview:
    """Return a block's contents after checking that it lies inside the table and that its CRC holds."""
    if handle.offset + handle.size + BLOCK_TRAILER_SIZE > limit:
        raise NotATable(
            f"{what}: block at {handle.offset} of {handle.size} bytes runs past the table's {limit} bytes of blocks"
        )
    contents = data[handle.offset : handle.offset + handle.size]
    kind = data[handle.offset + handle.size]
    (stored,) = struct.unpack_from("<I", data, handle.offset + handle.size + 1)
    actual = mask_crc32c(crc32c_of(bytes((kind,)), crc32c_of(contents)))
    if stored != actual:
        raise CorruptArtifact(
            f"{what}: block at {handle.offset} fails its CRC32C (stored {stored:#010x}, computed {actual:#010x})"
        )
    if kind == COMPRESSION_SNAPPY:
        return memoryview(decompress_snappy(contents, f"{what}: block at {handle.offset}"))
    if kind != COMPRESSION_NONE:
        raise CorruptArtifact(f"{what}: block at {handle.offset} has unknown compression type {kind}")
    return contents


def decompress_snappy(data: memoryview | bytes, what: str) -> bytes:
    """Decompress one raw snappy block (older TensorFlow compressed table blocks), bounds-checked.

    Raises:
        CorruptArtifact: the block is not valid snappy.
    """
    view = memoryview(data)
    expected, pos = pw.read_varint(view, 0, what)
    if expected > SNAPPY_MAX_EXPANSION * len(view):
        raise CorruptArtifact(f"{what}: snappy block claims {expected} bytes from {len(view)}")
    out = bytearray()
    while pos < len(view):
        tag = view[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal; lengths over 60 follow the tag in 1-4 bytes
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                if pos + extra > len(view):
                    raise CorruptArtifact(f"{what}: truncated snappy literal")
                length = int.from_bytes(view[pos : pos + extra], "little")
                pos += extra
            length += 1
            if pos + length > len(view) or len(out) + length > expected:
                raise CorruptArtifact(f"{what}: snappy literal runs past the block")
            out += view[pos : pos + length]
            pos += length
            continue
        extra = (1, 2, 4)[kind - 1]
        if pos + extra > len(view):
            raise CorruptArtifact(f"{what}: truncated snappy copy")
        if kind == 1:
            length = 4 + ((tag >> 2) & 7)
            offset = ((tag >> 5) << 8) | view[pos]
        else:
            length = 1 + (tag >> 2)
            offset = int.from_bytes(view[pos : pos + extra], "little")
        pos += extra
        if not 0 < offset <= len(out) or len(out) + length > expected:
            raise CorruptArtifact(f"{what}: snappy copy reaches outside the block")
        start = len(out) - offset
        if offset >= length:
            out += out[start : start + length]
        else:  # the copy overlaps what it writes: the last `offset` bytes repeat
            out += (out[start:] * (length // offset + 1))[:length]
    if len(out) != expected:
        raise CorruptArtifact(f"{what}: snappy block gives {len(out)} bytes, its header says {expected}")
    return bytes(out)


def _iter_block(block: memoryview, what: str) -> Iterator[tuple[bytes, memoryview]]:
    """Yield the (key, value) pairs of one block: prefix-compressed entries, then a restart array."""
    if len(block) < 4:
        raise CorruptArtifact(f"{what}: block of {len(block)} bytes has no restart count")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    if num_restarts * 4 + 4 > len(block):
        raise CorruptArtifact(f"{what}: block of {len(block)} bytes claims {num_restarts} restart points")
    end = len(block) - 4 - num_restarts * 4
    pos = 0
    key = b""
    while pos < end:
        # The three lengths are one-byte varints in nearly every entry: read those inline.
        if pos + 3 <= end and block[pos] < 0x80 and block[pos + 1] < 0x80 and block[pos + 2] < 0x80:
            shared, non_shared, value_length = block[pos], block[pos + 1], block[pos + 2]
            pos += 3
        else:
            shared, pos = pw.read_varint(block, pos, what, end)
            non_shared, pos = pw.read_varint(block, pos, what, end)
            value_length, pos = pw.read_varint(block, pos, what, end)
        if shared > len(key) or non_shared + value_length > end - pos:
            raise CorruptArtifact(f"{what}: malformed block entry at byte {pos}")
        key = key[:shared] + bytes(block[pos : pos + non_shared])
        pos += non_shared
        yield key, block[pos : pos + value_length]
        pos += value_length


def read_table(
    location: Location | str | os.PathLike[str], display: str | None = None
) -> list[tuple[bytes, memoryview]]:
    """Read every (key, value) of a LevelDB-style table (a V2 `.index` file, a V1 checkpoint file).

    Every block's CRC32C is checked and keys must be strictly increasing.

    Args:
        location: the table file.
        display: how to name the file in error messages (path by default).

    Returns:
        The entries in stored (sorted) order; values are views into the file's bytes.

    Raises:
        NotATable: the file is too short, lacks the table magic or has block handles outside it.
        CorruptArtifact: a block fails its CRC, is compressed or is malformed.
        UnreadableArtifact: the file cannot be read.
    """
    location = as_location(location)
    what = display or location.display
    try:
        raw = location.read_bytes()
    except OSError as exc:
        raise UnreadableArtifact(f"{what}: cannot read ({exc.strerror})") from None
    if len(raw) < FOOTER_SIZE:
        raise NotATable(f"{what}: {len(raw)} bytes is too short for a table (the footer alone is {FOOTER_SIZE})")
    data = memoryview(raw)
    footer = len(raw) - FOOTER_SIZE
    (magic,) = struct.unpack_from("<Q", data, len(raw) - 8)
    if magic != TABLE_MAGIC:
        raise NotATable(f"{what}: not a table (expected magic {TABLE_MAGIC:#x} at the end, found {magic:#x})")
    metaindex, pos = _read_handle(data, footer, len(raw) - 8, f"{what}: footer")
    index, _ = _read_handle(data, pos, len(raw) - 8, f"{what}: footer")
    _read_block(data, metaindex, footer, f"{what}: metaindex")
    entries: list[tuple[bytes, memoryview]] = []
    for _, handle_bytes in _iter_block(
        _read_block(data, index, footer, f"{what}: index block"), f"{what}: index block"
    ):
        handle, _ = _read_handle(handle_bytes, 0, len(handle_bytes), f"{what}: index block")
        block_what = f"{what}: data block at {handle.offset}"
        for key, value in _iter_block(_read_block(data, handle, footer, block_what), block_what):
            if entries and key <= entries[-1][0]:
                raise CorruptArtifact(f"{what}: keys out of order ({key!r} after {entries[-1][0]!r})")
            entries.append((key, value))
    return entries


TABLE_MAGIC_BYTES = TABLE_MAGIC.to_bytes(8, "little")
"""The last 8 bytes of every table file."""


def has_table_magic(location: Location) -> bool:
    """True when the file ends in the table magic (a V1 checkpoint or a V2 index); never raises."""
    try:
        size = location.size()
        return size >= FOOTER_SIZE and location.read_range(size - 8, 8) == TABLE_MAGIC_BYTES
    except OSError:
        return False
