"""diff_artifacts: compare two artifacts tensor by tensor, streaming both sides chunk by chunk."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ckptdiff.artifact import Artifact, Format, Group, TensorEntry
from ckptdiff.live.model import LiveModel
from ckptdiff.match.align import ALIGN_MODEL, align_entries, align_through_model
from ckptdiff.report.interface import DiffOutcome, DiffReport, DiffStatus, LayerChange, TensorDiff, describe_artifact
from ckptdiff.stats.evidence import assess_entries
from ckptdiff.stats.moments import is_numeric_dtype
from ckptdiff.stats.parallel import compute_all_stats

SAME = DiffStatus.SAME
CHANGED = DiffStatus.CHANGED
SHAPE_CHANGED = DiffStatus.SHAPE_CHANGED
DTYPE_CHANGED = DiffStatus.DTYPE_CHANGED
ONLY_IN_A = DiffStatus.ONLY_IN_A
ONLY_IN_B = DiffStatus.ONLY_IN_B
DIFF_STATUSES = tuple(DiffStatus)
_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_NARROW = {"float16", "bfloat16"}


@dataclass
class _PairAccumulator:
    """Running sums over aligned chunks of a and b."""

    n: int = 0
    max_abs: float = 0.0
    sq_diff: float = 0.0
    sq_a: float = 0.0
    sq_b: float = 0.0
    dot: float = 0.0
    changed: int = 0
    nonfinite_mismatch: int = 0

    def add(self, a: np.ndarray, b: np.ndarray, atol: float, rtol: float) -> None:
        a64 = a.astype(np.float64, copy=False)
        b64 = b.astype(np.float64, copy=False)
        nan_a, nan_b = np.isnan(a64), np.isnan(b64)
        both_nan = nan_a & nan_b
        finite = np.isfinite(a64) & np.isfinite(b64)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(a64 - b64)
            if a.dtype.kind in "iu" and b.dtype.kind in "iu":
                equal = a == b  # exact: float64 cannot tell 2**53 from 2**53 + 1
                tolerant = atol > 0 or rtol > 0
                close = equal | ((diff <= atol + rtol * np.abs(b64)) & tolerant)
            else:
                equal = (a64 == b64) | both_nan
                # Within tolerance only where both are finite: an infinity is never close to a number (inf <= inf).
                close = equal | (finite & (diff <= atol + rtol * np.abs(b64)))
        self.changed += int(close.size - np.count_nonzero(close))
        self.n += a.size
        if not finite.all():
            self.nonfinite_mismatch += int(np.count_nonzero(~finite & ~equal))
            a64, b64, diff = a64[finite], b64[finite], diff[finite]
        if diff.size:
            self.max_abs = max(self.max_abs, float(diff.max()))
            self.sq_diff += float(np.dot(diff, diff))
            self.sq_a += float(np.dot(a64, a64))
            self.sq_b += float(np.dot(b64, b64))
            self.dot += float(np.dot(a64, b64))


def _as_comparable(chunk: np.ndarray, dtype: str) -> np.ndarray:
    return chunk.astype(np.float32) if dtype in _NARROW or chunk.dtype.kind == "b" else chunk


@dataclass(frozen=True)
class PairMeasures:
    """What one lock-step pass over a same-shape pair measures."""

    max_abs_diff: float | None
    rel_l2: float | None
    cosine: float | None
    changed_fraction: float
    nonfinite_mismatch: int
    sq_diff: float | None = None
    """Sum of squared differences (finite values): summed per layer for the layer's rel_l2."""
    sq_a: float | None = None
    """Sum of squares of A's finite values."""


@dataclass
class _LayerSums:
    """Running sums of one layer's model tensors."""

    sq_diff: float = 0.0
    sq_a: float = 0.0
    tensors: int = 0
    changed: int = 0


def compare_entries(a: TensorEntry, b: TensorEntry, atol: float, rtol: float) -> PairMeasures:
    """Measures of one same-shape pair, from one lock-step pass over both sides' chunks."""
    if not (is_numeric_dtype(a.dtype) and is_numeric_dtype(b.dtype)):
        same = np.array_equal(np.asarray(a.read()), np.asarray(b.read()))
        return PairMeasures(None, None, None, 0.0 if same else 1.0, 0)
    acc = _PairAccumulator()
    chunks_b = b.iter_chunks()
    pending = np.empty(0)
    for ca in a.iter_chunks():
        ca = _as_comparable(ca, a.dtype)
        while pending.size < ca.size:
            nxt = next(chunks_b, None)
            if nxt is None:
                break
            pending = (
                np.concatenate([pending, _as_comparable(nxt, b.dtype)])
                if pending.size
                else _as_comparable(nxt, b.dtype)
            )
        acc.add(ca, pending[: ca.size], atol, rtol)
        pending = pending[ca.size :]
    norm_a, norm_b = math.sqrt(acc.sq_a), math.sqrt(acc.sq_b)
    return PairMeasures(
        max_abs_diff=acc.max_abs,
        rel_l2=math.sqrt(acc.sq_diff) / norm_a if norm_a > 0 else (0.0 if acc.sq_diff == 0 else None),
        cosine=acc.dot / (norm_a * norm_b) if norm_a > 0 and norm_b > 0 else None,
        changed_fraction=acc.changed / acc.n if acc.n else 0.0,
        nonfinite_mismatch=acc.nonfinite_mismatch,
        sq_diff=acc.sq_diff,
        sq_a=acc.sq_a,
    )


