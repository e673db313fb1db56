"""The byte-source layer under the format modules: a Location names a file or folder in some store.

Format modules never open files themselves: they ask a Location whether it exists, list it, read
its bytes, map it, or open it as a binary file object for h5py and zipfile. A local path is a
`LocalLocation` (memory-mapped reads); a URL (`s3://`, `gs://`, `https://`, any fsspec protocol) is an
`FsspecLocation` (range requests; ckptdiff.storage.remote). `file://` URLs are local paths.
"""

from __future__ import annotations

import os
from pathlib import Path

from ckptdiff.storage.interface import Location
from ckptdiff.storage.local import LocalLocation


def locate(path: str | os.PathLike[str]) -> Location:
    """The Location for a path as the user gave it.

    Args:
        path: a local path, a `file://` URL, or any fsspec URL (`s3://bucket/key`, `gs://`, `https://`).

    Returns:
        A Location whose `display` is the path exactly as given.
    """
    text = os.fspath(path)
    if text.startswith("file://"):
        return LocalLocation(Path(text.removeprefix("file://")), text)
    if "://" in text:
        from ckptdiff.storage.remote import FsspecLocation

        return FsspecLocation.from_url(text)
    return LocalLocation.from_user(text)


def as_location(path: str | os.PathLike[str] | Location) -> Location:
    """A Location as it is, anything else located (library functions accept both)."""
    return path if isinstance(path, Location) else locate(path)


__all__ = ["LocalLocation", "Location", "as_location", "locate"]
