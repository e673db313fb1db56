"""scan_artifact: ask the artifact's kind what loading it would run, without running it.

Each kind scans its own non-tensor parts (see its module in ckptdiff.formats):

* `.keras` archives: the central directory first (path traversal, absurd declared sizes,
  duplicates, members Keras never writes, assets), then config.json, read only when its declared
  size is sane, through find_code_in_config;
* HDF5 files: the `model_config` and `training_config` root attributes; a weights-only file holds
  nothing that runs;
* SavedModel directories: dangerous ops a root reaches (saved_model_ops), Lambda and custom objects in
  tf_keras' keras_metadata.pb, assets;
* checkpoints (V2 bundles, V1 files): a checkpoint holds only tensors and names; it is opened to make
  sure it is one, and is clean.

Each scan reads only what it judges: weights are not read, so a damaged weights file can still be
scanned (`--verify` on the other commands is what checks the weights).
"""

from __future__ import annotations

import os

from ckptdiff.errors import NotKerasArchive, UnknownArtifactKind
from ckptdiff.formats import detect_artifact
from ckptdiff.scanning.interface import SEVERITIES, Finding, ScanReport
from ckptdiff.storage import locate


def scan_artifact(path: str | os.PathLike[str]) -> ScanReport:
    """Report what loading an artifact would execute, import, write or read, without executing anything.

    Args:
        path: any path form `ckptdiff inspect` accepts.

    Returns:
        The report; `clean` is False when a finding is high, medium or low (info findings, such as
        assets, are listed but do not count).

    Raises:
        CkptdiffError: the artifact is missing, of no known kind, or too damaged to judge.
    """
    display = os.fspath(path)
    try:
        found = detect_artifact(display)
        result = found.kind.scan(found.location, display)
    except (UnknownArtifactKind, NotKerasArchive):
        container = _scan_container(display)
        if container is None:
            raise
        return container
    return _report(
        display,
        result.format,
        found.kind.scanner_name or found.kind.name,
        result.findings,
        result.scanned,
        result.notes,
    )


def _report(
    display: str,
    fmt: str,
    scanner: str,
    findings: tuple[Finding, ...] | list[Finding],
    scanned: tuple[str, ...] | list[str],
    notes: tuple[str, ...] | list[str],
) -> ScanReport:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    ordered = tuple(sorted(findings, key=lambda f: rank.get(f.severity, len(rank))))
    counts = {str(s): sum(1 for f in ordered if f.severity == s) for s in SEVERITIES}
    return ScanReport(display, fmt, scanner, ordered, tuple(scanned), tuple(notes), counts)


def _scan_container(display: str) -> ScanReport | None:
    """A plain zip or tar that is no artifact itself: the Keras archives it carries are scanned."""
    from ckptdiff.formats.keras_archive_scan import scan_container_file

    location = locate(display)
    if not location.is_file():
        return None
    scanned = scan_container_file(location, display)
    if scanned is None:
        return None
    findings, parts, notes = scanned
    return _report(display, "archive", "container", findings, parts, notes)
