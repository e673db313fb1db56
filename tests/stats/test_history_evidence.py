"""The run's earliest checkpoint as evidence in `inspect`: claims checked against TensorFlow's reader and h5py."""

from __future__ import annotations

import h5py
import numpy as np

from ckptdiff.commands.inspect import inspect_artifact
from ckptdiff.formats import open_artifact
from tests.conftest import SAMPLES

HISTORY = SAMPLES / "history"


def verdicts(path: str) -> dict[str, object]:
    with open_artifact(path) as artifact:
        return {row.key: row.init for row in inspect_artifact(artifact, group="model").tensors}


def test_checkpoint_manager_prefix_compared_with_ckpt_1():
    import tensorflow as tf

    first, last = (tf.train.load_checkpoint(str(HISTORY / "rebound_loop" / f"ckpt-{i}")) for i in (1, 4))
    got = verdicts(str(HISTORY / "rebound_loop" / "ckpt-4"))
    assert got
    for key, init in got.items():
        changed = not np.array_equal(first.get_tensor(key), last.get_tensor(key))
        assert "history" in init.basis, (key, init)
        if changed:
            assert "changed since ckpt-1" in init.evidence and init.verdict == "trained", (key, init)
        else:
            assert "bit-identical in ckpt-1" in init.evidence and init.verdict == "fresh", (key, init)
    assert sum("bit-identical" in i.evidence for i in got.values()) == 1  # the rebound dense_1/kernel


def test_per_epoch_file_compared_with_epoch_1():
    run = HISTORY / "epochs"
    got = verdicts(str(run / "weights.04.weights.h5"))
    with h5py.File(run / "weights.01.weights.h5") as a, h5py.File(run / "weights.04.weights.h5") as b:
        for key, init in got.items():
            changed = not np.array_equal(a[key][()], b[key][()])
            assert ("changed since weights.01" in init.evidence) == changed, (key, init)
            assert init.verdict == ("trained" if changed else "fresh"), (key, init)


def test_the_earliest_checkpoint_has_no_history():
    for init in verdicts(str(HISTORY / "epochs" / "weights.01.weights.h5")).values():
        assert "history" not in init.basis
