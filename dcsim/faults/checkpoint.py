"""Checkpoint/restart arithmetic of one run of a job (pure functions).

A run that starts with ``work`` seconds of computation left first pays ``restart``
seconds (only after an interruption), then alternates ``interval`` seconds of work
and a blocking ``write`` of a checkpoint, with no checkpoint after the last piece of
work. An interruption keeps the work of every completed checkpoint and loses the rest.

The interval that minimizes the expected waste is Young's sqrt(2 * write * M), with
Daly's higher-order correction (Daly 2006, eq. 37), M being the mean time to
interruption of the job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a run stands after ``elapsed`` seconds: the four parts add up to ``elapsed``.

    Attributes:
        saved: work made safe by completed checkpoints, s.
        unsaved: work done since the last completed checkpoint (lost on an interruption), s.
        restart: restart time paid, s.
        checkpoint: checkpoint write time paid (including a write cut short), s.
    """

    saved: float
    unsaved: float
    restart: float
    checkpoint: float


def checkpoints(work: float, interval: float) -> int:
    """Checkpoints written by a run with ``work`` s of work left (none after the last piece)."""
    if not math.isfinite(interval) or work <= interval:
        return 0
    return math.ceil(work / interval - 1e-9) - 1


def wall_time(work: float, interval: float, write: float, restart: float) -> float:
    """Wall time of an uninterrupted run, s."""
    return restart + work + checkpoints(work, interval) * write


def progress(elapsed: float, work: float, interval: float, write: float, restart: float) -> Progress:
    """How a run that started with ``work`` s left stands after ``elapsed`` s of wall time."""
    if elapsed <= restart:
        return Progress(0.0, 0.0, elapsed, 0.0)
    t = elapsed - restart
    n = checkpoints(work, interval)
    if n == 0:
        return Progress(0.0, min(t, work), restart, 0.0)
    cycle = interval + write
    k = min(int(t // cycle), n)
    pos = t - k * cycle
    if k < n and pos > interval:  # inside a write that never completed
        return Progress(k * interval, interval, restart, k * write + (pos - interval))
    return Progress(k * interval, pos, restart, k * write)


def young(write: float, mtti: float) -> float:
    """Young's interval sqrt(2 * write * M), s."""
    return math.sqrt(2.0 * write * mtti)


def daly(write: float, mtti: float) -> float:
    """Daly's higher-order optimum interval (eq. 37 of Daly 2006), s.

    ``sqrt(2 d M) * (1 + sqrt(d / 2M) / 3 + (d / 2M) / 9) - d`` for ``d < 2M``, else ``M``.
    Infinite (never checkpoint) when nothing can fail (``M`` infinite).
    """
    if not math.isfinite(mtti):
        return math.inf
    if write <= 0.0:
        return 0.0
    if write >= 2.0 * mtti:
        return mtti
    f = write / (2.0 * mtti)
    return math.sqrt(2.0 * write * mtti) * (1.0 + math.sqrt(f) / 3.0 + f / 9.0) - write
