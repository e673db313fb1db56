"""Two legacy H5 weight files holding the same values under the same layer names, stored in another layer order:
aligned by name every pair is the same, but tf_keras' default `load_weights` (by topological order) restores them
into different layers, so `diff` says DIFFERENT (it said IDENTICAL, found by a review). The oracle is that loader."""

from __future__ import annotations

import numpy as np
import pytest


def _model(tf_keras, order: tuple[str, ...]):
    layers = [tf_keras.layers.Dense(8, name=n) for n in order]
    return tf_keras.Sequential([tf_keras.Input((8,)), *layers], name="mlp")


@pytest.fixture(scope="module")
def files(tf, tmp_path_factory):
    import tf_keras

    root = tmp_path_factory.mktemp("order")
    rng = np.random.default_rng(1)
    values = {
        n: [rng.standard_normal((8, 8)).astype("float32"), rng.standard_normal(8).astype("float32")] for n in "abc"
    }
    paths = {}
    for order in (("a", "b", "c"), ("b", "a", "c")):
        model = _model(tf_keras, order)
        for name in order:
            model.get_layer(name).set_weights(values[name])
        paths[order] = root / f"{''.join(order)}.h5"
        model.save_weights(str(paths[order]))
    return paths, values


@pytest.mark.requires_tf
def test_reordered_layers_are_different_as_the_default_loader_restores_them(run_cli, files):
    import tf_keras

    paths, values = files
    a, b = paths[("a", "b", "c")], paths[("b", "a", "c")]
    model = _model(tf_keras, ("a", "b", "c"))
    model.load_weights(str(b))  # the oracle: by order, layer a receives B's first layer (b)
    np.testing.assert_array_equal(model.get_layer("a").get_weights()[0], values["b"][0])
    result = run_cli("diff", str(a), str(b))
    assert result.exit_code == 1, result.stdout
    assert "-> DIFFERENT" in result.stdout and "another layer order" in result.stdout
    assert "same 6, changed 0" in result.stdout
    assert run_cli("diff", str(a), str(a)).exit_code == 0
