"""Models of the frozen-layer scenario in ``sample_checkpoints/frozen_swap/`` (``make_frozen_samples.py``).

Three ``Dense(8)`` layers ``a``, ``b``, ``c`` in a Keras 3 Sequential with Adam. Which layers are trainable decides
the optimizer's ``_trainable_variables`` list, which a ``tf.train.Checkpoint(model=m, optimizer=opt)`` saves as
a second, shorter path to each trainable variable. Every factory returns a BUILT object; TensorFlow and Keras
are imported inside the functions.
"""

from __future__ import annotations

SEED = 5


def build(frozen: str):
    """The model with layer ``frozen`` not trainable, its optimizer built over the trainable variables."""
    import keras

    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [keras.Input((8,)), *(keras.layers.Dense(8, name=n) for n in ("a", "b", "c"))], name="mlp"
    )
    model.get_layer(frozen).trainable = False
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    model.optimizer.build(model.trainable_variables)
    return model


def frozen_c_checkpoint():
    """The live object for ``check``: layer ``c`` frozen (the file was saved with ``a`` frozen)."""
    import tensorflow as tf

    model = build("c")
    return tf.train.Checkpoint(model=model, optimizer=model.optimizer)


def frozen_a_checkpoint():
    """The live object exactly as saved: layer ``a`` frozen."""
    import tensorflow as tf

    model = build("a")
    return tf.train.Checkpoint(model=model, optimizer=model.optimizer)
