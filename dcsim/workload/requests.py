"""A service's requests as chunked streams: arrival times, tokens, session keys and run times.

Everything is drawn in numpy chunks from the service's own named streams
(``requests.<service>`` for arrivals, ``requests.<service>.input``, ``.output``,
``.sessions`` and ``.times`` for the rest), so a change of policy or fleet never changes a
draw (common random numbers), and a longer horizon sees the same first requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dcsim.core import units
from dcsim.core.errors import MissingFileError, TraceError
from dcsim.core.rng import stream
from dcsim.workload.arrivals import CHUNK, arrival_times, intensity_of, rate_windows
from dcsim.workload.distributions import duration_sampler, read_column, read_csv_text, resolve
from dcsim.workload.service_spec import (
    MAX_TOKENS,
    EmpiricalTokens,
    ExponentialTokens,
    FixedTokens,
    LogNormalTokens,
    MmppArrival,
    RequestTrace,
    Service,
)


@dataclass
class RequestChunk:
    """Some requests of one service, as Python lists (the engine reads them one by one)."""

    times: list[float]
    input_tokens: list[int] | None
    output_tokens: list[int] | None
    sessions: list[int] | None
    work: list[float] | None
    """Run time of each request on the reference GPU (a ``time`` service model), s."""


def token_sampler(spec: Any, base_dir: str = ".") -> tuple[Any, float]:
    """A sampler of token counts (whole numbers >= 1, at most :data:`MAX_TOKENS`) and the mean before rounding."""
    if isinstance(spec, FixedTokens):
        v = int(spec.value)
        return (lambda rng, n: np.full(n, v, dtype=np.int64)), float(v)
    if isinstance(spec, EmpiricalTokens):
        values = read_column(resolve(base_dir, spec.path), spec.column, "duration")
        return (lambda rng, n: _tokens(rng.choice(values, n))), float(values.mean())
    if isinstance(spec, LogNormalTokens):
        mu = math.log(spec.median) if spec.median is not None else math.log(spec.mean or 1.0) - spec.sigma**2 / 2
        sigma = spec.sigma
        return (lambda rng, n: _tokens(rng.lognormal(mu, sigma, n))), math.exp(mu + sigma**2 / 2)
    if isinstance(spec, ExponentialTokens):
        m = spec.mean
        return (lambda rng, n: _tokens(rng.exponential(m, n))), m
    raise TypeError(f"not a token distribution: {spec!r}")


def _tokens(values: np.ndarray) -> np.ndarray:
    """Draws as whole token counts, at least 1 and at most :data:`MAX_TOKENS`."""
    return np.clip(np.rint(values), 1, MAX_TOKENS).astype(np.int64)


def mmpp_times(spec: MmppArrival, rng: np.random.Generator, horizon: float | None) -> Iterator[np.ndarray]:
    """Arrival times of a Markov-modulated Poisson process, in ascending chunks of about :data:`CHUNK`.

    The state's sojourns are drawn one at a time; within a sojourn of length L at rate r the
    arrivals are Poisson: their count is Poisson(r L) and their times uniform in it.
    """
    limit = math.inf if horizon is None else horizon
    state, t = 0, 0.0
    parts: list[np.ndarray] = []
    size = 0
    rates, means = spec.rates, spec.mean_sojourn
    while t <= limit:
        stay = rng.exponential(means[state])
        k = int(rng.poisson(rates[state] * stay))
        if k:
            parts.append(np.sort(t + stay * rng.random(k)))
            size += k
        t += stay
        state = (state + 1) % len(rates)
        if size >= CHUNK:
            yield np.concatenate(parts)
            parts, size = [], 0
    if parts:
        yield np.concatenate(parts)


@dataclass
class TracedRequests:
    """A request trace's columns, in arrival order."""

    times: np.ndarray
    input_tokens: np.ndarray | None
    output_tokens: np.ndarray | None
    sessions: np.ndarray | None


