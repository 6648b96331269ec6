"""GPU-seconds per group and bin from intervals, by cumulative sums, against a sum over every interval and bin."""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.metrics.window import binned_gpu_seconds, sums_up_to


def brute_force(
    start: np.ndarray, end: np.ndarray, gpus: np.ndarray, group: np.ndarray, n_groups: int, edges: np.ndarray
) -> np.ndarray:
    out = np.zeros((n_groups, len(edges) - 1))
    end = np.where(np.isnan(end), edges[-1], end)
    for s, e, g, k in zip(start, end, gpus, group, strict=True):
        for b in range(len(edges) - 1):
            out[k, b] += g * max(0.0, min(e, edges[b + 1]) - max(s, edges[b]))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_binned_gpu_seconds_equal_the_overlap_of_each_interval_with_each_bin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    start = rng.uniform(0, 100, n).round(1)  # rounded: intervals meet edges and each other exactly
    end = start + rng.uniform(0, 30, n).round(1)
    end[::37] = np.nan  # still running: held until the last edge
    gpus = rng.integers(1, 9, n)
    group = rng.integers(0, 4, n)
    edges = np.unique(np.concatenate(([5.0, 95.0], rng.uniform(5, 95, 6).round(1))))
    got = binned_gpu_seconds(start, end, gpus, group, 4, edges)
    assert got == pytest.approx(brute_force(start, end, gpus, group, 4, edges), abs=1e-7)


def test_sums_up_to_counts_events_at_or_before_each_time() -> None:
    times = np.array([1.0, 2.0, 2.0, 5.0])
    group = np.array([0, 1, 0, 0])
    weights = np.array([1.0, 10.0, 100.0, 1000.0])
    got = sums_up_to(times, group, weights, 3, np.array([0.0, 2.0, 4.0, 5.0]))
    assert got.tolist() == [[0, 101, 101, 1101], [0, 10, 10, 10], [0, 0, 0, 0]]
