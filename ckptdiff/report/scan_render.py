"""Renderers for `ckptdiff scan`: table and JSON (schema `ckptdiff.scan/1`)."""

from __future__ import annotations

import json
from typing import Any

from ckptdiff.report.grid import simple_table
from ckptdiff.scanning.interface import FAILING_SEVERITIES, SEVERITIES, ScanReport, Severity

SCAN_SCHEMA = "ckptdiff.scan/1"


def render_scan_table(report: ScanReport) -> str:
    """Render a scan: what was read, one row per finding (most severe first), then the counts."""
    lines = [f"artifact: {report.path} ({report.format})", f"scanner:  {report.scanner}"]
    lines.extend(f"scanned:  {s}" for s in report.scanned)
    lines.extend(f"note:     {n}" for n in report.notes)
    lines.append("")
    if report.findings:
        rows = [[f.severity, f.kind, f.technique or "-", f.location, f.detail] for f in report.findings]
        headers = ["severity", "kind", "technique", "location", "detail"]
        lines.append(simple_table(rows, headers))
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
            {
                "severity": f.severity,
                "kind": f.kind,
                "technique": f.technique,
                "location": f.location,
                "detail": f.detail,
            }
            for f in report.findings
        ],
    }


def render_scan_json(report: ScanReport) -> str:
    """Render a scan report as a JSON document (schema `ckptdiff.scan/1`)."""
    return json.dumps(scan_json(report), indent=2) + "\n"
