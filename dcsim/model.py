"""The data center model: workload sources, the queue, scheduling and placement on SimPy.

One process per job class (or trace) submits jobs at their arrival times; a job's
completion is a SimPy timeout whose callback releases its GPUs and runs a
scheduling pass. There is no process per job or per GPU, which keeps a million
jobs within a small factor of bare SimPy. Policies decide; this module applies
their decisions and emits records to the collector. It does no metric arithmetic.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from heapq import heapify, heappop, heappush
from itertools import islice
from typing import Any

from dcsim.core.errors import PlacementError
from dcsim.core.registry import guarded
from dcsim.core.rng import stream
from dcsim.core.sim import Simulation
from dcsim.faults import checkpoint as ckpt
from dcsim.infra.cluster import Cluster
from dcsim.infra.topology import build_topology
from dcsim.metrics.collector import Collector
from dcsim.policies import PLACEMENT, SCHEDULER
from dcsim.scenario.schema import Scenario
from dcsim.views import Fleet
from dcsim.workload.arrivals import arrival_times
from dcsim.workload.distributions import count_sampler, duration_sampler
from dcsim.workload.jobs import COMPLETED, INTERRUPTED, QUEUED, RUNNING, Checkpointing, Job
from dcsim.workload.queue import JobQueue
from dcsim.workload.spec import JobClass
from dcsim.workload.trace import TraceTable, read_trace

ProgressHook = Callable[["DataCenterModel"], None]

#: Trace rows turned into Python values at a time (see DataCenterModel._trace_arrivals).
_TRACE_CHUNK = 4096


@dataclass
class _Source:
    """Chunks of (times, gpus, durations, estimates) of one job class, with its fixed fields."""

    name: str
    tenant: str
    priority: int
    pools: tuple[int, ...]
    expected_duration: float
    chunks: Iterator[tuple[list, list, list, list]]
    checkpoint: Checkpointing | None = None
    speeds: tuple[float, ...] | None = None


def checkpointing(spec: Any) -> Checkpointing | None:
    """A class's checkpoint block as the engine's (interval, write, restart) tuple (NaN: Young/Daly)."""
    if spec is None:
        return None
    interval = math.nan if spec.interval == "young_daly" else float(spec.interval)
    return (interval, spec.write, spec.restart)


def class_chunks(
    cls: JobClass, seed: int, horizon: float | None, base_dir: str
) -> tuple[Iterator[tuple[list, list, list, list]], float]:
    """Chunks of one class's jobs, drawn from its own named streams; and its mean run time.

    Streams: ``arrivals.<class>``, ``job_sizes.<class>``, ``durations.<class>``,
    ``estimates.<class>``: a policy change never changes a draw.
    """
    size_draw, _ = count_sampler(cls.gpus, base_dir)
    duration_draw, mean = duration_sampler(cls.duration, base_dir)
    rngs = {k: stream(seed, f"{k}.{cls.name}") for k in ("arrivals", "job_sizes", "durations", "estimates")}

    def chunks() -> Iterator[tuple[list, list, list, list]]:
        for times in arrival_times(cls.arrival, rngs["arrivals"], cls.count, horizon):
            n = times.size
            durations = duration_draw(rngs["durations"], n)
            estimates = durations
            if cls.estimate_error > 0:
                estimates = durations * rngs["estimates"].lognormal(0.0, cls.estimate_error, n)
            yield times.tolist(), size_draw(rngs["job_sizes"], n).tolist(), durations.tolist(), estimates.tolist()

    return chunks(), mean


def declares(policy: object, flag: str) -> bool:
    """True if ``policy``'s own class (or a built-in rule) sets ``flag``; subclasses do not inherit it."""
    cls = type(policy)
    return cls in PLACEMENT.builtins() or bool(cls.__dict__.get(flag, False))


