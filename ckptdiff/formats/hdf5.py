"""HDF5 as Keras files use it: the signature, the guarded opener, attribute decoding and dataset entries.

Shared by the legacy Keras H5 kind, the Keras 3 `.weights.h5` kind and the weights member of `.keras`
archives; h5_safety closes the holes through which a damaged file could hang or exhaust HDF5.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import h5py
import numpy as np

from ckptdiff.artifact import Group, TensorEntry
from ckptdiff.errors import CorruptArtifact, NotHdf5, one_line
from ckptdiff.formats.h5_safety import check_dataset_fits, check_global_heaps
from ckptdiff.formats.sources import H5DatasetSource
from ckptdiff.storage import Location

T = TypeVar("T")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_USER_BLOCK = 1 << 20
"""HDF5 allows a user block before the signature: at 512, 1024, 2048, ... bytes, up to this far."""
DTYPE_ATTR = "dtype"
"""Keras 3 stores bfloat16 as 2-byte opaque data and names the real dtype in this dataset attribute."""
MAX_LISTED_IN_NOTE = 5
MAX_ATTRIBUTE_BYTES = 16 << 20
"""Keras' largest attribute is model_config, a few MB for the largest models."""

# h5py raises these for damaged files (bad B-tree nodes, truncated heaps, dangling links).
H5_ERRORS: tuple[type[BaseException], ...] = (OSError, KeyError, RuntimeError, ValueError)


def is_hdf5(location: Location) -> bool:
    """True when the file starts with the HDF5 signature, or carries it after a user block; never raises."""
    try:
        if location.read_range(0, 8) == HDF5_SIGNATURE:
            return True
        size = location.size()
        offset = 512
        while offset + 8 <= size and offset <= MAX_USER_BLOCK:
            if location.read_range(offset, 8) == HDF5_SIGNATURE:
                return True
            offset *= 2
    except OSError:
        return False
    return False


def open_hdf5_readonly(
    path: Location | BinaryIO | io.RawIOBase, display: str, *, member: str | None = None
) -> h5py.File:
    """Open an HDF5 file (a location, or a binary file-like object) read-only, mapping h5py errors to ours.

    Args:
        path: a location (opened by its local path when it has one), or a seekable binary file-like object.
        display: the user-facing name, for messages.
        member: the archive member being opened, when it is one (`model.weights.h5`).

    Raises:
        NotHdf5: the bytes are not HDF5.
        CorruptArtifact: they are HDF5 but h5py cannot open them.
    """
    target: Path | BinaryIO | io.RawIOBase
    if isinstance(path, Location):
        target = path.local_path or path.open_binary()
    else:
        target = path
    try:
        check_global_heaps(target, display)
        return h5py.File(target, "r")
    except H5_ERRORS as exc:
        subject = f"member {member} is " if member else ""
        if not _has_hdf5_signature(target):
            raise NotHdf5(f"{display}: {subject}not an HDF5 file ({one_line(exc)})") from None
        damaged = "a damaged HDF5 file" if member else "damaged HDF5 file"
        raise CorruptArtifact(f"{display}: {subject}{damaged} ({one_line(exc)})") from None


def _has_hdf5_signature(path: Path | Any) -> bool:
    try:
        if isinstance(path, (str, Path)):
            return h5py.is_hdf5(path)
        path.seek(0)
        return path.read(8) == HDF5_SIGNATURE
    except (OSError, ValueError):
        return False


def decode_text(value: Any, what: str, display: str) -> str:
    """Decode a string attribute written as str, bytes or numpy bytes; anything else is corruption."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptArtifact(f"{display}: {what} is not UTF-8 text") from None
    if isinstance(value, str):
        return str(value)
    raise CorruptArtifact(f"{display}: {what} is {type(value).__name__}, expected a string")


def read_name_list(group: h5py.Group, name: str, display: str) -> list[str] | None:
    """Read a Keras name-list attribute, joining the `name0`, `name1`, ... chunks of long lists.

    Returns:
        The names, or None when the attribute is absent.
    """
    attrs = group.attrs
    if name in attrs:
        chunks = [attrs[name]]
    else:
        chunks = []
        while f"{name}{len(chunks)}" in attrs:
            chunks.append(attrs[f"{name}{len(chunks)}"])
        if not chunks:
            return None
    where = f"attribute {name} of {group.name}"
    names: list[str] = []
    for chunk in chunks:
        if not isinstance(chunk, np.ndarray) or chunk.ndim != 1:
            raise CorruptArtifact(f"{display}: {where} is {type(chunk).__name__}, expected an array of names")
        if chunk.size == 0:
            continue  # Keras writes an empty list as an empty float64 array.
        names.extend(decode_text(item, where, display) for item in chunk)
    return names


def dtype_name(dataset: h5py.Dataset) -> str:
    """numpy-style dtype name of a dataset; `bfloat16` for Keras 3's tagged opaque data."""
    dt = dataset.dtype
    tagged = dataset.attrs.get(DTYPE_ATTR) if dt.kind == "V" else None
    if isinstance(tagged, (bytes, np.bytes_)):
        tagged = bytes(tagged).decode("utf-8", "replace")
    if tagged == "bfloat16" and dt.itemsize == 2:
        return "bfloat16"
    if dt.kind in "SUO":
        return "string"
    return dt.name


