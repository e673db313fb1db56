"""V2 checkpoint bundles (`prefix.index` + `prefix.data-*`): parsed natively and memory-mapped, no TensorFlow."""

from __future__ import annotations

import contextlib
import functools
import mmap
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

import numpy as np

from ckptdiff.artifact import (
    DEFAULT_CHUNK_ELEMENTS,
    Artifact,
    Format,
    ObjectGraph,
    TensorEntry,
    TensorSource,
    element_count,
)
from ckptdiff.errors import (
    ArtifactNotFound,
    CorruptArtifact,
    MissingShard,
    TruncatedShard,
    UnreadableArtifact,
)
from ckptdiff.formats import protowire as pw
from ckptdiff.formats.groups import OBJECT_GRAPH_KEY, classify_key
from ckptdiff.formats.interface import ArtifactKind, Detection
from ckptdiff.formats.leveldb_table import crc32c_of, mask_crc32c, read_table
from ckptdiff.formats.sources import ArraySource, LazySource, MemmapSource, RangeSource, window
from ckptdiff.integrity import IntegrityProblem, IntegrityReport, ProblemKind, VerifyMethod
from ckptdiff.records import quick_init
from ckptdiff.storage import Location, as_location
from ckptdiff.storage.interface import SliceableBytes

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


ML_DTYPE_NAMES = {
    14: "bfloat16",
    24: "float8_e5m2",
    25: "float8_e4m3fn",
    26: "float8_e4m3fnuz",
    27: "float8_e4m3b11fnuz",
    28: "float8_e5m2fnuz",
}
"""DataTypes numpy knows only through ml_dtypes, imported on the first tensor of one (it costs 0.6 s)."""


@functools.cache
def _ml_dtypes() -> dict[int, np.dtype]:
    try:
        import ml_dtypes
    except ImportError:
        return {}
    return {e: np.dtype(getattr(ml_dtypes, n)) for e, n in ML_DTYPE_NAMES.items() if hasattr(ml_dtypes, n)}


BASE_DTYPES: dict[int, np.dtype] = {
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
}
"""TensorFlow DataType enum -> the numpy dtype of its little-endian on-disk bytes (numpy's own)."""


def numpy_dtype(enum: int) -> np.dtype | None:
    """The numpy dtype of a DataType's on-disk bytes, None when ckptdiff does not decode it itself."""
    if enum in BASE_DTYPES:
        return BASE_DTYPES[enum]
    if enum in ML_DTYPE_NAMES:
        return _ml_dtypes().get(enum)
    return None


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
"""DataTypes whose bytes ckptdiff does not decode itself: TensorFlow's reader reads them (and the
ml_dtypes ones when ml_dtypes is missing)."""


def _tf_only(enum: int) -> bool:
    return enum in TF_ONLY_DTYPES or (enum in ML_DTYPE_NAMES and numpy_dtype(enum) is None)


UNSUPPORTED_DTYPES: dict[int, str] = {0: "invalid", DT_RESOURCE: "resource", DT_VARIANT: "variant"}


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
    sliced: int
    """How many slices a partitioned tensor's own entry lists (0: a tensor stored whole)."""

    @property
    def nelements(self) -> int:
        return element_count(self.shape)


quick_init(_StoredEntry)


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


_ENTRY_TAIL = re.compile(
    rb"(?:\x18([\x80-\xff]{0,8}[\x00-\x7f]))?"  # shard_id, a varint of at most 63 bits
    rb"(?:\x20([\x80-\xff]{0,8}[\x00-\x7f]))?"  # offset
    rb"(?:\x28([\x80-\xff]{0,8}[\x00-\x7f]))?"  # size
    rb"(?:\x35(.{4}))?\Z",  # crc32c, fixed32
    re.DOTALL,
)
"""The fields after the shape, in the order TensorFlow's serializer writes them (zeros left out, as proto3 does)."""


def _uvarint(raw: bytes | None) -> int:
    """The value of a whole varint (its bytes as _ENTRY_TAIL captured them); 0 for an absent field."""
    if not raw:
        return 0
    if len(raw) == 1:
        return raw[0]
    value = 0
    for i, byte in enumerate(raw):
        value |= (byte & 0x7F) << (7 * i)
    return value


