"""scan_artifact: pick the scanner for an artifact kind and report what loading it would run, without running it.

One scanner per kind, each able to say "not mine" (tried in order):

* `KerasArchiveScanner` (`.keras` zip): the central directory first (path traversal, absurd declared
  sizes, duplicates, members Keras never writes, assets), then config.json, read only when its
  declared size is sane, through find_code_in_config;
* `KerasH5Scanner` (HDF5): the `model_config` and `training_config` root attributes of a legacy
  full-model file; a weights-only file holds nothing that runs;
* `SavedModelScanner` (directory with saved_model.pb/.pbtxt): dangerous ops a root reaches
  (saved_model_ops), Lambda and custom objects in tf_keras' keras_metadata.pb, assets;
* `CheckpointScanner` (everything else ckptdiff opens): a checkpoint holds only tensors and names;
  it is opened to make sure it is one, and is clean.

Each scanner reads only what it judges: weights are not read, so a damaged weights file can still be
scanned (`--verify` on the other commands is what checks the weights).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

from ckptdiff.artifact import (
    FORMAT_KERAS_ARCHIVE,
    FORMAT_KERAS_H5,
    FORMAT_SAVED_MODEL,
)
from ckptdiff.errors import ArtifactNotFound, CorruptArtifact, NotKerasArchive, UnreadableArtifact
from ckptdiff.readers.keras_v3 import read_json_member
from ckptdiff.scan.interface import SEVERITIES, SEVERITY_INFO, Finding, Scanner, ScanReport, ScanResult
from ckptdiff.scan.keras_config import find_code_in_config
from ckptdiff.scan.zip_members import check_zip_members

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
CONFIG_MEMBER = "config.json"
MAX_CONFIG_BYTES = 256 << 20
"""config.json is read only when it declares at most this much (Keras' own configs are kilobytes)."""
H5_CONFIG_ATTRS = ("model_config", "training_config")
SAVED_MODEL_PB = "saved_model.pb"
SAVED_MODEL_PBTXT = "saved_model.pbtxt"
SAVED_MODEL_ASSET_DIRS = ("assets", "assets.extra")
MAX_LISTED_ASSETS = 1000


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(8)
    except OSError as exc:
        raise UnreadableArtifact(f"{path}: cannot read ({exc.strerror})") from None


def _config_findings(config: Any, source: str) -> list[Finding]:
    return [
        Finding(d.severity, d.kind, f"{source}: {d.location}", d.detail)
        for d in find_code_in_config(config)
    ]


class KerasArchiveScanner(Scanner):
    """`.keras` zip archives."""

    name = "keras-archive"

    def accepts(self, path: Path) -> bool:
        return path.is_file() and _head(path).startswith(ZIP_SIGNATURE)

    def scan(self, path: Path, display: str) -> ScanResult:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise CorruptArtifact(f"{display}: not a readable zip archive ({' '.join(str(exc).split())})") from None
        with archive:
            infos = archive.infolist()
            findings = check_zip_members(infos)
            scanned = [f"zip directory: {len(infos)} members"]
            notes: list[str] = []
            configs = [i for i in infos if i.filename == CONFIG_MEMBER]
            if not configs:
                raise NotKerasArchive(f"{display}: zip archive is not a Keras .keras file: no {CONFIG_MEMBER}")
            info = configs[-1]
            doubtful = {f.location for f in findings if f.kind == "zip-bomb"}
            if CONFIG_MEMBER in doubtful or info.file_size > MAX_CONFIG_BYTES:
                notes.append(f"{CONFIG_MEMBER} declares {info.file_size} bytes: not read, its layers were not scanned")
            else:
                config = read_json_member(archive, info.filename, display)
                findings += _config_findings(config, CONFIG_MEMBER)
                scanned.append(CONFIG_MEMBER)
        return ScanResult(FORMAT_KERAS_ARCHIVE, tuple(findings), tuple(scanned), tuple(notes))



class KerasH5Scanner(Scanner):
    """Legacy Keras HDF5 files (configs in root attributes) and Keras 3 `.weights.h5` files."""

    name = "keras-h5"

    def accepts(self, path: Path) -> bool:
        if not path.is_file():
            return False
        if _head(path) == HDF5_SIGNATURE:
            return True
        import h5py

        try:
            return bool(h5py.is_hdf5(path))  # HDF5 allows a user block before its signature
        except (OSError, ValueError):
            return False

    def scan(self, path: Path, display: str) -> ScanResult:
        from ckptdiff.readers.keras_h5 import H5_ERRORS, decode_text, one_line, open_hdf5_readonly

        h5 = open_hdf5_readonly(path, display)
        findings: list[Finding] = []
        scanned: list[str] = []
        try:
            with h5:
                present = [a for a in H5_CONFIG_ATTRS if a in h5.attrs]
                for attr in present:
                    text = decode_text(h5.attrs[attr], f"root attribute {attr}", display)
                    try:
                        config = json.loads(text)
                    except (json.JSONDecodeError, RecursionError) as exc:
                        raise CorruptArtifact(f"{display}: root attribute {attr} is not valid JSON ({one_line(exc)})") from None
                    findings += _config_findings(config, attr)
                    scanned.append(f"root attribute {attr}")
        except H5_ERRORS as exc:
            raise CorruptArtifact(f"{display}: damaged HDF5 file ({one_line(exc)})") from None
        if present:
            return ScanResult(FORMAT_KERAS_H5, tuple(findings), tuple(scanned))
        # No architecture: make sure it is a weights file ckptdiff knows, which holds nothing that runs.
        from ckptdiff.readers import open_artifact

        with open_artifact(display) as artifact:
            fmt = artifact.format
        return ScanResult(fmt, (), ("HDF5 root attributes: no model_config (weights only)",))


class SavedModelScanner(Scanner):
    """SavedModel directories."""

    name = "saved-model"

    def accepts(self, path: Path) -> bool:
        return path.is_dir() and ((path / SAVED_MODEL_PB).is_file() or (path / SAVED_MODEL_PBTXT).is_file())

    def scan(self, path: Path, display: str) -> ScanResult:
        from ckptdiff.scan.saved_model_ops import (
            KERAS_METADATA_PB,
            find_code_in_keras_metadata,
            find_dangerous_ops,
            find_dangerous_ops_in_text,
            read_saved_model_graphs,
        )

        findings: list[Finding] = []
        scanned: list[str] = []
        notes: list[str] = []
        pb = path / SAVED_MODEL_PB
        if pb.is_file():
            models = read_saved_model_graphs(pb, display)
            findings += find_dangerous_ops(models)
            functions = sum(len(m.functions) for m in models)
            roots = sum(len(m.roots) for m in models)
            scanned.append(f"{SAVED_MODEL_PB}: {len(models)} meta graph(s), {functions} functions, {roots} roots")
            for m in models:
                notes.extend(m.notes)
        else:
            findings += find_dangerous_ops_in_text(path / SAVED_MODEL_PBTXT, display)
            scanned.append(f"{SAVED_MODEL_PBTXT} (text: op names only)")
        keras_metadata = path / KERAS_METADATA_PB
        if keras_metadata.is_file():
            findings += find_code_in_keras_metadata(keras_metadata, display)
            scanned.append(KERAS_METADATA_PB)
        findings += _asset_findings(path)
        return ScanResult(FORMAT_SAVED_MODEL, tuple(findings), tuple(scanned), tuple(notes))


def _asset_findings(path: Path) -> list[Finding]:
    findings = []
    for folder in SAVED_MODEL_ASSET_DIRS:
        root = path / folder
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                full = Path(dirpath, name)
                rel = full.relative_to(path).as_posix()
                if full.is_symlink():
                    findings.append(Finding("medium", "asset", rel, f"symbolic link to {os.readlink(full)}: points outside the asset's bytes"))
                    continue
                size = full.stat().st_size if full.is_file() else 0
                findings.append(Finding(SEVERITY_INFO, "asset", rel, f"asset, {size} bytes: read as data by the graph"))
                if len(findings) >= MAX_LISTED_ASSETS:
                    return findings
    return findings


class CheckpointScanner(Scanner):
    """Checkpoints (V2 bundles, V1 files): tensors and names only, nothing that runs."""

    name = "checkpoint"

    def accepts(self, path: Path) -> bool:
        return True

    def scan(self, path: Path, display: str) -> ScanResult:
        from ckptdiff.readers import open_artifact

        with open_artifact(display) as artifact:
            fmt = artifact.format
            count = len(artifact.entries)
        return ScanResult(fmt, (), (f"{count} stored tensors: data only",))


SCANNERS: tuple[Scanner, ...] = (SavedModelScanner(), KerasArchiveScanner(), KerasH5Scanner(), CheckpointScanner())


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
    p = Path(display)
    if not p.exists() and not Path(display + ".index").is_file() and not any(p.parent.glob(p.name + "-?????-of-?????")):
        raise ArtifactNotFound(f"{display}: no such file, directory or checkpoint prefix")
    scanner = next(s for s in SCANNERS if s.accepts(p))
    result = scanner.scan(p, display)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings = tuple(sorted(result.findings, key=lambda f: rank.get(f.severity, len(rank))))
    counts = {s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES}
    return ScanReport(
        path=display,
        format=result.format,
        scanner=scanner.name,
        findings=findings,
        scanned=result.scanned,
        notes=result.notes,
        counts=counts,
    )
