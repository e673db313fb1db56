"""The table's statistics cells: the fast path for finite floats writes what `number` writes for each value."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from ckptdiff.report.formatting import number
from ckptdiff.report.table import _stats_cells
from ckptdiff.stats.moments import TensorStats

VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**20), 10**20), st.none())


def _oracle(s: TensorStats) -> list[str]:
    zeros = "-" if s.zero_fraction is None else f"{100 * s.zero_fraction:.0f}%"
    return [number(s.mean), number(s.std), number(s.min), number(s.max), zeros, str(s.nan_count), str(s.inf_count)]


@given(VALUES, VALUES, VALUES, VALUES, st.one_of(st.none(), st.floats(0, 1)))
def test_stats_cells_equal_number_of_each_value(mean, std, low, high, zeros) -> None:
    stats = TensorStats(10, mean, std, low, high, zeros, 1, 2)
    assert _stats_cells(stats) == _oracle(stats)


def test_non_finite_and_missing_values_take_the_general_path() -> None:
    stats = TensorStats(3, math.nan, math.inf, -math.inf, 1.5, None, 1, 2)
    assert _stats_cells(stats) == ["nan", "inf", "-inf", "1.5", "-", "1", "2"]
    assert _stats_cells(None) == ["-"] * 7
