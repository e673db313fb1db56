"""How well one tensor's values fit one initializer family: each test as a statistic over its limit."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ckptdiff.artifact import TensorEntry
from ckptdiff.stats.initializers import (
    KIND_NORMAL,
    KIND_ORTHOGONAL,
    KIND_TRUNCATED,
    KIND_UNIFORM,
    InitFamily,
    normal_sf,
    orthogonal_family,
)
from ckptdiff.stats.moments import FiniteStats
from ckptdiff.stats.sampling import draw_full_lines, draw_submatrix, draw_values
from ckptdiff.stats.spectral import (
    MIN_LINE_LENGTH,
    ORTHO_TOL,
    SpectralResult,
    measure_orthogonality,
    measure_spectrum,
)

KS_LIMIT = 2.2
"""sqrt(n) * KS distance to the family's exact CDF (p ~ 1e-4 for a fresh tensor)."""
KS_SMALL_LIMIT = 1.63
"""The KS limit below LARGE values (p ~ 1e-2)."""
KURTOSIS_Z_LIMIT = 5.5
"""Sample kurtosis minus the family's, in standard errors."""
MEAN_Z_LIMIT = 6.0
"""Mean of the whole tensor against the family's, in standard errors."""
VARIANCE_Z_LIMIT = 4.0
"""Variance of the whole tensor against the family's, in standard errors (p ~ 6e-5 for a fresh tensor):
tight, because trained weights drift in scale before they drift in shape."""
GAP_EVENTS = 20.0
"""An extreme may stop short of a bounded family's bound by the width holding 20 expected values (P < e^-20)."""
TAIL_LOW, TAIL_HIGH = 1e-7, 16.0
"""A normal family's largest |z| must have 2n*Q(z) in this range: not too heavy a tail, not truncated."""
ZERO_SLACK = 5
"""Exact zeros a continuous family may show (float rounding), plus 0.1% of the values."""
LARGE = 1024
SMALL_Z_LIMIT = 3.0
"""Below LARGE values the tests have little power, so their limits tighten to p ~ 1e-2 (this many standard
errors for mean, variance and kurtosis; KS_SMALL_LIMIT): a fresh tensor of 300 values is left
inconclusive a few percent of the time, a trained one passes for fresh far less often."""

_REL_EPS = {"float64": 1e-12, "float32": 1e-6, "float16": 2e-3, "bfloat16": 1e-2}


def relative_eps(dtype: str) -> float:
    """Relative rounding the stored dtype allows on bounds and equalities."""
    return _REL_EPS.get(dtype, 1e-6)


@dataclass(frozen=True)
class FitCheck:
    """One test of one family: u = statistic / limit, so u <= 1 passes."""

    u: float
    text: str
    """The test's numbers, for the evidence sentence."""
    kind: str = ""
    """`shape`, `spectrum`, `gram` or "" (the rest), so the evidence can pick its parts."""

    @property
    def passed(self) -> bool:
        return self.u <= 1.0


