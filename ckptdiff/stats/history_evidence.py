"""The run's own history as evidence: a checkpoint written beside earlier ones of the same run
(`ckpt-4` beside `ckpt-1`, `weights.04.weights.h5` beside `weights.01.weights.h5`) is compared with the
earliest, variable by variable. A variable that changed since then was updated by the run; one that is
bit-identical while others changed never was (frozen, rebound, cut from the graph)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ckptdiff.artifact import Artifact, Format, Group, TensorEntry
from ckptdiff.stats.fresh import BASIS_HISTORY, InitVerdict

_LAST_NUMBER = re.compile(r"^(?P<head>.*?)(?P<number>\d+)(?P<tail>\D*)$")
_HISTORY_FORMATS = (
    Format.TF_CHECKPOINT,
    Format.TF1_CHECKPOINT,
    Format.KERAS_WEIGHTS_H5,
    Format.KERAS_ARCHIVE,
    Format.KERAS_H5,
)
_SUFFIXES = (".weights.h5", ".keras", ".hdf5", ".h5")


@dataclass(frozen=True)
class RunFact:
    changed: bool
    text: str


def earliest_sibling(artifact: Artifact) -> str | None:
    """The earliest checkpoint of the same run beside the artifact (same name but a smaller number), or None."""
    if artifact.format not in _HISTORY_FORMATS:
        return None
    from ckptdiff.storage import locate

    here = locate(artifact.resolved or artifact.path)
    name = here.name.removesuffix(".index")
    suffix = next((s for s in _SUFFIXES if name.endswith(s)), "")
    m = _LAST_NUMBER.match(name.removesuffix(suffix) if suffix else name)
    if m is None or not here.parent.is_dir():
        return None
    head, number, tail = m.group("head"), int(m.group("number")), m.group("tail") + suffix
    index = r"\.index" if artifact.format in (Format.TF_CHECKPOINT, Format.TF1_CHECKPOINT) else ""
    pattern = re.compile(re.escape(head) + r"(\d+)" + re.escape(tail) + index)
    found = []
    for sibling in here.parent.iterdir():
        s = pattern.fullmatch(sibling.name)
        if s is not None and int(s.group(1)) < number:
            found.append((int(s.group(1)), sibling.name.removesuffix(".index")))
    if not found:
        return None
    return str(here.parent.child(min(found)[1]))


def _same(a: TensorEntry, b: TensorEntry) -> bool:
    import numpy as np

    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.checksum is not None and b.checksum is not None and a.checksum != b.checksum:
        return False  # a V2 bundle's CRC32C differs: changed, no need to read
    for ca, cb in zip(a.iter_chunks(), b.iter_chunks()):
        if not np.array_equal(np.asarray(ca), np.asarray(cb), equal_nan=np.asarray(ca).dtype.kind in "fc"):
            return False
    return True


def run_facts(
    artifact: Artifact, entries: Sequence[TensorEntry], open_one: Callable[[str], Artifact]
) -> tuple[dict[str, RunFact], str | None]:
    """What the run's earliest checkpoint says about each model entry, and a note (None: no earlier checkpoint)."""
    earliest = earliest_sibling(artifact)
    if earliest is None:
        return {}, None
    name = earliest.rsplit("/", 1)[-1]
    with open_one(earliest) as first:
        before = first.by_key
        changed = {e.key: not _same(before[e.key], e) for e in entries if e.group == Group.MODEL and e.key in before}
    moved = sum(changed.values())
    if not moved:
        return {}, f"no model variable changed since {name}, the run's earliest checkpoint beside it"
    facts = {}
    for key, did in changed.items():
        if did:
            facts[key] = RunFact(True, f"it changed since {name}, the run's earliest checkpoint")
        else:
            facts[key] = RunFact(False, f"bit-identical in {name} while {moved} of {len(changed)} variables changed")
    return facts, f"compared with {name}, the run's earliest checkpoint beside it"


def apply_run_fact(verdict: InitVerdict, fact: RunFact | None, size: int) -> InitVerdict:
    """The verdict with the run's testimony."""
    return verdict if fact is None else verdict.with_testimony(fact.changed, BASIS_HISTORY, fact.text, size)
