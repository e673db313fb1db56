"""V2 checkpoint bundles (`prefix.index` + `prefix.data-*`): parsed natively and memory-mapped, no TensorFlow."""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import crc32c
import numpy as np

from ckptdiff.artifact import (
    FORMAT_TF1_CHECKPOINT,
    FORMAT_TF_CHECKPOINT,
    DEFAULT_CHUNK_ELEMENTS,
    Artifact,
    ObjectGraph,
    TensorEntry,
    TensorSource,
)
from ckptdiff.errors import (
    ArtifactNotFound,
    CorruptArtifact,
    MissingShard,
    NotATable,
    TruncatedShard,
    UnreadableArtifact,
)
from ckptdiff.readers import protowire as pw
from ckptdiff.readers.groups import OBJECT_GRAPH_KEY, classify_key
from ckptdiff.readers.sources import ArraySource, LazySource, MemmapSource

# --- the LevelDB-style table (tensorflow/core/lib/io/table*.cc, format.cc) -------------------------

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

# --- the bundle protos (tensorflow/core/protobuf/tensor_bundle.proto) ------------------------------

HEADER_KEY = b""
HEADER_NUM_SHARDS = 1
HEADER_ENDIANNESS = 2
ENDIANNESS_BIG = 1
ENTRY_DTYPE = 1
ENTRY_SHAPE = 2
ENTRY_SHARD_ID = 3
ENTRY_OFFSET = 4
ENTRY_SIZE = 5
ENTRY_CRC32C = 6
ENTRY_SLICES = 7
SHAPE_DIM = 2
SHAPE_UNKNOWN_RANK = 3
DIM_SIZE = 1

MAX_SHARDS = 1 << 16
"""More shards than this is a corrupt header, not a checkpoint (TensorFlow writes one per device or size policy)."""
EAGER_STRING_BYTES = 64 << 20
"""String tensors up to this size are decoded when the bundle is opened; larger ones on each read."""

DT_STRING = 7
DT_RESOURCE = 20
DT_VARIANT = 21


def _optional_ml_dtypes() -> dict[int, np.dtype]:
    try:
        import ml_dtypes
    except ImportError:
        return {}
    names = {
        14: "bfloat16",
        24: "float8_e5m2",
        25: "float8_e4m3fn",
        26: "float8_e4m3fnuz",
        27: "float8_e4m3b11fnuz",
        28: "float8_e5m2fnuz",
    }
    return {enum: np.dtype(getattr(ml_dtypes, name)) for enum, name in names.items() if hasattr(ml_dtypes, name)}


NUMPY_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("float32"),
    2: np.dtype("float64"),
    3: np.dtype("int32"),
    4: np.dtype("uint8"),
    5: np.dtype("int16"),
    6: np.dtype("int8"),
    8: np.dtype("complex64"),
    9: np.dtype("int64"),
    10: np.dtype("bool"),
    17: np.dtype("uint16"),
    18: np.dtype("complex128"),
    19: np.dtype("float16"),
    22: np.dtype("uint32"),
    23: np.dtype("uint64"),
    **_optional_ml_dtypes(),
}
"""TensorFlow DataType enum -> the numpy dtype of its little-endian on-disk bytes."""

TF_ONLY_DTYPES: dict[int, str] = {
    11: "qint8",
    12: "quint8",
    13: "qint32",
    15: "qint16",
    16: "quint16",
    29: "int4",
    30: "uint4",
    31: "int2",
    32: "uint2",
    33: "float4_e2m1fn",
}
"""DataTypes whose bytes ckptdiff does not decode itself: TensorFlow's reader reads them."""
if 14 not in NUMPY_DTYPES:
    TF_ONLY_DTYPES[14] = "bfloat16"

UNSUPPORTED_DTYPES: dict[int, str] = {0: "invalid", DT_RESOURCE: "resource", DT_VARIANT: "variant"}


