"""Write the artifacts in ``sample_checkpoints/formats/`` with the REAL savers.

Run from anywhere (the script ``chdir``s to the repo root first)::

    /work/fixture-venv/bin/python sample_checkpoints/make_format_samples.py

That venv is NOT the project's ``.venv``: it holds tensorflow 2.21.0, keras 3.15.1,
keras-hub, orbax-checkpoint, tensorstore and jax (see ``docs/formats-research.md``
for the exact versions and how to build it).  The Keras 2.x archives are written by
separate old venvs (``/work/keras212-venv`` ... ``/work/keras215-venv``, python 3.11 +
``tensorflow-cpu==2.12.1/2.13.1/2.14.1/2.15.1``); override their interpreters with
``CKPTDIFF_KERAS212_PYTHON`` ... ``CKPTDIFF_KERAS215_PYTHON``.  When one of them is missing, its folder and its entry in
``EXPECTED.json`` are kept as they were (a message says so).

Everything under ``sample_checkpoints/formats/`` except those kept folders is deleted
and written again, and ``formats/EXPECTED.json`` is regenerated: for every artifact,
every stored array with its storage key, the Keras variable it came from, shape,
dtype and sha256 -- all taken from the live objects that were handed to the saver,
not from the written files.

Internal modes (used by the script itself, in subprocesses)::

    --jax-orbax-worker DIR     write a JAX-user Orbax checkpoint (no Keras, no TF)
    --keras2-worker PATH.keras write a Keras 2.x .keras archive (run by an old venv)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)

OUT = os.path.join("sample_checkpoints", "formats")  # relative to REPO_ROOT
# Orbax refuses relative paths and writes the absolute step path into
# commit_success.txt, so Orbax checkpoints are written here and then copied into OUT.
ORBAX_TMP = "/tmp/ckptdiff-format-samples"

SEED = 0
BATCH = 16
EPOCHS = 2
LR = 1e-2
# Keras 3 `max_shard_size` is in GB (ShardedH5IOStore multiplies it by 1024**3).
# 2048 bytes = the largest single MLP variable (dense_1/kernel, 32*16*4 bytes).
SHARD_BYTES = 2048
HUB_SHARD_BYTES = 1024

KERAS2_VENVS = {
    "keras212": ("CKPTDIFF_KERAS212_PYTHON", "/work/keras212-venv/bin/python"),
    "keras213": ("CKPTDIFF_KERAS213_PYTHON", "/work/keras213-venv/bin/python"),
    "keras214": ("CKPTDIFF_KERAS214_PYTHON", "/work/keras214-venv/bin/python"),
    "keras215": ("CKPTDIFF_KERAS215_PYTHON", "/work/keras215-venv/bin/python"),
}

HASH_RULE = ("sha256 of numpy.ascontiguousarray(value).tobytes() (C order, little-endian, "
             "in the listed dtype) of the value handed to the saver")


# --------------------------------------------------------------------------- helpers
def p(*parts: str) -> str:
    return os.path.join(OUT, *parts)


def sha256_array(arr) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def dtype_name(arr) -> str:
    return str(arr.dtype)  # ml_dtypes bfloat16 prints as "bfloat16"


def files_under(path: str) -> list[str]:
    if os.path.isfile(path):
        return [os.path.basename(path)]
    out = []
    for d, _, fs in os.walk(path):
        for f in fs:
            out.append(os.path.relpath(os.path.join(d, f), path).replace(os.sep, "/"))
    return sorted(out)


def wrote(path: str) -> None:
    size = sum(os.path.getsize(os.path.join(path, f)) for f in files_under(path)) \
        if os.path.isdir(path) else os.path.getsize(path)
    print(f"wrote {path}{'/' if os.path.isdir(path) else ''}  ({size} bytes)")


def h5_key(inner_path: str, item: str) -> str:
    return f"{inner_path}/vars/{item}" if inner_path else f"vars/{item}"


def record_save_state(saving_lib, root, store, skip_ids=()):
    """Run Keras' own ``_save_state`` walk into ``store`` and remember which object
    owns each inner path (works for Keras 3 and Keras 2.1x saving_lib)."""
    owners = {}
    orig = saving_lib._save_state

    def wrapped(*args, **kwargs):
        inner = kwargs["inner_path"] if "inner_path" in kwargs else args[3]
        owners.setdefault(inner, args[0])
        return orig(*args, **kwargs)

    saving_lib._save_state = wrapped
    try:
        orig(root, store, None, "", set(skip_ids))
    finally:
        saving_lib._save_state = orig
    return owners


def save_order_candidates(owner) -> list[list]:
    """Lists of variables that ``save_own_variables`` may have written, in save order:
    an optimizer writes ``.variables``, a layer its trainable then non-trainable ones."""
    def listed(*attrs):
        if not all(hasattr(owner, a) for a in attrs):
            return None
        out = []
        for a in attrs:
            v = getattr(owner, a)
            out += list(v() if callable(v) else v)
        return out

    is_optimizer = hasattr(owner, "iterations") and hasattr(owner, "learning_rate")
    lists = [listed("_trainable_variables", "_non_trainable_variables"),
             listed("_trainable_weights", "_non_trainable_weights")]
    lists = ([listed("variables")] + lists) if is_optimizer else (lists + [listed("variables")])
    return [c for c in lists if c]


def var_name(v) -> str | None:
    return getattr(v, "path", None) or getattr(v, "name", None)


def entries_from_contents(contents: dict, owners: dict, to_numpy) -> list[dict]:
    """Turn ``{inner_path: {item: value}}`` into EXPECTED entries, in save order."""
    out = []
    for raw_path, items in contents.items():
        inner = "" if raw_path == "__root__" else raw_path
        owner = owners.get(inner)
        cands = save_order_candidates(owner) if owner is not None else []
        for item, value in items.items():
            arr = to_numpy(value)
            name = getattr(value, "path", None)  # a Keras 3 Variable handed over as is
            if name is None and item.isdigit():
                for cand_list in cands:  # numpy handed over: find the variable it came from
                    if int(item) < len(cand_list):
                        carr = to_numpy(cand_list[int(item)])
                        if carr.shape == arr.shape and carr.tobytes() == arr.tobytes():
                            name = var_name(cand_list[int(item)])
                            break
            out.append({
                "key": h5_key(inner, item),
                "group": inner,
                "item": item,
                "owner": getattr(owner, "name", None),
                "owner_class": type(owner).__name__ if owner is not None else None,
                "variable": name,
                "shape": list(arr.shape),
                "dtype": dtype_name(arr),
                "sha256": sha256_array(arr),
            })
    return out


def keras3_record(root, skip=()):
    """(entries, groups): storage keys of ``root`` as Keras 3 saving_lib writes them
    (H5 dataset paths), and every inner path that got a store (empty ones too)."""
    import keras
    import numpy as np
    from keras.src.saving import saving_lib

    store = saving_lib.NpzIOStore("unused.npz", mode="w")  # never closed: nothing written
    owners = record_save_state(saving_lib, root, store, [id(o) for o in skip])
    entries = entries_from_contents(
        store.contents, owners, lambda v: np.asarray(keras.ops.convert_to_numpy(v)))
    return entries, list(store.contents)


def keras3_entries(root, skip=()) -> list[dict]:
    return keras3_record(root, skip)[0]


def flatten_tree(tree, prefix=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from flatten_tree(v, prefix + (str(k),))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from flatten_tree(v, prefix + (str(i),))
    else:
        yield prefix, tree


def pytree_entries(tree) -> list[dict]:
    import numpy as np

    out = []
    for path, leaf in flatten_tree(tree):
        arr = np.asarray(leaf)
        e = {"key": ".".join(path), "tree_path": list(path), "shape": list(arr.shape),
             "dtype": dtype_name(arr), "sha256": sha256_array(arr)}
        if arr.ndim == 0:
            e["value"] = arr.item() if arr.dtype.kind in "biuf" else str(arr)
            e["python_type"] = type(leaf).__name__
        out.append(e)
    return out


def determinism() -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()


def trained_mlp():
    """The corpus MLP (sample_checkpoints/models.py), Adam, 2 epochs, like make_samples."""
    import keras

    sys.path.insert(0, HERE)
    import models

    x, y = models.make_data(seed=SEED)
    model = models.build_keras3(seed=SEED)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, shuffle=False, verbose=0)
    return model


# --------------------------------------------------------------------------- Keras 3
def make_sharded(expected: dict) -> None:
    sys.path.insert(0, HERE)
    import models

    # 1) weights only (never compiled): 3 shards.
    model = models.build_keras3(seed=SEED)
    os.makedirs(p("sharded"))
    model.save_weights(p("sharded", "model.weights.json"), max_shard_size=SHARD_BYTES / 1024**3)
    model.save_weights(p("sharded", "single.weights.h5"))
    wrote(p("sharded"))
    entries = keras3_entries(model)
    shard_files = [f for f in files_under(p("sharded")) if f != "single.weights.h5"]
    expected["sharded/model.weights.json"] = {
        "kind": "keras3-sharded-weights",
        "written_by": f"model.save_weights('model.weights.json', max_shard_size={SHARD_BYTES}/1024**3)",
        "files": shard_files, "same_values_as": "sharded/single.weights.h5",
        "entries": entries}
    expected["sharded/single.weights.h5"] = {
        "kind": "keras3-weights-h5", "written_by": "model.save_weights('single.weights.h5')",
        "files": ["single.weights.h5"], "entries": entries}


def make_trained_keras3(expected: dict) -> None:
    from keras.src.saving import saving_lib

    model = trained_mlp()
    entries, groups = keras3_record(model)

    # 2) trained model + Adam state, sharded, and the same state unsharded.
    os.makedirs(p("sharded_adam"))
    model.save_weights(p("sharded_adam", "model.weights.json"),
                       max_shard_size=SHARD_BYTES / 1024**3)
    model.save_weights(p("sharded_adam", "single.weights.h5"))
    wrote(p("sharded_adam"))
    expected["sharded_adam/model.weights.json"] = {
        "kind": "keras3-sharded-weights",
        "written_by": f"model.save_weights('model.weights.json', max_shard_size={SHARD_BYTES}/1024**3)"
                      " after compile(Adam) + fit",
        "files": [f for f in files_under(p("sharded_adam")) if f != "single.weights.h5"],
        "same_values_as": "sharded_adam/single.weights.h5", "entries": entries}
    expected["sharded_adam/single.weights.h5"] = {
        "kind": "keras3-weights-h5", "written_by": "model.save_weights('single.weights.h5')",
        "files": ["single.weights.h5"], "entries": entries}

    # 3) unzipped model directory.
    saving_lib.save_model(model, p("model_dir"), zipped=False)
    wrote(p("model_dir"))
    expected["model_dir"] = {
        "kind": "keras3-model-dir",
        "written_by": "keras.src.saving.saving_lib.save_model(model, 'model_dir', zipped=False)",
        "files": files_under(p("model_dir")), "weights_member": "model.weights.h5",
        "entries": entries}

    # 4) .keras archive whose weights are model.weights.npz (NpzIOStore).
    os.makedirs(p("npz"))
    saving_lib.save_model(model, p("npz", "model.keras"), weights_format="npz")
    wrote(p("npz", "model.keras"))
    npz_entries = [dict(e, npz_member=f"{e['group'] or '__root__'}.npy") for e in entries]
    expected["npz/model.keras"] = {
        "kind": "keras3-archive-npz",
        "written_by": "keras.src.saving.saving_lib.save_model(model, 'model.keras', "
                      "weights_format='npz')",
        "files": ["model.keras"], "weights_member": "model.weights.npz",
        "npz_members": [f"{g}.npy" for g in groups],
        "loads_with_keras": False,
        "note": "each npz member is a 0-d object array (a pickled dict item->value); layer "
                "values are pickled keras Variables, optimizer values numpy scalars/arrays. "
                "keras.saving.load_model(...) fails on it in 3.15.1 (allow_pickle=False).",
        "entries": npz_entries}

    # 5) Orbax via keras.callbacks.OrbaxCheckpoint (TF backend).
    make_orbax_callback(expected)


def make_orbax_callback(expected: dict) -> None:
    import keras
    from keras.src.callbacks.orbax_checkpoint import _get_state_tree

    sys.path.insert(0, HERE)
    import models

    keras.utils.set_random_seed(SEED)
    x, y = models.make_data(seed=SEED)
    model = models.build_keras3(seed=SEED)
    # The pytree keys contain optimizer.name; left to Keras it would be "adam_1" here
    # (auto-uniquified: this process already made an Adam), so it is pinned.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR, name="adam"),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    states = {}

    class Record(keras.callbacks.Callback):
        # The exact tree OrbaxCheckpoint hands to Orbax at the same epoch end.
        def on_epoch_end(self, epoch, logs=None):
            states[epoch] = _get_state_tree(self.model)

    root = os.path.join(ORBAX_TMP, "keras_callback")
    shutil.rmtree(root, ignore_errors=True)
    cb = keras.callbacks.OrbaxCheckpoint(directory=root, max_to_keep=EPOCHS)
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, shuffle=False, verbose=0,
              callbacks=[Record(), cb])
    cb.wait_until_finished()
    shutil.copytree(root, p("orbax", "keras_callback"))
    wrote(p("orbax", "keras_callback"))
    steps = {}
    for epoch, tree in sorted(states.items()):
        steps[str(epoch)] = {"checkpointables": ["model_config", "pytree"],
                             "pytree": pytree_entries(tree)}
    expected["orbax/keras_callback"] = {
        "kind": "orbax-keras-callback",
        "written_by": "keras.callbacks.OrbaxCheckpoint(directory=<abs>, max_to_keep=2) during "
                      "model.fit(epochs=2), TF backend; step = epoch index",
        "files": files_under(p("orbax", "keras_callback")),
        "note": "0-d values (iteration, learning_rate, metric totals/counts) were handed to "
                "Orbax as Python int/float, so they are stored as int64/float64 scalars.",
        "steps": steps}


# --------------------------------------------------------------------------- KerasHub
def make_hub(expected: dict) -> None:
    import keras
    import keras_hub

    keras.utils.set_random_seed(SEED)
    # (a) a BertTextClassifier task preset: backbone + task head + preprocessor + tokenizer.
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "brown", "fox",
             "jumps", "over", "lazy", "dog", "a", "cat", "sat"]
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=True)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocab), num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=16, dropout=0.0)
    pre = keras_hub.models.BertTextClassifierPreprocessor(tokenizer=tokenizer, sequence_length=16)
    task = keras_hub.models.BertTextClassifier(backbone=backbone, num_classes=2,
                                               preprocessor=pre, dropout=0.0)
    d = p("hub_preset", "bert_tiny")
    task.save_to_preset(d)
    wrote(d)
    expected["hub_preset/bert_tiny"] = {
        "kind": "kerashub-preset",
        "written_by": "keras_hub.models.BertTextClassifier(...).save_to_preset(dir)",
        "files": files_under(d),
        "backbone_class": "BertBackbone", "task_class": "BertTextClassifier",
        "tokenizer_vocabulary": vocab,
        "weights": {"model.weights.h5": keras3_entries(backbone),
                    "task.weights.h5": keras3_entries(
                        task, skip=list(backbone._flatten_layers()))}}

    # (b) a GPT2 backbone + tokenizer whose weights are sharded.
    keras.utils.set_random_seed(SEED + 1)
    vocab2 = {"<|endoftext|>": 0, "a": 1, "b": 2, "c": 3, "\u0120": 4, "ab": 5,
              "\u0120a": 6, "\u0120b": 7}
    merges = ["a b", "\u0120 a", "\u0120 b"]
    tok2 = keras_hub.models.GPT2Tokenizer(vocabulary=vocab2, merges=merges)
    bb2 = keras_hub.models.GPT2Backbone(
        vocabulary_size=len(vocab2), num_layers=2, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=16, dropout=0.0)
    d2 = p("hub_preset", "gpt2_tiny_sharded")
    bb2.save_to_preset(d2, max_shard_size=HUB_SHARD_BYTES / 1024**3)
    tok2.save_to_preset(d2)
    wrote(d2)
    expected["hub_preset/gpt2_tiny_sharded"] = {
        "kind": "kerashub-preset",
        "written_by": f"GPT2Backbone(...).save_to_preset(dir, max_shard_size={HUB_SHARD_BYTES}"
                      "/1024**3); GPT2Tokenizer(...).save_to_preset(dir)",
        "files": files_under(d2), "backbone_class": "GPT2Backbone",
        "weights": {"model.weights.json": keras3_entries(bb2)}}


# --------------------------------------------------------------------------- JAX user
def jax_orbax_worker(root: str) -> None:
    """A JAX user's Orbax CheckpointManager save of a params/opt_state pytree.

    Runs in its own process: no Keras, no TensorFlow.  Prints the EXPECTED steps."""
    import jax.numpy as jnp
    import numpy as np
    import orbax.checkpoint as ocp

    def state(step: int) -> dict:
        r = np.random.RandomState(step)
        params = {
            "dense_0": {"kernel": jnp.asarray(r.normal(size=(8, 16)).astype("float32")),
                        "bias": jnp.asarray(r.normal(size=(16,)).astype("float32"))},
            "embed": {"embedding": jnp.asarray(r.normal(size=(10, 4)), dtype=jnp.bfloat16)},
            "blocks": [{"scale": jnp.full((4,), 1.0 + step, jnp.float32)},
                       {"scale": jnp.full((4,), 2.0 + step, jnp.float32)}],
        }
        mu = {k: v for k, v in params.items()}
        return {
            "params": params,
            "opt_state": {"count": jnp.asarray(step, jnp.int32),
                          "mu": jax_tree_map(lambda a: a * 0.1, mu),
                          "nu": jax_tree_map(lambda a: a * a, mu)},
            "step": step,
            "host_table": np.arange(6, dtype=np.int16).reshape(2, 3),
        }

    shutil.rmtree(root, ignore_errors=True)
    mngr = ocp.CheckpointManager(
        root, options=ocp.CheckpointManagerOptions(max_to_keep=2, create=True))
    steps = {}
    for step in (1, 2):
        st = state(step)
        mngr.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(st),
            config=ocp.args.JsonSave({"learning_rate": 0.01, "model": "toy"})))
        steps[str(step)] = {"checkpointables": ["config", "state"],
                            "state": pytree_entries(st),
                            "config": {"learning_rate": 0.01, "model": "toy"}}
    mngr.wait_until_finished()
    mngr.close()
    print("EXPECTED_JSON " + json.dumps(steps))


def jax_tree_map(fn, tree):
    import jax

    return jax.tree_util.tree_map(fn, tree)


def make_orbax_jax_user(expected: dict) -> None:
    root = os.path.join(ORBAX_TMP, "jax_user")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--jax-orbax-worker", root],
                         check=True, capture_output=True, text=True,
                         env=dict(os.environ, JAX_PLATFORMS="cpu"))
    steps = json.loads(next(line for line in out.stdout.splitlines()
                            if line.startswith("EXPECTED_JSON "))[len("EXPECTED_JSON "):])
    shutil.copytree(root, p("orbax", "jax_user"))
    wrote(p("orbax", "jax_user"))
    expected["orbax/jax_user"] = {
        "kind": "orbax-jax-user",
        "written_by": "orbax.checkpoint.CheckpointManager(<abs>, CheckpointManagerOptions("
                      "max_to_keep=2)).save(step, args=Composite(state=StandardSave(pytree), "
                      "config=JsonSave(dict))) with jax.numpy arrays, steps 1 and 2",
        "files": files_under(p("orbax", "jax_user")),
        "steps": steps}


# --------------------------------------------------------------------------- Keras 2.1x
def keras2_worker(path: str) -> None:
    """Runs under an old venv (keras 2.13/2.14/2.15 + tensorflow-cpu of the same minor)."""
    import numpy as np
    import tensorflow as tf

    # tf.keras, as TF 2.12-2.15 users wrote it (in 2.12, `keras.optimizers.Adam` is the
    # legacy optimizer, while `tf.keras.optimizers.Adam` is the new one).
    keras = tf.keras
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    L = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        L.Conv2D(4, 3, padding="same", activation="relu"),   # conv2d
        L.Conv2D(4, 3, padding="same", activation="relu"),   # conv2d_1
        L.MaxPooling2D(2),                                   # max_pooling2d
        L.Conv2D(4, 3, padding="same", activation="relu"),   # conv2d_2 (same shapes as conv2d_1)
        L.Flatten(),
        L.Dense(8, activation="relu"),                       # dense
        L.Dense(3),                                          # dense_1
    ], name="cnn")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    r = np.random.RandomState(SEED)
    x = r.normal(size=(16, 8, 8, 1)).astype("float32")
    y = (np.arange(16) % 3).astype("int32")
    model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    extra = {}
    import keras as keras_pkg

    if keras_pkg.__version__.startswith("2.12."):
        # Keras 2.12 writes the zip (saving_lib) only when asked for "keras_v3" ...
        model.save(path, save_format="keras_v3")
        # ... while a plain model.save("x.keras") writes legacy HDF5 under that name.
        legacy = os.path.join(os.path.dirname(path), "default_save.keras")
        model.save(legacy)
        extra["default_save.keras"] = {
            "written_by": f"keras {keras_pkg.__version__} model.save('default_save.keras')",
            "entries": legacy_h5_entries(model)}
    else:
        model.save(path)  # .keras -> saving_lib (the Keras 2.13+ default)

    entries = keras2_entries(model)
    import keras as keras_pkg

    print("EXPECTED_JSON " + json.dumps({
        "keras_version": keras_pkg.__version__, "tensorflow_version": tf.__version__,
        "layer_names": [layer.name for layer in model.layers], "entries": entries,
        "extra": extra}))


def legacy_h5_entries(model) -> list[dict]:
    """Model weights of a legacy (tf.keras 2.x) full-model HDF5 file, from the live model."""
    import numpy as np

    out = []
    for layer in model.layers:
        for w in layer.weights:
            arr = np.asarray(w.numpy())
            out.append({"key": f"model_weights/{layer.name}/{w.name}", "owner": layer.name,
                        "owner_class": type(layer).__name__, "variable": w.name,
                        "shape": list(arr.shape), "dtype": dtype_name(arr),
                        "sha256": sha256_array(arr)})
    return out


def keras2_entries(model) -> list[dict]:
    """Storage keys of a Keras 2.1x model, from that Keras' own saving_lib walk."""
    import numpy as np

    try:
        from keras.src.saving import saving_lib
    except ImportError:  # keras 2.12 layout
        from keras.saving import saving_lib

    class Rec:  # duck-typed weights store: Keras 2 _save_state does not check its type
        def __init__(self):
            self.contents = {}

        def make(self, inner_path):
            self.contents[inner_path] = {}
            return self.contents[inner_path]

    store = Rec()
    owners = record_save_state(saving_lib, model, store)
    return entries_from_contents(store.contents, owners, lambda v: np.asarray(v))


