"""Gates that must not reassure: values TensorFlow's own saver wrote that differ only in ways float64 arithmetic or a
tolerance can hide (an infinity, integers past 2**53, -0.0, NaN in bfloat16, a missing weight). Each claim is checked
against TensorFlow's reader or the bytes it wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.requires_tf


def _save(tf, prefix, tensors: dict[str, np.ndarray]) -> str:
    names = list(tensors)
    values = [tf.constant(tensors[n]) for n in names]
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names), tensors=values)
    return str(prefix)


def _diff(run_cli, a, b, *extra):
    result = run_cli("diff", a, b, "--format", "json", *extra)
    assert "Traceback" not in result.stderr
    return result.exit_code, json.loads(result.stdout)


def _history(run_cli, *args):
    result = run_cli("history", *args, "--format", "json")
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_an_infinity_is_never_within_a_relative_tolerance(run_cli, tmp_path, tf):
    a = _save(tf, tmp_path / "a" / "ckpt", {"dense/kernel": np.array([1.0, 2.0], np.float32)})
    b = _save(tf, tmp_path / "b" / "ckpt", {"dense/kernel": np.array([np.inf, 2.0], np.float32)})
    assert np.isinf(tf.train.load_checkpoint(b).get_tensor("dense/kernel")[0])  # the oracle: the saver kept it
    for extra in ((), ("--rtol", "1e-6"), ("--atol", "1e-3", "--rtol", "0.5")):
        code, doc = _diff(run_cli, a, b, *extra)
        assert (code, doc["outcome"]) == (1, "different"), extra
        assert doc["tensors"][0]["status"] == "changed"
    code, doc = _diff(run_cli, b, b, "--rtol", "1e-6")  # the same infinity on both sides is the same
    assert (code, doc["outcome"]) == (0, "identical")


def test_integers_past_2_53_are_compared_exactly(run_cli, tmp_path, tf):
    a = _save(tf, tmp_path / "a" / "ckpt", {"step/counter": np.array([2**53], np.int64)})
    b = _save(tf, tmp_path / "b" / "ckpt", {"step/counter": np.array([2**53 + 1], np.int64)})
    ra, rb = tf.train.load_checkpoint(a), tf.train.load_checkpoint(b)
    assert ra.get_tensor("step/counter")[0] != rb.get_tensor("step/counter")[0]
    code, doc = _diff(run_cli, a, b)
    assert (code, doc["outcome"]) == (1, "different")


def test_a_model_weight_on_one_side_only_is_a_difference(run_cli, tmp_path, tf):
    weights = {f"layer{i}/kernel": np.full((3,), float(i), np.float32) for i in range(3)}
    a = _save(tf, tmp_path / "a" / "ckpt", weights)
    b = _save(tf, tmp_path / "b" / "ckpt", {k: v for k, v in weights.items() if k != "layer2/kernel"})
    assert "layer2/kernel" not in tf.train.load_checkpoint(b).get_variable_to_shape_map()
    code, doc = _diff(run_cli, a, b)
    assert (code, doc["outcome"], doc["summary"]["same"], doc["summary"]["only_in_a"]) == (1, "different", 2, 1)
    assert any("1 model entries of A and 0 of B have no counterpart" in n for n in doc["notes"])
    table = run_cli("diff", a, b)
    assert table.exit_code == 1 and "IDENTICAL" not in table.stdout


def test_history_compares_bytes_and_sees_nan_in_bfloat16(run_cli, tmp_path, tf):
    import ml_dtypes

    bf = np.array([np.nan, 1.0, 2.0], np.float32).astype(ml_dtypes.bfloat16)
    first = _save(tf, tmp_path / "run" / "ckpt-1", {"dense/kernel": bf, "dense/bias": np.zeros(2, np.float32)})
    second = _save(tf, tmp_path / "run" / "ckpt-2", {"dense/kernel": bf, "dense/bias": np.array([-0.0, 0.0], "f4")})
    reader = tf.train.load_checkpoint(second)
    assert np.isnan(np.asarray(reader.get_tensor("dense/kernel"), np.float32)[0])
    assert np.signbit(reader.get_tensor("dense/bias")[0])  # -0.0: equal to 0.0 as a number, not as bytes
    for extra in ((), ("--changed-only",)):
        code, doc = _history(run_cli, first, second, "--allow", "never_changed", *extra)
        by_name = {v["name"]: v for v in doc["variables"]}
        assert by_name["dense/kernel"]["status"] == "never_changed", extra  # bit-identical, NaN included
        assert by_name["dense/kernel"]["first_nonfinite"] == 0, extra
        assert by_name["dense/bias"]["changed"] == [True], extra  # as the CRC32C path sees it
        assert doc["summary"]["nonfinite"] == 1 and code == 1, extra
