"""`.keras` archives written by Keras 2.12-2.15 (tf.keras), against what the saver recorded (EXPECTED.json:
every dataset's key, owning layer, variable name and value hash, taken from the live model at save time).

Keras 2.12-2.13 numbered each weighted layer twice (`conv2d`, `conv2d_2`, `conv2d_4`, ...), 2.14 once,
2.15 renamed the list `layers`; the owning layer of every entry must come out right for all four."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from ckptdiff.formats import open_artifact
from tests.conftest import SAMPLES

FORMATS = SAMPLES / "formats"
EXPECTED = json.loads((FORMATS / "EXPECTED.json").read_text())["artifacts"]
ARCHIVES = ["keras212/model.keras", "keras213/model.keras", "keras214/model.keras", "keras215/model.keras"]


@pytest.mark.parametrize("name", ARCHIVES)
def test_every_model_entry_is_attributed_to_the_layer_that_owned_it(name):
    record = EXPECTED[name]
    with open_artifact(FORMATS / name) as artifact:
        assert artifact.metadata["keras_version"] == record["keras_version"]
        got = {e.key: e for e in artifact.entries}
        assert set(got) == {e["key"] for e in record["entries"]}
        model_entries = [e for e in record["entries"] if e["owner"] in record["layer_names"]]
        assert len(model_entries) == 10, "3 Conv2D and 2 Dense layers, a kernel and a bias each"
        for want in model_entries:
            entry = got[want["key"]]
            assert entry.model_path.split("/")[0] == want["owner"], (want["key"], entry.paths)
            assert hashlib.sha256(np.ascontiguousarray(entry.read()).tobytes()).hexdigest() == want["sha256"]


@pytest.mark.parametrize("name", ["keras212/model.keras", "keras213/model.keras"])
def test_doubled_numbering_shows_in_the_table_by_layer_name(run_cli, name):
    result = run_cli("inspect", str(FORMATS / name), "--no-stats", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    by_key = {t["key"]: t for t in doc["tensors"]}
    conv = by_key["_layer_checkpoint_dependencies/conv2d_4/vars/0"]
    assert conv["paths"][0].startswith("conv2d_2/"), conv


CNN = "sample_checkpoints/scenario_models.py:keras3_cnn"


def _real_keras3_restore(archive):
    """Real Keras 3 `load_weights(skip_mismatch=True)` into the rebuilt cnn, every variable first set to a
    sentinel: each variable's restored value's hash in model order, or None when Keras left it alone."""
    import warnings

    from tests.match.oracle import build_live

    model = build_live(CNN)
    for v in model.weights:
        v.assign(np.full(v.shape, 7777, dtype=v.dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.load_weights(str(archive), skip_mismatch=True)
    restored = []
    for v in model.weights:
        value = np.asarray(v.numpy())
        restored.append(
            None if np.all(value == 7777) else hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        )
    return restored


@pytest.mark.parametrize("name", ARCHIVES)
def test_check_agrees_with_keras3_load_weights_variable_by_variable(run_cli, name):
    """Keras 3 reads 2.12-2.13 containers by their stored names: conv2d_1 and dense_1 find nothing and conv2d_2
    silently receives the second conv's weights (docs/formats-research.md, section 6). ckptdiff must say
    missing, matched and misplaced for exactly the variables where the real loader did that.

    Variables are compared in model order (layer names are uniquified per process); the i-th variable belongs
    to the (i // 2)-th weighted layer, which the saver called `weighted[i // 2]`."""
    record = EXPECTED[name]
    weighted = [n for n in record["layer_names"] if any(e["owner"] == n for e in record["entries"])]
    owner_by_sha = {e["sha256"]: e for e in record["entries"] if e["owner"] in weighted}
    real = _real_keras3_restore(FORMATS / name)
    doc = json.loads(run_cli("check", str(FORMATS / name), "--model", CNN, "--format", "json").stdout)
    found = doc["variables"]
    assert len(found) == len(real) == 2 * len(weighted) == 10
    for i, (finding, sha) in enumerate(zip(found, real, strict=True)):
        if sha is None:
            assert finding["status"] == "missing", (i, finding)
            continue
        stored = owner_by_sha[sha]
        assert finding["status"] == "matched" and finding["key"] == stored["key"], (i, finding, stored["key"])
        assert finding["misplaced"] == (stored["owner"] != weighted[i // 2]), (i, finding, stored["owner"])
    doubled = record["keras_version"].startswith(("2.12", "2.13"))
    assert doc["ok"] is not doubled
    assert any(v is None for v in real) is doubled, "the fixture shows the 2.13 failure or not at all"
    assert sum(f["misplaced"] for f in found) == (2 if doubled else 0)


TF_KERAS_CNN = "sample_checkpoints/scenario_models.py:tf_keras_cnn"
TF_KERAS_WIDER_CNN = "sample_checkpoints/scenario_models.py:tf_keras_wider_cnn"


def _tf_keras_rebuild(archive):
    """The architecture as tf_keras `load_model(compile=False)` rebuilds it (saving_lib.load_model: compile_config
    set to None, deserialize_keras_object in safe mode under ObjectSharingScope)."""
    import zipfile

    from tf_keras.src.saving import serialization_lib

    with zipfile.ZipFile(archive) as z:
        config = json.loads(z.read("config.json"))
    config["compile_config"] = None
    with serialization_lib.ObjectSharingScope():
        return serialization_lib.deserialize_keras_object(config, safe_mode=True)


def _real_tf_keras_load_weights(model, archive):
    """The real tf_keras `model.load_weights(archive)` (saving_lib.load_weights_only: the `_load_state` walk that
    load_model runs), every variable first set to a sentinel: {variable name: sha256 of what it holds, or None
    when the loader left it alone}, and the exception the call raised (None when it returned)."""
    for v in model.weights:
        v.assign(np.full(v.shape, 7777, dtype=v.dtype.as_numpy_dtype))
    try:
        model.load_weights(str(archive))
        raised = None
    except ValueError as exc:
        raised = str(exc)
    restored = {}
    for v in model.weights:
        value = np.asarray(v.numpy())
        restored[v.name.removesuffix(":0")] = (
            None if np.all(value == 7777) else hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        )
    return restored, raised


def _assert_check_is_the_real_load(doc, restored, raised, archive):
    """Variable by variable: matched exactly where the real loader assigned, with the entry whose value it
    assigned (h5py's read of the archive, through ckptdiff's key); missing or mismatched everywhere else."""
    import io
    import zipfile

    import h5py

    if str(archive).endswith(".keras"):
        with zipfile.ZipFile(archive) as z:
            weights = io.BytesIO(z.read("model.weights.h5"))
    else:
        weights = io.BytesIO(archive.read_bytes())
    with h5py.File(weights, "r") as h5:
        found = {v["path"]: v for v in doc["variables"]}
        assert set(found) == set(restored)
        for path, sha in restored.items():
            finding = found[path]
            if sha is None:
                assert finding["status"] != "matched", (path, finding)
                continue
            assert finding["status"] == "matched", (path, finding)
            stored = np.asarray(h5[finding["key"]])
            assert hashlib.sha256(np.ascontiguousarray(stored).tobytes()).hexdigest() == sha, (path, finding["key"])
    assert doc["ok"] is (raised is None and all(s is not None for s in restored.values()))
    outcome = doc["loader"]["outcome"]
    assert outcome.startswith("load_model / load_weights raises") is (raised is not None), (outcome, raised)


@pytest.mark.parametrize("name", ARCHIVES)
def test_check_against_the_archive_itself_emulates_tf_keras_load_model(run_cli, name):
    """`--model ART` of a Keras 2.x `.keras` rebuilds it with tf_keras, as its users load it. tf_keras 2.21 has no
    fallback to the `_layer_checkpoint_dependencies/` names of Keras 2.12-2.14: the real load raises at the first
    Conv2D and assigns nothing; a 2.15 archive loads whole. ckptdiff must say so variable by variable."""
    import tf_keras

    archive = FORMATS / name
    result = run_cli("check", str(archive), "--model", str(archive), "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["loader"]["name"] == "tf_keras"
    assert any("rebuilt with tf_keras in safe mode" in n for n in doc["model"]["notes"])
    restored, raised = _real_tf_keras_load_weights(_tf_keras_rebuild(archive), archive)
    _assert_check_is_the_real_load(doc, restored, raised, archive)
    assert result.exit_code == (0 if raised is None else 1)
    legacy = EXPECTED[name]["keras_version"] < "2.15"
    assert (raised is not None) is legacy, raised
    try:
        tf_keras.models.load_model(str(archive), compile=False)
        load_model_raised = None
    except ValueError as exc:
        load_model_raised = str(exc)
    assert load_model_raised == raised
    if legacy:
        assert "Layer 'conv2d' expected 2 variables, but received 0" in raised
        assert "Layer 'conv2d' expected 2 variables, but received 0" in doc["loader"]["outcome"]
        assert [h["kind"] for h in doc["hints"]] == ["keras2-legacy-containers"]


@pytest.mark.parametrize("spec", [TF_KERAS_CNN, TF_KERAS_WIDER_CNN])
def test_tf_keras_factory_load_of_a_215_archive_matches_the_real_loader(run_cli, spec):
    """A tf_keras factory: the same cnn loads whole; with a wider second Conv2D the real loader assigns the first
    Conv2D, raises on the second's kernel and never reaches the rest (no model is returned by load_model)."""
    from tests.match.oracle import build_live

    archive = FORMATS / "keras215/model.keras"
    doc = json.loads(run_cli("check", str(archive), "--model", spec, "--format", "json").stdout)
    assert doc["loader"]["name"] == "tf_keras"
    restored, raised = _real_tf_keras_load_weights(build_live(spec), archive)
    _assert_check_is_the_real_load(doc, restored, raised, archive)
    assert (raised is None) is (spec == TF_KERAS_CNN)
    if raised is not None:
        assert [p for p, sha in restored.items() if sha is not None] == ["conv2d/kernel", "conv2d/bias"]
        statuses = {v["path"]: v["status"] for v in doc["variables"]}
        assert statuses["conv2d_1/kernel"] == "shape_mismatch"


def test_tf_keras_load_weights_of_a_keras3_weights_file_matches_the_real_loader(run_cli):
    """tf_keras `load_weights(.weights.h5)` of the Keras 3 sample into the same MLP built with tf_keras: the same
    walk paths (`layers/dense/vars`), every variable assigned."""
    from tests.match.oracle import build_live

    spec = "sample_checkpoints/models.py:build_tf_keras"
    weights = SAMPLES / "keras3/model.weights.h5"
    doc = json.loads(run_cli("check", str(weights), "--model", spec, "--format", "json").stdout)
    assert doc["loader"]["name"] == "tf_keras"
    restored, raised = _real_tf_keras_load_weights(build_live(spec), weights)
    assert raised is None and all(sha is not None for sha in restored.values())
    _assert_check_is_the_real_load(doc, restored, raised, weights)
