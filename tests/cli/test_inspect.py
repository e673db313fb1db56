"""`ckptdiff inspect` on every sample and real-world artifact, checked against h5py and TensorFlow."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from tests.conftest import REALWORLD_ARTIFACTS, SAMPLE_ARTIFACTS, SAMPLES, tree_digest


def _sample(rel: str):
    path = SAMPLES / rel
    if not (path.exists() or path.with_name(path.name + ".index").exists()):
        pytest.skip(f"sample {rel} not generated (make samples)")
    return path


@pytest.mark.parametrize("rel,fmt", sorted(SAMPLE_ARTIFACTS.items()))
def test_every_sample_path_form_is_detected_and_listed(run_cli, rel, fmt):
    path = _sample(rel)
    before = tree_digest(path.parent if not path.exists() else path)
    result = run_cli("inspect", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "ckptdiff.inspect/1"
    assert doc["artifact"]["format"] == fmt
    assert doc["tensors"], "a sample with no tensors"
    assert {t["group"] for t in doc["tensors"]} <= {"model", "optimizer", "bookkeeping"}
    assert any(t["group"] == "model" for t in doc["tensors"])
    assert tree_digest(path.parent if not path.exists() else path) == before


@pytest.mark.realworld
@pytest.mark.parametrize("rel,fmt", sorted(REALWORLD_ARTIFACTS.items()))
def test_every_realworld_artifact_is_read(run_cli, realworld, rel, fmt):
    path = realworld / rel
    before = tree_digest(path)
    result = run_cli("inspect", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["artifact"]["format"] == fmt
    assert doc["tensors"]
    assert tree_digest(path) == before


@pytest.mark.realworld
def test_v1_session_bundle_lists_a_and_b(run_cli, realworld):
    result = run_cli("inspect", str(realworld / "tf_serving/session_bundle_half_plus_two"), "--format", "json")
    tensors = {t["key"]: t for t in json.loads(result.stdout)["tensors"]}
    assert set(tensors) == {"a", "b"}
    assert tensors["a"]["stats"]["mean"] == 0.5 and tensors["a"]["shape"] == []
    assert tensors["b"]["stats"]["mean"] == 2.0


def _assert_mean(mean: float, values: np.ndarray) -> None:
    """Means agree to 1e-6 of the spread (the documented precision of the streaming pass)."""
    ref = values.astype(np.float64)
    assert abs(mean - float(ref.mean())) <= 1e-6 * (float(ref.std()) + abs(float(ref.mean()))) + 1e-12


def _h5_datasets(path) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


@pytest.mark.parametrize("rel", ["keras3/model.weights.h5", "keras2/model.h5", "keras2/weights_only.h5"])
def test_h5_statistics_equal_numpy_on_h5py_values(run_cli, rel):
    path = _sample(rel)
    oracle = _h5_datasets(path)
    doc = json.loads(run_cli("inspect", str(path), "--format", "json").stdout)
    assert doc["tensors"]
    for t in doc["tensors"]:
        values = np.asarray(oracle[t["key"]])
        assert list(values.shape) == t["shape"]
        if values.dtype.kind == "f" and values.size:
            _assert_mean(t["stats"]["mean"], values)
            assert t["stats"]["max"] == float(values.max())
            assert t["stats"]["min"] == float(values.min())


@pytest.mark.requires_tf
def test_checkpoint_statistics_equal_numpy_on_tensorflow_values(run_cli, tf):
    prefix = _sample("tf2/ckpt-2")
    reader = tf.train.load_checkpoint(str(prefix))
    doc = json.loads(run_cli("inspect", str(prefix), "--format", "json").stdout)
    assert {t["key"] for t in doc["tensors"]} == set(reader.get_variable_to_shape_map())
    for t in doc["tensors"]:
        if t["stats"] is None:
            continue
        values = np.asarray(reader.get_tensor(t["key"]))
        _assert_mean(t["stats"]["mean"], values)
        assert t["stats"]["std"] == pytest.approx(float(values.std(dtype=np.float64)), rel=1e-6, abs=1e-12)


def test_group_filter_and_no_stats_options(run_cli):
    path = _sample("keras2/model.h5")
    everything = json.loads(run_cli("inspect", str(path), "--format", "json").stdout)["tensors"]
    model = json.loads(run_cli("inspect", str(path), "--format", "json", "--group", "model").stdout)["tensors"]
    assert model and all(t["group"] == "model" for t in model)
    assert len(model) == sum(t["group"] == "model" for t in everything)
    kernels = json.loads(run_cli("inspect", str(path), "--format", "json", "--filter", "*kernel*").stdout)["tensors"]
    assert kernels and all("kernel" in t["key"] for t in kernels)
    bare = json.loads(run_cli("inspect", str(path), "--format", "json", "--no-stats").stdout)["tensors"]
    assert [t["key"] for t in bare] == [t["key"] for t in everything]
    assert all(t["stats"] is None for t in bare)


def test_table_lists_every_key_and_a_summary_per_group(run_cli):
    path = _sample("keras2/model.h5")
    doc = json.loads(run_cli("inspect", str(path), "--format", "json").stdout)
    table = run_cli("inspect", str(path)).stdout
    assert table.startswith(f"artifact: {path} (keras-h5)")
    for t in doc["tensors"]:
        assert t["key"] in table
    summary = [line for line in table.splitlines() if line.startswith("summary:")]
    model_count = sum(t["group"] == "model" for t in doc["tensors"])
    assert summary and f"model: {model_count} tensors" in summary[0]
