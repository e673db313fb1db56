"""check_restore: what a restore of an artifact into a live model would really do, variable by variable."""

from __future__ import annotations

import fnmatch
import functools
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace

from ckptdiff.artifact import Artifact, Group, TensorEntry
from ckptdiff.errors import BadOption, CkptdiffError
from ckptdiff.live.model import KIND_TF_KERAS, LiveModel
from ckptdiff.match import hints as hint_search
from ckptdiff.match.interface import (
    DTYPE_MISMATCH,
    LOADER_AUTO,
    LOADER_KERAS3,
    LOADER_TF_KERAS,
    MATCHED,
    MISSING,
    PARTIAL,
    RESTORED,
    SHAPE_MISMATCH,
    UNEXPECTED,
    LoaderEmulator,
    LoaderResult,
    Pairing,
)
from ckptdiff.match.registry import EMULATORS
from ckptdiff.report.interface import (
    CheckReport,
    HintInfo,
    Histogram,
    ModelInfo,
    PartialFinding,
    UnexpectedFinding,
    VariableFinding,
    describe_artifact,
)
from ckptdiff.stats.evidence import assess_entries
from ckptdiff.stats.fresh import InitVerdict, Verdict
from ckptdiff.stats.parallel import compute_all_stats

FRESH = "fresh"
NONFINITE = "nonfinite"
MISPLACED = "misplaced"
DEFAULT_FAIL_ON = (MISSING, SHAPE_MISMATCH, DTYPE_MISMATCH, PARTIAL, NONFINITE, FRESH, MISPLACED)
"""What always makes check fail unless `--allow`ed: a variable not restored, a NaN/Inf weight, a
restored model weight that still looks freshly initialised (the symptom this tool exists for), and a
weight a shifted layer index or class order loads silently from another layer."""
FAIL_ON_CHOICES = (MISSING, SHAPE_MISMATCH, DTYPE_MISMATCH, PARTIAL, UNEXPECTED, FRESH, NONFINITE, MISPLACED)


