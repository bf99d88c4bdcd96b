"""Progress of a long sf-bench run on stderr: a bar over the backends and the current step.

On a terminal the line is redrawn in place; in a log (CI, a pipe) a line is written per step, at
most one per `LOG_EVERY_S` seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time

BAR_WIDTH = 20
LOG_EVERY_S = 10.0


class ProgressBar:
    def __init__(self, total: int, stream=None):
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.interactive = getattr(self.stream, "isatty", lambda: False)()
        self._last = 0.0

    def _bar(self) -> str:
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {self.done}/{self.total}"

    def step(self, message: str) -> None:
        now = time.monotonic()
        if self.interactive:
            self.stream.write(f"\r\x1b[K{self._bar()} {message}")
            self.stream.flush()
        elif now - self._last >= LOG_EVERY_S:
            self._last = now
            print(f"{self._bar()} {message}", file=self.stream, flush=True)

    def finish_one(self, message: str) -> None:
        self.done += 1
        self._last = 0.0  # always show the end of a backend
        self.step(message)
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