Heads = dict[bytes, tuple[int, tuple[int, ...]]]
"""Decoded (dtype enum, shape) by the bytes of an entry's first two fields, shared across one index."""


def _parse_entry_fast(key: str, value: memoryview, heads: Heads) -> _StoredEntry | None:
    """Decode a plain BundleEntryProto; None hands anything unusual to the generic decoder.

    An index of 100,000 entries spends most of its time here. An entry TensorFlow wrote starts with its
    dtype and shape, which many entries share: those bytes are decoded once per index (`heads`), and the
    offset, size and CRC after them are matched by one regular expression. Entries laid out any other way
    go through a field loop, and anything that loop does not know through the generic decoder.
    """
    buf = bytes(value)
    end = len(buf)
    if end > 3 and buf[0] == 0x08 and buf[1] < 0x80 and buf[2] == 0x12 and buf[3] < 0x80 and 4 + buf[3] <= end:
        stop = 4 + buf[3]
        head = buf[:stop]
        known = heads.get(head)
        if known is None:
            shape = _fast_shape(buf, 4, stop)
            if shape is not None:
                known = heads[head] = (buf[1], shape)
        tail = _ENTRY_TAIL.match(buf, stop) if known is not None else None
        if known is not None and tail is not None:
            shard, offset, size, crc = tail.groups()
            return _StoredEntry(
                key,
                known[0],
                known[1],
                _uvarint(shard),
                _uvarint(offset),
                _uvarint(size),
                None if crc is None else int.from_bytes(crc, "little"),
                False,
            )
    return _parse_entry_loop(key, buf)


def _parse_entry_loop(key: str, buf: bytes) -> _StoredEntry | None:
    """Decode a plain BundleEntryProto in one loop, fields in any order; None hands anything unusual to the generic
    decoder (negative numbers, unknown fields and slices all go the careful way)."""
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
    return _StoredEntry(key, ints[1], shape, ints[3], ints[4], ints[5], crc, 0)


def _parse_entry_generic(key: str, value: memoryview, what: str) -> _StoredEntry:
    """Decode any BundleEntryProto with the generic wire decoder (the fast paths' oracle in the tests)."""
    fields = pw.parse_message(value, what)
    crc = fields.get(ENTRY_CRC32C)
    return _StoredEntry(
        key=key,
        dtype_enum=pw.get_int(fields, ENTRY_DTYPE, what),
        shape=_parse_shape(pw.get_bytes(fields, ENTRY_SHAPE, what), what),
        shard_id=pw.get_int(fields, ENTRY_SHARD_ID, what, signed=True),
        offset=pw.get_int(fields, ENTRY_OFFSET, what, signed=True),
        size=pw.get_int(fields, ENTRY_SIZE, what, signed=True),
        crc32c=int(crc[-1]) if crc else None,
        sliced=len(fields.get(ENTRY_SLICES) or ()),
    )


def _parse_entry(key: str, value: memoryview, num_shards: int, what: str, heads: Heads | None = None) -> _StoredEntry:
    entry = _parse_entry_fast(key, value, {} if heads is None else heads) or _parse_entry_generic(key, value, what)
    if entry.sliced:
        return entry
    if not 0 <= entry.shard_id < num_shards:
        raise CorruptArtifact(f"{what}: shard {entry.shard_id} outside the header's {num_shards} shards")
    if entry.offset < 0 or entry.size < 0:
        raise CorruptArtifact(f"{what}: negative offset {entry.offset} or size {entry.size}")
    dtype = numpy_dtype(entry.dtype_enum)
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


def shard_path(prefix: Location, shard_id: int, num_shards: int) -> Location:
    """The data file of one shard: `prefix.data-00000-of-00001`."""
    return prefix.with_suffix(f".data-{shard_id:05d}-of-{num_shards:05d}")


def _map_shard(path: Location, resources: contextlib.ExitStack, display: str) -> mmap.mmap | bytes | SliceableBytes:
    try:
        mapped = path.map()  # an empty shard (only empty tensors) maps to b""
    except FileNotFoundError:
        raise MissingShard(f"{display}: data shard {path} is missing") from None
    except OSError as exc:
        raise UnreadableArtifact(f"{display}: cannot map data shard {path} ({exc.strerror})") from None
    if isinstance(mapped, mmap.mmap):
        resources.callback(_close_map, mapped)
    return mapped


