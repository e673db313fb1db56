"""Regenerate the restore scenarios in ``sample_checkpoints/scenarios/`` with the REAL savers.

Usage (from the repo root)::

    .venv/bin/python sample_checkpoints/make_scenarios.py

Each scenario is a checkpoint saved from one model (``scenario_models.saved_*``) that a
user then restores into a slightly different one (the other factories of
``scenario_models.py``). ``scenarios/`` is deleted and rewritten. Paths handed to the savers
are relative to the repo root, so ``checkpoint`` state files hold relative paths.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import scenario_models  # noqa: E402  (sample_checkpoints/scenario_models.py)

OUT = os.path.join("sample_checkpoints", "scenarios")  # relative to REPO_ROOT, on purpose
SEED = 0
BATCH = 16
EPOCHS = 2
LR = 1e-2
TF1_STEPS = 3


def p(*parts: str) -> str:
    return os.path.join(OUT, *parts)


def wrote(folder: str) -> None:
    for d, _, files in sorted(os.walk(folder)):
        for f in sorted(files):
            path = os.path.join(d, f)
            print(f"wrote {path}  ({os.path.getsize(path)} bytes)")


def determinism() -> None:
    import tensorflow as tf

    tf.random.set_seed(SEED)
    tf.config.experimental.enable_op_determinism()


def data(input_dim: int | None = None):
    """models.make_data, or the same recipe for another input width."""
    import numpy as np

    models = scenario_models._models()
    if input_dim is None:
        return models.make_data(seed=SEED)
    rng = np.random.RandomState(SEED)
    x = rng.normal(size=(64, input_dim)).astype("float32")
    w = rng.normal(size=(input_dim, 3)).astype("float32")
    return x, np.argmax(x @ w, axis=1).astype("int32")


def train(model, mod, optimizer=None, input_dim: int | None = None):
    """Compile with Adam and fit briefly; returns the optimizer."""
    x, y = data(input_dim)
    optimizer = optimizer or mod.optimizers.Adam(learning_rate=LR)
    model.compile(optimizer=optimizer, loss=mod.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, shuffle=False, verbose=0)
    return optimizer


# --------------------------------------------------------------------------- 1. scope_mistake
def make_scope_mistake() -> None:
    """TF1 graph under ``another_scope``; the live code uses ``model_scope``."""
    import tensorflow as tf

    v1 = tf.compat.v1
    x, y = data()
    g = scenario_models._models().build_tf1_graph(scope="another_scope", seed=SEED, learning_rate=LR)
    with g["graph"].as_default():
        saver = v1.train.Saver(save_relative_paths=True)
        with v1.Session(graph=g["graph"]) as sess:
            sess.run(g["init_op"])
            for step in range(TF1_STEPS):
                sl = slice(step * BATCH, (step + 1) * BATCH)
                sess.run(g["train_op"], {g["x"]: x[sl], g["y"]: y[sl]})
            # No .meta: ~100 KB of graph that no loader in the scenario needs.
            saver.save(sess, p("scope_mistake", "model.ckpt"), write_meta_graph=False)
    wrote(p("scope_mistake"))


# --------------------------------------------------------------------------- 2. renamed_layer
def make_renamed_layer() -> None:
    """``dense_1`` renamed ``classifier``: an object-graph checkpoint, a legacy H5, a Keras 3 .weights.h5."""
    import keras
    import tensorflow as tf
    import tf_keras

    model = scenario_models.saved_subclassed_mlp()
    train(model, keras)
    tf.train.Checkpoint(model=model).write(p("renamed_layer", "tf2", "ckpt"))

    # Keras 3 refuses save_weights() to anything but *.weights.h5, so the legacy H5 comes from tf_keras.
    model = scenario_models.saved_tf_keras_mlp()
    train(model, tf_keras)
    model.save_weights(p("renamed_layer", "legacy.h5"))

    model = scenario_models.saved_keras3_mlp()
    train(model, keras)
    model.save_weights(p("renamed_layer", "model.weights.h5"))
    wrote(p("renamed_layer"))


# --------------------------------------------------------------------------- 3. inserted_layer
def make_inserted_layer() -> None:
    """tf_keras a, b, c saved in TF format (``layer_with_weights-N``); the live model inserts a layer."""
    import tf_keras

    model = scenario_models.saved_abc()
    train(model, tf_keras, input_dim=scenario_models.INSERTED_INPUT_DIM)
    model.save_weights(p("inserted_layer", "ckpt"))
    wrote(p("inserted_layer"))


def make_keras3_inserted_layer() -> None:
    """Keras 3 a, b, c saved as .weights.h5 and .keras; the live model inserts a Dense of b's shape."""
    import keras

    model = scenario_models.saved_abc_keras3()
    train(model, keras, input_dim=scenario_models.KERAS3_INSERTED_INPUT_DIM)
    os.makedirs(p("keras3_inserted_layer"), exist_ok=True)
    model.save_weights(p("keras3_inserted_layer", "model.weights.h5"))
    model.save(p("keras3_inserted_layer", "model.keras"))
    wrote(p("keras3_inserted_layer"))


