"""Write the `diff` scenarios under sample_checkpoints/diff/ with the real TensorFlow and Keras savers.

Run from the repository root: `.venv/bin/python sample_checkpoints/make_diff_samples.py`
(`make samples` runs it after make_samples.py).

* frozen/ckpt-1, frozen/ckpt-2: one Keras 3 training run (custom loop) saved twice with
  tf.train.Checkpoint(model=m).write; between the saves `dense_1` got no updates, so only its kernel
  and bias are the same.
* module/ckpt and module/saved_model: a tf.Module trained with GradientTape, written as
  tf.train.Checkpoint(model=module) and exported with tf.saved_model.save(module): same weights,
  object paths one level apart (`model/dense/w` vs `dense/w`).
* keras/legacy.h5 and keras/model.keras: the same uncompiled Keras 3 model saved as a legacy H5
  and as a .keras archive: same weights, different formats.
* nan/a and nan/b: tf.train.Checkpoint of a tf.Module with `w` holding NaN at index 0 in both (counts
  as equal) and `u` holding NaN at index 3 only in b (a change).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
OUT = HERE / "diff"
sys.path.insert(0, str(HERE))


def _frozen(tf, keras, models) -> None:
    """A custom training loop (the optimizer is not tracked by the model) that stops updating dense_1."""
    x, y = models.make_data(n=128)
    model = models.build_keras3(seed=1)
    optimizer = keras.optimizers.SGD(0.05)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train(steps: int, frozen: str | None) -> None:
        variables = [v for layer in model.layers if layer.name != frozen for v in layer.trainable_variables]
        for step in range(steps):
            xb, yb = x[(step % 8) * 16 : (step % 8 + 1) * 16], y[(step % 8) * 16 : (step % 8 + 1) * 16]
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            optimizer.apply(tape.gradient(loss, variables), variables)

    train(16, frozen=None)
    tf.train.Checkpoint(model=model).write(str(OUT / "frozen" / "ckpt-1"))
    train(16, frozen="dense_1")
    tf.train.Checkpoint(model=model).write(str(OUT / "frozen" / "ckpt-2"))


def _module(tf) -> None:
    class Dense(tf.Module):
        def __init__(self, n_in: int, n_out: int, name: str) -> None:
            super().__init__(name=name)
            self.w = tf.Variable(tf.random.stateless_normal([n_in, n_out], seed=[1, n_out]) * 0.3, name="w")
            self.b = tf.Variable(tf.zeros([n_out]), name="b")

        def __call__(self, x):
            return tf.matmul(x, self.w) + self.b

    class Mlp(tf.Module):
        def __init__(self) -> None:
            super().__init__(name="mlp")
            self.dense = Dense(8, 16, "dense")
            self.head = Dense(16, 3, "head")

        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32)])
        def __call__(self, x):
            return self.head(tf.nn.relu(self.dense(x)))

    import models

    x, y = models.make_data(n=64)
    module = Mlp()
    opt = tf.optimizers.SGD(0.1)
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=module(x)))
        grads = tape.gradient(loss, module.trainable_variables)
        opt.apply_gradients(zip(grads, module.trainable_variables))
    tf.train.Checkpoint(model=module).write(str(OUT / "module" / "ckpt"))
    tf.saved_model.save(module, str(OUT / "module" / "saved_model"))


def _keras(keras, models) -> None:
    model = models.build_keras3(seed=2)
    (OUT / "keras").mkdir(parents=True, exist_ok=True)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras.saving.save_model(model, str(OUT / "keras" / "legacy.h5"))
    model.save(str(OUT / "keras" / "model.keras"))


def _nan(tf) -> None:
    import numpy as np

    w = np.linspace(-1, 1, 600, dtype=np.float32).reshape(20, 30)
    u = np.linspace(0, 2, 40, dtype=np.float32)
    w[0, 0] = np.nan
    for side, u_nan in (("a", False), ("b", True)):
        module = tf.Module()
        uu = u.copy()
        if u_nan:
            uu[3] = np.nan
        module.w = tf.Variable(w)
        module.u = tf.Variable(uu)
        tf.train.Checkpoint(model=module).write(str(OUT / "nan" / side))


def main() -> None:
    import keras
    import tensorflow as tf

    import models

    tf.config.experimental.enable_op_determinism()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    _frozen(tf, keras, models)
    _module(tf)
    _keras(keras, models)
    _nan(tf)
    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
