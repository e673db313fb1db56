"""The fresh-init detector on a small fixed set: Keras' formulas in numpy, trained-like matrices, real weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ckptdiff.artifact import TensorEntry
from ckptdiff.formats.sources import ArraySource, H5DatasetSource, MemmapSource
from ckptdiff.stats.fresh import (
    MATCH_NONFINITE,
    VERDICT_FRESH,
    VERDICT_INCONCLUSIVE,
    VERDICT_TRAINED,
    assess_init,
)
from ckptdiff.stats.initializers import TRUNCATION_STD_FACTOR, compute_fans, is_round_constant, parse_initializer
from ckptdiff.stats.moments import compute_stats
from ckptdiff.stats.sampling import draw_submatrix, draw_values


def entry_of(value: np.ndarray, dtype: str = "float32", source=None) -> TensorEntry:
    value = np.asarray(value, dtype=dtype)
    return TensorEntry("t", tuple(value.shape), dtype, "model", source or ArraySource(value))


def judge(value: np.ndarray, dtype: str = "float32", **kwargs):
    entry = entry_of(value, dtype)
    return assess_init(entry, compute_stats(entry.iter_chunks(), dtype), **kwargs)


# Keras' formulas, in numpy ----------------------------------------------------------------------------


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def keras_uniform(shape, limit, seed=0):
    return _rng(seed).uniform(-limit, limit, shape)


def keras_truncated(shape, stddev, seed=0):
    """random.truncated_normal: N(0, stddev) redrawn outside two stddevs."""
    rng = _rng(seed)
    x = rng.normal(size=shape)
    while (bad := np.abs(x) > 2.0).any():
        x[bad] = rng.normal(size=int(bad.sum()))
    return x * stddev


def variance_scaling(shape, scale, mode, distribution, seed=0):
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    if distribution == "uniform":
        return keras_uniform(shape, math.sqrt(3 * scale / n), seed)
    if distribution == "truncated_normal":
        return keras_truncated(shape, math.sqrt(scale / n) / TRUNCATION_STD_FACTOR, seed)
    return _rng(seed).normal(0, math.sqrt(scale / n), shape)


def keras_orthogonal(shape, gain=1.0, seed=0):
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    q, r = np.linalg.qr(_rng(seed).normal(size=(max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))
    return gain * (q.T if rows < cols else q).reshape(shape)


FAMILIES = [
    ("glorot_uniform", lambda: variance_scaling((256, 128), 1, "fan_avg", "uniform")),
    ("glorot_normal", lambda: variance_scaling((3, 3, 32, 64), 1, "fan_avg", "truncated_normal")),
    ("he_uniform", lambda: variance_scaling((128, 300), 2, "fan_in", "uniform")),
    ("he_normal", lambda: variance_scaling((512, 64), 2, "fan_in", "truncated_normal")),
    ("lecun_uniform", lambda: variance_scaling((64, 512), 1, "fan_in", "uniform")),
    ("lecun_normal", lambda: variance_scaling((3, 3, 16, 24), 1, "fan_in", "truncated_normal")),
    ("random_uniform(-0.05,0.05)", lambda: keras_uniform((1000, 32), 0.05)),
    ("random_normal(0.05)", lambda: _rng(0).normal(0, 0.05, (300, 200))),
    ("truncated_normal(0.05)", lambda: keras_truncated((64, 256), 0.05)),
    ("truncated_normal(0.02)", lambda: keras_truncated((768, 256), 0.02)),
    ("orthogonal", lambda: keras_orthogonal((128, 512))),
    ("orthogonal", lambda: keras_orthogonal((3, 3, 64, 32))),
    ("orthogonal(gain=2)", lambda: keras_orthogonal((256, 96), gain=2.0)),
]


@pytest.mark.parametrize("name,make", FAMILIES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FAMILIES)])
def test_each_family_is_fresh_with_its_name(name, make):
    verdict = judge(make())
    assert (verdict.verdict, verdict.match) == (VERDICT_FRESH, name), verdict
    assert 0.5 <= verdict.score < 1.0


def test_uniform_and_normal_of_the_same_variance_are_not_confused():
    std, shape = 0.05, (350, 250)  # no fan-based uniform family has limit 0.05 * sqrt(3) at this shape
    normal = judge(_rng(3).normal(0, std, shape))
    uniform = judge(keras_uniform(shape, std * math.sqrt(3), seed=3))
    assert (normal.verdict, normal.match) == (VERDICT_FRESH, "random_normal(0.05)")
    assert (uniform.verdict, uniform.match) == (VERDICT_INCONCLUSIVE, "uniform(-0.0866,0.0866)")
    same_as_lecun = judge(keras_uniform((400, 300), std * math.sqrt(3), seed=3))  # sqrt(3 / 400) = 0.0866
    assert (same_as_lecun.verdict, same_as_lecun.match) == (VERDICT_FRESH, "lecun_uniform")


def test_truncated_and_untruncated_normal_are_told_apart():
    truncated = keras_truncated((400, 300), 0.05 / TRUNCATION_STD_FACTOR, seed=4)  # std exactly 0.05
    verdict = judge(truncated)
    assert verdict.match != "random_normal(0.05)"


# Constants, patterns, small and non-finite tensors -----------------------------------------------------


@pytest.mark.parametrize(
    "value,match",
    [
        (np.zeros(64), "zeros"),
        (np.ones(32), "ones"),
        (np.full(1000, 0.1), "constant(0.1)"),
        (np.zeros((3, 3, 8, 16)), "zeros"),
    ],
)
def test_exact_constants_are_fresh_at_any_size(value, match):
    verdict = judge(value)
    assert (verdict.verdict, verdict.match, verdict.score) == (VERDICT_FRESH, match, 0.99)


def test_an_odd_constant_is_inconclusive():
    """An Adam velocity of a 2-value bias can be one repeated value: nobody configures 0.0012963."""
    verdict = judge(np.full(2, 0.0012963))
    assert verdict.verdict == VERDICT_INCONCLUSIVE


def test_round_constants():
    assert all(is_round_constant(v) for v in (0.0, 1.0, -1.0, 0.1, 0.01, 1e-3, 0.5, 2.0, 0.25))
    assert not any(is_round_constant(v) for v in (0.0012963, 51440.5, 0.123456))


def _round_by_formatting(value: float) -> bool:
    """is_round_constant's general rule, applied to every value: the oracle of its integer shortcut."""
    if value == 0.0 or not np.isfinite(value):
        return value == 0.0
    v32 = float(np.float32(value))
    return any(float(np.float32(float(f"{v32:.{digits}g}"))) == v32 for digits in (1, 2))


