"""Locations in any fsspec filesystem: s3://, gs://, https://, memory://, ... (the `remote` extra).

Reads are range requests: a checkpoint's index is fetched first, then only the byte ranges a command
needs (`read_range`); H5 and `.keras` files are opened as fsspec file objects with a block cache.
Credentials and endpoints come from the standard environment of each filesystem (AWS_* variables and
AWS_ENDPOINT_URL_S3 for s3fs, GOOGLE_APPLICATION_CREDENTIALS for gcsfs) and from `--storage-option`.
Transient errors (timeouts, dropped connections, 5xx) are retried; nothing is ever written.
"""

from __future__ import annotations

import contextlib
import posixpath
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, TypeVar, cast

from ckptdiff.errors import ArtifactNotFound, UnreadableArtifact
from ckptdiff.storage.interface import Location

T = TypeVar("T")

RETRIES = 4
"""Attempts per request for transient errors (then the error is one line, exit 2)."""
BACKOFF_S = 0.2
"""First pause between attempts; doubled each time."""
BLOCK_SIZE = 4 << 20
"""Block size of file objects handed to h5py and zipfile (fsspec's block cache)."""

_options: dict[str, Any] = {}
_fetched = [0]
_fetched_lock = threading.Lock()


def configure(options: dict[str, Any]) -> None:
    """Set the fsspec storage options every remote Location of this process uses (`--storage-option`)."""
    _options.clear()
    _options.update(options)


def storage_options() -> dict[str, Any]:
    """The fsspec options in force (a copy)."""
    return dict(_options)


def bytes_fetched() -> int:
    """Bytes read from remote stores by this process so far (for benchmarks)."""
    return _fetched[0]


def _count(n: int) -> None:
    with _fetched_lock:
        _fetched[0] += n


def _status(exc: BaseException) -> int | None:
    for attr in ("status", "code", "status_code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code if isinstance(code, int) else None
    return None


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError):
        return False
    status = _status(exc)
    if status is not None:
        return status >= 500 or status == 429
    return isinstance(exc, TimeoutError | ConnectionError) or type(exc).__name__ in (
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ClientPayloadError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "EndpointConnectionError",
    )


def _describe(exc: BaseException) -> str:
    status = _status(exc)
    if isinstance(exc, PermissionError) or status in (401, 403):
        return "access denied (403): check the credentials (AWS_* variables, GOOGLE_APPLICATION_CREDENTIALS)"
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return "timed out; retry, or raise the timeout with --storage-option"
    if status is not None:
        return f"HTTP {status}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def _call(what: str, func: Callable[[], T]) -> T:
    """func() with retries on transient errors; a missing object is FileNotFoundError, anything else one line."""
    delay = BACKOFF_S
    for attempt in range(RETRIES):
        try:
            return func()
        except Exception as raised:
            exc: BaseException = raised
            if isinstance(exc, FileNotFoundError):
                # fsspec's HTTP filesystem reports every failed lookup as FileNotFoundError; the cause tells.
                cause = exc.__cause__
                if cause is None or not (_status(cause) not in (None, 404) or isinstance(cause, TimeoutError)):
                    raise
                exc = cause
            status = _status(exc)
            if status == 404:
                raise FileNotFoundError(what) from None
            if attempt + 1 < RETRIES and _transient(exc):
                time.sleep(delay)
                delay *= 2
                continue
            raise UnreadableArtifact(f"{what}: {_describe(exc)}") from None
    raise AssertionError("unreachable")


