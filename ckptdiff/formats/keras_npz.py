"""`.keras` archives whose weights are `model.weights.npz` (Keras' NpzIOStore), read without unpickling.

Keras 3 writes one npz member per saveable (`layers/dense.npy`, `optimizer.npy`, `__root__.npy`), each
a 0-d object array: a pickle of a dict of variables (docs/formats-research.md, section 4). Keras 3.15
itself cannot load such an archive (`np.load(allow_pickle=False)` refuses object arrays). ckptdiff
never unpickles: it reads each member's `.npy` header with numpy's header parser, reads plain-dtype
members with `allow_pickle=False`, and names the pickled ones in a note (`scan` reports them as high
findings).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np

from ckptdiff.artifact import TensorEntry
from ckptdiff.errors import CorruptArtifact, UnreadableArtifact, one_line
from ckptdiff.formats.keras3_layout import container_group
from ckptdiff.formats.sources import ArraySource

MAX_NPZ_IN_MEMORY = 2 << 30
NPY_SUFFIX = ".npy"


@dataclass(frozen=True)
class NpzContents:
    entries: tuple[TensorEntry, ...]
    pickled: tuple[str, ...]
    """Members that are object arrays or no `.npy` at all: never read."""


def read_npz_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, display: str) -> NpzContents:
    """The plain arrays of an npz member of a `.keras` zip; pickled members listed, never loaded.

    Raises:
        UnreadableArtifact: the member is too large to hold in memory.
        CorruptArtifact: it is no readable zip.
    """
    if info.file_size > MAX_NPZ_IN_MEMORY:
        raise UnreadableArtifact(
            f"{display}: {info.filename} is {info.file_size:,} bytes: over the 2 GiB in-memory bound"
        )
    entries: list[TensorEntry] = []
    pickled: list[str] = []
    try:
        with zipfile.ZipFile(io.BytesIO(archive.read(info))) as npz:
            for member in npz.infolist():
                data = npz.read(member)
                dtype = _npy_dtype(data)
                if dtype is None or dtype.hasobject:
                    pickled.append(member.filename)
                    continue
                value = np.load(io.BytesIO(data), allow_pickle=False)
                key = member.filename.removesuffix(NPY_SUFFIX)
                entries.append(
                    TensorEntry(
                        key=key,
                        shape=tuple(int(d) for d in value.shape),
                        dtype=value.dtype.name,
                        group=container_group(key),
                        source=ArraySource(value),
                        nbytes=int(value.nbytes),
                    )
                )
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CorruptArtifact(f"{display}: {info.filename} is not a readable npz ({one_line(exc)})") from None
    return NpzContents(tuple(entries), tuple(pickled))


def _npy_dtype(data: bytes) -> np.dtype | None:
    """The dtype an `.npy` header declares (numpy's literal parser, no unpickling); None when no `.npy`."""
    from numpy.lib import format as npy

    stream = io.BytesIO(data)
    try:
        version = npy.read_magic(stream)
        if version == (1, 0):
            _, _, dtype = npy.read_array_header_1_0(stream)
        else:
            _, _, dtype = npy.read_array_header_2_0(stream)
        return np.dtype(dtype)
    except (ValueError, TypeError, SyntaxError):
        return None
