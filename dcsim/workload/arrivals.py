"""Arrival processes as chunked streams of arrival times (s).

Times are drawn in chunks with numpy from the class's own stream, so a run with a
longer horizon or a larger count sees the same first arrivals (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

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


Columns = tuple[np.ndarray | None, ...]
"""A chunk of arrivals: their times (ascending) and any other per-arrival columns (None: not drawn)."""


def rate_windows(
    chunks: Iterator[Columns],
    windows: list[tuple[float, float, float]],
    peak: float,
    intensity: Callable[[np.ndarray], np.ndarray] | None,
    horizon: float | None,
    extra: np.random.Generator,
    thin: np.random.Generator,
    draw: Callable[[int], list[np.ndarray | None]],
) -> Iterator[Columns]:
    """Apply rate factors over time windows to a stream of arrival chunks, keeping the base arrivals' draws.

    In a window ``(start, end, factor)`` with factor > 1, extra arrivals of intensity
    ``(factor - 1) x`` the base intensity are superposed (a Poisson process of the sum's
    intensity); with factor < 1, each base arrival in it is kept with probability ``factor``
    (thinning keeps a Poisson process Poisson). The extras come from their own stream
    ``extra`` (their other columns from ``draw``), the thinning from ``thin``: outside the
    windows the arrivals are those of the run without them (common random numbers).

    Args:
        chunks: the base stream; the first column is the arrival times.
        windows: disjoint ``(start s, end s, factor)``, by time (end may be inf).
        peak: the base intensity's largest value, per s.
        intensity: the base intensity at given times, per s (None: constant, ``peak``).
        horizon: no extra arrival after it (None: none).
        extra: the extras' times (and their thinning to a varying intensity).
        thin: the thinning of the base arrivals.
        draw: the other columns of ``n`` extra arrivals.
    """
    limit = math.inf if horizon is None else horizon
    downs = [(a, b, f) for a, b, f in windows if f < 1]
    extras = _superposed([(a, min(b, limit), f) for a, b, f in windows if f > 1], peak, intensity, extra)
    pending = np.empty(0)
    done = False

    def upto(t: float) -> np.ndarray:
        nonlocal pending, done
        while not done and (not pending.size or pending[-1] <= t):
            more = next(extras, None)
            if more is None:
                done = True
            else:
                pending = np.concatenate((pending, more))
        k = int(np.searchsorted(pending, t, side="right"))
        out, pending = pending[:k], pending[k:]
        return out

    for chunk in chunks:
        times = chunk[0]
        assert times is not None
        last = float(times[-1]) if times.size else -math.inf
        if downs and times.size:
            keep = np.ones(times.size, dtype=bool)
            for a, b, f in downs:
                lo, hi = np.searchsorted(times, (a, b), side="left")
                if hi > lo:
                    keep[lo:hi] = thin.random(int(hi - lo)) < f
            if not keep.all():
                chunk = tuple(c[keep] if c is not None else None for c in chunk)
        added = upto(last)
        yield _merged(chunk, added, draw) if added.size else chunk
    rest = upto(limit)
    if rest.size:
        yield (rest, *draw(rest.size))


def _merged(chunk: Columns, times: np.ndarray, draw: Callable[[int], list[np.ndarray | None]]) -> Columns:
    """A chunk with extra arrivals at ``times`` merged in by time (base arrivals first at equal times)."""
    columns = [chunk[0], *chunk[1:]]
    new = [times, *draw(times.size)]
    both = [
        np.concatenate((c, n)) if c is not None and n is not None else None for c, n in zip(columns, new, strict=True)
    ]
    order = np.argsort(both[0], kind="stable")  # type: ignore[arg-type]
    return tuple(c[order] if c is not None else None for c in both)


def _superposed(
    windows: list[tuple[float, float, float]],
    peak: float,
    intensity: Callable[[np.ndarray], np.ndarray] | None,
    rng: np.random.Generator,
) -> Iterator[np.ndarray]:
    """Times of extra arrivals of intensity ``(factor - 1) x`` the base one in each window, in chunks."""
    for start, end, factor in windows:
        rate = (factor - 1) * peak
        t = start
        while t < end:
            cand = t + np.cumsum(rng.exponential(1.0 / rate, CHUNK))
            t = float(cand[-1])
            if intensity is not None:  # thinning to the base's shape (Lewis & Shedler)
                cand = cand[rng.random(CHUNK) * peak < intensity(cand)]
            cand = cand[cand < end]
            if cand.size:
                yield cand


def intensity_of(spec: object) -> tuple[float, Callable[[np.ndarray], np.ndarray] | None]:
    """A poisson or diurnal arrival block's peak intensity (per s) and its intensity over time (None: constant)."""
    if isinstance(spec, PoissonArrival):
        return float(spec.rate), None
    if isinstance(spec, DiurnalArrival):
        rate, amplitude, peak, period = spec.rate, spec.amplitude, spec.peak, spec.period
        return rate * (1 + amplitude), lambda t: rate * (1 + amplitude * np.cos(2 * np.pi * (t - peak) / period))
    raise TypeError(f"no rate to change in {spec!r}")
