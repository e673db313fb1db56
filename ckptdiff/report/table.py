"""Plain-text tables for people, in tabulate's `simple` format (report/grid.py)."""

from __future__ import annotations

import math

from ckptdiff.artifact import Group
from ckptdiff.integrity import IntegrityReport
from ckptdiff.match.interface import Status
from ckptdiff.report.fit import fit_rows
from ckptdiff.report.formatting import human_bytes, number, shape_text
from ckptdiff.report.grid import simple_table
from ckptdiff.report.interface import (
    ArtifactInfo,
    CheckReport,
    DiffReport,
    HistoryReport,
    InspectReport,
    TensorRow,
    selected_by_only,
)
from ckptdiff.stats.fresh import InitVerdict, Verdict
from ckptdiff.stats.moments import TensorStats


def render_artifact_header(info: ArtifactInfo) -> list[str]:
    """The lines naming the artifact, its format and the reader's notes."""
    lines = [f"artifact: {info.path} ({info.format})"]
    if info.resolved and info.resolved != info.path:
        lines.append(f"read:     {info.resolved}")
    meta = info.metadata
    if "keras_hub_version" in meta:
        tasks = ", ".join(str(t) for t in meta.get("tasks") or []) or "none"
        lines.append(
            f"preset:   Keras {meta.get('keras_version', '?')}, keras_hub {meta['keras_hub_version']}, "
            f"{meta.get('parameter_count', '?')} parameters, tasks: {tasks}"
        )
    lines.extend(f"note:     {note}" for note in info.notes)
    return lines


INIT_LEGEND = "fresh = looks freshly initialised, ? = inconclusive (too little evidence either way)"


def init_text(verdict: InitVerdict | None) -> str:
    """`fresh (glorot_uniform)`, `trained`, `?` for inconclusive, `nonfinite`, `-` when not assessed."""
    if verdict is None:
        return "-"
    kind, match = verdict.verdict, verdict.match
    if kind == "fresh":
        return f"fresh ({match})" if match else "fresh"
    if kind == "inconclusive":
        return "nonfinite" if match == "nonfinite" else "?"
    return kind


def _model_path(row: TensorRow) -> str:
    """The recorded path that names the tensor in the model, when it differs from the key."""
    return "" if not row.model_path or row.key.startswith(row.model_path) else row.model_path


def _stats_cells(s: TensorStats | None) -> list[str]:
    """mean, std, min, max, zeros, nan, inf as table cells."""
    if s is None:
        return ["-"] * 7
    mean, std, low, high, zeros = s.mean, s.std, s.min, s.max, s.zero_fraction
    zeros_text = "-" if zeros is None else f"{100 * zeros:.0f}%"
    # number() of each moment with its checks done once: finite floats are the rule, and 100,000 rows pay for the
    # checks. A NaN, an infinity or an overflowing sum takes the general path.
    if (
        type(mean) is float
        and type(std) is float
        and type(low) is float
        and type(high) is float
        and math.isfinite(mean + std + low + high)
    ):
        return [
            f"{mean:.4g}",
            f"{std:.4g}",
            f"{low:.4g}",
            f"{high:.4g}",
            zeros_text,
            str(s.nan_count),
            str(s.inf_count),
        ]
    return [number(mean), number(std), number(low), number(high), zeros_text, str(s.nan_count), str(s.inf_count)]


def render_inspect_table(report: InspectReport, width: int | None = None) -> str:
    """Render an inspect report as a table, then one summary line per group (keys shortened to width)."""
    lines = render_artifact_header(report.artifact)
    with_paths = any(_model_path(r) for r in report.tensors)
    with_stats = any(r.stats is not None for r in report.tensors)
    headers = ["key"] + (["path"] if with_paths else []) + ["shape", "dtype", "group", "size"]
    if with_stats:
        headers += ["mean", "std", "min", "max", "zeros", "nan", "inf", "init"]
    rows = []
    for r in report.tensors:
        row = [r.key, _model_path(r)] if with_paths else [r.key]
        row += [shape_text(r.shape), r.dtype, r.group, human_bytes(r.nbytes)]
        if with_stats:
            row += _stats_cells(r.stats)
            row.append(init_text(r.init))
        rows.append(row)
    lines.append("")
    rows = fit_rows(headers, rows, width, (0, 1) if with_paths else (0,))
    lines.append(simple_table(rows, headers) if rows else "(no tensors)")
    lines.append("")
    parts = [
        f"{g.group}: {g.tensors} tensors, {g.elements:,} values, {human_bytes(g.nbytes)}"
        for g in report.summary
        if g.tensors
    ]
    lines.append("summary: " + ("; ".join(parts) if parts else "nothing selected"))
    verdicts = [r.init.verdict for r in report.tensors if r.init is not None]
    if verdicts:
        lines.append(
            "init: "
            + ", ".join(f"{verdicts.count(v)} {v}" for v in Verdict)
            + f" ({INIT_LEGEND}; --format json has the evidence)"
        )
    nonfinite = [r.key for r in report.tensors if r.stats is not None and r.stats.nonfinite]
    if nonfinite:
        noun = "tensor holds" if len(nonfinite) == 1 else "tensors hold"
        lines.append(f"nonfinite: {len(nonfinite)} {noun} NaN or Inf: {', '.join(nonfinite[:5])}")
    return "\n".join(lines) + "\n" + render_integrity_table(report.integrity)


