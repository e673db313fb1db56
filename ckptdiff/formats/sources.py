"""TensorSource implementations shared by the readers: memory-mapped bytes, H5 datasets, in-memory arrays."""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ckptdiff.artifact import DEFAULT_CHUNK_ELEMENTS, TensorEntry, element_count
from ckptdiff.records import quick_init


def _flat_chunks(flat: np.ndarray, max_elements: int) -> Iterator[np.ndarray]:
    for start in range(0, flat.size, max_elements):
        yield flat[start : start + max_elements]


_RELEASE_BYTES = 32 << 20


def _release(buffer: object, start: int, stop: int) -> int:
    """madvise(DONTNEED) the whole pages inside [start, stop) of a read-only file mapping; returns the new start."""
    if isinstance(buffer, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
        last = stop // mmap.PAGESIZE * mmap.PAGESIZE
        if last > first:
            with contextlib.suppress(OSError, ValueError):
                buffer.madvise(mmap.MADV_DONTNEED, first, last - first)
    return stop


@dataclass(frozen=True)
class MemmapSource:
    """A tensor stored as raw little-endian bytes at an offset of a memory-mapped file."""

    buffer: mmap.mmap | bytes | memoryview
    offset: int
    dtype: np.dtype
    shape: tuple[int, ...]

    def _flat(self) -> np.ndarray:
        count = element_count(self.shape)
        return np.frombuffer(self.buffer, dtype=self.dtype, count=count, offset=self.offset)

    def read(self) -> np.ndarray:
        return self._flat().reshape(self.shape)

    def iter_chunks(self, max_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
        return self.iter_range(0, self._count(), max_elements)

    def iter_range(self, start: int, stop: int, max_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
        """Chunks of the flat elements [start, stop): lets one large tensor be split across threads.

        Pages already consumed are released from this process (the page cache keeps them), so a
        pass over a checkpoint larger than memory holds at most one window resident.
        """
        flat = self._flat()
        itemsize = flat.itemsize
        released = self.offset + start * itemsize
        for lo in range(start, stop, max_elements):
            yield flat[lo : min(lo + max_elements, stop)]
            done = self.offset + min(lo + max_elements, stop) * itemsize
            if done - released >= _RELEASE_BYTES:
                released = _release(self.buffer, released, done)
        _release(self.buffer, released, self.offset + stop * itemsize)

    def release(self) -> None:
        """Drop this tensor's pages from the process (the page cache keeps them): after sampling reads."""
        nbytes = self._count() * self.dtype.itemsize
        if nbytes >= mmap.PAGESIZE:  # a smaller tensor holds no whole page of its own
            _release(self.buffer, self.offset, self.offset + nbytes)

    def _count(self) -> int:
        return element_count(self.shape)

    def sample_flat(self, indices: np.ndarray) -> np.ndarray:
        """Values at flat C-order indices; only the pages holding them are touched."""
        return self._flat()[indices]


quick_init(MemmapSource)


def concatenated(entries: Sequence[TensorEntry]) -> np.ndarray:
    """The flat values of the entries one after the other, in one array (numpy's type promotion).

    Entries stored back to back in one memory map (a bundle's shard, written in key order) are read in
    one `frombuffer` call per run: for 100,000 four-value tensors that is one call instead of 100,000.
    Any other source is read through `read()`.
    """
    parts: list[np.ndarray] = []
    run: MemmapSource | None = None
    count = end = 0
    for entry in entries:
        source = entry.source
        if type(source) is MemmapSource:
            if run is not None and source.buffer is run.buffer and source.dtype is run.dtype and source.offset == end:
                n = element_count(source.shape)
                count += n
                end += n * source.dtype.itemsize
                continue
            if run is not None:
                parts.append(np.frombuffer(run.buffer, dtype=run.dtype, count=count, offset=run.offset))
            run, count = source, element_count(source.shape)
            end = source.offset + count * source.dtype.itemsize
            continue
        if run is not None:
            parts.append(np.frombuffer(run.buffer, dtype=run.dtype, count=count, offset=run.offset))
            run = None
        parts.append(np.asarray(entry.read()).reshape(-1))
    if run is not None:
        parts.append(np.frombuffer(run.buffer, dtype=run.dtype, count=count, offset=run.offset))
    if not parts:
        return np.empty(0)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


@dataclass(frozen=True)
class ArraySource:
    """A tensor already in memory (small values, or ones only TensorFlow's reader can decode)."""

    array: np.ndarray

    def read(self) -> np.ndarray:
        return self.array

    def iter_chunks(self, max_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
        return _flat_chunks(np.ascontiguousarray(self.array).reshape(-1), max_elements)

    def sample_flat(self, indices: np.ndarray) -> np.ndarray:
        """Values at flat C-order indices."""
        return np.asarray(self.array).reshape(-1)[indices]


@dataclass(frozen=True)
class LazySource:
    """A tensor read by a callable on first use (TensorFlow's reader for V1 and sliced entries)."""

    load: Callable[[], np.ndarray]

    def read(self) -> np.ndarray:
        return self.load()

    def iter_chunks(self, max_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
        return _flat_chunks(np.ascontiguousarray(self.load()).reshape(-1), max_elements)

    def sample_flat(self, indices: np.ndarray) -> np.ndarray:
        """Values at flat C-order indices (the loader has no partial read, so this loads the tensor)."""
        return np.asarray(self.load()).reshape(-1)[indices]


@dataclass(frozen=True)
class H5DatasetSource:
    """A tensor stored as an h5py dataset; chunks are read as row slabs so large datasets stream."""

    dataset: Any
    """An open h5py.Dataset."""
    view_dtype: Any = None
    """A same-size numpy dtype to reinterpret the stored bytes as (Keras 3 stores bfloat16 as opaque 2-byte data)."""

    def _view(self, values: Any) -> np.ndarray:
        values = np.asarray(values)
        return values if self.view_dtype is None else values.view(self.view_dtype)

    def _read(self, selection: Any) -> np.ndarray:
        """One h5py read; HDF5's errors on damaged data (bad chunk, failed filter) become CorruptArtifact."""
        try:
            return self._view(self.dataset[selection])
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            from ckptdiff.errors import CorruptArtifact

            raise CorruptArtifact(
                f"{self.dataset.file.filename}: dataset {self.dataset.name} cannot be read "
                f"({' '.join(str(exc).split())})"
            ) from None

    def read(self) -> np.ndarray:
        return self._read(())

    def iter_chunks(self, max_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
        ds = self.dataset
        if ds.ndim == 0 or ds.size <= max_elements:
            yield self._read(()).reshape(-1)
            return
        row = max(1, ds.size // ds.shape[0])
        rows_per_chunk = max(1, max_elements // row)
        for start in range(0, ds.shape[0], rows_per_chunk):
            yield self._read(slice(start, start + rows_per_chunk)).reshape(-1)

    def sample_flat(self, indices: np.ndarray) -> np.ndarray:
        """Values at flat C-order indices, read with an HDF5 point selection (only their chunks are read)."""
        import h5py

        ds = self.dataset
        indices = np.asarray(indices, dtype=np.int64)
        if ds.ndim == 0 or indices.size == 0:
            return self._view(ds[()]).reshape(-1)[indices]
        order = np.argsort(indices, kind="stable")
        coords = np.stack(np.unravel_index(indices[order], ds.shape), axis=1).astype(np.uint64)
        file_space = ds.id.get_space()
        file_space.select_elements(coords)
        out = np.empty(indices.size, dtype=ds.dtype)
        ds.id.read(h5py.h5s.create_simple((indices.size,)), file_space, out)
        values = np.empty_like(out)
        values[order] = out
        return self._view(values)


RANGE_CHUNK_BYTES = 8 << 20
"""Bytes fetched per range request when a remote tensor is streamed."""
RANGE_CACHE_BYTES = 16 << 20
"""A remote tensor up to this size is kept after its first whole read (sampling reads it again)."""


def window(buffer: Any, start: int, stop: int) -> memoryview | bytes:
    """Bytes [start, stop) of a shard: a view of a local map, one range request of a remote buffer."""
    if isinstance(buffer, mmap.mmap | bytes | bytearray | memoryview):
        return memoryview(buffer)[start:stop]
    data: bytes = buffer[start:stop]
    return data


@dataclass
class RangeSource:
    """A tensor stored as raw bytes at an offset of a remote file, read by range requests (never whole files)."""

    buffer: Any
    """A sliceable remote buffer (ckptdiff.storage.remote.RangeBuffer)."""
    offset: int
    dtype: np.dtype
    shape: tuple[int, ...]
    _cached: np.ndarray | None = None

    def _count(self) -> int:
        return element_count(self.shape)

    def read(self) -> np.ndarray:
        if self._cached is not None:
            return self._cached.reshape(self.shape)
        nbytes = self._count() * np.dtype(self.dtype).itemsize
        flat = np.frombuffer(self.buffer[self.offset : self.offset + nbytes], dtype=self.dtype)
        if nbytes <= RANGE_CACHE_BYTES:
            self._cached = flat
        return flat.reshape(self.shape)

    def iter_chunks(self, max_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
        return self.iter_range(0, self._count(), max_elements)

    def iter_range(self, start: int, stop: int, max_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Iterator[np.ndarray]:
        """Chunks of the flat elements [start, stop), each fetched by its own range request."""
        if self._cached is not None:
            yield from _flat_chunks(self._cached[start:stop], max_elements)
            return
        itemsize = np.dtype(self.dtype).itemsize
        step = max(max_elements, RANGE_CHUNK_BYTES // itemsize)
        for lo in range(start, stop, step):
            hi = min(lo + step, stop)
            data = self.buffer[self.offset + lo * itemsize : self.offset + hi * itemsize]
            yield from _flat_chunks(np.frombuffer(data, dtype=self.dtype), max_elements)

    def sample_flat(self, indices: np.ndarray) -> np.ndarray:
        """Values at flat C-order indices (the tensor is fetched once, cached when small)."""
        return self.read().reshape(-1)[indices]

    def release(self) -> None:
        """Drop the cached values."""
        self._cached = None
