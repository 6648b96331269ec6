"""Workload sources: one SimPy process per job class (or trace) submits its jobs at their times.

Each class draws from its own named streams (``arrivals.<class>``, ``job_sizes.<class>``,
``durations.<class>``, ``estimates.<class>``), so a policy change never changes a draw.
A trace is one source in file order, each job with its own class, tenant and priority.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from dcsim.core.rng import stream
from dcsim.infra.topology import Topology
from dcsim.metrics.collector import Collector
from dcsim.workload.arrivals import Columns, arrival_times, intensity_of, rate_windows
from dcsim.workload.distributions import count_sampler, duration_sampler
from dcsim.workload.elastic import ElasticPlan
from dcsim.workload.jobs import Checkpointing, Job
from dcsim.workload.routes import class_pools
from dcsim.workload.spec import JobClass
from dcsim.workload.trace import TraceTable, read_trace

#: Trace rows turned into Python values at a time (see Sources._trace_arrivals).
_TRACE_CHUNK = 4096

Window = tuple[float, float, float]
"""From ``start`` until ``end`` (s), arrivals come at ``factor`` times the base rate."""

Chunk = tuple[list, list, list, list]
"""Arrival times, GPU counts, run times and declared run times of some jobs of one class."""


@dataclass
class _Source:
    """Chunks of (times, gpus, durations, estimates) of one job class, with its fixed fields."""

    name: str
    tenant: str
    priority: int
    pools: tuple[int, ...]
    expected_duration: float
    chunks: Iterator[Chunk]
    checkpoint: Checkpointing | None = None
    speeds: tuple[float, ...] | None = None
    communication: tuple[str, float, float] | None = None
    checkpoint_size: float = 0.0
    elastic: ElasticPlan | None = None
    demand: Any = None


def checkpointing(spec: Any) -> Checkpointing | None:
    """A class's checkpoint block as the engine's (interval, write, restart) tuple (NaN: Young/Daly)."""
    if spec is None:
        return None
    interval = math.nan if spec.interval == "young_daly" else float(spec.interval)
    return (interval, spec.write, spec.restart)


def checkpoint_size(spec: Any) -> float:
    """Bytes of a class's sized checkpoint (0: none, or a fixed ``write`` time)."""
    return float(spec.size) if spec is not None and spec.size is not None else 0.0


def class_chunks(
    cls: JobClass, seed: int, horizon: float | None, base_dir: str, windows: list[Window] | None = None
) -> tuple[Iterator[Chunk], float]:
    """Chunks of one class's jobs, drawn from its own named streams; and its mean run time.

    ``windows`` (from the scenario's events) change the arrival rate for a while: the extra jobs
    and the thinning draw from their own streams (``<stream>.<class>.events``, ``arrivals.<class>.thin``),
    so every other job is the one of the run without them.
    """
    size_draw, _ = count_sampler(cls.gpus, base_dir)
    duration_draw, mean = duration_sampler(cls.duration, base_dir)
    names = ("arrivals", "job_sizes", "durations", "estimates")
    rngs = {k: stream(seed, f"{k}.{cls.name}") for k in names}

    def columns(rng: dict[str, Any], n: int) -> list[np.ndarray]:
        durations = duration_draw(rng["durations"], n)
        estimates = durations
        if cls.estimate_error > 0:
            estimates = durations * rng["estimates"].lognormal(0.0, cls.estimate_error, n)
        return [size_draw(rng["job_sizes"], n), durations, estimates]

    def drawn() -> Iterator[Columns]:
        for times in arrival_times(cls.arrival, rngs["arrivals"], cls.count, horizon):
            yield (times, *columns(rngs, times.size))

    def chunks() -> Iterator[Chunk]:
        parts = drawn()
        if windows:
            events = {k: stream(seed, f"{k}.{cls.name}.events") for k in names}
            peak, intensity = intensity_of(cls.arrival)
            parts = rate_windows(
                parts, windows, peak, intensity, horizon, events["arrivals"], stream(seed, f"arrivals.{cls.name}.thin"),
                lambda n: columns(events, n),  # type: ignore[arg-type,return-value]
            )  # fmt: skip
        for times, sizes, durations, estimates in parts:
            yield times.tolist(), sizes.tolist(), durations.tolist(), estimates.tolist()  # type: ignore[union-attr]

    return chunks(), mean


