"""Plain-text tables for people, built with tabulate."""

from __future__ import annotations

from tabulate import tabulate

from ckptdiff.report.formatting import human_bytes, number, shape_text
from ckptdiff.report.interface import ArtifactInfo, InspectReport, TensorRow


def render_artifact_header(info: ArtifactInfo) -> list[str]:
    """The lines naming the artifact, its format and the reader's notes."""
    lines = [f"artifact: {info.path} ({info.format})"]
    if info.resolved and info.resolved != info.path:
        lines.append(f"read:     {info.resolved}")
    lines.extend(f"note:     {note}" for note in info.notes)
    return lines


def _model_path(row: TensorRow) -> str:
    """The recorded path that names the tensor in the model, when it differs from the key."""
    for path in row.paths:
        if not row.key.startswith(path):
            return path
    return ""


def render_inspect_table(report: InspectReport) -> str:
    """Render an inspect report as a table, then one summary line per group."""
    lines = render_artifact_header(report.artifact)
    with_paths = any(_model_path(r) for r in report.tensors)
    with_stats = any(r.stats is not None for r in report.tensors)
    headers = ["key"] + (["path"] if with_paths else []) + ["shape", "dtype", "group", "size"]
    if with_stats:
        headers += ["mean", "std", "min", "max", "zeros", "nan", "inf"]
    rows = []
    for r in report.tensors:
        row = [r.key] + ([_model_path(r)] if with_paths else [])
        row += [shape_text(r.shape), r.dtype, r.group, human_bytes(r.nbytes)]
        if with_stats:
            s = r.stats
            if s is None:
                row += ["-"] * 7
            else:
                zeros = "-" if s.zero_fraction is None else f"{100 * s.zero_fraction:.0f}%"
                row += [number(s.mean), number(s.std), number(s.min), number(s.max), zeros, s.nan_count, s.inf_count]
        rows.append(row)
    lines.append("")
    lines.append(tabulate(rows, headers=headers, disable_numparse=True) if rows else "(no tensors)")
    lines.append("")
    parts = [
        f"{g.group}: {g.tensors} tensors, {g.elements:,} values, {human_bytes(g.nbytes)}"
        for g in report.summary
        if g.tensors
    ]
    lines.append("summary: " + ("; ".join(parts) if parts else "nothing selected"))
    nonfinite = [r.key for r in report.tensors if r.stats is not None and r.stats.nonfinite]
    if nonfinite:
        lines.append(f"nonfinite: {len(nonfinite)} tensors hold NaN or Inf: {', '.join(nonfinite[:5])}")
    return "\n".join(lines) + "\n"