@dataclass
class TensorValues:
    """A tensor, its streaming statistics, and the samples read from it on demand (each read at most once)."""

    entry: TensorEntry
    stats: FiniteStats
    seed: int = 0
    _sample: np.ndarray | None = None
    _matrix: np.ndarray | None = None
    _matrix_read: bool = False
    _spectra: dict[float, SpectralResult | None] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.stats.count

    @property
    def rel_eps(self) -> float:
        return relative_eps(self.entry.dtype)

    @property
    def small(self) -> bool:
        return self.n < LARGE

    def z_limit(self, large_limit: float) -> float:
        """The limit of a z-test: large_limit from LARGE values on, SMALL_Z_LIMIT below."""
        return SMALL_Z_LIMIT if self.small else large_limit

    def sample(self) -> np.ndarray:
        """The deterministic value sample (sorted)."""
        if self._sample is None:
            self._sample = np.sort(draw_values(self.entry, self.seed))
        return self._sample

    def spectrum(self, loc: float) -> SpectralResult | None:
        """Spectral statistics of the matrix view (or a submatrix) centred at loc; None without one."""
        if loc not in self._spectra:
            if not self._matrix_read:
                self._matrix = draw_submatrix(self.entry, self.seed)
                self._matrix_read = True
            self._spectra[loc] = None if self._matrix is None else measure_spectrum(self._matrix, loc)
        return self._spectra[loc]


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def screen_family(family: InitFamily, values: TensorValues, variance: bool = True) -> list[FitCheck]:
    """Tests on the whole tensor's streaming statistics, no reading: zeros, bounds, variance, mean.

    Args:
        family: the candidate.
        values: the tensor.
        variance: False when the family's scale is free (orthogonal of unknown gain).
    """
    s, n, eps = values.stats, values.n, values.rel_eps
    zeros = round((s.zero_fraction or 0.0) * n)
    checks = [FitCheck(zeros / (ZERO_SLACK + 1e-3 * n), f"{zeros} exact zeros")]
    lower, upper = family.lower, family.upper
    if lower is not None and upper is not None:
        tol = eps * max(abs(lower), abs(upper)) + 1e-30
        excess = max(s.max - upper, lower - s.min, 0.0)
        u = 0.0 if excess <= tol else min(1.0 + excess / tol, 1e6)
        text = f"range {_fmt(s.min)}..{_fmt(s.max)} vs {family.name}'s {_fmt(lower)}..{_fmt(upper)}"
        checks.append(FitCheck(u, text))
    if variance:
        se_var = math.sqrt(max(family.standard_moments()[0] - 1.0, 0.1) / n)
        ratio = (s.std / family.std) ** 2 if family.std > 0 else math.inf
        limit = values.z_limit(VARIANCE_Z_LIMIT) * se_var + 2 * eps + 0.005
        checks.append(FitCheck(abs(ratio - 1.0) / limit, f"variance {_fmt(ratio)}x {family.name}'s"))
    mean_tol = values.z_limit(MEAN_Z_LIMIT) * family.std / math.sqrt(n) + eps * (abs(family.loc) + family.std)
    checks.append(FitCheck(abs(s.mean - family.loc) / mean_tol, f"mean {_fmt(s.mean)} vs {_fmt(family.loc)}"))
    return checks


def _moment_checks(family: InitFamily, values: TensorValues) -> list[FitCheck]:
    """KS distance to the family's exact CDF and the kurtosis, on the value sample."""
    x = values.sample()
    k = x.size
    f = family.cdf(x)
    i = np.arange(1, k + 1)
    d = float(max(np.max(i / k - f), np.max(f - (i - 1) / k)))
    ks = d * (math.sqrt(k) + 0.12 + 0.11 / math.sqrt(k))
    centred = x - x.mean()
    m2 = float(np.mean(centred**2))
    kurt = float(np.mean(centred**4)) / m2**2 if m2 > 0 else math.inf
    b4, b6, b8 = family.standard_moments()
    # Asymptotic variance of the sample kurtosis of a symmetric law: (b8 - 4 b6 b4 + 4 b4^3 - b4^2) / k.
    se_kurt = math.sqrt(max(b8 - 4 * b6 * b4 + 4 * b4**3 - b4**2, 1e-3) / k)
    name = {KIND_UNIFORM: "uniform", KIND_TRUNCATED: "truncated-normal"}.get(family.kind, "normal")
    ks_limit = KS_SMALL_LIMIT if values.small else KS_LIMIT
    kurt_limit = values.z_limit(KURTOSIS_Z_LIMIT) * se_kurt
    return [
        FitCheck(ks / ks_limit, f"{name} shape (KS {_fmt(d)}, kurtosis {kurt:.2f} vs {b4:.2f})", "shape"),
        FitCheck(abs(kurt - b4) / kurt_limit, f"kurtosis {kurt:.2f} vs {name} {b4:.2f}"),
    ]


def _extreme_check(family: InitFamily, values: TensorValues) -> FitCheck | None:
    """Bounded families: the extremes must come close to the bounds. Normal: the tail must be normal."""
    s, n = values.stats, values.n
    if family.lower is not None and family.upper is not None:
        tol = values.rel_eps * max(abs(family.lower), abs(family.upper))
        allowed = GAP_EVENTS / (n * family.density_at_bound()) + tol
        gap = max(family.upper - s.max, s.min - family.lower)
        return FitCheck(gap / allowed, f"extremes {_fmt(gap / allowed * 100)}% of the allowed gap from the bounds")
    if family.kind == KIND_NORMAL:
        z = max(s.max - family.loc, family.loc - s.min) / family.std
        tail = 2.0 * n * normal_sf(z)
        u = max(math.log(tail) / math.log(TAIL_LOW) if tail < 1 else 0.0, tail / TAIL_HIGH)
        return FitCheck(u, f"largest |z| {z:.2f} for {n} normal values")
    return None


