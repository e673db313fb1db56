"""Segmented statistics of small tensors agree with the per-tensor streaming pass."""

from __future__ import annotations

import numpy as np
import pytest

from ckptdiff.artifact import TensorEntry
from ckptdiff.formats.sources import ArraySource
from ckptdiff.stats.batched import batchable, batched_stats
from ckptdiff.stats.moments import compute_stats
from ckptdiff.stats.parallel import compute_all_stats


def _entry(key: str, values: np.ndarray) -> TensorEntry:
    return TensorEntry(key=key, shape=values.shape, dtype=values.dtype.name, group="model", source=ArraySource(values))


def _entries() -> list[TensorEntry]:
    rng = np.random.default_rng(3)
    out = [
        _entry(f"v{i}", (rng.standard_normal(rng.integers(1, 300)) * 0.1 + i).astype(np.float32)) for i in range(200)
    ]
    out.append(_entry("zeros", np.zeros(64, np.float32)))
    out.append(_entry("const", np.full((3, 4), 2.5, np.float64)))
    with_nan = np.arange(10, dtype=np.float32)
    with_nan[4] = np.nan
    out.append(_entry("nan", with_nan))
    return out


def test_batched_equals_per_tensor_pass():
    entries = _entries()
    assert all(batchable(e) for e in entries)
    fast = batched_stats(entries)
    for entry, got in zip(entries, fast):
        ref = compute_stats(entry.iter_chunks(), entry.dtype)
        if entry.key == "nan":
            assert got is None  # left to the per-tensor path, which counts NaN
            continue
        assert got.count == ref.count and got.nan_count == 0 and got.inf_count == 0
        assert got.min == ref.min and got.max == ref.max and got.zero_fraction == ref.zero_fraction
        assert got.mean == pytest.approx(ref.mean, rel=1e-6, abs=1e-9)
        assert got.std == pytest.approx(ref.std, rel=1e-5, abs=1e-9)


def test_compute_all_stats_mixes_both_paths_in_entry_order():
    entries = _entries() + [_entry("big", np.linspace(-1, 1, 10_000, dtype=np.float32)), _entry("ints", np.arange(5))]
    stats = compute_all_stats(entries, workers=2)
    assert [s.count for s in stats] == [e.size for e in entries]
    nan = stats[[e.key for e in entries].index("nan")]
    assert nan.nan_count == 1 and nan.max == 9.0
    assert stats[-2].mean == pytest.approx(0.0, abs=1e-6)
    assert stats[-1].mean == 2.0


def test_concatenated_reads_runs_of_a_real_bundle_as_the_entries_read_them(samples):
    """Back-to-back memory-mapped entries are read in one call; any order, subset or mix of sources agrees."""
    import random

    from ckptdiff.formats import open_artifact
    from ckptdiff.formats.sources import concatenated

    with open_artifact(samples / "tf2" / "ckpt-1") as artifact:
        floats = [e for e in artifact.entries if e.dtype in ("float32", "float64") and e.size]
        assert len(floats) > 5
        shuffled = random.Random(0).sample(floats, len(floats))
        mixed = [*floats[:3], _entry("array", np.arange(7, dtype=np.float64)), *floats[3:]]
        for chosen in (floats, sorted(floats, key=lambda e: e.key), shuffled, floats[1::2], mixed, floats[:1]):
            expected = np.concatenate([np.asarray(e.read()).reshape(-1) for e in chosen])
            got = concatenated(chosen)
            assert got.dtype == expected.dtype
            assert np.array_equal(got, expected, equal_nan=True)
