"""Streaming summary statistics of one tensor, computed in a single pass over its chunks."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ckptdiff.records import quick_init

_NARROW_FLOATS = {"float16", "bfloat16"}


@dataclass(frozen=True)
class TensorStats:
    """Summary of a tensor's values. Moments cover finite values only; None where undefined."""

    count: int
    """Number of elements."""
    mean: float | None
    std: float | None
    """Population standard deviation (ddof=0), as numpy's default."""
    min: float | None
    max: float | None
    zero_fraction: float | None
    """Fraction of elements exactly equal to zero."""
    nan_count: int
    inf_count: int

    @property
    def nonfinite(self) -> bool:
        """True when any value is NaN or infinite."""
        return self.nan_count > 0 or self.inf_count > 0

    def finite(self) -> FiniteStats:
        """These statistics with every moment defined (ValueError for an empty or all-NaN tensor)."""
        if self.mean is None or self.std is None or self.min is None or self.max is None:
            raise ValueError("moments are undefined: no finite values")
        return FiniteStats(
            self.count, self.mean, self.std, self.min, self.max, self.zero_fraction, self.nan_count, self.inf_count
        )


quick_init(TensorStats)


@dataclass(frozen=True)
class FiniteStats(TensorStats):
    """Statistics of a tensor with at least one finite value: every moment is a number."""

    mean: float
    std: float
    min: float
    max: float


quick_init(FiniteStats)


_SCRATCH = threading.local()


def _scratch(dtype: np.dtype, n: int) -> np.ndarray:
    """A reusable per-thread buffer: fresh temporaries of a chunk's size cost page faults every time."""
    key = (np.dtype(dtype).str, n)
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    buf = buffers.get(key)
    if buf is None:
        if len(buffers) > 8:
            buffers.clear()
        buf = buffers[key] = np.empty(n, dtype=dtype)
    return buf


@dataclass
class _Accumulator:
    """Chan et al.'s parallel combination of (count, mean, M2), plus extrema and counters."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    zeros: int = 0
    nans: int = 0
    infs: int = 0
    total: int = 0

    def add(self, chunk: np.ndarray) -> None:
        self.total += chunk.size
        if chunk.size == 0:
            return
        if chunk.dtype in (np.float32, np.float64):
            self._add_float(chunk)
        else:
            self._merge(chunk, chunk.size, float(np.add.reduce(chunk, dtype=np.float64)), None)

    def _add_float(self, chunk: np.ndarray) -> None:
        # A finite sum proves every value finite (one NaN or Inf poisons the sum), so the masks
        # are built only for chunks that need them. Within a chunk the native-precision pairwise
        # sum and the dot product of the centred values are exact enough (measured at 256 Ki
        # elements: the mean within ~3e-6 of the spread, the variance within ~5e-7 relative);
        # chunks are combined in float64.
        total = chunk.sum()
        if not np.isfinite(total):
            finite = np.isfinite(chunk)
            nans = int(np.count_nonzero(np.isnan(chunk)))
            self.nans += nans
            self.infs += int(chunk.size - np.count_nonzero(finite)) - nans
            chunk = chunk[finite]
            if chunk.size == 0:
                return
            total = chunk.sum(dtype=np.float64)
        self._merge(chunk, chunk.size, float(total), chunk.dtype)

    def _merge(self, chunk: np.ndarray, n_b: int, sum_b: float, native: np.dtype | None) -> None:
        mean_b = sum_b / n_b
        if native is not None:
            shift = native.type(mean_b)
            centred = np.subtract(chunk, shift, out=_scratch(native, n_b))
            with np.errstate(
                over="ignore", invalid="ignore"
            ):  # huge finite values square to inf: std is inf, not a warning
                m2_b = float(np.dot(centred, centred)) - n_b * (mean_b - float(shift)) ** 2
        else:
            centred = chunk.astype(np.float64) - mean_b
            m2_b = float(np.dot(centred, centred))
        if native is not None:
            # count_nonzero on floats holds the GIL; a comparison into a scratch mask does not.
            self.zeros += int(np.count_nonzero(np.equal(chunk, 0, out=_scratch(np.dtype(np.bool_), n_b))))
        else:
            self.zeros += int(n_b - np.count_nonzero(chunk))
        self.lo = min(self.lo, float(chunk.min()))
        self.hi = max(self.hi, float(chunk.max()))
        n_a = self.n
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += max(m2_b, 0.0) + delta * delta * n_a * n_b / n
        self.n = n

    def merge(self, other: _Accumulator) -> None:
        """Fold in an accumulator of another part of the same tensor (Chan's combination)."""
        self.total += other.total
        self.zeros += other.zeros
        self.nans += other.nans
        self.infs += other.infs
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)
        if other.n == 0:
            return
        n = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n

    def result(self) -> TensorStats:
        if self.n == 0:
            return TensorStats(self.total, None, None, None, None, None, self.nans, self.infs)
        return TensorStats(
            count=self.total,
            mean=self.mean,
            std=math.sqrt(max(self.m2 / self.n, 0.0)),
            min=self.lo,
            max=self.hi,
            zero_fraction=self.zeros / self.total,
            nan_count=self.nans,
            inf_count=self.infs,
        )


def is_numeric_dtype(dtype: str) -> bool:
    """True for dtypes whose values have moments (ints, floats, bool); false for strings and handles."""
    if dtype in _NARROW_FLOATS:
        return True
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        return False
    return kind in "biuf"


def compute_stats(chunks: Iterable[np.ndarray], dtype: str) -> TensorStats | None:
    """Compute TensorStats from flat chunks in one pass.

    Args:
        chunks: the tensor's values as flat arrays (TensorEntry.iter_chunks()).
        dtype: the tensor's dtype name; non-numeric dtypes get None.

    Returns:
        The statistics, or None when the dtype has none (strings, complex, resources).
    """
    if not is_numeric_dtype(dtype):
        return None
    return accumulate(chunks, dtype).result()


def accumulate(chunks: Iterable[np.ndarray], dtype: str) -> _Accumulator:
    """One pass over chunks into an accumulator that can be merged with others of the same tensor."""
    acc = _Accumulator()
    for chunk in chunks:
        if dtype in _NARROW_FLOATS or chunk.dtype.kind == "b":
            chunk = chunk.astype(np.float32)
        acc.add(chunk)
    return acc
