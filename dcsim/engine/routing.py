"""Site routing of training jobs: the router's decisions applied, deferrals, and data moved over the WAN.

With ``policies.site_router`` set, every job the workload submits goes through
:class:`SiteRouting` before the queue: the router (:mod:`dcsim.policies.routing`) names a site,
or asks the job to wait (a deferrable class), in which case it is asked again at that time.
Once routed, the job's pools are those of its class at that site, so placement chooses
among that site's nodes only. A job whose data lives at another site moves it first
(:class:`dcsim.engine.wan.WanTransfers`), *before* it queues for GPUs: the data is copied
while the job would wait anyway, and no GPUs stand idle while it moves (a real scheduler
stages data in before it allocates). It enters the queue when the last byte has arrived;
waits count from its submission, so deferral and stage-in are part of its wait. A job whose
run is lost (a failure, maintenance, a preemption) is routed again at once, to a site that
is up (a failed site's jobs go elsewhere where their class allows), moving its data again
if the new site holds no copy of it (a site that received it keeps its copy). Jobs queued at
a site when it goes down, and jobs whose data arrives at a site that is down, are moved the
same way (a new attempt, but no interruption).

Without a router nothing here runs: jobs go straight to the queue, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import simpy

from dcsim.core.errors import PlacementError
from dcsim.core.registry import guarded
from dcsim.core.rng import stream
from dcsim.core.text import cut
from dcsim.infra.components import SITE
from dcsim.infra.sites import SiteTimes
from dcsim.infra.topology import Topology
from dcsim.infra.wan import Wan
from dcsim.metrics.collector import Collector
from dcsim.policies.routing import SITE_ROUTER, SitesView, Wait
from dcsim.views import JobSnapshot
from dcsim.workload.jobs import INTERRUPTED, Job
from dcsim.workload.routes import RoutedClass, class_pools, routed_class


class SiteRouting:
    """The site router of one run, between the workload and the queue.

    Args:
        env: the SimPy environment.
        scenario: the validated scenario (its ``policies.site_router``, job classes, WAN).
        seed: the run seed (stream ``policy.site_router``).
        topology: pools and sites.
        cluster: the live GPU state (free GPUs per pool).
        collector: receives ``job_routed`` and the WAN's records.
        submit: queues a new job (the dispatcher's ``submit``).
        requeue: queues a lost job's next attempt at once (the dispatcher's ``requeue``).
        discard: takes a queued job out of the queue (its state already changed).
        times: each site's prices, carbon and clock (default: the scenario's).
    """

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Any,
        seed: int,
        topology: Topology,
        cluster: Any,
        collector: Collector,
        submit: Callable[[Job], None],
        requeue: Callable[[Job], None],
        discard: Callable[[Job], None],
        times: SiteTimes | None = None,
    ) -> None:
        self.env, self.cluster, self.collector = env, cluster, collector
        self._submit, self._requeue, self._discard = submit, requeue, discard
        names = topology.site_names
        wan = Wan(names, scenario.datacenter.wan)
        wl = scenario.workload
        #: Each job class's routing facts by name; a trace's jobs' under None.
        self.classes: dict[str | None, RoutedClass] = {
            c.name: routed_class(topology, wan, class_pools(topology, c), c) for c in wl.jobs
        }
        if wl.trace is not None:
            self.classes[None] = routed_class(
                topology, wan, topology.allowed_pools(wl.trace.gpu_types, wl.trace.min_gpu_memory)
            )
        spec = scenario.policies.site_router
        self.name = spec.name
        policy = SITE_ROUTER.create(spec.name, spec.params, stream(seed, "policy.site_router"))
        self.policy = policy
        self._route = guarded(policy, "route", "site_router", spec.name, SITE_ROUTER)
        self._plugin = type(policy) not in SITE_ROUTER.builtins()
        self.times = times if times is not None else SiteTimes(scenario)
        #: GPUs asked for by the jobs queued at each site, and each queued routed job's (site, GPUs, job) by id.
        self.queued = [0] * len(names)
        self._waiting: dict[int, tuple[int, int, Job]] = {}
        #: Times a job was moved off a site that went down while it was queued there (or its data moving there).
        self._moves: dict[int, int] = {}
        #: Jobs held back (deferred) or moving their data: not in the queue yet, but the run is not over.
        self.holding = 0
        #: The site other than its home that holds a copy of a job's data, by job id.
        self._copy: dict[int, int] = {}
        #: The blocks of each site (a failure or maintenance of the whole site), set by the engine when it has them.
        self.site_blocked: Sequence[int] | None = None
        #: Called after a held-back or staged job came in (the engine checks whether the run is over).
        self.settled: Callable[[], None] = lambda: None
        site_pools = [tuple(p.id for p in topology.pools if p.site == name) for name in names]
        self.installed = [sum(topology.pools[p].gpus for p in pools) for pools in site_pools]
        self.wan = None
        if any(c.size for c in self.classes.values()):
            from dcsim.engine.wan import WanTransfers

            self.wan = WanTransfers(wan, collector, env, scenario.warmup)
        self.view = sites_view(self, names)

    # ------------------------------------------------------------------ what the view reads
    def info(self, job: Any) -> RoutedClass:
        """The routing facts of a job's class (a trace's jobs share one)."""
        return self.classes.get(job.job_class) or self.classes[None]

    def deadline(self, job: Any) -> float:
        """The latest time a job may be held back until: submission + deferrable (a requeued job: its submission)."""
        return job.submit_time + (self.info(job).deferrable if not self.attempt(job) else 0.0)

    def attempt(self, job: Any) -> int:
        """How many times the job was routed before: its restarts, and its moves off a site that went down."""
        return job.restarts + self._moves.get(job.id, 0) if self._moves else job.restarts

    # ------------------------------------------------------------------ jobs in
    def submit(self, job: Job) -> None:
        """A new job from the workload: route it (its record of submission is already made)."""
        self._decide(job, True)

    def requeue(self, job: Job) -> None:
        """A lost job's next attempt: route it again at once, among all its class's sites."""
        job.pools = self.info(job).pools
        self._decide(job, False)

    def started(self, job: Job) -> None:
        """A job started (``Runs.start``): it is no longer queued at its site."""
        waiting = self._waiting.pop(job.id, None)
        if waiting is not None:
            self.queued[waiting[0]] -= waiting[1]

    def _decide(self, job: Job, fresh: bool) -> None:
        """Ask the router; hold the job back, or send it to its site (moving its data first if need be)."""
        now = self.env.now
        answer = self._route(JobSnapshot.of(job) if self._plugin else job, self.view, now)
        if isinstance(answer, Wait):
            deadline = self.deadline(job)
            if not (now < answer.until and now < deadline):
                raise PlacementError(
                    f"site router {self.name!r} asked job {job.id} to wait until {answer.until:g} s at {now:g} s; "
                    f"it may wait only until its deadline ({deadline:g} s: submission + its class's deferrable)"
                    " and only to a later time"
                )
            self.holding += 1
            until = min(answer.until, deadline)
            self.env.timeout(until - now, job).callbacks.append(self._released)
            return
        info = self.info(job)
        site = answer
        if self._plugin and (type(site) is not int or site not in self.view.allowed(job)):
            raise PlacementError(
                f"site router {self.name!r} routed job {job.id} to {cut(repr(site), 40)}; route() returns the index "
                f"of one of sites.allowed(job) ({list(self.view.allowed(job))}) or Wait(until)"
            )
        attempt = self.attempt(job)
        deferred = now - job.submit_time if not attempt else 0.0
        self.collector.on_job_routed(now, job.id, site, attempt, deferred)
        job.pools = info.by_site[site]
        home = info.home
        if home is None or site == home or self._copy.get(job.id) == site:
            self._enter(job, site, fresh)
            return
        assert self.wan is not None
        self.holding += 1
        self.wan.transfer(job.id, info.size, home, site, lambda: self._staged(job, site), job.id)

    def _released(self, event: Any) -> None:
        """A held-back job's time has come: route it again."""
        self.holding -= 1
        self._decide(event.value, True)
        self.settled()

    def _staged(self, job: Job, site: int) -> None:
        """A job's data has arrived at its site, which keeps a copy: the job queues (or moves on, if it is down)."""
        self.holding -= 1
        self._copy[job.id] = site
        if self._stranded(job, site):
            self._moves[job.id] = self._moves.get(job.id, 0) + 1
            job.pools = self.info(job).pools
            self._decide(job, True)
        else:
            self._enter(job, site, True)
        self.settled()

    def _stranded(self, job: Job, site: int) -> bool:
        """Whether ``site`` is down while another site the job may go to is up."""
        blocked = self.site_blocked
        return bool(blocked and blocked[site]) and any(not blocked[s] for s in self.info(job).sites)

    def site_changed(self) -> None:
        """GPUs went out of or back into service: jobs queued at a site now down are routed again, elsewhere.

        Each goes back through the router as a new attempt (moved off the site, not interrupted:
        its restarts and interruptions stay as they were). The engine then runs a scheduling pass.
        """
        blocked = self.site_blocked
        if not blocked or not self._waiting or not any(blocked):
            return
        moved = [job for site, _, job in self._waiting.values() if self._stranded(job, site)]
        for job in sorted(moved, key=lambda j: j.id):
            site, gpus, _ = self._waiting.pop(job.id)
            self.queued[site] -= gpus
            job.state = INTERRUPTED  # its entries in the queue are dead from now on
            self._discard(job)
            again = job.requeued(job.work_left, failed=False)
            again.restarts, again.interruptions = job.restarts, job.interruptions
            again.restart_cost, again.write_owed = job.restart_cost, job.write_owed
            again.pools = self.info(job).pools
            self._moves[job.id] = self._moves.get(job.id, 0) + 1
            self._decide(again, True)

    def _enter(self, job: Job, site: int, arrival: bool) -> None:
        """Queue a routed job at its site: as an arrival (new, or come later), or a lost job's requeue at once."""
        self.queued[site] += job.gpus
        self._waiting[job.id] = (site, job.gpus, job)
        if arrival:
            self._submit(job)
        else:
            self._requeue(job)

    def close(self, end: float) -> None:
        """The simulation ended: record the WAN's transfers still going and its links' use."""
        if self.wan is not None:
            self.wan.close(end)