def effective_fail_on(fail_on: tuple[str, ...] = (), allow: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The statuses that fail a check: the defaults plus `fail_on`, minus `allow` (allow wins).

    Returns:
        The set in FAIL_ON_CHOICES order.

    Raises:
        BadOption: a name that is not a status.
    """
    unknown = [s for s in (*fail_on, *allow) if s not in FAIL_ON_CHOICES]
    if unknown:
        raise BadOption(f"unknown status {', '.join(unknown)}: expected one of {', '.join(FAIL_ON_CHOICES)}")
    chosen = set(DEFAULT_FAIL_ON) | set(fail_on)
    return tuple(s for s in FAIL_ON_CHOICES if s in chosen and s not in allow)


SUMMARY_KEYS = (MATCHED, MISSING, UNEXPECTED, SHAPE_MISMATCH, DTYPE_MISMATCH, PARTIAL, FRESH, NONFINITE, MISPLACED)


def choose_loader(artifact: Artifact, live: LiveModel | None = None) -> str:
    """The loader a user would really call for this artifact kind (and, for Keras files, this model's Keras:
    a tf_keras model loads a `.keras` or `.weights.h5` with tf_keras' own loader)."""
    from ckptdiff.formats import kind_of

    chosen = kind_of(artifact).loader(artifact)
    if chosen == LOADER_KERAS3 and live is not None and live.kind == KIND_TF_KERAS:
        return LOADER_TF_KERAS
    return chosen


def emulator_for(artifact: Artifact, loader: str = LOADER_AUTO, live: LiveModel | None = None) -> LoaderEmulator:
    """The emulator of one loader, or of the one `auto` picks for the artifact kind and model."""
    chosen = choose_loader(artifact, live) if loader == LOADER_AUTO else loader
    if chosen not in EMULATORS:
        raise CkptdiffError(f"unknown loader {loader!r}")
    return EMULATORS[chosen]


def run_loader(artifact: Artifact, live: LiveModel, loader: str = LOADER_AUTO) -> LoaderResult:
    """Emulate one loader (or the one `auto` picks for the artifact kind) restoring artifact into live."""
    return emulator_for(artifact, loader, live).match(artifact, live)


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
    histograms: bool = False,
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
        histograms: add each restored float value's histogram (the HTML report).

    Returns:
        The check report.
    """
    emulator = emulator_for(artifact, loader, live)
    result = emulator.match(artifact, live)
    entries = artifact.by_key
    other_loader = emulator.second_opinion()
    second = other_loader.match(artifact, live) if other_loader is not None else None

    left_out = result.out_of_scope | result.skipped
    kept = [
        p
        for p in result.pairings
        if p.variable not in left_out
        and not (ignore and _ignored(ignore, live.variables[p.variable].path, live.variables[p.variable].name, p.key))
    ]
    assessed = _assess_restored(kept, artifact, live, entries, progress, histograms) if assess_values else {}
    variables = []
    for pairing in kept:
        var = live.variables[pairing.variable]
        entry = entries.get(pairing.key) if pairing.key else None
        opinion = None
        if second is not None:
            other = second.pairings[pairing.variable]
            if (other.status, other.key) != (pairing.status, pairing.key):
                opinion = (second.loader, other.status, other.key)
        init, nonfinite, histogram = assessed.get(pairing.variable, (None, False, None))
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
                init=init,
                nonfinite=nonfinite,
                second_opinion=opinion,
                histogram=histogram,
            )
        )
    unexpected_entries = [
        e for e in artifact.entries if e.key not in result.consumed and not _ignored(ignore, e.key, *e.paths)
    ]
    unexpected = tuple(UnexpectedFinding(e.key, e.group, tuple(e.shape), e.dtype) for e in unexpected_entries)
    ignored = functools.partial(_ignored, ignore)
    partial = tuple(_partial_layers(variables)) + tuple(emulator.partial_findings(artifact, live, result, ignored))
    hints, silent = _hints(emulator, live, result, variables, unexpected_entries, entries, (other_loader, second))
    variables = [replace(v, misplaced=True) if (v.path, v.key) in silent else v for v in variables]

    counts = Counter(v.status for v in variables)
    summary = {key: 0 for key in SUMMARY_KEYS}
    summary.update({k: v for k, v in counts.items() if k in summary})
    summary[UNEXPECTED] = len(unexpected)
    summary[PARTIAL] = len(partial)
    # Optimizer hyper-parameters and counters equal their initial values by design: only model weights count.
    summary[FRESH] = sum(
        1 for v in variables if v.group == Group.MODEL and v.init is not None and v.init.verdict == Verdict.FRESH
    )
    summary[NONFINITE] = sum(1 for v in variables if v.nonfinite)
    summary[MISPLACED] = sum(1 for v in variables if v.misplaced)
    unexpected_model = sum(1 for u in unexpected if u.group == Group.MODEL)
    failing = {status: (unexpected_model if status == UNEXPECTED else summary.get(status, 0)) for status in fail_on}
    ok = not any(failing.values())
    notes = result.notes
    if result.out_of_scope:
        names = ", ".join(live.variables[i].path for i in sorted(result.out_of_scope)[:3])
        more = " ..." if len(result.out_of_scope) > 3 else ""
        notes = notes + (
            f"{len(result.out_of_scope)} live variable(s) this loader never saves or restores are left out "
            f"(optimizer state, seed generators): {names}{more}",
        )
    if other_loader is not None and second is not None:
        notes = notes + (f"second pass: {other_loader.description} ({second.outcome})",)
    return CheckReport(
        artifact=describe_artifact(artifact),
        model=ModelInfo(live.spec, live.kind, live.name, len(live.variables), live.notes),
        loader=emulator.name,
        loader_description=emulator.description,
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
    pairings: list[Pairing],
    artifact: Artifact,
    live: LiveModel,
    entries: dict[str, TensorEntry],
    progress: Callable[[int], None] | None = None,
    histograms: bool = False,
) -> dict[int, tuple[InitVerdict | None, bool, Histogram | None]]:
    """Statistics and the fresh-init verdict of what each restored variable would receive: variable index ->
    (verdict, any NaN/Inf, histogram when asked for)."""
    restored = [p for p in pairings if p.status in RESTORED and p.key is not None and p.key in entries]
    chosen = [entries[key] for p in restored if (key := p.key) is not None]
    stats = compute_all_stats(chosen, progress=progress)
    verdicts = assess_entries(
        artifact,
        chosen,
        stats,
        initializers=[live.variables[p.variable].initializer for p in restored],
        fresh_values=[live.variables[p.variable].fresh for p in restored],
    )
    out: dict[int, tuple[InitVerdict | None, bool, Histogram | None]] = {}
    for p, entry, s, v in zip(restored, chosen, stats, verdicts):
        histogram = None
        if histograms:
            from ckptdiff.stats.histogram import histogram_of

            histogram = histogram_of(entry, v.match if v is not None else None)
        out[p.variable] = (v, bool(s is not None and s.nonfinite), histogram)
    return out


def _partial_layers(variables: list[VariableFinding]) -> list[PartialFinding]:
    """Layers (or parent scopes) where some variables are restored and others are not; optimizer state is not a
    layer."""
    by_owner: dict[str, list[VariableFinding]] = defaultdict(list)
    for v in variables:
        if v.group == Group.OPTIMIZER:
            continue
        owner = v.layer or (v.path.rsplit("/", 1)[0] if "/" in v.path else "")
        if owner:
            by_owner[owner].append(v)
    found = []
    for owner, members in by_owner.items():
        restored = tuple(v.path for v in members if v.status in RESTORED)
        not_restored = tuple(v.path for v in members if v.status not in RESTORED)
        if restored and not_restored:
            found.append(
                PartialFinding(
                    object=owner,
                    kind="layer",
                    restored=restored,
                    not_restored=not_restored,
                    detail=(
                        f"{len(restored)} of {len(members)} variables restored; {', '.join(not_restored)} keep "
                        "fresh values"
                    ),
                )
            )
    return found


def _crosses_classes(hint: hint_search.Hint) -> bool:
    """A rename between layers of different classes explains nothing (a conv2d is no batch_normalization)."""
    return hint.rewrite is not None and hint_search.crosses_classes(*hint.rewrite)


def _hints(
    emulator: LoaderEmulator,
    live: LiveModel,
    result: LoaderResult,
    variables: list[VariableFinding],
    unexpected: list[TensorEntry],
    entries: dict[str, TensorEntry],
    second: tuple[LoaderEmulator | None, LoaderResult | None],
) -> tuple[tuple[HintInfo, ...], set[tuple[str, str | None]]]:
    by_path = {v.path: v for v in live.variables}
    missing = [
        (live.variables[f.variable], result.wanted.get(f.variable, f.path))
        for f in variables
        if f.status == MISSING and f.key is None
    ]
    # Entries the emulator already explained (a renumbered container) are no candidates for other variables.
    explained_keys = frozenset(key for h in result.found_hints for key in h.explains)
    unexpected = [e for e in unexpected if e.key not in explained_keys]
    rewrites = [h for h in hint_search.find_rewrites(missing, unexpected) if not _crosses_classes(h)]
    found = emulator.reword_hints(rewrites)
    explained = {by_path[p].index for h in found for p, _ in h.pairs if p in by_path}
    found += hint_search.find_same_shape_candidates([v for v, _ in missing], unexpected, explained)
    shift = emulator.shift_hint(live, result, list(entries.values()))
    if shift is not None:
        found.append(shift)
    found += result.found_hints
    for f in variables:
        if shift is not None and f.key in shift.explains:
            continue  # the shift explains these mismatches better than a changed head would
        if f.status == SHAPE_MISMATCH and f.key in entries:
            h = hint_search.explain_shape_mismatch(live.variables[f.variable], entries[f.key])
            if h is not None:
                found.append(h)
    other, _ = second
    if other is not None:
        disagree = [f for f in variables if f.second_opinion is not None]
        if disagree:
            found.append(
                hint_search.Hint(
                    kind=f"{other.name}-disagrees",
                    message=(
                        f"{other.call} would treat {len(disagree)} variable(s) differently: "
                        + "; ".join(f"{f.path}: {f.second_opinion[1]}" for f in disagree[:4] if f.second_opinion)
                        + (" ..." if len(disagree) > 4 else "")
                    ),
                    pairs=tuple((f.path, f.second_opinion[2] or "") for f in disagree if f.second_opinion),
                )
            )
    silent: set[tuple[str, str | None]] = set(shift.silent) if shift is not None else set()
    silent.update(pair for h in result.found_hints for pair in h.silent)
    return tuple(HintInfo(h.kind, h.message, h.pairs, h.assignment_map, h.rename) for h in found), silent
