"""A progress line on stderr for long work: shown only on a terminal, after a second, never in JSON mode."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from ckptdiff.report.formatting import human_bytes

SHOW_AFTER_SECONDS = 1.0
REFRESH_SECONDS = 0.2


class ProgressBar:
    """Counts work done (elements, bytes, items) and redraws one stderr line at most 5 times a second.

    Thread-safe: the statistics pool reports from several threads.
    """

    def __init__(
        self, total: int, label: str, *, enabled: bool, unit_bytes: int = 1, stream: TextIO | None = None
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.unit_bytes = unit_bytes
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.done = 0
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.drawn = False
        self.lock = threading.Lock()
        self.unit = "bytes"
        """`bytes` (sizes shown human-readable) or a word for counted items (`artifacts`)."""

    @classmethod
    def for_terminal(
        cls, total: int, label: str, *, quiet: bool, machine_output: bool, unit_bytes: int = 1
    ) -> ProgressBar:
        """A bar that shows only when stderr is a terminal, --quiet is off and the output is not for machines."""
        enabled = not quiet and not machine_output and sys.stderr.isatty()
        return cls(total, label, enabled=enabled, unit_bytes=unit_bytes)

    def __call__(self, amount: int) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.done += amount
            now = time.monotonic()
            if now - self.started < SHOW_AFTER_SECONDS or now - self.last_draw < REFRESH_SECONDS:
                return
            self.last_draw = now
            fraction = min(self.done / self.total, 1.0)
            width = 30
            bar = "#" * int(fraction * width) + "-" * (width - int(fraction * width))
            if self.unit == "bytes":
                done, total = human_bytes(self.done * self.unit_bytes), human_bytes(self.total * self.unit_bytes)
            else:
                done, total = str(self.done), f"{self.total} {self.unit}"
            self.stream.write(f"\r{self.label} [{bar}] {100 * fraction:3.0f}% {done}/{total}")
            self.stream.flush()
            self.drawn = True

    def close(self) -> None:
        """Erase the line if one was drawn."""
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False
