"""Load every artifact in ``sample_checkpoints/`` back with the REAL loaders.

Usage (from anywhere)::

    .venv/bin/python sample_checkpoints/verify_samples.py

Exits non-zero on the first failure.  Also checks that ``checkpoint`` state
files hold relative paths and that no file embeds an absolute path of the
machine that generated it.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import models  # noqa: E402


def ok(msg: str) -> None:
    print(f"ok   {msg}")


def main() -> int:
    import glob

    import h5py
    import keras
    import numpy as np
    import tensorflow as tf
    import tf_keras

    os.chdir(REPO_ROOT)
    S = "sample_checkpoints"
    x, _ = models.make_data()

    # --- checkpoints: tf.train.load_checkpoint -------------------------------------
    expected = {
        f"{S}/tf2/ckpt-1": 30, f"{S}/tf2/ckpt-2": 30, f"{S}/tf2_sharded/ckpt": 30,
        f"{S}/tf1/model.ckpt": 21, f"{S}/tf1_v1/model.ckpt": 21,
        f"{S}/keras2/tf_weights/ckpt": 29, f"{S}/saved_model/variables/variables": 21,
    }
    for prefix, n in expected.items():
        shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
        assert len(shapes) == n, (prefix, len(shapes))
        ok(f"load_checkpoint {prefix}: {len(shapes)} keys")
    shards = glob.glob(f"{S}/tf2_sharded/ckpt.data-*")
    assert len(shards) >= 3, shards
    ok(f"tf2_sharded has {len(shards)} data shards")

    # --- checkpoint state files: latest + relative paths ----------------------------
    assert tf.train.latest_checkpoint(f"{S}/tf2") == f"{S}/tf2/ckpt-2"
    assert tf.train.latest_checkpoint(f"{S}/tf1") == f"{S}/tf1/model.ckpt"
    assert tf.train.latest_checkpoint(f"{S}/tf1_v1") == f"{S}/tf1_v1/model.ckpt"
    assert tf.train.latest_checkpoint(f"{S}/keras2/tf_weights") == f"{S}/keras2/tf_weights/ckpt"
    for state in glob.glob(f"{S}/**/checkpoint", recursive=True):
        st = tf.train.get_checkpoint_state(os.path.dirname(state))
        text = open(state).read()
        assert '"/' not in text and "\\\\" not in text, (state, text)
        ok(f"{state}: relative, latest={os.path.basename(st.model_checkpoint_path)}")

    # --- tf2: restore into a fresh model + optimizer; ckpt-1 != ckpt-2 ----------------
    model = models.build_keras3(seed=1)
    opt = keras.optimizers.Adam()
    opt.build(model.trainable_variables)
    tf.train.Checkpoint(model=model, optimizer=opt).read(
        f"{S}/tf2/ckpt-2").assert_existing_objects_matched().expect_partial()
    ref = keras.models.load_model(f"{S}/keras3/model.keras")
    assert np.allclose(model.predict(x, verbose=0), ref.predict(x, verbose=0), atol=1e-6)
    ok("tf2/ckpt-2 restores into a fresh Keras 3 model == keras3/model.keras")
    r1, r2 = (tf.train.load_checkpoint(f"{S}/tf2/ckpt-{i}") for i in (1, 2))
    k = "optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"
    assert not np.array_equal(r1.get_tensor(k), r2.get_tensor(k))
    rs = tf.train.load_checkpoint(f"{S}/tf2_sharded/ckpt")
    for key in r2.get_variable_to_shape_map():
        if key != "_CHECKPOINTABLE_OBJECT_GRAPH":
            assert np.array_equal(r2.get_tensor(key), rs.get_tensor(key)), key
    ok("tf2 ckpt-1 != ckpt-2; tf2_sharded values == tf2/ckpt-2")

    # --- tf1: restore with the graph's own Saver -------------------------------------
    for folder in ("tf1", "tf1_v1"):
        g = models.build_tf1_graph(scope="model_scope")
        with g["graph"].as_default(), tf.compat.v1.Session() as sess:
            tf.compat.v1.train.Saver().restore(sess, f"{S}/{folder}/model.ckpt")
            step = sess.run(g["global_step"])
        assert step == 3, step
        ok(f"{folder}/model.ckpt restores into build_tf1_graph(); global_step={step}")
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        saver = tf.compat.v1.train.import_meta_graph(f"{S}/tf1/model.ckpt.meta")
        saver.restore(sess, f"{S}/tf1/model.ckpt")
    ok("tf1/model.ckpt.meta imports and restores")

    # --- saved_model ---------------------------------------------------------------
    loaded = tf.saved_model.load(f"{S}/saved_model")
    fn = loaded.signatures["serving_default"]
    out = list(fn(tf.constant(x)).values())[0].numpy()
    assert np.allclose(out, ref.predict(x, verbose=0), atol=1e-5)
    ok(f"saved_model signatures={list(loaded.signatures)} output matches")

    # --- Keras 3 -------------------------------------------------------------------
    m = models.build_keras3(seed=1)
    m.load_weights(f"{S}/keras3/model.weights.h5")
    assert np.allclose(m.predict(x, verbose=0), ref.predict(x, verbose=0), atol=1e-6)
    ok("keras3/model.weights.h5 loads (load_weights)")
    leg = keras.models.load_model(f"{S}/keras3/legacy.h5", compile=False)
    assert np.allclose(leg.predict(x, verbose=0), ref.predict(x, verbose=0), atol=1e-6)
    ok("keras3/legacy.h5 loads (keras.models.load_model)")

    # --- tf_keras ------------------------------------------------------------------
    k2 = tf_keras.models.load_model(f"{S}/keras2/model.h5")
    pred2 = k2.predict(x, verbose=0)
    for path in (f"{S}/keras2/weights_only.h5", f"{S}/keras2/tf_weights/ckpt"):
        w = models.build_tf_keras(seed=1)
        status = w.load_weights(path)
        if status is not None:  # TF format: optimizer slots stay unrestored (not built)
            status.expect_partial()
        assert np.allclose(w.predict(x, verbose=0), pred2, atol=1e-6), path
        ok(f"{path} loads (tf_keras load_weights) == keras2/model.h5")
    ok("keras2/model.h5 loads (tf_keras.models.load_model)")

    # --- h5py listing ---------------------------------------------------------------
    for path in glob.glob(f"{S}/keras*/*.h5"):
        names: list[str] = []
        with h5py.File(path, "r") as f:
            f.visit(names.append)
        ok(f"h5py {path}: {len(names)} objects")

    # --- no absolute path of this machine baked into artifacts -----------------------
    needles = {REPO_ROOT.encode(), os.path.realpath(REPO_ROOT).encode(),
               os.path.expanduser("~").encode() + b"/"}
    for d, _, files in os.walk(S):
        for name in files:
            if name.endswith((".py", ".md", ".pyc")):
                continue
            blob = open(os.path.join(d, name), "rb").read()
            bad = [n for n in needles if len(n) > 2 and n in blob]
            assert not bad, (os.path.join(d, name), bad)
    ok("no absolute paths of this machine in any artifact")
    print("all samples verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
