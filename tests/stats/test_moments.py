"""Streaming statistics against numpy computed on the whole array."""

from __future__ import annotations

import numpy as np
import pytest

from ckptdiff.formats.sources import ArraySource
from ckptdiff.stats.moments import compute_stats, is_numeric_dtype


def _chunks(x: np.ndarray, size: int):
    return ArraySource(x).iter_chunks(size)


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_moments_match_numpy_for_any_chunking(chunk):
    x = np.random.default_rng(1).normal(0.3, 1.7, size=(123, 77)).astype(np.float32)
    x[3, 4] = 0.0
    s = compute_stats(_chunks(x, chunk), "float32")
    assert s.count == x.size
    # Documented precision: within a chunk float32 sums are pairwise (relative error ~1e-6 of the spread).
    std = float(x.std(dtype=np.float64))
    assert abs(s.mean - float(x.mean(dtype=np.float64))) <= 1e-6 * std
    assert s.std == pytest.approx(std, rel=1e-6)
    assert s.min == float(x.min()) and s.max == float(x.max())
    assert s.zero_fraction == pytest.approx(np.count_nonzero(x == 0) / x.size)
    assert (s.nan_count, s.inf_count) == (0, 0)


def test_large_offset_keeps_the_variance_accurate():
    """BatchNorm moving variances: mean 0.9, spread 1e-3; naive sum-of-squares would lose it."""
    x = (0.9 + 1e-3 * np.random.default_rng(2).standard_normal(300_000)).astype(np.float32)
    s = compute_stats(_chunks(x, 1 << 16), "float32")
    assert s.std == pytest.approx(float(x.std(dtype=np.float64)), rel=1e-5)


def test_nonfinite_values_are_counted_and_excluded_from_moments():
    x = np.arange(10, dtype=np.float64)
    x[2], x[5], x[7] = np.nan, np.inf, -np.inf
    s = compute_stats(_chunks(x, 3), "float64")
    finite = x[np.isfinite(x)]
    assert (s.nan_count, s.inf_count) == (1, 2)
    assert s.nonfinite
    assert s.mean == pytest.approx(finite.mean())
    assert s.std == pytest.approx(finite.std())
    assert s.max == 9.0


def test_all_nan_tensor_has_no_moments():
    s = compute_stats(_chunks(np.full(5, np.nan, np.float32), 2), "float32")
    assert s.nan_count == 5 and s.mean is None and s.std is None and s.zero_fraction is None


def test_integers_bool_and_narrow_floats():
    ints = np.array([0, 0, 5, -3], dtype=np.int64)
    s = compute_stats(_chunks(ints, 3), "int64")
    assert (s.mean, s.min, s.max, s.zero_fraction) == (0.5, -3.0, 5.0, 0.5)
    b = compute_stats(_chunks(np.array([True, False, True, True]), 2), "bool")
    assert b.mean == 0.75
    h = np.array([1.5, -2.0, 0.0], dtype=np.float16)
    sh = compute_stats(_chunks(h, 2), "float16")
    assert sh.mean == pytest.approx(float(h.astype(np.float64).mean()))


def test_strings_have_no_statistics():
    assert not is_numeric_dtype("string")
    assert compute_stats(iter([]), "string") is None
