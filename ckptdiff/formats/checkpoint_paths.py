"""The path forms of TensorFlow checkpoints: prefixes, `.index`/`.data-*` files, V1 shards, `checkpoint` state files."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ckptdiff.errors import UnknownArtifactKind, UnreadableArtifact
from ckptdiff.storage import LocalLocation, Location

DATA_SHARD = re.compile(r"^(?P<prefix>.+)\.data-\d{5}-of-\d{5}$")
V1_SHARD = re.compile(r"^.+-\d{5}-of-\d{5}$")
V1_SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")
V1_SHARD_GLOB = "-?????-of-?????"
INDEX_SUFFIX = ".index"
META_SUFFIX = ".meta"
STATE_FILE = "checkpoint"
"""The CheckpointManager / Saver state file naming the latest checkpoint."""
_STATE_LINE = re.compile(r'^model_checkpoint_path:\s*"(?P<path>(?:[^"\\]|\\.)*)"\s*$', re.M)


@dataclass(frozen=True)
class CheckpointTarget:
    """What a path names: a V2 prefix or a V1 file/pattern, with the note of how it was found."""

    location: Location
    v2: bool
    note: str | None = None


def has_v1_shards(prefix: Location) -> bool:
    """True when `prefix-00000-of-0000N` files exist."""
    return prefix.parent.is_dir() and bool(prefix.parent.glob(prefix.name + V1_SHARD_GLOB))


def resolve_checkpoint(location: Location) -> CheckpointTarget | None:
    """The checkpoint a path names, V2 or V1, or None when it names none.

    Raises:
        UnreadableArtifact: a state file that cannot be read or names a checkpoint not on disk.
        UnknownArtifactKind: a directory of several checkpoints and no state file.
    """
    if location.is_dir():
        return _resolve_directory(location)
    if location.is_file():
        if location.name.endswith(INDEX_SUFFIX):
            return CheckpointTarget(location.sibling(location.name[: -len(INDEX_SUFFIX)]), v2=True)
        m = DATA_SHARD.match(location.name)
        if m:
            return CheckpointTarget(location.sibling(m.group("prefix")), v2=True)
        if location.name == STATE_FILE:
            return _resolve_state_file(location)
        if location.name.endswith(META_SUFFIX):
            return _resolve_meta_graph(location)
        return None
    if location.with_suffix(INDEX_SUFFIX).is_file():
        return CheckpointTarget(location, v2=True)
    if has_v1_shards(location):
        return CheckpointTarget(location, v2=False)
    return None


def _resolve_directory(directory: Location) -> CheckpointTarget | None:
    state = directory.child(STATE_FILE)
    if state.is_file():
        return _resolve_state_file(state)
    indexes = directory.glob("*" + INDEX_SUFFIX)
    if len(indexes) == 1:
        return CheckpointTarget(indexes[0].sibling(indexes[0].name[: -len(INDEX_SUFFIX)]), v2=True)
    names = [entry.name for entry in directory.iterdir()]
    v1_prefixes = sorted({V1_SHARD_SUFFIX.sub("", n) for n in names if V1_SHARD.match(n) and not DATA_SHARD.match(n)})
    if not indexes and len(v1_prefixes) == 1:
        return CheckpointTarget(directory.child(v1_prefixes[0]), v2=False)
    if len(indexes) > 1:
        listed = ", ".join(i.name for i in indexes[:3])
        raise UnknownArtifactKind(
            f"{directory.display}: directory holds {len(indexes)} checkpoints ({listed}, ...) and no "
            f"'checkpoint' state file; pass one prefix"
        )
    return None


def _resolve_meta_graph(meta: Location) -> CheckpointTarget | None:
    """A TF1 `.meta` graph names no variables: read the checkpoint written beside it, with a note."""
    prefix = meta.sibling(meta.name[: -len(META_SUFFIX)])
    note = f"{meta.name} is the graph of a TF1 checkpoint; read its variables, {prefix.name}"
    if prefix.with_suffix(INDEX_SUFFIX).is_file():
        return CheckpointTarget(prefix, v2=True, note=note)
    if prefix.is_file() or has_v1_shards(prefix):
        return CheckpointTarget(prefix, v2=False, note=note)
    raise UnreadableArtifact(
        f"{meta}: a TF1 meta graph holds no variable values, and no checkpoint {prefix.name} lies beside it; "
        "pass the checkpoint prefix"
    )


def numbered_checkpoints(prefix: Location) -> list[Location]:
    """`prefix-N` checkpoints beside a prefix that does not exist, newest (highest N) first."""
    if not prefix.parent.is_dir():
        return []
    found = []
    for index in prefix.parent.glob(prefix.name + "-*" + INDEX_SUFFIX):
        number = index.name[len(prefix.name) + 1 : -len(INDEX_SUFFIX)]
        if number.isdigit():
            found.append((int(number), index.sibling(index.name[: -len(INDEX_SUFFIX)])))
    return [loc for _, loc in sorted(found, key=lambda f: -f[0])]


def _resolve_state_file(state: Location) -> CheckpointTarget:
    try:
        text = state.read_bytes().decode("utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableArtifact(f"{state}: unreadable checkpoint state file ({exc})") from None
    m = _STATE_LINE.search(text)
    if not m:
        raise UnreadableArtifact(f"{state}: checkpoint state file names no model_checkpoint_path")
    named = m.group("path").encode().decode("unicode_escape")
    prefix = _state_target(state, named)
    if not prefix.with_suffix(INDEX_SUFFIX).is_file():
        # Checkpoints moved from another machine keep absolute paths; look beside the state file.
        local = state.sibling(PurePosixPath(named).name)
        if local.with_suffix(INDEX_SUFFIX).is_file():
            prefix = local
        elif prefix.is_file() or has_v1_shards(prefix):
            return CheckpointTarget(prefix, v2=False, note=f"latest checkpoint named by {state}: {named}")
        else:
            raise UnreadableArtifact(f"{state}: names checkpoint {named}, which is not on disk")
    return CheckpointTarget(prefix, v2=True, note=f"latest checkpoint named by {state}: {prefix.name}")


def _state_target(state: Location, named: str) -> Location:
    if isinstance(state, LocalLocation) and os.path.isabs(named):
        return LocalLocation.from_path(Path(named))
    return state.parent.child(named)
