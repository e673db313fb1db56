"""The audit's outputs: a table for people, one JSON document (`ckptdiff.audit/1`), or JSON lines."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from ckptdiff.audit.task import AUDIT_SCHEMA, AuditStatus

MAX_FINDINGS_SHOWN = 3


def audit_document(executor: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The `ckptdiff.audit/1` document."""
    summary = {s.value: sum(1 for r in records if r["status"] == s.value) for s in AuditStatus}
    return {
        "schema": AUDIT_SCHEMA,
        "executor": executor,
        "summary": {"artifacts": len(records), **summary},
        "artifacts": records,
    }


def render_audit_json(executor: str, records: list[dict[str, Any]]) -> str:
    return json.dumps(audit_document(executor, records), indent=2 if len(records) <= 2000 else None) + "\n"


def render_audit_line(record: dict[str, Any]) -> str:
    """One artifact as one JSON line (`--format jsonl`)."""
    return json.dumps(record, separators=(",", ":"))


def render_audit_table(executor: str, records: list[dict[str, Any]]) -> str:
    rows = []
    for r in records:
        findings = r["findings"]
        shown = findings[:MAX_FINDINGS_SHOWN]
        detail = r["error"] or "; ".join(f"{f['kind']}: {f.get('path') or f['key']}" for f in shown)
        if len(findings) > MAX_FINDINGS_SHOWN:
            detail += f" (+{len(findings) - MAX_FINDINGS_SHOWN} more)"
        counts = r["counts"]
        rows.append(
            [
                r["path"],
                r["format"] or "-",
                r["status"],
                counts.get("tensors", "-"),
                len(findings),
                detail[:120],
            ]
        )
    table = tabulate(rows, headers=["artifact", "format", "status", "tensors", "findings", "detail"])
    doc = audit_document(executor, records)["summary"]
    summary = ", ".join(f"{k} {v}" for k, v in doc.items())
    verdict = "OK" if doc["findings"] == doc["error"] == 0 else "FAIL"
    return f"{table}\n\nexecutor: {executor}\nsummary: {summary} -> {verdict}\n"
