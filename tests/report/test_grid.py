"""simple_table against its oracle, tabulate itself: the same text byte for byte, on either path."""

from __future__ import annotations

import random
from typing import Any

import pytest
from tabulate import tabulate

from ckptdiff.report import grid
from ckptdiff.report.grid import simple_table

PLAIN = [" ", "a", "Z", "0", "1.5", "-3", "True", "False", "-", "{", "}", "{0}", "%s", "x" * 30, "1e-05", ""]
"""Printable ASCII, including cells tabulate would parse as numbers or booleans without disable_numparse."""
HOSTILE = ["é", "日本", "\t", "\n", "\r", "\x1b[31m", "\x00", "\u200b"]
"""Non-ASCII (wide characters), control characters, ANSI codes: the cases that must go to tabulate."""


def _oracle(rows: list[list[str]], headers: list[str]) -> str:
    return str(tabulate(rows, headers=headers, disable_numparse=True))


@pytest.mark.parametrize("hostile", [False, True])
def test_random_tables_match_tabulate(hostile: bool) -> None:
    rng = random.Random(15 + hostile)
    pool = PLAIN + HOSTILE if hostile else PLAIN
    for _ in range(1500):
        ncol, nrow = rng.randint(1, 6), rng.randint(1, 8)
        headers = ["".join(rng.choice(PLAIN) for _ in range(rng.randint(0, 4))) for _ in range(ncol)]
        rows = [["".join(rng.choice(pool) for _ in range(rng.randint(0, 6))) for _ in range(ncol)] for _ in range(nrow)]
        assert simple_table(rows, headers) == _oracle(rows, headers), (rows, headers)


def test_direct_path_is_taken_for_plain_cells_and_not_for_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """The equality above would hold trivially if every table went to tabulate: count the fallbacks."""
    calls: list[object] = []
    real = grid.tabulate

    def counting(*args: object, **kwargs: object) -> str:
        calls.append(args)
        return str(real(*args, **kwargs))

    monkeypatch.setattr(grid, "tabulate", counting)
    plain = [["  dense/kernel ", "3x4", "float32"], ["b", "scalar", "int64"]]
    assert simple_table(plain, ["key", "shape", "dtype"]) == _oracle(plain, ["key", "shape", "dtype"])
    assert calls == []
    odd_rows = (
        ["dénse", "3", "f"],
        ["a\nb", "3", "f"],
        ["\x1b[1mx\x1b[0m", "3", "f"],
        ["a", "3"],
        ["a\x00b", "3", "f"],
    )
    for odd in odd_rows:
        simple_table([odd], ["key", "shape", "dtype"])
    assert len(calls) == len(odd_rows)


def test_integer_cells_and_empty_tables_go_to_tabulate() -> None:
    rows: list[list[Any]] = [["layer", 3, "changed"]]
    assert simple_table(rows, ["a", "b", "c"]) == str(tabulate(rows, headers=["a", "b", "c"], disable_numparse=True))
    assert simple_table([], ["a", "b"]) == _oracle([], ["a", "b"])


def test_large_inspect_like_table_matches() -> None:
    rng = random.Random(3)
    rows = [
        [
            f"block{i // 100}/layer{i % 100}/w",
            f"{rng.randint(1, 512)}x{rng.randint(1, 512)}",
            "float32",
            "model",
            f"{rng.random():.4g}",
            "0%",
            "0",
            "fresh (constant(1))" if i % 3 else "?",
        ]
        for i in range(3000)
    ]
    headers = ["key", "shape", "dtype", "group", "mean", "zeros", "nan", "init"]
    assert simple_table(rows, headers) == _oracle(rows, headers)
