"""Keras 3 `.keras` archives: the zip's members, limits and local headers; config and weights read in place.

Everything ckptdiff knows about the zip container lives here: the member names Keras writes
(keras/src/saving/saving_lib.py), the size limits, the local-header struct, the central-directory
judgement scan makes before reading any member, and the CRC-32 check of `--verify`. The weights
member is an HDF5 file in the Keras 3 layout (keras3_layout).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import posixpath
import struct
import zipfile
import zlib
from collections import Counter
from typing import Any, BinaryIO

import h5py

from ckptdiff.artifact import Artifact, Format
from ckptdiff.errors import (
    CkptdiffError,
    CorruptArtifact,
    NotKerasArchive,
    UnreadableArtifact,
)
from ckptdiff.formats.hdf5 import (
    H5_ERRORS,
    one_line,
    open_hdf5_readonly,
    summarize,
)
from ckptdiff.formats.interface import ArtifactKind, Detection
from ckptdiff.formats.keras3_layout import read_keras3_layout
from ckptdiff.integrity import IntegrityProblem, IntegrityReport, ProblemKind, VerifyMethod, read_every_entry
from ckptdiff.scanning.interface import Finding, ScanResult, Severity
from ckptdiff.storage import Location, as_location

CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"
WEIGHTS_MEMBER = "model.weights.h5"
NPZ_WEIGHTS_MEMBER = "model.weights.npz"
ASSETS_PREFIX = "assets/"
MAX_IN_MEMORY_WEIGHTS = 2 << 30
"""A compressed weights member is decompressed into memory only below 2 GiB."""
MAX_JSON_MEMBER = 256 << 20
"""config.json and metadata.json larger than this are refused (a decompression bomb, not a config)."""
ZIP_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
ZIP_LOCAL_SIGNATURE = b"PK\x03\x04"
"""Every zip starts with a local header (an empty zip, never a Keras archive, with its end record)."""
ZIP_DATA_DESCRIPTOR_FLAG = 0x08
ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (zipfile.BadZipFile, zlib.error, EOFError, *H5_ERRORS)
"""What zipfile, zlib and h5py raise for a damaged archive."""
READ_CHUNK_BYTES = 1 << 20
MAX_CONFIG_BYTES = 256 << 20
"""scan reads config.json only when it declares at most this much (Keras' own configs are kilobytes)."""
ZIP_FLAG_ENCRYPTED = 0x1

KERAS_MEMBERS = frozenset({CONFIG_MEMBER, METADATA_MEMBER, WEIGHTS_MEMBER, NPZ_WEIGHTS_MEMBER})
"""What keras/src/saving/saving_lib.py writes into an archive (`_CONFIG_FILENAME`, `_METADATA_FILENAME`,
`_VARS_FNAME_H5` or `_VARS_FNAME_NPZ`), besides the optional `assets/` tree (`_ASSETS_DIRNAME`)."""
ASSETS_DIR = ASSETS_PREFIX
DEFLATE_MAX_RATIO = 1032
"""DEFLATE cannot expand more than about 1032:1; a deflated member declaring more is lying."""
RATIO_SLACK_BYTES = 1 << 16
"""Tiny members compress badly or not at all; allow this much above the ratio bound."""
MAX_MEMBER_BYTES = 1 << 40
"""No member of a model archive is a terabyte: beyond this a declared size is absurd whatever the method."""
KERAS_BOMB_FLOOR = 1 << 32
KERAS_BOMB_RATIO = 100
"""Keras 3's own rule (saving_lib._reject_zip_bomb): above 4 GiB and 100x its stored size is a bomb."""


def check_zip_members(infos: list[zipfile.ZipInfo]) -> list[Finding]:
    """Judge every member of a `.keras` archive from its central-directory record alone.

    Args:
        infos: `ZipFile.infolist()`, in directory order.

    Returns:
        Findings for path traversal (absolute or `..` names), declared sizes no compression can
        produce, duplicate names, members Keras never writes (high, high, medium, medium; a member
        with a high finding is not also called extra), and one info finding per asset.
    """
    findings: list[Finding] = []
    for name, count in Counter(i.filename for i in infos).items():
        if count > 1:
            findings.append(
                Finding(
                    Severity.MEDIUM,
                    "duplicate-member",
                    name,
                    f"{count} members share this name; zip readers disagree on which one they read",
                )
            )
    for info in infos:
        name = info.filename
        if _escapes(name):
            findings.append(
                Finding(
                    Severity.HIGH,
                    "path-traversal",
                    name,
                    "absolute or '..' member path: extracting the archive writes outside its folder",
                )
            )
        absurd = absurd_member_size(info)
        if absurd:
            findings.append(Finding(Severity.HIGH, "zip-bomb", name, absurd, "compression-bomb"))
        if _escapes(name) or absurd:
            continue  # already a high finding; calling it an extra member too adds nothing
        if name in KERAS_MEMBERS or name.endswith("/") and ASSETS_DIR.startswith(name):
            continue
        if name.startswith(ASSETS_DIR):
            if not name.endswith("/"):
                findings.append(
                    Finding(
                        Severity.INFO, "asset", name, f"asset, {info.file_size} bytes: restored into a layer as data"
                    )
                )
            continue
        findings.append(
            Finding(
                Severity.MEDIUM,
                "extra-member",
                name,
                f"{info.file_size} bytes; Keras writes only config.json, metadata.json, model.weights.h5 "
                "and assets/, so something else put this here",
            )
        )
    return findings


def _escapes(name: str) -> bool:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    parts = name.replace("\\", "/").split("/")
    return ".." in parts or posixpath.normpath(name).startswith("..")


def absurd_member_size(info: zipfile.ZipInfo) -> str | None:
    """Why the declared uncompressed size cannot be genuine, or None."""
    declared, stored = info.file_size, info.compress_size
    if declared > MAX_MEMBER_BYTES:
        return (
            f"declares {declared} bytes uncompressed, over the {MAX_MEMBER_BYTES >> 40} TiB bound, from {stored} stored"
        )
    if info.compress_type == zipfile.ZIP_STORED and declared != stored:
        return f"stored (uncompressed) member declares {declared} bytes but occupies {stored}"
    if info.compress_type == zipfile.ZIP_DEFLATED and declared > DEFLATE_MAX_RATIO * stored + RATIO_SLACK_BYTES:
        return (
            f"declares {declared} bytes from {stored} deflated bytes, "
            f"more than DEFLATE's {DEFLATE_MAX_RATIO}:1 can expand"
        )
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) and (
        declared > DEFLATE_MAX_RATIO * stored + RATIO_SLACK_BYTES
    ):
        return (
            f"declares {declared} bytes from {stored} bytes compressed with method {info.compress_type}: more than "
            f"{DEFLATE_MAX_RATIO}:1, which no model file needs (Keras writes stored or deflated members)"
        )
    if declared > KERAS_BOMB_FLOOR and declared > KERAS_BOMB_RATIO * stored:
        return f"declares {declared} bytes from {stored} stored: Keras itself refuses this as a decompression bomb"
    return None


