"""Scenarios that validate but would take far too long or too much memory to simulate.

A rate of ``1e9`` per second over a day, or ``metrics.sample_interval: 1e-9s``, is a
valid value of each field, yet the run would create ~10^14 jobs or samples and never
finish (or exhaust memory). :func:`check_limits` estimates the number of jobs, samples,
failures and maintenance windows of a run before it starts and refuses counts beyond
the bounds below, naming the field and the count.
"""

from __future__ import annotations

from dcsim.core.text import quote
from dcsim.core.units import format_duration
from dcsim.scenario.schema import (
    BatchArrival,
    Datacenter,
    DiurnalArrival,
    EmpiricalDist,
    FailureModel,
    JobClass,
    PeriodicArrival,
    PoissonArrival,
    Scenario,
)

MAX_JOBS = 10_000_000
"""Most jobs a run may submit (every job is kept in memory: about 1 GB per million)."""
MAX_SAMPLES = 1_000_000
"""Most timeseries samples of a run (the default is 1,000 over the horizon)."""
UNTIMED_SAMPLE_S = 300.0
"""Time between samples of a run without horizon and without ``metrics.sample_interval`` (the model's)."""
MAX_FAILURES = 10_000_000
"""Most random failures expected over the horizon."""
MAX_WINDOWS = 1_000_000
"""Most maintenance windows (a unit down once) over the horizon."""

_YEAR_S = 365 * 86400.0


def _duration(seconds: float) -> str:
    return format_duration(seconds) if seconds >= 1 else f"{seconds:.3g} s"


def _count(n: float) -> str:
    return f"{n:,.0f}" if n < 1e15 else f"{n:.1e}"


def expected_jobs(cls: JobClass, horizon: float | None) -> float:
    """Expected number of jobs a class submits over ``horizon`` (its ``count`` without one).

    Args:
        cls: The job class.
        horizon: The run's horizon in seconds, or None.

    Returns:
        The expected number of jobs (0 for an open class without horizon).
    """
    return _jobs(cls, horizon)[0]


def _jobs(cls: JobClass, horizon: float | None) -> tuple[float, str]:
    """Expected jobs a class submits, and the field that sets the number."""
    arrival = cls.arrival
    span: float | None = None
    if isinstance(arrival, PoissonArrival | DiurnalArrival):
        span = arrival.rate * horizon if horizon is not None else None
        field = "arrival.rate"
    elif isinstance(arrival, PeriodicArrival):
        span = max(0.0, horizon - arrival.start) / arrival.interval + 1 if horizon is not None else None
        field = "arrival.interval"
    else:
        field = "count"
    if cls.count is not None and (span is None or cls.count <= span):
        return float(cls.count), "count"
    return (span if span is not None else 0.0), field


def _last_arrival(cls: JobClass) -> float:
    """When the class's last job arrives (about), for a run without horizon: 0 if unknown."""
    arrival, n = cls.arrival, cls.count or 0
    if isinstance(arrival, BatchArrival):
        return arrival.at
    if isinstance(arrival, PeriodicArrival):
        return arrival.start + max(0, n - 1) * arrival.interval
    return n / arrival.rate


def _mean_duration(cls: JobClass) -> float:
    from dcsim.workload.distributions import duration_sampler

    if isinstance(cls.duration, EmpiricalDist):
        return 0.0  # a file: not read here
    return duration_sampler(cls.duration)[1]


def _failure_mean(model: FailureModel) -> float | None:
    if model.mtbf is not None:
        return model.mtbf
    return _YEAR_S / model.afr if model.afr is not None else None


def _units(dc: Datacenter, scope: str) -> int:
    """Components of a class (gpu, node, rack, site) in the data center, counted without building it."""
    if scope == "site":
        return len(dc.sites)
    groups = [g for s in dc.sites for g in s.groups]
    if scope == "rack":
        return sum(g.racks for g in groups)
    nodes = [(g.racks * g.nodes_per_rack, g.node.gpus) for g in groups]
    return sum(n for n, _ in nodes) if scope == "node" else sum(n * gpus for n, gpus in nodes)


def check_limits(sc: Scenario) -> list[tuple[str, str]]:
    """Problems ``(path, message)`` of a schema-valid scenario too large to simulate."""
    problems: list[tuple[str, str]] = []
    horizon = sc.horizon
    over = f" over the horizon ({_duration(horizon)})" if horizon is not None else ""
    counts = [(i, cls, *_jobs(cls, horizon)) for i, cls in enumerate(sc.workload.jobs)]
    total = sum(n for *_, n, _ in counts)
    if total > MAX_JOBS:
        i, cls, n, field = max(counts, key=lambda c: c[2])
        what = "" if field == "count" else over
        problems.append(
            (f"workload.jobs.{i}.{field}", f"class {quote(cls.name)} would submit about {_count(n)} jobs{what}"
             f"{f' ({_count(total)} in all)' if total > n else ''}; dcsim simulates at most {MAX_JOBS:,} jobs "
             "in a run: lower the rate, shorten the horizon or set `count`")
        )  # fmt: skip
    interval = sc.metrics.sample_interval
    if interval is not None or horizon is None:
        end = horizon
        if end is None:  # the run lasts at least until the last job arrives and runs
            end = max((_last_arrival(c) + _mean_duration(c) for c in sc.workload.jobs), default=0.0)
        samples = end / (interval or UNTIMED_SAMPLE_S)
        if samples > MAX_SAMPLES and interval is not None:
            span = f"the horizon ({_duration(end)})" if horizon is not None else (
                f"the run (at least {_duration(end)})"
            )  # fmt: skip
            problems.append(
                ("metrics.sample_interval", f"{_duration(interval)} over {span} makes {_count(samples)} "
                 f"samples; dcsim takes at most {MAX_SAMPLES:,} in a run: make it {_duration(end / MAX_SAMPLES)}"
                 f" or longer{' (or leave it out: 1,000 samples)' if horizon is not None else ''}")
            )  # fmt: skip
        elif samples > MAX_SAMPLES:
            problems.append(
                ("horizon", f"without a horizon the run lasts until its last job ends (at least {_duration(end)}), "
                 f"sampled every {_duration(UNTIMED_SAMPLE_S)}: {_count(samples)} samples; dcsim takes at most "
                 f"{MAX_SAMPLES:,} in a run: set a `horizon`, or a `metrics.sample_interval` of "
                 f"{_duration(end / MAX_SAMPLES)} or longer")
            )  # fmt: skip
    if horizon is None:
        return problems
    if sc.failures is not None:
        expected = 0.0
        for _cause, component, model in sc.failures.models():
            units = _units(sc.datacenter, component)
            means = [m for m in [_failure_mean(model), *map(_failure_mean, (model.per_type or {}).values())] if m]
            if means:
                expected += units * horizon / min(means)
        if expected > MAX_FAILURES:
            problems.append(
                ("failures", f"about {_count(expected)} failures{over}; dcsim simulates at most {MAX_FAILURES:,}: "
                 "give longer `mtbf` (lower `afr`) or a shorter horizon")
            )  # fmt: skip
    for i, mt in enumerate(sc.maintenance):
        units = len(mt.units) if mt.units is not None else _units(sc.datacenter, mt.scope)
        rounds = max(0.0, horizon - mt.start) / mt.every + 1 if mt.every is not None else 1
        if units * rounds > MAX_WINDOWS:
            problems.append(
                (f"maintenance.{i}.every", f"{_count(units * rounds)} maintenance windows{over}; dcsim takes at "
                 f"most {MAX_WINDOWS:,}: make `every` longer")
            )  # fmt: skip
    return problems
