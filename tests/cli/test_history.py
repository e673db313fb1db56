"""`ckptdiff history` on the runs of make_history_samples.py, every claim checked against TensorFlow's reader
(CheckpointManager run) or h5py (per-epoch Keras files), pair by pair and variable by variable."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

from tests.conftest import SAMPLES

HISTORY = SAMPLES / "history"
REBOUND = HISTORY / "rebound_loop"
EPOCHS = HISTORY / "epochs"
HIDDEN_KERNEL = "model/_functional/_operations/3/_kernel"
HEAD_KERNEL = "model/_functional/_operations/4/_kernel"


def history_json(run_cli, *args: str) -> tuple[int, dict]:
    result = run_cli("history", *args, "--format", "json")
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


def oracle_flags(values: list[dict[str, np.ndarray]]) -> dict[str, list[tuple[bool, float | None]]]:
    """key -> per consecutive pair: (changed, ||b - a|| / ||a||), from the values the oracle read."""
    out: dict[str, list[tuple[bool, float | None]]] = {}
    for key in values[0]:
        pairs = []
        for a, b in zip(values, values[1:]):
            x, y = a[key].astype(np.float64), b[key].astype(np.float64)
            changed = not np.array_equal(x, y)
            norm = float(np.linalg.norm(x))
            rel = 0.0 if not changed else float(np.linalg.norm(y - x)) / norm if norm else None
            pairs.append((changed, rel))
        out[key] = pairs
    return out


@pytest.fixture(scope="module")
def rebound_oracle() -> dict[str, list[tuple[bool, float | None]]]:
    import tensorflow as tf

    readers = [tf.train.load_checkpoint(str(REBOUND / f"ckpt-{i}")) for i in range(1, 5)]
    keys = [k for k in readers[0].get_variable_to_shape_map() if k.startswith("model/") or "_trainable_variables" in k]
    return oracle_flags([{k: r.get_tensor(k) for k in keys} for r in readers])


def _check_against(doc: dict, oracle: dict[str, list[tuple[bool, float | None]]]) -> None:
    assert doc["variables"], doc
    for v in doc["variables"]:
        expected = oracle[v["key"]]
        assert v["changed"] == [c for c, _ in expected], v["name"]
        for got, (_, want) in zip(v["rel_change"], expected):
            assert (got is None) == (want is None) and (want is None or abs(got - want) <= 1e-6 * max(1.0, want))
        moved = [i for i, (c, _) in enumerate(expected) if c]
        assert v["last_changed"] == (moved[-1] if moved else None)
        status = "never_changed" if not moved else "changing" if moved[-1] == len(expected) - 1 else "stopped_changing"
        assert v["status"] == status


def test_checkpoint_manager_run_agrees_with_tf_reader(run_cli, rebound_oracle):
    code, doc = history_json(run_cli, str(REBOUND))
    assert doc["schema"] == "ckptdiff.history/1"
    assert [c["step"] for c in doc["checkpoints"]] == [1, 2, 3, 4]
    assert [c["path"].rsplit("/", 1)[-1] for c in doc["checkpoints"]] == ["ckpt-1", "ckpt-2", "ckpt-3", "ckpt-4"]
    _check_against(doc, rebound_oracle)
    by_name = {v["name"]: v for v in doc["variables"]}
    expected = json.loads((HISTORY / "EXPECTED.json").read_text())["rebound_loop"]
    assert by_name[HIDDEN_KERNEL]["status"] == "never_changed"  # the rebound Python name (dense_1/kernel)
    head = by_name[HEAD_KERNEL]  # frozen after epoch FREEZE_AFTER
    assert head["status"] == "stopped_changing" and head["last_changed"] == expected["frozen_after"] - 2
    assert doc["summary"] == {
        "never_changed": 1,
        "stopped_changing": 1,
        "changing": len(doc["variables"]) - 2,
        "nonfinite": 0,
    }
    assert code == 1 and doc["ok"] is False


def test_numbered_checkpoints_without_state_file(run_cli, tmp_path, rebound_oracle):
    for path in REBOUND.iterdir():
        if path.name != "checkpoint":
            shutil.copy(path, tmp_path / path.name)
    _, doc = history_json(run_cli, str(tmp_path))
    assert [c["step"] for c in doc["checkpoints"]] == [1, 2, 3, 4]
    _check_against(doc, rebound_oracle)


def test_explicit_list_in_the_order_given(run_cli, rebound_oracle):
    _, doc = history_json(run_cli, str(REBOUND / "ckpt-3"), str(REBOUND / "ckpt-4"))
    assert [c["step"] for c in doc["checkpoints"]] == [3, 4]
    for v in doc["variables"]:
        assert v["changed"] == [rebound_oracle[v["key"]][2][0]]


def test_per_epoch_keras_files_agree_with_h5py(run_cli):
    files = sorted(EPOCHS.glob("weights.*.weights.h5"))
    values = []
    for path in files:
        with h5py.File(path) as f:
            found: dict[str, np.ndarray] = {}
            f["layers"].visititems(
                lambda name, obj, found=found: (
                    found.__setitem__(f"layers/{name}", obj[()]) if isinstance(obj, h5py.Dataset) else None
                )
            )
            values.append(found)
    oracle = oracle_flags(values)
    code, doc = history_json(run_cli, str(EPOCHS))
    assert [c["step"] for c in doc["checkpoints"]] == [1, 2, 3, 4]
    _check_against(doc, oracle)
    never = {v["name"] for v in doc["variables"] if v["status"] == "never_changed"}
    assert never == {"frozen/vars/0", "frozen/vars/1"}  # the layer with trainable = False
    assert {lh["layer"]: lh["never_changed"] for lh in doc["layers"]}["frozen/vars"] == 2
    assert code == 1


def test_allow_and_fail_on(run_cli):
    assert run_cli("history", str(EPOCHS), "--allow", "never_changed").exit_code == 0
    assert run_cli("history", str(REBOUND), "--allow", "never_changed").exit_code == 0
    assert run_cli("history", str(REBOUND), "--allow", "never_changed", "--fail-on", "stopped_changing").exit_code == 1


def test_first_nonfinite(run_cli):
    """fresh/rebinding then fresh/nan (same model, one NaN written into dense_1/kernel): the NaN shows at [1]."""
    import tensorflow as tf

    a, b = str(SAMPLES / "fresh" / "rebinding" / "ckpt"), str(SAMPLES / "fresh" / "nan" / "ckpt")
    reader = tf.train.load_checkpoint(b)
    dtypes = reader.get_variable_to_dtype_map()
    poisoned = {k for k in dtypes if dtypes[k].is_floating and np.isnan(reader.get_tensor(k)).any()}
    code, doc = history_json(run_cli, a, b, "--allow", "never_changed")
    flagged = {v["key"] for v in doc["variables"] if v["first_nonfinite"] is not None}
    assert flagged == poisoned and len(flagged) == 1
    assert all(v["first_nonfinite"] == 1 for v in doc["variables"] if v["key"] in flagged)
    assert doc["summary"]["nonfinite"] == 1 and code == 1
    table = run_cli("history", a, b, "--allow", "never_changed").stdout
    assert "(nan/inf)" in table and "[1]" in table


def test_junit_and_table(run_cli):
    xml = run_cli("history", str(REBOUND), "--format", "junit").stdout
    suite = ET.fromstring(xml).find("testsuite")
    failures = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == [HIDDEN_KERNEL]
    assert suite.get("failures") == "1" and int(suite.get("tests")) == 10
    table = run_cli("history", str(REBOUND)).stdout
    assert "never_changed" in table and "-> FAIL" in table
    row = next(line for line in table.splitlines() if line.startswith(HEAD_KERNEL))
    assert "x.." in row


@pytest.mark.parametrize("args", [[str(SAMPLES / "keras3" / "model.weights.h5")], ["{tmp}"]])
def test_unusable_runs_are_one_line_errors(run_cli, tmp_path, args):
    result = run_cli("history", *[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "two artifacts" in lines[0] or "list the artifacts" in lines[0]


def test_orbax_root_steps_agree_with_the_saver(run_cli):
    """An Orbax CheckpointManager root (step directories): each leaf changed exactly when the sha256 the saver
    recorded for it (EXPECTED.json, from the arrays given to orbax) differs between the steps."""
    pytest.importorskip("tensorstore", reason="Orbax reading needs the orbax extra (tensorstore)")
    expected = json.loads((SAMPLES / "formats" / "EXPECTED.json").read_text())["artifacts"]["orbax/jax_user"]
    a, b = (expected["steps"][s]["state"] for s in ("1", "2"))
    changed = {x["key"]: x["sha256"] != y["sha256"] for x, y in zip(a, b, strict=True)}
    _, doc = history_json(run_cli, str(SAMPLES / "formats" / "orbax" / "jax_user"), "--group", "all")
    assert [c["step"] for c in doc["checkpoints"]] == [1, 2]
    got = {v["key"].removeprefix("state/"): v["changed"] for v in doc["variables"]}
    assert got == {k: [c] for k, c in changed.items()}


def test_list_of_keras_hub_presets(run_cli, tmp_path):
    """Two preset directories in order; the second is a copy with one weight file changed by h5py (the oracle)."""
    preset = SAMPLES / "formats" / "hub_preset" / "bert_tiny"
    copy = tmp_path / "bert_tiny_2"
    shutil.copytree(preset, copy)
    with h5py.File(copy / "model.weights.h5", "r+") as f:
        names: list[str] = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and o.dtype.kind == "f" else None)
        target = names[0]
        f[target][...] = f[target][()] + 1.0
    code, doc = history_json(run_cli, str(preset), str(copy))
    moved = {v["key"] for v in doc["variables"] if v["changed"] == [True]}
    assert moved == {target} and code == 1  # every other variable never changed


def test_changed_only_decides_by_crc(run_cli, rebound_oracle):
    """--changed-only: the same changed flags (TF's reader is the oracle), no magnitudes for changed tensors."""
    _, doc = history_json(run_cli, str(REBOUND), "--changed-only")
    for v in doc["variables"]:
        expected = rebound_oracle[v["key"]]
        assert v["changed"] == [c for c, _ in expected]
        assert all((r is None) == c for r, c in zip(v["rel_change"], v["changed"]))


def test_changed_only_agrees_with_the_full_comparison_on_a_run_with_nan(run_cli, tmp_path):
    """--changed-only decides by CRC32C both ways and carries each tensor's NaN/Inf flag across unchanged pairs:
    on a run a, b, b again, a again (sample_checkpoints/diff/nan: `model/w` holds a NaN in both, `model/u` only
    changes), its changed flags and first NaN/Inf checkpoint equal the byte-exact comparison's."""

    run = []
    for i, side in enumerate("abba"):
        for suffix in (".index", ".data-00000-of-00001"):
            shutil.copy(SAMPLES / f"diff/nan/{side}{suffix}", tmp_path / f"step{i}{suffix}")
        run.append(str(tmp_path / f"step{i}"))
    code_full, full = history_json(run_cli, *run)
    code_fast, fast = history_json(run_cli, *run, "--changed-only")
    assert code_full == code_fast == 1
    shown = {v["name"]: (v["changed"], v["first_nonfinite"]) for v in full["variables"]}
    assert {v["name"]: (v["changed"], v["first_nonfinite"]) for v in fast["variables"]} == shown
    assert shown["model/w"] == ([False, False, False], 0)
    assert shown["model/u"][0] == [True, False, True]