def _close_map(mapped: mmap.mmap) -> None:
    with contextlib.suppress(BufferError):  # arrays still view the map: unmapped when the last one goes
        mapped.close()


def _check_bounds(entries: list[_StoredEntry], shards: list[Location], sizes: list[int]) -> None:
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


def decode_string_tensor(
    buffer: bytes | memoryview | mmap.mmap, entry_offset: int, size: int, shape: tuple[int, ...], what: str
) -> np.ndarray:
    """Decode a DT_STRING tensor as tensor_bundle.cc writes it.

    Layout: a varint64 length per element, a masked CRC32C of those lengths (each as uint32, or
    uint64 when it does not fit), then the bytes of every element.

    Returns:
        A numpy object array of bytes, shaped.

    Raises:
        CorruptArtifact: lengths run past the tensor, the length checksum fails or bytes are left over.
    """
    data = memoryview(window(buffer, entry_offset, entry_offset + size))
    count = element_count(shape)
    pos = 0
    lengths = []
    crc = 0
    for _ in range(count):
        length, pos = pw.read_varint(data, pos, what)
        lengths.append(length)
        crc = crc32c_of(struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length), crc)
    if pos + 4 > len(data):
        raise CorruptArtifact(f"{what}: string tensor ends inside its length checksum")
    (stored,) = struct.unpack_from("<I", data, pos)
    if stored != mask_crc32c(crc):
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


def _tf_source(prefix: Location, key: str) -> TensorSource:
    from ckptdiff.formats.tf_v1 import tf_tensor_source

    if prefix.local_path is None:
        # TensorFlow reads local files only: a remote bundle is copied once to a private temporary folder
        # (index and data shards, never anything else) when a partitioned tensor is first read.
        return LazySource(lambda: tf_tensor_source(_local_copy(prefix), key).read())
    return tf_tensor_source(str(prefix.local_path or prefix.display), key)


_LOCAL_COPIES: dict[str, Any] = {}


def _local_copy(prefix: Location) -> str:
    """The prefix of a local copy of a remote bundle (made once per process, removed at exit)."""
    import tempfile

    if prefix.display not in _LOCAL_COPIES:
        folder = tempfile.TemporaryDirectory(prefix="ckptdiff-bundle-")
        index = prefix.with_suffix(".index")
        with open(f"{folder.name}/{prefix.name}.index", "wb") as f:
            f.write(index.read_bytes())
        num_shards = read_bundle_index(prefix, prefix.display).num_shards
        for i in range(num_shards):
            shard = shard_path(prefix, i, num_shards)
            with open(f"{folder.name}/{shard.name}", "wb") as f:
                f.write(shard.read_bytes())
        _LOCAL_COPIES[prefix.display] = folder
    return f"{_LOCAL_COPIES[prefix.display].name}/{prefix.name}"


def _guarded_tf_source(prefix: Location, key: str, parts: list[_StoredEntry], buffers: list, what: str) -> TensorSource:
    """TensorFlow's reader for a tensor, reached only once the stored CRC32C of every part it reads holds.

    TensorFlow's BundleReader aborts the whole process (a CHECK failure in tensor_bundle.cc) after a
    checksum mismatch in a sliced tensor, so damaged bytes are refused here first.
    """
    source = _tf_source(prefix, key)

    def load() -> np.ndarray:
        for part in parts:
            if part.dtype_enum == DT_STRING:
                continue
            actual = mask_crc32c(crc32c_of(window(buffers[part.shard_id], part.offset, part.offset + part.size)))
            if actual != stored_crc32c(part):
                raise CorruptArtifact(
                    f"{what}: stored bytes fail their CRC32C (stored {stored_crc32c(part):#010x}, computed "
                    f"{actual:#010x}); "
                    "not handed to TensorFlow's reader"
                )
        return source.read()

    return LazySource(load)


