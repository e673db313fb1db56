"""The registry of artifact kinds: detection order, opening, verification and scanning all dispatch here.

Each kind lives in one module of this package (its detection, constants, reading, verification and
scanning) and is listed once in KINDS. Adding a format is one module and one line below.
"""

from __future__ import annotations

import os
from dataclasses import replace

from ckptdiff.artifact import Artifact, Format
from ckptdiff.errors import ArtifactNotFound, UnknownArtifactKind
from ckptdiff.formats import (
    keras_archive,
    keras_h5,
    keras_model_dir,
    keras_sharded,
    keras_weights_h5,
    orbax,
    saved_model,
    tf_bundle,
    tf_v1,
)
from ckptdiff.formats.checkpoint_paths import numbered_checkpoints
from ckptdiff.formats.interface import ArtifactKind, Detection
from ckptdiff.integrity import IntegrityReport
from ckptdiff.storage import Location, locate

KINDS: tuple[ArtifactKind, ...] = (
    saved_model.KIND,
    orbax.KIND,
    keras_model_dir.KIND,
    tf_bundle.KIND,
    keras_sharded.KIND,
    keras_archive.KIND,
    keras_weights_h5.KIND,
    keras_h5.KIND,
    tf_v1.KIND,
)
"""Tried in this order; the first kind that claims a path opens it."""


def detect_artifact(path: str | os.PathLike[str] | Location) -> Detection:
    """The kind of artifact a path names, and what exactly to open.

    Raises:
        ArtifactNotFound: nothing is there.
        UnreadableArtifact: something is there but no kind can use it (with what was expected).
    """
    location = path if isinstance(path, Location) else locate(path)
    for kind in KINDS:
        found = kind.detect(location)
        if found is not None:
            return found
    raise _not_recognised(location)


def _not_recognised(location: Location) -> Exception:
    display = location.display
    if location.is_dir():
        if not any(True for _ in location.iterdir()):
            return UnknownArtifactKind(f"{display}: empty directory, expected a checkpoint or SavedModel")
        return UnknownArtifactKind(
            f"{display}: directory holds no saved_model.pb, no 'checkpoint' state file and no *.index"
        )
    if not location.is_file():
        return ArtifactNotFound(f"{display}: no such file, directory or checkpoint prefix{_suggestion(location)}")
    for kind in KINDS:
        refusal = kind.refuse(location)
        if refusal is not None:
            return refusal
    if location.size() == 0:
        return UnknownArtifactKind(f"{display}: empty file")
    return UnknownArtifactKind(
        f"{display}: not a checkpoint, SavedModel, H5 or .keras file (first bytes {location.read_range(0, 8)!r})"
    )


def _suggestion(location: Location) -> str:
    """`; did you mean ckpt-5, the latest (also ckpt-4, ckpt-3)?` for a prefix that is missing its number."""
    numbered = numbered_checkpoints(location)
    if not numbered:
        return ""
    others = f" (also {', '.join(n.name for n in numbered[1:4])}{', ...' if len(numbered) > 4 else ''})"
    return f"; did you mean {numbered[0].name}, the latest{others if len(numbered) > 1 else ''}?"


def open_artifact(path: str | os.PathLike[str] | Location) -> Artifact:
    """Open any artifact ckptdiff reads, detecting its kind from the path and its bytes.

    Accepted forms: a checkpoint prefix, its `.index` or a `.data-*` file, a directory holding a
    `checkpoint` state file (its latest checkpoint is used), a SavedModel directory, a V1 checkpoint
    file, a legacy or Keras 3 H5 file, a `.keras` archive.

    Args:
        path: what the user passed.

    Returns:
        The artifact, open read-only; close it (or use it as a context manager) when done.

    Raises:
        UnreadableArtifact: the path is missing, of no known kind, or damaged.
    """
    display = path.display if isinstance(path, Location) else os.fspath(path)
    found = detect_artifact(path)
    artifact = found.kind.open(found.location, display)
    if found.notes:
        artifact = replace(artifact, notes=found.notes + artifact.notes)
    return artifact


def kind_of(artifact: Artifact) -> ArtifactKind:
    """The kind that produced an artifact of this format."""
    return _BY_FORMAT[Format(artifact.format)]


def verify_artifact(artifact: Artifact) -> IntegrityReport:
    """Check every stored byte of an open artifact that its format can vouch for.

    Opening an artifact already checks its structure (table and block CRCs, shard presence, offsets
    against shard sizes, HDF5 datasets whose shape and dtype do not fit the file, zip local headers of
    the weights member): such damage makes it unusable and the command exits 2 at open. What needs
    every byte read, or concerns one tensor while the others stay usable, is verified here and
    reported as rows, never raised.

    Returns:
        One problem per damaged tensor, member or reference; none when healthy.
    """
    return kind_of(artifact).verify(artifact)


_BY_FORMAT: dict[Format, ArtifactKind] = {fmt: kind for kind in KINDS for fmt in kind.formats}

__all__ = ["KINDS", "detect_artifact", "kind_of", "open_artifact", "verify_artifact"]