def read_keras_archive(path: Location | str | os.PathLike[str], display: str) -> Artifact:
    """Read a Keras 3 `.keras` archive without extracting it or loading it into Keras.

    config.json and metadata.json are parsed as JSON data. A stored (uncompressed) `model.weights.h5`
    member, which is what Keras writes, is read in place through a read-only window over the zip (its
    CRC-32 is not checked, which would mean reading every byte up front); a compressed one is
    decompressed into memory, CRC-checked, when smaller than 2 GiB.

    Args:
        path: the archive.
        display: the path as the user gave it.

    Returns:
        The artifact (format `keras-archive`); it keeps the archive open until closed.

    Raises:
        NotKerasArchive: the zip has no config.json or no model.weights.h5.
        CorruptArtifact: the zip, a JSON member or the weights member is damaged.
        UnknownArtifactKind: the archive stores its weights as npz, which ckptdiff does not read.
        UnreadableArtifact: a compressed weights member is too large to decompress into memory.
    """
    path = as_location(path)
    resources = contextlib.ExitStack()
    try:
        return _read_archive(path, display, resources)
    except CkptdiffError:
        resources.close()
        raise
    except ARCHIVE_ERRORS as exc:
        resources.close()
        raise CorruptArtifact(f"{display}: damaged .keras archive ({one_line(exc)})") from None


# --- the archive -----------------------------------------------------------------------------------


