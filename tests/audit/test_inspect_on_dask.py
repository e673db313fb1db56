"""`inspect --scheduler`: the statistics of a many-shard checkpoint computed on a Dask cluster's two worker
processes, by shard and segment, equal the local run's bit for bit (the JSON documents are identical)."""

from __future__ import annotations

import json

from tests.conftest import SAMPLES


def test_sharded_checkpoint_on_dask_equals_local(run_cli_module, dask_scheduler):
    path = str(SAMPLES / "tf2_sharded")
    local = run_cli_module("inspect", path, "--format", "json")
    remote = run_cli_module("inspect", path, "--format", "json", "--scheduler", dask_scheduler)
    assert remote.exit_code == local.exit_code == 0
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    from distributed import Client

    with Client(dask_scheduler) as client:
        opened = client.run(lambda: sorted(__import__("ckptdiff.stats.distributed").stats.distributed._OPEN))
    assert len(opened) == 2 and all(any(p.endswith("tf2_sharded/ckpt") for p in paths) for paths in opened.values())


def test_segments_merge_to_the_local_answer(run_cli_module, dask_scheduler, monkeypatch):
    """With 64-element segments every tensor above that is split into segments on the workers and merged on
    the client with Chan's combination; the local pass splits and merges the same way."""
    from ckptdiff.stats import batched, parallel

    monkeypatch.setattr(parallel, "SEGMENT_ELEMENTS", 64)
    monkeypatch.setattr(batched, "SMALL_ELEMENTS", 16)
    path = str(SAMPLES / "history" / "rebound_loop" / "ckpt-4")
    local = json.loads(run_cli_module("inspect", path, "--format", "json", "--no-init").stdout)
    remote = json.loads(
        run_cli_module("inspect", path, "--format", "json", "--no-init", "--scheduler", dask_scheduler).stdout
    )
    assert remote == local
    assert max(t["stats"]["count"] for t in local["tensors"] if t["stats"]) > 64 * 100  # really segmented
