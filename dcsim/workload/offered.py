"""Offered load: the GPU demand a workload brings, before any queueing.

Classes that never stop offer ``rate x mean GPUs x mean run time`` GPUs in steady
state; if that exceeds the installed GPUs, the queue grows without bound whatever
the policy. Finite work (a ``count``, a batch, a trace) is a total of GPU-seconds,
spread over the horizon (or the run) to compare it with capacity.

Run times are on each class's reference GPU type; where GPU types differ in speed
(given the topology), a class's work is divided by its mean rate over the GPUs it may
use (weighted by their number), so that the load is in GPU time as the run will spend it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dcsim.workload.distributions import duration_sampler, read_column, resolve
from dcsim.workload.spec import (
    BatchArrival,
    ChoiceCount,
    DiurnalArrival,
    EmpiricalCount,
    PeriodicArrival,
    PoissonArrival,
)
from dcsim.workload.trace import read_trace

if TYPE_CHECKING:
    from dcsim.infra.topology import Topology
    from dcsim.scenario.schema import Scenario  # annotation only: the schema composes this package's spec


def mean_rate(
    topology: Topology | None, gpu_types: list[str] | None, memory: float | None, speed: object, reference: str | None
) -> float:
    """A class's rate averaged over the GPUs it may use (1 without a topology or where speeds are equal)."""
    if topology is None:
        return 1.0
    pools = topology.allowed_pools(gpu_types, memory)
    rates = topology.pool_rates(pools, speed, reference)  # type: ignore[arg-type]
    if rates is None:
        return 1.0
    gpus = sum(topology.pools[p].gpus for p in pools)
    return sum(topology.pools[p].gpus * rates[p] for p in pools) / gpus


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


def mean_fraction(spec: object) -> float:
    """The mean share of a GPU a class's jobs take (1: whole GPUs)."""
    if spec is None:
        return 1.0
    if isinstance(spec, float | int):
        return float(spec)
    values = list(spec.values)  # type: ignore[attr-defined]
    weights = list(spec.weights) if spec.weights is not None else [1.0] * len(values)  # type: ignore[attr-defined]
    return sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights)


def offered_work(scenario: Scenario, topology: Topology | None = None) -> OfferedWork:
    """The work each class and the trace bring (expected values, before any queueing).

    Args:
        scenario: the validated scenario.
        topology: its data center, to count GPU-type speeds (None: every class at rate 1).
    """
    base = scenario.base_dir
    horizon = scenario.horizon
    endless = finite = 0.0
    for cls in scenario.workload.jobs:
        _, mean_duration = duration_sampler(cls.duration, base)
        rate_on_gpus = mean_rate(topology, cls.gpu_types, cls.min_gpu_memory, cls.speed, cls.speed_reference)
        per_job = mean_gpus(cls.gpus, base) * mean_fraction(cls.gpu_fraction) * mean_duration / rate_on_gpus
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
        speed = mean_rate(topology, trace.gpu_types, trace.min_gpu_memory, trace.speed, trace.speed_reference)
        finite += float((table.gpus[:n] * table.duration[:n]).sum()) / speed
    return OfferedWork(endless, finite)
