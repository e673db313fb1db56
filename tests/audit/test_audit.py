"""`ckptdiff audit` over a fleet of 120 artifacts (tests/audit/conftest.py): found once each as wholes, every
record equal to what `inspect --verify` and `scan` say of that artifact alone, the same serially, on a local
process pool and on a Dask cluster of two worker processes (started once, on loopback)."""

from __future__ import annotations

import json

import pytest

VOLATILE = ("worker", "seconds")


def _records(doc: dict) -> dict[str, dict]:
    return {r["path"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in doc["artifacts"]}


@pytest.fixture(scope="module")
def serial(run_cli_module, fleet):
    root, _ = fleet
    result = run_cli_module("audit", str(root), "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def test_every_artifact_found_once_as_a_whole(fleet, serial):
    _, expected = fleet
    _, doc = serial
    assert sorted(r["path"] for r in doc["artifacts"]) == sorted(expected)
    for r in doc["artifacts"]:
        assert not r["path"].endswith((".index", ".data-00000-of-00001", "saved_model.pb", "config.json"))


def test_records_agree_with_inspect_and_scan(run_cli_module, fleet, serial):
    """The oracle for each artifact: the exit statuses and outputs of `inspect --verify` and `scan` run alone."""
    _, expected = fleet
    code, doc = serial
    assert code == 1 and doc["schema"] == "ckptdiff.audit/1" and doc["executor"] == "serial"
    seen_sources: set[tuple[str, bool]] = set()
    for record in doc["artifacts"]:
        source, damage = expected[record["path"]]
        if (source, damage is not None) in seen_sources:
            continue  # copies of one sample answer alike (checked by the equality tests below)
        seen_sources.add((source, damage is not None))
        inspect = run_cli_module("inspect", record["path"], "--verify", "--format", "json")
        if inspect.exit_code == 2:
            assert record["status"] == "error", record
            assert record["error"] == inspect.stderr.strip().removeprefix("ckptdiff: error: ")
            continue
        scan = run_cli_module("scan", record["path"], "--format", "json")
        if scan.exit_code == 2:
            assert record["status"] == "error" and record["error"] in scan.stderr, record
            continue
        tensors = json.loads(inspect.stdout)["tensors"]
        fresh = sum(1 for t in tensors if t["group"] == "model" and t["init"] and t["init"]["verdict"] == "fresh")
        failing = [f for f in json.loads(scan.stdout)["findings"] if f["severity"] in ("high", "medium", "low")]
        integrity = json.loads(inspect.stdout)["integrity"]["problems"]
        assert record["counts"]["tensors"] == len(tensors)
        assert record["counts"]["fresh"] == fresh
        kinds = [f["source"] for f in record["findings"]]
        assert kinds.count("scan") == len(failing) and kinds.count("verify") == len(integrity)
        assert record["status"] == ("findings" if record["findings"] else "ok"), record
    assert any(d for _, d in expected.values()) and any(r["status"] == "error" for r in doc["artifacts"])
    assert any(r["status"] == "ok" for r in doc["artifacts"])


def test_process_pool_gives_the_same_records(run_cli_module, fleet, serial):
    root, _ = fleet
    _, doc = serial
    result = run_cli_module("audit", str(root), "--format", "json", "--workers", "2")
    pooled = json.loads(result.stdout)
    assert pooled["executor"] == "processes(2)" and result.exit_code == 1
    assert _records(pooled) == _records(doc)
    assert len({r["worker"] for r in pooled["artifacts"]}) == 2


def test_jsonl_streams_one_line_per_artifact(run_cli_module, fleet, serial):
    root, _ = fleet
    _, doc = serial
    result = run_cli_module("audit", str(root), "--format", "jsonl")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["path"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in lines} == _records(doc)


def test_dask_cluster_gives_the_same_records(run_cli_module, fleet, serial, dask_scheduler):
    root, _ = fleet
    _, doc = serial
    result = run_cli_module("audit", str(root), "--format", "json", "--scheduler", dask_scheduler)
    on_dask = json.loads(result.stdout)
    assert on_dask["executor"].startswith(f"dask({dask_scheduler}") and result.exit_code == 1
    assert _records(on_dask) == _records(doc)
    workers = {r["worker"] for r in on_dask["artifacts"]}
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)


def test_a_clean_fleet_exits_0_and_unreachable_scheduler_is_one_line(run_cli_module, tmp_path):
    from tests.conftest import SAMPLES

    clean = run_cli_module("audit", str(SAMPLES / "tf2"), "--format", "json")
    assert clean.exit_code == 0, clean.stdout
    assert [r["status"] for r in json.loads(clean.stdout)["artifacts"]] == ["ok", "ok"]
    down = run_cli_module("audit", str(SAMPLES / "tf2"), "--scheduler", "tcp://127.0.0.1:9")
    assert down.exit_code == 2 and len(down.stderr.strip().splitlines()) == 1
    empty = run_cli_module("audit", str(tmp_path))
    assert empty.exit_code == 2 and "no artifacts found" in empty.stderr
