"""What a scan finds and reports: severities, Finding, ScanReport, and the Scanner every format implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path

SEVERITY_HIGH = "high"
"""Loading runs code from the artifact, or writes outside where it should."""
SEVERITY_MEDIUM = "medium"
"""Loading needs code the loader's environment must supply, or reads files, or hides content."""
SEVERITY_LOW = "low"
"""Loading has a side effect that does no harm by itself (console output)."""
SEVERITY_INFO = "info"
"""Listed for review (assets, unreachable ops); never changes the exit status."""
SEVERITIES = (SEVERITY_HIGH, SEVERITY_MEDIUM, SEVERITY_LOW, SEVERITY_INFO)
FAILING_SEVERITIES = (SEVERITY_HIGH, SEVERITY_MEDIUM, SEVERITY_LOW)
"""Severities that make `ckptdiff scan` exit 1."""


@dataclass(frozen=True)
class Finding:
    """One thing in an artifact that loading it would execute, import, write or read."""

    severity: str
    """One of SEVERITIES."""
    kind: str
    """What it is: `lambda`, `foreign-module`, `custom-object`, `raw-op`, `extra-member`, `path-traversal`,
    `zip-bomb`, `duplicate-member`, `py-func`, `file-write`, `file-read`, `network`, `console`, `debug-io`,
    `asset`, `unreachable-op`."""
    location: str
    """Where: a JSON path inside a config (`config.json: config.layers[2]`), a zip member, a SavedModel
    `function/node`, an asset path."""
    detail: str
    """One sentence for people."""


@dataclass(frozen=True)
class ScanResult:
    """What one scanner found in one artifact."""

    format: str
    """The artifact kind the scanner recognised (a name from ckptdiff.artifact.FORMATS)."""
    findings: tuple[Finding, ...]
    scanned: tuple[str, ...] = ()
    """The parts that were read (`config.json`, `saved_model.pb: 1 meta graph, 6 functions`)."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanReport:
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
    def clean(self) -> bool:
        """True when no finding has a severity in FAILING_SEVERITIES (info findings do not count)."""
        return not any(f.severity in FAILING_SEVERITIES for f in self.findings)


class Scanner(abc.ABC):
    """Scans one kind of artifact; says "not mine" for the others."""

    name: str = "scanner"

    @abc.abstractmethod
    def accepts(self, path: Path) -> bool:
        """True when path is an artifact of this scanner's kind (cheap: names and first bytes only)."""

    @abc.abstractmethod
    def scan(self, path: Path, display: str) -> ScanResult:
        """Scan the artifact without executing anything in it.

        Raises:
            CkptdiffError: the artifact is unusable (missing, damaged, of no known kind).
        """
