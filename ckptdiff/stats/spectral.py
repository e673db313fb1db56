"""Random-matrix tests of a weight matrix: Bai-Yin edge with Tracy-Widom slack, Marchenko-Pastur bulk, orthogonality."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

MIN_SIDE = 2
"""The edge test needs two singular values (simulated i.i.d. p x q matrices with p = 2..7 stay below TW z 3.2)."""
MP_MIN_SIDE = 8
"""The Marchenko-Pastur bulk test needs at least this many singular values."""
MIN_LINE_LENGTH = 16
"""Whole lines at least this long make the Gram test decisive: random lines have cosines near 1/sqrt(length)."""
EDGE_Z_LIMIT = 6.0
"""Largest Tracy-Widom-standardised top eigenvalue an i.i.d. matrix shows (TW1 exceeds 6 with probability ~2e-6;
simulated uniform, normal and truncated-normal matrices from 8x8 to 512x512 stay below 4.1)."""
MP_KS_COEF = 2.6
"""An i.i.d. matrix's eigenvalue CDF stays within (MP_KS_COEF + MP_KS_LOG * ln p) / p of Marchenko-Pastur
(simulated maxima: 2.4/p at p = 8, 3.2/p at p = 128, 3.8/p at p = 256)."""
MP_KS_LOG = 0.35
ORTHO_TOL = 2e-3
"""Largest relative deviation of an orthogonal init's Gram matrix from gain^2 * I (float32 QR, bf16 storage)."""


@dataclass(frozen=True)
class SpectralResult:
    """What the spectrum of one (sub)matrix says about it."""

    rows: int
    """Shorter side p of the matrix tested."""
    cols: int
    """Longer side q."""
    top_ratio: float
    """Largest singular value over the Bai-Yin edge sigma * (sqrt(p) + sqrt(q)); about 1 for i.i.d. entries."""
    edge_z: float
    """Largest eigenvalue of X X^T / sigma^2 minus its Tracy-Widom centre, in Tracy-Widom scale units."""
    outliers: int
    """Eigenvalues above the edge by more than EDGE_Z_LIMIT Tracy-Widom units."""
    mp_ks: float
    """Kolmogorov-Smirnov distance between the eigenvalue distribution and Marchenko-Pastur."""
    mp_limit: float
    """The distance an i.i.d. matrix of this size stays under."""
    spread: float
    """Largest over smallest singular value minus one: zero for an orthogonal matrix."""

    @property
    def edge_u(self) -> float:
        """The edge statistic as a fraction of its limit (above 1: an outlier)."""
        return max(self.edge_z, 0.0) / EDGE_Z_LIMIT

    @property
    def mp_u(self) -> float:
        """The bulk statistic as a fraction of its limit (above 1: not Marchenko-Pastur)."""
        return self.mp_ks / self.mp_limit

    @property
    def iid_consistent(self) -> bool:
        """True when nothing in the spectrum contradicts i.i.d. zero-mean entries."""
        return self.edge_u <= 1.0 and self.mp_u <= 1.0


def _tracy_widom_centre_scale(p: int, q: int) -> tuple[float, float]:
    # Johnstone (2001) with El Karoui's half-integer correction: centre and scale of the top
    # eigenvalue of X X^T for a p x q matrix of unit-variance entries.
    a, b = math.sqrt(q - 0.5), math.sqrt(p - 0.5)
    return (a + b) ** 2, (a + b) * (1.0 / a + 1.0 / b) ** (1.0 / 3.0)