def _make_source(
    e: _StoredEntry,
    prefix: Location,
    buffers: list,
    big_endian: bool,
    what: str,
    slices: list[_StoredEntry] | None = None,
) -> tuple[str, TensorSource]:
    """The dtype name and a source for one stored entry (slices: the parts of a sliced entry; what: the index, for
    messages)."""
    dtype = None if e.sliced else numpy_dtype(e.dtype_enum)
    if dtype is not None and (not big_endian or dtype.itemsize == 1):  # the common case first
        return _name(dtype), _raw_source(buffers[e.shard_id], e.offset, dtype, e.shape)
    what = f"{what}: tensor '{e.key}'"
    if e.sliced:
        name = _dtype_name(e.dtype_enum)
        return name, _guarded_tf_source(prefix, e.key, slices or [], buffers, what)
    if dtype is not None and big_endian and dtype.itemsize > 1:
        if dtype.kind == "V":  # ml_dtypes types have no byte-swapped numpy form
            return _name(dtype), _guarded_tf_source(prefix, e.key, [e], buffers, what)
        return _name(dtype), _raw_source(buffers[e.shard_id], e.offset, dtype.newbyteorder(">"), e.shape)
    if e.dtype_enum == DT_STRING and not big_endian:
        buffer = buffers[e.shard_id]
        load: Callable[[], np.ndarray] = lambda: decode_string_tensor(buffer, e.offset, e.size, e.shape, what)
        if e.size <= EAGER_STRING_BYTES:
            return "string", ArraySource(load())
        return "string", LazySource(load)
    if _tf_only(e.dtype_enum) or e.dtype_enum == DT_STRING:
        return _dtype_name(e.dtype_enum), _guarded_tf_source(prefix, e.key, [e], buffers, what)
    return _dtype_name(e.dtype_enum), UnsupportedSource(what)


@functools.cache
def _name(dtype: np.dtype) -> str:
    """dtype.name, which numpy computes in Python on every access (a measurable cost over 100,000 entries)."""
    return dtype.name


def _raw_source(buffer: Any, offset: int, dtype: np.dtype, shape: tuple[int, ...]) -> TensorSource:
    """Raw bytes in a shard: memory-mapped locally, fetched by range requests from a remote store."""
    if isinstance(buffer, mmap.mmap | bytes | memoryview):
        return MemmapSource(buffer, offset, dtype, shape)
    return RangeSource(buffer, offset, dtype, shape)


def _dtype_name(enum: int) -> str:
    dtype = numpy_dtype(enum)
    if dtype is not None:
        return _name(dtype)
    if enum == DT_STRING:
        return "string"
    return TF_ONLY_DTYPES.get(enum) or ML_DTYPE_NAMES.get(enum) or UNSUPPORTED_DTYPES.get(enum) or f"dtype-{enum}"


# --- the reader ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleIndex:
    """A `.index` file decoded: the header and every entry, checked for self-consistency."""

    num_shards: int
    big_endian: bool
    stored: list[_StoredEntry]
    raw_keys: list[bytes]


def read_bundle_index(prefix: Location, display: str) -> BundleIndex:
    """Read and check `prefix.index` (the one decoder of bundle indexes; open and verify share it).

    Raises:
        ArtifactNotFound, NotATable, CorruptArtifact, UnreadableArtifact.
    """
    index = prefix.with_suffix(".index")
    what = index.display
    if not index.is_file():
        raise ArtifactNotFound(f"{display}: index file {index} is missing")
    table = read_table(index, what)
    if not table or table[0][0] != HEADER_KEY:
        raise CorruptArtifact(f"{what}: table has no bundle header (the entry with the empty key)")
    num_shards, big_endian = _parse_header(table[0][1], what)
    stored: list[_StoredEntry] = []
    heads: Heads = {}
    for raw_key, value in table[1:]:
        key = pw.decode_utf8(raw_key)
        stored.append(_parse_entry(key, value, num_shards, f"{what}: entry '{key}'", heads))
    if stored and num_shards == 0:
        raise CorruptArtifact(f"{what}: header names 0 shards but the index lists {len(stored)} tensors")
    return BundleIndex(num_shards, big_endian, stored, [raw for raw, _ in table[1:]])


