"""Progress of a long run in simulated time, on a terminal only."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from dcsim.core.units import format_duration


class Progress:
    """Prints ``sim 3.2 d / 14.0 d (23 %)  jobs ...  wall 4 s`` on one line of a terminal.

    Silent when the stream is not a terminal, and for the first ``delay_s`` of wall time,
    so short runs and redirected output stay clean.

    Args:
        horizon: the run's horizon, s (None: the run ends when the workload drains).
        stream: where to print (default: stderr).
        delay_s: wall seconds before the first print.
        every_s: wall seconds between prints.
    """

    def __init__(
        self, horizon: float | None, stream: TextIO | None = None, delay_s: float = 2.0, every_s: float = 0.5
    ) -> None:
        self.horizon = horizon
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.delay_s, self.every_s = delay_s, every_s
        self.last = 0.0
        self.shown = False

    def __call__(self, model: object) -> None:
        """Called by the model at each timeseries sample."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.delay_s or now - self.last < self.every_s:
            return
        self.last = now
        sim_now = float(model.now)  # type: ignore[attr-defined]
        where = format_duration(sim_now)
        if self.horizon:
            where += f" / {format_duration(self.horizon)} ({100 * sim_now / self.horizon:.0f} %)"
        col = model.collector  # type: ignore[attr-defined]
        done = len(col.finished["time"])
        expected = getattr(model, "expected_jobs", None)
        if not self.horizon and expected:
            where += f" ({100 * done / expected:.0f} % of {expected:,} jobs done)"
        text = (
            f"\r  sim {where}   jobs {col.n_submitted:,} submitted, {done:,} done, "
            f"{len(model.queue):,} queued   wall {now - self.start:.0f} s "  # type: ignore[attr-defined]
        )
        self.stream.write(text)
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """Clear the progress line."""
        if self.shown:
            self.stream.write("\r\x1b[K")  # carriage return, then erase to the end of the line
            self.stream.flush()


class SweepProgress:
    """Runs done, failed and the time left, for a sweep.

    On a terminal one line is redrawn: a bar, ``12/32 runs, 1 failed, 3 stored before,
    ETA 1 min``. Elsewhere (CI, logs) a plain line is printed every ``every_s`` seconds
    and at the end.

    Args:
        total: runs in the sweep.
        stream: where to print (default: stderr).
        every_s: seconds between plain lines when not on a terminal.
    """

    def __init__(self, total: int, stream: TextIO | None = None, every_s: float = 10.0) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self.start = time.monotonic()
        self.last = self.start
        self.done = self.failed = self.cached = 0

    def __call__(self, record: dict, cached: bool) -> None:
        """Called after each run (``cached``: found stored from an earlier sweep)."""
        self.done += 1
        self.cached += cached
        self.failed += record.get("error") is not None
        now = time.monotonic()
        if self.tty:
            self._draw(now)
        elif now - self.last >= self.every_s or self.done == self.total:
            self.last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        """``12/32 runs, 1 failed, 3 stored before, 40 s, ETA 1 min``."""
        text = f"{self.done}/{self.total} runs, {self.failed} failed"
        if self.cached:
            text += f", {self.cached} stored before"
        elapsed = now - self.start
        text += f", {format_duration(elapsed)}"
        ran = self.done - self.cached
        if ran and self.done < self.total:
            text += f", ETA {format_duration(elapsed / ran * (self.total - self.done))}"
        return text

    def _draw(self, now: float) -> None:
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        self.stream.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {self.line(now)}\x1b[K")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()
