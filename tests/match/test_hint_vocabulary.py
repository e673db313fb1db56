"""Each loader's hints in its own vocabulary: no TF1 assignment maps for Keras loads, no renames across classes."""

from __future__ import annotations

import json

import pytest

from ckptdiff.match.hints import crosses_classes
from tests.conftest import SAMPLES


def test_crosses_classes():
    assert crosses_classes("conv2d", "batch_normalization")
    assert crosses_classes("layers/conv2d_3", "layers/dense_1")
    assert not crosses_classes("dense_1", "classifier")  # a chosen name says nothing about the class
    assert not crosses_classes("dense_1", "dense_4")  # numbering drift
    assert not crosses_classes("another_scope", "model_scope")


def _hints(run_cli, artifact, model, *extra):
    result = run_cli("check", str(artifact), "--model", model, "--format", "json", *extra)
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)["hints"]


@pytest.mark.requires_tf
def test_no_rename_between_layers_of_different_classes(run_cli, tmp_path, tf):
    """A Conv2D file checked against a BatchNormalization model once gave `renamed: conv2d/ -> batch_normalization/`."""
    import keras

    conv = keras.Sequential(
        [keras.Input((4, 4, 3)), keras.layers.Conv2D(8, 1), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    conv.save_weights(tmp_path / "conv.weights.h5")
    factory = tmp_path / "bn.py"
    factory.write_text(
        "import keras\n"
        "def model():\n"
        "    return keras.Sequential([keras.Input((4, 4, 8)), keras.layers.BatchNormalization(),"
        " keras.layers.Flatten(), keras.layers.Dense(2)])\n"
    )
    hints = _hints(run_cli, tmp_path / "conv.weights.h5", f"{factory}:model")
    assert not any("batch_normalization" in h["message"] and "conv2d" in h["message"] for h in hints), hints
    assert all(h["assignment_map"] is None and h["rename"] is None for h in hints)


@pytest.mark.requires_tf
def test_keras3_and_h5_hints_carry_no_tf1_maps(run_cli):
    """The renamed-layer scenarios: the H5 and Keras 3 loads name layers and containers, not get_variable scopes."""
    for artifact, model, extra in (
        ("renamed_layer/legacy.h5", "renamed_tf_keras_mlp", ("--loader", "h5-name")),
        ("renamed_layer/model.weights.h5", "renamed_keras3_mlp", ()),
    ):
        hints = _hints(
            run_cli, SAMPLES / "scenarios" / artifact, f"sample_checkpoints/scenario_models.py:{model}", *extra
        )
        assert all(h["assignment_map"] is None and h["rename"] is None for h in hints), (artifact, hints)
    tf1 = _hints(
        run_cli, SAMPLES / "scenarios/scope_mistake/model.ckpt", "sample_checkpoints/scenario_models.py:tf1_module"
    )
    assert tf1[0]["assignment_map"] == {"another_scope/": "model_scope/"}  # name-based: the TF1 remedy stays