def _mask_crc(crc: int) -> int:
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
            f"{what}: block at {handle.offset} of {handle.size} bytes runs past the table's "
            f"{limit} bytes of blocks"
        )
    contents = data[handle.offset : handle.offset + handle.size]
    kind = data[handle.offset + handle.size]
    (stored,) = struct.unpack_from("<I", data, handle.offset + handle.size + 1)
    actual = _mask_crc(crc32c.crc32c(bytes((kind,)), crc32c.crc32c(contents)))
    if stored != actual:
        raise CorruptArtifact(
            f"{what}: block at {handle.offset} fails its CRC32C (stored {stored:#010x}, "
            f"computed {actual:#010x})"
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
        shared, pos = pw.read_varint(block, pos, what, end)
        non_shared, pos = pw.read_varint(block, pos, what, end)
        value_length, pos = pw.read_varint(block, pos, what, end)
        if shared > len(key) or non_shared + value_length > end - pos:
            raise CorruptArtifact(f"{what}: malformed block entry at byte {pos}")
        key = key[:shared] + bytes(block[pos : pos + non_shared])
        pos += non_shared
        yield key, block[pos : pos + value_length]
        pos += value_length


def read_table(path: Path, display: str | None = None) -> list[tuple[bytes, memoryview]]:
    """Read every (key, value) of a LevelDB-style table (a V2 `.index` file, a V1 checkpoint file).

    Every block's CRC32C is checked and keys must be strictly increasing.

    Args:
        path: the table file.
        display: how to name the file in error messages (path by default).

    Returns:
        The entries in stored (sorted) order; values are views into the file's bytes.

    Raises:
        NotATable: the file is too short, lacks the table magic or has block handles outside it.
        CorruptArtifact: a block fails its CRC, is compressed or is malformed.
        UnreadableArtifact: the file cannot be read.
    """
    what = display or str(path)
    try:
        raw = path.read_bytes()
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
    for _, handle_bytes in _iter_block(_read_block(data, index, footer, f"{what}: index block"), f"{what}: index block"):
        handle, _ = _read_handle(handle_bytes, 0, len(handle_bytes), f"{what}: index block")
        block_what = f"{what}: data block at {handle.offset}"
        for key, value in _iter_block(_read_block(data, handle, footer, block_what), block_what):
            if entries and key <= entries[-1][0]:
                raise CorruptArtifact(f"{what}: keys out of order ({key!r} after {entries[-1][0]!r})")
            entries.append((key, value))
    return entries


# --- bundle entries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _StoredEntry:
    """A BundleEntryProto, decoded and checked for self-consistency."""

    key: str
    dtype_enum: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None
    sliced: bool

    @property
    def nelements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def _parse_shape(data: memoryview | None, what: str) -> tuple[int, ...]:
    if data is None:
        return ()
    fields = pw.parse_message(data, what)
    if pw.get_int(fields, SHAPE_UNKNOWN_RANK, what):
        raise CorruptArtifact(f"{what}: stored tensor has unknown rank")
    dims = []
    for dim in pw.get_repeated_bytes(fields, SHAPE_DIM, what):
        size = pw.get_int(pw.parse_message(dim, what), DIM_SIZE, what, signed=True)
        if size < 0:
            raise CorruptArtifact(f"{what}: stored tensor has dimension {size}")
        dims.append(size)
    return tuple(dims)


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int] | None:
    value = shift = 0
    while pos < end and shift < 63:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None


def _fast_shape(buf: bytes, pos: int, end: int) -> tuple[int, ...] | None:
    """TensorShapeProto holding only dims with a size (the common case); None for anything else."""
    dims = []
    while pos < end:
        if buf[pos] != 0x12:  # field 2 (dim), length-delimited
            return None
        got = _varint(buf, pos + 1, end)
        if got is None:
            return None
        length, pos = got
        stop = pos + length
        if stop > end:
            return None
        if length == 0:
            dims.append(0)
        else:
            if buf[pos] != 0x08:  # field 1 (size), varint
                return None
            got = _varint(buf, pos + 1, stop)
            if got is None or got[1] != stop:
                return None
            dims.append(got[0])
        pos = stop
    return tuple(dims)


