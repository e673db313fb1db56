"""The fresh-init verdicts on sample_checkpoints/fresh/: exact per tensor, from the library, `inspect` and `check`.

The oracle is each scenario's construction (make_fresh_samples.py): which variables the training loop
updated. TensorFlow's own reader confirms it: an untouched variable equals what
`fresh_models.build_mlp(TRAIN_SEED)` gives, an updated one does not.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from ckptdiff.formats import open_artifact
from ckptdiff.stats.fresh import MIN_VALUES, assess_init
from ckptdiff.stats.moments import compute_stats
from tests.conftest import SAMPLES, load_module

FRESH, TRAINED, INCONCLUSIVE = "fresh", "trained", "inconclusive"
EQUALS_FRESH = "equals the model's own freshly initialised value"
FACTORIES = str(SAMPLES / "fresh_models.py")
SCENARIOS = ("rebinding", "before_training", "bn_frozen_stats", "nan")

_OPERATION = {"dense": 1, "batch_normalization": 2, "dense_1": 3, "dense_2": 4}
_ATTRIBUTE = {"kernel": "_kernel"}  # Keras 3 Dense tracks its kernel as `_kernel`
VARIABLES = (
    "dense/kernel", "dense/bias",
    "batch_normalization/gamma", "batch_normalization/beta",
    "batch_normalization/moving_mean", "batch_normalization/moving_variance",
    "dense_1/kernel", "dense_1/bias",
    "dense_2/kernel", "dense_2/bias",
)  # fmt: skip
"""The model's variables, named as `check` names them (layer/weight)."""
KEY = {
    v: f"model/_functional/_operations/{_OPERATION[v.split('/')[0]]}/"
    f"{_ATTRIBUTE.get(v.split('/')[1], v.split('/')[1])}/.ATTRIBUTES/VARIABLE_VALUE"
    for v in VARIABLES
}
"""Checkpoint key of each variable (tf.train.Checkpoint(model=m).write of a Keras 3 Sequential)."""
SHORT = {k: v for v, k in KEY.items()}
SIZE = {
    "dense/kernel": 64 * 128, "dense_1/kernel": 128 * 96, "dense_2/kernel": 96 * 12,
    "dense/bias": 128, "dense_1/bias": 96, "dense_2/bias": 12,
} | {f"batch_normalization/{w}": 128 for w in ("gamma", "beta", "moving_mean", "moving_variance")}  # fmt: skip

INIT_MATCH = {v: "glorot_uniform" for v in VARIABLES if v.endswith("kernel")} | {
    "dense/bias": "zeros", "dense_1/bias": "zeros", "dense_2/bias": "zeros",
    "batch_normalization/gamma": "ones", "batch_normalization/beta": "zeros",
    "batch_normalization/moving_mean": "zeros", "batch_normalization/moving_variance": "ones",
}  # fmt: skip
"""What each variable holds at creation (Keras defaults)."""

UNTOUCHED = {
    "rebinding": {"dense_1/kernel"},
    "before_training": set(VARIABLES),
    "bn_frozen_stats": {"batch_normalization/moving_mean", "batch_normalization/moving_variance"},
    "nan": set(),
}
"""The oracle: variables each scenario's construction never updated (they hold their initial value)."""
NAN_VARIABLE = "dense_1/kernel"
NAN_INDEX = (3, 5)

INSPECT_GAPS: dict[str, str] = {}
"""Tensors where the values alone (inspect, no live model) do not reach the oracle's verdict: none since the
bounds proofs (the trained 96x12 head leaves the support of every family for its fans)."""


def expected_verdict(scenario: str, variable: str, *, live: bool, roles: bool = True) -> tuple[str, str | None]:
    """(verdict, match) the construction implies.

    Untouched variables are fresh with their initializer's name. Updated ones are trained. Without the
    live model, an updated tensor under MIN_VALUES values is decided only by its role: a bias or a BatchNorm
    vector starts at an exact constant, which the names in the checkpoint reveal to `inspect` (roles=True)
    but not to assess_init called bare; `check` knows the configured initializer and judges every size.
    The poisoned tensor is inconclusive with match `nonfinite`.
    """
    if scenario == "nan" and variable == NAN_VARIABLE:
        return INCONCLUSIVE, "nonfinite"
    if variable in UNTOUCHED[scenario]:
        return FRESH, INIT_MATCH[variable]
    if not live and SIZE[variable] < MIN_VALUES and not (roles and not variable.endswith("kernel")):
        return INCONCLUSIVE, None
    return TRAINED, None


