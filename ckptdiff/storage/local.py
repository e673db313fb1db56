"""Locations on the local file system: pathlib for names, mmap for bytes."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ckptdiff.storage.interface import Location


class LocalLocation(Location):
    """A path on this machine."""

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display

    @classmethod
    def from_user(cls, display: str) -> LocalLocation:
        """The location of a path exactly as the user typed it."""
        return cls(Path(display), display)

    @classmethod
    def from_path(cls, path: Path) -> LocalLocation:
        """The location of a path ckptdiff derived itself."""
        return cls(path, str(path))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def parent(self) -> LocalLocation:
        return LocalLocation.from_path(self.path.parent)

    @property
    def local_path(self) -> Path:
        return self.path

    def child(self, name: str) -> LocalLocation:
        return LocalLocation.from_path(self.path / name)

    def exists(self) -> bool:
        return self.path.exists()

    def is_file(self) -> bool:
        return self.path.is_file()

    def is_dir(self) -> bool:
        return self.path.is_dir()

    def is_symlink(self) -> bool:
        return self.path.is_symlink()

    def iterdir(self) -> Iterator[LocalLocation]:
        return (LocalLocation.from_path(p) for p in self.path.iterdir())

    def glob(self, pattern: str) -> list[Location]:
        return [LocalLocation.from_path(p) for p in sorted(self.path.glob(pattern))]

    def walk_files(self) -> Iterator[Location]:
        for dirpath, dirnames, filenames in os.walk(self.path):
            dirnames.sort()
            for name in sorted(filenames):
                yield LocalLocation.from_path(Path(dirpath, name))

    def readlink(self) -> str:
        """Where a symbolic link points."""
        return os.readlink(self.path)

    def relative_to(self, root: Location) -> str:
        if isinstance(root, LocalLocation):
            try:
                return self.path.relative_to(root.path).as_posix()
            except ValueError:
                pass
        return super().relative_to(root)

    def size(self) -> int:
        return self.path.stat().st_size

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def read_range(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def open_binary(self) -> BinaryIO:
        return open(self.path, "rb")

    def map(self) -> mmap.mmap | bytes:
        with open(self.path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return b""
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    def __fspath__(self) -> str:
        return str(self.path)
