"""check_restore: what a restore of an artifact into a live model would really do, variable by variable."""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Callable

from ckptdiff.artifact import Artifact, Format, TensorEntry
from ckptdiff.errors import CkptdiffError
from ckptdiff.inspect import describe_artifact
from ckptdiff.live.model import LiveModel
from ckptdiff.match import hints as hint_search
from ckptdiff.match.by_name import match_by_name
from ckptdiff.match.h5_layers import match_h5_name, match_h5_order
from ckptdiff.match.interface import (
    DTYPE_MISMATCH,
    LOADER_BY_NAME,
    LOADER_DESCRIPTIONS,
    LOADER_H5_NAME,
    LOADER_H5_ORDER,
    LOADER_KERAS3,
    LOADER_OBJECT_GRAPH,
    MATCHED,
    MISSING,
    PARTIAL,
    SHAPE_MISMATCH,
    UNEXPECTED,
    LoaderResult,
)
from ckptdiff.match.keras3 import match_keras3
from ckptdiff.match.object_graph import match_object_graph, slot_coverage
from ckptdiff.stats.parallel import assess_all, compute_all_stats
from ckptdiff.report.interface import (
    CheckReport,
    HintInfo,
    ModelInfo,
    PartialFinding,
    UnexpectedFinding,
    VariableFinding,
)

LOADER_AUTO = "auto"
FRESH = "fresh"
NONFINITE = "nonfinite"
DEFAULT_FAIL_ON = (MISSING, SHAPE_MISMATCH, DTYPE_MISMATCH, PARTIAL)
FAIL_ON_CHOICES = (MISSING, SHAPE_MISMATCH, DTYPE_MISMATCH, PARTIAL, UNEXPECTED, FRESH, NONFINITE)
SUMMARY_KEYS = (MATCHED, MISSING, UNEXPECTED, SHAPE_MISMATCH, DTYPE_MISMATCH, PARTIAL, FRESH, NONFINITE)

_MATCHERS: dict[str, Callable[[Artifact, LiveModel], LoaderResult]] = {
    LOADER_OBJECT_GRAPH: match_object_graph,
    LOADER_BY_NAME: match_by_name,
    LOADER_H5_ORDER: match_h5_order,
    LOADER_H5_NAME: match_h5_name,
    LOADER_KERAS3: match_keras3,
}


def choose_loader(artifact: Artifact) -> str:
    """The loader a user would really call for this artifact kind."""
    from ckptdiff.formats import kind_of

    return kind_of(artifact).loader(artifact)


def run_loader(artifact: Artifact, live: LiveModel, loader: str = LOADER_AUTO) -> LoaderResult:
    """Emulate one loader (or the one `auto` picks for the artifact kind) restoring artifact into live."""
    chosen = choose_loader(artifact) if loader == LOADER_AUTO else loader
    if chosen not in _MATCHERS:
        raise CkptdiffError(f"unknown loader {loader!r}")
    return _MATCHERS[chosen](artifact, live)


def _ignored(patterns: tuple[str, ...], *names: str | None) -> bool:
    return any(name is not None and fnmatch.fnmatchcase(name, pat) for pat in patterns for name in names)


