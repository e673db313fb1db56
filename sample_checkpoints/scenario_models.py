"""Model factories for the restore scenarios in ``sample_checkpoints/scenarios/``.

Every public factory takes no arguments and returns a BUILT model (or a
``tf.train.Checkpoint``), so it can be named as ``--model
sample_checkpoints/scenario_models.py:FACTORY``. TensorFlow and Keras are imported
inside the functions: importing this module is cheap.

Two kinds of factory live here:

* ``saved_*``: the model as it was when ``make_scenarios.py`` saved it (seed 0);
* the others: the model as the user has it at restore time (seed 1, so every fresh
  value differs from the saved one), with the change the scenario is about.

Layers always get explicit names, so a factory gives the same names whatever was
built before it in the same process.
"""

from __future__ import annotations

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SAVED_SEED = 0
LIVE_SEED = 1

# Shapes of models.build_tf1_graph: dense (8->32), dense_1 (32->16), dense_2 (16->3).
TF1_LAYERS = (("dense", 8, 32), ("dense_1", 32, 16), ("dense_2", 16, 3))
INSERTED_INPUT_DIM = 16
LIVE_CLASSES = 5


def _models():
    """sample_checkpoints/models.py, loaded by path (a bare ``import models`` could pick up another module)."""
    name = "ckptdiff_sample_models"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "models.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# --------------------------------------------------------------------------- scope_mistake
def tf1_module():
    """A ``tf.Module`` whose variables are named like ``models.build_tf1_graph(scope="model_scope")``.

    ``var.name`` is ``model_scope/dense/kernel:0``, ``model_scope/dense/bias:0`` ... (six
    variables, no optimizer): what a TF1 ``Saver`` looks for.
    """
    import numpy as np
    import tensorflow as tf

    rng = np.random.RandomState(LIVE_SEED)
    module = tf.Module(name="tf1_mlp")
    variables = []
    with tf.name_scope("model_scope"):
        for layer, fan_in, fan_out in TF1_LAYERS:
            with tf.name_scope(layer):
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                kernel = rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype("float32")
                variables.append(tf.Variable(kernel, name="kernel"))
                variables.append(tf.Variable(np.zeros(fan_out, "float32"), name="bias"))
    module.vars = variables
    return module


# --------------------------------------------------------------------------- renamed_layer
def _subclassed_mlp(second: str, seed: int):
    """A subclassed Keras 3 MLP whose middle Dense is the attribute (and layer) ``second``."""
    import keras
    import numpy as np

    models = _models()

    class RenamedMLP(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="subclassed_mlp")
            self.dense = keras.layers.Dense(32, activation="relu", name="dense")
            setattr(self, second, keras.layers.Dense(16, activation="relu", name=second))
            self.dense_2 = keras.layers.Dense(3, name="dense_2")

        def call(self, x):
            return self.dense_2(getattr(self, second)(self.dense(x)))

    keras.utils.set_random_seed(seed)
    model = RenamedMLP()
    model(np.zeros((1, models.INPUT_DIM), "float32"))
    return model


def saved_subclassed_mlp():
    """Keras 3 subclassed model with attributes ``dense``, ``dense_1``, ``dense_2`` (as saved)."""
    return _subclassed_mlp("dense_1", SAVED_SEED)


def renamed_subclassed_mlp():
    """The same model after ``self.dense_1`` was renamed to ``self.classifier``."""
    return _subclassed_mlp("classifier", LIVE_SEED)


def _sequential_mlp(
    mod,
    second: str,
    seed: int,
    *,
    input_dim: int | None = None,
    classes: int = 3,
    bias_1: bool = True,
    batch_norm: bool = False,
    name: str = "mlp",
):
    """Input -> Dense(32) "dense" [-> BN] -> Dense(16) second -> Dense(classes) "dense_2"."""
    models = _models()
    mod.utils.set_random_seed(seed)
    layers = [
        mod.Input(shape=(input_dim or models.INPUT_DIM,), name="input"),
        mod.layers.Dense(32, activation="relu", name="dense"),
    ]
    if batch_norm:
        layers.append(mod.layers.BatchNormalization(name="batch_normalization"))
    layers += [
        mod.layers.Dense(16, activation="relu", use_bias=bias_1, name=second),
        mod.layers.Dense(classes, name="dense_2"),
    ]
    return mod.Sequential(layers, name=name)


