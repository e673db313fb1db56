"""Shared fixtures: paths to the committed samples and to ../shared/realworld, TensorFlow on demand."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Property tests explore new inputs on developers' machines but replay a fixed sequence in CI, so a
# CI result depends only on the commit.
from hypothesis import settings as _hypothesis_settings

_hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

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


def resolve_artifact(request: pytest.FixtureRequest, fixture: str, rel: str) -> Path:
    """A file under the `samples` or `realworld` fixture; skips when it is absent."""
    path = request.getfixturevalue(fixture) / rel
    if not path.is_file():
        pytest.skip(f"{path} is missing: regenerate the corpus with `make samples`")
    return path


def load_module(path: Path | str, name: str):
    """A Python file of factories imported as module `name` (once per session)."""
    import importlib.util
    import sys

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def copy_sample(rel: str, dest: Path) -> Path:
    """Copy a sample file or folder into dest (to damage it there); skips when the sample is absent."""
    import shutil

    src = SAMPLES / rel
    if not src.exists():
        pytest.skip(f"sample {rel} not generated (make samples)")
    target = dest / src.name
    if src.is_dir():
        shutil.copytree(src, target)
    else:
        shutil.copy(src, target)
    return target


def tree_digest(path: Path) -> dict[str, str]:
    """sha256 of every file under path (or of path itself), to prove a command changed nothing."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


SAMPLE_ARTIFACTS: dict[str, str] = {
    "tf2": "tf-checkpoint",
    "tf2/ckpt-1": "tf-checkpoint",
    "tf2/ckpt-2.index": "tf-checkpoint",
    "tf2_sharded/ckpt": "tf-checkpoint",
    "tf1/model.ckpt": "tf1-checkpoint",
    "tf1": "tf1-checkpoint",
    "tf1_v1/model.ckpt": "tf-checkpoint-v1",
    "saved_model": "saved-model",
    "keras2/model.h5": "keras-h5",
    "keras2/weights_only.h5": "keras-h5",
    "keras2/tf_weights/ckpt": "tf-checkpoint",
    "keras3/model.keras": "keras-archive",
    "keras3/model.weights.h5": "keras-weights-h5",
    "keras3/legacy.h5": "keras-h5",
}
"""Every path form of the committed corpus, with the format it must be detected as."""

REALWORLD_ARTIFACTS: dict[str, str] = {
    "keras3_mnist/mnist_model.keras": "keras-archive",
    "keras3_mnist/mnist_model.h5": "keras-h5",
    "keras2_face/gender_mini_XCEPTION.21-0.95.hdf5": "keras-h5",
    "tf_serving/saved_model_half_plus_two_cpu/00000123": "saved-model",
    "tf_serving/saved_model_half_plus_two_tf2_cpu/00000123": "saved-model",
    "tf_serving/session_bundle_half_plus_two/export-00000-of-00001": "tf-checkpoint-v1",
    "tf_serving/session_bundle_half_plus_two": "tf-checkpoint-v1",
}
"""Every artifact of ../shared/realworld with the format it must be detected as."""


@dataclass(frozen=True)
class CliResult:
    """What one in-process run of the CLI produced."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys):
    """Run ckptdiff's real entry point (with its error mapping) in-process."""
    from ckptdiff.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture(scope="session")
def s3():
    """moto's S3 API in server mode on loopback, holding a copy of sample_checkpoints/ in bucket BUCKET."""
    pytest.importorskip("s3fs", reason="s3:// needs the remote extra (s3fs)")
    pytest.importorskip("moto.server", reason="the S3 API server is moto's server mode (dev extra)")
    from tests.servers import BUCKET, S3Server

    server = S3Server().start()
    server.upload_tree(BUCKET, SAMPLES)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def http_server():
    """An HTTP server with Range support on loopback, serving sample_checkpoints/."""
    pytest.importorskip("aiohttp", reason="https:// needs the remote extra (aiohttp)")
    from tests.servers import HttpRangeServer

    server = HttpRangeServer(SAMPLES).start()
    yield server
    server.stop()