def test_round_constant_integer_shortcut_agrees_with_the_general_rule():
    rng = np.random.default_rng(12)
    values = [
        *range(-3000, 3000),
        *(float(v) for v in rng.integers(-(1 << 25), 1 << 25, 20000)),
        *(float(d * 10**k) for d in range(1, 100) for k in range(8)),
        *(float(v) for v in (2**24 - 1, 2**24, 2**24 + 2, 1.2e9, 16777216.0, 1e-50, -1e-50, 3e38, 0.5, 12.5)),
    ]
    is_round_constant.cache_clear()
    mismatched = [v for v in values if is_round_constant(float(v)) != _round_by_formatting(float(v))]
    assert mismatched == []


def test_scalars_and_small_tensors_are_inconclusive():
    assert judge(np.array(0.001)).verdict == VERDICT_INCONCLUSIVE
    assert judge(keras_uniform((10, 10), 0.3)).verdict == VERDICT_INCONCLUSIVE


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_values_are_their_own_match(bad):
    x = keras_uniform((64, 64), 0.2)
    x[3, 3] = bad
    verdict = judge(x)
    assert (verdict.verdict, verdict.match) == (VERDICT_INCONCLUSIVE, MATCH_NONFINITE)


def test_identity_and_lstm_forget_bias_patterns():
    assert judge(np.eye(16)).match == "identity"
    bias = np.zeros(4 * 32)
    bias[32:64] = 1.0
    assert (judge(bias).verdict, judge(bias).match) == (VERDICT_FRESH, "zeros_with_unit_forget_bias")
    configured = judge(bias, initializer={"class_name": "Zeros", "config": {}})
    assert configured.verdict == VERDICT_FRESH


def test_integer_tensors_are_not_judged_as_initializers():
    assert judge(np.arange(1000), dtype="int64").verdict == VERDICT_INCONCLUSIVE


# Trained-like values ---------------------------------------------------------------------------------


