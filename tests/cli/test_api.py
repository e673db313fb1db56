"""The Python API returns the report objects the CLI renders: `.ok` equals exit status 0, `.to_json()` equals
`--format json`, `.findings` lists what fails; `ckptdiff.testing.assert_restores` raises with the check table."""

from __future__ import annotations

import importlib.util
import json

import pytest

import ckptdiff
from ckptdiff.testing import assert_restores
from tests.conftest import SAMPLES


def _factory(file: str, name: str):
    spec = importlib.util.spec_from_file_location(f"api_{name}", SAMPLES / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@pytest.mark.parametrize(
    "rel", ["tf2", "fresh/before_training/ckpt", "fresh/nan/ckpt", "keras3/model.weights.h5", "hostile/lambda.keras"]
)
def test_inspect_report_matches_the_cli(run_cli, rel):
    path = str(SAMPLES / rel)
    report = ckptdiff.inspect(path)
    assert json.loads(report.to_json()) == json.loads(run_cli("inspect", path, "--format", "json").stdout)
    doc = json.loads(report.to_json())
    fresh = [t for t in doc["tensors"] if t["group"] == "model" and t["init"]["verdict"] == "fresh"]
    nonfinite = [t for t in doc["tensors"] if t["stats"] and (t["stats"]["nan_count"] or t["stats"]["inf_count"])]
    assert report.ok == (not fresh and not nonfinite)
    assert sorted(f.kind for f in report.findings) == sorted(["fresh"] * len(fresh) + ["nonfinite"] * len(nonfinite))


def test_check_takes_a_live_model_object_and_a_spec(run_cli):
    artifact = str(SAMPLES / "tf2")
    spec = str(SAMPLES / "models.py") + ":build_keras3"
    by_object = ckptdiff.check(artifact, model=_factory("models.py", "build_keras3")())
    by_spec = ckptdiff.check(artifact, model=spec)
    cli = run_cli("check", artifact, "--model", spec, "--format", "json")
    a, b, c = (json.loads(x) for x in (by_object.to_json(), by_spec.to_json(), cli.stdout))
    for doc in (a, b, c):
        doc["model"]["spec"] = doc["model"]["notes"] = None
    assert a["variables"] == b["variables"] == c["variables"] and a["summary"] == c["summary"]
    assert by_object.ok and cli.exit_code == 0 and by_object.findings == []


def test_check_findings_and_assert_restores():
    artifact = str(SAMPLES / "scenarios" / "scope_mistake" / "model.ckpt")
    spec = str(SAMPLES / "scenario_models.py") + ":tf1_module"
    report = ckptdiff.check(artifact, model=spec)
    assert not report.ok and report.hints
    missing = [v.path for v in report.variables if v.status == "missing"]
    assert missing and {f.where for f in report.findings if f.kind == "missing"} == set(missing)
    with pytest.raises(AssertionError) as raised:
        assert_restores(artifact, spec)
    message = str(raised.value)
    assert "restoring" in message and all(path in message for path in missing) and "FAIL" in message
    clean = assert_restores(str(SAMPLES / "tf2"), str(SAMPLES / "models.py") + ":build_keras3")
    assert clean.ok


def test_allow_turns_a_fresh_restore_into_a_pass():
    artifact = str(SAMPLES / "fresh" / "rebinding" / "ckpt")
    spec = str(SAMPLES / "fresh_models.py") + ":training_model"
    with pytest.raises(AssertionError, match="fresh"):
        assert_restores(artifact, spec)
    assert assert_restores(artifact, spec, allow=("fresh",)).ok


def test_diff_scan_history(run_cli):
    a, b = str(SAMPLES / "tf2" / "ckpt-1"), str(SAMPLES / "tf2" / "ckpt-2")
    changed = ckptdiff.diff(a, b)
    assert not changed.ok and changed.findings and ckptdiff.diff(a, a).ok
    assert json.loads(changed.to_json()) == json.loads(run_cli("diff", a, b, "--format", "json").stdout)
    hostile = ckptdiff.scan(str(SAMPLES / "hostile" / "lambda.keras"))
    assert not hostile.ok and any(f.kind == "lambda" for f in hostile.findings)
    run = ckptdiff.history(str(SAMPLES / "history" / "rebound_loop"))
    assert not run.ok and [f.kind for f in run.findings] == ["never_changed"]
    assert ckptdiff.history(str(SAMPLES / "history" / "rebound_loop"), allow=("never_changed",)).ok
