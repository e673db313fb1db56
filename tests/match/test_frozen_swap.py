"""A TF2 checkpoint saved with layer `a` frozen, restored into the same model with `c` frozen instead: each variable
is reached by the model's path and by the optimizer's `_trainable_variables` list, and the two disagree.
TensorFlow binds each checkpoint object to the first live object that reaches it (the optimizer's shorter path),
so `c` keeps its fresh values and `a`, `b` receive other layers' values. The oracle is the real restore, variable
by variable (sample_checkpoints/make_frozen_samples.py wrote the file with distinct values per variable)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import SAMPLES, load_module

ARTIFACT = str(SAMPLES / "frozen_swap" / "ckpt")
FACTORIES = str(SAMPLES / "frozen_models.py")


def _models():
    return load_module(FACTORIES, "ckptdiff_frozen_models")


@pytest.fixture(scope="module")
def oracle(tf) -> dict[str, str | None]:
    """Layer variable path -> the checkpoint key whose value the real restore left in it (None: its fresh value)."""
    checkpoint = _models().frozen_c_checkpoint()
    model = checkpoint.model
    fresh = {v.path: np.array(v.numpy()) for v in model.weights}
    checkpoint.restore(ARTIFACT).expect_partial()
    reader = tf.train.load_checkpoint(ARTIFACT)
    stored = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k.endswith("VARIABLE_VALUE")}
    out: dict[str, str | None] = {}
    for v in model.weights:
        value = v.numpy()
        if np.array_equal(value, fresh[v.path]):  # stored weights are random normal draws, never a fresh value
            out[v.path.removeprefix("mlp/")] = None
            continue
        [key] = [k for k, t in stored.items() if t.shape == value.shape and np.array_equal(t, value)]
        out[v.path.removeprefix("mlp/")] = key
    return out


@pytest.mark.requires_tf
def test_check_names_what_the_real_restore_leaves(run_cli, oracle):
    result = run_cli("check", ARTIFACT, "--model", f"{FACTORIES}:frozen_c_checkpoint", "--format", "json", "-q")
    assert result.exit_code == 1, result.stdout
    doc = json.loads(result.stdout)
    layers = {v["path"]: v for v in doc["variables"] if v["path"].split("/")[0] in ("a", "b", "c")}
    assert set(layers) == set(oracle)
    for path, truth in oracle.items():
        v = layers[path]
        if truth is None:
            assert v["status"] == "missing", (path, v)
        else:
            assert v["status"] == "matched" and v["key"] == truth, (path, v, truth)
    # Every value another path would have given differently is a finding, not a clean match.
    assert {p for p, v in layers.items() if v["misplaced"]} == {p for p, t in oracle.items() if t is not None}
    assert oracle["c/kernel"] is None and oracle["a/kernel"] is not None  # the scenario as described


@pytest.mark.requires_tf
def test_restored_as_saved_is_ok(run_cli):
    result = run_cli("check", ARTIFACT, "--model", f"{FACTORIES}:frozen_a_checkpoint", "-q")
    assert result.exit_code == 0, result.stdout
