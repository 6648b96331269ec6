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
    """GPU-seconds allocated to jobs inside the window, per pool (from each run when jobs were interrupted)."""
    if runs is not None and len(runs):
        gpus = jobs["gpus"][runs["job_id"]]
        end = np.where(np.isnan(runs["end_s"]), window.end, runs["end_s"])
        seconds = overlap(runs["start_s"], end, window) * gpus
        return np.bincount(runs["pool"], weights=seconds, minlength=n_pools)
    ran = jobs["pool"] >= 0
    finish = _or(jobs["finish_s"][ran], window.end)
    seconds = overlap(jobs["start_s"][ran], finish, window) * jobs["gpus"][ran]
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


def binned_gpu_seconds(
    start: np.ndarray, end: np.ndarray, gpus: np.ndarray, group: np.ndarray, n_groups: int, edges: np.ndarray
) -> np.ndarray:
    """GPU-seconds held in each bin ``[edges[k], edges[k + 1])`` by each group, from intervals ``[start, end)``.

    Exact for step functions: the GPU-seconds held up to ``x`` are ``sum g (x - s)`` over the
    intervals begun before ``x`` less ``sum g (x - e)`` over those ended before it, each a
    cumulative sum over the sorted starts (ends) of the group read at the edges. One sort of
    the intervals, O(n log n + groups x bins).

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
    s, e, g, grp = s[keep], e[keep], np.asarray(gpus, dtype=float)[keep], group[keep]
    out = np.zeros((n_groups, len(edges)))
    for times, sign in ((s, 1.0), (e, -1.0)):
        order = np.lexsort((times, grp))
        t, w, k = times[order], g[order], grp[order]
        bounds = np.searchsorted(k, np.arange(n_groups + 1))
        for i in range(n_groups):
            a, b = bounds[i], bounds[i + 1]
            if a == b:
                continue
            ti, wi = t[a:b], w[a:b]
            count = np.concatenate(([0.0], np.cumsum(wi)))
            moment = np.concatenate(([0.0], np.cumsum(wi * ti)))
            j = np.searchsorted(ti, edges, side="right")  # intervals begun (ended) at or before each edge
            out[i] += sign * (edges * count[j] - moment[j])
    return np.diff(out, axis=1)
