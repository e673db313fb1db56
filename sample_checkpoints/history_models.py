"""Factories of the models behind sample_checkpoints/history/ (make_history_samples.py), for tests and `check`.

Each returns the freshly built model, uncompiled, exactly as training started.
"""

from __future__ import annotations

STOP_GRADIENT_SEED = 7
EPOCHS_SEED = 3


def stop_gradient_model():
    """Functional model whose side branch `side` reaches the output only through `keras.ops.stop_gradient`."""
    import keras

    keras.utils.set_random_seed(STOP_GRADIENT_SEED)
    inputs = keras.Input((16,), name="x")
    trunk = keras.layers.Dense(32, activation="relu", name="trunk")(inputs)
    main = keras.layers.Dense(4, name="main_head")(trunk)
    side = keras.layers.Dense(24, activation="relu", name="side")(inputs)
    side_head = keras.layers.Dense(4, name="side_head")(keras.ops.stop_gradient(side))
    return keras.Model(inputs, keras.layers.Add(name="add")([main, side_head]))


def epochs_model():
    """Sequential MLP whose middle layer `frozen` has trainable = False."""
    import keras

    keras.utils.set_random_seed(EPOCHS_SEED)
    frozen = keras.layers.Dense(48, activation="relu", name="frozen")
    frozen.trainable = False
    return keras.Sequential(
        [
            keras.Input((32,)),
            keras.layers.Dense(48, activation="relu", name="first"),
            frozen,
            keras.layers.Dense(5, name="head"),
        ]
    )
