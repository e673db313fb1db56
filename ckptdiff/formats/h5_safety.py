"""Checks that keep damaged HDF5 files from hanging or exhausting the reader: global heaps, dataset sizes,
external data.

HDF5 itself is trusted to parse a file, except where a damaged file makes the library loop forever or
read far more than the file holds. Two such holes are closed before h5py is asked for values:

* a global heap collection (`GCOL`, where variable-length strings such as `model_config` live)
  whose objects do not tile it: HDF5 1.14 walks the objects with `p = begin + size`, so a free-space
  object of size 0 loops forever (found by tests/fuzz);
* a dataset whose declared shape and dtype cannot be backed by the file (a header claiming 10^12
  elements): reading it yields fill values or garbage for as long as the caller asks, so it is refused
  when the entry is made, before anything is allocated. Datasets whose bytes live in another file
  (external storage, virtual datasets) are refused too: reading them would open files the artifact names.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import BinaryIO

import h5py

from ckptdiff.artifact import element_count
from ckptdiff.errors import CorruptArtifact

GLOBAL_HEAP_SIGNATURE = b"GCOL"
GLOBAL_HEAP_VERSION = 1
GLOBAL_HEAP_HEADER = 16
"""Signature, version, 3 reserved bytes, 8-byte collection size (Keras files use 8-byte lengths)."""
GLOBAL_HEAP_OBJECT_HEADER = 16
"""Object index (2), reference count (2), reserved (4), 8-byte object size."""
SCAN_CHUNK_BYTES = 16 << 20
MAX_COMPRESSION_RATIO = 1100
"""DEFLATE expands at most about 1032:1; a chunked dataset declaring more than this times the file is not data."""
DECLARED_SLACK_BYTES = 1 << 20
"""Tiny files may hold datasets a little larger than themselves (fill values of a never-written dataset)."""


def check_global_heaps(source: Path | str | BinaryIO | io.RawIOBase, display: str) -> None:
    """Refuse an HDF5 file whose global heap collections would make HDF5 loop.

    Args:
        source: the file's path, or a seekable binary file-like object holding it.
        display: the user-facing name, for the message.

    Raises:
        CorruptArtifact: a collection's objects do not tile it.
    """
    if isinstance(source, (str, Path)):
        with open(source, "rb") as f:
            _check_heaps_in(f, display)
    else:
        position = source.tell()
        try:
            _check_heaps_in(source, display)
        finally:
            source.seek(position)


def _check_heaps_in(f: BinaryIO | io.RawIOBase, display: str) -> None:
    f.seek(0, io.SEEK_END)
    size = f.tell()
    for offset in _find_signatures(f, size):
        f.seek(offset)
        header = f.read(GLOBAL_HEAP_HEADER)
        version, reserved, collection_size = header[4], header[5:8], struct.unpack_from("<Q", header, 8)[0]
        if (
            version != GLOBAL_HEAP_VERSION
            or reserved != b"\0\0\0"
            or not GLOBAL_HEAP_HEADER < collection_size <= size - offset
        ):
            continue  # four bytes that merely spell GCOL inside data
        f.seek(offset)
        problem = _heap_problem(f.read(collection_size))
        if problem:
            raise CorruptArtifact(
                f"{display}: damaged HDF5 global heap at byte {offset} ({problem}); HDF5 would loop reading its strings"
            )


def _find_signatures(f: BinaryIO | io.RawIOBase, size: int) -> list[int]:
    found = []
    start = 0
    keep = len(GLOBAL_HEAP_SIGNATURE) - 1
    while start < size:
        f.seek(start)
        block = f.read(SCAN_CHUNK_BYTES + keep)
        if not block:
            break
        i = block.find(GLOBAL_HEAP_SIGNATURE)
        while i >= 0:
            found.append(start + i)
            i = block.find(GLOBAL_HEAP_SIGNATURE, i + 1)
        start += SCAN_CHUNK_BYTES
    return sorted(set(found))


def _heap_problem(collection: bytes) -> str | None:
    """Walk the objects as H5HG__cache_heap_deserialize does; say what would stall or overrun it."""
    end = len(collection)
    pos = GLOBAL_HEAP_HEADER
    while pos < end:
        if pos + GLOBAL_HEAP_OBJECT_HEADER > end:
            return None  # too small for an object header: HDF5 takes it as free space
        index, _, _, object_size = struct.unpack_from("<HHIQ", collection, pos)
        need = GLOBAL_HEAP_OBJECT_HEADER + ((object_size + 7) & ~7) if index > 0 else object_size
        if need <= 0:
            return f"object {index} at offset {pos} has size 0"
        if pos + need > end:
            return f"object {index} at offset {pos} runs {pos + need - end} bytes past the collection"
        pos += need
    return None


def check_dataset_fits(dataset: h5py.Dataset, display: str) -> None:
    """Refuse a dataset whose declared shape and dtype the file cannot back, or whose bytes live elsewhere.

    Raises:
        CorruptArtifact: the dataset declares more bytes than the file can hold (contiguous: more than
            its allocated storage or the file's end; any layout: more than the file times the largest
            compression ratio), or keeps its data in other files.
    """
    name = dataset.name
    shape = dataset.shape or ()
    declared = element_count(shape) * dataset.dtype.itemsize
    file_size = int(dataset.file.id.get_filesize())
    plist = dataset.id.get_create_plist()
    layout = plist.get_layout()
    if layout == h5py.h5d.VIRTUAL or plist.get_external_count() > 0:
        raise CorruptArtifact(f"{display}: dataset {name} keeps its data in other files; not followed")
    where = f"{display}: dataset {name} declares shape {list(shape)} of {dataset.dtype} ({declared} bytes)"
    if layout == h5py.h5d.CONTIGUOUS:
        storage = int(dataset.id.get_storage_size())
        offset = dataset.id.get_offset()
        if storage and storage != declared:
            raise CorruptArtifact(f"{where} but stores {storage}")
        if offset is not None and storage and offset + storage > file_size:
            raise CorruptArtifact(f"{where} at byte {offset}, past the file's {file_size} bytes: the file is truncated")
        if not storage and declared > file_size + DECLARED_SLACK_BYTES:
            raise CorruptArtifact(f"{where} but has no storage in a file of {file_size} bytes")
    if declared > MAX_COMPRESSION_RATIO * file_size + DECLARED_SLACK_BYTES:
        raise CorruptArtifact(f"{where}, more than a file of {file_size} bytes can hold at any compression ratio")