def _read_archive(path: Location, display: str, resources: contextlib.ExitStack) -> Artifact:
    try:
        archive = zipfile.ZipFile(resources.enter_context(path.open_binary()))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptArtifact(f"{display}: not a readable zip archive ({one_line(exc)})") from None
    with archive:
        names = archive.namelist()
        _check_members(names, display)
        config = read_json_member(archive, CONFIG_MEMBER, display)
        if not isinstance(config, dict):
            raise CorruptArtifact(f"{display}: {CONFIG_MEMBER} is not a JSON object")
        notes: list[str] = []
        saved: dict[str, Any] = {}
        if METADATA_MEMBER in names:
            meta = read_json_member(archive, METADATA_MEMBER, display)
            saved = meta if isinstance(meta, dict) else {}
        else:
            notes.append(f"the archive has no {METADATA_MEMBER}: Keras version and save date unknown")
        if WEIGHTS_MEMBER not in names:
            return _read_npz_archive(path, archive, config, saved, notes, display, resources)
        info = archive.getinfo(WEIGHTS_MEMBER)
        h5 = _open_weights_member(path, archive, info, display, resources)
    layout = read_keras3_layout(h5, display, config=config, keras_version=_str_or_none(saved.get("keras_version")))
    metadata: dict[str, Any] = {
        "kind": "archive",
        "keras_version": _str_or_none(saved.get("keras_version")),
        "date_saved": _str_or_none(saved.get("date_saved")),
        "model_class": _str_or_none(config.get("class_name")),
        "weights_member_compression": _compression_name(info.compress_type),
        "assets": sorted(n[len(ASSETS_PREFIX) :] for n in names if n.startswith(ASSETS_PREFIX) and not n.endswith("/")),
        **layout.metadata(),
    }
    inner = config.get("config")
    if isinstance(inner, dict) and isinstance(inner.get("name"), str):
        metadata["model_name"] = inner["name"]
    return Artifact(
        path=display,
        format=Format.KERAS_ARCHIVE,
        entries=layout.entries,
        resolved=path.display,
        location=path,
        layers=layout.layers,
        config=config,
        metadata=metadata,
        notes=tuple(notes) + layout.notes,
        resources=resources,
    )


def _read_npz_archive(
    path: Location,
    archive: zipfile.ZipFile,
    config: dict[str, Any],
    saved: dict[str, Any],
    notes: list[str],
    display: str,
    resources: contextlib.ExitStack,
) -> Artifact:
    from ckptdiff.formats.keras_npz import read_npz_member

    contents = read_npz_member(archive, archive.getinfo(NPZ_WEIGHTS_MEMBER), display)
    if contents.pickled:
        notes.append(
            f"{len(contents.pickled)} member(s) of {NPZ_WEIGHTS_MEMBER} are pickles (Keras' npz store pickles its "
            f"variables), never unpickled, so not read: {summarize(list(contents.pickled))}; see `ckptdiff scan`"
        )
    return Artifact(
        path=display,
        format=Format.KERAS_ARCHIVE,
        entries=contents.entries,
        resolved=path.display,
        location=path,
        config=config,
        metadata={
            "kind": "archive",
            "weights_member": NPZ_WEIGHTS_MEMBER,
            "keras_version": _str_or_none(saved.get("keras_version")),
            "pickled_members": list(contents.pickled),
        },
        notes=tuple(notes),
        resources=resources,
    )


def _check_members(names: list[str], display: str) -> None:
    missing = [m for m in (CONFIG_MEMBER, WEIGHTS_MEMBER) if m not in names]
    if not missing:
        return
    if missing == [WEIGHTS_MEMBER] and NPZ_WEIGHTS_MEMBER in names:
        return  # read by keras_npz
    present = summarize(names) if names else "none"
    raise NotKerasArchive(
        f"{display}: zip archive is not a Keras .keras file: no {' and no '.join(missing)} (members: {present})"
    )


