"""The published Keras/TensorFlow loading attacks (sample_checkpoints/attacks): scan names each technique,
and no command runs a payload, opens a file an artifact names, or connects anywhere.

The corpus is written by sample_checkpoints/make_attacks.py with the real savers, then edited where an
attack requires (TECHNIQUES.md says how each works). Payloads are benign: they would create
`$CKPTDIFF_MARKER_DIR/ckptdiff_marker_<name>`; probes are files under /tmp a loader would read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

ATTACKS = SAMPLES / "attacks"
MANIFEST = json.loads((ATTACKS / "MANIFEST.json").read_text())
FILES = sorted({e["file"] for e in MANIFEST})
PROBE = re.compile(r"ckptdiff_(vocab_probe|tfsm_probe|marker)")


def _entries(file: str) -> list[dict]:
    return [e for e in MANIFEST if e["file"] == file]


def _scan(run_cli, path: Path) -> tuple[int, list[dict]]:
    result = run_cli("scan", str(path), "--format", "json")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)["findings"]


def _names_technique(entry: dict, findings: list[dict]) -> bool:
    technique, kind = entry["technique"], entry["kind"]
    for f in findings:
        if f["severity"] == "info":
            continue
        text = " ".join((f["technique"], f["kind"], f["detail"], f["location"]))
        if technique in text:
            return True
        if kind == "amplification" and f["kind"] in ("amplification", "zip-bomb"):
            return True
        if kind == "nested" and "->" in f["location"]:
            return True
        if technique.startswith("keras.") and technique.rsplit(".", 1)[1] in text:
            return True
        if technique == "lambda-loss" and f["kind"] == "lambda" and "loss" in f["location"]:
            return True
    return False


@pytest.mark.parametrize("file", FILES)
def test_scan_names_every_technique(run_cli, file):
    code, findings = _scan(run_cli, ATTACKS / file)
    assert code == 1, findings
    for entry in _entries(file):
        assert _names_technique(entry, findings), (entry["technique"], [(f["technique"], f["kind"]) for f in findings])


def test_bare_20_mb_model_config_h5_is_an_amplification_finding(run_cli, tmp_path):
    """HDF5 attributes do not compress, so the corpus ships this one inside a .keras; written here bare."""
    sys.path.insert(0, str(SAMPLES))
    try:
        import make_attacks
    finally:
        sys.path.remove(str(SAMPLES))
    import h5py

    path = tmp_path / "bomb.h5"
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
    make_attacks.write_h5_model_config_bomb(str(path))
    code, findings = _scan(run_cli, path)
    assert code == 1 and any(f["technique"] == "h5-attribute-bomb" for f in findings)
    refused = run_cli("check", str(SAMPLES / "keras3/model.weights.h5"), "--model", str(path))
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1 and "refused" in refused.stderr


def _in_architecture(file: str) -> bool:
    """The attack sits in what `--model FILE` rebuilds: config.json or the model_config attribute."""
    return any(
        ("config.json" in e["where"] or "model_config" in e["where"])
        and "member model.weights.h5" not in e["where"]
        and "->" not in e["where"]  # a nested archive's config is not the outer architecture
        for e in _entries(file)
    )


@pytest.mark.requires_tf
@pytest.mark.parametrize("file", [f for f in FILES if f.endswith((".keras", ".h5"))])
def test_check_model_refuses_to_rebuild_hostile_architectures(run_cli, file):
    result = run_cli("check", str(SAMPLES / "keras3/model.weights.h5"), "--model", str(ATTACKS / file))
    if _in_architecture(file):
        assert result.exit_code == 2, result.stdout
    else:  # a benign architecture (the attack is in the weights): rebuilt, the weights never read
        assert result.exit_code in (0, 1, 2), result.stdout
    if result.exit_code == 2:
        assert result.stderr.startswith("ckptdiff: error: ") and result.stderr.count("\n") == 1, result.stderr


def test_the_audit_hook_wall_denies_files_and_sockets(tmp_path):
    """Python-level opens outside the installation and socket connections are refused during a rebuild."""
    import socket

    from ckptdiff.errors import UnsafeArtifact
    from ckptdiff.live.rebuild import _guarded

    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    with _guarded(), pytest.raises(UnsafeArtifact, match="tried to open"):
        outside.read_text()
    with _guarded(), pytest.raises(UnsafeArtifact, match="socket"):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    assert outside.read_text() == "x"  # outside the block nothing is denied


DRIVER = textwrap.dedent(
    """
    import json, sys
    from ckptdiff.cli import main
    samples, attacks, files = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    codes = {}
    def run(*args):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        codes[" ".join(args)] = code
    for name in files:
        path = f"{attacks}/{name}"
        run("inspect", path, "--format", "json")
        run("inspect", path, "--verify", "--no-stats", "--format", "json")
        run("scan", path, "--format", "json")
        run("diff", path, f"{samples}/keras3/model.weights.h5", "--format", "json")
        run("check", path, "--model", f"{samples}/models.py:build_keras3", "--format", "json")
        if name.endswith((".keras", ".h5")):
            run("check", f"{samples}/keras3/model.weights.h5", "--model", path, "--format", "json")
    print("CODES" + json.dumps(codes), file=sys.stderr)
    """
)


@pytest.mark.requires_tf
def test_no_command_runs_a_payload_opens_a_named_file_or_connects(tmp_path):
    """Every command on every attack file, in one process traced by strace: the system calls are the oracle."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (make test installs it with apt-get)")
    markers = tmp_path / "markers"
    markers.mkdir()
    log = tmp_path / "strace.log"
    env = {**os.environ, "CKPTDIFF_MARKER_DIR": str(markers), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [
        strace,
        "-f",
        "-qq",
        "-e",
        "trace=open,openat,openat2,connect,execve",
        "-o",
        str(log),
        sys.executable,
        "-c",
        DRIVER,
        str(SAMPLES),
        str(ATTACKS),
        json.dumps(FILES),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert "CODES" in proc.stderr, proc.stderr[-3000:]
    codes = json.loads(proc.stderr.rsplit("CODES", 1)[1].splitlines()[0])
    assert set(codes.values()) <= {0, 1, 2}, codes
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    calls = log.read_text().splitlines()
    opened = [line for line in calls if "open" in line and PROBE.search(line)]
    assert opened == [], opened[:5]
    connects = [line for line in calls if "connect(" in line and ("AF_INET" in line or "AF_INET6" in line)]
    assert connects == [], connects[:5]
    # The interpreter itself, and `uname -p` that Python's platform module runs while TensorFlow
    # imports; nothing else (a payload would start a shell).
    execs = [
        line for line in calls if "execve(" in line and not re.search(r'execve\("[^"]*/(python[0-9.]*|uname)"', line)
    ]
    assert execs == [], execs[:5]
    assert list(markers.iterdir()) == [] and not list(Path("/tmp").glob("ckptdiff_marker_*"))