def make_keras2(expected: dict, previous: dict) -> list[str]:
    kept = []
    for name, (env, default) in KERAS2_VENVS.items():
        py = os.environ.get(env, default)
        rel = f"{name}/model.keras"
        if not os.path.exists(py):
            for k, v in previous.items():
                if k.startswith(name + "/"):
                    expected[k] = v
            kept.append(name)
            print(f"SKIP {rel}: no interpreter at {py} (set {env}); keeping the old folder")
            continue
        shutil.rmtree(p(name), ignore_errors=True)
        out = subprocess.run([py, os.path.abspath(__file__), "--keras2-worker", p(name, "model.keras")],
                             check=True, capture_output=True, text=True)
        info = json.loads(next(line for line in out.stdout.splitlines()
                               if line.startswith("EXPECTED_JSON "))[len("EXPECTED_JSON "):])
        wrote(p(name, "model.keras"))
        for fname, info_x in info.get("extra", {}).items():
            wrote(p(name, fname))
            expected[f"{name}/{fname}"] = {
                "kind": "keras2-legacy-h5", "written_by": info_x["written_by"],
                "files": [fname], "keras_version": info["keras_version"],
                "note": "an HDF5 file (legacy full-model format) despite the .keras suffix; "
                        "entries cover model_weights/ only (optimizer_weights/ not listed)",
                "entries": info_x["entries"]}
        expected[rel] = {
            "kind": "keras2-archive",
            "written_by": f"keras {info['keras_version']} (tensorflow-cpu "
                          f"{info['tensorflow_version']}) tf.keras Sequential.save('model.keras'"
                          + (", save_format='keras_v3'" if info["keras_version"].startswith("2.12.")
                             else "") + ") after compile(Adam) + fit(1 epoch)",
            "files": ["model.keras"], "keras_version": info["keras_version"],
            "layer_names": info["layer_names"], "entries": info["entries"]}
    return kept


