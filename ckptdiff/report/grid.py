"""Plain-text tables in tabulate's `simple` format, with a direct path for large reports."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

COLUMN_GAP = "  "
"""tabulate's `simple` format: columns separated by two spaces, no padding inside a cell."""
HEADER_PADDING = 2
"""tabulate's MIN_PADDING: a column is at least its header's width plus two."""


def _plain(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> bool:
    """True when every cell is a one-line string of printable ASCII and every row has one cell per header.

    Then tabulate measures a cell by `len` whatever its options (no ANSI codes, no wide characters, no
    multi-line rows) and the direct path gives its output byte for byte.
    """
    width = len(headers)
    for row in rows:
        if len(row) != width:
            return False
    try:
        text = " ".join(" ".join(row) for row in rows) + " ".join(headers)
    except TypeError:
        return False
    return text.isascii() and text.isprintable()


def simple_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """`tabulate(rows, headers=headers, disable_numparse=True)`, byte for byte.

    tabulate took 8 s for the 100,000 rows of an inspect report on this project's VM, most of it deducing
    column types and measuring widths cell by cell. Tables of one-line printable-ASCII strings (every table
    ckptdiff writes for ASCII names) take a direct path: each cell stripped and left-aligned, each column as
    wide as its widest cell or its header plus two, each line right-stripped. Anything else (non-ASCII
    names, which tabulate may measure with wcwidth; control characters; non-string cells) goes to tabulate.
    `tests/report/test_grid.py` checks the two agree.
    """
    if not rows or not headers or not _plain(headers, rows):
        return str(tabulate([list(r) for r in rows], headers=list(headers), disable_numparse=True))
    cells = [[cell.strip() for cell in row] for row in rows]
    widths = [len(h) + HEADER_PADDING for h in headers]
    for i, column in enumerate(zip(*cells, strict=True)):
        widths[i] = max(widths[i], max(map(len, column)))
    line = COLUMN_GAP.join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers).rstrip(), COLUMN_GAP.join("-" * w for w in widths)]
    out.extend([line.format(*row).rstrip() for row in cells])
    return "\n".join(out)
