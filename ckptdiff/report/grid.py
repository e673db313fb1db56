"""Plain-text tables in tabulate's `simple` format, with a direct path for large reports."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

COLUMN_GAP = "  "
"""tabulate's `simple` format: columns separated by two spaces, no padding inside a cell."""
HEADER_PADDING = 2
"""tabulate's MIN_PADDING: a column is at least its header's width plus two."""


def _plain(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple[bool, bool]:
    """(plain, padded): plain when every cell is a one-line string of printable ASCII and every row has one cell
    per header; padded when some cell starts or ends with a space (the only whitespace printable ASCII has).

    A plain table is measured by tabulate with `len` whatever its options (no ANSI codes, no wide characters,
    no multi-line rows), so the direct path gives its output byte for byte.
    """
    width = len(headers)
    for row in rows:
        if len(row) != width:
            return False, False
    try:
        text = "\x00".join(["\x00".join(row) for row in rows])  # NUL: not printable, so in no plain cell
    except TypeError:
        return False, False
    head = " ".join(headers)
    separators = len(rows) * width - 1
    if text.count("\x00") != separators or not (text.isascii() and head.isascii() and head.isprintable()):
        return False, False  # a NUL inside a cell, or non-ASCII
    if not text.replace("\x00", "").isprintable():
        return False, False
    return True, text.startswith(" ") or text.endswith(" ") or " \x00" in text or "\x00 " in text


def simple_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """`tabulate(rows, headers=headers, disable_numparse=True)`, byte for byte.

    tabulate took 8 s for the 100,000 rows of an inspect report on this project's VM, most of it deducing
    column types and measuring widths cell by cell. Tables of one-line printable-ASCII strings (every table
    ckptdiff writes for ASCII names) take a direct path: each cell stripped and left-aligned, each column as
    wide as its widest cell or its header plus two, each line right-stripped. Anything else (non-ASCII
    names, which tabulate may measure with wcwidth; control characters; non-string cells) goes to tabulate.
    `tests/report/test_grid.py` checks the two agree.
    """
    plain, padded = _plain(headers, rows) if rows and headers else (False, False)
    if not plain:
        return str(tabulate([list(r) for r in rows], headers=list(headers), disable_numparse=True))
    cells = [[cell.strip() for cell in row] for row in rows] if padded else rows
    widths = [len(h) + HEADER_PADDING for h in headers]
    for i, column in enumerate(zip(*cells, strict=True)):
        widths[i] = max(widths[i], max(map(len, column)))
    line = COLUMN_GAP.join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers).rstrip(), COLUMN_GAP.join("-" * w for w in widths)]
    out.extend([line.format(*row).rstrip() for row in cells])
    return "\n".join(out)
