"""Refresh the example outputs in README.md by running the commands they show.

Each example is a fenced block preceded by `<!-- example: ARGS -->`; the block is replaced by
`$ ckptdiff ARGS`, the command's real output, and its exit status. Run from the repository root:
`make readme` (or `.venv/bin/python scripts/readme_examples.py [--check]`). With --check it only
reports examples whose output changed and exits 1 if any did.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLE = re.compile(r"<!-- example: (?P<args>.+?) -->\n```text\n.*?```\n", re.S)
MAX_LINES = 40


def run(args: str) -> str:
    exe = ROOT / ".venv" / "bin" / "ckptdiff"
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.run(
        [str(exe), *shlex.split(args)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600
    )
    out = (proc.stdout + proc.stderr).rstrip("\n").splitlines()
    if len(out) > MAX_LINES:
        out = out[: MAX_LINES - 1] + [f"... ({len(out) - MAX_LINES + 1} more lines)"]
    body = "\n".join(out)
    return f"$ ckptdiff {args}\n{body}\n[exit status {proc.returncode}]\n"


def main() -> int:
    check = "--check" in sys.argv
    text = README.read_text()
    changed = []

    def refresh(m: re.Match[str]) -> str:
        args = m.group("args")
        new = f"<!-- example: {args} -->\n```text\n{run(args)}```\n"
        if new != m.group(0):
            changed.append(args)
        return new

    updated = EXAMPLE.sub(refresh, text)
    if check:
        for args in changed:
            print(f"stale example: ckptdiff {args}")
        return 1 if changed else 0
    README.write_text(updated)
    print(f"refreshed {len(changed)} example(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
