"""The progress line: silent unless enabled, drawn only after the delay, erased on close."""

from __future__ import annotations

import io

from ckptdiff.report import progress as progress_module
from ckptdiff.report.progress import ProgressBar


def test_disabled_bar_writes_nothing():
    out = io.StringIO()
    bar = ProgressBar(100, "inspect", enabled=False, stream=out)
    bar(50)
    bar.close()
    assert out.getvalue() == ""


def test_for_terminal_is_off_when_not_a_tty_or_quiet_or_json():
    assert not ProgressBar.for_terminal(10, "x", quiet=False, machine_output=False).enabled  # pytest's stderr is no tty
    assert not ProgressBar.for_terminal(10, "x", quiet=True, machine_output=False).enabled
    assert not ProgressBar.for_terminal(10, "x", quiet=False, machine_output=True).enabled


def test_enabled_bar_draws_after_the_delay_and_erases(monkeypatch):
    clock = iter([0.0, 0.5, 2.0, 2.1, 2.5])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    bar = ProgressBar(100, "inspect", enabled=True, stream=out, unit_bytes=4)
    bar(10)  # 0.5 s: too early
    assert out.getvalue() == ""
    bar(40)  # 2.0 s: drawn
    assert "inspect [" in out.getvalue() and " 50% " in out.getvalue() and "200 B/400 B" in out.getvalue()
    drawn = out.getvalue()
    bar(10)  # 2.1 s: within the refresh interval, not redrawn
    assert out.getvalue() == drawn
    bar.close()
    assert out.getvalue().endswith("\r\033[K")