_STATUS_ORDER: dict[str, int] = {
    Status.SHAPE_MISMATCH: 0,
    Status.DTYPE_MISMATCH: 1,
    Status.MISSING: 2,
    Status.MATCHED: 3,
}


def render_check_table(report: CheckReport, width: int | None = None) -> str:
    """Render a check report: model findings first, then partial objects, unexpected entries per group, hints."""
    lines = render_artifact_header(report.artifact)
    lines.append(
        f"model:    {report.model.spec} ({report.model.kind} '{report.model.name}', {report.model.variables} variables)"
    )
    lines.extend(f"note:     {n}" for n in report.model.notes)
    anchor = f", anchor '{report.anchor}'" if report.anchor else ""
    lines.append(f"loader:   {report.loader}{anchor}: {report.loader_description}")
    lines.append(f"outcome:  {report.outcome}")
    lines.extend(f"note:     {n}" for n in report.notes)
    rows = []
    for v in sorted(report.variables, key=lambda v: _STATUS_ORDER.get(v.status, 9)):
        other = f"{v.second_opinion[0]}: {v.second_opinion[1]}" if v.second_opinion else ""
        shapes = (
            shape_text(v.shape)
            if v.entry_shape is None or v.entry_shape == v.shape
            else f"{shape_text(v.shape)} <- {shape_text(v.entry_shape)}"
        )
        init = "nonfinite" if v.nonfinite else init_text(v.init)
        rows.append(
            [v.path, f"{v.status} (wrong layer)" if v.misplaced else v.status, v.key or "-", shapes, init]
            + ([other] if any(x.second_opinion for x in report.variables) else [])
        )
    headers = ["variable", "status", "artifact key", "shape", "init"] + (
        ["by name"] if any(x.second_opinion for x in report.variables) else []
    )
    lines.append("")
    rows = fit_rows(headers, rows, width, (2, 0))
    lines.append(simple_table(rows, headers) if rows else "(no variables)")
    if any(r[4] == "?" for r in rows):
        lines.append(f"init: {INIT_LEGEND}")
    if report.partial:
        lines.append("")
        lines.append("partial:")
        lines.extend(f"  {p.object}: {p.detail}" for p in report.partial)
    model_unexpected = [u for u in report.unexpected if u.group == "model"]
    if model_unexpected:
        lines.append("")
        lines.append(
            simple_table(
                [[u.key, shape_text(u.shape), u.dtype] for u in model_unexpected],
                ["unexpected model entry", "shape", "dtype"],
            )
        )
    for group in (Group.OPTIMIZER, Group.BOOKKEEPING):
        members = [u for u in report.unexpected if u.group == group]
        if members:
            lines.append(
                f"unexpected {group} entries: {len(members)} (not restored into this model; --format json lists them)"
            )
    if report.hints:
        lines.append("")
        lines.append("hints:")
        for h in report.hints:
            lines.append(f"  - {h.message}")
            if h.assignment_map:
                lines.append(f"    assignment_map = {h.assignment_map!r}  # get_variable scopes")
            if h.rename:
                lines.append(f"    rename = {h.rename!r}  # checkpoint key -> variable name")
    lines.append("")
    counts = ", ".join(f"{k} {v}" for k, v in report.summary.items())
    verdict = ("OK" if report.ok else "FAIL") + f" (fail-on: {','.join(report.fail_on)})"
    lines.append(f"summary: {counts} -> {verdict}")
    return "\n".join(lines) + "\n" + render_integrity_table(report.integrity)


