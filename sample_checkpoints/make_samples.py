"""Regenerate every artifact in ``sample_checkpoints/`` with the REAL savers.

Usage (from the repo root; ``make samples`` runs exactly this)::

    .venv/bin/python sample_checkpoints/make_samples.py

The output folders are deleted and rewritten.  All paths handed to the savers
are relative to the repo root (the script ``chdir``s there first), so the
``checkpoint`` state files hold relative paths and the corpus survives a clone
to another place.  The generated block of ``README.md`` (versions + the key
listing appendix) is rewritten between its BEGIN/END GENERATED markers.
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

import models  # noqa: E402  (sample_checkpoints/models.py)

OUT = "sample_checkpoints"  # relative to REPO_ROOT, on purpose
FOLDERS = ("tf2", "tf2_sharded", "tf1", "tf1_v1", "saved_model", "keras2", "keras3")

SEED = 0
BATCH = 16
EPOCHS = 2
LR = 1e-2
# Small enough that the ~12 KB tf2 checkpoint is split into >= 3 data shards.
MAX_SHARD_BYTES = 4096

README_BEGIN = "<!-- BEGIN GENERATED (make_samples.py) -->"
README_END = "<!-- END GENERATED (make_samples.py) -->"


def p(*parts: str) -> str:
    return os.path.join(OUT, *parts)


def wrote(path: str) -> None:
    if os.path.isdir(path):
        size = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, fs in os.walk(path) for f in fs)
        print(f"wrote {path}/  ({size} bytes)")
    else:
        print(f"wrote {path}  ({os.path.getsize(path)} bytes)")


def wrote_prefix(prefix: str) -> None:
    folder, base = os.path.split(prefix)
    for name in sorted(os.listdir(folder)):
        if name.startswith(base + ".") or name == base:
            wrote(os.path.join(folder, name))


def clean() -> None:
    for name in FOLDERS:
        shutil.rmtree(p(name), ignore_errors=True)
        os.makedirs(p(name))


def determinism() -> None:
    import tensorflow as tf

    tf.random.set_seed(SEED)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # pragma: no cover - older TF
        pass


# --------------------------------------------------------------------------- Keras 3
def make_keras3() -> None:
    import keras
    import tensorflow as tf

    x, y = models.make_data(seed=SEED)
    model = models.build_keras3(seed=SEED)
    optimizer = keras.optimizers.Adam(learning_rate=LR)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, shuffle=False, verbose=0)

    # tf2/: object-based checkpoint via CheckpointManager, two saves.
    # ckpt-1 after EPOCHS epochs, ckpt-2 after one more epoch (so they differ).
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(ckpt, directory=p("tf2"), max_to_keep=2)
    manager.save()
    model.fit(x, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
    manager.save()
    for name in sorted(os.listdir(p("tf2"))):
        wrote(p("tf2", name))

    # tf2_sharded/: same checkpoint object (state == ckpt-2), several data shards.
    options = tf.train.CheckpointOptions(
        experimental_sharding_callback=tf.train.experimental.MaxShardSizePolicy(
            max_shard_size=MAX_SHARD_BYTES))
    ckpt.write(p("tf2_sharded", "ckpt"), options=options)
    wrote_prefix(p("tf2_sharded", "ckpt"))

    # keras3/: native archive, weights-only H5, legacy H5.
    model.save(p("keras3", "model.keras"))
    wrote(p("keras3", "model.keras"))
    model.save_weights(p("keras3", "model.weights.h5"))
    wrote(p("keras3", "model.weights.h5"))
    from absl import logging as absl_logging

    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)  # "HDF5 ... is considered legacy"
    try:
        keras.saving.save_model(model, p("keras3", "legacy.h5"))
    finally:
        absl_logging.set_verbosity(level)
    wrote(p("keras3", "legacy.h5"))

    # saved_model/: Keras 3 ExportArchive (serving signature "serve"/"serving_default").
    try:
        model.export(p("saved_model"), verbose=False)
    except Exception as exc:  # pragma: no cover - fallback kept for other versions
        print(f"model.export failed ({exc!r}); falling back to tf.saved_model.save")
        shutil.rmtree(p("saved_model"), ignore_errors=True)
        serve = tf.function(
            lambda t: model(t, training=False),
            input_signature=[tf.TensorSpec([None, models.INPUT_DIM], tf.float32)])
        tf.saved_model.save(model, p("saved_model"), signatures={"serving_default": serve})
    # git does not track empty folders; drop the empty assets/ so a fresh clone and a
    # fresh `make samples` look the same (tf.saved_model.load does not need it).
    assets = p("saved_model", "assets")
    if os.path.isdir(assets) and not os.listdir(assets):
        os.rmdir(assets)
    wrote(p("saved_model"))


# --------------------------------------------------------------------------- tf_keras
def make_keras2() -> None:
    import tf_keras

    x, y = models.make_data(seed=SEED)
    model = models.build_tf_keras(seed=SEED)
    model.compile(
        optimizer=tf_keras.optimizers.Adam(learning_rate=LR),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, shuffle=False, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(p("keras2", "model.h5"))
    wrote(p("keras2", "model.h5"))
    model.save_weights(p("keras2", "weights_only.h5"))
    wrote(p("keras2", "weights_only.h5"))
    # No .h5 suffix -> TF (object-based) format.
    os.makedirs(p("keras2", "tf_weights"), exist_ok=True)
    model.save_weights(p("keras2", "tf_weights", "ckpt"))
    for name in sorted(os.listdir(p("keras2", "tf_weights"))):
        wrote(p("keras2", "tf_weights", name))


# --------------------------------------------------------------------------- TF1
def make_tf1(steps: int = 3) -> None:
    import tensorflow as tf

    v1 = tf.compat.v1
    x, y = models.make_data(seed=SEED)
    g = models.build_tf1_graph(scope="model_scope", seed=SEED, learning_rate=LR)
    with g["graph"].as_default():
        # save_relative_paths=True -> the `checkpoint` state file names "model.ckpt",
        # not "sample_checkpoints/tf1/model.ckpt" (which would be cwd-relative).
        saver_v2 = v1.train.Saver(save_relative_paths=True)
        with v1.Session(graph=g["graph"]) as sess:
            sess.run(g["init_op"])
            for step in range(steps):
                sl = slice((step * BATCH) % len(x), (step * BATCH) % len(x) + BATCH)
                sess.run(g["train_op"], {g["x"]: x[sl], g["y"]: y[sl]})
            saver_v2.save(sess, p("tf1", "model.ckpt"))
            for name in sorted(os.listdir(p("tf1"))):
                wrote(p("tf1", name))
            # Created only now so its save/restore ops are not in tf1/model.ckpt.meta.
            # No .meta for V1: it would be another ~110 KB copy of the same graph.
            saver_v1 = v1.train.Saver(write_version=v1.train.SaverDef.V1,
                                      save_relative_paths=True)
            import logging
            tf_logger = tf.get_logger()
            level = tf_logger.level
            tf_logger.setLevel(logging.ERROR)  # silence the "V1 is deprecated" banner
            try:
                saver_v1.save(sess, p("tf1_v1", "model.ckpt"), write_meta_graph=False)
            finally:
                tf_logger.setLevel(level)
            for name in sorted(os.listdir(p("tf1_v1"))):
                wrote(p("tf1_v1", name))


# --------------------------------------------------------------------------- listing
def _h5_lines(path: str) -> list[str]:
    import h5py

    lines: list[str] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            lines.append(f"{name}  {list(obj.shape)} {obj.dtype}")
        else:
            attrs = sorted(obj.attrs.keys())
            lines.append(f"{name}/" + (f"  attrs={attrs}" if attrs else ""))

    with h5py.File(path, "r") as f:
        root_attrs = sorted(f.attrs.keys())
        lines.append("/" + (f"  attrs={root_attrs}" if root_attrs else ""))
        f.visititems(visit)
    return lines


def _ckpt_lines(prefix: str) -> list[str]:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    return [f"{k}  {list(s)} {dtypes[k].name}"
            for k, s in sorted(reader.get_variable_to_shape_map().items())]


def _zip_lines(path: str) -> list[str]:
    import io
    import zipfile

    lines = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            lines.append(f"{info.filename}  ({info.file_size} bytes)")
            if info.filename.endswith(".h5"):
                for sub in _h5_lines(io.BytesIO(z.read(info.filename))):
                    lines.append(f"    {sub}")
    return lines


def listing() -> list[tuple[str, str, list[str]]]:
    """(title, how, lines) for every artifact: the oracle view of its keys."""
    out = []
    for prefix in (p("tf2", "ckpt-2"), p("tf2_sharded", "ckpt"), p("tf1", "model.ckpt"),
                   p("tf1_v1", "model.ckpt"), p("keras2", "tf_weights", "ckpt"),
                   p("saved_model", "variables", "variables")):
        out.append((prefix, "tf.train.load_checkpoint", _ckpt_lines(prefix)))
    for path in (p("keras2", "model.h5"), p("keras2", "weights_only.h5"),
                 p("keras3", "model.weights.h5"), p("keras3", "legacy.h5")):
        out.append((path, "h5py visititems", _h5_lines(path)))
    out.append((p("keras3", "model.keras"), "zipfile + h5py visititems",
                _zip_lines(p("keras3", "model.keras"))))
    return out


def versions() -> dict[str, str]:
    import h5py
    import keras
    import numpy
    import tensorflow as tf
    import tf_keras

    return {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf_keras": tf_keras.__version__,
        "h5py": h5py.__version__,
        "HDF5": h5py.version.hdf5_version,
        "numpy": numpy.__version__,
    }


def _size_lines() -> list[str]:
    lines, total = [], 0
    for name in FOLDERS:
        for d, _, files in sorted(os.walk(p(name))):
            for f in sorted(files):
                size = os.path.getsize(os.path.join(d, f))
                total += size
                lines.append(f"{size:>8}  {os.path.relpath(os.path.join(d, f), OUT)}")
    lines.append(f"{total:>8}  total (artifacts only)")
    return lines


def update_readme() -> None:
    path = p("README.md")
    if not os.path.exists(path):
        return
    text = open(path, encoding="utf-8").read()
    if README_BEGIN not in text or README_END not in text:
        return
    ver = versions()
    block = [README_BEGIN, "",
             "Generated with: " + ", ".join(f"{k} {v}" for k, v in ver.items()) + ".", "",
             "### File sizes", "", "```", *_size_lines(), "```", "",
             "### Appendix: actual keys of each artifact (oracle view)", ""]
    for title, how, lines in listing():
        block += [f"<details><summary><code>{title}</code> ({how}, {len(lines)} entries)"
                  "</summary>", "", "```", *lines, "```", "", "</details>", ""]
    block.append(README_END)
    head = text.split(README_BEGIN)[0]
    tail = text.split(README_END, 1)[1]
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + "\n".join(block) + tail)
    print(f"updated {path} (generated block)")


def main() -> int:
    os.chdir(REPO_ROOT)
    determinism()
    clean()
    make_keras3()
    make_keras2()
    make_tf1()
    update_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main())