class FsspecLocation(Location):
    """A path in an fsspec filesystem; `display` keeps the URL as the user wrote it."""

    def __init__(self, fs: Any, path: str, display: str) -> None:
        self.fs = fs
        self.path = path.rstrip("/") if path not in ("/", "") else path
        self.display = display

    @classmethod
    def from_url(cls, url: str) -> FsspecLocation:
        """The location of a URL; the filesystem is built once per protocol and options (fsspec caches it)."""
        try:
            import fsspec
        except ImportError:
            raise UnreadableArtifact(f"{url}: remote artifacts need fsspec: pip install 'ckptdiff[remote]'") from None
        protocol = url.split("://", 1)[0]
        try:
            fs, path = fsspec.core.url_to_fs(url, **_options)
        except ImportError as exc:
            extra = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "http": "aiohttp", "https": "aiohttp"}
            package = extra.get(protocol, str(exc.name or protocol))
            raise UnreadableArtifact(f"{url}: {protocol}:// needs {package}: pip install 'ckptdiff[remote]'") from None
        except ValueError as exc:
            raise UnreadableArtifact(f"{url}: {exc}") from None
        return cls(fs, path, url)

    def _url(self, path: str) -> str:
        if "://" in self.display:
            scheme = self.display.split("://", 1)[0]
            if scheme in ("http", "https"):
                return path
            return f"{scheme}://{path.lstrip('/')}" if not path.startswith(f"{scheme}://") else path
        return path

    def _join(self, path: str) -> FsspecLocation:
        return FsspecLocation(self.fs, path, self._url(path))

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))

    @property
    def parent(self) -> FsspecLocation:
        return self._join(posixpath.dirname(self.path.rstrip("/")))

    def child(self, name: str) -> FsspecLocation:
        return self._join(f"{self.path.rstrip('/')}/{name}")

    def _info(self) -> dict[str, Any] | None:
        try:
            return _call(self.display, lambda: self.fs.info(self.path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def exists(self) -> bool:
        return self._info() is not None or self.is_dir()

    def is_file(self) -> bool:
        info = self._info()
        return info is not None and info.get("type") == "file"

    def is_dir(self) -> bool:
        info = self._info()
        if info is not None:
            return info.get("type") == "directory"
        if self.display.startswith(("http://", "https://")):
            return False  # an HTTP path is a file or nothing: listings are never guessed from pages
        try:
            return bool(_call(self.display, lambda: self.fs.ls(self.path, detail=False)))
        except (FileNotFoundError, NotADirectoryError, UnreadableArtifact):
            return False

    def is_symlink(self) -> bool:
        return False

    def readlink(self) -> str:
        raise OSError(f"{self.display}: object stores have no symbolic links")

    def iterdir(self) -> Iterator[FsspecLocation]:
        names = _call(self.display, lambda: self.fs.ls(self.path, detail=False))
        for name in names:
            path = name if isinstance(name, str) else name["name"]
            if path.rstrip("/") != self.path:
                yield self._join(path.rstrip("/"))

    def glob(self, pattern: str) -> list[Location]:
        import fnmatch

        return sorted((c for c in self.iterdir() if fnmatch.fnmatchcase(c.name, pattern)), key=lambda c: c.name)

    def walk_files(self) -> Iterator[Location]:
        found = _call(self.display, lambda: self.fs.find(self.path))
        for path in sorted(found):
            yield self._join(path)

    def size(self) -> int:
        info = self._info()
        if info is None:
            raise FileNotFoundError(self.display)
        size = info.get("size")
        if size is None:
            raise OSError(f"{self.display}: the store does not say how big it is")
        return int(size)

    def read_bytes(self) -> bytes:
        data: bytes = _call(self.display, lambda: self.fs.cat_file(self.path))
        _count(len(data))
        return data

    def read_range(self, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        data: bytes = _call(self.display, lambda: self.fs.cat_file(self.path, start=offset, end=offset + length))
        _count(len(data))
        return data

    def open_binary(self) -> BinaryIO:
        handle = _call(
            self.display, lambda: self.fs.open(self.path, "rb", block_size=BLOCK_SIZE, cache_type="blockcache")
        )
        return cast(BinaryIO, _CountingFile(handle))

    def map(self) -> RangeBuffer:
        return RangeBuffer(self)


class RangeBuffer:
    """A remote file as a sliceable byte buffer: `buffer[a:b]` is one range request (no whole download)."""

    def __init__(self, location: FsspecLocation) -> None:
        self.location = location
        self._size: int | None = None

    def __len__(self) -> int:
        if self._size is None:
            self._size = self.location.size()
        return self._size

    def __getitem__(self, item: slice) -> bytes:
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("RangeBuffer supports contiguous slices only")
        start, stop, _ = item.indices(len(self))
        return self.location.read_range(start, max(stop - start, 0))


class _CountingFile:
    """A read-only fsspec file that counts the bytes it fetches and refuses writes."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def read(self, n: int = -1) -> bytes:
        data: bytes = _call(self._handle.path, lambda: self._handle.read(n))
        _count(len(data))
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._handle.seek(offset, whence))

    def tell(self) -> int:
        return int(self._handle.tell())

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def flush(self) -> None:
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._handle.close()

    @property
    def closed(self) -> bool:
        return bool(self._handle.closed)

    def __enter__(self) -> _CountingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_url(path: str) -> bool:
    """True for `scheme://...` paths other than file://."""
    return "://" in path and not path.startswith("file://")


def missing(url: str) -> ArtifactNotFound:
    return ArtifactNotFound(f"{url}: no such object (404)")
