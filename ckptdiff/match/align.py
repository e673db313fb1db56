"""align_entries: pair the tensors of two artifacts, of the same or of different formats, without a model.

Schemes, tried in order; each pairs only what is still unpaired and says how it paired:

1. `object-path` over model paths: an object-graph path outside the optimizer recorded on both sides.
2. `key`: identical storage keys (same format family, or formats sharing a naming).
3. `object-path` over every recorded path, allowing one side to sit one level
   deeper (`model/dense/kernel` in a training checkpoint vs `dense/kernel` in the SavedModel of the
   same module).
4. `layer-weight`: (layer name, weight position) for Keras files: legacy H5 records layer names and
   weight order, Keras 3 files record layer names (config.json or `vars` name attributes) and
   `vars/<i>` order; both orders are trainable-then-non-trainable.

Entries are paired only when a name identifies exactly one entry on each side; what cannot be
aligned is reported as only_in_a / only_in_b, never guessed. With a live model (`diff --model`),
`align_through_model` pairs instead the entries each emulated restore would read for the same
variable (`model`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from ckptdiff.artifact import Artifact, LayerRecord, TensorEntry
from ckptdiff.live.model import LiveModel
from ckptdiff.match.interface import LoaderResult

ALIGN_KEY = "key"
ALIGN_OBJECT_PATH = "object-path"
ALIGN_LAYER_WEIGHT = "layer-weight"
ALIGN_MODEL = "model"

STRUCTURE_KEYS = frozenset({"_CHECKPOINTABLE_OBJECT_GRAPH"})
"""Entries that describe structure rather than hold weights; alignment itself compares them."""

_VARS_INDEX = re.compile(r"^(?P<layer>.+)/vars/(?P<i>\d+)$")


@dataclass(frozen=True)
class AlignedPair:
    """Two entries that hold the same tensor, or one entry with no counterpart."""

    a: TensorEntry | None
    b: TensorEntry | None
    how: str | None
    """The scheme that paired them; None for an unpaired entry."""
    name: str = ""
    """The shared name they were paired under (the layer/weight name when known)."""


def _unique_index(
    entries: Iterable[TensorEntry], names: Callable[[TensorEntry], Iterable[str]]
) -> dict[str, TensorEntry]:
    """Map each name to its entry, dropping names that more than one entry claims."""
    seen: dict[str, TensorEntry] = {}
    clash: set[str] = set()
    for e in entries:
        for n in set(names(e)):
            if n in seen and seen[n] is not e:
                clash.add(n)
            seen.setdefault(n, e)
    return {n: e for n, e in seen.items() if n not in clash}


def _object_paths(e: TensorEntry) -> list[str]:
    return [p for p in e.paths if "/vars/" not in p and not p.endswith(":0")]


def _model_paths(e: TensorEntry) -> list[str]:
    return [p for p in _object_paths(e) if "optimizer" not in p.split("/")]


def _strip_first(path: str) -> str:
    return path.split("/", 1)[1] if "/" in path else ""


def _layer_weight_names(artifact: Artifact) -> dict[str, str]:
    """entry key -> `layer/i` for Keras files (legacy H5 layer records, Keras 3 recorded layer names)."""
    names: dict[str, str] = {}
    if artifact.layers is not None:
        for record in artifact.layers:
            layer = _record_layer_name(record)
            if not layer:
                continue
            for i, key in enumerate(record.weight_keys):
                names[key] = f"{layer}/{i}"
    for e in artifact.entries:
        if e.key in names:
            continue
        for p in e.paths:
            m = _VARS_INDEX.match(p)
            if m:
                names[e.key] = f"{m.group('layer').rsplit('/', 1)[-1]}/{m.group('i')}"
                break
    return names


def _record_layer_name(record: LayerRecord) -> str:
    layer_name = getattr(record, "layer_name", None)
    if layer_name:
        return str(layer_name)
    if "/" in record.name or not record.name:
        return ""
    return record.name


def align_entries(a: Artifact, b: Artifact) -> list[AlignedPair]:
    """Pair the entries of two artifacts.

    Returns:
        Pairs in A's storage order, then B's unpaired entries in B's order.
    """
    left = {e.key: e for e in a.entries if e.key not in STRUCTURE_KEYS}
    right = {e.key: e for e in b.entries if e.key not in STRUCTURE_KEYS}
    pairs: list[AlignedPair] = []

    def pair_by(
        how: str, names_a: Callable[[TensorEntry], Iterable[str]], names_b: Callable[[TensorEntry], Iterable[str]]
    ) -> None:
        index_b = _unique_index(right.values(), names_b)
        index_a = _unique_index(left.values(), names_a)
        for name, ea in index_a.items():
            eb = index_b.get(name)
            if eb is not None and ea.key in left and eb.key in right:
                pairs.append(AlignedPair(left.pop(ea.key), right.pop(eb.key), how, name))

    # Model paths first: Keras 3 stores a kernel under whichever path reaches it first
    # (`optimizer/_trainable_variables/N`), and N shifts when the optimizer's variable list does.
    pair_by(ALIGN_OBJECT_PATH, _model_paths, _model_paths)
    for key in list(left):
        if key in right:
            entry = left.pop(key)
            pairs.append(AlignedPair(entry, right.pop(key), ALIGN_KEY, entry.model_path))
    pair_by(ALIGN_OBJECT_PATH, _object_paths, _object_paths)
    if left and right:
        depth = _best_depth_offset(list(left.values()), list(right.values()))
        if depth == 1:
            pair_by(ALIGN_OBJECT_PATH, lambda e: [_strip_first(p) for p in _object_paths(e)], _object_paths)
        elif depth == -1:
            pair_by(ALIGN_OBJECT_PATH, _object_paths, lambda e: [_strip_first(p) for p in _object_paths(e)])
    if left and right:
        lw_a, lw_b = _layer_weight_names(a), _layer_weight_names(b)
        pair_by(
            ALIGN_LAYER_WEIGHT,
            lambda e: [lw_a[e.key]] if e.key in lw_a else [],
            lambda e: [lw_b[e.key]] if e.key in lw_b else [],
        )
    pairs.extend(AlignedPair(e, None, None, e.key) for e in left.values())
    pairs.extend(AlignedPair(None, e, None, e.key) for e in right.values())
    return pairs


def _best_depth_offset(left: list[TensorEntry], right: list[TensorEntry]) -> int:
    """+1 when A's object paths sit one level below B's (A = Checkpoint(model=m), B = m), -1 the reverse, else 0."""
    paths_a = Counter(p for e in left for p in _object_paths(e))
    paths_b = Counter(p for e in right for p in _object_paths(e))
    down_a = sum(1 for p in paths_a if "/" in p and _strip_first(p) in paths_b)
    down_b = sum(1 for p in paths_b if "/" in p and _strip_first(p) in paths_a)
    if max(down_a, down_b) == 0:
        return 0
    return 1 if down_a >= down_b else -1


def align_through_model(
    a: Artifact, b: Artifact, restore_a: LoaderResult, restore_b: LoaderResult, live: LiveModel
) -> list[AlignedPair]:
    """Pair the entries that the same live variable would be restored from, as `check` emulates each restore.

    Args:
        a, b: the two artifacts.
        restore_a, restore_b: the loader emulations of restoring each into the live model.
        live: the live model.

    Returns:
        One pair per variable both restores read an entry for (named by the variable's path), then
        the remaining entries aligned as align_entries does.
    """
    entries_a = {e.key: e for e in a.entries if e.key not in STRUCTURE_KEYS}
    entries_b = {e.key: e for e in b.entries if e.key not in STRUCTURE_KEYS}
    key_b = {p.variable: p.key for p in restore_b.pairings if p.key is not None}
    pairs: list[AlignedPair] = []
    used_a: set[str] = set()
    used_b: set[str] = set()
    for p in restore_a.pairings:
        other = key_b.get(p.variable)
        if p.key is None or other is None or p.key in used_a or other in used_b:
            continue
        if p.key in entries_a and other in entries_b:
            pairs.append(AlignedPair(entries_a[p.key], entries_b[other], ALIGN_MODEL, live.variables[p.variable].path))
            used_a.add(p.key)
            used_b.add(other)
    # What no restore reads for a common variable (optimizer state, bookkeeping) is aligned as without a model.
    rest_a = replace(a, entries=tuple(e for k, e in entries_a.items() if k not in used_a))
    rest_b = replace(b, entries=tuple(e for k, e in entries_b.items() if k not in used_b))
    return pairs + align_entries(rest_a, rest_b)
