"""inspect_artifact: list an artifact's tensors with their statistics."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable

from ckptdiff.artifact import GROUPS, Artifact, TensorEntry
from ckptdiff.report.interface import GroupSummary, Histogram, InspectReport, TensorRow, describe_artifact
from ckptdiff.stats.evidence import assess_entries
from ckptdiff.stats.parallel import compute_all_stats

ALL_GROUPS = "all"


def matches_any(entry: TensorEntry, patterns: Iterable[str]) -> bool:
    """True when the entry's key or any of its recorded paths matches one of the glob patterns."""
    names = (entry.key, *entry.paths)
    return any(fnmatch.fnmatchcase(name, pat) for pat in patterns for name in names)


def _histogram(entry: TensorEntry, verdict: object) -> Histogram | None:
    from ckptdiff.stats.histogram import histogram_of

    return histogram_of(entry, getattr(verdict, "match", None))


def inspect_artifact(
    artifact: Artifact,
    *,
    filters: tuple[str, ...] = (),
    group: str = ALL_GROUPS,
    with_stats: bool = True,
    with_init: bool = True,
    progress: Callable[[int], None] | None = None,
    scheduler: str | None = None,
    histograms: bool = False,
) -> InspectReport:
    """Build the inspect report of an artifact.

    Args:
        artifact: an open artifact.
        filters: glob patterns; when given, only entries whose key or a path matches one are kept.
        group: `model`, `optimizer`, `bookkeeping` or `all`.
        with_stats: compute per-tensor statistics (one streaming pass per tensor, on all cores) and the
            fresh-init verdict from them (plus a bounded deterministic sample for the distribution tests).
        with_init: add the fresh-init verdict of each tensor (needs with_stats).
        progress: called with the number of elements done, as work finishes.
        scheduler: a Dask scheduler address: the statistics pass runs on its workers (identical results).
        histograms: add each float tensor's histogram and its matched family's prediction (the HTML report).

    Returns:
        The report: rows ordered model, optimizer, bookkeeping, each in storage order, and a
        summary per group over the rows kept.
    """
    selected = [
        e
        for e in artifact.entries
        if (group == ALL_GROUPS or e.group == group) and (not filters or matches_any(e, filters))
    ]
    selected.sort(key=lambda e: GROUPS.index(e.group))
    if with_stats and scheduler:
        from ckptdiff.stats.distributed import compute_stats_on_cluster

        stats = compute_stats_on_cluster(artifact, selected, scheduler, progress=progress)
    else:
        stats = compute_all_stats(selected, progress=progress) if with_stats else [None] * len(selected)
    verdicts = assess_entries(artifact, selected, stats) if with_stats and with_init else [None] * len(selected)
    rows = tuple(
        TensorRow(
            key=e.key,
            shape=e.shape,
            dtype=e.dtype,
            group=e.group,
            nbytes=e.byte_size,
            paths=e.paths,
            model_path=e.model_path,
            stats=s,
            init=v,
            histogram=_histogram(e, v) if histograms and s is not None else None,
        )
        for e, s, v in zip(selected, stats, verdicts)
    )
    totals = {g: [0, 0, 0] for g in GROUPS}  # tensors, elements, bytes: one pass over the rows
    for e in selected:
        total = totals[e.group]
        total[0] += 1
        total[1] += e.size
        total[2] += e.byte_size or 0
    summary = tuple(GroupSummary(group=g, tensors=t, elements=n, nbytes=b) for g, (t, n, b) in totals.items())
    return InspectReport(artifact=describe_artifact(artifact), tensors=rows, summary=summary)
