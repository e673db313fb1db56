"""Tables fit a terminal by wrapping long keys at `/`; --wide and pipes keep them on one line."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from ckptdiff.report.fit import fit_rows, wrap_path
from tests.conftest import ROOT, SAMPLES

KEY = "model/_functional/_operations/2/moving_mean/.ATTRIBUTES/VARIABLE_VALUE"


def test_wrap_path_breaks_after_slashes_and_keeps_every_character():
    wrapped = wrap_path(KEY, 20)
    assert all(len(line) <= 20 for line in wrapped.splitlines())  # MIN_COLUMN is 12
    assert wrapped.replace("\n", "") == KEY
    assert wrapped.splitlines()[0] == "model/_functional/"


def test_fit_rows_only_wraps_what_it_must():
    rows = [[KEY, "32", "float32"]]
    assert fit_rows(["key", "shape", "dtype"], rows, None, (0,)) == rows
    assert fit_rows(["key", "shape", "dtype"], rows, 200, (0,)) == rows
    [[key, shape, dtype]] = fit_rows(["key", "shape", "dtype"], rows, 40, (0,))
    assert max(len(line) for line in key.splitlines()) <= 40 - len("shape  dtype   ") and (shape, dtype) == (
        "32",
        "float32",
    )


def _on_a_terminal(*args: str, columns: int) -> str:
    """Run the installed command with a pseudo-terminal as stdout, as a user at an 80-column terminal."""
    exe = os.path.join(os.path.dirname(sys.executable), "ckptdiff")
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns)}
    proc = subprocess.run([exe, *args], stdout=follower, stderr=subprocess.PIPE, env=env, cwd=ROOT, timeout=120)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.returncode == 0, proc.stderr
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_inspect_table_fits_an_80_column_terminal():
    text = _on_a_terminal("inspect", str(SAMPLES / "tf2"), "--no-stats", columns=80)
    table = text.split("\n\n")[1]
    assert max(len(line) for line in table.splitlines()) <= 80
    wide = _on_a_terminal("inspect", str(SAMPLES / "tf2"), "--no-stats", "--wide", columns=80)
    assert max(len(line) for line in wide.split("\n\n")[1].splitlines()) > 80
    assert KEY in wide


def test_piped_output_keeps_keys_whole(run_cli):
    result = run_cli("inspect", str(SAMPLES / "tf2"), "--no-stats")
    assert KEY in result.stdout


def test_legend_explains_the_question_mark(run_cli):
    result = run_cli("inspect", str(SAMPLES / "keras3/model.weights.h5"))
    assert "? = inconclusive" in result.stdout
