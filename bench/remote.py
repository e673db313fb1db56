"""`make bench` (second part): remote reads and fleet audits, measured on loopback servers.

- Bytes fetched by an index-only `inspect --no-stats` of the ~1 GiB checkpoint of bench/speed.py over an
  HTTP server with Range support (bytes counted by the server), and its wall time.
- A remote statistics pass (`inspect --no-init`) of the same checkpoint from moto's S3 server, against the
  same command on the local files.
- `audit` throughput over a fleet of copies of sample_checkpoints/: serial, `--workers 2`, and `--scheduler`
  on a Dask LocalCluster with two worker processes (cluster start-up not counted).

Each command runs in-process once per repeat; the median is printed as a Markdown table.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(os.environ.get("CKPTDIFF_BENCH_DIR", "/tmp/ckptdiff-bench"))
REPEAT = int(os.environ.get("CKPTDIFF_BENCH_REPEAT", "3"))
FLEET = int(os.environ.get("CKPTDIFF_BENCH_FLEET", "100"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cli(*args: str) -> tuple[int, str]:
    from ckptdiff.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue()


def timed(*args: str, repeat: int = REPEAT) -> float:
    walls = []
    for _ in range(repeat):
        start = time.perf_counter()
        code, _ = cli(*args)
        walls.append(time.perf_counter() - start)
        if code not in (0, 1):
            raise SystemExit(f"failed ({code}): ckptdiff {' '.join(args)}")
    return statistics.median(walls)


def main() -> int:
    from tests.servers import HttpRangeServer, S3Server

    big = WORK / "big"
    if not (big / "ckpt.index").exists():
        raise SystemExit(f"{big}/ckpt is missing: run bench/speed.py first (make bench does)")
    data = sum(p.stat().st_size for p in big.glob("ckpt.data-*"))
    index = (big / "ckpt.index").stat().st_size
    rows = []

    http = HttpRangeServer(WORK).start()
    http.log.reset()
    wall = timed("inspect", f"{http.url}/big/ckpt", "--no-stats", "--format", "json")
    fetched = http.log.body_bytes / REPEAT
    over_http = timed("inspect", f"{http.url}/big/ckpt", "--no-init", "--format", "json", repeat=1)
    rows.append(
        (
            "index-only inspect over HTTP (1 GiB checkpoint)",
            f"{wall:.2f} s",
            f"{fetched / 1024:.1f} KiB fetched per run (index {index / 1024:.1f} KiB, data {data / 2**30:.2f} GiB)",
        )
    )
    http.stop()

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    s3 = S3Server().start()
    s3.upload_tree("bench", big, "big/")
    local = timed("inspect", str(big / "ckpt"), "--no-init", "--format", "json")
    remote = timed("inspect", "s3://bench/big/ckpt", "--no-init", "--format", "json", repeat=1)
    rows.append(("statistics pass, local files", f"{local:.2f} s", f"{data / 2**20 / local:.0f} MiB/s"))
    rows.append(
        (
            "statistics pass over HTTP (Python http.server, 1 run)",
            f"{over_http:.1f} s",
            f"{data / 2**20 / over_http:.0f} MiB/s",
        )
    )
    rows.append(
        ("statistics pass from S3 (moto server, 1 run)", f"{remote:.1f} s", f"{data / 2**20 / remote:.0f} MiB/s")
    )
    s3.stop()

    from tests.audit.conftest import SOURCES, _copy

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(FLEET):
            _copy(SOURCES[i % len(SOURCES)], Path(tmp) / f"m{i:04d}")
        n = FLEET
        serial = timed("audit", tmp, "--format", "json", "--quiet")
        rows.append((f"audit of {n} artifacts, serial", f"{serial:.1f} s", f"{n / serial:.1f} artifacts/s"))
        pool = timed("audit", tmp, "--format", "json", "--workers", "2", "--quiet")
        rows.append((f"audit of {n} artifacts, --workers 2", f"{pool:.1f} s", f"{n / pool:.1f} artifacts/s"))
        import distributed

        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            dask = timed("audit", tmp, "--format", "json", "--scheduler", cluster.scheduler_address, "--quiet")
        rows.append(
            (f"audit of {n} artifacts, Dask (2 worker processes)", f"{dask:.1f} s", f"{n / dask:.1f} artifacts/s")
        )
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"bench-remote  {datetime.datetime.now().isoformat(timespec='seconds')}  {platform.platform()}  "
        f"python {platform.python_version()}  cpus {os.cpu_count()}  repeat {REPEAT} (median)"
    )
    print()
    print("| measure | median | figure |")
    print("|---|---|---|")
    for label, wall, figure in rows:
        print(f"| {label} | {wall} | {figure} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
