"""Sharded Keras 3 weights (`*.weights.json`), against the saver's values, h5py, and Keras' own loader."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from ckptdiff.formats import open_artifact
from tests.conftest import SAMPLES

FORMATS = SAMPLES / "formats"
EXPECTED = json.loads((FORMATS / "EXPECTED.json").read_text())["artifacts"]


def _expected(name: str) -> dict[str, dict]:
    record = EXPECTED[name]
    listed = (
        record["weights"]["model.weights.h5"]
        if "weights" in record and "model.weights.h5" in record["weights"]
        else record
    )
    listed = listed.get("entries", listed) if isinstance(listed, dict) else listed
    return {e["key"]: e for e in listed}


@pytest.mark.parametrize("name", ["sharded/model.weights.json", "sharded_adam/model.weights.json"])
def test_every_value_is_what_the_saver_was_given(name):
    expected = _expected(name)
    with open_artifact(FORMATS / name) as artifact:
        assert artifact.format == "keras-sharded-weights"
        got = {e.key: e for e in artifact.entries}
        assert set(got) == set(expected)
        for key, want in expected.items():
            value = got[key].read()
            assert list(value.shape) == want["shape"], key
            assert hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest() == want["sha256"], key


@pytest.mark.parametrize("folder", ["sharded", "sharded_adam"])
def test_a_sharded_save_diffs_identical_to_the_single_file_save(run_cli, folder):
    result = run_cli(
        "diff",
        str(FORMATS / folder / "model.weights.json"),
        str(FORMATS / folder / "single.weights.h5"),
        "--format",
        "json",
    )
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["outcome"] == "identical", doc["summary"]
    assert doc["summary"]["same"] == len(doc["tensors"])


def _copy(tmp_path, folder="sharded_adam"):
    target = tmp_path / folder
    shutil.copytree(FORMATS / folder, target)
    return target


def test_a_missing_shard_is_one_line_naming_it(run_cli, tmp_path):
    folder = _copy(tmp_path)
    (folder / "model_00003.weights.h5").unlink()
    result = run_cli("inspect", str(folder / "model.weights.json"))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "shard model_00003.weights.h5" in result.stderr and "missing" in result.stderr


def test_verify_reports_every_disagreement_between_map_and_shards(run_cli, tmp_path):
    folder = _copy(tmp_path)
    doc = json.loads((folder / "model.weights.json").read_text())
    moved = next(k for k, v in doc["weight_map"].items() if isinstance(v, list) and len(v) > 1)
    dropped = doc["weight_map"][moved].pop()  # the shard still holds variables the map no longer gives it
    doc["metadata"]["total_size"] += 4
    (folder / "model.weights.json").write_text(json.dumps(doc))
    result = run_cli("inspect", str(folder / "model.weights.json"), "--verify", "--no-stats", "--format", "json")
    problems = json.loads(result.stdout)["integrity"]["problems"]
    assert result.exit_code == 1
    keys = {p["key"] for p in problems}
    assert f"{dropped}:{moved.strip('/')}" in keys
    assert "metadata.total_size" in keys
    clean = run_cli("inspect", str(FORMATS / "sharded_adam/model.weights.json"), "--verify", "--no-stats")
    assert clean.exit_code == 0


def test_a_map_naming_a_shard_that_holds_nothing_of_it_is_reported(run_cli, tmp_path):
    folder = _copy(tmp_path)
    doc = json.loads((folder / "model.weights.json").read_text())
    first = next(iter(doc["weight_map"]))
    others = [s for s in {s for v in doc["weight_map"].values() for s in ([v] if isinstance(v, str) else v)}]
    wrong = next(
        s
        for s in sorted(others)
        if s
        not in (doc["weight_map"][first] if isinstance(doc["weight_map"][first], list) else [doc["weight_map"][first]])
    )
    doc["weight_map"][first] = [wrong]
    (folder / "model.weights.json").write_text(json.dumps(doc))
    result = run_cli("inspect", str(folder / "model.weights.json"), "--verify", "--no-stats", "--format", "json")
    problems = json.loads(result.stdout)["integrity"]["problems"]
    assert f"{wrong}:{first.strip('/')}" in {p["key"] for p in problems}


@pytest.mark.requires_tf
def test_check_agrees_with_the_real_sharded_loader(run_cli, tf):
    """`check x.weights.json --model build_keras3`: each matched variable holds, after Keras' own
    `load_weights("x.weights.json")`, the value of the entry ckptdiff names."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ckptdiff_models_sharded", SAMPLES / "models.py")
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    path = FORMATS / "sharded/model.weights.json"
    doc = json.loads(
        run_cli("check", str(path), "--model", "sample_checkpoints/models.py:build_keras3", "--format", "json").stdout
    )
    assert doc["summary"]["matched"] == 10 and doc["summary"]["missing"] == 0
    model = models.build_keras3(seed=5)
    model.load_weights(str(path))
    by_path = {f"{layer.name}/{w.name}": w for layer in model.layers for w in layer.weights}
    with open_artifact(path) as artifact:
        for v in doc["variables"]:
            assert np.array_equal(np.asarray(by_path[v["path"]].numpy()), artifact.entry(v["key"]).read()), v["path"]


def test_a_sharded_preset_reads_and_verifies(run_cli):
    result = run_cli(
        "inspect", str(FORMATS / "hub_preset/gpt2_tiny_sharded"), "--verify", "--no-stats", "--format", "json"
    )
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["artifact"]["format"] == "keras-hub-preset"
    assert doc["integrity"]["ok"] and doc["integrity"]["checked"] == len(doc["tensors"])