def render_diff_table(report: DiffReport, only: str = "all", width: int | None = None) -> str:
    """Render a diff: pairs (filtered by --only), the per-layer change view, then counts."""
    lines = ["a: " + render_artifact_header(report.a)[0].removeprefix("artifact: ")]
    lines.append("b: " + render_artifact_header(report.b)[0].removeprefix("artifact: "))
    lines.extend(f"note: {n}" for n in report.a.notes + report.b.notes + report.notes)
    lines.append(f"tolerance: |a-b| <= {report.atol:g} + {report.rtol:g}*|b|")
    rows = []
    for t in report.tensors:
        if not selected_by_only(t.status, only):
            continue
        shape = (
            shape_text(t.shape_a or t.shape_b or ())
            if t.shape_a == t.shape_b or None in (t.shape_a, t.shape_b)
            else f"{shape_text(t.shape_a or ())} -> {shape_text(t.shape_b or ())}"
        )
        key_b = "" if t.key_b == t.key_a else (t.key_b or "-")
        rows.append(
            [
                t.key_a or "-",
                key_b,
                t.status,
                shape,
                t.aligned_by or "-",
                number(t.max_abs_diff),
                number(t.rel_l2),
                number(t.cosine),
                "-" if t.changed_fraction is None else f"{100 * t.changed_fraction:.1f}%",
                str(t.nonfinite_mismatch) if t.nonfinite_mismatch else "",
                init_text(t.init),
            ]
        )
    lines.append("")
    headers = [
        "key in a",
        "key in b",
        "status",
        "shape",
        "aligned by",
        "max |a-b|",
        "rel L2",
        "cosine",
        "changed",
        "nan/inf",
        "init (b)",
    ]
    rows = fit_rows(headers, rows, width, (0, 1))
    lines.append(simple_table(rows, headers) if rows else f"(no pairs with status {only})")
    if report.layers:
        lines.append("")
        lines.append(
            simple_table(
                [[lc.layer, str(lc.tensors), number(lc.rel_l2), lc.status] for lc in report.layers],
                ["layer", "tensors", "rel L2 change", "status"],
            )
        )
    lines.append("")
    aligned = ", ".join(f"{k} {v}" for k, v in report.alignment.items()) or "nothing"
    lines.append(f"aligned: {aligned}")
    counts = ", ".join(f"{k} {v}" for k, v in report.summary.items())
    lines.append(f"summary: {counts} -> {report.outcome.upper().replace('-', ' ')}")
    return "\n".join(lines) + "\n" + render_integrity_table(report.integrity)


def render_integrity_table(reports: tuple[IntegrityReport, ...]) -> str:
    """The `--verify` lines after a table: a verdict per artifact, then one row per damaged item ("" without it)."""
    if not reports:
        return ""
    lines = [""]
    for report in reports:
        verdict = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        lines.append(f"integrity: {report.path}: {report.method}, {report.checked} checked -> {verdict}")
        lines.extend(f"note:      {n}" for n in report.notes)
        if report.problems:
            lines.append("")
            lines.append(
                simple_table(
                    [[p.key, p.kind, p.detail] for p in report.problems],
                    ["damaged", "problem", "detail"],
                )
            )
    return "\n".join(lines) + "\n"


_CHANGE_MARK = {True: "x", False: ".", None: "-"}


def render_history_table(report: HistoryReport, width: int | None = None) -> str:
    """Render a run's history: the checkpoints, one row per variable with a change mark per pair, layers, counts."""
    lines = [f"run: {len(report.checkpoints)} checkpoints, {len(report.checkpoints) - 1} consecutive pairs"]
    for i, c in enumerate(report.checkpoints):
        lines.append(f"  [{i}] {c.path}" + (f" (step {c.step})" if c.step is not None else ""))
    lines.extend(f"note: {n}" for n in report.notes)
    rows = []
    for v in report.variables:
        last_rel = next((r for r in reversed(v.rel_change) if r is not None), None)
        rows.append(
            [
                v.name,
                shape_text(v.shape),
                v.status + (" (nan/inf)" if v.first_nonfinite is not None else ""),
                "".join(_CHANGE_MARK[c] for c in v.changed),
                "-" if v.last_changed is None else str(v.last_changed),
                number(last_rel),
                "-" if v.first_nonfinite is None else f"[{v.first_nonfinite}]",
            ]
        )
    headers = ["variable", "shape", "status", "changed per pair", "last change", "last rel change", "first nan/inf"]
    lines.append("")
    lines.append(simple_table(fit_rows(headers, rows, width, (0,)), headers))
    if report.layers:
        lines.append("")
        lines.append(
            simple_table(
                [[lh.layer, str(lh.never_changed), str(lh.stopped_changing), str(lh.changing)] for lh in report.layers],
                ["layer", "never changed", "stopped changing", "changing"],
            )
        )
    lines.append("")
    lines.append("changed per pair: x = changed, . = identical, - = absent from one side")
    counts = ", ".join(f"{k} {v}" for k, v in report.summary.items())
    verdict = "OK" if report.ok else "FAIL"
    lines.append(f"summary: {counts}; fail on: {', '.join(report.fail_on) or 'nothing'} -> {verdict}")
    return "\n".join(lines) + "\n"
