"""Write the training-history and optimizer-slot fixtures under sample_checkpoints/history/ with the real savers.

Run from the repository root: `.venv/bin/python sample_checkpoints/make_history_samples.py`.

* rebound_loop/: `fresh_models.build_mlp(TRAIN_SEED)` trained by a custom loop and saved by a
  `tf.train.CheckpointManager` (model and Keras 3 Adam) after each of EPOCHS epochs: ckpt-1 .. ckpt-4 and
  the `checkpoint` state file. The optimizer is built on every trainable variable first, as `fit` does.
  - the rebinding bug (seed example 2): the loop's hand-written step `var = var - HIDDEN_LR * grad`
    rebinds the Python name for `dense_1/kernel` and `continue`s, so that variable never changes and its
    Adam slots stay zero;
  - `dense_2/kernel` is frozen mid-run: from epoch FREEZE_AFTER + 1 on it is left out of the update, so
    it changes in the first pairs and stops changing after.
* stop_gradient/: a Keras 3 functional model whose side branch `side` feeds the output through
  `keras.ops.stop_gradient`, trained with `fit` and Adam for 2 epochs, written as a TF2 checkpoint
  (`tf.train.Checkpoint(model=, optimizer=).write("ckpt/ckpt")`), as `model.weights.h5`
  (`save_weights`) and as `model.keras` (`save`). `side` never receives a gradient: its kernel keeps its
  initial value and its Adam slots stay zero.
* epochs/: a Keras 3 MLP with its middle layer `frozen` (`trainable = False`) trained 4 epochs by `fit`
  with `ModelCheckpoint("weights.{epoch:02d}.weights.h5", save_weights_only=True)`.

EXPECTED.json records, per fixture, the variables the construction never updated; the tests check every
claim against TensorFlow's reader and h5py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
OUT = HERE / "history"
sys.path.insert(0, str(HERE))

EPOCHS = 4
FREEZE_AFTER = 2
BATCH = 64
LEARNING_RATE = 3e-3
HIDDEN_LR = 1e-3


def _rebound_loop(tf, keras, fresh_models) -> dict:
    model = fresh_models.build_mlp(fresh_models.TRAIN_SEED)
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    hidden_kernel = model.get_layer("dense_1").kernel
    head_kernel = model.get_layer("dense_2").kernel
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(ckpt, str(OUT / "rebound_loop"), max_to_keep=None)
    x, y = fresh_models.make_data()
    for epoch in range(1, EPOCHS + 1):
        for start in range(0, len(x), BATCH):
            xb, yb = x[start : start + BATCH], y[start : start + BATCH]
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            variables = model.trainable_variables
            grads = tape.gradient(loss, variables)
            pairs = []
            for grad, var in zip(grads, variables):
                if var is hidden_kernel:
                    var = var - HIDDEN_LR * grad  # the bug: rebinds `var`; the Variable never changes
                    continue
                if var is head_kernel and epoch > FREEZE_AFTER:
                    continue  # frozen mid-run
                pairs.append((grad, var))
            optimizer.apply_gradients(pairs)
        manager.save()
        print(f"rebound_loop: epoch {epoch} loss {float(loss):.3f}")
    return {"never_changed": ["dense_1/kernel"], "stopped_changing": ["dense_2/kernel"], "frozen_after": FREEZE_AFTER}


def _stop_gradient(tf, keras, np) -> dict:
    import history_models

    model = history_models.stop_gradient_model()
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 16)).astype("float32")
    y = (x[:, :4] * 2.0).astype("float32")
    initial = model.get_layer("side").kernel.numpy().copy()
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert np.array_equal(initial, model.get_layer("side").kernel.numpy()), "side must not train"
    out = OUT / "stop_gradient"
    out.mkdir(parents=True)
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(str(out / "ckpt" / "ckpt"))
    model.save_weights(str(out / "model.weights.h5"))
    model.save(str(out / "model.keras"))
    print(f"stop_gradient: loss {history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}")
    return {"never_changed": ["side/kernel", "side/bias"]}


def _epochs(keras, np) -> dict:
    import history_models

    model = history_models.epochs_model()
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(512, 32)).astype("float32")
    y = (x[:, :5].argmax(axis=1)).astype("int64")
    out = OUT / "epochs"
    out.mkdir(parents=True)
    callback = keras.callbacks.ModelCheckpoint(str(out / "weights.{epoch:02d}.weights.h5"), save_weights_only=True)
    history = model.fit(x, y, epochs=4, batch_size=64, verbose=0, callbacks=[callback])
    print(f"epochs: loss {history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}")
    return {"never_changed": ["frozen/kernel", "frozen/bias"]}


def main() -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    import fresh_models

    tf.config.experimental.enable_op_determinism()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    expected = {
        "rebound_loop": _rebound_loop(tf, keras, fresh_models),
        "stop_gradient": _stop_gradient(tf, keras, np),
        "epochs": _epochs(keras, np),
    }
    (OUT / "EXPECTED.json").write_text(json.dumps(expected, indent=1) + "\n")
    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
