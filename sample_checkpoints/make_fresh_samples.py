"""Write the fresh-init scenarios under sample_checkpoints/fresh/ with the real TensorFlow and Keras savers.

Run from the repository root: `.venv/bin/python sample_checkpoints/make_fresh_samples.py`.
Every scenario is `fresh_models.build_mlp(TRAIN_SEED)` (64 -> 128 -> BN -> 96 -> 12), written with
tf.train.Checkpoint(model=m).write(<scenario>/ckpt). Training is a custom loop: Adam(3e-3), the same
1024 synthetic examples in 16 unshuffled batches of 64, EPOCHS epochs; the script prints each loss drop.

* rebinding/ckpt: the rebinding bug. The loop gives the hidden kernel `dense_1/kernel` its own, smaller
  learning rate with a hand-written SGD step inside `for grad, var in zip(grads, variables)`:
  `var = var - HIDDEN_LR * grad`. That rebinds the loop's Python name `var` to a new tensor instead of
  calling `var.assign_sub(...)`, so the tf.Variable never changes, and the `continue` keeps it away from
  Adam too. Every other variable trains; dense_1/kernel is saved with its initial value.
* before_training/ckpt: the same model written right after building, before the first step (the
  "checkpoint at step 0" a CheckpointManager writes): glorot_uniform kernels, constant biases and BN.
* bn_frozen_stats/ckpt: the train step calls `model(x, training=False)` (copied from the eval step), so
  BatchNormalization normalises with its moving statistics and never updates them: moving_mean stays
  zeros and moving_variance ones, while gamma, beta, kernels and biases train through the gradient.
* nan/ckpt: trained like rebinding/ but with every variable updated, then ONE value of
  `dense_1/kernel` (index [3, 5]) set to NaN by `kernel.assign(...)` (no training step: a NaN input would
  poison every tensor through the gradients, not one), as a corrupted update would leave it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
OUT = HERE / "fresh"
sys.path.insert(0, str(HERE))

EPOCHS = 6
BATCH = 64
LEARNING_RATE = 3e-3
HIDDEN_LR = 1e-3
"""The hand-written learning rate the rebinding loop meant to give dense_1/kernel."""
NAN_INDEX = (3, 5)


def _batches(x, y):
    for start in range(0, len(x), BATCH):
        yield x[start : start + BATCH], y[start : start + BATCH]


def _train(tf, keras, model, data, *, forward_training: bool, rebinding: bool) -> tuple[float, float]:
    """A custom training loop; returns the mean loss of the first and of the last epoch."""
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    hidden_kernel = model.get_layer("dense_1").kernel
    epoch_losses = []
    for _ in range(EPOCHS):
        losses = []
        for xb, yb in _batches(*data):
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=forward_training))
            variables = model.trainable_variables
            grads = tape.gradient(loss, variables)
            pairs = []
            for grad, var in zip(grads, variables):
                if rebinding and var is hidden_kernel:
                    var = var - HIDDEN_LR * grad  # the bug: a new tensor bound to `var`, the Variable unchanged
                    continue
                pairs.append((grad, var))
            optimizer.apply_gradients(pairs)
            losses.append(float(loss))
        epoch_losses.append(sum(losses) / len(losses))
    return epoch_losses[0], epoch_losses[-1]


def _write(tf, model, name: str) -> None:
    tf.train.Checkpoint(model=model).write(str(OUT / name / "ckpt"))


def _trained(tf, keras, fresh_models, name: str, *, forward_training: bool = True, rebinding: bool = False):
    model = fresh_models.build_mlp(fresh_models.TRAIN_SEED)
    first, last = _train(tf, keras, model, fresh_models.make_data(), forward_training=forward_training, rebinding=rebinding)
    print(f"{name}: loss {first:.3f} (epoch 1) -> {last:.3f} (epoch {EPOCHS})")
    return model


def main() -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    import fresh_models

    tf.config.experimental.enable_op_determinism()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()

    _write(tf, _trained(tf, keras, fresh_models, "rebinding", rebinding=True), "rebinding")
    _write(tf, fresh_models.build_mlp(fresh_models.TRAIN_SEED), "before_training")
    _write(tf, _trained(tf, keras, fresh_models, "bn_frozen_stats", forward_training=False), "bn_frozen_stats")

    model = _trained(tf, keras, fresh_models, "nan")
    kernel = model.get_layer("dense_1").kernel
    poisoned = np.array(kernel.numpy())
    poisoned[NAN_INDEX] = np.nan
    kernel.assign(poisoned)
    _write(tf, model, "nan")

    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