def read_tf_bundle(prefix: Location | str | os.PathLike[str], display: str) -> Artifact:
    """Open a V2 checkpoint bundle without TensorFlow.

    Every check (table CRCs, shard presence, offsets against shard sizes, byte counts against shapes)
    happens here, before any tensor is read. Tensor data CRCs are not checked (see verify_bundle).

    Args:
        prefix: the checkpoint prefix (`dir/ckpt-3` for `dir/ckpt-3.index`).
        display: the path as the user gave it, for messages and Artifact.path.

    Returns:
        An Artifact of format `tf-checkpoint` (with an object graph) or `tf1-checkpoint`; its
        resources own the memory maps, so close it when done.

    Raises:
        NotATable, CorruptArtifact, MissingShard, TruncatedShard, UnreadableArtifact.
    """
    prefix = as_location(prefix)
    index = read_bundle_index(prefix, display)
    what = prefix.with_suffix(".index").display
    num_shards, stored = index.num_shards, index.stored
    artifact = Artifact(
        path=display, format=Format.TF1_CHECKPOINT, entries=(), resolved=prefix.display, location=prefix
    )
    try:
        shards = [shard_path(prefix, i, num_shards) for i in range(num_shards)]
        buffers = [_map_shard(p, artifact.resources, display) for p in shards]
        _check_bounds(stored, shards, [len(b) for b in buffers])
        entries = _build_entries(stored, index.raw_keys, prefix, buffers, index.big_endian, what)
        graph = _read_graph(entries, what)
    except BaseException:
        artifact.close()
        raise
    if graph is not None:
        from ckptdiff.formats.object_graph import attach_object_paths

        entries = attach_object_paths(entries, graph)
    return replace(
        artifact,
        format=Format.TF_CHECKPOINT if graph is not None else Format.TF1_CHECKPOINT,
        entries=tuple(entries),
        object_graph=graph,
        metadata={"num_shards": num_shards, "big_endian": index.big_endian},
    )


def _build_entries(
    stored: list[_StoredEntry], raw_keys: list[bytes], prefix: Location, buffers: list, big_endian: bool, what: str
) -> list[TensorEntry]:
    sliced = {raw for raw, e in zip(raw_keys, stored) if e.sliced}
    slice_bytes: dict[bytes, int] = {}
    slices_of: dict[bytes, list[_StoredEntry]] = {}
    hidden = set()
    for raw, e in zip(raw_keys, stored) if sliced else ():
        owner = _slice_owner(raw)
        if owner is not None and owner in sliced:
            hidden.add(raw)
            slice_bytes[owner] = slice_bytes.get(owner, 0) + e.size
            slices_of.setdefault(owner, []).append(e)
    entries = []
    for raw, e in zip(raw_keys, stored):
        if raw in hidden:
            continue  # a slice of a partitioned tensor: TensorFlow lists only the whole tensor
        dtype, source = _make_source(e, prefix, buffers, big_endian, what, slices_of.get(raw) if sliced else None)
        entries.append(  # positional (key, shape, dtype, group, source, paths, checksum, nbytes): once per entry
            TensorEntry(
                e.key,
                e.shape,
                dtype,
                classify_key(e.key),
                source,
                (),
                None if e.sliced else e.crc32c,
                slice_bytes.get(raw, 0) if e.sliced else e.size,
            )
        )
    return entries


def _read_graph(entries: list[TensorEntry], what: str) -> ObjectGraph | None:
    for entry in entries:
        if entry.key == OBJECT_GRAPH_KEY:
            if entry.dtype != "string" or entry.shape != ():
                raise CorruptArtifact(
                    f"{what}: {OBJECT_GRAPH_KEY} is {entry.dtype}{list(entry.shape)}, not a string scalar"
                )
            from ckptdiff.formats.object_graph import read_object_graph

            return read_object_graph(entry.read().item(), f"{what}: {OBJECT_GRAPH_KEY}")
    return None


# --- integrity ------------------------------------------------------------------------------------

READ_CHUNK_BYTES = 1 << 20
MAX_STRING_TENSOR_BYTES = 256 << 20
NO_CRC_FIELD = " (no CRC field: 0, as TensorFlow reads it)"
"""String tensors are verified in memory up to this size (checkpoints store a few KB of strings)."""


