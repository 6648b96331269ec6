"""Arrival processes as chunked streams of arrival times (s).

Times are drawn in chunks with numpy from the class's own stream, so a run with a
longer horizon or a larger count sees the same first arrivals (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from dcsim.workload.spec import BatchArrival, DiurnalArrival, PeriodicArrival, PoissonArrival

CHUNK = 1 << 15


def arrival_times(
    spec: object, rng: np.random.Generator, count: int | None, horizon: float | None
) -> Iterator[np.ndarray]:
    """Yield ascending chunks of arrival times, stopping at ``count`` jobs or past ``horizon``.

    Args:
        spec: the class's arrival block.
        rng: the class's ``arrivals`` stream.
        count: most arrivals, or None.
        horizon: last time of interest (s), or None.
    """
    limit = math.inf if horizon is None else horizon
    remaining = math.inf if count is None else count
    if isinstance(spec, BatchArrival):
        if spec.at <= limit:
            yield np.full(int(remaining), spec.at)
        return
    t0 = 0.0
    index = 0
    while remaining > 0:
        if isinstance(spec, PoissonArrival):
            times = t0 + np.cumsum(rng.exponential(1.0 / spec.rate, CHUNK))
            t0 = float(times[-1])
        elif isinstance(spec, DiurnalArrival):
            # Thinning (Lewis & Shedler): candidates at the peak rate, each kept with
            # probability rate(t) / peak rate.
            peak = spec.rate * (1 + spec.amplitude)
            cand = t0 + np.cumsum(rng.exponential(1.0 / peak, CHUNK))
            t0 = float(cand[-1])
            phase = 2 * np.pi * (cand - spec.peak) / spec.period
            keep = rng.random(CHUNK) * (1 + spec.amplitude) < 1 + spec.amplitude * np.cos(phase)
            times = cand[keep]
        elif isinstance(spec, PeriodicArrival):
            times = spec.start + spec.interval * np.arange(index, index + CHUNK, dtype=float)
            index += CHUNK
            t0 = float(times[-1])
        else:
            raise TypeError(f"not an arrival process: {spec!r}")
        if times.size and times[-1] > limit:
            times = times[: np.searchsorted(times, limit, side="right")]
            remaining = min(remaining, times.size)
        if times.size > remaining:
            times = times[: int(remaining)]
        remaining -= times.size
        if times.size:
            yield times
        if t0 > limit:
            return