def dataset_source(dataset: h5py.Dataset) -> H5DatasetSource:
    """An H5DatasetSource, viewing Keras 3's opaque bfloat16 bytes as bfloat16 when ml_dtypes exists."""
    if dtype_name(dataset) == "bfloat16":
        try:
            import ml_dtypes  # a numpy dtype package; it does not import TensorFlow

            return H5DatasetSource(dataset, view_dtype=np.dtype(ml_dtypes.bfloat16))
        except ImportError:
            return H5DatasetSource(dataset, view_dtype=np.dtype(np.uint16))
    return H5DatasetSource(dataset)


def make_h5_entry(
    dataset: h5py.Dataset, group: Group, paths: tuple[str, ...] = (), display: str | None = None
) -> TensorEntry:
    """A TensorEntry for one dataset, keyed by its full HDF5 path without the leading slash.

    Raises:
        CorruptArtifact: the dataset's declared shape and dtype do not fit the file (check_dataset_fits).
    """
    check_dataset_fits(dataset, display or str(dataset.file.filename))
    shape = dataset.shape if dataset.shape is not None else ()
    try:
        nbytes: int | None = int(dataset.id.get_storage_size())
    except H5_ERRORS:
        nbytes = None
    return TensorEntry(
        key=dataset.name.lstrip("/"),
        shape=tuple(int(d) for d in shape),
        dtype=dtype_name(dataset),
        group=group,
        source=dataset_source(dataset),
        paths=paths,
        nbytes=nbytes,
    )