class DataCenterModel:
    """GPU data center under a training workload, for one scenario and seed.

    Args:
        scenario: the validated scenario.
        seed: the run seed (overrides ``scenario.seed``).
        collector: receives the event records (a new one if None).
        progress: called at every timeseries sample (for progress displays).
    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int | None = None,
        collector: Collector | None = None,
        progress: ProgressHook | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.sim = Simulation()
        self.env = self.sim.env
        self.topology = build_topology(scenario.datacenter)
        self.cluster = Cluster(self.topology)
        self.collector = collector or Collector()
        self.progress = progress
        pol = scenario.policies
        self.scheduler = SCHEDULER.create(
            pol.scheduler.name, pol.scheduler.params, stream(self.seed, "policy.scheduler")
        )
        self.placement = PLACEMENT.create(
            pol.placement.name, pol.placement.params, stream(self.seed, "policy.placement")
        )
        # A plug-in's exceptions are reported as its own; built-ins are called directly.
        self.place = guarded(self.placement, "place", "placement", pol.placement.name, PLACEMENT)
        self.sort_key = guarded(self.scheduler, "key", "scheduler", pol.scheduler.name, SCHEDULER)
        # Shortcuts the built-in placement rules allow (see PlacementPolicy).
        self._trusted = declares(self.placement, "valid_by_construction")
        self._class_heads = declares(self.placement, "uniform_in_class")
        #: A batch scheduler (``batch = True``, such as ``lp``) decides per epoch, not per event.
        self.batch = bool(getattr(type(self.scheduler), "batch", False))
        self._epoch_pending = False
        #: Start times of jobs started by the pass that keeps a batch scheduler work-conserving (see _epoch).
        self.guard_starts: list[float] = []
        if self.batch:
            self.decide = guarded(self.scheduler, "decide", "scheduler", pol.scheduler.name, SCHEDULER)
            self._plans_checked = type(self.scheduler) not in SCHEDULER.builtins()
        self.queue = JobQueue(by_class=self.scheduler.backfill and self._class_heads and not self.batch)
        self.running = 0
        self.horizon = scenario.horizon
        self.sample_interval = scenario.metrics.sample_interval or (self.horizon / 1000 if self.horizon else 300.0)
        self._open_sources = 0
        self._next_id = 0
        #: Jobs left queued with nothing running and nothing arriving (a run without horizon stops).
        self.stuck_jobs = 0
        self.drained = self.env.event()
        # Fixed per-pool power figures for timeseries samples.
        self._pool_power = [
            (len(p.nodes) * p.base_power_w + p.gpus * p.gpu_idle_power_w, p.gpu_power_w - p.gpu_idle_power_w)
            for p in self.topology.pools
        ]
        #: Jobs the workload will submit, when that is known in advance (for progress).
        self.expected_jobs: int | None = None
        if self.horizon is None:
            self.expected_jobs = sum(c.count or 0 for c in scenario.workload.jobs)
        wl = scenario.workload
        checkpoints = any(c.checkpoint is not None for c in wl.jobs) or (wl.trace is not None and wl.trace.checkpoint)
        reliability = scenario.failures is not None or bool(scenario.maintenance)
        #: Jobs on each node and every running job, kept only when failures, maintenance or
        #: checkpoints need them (the plain engine stays lean).
        self.track = reliability or bool(checkpoints)
        self.node_jobs: list[list[Job]] = [[] for _ in self.cluster.free] if self.track else []
        self.running_jobs: dict[int, Job] = {}
        self.rel = None
        if reliability:
            from dcsim.faults.engine import Reliability

            self.rel = Reliability(
                self.env, self.scenario, self.topology, self.cluster, self.collector, self.seed,
                holders=self.node_jobs.__getitem__, lose=self.interrupt, capacity_changed=self.capacity_changed,
            )  # fmt: skip
        if self.batch:
            self._bind_batch()
        self._start_sources()
        self.env.process(self._sampler())
        self._check_drained()

    # ------------------------------------------------------------------ workload
    def _start_sources(self) -> None:
        sc = self.scenario
        base = sc.base_dir
        for cls in sc.workload.jobs:
            chunks, mean = class_chunks(cls, self.seed, self.horizon, base)
            pools = self.topology.allowed_pools(cls.gpu_types, cls.min_gpu_memory)
            speeds = self.topology.pool_rates(pools, cls.speed, cls.speed_reference)
            src = _Source(
                cls.name, cls.tenant, cls.priority, pools, mean, chunks, checkpointing(cls.checkpoint), speeds
            )
            self._add_source(src)
        if sc.workload.trace is not None:
            self._start_trace()

    def _add_source(self, source: _Source) -> None:
        self._open_sources += 1
        self.env.process(self._arrivals(source))

    def _start_trace(self) -> None:
        trace = self.scenario.workload.trace
        assert trace is not None
        table = read_trace(trace, self.scenario.base_dir)
        if self.horizon is not None:
            table = table.first(int(table.submit_time.searchsorted(self.horizon, side="right")))
        pools = self.topology.allowed_pools(trace.gpu_types, trace.min_gpu_memory)
        if self.expected_jobs is not None:
            self.expected_jobs += len(table)
        # One source in file order (a stable sort by submit time), so ties keep the
        # trace's order; each job keeps its own class, tenant and priority.
        self._open_sources += 1
        plan = checkpointing(trace.checkpoint)
        self.collector.trace_rows, self.collector.trace_ids = table.rows, table.ids
        speeds = self.topology.pool_rates(pools, trace.speed, trace.speed_reference)
        self.env.process(self._trace_arrivals(table, pools, plan, speeds))

    def _trace_arrivals(
        self, table: TraceTable, pools: tuple[int, ...], plan: Checkpointing | None, speeds: tuple[float, ...] | None
    ):
        """Submit a trace's jobs at their submit times, each with its own fields.

        Rows are turned into Python values a chunk at a time, so a trace of millions of
        jobs is not held twice (as the table and as lists) through the run.
        """
        env = self.env
        col = self.collector
        trace_jobs = col.trace_jobs
        class_mean = table.class_mean()
        classes = [(name, col.class_code(name)) for name in table.class_names]
        tenants = [(name, col.tenant_code(name)) for name in table.tenant_names]
        for first in range(0, len(table), _TRACE_CHUNK):
            part = slice(first, first + _TRACE_CHUNK)
            rows = zip(
                table.submit_time[part].tolist(), table.gpus[part].tolist(), table.duration[part].tolist(),
                table.estimate[part].tolist(), table.job_class[part].tolist(), table.tenant[part].tolist(),
                table.priority[part].tolist(), class_mean[part].tolist(),
                strict=True,
            )  # fmt: skip
            for t, gpus, duration, estimate, c, u, priority, mean in rows:
                if t > env.now:
                    yield env.timeout(t - env.now)
                name, class_code = classes[c]
                tenant, tenant_code = tenants[u]
                job = Job(self._next_id, name, tenant, priority, gpus, duration, estimate, mean, env.now, pools)
                job.checkpoint = plan
                job.speeds = speeds
                self._next_id += 1
                col.on_job_submitted(env.now, class_code, tenant_code, priority, gpus, duration, estimate)
                trace_jobs.append(job.id)
                self._submit(job)
        self._open_sources -= 1
        self._check_drained()

    def _arrivals(self, src: _Source):
        """Submit the source's jobs at their arrival times."""
        env = self.env
        col = self.collector
        class_code = col.class_code(src.name)
        tenant_code = col.tenant_code(src.tenant)
        plan = src.checkpoint
        speeds = src.speeds
        for times, sizes, durations, estimates in src.chunks:
            for t, gpus, duration, estimate in zip(times, sizes, durations, estimates, strict=True):
                if t > env.now:
                    yield env.timeout(t - env.now)
                job = Job(self._next_id, src.name, src.tenant, src.priority, gpus, duration, estimate,
                          src.expected_duration, env.now, src.pools)  # fmt: skip
                if plan is not None:
                    job.checkpoint = plan
                if speeds is not None:
                    job.speeds = speeds
                self._next_id += 1
                col.on_job_submitted(env.now, class_code, tenant_code, src.priority, gpus, duration, estimate)
                self._submit(job)
        self._open_sources -= 1
        self._check_drained()

    # ------------------------------------------------------------------ scheduling
    def _bind_batch(self) -> None:
        """Give a batch scheduler the pools' prices and failure rates, and start its periodic epochs."""
        costs = self.scenario.site_costs()  # each pool at its site's prices
        kwh = {site: c.electricity_usd_per_kwh * c.pue / 1000.0 for site, c in costs.items()}
        pools = self.topology.pools
        price = tuple(costs[p.site].gpu_hour_price(p.gpu_type) for p in pools)
        energy = tuple((p.gpu_power_w - p.gpu_idle_power_w) * kwh[p.site] for p in pools)
        rel = self.rel
        rates = tuple(rel.pool_rates(p.id) if rel is not None else (0.0, 0.0, 0.0, 0.0) for p in pools)
        bind = getattr(self.scheduler, "bind", None)
        if bind is not None:
            bind(Fleet(price, energy, rates))
        self.env.process(self._periodic_epochs(float(getattr(self.scheduler, "period", 300.0))))

    def _periodic_epochs(self, period: float):
        while True:
            yield self.env.timeout(period)
            if len(self.queue) and not self._epoch_pending:
                self._epoch()

    def _request_epoch(self) -> None:
        """Ask for an epoch after the scheduler's ``delay``; requests meanwhile share it."""
        if not self._epoch_pending:
            self._epoch_pending = True
            self.env.timeout(float(getattr(self.scheduler, "delay", 0.0))).callbacks.append(self._epoch)

    def _epoch(self, _event: Any = None) -> None:
        """One batch decision over the first ``window`` queued jobs.

        The scheduler returns (job, placement) pairs, each started before the next is
        asked for; or None when it has no answer (say a solver time-out), and then the
        plain backfill pass with the placement policy decides instead. If the scheduler
        leaves every GPU idle while a queued job fits, that pass runs too, so a held-back
        job cannot wait forever on an idle cluster.
        """
        self._epoch_pending = False
        queue = self.queue
        if len(queue):
            jobs = list(islice(queue, int(getattr(self.scheduler, "window", 200))))
            plan = self.decide(jobs, self.cluster, self.env.now)
            if plan is None:
                self._backfill_scan()
            else:
                for job, placement in plan:
                    if job.state != QUEUED:
                        raise PlacementError(f"scheduler {self.scenario.policies.scheduler.name!r} started job "
                                             f"{job.id} twice in one epoch")  # fmt: skip
                    if self._plans_checked:
                        self._check_placement(job, placement, self.scenario.policies.scheduler.name)
                    self._start(job, placement)
                    queue.discard(job)
            if not self.running and len(queue):
                self._backfill_scan()
                self.guard_starts += [self.env.now] * self.running
        self._check_drained()

    def _submit(self, job: Job) -> None:
        """Queue a job; try to start it if it could run now.

        Invariant: after every scheduling pass, no queued job that the scheduler would
        offer can be placed. So a new job needs a try only if it is first in line (or
        backfill is on); the rest of the queue needs none, as capacity did not grow.
        """
        first = self.queue.push(self.sort_key(job), job)
        if self.batch:
            self._request_epoch()
        elif first or self.scheduler.backfill:
            placement = self.place(job, self.cluster)
            if placement is not None:
                self._start(job, placement)
                self.queue.discard(job)

    def _schedule(self) -> None:
        """Start queued jobs in scheduler order while they fit (strict) or wherever they fit (backfill).

        A batch scheduler decides at its next epoch instead.
        """
        if self.batch:
            self._request_epoch()
            return
        queue = self.queue
        place = self.place
        cluster = self.cluster
        if not self.scheduler.backfill:
            while (job := queue.first()) is not None:
                placement = place(job, cluster)
                if placement is None:
                    return
                self._start(job, placement)
                queue.discard(job)
            return
        # Backfill: offer jobs in queue order; start each that fits.
        if self._class_heads:
            self._backfill_class_heads()
        else:
            self._backfill_scan()

    def _backfill_scan(self) -> None:
        """The plain backfill rule: offer every queued job, in order. O(queue) per pass."""
        queue, cluster, place = self.queue, self.cluster, self.place
        started = []
        for job in queue:
            if cluster.busy_gpus + cluster.down_gpus >= cluster.installed_gpus:
                break
            placement = place(job, cluster)
            if placement is not None:
                self._start(job, placement)  # its state changes, so iteration skips it
                started.append(job)
        for job in started:  # after the loop: discarding may compact the list
            queue.discard(job)

    def _backfill_class_heads(self) -> None:
        """The backfill rule looking at job-class heads only: O(classes log classes) per pass.

        Valid when placement is uniform in a class (pools, GPUs): if a job of g GPUs does
        not fit, no job with the same pools and >= g GPUs fits, so those are skipped
        unseen, and the jobs started, in order, are those of :meth:`_backfill_scan`.
        """
        queue, cluster, place = self.queue, self.cluster, self.place
        assert queue.classes is not None
        runs = queue.classes
        heads = [(entry, key) for key, run in runs.items() if (entry := run.first()) is not None]
        heapify(heads)
        smallest_failure: dict[tuple[int, ...], int] = {}
        while heads and cluster.busy_gpus + cluster.down_gpus < cluster.installed_gpus:
            (_, _, job), key = heappop(heads)
            limit = smallest_failure.get(job.pools)
            if limit is not None and job.gpus >= limit:
                continue  # the whole class is out for this pass
            placement = place(job, cluster)
            if placement is None:
                smallest_failure[job.pools] = job.gpus
                continue
            self._start(job, placement)
            queue.discard(job)
            entry = runs[key].first()
            if entry is not None:
                heappush(heads, (entry, key))

    def _check_placement(self, job: Job, placement: list[tuple[int, int]], name: str | None = None) -> None:
        """Refuse a plug-in's placement that does not fit the job or the free GPUs.

        Raises:
            PlacementError: names the policy (``name``; default the placement policy) and what is wrong.
        """
        cluster = self.cluster
        name = name or self.scenario.policies.placement.name
        nodes = [n for n, _ in placement]
        problem = None
        if not placement:
            problem = "an empty placement (return None to leave the job queued)"
        elif sum(g for _, g in placement) != job.gpus:
            problem = f"{sum(g for _, g in placement)} GPUs for a job of {job.gpus}"
        elif len(set(nodes)) != len(nodes):
            problem = f"a node twice in {placement}"
        else:
            for node, gpus in placement:
                if not 0 <= node < len(cluster.free) or cluster.node_pool[node] not in job.pools:
                    problem = f"node {node}, outside the job's pools {list(job.pools)}"
                elif gpus < 1 or cluster.free[node] < gpus:
                    problem = f"{gpus} GPUs on node {node}, which has {cluster.free[node]} free"
                if problem:
                    break
        if problem:
            raise PlacementError(f"policy {name!r} gave job {job.id} {problem}")

    def _start(self, job: Job, placement: list[tuple[int, int]]) -> None:
        """Give a job its GPUs and schedule its completion."""
        if not self._trusted:
            self._check_placement(job, placement)
        cluster = self.cluster
        cluster.allocate(placement)
        job.state = RUNNING
        job.placement = placement
        job.start_time = now = self.env.now
        self.running += 1
        racks = len({cluster.node_rack[n] for n, _ in placement}) if len(placement) > 1 else 1
        first = placement[0][0]
        self.collector.on_job_started(
            now, job.id, cluster.node_pool[first], first, len(placement), racks, cluster.locality(placement)
        )
        speeds = job.speeds
        if speeds is not None:  # a job spanning GPU types runs at its slowest GPU
            job.rate = min(speeds[cluster.node_pool[n]] for n, _ in placement)
        rate = job.rate
        if not self.track:
            self.env.timeout(job.duration / rate, job).callbacks.append(self._finish)
            return
        node_jobs = self.node_jobs
        for n, _ in placement:
            node_jobs[n].append(job)
        self.running_jobs[job.id] = job
        wall = job.work_left / rate
        if job.checkpoint is not None:
            interval, write, _ = job.checkpoint
            if interval != interval:  # NaN: Young/Daly for this placement, in wall time: as work, at this rate
                mtti = self.rel.mtti(placement) if self.rel is not None else math.inf
                interval = max(ckpt.daly(write, mtti), 1.0) * rate
            job.run_interval = interval
            if not job.restarts:
                self.collector.checkpoint_intervals[job.id] = interval
            wall = ckpt.wall_time(job.work_left, interval, write, job.restart_cost, rate)
        elif job.restart_cost:
            wall += job.restart_cost
        self.env.timeout(wall, job).callbacks.append(self._finish)

    def set_rate(self, job: Job, rate: float) -> None:
        """Change the speed of a running job (s of work per s) from now on, and move its end.

        The run's progress is settled at the old rate (work done, checkpoint phase), the
        job's token bumped so that its pending end event goes stale, and one new end event
        scheduled. A run whose rate never changes keeps its single timeout.
        """
        if job.state != RUNNING:
            return
        now = self.env.now
        clock = job.clock
        if clock is None:
            plan = job.checkpoint
            write = plan[1] if plan is not None else 0.0
            clock = job.clock = ckpt.RunClock(job.work_left, job.run_interval, write, job.restart_cost, job.rate,
                                              job.start_time)  # fmt: skip
        clock.advance(now)
        clock.rate = job.rate = rate
        job.token += 1
        left = clock.wall_left()
        if left < math.inf:
            self.env.timeout(left, (job, job.token)).callbacks.append(self._finish)

    def _progress(self, job: Job, now: float) -> ckpt.Progress:
        """Where the job's run stands at ``now``."""
        if job.clock is not None:
            return job.clock.at(now)
        plan = job.checkpoint
        write = plan[1] if plan is not None else 0.0
        return ckpt.progress(now - job.start_time, job.work_left, job.run_interval, write, job.restart_cost, job.rate)

    def _left(self, job: Job) -> None:
        """A running job gave back its GPUs (finished or interrupted)."""
        self.cluster.release(job.placement)
        self.running -= 1
        if self.track:
            for n, _ in job.placement:
                self.node_jobs[n].remove(job)
            del self.running_jobs[job.id]
            if self.cluster.cordoned and self.rel is not None:
                self.rel.released(job.placement)

    def _overhead(self, job: Job, end: float, lost: float) -> None:
        """Record the restart and checkpoint time (and work lost) of the job's run ending at ``end``."""
        p = self._progress(job, end)
        if p.restart or p.checkpoint or lost:
            self.collector.on_overhead(job.id, job.start_time, end, p.restart, p.checkpoint, lost)

    def _finish(self, event) -> None:
        """Completion callback: release the GPUs and schedule (a stale one, of an interrupted run, does nothing)."""
        job = event.value
        if job.__class__ is tuple:  # an end moved by a rate change: only the latest counts
            job, token = job
            if token != job.token:
                return
        elif job.token:
            return
        if job.state != RUNNING:
            return
        if self.track and (job.checkpoint is not None or job.restart_cost):
            self._overhead(job, self.env.now, 0.0)
        self._left(job)
        job.state = COMPLETED
        self.collector.on_job_finished(self.env.now, job.id)
        if len(self.queue):
            self._schedule()
        self._check_drained()

    def interrupt(self, job: Job, failure: Any) -> None:
        """Cut a running job short: by a failure, or evicted for maintenance (``failure`` None).

        Work since the last completed checkpoint is lost; an evicted job with
        checkpointing writes one as it leaves (its write time is paid at its restart).
        The job goes back to the queue (at its scheduler's place), or fails after
        ``max_restarts`` interruptions. The caller runs the scheduling pass.
        """
        now = self.env.now
        plan = job.checkpoint
        _, write, restart = plan if plan is not None else (math.inf, 0.0, 0.0)
        p = self._progress(job, now)
        saved, lost = p.saved, p.unsaved_wall
        restart_cost = restart
        if failure is None and plan is not None:
            saved, lost = p.saved + p.unsaved, 0.0
            # The checkpoint written on the way out is paid at the restart; with nothing
            # new to save (evicted while restarting) there is none to write.
            restart_cost = restart + (write if p.unsaved > 0 else 0.0)
        if p.restart or p.checkpoint or lost:
            self.collector.on_overhead(job.id, job.start_time, now, p.restart, p.checkpoint, lost)
        self._left(job)
        job.state = INTERRUPTED
        again = job.requeued(job.work_left - saved, failed=failure is not None)
        again.restart_cost = restart_cost
        limit = self.rel.max_restarts if self.rel is not None else None
        requeue = limit is None or again.interruptions <= limit  # maintenance evictions do not count
        fid = -1 if failure is None else failure.id
        if failure is not None:
            failure.jobs_hit += 1
        self.collector.on_job_interrupted(now, job.id, fid, lost, restart_cost if requeue else 0.0, requeue)
        if requeue:
            self.queue.push(self.sort_key(again), again)

    def capacity_changed(self) -> None:
        """GPUs went out of or back into service: record the level and run a scheduling pass."""
        self.collector.on_down(self.env.now, self.cluster.down_gpus)
        if len(self.queue):
            self._schedule()
        self._check_drained()

    def _check_drained(self) -> None:
        """End a run without horizon once nothing more can happen.

        That is when every source is done and nothing runs: the queue is then empty, or
        stuck (no completion will ever free GPUs for it), which is reported.
        """
        if self._open_sources or self.running or self.drained.triggered or self._epoch_pending:
            return
        if len(self.queue) and self.rel is not None and self.rel.outages:
            return  # capacity is out of service and will come back
        if len(self.queue):
            if self.horizon is not None:
                return  # the run goes on to its horizon; the queue is counted there
            self.stuck_jobs = len(self.queue)
        self.drained.succeed()

    # ------------------------------------------------------------------ timeseries
    def power_w(self) -> float:
        """IT power now, W (PUE is applied in scoring)."""
        total = 0.0
        free = self.cluster.pool_free
        down = self.cluster.pool_down
        for i, (fixed, per_busy) in enumerate(self._pool_power):
            total += fixed + per_busy * (self.topology.pools[i].gpus - free[i] - down[i])
        return total

    def _sampler(self):
        env = self.env
        col = self.collector
        while True:
            col.on_sample(env.now, self.cluster.busy_gpus, len(self.queue), self.running, self.power_w())
            if self.progress is not None:
                self.progress(self)
            yield env.timeout(self.sample_interval)

    # ------------------------------------------------------------------ running
    def run(self) -> float:
        """Run to the horizon, or until the workload drains; return the end time, s.

        Per-job objects are acyclic (reference counting frees them), so the cyclic
        garbage collector only re-scans the live jobs again and again; at a million jobs
        that cost more than the simulation. It runs rarely during the run (thresholds
        raised, setup objects frozen) and as before afterwards.
        """
        thresholds = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(200_000, 50, 1_000)
        try:
            if self.horizon is not None:
                self.env.run(until=self.horizon)
            else:
                self.env.run(until=self.drained)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
        end = float(self.env.now)
        col = self.collector
        for job in self.running_jobs.values():  # runs cut by the end: nothing lost (yet)
            if job.checkpoint is not None or job.restart_cost:
                self._overhead(job, end, 0.0)
        if not col.samples["time"] or col.samples["time"][-1] < end:
            col.on_sample(end, self.cluster.busy_gpus, len(self.queue), self.running, self.power_w())
        return end

    @property
    def now(self) -> float:
        """Simulated time, s."""
        return float(self.env.now)


__all__ = ["DataCenterModel", "class_chunks"]
