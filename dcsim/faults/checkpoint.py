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

import copy
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a run stands after ``elapsed`` seconds of wall time.

    At rate 1 the four first parts add up to ``elapsed``; at another rate the work parts
    are work (s at nominal speed) and ``unsaved_wall`` the wall time the unsaved work took.

    Attributes:
        saved: work made safe by completed checkpoints, s.
        unsaved: work done since the last completed checkpoint (lost on an interruption), s.
        restart: restart time paid, s.
        checkpoint: checkpoint write time paid (including a write cut short), s.
        unsaved_wall: wall time spent computing ``unsaved``, s.
    """

    saved: float
    unsaved: float
    restart: float
    checkpoint: float
    unsaved_wall: float


def checkpoints(work: float, interval: float) -> int:
    """Checkpoints written by a run with ``work`` s of work left (none after the last piece)."""
    if not math.isfinite(interval) or work <= interval:
        return 0
    return math.ceil(work / interval - 1e-9) - 1


def wall_time(work: float, interval: float, write: float, restart: float, rate: float = 1.0) -> float:
    """Wall time of an uninterrupted run at a constant ``rate`` (s of work per s), s."""
    return restart + work / rate + checkpoints(work, interval) * write


def progress(elapsed: float, work: float, interval: float, write: float, restart: float, rate: float = 1.0) -> Progress:
    """How a run that started with ``work`` s left stands after ``elapsed`` s of wall time at a constant rate.

    ``saved`` and ``unsaved`` are work (s at nominal speed); ``unsaved / rate`` is the
    wall time it took.
    """
    if elapsed <= restart:
        return Progress(0.0, 0.0, elapsed, 0.0, 0.0)
    t = elapsed - restart
    n = checkpoints(work, interval)
    if n == 0:
        done = min(t * rate, work)
        return Progress(0.0, done, restart, 0.0, done / rate)
    piece = interval / rate  # wall time of one piece of work
    cycle = piece + write
    k = min(int(t // cycle), n)
    pos = t - k * cycle
    if k < n and pos > piece:  # inside a write that never completed
        return Progress(k * interval, interval, restart, k * write + (pos - piece), piece)
    return Progress(k * interval, pos * rate, restart, k * write, pos)


def run_progress(job: Any, now: float, settle: bool = True) -> Progress:
    """Where a running job's current run stands at ``now``.

    From its :class:`RunClock` when its rate has changed (settled to ``now``; ``settle``
    False: a copy is, the run's clock is left as it is, for a policy that only looks), else in
    closed form (:func:`progress`) at its constant rate.
    """
    clock = job.clock
    if clock is not None:
        return (clock if settle else copy.copy(clock)).at(now)
    plan = job.checkpoint
    write = plan[1] if plan is not None else 0.0
    return progress(now - job.start_time, job.work_left, job.run_interval, write, job.restart_cost, job.rate)


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


RESTART, COMPUTE, WRITE, DONE, READ = 0, 1, 2, 3, 4
"""Phases of a run: paying its restart, computing, writing a checkpoint, finished, reading its checkpoint back."""


class RunClock:
    """Where a run stands when its rate may change: work done (s at nominal speed) and phase.

    A run of ``work`` s of work pays ``restart`` s, then computes ``interval`` s of work
    between blocking checkpoint writes of ``write`` s (none after the last piece), at
    ``rate`` s of work per s. Restart and writes take wall time whatever the rate.
    :meth:`advance` settles the run to a time at the rate that held since the last
    settlement; a caller changing the rate advances first, sets :attr:`rate` and asks
    :meth:`wall_left` for the run's new end.

    Runs whose rate never changes do not need a clock: :func:`wall_time` and
    :func:`progress` give their end and their state in closed form.

    A write (and a read) may also be *open*: of unknown length, ended by :meth:`end_phase`
    when the transfer through storage is done (``write`` infinite: every write is open;
    ``reading``: after the restart the run reads its checkpoint, an open phase whose time
    counts as restart). Such a run moves from phase to phase on events: :meth:`boundary_left`
    is the wall time to the end of a phase of known length.
    """

    __slots__ = ("checkpoint_paid", "interval", "k", "left", "n", "pending", "phase", "rate", "reading",
                 "restart_paid", "segment_wall", "since", "unsaved", "work", "write")  # fmt: skip

    def __init__(
        self,
        work: float,
        interval: float,
        write: float,
        restart: float,
        rate: float,
        since: float,
        reading: bool = False,
    ):
        self.reading = reading
        self.pending = math.inf  # when the run's live end event fires (inf: none); kept by its owner
        self.work = work
        self.interval = interval
        self.write = write
        self.rate = rate
        self.since = since
        self.n = checkpoints(work, interval)
        self.k = 0  # checkpoints completed
        self.unsaved = 0.0  # work since the last completed checkpoint
        self.segment_wall = 0.0  # wall time spent computing that work
        self.restart_paid = 0.0
        self.checkpoint_paid = 0.0
        self.phase = RESTART
        self.left = restart  # wall time left of a restart or a write
        self._settle_instant()

    def at(self, now: float) -> Progress:
        """Settle the run to ``now`` and say where it stands (see :class:`Progress`)."""
        self.advance(now)
        return Progress(self._pieces(self.k), self.unsaved, self.restart_paid, self.checkpoint_paid,
                        self.segment_wall)  # fmt: skip

    def _pieces(self, k: int) -> float:
        """Work of ``k`` whole pieces (0 without checkpoints, whose interval is infinite)."""
        return k * self.interval if k else 0.0

    def _segment(self) -> float:
        """Work of the piece being computed."""
        return self.interval if self.k < self.n else self.work - self._pieces(self.n)

    def _settle_instant(self) -> None:
        """Complete a restart or write with no time left, and a piece with no work left."""
        while True:
            if self.phase in (RESTART, WRITE, READ) and self.left <= 0.0:
                if self.phase == WRITE:
                    self.k += 1
                    self.unsaved = self.segment_wall = 0.0
                if self.phase == RESTART and self.reading:
                    self.phase, self.left = READ, math.inf
                    continue
                self.phase = COMPUTE
            elif self.phase == COMPUTE and self.unsaved >= self._segment():
                if self.k == self.n:
                    self.phase = DONE
                else:
                    self.phase, self.left = WRITE, self.write
            else:
                return

    def advance(self, now: float) -> None:
        """Settle the run to ``now`` at the current rate."""
        dt = now - self.since
        self.since = now
        if dt > 0.0 and self.phase == COMPUTE and self.rate > 0:
            # The common case, inline: computing, and the piece not done by ``now`` (as in the loop below).
            segment = self.interval if self.k < self.n else self.work - (self.n * self.interval if self.n else 0.0)
            if dt < (segment - self.unsaved) / self.rate:
                self.unsaved += dt * self.rate
                self.segment_wall += dt
                return
        while dt > 0.0 and self.phase != DONE:
            if self.phase == COMPUTE:
                need = (self._segment() - self.unsaved) / self.rate if self.rate > 0 else math.inf
                if dt < need:
                    self.unsaved += dt * self.rate
                    self.segment_wall += dt
                    return
                dt -= need
                self.unsaved = self._segment()
                self.segment_wall += need
            else:
                step = min(dt, self.left)
                self.left -= step
                dt -= step
                if self.phase != WRITE:  # the restart, or the read that follows it
                    self.restart_paid += step
                else:
                    self.checkpoint_paid += step
                if self.left > 0.0:
                    return
                self.left = 0.0
            self._settle_instant()

    def retime(self, now: float, rate: float) -> float:
        """Settle to ``now`` at the current rate, run at ``rate`` from then on; return :meth:`wall_left`.

        The same arithmetic as :meth:`advance`, setting :attr:`rate` and :meth:`wall_left`,
        with a computing run whose piece is not done by ``now`` (the common case under a
        rate change) taken inline.
        """
        dt = now - self.since
        if self.phase == COMPUTE and self.rate > 0:
            k, n, interval = self.k, self.n, self.interval
            unsaved = self.unsaved
            if dt > 0.0:
                segment = interval if k < n else self.work - (n * interval if n else 0.0)
                if dt < (segment - unsaved) / self.rate:
                    self.since = now
                    self.unsaved = unsaved = unsaved + dt * self.rate
                    self.segment_wall += dt
                else:
                    self.advance(now)
                    self.rate = rate
                    return self.wall_left()
            else:
                self.since = now
            self.rate = rate
            work = self.work - (k * interval if k else 0.0) - unsaved
            compute = work / rate if rate > 0 else (math.inf if work > 0 else 0.0)
            return 0.0 + compute + (n - k) * self.write
        self.advance(now)
        self.rate = rate
        return self.wall_left()

    def wall_left(self) -> float:
        """Wall time to the end of the run at the current rate, s (infinite at rate 0)."""
        phase, k = self.phase, self.k
        if phase == DONE:
            return 0.0
        if phase == WRITE:
            work, writes = self.work - (k + 1) * self.interval, self.n - k - 1
        else:
            work, writes = self.work - (k * self.interval if k else 0.0) - self.unsaved, self.n - k
        rate = self.rate
        compute = work / rate if rate > 0 else (math.inf if work > 0 else 0.0)
        return (self.left if phase in (RESTART, WRITE) else 0.0) + compute + writes * self.write

    def boundary_left(self) -> float:
        """Wall time to the end of the current phase at the current rate, s (infinite for an open phase, or rate 0)."""
        if self.phase == COMPUTE:
            return (self._segment() - self.unsaved) / self.rate if self.rate > 0 else math.inf
        if self.phase == RESTART:
            return self.left
        return 0.0 if self.phase == DONE else math.inf

    def end_phase(self, now: float) -> None:
        """Settle to ``now`` and end the current phase there: an open transfer is done, or a phase's end was due.

        The phase's end is an event scheduled at :meth:`boundary_left`; the sum of floats
        that brought the clock there may fall a hair short, which is taken as done.
        """
        phase, k = self.phase, self.k
        self.advance(now)
        if (self.phase, self.k) != (phase, k) or phase == DONE:
            return
        if phase == COMPUTE:
            self.unsaved = self._segment()
        else:
            self.left = 0.0
        self._settle_instant()
