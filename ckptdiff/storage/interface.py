"""What a format module may ask of the store an artifact lives in."""

from __future__ import annotations

import abc
import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol


class SliceableBytes(Protocol):
    """Bytes fetched on slicing (a remote file): `len()` and `buffer[a:b]`, no buffer protocol."""

    def __len__(self) -> int: ...

    def __getitem__(self, item: slice, /) -> bytes: ...


class Location(abc.ABC):
    """A file or folder (or a name that is neither yet, such as a checkpoint prefix) in a store."""

    display: str
    """The name shown to people: the user's own spelling for what they passed, a joined path below it."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The last path component."""

    @property
    @abc.abstractmethod
    def parent(self) -> Location:
        """The folder holding this location."""

    @property
    def local_path(self) -> Path | None:
        """The path on this machine when the store is the local file system, else None."""
        return None

    @abc.abstractmethod
    def child(self, name: str) -> Location:
        """The location `name` inside this folder (name may hold `/`)."""

    def sibling(self, name: str) -> Location:
        """The location `name` in the same folder."""
        return self.parent.child(name)

    def with_suffix(self, suffix: str) -> Location:
        """This name with `suffix` appended (`prefix` -> `prefix.index`)."""
        return self.sibling(self.name + suffix)

    @abc.abstractmethod
    def exists(self) -> bool:
        """True when a file or folder is there."""

    @abc.abstractmethod
    def is_file(self) -> bool:
        """True when a regular file (or a link to one) is there."""

    @abc.abstractmethod
    def is_dir(self) -> bool:
        """True when a folder is there."""

    @abc.abstractmethod
    def is_symlink(self) -> bool:
        """True when the location is a symbolic link."""

    @abc.abstractmethod
    def readlink(self) -> str:
        """Where a symbolic link points."""

    @abc.abstractmethod
    def iterdir(self) -> Iterator[Location]:
        """The entries of this folder, in no particular order."""

    @abc.abstractmethod
    def glob(self, pattern: str) -> list[Location]:
        """Entries of this folder whose name matches the shell pattern, sorted by name."""

    @abc.abstractmethod
    def walk_files(self) -> Iterator[Location]:
        """Every file below this folder, depth first, in name order."""

    @abc.abstractmethod
    def size(self) -> int:
        """The file's size in bytes (OSError when it cannot be read)."""

    @abc.abstractmethod
    def read_bytes(self) -> bytes:
        """The whole file (OSError when it cannot be read)."""

    @abc.abstractmethod
    def read_range(self, offset: int, length: int) -> bytes:
        """length bytes from offset (fewer at the end of the file)."""

    @abc.abstractmethod
    def open_binary(self) -> BinaryIO:
        """A seekable read-only binary file object (for h5py, zipfile); the caller closes it."""

    @abc.abstractmethod
    def map(self) -> mmap.mmap | bytes | SliceableBytes:
        """The file's bytes as a read-only buffer: a memory map where the store allows it, a sliceable remote
        buffer (one range request per slice) where it does not."""

    def relative_to(self, root: Location) -> str:
        """This location's path below root, with `/` separators."""
        prefix = root.display.rstrip("/") + "/"
        return self.display[len(prefix) :] if self.display.startswith(prefix) else self.name

    def __str__(self) -> str:
        return self.display