def read_json_member(archive: zipfile.ZipFile, name: str, display: str) -> Any:
    """Parse a JSON member of a `.keras` zip as data; every failure (size, zip damage, encoding, JSON) is
    CorruptArtifact."""
    info = archive.getinfo(name)
    if info.file_size > MAX_JSON_MEMBER:
        raise CorruptArtifact(f"{display}: {name} declares {info.file_size} bytes, more than a config can hold")
    try:
        text = archive.read(name).decode("utf-8")
        return json.loads(text)
    except UnicodeDecodeError:
        raise CorruptArtifact(f"{display}: {name} is not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CorruptArtifact(f"{display}: {name} is not valid JSON ({one_line(exc)})") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise CorruptArtifact(f"{display}: cannot read {name} ({one_line(exc)})") from None
    except zlib.error as exc:
        raise CorruptArtifact(f"{display}: cannot read {name} ({type(exc).__name__})") from None


def _open_weights_member(
    path: Location,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    display: str,
    resources: contextlib.ExitStack,
) -> h5py.File:
    if info.flag_bits & ZIP_FLAG_ENCRYPTED:
        raise UnreadableArtifact(f"{display}: {WEIGHTS_MEMBER} is encrypted")
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise CorruptArtifact(
                f"{display}: stored member {WEIGHTS_MEMBER} declares {info.compress_size} bytes on disk "
                f"but {info.file_size} uncompressed"
            )
        raw = resources.enter_context(path.open_binary())
        start = _member_data_offset(raw, info, display)
        window = resources.enter_context(ZipMemberWindow(raw, start, info.file_size))
        h5 = open_hdf5_readonly(window, display, member=WEIGHTS_MEMBER)
    else:
        if info.file_size >= MAX_IN_MEMORY_WEIGHTS:
            raise UnreadableArtifact(
                f"{display}: {WEIGHTS_MEMBER} is compressed and {info.file_size} bytes uncompressed, "
                f"over the {MAX_IN_MEMORY_WEIGHTS >> 30} GiB in-memory bound; "
                "extract it and read the .weights.h5 directly"
            )
        buffer = io.BytesIO(archive.read(info))  # checks the member's CRC-32
        h5 = open_hdf5_readonly(buffer, display, member=WEIGHTS_MEMBER)
    resources.callback(h5.close)
    return h5


def _member_data_offset(raw: BinaryIO, info: zipfile.ZipInfo, display: str) -> int:
    """Where a member's bytes start: after its local header, whose name and extra lengths may differ
    from the central directory's."""
    raw.seek(info.header_offset)
    header = raw.read(ZIP_LOCAL_HEADER.size)
    if len(header) != ZIP_LOCAL_HEADER.size or header[:4] != ZIP_LOCAL_SIGNATURE:
        raise CorruptArtifact(f"{display}: bad local header for {info.filename} at offset {info.header_offset}")
    fields = ZIP_LOCAL_HEADER.unpack(header)
    name_length, extra_length = fields[9], fields[10]
    start = info.header_offset + ZIP_LOCAL_HEADER.size + name_length + extra_length
    raw.seek(0, io.SEEK_END)
    end = raw.tell()
    if start + info.file_size > end:
        raise CorruptArtifact(
            f"{display}: {info.filename} needs bytes {start}..{start + info.file_size} but the file has {end}"
        )
    return start


class ZipMemberWindow(io.RawIOBase):
    """A read-only, seekable view of size bytes starting at start of an open binary file."""

    def __init__(self, raw: BinaryIO, start: int, size: int) -> None:
        super().__init__()
        self._raw = raw
        self._start = start
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self._size - self._pos))
        if count == 0:
            return 0
        self._raw.seek(self._start + self._pos)
        data = self._raw.read(count)
        got = len(data)
        view[:got] = data
        self._pos += got
        return got


def _compression_name(compress_type: int) -> str:
    return {
        zipfile.ZIP_STORED: "stored",
        zipfile.ZIP_DEFLATED: "deflated",
        zipfile.ZIP_BZIP2: "bzip2",
        zipfile.ZIP_LZMA: "lzma",
    }.get(compress_type, f"method {compress_type}")


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --- integrity -------------------------------------------------------------------------------------


def verify_zip_members(path: Location) -> tuple[int, list[IntegrityProblem]]:
    """Check each member's local header against the central directory, then its CRC-32.

    Members whose declared size no compression can produce are not read (scan reports them).

    Returns:
        (members checked, problems).
    """
    problems: list[IntegrityProblem] = []
    with path.open_binary() as raw, zipfile.ZipFile(raw) as archive, path.open_binary() as headers:
        infos = archive.infolist()
        for info in infos:
            mismatch = _local_header_mismatch(headers, info)
            if mismatch:
                problems.append(IntegrityProblem(info.filename, ProblemKind.ZIP_MEMBER, mismatch))
                continue
            if info.is_dir():
                continue
            absurd = absurd_member_size(info)
            if absurd:
                problems.append(IntegrityProblem(info.filename, ProblemKind.ZIP_MEMBER, f"not read: {absurd}"))
                continue
            try:
                with archive.open(info) as member:
                    while member.read(READ_CHUNK_BYTES):
                        pass
            except (
                zipfile.BadZipFile,
                zlib.error,
                EOFError,
                OSError,
                NotImplementedError,
                RuntimeError,
                ValueError,
            ) as exc:
                problems.append(
                    IntegrityProblem(info.filename, ProblemKind.ZIP_MEMBER, one_line(exc) or type(exc).__name__)
                )
    return len(infos), problems


