"""Per-tensor verdict: do these values look freshly initialised, trained, or can the numbers not tell?

The verdict comes from, in order: non-finite values; equality with the live model's own initial value;
exact patterns (constants, identity, LSTM forget-gate bias); then, for tensors of at least
MIN_VALUES values, statistical tests against every initializer family the tensor could come from
(the configured one first) and a random-matrix test of the matrix view that needs no family at all.

Score: a number in [0, 1], the strength of the evidence for the verdict.
  1.0        exact evidence: equal to the model's own initial value, or (trained) values the configured
             deterministic initializer cannot produce;
  0.99       an exact pattern: constant, identity, orthogonal to float precision, LSTM forget bias;
  0.5 - 0.99 statistical: for `fresh`, 1 - u/2 where u < 1 is the worst test statistic as a fraction
             of its rejection limit (0.99 = every test far inside its limit); for `trained`, 1 - 1/(2u)
             where u > 1 is the strongest failed statistic over its limit (u = 2 gives 0.75);
  0.0        inconclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ckptdiff.artifact import TensorEntry
from ckptdiff.stats.initializers import (
    KIND_CONSTANT,
    KIND_IDENTITY,
    KIND_NORMAL,
    KIND_ORTHOGONAL,
    KIND_TRUNCATED,
    KIND_UNIFORM,
    TRUNCATION_STD_FACTOR,
    InitFamily,
    catalogue,
    constant_family,
    is_round_constant,
    normal_sf,
    orthogonal_family,
    parse_initializer,
)
from ckptdiff.stats.moments import TensorStats
from ckptdiff.stats.sampling import draw_full_lines, draw_submatrix, draw_values, read_all, read_flat
from ckptdiff.stats.spectral import MIN_LINE_LENGTH, ORTHO_TOL, SpectralResult, measure_orthogonality, measure_spectrum

VERDICT_FRESH = "fresh"
VERDICT_TRAINED = "trained"
VERDICT_INCONCLUSIVE = "inconclusive"
MATCH_NONFINITE = "nonfinite"
MATCH_LIVE_VALUE = "live_initial_value"
MATCH_LSTM_BIAS = "zeros_with_unit_forget_bias"

MIN_VALUES = 256
"""Fewer values than this (exact patterns aside) give `inconclusive`: the tests would have no power."""
SCORE_EXACT = 1.0
SCORE_PATTERN = 0.99

KS_LIMIT = 2.2
"""sqrt(n) * KS distance to the family's exact CDF (p ~ 1e-4 under the family)."""
KURTOSIS_Z_LIMIT = 5.5
"""Sample kurtosis minus the family's, in standard errors."""
MOMENT_Z_LIMIT = 6.0
"""Mean and variance of the whole tensor against the family's, in standard errors."""
GAP_EVENTS = 20.0
"""An extreme may stop short of a bounded family's bound by the width holding 20 expected values (P < e^-20)."""
TAIL_LOW, TAIL_HIGH = 1e-7, 16.0
"""A normal family's largest |z| must have 2n*Q(z) in this range: not too heavy a tail, not truncated."""
ZERO_SLACK = 5
"""Exact zeros a continuous family may show (float rounding), plus 0.1% of the values."""
LARGE = 1024
SMALL_STRICTNESS = 0.75
"""Below LARGE values the tests have little power, so their limits shrink by this factor: a fresh tensor
of 300 values is more often left inconclusive, a trained one less often passes for fresh."""
TRAINED_MIN_U = 1.5
"""A configured family missed by less than this (in units of the limit) is left inconclusive, not trained."""

_REL_EPS = {"float64": 1e-12, "float32": 1e-6, "float16": 2e-3, "bfloat16": 1e-2}


