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
* reinit_after_training/ckpt: trained like nan/ (every variable updated), then `dense_1/kernel` assigned a
  fresh GlorotUniform(seed=REINIT_SEED) draw, as a restore that skipped it into a rebuilt model leaves it,
  and written WITH the optimizer (tf.train.Checkpoint(model=m, optimizer=opt)): the kernel's Adam slots
  moved while its values are a fresh draw. Written alone by `make_fresh_samples.py reinit_after_training`.
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
REINIT_SEED = 11
"""The seed of the fresh draw reinit_after_training/ puts into dense_1/kernel after training."""


def _batches(x, y):
    for start in range(0, len(x), BATCH):
        yield x[start : start + BATCH], y[start : start + BATCH]


def _train(tf, keras, model, data, optimizer, *, forward_training: bool, rebinding: bool) -> tuple[float, float]:
    """A custom training loop; returns the mean loss of the first and of the last epoch."""
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


def _write(tf, model, name: str, optimizer=None) -> None:
    objects = {"model": model} if optimizer is None else {"model": model, "optimizer": optimizer}
    tf.train.Checkpoint(**objects).write(str(OUT / name / "ckpt"))


def _trained(tf, keras, fresh_models, name: str, *, forward_training: bool = True, rebinding: bool = False):
    model = fresh_models.build_mlp(fresh_models.TRAIN_SEED)
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    data = fresh_models.make_data()
    first, last = _train(tf, keras, model, data, optimizer, forward_training=forward_training, rebinding=rebinding)
    print(f"{name}: loss {first:.3f} (epoch 1) -> {last:.3f} (epoch {EPOCHS})")
    return model, optimizer


def _reinit_after_training(tf, keras, fresh_models) -> None:
    model, optimizer = _trained(tf, keras, fresh_models, "reinit_after_training")
    kernel = model.get_layer("dense_1").kernel
    kernel.assign(keras.initializers.GlorotUniform(seed=REINIT_SEED)(kernel.shape))
    _write(tf, model, "reinit_after_training", optimizer)


def main(only: list[str]) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    import fresh_models

    tf.config.experimental.enable_op_determinism()
    if only:
        for name in only:
            if name != "reinit_after_training":
                raise SystemExit(f"only reinit_after_training can be written alone, not {name!r}")
            shutil.rmtree(OUT / name, ignore_errors=True)
            _reinit_after_training(tf, keras, fresh_models)
        return
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()

    _write(tf, _trained(tf, keras, fresh_models, "rebinding", rebinding=True)[0], "rebinding")
    _write(tf, fresh_models.build_mlp(fresh_models.TRAIN_SEED), "before_training")
    _write(tf, _trained(tf, keras, fresh_models, "bn_frozen_stats", forward_training=False)[0], "bn_frozen_stats")

    model, _ = _trained(tf, keras, fresh_models, "nan")
    kernel = model.get_layer("dense_1").kernel
    poisoned = np.array(kernel.numpy())
    poisoned[NAN_INDEX] = np.nan
    kernel.assign(poisoned)
    _write(tf, model, "nan")
    _reinit_after_training(tf, keras, fresh_models)

    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
