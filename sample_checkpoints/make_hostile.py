"""Write ``sample_checkpoints/hostile/``: artifacts crafted so that LOADING them would run code.

Usage (from the repo root)::

    .venv/bin/python sample_checkpoints/make_hostile.py

Every artifact here is written by a real saver (saving never runs the planted code); two are then
edited on purpose (a crafted-danger fixture). Each planted payload, if it ever ran, would create a
marker file: the Keras payloads write to ``$CKPTDIFF_MARKER_DIR/<name>`` (``/tmp`` when unset), so a
test chooses the place at run time; the SavedModel's graph holds a constant path, ``MARKER_SAVED_MODEL``.
tests/cli/test_no_code_execution.py runs every command on every file and checks no marker appears.

| file | planted danger |
|---|---|
| ``lambda_legacy.h5`` | tf_keras full-model H5 with a ``Lambda`` whose marshalled bytecode writes ``ckptdiff_marker_lambda_h5`` |
| ``lambda.keras`` | Keras 3 archive with a ``Lambda`` (a serialised Python lambda) writing ``ckptdiff_marker_lambda_keras`` |
| ``foreign_module.keras`` | Keras 3 archive whose config.json was edited: an activation names ``os.system`` with a shell command that touches ``ckptdiff_marker_os_system``, another names ``builtins.exec`` |
| ``zip_tricks.keras`` | a healthy archive plus members Keras never writes: ``../escape.txt``, ``/abs/evil.txt``, ``payload.py``, and ``bomb.bin`` whose central directory declares 1 TiB |
| ``write_file_saved_model/`` | ``tf.saved_model.save`` of a ``tf.Module``: the serving signature runs ``WriteFile`` (and ``PrintV2``) on ``MARKER_SAVED_MODEL``; a restored function ``peek`` runs ``ReadFile`` and ``MatchingFiles``; ``callback`` runs ``EagerPyFunc``; one asset ``vocab.txt`` |
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import tempfile
import warnings
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "hostile")
MARKER_ENV = "CKPTDIFF_MARKER_DIR"
MARKER_SAVED_MODEL = "/tmp/ckptdiff_marker_saved_model"
MARKER_NAMES = ("ckptdiff_marker_lambda_h5", "ckptdiff_marker_lambda_keras", "ckptdiff_marker_os_system")
BOMB_DECLARED_BYTES = 1 << 40
SEED = 0


def _payload(marker_name: str):
    """A function that writes a marker under $CKPTDIFF_MARKER_DIR and returns its input unchanged.

    Only builtins are used, so the marshalled bytecode runs anywhere it is unmarshalled and called.
    """
    return eval(  # noqa: S307 - building the crafted payload, on purpose
        "lambda x: (open(__import__('os').path.join(__import__('os').environ.get("
        f"{MARKER_ENV!r}, '/tmp'), {marker_name!r}), 'w').write('executed'), x)[1]"
    )


def make_lambda_legacy_h5(path: str) -> None:
    import tf_keras

    tf_keras.utils.set_random_seed(SEED)
    inputs = tf_keras.Input(shape=(4,), name="input")
    hidden = tf_keras.layers.Dense(3, name="dense")(inputs)
    marked = tf_keras.layers.Lambda(_payload("ckptdiff_marker_lambda_h5"), name="marker_lambda")(hidden)
    outputs = tf_keras.layers.Dense(2, name="dense_1")(marked)
    model = tf_keras.Model(inputs, outputs, name="hostile_lambda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)


def make_lambda_keras(path: str) -> None:
    import keras

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape=(4,), name="input")
    hidden = keras.layers.Dense(3, name="dense")(inputs)
    marked = keras.layers.Lambda(_payload("ckptdiff_marker_lambda_keras"), name="marker_lambda")(hidden)
    outputs = keras.layers.Dense(2, name="dense_1")(marked)
    keras.Model(inputs, outputs, name="hostile_lambda").save(path)


def _tiny_keras3_archive(path: str) -> None:
    import keras

    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,), name="input"),
            keras.layers.Dense(3, activation="relu", name="dense"),
            keras.layers.Dense(2, activation="relu", name="dense_1"),
        ],
        name="tiny",
    )
    model.save(path)


def _rewrite_member(path: str, name: str, data: bytes) -> None:
    """Rewrite one member of a zip (same order, same compression for the others)."""
    tmp = path + ".tmp"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename == name else src.read(info))
    os.replace(tmp, path)


def make_foreign_module_keras(path: str) -> None:
    _tiny_keras3_archive(path)
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
    layers = config["config"]["layers"]
    dense, dense_1 = layers[1], layers[2]
    command = f'touch "${{{MARKER_ENV}:-/tmp}}/ckptdiff_marker_os_system"'
    dense["config"]["activation"] = {
        "module": "os",
        "class_name": "system",
        "config": {"command": command},
        "registered_name": None,
    }
    dense_1["config"]["activation"] = {
        "module": "builtins",
        "class_name": "function",
        "config": "exec",
        "registered_name": "function",
    }
    _rewrite_member(path, "config.json", json.dumps(config).encode())


def make_zip_tricks_keras(path: str) -> None:
    _tiny_keras3_archive(path)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr(zipfile.ZipInfo("../escape.txt"), b"written outside the extraction folder\n")
        z.writestr(zipfile.ZipInfo("/abs/evil.txt"), b"written at an absolute path\n")
        z.writestr(zipfile.ZipInfo("payload.py"), b"import os\nos.system('true')\n")
        bomb = zipfile.ZipInfo("bomb.bin")
        bomb.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(bomb, b"\0" * 4096)
    _declare_size(path, "bomb.bin", BOMB_DECLARED_BYTES)


def _declare_size(path: str, name: str, declared: int) -> None:
    """Patch the central directory so member `name` declares `declared` uncompressed bytes (zip64 extra)."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
        start_dir = z.start_dir
    data = bytearray(open(path, "rb").read())
    pos = start_dir
    encoded = name.encode()
    while data[pos : pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        if bytes(data[pos + 46 : pos + 46 + name_len]) == encoded:
            break
        pos += 46 + name_len + extra_len + comment_len
    else:
        raise RuntimeError(f"{name} not in the central directory")
    assert extra_len == 0, "expected a member without extra fields"
    struct.pack_into("<I", data, pos + 24, 0xFFFFFFFF)  # uncompressed size lives in the zip64 extra
    extra = struct.pack("<HHQ", 0x0001, 8, declared)
    struct.pack_into("<H", data, pos + 30, len(extra))
    insert_at = pos + 46 + name_len
    data[insert_at:insert_at] = extra
    # the end-of-central-directory record follows: its directory size grows by len(extra)
    eocd = data.rfind(b"PK\x05\x06")
    size_dir = struct.unpack_from("<I", data, eocd + 12)[0]
    struct.pack_into("<I", data, eocd + 12, size_dir + len(extra))
    with open(path, "wb") as f:
        f.write(data)
    with zipfile.ZipFile(path) as z:
        assert z.getinfo(name).file_size == declared and info.compress_size == z.getinfo(name).compress_size


def make_write_file_saved_model(path: str) -> None:
    import tensorflow as tf

    tf.random.set_seed(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        vocab = os.path.join(tmp, "vocab.txt")
        with open(vocab, "w") as f:
            f.write("alpha\nbeta\n")

        class Hostile(tf.Module):
            def __init__(self) -> None:
                super().__init__(name="hostile")
                self.w = tf.Variable([1.0, 2.0, 3.0], name="w")
                self.vocab = tf.saved_model.Asset(vocab)

            @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
            def serve(self, x):
                tf.io.write_file(MARKER_SAVED_MODEL, tf.constant("executed"))
                tf.print("serving", tf.shape(x))
                return {"y": x * self.w}

            @tf.function(input_signature=[])
            def peek(self):
                return tf.io.read_file(tf.io.matching_files("/etc/host*")[0])

            @tf.function(input_signature=[tf.TensorSpec([3], tf.float32)])
            def callback(self, x):
                return tf.py_function(lambda t: t * 2.0, [x], tf.float32)

        module = Hostile()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


def main() -> int:
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    # Building a model calls its Lambda once on symbolic inputs: point its marker somewhere harmless.
    with tempfile.TemporaryDirectory() as scratch:
        os.environ[MARKER_ENV] = scratch
        make_lambda_legacy_h5(os.path.join(OUT, "lambda_legacy.h5"))
        make_lambda_keras(os.path.join(OUT, "lambda.keras"))
    del os.environ[MARKER_ENV]
    make_foreign_module_keras(os.path.join(OUT, "foreign_module.keras"))
    make_zip_tricks_keras(os.path.join(OUT, "zip_tricks.keras"))
    make_write_file_saved_model(os.path.join(OUT, "write_file_saved_model"))
    for root, _, files in sorted(os.walk(OUT)):
        for name in sorted(files):
            full = os.path.join(root, name)
            print(f"wrote {os.path.relpath(full, os.path.dirname(HERE))} ({os.path.getsize(full)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