@dataclass(frozen=True)
class InitVerdict:
    """Whether one tensor's values look freshly initialised."""

    verdict: str
    """`fresh`, `trained` or `inconclusive`."""
    match: str | None
    """What the values look like: `zeros`, `glorot_uniform`, `truncated_normal(0.02)`, `orthogonal`,
    `nonfinite`, ...; None when nothing fits."""
    score: float
    """Strength of the evidence for the verdict, in [0, 1] (see the module docstring)."""
    evidence: str
    """One short sentence with the numbers the verdict rests on."""


@dataclass(frozen=True)
class _Check:
    """One test of one family: u = statistic / limit, so u <= 1 passes."""

    u: float
    text: str


def _fresh_score(checks: list[_Check]) -> float:
    worst = max((c.u for c in checks), default=0.0)
    return round(min(SCORE_PATTERN, 1.0 - 0.5 * worst), 3)


def _trained_score(u: float) -> float:
    return round(min(SCORE_PATTERN, 1.0 - 0.5 / max(u, 1.0)), 3)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


@dataclass
class _Values:
    """The tensor, its streaming statistics and the samples read from it on demand (each read once)."""

    entry: TensorEntry
    stats: TensorStats
    seed: int
    rel_eps: float
    _sample: np.ndarray | None = None
    _matrix: np.ndarray | None = None
    _matrix_read: bool = False
    _spectra: dict[float, SpectralResult | None] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.stats.count

    def sample(self) -> np.ndarray:
        if self._sample is None:
            self._sample = draw_values(self.entry, self.seed)
        return self._sample

    def spectrum(self, loc: float) -> SpectralResult | None:
        if loc not in self._spectra:
            if not self._matrix_read:
                self._matrix = draw_submatrix(self.entry, self.seed)
                self._matrix_read = True
            self._spectra[loc] = None if self._matrix is None else measure_spectrum(self._matrix, loc)
        return self._spectra[loc]


def assess_init(
    entry: TensorEntry,
    stats: TensorStats | None,
    *,
    initializer: dict[str, Any] | str | None = None,
    fresh: np.ndarray | None = None,
    seed: int = 0,
) -> InitVerdict:
    """Judge whether a tensor holds freshly initialised values.

    Args:
        entry: the stored tensor (values are sampled through its source, never loaded whole
            unless it is small).
        stats: its streaming statistics from `compute_stats` (None for non-numeric tensors).
        initializer: the live model's configured initializer for this variable, serialised
            (`{"class_name": "GlorotUniform", "config": {...}}`); tested first when given.
        fresh: the live model's own initial value for this variable; equality is the strongest
            evidence of all.
        seed: seed of the deterministic samples.

    Returns:
        The verdict, what the values look like, a score and one sentence of evidence.
    """
    if stats is None or stats.count == 0:
        return InitVerdict(VERDICT_INCONCLUSIVE, None, 0.0, "no numeric values to judge")
    if stats.nonfinite:
        return InitVerdict(
            VERDICT_INCONCLUSIVE, MATCH_NONFINITE, 0.0,
            f"{stats.nan_count} NaN and {stats.inf_count} infinite values among {stats.count}",
        )
    configured = parse_initializer(initializer, entry.shape) if initializer is not None else None
    if fresh is not None and _equals_fresh(entry, fresh, _rel_eps(entry.dtype)):
        match = configured[0].name if configured else MATCH_LIVE_VALUE
        return InitVerdict(VERDICT_FRESH, match, SCORE_EXACT, "equals the model's own freshly initialised value")
    if stats.count == 1:
        return InitVerdict(VERDICT_INCONCLUSIVE, None, 0.0, f"a single value ({_fmt(stats.min)}) says nothing")
    if stats.min == stats.max:
        return _judge_constant(float(stats.min), stats.count, configured)
    deterministic = configured[0] if configured and configured[0].kind in (KIND_CONSTANT, KIND_IDENTITY) else None
    values = _Values(entry, stats, seed, _rel_eps(entry.dtype))
    pattern = _judge_patterns(values, deterministic)
    if pattern is not None:
        return pattern
    if deterministic is not None:
        return InitVerdict(
            VERDICT_TRAINED, deterministic.name, SCORE_EXACT,
            f"values span {_fmt(stats.min)}..{_fmt(stats.max)}, which the configured {deterministic.name} cannot produce",
        )
    if not _is_float(entry.dtype):
        return InitVerdict(VERDICT_INCONCLUSIVE, None, 0.0, f"{entry.dtype} values are not drawn by an initializer")
    if stats.count < MIN_VALUES:
        return InitVerdict(VERDICT_INCONCLUSIVE, None, 0.0, f"only {stats.count} values, too few to judge")
    return _judge_random(values, configured)


