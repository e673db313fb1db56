"""TrackableObjectGraph decoding and object paths, checked against TensorFlow's own proto parsing."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckptdiff.artifact import ObjectNode, ObjectReference, SlotVariableReference
from ckptdiff.errors import CorruptArtifact
from ckptdiff.formats import object_graph
from ckptdiff.formats.object_graph import (
    MAX_PATHS_PER_NODE,
    compute_paths,
    escape_local_name,
    read_object_graph,
)
from ckptdiff.formats.tf_bundle import read_tf_bundle
from tests.formats.test_tf_bundle import (  # noqa: F401  (made_checkpoints is a fixture)
    bundles_under,
    field_bytes,
    field_varint,
    made_checkpoints,
)

KERAS3_KERNEL_KEY = "optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"


def graph_bytes(nodes: list[dict]) -> bytes:
    """Serialize a TrackableObjectGraph from {children: [(id, name)], attributes: [(name, key)], slots: [...]}."""
    out = b""
    for node in nodes:
        body = b"".join(
            field_bytes(1, field_varint(1, i) + field_bytes(2, name.encode())) for i, name in node.get("children", [])
        )
        body += b"".join(
            field_bytes(2, field_bytes(1, name.encode()) + field_bytes(3, key.encode()))
            for name, key in node.get("attributes", [])
        )
        body += b"".join(
            field_bytes(3, field_varint(1, orig) + field_bytes(2, slot.encode()) + field_varint(3, target))
            for orig, slot, target in node.get("slots", [])
        )
        out += field_bytes(1, body)
    return out


# --- against TensorFlow's parser ----------------------------------------------------------------


def assert_graph_matches_tf(prefix: Path) -> None:
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    with read_tf_bundle(prefix, str(prefix)) as artifact:
        graph = artifact.object_graph
        raw = artifact.entry("_CHECKPOINTABLE_OBJECT_GRAPH").read().item()
        keys = {e.key for e in artifact.entries}
    oracle = trackable_object_graph_pb2.TrackableObjectGraph()
    oracle.ParseFromString(raw)
    assert len(graph.nodes) == len(oracle.nodes), prefix
    for i, (node, expected) in enumerate(zip(graph.nodes, oracle.nodes)):
        where = f"{prefix}: node {i}"
        assert [(c.node_id, c.local_name) for c in node.children] == [
            (c.node_id, c.local_name) for c in expected.children
        ], where
        assert [(a.name, a.full_name, a.checkpoint_key) for a in node.attributes] == [
            (a.name, a.full_name, a.checkpoint_key) for a in expected.attributes
        ], where
        assert [(s.original_node_id, s.slot_name, s.slot_node_id) for s in node.slot_variables] == [
            (s.original_variable_node_id, s.slot_name, s.slot_variable_node_id) for s in expected.slot_variables
        ], where
        # The first path is the one TensorFlow saved under: the key is that path plus the attribute.
        for attr in node.attributes:
            first = graph.paths[i][0]
            suffix = f".ATTRIBUTES/{escape_local_name(attr.name)}"
            assert attr.checkpoint_key == (f"{first}/{suffix}" if first else f"/{suffix}"), where
            assert attr.checkpoint_key in keys, where


@pytest.mark.requires_tf
def test_sample_graphs_match_tf(samples, tf):
    """Every sample bundle: a graph exactly where TensorFlow's reader lists one, and then the same graph."""
    with_graphs = []
    for prefix in bundles_under(samples):
        has_graph = "_CHECKPOINTABLE_OBJECT_GRAPH" in tf.train.load_checkpoint(str(prefix)).get_variable_to_shape_map()
        with read_tf_bundle(prefix, str(prefix)) as artifact:
            assert (artifact.object_graph is not None) == has_graph, prefix
        if has_graph:
            with_graphs.append(prefix)
            assert_graph_matches_tf(prefix)
    assert len(with_graphs) >= 4


@pytest.mark.requires_tf
@pytest.mark.realworld
def test_realworld_tf2_saved_model_graph_matches_tf(realworld, tf):
    assert_graph_matches_tf(realworld / "tf_serving/saved_model_half_plus_two_tf2_cpu/00000123/variables/variables")


@pytest.mark.requires_tf
@pytest.mark.parametrize("name", ["slots", "dtypes"])
def test_made_graphs_match_tf(made_checkpoints, tf, name):
    assert_graph_matches_tf(made_checkpoints[name])


# --- paths and groups in real checkpoints -------------------------------------------------------


def test_keras3_kernel_stored_under_optimizer_is_a_model_weight(samples):
    with read_tf_bundle(samples / "tf2" / "ckpt-2", "tf2") as artifact:
        kernel = artifact.entry(KERAS3_KERNEL_KEY)
        assert kernel.group == "model"
        assert kernel.paths[0] == "optimizer/_trainable_variables/0"
        assert "model/_functional/_operations/1/_kernel" in kernel.paths
        assert kernel.shape == (8, 32)
        groups = {e.key: e.group for e in artifact.entries}
    for key, group in groups.items():
        if key.startswith("optimizer/_trainable_variables/") or key.startswith("model/"):
            assert group == "model", key
        elif key.startswith("optimizer/"):
            # _iterations is also reachable as model/optimizer/_iterations: still the optimizer's.
            assert group == "optimizer", key
        else:
            assert group == "bookkeeping", key