@lru_cache(maxsize=256)
def _mp_cdf_table(ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Marchenko-Pastur CDF for aspect ratio y = p/q <= 1 (unit variance), tabulated."""
    lo, hi = (1.0 - math.sqrt(ratio)) ** 2, (1.0 + math.sqrt(ratio)) ** 2
    theta = np.linspace(0.0, math.pi, 4097)
    x = lo + (hi - lo) * (1.0 - np.cos(theta)) / 2.0
    # Substituting x = lo + (hi-lo)(1-cos t)/2 removes the square-root edges (and the 1/sqrt(x) pole at y = 1).
    with np.errstate(divide="ignore", invalid="ignore"):
        dens = ((hi - lo) / 2.0) ** 2 * np.sin(theta) ** 2 / (2.0 * math.pi * ratio * x)
    if lo == 0.0:
        dens[0] = ((hi - lo) / 2.0) ** 2 * 4.0 / (hi * 2.0 * math.pi * ratio)
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2.0 * np.diff(theta))])
    return x, cdf / cdf[-1]


def mp_ks_distance(eigenvalues: np.ndarray, ratio: float) -> float:
    """KS distance between eigenvalues of X X^T / (q sigma^2) and Marchenko-Pastur(ratio)."""
    x, cdf = _mp_cdf_table(round(ratio, 6))
    lam = np.sort(eigenvalues)
    f = np.interp(lam, x, cdf)
    n = lam.size
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def mp_ks_limit(p: int) -> float:
    """Largest MP distance an i.i.d. p x q matrix shows (calibrated on uniform, normal and truncated entries)."""
    return (MP_KS_COEF + MP_KS_LOG * math.log(p)) / p


def measure_spectrum(matrix: np.ndarray, loc: float = 0.0) -> SpectralResult | None:
    """Compare a matrix's singular values with what i.i.d. entries of mean loc produce.

    Args:
        matrix: the matrix (or a submatrix of it; a submatrix of an i.i.d. matrix is i.i.d.).
        loc: the entries' expected mean, subtracted first.

    Returns:
        The statistics (the bulk test reports 0 below MP_MIN_SIDE), or None when the shorter side
        is below MIN_SIDE or the matrix is all loc.
    """
    x = np.asarray(matrix, dtype=np.float64) - loc
    if x.shape[0] > x.shape[1]:
        x = x.T
    p, q = x.shape
    if p < MIN_SIDE:
        return None
    sigma2 = float(np.mean(x * x))
    if not sigma2 > 0.0:
        return None
    gram = (x @ x.T) / sigma2
    eig = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    centre, scale = _tracy_widom_centre_scale(p, q)
    z = (eig - centre) / scale
    top = math.sqrt(eig[-1])
    limit = mp_ks_limit(p) if p >= MP_MIN_SIDE else math.inf
    smallest = math.sqrt(eig[0])
    return SpectralResult(
        rows=p,
        cols=q,
        top_ratio=top / (math.sqrt(p) + math.sqrt(q)),
        edge_z=float(z[-1]),
        outliers=int(np.count_nonzero(z > EDGE_Z_LIMIT)),
        mp_ks=mp_ks_distance(eig / q, p / q) if p >= MP_MIN_SIDE else 0.0,
        mp_limit=limit,
        spread=(top / smallest - 1.0) if smallest > 0 else math.inf,
    )


@dataclass(frozen=True)
class OrthogonalityResult:
    """How far whole lines of a matrix are from orthonormal up to a common gain."""

    lines: int
    """Lines (rows or columns along the shorter side) tested."""
    gain: float
    """Root mean square line norm: the gain an orthogonal init was drawn with."""
    deviation: float
    """Largest |G - gain^2 I| entry of their Gram matrix G, relative to gain^2."""

    @property
    def orthogonal(self) -> bool:
        return self.lines >= 2 and self.deviation <= ORTHO_TOL


def measure_orthogonality(lines: np.ndarray) -> OrthogonalityResult:
    """Gram test on whole lines (rows of `lines`): an orthogonal init gives gain^2 times the identity."""
    x = np.asarray(lines, dtype=np.float64)
    gram = x @ x.T
    g2 = float(np.mean(np.diag(gram)))
    if not g2 > 0.0:
        return OrthogonalityResult(x.shape[0], 0.0, math.inf)
    deviation = float(np.max(np.abs(gram - g2 * np.eye(x.shape[0])))) / g2
    return OrthogonalityResult(x.shape[0], math.sqrt(g2), deviation)
