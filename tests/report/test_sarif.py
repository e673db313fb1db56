"""SARIF 2.1.0 output of `scan` and `check`, validated against the OASIS schema (tests/schemas, vendored) with
jsonschema; every finding of the JSON report is one result with its rule, level and artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

jsonschema = pytest.importorskip("jsonschema", reason="SARIF validation needs jsonschema (dev extra)")
SCHEMA = json.loads((Path(__file__).parent.parent / "schemas" / "sarif-schema-2.1.0.json").read_text())
LEVEL = {"high": "error", "medium": "warning", "low": "note", "info": "none"}


def _valid(text: str) -> dict:
    log = json.loads(text)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    return log


@pytest.mark.parametrize(
    "rel",
    [
        "hostile/lambda.keras",
        "hostile/zip_tricks.keras",
        "hostile/write_file_saved_model",
        "attacks/cve_2025_1550_module_function.keras",
        "keras3/model.keras",
    ],
)
def test_scan_sarif(run_cli, rel):
    path = str(SAMPLES / rel)
    as_json = json.loads(run_cli("scan", path, "--format", "json").stdout)
    result = run_cli("scan", path, "--format", "sarif")
    log = _valid(result.stdout)
    [run] = log["runs"]
    results = run["results"]
    assert len(results) == len(as_json["findings"])
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == {f"ckptdiff/scan/{f['kind']}" for f in as_json["findings"]}
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    for got, finding in zip(results, as_json["findings"]):
        assert got["ruleId"] == f"ckptdiff/scan/{finding['kind']}"
        assert rules[got["ruleIndex"]]["id"] == got["ruleId"]
        assert got["level"] == LEVEL[finding["severity"]]
        assert got["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == path
        assert finding["detail"] in got["message"]["text"]
    assert result.exit_code == (0 if as_json["clean"] else 1)


def test_check_sarif(run_cli):
    artifact = str(SAMPLES / "scenarios" / "scope_mistake" / "model.ckpt")
    model = str(SAMPLES / "scenario_models.py") + ":tf1_module"
    as_json = json.loads(run_cli("check", artifact, "--model", model, "--format", "json").stdout)
    result = run_cli("check", artifact, "--model", model, "--format", "sarif")
    log = _valid(result.stdout)
    results = log["runs"][0]["results"]
    failing = [v for v in as_json["variables"] if v["status"] in as_json["fail_on"]]
    assert failing and len([r for r in results if r["ruleId"] == "ckptdiff/check/missing"]) == sum(
        1 for v in failing if v["status"] == "missing"
    )
    assert all(r["level"] == "error" for r in results)
    assert {r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] for r in results} >= {
        v["path"] for v in failing
    }
    assert result.exit_code == 1


def test_clean_check_has_no_results(run_cli):
    result = run_cli(
        "check", str(SAMPLES / "tf2"), "--model", str(SAMPLES / "models.py") + ":build_keras3", "--format", "sarif"
    )
    log = _valid(result.stdout)
    assert log["runs"][0]["results"] == [] and result.exit_code == 0
