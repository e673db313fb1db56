"""Tensor statistics on a Dask cluster: the work of compute_all_stats, cut the same way, run on the workers.

Each worker opens the artifact itself by its path (a shared folder or an object-store URL) and keeps it
open for later tasks; it computes the accumulators of whole tensors, of segments of large tensors
(SEGMENT_ELEMENTS each, streamed chunk by chunk so a worker holds one chunk at a time), and the batched
statistics of small tensors, grouped by data shard. The client merges each tensor's segments in order
with Chan's combination, as the local pass does, so the results are identical to a local run, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ckptdiff.artifact import Artifact, TensorEntry
from ckptdiff.errors import BadOption, one_line
from ckptdiff.stats.moments import TensorStats, _Accumulator, accumulate, is_numeric_dtype

_OPEN: dict[str, Artifact] = {}
SMALL_PER_TASK = 4096
"""Small tensors per batched task."""


def _artifact(path: str, storage_options: dict[str, Any]) -> Artifact:
    if path not in _OPEN:
        if storage_options:
            from ckptdiff.storage.remote import configure

            configure(storage_options)
        from ckptdiff.formats import open_artifact

        _OPEN[path] = open_artifact(path)
    return _OPEN[path]


def segments_task(
    path: str, storage_options: dict[str, Any], items: list[tuple[str, int, int]]
) -> list[tuple[str, int, _Accumulator]]:
    """Accumulators of (key, start, stop) element ranges; stop -1 means the whole tensor."""
    artifact = _artifact(path, storage_options)
    out = []
    for key, start, stop in items:
        entry = artifact.entry(key)
        if stop < 0:
            acc = accumulate(entry.iter_chunks(), entry.dtype)
        else:
            iter_range = getattr(entry.source, "iter_range", None)
            if iter_range is None:  # the client splits only sources that have it
                raise BadOption(f"{path}: {key} cannot be read by element range")
            acc = accumulate(iter_range(start, stop), entry.dtype)
        out.append((key, start, acc))
    return out


def batched_task(path: str, storage_options: dict[str, Any], keys: list[str]) -> list[TensorStats | None]:
    """batched_stats of small tensors, as the local pass computes them."""
    from ckptdiff.stats.batched import batched_stats

    artifact = _artifact(path, storage_options)
    return batched_stats([artifact.entry(k) for k in keys])


def _shard(entry: TensorEntry) -> int:
    buffer = getattr(entry.source, "buffer", None)
    return id(buffer) if buffer is not None else 0


def compute_stats_on_cluster(
    artifact: Artifact,
    entries: Sequence[TensorEntry],
    scheduler: str,
    progress: Callable[[int], None] | None = None,
) -> list[TensorStats | None]:
    """compute_all_stats on the workers of the Dask scheduler at `scheduler` (same order, same values)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise BadOption("--scheduler needs Dask distributed: pip install 'ckptdiff[cluster]'") from None
    import os

    from ckptdiff.stats.batched import batchable
    from ckptdiff.stats.parallel import SEGMENT_ELEMENTS
    from ckptdiff.storage.remote import storage_options

    path = artifact.resolved or artifact.path
    options = storage_options() if "://" in path else {}
    if "://" not in path:
        path = os.path.abspath(path)  # workers may run elsewhere in the tree
    try:
        client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise BadOption(f"--scheduler {scheduler}: cannot reach the scheduler ({one_line(str(exc))})") from None
    index = {e.key: i for i, e in enumerate(entries)}
    results: list[TensorStats | None] = [None] * len(entries)
    try:
        small = [e for e in entries if batchable(e)]
        by_shard: dict[int, list[str]] = {}
        for e in small:
            by_shard.setdefault(_shard(e), []).append(e.key)
        batch_futures = {}
        for keys in by_shard.values():
            for i in range(0, len(keys), SMALL_PER_TASK):
                chunk = keys[i : i + SMALL_PER_TASK]
                batch_futures[client.submit(batched_task, path, options, chunk, pure=False)] = chunk
        fast: dict[str, TensorStats | None] = {}
        for future in as_completed(list(batch_futures)):
            for key, stats in zip(batch_futures[future], future.result()):
                fast[key] = stats
        rest = [e for e in entries if fast.get(e.key) is None and is_numeric_dtype(e.dtype)]
        items: dict[int, list[tuple[str, int, int]]] = {}
        for e in rest:
            splittable = getattr(e.source, "iter_range", None) is not None and e.size > SEGMENT_ELEMENTS
            ranges = (
                [(s, min(s + SEGMENT_ELEMENTS, e.size)) for s in range(0, e.size, SEGMENT_ELEMENTS)]
                if splittable
                else [(0, -1)]
            )
            for start, stop in ranges:
                items.setdefault(_shard(e), []).append((e.key, start, stop))
        futures = [
            client.submit(segments_task, path, options, group[i : i + 64], pure=False)
            for group in items.values()
            for i in range(0, len(group), 64)
        ]
        parts: dict[str, list[tuple[int, _Accumulator]]] = {}
        for future in as_completed(futures):
            for key, start, acc in future.result():
                parts.setdefault(key, []).append((start, acc))
                if progress is not None:
                    progress(acc.total)
        for key, stats in fast.items():
            if stats is not None:
                results[index[key]] = stats
                if progress is not None:
                    progress(stats.count)
        for key, pieces in parts.items():
            pieces.sort(key=lambda p: p[0])
            merged = pieces[0][1]
            for _, acc in pieces[1:]:
                merged.merge(acc)
            results[index[key]] = merged.result()
    finally:
        client.close()
    return results
