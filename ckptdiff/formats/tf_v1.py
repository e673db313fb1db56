"""TensorFlow's own checkpoint reader, for what the native bundle reader does not decode.

That is V1 checkpoints (a single table file holding the tensors, `model.ckpt` or
`name-00000-of-00001`), and, inside V2 bundles, partitioned (sliced) entries and dtypes
without a fixed-size numpy equivalent. This is the only reader that imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from functools import lru_cache
from typing import Any

import numpy as np

from ckptdiff.artifact import Artifact, Format, TensorEntry
from ckptdiff.errors import UnreadableArtifact
from ckptdiff.formats.checkpoint_paths import V1_SHARD_GLOB, resolve_checkpoint
from ckptdiff.formats.groups import classify_key
from ckptdiff.formats.interface import ArtifactKind, Detection
from ckptdiff.formats.leveldb_table import has_table_magic
from ckptdiff.formats.sources import LazySource
from ckptdiff.integrity import IntegrityReport, VerifyMethod, read_every_entry
from ckptdiff.storage import Location, as_location
from ckptdiff.tf_import import import_tensorflow


@lru_cache(maxsize=8)
def _checkpoint_reader(pattern: str) -> Any:
    tf = import_tensorflow()
    try:
        return tf.compat.v1.train.NewCheckpointReader(pattern)
    except Exception as exc:  # TF raises DataLossError, NotFoundError, ... all one message
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableArtifact(f"{pattern}: TensorFlow cannot read this checkpoint ({first})") from None


def tf_tensor_source(prefix: str, key: str) -> LazySource:
    """A source that reads one tensor of a checkpoint through TensorFlow on first use.

    Args:
        prefix: the checkpoint prefix (V2) or file/pattern (V1).
        key: the tensor's storage key.

    Returns:
        A LazySource; TensorFlow is imported only when its values are read.
    """

    def load() -> np.ndarray:
        reader = _checkpoint_reader(prefix)
        try:
            value = reader.get_tensor(key)
        except Exception as exc:  # TF raises DataLossError, OpError, ... for damaged bytes
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UnreadableArtifact(f"{prefix}: TensorFlow cannot read tensor {key!r} ({first})") from None
        return np.asarray(value)

    return LazySource(load)


def _v1_pattern(path: Location, resources: contextlib.ExitStack) -> str:
    # TensorFlow reads V1 files itself: it needs a local path (the one reader that is not native). A remote
    # V1 checkpoint is copied into a private temporary folder first (its files only), removed on close.
    if path.local_path is not None:
        local = str(path.local_path)
        return local if path.is_file() else local + V1_SHARD_GLOB
    folder = resources.enter_context(tempfile.TemporaryDirectory(prefix="ckptdiff-v1-"))
    files = [path] if path.is_file() else path.parent.glob(path.name + "-*-of-*")
    for file in files:
        with open(os.path.join(folder, file.name), "wb") as f:
            f.write(file.read_bytes())
    local = os.path.join(folder, path.name)
    return local if path.is_file() else local + V1_SHARD_GLOB


def read_v1_checkpoint(path: Location | str | os.PathLike[str], display: str) -> Artifact:
    """Read a V1 checkpoint (the pre-2017 single-table format) through TensorFlow.

    Args:
        path: the V1 file, or the prefix of `prefix-NNNNN-of-NNNNN` shards.
        display: the path as the user gave it, for messages.

    Returns:
        An Artifact of format `tf-checkpoint-v1`, tensors read lazily.

    Raises:
        UnreadableArtifact: TensorFlow cannot parse the file.
    """
    path = as_location(path)
    resources = contextlib.ExitStack()
    pattern = _v1_pattern(path, resources)
    reader = _checkpoint_reader(pattern)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    entries = []
    for key in sorted(shapes):
        dtype = dtypes[key]
        name = "string" if dtype.name == "string" else np.dtype(dtype.as_numpy_dtype).name
        entries.append(
            TensorEntry(
                key=key,
                shape=tuple(int(d) for d in shapes[key]),
                dtype=name,
                group=classify_key(key),
                source=tf_tensor_source(pattern, key),
            )
        )
    return Artifact(
        path=display,
        format=Format.TF_CHECKPOINT_V1,
        entries=tuple(entries),
        resolved=pattern if path.local_path is not None else path.display,
        location=path,
        notes=("V1 checkpoint: read through TensorFlow's reader",),
        resources=resources,
    )


class TfV1Kind(ArtifactKind):
    """V1 checkpoints: one table file of tensors (`model.ckpt`) or `name-NNNNN-of-NNNNN` shards."""

    name = "tf-v1"
    scanner_name = "checkpoint"
    formats = (Format.TF_CHECKPOINT_V1,)

    def detect(self, location: Location) -> Detection | None:
        if location.is_file() and not location.name.endswith(".index") and has_table_magic(location):
            return Detection(self, location)
        target = resolve_checkpoint(location)
        if target is None or target.v2:
            return None
        return Detection(self, target.location, (target.note,) if target.note else ())

    def open(self, location: Location, display: str) -> Artifact:
        return read_v1_checkpoint(location, display)

    def loader(self, artifact: Artifact) -> str:
        return "by-name"

    def verify(self, artifact: Artifact) -> IntegrityReport:
        checked, problems = read_every_entry(artifact, (Exception,))
        return IntegrityReport(
            artifact.path,
            VerifyMethod.TF_READ,
            checked,
            tuple(problems),
            ("V1 checkpoints store no per-tensor checksum: every tensor was read through TensorFlow",),
        )


KIND = TfV1Kind()
