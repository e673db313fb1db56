"""The byte-source layer under the format modules: a Location names a file or folder in some store.

Format modules never open files themselves: they ask a Location whether it exists, list it, read
its bytes, map it, or open it as a binary file object for h5py and zipfile. Today every Location is
local (`LocalLocation`, memory-mapped reads); a remote store adds one class with the same methods.
"""

from __future__ import annotations

import os

from ckptdiff.storage.interface import Location
from ckptdiff.storage.local import LocalLocation


def locate(path: str | os.PathLike[str]) -> Location:
    """The Location for a path as the user gave it.

    Args:
        path: a local path (a URL scheme is a later addition).

    Returns:
        A Location whose `display` is the path exactly as given.
    """
    return LocalLocation.from_user(os.fspath(path))


def as_location(path: str | os.PathLike[str] | Location) -> Location:
    """A Location as it is, anything else located (library functions accept both)."""
    return path if isinstance(path, Location) else locate(path)


__all__ = ["LocalLocation", "Location", "as_location", "locate"]