def _rel_eps(dtype: str) -> float:
    return _REL_EPS.get(dtype, 1e-6)


def _is_float(dtype: str) -> bool:
    return dtype in _REL_EPS or dtype.startswith("float")


def _equals_fresh(entry: TensorEntry, fresh: np.ndarray, rel_eps: float) -> bool:
    flat = np.asarray(fresh).reshape(-1)
    if flat.size != entry.size:
        return False
    tol = max(1e-7, rel_eps)
    start = 0
    for chunk in entry.iter_chunks():
        a = np.asarray(chunk).astype(np.float64)
        b = flat[start : start + a.size].astype(np.float64)
        start += a.size
        if not (np.array_equal(a, b) or np.allclose(a, b, rtol=tol, atol=1e-7)):
            return False
    return start == flat.size


def _judge_constant(value: float, count: int, configured: list[InitFamily] | None) -> InitVerdict:
    family = constant_family(value)
    expected = configured[0] if configured else None
    if expected is not None and expected.kind == KIND_CONSTANT and expected.loc == value:
        return InitVerdict(
            VERDICT_FRESH, expected.name, SCORE_PATTERN, f"all {count} values are {_fmt(value)}, as {expected.name} gives"
        )
    if is_round_constant(value):
        note = f" (configured: {expected.name})" if expected is not None else ""
        return InitVerdict(VERDICT_FRESH, family.name, SCORE_PATTERN, f"all {count} values are {_fmt(value)}{note}")
    return InitVerdict(
        VERDICT_INCONCLUSIVE, family.name, 0.0,
        f"all {count} values are {value:.7g}, not a constant an initializer is usually given",
    )


def _judge_patterns(values: _Values, deterministic: InitFamily | None) -> InitVerdict | None:
    """Identity matrices and the LSTM bias with unit_forget_bias: exact patterns, judged at any size."""
    entry, stats = values.entry, values.stats
    shape, n = entry.shape, stats.count
    if len(shape) == 2 and min(shape) >= 2 and stats.zero_fraction is not None:
        d = min(shape)
        gain = stats.max if stats.min == 0.0 else stats.min
        if round(stats.zero_fraction * n) == n - d and min(stats.min, stats.max) <= 0.0 <= max(stats.min, stats.max):
            diag = read_flat(entry, np.arange(d, dtype=np.int64) * (shape[1] + 1))
            if np.all(diag == gain):
                name = "identity" if gain == 1.0 else f"identity(gain={_fmt(gain)})"
                if deterministic is not None and deterministic.kind == KIND_IDENTITY and deterministic.scale != gain:
                    return None
                return InitVerdict(VERDICT_FRESH, name, SCORE_PATTERN, f"{gain:g} on the diagonal and 0 elsewhere")
    lstm_ok = deterministic is None or deterministic.name == "zeros"  # unit_forget_bias overrides bias zeros
    if len(shape) == 1 and n % 4 == 0 and n >= 8 and stats.min == 0.0 and stats.max == 1.0 and lstm_ok:
        if round((stats.zero_fraction or 0.0) * n) == 3 * n // 4:
            units = n // 4
            expected = np.zeros(n)
            expected[units : 2 * units] = 1.0
            if np.array_equal(read_all(entry), expected):
                return InitVerdict(
                    VERDICT_FRESH, MATCH_LSTM_BIAS, SCORE_PATTERN,
                    f"zeros with ones in the forget-gate quarter ({units} units), as LSTM(unit_forget_bias=True) starts",
                )
    return None


