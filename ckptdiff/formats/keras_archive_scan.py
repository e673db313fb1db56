"""What scanning a `.keras` zip looks at, without extracting or loading it: members, config, weights, nesting.

In order: the central directory (check_zip_members: traversal, declared sizes no compression yields,
duplicates, members Keras never writes); config.json, bounded in size and depth, through the config
screen; the weights member's HDF5 structure (external links and storage, virtual datasets, declared
sizes the file cannot back); `model.weights.npz`, whose members must be plain `.npy` arrays (an object
array or a bare pickle is code that unpickling runs); and archives carried inside the archive, scanned
the same way up to MAX_NESTING levels.
"""

from __future__ import annotations

import ast
import functools
import io
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

from ckptdiff.errors import one_line
from ckptdiff.formats.keras_archive import (
    CONFIG_MEMBER,
    NPZ_WEIGHTS_MEMBER,
    WEIGHTS_MEMBER,
    ZIP_LOCAL_SIGNATURE,
    ZipMemberWindow,
    _member_data_offset,
    absurd_member_size,
    check_zip_members,
)
from ckptdiff.formats.keras_config import MAX_CONFIG_TEXT, config_text_findings
from ckptdiff.scanning.interface import Finding, Severity
from ckptdiff.storage import Location

MAX_NESTING = 3
"""Archives inside archives are scanned this deep; deeper ones are a finding of their own."""
MAX_NESTED_BYTES = 64 << 20
"""A nested archive is read into memory up to this size."""
MAX_NPZ_BYTES = 256 << 20
NPY_MAGIC = b"\x93NUMPY"
PICKLE_PROTOCOL_OPCODE = 0x80
NESTED_SUFFIXES = (".keras", ".zip", ".tar", ".tar.gz", ".tgz")
UNSCANNED_SUFFIXES = (".h5", ".hdf5", ".pb", ".pbtxt", ".npz", ".npy", ".pkl", ".pickle", ".joblib")
"""Members of a plain zip or tar that are artifacts of kinds that can run code (a legacy H5's Lambda layers, a
SavedModel's ops, pickles): each one no carried scan covers (ckptdiff.scanning.carried) is a finding, so a
container never passes as clean for what was not scanned."""
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError)


def scan_archive(
    archive: zipfile.ZipFile, raw: BinaryIO, prefix: str = "", depth: int = 0
) -> tuple[list[Finding], list[str], list[str]]:
    """Scan one open `.keras` zip (or one nested in another); locations are prefixed with the outer path.

    Returns:
        (findings, parts scanned, notes).
    """
    infos = archive.infolist()
    findings = [_prefixed(f, prefix) for f in check_zip_members(infos)]
    scanned = [f"{prefix}zip directory: {len(infos)} members"]
    notes: list[str] = []
    doubtful = {f.location for f in findings if f.kind == "zip-bomb"}
    by_name = {i.filename: i for i in infos}
    config = by_name.get(CONFIG_MEMBER)
    if config is not None and f"{prefix}{CONFIG_MEMBER}" not in doubtful:
        findings += _config(archive, config, prefix)
        scanned.append(f"{prefix}{CONFIG_MEMBER}")
    weights = by_name.get(WEIGHTS_MEMBER)
    if weights is not None and f"{prefix}{WEIGHTS_MEMBER}" not in doubtful:
        found, note = _weights_structure(archive, raw, weights, prefix)
        findings += found
        notes += note
        scanned.append(f"{prefix}{WEIGHTS_MEMBER}: HDF5 links and dataset layouts")
    npz = by_name.get(NPZ_WEIGHTS_MEMBER)
    if npz is not None and f"{prefix}{NPZ_WEIGHTS_MEMBER}" not in doubtful:
        findings += _npz(archive, npz, prefix)
        scanned.append(f"{prefix}{NPZ_WEIGHTS_MEMBER}: members")
    for info in infos:
        if info.filename.lower().endswith(NESTED_SUFFIXES) and f"{prefix}{info.filename}" not in doubtful:
            found, parts, more = scan_nested(archive, info, prefix, depth)
            findings += found
            scanned += parts
            notes += more
    return findings, scanned, notes


def _prefixed(finding: Finding, prefix: str) -> Finding:
    from dataclasses import replace

    return replace(finding, location=f"{prefix}{finding.location}") if prefix else finding


def _config(archive: zipfile.ZipFile, info: zipfile.ZipInfo, prefix: str) -> list[Finding]:
    where = f"{prefix}{CONFIG_MEMBER}"
    if info.file_size > MAX_CONFIG_TEXT:
        return [
            Finding(
                Severity.HIGH,
                "amplification",
                where,
                f"declares {info.file_size:,} bytes, over the {MAX_CONFIG_TEXT >> 20} MiB any model config needs: "
                "not read",
                "json-size-bomb",
            )
        ]
    try:
        text = archive.read(info).decode("utf-8")
        found, _ = config_text_findings(text, where)
    except (UnicodeDecodeError, *READ_ERRORS) as exc:
        return [Finding(Severity.MEDIUM, "unreadable", where, f"cannot be read as a JSON config ({one_line(exc)})")]
    return found


