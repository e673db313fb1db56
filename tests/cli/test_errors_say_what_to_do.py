"""Errors and path forms that name what to pass instead, and a factory's prints kept off stdout."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import SAMPLES


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith("ckptdiff: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_missing_prefix_names_the_numbered_checkpoints(run_cli, tmp_path):
    for name in ("ckpt-1.index", "ckpt-1.data-00000-of-00001", "ckpt-2.index", "ckpt-2.data-00000-of-00001"):
        shutil.copy(SAMPLES / "tf2" / name, tmp_path / name)
    error = _one_line_error(run_cli("inspect", str(tmp_path / "ckpt")))
    assert "did you mean ckpt-2, the latest (also ckpt-1)?" in error


@pytest.mark.parametrize(
    "given,read,note",
    [
        ("saved_model/saved_model.pb", "saved_model", "read the SavedModel"),
        ("tf1/model.ckpt.meta", "tf1/model.ckpt", "is the graph of a TF1 checkpoint"),
        ("tf2/checkpoint", "tf2/ckpt-2", "latest checkpoint named by"),
    ],
)
def test_a_file_of_an_artifact_reads_the_artifact(run_cli, given, read, note):
    result = run_cli("inspect", str(SAMPLES / given), "--no-stats", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["artifact"]["resolved"] == str(SAMPLES / read)
    assert any(note in n for n in doc["artifact"]["notes"])
    direct = json.loads(run_cli("inspect", str(SAMPLES / read), "--no-stats", "--format", "json").stdout)
    assert [t["key"] for t in doc["tensors"]] == [t["key"] for t in direct["tensors"]]


def test_meta_graph_without_its_checkpoint_says_what_to_pass(run_cli, tmp_path):
    shutil.copy(SAMPLES / "tf1/model.ckpt.meta", tmp_path / "model.ckpt.meta")
    assert "pass the checkpoint prefix" in _one_line_error(run_cli("inspect", str(tmp_path / "model.ckpt.meta")))


def test_tf_serving_base_directory_reads_the_highest_version(run_cli, tmp_path):
    for version in ("1", "7", "12"):
        shutil.copytree(SAMPLES / "saved_model", tmp_path / version)
    (tmp_path / "not_a_version").mkdir()
    result = run_cli("inspect", str(tmp_path), "--no-stats", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["artifact"]["resolved"] == str(tmp_path / "12")
    assert any("TF Serving base directory" in n for n in doc["artifact"]["notes"])


def test_wrong_factory_name_lists_the_callables_closest_first(run_cli):
    error = _one_line_error(
        run_cli("check", str(SAMPLES / "tf2"), "--model", "sample_checkpoints/models.py:build_keras")
    )
    assert "it defines: build_keras3, build_tf_keras" in error


@pytest.mark.requires_tf
def test_a_chatty_factory_keeps_json_and_junit_parseable(run_cli, tmp_path):
    factory = tmp_path / "chatty.py"
    factory.write_text(
        "import keras\n"
        "def factory():\n"
        "    print('building the model')\n"
        "    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])\n"
        "    m.summary()\n"
        "    return m\n"
    )
    artifact = str(SAMPLES / "scenarios/class_count/model.weights.h5")
    for fmt, parse in (
        ("json", json.loads),
        ("junit", __import__("xml.etree.ElementTree").etree.ElementTree.fromstring),
    ):
        result = run_cli("check", artifact, "--model", f"{factory}:factory", "--format", fmt)
        parse(result.stdout)
        assert "building the model" not in result.stdout
        assert "| building the model" in result.stderr and "Total params" in result.stderr
    quiet = run_cli("check", artifact, "--model", f"{factory}:factory", "--format", "json", "--quiet")
    assert "building the model" not in quiet.stderr + quiet.stdout
