"""What a scan finds and reports: severities, Finding, ScanResult (one kind's answer) and ScanReport."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ckptdiff.report.interface import JsonMethod


class Severity(enum.StrEnum):
    """How much a scan finding matters."""

    HIGH = "high"
    """Loading runs code from the artifact, or writes outside where it should."""
    MEDIUM = "medium"
    """Loading needs code the loader's environment must supply, or reads files, or hides content."""
    LOW = "low"
    """Loading has a side effect that does no harm by itself (console output)."""
    INFO = "info"
    """Listed for review (assets, unreachable ops); never changes the exit status."""


SEVERITIES: tuple[Severity, ...] = tuple(Severity)
FAILING_SEVERITIES = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)
"""Severities that make `ckptdiff scan` exit 1."""


@dataclass(frozen=True)
class Finding:
    """One thing in an artifact that loading it would execute, import, write or read."""

    severity: Severity
    kind: str
    """What it is: `lambda`, `foreign-module`, `custom-object`, `raw-op`, `extra-member`, `path-traversal`,
    `zip-bomb`, `duplicate-member`, `py-func`, `file-write`, `file-read`, `network`, `console`, `debug-io`,
    `asset`, `unreachable-op`."""
    location: str
    """Where: a JSON path inside a config (`config.json: config.layers[2]`), a zip member, a SavedModel
    `function/node`, an asset path."""
    detail: str
    """One sentence for people."""
    technique: str = ""
    """The published technique it matches (`CVE-2025-1550`, `CVE-2025-12058`, an op name), or ""."""


@dataclass(frozen=True)
class ScanResult:
    """What one scanner found in one artifact."""

    format: str
    """The artifact format the scan recognised (a ckptdiff.artifact.Format)."""
    findings: tuple[Finding, ...]
    scanned: tuple[str, ...] = ()
    """The parts that were read (`config.json`, `saved_model.pb: 1 meta graph, 6 functions`)."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanReport(JsonMethod):
    """Everything `ckptdiff scan` shows."""

    path: str
    """The path as the user gave it."""
    format: str
    scanner: str
    """The name of the scanner that handled the artifact."""
    findings: tuple[Finding, ...]
    scanned: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    """Findings per severity, every severity present (0 when none)."""

    @property
    def ok(self) -> bool:
        """The same as `clean` (the exit status 0 of `scan`)."""
        return self.clean

    @property
    def clean(self) -> bool:
        """True when no finding has a severity in FAILING_SEVERITIES (info findings do not count)."""
        return not any(f.severity in FAILING_SEVERITIES for f in self.findings)