def saved_tf_keras_mlp():
    """tf_keras Sequential with layers ``dense``, ``dense_1``, ``dense_2`` (as saved in legacy H5)."""
    import tf_keras

    return _sequential_mlp(tf_keras, "dense_1", SAVED_SEED)


def renamed_tf_keras_mlp():
    """The tf_keras Sequential with ``dense_1`` renamed ``classifier``."""
    import tf_keras

    return _sequential_mlp(tf_keras, "classifier", LIVE_SEED)


def saved_keras3_mlp():
    """Keras 3 Sequential with layers ``dense``, ``dense_1``, ``dense_2`` (as saved in .weights.h5)."""
    import keras

    return _sequential_mlp(keras, "dense_1", SAVED_SEED)


def renamed_keras3_mlp():
    """The Keras 3 Sequential with ``dense_1`` renamed ``classifier``."""
    import keras

    return _sequential_mlp(keras, "classifier", LIVE_SEED)


# --------------------------------------------------------------------------- inserted_layer
KERAS3_INSERTED_INPUT_DIM = 8


def _abc(names: tuple[str, ...], seed: int):
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    widths = {"c": 3}
    layers = [tf_keras.Input(shape=(INSERTED_INPUT_DIM,), name="input")]
    layers += [tf_keras.layers.Dense(widths.get(n, 16), name=n) for n in names]
    return tf_keras.Sequential(layers, name="abc")


def saved_abc():
    """tf_keras Sequential, input 16: Dense(16) "a", Dense(16) "b", Dense(3) "c" (as saved)."""
    return _abc(("a", "b", "c"), SAVED_SEED)


def inserted_abc():
    """The same with Dense(16) "inserted" between "a" and "b"."""
    return _abc(("a", "inserted", "b", "c"), LIVE_SEED)


