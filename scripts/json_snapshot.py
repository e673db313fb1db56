"""Run every command with --format json on every sample artifact and store the outputs, for refactors.

`python scripts/json_snapshot.py OUT_DIR` writes one file per invocation (stdout, then the exit
status); `python scripts/json_snapshot.py --compare A B` reports every invocation whose output
differs between two snapshot directories and exits 1 if any does. A refactor that keeps behaviour
produces byte-identical snapshots. Invocations run in one process through click's CliRunner (one
TensorFlow import); the live models come from the restore scenarios of tests/match/oracle.py.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
S = "sample_checkpoints"

ARTIFACTS = (
    f"{S}/tf2",
    f"{S}/tf2/ckpt-1",
    f"{S}/tf2_sharded/ckpt",
    f"{S}/tf1/model.ckpt",
    f"{S}/tf1_v1/model.ckpt",
    f"{S}/saved_model",
    f"{S}/keras2/model.h5",
    f"{S}/keras2/weights_only.h5",
    f"{S}/keras2/tf_weights/ckpt",
    f"{S}/keras3/model.weights.h5",
    f"{S}/keras3/model.keras",
    f"{S}/keras3/legacy.h5",
    f"{S}/fresh/bn_frozen_stats/ckpt",
    f"{S}/fresh/before_training/ckpt",
    f"{S}/fresh/nan/ckpt",
    f"{S}/fresh/rebinding/ckpt",
    f"{S}/diff/module/ckpt",
    f"{S}/diff/module/saved_model",
    f"{S}/diff/keras/legacy.h5",
    f"{S}/diff/keras/model.keras",
    f"{S}/scenarios/scope_mistake/model.ckpt",
    f"{S}/scenarios/renamed_layer/legacy.h5",
    f"{S}/scenarios/renamed_layer/model.weights.h5",
    f"{S}/scenarios/class_count/model.weights.h5",
)
SCAN_ONLY = (
    f"{S}/hostile/zip_tricks.keras",
    f"{S}/hostile/foreign_module.keras",
    f"{S}/hostile/lambda_legacy.h5",
    f"{S}/hostile/lambda.keras",
    f"{S}/hostile/write_file_saved_model",
)
DIFFS = (
    (f"{S}/diff/frozen/ckpt-1", f"{S}/diff/frozen/ckpt-2"),
    (f"{S}/diff/module/ckpt", f"{S}/diff/module/saved_model"),
    (f"{S}/diff/keras/legacy.h5", f"{S}/diff/keras/model.keras"),
    (f"{S}/diff/nan/a", f"{S}/diff/nan/b"),
    (f"{S}/tf2/ckpt-1", f"{S}/tf2/ckpt-2"),
    (f"{S}/keras3/model.weights.h5", f"{S}/keras3/model.keras"),
)


def invocations() -> list[list[str]]:
    from tests.match.oracle import SCENARIOS

    runs: list[list[str]] = []
    for art in ARTIFACTS:
        runs.append(["inspect", art, "--format", "json"])
        runs.append(["inspect", art, "--format", "json", "--verify", "--no-stats"])
    for art in ARTIFACTS + SCAN_ONLY:
        runs.append(["scan", art, "--format", "json"])
    for a, b in DIFFS:
        runs.append(["diff", a, b, "--format", "json"])
        runs.append(["diff", a, b, "--format", "json", "--verify"])
    seen = set()
    for s in SCENARIOS.values():
        if (s.artifact, s.model) in seen:
            continue
        seen.add((s.artifact, s.model))
        runs.append(["check", s.artifact, "--model", s.model, "--format", "json"])
        runs.append(["check", s.artifact, "--model", s.model, "--format", "junit"])
    runs.append(["check", f"{S}/tf2", "--model", f"{S}/models.py:build_keras3", "--format", "json", "--verify"])
    return runs


def name_of(args: list[str]) -> str:
    return args[0] + "-" + hashlib.sha256("\0".join(args).encode()).hexdigest()[:16] + ".txt"


def snapshot(out: Path) -> None:
    import os

    from click.testing import CliRunner

    from ckptdiff.cli import cli

    os.chdir(ROOT)
    out.mkdir(parents=True, exist_ok=True)
    runner = CliRunner()
    for args in invocations():
        result = runner.invoke(cli, args, catch_exceptions=True)
        stdout = result.stdout_bytes.decode()
        tail = f"\n[exit {result.exit_code}]" + (
            f" {type(result.exception).__name__}"
            if result.exception and not isinstance(result.exception, SystemExit)
            else ""
        )
        (out / name_of(args)).write_text(" ".join(args) + "\n" + stdout + tail + "\n")
    print(f"{len(invocations())} invocations written to {out}")


def compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    bad = 0
    for n in names:
        pa, pb = a / n, b / n
        if not pa.exists() or not pb.exists() or pa.read_bytes() != pb.read_bytes():
            bad += 1
            first = (pa if pa.exists() else pb).read_text().splitlines()[0]
            print(f"differs: {first}")
    print(f"{len(names) - bad} identical, {bad} different")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    snapshot(Path(sys.argv[1]))