def spectral_check(values: TensorValues, loc: float) -> FitCheck | None:
    """The family-free random-matrix test of the matrix view centred at loc; None for vectors."""
    result = values.spectrum(loc)
    if result is None:
        return None
    u = max(result.edge_u, result.mp_u)
    if u <= 1:
        text = (
            f"spectrum as i.i.d. (top singular value {result.top_ratio:.2f}x the edge, "
            f"Marchenko-Pastur KS {_fmt(result.mp_ks)})"
        )
    elif result.edge_u >= result.mp_u:
        text = (
            f"top singular value {result.top_ratio:.2f}x the random-matrix edge "
            f"({result.outliers} outlier{'s' if result.outliers != 1 else ''}, TW z {result.edge_z:.1f})"
        )
    else:
        text = f"singular values off Marchenko-Pastur (KS {_fmt(result.mp_ks)}, limit {_fmt(result.mp_limit)})"
    return FitCheck(u, text, "spectrum")


def _gram_checks(family: InitFamily, values: TensorValues, free_gain: bool) -> tuple[list[FitCheck], str] | None:
    """Gram test of whole lines; None when the lines are too few or too short to tell."""
    lines = draw_full_lines(values.entry, values.seed)
    if lines is None or lines.shape[1] < MIN_LINE_LENGTH:
        return None
    result = measure_orthogonality(lines)
    text = f"Gram matrix of {result.lines} whole lines off the identity by {_fmt(result.deviation)}"
    checks = [FitCheck(result.deviation / ORTHO_TOL, text, "gram")]
    if free_gain:
        gain = float(f"{result.gain:.3g}")
        family = orthogonal_family(values.entry.shape, gain) or family
    else:
        expected = family.scale * math.sqrt(lines.shape[1])
        gain_error = abs(result.gain / expected - 1.0)
        checks.append(FitCheck(gain_error / 1e-3, f"gain {_fmt(result.gain)} vs {_fmt(expected)}"))
    return checks, family.name


def fit_family(family: InitFamily, values: TensorValues, free_gain: bool = False) -> tuple[list[FitCheck], str] | None:
    """Run a family's tests, cheapest first, stopping at the first stage that fails.

    Args:
        family: the candidate (uniform, normal, truncated normal or orthogonal).
        values: the tensor.
        free_gain: for orthogonal families, accept any gain and name it.

    Returns:
        The checks and the name to report, or None when the family cannot be tested at this shape
        (orthogonal with lines shorter than MIN_LINE_LENGTH).
    """
    if family.kind == KIND_ORTHOGONAL:
        screen = screen_family(family, values, variance=not free_gain)
        if not all(c.passed for c in screen):
            return screen, family.name
        gram = _gram_checks(family, values, free_gain)
        return None if gram is None else (screen + gram[0], gram[1])
    checks = screen_family(family, values)
    if not all(c.passed for c in checks):
        return checks, family.name
    checks += _moment_checks(family, values)
    extreme = _extreme_check(family, values)
    checks += [extreme] if extreme is not None else []
    if not all(c.passed for c in checks):
        return checks, family.name
    spectral = spectral_check(values, family.loc)
    return checks + ([spectral] if spectral is not None else []), family.name


def describe_fit(family: InitFamily, name: str, checks: list[FitCheck], values: TensorValues) -> str:
    """The evidence sentence for a family every test passed."""
    by_kind = {c.kind: c.text for c in checks if c.kind}
    if family.kind == KIND_ORTHOGONAL:
        return f"{name}: {by_kind['gram']}"
    s = values.stats
    fans = f" for fans {family.fans[0]}/{family.fans[1]}" if family.fans else ""
    parts = [f"std {_fmt(s.std)} is {_fmt(s.std / family.std)}x {name}'s{fans}"]
    if family.upper is not None:
        parts.append(f"all within {_fmt(family.lower or 0.0)}..{_fmt(family.upper)}")
    parts += [by_kind[k] for k in ("shape", "spectrum") if k in by_kind]
    return ", ".join(parts)
