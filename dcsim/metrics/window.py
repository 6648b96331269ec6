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
