"""The HTML report rendered by a real headless Chromium: the DOM after its script ran has the tables filled and
the charts drawn, a filter and a sort given in the link work, and a screenshot is taken. Chromium is installed
by `make system-deps` (Debian's package) when missing; without it these tests skip with a message."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: make system-deps installs it")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Dom(HTMLParser):
    """What the tests look for in the DOM Chromium dumps: rows per table, charts, hidden rows, body data."""

    def __init__(self) -> None:
        super().__init__()
        self.table: str | None = None
        self.rows: dict[str, int] = {}
        self.hidden: dict[str, int] = {}
        self.svgs: dict[str, int] = {}
        self.polylines = 0
        self.first_cells: dict[str, list[str]] = {}
        self.body: dict[str, str] = {}
        self._in_row = False
        self._cell = 0
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = {k: v or "" for k, v in a.items()}
        if tag == "table":
            self.table = a.get("id")
        if tag == "tr" and self.table and "data-status" in a:
            self.rows[self.table] = self.rows.get(self.table, 0) + 1
            if "display: none" in (a.get("style") or ""):
                self.hidden[self.table] = self.hidden.get(self.table, 0) + 1
            self._in_row, self._cell = True, 0
        if tag == "td" and self._in_row:
            self._cell += 1
            self._text = ""
        if tag == "svg":
            self.svgs[a.get("class") or ""] = self.svgs.get(a.get("class") or "", 0) + 1
        if tag == "polyline":
            self.polylines += 1

    def handle_data(self, data: str) -> None:
        if self._in_row and self._cell == 1:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._in_row and self._cell == 1 and self.table:
            self.first_cells.setdefault(self.table, []).append(self._text)
        if tag == "tr":
            self._in_row = False
        if tag == "table":
            self.table = None


def render(page: Path, tmp_path: Path, fragment: str = "") -> Dom:
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri() + fragment],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Dom()
    dom.feed(result.stdout)
    assert dom.body.get("data-ready") == "1", "the page's script did not run"
    return dom


def write(run_cli, tmp_path: Path, name: str, *args: str) -> Path:
    out = tmp_path / f"{name}.html"
    result = run_cli(*args, "--format", "html", "--output", str(out))
    assert result.exit_code in (0, 1), result.stderr
    return out


def test_inspect_page_has_every_tensor_and_its_histogram(run_cli, tmp_path):
    path = str(SAMPLES / "fresh" / "rebinding" / "ckpt")
    doc = json.loads(run_cli("inspect", path, "--format", "json").stdout)
    dom = render(write(run_cli, tmp_path, "inspect", "inspect", path), tmp_path)
    assert dom.rows["tensors"] == len(doc["tensors"])
    charted = [
        t
        for t in doc["tensors"]
        if t["stats"] and t["dtype"].startswith("float") and t["stats"]["min"] != t["stats"]["max"]
    ]
    assert dom.svgs["histogram"] == len(charted) > 0
    fresh_random = [
        t for t in doc["tensors"] if t["init"]["verdict"] == "fresh" and t["init"]["match"] == "glorot_uniform"
    ]
    assert dom.polylines >= len(fresh_random) >= 1  # the initializer's predicted counts over the bars
    assert dom.rows["layers"] >= 4


def test_filter_and_sort_from_the_link(run_cli, tmp_path):
    page = write(run_cli, tmp_path, "inspect", "inspect", str(SAMPLES / "fresh" / "rebinding" / "ckpt"))
    filtered = render(page, tmp_path, "#filter=moving_")
    assert filtered.rows["tensors"] - filtered.hidden.get("tensors", 0) == 2
    ordered = render(page, tmp_path, "#sort=tensors:0:desc")
    names = ordered.first_cells["tensors"]
    assert names == sorted(names, reverse=True) and len(names) > 3


def test_check_diff_history_audit_pages(run_cli, tmp_path):
    check = render(
        write(
            run_cli,
            tmp_path,
            "check",
            "check",
            str(SAMPLES / "scenarios" / "scope_mistake" / "model.ckpt"),
            "--model",
            str(SAMPLES / "scenario_models.py") + ":tf1_module",
        ),
        tmp_path,
    )
    assert check.rows["variables"] > 0 and check.rows["layers"] > 0
    a, b = str(SAMPLES / "tf2" / "ckpt-1"), str(SAMPLES / "tf2" / "ckpt-2")
    doc = json.loads(run_cli("diff", a, b, "--format", "json").stdout)
    diff = render(write(run_cli, tmp_path, "diff", "diff", a, b), tmp_path)
    assert diff.rows["tensors"] == len(doc["tensors"])
    assert diff.svgs["change"] == sum(1 for t in doc["tensors"] if t["rel_l2"] is not None) > 0
    history = render(
        write(run_cli, tmp_path, "history", "history", str(SAMPLES / "history" / "rebound_loop")), tmp_path
    )
    assert history.rows["variables"] == 10 and history.svgs["sparkline"] == 10 + history.rows["layers"]
    audit = render(write(run_cli, tmp_path, "audit", "audit", str(SAMPLES / "history")), tmp_path)
    assert audit.rows["artifacts"] == 11


def test_screenshot(run_cli, tmp_path):
    page = write(run_cli, tmp_path, "inspect", "inspect", str(SAMPLES / "fresh" / "rebinding" / "ckpt"))
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1400,1600",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