def _parse_entry_fast(key: str, value: memoryview) -> _StoredEntry | None:
    """Decode a plain BundleEntryProto in one tight loop; None hands anything unusual to the generic decoder.

    An index of 100,000 entries spends most of its time here, so this path avoids building field
    dictionaries. Negative numbers, unknown fields and slices all go the careful way.
    """
    buf = bytes(value)
    end = len(buf)
    pos = 0
    ints = {1: 0, 3: 0, 4: 0, 5: 0}
    shape: tuple[int, ...] = ()
    crc = None
    while pos < end:
        tag = buf[pos]
        pos += 1
        field, wire = tag >> 3, tag & 7
        if wire == 0 and field in ints:
            got = _varint(buf, pos, end)
            if got is None:
                return None
            ints[field], pos = got
        elif wire == 5 and field == ENTRY_CRC32C and pos + 4 <= end:
            crc = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        elif wire == 2 and field == ENTRY_SHAPE:
            got = _varint(buf, pos, end)
            if got is None or got[1] + got[0] > end:
                return None
            length, pos = got
            parsed = _fast_shape(buf, pos, pos + length)
            if parsed is None:
                return None
            shape, pos = parsed, pos + length
        else:
            return None
    return _StoredEntry(key, ints[1], shape, ints[3], ints[4], ints[5], crc, False)


def _parse_entry(key: str, value: memoryview, num_shards: int, what: str) -> _StoredEntry:
    entry = _parse_entry_fast(key, value)
    if entry is None:
        fields = pw.parse_message(value, what)
        crc = fields.get(ENTRY_CRC32C)
        entry = _StoredEntry(
            key=key,
            dtype_enum=pw.get_int(fields, ENTRY_DTYPE, what),
            shape=_parse_shape(pw.get_bytes(fields, ENTRY_SHAPE, what), what),
            shard_id=pw.get_int(fields, ENTRY_SHARD_ID, what, signed=True),
            offset=pw.get_int(fields, ENTRY_OFFSET, what, signed=True),
            size=pw.get_int(fields, ENTRY_SIZE, what, signed=True),
            crc32c=int(crc[-1]) if crc else None,
            sliced=bool(fields.get(ENTRY_SLICES)),
        )
    if entry.sliced:
        return entry
    if not 0 <= entry.shard_id < num_shards:
        raise CorruptArtifact(f"{what}: shard {entry.shard_id} outside the header's {num_shards} shards")
    if entry.offset < 0 or entry.size < 0:
        raise CorruptArtifact(f"{what}: negative offset {entry.offset} or size {entry.size}")
    dtype = NUMPY_DTYPES.get(entry.dtype_enum)
    if dtype is not None and entry.size != entry.nelements * dtype.itemsize:
        raise CorruptArtifact(
            f"{what}: {entry.size} bytes stored for shape {list(entry.shape)} of {dtype.name}, "
            f"expected {entry.nelements * dtype.itemsize}"
        )
    if entry.dtype_enum == DT_STRING and entry.size < entry.nelements + 4:
        raise CorruptArtifact(f"{what}: {entry.size} bytes cannot hold {entry.nelements} strings")
    return entry


def _parse_header(value: memoryview, what: str) -> tuple[int, bool]:
    fields = pw.parse_message(value, f"{what}: header")
    num_shards = pw.get_int(fields, HEADER_NUM_SHARDS, f"{what}: header", signed=True)
    if not 0 <= num_shards <= MAX_SHARDS:
        raise CorruptArtifact(f"{what}: header names {num_shards} shards")
    return num_shards, pw.get_int(fields, HEADER_ENDIANNESS, f"{what}: header") == ENDIANNESS_BIG


