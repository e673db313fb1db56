"""Every sample artifact, mutated (tests/fuzz/mutations.py), through inspect, inspect --verify, diff and scan.

Each run must end with exit 0, 1 or 2; exit 2 with exactly one stderr line `ckptdiff: error: ...`; never a
traceback or an internal error; within CASE_SECONDS; and leave the mutated files as they were. Runs are
in-process through the real entry point (fast); a few run as real processes, and a few through
`check`, which needs TensorFlow and a live model.

SEEDS_PER_KIND seeds x len(KINDS) kinds x len(ARTIFACTS) artifacts: 8 x 9 x 14 = 1008 mutants,
4032 command runs (README, "Integrity and hostile input").
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES, tree_digest
from tests.fuzz.mutations import ARTIFACTS, KINDS, Mutant, all_mutants

SEEDS_PER_KIND = 8
CASE_SECONDS = 10.0
"""Bound on one command run; every run so far takes well under a second."""
WATCHDOG_SECONDS = 60
"""A run still going after this is interrupted (a hang in Python code fails the case instead of CI)."""
MUTANTS = all_mutants(SEEDS_PER_KIND)
CHECK_CASES = (
    "tf2-bitflip-0",
    "tf2-truncate-1",
    "tf2-rename-2",
    "keras3_archive-bitflip-0",
    "keras3_archive-garble-3",
    "saved_model-swap-0",
    "keras2_model-garble-1",
    "tf2_sharded-bitflip-0",
)
SAFE_FACTORY = str(SAMPLES / "models.py") + ":build_keras3"


class CaseTimeout(BaseException):
    """Raised by the watchdog; a BaseException so the CLI's error mapping does not swallow it."""


def _on_alarm(signum, frame):  # pragma: no cover - only on a hang
    raise CaseTimeout(f"a command ran longer than {WATCHDOG_SECONDS} s")


@pytest.fixture(scope="module", autouse=True)
def originals_unchanged():
    """The committed samples themselves are never written (diff reads them as side b)."""
    before = {a.name: tree_digest(SAMPLES / a.source) for a in ARTIFACTS if (SAMPLES / a.source).exists()}
    yield
    after = {a.name: tree_digest(SAMPLES / a.source) for a in ARTIFACTS if (SAMPLES / a.source).exists()}
    assert after == before


def _original_target(mutant: Mutant) -> Path:
    source = SAMPLES / mutant.artifact.source
    return source.parent / mutant.artifact.target


def _run_bounded(run_cli, *args: str):
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(WATCHDOG_SECONDS)
    start = time.perf_counter()
    try:
        result = run_cli(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return result, time.perf_counter() - start


def _assert_contract(result, elapsed: float, what: str) -> None:
    assert result.exit_code in (0, 1, 2), f"{what}: exit {result.exit_code}"
    assert "Traceback" not in result.stderr, f"{what}: {result.stderr}"
    assert "internal error" not in result.stderr, f"{what}: {result.stderr}"
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ckptdiff: error: "), f"{what}: {result.stderr!r}"
    assert elapsed < CASE_SECONDS, f"{what}: {elapsed:.1f} s"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant(run_cli, tmp_path, mutant):
    target, description = mutant.build(tmp_path)
    before = tree_digest(tmp_path)
    original = str(_original_target(mutant))
    for args in (
        ("inspect", str(target)),
        ("inspect", "--verify", str(target)),
        ("diff", str(target), original),
        ("scan", str(target)),
    ):
        result, elapsed = _run_bounded(run_cli, *args)
        _assert_contract(result, elapsed, f"{description} | ckptdiff {args[0]}")
    assert tree_digest(tmp_path) == before, description


@pytest.mark.requires_tf
@pytest.mark.parametrize("case", CHECK_CASES)
def test_check_on_mutants(run_cli, tmp_path, case):
    mutant = next(m for m in MUTANTS if m.id == case)
    target, description = mutant.build(tmp_path)
    before = tree_digest(tmp_path)
    for extra in ((), ("--verify",)):
        result, elapsed = _run_bounded(run_cli, "check", str(target), "--model", SAFE_FACTORY, *extra)
        _assert_contract(result, elapsed + (0 if extra else 0), f"{description} | ckptdiff check {' '.join(extra)}")
    assert tree_digest(tmp_path) == before


def _run_process(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "ckptdiff", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _assert_process_error(proc: subprocess.CompletedProcess, must_say: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("ckptdiff:")]
    assert len(lines) == 1 and lines[0].startswith("ckptdiff: error: ") and must_say in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "case", ["tf2-garble-0", "keras3_archive-truncate-0", "saved_model-bitflip-1", "keras2_model-zero-0"]
)
def test_real_process_on_mutants(tmp_path, case):
    mutant = next(m for m in MUTANTS if m.id == case)
    target, description = mutant.build(tmp_path)
    for command in ("inspect", "scan"):
        proc = _run_process([command, str(target)])
        assert proc.returncode in (0, 1, 2), description
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
        if proc.returncode == 2:
            assert proc.stderr.startswith("ckptdiff: error: ") and len(proc.stderr.strip().splitlines()) == 1


def test_damaged_global_heap_does_not_hang_hdf5(tmp_path):
    """HDF5 loops forever on a global heap object of size 0 (found by this suite); run in a process so a regression times out."""
    src = SAMPLES / "keras2" / "model.h5"
    if not src.exists():
        pytest.skip("sample keras2/model.h5 not generated")
    data = bytearray(src.read_bytes())
    heap = data.find(b"GCOL")
    assert heap > 0
    second_object = heap + 16 + 16 + ((struct.unpack_from("<Q", data, heap + 16 + 8)[0] + 7) & ~7)
    struct.pack_into("<HHIQ", data, second_object, 0, 0, 0, 0)
    target = tmp_path / "model.h5"
    target.write_bytes(bytes(data))
    for command in ("inspect", "scan"):
        _assert_process_error(_run_process([command, str(target)], timeout=60), "global heap")


@pytest.mark.requires_tf
def test_damaged_slice_is_refused_before_tensorflow_reads_it(tmp_path):
    """TensorFlow's reader aborts the process on a bad checksum in a sliced tensor (found by this suite)."""
    import shutil

    from ckptdiff.formats import open_artifact
    from ckptdiff.formats.tf_bundle import read_bundle_index, shard_path
    from ckptdiff.storage import locate

    folder = tmp_path / "tf2_sharded"
    shutil.copytree(SAMPLES / "tf2_sharded", folder)
    with open_artifact(folder / "ckpt") as art:
        listed = {e.key for e in art.entries}
    index = read_bundle_index(locate(folder / "ckpt"), "ckpt")
    num_shards, stored = index.num_shards, index.stored
    parts = [e for e in stored if e.key not in listed]  # slices of partitioned tensors: TF lists only the whole
    if not parts:
        pytest.skip("this TensorFlow wrote no sliced tensor")
    shard = Path(shard_path(locate(folder / "ckpt"), parts[0].shard_id, num_shards))
    data = bytearray(shard.read_bytes())
    data[parts[0].offset + 5] ^= 0x04
    shard.write_bytes(bytes(data))
    proc = _run_process(["inspect", str(folder / "ckpt")], timeout=120)
    _assert_process_error(proc, "CRC32C")


def test_case_count_is_what_the_readme_says():
    assert len(MUTANTS) == SEEDS_PER_KIND * len(KINDS) * len(ARTIFACTS) == 1008