def _weights_structure(
    archive: zipfile.ZipFile, raw: BinaryIO, info: zipfile.ZipInfo, prefix: str
) -> tuple[list[Finding], list[str]]:
    """External links and storage, virtual datasets and declared-size bombs in the weights member."""
    import h5py

    from ckptdiff.formats.hdf5 import structure_findings

    where = f"{prefix}{WEIGHTS_MEMBER}"
    try:
        source: BinaryIO | io.RawIOBase
        if info.compress_type == zipfile.ZIP_STORED:
            source = ZipMemberWindow(raw, _member_data_offset(raw, info, where), info.file_size)
        elif info.file_size <= MAX_NESTED_BYTES:
            source = io.BytesIO(archive.read(info))
        else:
            return [], [f"{where} is compressed and {info.file_size:,} bytes: its structure was not scanned"]
        with h5py.File(source, "r") as h5:
            return structure_findings(h5, where), []
    except Exception as exc:
        return [], [f"{where}: not readable as HDF5 ({one_line(exc)}); --verify checks it"]


def _npz(archive: zipfile.ZipFile, info: zipfile.ZipInfo, prefix: str) -> list[Finding]:
    """Every member of `model.weights.npz` must be a `.npy` of a plain dtype: anything else unpickles."""
    where = f"{prefix}{NPZ_WEIGHTS_MEMBER}"
    if info.file_size > MAX_NPZ_BYTES:
        return [
            Finding(Severity.MEDIUM, "unreadable", where, f"{info.file_size:,} bytes: its members were not scanned")
        ]
    findings: list[Finding] = []
    try:
        with zipfile.ZipFile(io.BytesIO(archive.read(info))) as npz:
            for member in npz.infolist():
                with npz.open(member) as f:
                    head = f.read(4096)
                problem = _npy_problem(head)
                if problem:
                    findings.append(
                        Finding(Severity.HIGH, "pickle", f"{where} -> {member.filename}", problem, "npz-pickle")
                    )
    except READ_ERRORS as exc:
        findings.append(Finding(Severity.MEDIUM, "unreadable", where, f"not a readable npz ({one_line(exc)})"))
    return findings


def _npy_problem(head: bytes) -> str | None:
    """Why an npz member is code rather than an array, from its first bytes (never unpickled)."""
    if not head.startswith(NPY_MAGIC):
        if head[:1] == bytes([PICKLE_PROTOCOL_OPCODE]):
            return "a bare pickle stream, not a .npy array: loading it with allow_pickle runs its code"
        return "not a .npy array"
    try:
        major = head[6]
        length_bytes = 2 if major == 1 else 4
        length = int.from_bytes(head[8 : 8 + length_bytes], "little")
        header = ast.literal_eval(head[8 + length_bytes : 8 + length_bytes + length].decode("latin1"))
        descr = header["descr"]
    except (ValueError, SyntaxError, KeyError, TypeError, IndexError):
        return "a .npy whose header cannot be read"
    if "O" in str(descr):
        return f"an object array (dtype {descr!r}): its values are pickles, run when loaded with allow_pickle"
    return None


def scan_nested(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, prefix: str, depth: int
) -> tuple[list[Finding], list[str], list[str]]:
    """Scan an archive carried as a member of another, as the outer one is scanned."""
    where = f"{prefix}{info.filename}"
    if depth + 1 > MAX_NESTING:
        return (
            [
                Finding(
                    Severity.MEDIUM,
                    "nested-archive",
                    where,
                    f"archive nested deeper than {MAX_NESTING} levels: not scanned",
                )
            ],
            [],
            [],
        )
    if info.file_size > MAX_NESTED_BYTES:
        return (
            [Finding(Severity.MEDIUM, "nested-archive", where, f"{info.file_size:,}-byte nested archive: not scanned")],
            [],
            [],
        )
    try:
        data = archive.read(info)
    except READ_ERRORS as exc:
        return [], [], [f"{where}: cannot be read ({one_line(exc)})"]
    return scan_bytes(data, f"{where} -> ", depth + 1)


def scan_bytes(data: bytes, prefix: str, depth: int) -> tuple[list[Finding], list[str], list[str]]:
    """A zip or tar archive held in memory: Keras archives scanned, others searched for Keras archives."""
    found: list[Finding] = []
    if data.startswith(ZIP_LOCAL_SIGNATURE):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                names = inner.namelist()
                if CONFIG_MEMBER in names:
                    found, scanned, notes = scan_archive(inner, io.BytesIO(data), prefix, depth)
                    return [_nested_mark(f) for f in found], scanned, notes
                return _scan_container_zip(inner, prefix, depth)
        except READ_ERRORS as exc:
            return [], [], [f"{prefix.removesuffix(' -> ')}: not a readable zip ({one_line(exc)})"]
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            return _scan_container_tar(tar, prefix, depth)
    except (tarfile.TarError, *READ_ERRORS):
        return found, [], []


def _nested_mark(finding: Finding) -> Finding:
    """A finding inside a nested archive names the nesting as its technique when it has none."""
    from dataclasses import replace

    return replace(finding, technique=finding.technique or "nested-archive")