def test_low_rank_structure_with_a_perfect_marginal_is_trained():
    """Exactly glorot_uniform's values (bounds, variance, shape all pass), arranged along a rank-1 pattern:
    only the spectrum can see it."""
    shape = (256, 128)
    values = np.sort(variance_scaling(shape, 1, "fan_avg", "uniform", seed=5).reshape(-1))
    rng = _rng(5)
    pattern = rng.normal(size=(256, 1)) @ rng.normal(size=(1, 128)) + 2.0 * rng.normal(size=shape)
    w = np.empty(values.size)
    w[np.argsort(pattern.reshape(-1))] = values
    verdict = judge(w.reshape(shape))
    assert verdict.verdict == VERDICT_TRAINED, verdict
    assert "singular value" in verdict.evidence


def test_normal_values_clipped_inside_uniform_bounds_are_not_fresh():
    """Right range, near-right variance, wrong shape: a normal clipped to glorot_uniform's limit."""
    limit = math.sqrt(6 / 384)
    w = np.clip(_rng(6).normal(0, limit / math.sqrt(3), (256, 128)), -limit, limit)
    assert judge(w).verdict != VERDICT_FRESH


def test_heavy_tailed_and_one_signed_values_are_trained():
    assert judge(_rng(7).standard_t(3, (300, 200)) * 0.05).verdict == VERDICT_TRAINED
    assert judge(_rng(8).gamma(0.5, 1e-6, (1600, 10))).verdict == VERDICT_TRAINED  # an Adam velocity


def test_uniform_init_that_trained_past_its_limit_is_not_fresh():
    w = variance_scaling((128, 64), 1, "fan_avg", "uniform", seed=9)
    w += _rng(9).normal(0, 0.003, w.shape)  # a few hundred small optimizer steps
    assert judge(w).verdict != VERDICT_FRESH


def test_trained_sample_checkpoint_kernels_are_not_fresh(samples):
    h5py = pytest.importorskip("h5py")
    with h5py.File(samples / "keras3" / "model.weights.h5", "r") as f:
        for key in ("layers/dense/vars/0", "layers/dense_1/vars/0"):
            ds = f[key]
            entry = TensorEntry(key, tuple(ds.shape), ds.dtype.name, "model", H5DatasetSource(ds))
            verdict = assess_init(entry, compute_stats(entry.iter_chunks(), entry.dtype))
            assert verdict.verdict != VERDICT_FRESH, (key, verdict)


# The live model's knowledge ----------------------------------------------------------------------------


def test_equal_to_the_live_fresh_value_is_the_strongest_evidence():
    w = variance_scaling((64, 32), 1, "fan_avg", "uniform", seed=10).astype(np.float32)
    verdict = judge(w, fresh=w.copy())
    assert (verdict.verdict, verdict.score) == (VERDICT_FRESH, 1.0)
    assert verdict.evidence == "equals the model's own freshly initialised value"
    assert judge(w, fresh=w + 5e-8).score == 1.0
    assert judge(w, fresh=w + 1e-3).score < 1.0


def test_configured_initializer_is_tested_alone():
    w = variance_scaling((256, 128), 1, "fan_avg", "uniform", seed=11)
    glorot = {"class_name": "GlorotUniform", "config": {"seed": None}}
    assert judge(w, initializer=glorot).match == "glorot_uniform"
    he = judge(w, initializer={"class_name": "HeNormal", "config": {}})
    assert he.verdict == VERDICT_TRAINED and "he_normal" in he.evidence


def test_configured_deterministic_initializers():
    odd = judge(np.full(300, 0.123456), initializer={"class_name": "Constant", "config": {"value": 0.123456}})
    assert (odd.verdict, odd.match) == (VERDICT_FRESH, "constant(0.123456)")
    moved = judge(_rng(12).normal(1.0, 0.05, 64), initializer={"class_name": "Ones", "config": {}})
    assert (moved.verdict, moved.score) == (VERDICT_TRAINED, 1.0)


UNTRUNCATED = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
}