def sites_view(routing: SiteRouting, names: Sequence[str]) -> SitesView:
    """A read-only view of the sites for the router (O(1) to build; nothing on it leads to the engine)."""
    site_names = tuple(names)
    times, info, deadline = routing.times, routing.info, routing.deadline
    queued, installed, pool_free = routing.queued, tuple(routing.installed), routing.cluster.pool_free
    counts = [routing.cluster.free_counts(p.id) for p in routing.cluster.pools]
    pool_size = [p.gpus_per_node for p in routing.cluster.pools]

    class View:
        """The sites, read-only (see :class:`dcsim.policies.routing.SitesView`)."""

        __slots__ = ()

        names = property(lambda self: site_names)
        times = property(lambda self: times)

        def allowed(self, job: Any) -> tuple[int, ...]:
            sites = info(job).sites
            blocked = routing.site_blocked
            if blocked is None or not any(blocked):
                return sites
            live = tuple(s for s in sites if not blocked[s])
            return live or sites

        def free(self, site: int, job: Any) -> int:
            pools = info(job).by_site[site]
            if len(pools) == 1:
                return pool_free[pools[0]]
            total = 0
            for p in pools:
                total += pool_free[p]
            return total

        def queued(self, site: int) -> int:
            return queued[site]

        def installed(self, site: int) -> int:
            return installed[site]

        def fits(self, site: int, job: Any) -> bool:
            gpus = job.gpus
            pools = info(job).by_site[site]
            free = 0
            for p in pools:
                free += pool_free[p]
            if free - queued[site] < gpus:
                return False
            whole = 0  # whole free nodes, for a job larger than a node
            for p in pools:
                per_node = pool_size[p]
                row = counts[p]
                if gpus <= per_node:
                    if any(row[gpus:]):
                        return True
                else:
                    whole += row[per_node]
                    if whole * per_node >= gpus:
                        return True
            return False

        def home(self, job: Any) -> int | None:
            return info(job).home

        def deadline(self, job: Any) -> float:
            return deadline(job)

        def __repr__(self) -> str:
            return f"<sites view: {', '.join(site_names)}>"

    return View()  # type: ignore[return-value]


def site_blocks(rel: Any) -> Sequence[int] | None:
    """The live count of blocks of each site in the reliability machinery (None without it)."""
    return rel.blocked[SITE] if rel is not None else None


__all__ = ["SiteRouting", "site_blocks", "sites_view"]
