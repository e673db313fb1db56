"""compare_entry: the status of pairing one live variable with one artifact entry."""

from __future__ import annotations

from ckptdiff.artifact import TensorEntry
from ckptdiff.live.model import LiveVariable
from ckptdiff.match.interface import DTYPE_MISMATCH, MATCHED, SHAPE_MISMATCH, Pairing
from ckptdiff.report.formatting import shape_text


def compare_entry(var: LiveVariable, entry: TensorEntry, how: str) -> Pairing:
    """Pair a variable with the entry a loader chose for it.

    Args:
        var: the live variable.
        entry: the artifact entry the loader reads for it.
        how: how the loader got there, for the detail text.

    Returns:
        matched, shape_mismatch (shapes differ) or dtype_mismatch (same shape, other dtype).
    """
    if tuple(entry.shape) != tuple(var.shape):
        return Pairing(
            var.index,
            SHAPE_MISMATCH,
            entry.key,
            f"{how}; model {shape_text(var.shape)}, artifact {shape_text(entry.shape)}",
        )
    if entry.dtype != var.dtype:
        return Pairing(var.index, DTYPE_MISMATCH, entry.key, f"{how}; model {var.dtype}, artifact {entry.dtype}")
    return Pairing(var.index, MATCHED, entry.key, how)