def _slice_owner(key: bytes) -> bytes | None:
    """The tensor name a slice key (checkpoint::EncodeTensorNameSlice, OrderedCode) belongs to, if it is one."""
    if not key.startswith(b"\x00"):
        return None
    name = bytearray()
    pos = 1
    while pos + 1 < len(key):
        byte, following = key[pos], key[pos + 1]
        if byte == 0x00 and following == 0x01:
            return bytes(name)
        if byte == 0x00 and following == 0xFF:
            name.append(0x00)
            pos += 2
        elif byte == 0xFF and following == 0x00:
            name.append(0xFF)
            pos += 2
        else:
            name.append(byte)
            pos += 1
    return None


# --- data shards --------------------------------------------------------------------------------


def shard_path(prefix: Path, shard_id: int, num_shards: int) -> Path:
    """The data file of one shard: `prefix.data-00000-of-00001`."""
    return Path(f"{prefix}.data-{shard_id:05d}-of-{num_shards:05d}")


def _map_shard(path: Path, resources: contextlib.ExitStack, display: str) -> mmap.mmap | bytes:
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return b""  # mmap refuses empty files; an empty shard holds only empty tensors
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise MissingShard(f"{display}: data shard {path} is missing") from None
    except OSError as exc:
        raise UnreadableArtifact(f"{display}: cannot map data shard {path} ({exc.strerror})") from None
    resources.callback(_close_map, mapped)
    return mapped


def _close_map(mapped: mmap.mmap) -> None:
    try:
        mapped.close()
    except BufferError:
        pass  # arrays still view the map; it is unmapped when the last of them is collected


def _check_bounds(entries: list[_StoredEntry], shards: list[Path], sizes: list[int]) -> None:
    """Raise once for every tensor whose bytes lie past the end of its shard."""
    short = [e for e in entries if not e.sliced and e.offset + e.size > sizes[e.shard_id]]
    if not short:
        return
    first = short[0]
    others = f" ({len(short) - 1} other tensors lie past its end too)" if len(short) > 1 else ""
    raise TruncatedShard(
        f"{shards[first.shard_id]}: shard is {sizes[first.shard_id]} bytes, but tensor '{first.key}' "
        f"needs bytes {first.offset}..{first.offset + first.size}{others}: the shard is truncated"
    )


# --- string tensors -----------------------------------------------------------------------------


def decode_string_tensor(buffer: bytes | memoryview | mmap.mmap, entry_offset: int, size: int,
                         shape: tuple[int, ...], what: str) -> np.ndarray:
    """Decode a DT_STRING tensor as tensor_bundle.cc writes it.

    Layout: a varint64 length per element, a masked CRC32C of those lengths (each as uint32, or
    uint64 when it does not fit), then the bytes of every element.

    Returns:
        A numpy object array of bytes, shaped.

    Raises:
        CorruptArtifact: lengths run past the tensor, the length checksum fails or bytes are left over.
    """
    data = memoryview(buffer)[entry_offset : entry_offset + size]
    count = 1
    for d in shape:
        count *= d
    pos = 0
    lengths = []
    crc = 0
    for _ in range(count):
        length, pos = pw.read_varint(data, pos, what)
        lengths.append(length)
        crc = crc32c.crc32c(struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length), crc)
    if pos + 4 > len(data):
        raise CorruptArtifact(f"{what}: string tensor ends inside its length checksum")
    (stored,) = struct.unpack_from("<I", data, pos)
    if stored != _mask_crc(crc):
        raise CorruptArtifact(f"{what}: string lengths fail their checksum")
    pos += 4
    if sum(lengths) != len(data) - pos:
        raise CorruptArtifact(f"{what}: string lengths sum to {sum(lengths)}, {len(data) - pos} bytes stored")
    out = np.empty(count, dtype=object)
    for i, length in enumerate(lengths):
        out[i] = bytes(data[pos : pos + length])
        pos += length
    return out.reshape(shape)


