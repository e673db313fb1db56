"""Unzipped Keras model directories and KerasHub presets, against the saver's own values (EXPECTED.json)
and against Keras' real loader."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from ckptdiff.formats import open_artifact
from tests.conftest import SAMPLES

FORMATS = SAMPLES / "formats"
EXPECTED = json.loads((FORMATS / "EXPECTED.json").read_text())["artifacts"]


def _sha(value: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()


@pytest.mark.parametrize("name,fmt", [("model_dir", "keras-model-dir"), ("hub_preset/bert_tiny", "keras-hub-preset")])
def test_every_value_is_what_the_saver_was_given(name, fmt):
    record = EXPECTED[name]
    listed = record["weights"]["model.weights.h5"] if "weights" in record else record["entries"]
    listed = listed["entries"] if isinstance(listed, dict) else listed
    expected = {e["key"]: e for e in listed}
    with open_artifact(FORMATS / name) as artifact:
        assert artifact.format == fmt
        got = {e.key: e for e in artifact.entries}
        assert set(got) == set(expected)
        for key, want in expected.items():
            assert list(got[key].shape) == want["shape"] and got[key].dtype == want["dtype"], key
            assert _sha(got[key].read()) == want["sha256"], key


def test_preset_metadata_is_shown(run_cli):
    result = run_cli("inspect", str(FORMATS / "hub_preset/bert_tiny"), "--no-stats")
    assert result.exit_code == 0
    assert (
        "preset:   Keras 3.15.1, keras_hub 0.32.0, 960 parameters, tasks: MaskedLM, TextClassifier, TextEmbedder"
        in (result.stdout)
    )
    meta = json.loads(run_cli("inspect", str(FORMATS / "hub_preset/bert_tiny"), "--format", "json").stdout)["artifact"]
    assert meta["metadata"]["tasks"] == ["MaskedLM", "TextClassifier", "TextEmbedder"]


def test_scan_treats_keras_hub_as_a_library_and_stays_strict_elsewhere(run_cli, tmp_path):
    result = run_cli("scan", str(FORMATS / "hub_preset/bert_tiny"), "--format", "json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["clean"]
    assert {f["kind"] for f in doc["findings"]} == {"library"} and {f["severity"] for f in doc["findings"]} == {"info"}
    import shutil

    copy = tmp_path / "preset"
    shutil.copytree(FORMATS / "hub_preset/bert_tiny", copy)
    config = json.loads((copy / "config.json").read_text())
    config["config"]["activation"] = {
        "module": "os",
        "class_name": "function",
        "config": "system",
        "registered_name": None,
    }
    (copy / "config.json").write_text(json.dumps(config))
    hostile = json.loads(run_cli("scan", str(copy), "--format", "json").stdout)
    assert not hostile["clean"] and any(f["technique"] == "CVE-2025-1550" for f in hostile["findings"])


@pytest.mark.requires_tf
def test_check_a_model_directory_against_itself_agrees_with_load_model(run_cli, tf):
    """`check DIR --model DIR` rebuilds the screened architecture; Keras' load_model(DIR) is the oracle:
    every variable ckptdiff calls matched holds, after the real load, the value of the key it names."""
    import keras

    doc = json.loads(
        run_cli("check", str(FORMATS / "model_dir"), "--model", str(FORMATS / "model_dir"), "--format", "json").stdout
    )
    assert doc["ok"] and doc["summary"]["matched"] == 10
    real = keras.saving.load_model(str(FORMATS / "model_dir"))
    with open_artifact(FORMATS / "model_dir") as artifact:
        for v in doc["variables"]:
            layer, weight = v["path"].split("/", 1)
            [variable] = [w for w in real.get_layer(layer).weights if w.path.endswith(weight) or w.name == weight]
            assert np.array_equal(np.asarray(variable.numpy()), artifact.entry(v["key"]).read()), v["path"]


def test_npz_weights_are_never_unpickled(run_cli):
    """Keras' npz store pickles its variables: the archive opens, names the pickles, reads none of them."""
    result = run_cli("inspect", str(FORMATS / "npz/model.keras"), "--format", "json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["tensors"] == []
    assert doc["artifact"]["metadata"]["pickled_members"] == [
        "__root__.npy",
        "layers/dense.npy",
        "layers/batch_normalization.npy",
        "layers/dense_1.npy",
        "layers/dense_2.npy",
        "optimizer.npy",
    ]
    scan = json.loads(run_cli("scan", str(FORMATS / "npz/model.keras"), "--format", "json").stdout)
    assert {f["technique"] for f in scan["findings"] if f["severity"] == "high"} == {"npz-pickle"}


def test_plain_npz_arrays_are_read_with_allow_pickle_false(run_cli, tmp_path):
    """An npz member that is a plain array (written by numpy's own savez) is read as it is."""
    import io
    import zipfile

    value = np.arange(12, dtype=np.float32).reshape(3, 4)
    buffer = io.BytesIO()
    np.savez(buffer, **{"layers/dense": value})
    target = tmp_path / "plain.keras"
    with zipfile.ZipFile(FORMATS / "npz/model.keras") as source, zipfile.ZipFile(target, "w") as out:
        for name in ("config.json", "metadata.json"):
            out.writestr(name, source.read(name))
        out.writestr("model.weights.npz", buffer.getvalue())
    with open_artifact(target) as artifact:
        [entry] = artifact.entries
        assert entry.key == "layers/dense" and np.array_equal(entry.read(), value)
