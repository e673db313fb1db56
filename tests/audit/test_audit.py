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


def test_globs_select_roots(run_cli_module, fleet, serial):
    root, _ = fleet
    _, doc = serial
    result = run_cli_module("audit", str(root / "team1" / "*"), "--format", "json")
    got = _records(json.loads(result.stdout))
    assert got == {p: r for p, r in _records(doc).items() if "/team1/" in p} and got


def test_bucket_prefix_audit_equals_local(run_cli_module, s3):
    """The samples' history/ folder audited from the S3 API equals the local audit, record by record."""
    from tests.conftest import SAMPLES
    from tests.remote.conftest import BUCKET

    local = json.loads(run_cli_module("audit", str(SAMPLES / "history"), "--format", "json").stdout)
    remote = json.loads(run_cli_module("audit", f"s3://{BUCKET}/history", "--format", "json").stdout)

    def keyed(doc: dict, prefix: str) -> dict[str, dict]:
        return {p.removeprefix(prefix): r for p, r in _records(doc).items()}

    a, b = keyed(local, str(SAMPLES / "history")), keyed(remote, f"s3://{BUCKET}/history")
    assert set(a) == set(b) and len(a) == 11
    for path in a:
        for field in ("status", "format", "counts"):
            assert a[path][field] == b[path][field], (path, field)
        assert [f["kind"] for f in a[path]["findings"]] == [f["kind"] for f in b[path]["findings"]]


def test_progress_counts_artifacts():
    import io

    from ckptdiff.report.progress import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(4, "audit", enabled=True, stream=stream)
    bar.unit = "artifacts"
    bar.started -= 10  # past the one-second delay
    bar(3)
    assert "3/4 artifacts" in stream.getvalue()


def test_pieces_without_their_whole_are_errors_and_links_are_walked_once(run_cli, tmp_path):
    """A data shard without its .index, a junk and a real TF1 V1 `.ckpt`, an Orbax step that lost its
    `_CHECKPOINT_METADATA`, and symbolic links back up the tree: every piece is a record (errors fail the
    audit), each folder is walked once, and the walk ends. Before, the audit said OK over the same folder and
    hung on two links to `.`."""
    import shutil

    from tests.conftest import SAMPLES

    (tmp_path / "a").mkdir()
    for name in ("checkpoint", "ckpt-2.data-00000-of-00001"):
        shutil.copy(SAMPLES / "tf2" / name, tmp_path / "a" / name)
    shutil.copy(SAMPLES / "keras3" / "model.weights.h5", tmp_path / "a" / "model.weights.h5")
    (tmp_path / "b" / "loop").mkdir(parents=True)
    shutil.copy(SAMPLES / "tf1_v1" / "model.ckpt", tmp_path / "b" / "model.ckpt")
    (tmp_path / "b" / "junk.ckpt").write_bytes(b"junk\n")
    (tmp_path / "b" / "loop" / "up").symlink_to("..")
    (tmp_path / "b" / "self").symlink_to(".")
    (tmp_path / "b" / "again").symlink_to(".")
    shutil.copytree(SAMPLES / "formats" / "orbax" / "keras_callback" / "1", tmp_path / "o" / "step")
    (tmp_path / "o" / "step" / "_CHECKPOINT_METADATA").unlink()
    result = run_cli("audit", str(tmp_path), "--format", "json")
    assert result.exit_code == 1, result.stdout
    status = {r["path"].removeprefix(f"{tmp_path}/"): r["status"] for r in json.loads(result.stdout)["artifacts"]}
    assert status == {
        "a/ckpt-2": "error",
        "a/model.weights.h5": "ok",
        "b/junk.ckpt": "error",
        "b/model.ckpt": "ok",
        "o/step/model_config": "error",
        "o/step/pytree": "error",
    }, status
    for alone, code in (("a/model.weights.h5", 0), ("b/model.ckpt", 0), ("a/ckpt-2", 2), ("o/step", 2)):
        assert run_cli("inspect", str(tmp_path / alone), "--no-stats").exit_code == code, alone