def expected_table(
    scenario: str, *, live: bool, gaps: dict[str, str] | None = None, roles: bool = True
) -> dict[str, str]:
    return {v: expected_verdict(scenario, v, live=live, roles=roles)[0] for v in VARIABLES if v not in (gaps or {})}


def model_tensors(doc: dict) -> list[dict]:
    return [t for t in doc["tensors"] if t["group"] == "model"]


# The library: assess_init on the reader's entries (no TensorFlow) -------------------------------------


@pytest.fixture(scope="module")
def library_verdicts() -> dict[str, dict[str, Any]]:
    """assess_init on every model tensor of every scenario, keyed scenario -> variable."""
    out: dict[str, dict[str, Any]] = {}
    for scenario in SCENARIOS:
        with open_artifact(str(SAMPLES / "fresh" / scenario / "ckpt")) as art:
            out[scenario] = {
                SHORT[e.key]: assess_init(e, compute_stats(e.iter_chunks(), e.dtype))
                for e in art.entries
                if e.group == "model"
            }
    return out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_library_verdicts(library_verdicts, scenario):
    verdicts = library_verdicts[scenario]
    assert set(verdicts) == set(VARIABLES)
    got = {v: r.verdict for v, r in verdicts.items() if v not in INSPECT_GAPS}
    assert got == expected_table(scenario, live=False, gaps=INSPECT_GAPS, roles=False)
    for variable, result in verdicts.items():
        verdict, match = expected_verdict(scenario, variable, live=False, roles=False)
        if verdict == FRESH or match == "nonfinite":
            assert result.match == match, (variable, result)


# inspect ----------------------------------------------------------------------------------------------

_CLI_CACHE: dict[tuple[str, ...], Any] = {}


def cli(run_cli, *args: str):
    """One CLI run per argument list and session (model builds are the slow part)."""
    if args not in _CLI_CACHE:
        _CLI_CACHE[args] = run_cli(*args, "-q")
    return _CLI_CACHE[args]


def cli_json(run_cli, *args: str) -> tuple[int, dict]:
    result = cli(run_cli, *args, "--format", "json")
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


def artifact(scenario: str) -> str:
    return str(SAMPLES / "fresh" / scenario / "ckpt")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_inspect_json_init(run_cli, scenario):
    code, doc = cli_json(run_cli, "inspect", artifact(scenario))
    assert code == 0
    tensors = {SHORT[t["key"]]: t for t in model_tensors(doc)}
    assert set(tensors) == set(VARIABLES)
    for t in tensors.values():
        assert set(t["init"]) == {"verdict", "match", "score", "evidence", "basis"}
        assert 0.0 <= t["init"]["score"] <= 1.0 and t["init"]["evidence"]
    got = {v: t["init"]["verdict"] for v, t in tensors.items() if v not in INSPECT_GAPS}
    assert got == expected_table(scenario, live=False, gaps=INSPECT_GAPS)
    for variable, t in tensors.items():
        verdict, match = expected_verdict(scenario, variable, live=False)
        if verdict == FRESH or match == "nonfinite":
            assert t["init"]["match"] == match, (variable, t["init"])


@pytest.mark.parametrize("scenario", ["rebinding", "bn_frozen_stats", "nan"])
def test_inspect_trained_head_from_values_alone(run_cli, scenario):
    """Once an xfail: a trained 96x12 head whose values still look like an i.i.d. shape; its values leave the
    bounds of every family for its fans."""
    _, doc = cli_json(run_cli, "inspect", artifact(scenario))
    [head] = [t for t in model_tensors(doc) if SHORT[t["key"]] == "dense_2/kernel"]
    assert head["init"]["verdict"] == TRAINED, head["init"]
    assert "bounds" in head["init"]["basis"], head["init"]


def table_rows(text: str) -> dict[str, str]:
    """Table row of each model variable, by variable name (rows start with the key)."""
    return {SHORT[line.split()[0]]: line for line in text.splitlines() if line.split() and line.split()[0] in SHORT}


def test_inspect_table_column(run_cli):
    rows = table_rows(cli(run_cli, "inspect", artifact("rebinding")).stdout)
    assert rows["dense_1/kernel"].rstrip().endswith("fresh (glorot_uniform)")
    assert rows["dense/kernel"].rstrip().endswith("trained")
    text = cli(run_cli, "inspect", artifact("before_training")).stdout
    assert "init: 10 fresh, 0 trained, 1 inconclusive" in text  # + the object graph, a string
    rows = table_rows(text)
    assert rows["batch_normalization/moving_variance"].rstrip().endswith("fresh (ones)")


