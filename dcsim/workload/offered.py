"""Offered load: the GPU demand a workload brings, before any queueing.

``offered GPUs = sum over classes of rate x mean GPUs x mean run time``; divided by
the installed GPUs it is the utilization the cluster would need to keep up. Above 1
the queue grows without bound, whatever the policy.
"""

from __future__ import annotations

import numpy as np

from dcsim.scenario.schema import (
    BatchArrival,
    ChoiceCount,
    DiurnalArrival,
    EmpiricalCount,
    PeriodicArrival,
    PoissonArrival,
    Scenario,
)
from dcsim.workload.distributions import duration_sampler, read_column, resolve
from dcsim.workload.trace import read_trace


def mean_gpus(spec: object, base_dir: str) -> float:
    """Mean GPUs per job of a size distribution."""
    if isinstance(spec, ChoiceCount):
        weights = np.asarray(spec.weights or [1.0] * len(spec.values), dtype=float)
        return float(np.dot(spec.values, weights) / weights.sum())
    assert isinstance(spec, EmpiricalCount)
    return float(read_column(resolve(base_dir, spec.path), spec.column, "count").mean())


def offered_gpus(scenario: Scenario) -> float:
    """GPUs the workload keeps busy on average in steady state (batch arrivals count 0)."""
    base = scenario.base_dir
    total = 0.0
    for cls in scenario.workload.jobs:
        arrival = cls.arrival
        if isinstance(arrival, PoissonArrival | DiurnalArrival):
            rate = arrival.rate
        elif isinstance(arrival, PeriodicArrival):
            rate = 1.0 / arrival.interval
        else:
            assert isinstance(arrival, BatchArrival)
            continue
        _, mean_duration = duration_sampler(cls.duration, base)
        total += rate * mean_gpus(cls.gpus, base) * mean_duration
    trace = scenario.workload.trace
    if trace is not None:
        table = read_trace(trace, base)
        span = float(table["submit_time"].max() - table["submit_time"].min())
        if span > 0:
            total += float((table["gpus"] * table["duration"]).sum()) / span
    return total
