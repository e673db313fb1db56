"""TensorFlow's own checkpoint reader, for what the native bundle reader does not decode.

That is V1 checkpoints (a single table file holding the tensors, `model.ckpt` or
`name-00000-of-00001`), and, inside V2 bundles, partitioned (sliced) entries and dtypes
without a fixed-size numpy equivalent. This is the only reader that imports TensorFlow.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ckptdiff.artifact import FORMAT_TF_CHECKPOINT_V1, Artifact, TensorEntry
from ckptdiff.errors import UnreadableArtifact
from ckptdiff.readers.groups import classify_key
from ckptdiff.readers.sources import LazySource
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


def _v1_pattern(path: Path) -> str:
    if path.is_file():
        return str(path)
    return str(path) + "-?????-of-?????"


def read_v1_checkpoint(path: Path, display: str) -> Artifact:
    """Read a V1 checkpoint (the pre-2017 single-table format) through TensorFlow.

    Args:
        path: the V1 file, or the prefix of `prefix-NNNNN-of-NNNNN` shards.
        display: the path as the user gave it, for messages.

    Returns:
        An Artifact of format `tf-checkpoint-v1`, tensors read lazily.

    Raises:
        UnreadableArtifact: TensorFlow cannot parse the file.
    """
    pattern = _v1_pattern(path)
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
        format=FORMAT_TF_CHECKPOINT_V1,
        entries=tuple(entries),
        resolved=pattern,
        notes=("V1 checkpoint: read through TensorFlow's reader",),
    )
