"""Crafted artifacts whose loading would write a marker file go through every command; the marker never appears.

The Keras payloads write to $CKPTDIFF_MARKER_DIR (a fresh temporary folder per test); the SavedModel's
WriteFile names a fixed path, MARKER_SAVED_MODEL, removed before and checked after. The payloads are
real: tests/scan checks they are found, and sample_checkpoints/make_hostile.py documents them.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES, tree_digest

HOSTILE = SAMPLES / "hostile"
MARKER_ENV = "CKPTDIFF_MARKER_DIR"
MARKER_SAVED_MODEL = Path("/tmp/ckptdiff_marker_saved_model")
DEFAULT_MARKERS = "/tmp/ckptdiff_marker_*"
SAFE_FACTORY = str(SAMPLES / "models.py") + ":build_keras3"
ARTIFACTS = ("lambda_legacy.h5", "lambda.keras", "foreign_module.keras", "zip_tricks.keras", "write_file_saved_model")
ARCHITECTURES_THAT_NEED_CODE = ("lambda_legacy.h5", "lambda.keras", "foreign_module.keras")


@pytest.fixture
def marker_dir(tmp_path, monkeypatch):
    folder = tmp_path / "markers"
    folder.mkdir()
    monkeypatch.setenv(MARKER_ENV, str(folder))
    MARKER_SAVED_MODEL.unlink(missing_ok=True)
    stale = glob.glob(DEFAULT_MARKERS)
    yield folder
    assert not any(folder.iterdir()), f"a payload ran: {list(folder.iterdir())}"
    assert not MARKER_SAVED_MODEL.exists(), "the SavedModel's WriteFile ran"
    assert glob.glob(DEFAULT_MARKERS) == stale


def _artifact(name: str) -> Path:
    path = HOSTILE / name
    if not path.exists():
        pytest.skip(f"{path} not generated (sample_checkpoints/make_hostile.py)")
    return path


def _assert_contract(result) -> None:
    assert result.exit_code in (0, 1, 2), result
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ckptdiff: error: "), result.stderr


@pytest.mark.parametrize("name", ARTIFACTS)
def test_reading_commands_never_execute(run_cli, marker_dir, name):
    path = _artifact(name)
    before = tree_digest(path)
    runs = [
        ("inspect", str(path)),
        ("inspect", "--verify", str(path)),
        ("inspect", "--format", "json", str(path)),
        ("diff", str(path), str(path)),
        ("diff", "--verify", str(path), str(path)),
        ("scan", str(path)),
        ("scan", "--format", "json", str(path)),
    ]
    for args in runs:
        result = run_cli(*args)
        _assert_contract(result)
        assert result.exit_code != 2, (args, result.stderr)  # every hostile file is a readable artifact
    assert run_cli("scan", str(path)).exit_code == 1  # and each carries a planted danger
    assert tree_digest(path) == before


@pytest.mark.requires_tf
@pytest.mark.parametrize("name", ARTIFACTS)
def test_check_with_a_safe_factory_never_executes(run_cli, marker_dir, name):
    path = _artifact(name)
    for extra in ((), ("--verify",)):
        result = run_cli("check", str(path), "--model", SAFE_FACTORY, *extra)
        _assert_contract(result)


@pytest.mark.requires_tf
@pytest.mark.parametrize("name", ARCHITECTURES_THAT_NEED_CODE)
def test_check_refuses_a_hostile_architecture(run_cli, marker_dir, name):
    path = _artifact(name)
    for artifact in (path, SAMPLES / "keras3" / "model.keras"):
        result = run_cli("check", str(artifact), "--model", str(path))
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ckptdiff: error: "), result.stderr
        assert "refusing" in lines[0]


@pytest.mark.requires_tf
def test_check_rebuilds_a_clean_architecture_from_an_archive_with_extra_members(run_cli, marker_dir):
    path = _artifact("zip_tricks.keras")
    result = run_cli("check", str(path), "--model", str(path))
    _assert_contract(result)
    # The tiny model was saved untrained: its zero biases look fresh, the only finding.
    assert result.exit_code == 1 and "fresh 2" in result.stdout, result.stdout + result.stderr
    assert run_cli("check", str(path), "--model", str(path), "--allow", "fresh").exit_code == 0


def test_real_process_never_executes(tmp_path):
    """The installed entry point, in its own process, on the two archives with code (a handful: start-up is slow)."""
    env = {**os.environ, MARKER_ENV: str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    MARKER_SAVED_MODEL.unlink(missing_ok=True)
    for name in ("lambda.keras", "write_file_saved_model"):
        path = _artifact(name)
        for args in (["inspect", "--verify", str(path)], ["scan", str(path)]):
            proc = subprocess.run(
                [sys.executable, "-m", "ckptdiff", *args],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert proc.returncode in (0, 1), proc.stderr
            assert "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir())
    assert not MARKER_SAVED_MODEL.exists()
