"""audit_one: everything ckptdiff says about one artifact, as a plain dict any worker can send back.

It runs `inspect --verify` (statistics and fresh-init verdicts), `scan`, and `check` when a model is
given. A corrupt or hostile artifact is a record with status `error` and its one-line error: nothing an
artifact holds can stop the audit. Records are plain dicts so a process pool or a Dask worker can return
them without pickling any ckptdiff object.
"""

from __future__ import annotations

import enum
import os
import socket
import time
from typing import Any

from ckptdiff.errors import CkptdiffError, one_line

AUDIT_SCHEMA = "ckptdiff.audit/1"
ALLOWABLE = ("fresh", "nonfinite", "scan", "integrity", "check")
"""Finding sources `audit --allow` can turn off."""


class AuditStatus(enum.StrEnum):
    OK = "ok"
    FINDINGS = "findings"
    ERROR = "error"


_LIVE: dict[str, Any] = {}


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def audit_one(
    path: str,
    model_spec: str | None = None,
    allow: tuple[str, ...] = (),
    storage_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Audit one artifact; never raises for anything the artifact holds.

    Args:
        path: the artifact (local path or URL), as discovery found it.
        model_spec: a `--model` SPEC to also check the restore against (built once per worker process).
        allow: finding sources not to count (ALLOWABLE).
        storage_options: fsspec options for remote paths (`--storage-option`).
    """
    started = time.perf_counter()
    record: dict[str, Any] = {
        "path": path,
        "format": None,
        "status": AuditStatus.OK.value,
        "counts": {},
        "findings": [],
        "error": None,
        "worker": _worker_name(),
        "seconds": 0.0,
    }
    try:
        if storage_options:
            from ckptdiff.storage.remote import configure

            configure(storage_options)
        _audit(path, model_spec, allow, record)
    except CkptdiffError as exc:
        record["status"], record["error"] = AuditStatus.ERROR.value, one_line(str(exc))
    except (RecursionError, MemoryError) as exc:
        record["status"] = AuditStatus.ERROR.value
        record["error"] = f"the input nests too deep or is too large to process safely ({type(exc).__name__})"
    except Exception as exc:  # a bug of ours must not stop the fleet either
        record["status"] = AuditStatus.ERROR.value
        record["error"] = f"internal error: {type(exc).__name__}: {one_line(str(exc))}"
    if record["status"] == AuditStatus.OK.value and record["findings"]:
        record["status"] = AuditStatus.FINDINGS.value
    record["seconds"] = round(time.perf_counter() - started, 3)
    return record


def _audit(path: str, model_spec: str | None, allow: tuple[str, ...], record: dict[str, Any]) -> None:
    from ckptdiff.commands.inspect import inspect_artifact
    from ckptdiff.formats import open_artifact, verify_artifact
    from ckptdiff.scanning.scanner import scan_artifact

    findings: list[dict[str, Any]] = record["findings"]
    with open_artifact(path) as artifact:
        record["format"] = str(artifact.format)
        report = inspect_artifact(artifact)
        integrity = verify_artifact(artifact)
        model = [r for r in report.tensors if r.group == "model"]
        verdicts = [str(r.init.verdict) for r in model if r.init is not None]
        nonfinite = [r for r in report.tensors if r.stats is not None and r.stats.nonfinite]
        record["counts"] = {
            "tensors": len(report.tensors),
            "bytes": sum(r.nbytes or 0 for r in report.tensors),
            "fresh": verdicts.count("fresh"),
            "trained": verdicts.count("trained"),
            "inconclusive": verdicts.count("inconclusive"),
            "nonfinite": len(nonfinite),
            "integrity_problems": len(integrity.problems),
        }
        if "fresh" not in allow:
            findings += [
                {"source": "init", "kind": "fresh", "key": r.key, "path": r.model_path, "detail": r.init.evidence}
                for r in model
                if r.init is not None and r.init.verdict == "fresh"
            ]
        if "nonfinite" not in allow:
            findings += [
                {
                    "source": "init",
                    "kind": "nonfinite",
                    "key": r.key,
                    "path": r.model_path,
                    "detail": "NaN or Inf values",
                }
                for r in nonfinite
            ]
        if "integrity" not in allow:
            findings += [
                {"source": "verify", "kind": str(p.kind), "key": p.key, "detail": p.detail} for p in integrity.problems
            ]
        if model_spec and "check" not in allow:
            _check(artifact, model_spec, findings, record)
    scan = scan_artifact(path)
    record["counts"]["scan_findings"] = sum(1 for f in scan.findings if f.severity in ("high", "medium", "low"))
    if "scan" not in allow:
        findings += [
            {"source": "scan", "kind": str(f.kind), "key": f.location, "detail": f"{f.severity}: {f.detail}"}
            for f in scan.findings
            if f.severity in ("high", "medium", "low")
        ]


def _check(artifact: Any, model_spec: str, findings: list[dict[str, Any]], record: dict[str, Any]) -> None:
    from ckptdiff.commands.check import check_restore
    from ckptdiff.live.spec import load_live_model
    from ckptdiff.report.junit import variable_failures

    if model_spec not in _LIVE:
        _LIVE[model_spec] = load_live_model(model_spec)
    report = check_restore(artifact, _LIVE[model_spec])
    record["counts"]["check_ok"] = report.ok
    for v in report.variables:
        for kind, message in variable_failures(v, report.fail_on):
            findings.append({"source": "check", "kind": kind, "key": v.path, "detail": message})
    for p in report.partial:
        if "partial" in report.fail_on:
            findings.append({"source": "check", "kind": "partial", "key": p.object, "detail": p.detail})
