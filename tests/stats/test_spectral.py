"""Random-matrix tests: i.i.d. matrices pass, spiked and heavy-tailed ones fail, orthogonal ones are exact."""

from __future__ import annotations

import numpy as np
import pytest

from ckptdiff.stats.sampling import matrix_view
from ckptdiff.stats.spectral import (
    MP_MIN_SIDE,
    _mp_cdf_table,
    measure_orthogonality,
    measure_spectrum,
)


def _iid(kind: str, shape, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.uniform(-1, 1, shape)
    x = rng.normal(size=shape)
    if kind == "truncated":
        while (bad := np.abs(x) > 2).any():
            x[bad] = rng.normal(size=int(bad.sum()))
    return x


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.1, 0.01])
def test_marchenko_pastur_table_is_a_distribution_with_mean_one(ratio):
    x, cdf = _mp_cdf_table(ratio)
    assert cdf[0] == 0.0 and cdf[-1] == pytest.approx(1.0)
    assert np.all(np.diff(cdf) >= -1e-12)
    mean = float(np.sum((x[1:] + x[:-1]) / 2 * np.diff(cdf)))
    assert mean == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("kind", ["uniform", "normal", "truncated"])
@pytest.mark.parametrize("shape", [(9, 32), (64, 64), (144, 32), (300, 10), (512, 256), (640, 4)])
def test_iid_matrices_are_consistent(kind, shape):
    for seed in range(3):
        result = measure_spectrum(_iid(kind, shape, seed))
        assert result.iid_consistent, (kind, shape, seed, result)
        assert 0.8 < result.top_ratio < 1.1


def test_rank_one_signal_above_the_edge_is_an_outlier():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 300))
    u, v = rng.normal(size=(200, 1)), rng.normal(size=(1, 300))
    x += 3.0 * (u / np.linalg.norm(u)) @ (v / np.linalg.norm(v)) * (200 * 300) ** 0.25
    result = measure_spectrum(x)
    assert result.outliers >= 1 and result.edge_u > 1 and not result.iid_consistent


def test_heavy_tailed_entries_break_the_law():
    x = np.random.default_rng(2).standard_t(2, size=(256, 256))
    assert not measure_spectrum(x).iid_consistent


def test_small_sides():
    assert measure_spectrum(np.ones((1, 50))) is None
    skinny = measure_spectrum(_iid("normal", (640, 4), 3))
    assert skinny.rows == 4 and skinny.mp_ks == 0.0 and skinny.rows < MP_MIN_SIDE


def test_orthogonality_is_exact_for_orthogonal_lines_and_far_for_random_ones():
    q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(300, 40)))
    ortho = measure_orthogonality(2.0 * q.T)
    assert ortho.orthogonal and ortho.gain == pytest.approx(2.0)
    assert not measure_orthogonality(np.random.default_rng(5).normal(size=(40, 300))).orthogonal


def test_matrix_views_follow_keras_kernel_layout():
    assert matrix_view((3, 3, 32, 64)) == (288, 64)
    assert matrix_view((3, 3, 32, 1)) == (9, 32)  # depthwise: spatial x channels
    assert matrix_view((640, 4)) == (640, 4)
    assert matrix_view((64, 4, 16)) == (256, 16)
    assert matrix_view((128,)) is None and matrix_view(()) is None
