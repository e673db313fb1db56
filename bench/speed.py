"""`make bench`: start-up, streaming throughput, memory and scale, measured side by side in one run.

Inputs are generated outside the repository (under $CKPTDIFF_BENCH_DIR, default
/tmp/ckptdiff-bench) with the real TensorFlow savers, then every command runs several times and the
median is reported. Peak RSS comes from wait4() on each child process. Prints a Markdown table.
"""

from __future__ import annotations

import json
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
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"TF_CPP_MIN_LOG_LEVEL": "3"}
"""As users run it: with bytecode caching (this machine sets PYTHONDONTWRITEBYTECODE, which would make every
run compile ckptdiff's sources again; an installed wheel has its bytecode compiled by pip)."""


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


def _write_matrices(prefix: Path, count: int) -> None:
    """A TF2 checkpoint of `count` 4096x4096 float32 matrices (64 MiB each), once."""
    if Path(str(prefix) + ".index").exists():
        return
    subprocess.run(
        python_script(f"""
        import numpy as np, tensorflow as tf
        rng = np.random.default_rng(0)
        m = tf.Module()
        m.vars = [tf.Variable(rng.standard_normal((4096, 4096), dtype=np.float32) * 0.02, name=f"w{{i}}") for i in range({count})]
        tf.train.Checkpoint(model=m).write("{prefix}")
    """),
        check=True,
        env=ENV,
    )