def _screen(family: InitFamily, values: _Values, variance: bool = True) -> list[_Check]:
    """Tests on the whole tensor's streaming statistics (no reading); variance=False when the scale is free."""
    s, n, eps = values.stats, values.n, values.rel_eps
    checks = []
    zeros = round((s.zero_fraction or 0.0) * n)
    checks.append(_Check(zeros / (ZERO_SLACK + 1e-3 * n), f"{zeros} exact zeros"))
    lower, upper = family.lower, family.upper
    if lower is not None and upper is not None:
        tol = eps * max(abs(lower), abs(upper)) + 1e-30
        excess = max(s.max - upper, lower - s.min, 0.0)
        u = 0.0 if excess <= tol else 1.0 + excess / tol
        checks.append(_Check(min(u, 1e6), f"range {_fmt(s.min)}..{_fmt(s.max)} vs {family.name}'s {_fmt(lower)}..{_fmt(upper)}"))
    strict = 1.0 if n >= LARGE else SMALL_STRICTNESS
    beta4 = family.standard_moments()[0]
    se_var = math.sqrt(max(beta4 - 1.0, 0.1) / n)
    ratio = (s.std / family.std) ** 2 if family.std > 0 else math.inf
    if variance:
        checks.append(_Check(abs(ratio - 1.0) / (strict * MOMENT_Z_LIMIT * se_var + 2 * eps + 0.01),
                             f"variance {_fmt(ratio)}x {family.name}'s"))
    mean_tol = strict * MOMENT_Z_LIMIT * family.std / math.sqrt(n) + eps * (abs(family.loc) + family.std)
    checks.append(_Check(abs(s.mean - family.loc) / mean_tol, f"mean {_fmt(s.mean)} vs {_fmt(family.loc)}"))
    return checks


def _shape_checks(family: InitFamily, values: _Values) -> list[_Check]:
    """Goodness of fit of the sample, closeness of the extremes to the bounds, normal tails."""
    s, n = values.stats, values.n
    strict = 1.0 if n >= LARGE else SMALL_STRICTNESS
    x = np.sort(values.sample())
    k = x.size
    f = family.cdf(x)
    i = np.arange(1, k + 1)
    d = float(max(np.max(i / k - f), np.max(f - (i - 1) / k)))
    ks = d * (math.sqrt(k) + 0.12 + 0.11 / math.sqrt(k))
    centred = x - x.mean()
    m2 = float(np.mean(centred**2))
    kurt = float(np.mean(centred**4)) / m2**2 if m2 > 0 else math.inf
    b4, b6, b8 = family.standard_moments()
    se_kurt = math.sqrt(max(b8 - 4 * b6 * b4 + 4 * b4**3 - b4**2, 1e-3) / k)
    shape_name = {KIND_UNIFORM: "uniform", KIND_TRUNCATED: "truncated-normal"}.get(family.kind, "normal")
    checks = [
        _Check(ks / (strict * KS_LIMIT), f"{shape_name} shape (KS {_fmt(d)}, kurtosis {kurt:.2f} vs {b4:.2f})"),
        _Check(abs(kurt - b4) / (strict * KURTOSIS_Z_LIMIT * se_kurt), f"kurtosis {kurt:.2f} vs {shape_name} {b4:.2f}"),
    ]
    if family.lower is not None and family.upper is not None:
        tol = values.rel_eps * max(abs(family.lower), abs(family.upper))
        allowed = GAP_EVENTS / (n * family.density_at_bound()) + tol
        gap = max(family.upper - s.max, s.min - family.lower)
        checks.append(_Check(gap / allowed, f"extremes {_fmt(gap / allowed * 100)}% of the allowed gap from the bounds"))
    elif family.kind == KIND_NORMAL:
        z = max(s.max - family.loc, family.loc - s.min) / family.std
        tail = 2.0 * n * normal_sf(z)
        u = max(math.log(tail) / math.log(TAIL_LOW) if tail < 1 else 0.0, tail / TAIL_HIGH)
        checks.append(_Check(u, f"largest |z| {z:.2f} for {n} normal values"))
    return checks


