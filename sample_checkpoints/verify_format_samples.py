"""Check ``sample_checkpoints/formats/`` against ``formats/EXPECTED.json``.

Run from anywhere::

    /work/fixture-venv/bin/python sample_checkpoints/verify_format_samples.py

Three passes, each printing one ``ok ...`` line per check (any mismatch raises):

1. ``--raw`` (a subprocess): every artifact read WITHOUT Keras, TensorFlow or JAX --
   h5py, numpy, zipfile, a restricted unpickler for the npz member, and tensorstore
   for Orbax -- and every array compared with EXPECTED (shape, dtype, sha256).  The
   pass ends by asserting that ``jax``, ``keras`` and ``tensorflow`` were never imported.
2. The real loaders (Keras 3.15.1 on TensorFlow, keras_hub ``from_preset``, Orbax):
   the reloaded variables are compared with EXPECTED.  Loader failures that are the
   observed behaviour of these versions (npz archive, Keras 2.13 archive in Keras 3,
   relative Orbax path) are checked to still fail the same way.
3. ``--keras2-load PATH`` under each old venv (if present): the Keras 2.x archive is
   loaded with its own Keras and compared with EXPECTED.
Finally: no absolute path of this machine (repo root, home) in any artifact, and the
folder size.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
F = os.path.join("sample_checkpoints", "formats")
MAX_BYTES = 3 * 1024 * 1024
ORBAX_TMP = "/tmp/ckptdiff-format-samples"
KERAS2_VENVS = {
    "keras212": ("CKPTDIFF_KERAS212_PYTHON", "/work/keras212-venv/bin/python"),
    "keras213": ("CKPTDIFF_KERAS213_PYTHON", "/work/keras213-venv/bin/python"),
    "keras214": ("CKPTDIFF_KERAS214_PYTHON", "/work/keras214-venv/bin/python"),
    "keras215": ("CKPTDIFF_KERAS215_PYTHON", "/work/keras215-venv/bin/python"),
}


def ok(msg: str) -> None:
    print(f"ok  {msg}")


def load_expected() -> dict:
    with open(os.path.join(F, "EXPECTED.json")) as f:
        return json.load(f)


def sha(arr) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def same(arr, e: dict, where: str) -> None:
    got = (list(arr.shape), str(arr.dtype), sha(arr))
    want = (e["shape"], e["dtype"], e["sha256"])
    assert got == want, (where, e.get("key"), got, want)


def files_under(path: str) -> list[str]:
    if os.path.isfile(path):
        return [os.path.basename(path)]
    return sorted(os.path.relpath(os.path.join(d, f), path).replace(os.sep, "/")
                  for d, _, fs in os.walk(path) for f in fs)


def artifact_dir(rel: str) -> str:
    path = os.path.join(F, rel)
    return path if os.path.isdir(path) else os.path.dirname(path)


# =========================================================================== pass 1: raw
class _Stub:
    """Stands in for any class the pickle names that is not a numpy primitive."""

    qualname = "?"

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):
        self.state = state

    def __call__(self, *args, **kwargs):
        return type(self)(*args, **kwargs)


class RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays/scalars; every other global becomes an inert _Stub subclass.
    functools.partial is allowed because it can only ever call a stub or numpy."""

    ALLOWED = {("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("functools", "partial")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        return type(name, (_Stub,), {"qualname": f"{module}.{name}"})


def npz_value_to_array(value):
    """A value from a Keras NpzIOStore dict: numpy array/scalar, or a stubbed keras
    Variable whose ``_value`` is a stubbed TF ResourceVariable(initial_value=...)."""
    import numpy as np

    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value)
    if isinstance(value, _Stub):
        state = getattr(value, "state", None)
        inner = state.get("_value") if isinstance(state, dict) else None
        if isinstance(inner, np.ndarray):
            return inner
        if isinstance(inner, _Stub) and "initial_value" in getattr(inner, "kwargs", {}):
            return np.asarray(inner.kwargs["initial_value"])
    raise TypeError(f"cannot extract an array from {type(value)}")


def read_npz_member(npz: zipfile.ZipFile, member: str) -> dict:
    from numpy.lib import format as npy

    with npz.open(member) as fp:
        major, minor = npy.read_magic(fp)
        read_header = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
        shape, fortran, dtype = read_header(fp)
        assert dtype.hasobject and shape == (), (member, shape, dtype)
        obj = RestrictedUnpickler(fp).load()  # the 0-d object array
    return obj.item() if hasattr(obj, "item") else obj


def raw_h5(h5file, entries, where):
    for e in entries:
        same(h5file[e["key"]][()], e, where)


def raw_sharded(json_path, entries, where):
    import h5py

    folder = os.path.dirname(json_path)
    with open(json_path) as f:
        cfg = json.load(f)
    wm = cfg["weight_map"]
    total = 0.0
    for e in entries:
        group = f"/{e['group']}/vars" if e["group"] else "/vars"
        shards = wm[group] if isinstance(wm[group], list) else [wm[group]]
        hits = []
        for shard in shards:
            with h5py.File(os.path.join(folder, shard), "r") as h:
                if e["key"] in h:
                    hits.append(shard)
                    same(h[e["key"]][()], e, f"{where}:{shard}")
        assert len(hits) == 1, (where, e["key"], shards, hits)
        n = 1
        for d in e["shape"]:
            n *= d
        total += n * (1 / 8 if e["dtype"] == "bool" else int(''.join(c for c in e["dtype"] if c.isdigit()) or 8) / 8)
    assert cfg["metadata"]["total_size"] == total, (where, cfg["metadata"], total)
    return len(cfg["weight_map"]), len({s for v in wm.values() for s in (v if isinstance(v, list) else [v])})


def tensorstore_read(step_item_dir: str, key: str, zarr3: bool):
    import tensorstore as ts

    spec = {"driver": "zarr3" if zarr3 else "zarr",
            "kvstore": {"driver": "ocdbt", "base": "file://" + os.path.abspath(step_item_dir) + "/"},
            "path": key}
    t = ts.open(spec, open=True, read=True).result()
    return t.read().result()


def raw_pass() -> int:
    import h5py
    import numpy as np

    exp = load_expected()["artifacts"]
    for rel, a in exp.items():
        path = os.path.join(F, rel)
        root = path if os.path.isdir(path) else os.path.dirname(path)
        kind = a["kind"]
        if kind in ("keras3-sharded-weights",):
            got = sorted(f for f in files_under(root) if f != "single.weights.h5")
            assert got == sorted(a["files"]), (rel, got)
            groups, shards = raw_sharded(path, a["entries"], rel)
            ok(f"raw {rel}: {len(a['entries'])} arrays in {shards} shards, {groups} weight_map "
               "groups, total_size matches")
        elif kind == "keras3-weights-h5":
            with h5py.File(path, "r") as h:
                raw_h5(h, a["entries"], rel)
            ok(f"raw {rel}: {len(a['entries'])} arrays")
        elif kind == "keras3-model-dir":
            assert files_under(path) == a["files"], (rel, files_under(path))
            with h5py.File(os.path.join(path, a["weights_member"]), "r") as h:
                raw_h5(h, a["entries"], rel)
            ok(f"raw {rel}: {a['files']}, {len(a['entries'])} arrays")
        elif kind in ("keras2-archive",):
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                meta = json.loads(z.read("metadata.json"))
                assert meta["keras_version"] == a["keras_version"], (rel, meta)
                with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as h:
                    raw_h5(h, a["entries"], rel)
                    top = sorted(h.keys())
            ok(f"raw {rel}: keras_version {meta['keras_version']}, members {names}, "
               f"top groups {top}, {len(a['entries'])} arrays")
        elif kind == "keras2-legacy-h5":
            assert not zipfile.is_zipfile(path), rel
            with h5py.File(path, "r") as h:
                raw_h5(h, a["entries"], rel)
                attrs = sorted(h.attrs)
                top = sorted(h.keys())
            ok(f"raw {rel}: HDF5, root attrs {attrs}, top groups {top}, "
               f"{len(a['entries'])} model_weights arrays")
        elif kind == "keras3-archive-npz":
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                assert a["weights_member"] in names, names
                npz = zipfile.ZipFile(io.BytesIO(z.read(a["weights_member"])))
                assert sorted(npz.namelist()) == sorted(a["npz_members"]), npz.namelist()
                cache = {}
                classes = set()
                for e in a["entries"]:
                    m = e["npz_member"]
                    if m not in cache:
                        cache[m] = read_npz_member(npz, m)
                    value = cache[m][e["item"]]
                    classes.add(getattr(value, "qualname", type(value).__name__))
                    same(npz_value_to_array(value), e, f"{rel}:{m}")
            ok(f"raw {rel}: members {names}; {len(a['entries'])} arrays from pickled dicts "
               f"(restricted unpickler; value types {sorted(classes)})")
        elif kind == "kerashub-preset":
            assert files_under(path) == a["files"], (rel, files_under(path))
            for wfile, entries in a["weights"].items():
                if wfile.endswith(".json"):
                    raw_sharded(os.path.join(path, wfile), entries, f"{rel}/{wfile}")
                else:
                    with h5py.File(os.path.join(path, wfile), "r") as h:
                        raw_h5(h, entries, f"{rel}/{wfile}")
            with open(os.path.join(path, "config.json")) as f:
                cfg = json.load(f)
            with open(os.path.join(path, "metadata.json")) as f:
                meta = json.load(f)
            assert cfg["class_name"] == a["backbone_class"], cfg["class_name"]
            if "tokenizer_vocabulary" in a:
                with open(os.path.join(path, "assets/tokenizer/vocabulary.txt")) as f:
                    assert f.read().splitlines() == a["tokenizer_vocabulary"]
            ok(f"raw {rel}: {cfg['class_name']} ({cfg['registered_name']}), keras_hub "
               f"{meta['keras_hub_version']}, parameter_count {meta['parameter_count']}, "
               + ", ".join(f"{w}: {len(es)} arrays" for w, es in a["weights"].items()))
        elif kind in ("orbax-keras-callback", "orbax-jax-user"):
            assert files_under(path) == a["files"], (rel, files_under(path))
            seen_zarr = set()
            for step, s in a["steps"].items():
                item = "pytree" if "pytree" in s else "state"
                item_dir = os.path.join(path, step, item)
                with open(os.path.join(path, step, "_CHECKPOINT_METADATA")) as f:
                    handlers = json.load(f)["item_handlers"]
                assert sorted(handlers) == sorted(s["checkpointables"]), handlers
                with open(os.path.join(item_dir, "_METADATA")) as f:
                    md = json.load(f)
                tree_md, zarr3 = md["tree_metadata"], md.get("use_zarr3", False)
                assert md.get("use_ocdbt"), (rel, step)
                md_keys = {".".join(k["key"] for k in v["key_metadata"]) for v in tree_md.values()}
                assert md_keys == {e["key"] for e in s[item]}, (rel, step, md_keys)
                for e in s[item]:
                    arr = np.asarray(tensorstore_read(item_dir, e["key"], zarr3))
                    same(arr, e, f"{rel}/{step}/{item}")
                    seen_zarr.add("zarr3" if zarr3 else "zarr v2")
            ok(f"raw {rel}: steps {sorted(a['steps'])}, "
               f"{sum(len(s.get('pytree') or s.get('state')) for s in a['steps'].values())} "
               f"arrays read with tensorstore ({'/'.join(sorted(seen_zarr))} on ocdbt)")
        else:
            raise AssertionError(f"unknown kind {kind} for {rel}")
    heavy = sorted(m for m in ("jax", "jaxlib", "keras", "tensorflow", "orbax") if m in sys.modules)
    assert not heavy, f"raw pass imported {heavy}"
    ok("raw pass imported none of jax, jaxlib, keras, tensorflow, orbax")
    return 0


# =========================================================================== pass 2: real loaders
def check_saved_state(obj, entries, where, skip=()):
    """Walk the reloaded object with Keras' own save walk (as the generator did) and
    compare every (storage key -> shape, dtype, sha256) with EXPECTED."""
    from make_format_samples import keras3_entries

    got = {e["key"]: e for e in keras3_entries(obj, skip=skip)}
    want = {e["key"]: e for e in entries}
    assert sorted(got) == sorted(want), (where, sorted(set(got) ^ set(want)))
    for k, e in want.items():
        g = got[k]
        assert (g["shape"], g["dtype"], g["sha256"]) == (e["shape"], e["dtype"], e["sha256"]), \
            (where, k)
    return len(want)


def real_pass() -> int:
    import warnings

    import keras
    import numpy as np

    sys.path.insert(0, HERE)
    import models

    keras.utils.set_random_seed(123)  # different init: values must come from the files
    cv = lambda v: np.asarray(keras.ops.convert_to_numpy(v))  # noqa: E731
    exp = load_expected()["artifacts"]

    for rel in ("sharded/model.weights.json", "sharded/single.weights.h5"):
        m = models.build_keras3(seed=7)
        m.load_weights(os.path.join(F, rel))
        n = check_saved_state(m, exp[rel]["entries"], rel)
        ok(f"keras load_weights {rel}: {n} variables == EXPECTED")

    def compiled():
        m = models.build_keras3(seed=7)
        m.compile(optimizer=keras.optimizers.Adam(1e-2, name="adam"),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
        m.optimizer.build(m.trainable_variables)
        return m

    for rel in ("sharded_adam/model.weights.json", "sharded_adam/single.weights.h5"):
        m = compiled()
        m.load_weights(os.path.join(F, rel))
        n = check_saved_state(m, exp[rel]["entries"], rel)
        ok(f"keras load_weights {rel}: {n} variables (model + Adam) == EXPECTED")

    m = keras.saving.load_model(os.path.join(F, "model_dir"))
    n = check_saved_state(m, exp["model_dir"]["entries"], "model_dir")
    ok(f"keras.saving.load_model(model_dir): {type(m).__name__} {m.name}, {n} variables == EXPECTED")

    try:
        keras.saving.load_model(os.path.join(F, "npz", "model.keras"))
    except ValueError as exc:
        assert "allow_pickle=False" in str(exc), exc
        ok(f"keras.saving.load_model(npz/model.keras) fails as observed: ValueError: {exc}")
    else:
        raise AssertionError("npz/model.keras now loads: update EXPECTED/docs")

    # --- KerasHub
    import keras_hub

    a = exp["hub_preset/bert_tiny"]
    task = keras_hub.models.BertTextClassifier.from_preset(os.path.join(F, "hub_preset", "bert_tiny"))
    n = check_saved_state(task.backbone, a["weights"]["model.weights.h5"], "bert backbone")
    n2 = check_saved_state(task, a["weights"]["task.weights.h5"], "bert task head",
                           skip=list(task.backbone._flatten_layers()))
    ids = task.preprocessor(["the quick fox"])["token_ids"]
    ids = np.asarray(keras.ops.convert_to_numpy(ids))[0][:5].tolist()
    assert ids == [2, 5, 6, 8, 3], ids
    assert task.preprocessor.tokenizer.get_vocabulary() == a["tokenizer_vocabulary"]
    ok(f"keras_hub BertTextClassifier.from_preset(bert_tiny): backbone {n} + head {n2} variables "
       f"== EXPECTED; tokenizer vocabulary == EXPECTED; 'the quick fox' -> {ids}")
    a = exp["hub_preset/gpt2_tiny_sharded"]
    bb = keras_hub.models.Backbone.from_preset(os.path.join(F, "hub_preset", "gpt2_tiny_sharded"))
    n = check_saved_state(bb, a["weights"]["model.weights.json"], "gpt2 backbone")
    tok = keras_hub.models.Tokenizer.from_preset(os.path.join(F, "hub_preset", "gpt2_tiny_sharded"))
    toks = np.asarray(keras.ops.convert_to_numpy(tok("ab a b"))).tolist()
    ok(f"keras_hub Backbone.from_preset(gpt2_tiny_sharded): {type(bb).__name__}, {n} variables "
       f"== EXPECTED (sharded load); {type(tok).__name__}('ab a b') -> {toks}")

    # --- Orbax, Keras callback
    a = exp["orbax/keras_callback"]
    cb_root = os.path.abspath(os.path.join(F, "orbax", "keras_callback"))
    last = max(a["steps"], key=int)
    tree = {e["key"]: e for e in a["steps"][last]["pytree"]}

    def check_state_tree(model, where):
        st = model.get_state_tree(value_format="numpy_array")
        flat = {}

        def walk(t, pre):
            if isinstance(t, dict):
                for k, v in t.items():
                    walk(v, pre + (k,))
            else:
                flat[".".join(pre)] = np.asarray(t)
        walk(st, ())
        n = 0
        for k, e in tree.items():
            if k.startswith("metrics_variables.") and k not in flat:
                continue  # metrics of a model that was compiled but never fit are not built
            arr = flat[k]
            if arr.ndim == 0:  # stored as Python scalars -> int64/float64; compare the value
                assert np.float32(arr) == np.float32(e["value"]), (where, k, arr, e["value"])
            else:
                same(arr, e, where)
            n += 1
        return n

    # load_model rebuilds the model from model_config; its variables then have paths
    # without the "mlp/" prefix, and set_state_tree assigns by exact path only, so this
    # is reported (value by value) rather than asserted.
    m = keras.saving.load_model(cb_root)
    by_sha = {(e["sha256"], tuple(e["shape"])) for e in tree.values()}
    restored, missed = [], []
    for v in list(m.weights) + list(m.optimizer.variables):
        arr = cv(v)
        (restored if (sha(arr), arr.shape) in by_sha else missed).append(v.path)
    ok(f"keras.saving.load_model(<abs>/orbax/keras_callback): {type(m).__name__} {m.name}; "
       f"saved keys {sorted(tree)[:1]}..., reloaded paths {[v.path for v in m.weights][:1]}...; "
       f"{len(restored)} variables hold a saved value ({restored}), {len(missed)} do not "
       f"(e.g. {missed[:3]})")
    m2 = compiled()
    m2.load_weights(cb_root)  # root dir: Keras picks the latest step
    n = check_state_tree(m2, "load_weights(orbax root)")
    ok(f"model.load_weights(<abs>/orbax/keras_callback) into models.build_keras3(): latest step "
       f"{last}, {n} leaves == EXPECTED")
    try:
        compiled().load_weights(os.path.join(cb_root, last))
    except ValueError as exc:
        ok(f"model.load_weights(<abs>/orbax/keras_callback/{last}) (a step dir) fails as "
           f"observed: {str(exc)[:60]}...")
    else:
        ok("model.load_weights(<step dir>) now works (was 'File format not supported')")
    try:
        keras.saving.load_model(os.path.join(F, "orbax", "keras_callback"))
    except Exception as exc:  # noqa: BLE001 - the observed failure
        ok(f"keras.saving.load_model(<relative path>) fails as observed: {type(exc).__name__}")
    else:
        ok("keras.saving.load_model(<relative orbax path>) now works (was NoEntryError)")

    import orbax.checkpoint as ocp

    for step, s in a["steps"].items():
        loaded = ocp.v1.load_checkpointables(os.path.join(cb_root, step))
        assert sorted(loaded) == sorted(s["checkpointables"]), sorted(loaded)
        flat = {".".join(p): np.asarray(v) for p, v in _flatten(loaded["pytree"])}
        for e in s["pytree"]:
            same(flat[e["key"]], e, f"orbax v1 step {step}")
        cfg = json.loads(loaded["model_config"]["config"])
        ok(f"orbax.checkpoint.v1.load_checkpointables(keras_callback/{step}): {sorted(loaded)}, "
           f"{len(s['pytree'])} leaves == EXPECTED, model_config class {cfg['class_name']}")

    # --- Orbax, JAX user
    a = exp["orbax/jax_user"]
    ju_root = os.path.abspath(os.path.join(F, "orbax", "jax_user"))
    mngr = ocp.CheckpointManager(ju_root)
    assert [str(x) for x in mngr.all_steps()] == sorted(a["steps"], key=int), mngr.all_steps()
    for step, s in a["steps"].items():
        r = mngr.restore(int(step), args=ocp.args.Composite(
            state=ocp.args.StandardRestore(), config=ocp.args.JsonRestore()))
        flat = {".".join(p): np.asarray(v) for p, v in _flatten(r["state"])}
        for e in s["state"]:
            same(flat[e["key"]], e, f"jax_user step {step}")
        assert r["config"] == s["config"], r["config"]
        ok(f"orbax CheckpointManager.restore(jax_user, {step}): {len(s['state'])} leaves == "
           f"EXPECTED, config {r['config']}")
    mngr.close()

    # --- Keras 2.x archives, read by Keras 3.15.1 (observed behaviour)
    rel = "keras212/default_save.keras"
    if rel in exp:
        try:
            keras.saving.load_model(os.path.join(F, rel))
            ok(f"keras 3.15.1 load_model({rel}): loads")
        except Exception as exc:  # noqa: BLE001
            ok(f"keras 3.15.1 load_model({rel}) (HDF5 named .keras) fails as observed: "
               f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
    for name in ("keras212", "keras213", "keras214", "keras215"):
        rel = f"{name}/model.keras"
        if rel not in exp:
            continue
        a = exp[rel]
        path = os.path.join(F, rel)
        try:
            keras.saving.load_model(path)
            first = "load_model: loads"
        except Exception as exc:  # noqa: BLE001
            first = f"load_model: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
        with zipfile.ZipFile(path) as z:
            cfg = json.loads(z.read("config.json"))
        cfg["compile_config"] = None
        m = keras.saving.deserialize_keras_object(cfg)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m.load_weights(path, skip_mismatch=True)
        failed = [str(w.message) for w in caught if "could not be loaded" in str(w.message)]
        by_owner_item = {}
        for e in a["entries"]:
            if e["owner_class"] in ("Conv2D", "Dense"):
                by_owner_item[(e["owner"], e["item"])] = e
        report = []
        for layer in m.layers:
            for i, v in enumerate(layer.weights):
                arr = cv(v)
                src = [k for k, e in by_owner_item.items()
                       if e["shape"] == list(arr.shape) and e["sha256"] == sha(arr)]
                if src != [(layer.name, str(i))]:
                    report.append(f"{v.path}<-{src[0][0] + '/' + src[0][1] if src else 'init'}")
        ok(f"keras 3.15.1 reads {rel}: {first}; load_weights(skip_mismatch=True): "
           f"{'warned: ' + failed[0].splitlines()[0] if failed else 'no warning'}; "
           f"wrong/unloaded: {report or 'none'}")
    return 0


def _flatten(tree, prefix=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _flatten(v, prefix + (str(k),))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _flatten(v, prefix + (str(i),))
    else:
        yield prefix, tree


# =========================================================================== pass 3: keras 2
def keras2_load(path: str) -> int:
    import keras

    sys.path.insert(0, HERE)
    from make_format_samples import keras2_entries

    exp = load_expected()["artifacts"][os.path.relpath(path, F).replace(os.sep, "/")]
    m = keras.models.load_model(path)
    got = {e["key"]: e for e in keras2_entries(m)}
    want = {e["key"]: e for e in exp["entries"]}
    n = 0
    for k, e in want.items():
        if k.startswith("metrics/"):
            continue  # metric state is not restored into a freshly compiled model
        g = got[k]
        assert (g["shape"], g["dtype"], g["sha256"]) == (e["shape"], e["dtype"], e["sha256"]), (path, k)
        n += 1
    print(f"ok  keras {keras.__version__} load_model({path}): {n} stored arrays (layers + "
          f"optimizer) == EXPECTED by storage key")
    legacy = os.path.join(os.path.dirname(path), "default_save.keras")
    key = os.path.relpath(legacy, F).replace(os.sep, "/")
    if key in load_expected()["artifacts"]:
        m = keras.models.load_model(legacy)
        want = {e["key"]: e for e in load_expected()["artifacts"][key]["entries"]}
        for layer in m.layers:
            for w in layer.weights:
                same(w.numpy(), want[f"model_weights/{layer.name}/{w.name}"], legacy)
        print(f"ok  keras {keras.__version__} load_model({legacy}): {len(want)} model weights "
              "== EXPECTED")
    return 0


def main() -> int:
    os.chdir(REPO_ROOT)
    if "--raw" in sys.argv:
        return raw_pass()
    if "--keras2-load" in sys.argv:
        return keras2_load(sys.argv[sys.argv.index("--keras2-load") + 1])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    subprocess.run([sys.executable, os.path.abspath(__file__), "--raw"], check=True)
    real_pass()
    exp = load_expected()["artifacts"]
    for name, (env, default) in KERAS2_VENVS.items():
        py = os.environ.get(env, default)
        rel = f"{name}/model.keras"
        if rel not in exp:
            continue
        if not os.path.exists(py):
            print(f"SKIP {rel} with its own Keras: no interpreter at {py} (set {env})")
            continue
        subprocess.run([py, os.path.abspath(__file__), "--keras2-load", os.path.join(F, rel)],
                       check=True)
    needles = {REPO_ROOT.encode(), os.path.realpath(REPO_ROOT).encode(),
               os.path.expanduser("~").encode() + b"/"}
    tmp_hits = []
    total = 0
    for d, _, files in os.walk(F):
        for name in files:
            with open(os.path.join(d, name), "rb") as fh:
                blob = fh.read()
            total += len(blob)
            bad = [n for n in needles if len(n) > 2 and n in blob]
            assert not bad, (os.path.join(d, name), bad)
            if ORBAX_TMP.encode() in blob:
                tmp_hits.append(os.path.relpath(os.path.join(d, name), F))
    ok(f"no repo/home absolute path in any artifact; {len(tmp_hits)} Orbax commit_success.txt "
       f"files name the writer's {ORBAX_TMP} (e.g. {tmp_hits[:1]})")
    assert total < MAX_BYTES, total
    ok(f"{F}: {total} bytes (< {MAX_BYTES})")
    print("all format samples verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
