"""The one small model behind every artifact in ``sample_checkpoints/``.

Importing this module is cheap: TensorFlow / Keras are imported lazily inside
the functions, so nothing heavy happens at import time.

Architecture (identical in all three flavours)::

    input (8,) -> Dense(32, relu, name="dense")
               -> BatchNormalization(name="batch_normalization")   # not in TF1 graph
               -> Dense(16, relu, name="dense_1")
               -> Dense(3, name="dense_2")                          # logits, 3 classes
"""

from __future__ import annotations

INPUT_DIM = 8
HIDDEN = (32, 16)
NUM_CLASSES = 3
LAYER_NAMES = ("dense", "batch_normalization", "dense_1", "dense_2")


def make_data(n: int = 64, seed: int = 0):
    """Deterministic toy data: ``x`` (n, 8) float32, ``y`` (n,) int32 in [0, 3)."""
    import numpy as np

    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n, INPUT_DIM)).astype("float32")
    # Labels depend on the inputs so training actually moves the weights.
    w = rng.normal(size=(INPUT_DIM, NUM_CLASSES)).astype("float32")
    y = np.argmax(x @ w, axis=1).astype("int32")
    return x, y


def _layers(mod):
    """Layer stack for a Keras-like module (``keras`` or ``tf_keras``)."""
    return [
        mod.Input(shape=(INPUT_DIM,), name="input"),
        mod.layers.Dense(HIDDEN[0], activation="relu", name="dense"),
        mod.layers.BatchNormalization(name="batch_normalization"),
        mod.layers.Dense(HIDDEN[1], activation="relu", name="dense_1"),
        mod.layers.Dense(NUM_CLASSES, name="dense_2"),
    ]


def build_keras3(seed: int = 0):
    """A built Keras 3 ``keras.Sequential`` model (TensorFlow backend)."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential(_layers(keras), name="mlp")


def build_tf_keras(seed: int = 0):
    """The same architecture with ``tf_keras`` (Keras 2), same layer names."""
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    return tf_keras.Sequential(_layers(tf_keras), name="mlp")


def build_tf1_graph(scope: str = "model_scope", graph=None, seed: int = 0,
                    learning_rate: float = 1e-2):
    """Build the MLP as a TF1 graph with ``tf.compat.v1.get_variable``.

    Variables: ``{scope}/dense/kernel``, ``{scope}/dense/bias``, ``{scope}/dense_1/...``,
    ``{scope}/dense_2/...`` plus ``global_step`` and, from ``AdamOptimizer.minimize``,
    the slots ``.../Adam`` and ``.../Adam_1`` and ``beta1_power`` / ``beta2_power``.
    (No BatchNorm in this flavour.)

    Returns a dict with ``graph``, ``x``, ``y`` (placeholders), ``logits``, ``loss``,
    ``train_op``, ``global_step``, ``init_op`` and ``variables`` (all global
    variables, i.e. what ``tf.compat.v1.train.Saver()`` saves by default).
    """
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = graph if graph is not None else tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        x = v1.placeholder(tf.float32, [None, INPUT_DIM], name="x")
        y = v1.placeholder(tf.int32, [None], name="y")
        h = x
        dims = (INPUT_DIM,) + HIDDEN + (NUM_CLASSES,)
        names = ("dense", "dense_1", "dense_2")
        with v1.variable_scope(scope):
            for i, name in enumerate(names):
                with v1.variable_scope(name):
                    kernel = v1.get_variable(
                        "kernel", [dims[i], dims[i + 1]], tf.float32,
                        initializer=v1.glorot_uniform_initializer(seed=seed + i))
                    bias = v1.get_variable(
                        "bias", [dims[i + 1]], tf.float32,
                        initializer=v1.zeros_initializer())
                    h = tf.matmul(h, kernel) + bias
                    if i < len(names) - 1:
                        h = tf.nn.relu(h)
        logits = tf.identity(h, name="logits")
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits),
            name="loss")
        global_step = v1.train.get_or_create_global_step()
        train_op = v1.train.AdamOptimizer(learning_rate).minimize(
            loss, global_step=global_step)
        init_op = v1.global_variables_initializer()
        variables = v1.global_variables()
    return {
        "graph": graph, "x": x, "y": y, "logits": logits, "loss": loss,
        "train_op": train_op, "global_step": global_step, "init_op": init_op,
        "variables": variables,
    }