def generate() -> dict[str, Path]:
    """Write the inputs once (a ~1 GB checkpoint, 100k small variables, a small H5)."""
    WORK.mkdir(parents=True, exist_ok=True)
    paths = {
        "big": WORK / "big" / "ckpt",
        "many": WORK / "many" / "model.ckpt",
        "h5": ROOT / "sample_checkpoints/keras3/model.weights.h5",
    }
    n_big = max(1, int(round(BIG_GB * 16)))
    _write_matrices(paths["big"], n_big)
    paths["quarter"] = WORK / "quarter" / "ckpt"
    _write_matrices(paths["quarter"], max(1, n_big // 4))
    paths["run"] = WORK / "run"
    if not (paths["run"] / "checkpoint").exists():
        # Five checkpoints of one run, written by a CheckpointManager: at each step half of the sixteen
        # matrices take a small update (the other half is frozen), as in a fine-tuning run.
        subprocess.run(
            python_script(f"""
            import numpy as np, tensorflow as tf
            rng = np.random.default_rng(0)
            m = tf.Module()
            m.vars = [tf.Variable(rng.standard_normal((4096, 4096), dtype=np.float32) * 0.02, name=f"w{{i}}") for i in range({n_big})]
            manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=m), "{paths["run"]}", max_to_keep=5)
            for step in range(5):
                if step:
                    for v in m.vars[::2]:
                        v.assign_add(tf.random.normal(v.shape, stddev=1e-4, seed=step))
                manager.save()
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


BARE_SUM = """
import mmap, statistics, sys, time
from pathlib import Path
import numpy as np
prefix, times = Path(sys.argv[1]), []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    for shard in sorted(prefix.parent.glob(prefix.name + ".data-*")):
        with open(shard, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            np.frombuffer(mm, dtype=np.float32, count=len(mm) // 4).sum()
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def bare_sum_seconds(prefix: Path) -> float:
    """The physical reference: one numpy sum over the memory-mapped data shard(s), in-process (in a child: this
    process must stay small, because Linux reports a child's peak RSS as at least its parent's at fork)."""
    out = subprocess.run(
        [PY, "-c", BARE_SUM, str(prefix), str(REPEAT)], capture_output=True, text=True, env=ENV, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


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
import gc, json, sys, time
gc.disable()  # as ckptdiff.cli.main runs every command
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
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "ckptdiff")], check=True, stdout=subprocess.DEVNULL)
    rows: list[tuple[str, str, str, str]] = []

    def add(label: str, wall: float, rss: float, note: str = "") -> None:
        rows.append((label, f"{wall:.2f} s", f"{rss:.0f} MiB", note))

    tf_wall, tf_rss = run(python_script("import tensorflow"))
    imports_wall, imports_rss = run(python_script("import numpy, h5py, click, tabulate"), repeat=5)
    help_wall, help_rss = run(CKPTDIFF + ["--help"], repeat=5)
    h5_wall, h5_rss = run(CKPTDIFF + ["inspect", str(paths["h5"])], repeat=5)
    add("python -c 'import tensorflow'", tf_wall, tf_rss, "reference")
    add("python -c 'import numpy, h5py, click, tabulate'", imports_wall, imports_rss, "the bare imports")
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
    quarter = paths["quarter"]
    quarter_gb = data_bytes(quarter) / 1e9
    run(CKPTDIFF + ["inspect", str(quarter), "--format", "json"], repeat=1)
    quarter_wall, quarter_rss = run(CKPTDIFF + ["inspect", str(quarter), "--format", "json"])
    for step in sorted(paths["run"].glob("ckpt-*.data-*")):
        subprocess.run(["cat", str(step)], stdout=subprocess.DEVNULL, check=True)  # into the page cache
    history_wall, history_rss = run(CKPTDIFF + ["history", str(paths["run"]), "--format", "json"])
    crc_wall, crc_rss = run(CKPTDIFF + ["history", str(paths["run"]), "--format", "json", "--changed-only"])
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
    add(
        f"ckptdiff inspect, {quarter_gb:.2f} GB checkpoint, statistics + verdicts",
        quarter_wall,
        quarter_rss,
        "peak memory against checkpoint size",
    )
    add(
        f"ckptdiff history, five {size_gb:.2f} GB checkpoints of one run",
        history_wall,
        history_rss,
        "rel_change of every changed tensor",
    )
    add(
        "ckptdiff history --changed-only, same run",
        crc_wall,
        crc_rss,
        "the CRC32C fast path",
    )
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
    table_many, table_many_rss = run(CKPTDIFF + ["inspect", str(many)])
    check_many, check_many_rss = run(
        CKPTDIFF + ["check", str(many), "--model", f"{paths['factory']}:module", "--format", "json"], repeat=1
    )
    add(f"ckptdiff inspect, {MANY:,} variables (--format json)", inspect_many, inspect_many_rss)
    add(f"ckptdiff inspect, {MANY:,} variables (the table)", table_many, table_many_rss)
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
    many_p = json.loads(phases.stdout.strip().splitlines()[-1])
    rows.append(
        (
            f"check {MANY:,} variables: import TF / build model / ckptdiff's own work",
            f"{many_p['import_tf']:.2f} / {many_p['build_model']:.2f} / {many_p['check']:.2f} s",
            "-",
            f"{many_p['variables']:,} variables matched by name",
        )
    )

    print(
        f"# ckptdiff benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()} "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print()
    print("| measurement | wall (median) | peak RSS | note |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this script's own peak RSS: {own:.0f} MiB; children report at least that much, so it must stay small)")
    print()
    print("Targets (issue 15), from the figures above:")
    print()
    print("| target | measured | result |")
    print("|---|---|---|")
    for target, measured, met in targets(
        h5_wall=h5_wall,
        imports_wall=imports_wall,
        base_wall=base_wall,
        init_wall=init_wall,
        sum_s=sum_s,
        pass_s=pass_s,
        inspect_many=inspect_many,
        inspect_many_rss=inspect_many_rss,
        table_many=table_many,
        table_many_rss=table_many_rss,
        check_own=many_p["check"],
        history_wall=history_wall,
        crc_wall=crc_wall,
        rss_small=quarter_rss,
        rss_big=init_rss,
    ):
        print(f"| {target} | {measured} | {'met' if met else 'MISSED'} |")


def targets(**m: float) -> list[tuple[str, str, bool]]:
    """Each target of issue 15: its wording, the measured figure, and whether it is met."""
    flat = m["rss_big"] / m["rss_small"]
    return [
        (
            "small-file inspect at most 2x the bare imports",
            f"{m['h5_wall']:.2f} s / {m['imports_wall']:.2f} s = {m['h5_wall'] / m['imports_wall']:.1f}x",
            m["h5_wall"] <= 2 * m["imports_wall"],
        ),
        (
            "1 GiB with statistics and verdicts at least 8x the baseline",
            f"{m['base_wall']:.2f} s / {m['init_wall']:.2f} s = {m['base_wall'] / m['init_wall']:.1f}x",
            m["base_wall"] >= 8 * m["init_wall"],
        ),
        (
            "statistics pass at least 60% of the bare sum",
            f"{100 * m['sum_s'] / m['pass_s']:.0f}%",
            m["sum_s"] >= 0.6 * m["pass_s"],
        ),
        (
            "100,000 entries inspected in at most 3 s (JSON; table)",
            f"{m['inspect_many']:.2f} s; {m['table_many']:.2f} s",
            max(m["inspect_many"], m["table_many"]) <= 3,
        ),
        (
            "... with peak RSS at most 400 MiB (JSON; table)",
            f"{m['inspect_many_rss']:.0f} MiB; {m['table_many_rss']:.0f} MiB",
            max(m["inspect_many_rss"], m["table_many_rss"]) <= 400,
        ),
        ("check of 100,000 variables: own work at most 3 s", f"{m['check_own']:.2f} s", m["check_own"] <= 3),
        (
            "history over five 1 GiB checkpoints at most 2x one inspect (CRC fast path)",
            f"--changed-only {m['crc_wall']:.2f} s = {m['crc_wall'] / m['init_wall']:.1f}x; "
            f"with rel_change {m['history_wall']:.2f} s = {m['history_wall'] / m['init_wall']:.1f}x",
            m["crc_wall"] <= 2 * m["init_wall"],
        ),
        (
            "peak memory flat in checkpoint size (4x the data)",
            f"{m['rss_small']:.0f} -> {m['rss_big']:.0f} MiB ({flat:.2f}x)",
            flat <= 1.25,
        ),
    ]


if __name__ == "__main__":
    main()