def _local_header_mismatch(raw: BinaryIO, info: zipfile.ZipInfo) -> str | None:
    raw.seek(info.header_offset)
    header = raw.read(ZIP_LOCAL_HEADER.size)
    if len(header) != ZIP_LOCAL_HEADER.size or header[:4] != ZIP_LOCAL_SIGNATURE:
        return f"no local header at offset {info.header_offset}, where the central directory says the member starts"
    fields = ZIP_LOCAL_HEADER.unpack(header)
    flags, method, crc, compressed, name_length = fields[2], fields[3], fields[6], fields[7], fields[9]
    name = raw.read(name_length)
    if name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace") != info.orig_filename:
        return f"local header names {name!r}, the central directory {info.orig_filename!r}"
    if method != info.compress_type:
        return f"local header says compression method {method}, the central directory {info.compress_type}"
    if not flags & ZIP_DATA_DESCRIPTOR_FLAG and crc != info.CRC:
        return f"local header CRC-32 {crc:#010x}, the central directory {info.CRC:#010x}"
    if not flags & ZIP_DATA_DESCRIPTOR_FLAG and compressed not in (info.compress_size, 0xFFFFFFFF):
        return f"local header says {compressed} stored bytes, the central directory {info.compress_size}"
    return None


# --- the kind -------------------------------------------------------------------------------------


class KerasArchiveKind(ArtifactKind):
    """Keras 3 `.keras` zip archives."""

    name = "keras-archive"
    formats = (Format.KERAS_ARCHIVE,)

    def detect(self, location: Location) -> Detection | None:
        if location.is_file() and _starts_with_zip(location):
            return Detection(self, location)
        return None

    def refuse(self, location: Location) -> UnreadableArtifact | None:
        """A file named `.keras` whose bytes are not a zip."""
        if location.is_file() and location.name.endswith(".keras"):
            return NotKerasArchive(f"{location.display}: not a zip archive (first bytes {location.read_range(0, 8)!r})")
        return None

    def open(self, location: Location, display: str) -> Artifact:
        return read_keras_archive(location, display)

    def loader(self, artifact: Artifact) -> str:
        return "keras3"

    def verify(self, artifact: Artifact) -> IntegrityReport:
        """Each member's local header and CRC-32, then every dataset of the weights member read in full."""
        assert artifact.location is not None, "archives record their location"
        members, problems = verify_zip_members(artifact.location)
        from ckptdiff.formats.keras_h5 import H5_READ_ERRORS

        checked, read_problems = read_every_entry(artifact, H5_READ_ERRORS)
        return IntegrityReport(artifact.path, VerifyMethod.ZIP, members + checked, tuple(problems + read_problems))

    def scan(self, location: Location, display: str) -> ScanResult:
        """The central directory first (path traversal, absurd declared sizes, duplicates, members Keras
        never writes, assets), then config.json, read only when its declared size is sane."""
        from ckptdiff.formats.keras_archive_scan import scan_archive

        try:
            raw = location.open_binary()
            archive = zipfile.ZipFile(raw)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise CorruptArtifact(f"{display}: not a readable zip archive ({one_line(exc)})") from None
        with raw, archive:
            if CONFIG_MEMBER not in archive.namelist():
                raise NotKerasArchive(f"{display}: zip archive is not a Keras .keras file: no {CONFIG_MEMBER}")
            findings, scanned, notes = scan_archive(archive, raw)
        return ScanResult(Format.KERAS_ARCHIVE, tuple(findings), tuple(scanned), tuple(notes))


def _starts_with_zip(location: Location) -> bool:
    try:
        return location.read_range(0, 4) == ZIP_LOCAL_SIGNATURE
    except OSError:
        return False


KIND = KerasArchiveKind()