def check_restore(
    artifact: Artifact,
    live: LiveModel,
    *,
    loader: str = LOADER_AUTO,
    fail_on: tuple[str, ...] = DEFAULT_FAIL_ON,
    ignore: tuple[str, ...] = (),
    assess_values: bool = True,
    progress: Callable[[int], None] | None = None,
) -> CheckReport:
    """Emulate restoring artifact into live and report every variable, entry and partial object.

    Args:
        artifact: the open artifact.
        live: the described live model.
        loader: `auto` or one of the loader names.
        fail_on: statuses that make the check fail (`ok` false, exit 1).
        ignore: globs over variable paths/names and entry keys/paths to leave out.
        assess_values: read every restored entry once for its statistics and fresh-init verdict
            (against the variable's configured initializer and its own fresh value).
        progress: called with the number of values read, as the statistics pass goes.

    Returns:
        The check report.
    """
    result = run_loader(artifact, live, loader)
    chosen = result.loader
    entries = {e.key: e for e in artifact.entries}
    second = match_h5_name(artifact, live) if chosen == LOADER_H5_ORDER else None

    variables = []
    for pairing in result.pairings:
        var = live.variables[pairing.variable]
        if pairing.variable in result.out_of_scope or _ignored(ignore, var.path, var.name, pairing.key):
            continue
        entry = entries.get(pairing.key) if pairing.key else None
        opinion = None
        if second is not None:
            other = second.pairings[pairing.variable]
            if (other.status, other.key) != (pairing.status, pairing.key):
                opinion = (second.loader, other.status, other.key)
        variables.append(
            VariableFinding(
                variable=var.index,
                path=var.path,
                status=pairing.status,
                key=pairing.key,
                shape=var.shape,
                dtype=var.dtype,
                entry_shape=tuple(entry.shape) if entry is not None else None,
                entry_dtype=entry.dtype if entry is not None else None,
                trainable=var.trainable,
                layer=var.layer,
                group=var.group,
                detail=pairing.detail,
                second_opinion=opinion,
            )
        )
    if assess_values:
        variables = _assess_restored(variables, result, live, entries, progress)
    unexpected_entries = [
        e for e in artifact.entries if e.key not in result.consumed and not _ignored(ignore, e.key, *e.paths)
    ]
    unexpected = tuple(UnexpectedFinding(e.key, e.group, tuple(e.shape), e.dtype) for e in unexpected_entries)
    partial = tuple(_partial_layers(variables)) + tuple(_partial_optimizer(artifact, live, result, ignore))
    hints = _hints(live, result, variables, unexpected_entries, entries, second)

    counts = Counter(v.status for v in variables)
    summary = {key: 0 for key in SUMMARY_KEYS}
    summary.update({k: v for k, v in counts.items() if k in summary})
    summary[UNEXPECTED] = len(unexpected)
    summary[PARTIAL] = len(partial)
    # Optimizer hyper-parameters and counters equal their initial values by design: only model weights count.
    summary[FRESH] = sum(1 for v in variables if v.group == "model" and v.init is not None and v.init.verdict == FRESH)
    summary[NONFINITE] = sum(1 for v in variables if v.nonfinite)
    unexpected_model = sum(1 for u in unexpected if u.group == "model")
    failing = {
        status: (unexpected_model if status == UNEXPECTED else summary.get(status, 0)) for status in fail_on
    }
    ok = not any(failing.values())
    notes = result.notes
    if result.out_of_scope:
        names = ", ".join(live.variables[i].path for i in sorted(result.out_of_scope)[:3])
        more = " ..." if len(result.out_of_scope) > 3 else ""
        notes = notes + (
            f"{len(result.out_of_scope)} live variable(s) this loader never saves or restores are left out "
            f"(optimizer state, seed generators): {names}{more}",
        )
    if second is not None:
        notes = notes + (f"second pass: {LOADER_DESCRIPTIONS[LOADER_H5_NAME]} ({second.outcome})",)
    return CheckReport(
        artifact=describe_artifact(artifact),
        model=ModelInfo(live.spec, live.kind, live.name, len(live.variables), live.notes),
        loader=chosen,
        loader_description=LOADER_DESCRIPTIONS[chosen],
        anchor=result.anchor,
        outcome=result.outcome,
        variables=tuple(variables),
        unexpected=unexpected,
        partial=partial,
        hints=hints,
        summary=summary,
        fail_on=tuple(fail_on),
        ok=ok,
        notes=notes,
    )


def _assess_restored(
    variables: list[VariableFinding],
    result: LoaderResult,
    live: LiveModel,
    entries: dict[str, TensorEntry],
    progress: Callable[[int], None] | None = None,
) -> list[VariableFinding]:
    """Statistics and the fresh-init verdict of what each restored variable would receive."""
    restored = [f for f in variables if f.status in (MATCHED, DTYPE_MISMATCH) and f.key in entries]
    chosen = [entries[f.key] for f in restored]  # type: ignore[index]
    stats = compute_all_stats(chosen, progress=progress)
    verdicts = assess_all(
        chosen,
        stats,
        initializers=[live.variables[f.variable].initializer for f in restored],
        fresh_values=[live.variables[f.variable].fresh for f in restored],
    )
    assessed = {id(f): (s, v) for f, s, v in zip(restored, stats, verdicts)}
    out = []
    for f in variables:
        if id(f) in assessed:
            s, v = assessed[id(f)]
            f = replace(f, init=v, nonfinite=bool(s is not None and s.nonfinite))
        out.append(f)
    return out


def _partial_layers(variables: list[VariableFinding]) -> list[PartialFinding]:
    """Layers (or parent scopes) where some variables are restored and others are not; optimizer state is not a layer."""
    by_owner: dict[str, list[VariableFinding]] = defaultdict(list)
    for v in variables:
        if v.group == "optimizer":
            continue
        owner = v.layer or (v.path.rsplit("/", 1)[0] if "/" in v.path else "")
        if owner:
            by_owner[owner].append(v)
    found = []
    for owner, members in by_owner.items():
        restored = tuple(v.path for v in members if v.status in (MATCHED, DTYPE_MISMATCH))
        not_restored = tuple(v.path for v in members if v.status not in (MATCHED, DTYPE_MISMATCH))
        if restored and not_restored:
            found.append(
                PartialFinding(
                    object=owner,
                    kind="layer",
                    restored=restored,
                    not_restored=not_restored,
                    detail=f"{len(restored)} of {len(members)} variables restored; {', '.join(not_restored)} keep fresh values",
                )
            )
    return found