def _spectral_check(values: _Values, loc: float) -> _Check | None:
    result = values.spectrum(loc)
    if result is None:
        return None
    u = max(result.edge_u, result.mp_u)
    if u <= 1:
        text = (f"spectrum as i.i.d. (top singular value {result.top_ratio:.2f}x the edge, "
                f"Marchenko-Pastur KS {_fmt(result.mp_ks)})")
    elif result.edge_u >= result.mp_u:
        text = (f"top singular value {result.top_ratio:.2f}x the random-matrix edge "
                f"({result.outliers} outlier{'s' if result.outliers != 1 else ''}, TW z {result.edge_z:.1f})")
    else:
        text = f"singular values off Marchenko-Pastur (KS {_fmt(result.mp_ks)}, limit {_fmt(result.mp_limit)})"
    return _Check(u, text)


def _orthogonal_checks(family: InitFamily, values: _Values, free_gain: bool) -> tuple[list[_Check], str] | None:
    """Gram test of whole lines; None when the lines are too few or too short to tell."""
    lines = draw_full_lines(values.entry, values.seed)
    if lines is None or lines.shape[1] < MIN_LINE_LENGTH:
        return None
    result = measure_orthogonality(lines)
    checks = [_Check(result.deviation / ORTHO_TOL, f"Gram matrix of {result.lines} lines off by {_fmt(result.deviation)}")]
    expected_gain = family.scale * math.sqrt(max(lines.shape))
    name = family.name
    if free_gain:
        gain = float(f"{result.gain:.3g}")
        name = orthogonal_family(values.entry.shape, gain).name if gain != 1.0 else "orthogonal"
    else:
        checks.append(_Check(abs(result.gain / expected_gain - 1.0) / 1e-3, f"gain {_fmt(result.gain)} vs {_fmt(expected_gain)}"))
    return checks, name


def _test_family(family: InitFamily, values: _Values, free_gain: bool = False) -> tuple[list[_Check], str] | None:
    """Every test of one family: the checks and the name to report, None when the family cannot be tested."""
    if family.kind == KIND_ORTHOGONAL:
        screen = _screen(family, values, variance=not free_gain)
        if any(c.u > 1 for c in screen):
            return screen, family.name
        gram = _orthogonal_checks(family, values, free_gain)
        if gram is None:
            return None
        checks, name = gram
        return screen + checks, name
    checks = _screen(family, values)
    if any(c.u > 1 for c in checks):
        return checks, family.name
    checks += _shape_checks(family, values)
    if any(c.u > 1 for c in checks):
        return checks, family.name
    spectral = _spectral_check(values, family.loc)
    if spectral is not None:
        checks.append(spectral)
    return checks, family.name


def _describe_fresh(family: InitFamily, name: str, checks: list[_Check], values: _Values) -> str:
    s = values.stats
    if family.kind == KIND_ORTHOGONAL:
        gram = next(c.text for c in checks if c.text.startswith("Gram"))
        return f"{name}: whole lines orthonormal up to the gain ({gram})"
    fans = f" for fans {family.fans[0]}/{family.fans[1]}" if family.fans else ""
    parts = [f"std {_fmt(s.std)} is {_fmt(s.std / family.std)}x {name}'s{fans}"]
    if family.upper is not None:
        parts.append(f"all within ±{_fmt(family.upper - family.loc)}")
    shape = next((c.text for c in checks if "shape" in c.text), "")
    if shape:
        parts.append(shape)
    spectral = next((c.text for c in checks if c.text.startswith("spectrum")), "")
    if spectral:
        parts.append(spectral)
    return ", ".join(parts)


