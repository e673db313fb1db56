"""The Python API: the five commands as functions returning their report objects.

Every report has `.ok` (what the command's exit status 0 means), `.findings` (what would fail it, as
`Finding` rows), and `.to_json()` (the command's `--format json` document). Errors are the same
`CkptdiffError` subclasses the CLI maps to exit status 2.

    import ckptdiff
    report = ckptdiff.check("runs/42/ckpt-1000", model=build_model())
    assert report.ok, report.findings
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ckptdiff.report.interface import CheckReport, DiffReport, HistoryReport, InspectReport
from ckptdiff.scanning.interface import ScanReport


@dataclass(frozen=True)
class Finding:
    """One thing that makes a report not ok."""

    kind: str
    """`fresh`, `nonfinite`, `missing`, `changed`, `never_changed`, a scan kind (`lambda`), `integrity`, ..."""
    where: str
    """The variable, tensor key or location inside the artifact."""
    detail: str


def _live(model: Any) -> Any:
    from ckptdiff.live.model import LiveModel
    from ckptdiff.live.spec import load_live_model

    if isinstance(model, LiveModel):
        return model
    if isinstance(model, str | os.PathLike):
        return load_live_model(os.fspath(model))
    from ckptdiff.live.describe import describe_live_model

    return describe_live_model(model, f"<{type(model).__name__} object>")


def inspect(path: str | os.PathLike[str], *, group: str = "all", stats: bool = True, verify: bool = False) -> Any:
    """`ckptdiff inspect`: every tensor with its statistics and fresh-init verdict (an InspectReport)."""
    from ckptdiff.commands.inspect import inspect_artifact
    from ckptdiff.formats import open_artifact, verify_artifact

    with open_artifact(path) as artifact:
        report = inspect_artifact(artifact, group=group, with_stats=stats)
        if verify:
            report = replace(report, integrity=(verify_artifact(artifact),))
    return report


def check(
    path: str | os.PathLike[str],
    model: Any,
    *,
    loader: str = "auto",
    fail_on: Sequence[str] = (),
    allow: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> CheckReport:
    """`ckptdiff check`: what restoring path into model would do, variable by variable.

    Args:
        path: the artifact.
        model: a SPEC (`file.py:factory`, a `.keras`, a full-model `.h5`) or a live object: a Keras 3 or
            tf_keras model, a `tf.Module` or a `tf.train.Checkpoint`.
        loader: `auto` or a loader name (ckptdiff.match.interface.LOADERS).
        fail_on: statuses that also fail; allow: statuses that do not (as the CLI options).
        ignore: globs over variable paths and entry keys to leave out.
    """
    from ckptdiff.commands.check import check_restore, effective_fail_on
    from ckptdiff.formats import open_artifact

    live = _live(model)
    with open_artifact(path) as artifact:
        return check_restore(
            artifact, live, loader=loader, fail_on=effective_fail_on(tuple(fail_on), tuple(allow)), ignore=tuple(ignore)
        )


def diff(
    a: str | os.PathLike[str], b: str | os.PathLike[str], *, atol: float = 0.0, rtol: float = 0.0, model: Any = None
) -> DiffReport:
    """`ckptdiff diff`: the tensors of two artifacts compared (a DiffReport; `.ok` when identical)."""
    from ckptdiff.commands.diff import diff_artifacts
    from ckptdiff.formats import open_artifact

    live = _live(model) if model is not None else None
    with open_artifact(a) as left, open_artifact(b) as right:
        return diff_artifacts(left, right, atol=atol, rtol=rtol, live=live)


def scan(path: str | os.PathLike[str]) -> ScanReport:
    """`ckptdiff scan`: what loading the artifact would execute, import, write or read."""
    from ckptdiff.scanning.scanner import scan_artifact

    return scan_artifact(path)


def history(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    fail_on: Sequence[str] = (),
    allow: Sequence[str] = (),
    group: str = "model",
) -> HistoryReport:
    """`ckptdiff history`: how every variable moved over a run (a directory, or artifacts in order)."""
    from ckptdiff.artifact import Group
    from ckptdiff.commands.history import history_report
    from ckptdiff.formats import open_artifact

    items = [os.fspath(paths)] if isinstance(paths, str | os.PathLike) else [os.fspath(p) for p in paths]
    groups = tuple(Group) if group == "all" else (Group(group),)
    return history_report(items, open_artifact, fail_on=tuple(fail_on), allow=tuple(allow), groups=groups)


def findings_of(report: Any) -> list[Finding]:
    """The findings of any report (what `.findings` returns)."""
    if isinstance(report, CheckReport):
        from ckptdiff.report.junit import variable_failures

        found = [Finding(k, v.path, m) for v in report.variables for k, m in variable_failures(v, report.fail_on)]
        if "partial" in report.fail_on:
            found += [Finding("partial", p.object, p.detail) for p in report.partial]
        if "unexpected" in report.fail_on:
            found += [Finding("unexpected", u.key, "no variable consumes it") for u in report.unexpected]
    elif isinstance(report, InspectReport):
        found = [
            Finding("fresh", r.model_path, r.init.evidence)
            for r in report.tensors
            if r.group == "model" and r.init is not None and r.init.verdict == "fresh"
        ]
        found += [
            Finding("nonfinite", r.key, "NaN or Inf values") for r in report.tensors if r.stats and r.stats.nonfinite
        ]
    elif isinstance(report, DiffReport):
        found = [Finding(str(t.status), t.key_a or t.key_b or "", t.name) for t in report.tensors if t.status != "same"]
        if not report.identical and not found:
            found = [Finding(str(report.outcome), "", "; ".join(report.notes))]
    elif isinstance(report, ScanReport):
        from ckptdiff.scanning.interface import FAILING_SEVERITIES

        found = [Finding(f.kind, f.location, f.detail) for f in report.findings if f.severity in FAILING_SEVERITIES]
    elif isinstance(report, HistoryReport):
        from ckptdiff.commands.history import failures

        found = [
            Finding(kind, v.name, f"{v.status} over the run")
            for v in report.variables
            for kind in failures(v, report.fail_on)
        ]
    else:
        raise TypeError(f"not a ckptdiff report: {type(report).__name__}")
    for integrity in getattr(report, "integrity", ()):
        found += [Finding("integrity", p.key, f"{p.kind}: {p.detail}") for p in integrity.problems]
    return found


def to_json(report: Any) -> str:
    """The report's `--format json` document."""
    from ckptdiff.report import json as render

    if isinstance(report, CheckReport):
        return render.render_check_json(report)
    if isinstance(report, InspectReport):
        return render.render_inspect_json(report)
    if isinstance(report, DiffReport):
        return render.render_diff_json(report)
    if isinstance(report, HistoryReport):
        return render.render_history_json(report)
    if isinstance(report, ScanReport):
        from ckptdiff.report.scan_render import render_scan_json

        return render_scan_json(report)
    raise TypeError(f"not a ckptdiff report: {type(report).__name__}")
