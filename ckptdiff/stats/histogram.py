"""Histograms for the HTML report: the verdict's deterministic sample in bins, with the counts the matched
initializer family predicts for each bin (from its exact CDF), so a picture shows the evidence."""

from __future__ import annotations

import numpy as np

from ckptdiff.artifact import TensorEntry
from ckptdiff.report.interface import Histogram
from ckptdiff.stats.initializers import InitFamily, catalogue, unbounded_fan_families

BINS = 40


def _family(name: str | None, shape: tuple[int, ...]) -> InitFamily | None:
    if not name:
        return None
    for family in catalogue(shape) + unbounded_fan_families(shape):
        if family.name == name and family.kind in ("uniform", "normal", "truncated_normal"):
            return family
    return None


def histogram_of(entry: TensorEntry, match: str | None, bins: int = BINS) -> Histogram | None:
    """The histogram of a float tensor's sample; None for non-float or constant tensors."""
    from ckptdiff.stats.sampling import draw_values

    if not (entry.dtype.startswith("float") or entry.dtype == "bfloat16") or entry.size < 2:
        return None
    values = np.asarray(draw_values(entry), dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    if values.size < 2 or values.min() == values.max():
        return None
    counts, edges = np.histogram(values, bins=bins)
    family = _family(match, entry.shape)
    label = family.name if family is not None else None
    if family is None and len(entry.shape) >= 2:
        family = _nearest(entry.shape, float(values.std()))
        label = f"nearest: {family.name}" if family is not None else None
    expected = None
    if family is not None:
        cdf = family.cdf(edges)
        expected = tuple(float(x) for x in np.diff(cdf) * values.size)
    return Histogram(
        edges=tuple(float(e) for e in edges),
        counts=tuple(int(c) for c in counts),
        expected=expected,
        family=label,
        sampled=int(values.size),
    )


def _nearest(shape: tuple[int, ...], std: float) -> InitFamily | None:
    """The catalogue family whose standard deviation is closest to the sample's (for a trained kernel's picture)."""
    families = [f for f in catalogue(shape) if f.kind in ("uniform", "normal", "truncated_normal") and f.std > 0]
    if not families or std <= 0:
        return None
    return min(families, key=lambda f: abs(np.log(f.std / std)))