def _layer_of(name: str) -> str:
    stem = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else name
    stem = stem.removesuffix(":0")
    return stem.rsplit("/", 1)[0] if "/" in stem else stem


def _assess_b(results: list[TensorDiff], b: Artifact) -> list[TensorDiff]:
    """The fresh-init verdict of B's side of every compared model tensor; an unchanged pair says so in the evidence."""
    entries_b = b.by_key
    chosen = [
        i for i, t in enumerate(results) if t.group == "model" and t.key_b in entries_b and t.status in (SAME, CHANGED)
    ]
    targets = [entries_b[key] for i in chosen if (key := results[i].key_b) is not None]
    verdicts = assess_entries(b, targets, compute_all_stats(targets))
    out = list(results)
    for i, verdict in zip(chosen, verdicts):
        if results[i].status == SAME:
            verdict = replace(verdict, evidence=f"{verdict.evidence}; unchanged between the two artifacts")
        out[i] = replace(results[i], init=verdict)
    return out


def diff_artifacts(
    a: Artifact,
    b: Artifact,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    assess_values: bool = True,
    progress: Callable[[int], None] | None = None,
    live: LiveModel | None = None,
) -> DiffReport:
    """Compare two artifacts.

    Args:
        a: the first artifact (the reference for relative measures).
        b: the second artifact.
        atol: absolute tolerance.
        rtol: relative tolerance; a pair element is the same when |a - b| <= atol + rtol * |b|.
        assess_values: give B's side of every compared model tensor a fresh-init verdict.
        progress: called with the number of values compared, pair by pair.
        live: align through this live model: entries pair when `check` would restore the same
            variable from them (each artifact with the loader its kind calls for).

    Returns:
        The report: one TensorDiff per aligned pair or unpaired entry, the per-layer view, counts.
    """
    results: list[TensorDiff] = []
    layer_sums: OrderedDict[str, _LayerSums] = OrderedDict()
    alignment: dict[str, int] = {}
    notes: tuple[str, ...] = ()
    if live is None:
        aligned = align_entries(a, b)
    else:
        from ckptdiff.commands.check import run_loader

        restore_a, restore_b = run_loader(a, live), run_loader(b, live)
        aligned = align_through_model(a, b, restore_a, restore_b, live)
        notes = (
            f"aligned through --model {live.spec}: A as {restore_a.loader} restores it, B as {restore_b.loader} "
            "restores it",
        )
    for pair in aligned:
        ea, eb = pair.a, pair.b
        present = ea if ea is not None else eb
        assert present is not None, "an aligned pair has at least one side"
        group = present.group
        base: dict[str, Any] = dict(
            name=pair.name,
            aligned_by=pair.how,
            key_a=ea.key if ea else None,
            key_b=eb.key if eb else None,
            group=group,
            shape_a=tuple(ea.shape) if ea else None,
            shape_b=tuple(eb.shape) if eb else None,
            dtype_a=ea.dtype if ea else None,
            dtype_b=eb.dtype if eb else None,
        )
        if ea is None or eb is None:
            results.append(TensorDiff(status=ONLY_IN_B if ea is None else ONLY_IN_A, **base))
            continue
        alignment[pair.how or ""] = alignment.get(pair.how or "", 0) + 1
        if tuple(ea.shape) != tuple(eb.shape):
            results.append(TensorDiff(status=SHAPE_CHANGED, **base))
            continue
        measures = compare_entries(ea, eb, atol, rtol)
        if progress is not None:
            progress(ea.size)
        if ea.dtype != eb.dtype:
            status = DTYPE_CHANGED
        else:
            status = SAME if measures.changed_fraction == 0.0 else CHANGED
        results.append(
            TensorDiff(
                status=status,
                **base,
                max_abs_diff=measures.max_abs_diff,
                rel_l2=measures.rel_l2,
                cosine=measures.cosine,
                changed_fraction=measures.changed_fraction,
                nonfinite_mismatch=measures.nonfinite_mismatch,
            )
        )
        if group == Group.MODEL and measures.sq_diff is not None:
            sums = layer_sums.setdefault(_layer_of(pair.name), _LayerSums())
            sums.sq_diff += measures.sq_diff
            sums.sq_a += measures.sq_a or 0.0
            sums.tensors += 1
            sums.changed += 0 if status == SAME else 1
    layers = tuple(
        LayerChange(
            layer=name,
            tensors=s.tensors,
            rel_l2=math.sqrt(s.sq_diff) / math.sqrt(s.sq_a) if s.sq_a > 0 else None,
            status=SAME if s.changed == 0 else CHANGED,
        )
        for name, s in layer_sums.items()
    )
    if assess_values:
        results = _assess_b(results, b)
    summary: dict[str, int] = {s: 0 for s in DIFF_STATUSES}
    for r in results:
        summary[r.status] += 1
    tried = (ALIGN_MODEL,) if live is not None else ALIGNMENTS_TRIED
    outcome, why = _outcome(results, summary, tried, live is not None)
    if outcome == DiffOutcome.IDENTICAL and live is None:
        reordered = _reordered_layers(a, b)
        if reordered:
            outcome, why = DiffOutcome.DIFFERENT, reordered
    if why:
        notes = (*notes, why)
    return DiffReport(
        a=describe_artifact(a),
        b=describe_artifact(b),
        atol=atol,
        rtol=rtol,
        tensors=tuple(results),
        layers=layers,
        summary=summary,
        alignment=alignment,
        notes=notes,
        outcome=outcome,
        alignments_tried=tried,
    )