def _abc_keras3(names: tuple[str, ...], seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    widths = {"c": 3}
    layers = [keras.Input(shape=(KERAS3_INSERTED_INPUT_DIM,), name="input")]
    layers += [keras.layers.Dense(widths.get(n, 16), name=n) for n in names]
    return keras.Sequential(layers, name="abc")


def saved_abc_keras3():
    """Keras 3 Sequential, input 8: Dense(16) "a" (8x16), Dense(16) "b" (16x16), Dense(3) "c" (as saved)."""
    return _abc_keras3(("a", "b", "c"), SAVED_SEED)


def inserted_abc_keras3():
    """The same with Dense(16) "inserted" between "a" and "b": it has b's shape, so Keras 3's class-order
    container keys (`layers/dense_1`) hand it b's weights."""
    return _abc_keras3(("a", "inserted", "b", "c"), LIVE_SEED)


# --------------------------------------------------------------------------- class_count
def five_class_mlp():
    """``models.build_keras3`` (with BatchNorm) but a 5-class head: dense_2 is 16x5."""
    import keras

    return _sequential_mlp(keras, "dense_1", LIVE_SEED, classes=LIVE_CLASSES, batch_norm=True)


# --------------------------------------------------------------------------- use_bias
def saved_no_bias_mlp():
    """Keras 3 Sequential whose ``dense_1`` has ``use_bias=False`` (as saved)."""
    import keras

    return _sequential_mlp(keras, "dense_1", SAVED_SEED, bias_1=False)


def bias_mlp():
    """The same model with ``dense_1`` ``use_bias=True``: one more variable, ``dense_1/bias``."""
    import keras

    return _sequential_mlp(keras, "dense_1", LIVE_SEED)


# --------------------------------------------------------------------------- optimizers
def saved_frozen_tf_keras():
    """``models.build_tf_keras`` with the first Dense frozen (``trainable=False``), as trained and saved."""
    model = _models().build_tf_keras(seed=SAVED_SEED)
    model.get_layer("dense").trainable = False
    return model


def tf_keras_checkpoint():
    """``tf.train.Checkpoint(model=build_tf_keras(), optimizer=tf_keras Adam)``, every layer trainable.

    The optimizer is built on all trainable variables, so its slots exist before the restore.
    """
    import tensorflow as tf
    import tf_keras

    model = _models().build_tf_keras(seed=LIVE_SEED)
    optimizer = tf_keras.optimizers.Adam(learning_rate=1e-2)
    optimizer.build(model.trainable_variables)
    return tf.train.Checkpoint(model=model, optimizer=optimizer)


def tf_keras_legacy_checkpoint():
    """Like ``tf_keras_checkpoint`` with ``tf_keras.optimizers.legacy.Adam`` (slot variables in the graph)."""
    import tensorflow as tf
    import tf_keras

    model = _models().build_tf_keras(seed=LIVE_SEED)
    optimizer = tf_keras.optimizers.legacy.Adam(learning_rate=1e-2)
    # The legacy optimizer creates its slots lazily on the first apply; _create_all_weights makes
    # them (and `iter`) now without changing any model value, so the restore can fill them at once.
    optimizer._create_all_weights(model.trainable_variables)
    return tf.train.Checkpoint(model=model, optimizer=optimizer)


def keras3_checkpoint():
    """``tf.train.Checkpoint(model=build_keras3(), optimizer=Adam)`` with Adam built on the trainable variables."""
    import keras
    import tensorflow as tf

    model = _models().build_keras3(seed=LIVE_SEED)
    optimizer = keras.optimizers.Adam(learning_rate=1e-2)
    optimizer.build(model.trainable_variables)
    return tf.train.Checkpoint(model=model, optimizer=optimizer)


def compiled_keras3_unbuilt_optimizer():
    """``build_keras3()`` compiled with Adam that has not been built yet: it holds 2 variables (iteration,
    learning rate) where a file saved after training holds Adam's full state."""
    import keras

    model = _models().build_keras3(seed=LIVE_SEED)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse")
    return model


# --------------------------------------------------------------------------- formats/keras21x
def _cnn(keras, second_filters: int = 4, named: bool = False):
    """The cnn; `named` gives the layers the names Keras numbers them with in a fresh process (only tf_keras'
    tests need them; neither loader reads layer names)."""
    layers = keras.layers
    names = iter(("conv2d", "conv2d_1", "max_pooling2d", "conv2d_2", "flatten", "dense", "dense_1"))

    def name() -> dict:
        return {"name": next(names)} if named else {}

    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(4, 3, padding="same", activation="relu", **name()),
            layers.Conv2D(second_filters, 3, padding="same", activation="relu", **name()),
            layers.MaxPooling2D(2, **name()),
            layers.Conv2D(4, 3, padding="same", activation="relu", **name()),
            layers.Flatten(**name()),
            layers.Dense(8, activation="relu", **name()),
            layers.Dense(3, **name()),
        ],
        name="cnn",
    )


def keras3_cnn():
    """The `cnn` of make_format_samples.py (written there by tf.keras 2.12-2.15), rebuilt in Keras 3 the way a
    user restoring those `.keras` files would: no layer names, so Keras 3 numbers the containers itself."""
    import keras

    return _cnn(keras)


def tf_keras_cnn():
    """The same `cnn` in tf_keras (Keras 2.15+), as a user who stayed on Keras 2 rebuilds it."""
    import tf_keras

    return _cnn(tf_keras, named=True)


def tf_keras_wider_cnn():
    """The tf_keras `cnn` with 8 filters in its second Conv2D: that layer's kernel and bias no longer fit."""
    import tf_keras

    return _cnn(tf_keras, second_filters=8, named=True)


# --------------------------------------------------------------------------- formats/orbax
def keras3_mlp_for_orbax():
    """The model keras.callbacks.OrbaxCheckpoint saved in formats/orbax/keras_callback (models.build_keras3,
    compiled with Adam(name="adam")), as a user restoring it has it: fresh values (seed 1), optimizer built."""
    import keras

    model = _models().build_keras3(seed=LIVE_SEED)
    model.compile(optimizer=keras.optimizers.Adam(name="adam"), loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    return model


def renamed_keras3_mlp_for_orbax():
    """The same model under another name: every variable.path changes (`mlp/dense/kernel` -> `net/dense/kernel`),
    as it does for the model keras.saving.load_model rebuilds from the checkpoint's config."""
    import keras

    keras.utils.set_random_seed(LIVE_SEED)
    model = keras.Sequential(_models()._layers(keras), name="net")
    model.compile(optimizer=keras.optimizers.Adam(name="adam"), loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    return model
