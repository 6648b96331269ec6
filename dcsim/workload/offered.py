"""Offered load: the GPU demand a workload brings, before any queueing.

Classes that never stop offer ``rate x mean GPUs x mean run time`` GPUs in steady
state; if that exceeds the installed GPUs, the queue grows without bound whatever
the policy. Finite work (a ``count``, a batch, a trace) is a total of GPU-seconds,
spread over the horizon (or the run) to compare it with capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        # Plain floats: `dcsim validate` then needs no numpy (a tenth of a second to import).
        weights = [float(w) for w in spec.weights] if spec.weights else [1.0] * len(spec.values)
        return sum(v * w for v, w in zip(spec.values, weights, strict=True)) / sum(weights)
    assert isinstance(spec, EmpiricalCount)
    return float(read_column(resolve(base_dir, spec.path), spec.column, "count").mean())


@dataclass(frozen=True)
class OfferedWork:
    """The work a workload brings.

    Attributes:
        endless_gpus: GPUs kept busy on average, in steady state, by classes that never
            stop (no ``count``): rate x mean GPUs x mean run time.
        finite_gpu_seconds: expected GPU-seconds of the finite part (classes with a
            ``count``, batches, a trace), within the horizon if there is one.
    """

    endless_gpus: float
    finite_gpu_seconds: float

    def gpus(self, period_s: float) -> float:
        """GPUs busy on average over ``period_s`` if the finite work is spread over it."""
        return self.endless_gpus + (self.finite_gpu_seconds / period_s if period_s > 0 else 0.0)


def offered_work(scenario: Scenario) -> OfferedWork:
    """The work each class and the trace bring (expected values, before any queueing)."""
    base = scenario.base_dir
    horizon = scenario.horizon
    endless = finite = 0.0
    for cls in scenario.workload.jobs:
        _, mean_duration = duration_sampler(cls.duration, base)
        per_job = mean_gpus(cls.gpus, base) * mean_duration
        arrival = cls.arrival
        if isinstance(arrival, BatchArrival):
            if horizon is None or arrival.at <= horizon:
                finite += (cls.count or 0) * per_job
            continue
        if isinstance(arrival, PoissonArrival | DiurnalArrival):
            rate = arrival.rate
        else:
            assert isinstance(arrival, PeriodicArrival)
            rate = 1.0 / arrival.interval
        if cls.count is None:
            endless += rate * per_job
        else:
            jobs = cls.count if horizon is None else min(cls.count, rate * horizon)
            finite += jobs * per_job
    trace = scenario.workload.trace
    if trace is not None:
        table = read_trace(trace, base)
        n = len(table) if horizon is None else int(table.submit_time.searchsorted(horizon, side="right"))
        finite += float((table.gpus[:n] * table.duration[:n]).sum())
    return OfferedWork(endless, finite)