def test_configured_untruncated_normal_is_fresh_only_with_its_exact_variance():
    """The draw's own variance, within TIGHT_VARIANCE_Z standard errors of the configured one, decides fresh; the same
    values scaled so the variance sits 3 standard errors off (as a trained kernel's can) stay inconclusive."""
    from ckptdiff.stats.fresh import TIGHT_VARIANCE_Z

    shape = (64, 128)
    sigma = math.sqrt(2.0 / 128)
    n = shape[0] * shape[1]
    rng = _rng(21)
    draws = [rng.standard_normal(shape) for _ in range(40)]
    # A draw whose sample variance is within the limit of the configured sigma**2 (most are: this picks one).
    fresh_like = next(d for d in draws if abs(d.var(ddof=0) - 1.0) / math.sqrt(2.0 / n) < 0.5 * TIGHT_VARIANCE_Z)
    value = (fresh_like * sigma).astype(np.float32)
    verdict = judge(value, initializer=UNTRUNCATED)
    assert verdict.verdict == VERDICT_FRESH, verdict
    assert "initializer-config" in verdict.basis and "standard errors" in verdict.evidence
    off = (fresh_like / fresh_like.std() * sigma * math.sqrt(1.0 + 3.0 * math.sqrt(2.0 / n))).astype(np.float32)
    moved = judge(off, initializer=UNTRUNCATED)
    assert moved.verdict == VERDICT_INCONCLUSIVE, moved
    assert "standard errors from the configured scale" in moved.evidence
    assert judge(value).verdict != VERDICT_FRESH  # values alone: no configured scale, no such call