def verify_bundle(prefix: Location, display: str) -> tuple[int, list[IntegrityProblem], list[str]]:
    """Check the CRC32C of every tensor of a V2 bundle and that no two entries share bytes.

    Each tensor's CRC32C is the one TensorFlow's BundleWriter stores, masked (`crc32c::Mask`), over
    the tensor's bytes; for string tensors over the element lengths (as uint32, or uint64 past
    4 GiB), the masked length checksum and the bytes, as tensor_bundle.cc's WriteStringTensor
    computes it.

    Args:
        prefix: the bundle prefix (`dir/ckpt-2`, `saved_model/variables/variables`).
        display: the user's path, for notes.

    Returns:
        (tensors checked, problems, notes).
    """
    index = read_bundle_index(prefix, display)
    stored = [e for e in index.stored if not e.sliced]  # a partitioned tensor's own entry has no bytes
    problems: list[IntegrityProblem] = _missing_slices(index)
    notes: list[str] = []
    checked = 0
    unchecked: list[str] = []
    too_big: list[str] = []
    for shard_id in range(index.num_shards):
        in_shard = sorted((e for e in stored if e.shard_id == shard_id), key=lambda e: (e.offset, e.size))
        if not in_shard:
            continue
        shard = shard_path(prefix, shard_id, index.num_shards)
        problems += _overlaps(in_shard, shard)
        try:
            f = shard.open_binary()
        except OSError as exc:
            problems += [IntegrityProblem(e.key, ProblemKind.UNREADABLE, f"{shard}: {exc.strerror}") for e in in_shard]
            continue
        with f:
            for entry in in_shard:
                if entry.dtype_enum in (DT_VARIANT, DT_RESOURCE):
                    unchecked.append(entry.key)
                    continue
                if entry.dtype_enum == DT_STRING and entry.size > MAX_STRING_TENSOR_BYTES:
                    too_big.append(entry.key)
                    continue
                problem = _check_entry(f, entry, shard)
                checked += 1
                if problem is not None:
                    problems.append(problem)
    if unchecked:
        notes.append(
            f"{len(unchecked)} tensor(s) carry no checksum ckptdiff can recompute (variant or resource dtype): "
            f"{', '.join(unchecked[:3])}"
        )
    if too_big:
        notes.append(
            f"{len(too_big)} string tensor(s) over {MAX_STRING_TENSOR_BYTES >> 20} MiB not verified (not counted as "
            f"checked): {', '.join(too_big[:3])}"
        )
    return checked, problems, notes


def _missing_slices(index: BundleIndex) -> list[IntegrityProblem]:
    """Partitioned tensors whose entry lists more slices than the index holds (TensorFlow's reader fails on them)."""
    listed = {raw: e for raw, e in zip(index.raw_keys, index.stored) if e.sliced}
    if not listed:
        return []
    present: dict[bytes, int] = {}
    for raw in index.raw_keys:
        owner = _slice_owner(raw)
        if owner is not None and owner in listed:
            present[owner] = present.get(owner, 0) + 1
    return [
        IntegrityProblem(
            e.key,
            ProblemKind.DANGLING,
            f"its entry lists {e.sliced} slices, the index holds {present.get(raw, 0)}: the tensor cannot be assembled",
        )
        for raw, e in listed.items()
        if present.get(raw, 0) < e.sliced
    ]


def _overlaps(in_shard: list[_StoredEntry], shard: Location) -> list[IntegrityProblem]:
    problems = []
    widest: _StoredEntry | None = None
    for entry in in_shard:
        if entry.size == 0:
            continue
        if widest is not None and entry.offset < widest.offset + widest.size:
            problems.append(
                IntegrityProblem(
                    entry.key,
                    ProblemKind.OVERLAP,
                    f"bytes {entry.offset}..{entry.offset + entry.size} of {shard.name} overlap those of "
                    f"'{widest.key}' ({widest.offset}..{widest.offset + widest.size}): the index is corrupt",
                )
            )
        if widest is None or entry.offset + entry.size > widest.offset + widest.size:
            widest = entry
    return problems


