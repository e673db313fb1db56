"""A minimal V2 bundle writer for crafted indices (claims no saver would write: 10^12 elements, overlapping entries).

Writes the LevelDB-style table TensorFlow's BundleWriter writes (one data block, an index block, an empty
metaindex block, the 48-byte footer) with BundleHeaderProto and BundleEntryProto values.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import crc32c

TABLE_MAGIC = 0xDB4775248B80FB57
DT_FLOAT = 1
DT_STRING = 7


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value & ((1 << 64) - 1))


def field_bytes(number: int, value: bytes) -> bytes:
    return varint((number << 3) | 2) + varint(len(value)) + value


def field_fixed32(number: int, value: int) -> bytes:
    return varint((number << 3) | 5) + struct.pack("<I", value)


def mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


@dataclass(frozen=True)
class CraftedEntry:
    key: str
    shape: tuple[int, ...]
    offset: int
    size: int
    crc: int
    dtype: int = DT_FLOAT
    shard_id: int = 0

    def encode(self) -> bytes:
        shape = b"".join(field_bytes(2, field_varint(1, d)) for d in self.shape)
        return (
            field_varint(1, self.dtype)
            + field_bytes(2, shape)
            + field_varint(3, self.shard_id)
            + field_varint(4, self.offset)
            + field_varint(5, self.size)
            + field_fixed32(6, self.crc)
        )


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(varint(0) + varint(len(k)) + varint(len(v)) + k + v for k, v in entries)
    return body + struct.pack("<I", 0) + struct.pack("<I", 1)


def _with_trailer(block: bytes) -> bytes:
    return block + b"\0" + struct.pack("<I", mask(crc32c.crc32c(b"\0", crc32c.crc32c(block))))


def write_table(path: Path, items: list[tuple[bytes, bytes]]) -> None:
    """A LevelDB table of the sorted (key, value) items as TensorFlow writes one: a data block, an empty
    metaindex, the index and the footer, each block with its masked CRC32C."""
    data = _block(items)
    out = bytearray(_with_trailer(data))
    data_handle = varint(0) + varint(len(data))
    meta_offset = len(out)
    meta = _block([])
    out += _with_trailer(meta)
    index_offset = len(out)
    index = _block([(items[-1][0] + b"\xff", data_handle)])
    out += _with_trailer(index)
    footer = varint(meta_offset) + varint(len(meta)) + varint(index_offset) + varint(len(index))
    out += footer.ljust(40, b"\0") + struct.pack("<Q", TABLE_MAGIC)
    path.write_bytes(bytes(out))


def write_bundle(prefix: Path, entries: list[CraftedEntry], shard: bytes, num_shards: int = 1) -> None:
    """Write prefix.index (entries sorted by key) and prefix.data-00000-of-0000N holding shard."""
    header = field_varint(1, num_shards) + field_bytes(3, field_varint(1, 1))
    items = [(b"", header)] + sorted((e.key.encode(), e.encode()) for e in entries)
    write_table(Path(f"{prefix}.index"), items)
    Path(f"{prefix}.data-00000-of-{num_shards:05d}").write_bytes(shard)


def float_entry(key: str, values: bytes, offset: int, shape: tuple[int, ...]) -> CraftedEntry:
    """An honest float32 entry for bytes that sit at offset of the shard."""
    return CraftedEntry(key, shape, offset, len(values), mask(crc32c.crc32c(values)))
