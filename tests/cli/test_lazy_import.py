"""TensorFlow stays out of the process for --help, --version and inspect of non-TF artifacts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLES

_PROBE = """
import sys
from ckptdiff.cli import main
try:
    main({args!r})
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in ("tensorflow", "keras", "tf_keras") if m in sys.modules)
print("LOADED=" + ",".join(loaded), "CODE=" + str(code), file=sys.stderr)
"""


def _modules_loaded(args: list[str]) -> tuple[str, int]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    last = proc.stderr.strip().splitlines()[-1]
    loaded, code = last.split(" ")
    return loaded.removeprefix("LOADED="), int(code.removeprefix("CODE="))


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["inspect", "--help"],
        ["inspect", str(SAMPLES / "keras3/model.weights.h5")],
        ["inspect", str(SAMPLES / "keras2/model.h5"), "--format", "json"],
        ["inspect", str(SAMPLES / "keras3/model.keras")],
        ["inspect", str(SAMPLES / "tf2")],
        ["inspect", str(SAMPLES / "tf1/model.ckpt")],
        ["inspect", str(SAMPLES / "saved_model")],
    ],
    ids=lambda a: " ".join(p.replace(str(SAMPLES) + "/", "") for p in a),
)
def test_tensorflow_is_not_imported(args):
    loaded, code = _modules_loaded(args)
    assert code == 0
    assert loaded == ""


_HEAVY_PROBE = """
import sys
from ckptdiff.cli import main
try:
    main({args!r})
except SystemExit as exc:
    code = exc.code
heavy = ("tensorflow", "keras", "tf_keras", "ml_dtypes", "scipy", "ckptdiff.live", "ckptdiff.match.registry", "ckptdiff.commands.diff")
print("LOADED=" + ",".join(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("stats", [[], ["--no-stats"]], ids=["stats", "no-stats"])
def test_inspect_of_an_h5_imports_only_what_it_needs(stats):
    """ml_dtypes (0.6 s to import) only for a bfloat16 or float8 tensor; the check and diff machinery never."""
    args = ["inspect", str(SAMPLES / "keras3/model.weights.h5"), *stats]
    proc = subprocess.run(
        [sys.executable, "-c", _HEAVY_PROBE.format(args=args)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.stderr.strip().splitlines()[-1] == "LOADED="
