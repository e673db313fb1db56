"""A live Keras 3 model with LoRA enabled on a Dense layer: its saver writes the merged kernel (a tensor, not a
variable), and its loader assigns that to the base kernel. `check` maps it so (before, the layer's container was
dropped: a head of another size said OK, and a faithful file said 'wrong layer'; found by a review). The oracle is
Keras 3's own load_weights."""

from __future__ import annotations

import numpy as np
import pytest

from tests.match.keras3_saved import save_with_distinct_values

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
    root = tmp_path_factory.mktemp("lora")
    return (root, *save_with_distinct_values(root, FACTORIES, "ckptdiff_lora_factories"))


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
