"""The model, data and live-model factories behind the fresh-init scenarios in ``sample_checkpoints/fresh/``.

Every public factory takes no arguments and returns a BUILT object, so it can be named as
``--model sample_checkpoints/fresh_models.py:FACTORY``. TensorFlow and Keras are imported inside the
functions: importing this module is cheap.

Architecture (Keras 3, ``keras.Sequential(name="fresh_mlp")``)::

    input (64,) -> Dense(128, relu, name="dense")                 # kernel 64x128 = 8192 values
                -> BatchNormalization(name="batch_normalization")  # 4 x 128
                -> Dense(96, relu, name="dense_1")                # kernel 128x96 = 12288 values
                -> Dense(12, name="dense_2")                      # kernel 96x12 = 1152 values, logits

Every initializer is the Keras default (glorot_uniform kernels, zeros biases, BatchNorm gamma ones,
beta zeros, moving mean zeros, moving variance ones). ``build_mlp(seed)`` seeds Keras right before
building, so the same seed gives the same initial values bit for bit: ``make_fresh_samples.py`` trains
``build_mlp(TRAIN_SEED)``, and ``training_checkpoint`` rebuilds exactly that starting point.
"""

from __future__ import annotations

INPUT_DIM = 64
HIDDEN = (128, 96)
NUM_CLASSES = 12
LAYER_NAMES = ("dense", "batch_normalization", "dense_1", "dense_2")
TRAIN_SEED = 7
"""The seed every scenario was built with before training (or before saving, for before_training/)."""
OTHER_SEED = 8
"""A different seed: the same architecture, different fresh values."""
DATA_SEED = 0


def make_data(n: int = 1024, seed: int = DATA_SEED):
    """A synthetic 12-class task: ``x`` (n, 64) float32, ``y`` (n,) int32 from a random two-layer teacher.

    Uses its own ``numpy.random.RandomState``, so it never disturbs the Keras seed.
    """
    import numpy as np

    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n, INPUT_DIM)).astype("float32")
    w1 = rng.normal(size=(INPUT_DIM, 32)) / np.sqrt(INPUT_DIM)
    w2 = rng.normal(size=(32, NUM_CLASSES))
    y = np.argmax(np.tanh(x @ w1) @ w2, axis=1).astype("int32")
    return x, y


def build_mlp(seed: int = TRAIN_SEED):
    """The built, uncompiled Keras 3 MLP, its initial values fixed by ``seed``."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(INPUT_DIM,), name="input"),
            keras.layers.Dense(HIDDEN[0], activation="relu", name="dense"),
            keras.layers.BatchNormalization(name="batch_normalization"),
            keras.layers.Dense(HIDDEN[1], activation="relu", name="dense_1"),
            keras.layers.Dense(NUM_CLASSES, name="dense_2"),
        ],
        name="fresh_mlp",
    )


def training_model():
    """``build_mlp(TRAIN_SEED)``: the live Keras model exactly as training started.

    A variable the checkpoint restores with a value equal to this model's own fresh value was never
    trained; ``ckptdiff check`` reports it so.
    """
    return build_mlp(TRAIN_SEED)


def other_seed_model():
    """``build_mlp(OTHER_SEED)``: same architecture, other fresh values.

    Against this model an untrained kernel can only be recognised by its distribution, not by equality.
    """
    return build_mlp(OTHER_SEED)


def training_checkpoint():
    """``tf.train.Checkpoint(model=build_mlp(TRAIN_SEED))``: the very object the scenarios were written with."""
    import tensorflow as tf

    return tf.train.Checkpoint(model=build_mlp(TRAIN_SEED))