def _weighted_layer_names(artifact: Artifact) -> list[str] | None:
    """The names of the layers holding weights in a legacy H5's `layer_names` order, the order tf_keras'
    load_weights follows by default; None for other formats (Keras 3 loads by container path, and the storage
    order of its files is not the model's)."""
    if artifact.format != Format.KERAS_H5 or not artifact.layers:
        return None
    return [r.layer_name or r.name for r in artifact.layers if r.weight_keys]


def _reordered_layers(a: Artifact, b: Artifact) -> str:
    """The note when two legacy H5 files name the same layers in another order (empty otherwise): aligned by name
    the values are the same, but tf_keras' load_weights by order puts them into different layers."""
    names_a, names_b = _weighted_layer_names(a), _weighted_layer_names(b)
    if names_a is None or names_b is None or names_a == names_b or sorted(names_a) != sorted(names_b):
        return ""
    first = next(i for i, (x, y) in enumerate(zip(names_a, names_b)) if x != y)
    return (
        f"different: the same values under the same layer names, but in another layer order (from position {first}: "
        f"A has {', '.join(names_a[first : first + 3])}, B has {', '.join(names_b[first : first + 3])}); tf_keras' "
        "load_weights (by order, its default) restores them into different layers. "
        "Pass --model SPEC to compare what each restores into the model"
    )


ALIGNMENTS_TRIED = (
    "object path",
    "key",
    "object path one level deeper or shallower",
    "layer name and weight position",
)
"""What align_entries tries, in order (see ckptdiff.match.align)."""
MOSTLY = 0.5


def _outcome(
    results: list[TensorDiff], summary: dict[str, int], tried: tuple[str, ...], through_model: bool
) -> tuple[DiffOutcome, str]:
    """The diff's conclusion, and the note that explains it when no changed pair does (empty for identical, and for
    different when a pair changed)."""
    paired = [r for r in results if r.status not in (ONLY_IN_A, ONLY_IN_B)]
    advice = "" if through_model else "; pass --model SPEC to align both through the live model they restore into"
    if not paired:
        return DiffOutcome.NOTHING_COMPARED, (
            f"nothing compared: no entry of A pairs with an entry of B (tried: {', '.join(tried)}){advice}"
        )
    if any(summary[s] for s in (CHANGED, SHAPE_CHANGED, DTYPE_CHANGED)):
        return DiffOutcome.DIFFERENT, ""
    model_paired = sum(1 for r in paired if r.group == Group.MODEL)
    only_a = sum(1 for r in results if r.status == ONLY_IN_A and r.group == Group.MODEL)
    only_b = sum(1 for r in results if r.status == ONLY_IN_B and r.group == Group.MODEL)
    worst = max(only_a / max(only_a + model_paired, 1), only_b / max(only_b + model_paired, 1))
    if worst > MOSTLY:
        return DiffOutcome.MOSTLY_UNALIGNED, (
            f"mostly unaligned: {only_a} model entries of A and {only_b} of B have no counterpart, against "
            f"{model_paired} aligned; the pairs compared are all the same, but they do not cover the artifacts "
            f"(tried: {', '.join(tried)}){advice}"
        )
    if only_a or only_b:
        return DiffOutcome.DIFFERENT, (
            f"different: every pair compared is the same, but {only_a} model entries of A and {only_b} of B have no "
            f"counterpart (a weight one side lacks is a difference; optimizer state and bookkeeping do not count)"
        )
    return DiffOutcome.IDENTICAL, ""
