"""Coverage-guided fuzzing of the readers with atheris (optional; not collected by pytest).

    pip install atheris
    python tests/fuzz/atheris_target.py -atheris_runs=20000 [corpus_dir]

The first byte of each input picks what the rest becomes: a V2 index beside a healthy data shard, a
legacy H5, a Keras 3 `.weights.h5`, a `.keras` archive, a saved_model.pb beside healthy variables. Each
input goes through inspect --verify and scan in-process; the target fails on an exit status outside
{0, 1, 2}, an exit 2 without its one-line message, a traceback or an internal error. Seeds come from
sample_checkpoints/ when no corpus is given.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["ckptdiff"]):
    from ckptdiff.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_checkpoints"
WORK = Path(tempfile.mkdtemp(prefix="ckptdiff_atheris_"))
KINDS = ("index", "legacy-h5", "weights-h5", "keras", "saved-model")


def _lay_out(kind: str, payload: bytes) -> Path:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    if kind == "index":
        shutil.copy(SAMPLES / "tf1" / "model.ckpt.data-00000-of-00001", WORK / "model.ckpt.data-00000-of-00001")
        (WORK / "model.ckpt.index").write_bytes(payload)
        return WORK / "model.ckpt"
    if kind == "saved-model":
        shutil.copytree(SAMPLES / "saved_model" / "variables", WORK / "variables")
        (WORK / "saved_model.pb").write_bytes(payload)
        return WORK
    name = {"legacy-h5": "model.h5", "weights-h5": "model.weights.h5", "keras": "model.keras"}[kind]
    (WORK / name).write_bytes(payload)
    return WORK / name


def test_one_input(data: bytes) -> None:
    if not data:
        return
    path = _lay_out(KINDS[data[0] % len(KINDS)], data[1:])
    for args in (["inspect", "--verify", str(path)], ["scan", str(path)]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
        text = err.getvalue()
        if code not in (0, 1, 2) or "Traceback" in text or "internal error" in text:
            raise RuntimeError(f"ckptdiff {' '.join(args)}: exit {code}: {text}")
        if code == 2 and (len(text.strip().splitlines()) != 1 or not text.startswith("ckptdiff: error: ")):
            raise RuntimeError(f"ckptdiff {' '.join(args)}: exit 2 without one error line: {text!r}")


def _seed_corpus() -> str:
    corpus = Path(tempfile.mkdtemp(prefix="ckptdiff_corpus_"))
    seeds = {
        "index": SAMPLES / "tf1" / "model.ckpt.index",
        "legacy-h5": SAMPLES / "keras2" / "model.h5",
        "weights-h5": SAMPLES / "keras3" / "model.weights.h5",
        "keras": SAMPLES / "keras3" / "model.keras",
        "saved-model": SAMPLES / "saved_model" / "saved_model.pb",
    }
    for i, kind in enumerate(KINDS):
        if seeds[kind].exists():
            (corpus / kind).write_bytes(bytes([i]) + seeds[kind].read_bytes())
    return str(corpus)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    argv = sys.argv if any(not a.startswith("-") for a in sys.argv[1:]) else sys.argv + [_seed_corpus()]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
