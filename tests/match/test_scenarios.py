"""`ckptdiff check` on the restore scenarios and the healthy corpus, cross-checked against the real loaders.

Each scenario (see sample_checkpoints/README.md, "Restore scenarios") is checked twice:
its exact JSON findings, and agreement with tests/match/oracle.py, which performs the real
restore once per session. Where ckptdiff and the real loader disagree the test is an
`xfail(strict=True)` whose reason says precisely how.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tests.match.oracle import PAIR_MAP, SCENARIOS, SCOPE_MAP, RestoreOutcome

pytestmark = pytest.mark.requires_tf

MATCHED, MISSING, SHAPE = "matched", "missing", "shape_mismatch"
SUMMARY_KEYS = (
    "matched",
    "missing",
    "unexpected",
    "shape_mismatch",
    "dtype_mismatch",
    "partial",
    "fresh",
    "nonfinite",
    "misplaced",
)


@pytest.fixture(scope="session")
def oracle() -> dict[str, RestoreOutcome]:
    """Every scenario restored once with the real loader, in this process."""
    from tests.match.oracle import restore_all

    return restore_all()


_CLI_CACHE: dict[tuple[str, str], Any] = {}


def check(run_cli, name: str, fmt: str = "json"):
    """`ckptdiff check ARTIFACT --model SPEC --format FMT` for a scenario, run once per session."""
    if (name, fmt) not in _CLI_CACHE:
        s = SCENARIOS[name]
        _CLI_CACHE[(name, fmt)] = run_cli("check", s.artifact, "--model", s.model, "--format", fmt)
    return _CLI_CACHE[(name, fmt)]


def check_json(run_cli, name: str) -> tuple[int, dict]:
    result = check(run_cli, name)
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


def statuses(doc: dict) -> dict[str, str]:
    paths = [v["path"] for v in doc["variables"]]
    assert len(paths) == len(set(paths)), f"duplicate variable paths: {paths}"
    return {v["path"]: v["status"] for v in doc["variables"]}


def keys(doc: dict) -> dict[str, str | None]:
    return {v["path"]: v["key"] for v in doc["variables"]}


def unexpected_model(doc: dict) -> set[str]:
    return {u["key"] for u in doc["unexpected"] if u["group"] == "model"}


def summary(
    matched=0,
    missing=0,
    unexpected=0,
    shape_mismatch=0,
    dtype_mismatch=0,
    partial=0,
    fresh=0,
    nonfinite=0,
    misplaced=0,
) -> dict[str, int]:
    values = (matched, missing, unexpected, shape_mismatch, dtype_mismatch, partial, fresh, nonfinite, misplaced)
    return dict(zip(SUMMARY_KEYS, values))


def fresh_paths(doc: dict) -> set[str]:
    """Model variables whose restored value looks freshly initialised."""
    return {
        v["path"] for v in doc["variables"] if v["group"] == "model" and (v["init"] or {}).get("verdict") == "fresh"
    }


def layer_vars(*layers: str, names=("kernel", "bias")) -> list[str]:
    return [f"{layer}/{n}" for layer in layers for n in names]


MLP = (
    layer_vars("dense")
    + layer_vars("batch_normalization", names=("gamma", "beta", "moving_mean", "moving_variance"))
    + layer_vars("dense_1", "dense_2")
)
TF1_VARS = [f"model_scope/{v}" for v in layer_vars("dense", "dense_1", "dense_2")]


# =========================================================================== exact findings
def test_scope_mistake(run_cli):
    code, doc = check_json(run_cli, "scope_mistake")
    assert code == 1 and doc["ok"] is False
    assert doc["loader"]["name"] == "by-name"
    assert statuses(doc) == dict.fromkeys(TF1_VARS, MISSING)
    assert unexpected_model(doc) == {v.replace("model_scope/", "another_scope/") for v in TF1_VARS}
    assert {u["group"] for u in doc["unexpected"]} == {"model", "optimizer", "bookkeeping"}
    assert doc["summary"] == summary(missing=6, unexpected=21)
    assert doc["partial"] == []
    [hint] = doc["hints"]
    assert hint["kind"] == "rewrite"  # the leading scope differs: a scope rewrite
    assert hint["assignment_map"] == SCOPE_MAP
    assert hint["rename"] == {v.replace("model_scope/", "another_scope/"): v for v in TF1_VARS}
    assert sorted(map(tuple, hint["pairs"])) == sorted(
        (v, v.replace("model_scope/", "another_scope/")) for v in TF1_VARS
    )
    assert "NotFoundError" in doc["loader"]["outcome"]


def test_renamed_layer_tf2(run_cli):
    code, doc = check_json(run_cli, "renamed_layer.tf2")
    assert code == 1
    assert (doc["loader"]["name"], doc["loader"]["anchor"]) == ("object-graph", "model")
    assert statuses(doc) == {
        **dict.fromkeys(layer_vars("dense", "dense_2"), MATCHED),
        **dict.fromkeys(layer_vars("classifier"), MISSING),
    }
    assert keys(doc)["dense/kernel"] == "model/dense/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert unexpected_model(doc) == {
        "model/dense_1/_kernel/.ATTRIBUTES/VARIABLE_VALUE",
        "model/dense_1/bias/.ATTRIBUTES/VARIABLE_VALUE",
    }
    assert doc["summary"] == summary(matched=4, missing=2, unexpected=17)
    [hint] = doc["hints"]
    assert (hint["kind"], hint["assignment_map"]) == ("rename", {"dense_1/": "classifier/"})
    assert sorted(map(tuple, hint["pairs"])) == [
        ("classifier/bias", "model/dense_1/bias/.ATTRIBUTES/VARIABLE_VALUE"),
        ("classifier/kernel", "model/dense_1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"),
    ]


def test_renamed_layer_legacy_h5(run_cli):
    code, doc = check_json(run_cli, "renamed_layer.legacy_h5")
    assert code == 0 and doc["ok"] is True
    assert doc["loader"]["name"] == "h5-order"
    assert doc["model"]["kind"] == "tf_keras"
    assert statuses(doc) == dict.fromkeys(layer_vars("dense", "classifier", "dense_2"), MATCHED)
    assert keys(doc)["classifier/kernel"] == "dense_1/dense_1/kernel:0"
    assert doc["summary"] == summary(matched=6)
    second = {v["path"]: v["second_opinion"] for v in doc["variables"] if v["second_opinion"]}
    assert second == dict.fromkeys(layer_vars("classifier"), {"loader": "h5-name", "status": "missing", "key": None})
    [hint] = doc["hints"]
    assert hint["kind"] == "h5-name-disagrees"


def test_renamed_layer_weights_h5(run_cli):
    code, doc = check_json(run_cli, "renamed_layer.weights_h5")
    assert code == 0
    assert doc["loader"]["name"] == "keras3"
    assert statuses(doc) == dict.fromkeys(layer_vars("dense", "classifier", "dense_2"), MATCHED)
    assert keys(doc)["classifier/kernel"] == "layers/dense_1/vars/0"  # class-derived container key
    assert doc["summary"] == summary(matched=6, unexpected=14)
    assert {u["group"] for u in doc["unexpected"]} == {"optimizer"}
    assert doc["hints"] == [] and doc["partial"] == []


def test_inserted_layer(run_cli):
    code, doc = check_json(run_cli, "inserted_layer")
    assert code == 1
    assert (doc["loader"]["name"], doc["loader"]["anchor"]) == ("object-graph", "/")
    assert statuses(doc) == {
        **dict.fromkeys(layer_vars("a", "inserted"), MATCHED),
        **dict.fromkeys(layer_vars("b"), SHAPE),
        **dict.fromkeys(layer_vars("c"), MISSING),
    }
    k = keys(doc)
    assert k["inserted/kernel"] == "layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE"  # b's kernel, silently
    assert k["b/kernel"] == "layer_with_weights-2/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    shapes = {v["path"]: (v["shape"], v["entry_shape"]) for v in doc["variables"]}
    assert shapes["b/kernel"] == ([16, 16], [16, 3])
    assert unexpected_model(doc) == set()
    assert doc["summary"] == summary(matched=4, missing=2, unexpected=15, shape_mismatch=2, misplaced=2)
    assert {v["path"] for v in doc["variables"] if v["misplaced"]} == set(layer_vars("inserted"))
    [hint] = doc["hints"]
    assert hint["kind"] == "shifted-layer-index"
    assert "1 layer(s) with weights inserted at layer_with_weights-1" in hint["message"]
    # The pairs that load silently into the wrong layer because the shapes agree.
    assert sorted(map(tuple, hint["pairs"])) == [
        ("inserted/bias", "layer_with_weights-1/bias/.ATTRIBUTES/VARIABLE_VALUE"),
        ("inserted/kernel", "layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE"),
    ]
    # restore() assigns in checkpoint-key order and raises at the first mismatch.
    assert "raises ValueError" in doc["loader"]["outcome"] and "b/bias" in doc["loader"]["outcome"]


@pytest.mark.parametrize("name", ["class_count.tf2", "class_count.weights_h5"])
def test_class_count(run_cli, name):
    code, doc = check_json(run_cli, name)
    assert code == 1
    head = layer_vars("dense_2")
    assert statuses(doc) == {**dict.fromkeys(MLP, MATCHED), **dict.fromkeys(head, SHAPE)}
    shapes = {v["path"]: (v["shape"], v["entry_shape"]) for v in doc["variables"]}
    assert shapes["dense_2/kernel"] == ([16, 5], [16, 3]) and shapes["dense_2/bias"] == ([5], [3])
    unexpected = {"class_count.tf2": 19, "class_count.weights_h5": 18}[name]
    assert doc["summary"] == summary(matched=8, unexpected=unexpected, shape_mismatch=2)
    assert [(h["kind"], h["pairs"][0][0]) for h in doc["hints"]] == [("last-dimension", p) for p in head]
    assert "3 -> 5" in doc["hints"][0]["message"]


def test_use_bias(run_cli):
    code, doc = check_json(run_cli, "use_bias")
    assert code == 1
    assert statuses(doc) == {
        **dict.fromkeys(layer_vars("dense", "dense_2") + ["dense_1/kernel"], MATCHED),
        "dense_1/bias": MISSING,
    }
    assert doc["summary"] == summary(matched=5, missing=1, unexpected=13, partial=1)
    assert doc["partial"] == [
        {
            "object": "dense_1",
            "kind": "layer",
            "restored": ["dense_1/kernel"],
            "not_restored": ["dense_1/bias"],
            "detail": "1 of 2 variables restored; dense_1/bias keep fresh values",
        }
    ]
    assert doc["hints"] == []


def test_partial_optimizer(run_cli):
    """tf_keras (non-legacy) Adam: slots live by position in optimizer/_variables/N, so the shifted list pairs wrongly.

    Such an optimizer does not restore part of its state silently: restore() raises at the first moment whose
    shape differs (m/dense/kernel), after assigning the model; the moments after it (m/dense/bias pairs by shape
    with another variable's moment) stay unassigned. The silent partial case is the slot-based optimizer below.
    """
    code, doc = check_json(run_cli, "partial_optimizer")
    assert code == 1
    model = dict.fromkeys(MLP + ["iteration", "learning_rate"], MATCHED)
    slots = {}
    for moment in ("m", "v"):
        slots.update({f"{moment}/dense/kernel": SHAPE, f"{moment}/dense/bias": MISSING})
        slots.update(
            dict.fromkeys([f"{moment}/batch_normalization/gamma", f"{moment}/batch_normalization/beta"], SHAPE)
        )
        slots.update(dict.fromkeys([f"{moment}/{p}" for p in layer_vars("dense_1")], SHAPE))
        slots.update(dict.fromkeys([f"{moment}/{p}" for p in layer_vars("dense_2")], MISSING))
    assert statuses(doc) == {**model, **slots}
    # m/dense/bias is paired with the saved m of batch_normalization/gamma (same shape, wrong variable).
    assert keys(doc)["m/dense/bias"] == "optimizer/_variables/3/.ATTRIBUTES/VARIABLE_VALUE"
    # `dense` was frozen while the checkpoint's model trained: its bias still equals a fresh build's zeros, and
    # its 256-value kernel still fits its configured glorot_uniform, bounds reached (another seed than the live model).
    assert doc["summary"] == summary(matched=12, missing=6, unexpected=1, shape_mismatch=10, fresh=2)
    fresh = {v["path"]: v["init"] for v in doc["variables"] if v["init"] and v["init"]["verdict"] == "fresh"}
    assert fresh["dense/kernel"]["match"] == "glorot_uniform" and "initializer-config" in fresh["dense/kernel"]["basis"]
    assert fresh_paths(doc) == {"dense/bias", "dense/kernel"}
    assert doc["partial"] == []  # optimizer moments are not layers
    assert {v["group"] for v in doc["variables"] if v["path"].startswith(("m/", "v/"))} == {"optimizer"}
    assert "raises ValueError" in doc["loader"]["outcome"] and "m/dense/kernel" in doc["loader"]["outcome"]


def test_partial_optimizer_legacy(run_cli, oracle):
    code, doc = check_json(run_cli, "partial_optimizer.legacy")
    assert code == 1
    optimizer_vars = ["iter", "beta_1", "beta_2", "decay", "learning_rate"]
    assert statuses(doc) == dict.fromkeys(MLP + optimizer_vars, MATCHED)
    assert doc["summary"] == summary(matched=15, unexpected=1, partial=1, fresh=2)
    assert fresh_paths(doc) == {"dense/bias", "dense/kernel"}  # frozen during training
    [partial] = doc["partial"]
    covered = ["batch_normalization/gamma", "batch_normalization/beta"] + layer_vars("dense_1", "dense_2")
    assert (partial["object"], partial["kind"]) == ("optimizer", "optimizer")
    assert (partial["restored"], partial["not_restored"]) == (covered, layer_vars("dense"))
    # The real restore: slots of the covered variables are restored, the frozen layer's stay unrestored.
    slots = {s.path: s.restored for s in oracle["partial_optimizer.legacy"].slots}
    assert slots == {f"{v}/{m}": v in covered for v in MLP if "moving" not in v for m in ("m", "v")}


def test_keras3_model_and_optimizer(run_cli):
    code, doc = check_json(run_cli, "keras3_model_and_optimizer")
    assert code == 0 and doc["ok"] is True
    assert doc["model"]["kind"] == "tf.train.Checkpoint"
    assert (doc["loader"]["name"], doc["loader"]["anchor"]) == ("object-graph", "/")
    # A Checkpoint of a Keras 3 model labels variables by var.name, so 'kernel' appears three times.
    assert {v["status"] for v in doc["variables"]} == {MATCHED}
    assert doc["summary"] == summary(matched=28, unexpected=2)
    assert {u["group"] for u in doc["unexpected"]} == {"bookkeeping"}
    assert doc["partial"] == [] and doc["hints"] == []


HEALTHY = {
    "healthy.tf2": (10, 20),
    "healthy.tf2_sharded": (10, 20),
    "healthy.tf1": (6, 15),
    "healthy.tf1_v1": (6, 15),
    "healthy.keras2_model_h5": (10, 17),
    "healthy.keras2_weights_only": (10, 0),
    "healthy.keras2_tf_weights": (10, 19),
    "healthy.keras3_weights_h5": (10, 18),
    "healthy.keras3_archive": (10, 18),
    "healthy.keras3_legacy_h5": (10, 18),
    "healthy.keras3_rebuilt": (28, 0),
}


@pytest.mark.parametrize(
    "name",
    list(HEALTHY),
)
def test_healthy_corpus_checks_clean(run_cli, name):
    code, doc = check_json(run_cli, name)
    matched, unexpected = HEALTHY[name]
    assert code == 0 and doc["ok"] is True
    assert doc["summary"] == summary(matched=matched, unexpected=unexpected)
    assert unexpected_model(doc) == set() and doc["partial"] == []


def test_saved_model_against_keras3_factory(run_cli):
    """Optional: a SavedModel's variables hang off the export root, not a Keras model's object graph."""
    code, doc = check_json(run_cli, "healthy.saved_model")
    assert code == 1
    assert set(statuses(doc).values()) == {MISSING}
    assert doc["summary"] == summary(missing=10, unexpected=21)
    assert len(unexpected_model(doc)) == 20  # variables/0..9 and _all_variables/0..9


def test_keras3_legacy_h5_as_model_spec(run_cli):
    result = run_cli("check", "sample_checkpoints/keras3/legacy.h5", "--model", "sample_checkpoints/keras3/legacy.h5")
    assert result.exit_code == 0, result.stderr


# =========================================================================== agreement with the real loader
AGREEMENT = [
    "scope_mistake",
    "renamed_layer.tf2",
    "renamed_layer.legacy_h5",
    "renamed_layer.weights_h5",
    "inserted_layer",
    "class_count.tf2",
    "class_count.weights_h5",
    "use_bias",
    "partial_optimizer",
    "partial_optimizer.legacy",
    "keras3_model_and_optimizer",
    "keras3_inserted_layer.weights_h5",
    "keras3_inserted_layer.archive",
    *HEALTHY,
    "healthy.saved_model",
]


@pytest.mark.parametrize("name", AGREEMENT)
def test_agrees_with_real_loader(run_cli, oracle, name):
    """matched -> the real loader restored it from that very key; anything else -> it kept its value."""
    _, doc = check_json(run_cli, name)
    real = oracle[name]
    assert len(doc["variables"]) == len(real.variables)
    for v in doc["variables"]:
        outcome = real.lookup(v["path"], v["shape"])
        if v["status"] in (MATCHED, "dtype_mismatch"):
            assert outcome.restored, (
                f"{v['path']}: ckptdiff says {v['status']} from {v['key']}, the real loader did not restore it"
            )
            assert v["key"] in outcome.sources, (
                f"{v['path']}: restored from {outcome.sources}, ckptdiff says {v['key']}"
            )
        else:
            assert not outcome.changed, (
                f"{v['path']}: ckptdiff says {v['status']}, the real loader restored {outcome.sources}"
            )


# Where the real loader raises, and before assigning what.
def test_real_loaders_that_raise(oracle):
    raised = {name: outcome.error for name, outcome in oracle.items() if outcome.error}
    assert raised == {
        "scope_mistake": "NotFoundError",  # Saver raises before assigning anything
        "inserted_layer": "ValueError",  # after a and inserted were assigned
        "class_count.tf2": "ValueError",  # after every variable but dense_2 was assigned
        "class_count.weights_h5": "ValueError",  # Keras 3 loads the rest first, then raises once
        "partial_optimizer": "ValueError",  # model restored, no optimizer slot restored
        "keras3_inserted_layer.weights_h5": "ValueError",  # inserted got b's weights; b and c failed
        "keras3_inserted_layer.archive": "ValueError",
    }
    assert oracle["scope_mistake"].restored_paths() == set()


@pytest.mark.parametrize(
    "name",
    [
        "scope_mistake",
        "class_count.weights_h5",
        "inserted_layer",
        "class_count.tf2",
        "partial_optimizer",
    ],
)
def test_outcome_names_the_exception(run_cli, oracle, name):
    _, doc = check_json(run_cli, name)
    assert oracle[name].error in doc["loader"]["outcome"]


def test_renamed_layer_second_opinion_agrees_with_by_name_load(run_cli, oracle):
    _, doc = check_json(run_cli, "renamed_layer.legacy_h5")
    real = oracle["renamed_layer.legacy_h5.by_name"]
    for v in doc["variables"]:
        by_name_status = (v["second_opinion"] or {}).get("status", v["status"])
        assert real.lookup(v["path"], v["shape"]).restored == (by_name_status == MATCHED), v["path"]


def test_scope_hint_map_restores_with_saver_and_tf1_init_from_checkpoint(run_cli, oracle):
    _, doc = check_json(run_cli, "scope_mistake")
    assert doc["hints"][0]["assignment_map"] == SCOPE_MAP
    for name in ("scope_mistake.saver_rewrite", "scope_mistake.init_graph"):
        assert oracle[name].error is None
        assert oracle[name].restored_paths() == set(TF1_VARS), name
        for v in doc["hints"][0]["pairs"]:
            assert (
                v[1]
                in oracle[name].lookup(v[0], next(x["shape"] for x in doc["variables"] if x["path"] == v[0])).sources
            )


def test_scope_hint_scope_map_needs_get_variable_and_the_rename_map_restores_tf_variables(run_cli, oracle):
    """TensorFlow's own rule: a scope map only sees get_variable variables; the per-variable map works for tf.Variable."""
    _, doc = check_json(run_cli, "scope_mistake")
    assert oracle["scope_mistake.init_eager"].restored_paths() == set()
    assert doc["hints"][0]["rename"] == PAIR_MAP
    assert oracle["scope_mistake.init_pairs"].error is None
    assert oracle["scope_mistake.init_pairs"].restored_paths() == set(TF1_VARS)


# =========================================================================== table and JUnit
def test_table_scope_mistake(run_cli):
    result = check(run_cli, "scope_mistake", "table")
    assert result.exit_code == 1
    for line in (
        "loader:   by-name",
        "model_scope/dense/kernel    missing",
        "another_scope/dense_1/kernel",
        "scope rewrite: artifact 'another_scope/' -> model 'model_scope/' resolves 6 missing variable(s)",
        "assignment_map = {'another_scope/': 'model_scope/'}",
        "summary: matched 0, missing 6, unexpected 21, shape_mismatch 0, dtype_mismatch 0, partial 0, fresh 0, nonfinite 0, misplaced 0 -> FAIL",
    ):
        assert line in result.stdout, line


def test_table_renamed_layer_legacy_h5(run_cli):
    result = check(run_cli, "renamed_layer.legacy_h5", "table")
    assert result.exit_code == 0
    assert "h5-name: missing" in result.stdout
    assert "load_weights(by_name=True) would treat 2 variable(s) differently" in result.stdout
    assert result.stdout.rstrip().endswith(
        "summary: matched 6, missing 0, unexpected 0, shape_mismatch 0, dtype_mismatch 0, partial 0, fresh 0, nonfinite 0, misplaced 0 "
        "-> OK (fail-on: missing,shape_mismatch,dtype_mismatch,partial,fresh,nonfinite,misplaced)"
    )


def test_table_use_bias(run_cli):
    result = check(run_cli, "use_bias", "table")
    assert result.exit_code == 1
    assert "dense_1: 1 of 2 variables restored; dense_1/bias keep fresh values" in result.stdout
    assert (
        "summary: matched 5, missing 1, unexpected 13, shape_mismatch 0, dtype_mismatch 0, partial 1, fresh 0, nonfinite 0, misplaced 0 -> FAIL"
        in result.stdout
    )


@pytest.mark.parametrize("name", ["inserted_layer", "use_bias", "healthy.tf2"])
def test_junit_one_testcase_per_variable(run_cli, name):
    result = check(run_cli, name, "junit")
    _, doc = check_json(run_cli, name)
    assert result.exit_code == (0 if doc["ok"] else 1)
    root = ET.fromstring(result.stdout)
    [suite] = root.findall("testsuite")
    cases = [c for c in suite.iter("testcase") if c.get("classname") == f"restore.{doc['loader']['name']}"]
    assert [c.get("name") for c in cases] == [v["path"] for v in doc["variables"]]
    failing = {v["path"] for v in doc["variables"] if v["status"] in doc["fail_on"] or v["misplaced"]}
    assert {c.get("name") for c in cases if c.find("failure") is not None} == failing
    assert int(suite.get("tests")) == len(list(suite.iter("testcase")))
    assert int(suite.get("failures")) == sum(1 for c in suite.iter("testcase") if c.find("failure") is not None)


def test_renamed_layer_legacy_h5_by_name_loader_names_the_layer(run_cli, oracle):
    """--loader h5-name: the renamed layer is missing (as the real by_name load leaves it) and the hint names both layers."""
    result = run_cli(
        "check",
        "sample_checkpoints/scenarios/renamed_layer/legacy.h5",
        "--model",
        "sample_checkpoints/scenario_models.py:renamed_tf_keras_mlp",
        "--loader",
        "h5-name",
        "--format",
        "json",
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["loader"]["name"] == "h5-name"
    assert statuses(doc) == {
        **dict.fromkeys(layer_vars("dense", "dense_2"), MATCHED),
        **dict.fromkeys(layer_vars("classifier"), MISSING),
    }
    real = oracle["renamed_layer.legacy_h5.by_name"]
    assert {p for p, s in statuses(doc).items() if s == MATCHED} == real.restored_paths()
    [hint] = doc["hints"]
    assert hint["kind"] == "rename" and hint["assignment_map"] is None
    assert "file layer 'dense_1' is model layer 'classifier'" in hint["message"]


def test_unbuilt_optimizer_is_skipped_as_keras_does(run_cli, oracle):
    """A compiled model whose Adam is not built: Keras warns, skips the optimizer and returns; it does not raise."""
    code, doc = check_json(run_cli, "keras3_unbuilt_optimizer")
    real = oracle["keras3_unbuilt_optimizer"]
    assert real.error is None  # the real load_weights returned normally
    assert code == 0 and doc["ok"] is True
    assert doc["loader"]["outcome"] == "load_weights restores every layer, warns and skips the optimizer state"
    assert any(
        n.startswith("Keras skips the optimizer state: the model's optimizer has 2 variables")
        for n in doc["loader"]["notes"]
    )
    for v in doc["variables"]:  # every reported variable: restored from that very key, as ckptdiff says
        assert v["status"] == MATCHED
        assert v["key"] in real.lookup(v["path"], v["shape"]).sources
    skipped = {v.path for v in real.variables} - {v["path"] for v in doc["variables"]}
    assert skipped == {"optimizer/iteration", "optimizer/learning_rate"}
    assert not any(real.lookup(p, ()).changed for p in skipped)  # the real loader left them as they were
    assert {u["group"] for u in doc["unexpected"]} == {"optimizer"} and doc["summary"]["unexpected"] == 18


def test_unbuilt_optimizer_real_keras_warns(tf):
    """The warning ckptdiff's note quotes is the one Keras really gives."""
    import importlib.util
    import warnings

    spec = importlib.util.spec_from_file_location("ckptdiff_scenario_models_w", "sample_checkpoints/scenario_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.compiled_keras3_unbuilt_optimizer()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights("sample_checkpoints/keras3/model.keras")
    assert any("Skipping variable loading for optimizer" in str(w.message) for w in caught)


@pytest.mark.parametrize("name", ["keras3_inserted_layer.weights_h5", "keras3_inserted_layer.archive"])
def test_keras3_class_order_shift(run_cli, oracle, name):
    """a-b-c saved, a-inserted-b-c loaded: Keras 3's `layers/dense_1` hands `inserted` b's weights silently."""
    code, doc = check_json(run_cli, name)
    real = oracle[name]
    assert code == 1
    assert statuses(doc) == {
        **dict.fromkeys(layer_vars("a", "inserted"), MATCHED),
        **dict.fromkeys(layer_vars("b"), SHAPE),
        **dict.fromkeys(layer_vars("c"), MISSING),
    }
    # The silent wrong-layer load is a finding, and the real loader did put b's weights into `inserted`.
    assert {v["path"] for v in doc["variables"] if v["misplaced"]} == set(layer_vars("inserted"))
    assert doc["summary"]["misplaced"] == 2
    for path in layer_vars("inserted"):
        assert (
            real.lookup(path, next(v["shape"] for v in doc["variables"] if v["path"] == path))
            .sources[0]
            .startswith("layers/dense_1/")
        )
    [hint] = doc["hints"]
    assert hint["kind"] == "class-order-shift"
    assert "model layer 'inserted' receives layers/dense_1 (file layer 'b')" in hint["message"]
    assert "model layer(s) 'inserted' have no counterpart in the file" in hint["message"]
    assert "last dimension changed" not in json.dumps(doc["hints"])  # the shift explains b's mismatch
    assert sorted(map(tuple, hint["pairs"])) == [
        ("inserted/bias", "layers/dense_1/vars/1"),
        ("inserted/kernel", "layers/dense_1/vars/0"),
    ]


def test_keras3_class_order_shift_says_when_the_file_cannot_tell(run_cli, tmp_path, tf):
    """Keras' automatic names say only the creation order: two same-shape Dense layers, either may be the new one."""
    import keras

    def build(widths):
        return keras.Sequential([keras.Input((8,)), *(keras.layers.Dense(w) for w in widths)])

    build((16, 16, 3)).save_weights(tmp_path / "abc.weights.h5")
    factory = tmp_path / "auto.py"
    factory.write_text(
        "import keras\n"
        "def model():\n"
        "    return keras.Sequential([keras.Input((8,)), *(keras.layers.Dense(w) for w in (16, 16, 16, 3))])\n"
    )
    result = run_cli("check", str(tmp_path / "abc.weights.h5"), "--model", f"{factory}:model", "--format", "json")
    [hint] = [h for h in json.loads(result.stdout)["hints"] if h["kind"] == "class-order-shift"]
    assert re.search(
        r"cannot tell which of 'dense_\d+', 'dense_\d+' is the new layer: the file can't tell", hint["message"]
    )
