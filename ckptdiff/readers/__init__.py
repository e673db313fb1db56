"""open_artifact: resolve the path forms users pass and dispatch to the reader of that artifact kind."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ckptdiff.artifact import Artifact
from ckptdiff.errors import ArtifactNotFound, UnknownArtifactKind, UnreadableArtifact

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")
"""The last 8 bytes of a LevelDB-style table: V2 `.index` files and V1 checkpoint files."""

_DATA_SHARD = re.compile(r"^(?P<prefix>.+)\.data-\d{5}-of-\d{5}$")
_V1_SHARD = re.compile(r"^.+-\d{5}-of-\d{5}$")
_V1_SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")
_STATE_FILE = "checkpoint"
_STATE_LINE = re.compile(r'^model_checkpoint_path:\s*"(?P<path>(?:[^"\\]|\\.)*)"\s*$', re.M)


def open_artifact(path: str | os.PathLike[str]) -> Artifact:
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
    display = os.fspath(path)
    p = Path(display)
    if p.is_dir():
        return _open_directory(p, display)
    if p.is_file():
        return _open_file(p, display)
    if Path(display + ".index").is_file():
        return _open_bundle(p, display)
    if p.parent.is_dir() and any(p.parent.glob(p.name + "-?????-of-?????")):
        return _open_v1(p, display)
    raise ArtifactNotFound(f"{display}: no such file, directory or checkpoint prefix")


def _open_directory(p: Path, display: str) -> Artifact:
    if (p / "saved_model.pb").is_file() or (p / "saved_model.pbtxt").is_file():
        from ckptdiff.readers.saved_model import read_saved_model

        return read_saved_model(p, display)
    state = p / _STATE_FILE
    if state.is_file():
        return _open_from_state_file(state, display)
    indexes = sorted(p.glob("*.index"))
    if len(indexes) == 1:
        return _open_bundle(indexes[0].with_suffix(""), display)
    v1_prefixes = sorted({_V1_SHARD_SUFFIX.sub("", f.name) for f in p.iterdir() if _V1_SHARD.match(f.name) and not _DATA_SHARD.match(f.name)})
    if not indexes and len(v1_prefixes) == 1:
        return _open_v1(p / v1_prefixes[0], display)
    if len(indexes) > 1:
        names = ", ".join(i.name for i in indexes[:3])
        raise UnknownArtifactKind(
            f"{display}: directory holds {len(indexes)} checkpoints ({names}, ...) and no "
            f"'checkpoint' state file; pass one prefix"
        )
    if not any(p.iterdir()):
        raise UnknownArtifactKind(f"{display}: empty directory, expected a checkpoint or SavedModel")
    raise UnknownArtifactKind(
        f"{display}: directory holds no saved_model.pb, no 'checkpoint' state file and no *.index"
    )


def _open_from_state_file(state: Path, display: str) -> Artifact:
    try:
        text = state.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableArtifact(f"{state}: unreadable checkpoint state file ({exc})") from None
    m = _STATE_LINE.search(text)
    if not m:
        raise UnreadableArtifact(f"{state}: checkpoint state file names no model_checkpoint_path")
    named = m.group("path").encode().decode("unicode_escape")
    prefix = Path(named) if os.path.isabs(named) else state.parent / named
    if not Path(str(prefix) + ".index").is_file():
        # Checkpoints moved from another machine keep absolute paths; look beside the state file.
        local = state.parent / Path(named).name
        if Path(str(local) + ".index").is_file():
            prefix = local
        elif prefix.is_file() or any(prefix.parent.glob(prefix.name + "-?????-of-?????")):
            artifact = _open_v1(prefix, display)
            return _with_note(artifact, f"latest checkpoint named by {state}: {named}")
        else:
            raise UnreadableArtifact(f"{state}: names checkpoint {named}, which is not on disk")
    artifact = _open_bundle(prefix, display)
    return _with_note(artifact, f"latest checkpoint named by {state}: {prefix.name}")


def _with_note(artifact: Artifact, note: str) -> Artifact:
    from dataclasses import replace

    return replace(artifact, notes=(note,) + artifact.notes)


def _open_file(p: Path, display: str) -> Artifact:
    if p.name.endswith(".index"):
        return _open_bundle(Path(str(p)[: -len(".index")]), display)
    m = _DATA_SHARD.match(p.name)
    if m:
        return _open_bundle(p.with_name(m.group("prefix")), display)
    head, tail = _peek(p)
    if head.startswith(HDF5_SIGNATURE) or _has_hdf5_userblock(p):
        from ckptdiff.readers.keras_h5 import read_keras_h5
        from ckptdiff.readers.keras_v3 import is_keras3_weights_file, read_keras_weights_h5

        if is_keras3_weights_file(p):
            return read_keras_weights_h5(p, display)
        return read_keras_h5(p, display)
    if head.startswith(ZIP_SIGNATURE):
        from ckptdiff.readers.keras_v3 import read_keras_archive

        return read_keras_archive(p, display)
    if tail == TABLE_MAGIC:
        return _open_v1(p, display)
    if p.name.endswith((".h5", ".hdf5", ".keras")):
        kind = "HDF5" if not p.name.endswith(".keras") else "a zip archive"
        from ckptdiff.errors import NotHdf5, NotKerasArchive

        cls = NotHdf5 if kind == "HDF5" else NotKerasArchive
        raise cls(f"{display}: not {kind} (first bytes {head[:8]!r})")
    if p.stat().st_size == 0:
        raise UnknownArtifactKind(f"{display}: empty file")
    raise UnknownArtifactKind(
        f"{display}: not a checkpoint, SavedModel, H5 or .keras file (first bytes {head[:8]!r})"
    )


def _peek(p: Path) -> tuple[bytes, bytes]:
    try:
        with open(p, "rb") as f:
            head = f.read(8)
            size = os.fstat(f.fileno()).st_size
            tail = b""
            if size >= 48:
                f.seek(size - 8)
                tail = f.read(8)
    except OSError as exc:
        raise UnreadableArtifact(f"{p}: cannot read ({exc.strerror})") from None
    return head, tail


def _has_hdf5_userblock(p: Path) -> bool:
    """HDF5 allows a user block: the signature may sit at 512, 1024, 2048, ... bytes."""
    try:
        with open(p, "rb") as f:
            offset = 512
            size = os.fstat(f.fileno()).st_size
            while offset + 8 <= size and offset <= 1 << 20:
                f.seek(offset)
                if f.read(8) == HDF5_SIGNATURE:
                    return True
                offset *= 2
    except OSError:
        return False
    return False


def _open_bundle(prefix: Path, display: str) -> Artifact:
    from ckptdiff.readers.tf_bundle import read_tf_bundle

    return read_tf_bundle(prefix, display)


def _open_v1(path: Path, display: str) -> Artifact:
    from ckptdiff.readers.tf_v1 import read_v1_checkpoint

    return read_v1_checkpoint(path, display)


__all__ = ["open_artifact"]