def test_inspect_table_nonfinite(run_cli):
    result = cli(run_cli, "inspect", artifact("nan"))
    assert result.exit_code == 0
    row = table_rows(result.stdout)[NAN_VARIABLE]
    assert re.search(r"\s1\s+0\s+(\? \()?nonfinite\)?$", row.rstrip()), row  # nan 1, inf 0, then the verdict
    assert f"nonfinite: 1 tensor holds NaN or Inf: {KEY[NAN_VARIABLE]}" in result.stdout


# check, against the live model the scenarios were built from --------------------------------------------

LIVE = f"{FACTORIES}:training_model"
OTHER_SEED = f"{FACTORIES}:other_seed_model"


def variables_by_path(doc: dict) -> dict[str, dict]:
    paths = [v["path"] for v in doc["variables"]]
    assert len(paths) == len(set(paths)), f"duplicate variable paths: {paths}"
    return {v["path"]: v for v in doc["variables"]}


@pytest.mark.requires_tf
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_check_verdicts(run_cli, scenario):
    code, doc = cli_json(run_cli, "check", artifact(scenario), "--model", LIVE)
    # every variable matched; fresh and nonfinite values fail by default
    assert code == (1 if UNTOUCHED[scenario] or scenario == "nan" else 0)
    assert cli(run_cli, "check", artifact(scenario), "--model", LIVE, "--allow", "fresh,nonfinite").exit_code == 0
    variables = variables_by_path(doc)
    assert {p: v["status"] for p, v in variables.items()} == dict.fromkeys(VARIABLES, "matched")
    assert {p: v["key"] for p, v in variables.items()} == KEY
    assert {p: v["init"]["verdict"] for p, v in variables.items()} == expected_table(scenario, live=True)
    for path, v in variables.items():
        fresh = path in UNTOUCHED[scenario]
        assert (v["init"]["evidence"] == EQUALS_FRESH) == fresh, (path, v["init"])
        if fresh or v["init"]["match"] == "nonfinite":
            assert v["init"]["match"] == expected_verdict(scenario, path, live=True)[1]
    assert doc["summary"]["fresh"] == len(UNTOUCHED[scenario])
    assert doc["summary"]["nonfinite"] == (1 if scenario == "nan" else 0)


@pytest.mark.requires_tf
def test_check_rebinding_fails_on_fresh_by_default(run_cli):
    result = cli(run_cli, "check", artifact("rebinding"), "--model", LIVE)
    assert result.exit_code == 1
    [row] = [line for line in result.stdout.splitlines() if line.startswith("dense_1/kernel ")]
    assert row.rstrip().endswith("fresh (glorot_uniform)")
    assert (
        "fresh 1, nonfinite 0, misplaced 0 -> FAIL (fail-on: missing,shape_mismatch,dtype_mismatch,partial,fresh,nonfinite,misplaced)"
        in (result.stdout)
    )
    allowed = cli(run_cli, "check", artifact("rebinding"), "--model", LIVE, "--allow", "fresh")
    assert allowed.exit_code == 0
    assert (
        "fresh 1, nonfinite 0, misplaced 0 -> OK (fail-on: missing,shape_mismatch,dtype_mismatch,partial,nonfinite,misplaced)"
        in (allowed.stdout)
    )


@pytest.mark.requires_tf
def test_check_nan_fails_on_nonfinite_by_default(run_cli):
    assert cli(run_cli, "check", artifact("nan"), "--model", LIVE, "--allow", "fresh").exit_code == 1
    assert (
        cli(run_cli, "check", artifact("nan"), "--model", LIVE, "--allow", "fresh", "--allow", "nonfinite").exit_code
        == 0
    )
    assert cli(run_cli, "check", artifact("rebinding"), "--model", LIVE, "--allow", "fresh").exit_code == 0


@pytest.mark.requires_tf
def test_check_other_seed_is_not_equality(run_cli):
    """Built with another seed, the live model's fresh kernel differs: the verdict rests on the distribution."""
    code, doc = cli_json(run_cli, "check", artifact("rebinding"), "--model", OTHER_SEED)
    kernel = variables_by_path(doc)["dense_1/kernel"]["init"]
    assert kernel["verdict"] == FRESH and kernel["match"] == "glorot_uniform"
    assert kernel["evidence"] != EQUALS_FRESH and kernel["score"] < 1.0
    assert doc["summary"]["fresh"] == 1 and code == 1


@pytest.mark.requires_tf
def test_check_against_the_saving_checkpoint_object(run_cli):
    """The tf.train.Checkpoint that wrote the file, as the live model: the same paths and verdicts as the bare model."""
    code, doc = cli_json(run_cli, "check", artifact("rebinding"), "--model", f"{FACTORIES}:training_checkpoint")
    variables = variables_by_path(doc)
    assert {p: v["init"]["verdict"] for p, v in variables.items()} == expected_table("rebinding", live=True)
    assert variables["dense_1/kernel"]["init"]["evidence"] == EQUALS_FRESH
    assert doc["summary"]["fresh"] == 1 and code == 1