def read_request_trace(spec: RequestTrace, base_dir: str) -> TracedRequests:
    """Read a request trace, naming the file and line of any bad value.

    Raises:
        MissingFileError: no such file.
        TraceError: a missing column, a time that is not a number >= 0, a token count that is
            not a whole number >= 0.
    """
    import os

    import pandas as pd

    path = resolve(base_dir, spec.path)
    if not os.path.exists(path):
        raise MissingFileError(f"{path}: file not found; check requests.arrival.path (relative to the scenario file)")
    frame = read_csv_text(path)

    def column(name: str, what: str, whole: bool, least: float = 0.0) -> np.ndarray:
        if name not in frame.columns:
            raise TraceError(f"{path}: no column {name!r} (the {what}); columns are {', '.join(frame.columns)}")
        values = pd.to_numeric(frame[name].str.strip(), errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < least)
        if whole:
            bad |= values != np.round(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            want = f"a whole number >= {least:g}" if whole else f"a number >= {least:g}"
            raise TraceError(f"{path} line {row + 2}: column {name!r} is {frame[name].iloc[row]!r}; it must be {want}")
        return values

    if not len(frame):
        raise TraceError(f"{path}: no requests (a header line and one row per request)")
    times = column(spec.time, "arrival times", False) * units.duration("1" + spec.time_unit)
    order = np.argsort(times, kind="stable")
    inp = column(spec.input_tokens, "input tokens", True)[order].astype(np.int64) if spec.input_tokens else None
    out = column(spec.output_tokens, "output tokens", True, 1)[order].astype(np.int64) if spec.output_tokens else None
    sessions = None
    if spec.session:
        if spec.session not in frame.columns:
            raise TraceError(
                f"{path}: no column {spec.session!r} (the session keys); columns are {', '.join(frame.columns)}"
            )
        codes, _ = pd.factorize(frame[spec.session].str.strip())
        sessions = codes[order].astype(np.int64)
    return TracedRequests(times[order], inp, out, sessions)


def request_chunks(
    service: Service,
    seed: int,
    horizon: float | None,
    base_dir: str,
    windows: list[tuple[float, float, float]] | None = None,
) -> Iterator[RequestChunk]:
    """The service's requests up to ``horizon`` (and ``requests.count``), chunk by chunk.

    ``windows`` (from the scenario's events) change the request rate for a while
    (:func:`dcsim.workload.arrivals.rate_windows`): the extra requests draw from streams of their
    own (``requests.<service>.events``, ...), the thinning from ``requests.<service>.thin``.
    """
    req = service.requests
    name = service.name
    keys = ("", ".input", ".output", ".sessions", ".times")
    rngs = {k: stream(seed, f"requests.{name}{k}") for k in keys}
    inp = token_sampler(req.input_tokens, base_dir)[0] if req.input_tokens is not None else None
    out = token_sampler(req.output_tokens, base_dir)[0] if req.output_tokens is not None else None
    work = duration_sampler(service.service_model.time, base_dir)[0] if service.service_model.time is not None else None
    arrival = req.arrival
    traced = None
    if isinstance(arrival, RequestTrace):
        traced = read_request_trace(arrival, base_dir)
        end = len(traced.times)
        if horizon is not None:
            end = int(np.searchsorted(traced.times, horizon, side="right"))
        if req.count is not None:
            end = min(end, req.count)
        times_iter: Iterator[np.ndarray] = (traced.times[i : min(i + CHUNK, end)] for i in range(0, end, CHUNK))
    elif isinstance(arrival, MmppArrival):
        times_iter = _counted(mmpp_times(arrival, rngs[""], horizon), req.count, horizon)
    else:
        times_iter = arrival_times(arrival, rngs[""], req.count, horizon)
    share = service.sample
    thin = stream(seed, f"requests.{name}.sample") if share < 1 else None

    def draw(sampler: Any, key: str, column: np.ndarray | None, part: slice, n: int) -> np.ndarray | None:
        if column is not None:
            return column[part]
        return sampler(rngs[key], n) if sampler is not None else None

    def drawn() -> Iterator[tuple[np.ndarray | None, ...]]:
        first = 0
        for times in times_iter:
            n = times.size
            part = slice(first, first + n)
            first += n
            sessions = None
            if traced is not None and traced.sessions is not None:
                sessions = traced.sessions[part]
            elif req.sessions is not None:
                sessions = rngs[".sessions"].integers(0, req.sessions, n)
            columns = [
                times,
                draw(inp, ".input", traced.input_tokens if traced is not None else None, part, n),
                draw(out, ".output", traced.output_tokens if traced is not None else None, part, n),
                sessions,
                work(rngs[".times"], n) if work is not None else None,
            ]
            if thin is not None:  # independent thinning: a Poisson process stays Poisson, at share x its rate
                keep = thin.random(n) < share
                columns = [c[keep] if c is not None else None for c in columns]
            yield tuple(columns)

    parts = drawn()
    if windows:
        extra = {k: stream(seed, f"requests.{name}{k}.events") for k in keys}

        def extra_columns(n: int) -> list[np.ndarray | None]:
            return [
                inp(extra[".input"], n) if inp is not None else None,
                out(extra[".output"], n) if out is not None else None,
                extra[".sessions"].integers(0, req.sessions, n) if req.sessions is not None else None,
                work(extra[".times"], n) if work is not None else None,
            ]

        peak, intensity = intensity_of(arrival)
        scaled = None if intensity is None else (lambda t: share * intensity(t))  # the sampled stream's intensity
        parts = rate_windows(
            parts, windows, share * peak, scaled, horizon, extra[""], stream(seed, f"requests.{name}.thin"),
            extra_columns,
        )  # fmt: skip
    for columns in parts:
        lists = [c.tolist() if c is not None else None for c in columns]
        yield RequestChunk(*lists)  # type: ignore[arg-type]


def _counted(chunks: Iterator[np.ndarray], count: int | None, horizon: float | None) -> Iterator[np.ndarray]:
    """Cut chunks of arrival times at ``horizon`` and after ``count`` arrivals."""
    left = math.inf if count is None else count
    limit = math.inf if horizon is None else horizon
    for times in chunks:
        if times.size and times[-1] > limit:
            times = times[: np.searchsorted(times, limit, side="right")]
        if times.size > left:
            times = times[: int(left)]
        left -= times.size
        if times.size:
            yield times
        if left <= 0:
            return


def mean_rate(service: Service, horizon: float | None, base_dir: str) -> float:
    """The service's mean arrival rate, per s (a trace's: its requests over its span, or the horizon)."""
    arrival = service.requests.arrival
    if isinstance(arrival, MmppArrival):
        weights = list(arrival.mean_sojourn)
        return sum(r * w for r, w in zip(arrival.rates, weights, strict=True)) / sum(weights)
    if isinstance(arrival, RequestTrace):
        times = read_request_trace(arrival, base_dir).times
        span = horizon if horizon is not None else (float(times[-1]) if len(times) else 0.0)
        return len(times) / span if span > 0 else 0.0
    return float(arrival.rate)


__all__ = ["RequestChunk", "mean_rate", "mmpp_times", "read_request_trace", "request_chunks", "token_sampler"]
