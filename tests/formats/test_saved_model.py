"""SavedModel directories, with saved_model_pb2 parsing of the same file as the oracle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ckptdiff.errors import CorruptArtifact
from ckptdiff.formats import open_artifact
from ckptdiff.formats.saved_model import read_saved_model

REALWORLD_SAVED_MODELS = (
    "tf_serving/saved_model_half_plus_two_cpu/00000123",
    "tf_serving/saved_model_half_plus_two_tf2_cpu/00000123",
)


def oracle_facts(directory: Path) -> dict:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((directory / "saved_model.pb").read_bytes())
    ops: set[str] = set()
    function_names: set[str] = set()
    functions = 0
    signatures = {}
    for meta in proto.meta_graphs:
        ops.update(n.op for n in meta.graph_def.node)
        for function in meta.graph_def.library.function:
            functions += 1
            function_names.add(function.signature.name)
            ops.update(n.op for n in function.node_def)
        for name, sig in meta.signature_def.items():
            signatures.setdefault(
                name, {"method_name": sig.method_name, "inputs": sorted(sig.inputs), "outputs": sorted(sig.outputs)}
            )
    return {
        "schema_version": proto.saved_model_schema_version,
        "tags": [list(m.meta_info_def.tags) for m in proto.meta_graphs],
        "signatures": signatures,
        "ops": sorted(ops - function_names),
        "functions": functions,
        "tensorflow_version": proto.meta_graphs[0].meta_info_def.tensorflow_version,
    }


def assert_matches_oracle(directory: Path) -> None:
    expected = oracle_facts(directory)
    with read_saved_model(directory, str(directory)) as artifact:
        assert artifact.format == "saved-model"
        for name, value in expected.items():
            assert artifact.metadata[name] == value, f"{directory}: {name}"


@pytest.mark.requires_tf
def test_sample_saved_model_matches_saved_model_pb2(samples, tf):
    assert_matches_oracle(samples / "saved_model")


@pytest.mark.requires_tf
@pytest.mark.realworld
@pytest.mark.parametrize("relative", REALWORLD_SAVED_MODELS)
def test_realworld_saved_models_match_saved_model_pb2(realworld, tf, relative):
    assert_matches_oracle(realworld / relative)


def test_sample_saved_model(samples):
    with read_saved_model(samples / "saved_model", "sm") as artifact:
        assert artifact.path == "sm" and artifact.resolved == str(samples / "saved_model")
        assert len(artifact.entries) == 21
        assert artifact.object_graph is not None
        meta = artifact.metadata
        assert meta["tags"] == [["serve"]]
        assert {"serve", "serving_default"} <= set(meta["signatures"])
        assert meta["signatures"]["serving_default"]["inputs"] == ["input"]
        assert "MatMul" in meta["ops"] and meta["fingerprint"] is True and meta["assets"] == []
        assert meta["tensorflow_version"] == "2.21.0"


@pytest.mark.realworld
def test_tf1_saved_model_with_snappy_index_and_assets(realworld):
    directory = realworld / REALWORLD_SAVED_MODELS[0]
    with open_artifact(directory) as artifact:
        assert artifact.format == "saved-model" and artifact.object_graph is None
        assert sorted(e.key for e in artifact.entries) == ["a", "a2", "b", "c", "c2"]
        assert float(artifact.entry("a").read()) == 0.5
        assert artifact.metadata["assets"] == ["foo.txt"] and artifact.metadata["fingerprint"] is False
        assert "regress_x_to_y" in artifact.metadata["signatures"]


def test_saved_model_without_variables(samples, tmp_path):
    shutil.copy(samples / "saved_model" / "saved_model.pb", tmp_path / "saved_model.pb")
    with read_saved_model(tmp_path, "bare") as artifact:
        assert artifact.entries == () and artifact.format == "saved-model"
        assert artifact.metadata["ops"] and artifact.metadata["fingerprint"] is False
        assert any("no variables" in note for note in artifact.notes)


def test_text_saved_model_is_read_without_its_graph(samples, tmp_path):
    shutil.copytree(samples / "saved_model" / "variables", tmp_path / "variables")
    (tmp_path / "saved_model.pbtxt").write_text("saved_model_schema_version: 1\n")
    with read_saved_model(tmp_path, "text") as artifact:
        assert len(artifact.entries) == 21
        assert "tags" not in artifact.metadata
        assert any("pbtxt" in note for note in artifact.notes)


def test_corrupt_saved_model_pb_names_the_file(samples, tmp_path):
    data = (samples / "saved_model" / "saved_model.pb").read_bytes()
    (tmp_path / "saved_model.pb").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptArtifact, match=str(tmp_path / "saved_model.pb")):
        read_saved_model(tmp_path, "cut")