def _judge_random(values: _Values, configured: list[InitFamily] | None) -> InitVerdict:
    shape = values.entry.shape
    random_configured = [f for f in configured or [] if f.kind not in (KIND_CONSTANT, KIND_IDENTITY)]
    candidates = random_configured + [
        f for f in catalogue(shape) if f not in random_configured and f.kind != KIND_ORTHOGONAL
    ]
    configured_failure: _Check | None = None
    for family in candidates:
        tested = _test_family(family, values)
        if tested is None:
            continue
        checks, name = tested
        failed = [c for c in checks if c.u > 1]
        if not failed:
            note = "" if not configured or family in random_configured else f" (configured: {configured[0].name})"
            return InitVerdict(VERDICT_FRESH, name, _fresh_score(checks), _describe_fresh(family, name, checks, values) + note)
        if family in random_configured and configured_failure is None:
            configured_failure = max(failed, key=lambda c: c.u)
    ortho = orthogonal_family(shape)
    if ortho is not None and not random_configured:
        ortho = InitFamily(ortho.name, KIND_ORTHOGONAL, 0.0, values.stats.std)
        tested = _test_family(ortho, values, free_gain=True)
        checks, name = tested if tested is not None else ([_Check(math.inf, "")], ortho.name)
        if all(c.u <= 1 for c in checks):
            return InitVerdict(VERDICT_FRESH, name, _fresh_score(checks), _describe_fresh(ortho, name, checks, values))
    spectral = _spectral_check(values, values.stats.mean)
    if spectral is not None and spectral.u > 1:
        return InitVerdict(VERDICT_TRAINED, None, _trained_score(spectral.u), spectral.text)
    if configured_failure is not None and configured_failure.u >= TRAINED_MIN_U:
        return InitVerdict(
            VERDICT_TRAINED, None, _trained_score(configured_failure.u),
            f"not the configured {random_configured[0].name}: {configured_failure.text}",
        )
    return _judge_unknown(values, spectral)


def _generic_families(values: _Values) -> list[InitFamily]:
    s = values.stats
    half = (s.max - s.min) / 2.0
    return [
        InitFamily(f"uniform({_fmt(s.min)},{_fmt(s.max)})", KIND_UNIFORM, (s.max + s.min) / 2.0, half),
        InitFamily(f"truncated_normal({_fmt(s.std / TRUNCATION_STD_FACTOR)})", KIND_TRUNCATED,
                   (s.max + s.min) / 2.0, half / 2.0),
        InitFamily(f"normal({_fmt(s.std)})", KIND_NORMAL, s.mean, s.std),
    ]


def _judge_unknown(values: _Values, spectral: _Check | None) -> InitVerdict:
    """No known family fits: an i.i.d. shape at an unknown scale is inconclusive, anything else trained."""
    best: tuple[float, _Check] | None = None
    for family in _generic_families(values):
        checks = _screen(family, values) + _shape_checks(family, values)
        worst = max(checks, key=lambda c: c.u)
        if worst.u <= 1:
            extra = f", {spectral.text}" if spectral is not None else ""
            return InitVerdict(
                VERDICT_INCONCLUSIVE, family.name, 0.0,
                f"an i.i.d. {family.kind.replace('_', ' ')} shape at a scale no known initializer gives "
                f"for shape {values.entry.shape} (std {_fmt(values.stats.std)}){extra}",
            )
        if best is None or worst.u < best[0]:
            best = (worst.u, worst)
    assert best is not None
    return InitVerdict(
        VERDICT_TRAINED, None, _trained_score(best[0]),
        f"fits no initializer family and no i.i.d. shape (std {_fmt(values.stats.std)}; closest: {best[1].text})",
    )
