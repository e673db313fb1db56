"""A live Keras 3 model with LoRA enabled on a Dense layer: its saver writes the merged kernel (a tensor, not a
variable), and its loader assigns that to the base kernel. `check` maps it so (before, the layer's container was
dropped: a head of another size said OK, and a faithful file said 'wrong layer'; found by a review). The oracle is
Keras 3's own load_weights."""

from __future__ import annotations

import numpy as np
import pytest

FACTORIES = """
import keras


def _model(units, lora):
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="a"), keras.layers.Dense(units, name="b")])
    if lora:
        m.get_layer("b").enable_lora(2)
    return m


def saved():
    return _model(5, lora=False)


def lora_same():
    return _model(5, lora=True)


def lora_other_head():
    return _model(3, lora=True)
"""


@pytest.fixture(scope="module")
def setup(tf, tmp_path_factory):
    import importlib.util

    root = tmp_path_factory.mktemp("lora")
    (root / "factories.py").write_text(FACTORIES)
    spec = importlib.util.spec_from_file_location("ckptdiff_lora_factories", root / "factories.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.saved()
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.standard_normal(tuple(v.shape)).astype("float32"))
    path = root / "model.weights.h5"
    model.save_weights(str(path))
    return root, module, path, {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers}


@pytest.mark.requires_tf
def test_lora_layer_restored_from_its_own_container(run_cli, setup):
    root, module, path, saved = setup
    live = module.lora_same()
    live.load_weights(str(path))  # the oracle: every layer receives its own saved values
    np.testing.assert_array_equal(live.get_layer("b")._kernel.numpy(), saved["b"][0])
    np.testing.assert_array_equal(live.get_layer("a").kernel.numpy(), saved["a"][0])
    result = run_cli("check", str(path), "--model", f"{root / 'factories.py'}:lora_same", "-q")
    assert result.exit_code == 0, result.stdout
    assert "wrong layer" not in result.stdout


@pytest.mark.requires_tf
def test_lora_head_of_another_size_fails(run_cli, setup):
    root, module, path, _ = setup
    with pytest.raises(ValueError):  # the oracle: Keras refuses the (8, 5) kernel for the (8, 3) one
        module.lora_other_head().load_weights(str(path))
    result = run_cli("check", str(path), "--model", f"{root / 'factories.py'}:lora_other_head", "-q")
    assert result.exit_code == 1, result.stdout
    assert "shape_mismatch" in result.stdout
