"""Labelled monitors: time-weighted :class:`Level` and per-event :class:`Tally`.

A :class:`Level` is a value that holds from one change to the next (GPUs out of service,
technicians busy, spares in stock); a :class:`Tally` is a value per event (a wait, a
repair time). Each keeps one series per label key (``Level("down_gpus", ("site",))``:
one series per site), stored in typed arrays like the records, and integrates or
summarises itself over a window. Model code only sets and adds; the arithmetic is here
and in scoring.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import numpy as np


def step_integral(times: np.ndarray, levels: np.ndarray, start: float, end: float) -> float:
    """Integral over ``[start, end]`` of a step function: ``levels[i]`` from ``times[i]`` on, 0 before the first.

    The last level holds to ``end`` (or to its own time, if later).
    """
    if not times.size:
        return 0.0
    ends = np.append(times[1:], max(end, float(times[-1])))
    inside = np.clip(np.minimum(ends, end) - np.maximum(times, start), 0.0, None)
    return float((inside * levels).sum())


def _numbers(values: array[Any]) -> np.ndarray:
    """An array's numbers as numpy (no copy)."""
    return np.frombuffer(values, dtype=values.typecode) if len(values) else np.array([], dtype=values.typecode)


class _Series:
    """Times and values in typed arrays.

    Attributes:
        times: the time of each value, s, non-decreasing.
        values: the values.
    """

    __slots__ = ("times", "values")

    def __init__(self, typecode: str) -> None:
        self.times: array[float] = array("d")
        self.values: array[Any] = array(typecode)

    def __len__(self) -> int:
        return len(self.times)

    def columns(self) -> tuple[np.ndarray, np.ndarray]:
        """The times and values as numpy arrays (no copy)."""
        return _numbers(self.times), _numbers(self.values)


class LevelSeries(_Series):
    """One labelled series of a :class:`Level`: ``values[i]`` holds from ``times[i]`` to the next change."""

    __slots__ = ()

    def set(self, time: float, value: float) -> None:
        """The value is ``value`` from ``time`` on; a second change at the same time replaces the first."""
        times = self.times
        if times and times[-1] == time:
            self.values[-1] = value
        else:
            times.append(time)
            self.values.append(value)

    def integral(self, start: float, end: float) -> float:
        """Integral of the value over ``[start, end]``, value x s (0 before the first change)."""
        times, values = self.columns()
        return step_integral(times, values, start, end)

    def mean(self, start: float, end: float) -> float:
        """Time-weighted mean over ``[start, end]`` (0 for an empty window)."""
        return self.integral(start, end) / (end - start) if end > start else 0.0


class TallySeries(_Series):
    """One labelled series of a :class:`Tally`: a value per event, with its time."""

    __slots__ = ()

    def add(self, time: float, value: float) -> None:
        """Observe ``value`` at ``time``."""
        self.times.append(time)
        self.values.append(value)

    def within(self, start: float = -np.inf, end: float = np.inf) -> np.ndarray:
        """The values observed in ``[start, end]``, in order."""
        times, values = self.columns()
        return values[(times >= start) & (times <= end)]

    def count(self, start: float = -np.inf, end: float = np.inf) -> int:
        """How many values were observed in ``[start, end]``."""
        return int(self.within(start, end).size)

    def total(self, start: float = -np.inf, end: float = np.inf) -> float:
        """Sum of the values observed in ``[start, end]``."""
        return float(self.within(start, end).sum())

    def mean(self, start: float = -np.inf, end: float = np.inf) -> float:
        """Mean of the values observed in ``[start, end]`` (NaN if none)."""
        values = self.within(start, end)
        return float(values.mean()) if values.size else float("nan")


S = TypeVar("S", bound=_Series)


class _Labelled(Generic[S]):
    """One series per label key, made on first use.

    Args:
        name: what it measures (``down_gpus``, ``wait_technician_s``).
        labels: the label names a key gives values for, in order (``("site",)``); none: one
            series, key ``()``.
        typecode: the :mod:`array` typecode of the values ("q": integers, "d": floats).
    """

    _series_type: type[S]

    def __init__(self, name: str, labels: tuple[str, ...] = (), typecode: str = "d") -> None:
        self.name = name
        self.labels = labels
        self.typecode = typecode
        self._series: dict[tuple[Any, ...], S] = {}

    def series(self, *key: Any) -> S:
        """The series of the label values ``key`` (one per label), made empty on first use.

        Raises:
            ValueError: ``key`` does not give one value per label.
        """
        found = self._series.get(key)
        if found is None:
            if len(key) != len(self.labels):
                raise ValueError(f"{self.name!r} is labelled {self.labels}; got {key}")
            found = self._series[key] = self._series_type(self.typecode)
        return found

    def keys(self) -> list[tuple[Any, ...]]:
        """The label keys used so far, in order of first use."""
        return list(self._series)

    def __iter__(self) -> Iterator[tuple[tuple[Any, ...], S]]:
        return iter(self._series.items())


class Level(_Labelled[LevelSeries]):
    """A time-weighted quantity: a value that holds from one change to the next, per label key."""

    _series_type = LevelSeries

    def set(self, time: float, value: float, *key: Any) -> None:
        """The value of series ``key`` is ``value`` from ``time`` on."""
        self.series(*key).set(time, value)

    def integral(self, start: float, end: float, *key: Any) -> float:
        """Integral of series ``key`` over ``[start, end]``."""
        return self.series(*key).integral(start, end)

    def mean(self, start: float, end: float, *key: Any) -> float:
        """Time-weighted mean of series ``key`` over ``[start, end]``."""
        return self.series(*key).mean(start, end)


class Tally(_Labelled[TallySeries]):
    """A per-event quantity: values with their times, per label key."""

    _series_type = TallySeries

    def add(self, time: float, value: float, *key: Any) -> None:
        """Observe ``value`` at ``time`` in series ``key``."""
        self.series(*key).add(time, value)
