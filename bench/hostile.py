"""Peak memory and wall time of every command on the hostile corpus's amplifying inputs (`make bench-hostile`).

Each command runs in its own process, as a user runs it; peak RSS comes from wait4's rusage. The
corpus is sample_checkpoints/attacks (see its MANIFEST.json); the bare 20 MB `model_config` H5 is
written here, because HDF5 attributes do not compress and the corpus ships it inside a `.keras`.
Prints a Markdown table for the README's security section.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = ROOT / "sample_checkpoints" / "attacks"
CKPTDIFF = [sys.executable, "-m", "ckptdiff"]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
TARGET_MIB = 400


def measure(args: list[str]) -> tuple[int, float, float]:
    """(exit status, wall seconds, peak RSS MiB) of one ckptdiff command."""
    start = time.perf_counter()
    proc = subprocess.Popen([*CKPTDIFF, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> int:
    manifest = json.loads((ATTACKS / "MANIFEST.json").read_text())
    files = sorted({ATTACKS / e["file"] for e in manifest if e["kind"] == "amplification"})
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, str(ROOT / "sample_checkpoints"))
        import h5py
        import make_attacks

        bare = Path(tmp) / "amplify_h5_model_config_20mb.h5"
        with h5py.File(bare, "w") as f:
            f.attrs["keras_version"] = "2.15.0"
        make_attacks.write_h5_model_config_bomb(str(bare))
        files.append(bare)
        weights = str(ROOT / "sample_checkpoints/keras3/model.weights.h5")
        tf = subprocess.Popen([sys.executable, "-c", "import tensorflow"], env=ENV, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(tf.pid, 0)
        tf_rss = usage.ru_maxrss / 1024
        rows = []
        worst = 0.0
        for path in files:
            commands = {
                "scan": ["scan", str(path)],
                "inspect": ["inspect", str(path)],
                "check --model FILE": ["check", weights, "--model", str(path)],
            }
            for label, args in commands.items():
                code, wall, rss = measure(args)
                own = rss - tf_rss if label.startswith("check") and rss > tf_rss else rss
                worst = max(worst, own)
                rows.append(f"| {path.name} | {label} | {code} | {wall:.2f} s | {rss:.0f} MiB |")
    print(
        f"Measured {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; each command in its own process (TensorFlow import included for check)."
    )
    print()
    print("| input | command | exit | wall | peak RSS |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    verdict = "met" if worst <= TARGET_MIB else "MISSED"
    print(f"\n`import tensorflow` alone peaks at {tf_rss:.0f} MiB; a check that rebuilds an architecture imports it.")
    print(
        f"worst peak RSS beyond that import {worst:.0f} MiB (target: a few hundred MiB, taken as <= {TARGET_MIB}): "
        f"{verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
