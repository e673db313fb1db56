"""`make bench`: start-up, streaming throughput, memory and scale, measured side by side in one run.

Inputs are generated outside the repository (under $CKPTDIFF_BENCH_DIR, default
/tmp/ckptdiff-bench) with the real TensorFlow savers, then every command runs several times and the
median is reported. Peak RSS comes from wait4() on each child process. Prints a Markdown table.
"""

from __future__ import annotations

import json
import mmap
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CKPTDIFF = [PY, "-m", "ckptdiff"]
WORK = Path(os.environ.get("CKPTDIFF_BENCH_DIR", "/tmp/ckptdiff-bench"))
BIG_GB = float(os.environ.get("CKPTDIFF_BENCH_GB", "1.0"))
MANY = int(os.environ.get("CKPTDIFF_BENCH_MANY", "100000"))
REPEAT = int(os.environ.get("CKPTDIFF_BENCH_REPEAT", "3"))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def run(cmd: list[str], repeat: int = REPEAT) -> tuple[float, float]:
    """Median wall seconds and median peak RSS (MiB) of a command run `repeat` times."""
    walls, rss = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        rss.append(usage.ru_maxrss / 1024)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            raise SystemExit(
                f"benchmark command failed ({code}): {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}"
            )
    return statistics.median(walls), statistics.median(rss)


def python_script(body: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(body)]


def generate() -> dict[str, Path]:
    """Write the inputs once (a ~1 GB checkpoint, 100k small variables, a small H5)."""
    WORK.mkdir(parents=True, exist_ok=True)
    paths = {
        "big": WORK / "big" / "ckpt",
        "many": WORK / "many" / "model.ckpt",
        "h5": ROOT / "sample_checkpoints/keras3/model.weights.h5",
    }
    n_big = max(1, int(round(BIG_GB * 16)))
    if not Path(str(paths["big"]) + ".index").exists():
        subprocess.run(
            python_script(f"""
            import numpy as np, tensorflow as tf
            rng = np.random.default_rng(0)
            m = tf.Module()
            m.vars = [tf.Variable(rng.standard_normal((4096, 4096), dtype=np.float32) * 0.02, name=f"w{{i}}") for i in range({n_big})]
            tf.train.Checkpoint(model=m).write("{paths["big"]}")
        """),
            check=True,
            env=ENV,
        )
    if not Path(str(paths["many"]) + ".index").exists():
        subprocess.run(
            python_script(f"""
            import numpy as np, tensorflow as tf
            names = [f"block{{i // 100}}/layer{{i % 100}}/w" for i in range({MANY})]
            values = [tf.constant(np.full((4,), i, np.float32)) for i in range({MANY})]
            tf.raw_ops.SaveV2(prefix="{paths["many"]}", tensor_names=names, shape_and_slices=[""] * len(names), tensors=values)
        """),
            check=True,
            env=ENV,
        )
    factory = WORK / "many_factory.py"
    factory.write_text(
        textwrap.dedent(f"""
        import tensorflow as tf

        def module():
            m = tf.Module()
            m.vars = [tf.Variable(tf.zeros([4]), name=f"block{{i // 100}}/layer{{i % 100}}/w") for i in range({MANY})]
            return m
    """)
    )
    paths["factory"] = factory
    return paths