def test_tf_keras_weights_have_both_layer_paths(samples):
    with read_tf_bundle(samples / "keras2" / "tf_weights" / "ckpt", "tfk") as artifact:
        kernel = artifact.entry("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE")
        assert kernel.paths == ("layer_with_weights-0/kernel", "layer-0/kernel")
        assert kernel.group == "model"
        assert artifact.entry("optimizer/_variables/1/.ATTRIBUTES/VARIABLE_VALUE").group == "optimizer"


@pytest.mark.requires_tf
def test_slot_variables_and_an_optimizer_not_named_optimizer(made_checkpoints):
    with read_tf_bundle(made_checkpoints["slots"], "slots") as artifact:
        weight = artifact.entry("net/w/.ATTRIBUTES/VARIABLE_VALUE")
        assert weight.paths == ("net/w", "net/alias") and weight.group == "model"
        slot = artifact.entry("net/w/.OPTIMIZER_SLOT/opt/m/.ATTRIBUTES/VARIABLE_VALUE")
        assert slot.paths == ("net/w/.OPTIMIZER_SLOT/opt/m", "net/alias/.OPTIMIZER_SLOT/opt/m")
        assert slot.group == "optimizer"
        assert artifact.entry("opt/iter/.ATTRIBUTES/VARIABLE_VALUE").group == "optimizer"
        assert artifact.entry("net/layers/0/.ATTRIBUTES/VARIABLE_VALUE").group == "model"


# --- synthetic graphs ---------------------------------------------------------------------------


def test_cycles_terminate_and_paths_are_breadth_first():
    nodes = (
        ObjectNode(children=(ObjectReference(1, "a"), ObjectReference(2, "b"))),
        ObjectNode(children=(ObjectReference(3, "deep"), ObjectReference(2, "to_b"))),
        ObjectNode(children=(ObjectReference(1, "back"), ObjectReference(3, "x"), ObjectReference(0, "root"))),
        ObjectNode(),
    )
    paths = compute_paths(nodes)
    assert paths[0] == ("",)
    assert paths[1] == ("a", "b/back")
    assert paths[2] == ("b", "a/to_b")
    assert paths[3] == ("a/deep", "b/x", "a/to_b/x", "b/back/deep")


def test_paths_per_node_are_capped():
    # A chain of 10 diamonds reaches its last node in 2**10 ways.
    nodes = []
    for i in range(10):
        top = 3 * i
        nodes += [
            ObjectNode(children=(ObjectReference(top + 1, "l"), ObjectReference(top + 2, "r"))),
            ObjectNode(children=(ObjectReference(top + 3, "j"),)),
            ObjectNode(children=(ObjectReference(top + 3, "j"),)),
        ]
    nodes.append(ObjectNode())
    paths = compute_paths(tuple(nodes))
    assert len(paths[-1]) == MAX_PATHS_PER_NODE
    assert paths[-1][0] == "/".join(["l/j"] * 10)
    assert [len(p.split("/")) for p in paths[-1]] == sorted(len(p.split("/")) for p in paths[-1])


def test_slot_paths():
    nodes = (
        ObjectNode(children=(ObjectReference(1, "v"), ObjectReference(2, "my.opt"))),
        ObjectNode(),
        ObjectNode(slot_variables=(SlotVariableReference(1, "m/x", 3),)),
        ObjectNode(),
    )
    assert compute_paths(nodes)[3] == ("v/.OPTIMIZER_SLOT/my..opt/m.Sx",)


@pytest.mark.parametrize(
    "nodes",
    [
        [{"children": [(5, "x")]}],
        [{"children": [(-1, "x")]}],
        [{}, {"slots": [(0, "m", 9)]}],
    ],
    ids=["child-past-end", "negative-child", "slot-past-end"],
)
def test_node_ids_out_of_range(nodes):
    with pytest.raises(CorruptArtifact, match="ckpt.index"):
        read_object_graph(graph_bytes(nodes), "ckpt.index: _CHECKPOINTABLE_OBJECT_GRAPH")


def test_decodes_a_hand_written_graph():
    graph = read_object_graph(
        graph_bytes(
            [{"children": [(1, "a/b")]}, {"attributes": [("VARIABLE_VALUE", "a.Sb/.ATTRIBUTES/VARIABLE_VALUE")]}]
        ),
        "t",
    )
    assert graph.paths == (("",), ("a.Sb",))
    assert graph.nodes[1].attributes[0].checkpoint_key == "a.Sb/.ATTRIBUTES/VARIABLE_VALUE"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_corrupt(data):
    with contextlib.suppress(CorruptArtifact):
        read_object_graph(data, "fuzz")


def test_path_enumeration_is_bounded_on_hostile_graphs(monkeypatch):
    monkeypatch.setattr(object_graph, "MAX_PATH_CHARS", 100_000)
    monkeypatch.setattr(object_graph, "MAX_CYCLE_CHECK_STEPS", 50_000)
    chain = tuple(ObjectNode(children=(ObjectReference(i + 1, "x"),)) for i in range(1000)) + (ObjectNode(),)
    with pytest.raises(CorruptArtifact, match="^hostile: object paths exceed"):
        compute_paths(chain, "hostile")
    size = 300  # every node a child of every node: astronomically many paths
    dense = tuple(ObjectNode(children=tuple(ObjectReference(j, f"n{j}") for j in range(size))) for _ in range(size))
    paths = compute_paths(dense)
    assert paths[5][0] == "n5" and all(1 <= len(p) <= MAX_PATHS_PER_NODE for p in paths)
    assert sum(len(p) for p in paths) < size * MAX_PATHS_PER_NODE  # the step budget stopped it early
