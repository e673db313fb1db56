"""Artifacts carried in a plain zip or tar (a legacy or Keras H5, a SavedModel), scanned by their own kind.

What such an artifact's scan reads is copied into a private temporary directory, under names ckptdiff makes
(never a member's own path), bounded in bytes: an H5 file whole, a SavedModel's `saved_model.pb` (or `.pbtxt`)
and `keras_metadata.pb`, and its assets as empty files of their recorded size (the scan lists them by size and
never reads them). A SavedModel's variables are left out: its scan never reads them. Nothing is executed and
the container is not modified. What cannot be copied or scanned stays an `unscanned-member` finding, so a
container never passes as clean for what was not scanned.
"""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ckptdiff.errors import CkptdiffError, one_line
from ckptdiff.scanning.interface import Finding, Severity

CARRIED_MAX_BYTES = 256 << 20
"""Bytes copied out of one container for the scans of the artifacts it carries; beyond it they stay unscanned."""
H5_SUFFIXES = (".h5", ".hdf5")
SAVED_MODEL_GRAPHS = ("saved_model.pb", "saved_model.pbtxt")
KERAS_METADATA = "keras_metadata.pb"
FINGERPRINT = "fingerprint.pb"
"""Hashes of the SavedModel's parts: read by no loader as code, covered by the SavedModel's scan."""
ASSET_DIRS = ("assets", "assets.extra")


@dataclass(frozen=True)
class Member:
    """A regular file of the container: its path there, its size, and how to read its bytes."""

    name: str
    size: int
    read: Callable[[], bytes]


def wanted(name: str) -> bool:
    """Whether a member may belong to what a carried artifact's scan reads (its bytes or, for assets, its size)."""
    base = posixpath.basename(name)
    parts = name.split("/")
    return (
        base.lower().endswith(H5_SUFFIXES)
        or base in SAVED_MODEL_GRAPHS
        or base == KERAS_METADATA
        or any(p in ASSET_DIRS for p in parts[:-1])
    )


def unscanned(where: str, why: str = "") -> Finding:
    """The finding for an artifact inside a plain container that was not scanned."""
    detail = "an artifact inside a plain zip or tar is not scanned there"
    return Finding(
        Severity.MEDIUM,
        "unscanned-member",
        where,
        f"{detail}{f' ({why})' if why else ''}: extract it and run `ckptdiff scan` on it",
    )


def _relative(name: str, root: str) -> list[str] | None:
    """The path components of `name` below directory `root`, or None when it is not below it or is unsafe."""
    if root and not name.startswith(root + "/"):
        return None
    parts = name[len(root) + 1 :].split("/") if root else name.split("/")
    if not parts or any(p in ("", ".", "..") for p in parts):
        return None
    return parts


def scan_carried(members: list[Member], prefix: str) -> tuple[list[Finding], list[str], list[str], set[str]]:
    """Scan the H5 files and SavedModels among `members` by their own kinds.

    Returns:
        (findings, parts scanned, notes, names of the members those scans covered); findings and parts are
        located as `<prefix><member> -> <where inside it>`.
    """
    findings: list[Finding] = []
    scanned: list[str] = []
    notes: list[str] = []
    covered: set[str] = set()
    budget = [CARRIED_MAX_BYTES]
    with tempfile.TemporaryDirectory(prefix="ckptdiff-carried-") as tmp:
        for n, member in enumerate(m for m in members if m.name.lower().endswith(H5_SUFFIXES)):
            target = Path(tmp) / f"h5-{n}{posixpath.splitext(member.name)[1].lower()}"
            where = f"{prefix}{member.name}"
            if _copy(member, target, budget, findings, where):
                _scan(target, where, findings, scanned, notes)
                covered.add(member.name)
        roots = sorted({posixpath.dirname(m.name) for m in members if posixpath.basename(m.name) in SAVED_MODEL_GRAPHS})
        for n, root in enumerate(roots):
            directory = Path(tmp) / f"saved-model-{n}"
            where = f"{prefix}{root or '.'}"
            parts = [
                (m, rel)
                for m in members
                if (rel := _relative(m.name, root)) is not None
                and (
                    (len(rel) == 1 and rel[0] in (*SAVED_MODEL_GRAPHS, KERAS_METADATA))
                    or (len(rel) > 1 and rel[0] in ASSET_DIRS)
                )
            ]
            copied = True
            for m, rel in parts:
                target = directory.joinpath(*rel)
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if rel[0] in ASSET_DIRS:
                        with target.open("wb") as out:
                            out.truncate(m.size)  # the scan reads an asset's size, never its bytes
                        continue
                except OSError as exc:  # a name no file system takes, a size it cannot hold
                    findings.append(unscanned(f"{prefix}{m.name}", f"cannot be copied: {one_line(exc)}"))
                    copied = False
                    continue
                if not _copy(m, target, budget, findings, f"{prefix}{m.name}"):
                    copied = False
            if copied and _scan(directory, where, findings, scanned, notes):
                covered.update(m.name for m, _ in parts)
                covered.add(posixpath.join(root, FINGERPRINT))
    return findings, scanned, notes, covered


def _copy(member: Member, target: Path, budget: list[int], findings: list[Finding], where: str) -> bool:
    if member.size > budget[0]:
        findings.append(unscanned(where, f"over the {CARRIED_MAX_BYTES >> 20} MiB copied out per container"))
        return False
    try:
        data = member.read()
    except (OSError, ValueError, EOFError, RuntimeError, NotImplementedError) as exc:
        findings.append(unscanned(where, f"cannot be read: {one_line(exc)}"))
        return False
    budget[0] -= len(data)
    try:
        target.write_bytes(data)
    except OSError as exc:
        findings.append(unscanned(where, f"cannot be copied: {one_line(exc)}"))
        return False
    return True


def _scan(path: Path, where: str, findings: list[Finding], scanned: list[str], notes: list[str]) -> bool:
    """Scan one copied artifact by its kind; a failure is an unscanned finding (False)."""
    from ckptdiff.formats import detect_artifact

    try:
        found = detect_artifact(str(path))
        result = found.kind.scan(found.location, where)
    except CkptdiffError as exc:
        findings.append(unscanned(where, f"cannot be scanned: {one_line(exc).replace(str(path), where)}"))
        return False
    findings.extend(replace(f, location=f"{where} -> {f.location}") for f in result.findings)
    scanned.extend(f"{where} -> {part}" for part in result.scanned)
    notes.extend(f"{where}: {note}" for note in result.notes)
    return True
