"""Proofs that a tensor is not fresh from a family, at any size: values outside its support, a scale it
cannot produce, or (orthogonal) line norms off its gain.

The distribution tests in fit.py need hundreds of values to say "fresh". Saying "not fresh from this
family" needs far fewer: one value beyond a uniform's bound or a truncated normal's 2-sigma cut is
proof, and a sum of squares far outside the chi-square range of the family's scale is proof at a
tail probability below 1e-9. A tensor every plausible family is excluded from has moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ckptdiff.stats.fit import TensorValues
from ckptdiff.stats.initializers import KIND_NORMAL, KIND_ORTHOGONAL, InitFamily, normal_sf
from ckptdiff.stats.sampling import read_all

BASIS_BOUNDS = "bounds"
BASIS_DISTRIBUTION = "distribution"
BASIS_SPECTRAL = "spectral"

SCALE_Z = 6.0
"""Wilson-Hilferty z of the chi-square range a family's scale allows (one-sided tail ~1e-9)."""
TAIL_P = 1e-9
"""An unbounded normal's largest |z| is impossible when 2n * Q(z) falls below this."""
NORM_TOL = 1e-3
"""Relative deviation of an orthogonal matrix's line norms from its gain that excludes it."""
MAX_NORM_VALUES = 1 << 20
"""Orthogonality of line norms is checked on tensors up to this many values (read whole)."""


@dataclass(frozen=True)
class Exclusion:
    """Why one family cannot have produced the values."""

    family: InitFamily
    basis: str
    """BASIS_BOUNDS, BASIS_DISTRIBUTION or BASIS_SPECTRAL."""
    text: str


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _chi2_range(n: int) -> tuple[float, float]:
    """The range of chi2(n)/n outside which a draw has probability below ~1e-9 (Wilson-Hilferty)."""
    c = 2.0 / (9.0 * n)
    low = max(1.0 - c - SCALE_Z * math.sqrt(c), 0.0) ** 3
    high = (1.0 - c + SCALE_Z * math.sqrt(c)) ** 3
    return low, high


def exclude(family: InitFamily, values: TensorValues) -> Exclusion | None:
    """The proof that values are not a fresh draw from family, or None when they could be."""
    s, n = values.stats, values.n
    lower, upper = family.lower, family.upper
    if lower is not None and upper is not None:
        tol = 2 * values.rel_eps * max(abs(lower), abs(upper)) + 1e-30
        if s.min < lower - tol or s.max > upper + tol:
            worst = s.max if s.max - upper >= lower - s.min else s.min
            return Exclusion(family, BASIS_BOUNDS, f"{_fmt(worst)} is beyond {family.name}'s {_fmt(upper)}")
    if family.kind == KIND_NORMAL:
        z = max(s.max - family.loc, family.loc - s.min) / family.std if family.std > 0 else math.inf
        if 2.0 * n * normal_sf(z) < TAIL_P:
            return Exclusion(family, BASIS_BOUNDS, f"|z| {z:.1f} is impossible for {n} {family.name} values")
    if family.kind == KIND_ORTHOGONAL:
        return _exclude_orthogonal(family, values)
    if family.std > 0:
        mean_square = s.std**2 + (s.mean - family.loc) ** 2
        ratio = mean_square / family.std**2
        low, high = _chi2_range(n)
        if not low <= ratio <= high:
            return Exclusion(
                family,
                BASIS_DISTRIBUTION,
                f"scale {_fmt(math.sqrt(ratio))}x {family.name}'s (a draw allows {_fmt(math.sqrt(low))}.."
                f"{_fmt(math.sqrt(high))}x at {n} values)",
            )
    return None


def _exclude_orthogonal(family: InitFamily, values: TensorValues) -> Exclusion | None:
    shape = values.entry.shape
    if values.n > MAX_NORM_VALUES or len(shape) < 2:
        return None
    matrix = read_all(values.entry).astype(np.float64).reshape(-1, shape[-1])
    lines = matrix if matrix.shape[0] <= matrix.shape[1] else matrix.T
    norms = np.linalg.norm(lines, axis=1)
    gain = family.scale * math.sqrt(max(matrix.shape))
    deviation = float(np.max(np.abs(norms / gain - 1.0))) if gain > 0 else math.inf
    if deviation > NORM_TOL:
        return Exclusion(
            family, BASIS_SPECTRAL, f"line norms {_fmt(float(norms.min()))}..{_fmt(float(norms.max()))}, not {gain:g}"
        )
    return None


def exclude_all(families: list[InitFamily], values: TensorValues) -> list[Exclusion] | None:
    """An exclusion for every family, or None as soon as one family survives."""
    found = []
    for family in families:
        excluded = exclude(family, values)
        if excluded is None:
            return None
        found.append(excluded)
    return found


def survivors(families: list[InitFamily], values: TensorValues) -> list[InitFamily]:
    """The families the values could still be a fresh draw from."""
    return [f for f in families if exclude(f, values) is None]


def describe_exclusions(found: list[Exclusion], n: int) -> tuple[str, tuple[str, ...]]:
    """One sentence and the sorted basis list for a set of exclusions."""
    by_basis: dict[str, list[Exclusion]] = {}
    for item in found:
        by_basis.setdefault(item.basis, []).append(item)
    parts = []
    for basis in (BASIS_BOUNDS, BASIS_DISTRIBUTION, BASIS_SPECTRAL):
        items = by_basis.get(basis, [])
        if items:
            word = {BASIS_BOUNDS: "bounds", BASIS_DISTRIBUTION: "scale", BASIS_SPECTRAL: "norms"}[basis]
            parts.append(f"{len(items)} excluded by {word} (e.g. {items[0].text})")
    if len(found) == 1:
        text = f"no initializer can produce these {n} values: {found[0].text}"
    else:
        text = f"no initializer can produce these {n} values; of {len(found)} families, " + "; ".join(parts)
    return text, tuple(b for b in (BASIS_BOUNDS, BASIS_DISTRIBUTION, BASIS_SPECTRAL) if b in by_basis)
