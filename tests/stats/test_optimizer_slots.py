"""Optimizer slots as evidence, on the fixtures of make_history_samples.py and the real-world H5 files.

Oracle: the real Keras 3 loader. The model is rebuilt by its factory, an Adam is built on its trainable
variables as `fit` builds it, the artifact is restored into both (load_weights, or tf.train.Checkpoint
read), and Keras' own slot lookup (`optimizer._momentums[optimizer._get_variable_index(v)]`) says, variable
by variable, whether its slots moved. ckptdiff's claims must agree with it exactly.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

from ckptdiff.commands.inspect import inspect_artifact
from ckptdiff.formats import open_artifact
from tests.conftest import SAMPLES

HISTORY = SAMPLES / "history"
REALWORLD = SAMPLES.parent.parent / "shared" / "realworld"
RECEIVED = "its optimizer slots moved"
NONE = "no gradient reached it"
REINITIALISED = "yet its values are a fresh draw: re-initialised after it was trained"
TOO_SMALL = "yet its values fit a fresh draw: too few values to tell"


def received(init) -> bool:
    """The slots' testimony of updates is in the evidence, and the verdict follows it: `trained`, unless the values
    fit a fresh draw (a lightly trained kernel, or one re-initialised after training): then `fresh` with the
    contradiction said, or `inconclusive` below 1,024 values."""
    if isinstance(init, dict):
        evidence, verdict, basis = init["evidence"], init["verdict"], init["basis"]
    else:
        evidence, verdict, basis = init.evidence, init.verdict, init.basis
    said = RECEIVED in evidence or "every slot of its shape moved" in evidence
    if verdict == "fresh":
        return said and REINITIALISED in evidence and "distribution" in basis
    if verdict == "inconclusive":
        return said and TOO_SMALL in evidence
    return said and verdict == "trained"


def _factories():
    spec = importlib.util.spec_from_file_location("history_models", SAMPLES / "history_models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("history_models", module)
    spec.loader.exec_module(module)
    return module


def _fresh_models():
    spec = importlib.util.spec_from_file_location("fresh_models_for_slots", SAMPLES / "fresh_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def keras_slot_oracle(model, restore) -> dict[str, bool]:
    """variable path -> whether Keras' own optimizer, after the real restore, holds non-zero slots for it."""
    import keras

    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    restore(model, optimizer)
    moved = {}
    for v in model.trainable_variables:
        i = optimizer._get_variable_index(v)
        slots = [np.asarray(optimizer._momentums[i]), np.asarray(optimizer._velocities[i])]
        moved[v.path] = any(np.any(s != 0) for s in slots)
    return moved


def claims(path: str) -> dict[str, dict]:
    """model_path -> the init object ckptdiff inspect gives each model tensor."""
    with open_artifact(path) as artifact:
        report = inspect_artifact(artifact, group="model")
    return {row.model_path: {"verdict": row.init.verdict, **row.init.__dict__} for row in report.tensors}


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((HISTORY / "EXPECTED.json").read_text())


def _by_layer_index(model) -> dict[str, str]:
    """`layer/vars/i` -> Keras variable path, in each layer's variable order (what `.weights.h5` stores)."""
    out = {}
    for layer in model.layers:
        for i, v in enumerate(layer.weights):
            out[f"{layer.name}/vars/{i}"] = v.path
    return out


@pytest.mark.parametrize("artifact", ["model.weights.h5", "model.keras"])
def test_stop_gradient_keras_files_agree_with_keras(artifact, expected):
    factories = _factories()
    path = str(HISTORY / "stop_gradient" / artifact)
    model = factories.stop_gradient_model()
    oracle = keras_slot_oracle(model, lambda m, o: _load_keras3(m, o, path))
    names = _by_layer_index(model)
    got = claims(path)
    assert set(oracle) == {names[k] for k in got if names[k] in oracle}
    for model_path, init in got.items():
        variable = names[model_path]
        if variable not in oracle:
            continue
        if oracle[variable]:
            assert received(init), (variable, init)
        else:
            assert NONE in init["evidence"], (variable, init)
            assert init["verdict"] == "fresh", (variable, init)
            assert "optimizer-slots" in init["basis"]
    cut = {names[k] for k, init in got.items() if NONE in init["evidence"]}
    assert cut == {v for v, moved in oracle.items() if not moved} == set(expected["stop_gradient"]["never_changed"])


def _load_keras3(model, optimizer, path: str) -> None:
    model.optimizer = optimizer
    model.load_weights(path)


def test_stop_gradient_tf_checkpoint_agrees_with_keras(expected):
    import tensorflow as tf

    factories = _factories()
    prefix = str(HISTORY / "stop_gradient" / "ckpt" / "ckpt")
    model = factories.stop_gradient_model()

    def restore(m, o):
        tf.train.Checkpoint(model=m, optimizer=o).read(prefix).assert_existing_objects_matched()

    oracle = keras_slot_oracle(model, restore)
    with open_artifact(prefix) as artifact:
        report = inspect_artifact(artifact, group="model")
        by_key = {row.key: row for row in report.tensors}
        reader = tf.train.load_checkpoint(prefix)
        # Match each Keras variable to its checkpoint key by value: TF's reader is the oracle of what is stored.
        for v in model.trainable_variables:
            [key] = [
                k for k in by_key if np.array_equal(reader.get_tensor(k), v.numpy()) and by_key[k].shape == v.shape
            ][:1] or [None]
            assert key is not None, v.path
            init = by_key[key].init
            if oracle[v.path]:
                assert received(init) and RECEIVED in init.evidence, (v.path, init)
            else:
                assert init.verdict == "fresh" and NONE in init.evidence, (v.path, init)
    assert {p for p, moved in oracle.items() if not moved} == set(expected["stop_gradient"]["never_changed"])