class Sources:
    """The workload's processes: they make jobs, record their submission and hand them to ``submit``.

    Args:
        env: the SimPy environment.
        scenario: the validated scenario (its workload).
        seed: the run seed.
        topology: for each class's pools and speeds.
        collector: receives ``job_submitted`` records.
        submit: takes each new job.
        done: called when a source has submitted its last job.
        windows: rate windows of job classes, by class index (from the scenario's events).
        sharing: the run shares GPUs: each job gets its demand (CPU, memory, a share of a GPU drawn from
            ``gpu_fractions.<class>``; see :mod:`dcsim.engine.sharing`).
    """

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Any,
        seed: int,
        topology: Topology,
        collector: Collector,
        submit: Callable[[Job], None],
        done: Callable[[], None],
        windows: dict[int, list[Window]] | None = None,
        sharing: bool = False,
    ) -> None:
        self.env, self.topology, self.collector = env, topology, collector
        self.submit, self.done = submit, done
        self.horizon = scenario.horizon
        #: Sources still submitting.
        self.open = 0
        self.next_id = 0
        #: Jobs the workload will submit, when that is known in advance (for progress).
        self.expected_jobs: int | None = None
        if self.horizon is None:
            self.expected_jobs = sum(c.count or 0 for c in scenario.workload.jobs)
        base = scenario.base_dir
        windows = windows or {}
        #: Elastic classes are resized only by the `elastic` scheduler; under another they run rigid.
        resizes = scenario.policies.scheduler.name == "elastic"
        for i, cls in enumerate(scenario.workload.jobs):
            chunks, mean = class_chunks(cls, seed, self.horizon, base, windows.get(i))
            pools = class_pools(topology, cls)
            speeds = topology.pool_rates(pools, cls.speed, cls.speed_reference)
            comm = cls.communication
            src = _Source(
                cls.name, cls.tenant, cls.priority, pools, mean, chunks, checkpointing(cls.checkpoint), speeds,
                None if comm is None else (comm.pattern, comm.bytes_per_step, comm.compute_per_step),
                checkpoint_size(cls.checkpoint), ElasticPlan(cls.elastic) if cls.elastic and resizes else None,
            )  # fmt: skip
            if sharing:
                from dcsim.engine.sharing import ClassDemand

                src.demand = ClassDemand(cls, seed)
            self.open += 1
            env.process(self._arrivals(src))
        self.sharing = sharing
        if scenario.workload.trace is not None:
            self._start_trace(scenario.workload.trace, base)

    def _start_trace(self, trace: Any, base_dir: str) -> None:
        table = read_trace(trace, base_dir)
        if self.sharing:
            from dcsim.engine.sharing import trace_demands

            self.trace_demands = trace_demands(table)
        if self.horizon is not None:
            table = table.first(int(table.submit_time.searchsorted(self.horizon, side="right")))
        pools = self.topology.allowed_pools(trace.gpu_types, trace.min_gpu_memory)
        if self.expected_jobs is not None:
            self.expected_jobs += len(table)
        # One source in file order (a stable sort by submit time), so ties keep the
        # trace's order; each job keeps its own class, tenant and priority.
        self.open += 1
        self.collector.trace_rows, self.collector.trace_ids = table.rows, table.ids
        speeds = self.topology.pool_rates(pools, trace.speed, trace.speed_reference)
        size = checkpoint_size(trace.checkpoint)
        self.env.process(self._trace_arrivals(table, pools, checkpointing(trace.checkpoint), speeds, size))

    def _trace_arrivals(
        self,
        table: TraceTable,
        pools: tuple[int, ...],
        plan: Checkpointing | None,
        speeds: tuple[float, ...] | None,
        size: float = 0.0,
    ):
        """Submit a trace's jobs at their submit times, each with its own fields.

        Rows are turned into Python values a chunk at a time, so a trace of millions of
        jobs is not held twice (as the table and as lists) through the run.
        """
        env = self.env
        col = self.collector
        submit = self.submit
        trace_jobs = col.trace_jobs
        class_mean = table.class_mean()
        classes = [(name, col.class_code(name)) for name in table.class_names]
        demands = self.trace_demands if self.sharing else None
        tenants = [(name, col.tenant_code(name)) for name in table.tenant_names]
        for first in range(0, len(table), _TRACE_CHUNK):
            part = slice(first, first + _TRACE_CHUNK)
            rows = zip(
                table.submit_time[part].tolist(), table.gpus[part].tolist(), table.duration[part].tolist(),
                table.estimate[part].tolist(), table.job_class[part].tolist(), table.tenant[part].tolist(),
                table.priority[part].tolist(), class_mean[part].tolist(),
                strict=True,
            )  # fmt: skip
            for k, (t, gpus, duration, estimate, c, u, priority, mean) in enumerate(rows):
                if t > env.now:
                    yield env.timeout(t - env.now)
                name, class_code = classes[c]
                tenant, tenant_code = tenants[u]
                job = Job(self.next_id, name, tenant, priority, gpus, duration, estimate, mean, env.now, pools)
                job.checkpoint = plan
                job.checkpoint_size = size
                job.speeds = speeds
                if demands is not None:
                    d = job.demand = demands[first + k]
                    col.demands[job.id] = d
                self.next_id += 1
                col.on_job_submitted(env.now, class_code, tenant_code, priority, gpus, duration, estimate)
                trace_jobs.append(job.id)
                submit(job)
        self.open -= 1
        self.done()

    def _arrivals(self, src: _Source):
        """Submit the source's jobs at their arrival times."""
        env = self.env
        col = self.collector
        submit = self.submit
        class_code = col.class_code(src.name)
        tenant_code = col.tenant_code(src.tenant)
        plan = src.checkpoint
        speeds = src.speeds
        comm = src.communication
        size = src.checkpoint_size
        elastic = src.elastic
        demand = src.demand
        demands = col.demands if demand is not None else None
        for times, sizes, durations, estimates in src.chunks:
            for t, gpus, duration, estimate in zip(times, sizes, durations, estimates, strict=True):
                if t > env.now:
                    yield env.timeout(t - env.now)
                job = Job(self.next_id, src.name, src.tenant, src.priority, gpus, duration, estimate,
                          src.expected_duration, env.now, src.pools)  # fmt: skip
                if plan is not None:
                    job.checkpoint = plan
                    job.checkpoint_size = size
                if speeds is not None:
                    job.speeds = speeds
                if comm is not None:
                    job.communication = comm
                if elastic is not None:
                    job.elastic = elastic
                if demand is not None:
                    d = job.demand = demand(gpus)
                    demands[job.id] = d  # type: ignore[index]
                self.next_id += 1
                col.on_job_submitted(env.now, class_code, tenant_code, src.priority, gpus, duration, estimate)
                submit(job)
        self.open -= 1
        self.done()


__all__ = ["Sources", "checkpoint_size", "checkpointing", "class_chunks"]
