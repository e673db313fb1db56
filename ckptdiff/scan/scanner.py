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

from ckptdiff.formats import detect_artifact
from ckptdiff.scan.interface import SEVERITIES, ScanReport


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
    found = detect_artifact(display)
    result = found.kind.scan(found.location, display)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings = tuple(sorted(result.findings, key=lambda f: rank.get(f.severity, len(rank))))
    counts = {str(s): sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    return ScanReport(
        path=display,
        format=result.format,
        scanner=found.kind.scanner_name or found.kind.name,
        findings=findings,
        scanned=result.scanned,
        notes=result.notes,
        counts=counts,
    )