def resolve_dataset(group: h5py.Group, relpath: str) -> h5py.Dataset | str:
    """Follow relpath below group through hard and soft links only.

    Returns:
        The dataset, or a short reason why there is none (missing, a group, an external link).
        External links are never followed: they would make the reader open another file.
    """
    node: Any = group
    parts = [p for p in relpath.split("/") if p not in ("", ".")]
    if not parts:
        return "empty weight name"
    for part in parts:
        if not isinstance(node, h5py.Group) or part not in node:
            return "missing"
        link = node.get(part, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            return f"external link to {link.filename}:{link.path}, not followed"
        if not isinstance(link, (h5py.HardLink, h5py.SoftLink)):
            return "user-defined link, not followed"
        node = node[part]
    if not isinstance(node, h5py.Dataset):
        return "a group, not a dataset"
    return node


def summarize(items: list[str]) -> str:
    """`a, b, c` or `a, b, c, ... (12 in all)` for notes."""
    shown = ", ".join(items[:MAX_LISTED_IN_NOTE])
    return shown if len(items) <= MAX_LISTED_IN_NOTE else f"{shown}, ... ({len(items)} in all)"


def all_datasets(h5: h5py.File) -> list[h5py.Dataset]:
    """Every dataset reachable by hard links, in h5py's visit order."""
    found: list[h5py.Dataset] = []

    def visit(_name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            found.append(obj)

    h5.visititems(visit)
    return found


def structure_findings(h5: h5py.File, source: str) -> list[Any]:
    """What in an HDF5 file's structure reaches outside it or amplifies, as scan findings.

    External links, datasets stored in external files and virtual datasets make a reader open files
    the artifact names; a dataset declaring more bytes than the file can back is an allocation bomb
    (CVE-2026-0897). Walks links without following them.
    """
    from ckptdiff.errors import CkptdiffError
    from ckptdiff.formats.h5_safety import check_dataset_fits
    from ckptdiff.scanning.interface import Finding, Severity

    findings: list[Finding] = []

    def visit(name: str, link: Any) -> None:
        try:
            inspect_link(name, link)
        except Exception:
            return

    def inspect_link(name: str, link: Any) -> None:
        if isinstance(link, h5py.ExternalLink):
            findings.append(
                Finding(
                    Severity.MEDIUM,
                    "file-read",
                    f"{source}: {name}",
                    f"external link to {link.filename}:{link.path}: a reader following it opens that file",
                    "hdf5-external-link",
                )
            )
            return
        if not isinstance(link, h5py.HardLink):
            return
        obj = h5.get(name)
        if not isinstance(obj, h5py.Dataset):
            return
        plist = obj.id.get_create_plist()
        if plist.get_layout() == h5py.h5d.VIRTUAL:
            findings.append(
                Finding(
                    Severity.MEDIUM,
                    "file-read",
                    f"{source}: {name}",
                    "virtual dataset: its values come from the files its mapping names",
                    "hdf5-virtual-dataset",
                )
            )
        elif plist.get_external_count() > 0:
            target = plist.get_external(0)[0].decode("utf-8", "replace")
            findings.append(
                Finding(
                    Severity.MEDIUM,
                    "file-read",
                    f"{source}: {name}",
                    f"dataset stored in the external file {target!r}",
                    "hdf5-external-storage",
                )
            )
        else:
            try:
                check_dataset_fits(obj, source)
            except CkptdiffError as exc:
                findings.append(
                    Finding(Severity.HIGH, "amplification", f"{source}: {name}", one_line(str(exc)), "CVE-2026-0897")
                )

    with contextlib.suppress(*H5_ERRORS, SystemError):  # damage is for --verify; what was visited is reported
        h5.visititems_links(visit)
        for name in h5.attrs:
            size = int(h5.attrs.get_id(name).get_storage_size())
            if size > MAX_ATTRIBUTE_BYTES:
                findings.append(
                    Finding(
                        Severity.HIGH,
                        "amplification",
                        f"{source}: attribute {name}",
                        f"a {size:,}-byte attribute, over the {MAX_ATTRIBUTE_BYTES >> 20} MiB any Keras file needs",
                        "h5-attribute-bomb",
                    )
                )
    return findings


MAX_SOFT_LINKS = 16
"""Soft links followed in a row before a path is called a loop."""


def local_child(group: h5py.Group, name: str) -> h5py.Group | h5py.Dataset | None:
    """The object `name` (one path component) of group, only when it lies inside this file.

    `group.get(name)`, `group[name]` and even `name in group` follow external links (HDF5 then opens
    the file the link names, a path the artifact chose); this never does. Soft links are resolved
    component by component from the file's root, so one cannot lead through an external link either.

    Returns:
        The group or dataset, or None when missing, external, user-defined or a soft-link loop.
    """
    return _local_child(group, name, 0)


def _local_child(group: h5py.Group, name: str, hops: int) -> h5py.Group | h5py.Dataset | None:
    try:
        link = group.get(name, getlink=True)
    except H5_ERRORS:
        return None
    if isinstance(link, h5py.HardLink):
        obj = group[name]
        return obj if isinstance(obj, (h5py.Group, h5py.Dataset)) else None
    if isinstance(link, h5py.SoftLink) and hops < MAX_SOFT_LINKS:
        node: Any = group.file if link.path.startswith("/") else group
        for part in (p for p in link.path.split("/") if p not in ("", ".")):
            if not isinstance(node, h5py.Group):
                return None
            node = _local_child(node, part, hops + 1)
            if node is None:
                return None
        return node if isinstance(node, (h5py.Group, h5py.Dataset)) else None
    return None


def read_hdf5_guarded(
    location: Location, display: str, read: Callable[[h5py.File, contextlib.ExitStack], T], what: str = "HDF5 file"
) -> T:
    """Open an HDF5 file with the guarded opener and hand it to read; the file stays open in the
    returned resources (read registers nothing else), and every h5py failure becomes CorruptArtifact.

    Raises:
        NotHdf5, CorruptArtifact: as open_hdf5_readonly; CorruptArtifact for damage read meets.
    """
    from ckptdiff.errors import CkptdiffError

    h5 = open_hdf5_readonly(location, display)
    resources = contextlib.ExitStack()
    resources.callback(h5.close)
    try:
        return read(h5, resources)
    except CkptdiffError:
        resources.close()
        raise
    except H5_ERRORS as exc:
        resources.close()
        raise CorruptArtifact(f"{display}: damaged {what} ({one_line(exc)})") from None
