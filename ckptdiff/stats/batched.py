"""Statistics of many small float tensors in a few vectorised numpy calls (segmented reductions).

A checkpoint of 100,000 small variables spends its time in per-tensor Python overhead, not in
arithmetic: ten numpy calls on four values each cost as much as one on a million. Small float
tensors are therefore concatenated into batches and reduced per segment with `ufunc.reduceat`;
tensors holding NaN or Inf (a non-finite segment sum) are left to the per-tensor path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ckptdiff.artifact import TensorEntry
from ckptdiff.formats.sources import concatenated
from ckptdiff.stats.moments import TensorStats

SMALL_ELEMENTS = 4096
"""Tensors up to this many elements go through the batched path."""
BATCH_VALUES = 1 << 22
"""Values concatenated per batch (16 MiB of float32): bounds the copy."""


def batchable(entry: TensorEntry) -> bool:
    """A float32/float64 tensor small enough to batch (non-empty)."""
    return entry.dtype in ("float32", "float64") and 0 < entry.size <= SMALL_ELEMENTS


def batched_stats(entries: Sequence[TensorEntry]) -> list[TensorStats | None]:
    """TensorStats for each entry (all batchable); None where the per-tensor path must decide (non-finite values)."""
    results: list[TensorStats | None] = [None] * len(entries)
    counts = [e.size for e in entries]
    start = 0
    while start < len(entries):
        stop, total = start, 0
        while stop < len(entries) and (total == 0 or total + counts[stop] <= BATCH_VALUES):
            total += counts[stop]
            stop += 1
        _batch(entries, counts, start, stop, results)
        start = stop
    return results


def _batch(
    entries: Sequence[TensorEntry], counts: list[int], start: int, stop: int, results: list[TensorStats | None]
) -> None:
    chunk = entries[start:stop]
    sizes = np.array(counts[start:stop], dtype=np.int64)
    values = concatenated(chunk).astype(np.float64, copy=False)
    offsets = np.zeros(len(chunk), dtype=np.int64)
    np.cumsum(sizes[:-1], out=offsets[1:])
    sums = np.add.reduceat(values, offsets)
    finite = np.isfinite(sums)
    means = sums / sizes
    centred = values - np.repeat(means, sizes)
    m2 = np.add.reduceat(centred * centred, offsets)
    lows = np.minimum.reduceat(values, offsets)
    highs = np.maximum.reduceat(values, offsets)
    zeros = np.add.reduceat((values == 0).astype(np.int64), offsets)
    stds = np.sqrt(np.maximum(m2 / sizes, 0.0))
    # One C-level conversion per column instead of eight numpy-scalar conversions per tensor.
    columns = zip(
        finite.tolist(), sizes.tolist(), means.tolist(), stds.tolist(), lows.tolist(), highs.tolist(), zeros.tolist()
    )
    for k, (ok, n, mean, std, low, high, zero) in enumerate(columns):
        if ok:
            results[start + k] = TensorStats(n, mean, std, low, high, zero / n, 0, 0)