def _iter_bytes(f: BinaryIO, offset: int, size: int) -> Iterator[bytes]:
    f.seek(offset)
    left = size
    while left > 0:
        chunk = f.read(min(READ_CHUNK_BYTES, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def _check_entry(f: BinaryIO, entry: _StoredEntry, shard: Location) -> IntegrityProblem | None:
    where = f"{entry.size} bytes at offset {entry.offset} of {shard.name}"
    if entry.dtype_enum == DT_STRING:
        if entry.size > MAX_STRING_TENSOR_BYTES:
            return None
        data = b"".join(_iter_bytes(f, entry.offset, entry.size))
        if len(data) < entry.size:
            return IntegrityProblem(entry.key, ProblemKind.TRUNCATED, f"{shard.name} ends inside the tensor ({where})")
        actual = _string_tensor_crc(data, entry.nelements)
        if actual is None:
            return IntegrityProblem(entry.key, ProblemKind.CRC, f"string lengths run past the tensor ({where})")
    else:
        crc = 0
        seen = 0
        for chunk in _iter_bytes(f, entry.offset, entry.size):
            crc = crc32c_of(chunk, crc)
            seen += len(chunk)
        if seen < entry.size:
            return IntegrityProblem(entry.key, ProblemKind.TRUNCATED, f"{shard.name} ends inside the tensor ({where})")
        actual = crc
    masked = mask_crc32c(actual)
    stored = stored_crc32c(entry)
    if masked != stored:
        return IntegrityProblem(
            entry.key,
            ProblemKind.CRC,
            f"stored CRC32C {stored:#010x}{'' if entry.crc32c is not None else NO_CRC_FIELD}"
            f", computed {masked:#010x} over {where}: the tensor's bytes are damaged",
        )
    return None


def stored_crc32c(entry: _StoredEntry) -> int:
    """The masked CRC32C TensorFlow compares a tensor's bytes with: an absent field reads as 0 (protobuf's default,
    which the writer also omits when the masked CRC is 0), and tensor_bundle.cc compares it all the same."""
    return 0 if entry.crc32c is None else entry.crc32c


def _string_tensor_crc(data: bytes, count: int) -> int | None:
    """The unmasked CRC32C tensor_bundle.cc's WriteStringTensor computes, or None when lengths overrun."""
    view = memoryview(data)
    pos = 0
    crc = 0
    total = 0
    for _ in range(count):
        try:
            length, pos = pw.read_varint(view, pos, "string tensor")
        except CorruptArtifact:
            return None
        total += length
        crc = crc32c_of(struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length), crc)
    if pos + 4 > len(view) or pos + 4 + total > len(view):
        return None
    crc = crc32c_of(view[pos : pos + 4], crc)
    return crc32c_of(view[pos + 4 : pos + 4 + total], crc)


def dangling_graph_keys(artifact: Artifact) -> list[IntegrityProblem]:
    """Object-graph attributes that name a checkpoint key the index does not hold."""
    graph = artifact.object_graph
    if graph is None:
        return []
    problems = []
    for node_id, node in enumerate(graph.nodes):
        for attr in node.attributes:
            if attr.checkpoint_key and attr.checkpoint_key not in artifact.by_key:
                problems.append(
                    IntegrityProblem(
                        attr.checkpoint_key,
                        ProblemKind.DANGLING,
                        f"object graph node {node_id} stores attribute {attr.name!r} here, but the index has no "
                        "such key",
                    )
                )
    return problems


# --- the kind -------------------------------------------------------------------------------------


class TfBundleKind(ArtifactKind):
    """V2 bundles: TF2 object-based and TF1 name-based checkpoints, by any of their path forms."""

    name = "tf-bundle"
    scanner_name = "checkpoint"
    formats = (Format.TF_CHECKPOINT, Format.TF1_CHECKPOINT)

    def detect(self, location: Location) -> Detection | None:
        from ckptdiff.formats.checkpoint_paths import resolve_checkpoint

        target = resolve_checkpoint(location)
        if target is None or not target.v2:
            return None
        return Detection(self, target.location, (target.note,) if target.note else ())

    def open(self, location: Location, display: str) -> Artifact:
        return read_tf_bundle(location, display)

    def loader(self, artifact: Artifact) -> str:
        return "object-graph" if artifact.object_graph is not None else "by-name"

    def verify(self, artifact: Artifact) -> IntegrityReport:
        prefix = artifact.location or _resolved_prefix(artifact)
        checked, problems, notes = verify_bundle(prefix, artifact.path)
        problems += dangling_graph_keys(artifact)
        return IntegrityReport(artifact.path, VerifyMethod.CRC32C, checked, tuple(problems), tuple(notes))


def _resolved_prefix(artifact: Artifact) -> Location:
    from ckptdiff.storage import locate

    return locate(artifact.resolved)


KIND = TfBundleKind()
