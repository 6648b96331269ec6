"""The data center model: wiring only.

It builds the parts of one run and connects them: the workload's sources submit jobs
to the dispatcher, which applies the scheduler's decisions; runs hold GPUs until they
end or are lost; the reliability machinery (failures, repairs, maintenance) knows runs
only as holders. There is no process per job or per GPU, which keeps a million jobs
within a small factor of bare SimPy. Policies decide; the engine applies their
decisions and emits records to the collector. It does no metric arithmetic.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from typing import Any

from dcsim.core.sim import Simulation
from dcsim.engine.dispatch import Dispatcher
from dcsim.engine.events import later_racks, with_later_racks
from dcsim.engine.runs import Runs
from dcsim.engine.sources import Sources
from dcsim.faults.spec import fabric_named
from dcsim.infra.cluster import Cluster
from dcsim.infra.components import TREE
from dcsim.infra.sharing import UNLIMITED, SharedCluster
from dcsim.infra.sites import SiteTimes
from dcsim.infra.topology import build_topology
from dcsim.metrics.collector import Collector
from dcsim.policies.scheduling import KeyOrder
from dcsim.scenario.events import arrival_windows
from dcsim.views import Fleet, network_view
from dcsim.workload.jobs import Job
from dcsim.workload.sharing import uses_sharing

ProgressHook = Callable[["DataCenterModel"], None]


class DataCenterModel:
    """GPU data center under a training workload, for one scenario and seed.

    Args:
        scenario: the validated scenario.
        seed: the run seed (overrides ``scenario.seed``).
        collector: receives the event records (a new one if None).
        progress: called at every timeseries sample (for progress displays).
        site_times: each site's prices, carbon and clock for a site router and the services' geo
            balancers (:class:`dcsim.infra.sites.SiteTimes`; default: the scenario's).
    """

    def __init__(
        self,
        scenario: Any,
        seed: int | None = None,
        collector: Collector | None = None,
        progress: ProgressHook | None = None,
        site_times: Any = None,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.sim = Simulation()
        self.env = self.sim.env
        events = scenario.events
        #: The layout, with the racks timed events add later (absent until then).
        self.topology = build_topology(with_later_racks(scenario.datacenter, later_racks(scenario)))
        #: GPUs are shared (CPU, memory, shares of a GPU, CPU-only jobs: see dcsim.engine.sharing).
        self.sharing = uses_sharing(scenario)
        self.cluster = SharedCluster(self.topology) if self.sharing else Cluster(self.topology)
        self.collector = collector or Collector()
        self.progress = progress
        self.horizon = scenario.horizon
        self.sample_interval = scenario.metrics.sample_interval or (self.horizon / 1000 if self.horizon else 300.0)
        #: Jobs left queued with nothing running and nothing arriving (a run without horizon stops).
        self.stuck_jobs = 0
        self.drained = self.env.event()
        # Fixed per-pool power figures for timeseries samples.
        self._pool_power = [
            (len(p.nodes) * p.base_power_w + p.gpus * p.gpu_idle_power_w, p.gpu_power_w - p.gpu_idle_power_w)
            for p in self.topology.pools
        ]
        wl = scenario.workload
        checkpoints = any(c.checkpoint is not None for c in wl.jobs) or (wl.trace is not None and wl.trace.checkpoint)
        units = any(e.action in ("fail", "add_racks", "remove_racks") for e in events)
        reliability = scenario.failures is not None or bool(scenario.maintenance) or units
        talks = any(c.communication is not None and c.communication.pattern != "none" for c in wl.jobs)
        named = fabric_named(scenario.failures, scenario.maintenance)
        #: The sites' fabrics: built when a job class communicates or links or switches fail or are maintained.
        self.fabric = None
        if talks or named:
            from dcsim.infra.fabrics import Fabric

            self.fabric = Fabric(self.topology, scenario.base_dir)
        self.runs = runs = Runs(self.env, self.cluster, self.collector, False, self._ended, self._requeue)
        partition = None
        if scenario.policies.site_router is not None:  # each site's queue keeps its own order
            names = self.topology.site_names
            pool_site = [names.index(p.site) for p in self.topology.pools]
            partition = lambda job: pool_site[job.pools[0]]  # noqa: E731
        #: The tenants' quotas, usage and shares, with a ``tenants`` block.
        self.tenancy = None
        if scenario.tenants:
            from dcsim.engine.tenancy import Tenancy

            pools = self.topology.pools
            env = self.env
            self.tenancy = runs.tenancy = Tenancy(
                scenario.tenants, scenario.preemption, [p.gpu_type for p in pools], self.cluster.node_pool,
                self.topology.n_gpus, lambda: env.now,
            )  # fmt: skip
        self.dispatch = Dispatcher(
            self.env, scenario.policies, self.seed, self.cluster, runs, self.check_drained, partition,
            self.tenancy, scenario.preemption.grace,
        )  # fmt: skip
        #: Runs are tracked (per node, by id) only when failures, maintenance, checkpoints or
        #: preemption need them: the plain engine stays lean.
        elastic = scenario.policies.scheduler.name == "elastic" and any(
            c.elastic is not None for c in wl.jobs
        )  # a resize finds its job's nodes
        preempts = self.dispatch.scheduler.preempts or (self.tenancy is not None and self.tenancy.preempts)
        self.track = (
            reliability or bool(checkpoints) or preempts or bool(scenario.services)
            or elastic or getattr(self.dispatch.scheduler, "tracks_runs", False)
        )  # fmt: skip
        runs.save_on_preempt = scenario.preemption.save == "on_preemption"
        if self.track:
            runs.track = True
            runs.node_jobs = [[] for _ in self.cluster.free]
        self.rel = None
        if reliability:
            from dcsim.engine.reliability import Reliability

            self.rel = runs.rel = Reliability(
                self.env, scenario, self.topology, self.cluster, self.collector, self.seed,
                holders=runs.holders, capacity_changed=self.capacity_changed,
                fabric=self.fabric if named else None, fabric_changed=self._fabric_changed,
            )  # fmt: skip
        if talks:
            from dcsim.engine.network import Network

            env = self.env
            runs.network = Network(
                self.topology, self.collector, runs.set_rate, runs.progress, lambda: env.now, scenario.warmup,
                self.fabric,
            )  # fmt: skip
            self.cluster.network = network_view(runs.network)  # what placement and scheduling read of it
        #: The sites' storage, when a checkpoint has a size (its writes and reads share it).
        self.storage = None
        sized = any(c.checkpoint is not None and c.checkpoint.size for c in wl.jobs) or (
            wl.trace is not None and wl.trace.checkpoint is not None and wl.trace.checkpoint.size
        )
        loads = any(s.model.size and s.cold_start is None for s in scenario.services)
        if sized or loads:
            from dcsim.engine.storage import SizedCheckpoints, Storage

            self.storage = Storage(self.topology, self.collector, self.env, scenario.warmup)
            if sized:
                runs.sized = SizedCheckpoints(self.storage, self.env, runs.complete, runs.network)
        #: The cluster's fragmentation kept current where GPUs are shared (None: not measured); bound
        #: before the services place their first replicas.
        self.fragmentation = None
        if self.sharing:
            from dcsim.engine.sharing import class_shapes

            shapes = class_shapes(scenario, self.topology, self.cluster.shares.type_names)  # type: ignore[attr-defined]
            bind = getattr(self.dispatch.placement, "bind_shapes", None)
            if callable(bind) and shapes:
                bind(shapes)  # FGD scores placements against them
            self.fragmentation = self._track_fragmentation(shapes)
        #: The inference services, when the scenario has some.
        self.services = None
        if scenario.services:
            from dcsim.engine.serving import Services

            self.services = Services(
                self.env, scenario, self.seed, self.topology, self.cluster, self.collector, runs, self.dispatch,
                self.storage, self._ended, site_times,
            )  # fmt: skip
            if self.rel is not None:
                self.rel.cordon_hook = self.services.cordoned
        if not isinstance(self.dispatch.scheduler, KeyOrder):
            self.dispatch.scheduler.bind(self._fleet())
        self.dispatch.start_epochs()
        #: The scenario's timed events (None: it has none).
        self.events = None
        if events:
            from dcsim.engine.events import TimedEvents

            self.events = TimedEvents(
                self.env, scenario, self.topology, self.collector, self.rel, self.services, self.capacity_changed
            )
        #: The site router between the workload and the queue, when the scenario names one.
        self.routing = None
        submit = self.dispatch.submit
        if scenario.policies.site_router is not None:
            from dcsim.engine.routing import SiteRouting, site_blocks

            self.routing = SiteRouting(
                self.env, scenario, self.seed, self.topology, self.cluster, self.collector, submit,
                self.dispatch.requeue, self.dispatch.queue.discard, site_times,
            )  # fmt: skip
            self.routing.site_blocked = site_blocks(self.rel)
            self.routing.settled = self.check_drained
            runs.started = self.routing.started
            submit = self.routing.submit
        self.sources = Sources(
            self.env, scenario, self.seed, self.topology, self.collector, submit, self.check_drained,
            arrival_windows(scenario) if events else None, self.sharing,
        )  # fmt: skip
        self.env.process(self._sampler())
        self.check_drained()

    # ------------------------------------------------------------------ the parts, for callers and tests
    @property
    def scheduler(self) -> Any:
        """The scheduler policy as the scenario names it (a key order's own object, not its KeyOrder)."""
        return self.dispatch.policy

    @property
    def queue(self) -> Any:
        """The job queue."""
        return self.dispatch.queue

    @property
    def running(self) -> int:
        """Jobs running now."""
        return self.runs.count

    @property
    def running_jobs(self) -> dict[int, Job]:
        """Running jobs by id (kept when runs are tracked)."""
        return self.runs.running_jobs

    @property
    def expected_jobs(self) -> int | None:
        """Jobs the workload will submit, when known in advance."""
        return self.sources.expected_jobs

    @property
    def guard_starts(self) -> list[float]:
        """Start times of jobs started by the pass that keeps a batch scheduler work-conserving."""
        return self.dispatch.guard_starts

    def set_rate(self, job: Job, rate: float) -> None:
        """Change the speed of a running job from now on (see :meth:`Runs.set_rate`)."""
        self.runs.set_rate(job, rate)

    def _fleet(self) -> Fleet:
        """The pools' prices and failure rates a scheduler prices decisions with."""
        sc = self.scenario
        # Each pool at its site's prices; one that varies at its mean over the horizon (the file's span without one).
        costs = SiteTimes(sc).flat_costs(0.0, sc.horizon)
        kwh = {site: c.electricity_usd_per_kwh * c.pue / 1000.0 for site, c in costs.items()}
        pools = self.topology.pools
        price = tuple(costs[p.site].gpu_hour_price(p.gpu_type) for p in pools)
        energy = tuple((p.gpu_power_w - p.gpu_idle_power_w) * kwh[p.site] for p in pools)
        rel = self.rel
        none = (0.0,) * len(TREE)
        rates = tuple(rel.pool_rates(p.id) if rel is not None else none for p in pools)
        return Fleet(price, energy, rates)

    def _track_fragmentation(self, shapes: list[Any]) -> Any:
        """FGD's fragmentation of the shared cluster against the workload's shapes, recorded at each change."""
        from dcsim.infra.fragmentation import FragmentationTracker

        shares = self.cluster.shares  # type: ignore[attr-defined]
        if not shapes:
            return None
        tracker = FragmentationTracker(shares, shapes)
        times, values = self.collector.fragmentation
        env = self.env
        times.append(0.0)
        values.append(float(tracker.total))

        def changed(node: int) -> None:
            tracker.update(node)
            total = float(tracker.total)
            if total != values[-1]:
                now = env.now
                if times[-1] == now:
                    values[-1] = total
                else:
                    times.append(now)
                    values.append(total)

        shares.changed = changed
        return tracker

    # ------------------------------------------------------------------ events between the parts
    def _ended(self) -> None:
        """A run finished, or a replica gave its GPUs back: place waiting replicas, schedule, see whether it is over."""
        if self.services is not None:
            self.services.place_pending()
        self.dispatch.schedule()  # (returns at once with an empty queue, unless the scheduler grows running jobs)
        self.check_drained()

    def _requeue(self, job: Job) -> None:
        if self.routing is not None:
            self.routing.requeue(job)
        else:
            self.dispatch.requeue(job)

    def _fabric_changed(self, capacities: dict[int, float]) -> None:
        """Links of the fabric lost or regained capacity (a link or switch failed or came back)."""
        if self.runs.network is not None:
            self.runs.network.set_capacity(capacities)

    def capacity_changed(self) -> None:
        """GPUs went out of or back into service (or a run was lost): record the level and schedule."""
        self.collector.on_down(self.env.now, self.cluster.down_gpus - self.cluster.absent_gpus)
        if self.routing is not None:
            self.routing.site_changed()
        if self.services is not None:
            self.services.place_pending()
        self.dispatch.schedule()
        self.check_drained()

    def check_drained(self) -> None:
        """End a run without horizon once nothing more can happen.

        That is when every source is done and nothing runs: the queue is then empty, or
        stuck (no completion will ever free GPUs for it), which is reported.
        """
        if self.sources.open or self.runs.count or self.drained.triggered or self.dispatch.pending:
            return
        if self.routing is not None and self.routing.holding:
            return  # jobs held back, or moving their data, queue later
        queue = self.dispatch.queue
        if len(queue) and self.rel is not None and self.rel.outages:
            return  # capacity is out of service and will come back
        if len(queue):
            if self.horizon is not None:
                return  # the run goes on to its horizon; the queue is counted there
            self.stuck_jobs = len(queue)
        self.drained.succeed()

    # ------------------------------------------------------------------ timeseries
    def power_w(self) -> float:
        """IT power now, W (PUE is applied in scoring)."""
        total = 0.0
        free = self.cluster.pool_free
        down = self.cluster.pool_down
        absent = self.cluster.pool_absent
        pools = self.topology.pools
        for i, (fixed, per_busy) in enumerate(self._pool_power):
            if absent[i]:  # racks not installed draw nothing (uniform pools: in proportion to their GPUs)
                fixed *= 1.0 - absent[i] / pools[i].gpus
            total += fixed + per_busy * (pools[i].gpus - free[i] - down[i])
        return total

    def _sample(self) -> None:
        self.collector.on_sample(
            self.env.now, self.cluster.busy_gpus, len(self.dispatch.queue), self.runs.count, self.power_w()
        )
        if self.sharing:
            s = self.cluster.shares  # type: ignore[attr-defined]
            self.collector.share_samples.append((
                s.gpu_used / s.total_gpu if s.total_gpu else 0.0,
                s.cpu_used / s.total_cpu if s.total_cpu < UNLIMITED else math.nan,
                s.memory_used / s.total_memory if s.total_memory < UNLIMITED else math.nan,
            ))  # fmt: skip
        if self.runs.network is not None:
            self.runs.network.sample(self.env.now)
        if self.storage is not None:
            self.storage.sample(self.env.now)
        if self.services is not None:
            self.services.sample(self.env.now)

    def _sampler(self):
        env = self.env
        while True:
            self._sample()
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
        self.runs.close(end)  # runs cut by the end: nothing lost (yet)
        if self.storage is not None:
            self.storage.close(end)
        if self.routing is not None:
            self.routing.close(end)
        if self.services is not None:
            self.services.close(end)
        samples = self.collector.samples["time"]
        if not samples or samples[-1] < end:
            self._sample()
        return end

    @property
    def now(self) -> float:
        """Simulated time, s."""
        return float(self.env.now)


__all__ = ["DataCenterModel"]
