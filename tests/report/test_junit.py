"""JUnit XML carries every finding that makes `check` exit 1 as a <failure>, parsed back with ElementTree."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import SAMPLES

pytestmark = pytest.mark.requires_tf

FRESH = SAMPLES / "fresh"
LIVE = "sample_checkpoints/fresh_models.py:training_model"
SCOPE = "sample_checkpoints/scenarios/scope_mistake/model.ckpt"
TF1_MODULE = "sample_checkpoints/scenario_models.py:tf1_module"


def _suite(result) -> ET.Element:
    root = ET.fromstring(result.stdout)
    [suite] = root.findall("testsuite")
    return suite


def _failures(suite: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name"): f for case in suite.findall("testcase") if (f := case.find("failure")) is not None}


def test_fresh_value_is_a_failure(run_cli):
    """`check rebinding --format junit` exited 1 with failures="0": the fresh kernel is a failure now."""
    result = run_cli("check", str(FRESH / "rebinding/ckpt"), "--model", LIVE, "--format", "junit")
    suite = _suite(result)
    failures = _failures(suite)
    assert result.exit_code == 1
    assert int(suite.get("failures")) == len(failures) >= 1
    kernel = failures["dense_1/kernel"]
    assert kernel.get("type") == "fresh" and kernel.get("message").startswith("fresh: ")
    allowed = _suite(
        run_cli("check", str(FRESH / "rebinding/ckpt"), "--model", LIVE, "--format", "junit", "--allow", "fresh")
    )
    assert allowed.get("failures") == "0"


def test_nonfinite_value_is_a_failure(run_cli):
    result = run_cli("check", str(FRESH / "nan/ckpt"), "--model", LIVE, "--format", "junit", "--allow", "fresh")
    failures = _failures(_suite(result))
    assert result.exit_code == 1
    assert [f.get("type") for f in failures.values()] == ["nonfinite"]


def test_integrity_damage_is_a_failure(run_cli, tmp_path):
    """With --verify, a damaged tensor went to stderr only; now it is a failure of its own test case."""
    copy = tmp_path / "rebinding"
    shutil.copytree(FRESH / "rebinding", copy)
    shard = copy / "ckpt.data-00000-of-00001"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x10
    shard.write_bytes(bytes(data))
    result = run_cli("check", str(copy / "ckpt"), "--model", LIVE, "--format", "junit", "--verify", "--allow", "fresh")
    suite = _suite(result)
    integrity = [c for c in suite.findall("testcase") if c.get("classname") == "integrity"]
    assert result.exit_code == 1 and result.stderr == ""
    assert len(integrity) == 1
    failure = integrity[0].find("failure")
    assert failure is not None and failure.get("type") == "crc-mismatch"


def test_hints_and_notes_reach_the_suite(run_cli):
    result = run_cli("check", SCOPE, "--model", TF1_MODULE, "--format", "junit")
    suite = _suite(result)
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["fail_on"] == "missing,shape_mismatch,dtype_mismatch,partial,fresh,nonfinite,misplaced"
    assert any(name.startswith("hint.") and "another_scope/" in value for name, value in properties.items())
    out = suite.find("system-out").text
    assert "hint: scope rewrite" in out and out.startswith("outcome: ")
    assert int(suite.get("failures")) == 6
