"""Shared fixtures: paths to the committed samples and to ../shared/realworld, TensorFlow on demand."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_checkpoints"


def _find_realworld() -> Path | None:
    """../shared/realworld beside the clone (CI lays shared/ next to it), or above the repo."""
    for base in [ROOT.parent, ROOT.parent.parent]:
        candidate = base / "shared" / "realworld"
        if candidate.is_dir():
            return candidate
    return None


REALWORLD = _find_realworld()


@pytest.fixture(scope="session")
def samples() -> Path:
    """The committed sample corpus."""
    return SAMPLES


@pytest.fixture(scope="session")
def realworld() -> Path:
    """Real artifacts written by other people; skips when the shared folder is absent."""
    if REALWORLD is None:
        pytest.skip("../shared/realworld is absent: real-world artifact tests skipped")
    return REALWORLD


@pytest.fixture(scope="session")
def tf():
    """TensorFlow, imported once per session, for oracle checks."""
    import tensorflow

    return tensorflow


def tree_digest(path: Path) -> dict[str, str]:
    """sha256 of every file under path (or of path itself), to prove a command changed nothing."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
