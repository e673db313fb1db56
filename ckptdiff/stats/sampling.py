"""Deterministic samples of a tensor's values, read through its source without loading the whole tensor."""

from __future__ import annotations

import numpy as np

from ckptdiff.artifact import TensorEntry

SAMPLE_VALUES = 4096
"""Values drawn for the distribution tests."""
READ_ALL_BELOW = 8192
"""Tensors this small are read whole: the tests then see every value."""
MATRIX_MAX_ELEMENTS = 1 << 18
"""Largest submatrix the spectral and orthogonality tests read (1 MiB of float32)."""
MATRIX_SIDE = 512
"""Rows and columns kept when a matrix is larger than MATRIX_MAX_ELEMENTS."""


def read_flat(entry: TensorEntry, indices: np.ndarray) -> np.ndarray:
    """Values at sorted flat C-order indices as float64.

    Uses the source's `sample_flat` when it has one; otherwise streams the chunks and keeps the
    requested positions, so memory stays bounded either way.
    """
    indices = np.asarray(indices, dtype=np.int64)
    sample_flat = getattr(entry.source, "sample_flat", None)
    if sample_flat is not None:
        return np.asarray(sample_flat(indices)).astype(np.float64)
    out = np.empty(indices.size, dtype=np.float64)
    start = 0
    for chunk in entry.iter_chunks():
        stop = start + chunk.size
        lo, hi = np.searchsorted(indices, [start, stop])
        if hi > lo:
            out[lo:hi] = np.asarray(chunk[indices[lo:hi] - start]).astype(np.float64)
        start = stop
    return out


def read_all(entry: TensorEntry) -> np.ndarray:
    """Every value, flat, as float64 (only for tensors below READ_ALL_BELOW or matrix-sized reads)."""
    return np.concatenate([np.asarray(c).astype(np.float64).reshape(-1) for c in entry.iter_chunks()] or [np.empty(0)])


def sample_indices(size: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct sorted indices below size, uniformly at random (all of them when size <= k)."""
    if size <= k:
        return np.arange(size, dtype=np.int64)
    if size <= 4 * k:
        return np.sort(rng.choice(size, k, replace=False))
    drawn = np.unique(rng.integers(0, size, size=2 * k, dtype=np.int64))
    while drawn.size < k:  # practically never: 2k draws from > 4k values repeat rarely
        drawn = np.unique(np.concatenate([drawn, rng.integers(0, size, size=k, dtype=np.int64)]))
    return np.sort(rng.choice(drawn, k, replace=False))


SAMPLE_RUN = 16
"""The value sample is drawn as runs of this many consecutive values: the same law for an i.i.d. tensor,
and 16x fewer pages or compressed HDF5 chunks to touch than scattered single values."""


def draw_values(entry: TensorEntry, seed: int = 0, k: int = SAMPLE_VALUES) -> np.ndarray:
    """A deterministic sample of the values: all of them below READ_ALL_BELOW, else about k in
    k / SAMPLE_RUN runs of consecutive values at seeded random offsets."""
    if entry.size <= READ_ALL_BELOW:
        return read_all(entry)
    rng = np.random.default_rng(seed)
    runs = entry.size // SAMPLE_RUN
    starts = sample_indices(runs, k // SAMPLE_RUN, rng) * SAMPLE_RUN
    return read_flat(entry, (starts[:, None] + np.arange(SAMPLE_RUN)[None, :]).reshape(-1))


def matrix_view(shape: tuple[int, ...]) -> tuple[int, int] | None:
    """The 2-D view the spectral test reads: (prod(shape[:-1]), shape[-1]) as Keras reshapes kernels.

    Kernels with fewer than 8 output channels (depthwise kernels (..., in, multiplier)) are read as
    (receptive field, in * out) instead when that is wider, so that the spectrum has more than a few
    singular values. Returns None for scalars and vectors.
    """
    if len(shape) < 2:
        return None
    rows, cols = int(np.prod(shape[:-1], dtype=np.int64)), int(shape[-1])
    if len(shape) >= 3 and cols < 8 and min(int(np.prod(shape[:-2])), shape[-2] * cols) > cols:
        rows, cols = int(np.prod(shape[:-2], dtype=np.int64)), int(shape[-2]) * cols
    return rows, cols


def draw_submatrix(entry: TensorEntry, seed: int = 0, max_elements: int = MATRIX_MAX_ELEMENTS) -> np.ndarray | None:
    """The matrix view, or a deterministic submatrix of it: a block of consecutive rows at a seeded
    offset (few pages, few HDF5 chunks) and seeded random columns.

    A submatrix of an i.i.d. matrix is i.i.d., so the random-matrix laws apply to it unchanged.
    Returns None when the tensor has no matrix view.
    """
    view = matrix_view(entry.shape)
    if view is None:
        return None
    rows, cols = view
    if rows * cols <= max_elements:
        return read_all(entry).reshape(rows, cols)
    rng = np.random.default_rng(seed + 1)
    n_cols = min(cols, max(MATRIX_SIDE, max_elements // max(1, min(rows, MATRIX_SIDE))))
    n_rows = min(rows, max(1, max_elements // n_cols))
    first = int(rng.integers(0, rows - n_rows + 1))
    r = np.arange(first, first + n_rows, dtype=np.int64)
    c = np.sort(rng.choice(cols, n_cols, replace=False))
    return read_flat(entry, (r[:, None] * cols + c[None, :]).reshape(-1)).reshape(n_rows, n_cols)


def draw_full_lines(entry: TensorEntry, seed: int = 0, max_elements: int = 1 << 20) -> np.ndarray | None:
    """Whole rows (wide views) or whole columns (tall views) of the matrix view, for the orthogonality test.

    An orthogonal init has orthonormal lines along its shorter side; a subset of whole lines
    keeps that property, a submatrix does not. Returns an array whose rows are the lines, or None
    when fewer than two whole lines fit in max_elements.
    """
    if len(entry.shape) < 2:
        return None
    rows, cols = int(np.prod(entry.shape[:-1], dtype=np.int64)), int(entry.shape[-1])
    length, count = (cols, rows) if rows <= cols else (rows, cols)
    take = min(count, max_elements // max(1, length))
    if take < 2:
        return None
    if rows * cols <= max_elements:
        m = read_all(entry).reshape(rows, cols)
        return m if rows <= cols else m.T
    rng = np.random.default_rng(seed + 2)
    chosen = np.sort(rng.choice(count, take, replace=False))
    if rows <= cols:
        idx = chosen[:, None] * cols + np.arange(cols)[None, :]
        return read_flat(entry, idx.reshape(-1)).reshape(take, cols)
    idx = np.arange(rows)[:, None] * cols + chosen[None, :]
    return read_flat(entry, idx.reshape(-1)).reshape(rows, take).T