def test_parse_initializer_understands_keras_and_tf1_names():
    shape = (64, 32)
    assert parse_initializer("glorot_uniform", shape)[0].name == "glorot_uniform"
    orthogonal = {"class_name": "OrthogonalInitializer", "config": {"gain": 1.0}}
    assert parse_initializer(orthogonal, shape)[0].name == "orthogonal"
    config = {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"}
    vs = parse_initializer({"class_name": "VarianceScaling", "config": config}, shape)[0]
    assert (vs.kind, vs.scale) == ("normal", pytest.approx(math.sqrt(2 / 32)))
    tf1_uniform = {"class_name": "RandomUniform", "config": {"minval": 0, "maxval": None}}
    assert parse_initializer(tf1_uniform, shape)[0].name == "random_uniform(0,1)"
    assert (
        parse_initializer({"class_name": "RandomUniform", "config": {}}, shape)[0].name == "random_uniform(-0.05,0.05)"
    )
    assert parse_initializer({"class_name": "MyCustomInit", "config": {}}, shape) is None


# Sampling through the sources ----------------------------------------------------------------------------


def test_samples_are_deterministic_and_source_independent(tmp_path):
    w = keras_uniform((300, 200), 0.1, seed=13).astype("<f4")
    path = tmp_path / "w.bin"
    w.tofile(path)
    with open(path, "rb") as fh:
        import mmap

        buffer = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        mapped = entry_of(w, source=MemmapSource(buffer, 0, np.dtype("<f4"), w.shape))
        in_memory = entry_of(w)
        assert np.array_equal(draw_values(mapped, 1), draw_values(in_memory, 1))
        assert np.array_equal(draw_submatrix(mapped, 1), draw_submatrix(in_memory, 1))
        del mapped
        buffer.close()


# Real Keras initializers -----------------------------------------------------------------------------


REAL_INITIALIZERS = [
    ("GlorotUniform", {}, (128, 96), "glorot_uniform"),
    ("GlorotNormal", {}, (3, 3, 16, 32), "glorot_normal"),
    ("HeNormal", {}, (256, 64), "he_normal"),
    ("LecunUniform", {}, (64, 200), "lecun_uniform"),
    ("RandomUniform", {}, (500, 16), "random_uniform(-0.05,0.05)"),
    ("TruncatedNormal", {"stddev": 0.02}, (256, 256), "truncated_normal(0.02)"),
    ("RandomNormal", {}, (256, 128), "random_normal(0.05)"),
    ("Orthogonal", {}, (64, 256), "orthogonal"),
]


@pytest.mark.requires_tf
@pytest.mark.parametrize("module", ["keras", "tf_keras"])
def test_real_keras_initializers_are_recognised(tf, module):
    mod = pytest.importorskip(module)
    for class_name, kwargs, shape, name in REAL_INITIALIZERS:
        init = getattr(mod.initializers, class_name)(seed=7, **kwargs)
        value = np.asarray(init(shape))
        verdict = judge(value)
        assert (verdict.verdict, verdict.match) == (VERDICT_FRESH, name), (module, class_name, verdict)
        config = {"class_name": type(init).__name__, "config": init.get_config()}
        assert judge(value, initializer=config).verdict == VERDICT_FRESH, (module, class_name)


@pytest.mark.requires_tf
def test_fans_match_keras(tf):
    pytest.importorskip("keras")
    from keras.src.initializers.random_initializers import compute_fans as keras_fans

    for shape in [(), (7,), (5, 9), (3, 3, 16, 32), (1, 1, 8, 4), (3, 5, 7, 2, 4), (64, 4, 16)]:
        assert compute_fans(shape) == keras_fans(shape), shape


def test_equality_with_the_fresh_value_is_numpys_isclose():
    """_equals_fresh's three-ufunc comparison says what `np.array_equal(a, b) or np.allclose(a, b, rtol, atol)` says,
    for every pair of edge values (zeros, the tolerance's edges, huge, infinite, NaN) and for random tensors."""
    from ckptdiff.artifact import Group, TensorEntry
    from ckptdiff.formats.sources import ArraySource
    from ckptdiff.stats.fit import relative_eps
    from ckptdiff.stats.fresh import EQUAL_ATOL, _equals_fresh

    edges = [0.0, 1.0, -1.0, 1e-8, 1 + 1e-7, 1 + 3e-7, np.inf, -np.inf, np.nan, 1e300, -1e300]
    rng = np.random.default_rng(0)
    pairs = [(np.array([a]), np.array([b])) for a in edges for b in edges]
    base = rng.normal(size=300)
    pairs += [(base, base + rng.normal(scale=s, size=300)) for s in (0.0, 1e-9, 1e-6, 1e-3)]
    # Small tensors, whose extremes are taken over a list (an overflowing sum among them).
    pairs += [(np.array([a, 1.0, b, 1.7e308]), np.array([a, 1.0, 1.7e308, b])) for a in edges for b in edges]
    pairs += [(np.array([a, b, -2.0]), np.array([a, b + 1e-9, -2.0])) for a in edges for b in edges]
    for stored, fresh in pairs:
        entry = TensorEntry("w", stored.shape, "float64", Group.MODEL, ArraySource(stored))
        rtol = max(1e-7, relative_eps("float64"))
        expected = bool(np.array_equal(stored, fresh) or np.allclose(stored, fresh, rtol=rtol, atol=EQUAL_ATOL))
        assert _equals_fresh(entry, fresh) is expected, (stored[:3], fresh[:3])
        stats = compute_stats(entry.iter_chunks(), entry.dtype)
        if not stats.nonfinite:  # the shortcut through the stored extremes never changes the answer
            assert _equals_fresh(entry, fresh, stats.finite()) is expected, (stored[:3], fresh[:3])


def test_testimony_of_updates_against_a_fresh_fit():
    """Moved slots or a changed history turn an open verdict into `trained`, never a fresh fit of 1,024 values or
    more (re-initialised after training) nor an exact fact; a smaller fresh fit becomes `inconclusive`."""
    from ckptdiff.stats.fresh import (
        BASIS_CONSTANT,
        BASIS_DISTRIBUTION,
        TESTIMONY_MIN_VALUES,
        VERDICT_FRESH,
        VERDICT_INCONCLUSIVE,
        VERDICT_TRAINED,
        InitVerdict,
    )

    fit = InitVerdict(VERDICT_FRESH, "glorot_uniform", 0.8, "std 1x glorot_uniform's", (BASIS_DISTRIBUTION,))
    said = "its optimizer slots moved: it received gradients"
    big = fit.with_testimony(True, "optimizer-slots", said, TESTIMONY_MIN_VALUES)
    assert (big.verdict, big.score, big.basis) == (VERDICT_FRESH, 0.8, (BASIS_DISTRIBUTION, "optimizer-slots"))
    assert said in big.evidence and "re-initialised after it was trained" in big.evidence
    small = fit.with_testimony(True, "optimizer-slots", said, TESTIMONY_MIN_VALUES - 1)
    assert (small.verdict, small.score) == (VERDICT_INCONCLUSIVE, 0.0) and "too few values to tell" in small.evidence
    constant = InitVerdict(VERDICT_FRESH, "zeros", 1.0, "all 0", (BASIS_CONSTANT,))
    assert constant.with_testimony(True, "history", "it changed", 4).verdict == VERDICT_FRESH
    open_ = InitVerdict(VERDICT_INCONCLUSIVE, None, 0.0, "only 64 values")
    assert open_.with_testimony(True, "history", "it changed", 64).verdict == VERDICT_TRAINED
    assert fit.with_testimony(False, "optimizer-slots", "no gradient reached it", 64).verdict == VERDICT_FRESH