# --------------------------------------------------------------------------- main
def versions() -> dict:
    import importlib.metadata as md
    import platform

    out = {"python": platform.python_version()}
    for dist in ("tensorflow", "keras", "keras-hub", "orbax-checkpoint", "tensorstore", "jax",
                 "jaxlib", "h5py", "numpy", "ml_dtypes", "tensorflow-text"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jax-orbax-worker", metavar="DIR")
    ap.add_argument("--keras2-worker", metavar="PATH")
    args = ap.parse_args()
    os.chdir(REPO_ROOT)
    if args.jax_orbax_worker:
        jax_orbax_worker(args.jax_orbax_worker)
        return 0
    if args.keras2_worker:
        keras2_worker(args.keras2_worker)
        return 0

    import keras

    if keras.backend.backend() != "tensorflow":
        raise SystemExit("run with the TensorFlow backend (unset KERAS_BACKEND)")
    exp_path = p("EXPECTED.json")
    previous = {}
    if os.path.exists(exp_path):
        with open(exp_path) as f:
            previous = json.load(f).get("artifacts", {})
    keep = {name for name, (env, default) in KERAS2_VENVS.items()
            if not os.path.exists(os.environ.get(env, default))}
    if os.path.isdir(OUT):
        for name in os.listdir(OUT):
            if name not in keep:
                target = p(name)
                shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)
    os.makedirs(OUT, exist_ok=True)
    shutil.rmtree(ORBAX_TMP, ignore_errors=True)
    os.makedirs(ORBAX_TMP)

    determinism()
    expected: dict = {}
    make_sharded(expected)
    determinism()
    make_trained_keras3(expected)
    determinism()
    make_hub(expected)
    make_orbax_jax_user(expected)
    kept = make_keras2(expected, previous)

    doc = {
        "generated_by": "sample_checkpoints/make_format_samples.py",
        "generated_with": versions(),
        "hash_rule": HASH_RULE,
        "key_rules": {
            "keras3/keras2 H5 kinds": "key = HDF5 dataset path without the leading '/': "
                                      "'<inner_path>/vars/<item>' ('vars/<item>' at the root). "
                                      "For shards, the dataset is in the shard file that the "
                                      "weight_map lists for '/<inner_path>/vars'.",
            "npz": "npz_member '<inner_path>.npy' ('__root__.npy' at the root) holds a pickled "
                   "dict; item is its key",
            "orbax": "key = tree path joined with '.', which is also the OCDBT key prefix "
                     "('<key>/zarr.json', '<key>/c/...') inside '<step>/<checkpointable>/'",
        },
        "kept_from_previous_run": kept,
        "artifacts": dict(sorted(expected.items())),
    }
    with open(exp_path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    wrote(exp_path)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in files_under(OUT))
    print(f"total {OUT}: {total} bytes in {len(files_under(OUT))} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
