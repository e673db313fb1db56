"""Running audit_one over a fleet: in this process, on a local process pool, or on a Dask cluster.

Results are handed to `on_result` as each artifact finishes (so `--format jsonl` streams), and returned
in discovery order. A worker that dies takes only its own artifact down: that record is an `error`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import Any

from ckptdiff.audit.task import AuditStatus, audit_one
from ckptdiff.errors import BadOption, one_line


def _lost(path: str, exc: BaseException) -> dict[str, Any]:
    return {
        "path": path,
        "format": None,
        "status": AuditStatus.ERROR.value,
        "counts": {},
        "findings": [],
        "error": f"the worker auditing it failed: {type(exc).__name__}: {one_line(str(exc))}",
        "worker": None,
        "seconds": 0.0,
    }


FULL_COLLECT_EVERY = 16
"""A serial audit collects the whole heap after this many artifacts (the young generations after each)."""


def run_audit(
    paths: Sequence[str],
    on_result: Callable[[dict[str, Any]], None],
    *,
    model_spec: str | None = None,
    allow: tuple[str, ...] = (),
    storage_options: dict[str, Any] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Audit every path; returns (executor description, records in the order of paths)."""
    args = (model_spec, allow, storage_options or {})
    results: dict[str, dict[str, Any]] = {}

    def finish(record: dict[str, Any]) -> None:
        results[record["path"]] = record
        on_result(record)

    if scheduler:
        executor = _on_dask(paths, args, scheduler, finish)
    elif workers > 1:
        executor = _on_processes(paths, args, workers, finish)
    else:
        executor = "serial"
        for done, path in enumerate(paths, 1):
            finish(audit_one(path, *args))
            # The CLI runs with the cyclic collector paused (ckptdiff.cli.main): the young generations are collected
            # per artifact (what it left behind), the whole heap every FULL_COLLECT_EVERY artifacts. A full collection
            # per artifact walks TensorFlow's heap once it is imported: 9 s of a 100-artifact serial audit.
            gc.collect(2 if done % FULL_COLLECT_EVERY == 0 else 1)
    return executor, [results[p] for p in paths]


def _on_processes(paths: Sequence[str], args: tuple, workers: int, finish: Callable[[dict[str, Any]], None]) -> str:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # forkserver: workers start clean (no TensorFlow or open maps inherited), cheaper than spawn per task.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(audit_one, path, *args): path for path in paths}
        for future in as_completed(futures):
            try:
                finish(future.result())
            except Exception as exc:  # BrokenProcessPool: a worker died (a crash inside a native library)
                finish(_lost(futures[future], exc))
    return f"processes({workers})"


def _on_dask(paths: Sequence[str], args: tuple, scheduler: str, finish: Callable[[dict[str, Any]], None]) -> str:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise BadOption("--scheduler needs Dask distributed: pip install 'ckptdiff[cluster]'") from None
    try:
        client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise BadOption(f"--scheduler {scheduler}: cannot reach the scheduler ({one_line(str(exc))})") from None
    try:
        futures = [
            client.submit(audit_one, path, *args, key=f"ckptdiff-audit-{i}", pure=False) for i, path in enumerate(paths)
        ]
        by_key = {f.key: p for f, p in zip(futures, paths)}
        for future in as_completed(futures):
            try:
                finish(future.result())
            except Exception as exc:  # a worker lost mid-task, or a task Dask could not run
                finish(_lost(by_key[future.key], exc))
        workers = len(client.scheduler_info().get("workers", {}))
    finally:
        client.close()
    return f"dask({scheduler}, {workers} workers)"
