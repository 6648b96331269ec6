"""The measured window and the arithmetic over it that every score uses.

Means and 95th percentiles of what happened in the window, intervals clipped to it, step
functions integrated over it, and the GPU-seconds jobs held inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dcsim.core.table import Table
from dcsim.metrics import monitors


@dataclass(frozen=True)
class Window:
    """The measured window, s."""

    start: float
    end: float

    @property
    def length(self) -> float:
        """Window length, s."""
        return self.end - self.start


def _number(x: float) -> float | None:
    """A JSON-safe float: None for NaN or infinity."""
    return float(x) if math.isfinite(x) else None


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _p95(values: np.ndarray) -> float | None:
    return float(np.percentile(values, 95)) if values.size else None


def overlap(start: np.ndarray, end: np.ndarray, window: Window) -> np.ndarray:
    """Length of each interval ``[start, end)`` inside the window (0 if disjoint), s."""
    return np.clip(np.minimum(end, window.end) - np.maximum(start, window.start), 0.0, None)


def busy_gpu_seconds(jobs: Table, window: Window, n_pools: int, runs: Table | None = None) -> np.ndarray:
    """GPU-seconds allocated to jobs inside the window, per pool (from each run when jobs were interrupted).

    A share of a GPU (the jobs table's ``gpu_fraction``, where GPUs are shared) counts as that share.
    """
    return held_seconds(jobs, window, n_pools, job_gpus(jobs), runs)


def job_gpus(jobs: Table) -> np.ndarray:
    """Each job's GPUs as GPU-time counts them: a share of a GPU (``gpu_fraction``, GPUs shared) as its share."""
    return jobs["gpus"] * jobs["gpu_fraction"] if "gpu_fraction" in jobs else jobs["gpus"]


def held_seconds(
    jobs: Table, window: Window, n_pools: int, amount: np.ndarray, runs: Table | None = None
) -> np.ndarray:
    """Each job's ``amount`` (GPUs, cores, bytes) times the seconds it held it inside the window, per pool."""
    if runs is not None and len(runs):
        end = np.where(np.isnan(runs["end_s"]), window.end, runs["end_s"])
        seconds = overlap(runs["start_s"], end, window) * amount[runs["job_id"]]
        return np.bincount(runs["pool"], weights=seconds, minlength=n_pools)
    ran = jobs["pool"] >= 0
    finish = _or(jobs["finish_s"][ran], window.end)
    seconds = overlap(jobs["start_s"][ran], finish, window) * amount[ran]
    return np.bincount(jobs["pool"][ran], weights=seconds, minlength=n_pools)


def _or(values: np.ndarray, default: float | np.ndarray) -> np.ndarray:
    """``values`` with NaN replaced by ``default``."""
    return np.where(np.isnan(values), default, values)


def step_integral(times: np.ndarray, levels: np.ndarray, window: Window) -> float:
    """Integral over the window of a step function (``levels[i]`` from ``times[i]`` on; 0 before)."""
    return monitors.step_integral(times, levels, window.start, window.end)


def _known(values: np.ndarray) -> np.ndarray:
    """``values`` without NaN."""
    return values[~np.isnan(values)]


def sums_up_to(times: np.ndarray, group: np.ndarray, weights: np.ndarray, n_groups: int, at: np.ndarray) -> np.ndarray:
    """For each group and each time of ``at``: the sum of the weights of the group's events at or before it.

    One sort of the events by (group, time), one cumulative sum, and a search of each group's
    slice of the sorted events: O(n log n + groups x len(at) x log n), exact (no time is shifted
    or rounded).

    Args:
        times: each event's time, s.
        group: each event's group, 0..n_groups-1.
        weights: each event's weight; or several weights, one row each (k x events).
        n_groups: the number of groups.
        at: the times to read the sums at, ascending, s.

    Returns:
        Sums, groups x ``at`` (k x groups x ``at`` for k rows of weights).
    """
    order = np.lexsort((times, group))
    t, g = times[order], group[order]
    w = np.atleast_2d(np.asarray(weights, dtype=float))[:, order]
    total = np.concatenate((np.zeros((w.shape[0], 1)), np.cumsum(w, axis=1)), axis=1)
    bounds = np.searchsorted(g, np.arange(n_groups + 1))
    # Group i's events are t[bounds[i]:bounds[i + 1]], ascending; a search in each slice (no copy).
    upto = np.empty((n_groups, at.size), dtype=np.int64)
    for i in range(n_groups):
        upto[i] = bounds[i] + np.searchsorted(t[bounds[i] : bounds[i + 1]], at, side="right")
    out = total[:, upto] - total[:, bounds[:-1]][:, :, None]
    return out if np.ndim(weights) > 1 else out[0]


def binned_gpu_seconds(
    start: np.ndarray, end: np.ndarray, gpus: np.ndarray, group: np.ndarray, n_groups: int, edges: np.ndarray
) -> np.ndarray:
    """GPU-seconds held in each bin ``[edges[k], edges[k + 1])`` by each group, from intervals ``[start, end)``.

    Exact for step functions: each interval is an event of +g at its start and -g at its end,
    and the GPU-seconds held up to ``x`` are ``x * sum w - sum w t`` over the events at or
    before ``x`` (:func:`sums_up_to`), read at the edges: O(n log n + groups x bins).

    Args:
        start: each interval's start, s.
        end: each interval's end, s (NaN: not yet: the last edge).
        gpus: GPUs each holds (any weight).
        group: each interval's group, 0..n_groups-1 (a pool; a class and pool).
        n_groups: the number of groups.
        edges: the bins' edges, ascending; intervals are clipped to ``[edges[0], edges[-1]]``.

    Returns:
        GPU-seconds, groups x bins.
    """
    lo, hi = edges[0], edges[-1]
    s = np.clip(start, lo, hi)
    e = np.clip(np.where(np.isnan(end), hi, end), lo, hi)
    keep = e > s
    g = np.asarray(gpus, dtype=float)[keep]
    times = np.concatenate((s[keep], e[keep]))
    weights = np.concatenate((g, -g))
    groups = np.concatenate((group[keep], group[keep]))
    count, moment = sums_up_to(times, groups, np.stack((weights, weights * times)), n_groups, edges)
    return np.diff(edges * count - moment, axis=1)
