"""`ckptdiff diff` on the diff scenarios, with exact results checked against TensorFlow's reader / h5py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import SAMPLES

DIFF = SAMPLES / "diff"


def _diff(run_cli, a, b, *extra):
    result = run_cli("diff", str(a), str(b), "--format", "json", *extra)
    assert "Traceback" not in result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_frozen_layer_is_the_only_same_layer(run_cli):
    code, doc = _diff(run_cli, DIFF / "frozen/ckpt-1", DIFF / "frozen/ckpt-2")
    assert code == 1
    assert doc["schema"] == "ckptdiff.diff/1"
    assert doc["summary"] == {
        "same": 2,
        "changed": 8,
        "shape_changed": 0,
        "dtype_changed": 0,
        "only_in_a": 0,
        "only_in_b": 0,
    }
    same = sorted(t["key_a"] for t in doc["tensors"] if t["status"] == "same")
    assert same == [
        "model/_functional/_operations/3/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "model/_functional/_operations/3/bias/.ATTRIBUTES/VARIABLE_VALUE",
    ]
    layers = {lc["layer"]: lc for lc in doc["layers"]}
    assert layers["model/_functional/_operations/3"]["status"] == "same"
    assert layers["model/_functional/_operations/3"]["rel_l2"] == 0
    assert all(lc["rel_l2"] > 0.01 for name, lc in layers.items() if name != "model/_functional/_operations/3")
    assert all(t["aligned_by"] == "object-path" for t in doc["tensors"])


@pytest.mark.requires_tf
def test_frozen_layer_measures_match_numpy_on_tensorflow_values(run_cli, tf):
    _, doc = _diff(run_cli, DIFF / "frozen/ckpt-1", DIFF / "frozen/ckpt-2")
    ra = tf.train.load_checkpoint(str(DIFF / "frozen/ckpt-1"))
    rb = tf.train.load_checkpoint(str(DIFF / "frozen/ckpt-2"))
    for t in doc["tensors"]:
        a = ra.get_tensor(t["key_a"]).astype(np.float64)
        b = rb.get_tensor(t["key_b"]).astype(np.float64)
        assert t["max_abs_diff"] == pytest.approx(float(np.abs(a - b).max()))
        assert t["rel_l2"] == pytest.approx(float(np.linalg.norm(a - b) / np.linalg.norm(a)), rel=1e-9)
        assert t["changed_fraction"] == pytest.approx(float(np.mean(a != b)))
        cos = float(a.ravel() @ b.ravel() / (np.linalg.norm(a) * np.linalg.norm(b)))
        assert t["cosine"] == pytest.approx(cos, rel=1e-9)


def test_tolerance_turns_small_changes_into_same(run_cli):
    _, exact = _diff(run_cli, DIFF / "frozen/ckpt-1", DIFF / "frozen/ckpt-2")
    largest = max(t["max_abs_diff"] for t in exact["tensors"])
    code, loose = _diff(run_cli, DIFF / "frozen/ckpt-1", DIFF / "frozen/ckpt-2", "--atol", str(largest * 1.01))
    assert code == 0 and loose["identical"] and loose["summary"]["same"] == 10


def test_checkpoint_and_savedmodel_exported_from_it_are_the_same(run_cli):
    code, doc = _diff(run_cli, DIFF / "module/ckpt", DIFF / "module/saved_model")
    assert code == 0
    assert doc["b"]["format"] == "saved-model"
    assert doc["summary"] == {
        "same": 4,
        "changed": 0,
        "shape_changed": 0,
        "dtype_changed": 0,
        "only_in_a": 0,
        "only_in_b": 0,
    }
    assert {(t["key_a"], t["key_b"]) for t in doc["tensors"]} == {
        (f"model/{p}/.ATTRIBUTES/VARIABLE_VALUE", f"{p}/.ATTRIBUTES/VARIABLE_VALUE")
        for p in ("dense/w", "dense/b", "head/w", "head/b")
    }
    assert doc["alignment"] == {"object-path": 4}


def test_legacy_h5_and_keras_archive_of_the_same_model_are_the_same(run_cli):
    code, doc = _diff(run_cli, DIFF / "keras/legacy.h5", DIFF / "keras/model.keras")
    assert code == 0
    assert doc["summary"]["same"] == 10 and doc["summary"]["only_in_a"] == 0 and doc["summary"]["only_in_b"] == 0
    pairs = {t["key_a"]: t["key_b"] for t in doc["tensors"]}
    assert pairs["model_weights/dense_1/mlp/dense_1/kernel"] == "layers/dense_1/vars/0"
    assert (
        pairs["model_weights/batch_normalization/mlp/batch_normalization/moving_variance"]
        == "layers/batch_normalization/vars/3"
    )


def test_nan_in_the_same_place_is_equal_and_on_one_side_is_a_change(run_cli):
    code, doc = _diff(run_cli, DIFF / "nan/a", DIFF / "nan/b")
    assert code == 1
    by_key = {t["key_a"]: t for t in doc["tensors"]}
    w = by_key["model/w/.ATTRIBUTES/VARIABLE_VALUE"]
    u = by_key["model/u/.ATTRIBUTES/VARIABLE_VALUE"]
    assert w["status"] == "same" and w["nonfinite_mismatch"] == 0
    assert u["status"] == "changed" and u["nonfinite_mismatch"] == 1
    assert u["changed_fraction"] == pytest.approx(1 / 40)
    assert doc["summary"]["changed"] == 1 and doc["summary"]["same"] == 1


def test_only_filter_and_table(run_cli):
    result = run_cli("diff", str(DIFF / "frozen/ckpt-1"), str(DIFF / "frozen/ckpt-2"), "--only", "same")
    assert result.exit_code == 1
    listed = [line for line in result.stdout.splitlines() if "/.ATTRIBUTES/" in line]
    assert len(listed) == 2 and all(" same " in line for line in listed)
    assert "summary: same 2, changed 8" in result.stdout
    assert result.stdout.rstrip().endswith("DIFFERENT")


def test_identical_sharded_and_single_shard_checkpoints(run_cli):
    code, doc = _diff(run_cli, SAMPLES / "tf2", SAMPLES / "tf2_sharded")
    assert code == 0
    assert doc["summary"]["same"] == len(doc["tensors"]) > 20


@pytest.mark.requires_tf
def test_model_aligns_legacy_h5_and_archive_through_the_restores(run_cli):
    """--model: pairs are the entries each emulated restore reads for the same variable."""
    code, doc = _diff(
        run_cli,
        SAMPLES / "keras3/model.keras",
        SAMPLES / "keras3/legacy.h5",
        "--model",
        "sample_checkpoints/models.py:build_keras3",
    )
    assert code == 0
    model_pairs = {t["name"]: (t["key_a"], t["key_b"]) for t in doc["tensors"] if t["aligned_by"] == "model"}
    assert len(model_pairs) == 10 and doc["alignment"]["model"] == 10
    assert model_pairs["dense_1/kernel"] == ("layers/dense_1/vars/0", "model_weights/dense_1/mlp/dense_1/kernel")
    assert model_pairs["batch_normalization/moving_variance"] == (
        "layers/batch_normalization/vars/3",
        "model_weights/batch_normalization/mlp/batch_normalization/moving_variance",
    )
    assert all(t["status"] == "same" for t in doc["tensors"] if t["aligned_by"] == "model")
    assert doc["notes"] == [
        "aligned through --model sample_checkpoints/models.py:build_keras3: A as keras3 restores it, B as h5-order restores it"
    ]


@pytest.mark.requires_tf
def test_model_alignment_of_a_checkpoint_and_its_sharded_copy(run_cli):
    code, doc = _diff(
        run_cli, SAMPLES / "tf2", SAMPLES / "tf2_sharded", "--model", "sample_checkpoints/models.py:build_keras3"
    )
    assert code == 0
    assert doc["alignment"]["model"] == 10
    assert (
        doc["summary"]["same"] == len(doc["tensors"])
        and doc["summary"]["only_in_a"] == doc["summary"]["only_in_b"] == 0
    )
