"""Finding artifacts under roots (local folders, globs, bucket prefixes), each once and as a whole.

A checkpoint is its prefix (`ckpt-3`, found by `ckpt-3.index`), never its `.index` or `.data-*` files; a
SavedModel, Keras model directory, KerasHub preset and Orbax step are their folders, never the files inside;
a sharded `.weights.json` is one artifact with its shards. Loose `.h5`, `.hdf5`, `.keras`, `.weights.h5` and
`.ckpt` (TF1 V1) files are artifacts of their own.

Pieces of an artifact without their whole are listed too, so the audit records them as errors instead of
passing over them: a `.data-NNNNN-of-NNNNN` shard without its `.index` (as its prefix), an Orbax item folder
(`_METADATA`) outside a step folder. A folder reached twice (a symbolic link to an ancestor or a sibling) is
walked once.
"""

from __future__ import annotations

import fnmatch
import glob as globlib
import os
import re
from collections.abc import Iterator

from ckptdiff.errors import BadOption
from ckptdiff.storage import Location, locate

FILE_SUFFIXES = (".h5", ".hdf5", ".keras", ".weights.json", ".ckpt")
_SHARD = re.compile(r"_\d{5}\.weights\.h5$")
_DATA_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")
_FOLDER_MARKERS = ("saved_model.pb", "_CHECKPOINT_METADATA", "_METADATA")
"""A folder holding one of these is one artifact (SavedModel, Orbax step; an Orbax item folder found outside
its step is one too, so that a step that lost its `_CHECKPOINT_METADATA` is an error, not skipped)."""
MAX_ARTIFACTS = 1_000_000


def _is_whole_folder(folder: Location, names: set[str]) -> bool:
    if any(m in names for m in _FOLDER_MARKERS):
        return True
    return "config.json" in names and "metadata.json" in names  # Keras model directory or KerasHub preset


def _identity(folder: Location) -> str:
    """What a folder is, whatever path reached it: its real path on local disk, its address elsewhere."""
    return folder.display if "://" in folder.display else os.path.realpath(folder.display)


def _walk(folder: Location, found: list[str], seen: set[str]) -> None:
    identity = _identity(folder)
    if identity in seen:
        return  # reached again through a symbolic link: a loop, or a folder already walked
    seen.add(identity)
    children = list(folder.iterdir())
    names = {c.name for c in children}
    if _is_whole_folder(folder, names):
        found.append(folder.display)
        return
    sharded = {n for n in names if n.endswith(".weights.json")}
    for child in sorted(children, key=lambda c: c.name):
        name = child.name
        if name.endswith(".index") and child.is_file():
            found.append(child.display[: -len(".index")])
        elif _SHARD.search(name) and sharded:
            continue  # a shard of a .weights.json beside it
        elif _DATA_SHARD.search(name) and child.is_file():
            prefix = _DATA_SHARD.sub("", name)
            if f"{prefix}.index" not in names:  # else the .index lists it
                found.append(child.display[: len(child.display) - len(name) + len(prefix)])
        elif name.endswith(FILE_SUFFIXES) and child.is_file():
            found.append(child.display)
        elif child.is_dir():
            _walk(child, found, seen)
        if len(found) > MAX_ARTIFACTS:
            raise BadOption(f"{folder}: more than {MAX_ARTIFACTS} artifacts; audit narrower roots")


def _expand(root: str) -> Iterator[str]:
    if not any(ch in root for ch in "*?["):
        yield root
        return
    if "://" in root:
        location = locate(root.split("*", 1)[0].rsplit("/", 1)[0] or root)
        fs = getattr(location, "fs", None)
        if fs is None:
            raise BadOption(f"{root}: cannot expand this pattern")
        scheme = root.split("://", 1)[0]
        for path in sorted(fs.glob(root.split("://", 1)[1] if scheme not in ("http", "https") else root)):
            yield path if "://" in path else f"{scheme}://{path}"
        return
    yield from sorted(globlib.glob(root))


def discover(roots: list[str]) -> list[str]:
    """Every artifact under the roots, in a stable order, each once.

    Raises:
        BadOption: a root that does not exist or matches nothing.
    """
    found: list[str] = []
    seen: set[str] = set()
    for root in roots:
        matched = list(_expand(root))
        if not matched:
            raise BadOption(f"{root}: matches nothing")
        for path in matched:
            location = locate(path)
            if path.endswith(".index") and location.is_file():
                found.append(path[: -len(".index")])
            elif location.is_dir():
                _walk(location, found, seen)
            elif location.is_file() or location.with_suffix(".index").is_file():
                found.append(path)
            else:
                raise BadOption(f"{path}: no such file or folder")
    return list(dict.fromkeys(found))


def matches(path: str, patterns: tuple[str, ...]) -> bool:
    """True when the path matches one of the shell patterns."""
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)
