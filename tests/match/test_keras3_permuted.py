"""Layers of one class built in another order than saved (`b, a` instead of `a, b`): Keras 3 load_weights pairs
containers by class rank, so model layer `b` receives file layer `a`'s weights with no error. The file records each
container's layer name, so `check` calls those matches `misplaced` (it said OK, found by a review). Layers merely
renamed (names the file lacks) are not a permutation. The oracle is Keras 3's own load_weights."""

from __future__ import annotations

import numpy as np
import pytest

from tests.match.keras3_saved import save_with_distinct_values

FACTORIES = """
import keras


def _model(names):
    keras.utils.set_random_seed(4)
    dense = [keras.layers.Dense(8, name=n) for n in names]
    return keras.Sequential([keras.Input((8,)), *dense, keras.layers.Dense(3, name="head")])


def saved():
    return _model(("a", "b"))


def permuted():
    return _model(("b", "a"))


def renamed():
    return _model(("x", "y"))
"""


@pytest.fixture(scope="module")
def setup(tf, tmp_path_factory):
    root = tmp_path_factory.mktemp("permuted")
    return (root, *save_with_distinct_values(root, FACTORIES, "ckptdiff_permuted_factories"))


@pytest.mark.requires_tf
def test_permuted_layers_are_misplaced(run_cli, setup):
    import json

    root, module, path, saved = setup
    live = module.permuted()
    live.load_weights(str(path))  # the oracle: model layer b receives file layer a, and a receives b
    np.testing.assert_array_equal(live.get_layer("b").kernel.numpy(), saved["a"][0])
    np.testing.assert_array_equal(live.get_layer("a").kernel.numpy(), saved["b"][0])
    result = run_cli("check", str(path), "--model", f"{root / 'factories.py'}:permuted", "--format", "json", "-q")
    assert result.exit_code == 1, result.stdout
    misplaced = {v["path"] for v in json.loads(result.stdout)["variables"] if v["misplaced"]}
    assert misplaced == {"a/kernel", "a/bias", "b/kernel", "b/bias"}


@pytest.mark.requires_tf
def test_renamed_layers_and_the_saved_order_are_ok(run_cli, setup):
    root, module, path, saved = setup
    live = module.renamed()
    live.load_weights(str(path))  # by class rank: x receives a, y receives b, as saved
    np.testing.assert_array_equal(live.get_layer("x").kernel.numpy(), saved["a"][0])
    for factory in ("saved", "renamed"):
        result = run_cli("check", str(path), "--model", f"{root / 'factories.py'}:{factory}", "-q")
        assert result.exit_code == 0, (factory, result.stdout)