def test_rebound_loop_last_checkpoint_agrees_with_keras(expected):
    import tensorflow as tf

    fresh_models = _fresh_models()
    prefix = str(HISTORY / "rebound_loop" / "ckpt-4")
    model = fresh_models.build_mlp(fresh_models.TRAIN_SEED)

    def restore(m, o):
        tf.train.Checkpoint(model=m, optimizer=o).read(prefix).assert_existing_objects_matched()

    oracle = keras_slot_oracle(model, restore)
    never = {p.removeprefix(f"{model.name}/") for p, moved in oracle.items() if not moved}
    assert never == set(expected["rebound_loop"]["never_changed"])
    with open_artifact(prefix) as artifact:
        report = inspect_artifact(artifact, group="model")
    reader = tf.train.load_checkpoint(prefix)
    for v in model.trainable_variables:
        rows = [r for r in report.tensors if r.shape == v.shape and np.array_equal(reader.get_tensor(r.key), v.numpy())]
        assert len(rows) == 1, v.path
        init = rows[0].init
        assert ("optimizer-slots" in init.basis) and ((RECEIVED in init.evidence) == oracle[v.path]), (v.path, init)
    [hidden] = [r for r in report.tensors if r.model_path.endswith("_operations/3/_kernel")]
    assert hidden.init.verdict == "fresh", hidden.init


def test_frozen_layer_in_keras_files_has_no_slots_by_shape():
    """epochs/: the frozen layer is out of the optimizer (Keras' own trainable_variables): a bare
    `.weights.h5` has no model order, so its kernel (a unique shape) gets no slots and its bias shares a shape."""
    factories = _factories()
    model = factories.epochs_model()
    trainable = {v.path for v in model.trainable_variables}
    assert "frozen/kernel" not in trainable
    got = claims(str(HISTORY / "epochs" / "weights.04.weights.h5"))
    names = _by_layer_index(model)
    for model_path, init in got.items():
        variable = names[model_path]
        if variable.endswith("kernel") and variable in trainable:
            assert RECEIVED in init["evidence"], (variable, init)
        if variable == "frozen/kernel":
            assert "optimizer" not in init["evidence"], init
            assert init["verdict"] == "fresh", init


@pytest.mark.skipif(not REALWORLD.is_dir(), reason="../shared/realworld is absent")
def test_keras2_face_slots_in_keras_2_0_order():
    """Keras 2.0.5 (`Variable_N` slot names): every trainable weight of the trained face model is tied to
    moved slots, and no BatchNorm moving statistic to any (h5py is the oracle of the stored shapes)."""
    import h5py

    path = REALWORLD / "keras2_face" / "gender_mini_XCEPTION.21-0.95.hdf5"
    got = claims(str(path))
    moving = {k for k in got if "moving_" in k}
    with h5py.File(path) as f:
        stored = len(f["optimizer_weights"].attrs["weight_names"])
    trainable = [k for k in got if k not in moving]
    assert stored == 1 + 2 * len(trainable)  # [iterations] + ms + vs
    for key in trainable:
        assert RECEIVED in got[key]["evidence"] and got[key]["verdict"] == "trained", (key, got[key])
    for key in moving:
        assert "optimizer" not in got[key]["evidence"], got[key]


LEGACY_H5 = {
    "tf_keras (Adam/m/dense/kernel:0)": SAMPLES / "keras2" / "model.h5",
    "Keras 3 (adam/mlp_dense_kernel_momentum)": SAMPLES / "keras3" / "legacy.h5",
    "Keras 3.1.1, real-world": REALWORLD / "keras3_mnist" / "mnist_model.h5",
}


@pytest.mark.parametrize("label", list(LEGACY_H5))
def test_legacy_h5_slot_names_tie_each_weight_exactly(label):
    """Every trainable weight is tied by name (not by shape) to moved slots; h5py is the oracle that the file
    holds two non-constant slots per trainable weight (an Adam that stepped)."""
    path = LEGACY_H5[label]
    if not path.exists():
        pytest.skip(f"{path} is absent")
    import h5py

    with h5py.File(path) as f:
        slots = []
        f["optimizer_weights"].visititems(lambda n, o: slots.append(o[()]) if isinstance(o, h5py.Dataset) else None)
    moments = [s for s in slots if s.ndim > 0]
    got = claims(str(path))
    trainable = [k for k in got if "moving_" not in k]
    assert len(moments) == 2 * len(trainable)
    assert all(s.min() != s.max() for s in moments)
    for key in trainable:
        assert got[key]["evidence"].endswith("its optimizer slots moved: it received gradients"), (key, got[key])
