"""Small value formatters shared by the table renderers."""

from __future__ import annotations

import math


def human_bytes(n: int | None) -> str:
    """1536 -> '1.5 KiB'; None -> '?'."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def number(x: float | None) -> str:
    """Four significant digits, '-' for undefined."""
    if x is None:
        return "-"
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return str(x)
    return f"{x:.4g}"


def shape_text(shape: tuple[int, ...]) -> str:
    """(3, 4) -> '3x4'; () -> 'scalar'."""
    return "x".join(str(d) for d in shape) if shape else "scalar"
