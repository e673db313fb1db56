"""The one place TensorFlow is imported: lazily, and without its start-up chatter on stderr."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from ckptdiff.errors import MissingDependency


def import_tensorflow() -> Any:
    """Import TensorFlow on first use, silencing the C++ logging it prints while loading.

    TensorFlow writes oneDNN/CUDA notices straight to file descriptor 2 before Python logging is
    configured; a CLI whose stderr is a one-line error contract cannot let them through, so fd 2 is
    pointed at /dev/null for the duration of the import only.

    Returns:
        The tensorflow module.

    Raises:
        MissingDependency: TensorFlow is not installed.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise MissingDependency(f"this needs TensorFlow ({exc}); pip install 'tensorflow>=2.16'") from None
    return tf


@contextlib.contextmanager
def stdout_captured() -> Iterator[io.StringIO]:
    """Capture everything written to standard output, by Python code and by native code (fd 1).

    Yields:
        A buffer that holds the captured text once the block has ended.
    """
    buffer = io.StringIO()
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as native:
        try:
            os.dup2(native.fileno(), 1)
            with contextlib.redirect_stdout(buffer):
                yield buffer
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            native.seek(0)
            buffer.write(native.read().decode("utf-8", errors="replace"))


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while TensorFlow initialises (import, first op, device probing).

    TensorFlow's C++ runtime logs (oneDNN notices, `failed call to cuInit` on machines without a GPU)
    bypass Python; errors that matter reach the user as exceptions, which the CLI prints after this
    block has restored stderr.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
