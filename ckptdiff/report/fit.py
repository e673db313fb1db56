"""Fitting a table to a terminal: long keys and paths wrapped at `/` onto more lines, nothing dropped."""

from __future__ import annotations

from collections.abc import Sequence

MIN_COLUMN = 12
"""A wrapped key column keeps at least this many characters per line."""
GAP = 2
HEADER_PADDING = 2
"""tabulate widens every column to its header plus two (tabulate.MIN_PADDING)."""
"""tabulate's `simple` format puts two spaces between columns."""


def wrap_path(text: str, width: int) -> str:
    """text on lines of at most width characters, broken after a `/` where one is near enough."""
    lines: list[str] = []
    rest = text
    while len(rest) > width:
        cut = rest.rfind("/", 0, width) + 1
        if cut < width // 2:  # no `/` in the second half of the line: break inside the component
            cut = width
        lines.append(rest[:cut])
        rest = rest[cut:]
    lines.append(rest)
    return "\n".join(lines)


def fit_rows(
    headers: Sequence[str], rows: list[list[str]], width: int | None, shrinkable: Sequence[int]
) -> list[list[str]]:
    """Wrap the cells of the shrinkable columns until the table fits width (or they reach MIN_COLUMN).

    Args:
        headers: the column headers.
        rows: the cells, as text.
        width: the terminal width; None keeps every cell on one line (`--wide`, pipes, files).
        shrinkable: indices of the columns that may wrap (keys, paths).

    Returns:
        The rows, with long cells of the shrinkable columns on several lines.
    """
    if width is None or not rows:
        return rows
    widths = [max([len(h) + HEADER_PADDING] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    excess = sum(widths) + GAP * (len(widths) - 1) - width
    limits: dict[int, int] = {}
    for i in sorted(shrinkable, key=lambda i: -widths[i]):
        if excess <= 0:
            break
        floor = max(MIN_COLUMN, len(headers[i]) + HEADER_PADDING)
        cut = min(excess, max(widths[i] - floor, 0))
        if cut:
            limits[i] = widths[i] - cut
            excess -= cut
    if not limits:
        return rows
    return [[wrap_path(c, limits[i]) if i in limits else c for i, c in enumerate(r)] for r in rows]