# The oracle: TensorFlow's reader against a fresh build ---------------------------------------------------


def _fresh_models():
    return load_module(FACTORIES, "ckptdiff_fresh_models")


@pytest.fixture(scope="module")
def fresh_build(tf) -> dict[str, np.ndarray]:
    """Every variable of `build_mlp(TRAIN_SEED)` as built, by variable name."""
    model = _fresh_models().build_mlp(_fresh_models().TRAIN_SEED)
    return {f"{layer.name}/{w.name}": np.array(w.numpy()) for layer in model.layers for w in layer.weights}


@pytest.mark.requires_tf
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_oracle_untouched_equals_fresh_build(tf, fresh_build, scenario):
    reader = tf.train.load_checkpoint(artifact(scenario))
    assert {k for k in reader.get_variable_to_shape_map() if k.startswith("model/")} == set(KEY.values())
    equal = {v for v in VARIABLES if np.array_equal(reader.get_tensor(KEY[v]), fresh_build[v])}
    assert equal == UNTOUCHED[scenario]
    if scenario == "nan":
        kernel = reader.get_tensor(KEY[NAN_VARIABLE])
        assert np.argwhere(np.isnan(kernel)).tolist() == [list(NAN_INDEX)]


@pytest.mark.requires_tf
def test_oracle_keys_are_the_layers_variables(tf):
    """Restoring with the real loader puts each KEY's value into the variable it names."""
    models = _fresh_models()
    model = models.build_mlp(models.OTHER_SEED)
    tf.train.Checkpoint(model=model).read(artifact("rebinding")).assert_existing_objects_matched()
    reader = tf.train.load_checkpoint(artifact("rebinding"))
    for layer in model.layers:
        for w in layer.weights:
            np.testing.assert_array_equal(w.numpy(), reader.get_tensor(KEY[f"{layer.name}/{w.name}"]))


# Re-initialised after training, saved with its moved optimizer slots -------------------------------------

REINIT = "reinit_after_training"
REINIT_KEY = "optimizer/_trainable_variables/4/.ATTRIBUTES/VARIABLE_VALUE"
"""dense_1/kernel's key: tf.train.Checkpoint(model=m, optimizer=opt) names a shared variable by the optimizer's
path (the oracle test below checks that the value under it is the re-initialised kernel)."""
REINIT_SEED = 11


@pytest.mark.requires_tf
def test_oracle_reinit_kernel_is_a_fresh_draw_with_moved_slots(tf):
    import keras

    reader = tf.train.load_checkpoint(artifact(REINIT))
    kernel = reader.get_tensor(REINIT_KEY)
    np.testing.assert_array_equal(kernel, keras.initializers.GlorotUniform(seed=REINIT_SEED)((128, 96)))
    slots = [k for k, s in reader.get_variable_to_shape_map().items() if k.startswith("optimizer/_variables/")]
    moved = [k for k in slots if tuple(reader.get_variable_to_shape_map()[k]) == (128, 96)]
    assert len(moved) == 2 and all(np.any(reader.get_tensor(k) != 0) for k in moved)  # Adam's m and v moved


@pytest.mark.requires_tf
def test_check_reinit_after_training_fails_on_fresh(run_cli):
    """Values a fresh draw, slots moved: the gate fails on the random kernel; the slots are named in the evidence.
    Before the fix the slots' word made it `trained` and check said OK."""
    code, doc = cli_json(run_cli, "check", artifact(REINIT), "--model", OTHER_SEED)
    variables = variables_by_path(doc)
    verdicts = {p: v["init"]["verdict"] for p, v in variables.items()}
    assert verdicts == {v: FRESH if v == "dense_1/kernel" else TRAINED for v in VARIABLES}
    kernel = variables["dense_1/kernel"]["init"]
    assert kernel["match"] == "glorot_uniform" and "optimizer-slots" in kernel["basis"]
    assert "received gradients" in kernel["evidence"] and "re-initialised after it was trained" in kernel["evidence"]
    assert doc["summary"]["fresh"] == 1 and code == 1


def test_inspect_reinit_after_training_says_fresh(run_cli):
    code, doc = cli_json(run_cli, "inspect", artifact(REINIT))
    verdicts = {t["key"]: t["init"]["verdict"] for t in model_tensors(doc)}
    assert verdicts.pop(REINIT_KEY) == FRESH
    assert set(verdicts.values()) == {TRAINED}