@dataclass(frozen=True)
class UnsupportedSource:
    """A tensor whose dtype no reader can turn into numpy values (resource handles, variants)."""

    what: str

    def read(self) -> np.ndarray:
        raise UnreadableArtifact(f"{self.what}: this dtype cannot be read as values")

    def iter_chunks(self, max_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
        raise UnreadableArtifact(f"{self.what}: this dtype cannot be read as values")


def _tf_source(prefix: Path, key: str) -> TensorSource:
    from ckptdiff.readers.tf_v1 import tf_tensor_source

    return tf_tensor_source(str(prefix), key)


def _guarded_tf_source(prefix: Path, key: str, parts: list[_StoredEntry], buffers: list, what: str) -> TensorSource:
    """TensorFlow's reader for a tensor, reached only once the stored CRC32C of every part it reads holds.

    TensorFlow's BundleReader aborts the whole process (a CHECK failure in tensor_bundle.cc) after a
    checksum mismatch in a sliced tensor, so damaged bytes are refused here first.
    """
    source = _tf_source(prefix, key)

    def load() -> np.ndarray:
        for part in parts:
            if part.crc32c is None or part.dtype_enum == DT_STRING:
                continue
            actual = _mask_crc(crc32c.crc32c(memoryview(buffers[part.shard_id])[part.offset : part.offset + part.size]))
            if actual != part.crc32c:
                raise CorruptArtifact(
                    f"{what}: stored bytes fail their CRC32C (stored {part.crc32c:#010x}, computed {actual:#010x}); "
                    "not handed to TensorFlow's reader"
                )
        return source.read()

    return LazySource(load)


def _make_source(e: _StoredEntry, prefix: Path, buffers: list, big_endian: bool, what: str,
                 slices: list[_StoredEntry] | None = None) -> tuple[str, TensorSource]:
    """The dtype name and a source for one stored entry (slices: the parts of a sliced entry)."""
    if e.sliced:
        name = _dtype_name(e.dtype_enum)
        return name, _guarded_tf_source(prefix, e.key, slices or [], buffers, what)
    dtype = NUMPY_DTYPES.get(e.dtype_enum)
    if dtype is not None and big_endian and dtype.itemsize > 1:
        if dtype.kind == "V":  # ml_dtypes types have no byte-swapped numpy form
            return dtype.name, _guarded_tf_source(prefix, e.key, [e], buffers, what)
        return dtype.name, MemmapSource(buffers[e.shard_id], e.offset, dtype.newbyteorder(">"), e.shape)
    if dtype is not None:
        return dtype.name, MemmapSource(buffers[e.shard_id], e.offset, dtype, e.shape)
    if e.dtype_enum == DT_STRING and not big_endian:
        buffer = buffers[e.shard_id]
        load: Callable[[], np.ndarray] = lambda: decode_string_tensor(buffer, e.offset, e.size, e.shape, what)
        if e.size <= EAGER_STRING_BYTES:
            return "string", ArraySource(load())
        return "string", LazySource(load)
    if e.dtype_enum in TF_ONLY_DTYPES or e.dtype_enum == DT_STRING:
        return _dtype_name(e.dtype_enum), _guarded_tf_source(prefix, e.key, [e], buffers, what)
    return _dtype_name(e.dtype_enum), UnsupportedSource(what)


def _dtype_name(enum: int) -> str:
    if enum in NUMPY_DTYPES:
        return NUMPY_DTYPES[enum].name
    if enum == DT_STRING:
        return "string"
    return TF_ONLY_DTYPES.get(enum) or UNSUPPORTED_DTYPES.get(enum) or f"dtype-{enum}"


# --- the reader ---------------------------------------------------------------------------------


def read_tf_bundle(prefix: Path, display: str) -> Artifact:
    """Open a V2 checkpoint bundle without TensorFlow.

    Every check (table CRCs, shard presence, offsets against shard sizes, byte counts against shapes)
    happens here, before any tensor is read. Tensor data CRCs are not checked (see checksum).

    Args:
        prefix: the checkpoint prefix (`dir/ckpt-3` for `dir/ckpt-3.index`).
        display: the path as the user gave it, for messages and Artifact.path.

    Returns:
        An Artifact of format `tf-checkpoint` (with an object graph) or `tf1-checkpoint`; its
        resources own the memory maps, so close it when done.

    Raises:
        NotATable, CorruptArtifact, MissingShard, TruncatedShard, UnreadableArtifact.
    """
    index = Path(f"{prefix}.index")
    what = str(index)
    if not index.is_file():
        raise ArtifactNotFound(f"{display}: index file {index} is missing")
    table = read_table(index, what)
    if not table or table[0][0] != HEADER_KEY:
        raise CorruptArtifact(f"{what}: table has no bundle header (the entry with the empty key)")
    num_shards, big_endian = _parse_header(table[0][1], what)

    stored: list[_StoredEntry] = []
    for raw_key, value in table[1:]:
        key = pw.decode_utf8(raw_key)
        stored.append(_parse_entry(key, value, num_shards, f"{what}: entry '{key}'"))
    if stored and num_shards == 0:
        raise CorruptArtifact(f"{what}: header names 0 shards but the index lists {len(stored)} tensors")

    artifact = Artifact(path=display, format=FORMAT_TF1_CHECKPOINT, entries=(), resolved=str(prefix))
    try:
        shards = [shard_path(prefix, i, num_shards) for i in range(num_shards)]
        buffers = [_map_shard(p, artifact.resources, display) for p in shards]
        _check_bounds(stored, shards, [len(b) for b in buffers])
        entries = _build_entries(stored, [raw for raw, _ in table[1:]], prefix, buffers, big_endian, what)
        graph = _read_graph(entries, what)
    except BaseException:
        artifact.close()
        raise
    if graph is not None:
        from ckptdiff.readers.object_graph import attach_object_paths

        entries = attach_object_paths(entries, graph)
    return replace(
        artifact,
        format=FORMAT_TF_CHECKPOINT if graph is not None else FORMAT_TF1_CHECKPOINT,
        entries=tuple(entries),
        object_graph=graph,
        metadata={"num_shards": num_shards, "big_endian": big_endian},
    )


def _build_entries(stored: list[_StoredEntry], raw_keys: list[bytes], prefix: Path, buffers: list,
                   big_endian: bool, what: str) -> list[TensorEntry]:
    sliced = {raw for raw, e in zip(raw_keys, stored) if e.sliced}
    slice_bytes: dict[bytes, int] = {}
    slices_of: dict[bytes, list[_StoredEntry]] = {}
    hidden = set()
    for raw, e in zip(raw_keys, stored):
        owner = _slice_owner(raw)
        if owner is not None and owner in sliced:
            hidden.add(raw)
            slice_bytes[owner] = slice_bytes.get(owner, 0) + e.size
            slices_of.setdefault(owner, []).append(e)
    entries = []
    for raw, e in zip(raw_keys, stored):
        if raw in hidden:
            continue  # a slice of a partitioned tensor: TensorFlow lists only the whole tensor
        dtype, source = _make_source(e, prefix, buffers, big_endian, f"{what}: tensor '{e.key}'", slices_of.get(raw))
        entries.append(
            TensorEntry(
                key=e.key,
                shape=e.shape,
                dtype=dtype,
                group=classify_key(e.key),
                source=source,
                checksum=None if e.sliced else e.crc32c,
                nbytes=slice_bytes.get(raw, 0) if e.sliced else e.size,
            )
        )
    return entries


def _read_graph(entries: list[TensorEntry], what: str) -> ObjectGraph | None:
    for entry in entries:
        if entry.key == OBJECT_GRAPH_KEY:
            if entry.dtype != "string" or entry.shape != ():
                raise CorruptArtifact(f"{what}: {OBJECT_GRAPH_KEY} is {entry.dtype}{list(entry.shape)}, not a string scalar")
            from ckptdiff.readers.object_graph import read_object_graph

            return read_object_graph(entry.read().item(), f"{what}: {OBJECT_GRAPH_KEY}")
    return None


__all__ = [
    "read_tf_bundle",
    "read_table",
    "decode_string_tensor",
    "decompress_snappy",
    "shard_path",
    "NUMPY_DTYPES",
    "UnsupportedSource",
]
