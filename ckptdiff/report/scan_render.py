"""Renderers for `ckptdiff scan` (table and JSON, schema `ckptdiff.scan/1`) and for the `--verify` integrity section."""

from __future__ import annotations

import json
from typing import Any, Sequence

from tabulate import tabulate

from ckptdiff.scan.interface import FAILING_SEVERITIES, SEVERITIES, ScanReport, Severity
from ckptdiff.integrity import IntegrityReport

SCAN_SCHEMA = "ckptdiff.scan/1"
INTEGRITY_KEY = "integrity"


def render_scan_table(report: ScanReport) -> str:
    """Render a scan: what was read, one row per finding (most severe first), then the counts."""
    lines = [f"artifact: {report.path} ({report.format})", f"scanner:  {report.scanner}"]
    lines.extend(f"scanned:  {s}" for s in report.scanned)
    lines.extend(f"note:     {n}" for n in report.notes)
    lines.append("")
    if report.findings:
        rows = [[f.severity, f.kind, f.location, f.detail] for f in report.findings]
        lines.append(tabulate(rows, headers=["severity", "kind", "location", "detail"], disable_numparse=True))
    else:
        lines.append("(no findings: nothing in this artifact runs, imports, writes or reads when it is loaded)")
    lines.append("")
    counts = ", ".join(f"{s} {report.counts.get(s, 0)}" for s in SEVERITIES)
    verdict = "CLEAN" if report.clean else "FINDINGS"
    info = " (info findings do not count)" if report.counts.get(Severity.INFO) else ""
    lines.append(f"summary: {counts} -> {verdict}{info}")
    return "\n".join(lines) + "\n"


def scan_json(report: ScanReport) -> dict[str, Any]:
    """The `ckptdiff.scan/1` document as a dict."""
    return {
        "schema": SCAN_SCHEMA,
        "artifact": {"path": report.path, "format": report.format, "scanner": report.scanner},
        "scanned": list(report.scanned),
        "notes": list(report.notes),
        "summary": {s: report.counts.get(s, 0) for s in SEVERITIES},
        "failing_severities": list(FAILING_SEVERITIES),
        "clean": report.clean,
        "findings": [
            {"severity": f.severity, "kind": f.kind, "location": f.location, "detail": f.detail}
            for f in report.findings
        ],
    }


def render_scan_json(report: ScanReport) -> str:
    """Render a scan report as a JSON document (schema `ckptdiff.scan/1`)."""
    return json.dumps(scan_json(report), indent=2) + "\n"


# --- the --verify section of inspect, check and diff ------------------------------------------------


def integrity_json(report: IntegrityReport) -> dict[str, Any]:
    """The `integrity` object: {path, ok, method, checked, problems[{key, kind, detail}], notes[]}."""
    return {
        "path": report.path,
        "ok": report.ok,
        "method": report.method,
        "checked": report.checked,
        "problems": [{"key": p.key, "kind": p.kind, "detail": p.detail} for p in report.problems],
        "notes": list(report.notes),
    }


def add_integrity_json(document: str, reports: Sequence[IntegrityReport]) -> str:
    """Add the `integrity` field to a command's JSON document (fields are only ever added within a version).

    One report (inspect, check) gives an object; two (diff) give `{"a": ..., "b": ...}`.
    """
    doc = json.loads(document)
    if len(reports) == 1:
        doc[INTEGRITY_KEY] = integrity_json(reports[0])
    else:
        doc[INTEGRITY_KEY] = {side: integrity_json(r) for side, r in zip(("a", "b"), reports)}
    return json.dumps(doc, indent=2) + "\n"


def render_integrity_table(reports: Sequence[IntegrityReport]) -> str:
    """The lines `--verify` appends to a table: a verdict per artifact, then one row per damaged item."""
    lines = [""]
    for report in reports:
        verdict = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        lines.append(f"integrity: {report.path}: {report.method}, {report.checked} checked -> {verdict}")
        lines.extend(f"note:      {n}" for n in report.notes)
        if report.problems:
            lines.append("")
            lines.append(tabulate(
                [[p.key, p.kind, p.detail] for p in report.problems],
                headers=["damaged", "problem", "detail"],
                disable_numparse=True,
            ))
    return "\n".join(lines) + "\n"
