"""compute_all_stats: statistics of many tensors on all cores, large tensors split into segments.

numpy releases the GIL inside its reductions, so threads scale across cores without copying the
memory-mapped data. A tensor larger than one segment is cut into segments whose accumulators are
merged (Chan's combination is associative), so one huge embedding does not leave a core idle.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Sequence

from ckptdiff.artifact import TensorEntry
from ckptdiff.stats.moments import TensorStats, _Accumulator, accumulate, is_numeric_dtype

if TYPE_CHECKING:
    from ckptdiff.stats.fresh import InitVerdict

SEGMENT_ELEMENTS = 1 << 24
"""16 Mi elements (64 MiB of float32) per task: coarse enough to keep scheduling overhead nil."""


def default_workers() -> int:
    """One thread per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _tasks(entries: Sequence[TensorEntry]) -> list[tuple[int, Callable[[], _Accumulator]]]:
    tasks: list[tuple[int, Callable[[], _Accumulator]]] = []
    for i, entry in enumerate(entries):
        if not is_numeric_dtype(entry.dtype):
            continue
        source = entry.source
        iter_range = getattr(source, "iter_range", None)
        if iter_range is not None and entry.size > SEGMENT_ELEMENTS:
            for start in range(0, entry.size, SEGMENT_ELEMENTS):
                stop = min(start + SEGMENT_ELEMENTS, entry.size)
                tasks.append((i, lambda r=iter_range, a=start, b=stop, d=entry.dtype: accumulate(r(a, b), d)))
        else:
            tasks.append((i, lambda e=entry: accumulate(e.iter_chunks(), e.dtype)))
    # Largest work first, so the last task to finish is a small one.
    tasks.sort(key=lambda t: -min(entries[t[0]].size, SEGMENT_ELEMENTS))
    return tasks


def compute_all_stats(
    entries: Sequence[TensorEntry],
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[TensorStats | None]:
    """Statistics of every entry, in entry order (None for non-numeric dtypes).

    Args:
        entries: the tensors.
        workers: threads to use (default: one per core).
        progress: called with the number of elements finished after each task.
    """
    tasks = _tasks(entries)
    partial: dict[int, _Accumulator] = {}
    workers = workers or default_workers()

    def finish(index: int, acc: _Accumulator) -> None:
        if index in partial:
            partial[index].merge(acc)
        else:
            partial[index] = acc
        if progress is not None:
            progress(acc.total)

    if workers == 1 or len(tasks) <= 1:
        for index, run in tasks:
            finish(index, run())
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ckptdiff-stats") as pool:
            futures = [(index, pool.submit(run)) for index, run in tasks]
            for index, future in futures:
                finish(index, future.result())
    return [partial[i].result() if i in partial else None for i in range(len(entries))]


def assess_all(
    entries: Sequence[TensorEntry],
    stats: Sequence[TensorStats | None],
    *,
    initializers: Sequence[dict | None] | None = None,
    fresh_values: Sequence[object] | None = None,
    workers: int | None = None,
) -> list[InitVerdict]:
    """The fresh-init verdict of every entry, in entry order, computed on all cores.

    Args:
        entries: the tensors.
        stats: their statistics from the streaming pass (same order).
        initializers: the live model's configured initializer per entry, when known (check).
        fresh_values: the live model's own initial value per entry, when known (check).
        workers: threads to use (default: one per core).
    """
    from ckptdiff.stats.fresh import assess_init

    def one(i: int) -> InitVerdict:
        verdict = assess_init(
            entries[i],
            stats[i],
            initializer=initializers[i] if initializers is not None else None,
            fresh=fresh_values[i] if fresh_values is not None else None,  # type: ignore[arg-type]
        )
        release = getattr(entries[i].source, "release", None)
        if release is not None:
            release()
        return verdict

    workers = workers or default_workers()
    if workers == 1 or len(entries) <= 1:
        return [one(i) for i in range(len(entries))]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ckptdiff-init") as pool:
        return list(pool.map(one, range(len(entries))))