def _partial_optimizer(
    artifact: Artifact, live: LiveModel, result: LoaderResult, ignore: tuple[str, ...]
) -> list[PartialFinding]:
    """Optimizer slots stored for only some of the restored trainable variables (a resume restarts the rest at zero)."""
    if result.loader != LOADER_OBJECT_GRAPH or artifact.object_graph is None:
        return []
    coverage = slot_coverage(artifact)
    if not coverage:
        return []
    graph = artifact.object_graph
    covered_keys = {}
    for node_id, slots in coverage.items():
        for attr in graph.nodes[node_id].attributes:
            if attr.name == "VARIABLE_VALUE":
                covered_keys[attr.checkpoint_key] = slots
    restored = [
        (live.variables[p.variable], p.key)
        for p in result.pairings
        if p.status == MATCHED and live.variables[p.variable].trainable and not _ignored(ignore, live.variables[p.variable].path, p.key)
    ]
    with_slots = tuple(v.path for v, key in restored if key in covered_keys)
    without = tuple(v.path for v, key in restored if key not in covered_keys)
    if not with_slots or not without:
        return []
    slot_names = sorted({s for slots in covered_keys.values() for s in slots})
    return [
        PartialFinding(
            object="optimizer",
            kind="optimizer",
            restored=with_slots,
            not_restored=without,
            detail=(
                f"optimizer slots ({', '.join(slot_names)}) cover {len(with_slots)} of {len(restored)} restored trainable "
                f"variables; resuming training restarts the others' moments at zero"
            ),
        )
    ]


def _hints(
    live: LiveModel,
    result: LoaderResult,
    variables: list[VariableFinding],
    unexpected: list[TensorEntry],
    entries: dict[str, TensorEntry],
    second: LoaderResult | None,
) -> tuple[HintInfo, ...]:
    by_path = {v.path: v for v in live.variables}
    missing = [
        (live.variables[f.variable], result.wanted.get(f.variable, f.path))
        for f in variables
        if f.status == MISSING and f.key is None
    ]
    found = hint_search.find_rewrites(missing, unexpected)
    if result.loader in (LOADER_H5_NAME, LOADER_H5_ORDER):
        # In an H5 file the differing component is a layer name: the remedy is naming the layer, not a
        # checkpoint assignment map.
        found = [
            replace(
                h,
                kind="rename",
                message=f"layer renamed: file layer '{h.rewrite[0]}' is model layer '{h.rewrite[1]}' "
                f"({len(h.pairs)} weight(s)); give the model layer the file's name, or load by layer order",
                assignment_map=None,
                rename=None,
            )
            if h.rewrite and "/" not in h.rewrite[0] + h.rewrite[1]
            else h
            for h in found
        ]
    explained = {by_path[p].index for h in found for p, _ in h.pairs if p in by_path}
    found += hint_search.find_same_shape_candidates([v for v, _ in missing], unexpected, explained)
    shift = None
    if result.loader == LOADER_OBJECT_GRAPH:
        current = {p.variable: p.key for p in result.pairings}
        shift = hint_search.find_layer_shift(list(live.variables), result.wanted, list(entries.values()), current)
        if shift is not None:
            found.append(shift)
    for f in variables:
        if shift is not None and "layer_with_weights-" in (f.key or ""):
            continue  # the shift explains these mismatches better than a changed head would
        if f.status == SHAPE_MISMATCH and f.key in entries:
            h = hint_search.explain_shape_mismatch(live.variables[f.variable], entries[f.key])
            if h is not None:
                found.append(h)
    if second is not None:
        disagree = [f for f in variables if f.second_opinion is not None]
        if disagree:
            found.append(
                hint_search.Hint(
                    kind="h5-name-disagrees",
                    message=(
                        f"load_weights(by_name=True) would treat {len(disagree)} variable(s) differently: "
                        + "; ".join(f"{f.path}: {f.second_opinion[1]}" for f in disagree[:4])
                        + (" ..." if len(disagree) > 4 else "")
                    ),
                    pairs=tuple((f.path, f.second_opinion[2] or "") for f in disagree),
                )
            )
    return tuple(HintInfo(h.kind, h.message, h.pairs, h.assignment_map, h.rename) for h in found)