def _scan_container_zip(inner: zipfile.ZipFile, prefix: str, depth: int) -> tuple[list[Finding], list[str], list[str]]:
    from ckptdiff.scanning.carried import Member, wanted

    findings: list[Finding] = []
    scanned = [f"{prefix}zip directory: {len(inner.infolist())} members"]
    notes: list[str] = []
    carried: list[Member] = []
    for info in inner.infolist():
        if absurd_member_size(info):
            findings.append(
                Finding(Severity.HIGH, "zip-bomb", f"{prefix}{info.filename}", absurd_member_size(info) or "")
            )
        elif info.filename.lower().endswith(NESTED_SUFFIXES):
            f, s, n = scan_nested(inner, info, prefix, depth)
            findings += f
            scanned += s
            notes += n
        elif not info.is_dir() and wanted(info.filename):
            carried.append(Member(info.filename, info.file_size, functools.partial(inner.read, info)))
    return _with_carried(findings, scanned, notes, carried, [i.filename for i in inner.infolist()], prefix)


def _with_carried(
    findings: list[Finding],
    scanned: list[str],
    notes: list[str],
    carried: list[Any],
    names: list[str],
    prefix: str,
) -> tuple[list[Finding], list[str], list[str]]:
    """The container's own findings with those of the artifacts it carries, and an `unscanned-member` finding for
    every member of a kind that can run code that no scan covered."""
    from ckptdiff.scanning.carried import scan_carried, unscanned

    found, parts, more, covered = scan_carried(carried, prefix)
    reported = {f.location for f in found}
    for name in names:
        where = f"{prefix}{name}"
        if name.lower().endswith(UNSCANNED_SUFFIXES) and name not in covered and where not in reported:
            found.append(unscanned(where))
    return findings + found, scanned + parts, notes + more


MAX_TAR_MEMBERS = 10_000


def _scan_container_tar(tar: tarfile.TarFile, prefix: str, depth: int) -> tuple[list[Finding], list[str], list[str]]:
    from ckptdiff.scanning.carried import CARRIED_MAX_BYTES, Member, wanted

    findings: list[Finding] = []
    scanned = [f"{prefix}tar members"]
    notes: list[str] = []
    carried: list[Member] = []
    names: list[str] = []
    budget = CARRIED_MAX_BYTES  # a tar is streamed: what the carried scans need is read as it passes
    for count, member in enumerate(tar):  # streamed: a compressed tar is never held whole
        if count >= MAX_TAR_MEMBERS:
            notes.append(f"{prefix}: more than {MAX_TAR_MEMBERS} members; the rest were not scanned")
            break
        if member.isfile():
            names.append(member.name)
        if member.isfile() and wanted(member.name) and not member.name.lower().endswith(NESTED_SUFFIXES):
            keep = member.size <= budget and not _is_asset(member.name)
            handle = tar.extractfile(member) if keep else None
            data = handle.read() if handle is not None else b""
            budget -= len(data)
            too_big = f"{member.size:,} bytes: over what is copied out of one container"
            carried.append(Member(member.name, member.size, _bytes_of(data, keep or _is_asset(member.name), too_big)))
            continue
        if not member.isfile() or not member.name.lower().endswith(NESTED_SUFFIXES):
            continue
        where = f"{prefix}{member.name}"
        if depth + 1 > MAX_NESTING or member.size > MAX_NESTED_BYTES:
            findings.append(
                Finding(Severity.MEDIUM, "nested-archive", where, "nested archive too deep or too large: not scanned")
            )
            continue
        handle = tar.extractfile(member)
        if handle is None:
            continue
        f, s, n = scan_bytes(handle.read(), f"{where} -> ", depth + 1)
        findings += f
        scanned += s
        notes += n
    return _with_carried(findings, scanned, notes, carried, names, prefix)


def _is_asset(name: str) -> bool:
    from ckptdiff.scanning.carried import ASSET_DIRS

    return any(part in ASSET_DIRS for part in name.split("/")[:-1])


def _bytes_of(data: bytes, ok: bool, why: str) -> Callable[[], bytes]:
    """A reader of bytes already taken from a streamed tar; one that raises when they were not taken."""

    def read() -> bytes:
        if not ok:
            raise ValueError(why)
        return data

    return read


def scan_container_file(location: Location, display: str) -> tuple[list[Finding], list[str], list[str]] | None:
    """A plain zip or tar (no Keras archive itself) scanned for the Keras archives it carries; None when
    the file is neither."""
    try:
        head = location.read_range(0, 4)
    except OSError:
        return None
    if head == ZIP_LOCAL_SIGNATURE:
        try:
            with location.open_binary() as raw, zipfile.ZipFile(raw) as archive:
                return _scan_container_zip(archive, "", 0)
        except READ_ERRORS:
            return None
    try:
        with location.open_binary() as raw, tarfile.open(fileobj=raw, mode="r:*") as tar:
            return _scan_container_tar(tar, "", 0)
    except (tarfile.TarError, *READ_ERRORS):
        return None
