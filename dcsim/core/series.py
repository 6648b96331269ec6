"""Step functions of time: a value that holds from one change point to the next.

A site's electricity price and carbon intensity (a constant, or an hourly series from a
file), and any value a timed event sets for a while, are :class:`Steps`. Scoring integrates
them against the power drawn; a site router reads them at the moment it decides. Times are
float seconds of simulated time, values floats.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np


class Steps:
    """A piecewise-constant function of time.

    The value is ``values[i]`` from ``times[i]`` until ``times[i + 1]``; before the first change
    point it is the first value, after the last it is the last. ``times`` ascend strictly.

    Args:
        times: change points, s.
        values: the value from each change point on.
    """

    __slots__ = ("_hi", "_lo", "_times", "_value", "times", "values")

    def __init__(self, times: Sequence[float], values: Sequence[float]) -> None:
        if len(times) != len(values) or not len(times):
            raise ValueError("a step function needs as many values as change points, and at least one")
        t = np.asarray(times, dtype=float)
        if len(t) > 1 and not np.all(np.diff(t) > 0):
            raise ValueError("change points must ascend strictly")
        self.times = t
        self.values = np.asarray(values, dtype=float)
        self._times = t.tolist()
        # The step last read by :meth:`at` (times mostly come in order): [lo, hi) holds ``_value``.
        self._lo, self._hi, self._value = -math.inf, -math.inf, 0.0

    @classmethod
    def constant(cls, value: float) -> Steps:
        """The same value at every time."""
        return cls([0.0], [float(value)])

    @classmethod
    def periodic(cls, times: Sequence[float], values: Sequence[float], period: float, until: float | None) -> Steps:
        """A series that repeats every ``period`` s (its first change point at 0), unrolled up to ``until`` (inclusive).

        ``times`` lie in ``[0, period)``; a series read from a file repeats when the run is longer
        than the file covers. With ``until`` None (or within the first period) nothing repeats.
        """
        t = np.asarray(times, dtype=float)
        v = np.asarray(values, dtype=float)
        if until is None or until < period or period <= 0:
            return cls(t, v)
        copies = math.floor(until / period) + 1  # up to and including ``until``: the end sees the file's start
        shifts = np.repeat(np.arange(copies, dtype=float) * period, len(t))
        return cls(np.tile(t, copies) + shifts, np.tile(v, copies))

    @property
    def is_constant(self) -> bool:
        """Whether the value never changes."""
        return bool(np.all(self.values == self.values[0]))

    def at(self, time: float) -> float:
        """The value at ``time``."""
        if self._lo <= time < self._hi:
            return self._value
        times = self._times
        i = bisect.bisect_right(times, time) - 1
        value = float(self.values[max(i, 0)])
        self._lo = times[i] if i >= 0 else -math.inf
        self._hi = times[i + 1] if i + 1 < len(times) else math.inf
        self._value = value
        return value

    def next_change(self, time: float) -> float:
        """The first change point after ``time`` (inf: none)."""
        i = bisect.bisect_right(self._times, time)
        return self._times[i] if i < len(self._times) else math.inf

    def overlay(self, start: float, end: float, value: float) -> Steps:
        """This function with ``value`` from ``start`` until ``end`` (inf: for good)."""
        if not end > start:
            return self
        after = self.at(end) if math.isfinite(end) else None
        keep = (self.times < start) | (self.times > end)
        times = [*self.times[keep & (self.times < start)].tolist(), start]
        values = [*self.values[keep & (self.times < start)].tolist(), float(value)]
        if after is not None:
            times.append(end)
            values.append(after)
            later = self.times > end
            times.extend(self.times[later].tolist())
            values.extend(self.values[later].tolist())
        return Steps(times, values)

    def edges(self, start: float, end: float) -> np.ndarray:
        """``start``, the change points inside ``(start, end)``, and ``end``: the bins over which it is constant."""
        inside = self.times[(self.times > start) & (self.times < end)]
        return np.concatenate(([start], inside, [end]))

    def bin_values(self, edges: np.ndarray) -> np.ndarray:
        """The value over each bin ``[edges[i], edges[i + 1])`` (bins within which it does not change)."""
        i = np.searchsorted(self.times, edges[:-1], side="right") - 1
        return self.values[np.maximum(i, 0)]

    def integral(self, start: float, end: float) -> float:
        """The integral over ``[start, end]`` (value x seconds)."""
        if not end > start:
            return 0.0
        edges = self.edges(start, end)
        return float((self.bin_values(edges) * np.diff(edges)).sum())

    def mean(self, start: float, end: float) -> float:
        """The time-weighted mean over ``[start, end]`` (the value at ``start`` if the interval is empty)."""
        return self.integral(start, end) / (end - start) if end > start else self.at(start)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Steps)
            and np.array_equal(self.times, other.times)
            and np.array_equal(self.values, other.values)
        )

    def __hash__(self) -> int:
        return hash((self.times.tobytes(), self.values.tobytes()))

    def __repr__(self) -> str:
        if len(self.times) == 1:
            return f"Steps.constant({self.values[0]!r})"
        return f"Steps({len(self.times)} change points, {self.times[0]:g}..{self.times[-1]:g} s)"


def union_edges(start: float, end: float, functions: Sequence[Steps]) -> np.ndarray:
    """The bins over which each of ``functions`` is constant: the union of their change points in ``(start, end)``."""
    inside = [f.times[(f.times > start) & (f.times < end)] for f in functions]
    return np.unique(np.concatenate([[start, end], *inside]))


__all__ = ["Steps", "union_edges"]