STATS_PASS = """
import statistics, sys, time
from ckptdiff.formats import open_artifact
from ckptdiff.stats.parallel import compute_all_stats
times = []
with open_artifact(sys.argv[1]) as art:
    for _ in range(int(sys.argv[2])):
        start = time.perf_counter()
        compute_all_stats(art.entries)
        times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def stats_pass_seconds(prefix: Path) -> float:
    """ckptdiff's statistics pass alone, in a process with the artifact open (like the bare sum)."""
    env = dict(ENV, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run(
        [PY, "-c", STATS_PASS, str(prefix), str(REPEAT)], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def data_bytes(prefix: Path) -> int:
    return sum(p.stat().st_size for p in prefix.parent.glob(prefix.name + ".data-*"))


def bare_sum_seconds(prefix: Path) -> float:
    """The physical reference: one numpy sum over the memory-mapped data shard(s), in-process."""
    import numpy as np

    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        for shard in sorted(prefix.parent.glob(prefix.name + ".data-*")):
            with open(shard, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                np.frombuffer(mm, dtype=np.float32, count=len(mm) // 4).sum()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


BASELINE = """
import sys, numpy as np, tensorflow as tf
reader = tf.train.load_checkpoint(sys.argv[1])
for key, dtype in reader.get_variable_to_dtype_map().items():
    if not dtype.is_floating:
        continue
    v = reader.get_tensor(key)
    finite = np.isfinite(v)
    vals = v[finite]
    (vals.mean(), vals.std(), vals.min(), vals.max(), float(np.mean(v == 0)), int(np.isnan(v).sum()), int(np.isinf(v).sum()))
"""

CHECK_PHASES = """
import json, sys, time
t0 = time.perf_counter()
from ckptdiff.tf_import import import_tensorflow
import_tensorflow()
t1 = time.perf_counter()
from ckptdiff.live.spec import load_live_model
live = load_live_model(sys.argv[2])
t2 = time.perf_counter()
from ckptdiff.formats import open_artifact
from ckptdiff.commands.check import check_restore
from ckptdiff.report.json import render_check_json
with open_artifact(sys.argv[1]) as art:
    report = check_restore(art, live)
    text = render_check_json(report)
t3 = time.perf_counter()
print(json.dumps({"import_tf": t1 - t0, "build_model": t2 - t1, "check": t3 - t2, "ok": report.ok, "variables": len(report.variables)}))
"""


def main() -> None:
    paths = generate()
    rows: list[tuple[str, str, str, str]] = []

    def add(label: str, wall: float, rss: float, note: str = "") -> None:
        rows.append((label, f"{wall:.2f} s", f"{rss:.0f} MiB", note))

    tf_wall, tf_rss = run(python_script("import tensorflow"))
    help_wall, help_rss = run(CKPTDIFF + ["--help"], repeat=5)
    h5_wall, h5_rss = run(CKPTDIFF + ["inspect", str(paths["h5"])], repeat=5)
    add("python -c 'import tensorflow'", tf_wall, tf_rss, "reference")
    add("ckptdiff --help", help_wall, help_rss, f"{tf_wall / help_wall:.0f}x faster than importing TensorFlow")
    add(
        "ckptdiff inspect small .weights.h5",
        h5_wall,
        h5_rss,
        f"{tf_wall / h5_wall:.0f}x faster than importing TensorFlow",
    )

    big = paths["big"]
    size_gb = data_bytes(big) / 1e9
    run(CKPTDIFF + ["inspect", str(big), "--format", "json"], repeat=1)  # warm the page cache
    ours_wall, ours_rss = run(CKPTDIFF + ["inspect", str(big), "--format", "json", "--no-init"])
    init_wall, init_rss = run(CKPTDIFF + ["inspect", str(big), "--format", "json"])
    base_wall, base_rss = run([PY, "-c", BASELINE, str(big)])
    sum_s = bare_sum_seconds(big)
    pass_s = stats_pass_seconds(big)
    add(
        f"ckptdiff inspect --no-init, {size_gb:.2f} GB checkpoint (full statistics)",
        ours_wall,
        ours_rss,
        f"{size_gb / ours_wall:.2f} GB/s end to end",
    )
    add(
        "ckptdiff inspect, same checkpoint, statistics + fresh-init verdicts",
        init_wall,
        init_rss,
        f"{size_gb / init_wall:.2f} GB/s end to end",
    )
    add("baseline: tf.train.load_checkpoint + numpy stats", base_wall, base_rss, f"{size_gb / base_wall:.2f} GB/s")
    rows.append(
        (
            "ckptdiff's statistics pass alone (in-process, artifact open)",
            f"{pass_s:.2f} s",
            "-",
            f"{size_gb / pass_s:.2f} GB/s",
        )
    )
    rows.append(
        ("bare numpy sum over the mmap'd shard (in-process)", f"{sum_s:.2f} s", "-", f"{size_gb / sum_s:.2f} GB/s")
    )

    many = paths["many"]
    inspect_many, inspect_many_rss = run(CKPTDIFF + ["inspect", str(many), "--format", "json"])
    check_many, check_many_rss = run(
        CKPTDIFF + ["check", str(many), "--model", f"{paths['factory']}:module", "--format", "json"], repeat=1
    )
    add(f"ckptdiff inspect, {MANY:,} variables", inspect_many, inspect_many_rss)
    add(
        f"ckptdiff check, {MANY:,} variables vs live tf.Module",
        check_many,
        check_many_rss,
        "includes TF import and building 100k variables",
    )

    phases = subprocess.run(
        [
            PY,
            "-c",
            CHECK_PHASES,
            str(ROOT / "sample_checkpoints/tf2"),
            str(ROOT / "sample_checkpoints/models.py:build_keras3"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        check=True,
    )
    p = json.loads(phases.stdout.strip().splitlines()[-1])
    rows.append(
        (
            "check sample tf2 vs Keras 3 MLP: import TF / build model / ckptdiff's own work",
            f"{p['import_tf']:.2f} / {p['build_model']:.2f} / {p['check']:.3f} s",
            "-",
            "ckptdiff's share is the last figure",
        )
    )
    phases = subprocess.run(
        [PY, "-c", CHECK_PHASES, str(many), f"{paths['factory']}:module"],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        check=True,
    )
    p = json.loads(phases.stdout.strip().splitlines()[-1])
    rows.append(
        (
            f"check {MANY:,} variables: import TF / build model / ckptdiff's own work",
            f"{p['import_tf']:.2f} / {p['build_model']:.2f} / {p['check']:.2f} s",
            "-",
            f"{p['variables']:,} variables matched by name",
        )
    )

    throughput_ratio = base_wall / ours_wall
    rss_ratio = ours_rss / base_rss
    of_sum = (size_gb / ours_wall) / (size_gb / sum_s)
    pass_of_sum = sum_s / pass_s
    print(
        f"# ckptdiff benchmark, {time.strftime('%Y-%m-%d')}, {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print()
    print("| measurement | wall (median) | peak RSS | note |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    print(
        f"- full-statistics throughput: {throughput_ratio:.1f}x the baseline (target >= 5x): {'met' if throughput_ratio >= 5 else 'MISSED'}"
    )
    print(
        f"- throughput as a share of the bare numpy sum, end to end (process start-up included): {100 * of_sum:.0f}% (target >= 40%): {'met' if of_sum >= 0.4 else 'MISSED'}"
    )
    print(
        f"- the statistics pass alone as a share of the bare numpy sum, both in-process: {100 * pass_of_sum:.0f}% (target >= 40%): {'met' if pass_of_sum >= 0.4 else 'MISSED'}"
    )
    print(
        f"- peak RSS: {100 * rss_ratio:.0f}% of the baseline's (target <= 33%): {'met' if rss_ratio <= 1 / 3 else 'MISSED'}"
    )
    print(
        f"- {MANY:,} entries inspected in {inspect_many:.2f} s (target < 10 s): {'met' if inspect_many < 10 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