# --------------------------------------------------------------------------- 4. class_count
def make_class_count() -> None:
    """The models.py MLP (3 classes), model only, as a TF2 checkpoint and a Keras 3 .weights.h5."""
    import keras
    import tensorflow as tf

    model = scenario_models._models().build_keras3(seed=SEED)
    train(model, keras)
    tf.train.Checkpoint(model=model).write(p("class_count", "tf2", "ckpt"))
    model.save_weights(p("class_count", "model.weights.h5"))
    wrote(p("class_count"))


# --------------------------------------------------------------------------- 5. use_bias
def make_use_bias() -> None:
    """Keras 3 model whose dense_1 was saved without a bias."""
    import keras
    import tensorflow as tf

    model = scenario_models.saved_no_bias_mlp()
    train(model, keras)
    tf.train.Checkpoint(model=model).write(p("use_bias", "ckpt"))
    wrote(p("use_bias"))


# --------------------------------------------------------------------------- 6. partial_optimizer
def make_partial_optimizer() -> None:
    """tf_keras model trained with its first Dense frozen: Adam holds moments for the other layers only.

    ``partial_optimizer/ckpt`` uses ``tf_keras.optimizers.Adam`` (slots stored by position in
    ``optimizer/_variables/N``); ``partial_optimizer/legacy/ckpt`` uses
    ``tf_keras.optimizers.legacy.Adam`` (slots recorded per variable in the object graph).
    """
    import tensorflow as tf
    import tf_keras

    for folder, adam in (("", tf_keras.optimizers.Adam), ("legacy", tf_keras.optimizers.legacy.Adam)):
        model = scenario_models.saved_frozen_tf_keras()
        optimizer = train(model, tf_keras, optimizer=adam(learning_rate=LR))
        prefix = p("partial_optimizer", folder, "ckpt") if folder else p("partial_optimizer", "ckpt")
        tf.train.Checkpoint(model=model, optimizer=optimizer).write(prefix)
    wrote(p("partial_optimizer"))


MAKERS = {
    "scope_mistake": lambda: make_scope_mistake(),
    "renamed_layer": lambda: make_renamed_layer(),
    "inserted_layer": lambda: make_inserted_layer(),
    "keras3_inserted_layer": lambda: make_keras3_inserted_layer(),
    "class_count": lambda: make_class_count(),
    "use_bias": lambda: make_use_bias(),
    "partial_optimizer": lambda: make_partial_optimizer(),
}


def main() -> int:
    """Every scenario, or only those named on the command line (their folders alone are replaced)."""
    os.chdir(REPO_ROOT)
    determinism()
    chosen = sys.argv[1:] or list(MAKERS)
    if not sys.argv[1:]:
        shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in chosen:
            shutil.rmtree(p(name), ignore_errors=True)
            MAKERS[name]()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"total {total} bytes in {OUT}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
