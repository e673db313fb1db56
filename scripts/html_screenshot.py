"""Write docs/html-report.png: the HTML report of `inspect sample_checkpoints/fresh/rebinding/ckpt`, rendered by
headless Chromium (the README's screenshot). Run from the repository root:
`.venv/bin/python scripts/html_screenshot.py`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("needs Chromium (make system-deps)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        subprocess.run(
            [
                str(ROOT / ".venv/bin/ckptdiff"),
                "inspect",
                "sample_checkpoints/fresh/rebinding/ckpt",
                "--format",
                "html",
                "--output",
                str(page),
            ],
            cwd=ROOT,
            check=True,
        )
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={tmp}/profile",
                f"--screenshot={ROOT / 'docs' / 'html-report.png'}",
                "--window-size=1500,1100",
                "--hide-scrollbars",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
        )
    print("wrote docs/html-report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
