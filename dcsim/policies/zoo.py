"""The scheduling policy zoo: the baselines scheduling papers compare against.

- ``easy_backfill`` (EASY: Lifka 1995; Mu'alem & Feitelson, IEEE TPDS 2001) and
  ``conservative_backfill`` (Mu'alem & Feitelson 2001): FIFO with reservations made from the
  running jobs' estimated ends, so that a job started out of order delays no reservation.
- ``srtf``: preemptive shortest remaining time first on the declared run times (SRPT with exact
  estimates; Schrage & Miller 1966).
- ``las``: least attained service first (foreground-background; Rai, Urvoy-Keller & Biersack
  2003), preemptive, GPU-seconds of service counted over all of a job's runs.
- ``tiresias``: Tiresias' discretized two-dimensional LAS (Gu et al., NSDI 2019): K queues by
  attained GPU-service, FIFO in each, starved jobs promoted.

They are built-in schedulers with ``decide(queue, cluster, now)`` and place jobs through the
scenario's placement policy (the dispatcher hands it over with :meth:`_Zoo.bind_placement`).
They index the running jobs themselves: the engine tells them of each start and each end
(``run_started``/``run_left``, through :attr:`dcsim.engine.runs.Runs.watcher`). A pass reads
the queue through :class:`dcsim.views.QueueLike` and uses its per-class runs
(``queue.classes``: one sorted run per (pools, GPUs)) as an index when there is one, so that
a class that cannot start is dropped whole, not job by job; without it (a queue facade) the
pass iterates the queue in order and decides the same.

Estimates. A job's declared run time is ``job.estimate``; what is left of it is the estimate
minus the work done in earlier runs (:func:`estimated_left`, never below 0). A running job's
estimated end is its start + its restart time + what was left of its estimate at its start,
divided by its rate at its start, + one expected checkpoint write per checkpoint interval of
that work (:func:`dcsim.faults.checkpoint.wall_time`, with the run's interval and its write
time on idle storage for sized checkpoints; a job without checkpoints writes none). A later
change of rate, under fabric contention say, is not followed: the estimate is the user's,
and users do not follow it either. A job running past
its estimated end is taken to end *now* (it may end at any moment): its GPUs count as free at
the current time in every reservation, so a reservation is never in the past.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator, Sequence
from heapq import heapify, heappop, heappush, nsmallest
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dcsim.faults.checkpoint import run_progress, wall_time
from dcsim.policies.scheduling import SCHEDULER, Preempt, SchedulerBase
from dcsim.views import ClusterView, JobView, QueueLike

if TYPE_CHECKING:
    import numpy as np

    from dcsim.infra.cluster import Placement

QUEUED, RUNNING = 0, 1  # the job states (dcsim.workload.jobs): policies read, never import the engine's
#: Time within which a service threshold counts as crossed (float rounding of event times), s.
_TOLERANCE_S = 1e-6


def estimated_left(job: JobView) -> float:
    """Declared run time the job has left, s of work: its estimate minus the work done in earlier runs."""
    return max(job.estimate - (job.duration - job.work_left), 0.0)  # type: ignore[attr-defined]


def _pool_gpus(placement: Sequence[tuple[int, int]], node_pool: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """``(pool, GPUs)`` of a placement, one pair per pool."""
    if len(placement) == 1:
        node, gpus = placement[0]
        return ((node_pool[node], gpus),)
    out: dict[int, int] = {}
    for node, gpus in placement:
        pool = node_pool[node]
        out[pool] = out.get(pool, 0) + gpus
    return tuple(out.items())


def _in_pools(pool_gpus: tuple[tuple[int, int], ...], pools: Sequence[int]) -> int:
    """GPUs of ``pool_gpus`` in ``pools``."""
    if len(pool_gpus) == 1:
        pool, gpus = pool_gpus[0]
        return gpus if pool in pools else 0
    return sum(g for p, g in pool_gpus if p in pools)


def _free_in(cluster: ClusterView, pools: Sequence[int]) -> int:
    """Free GPUs in ``pools``."""
    free = cluster.pool_free
    if len(pools) == 1:
        return free[pools[0]]
    return sum(free[p] for p in pools)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Zoo(SchedulerBase):
    """What the zoo's schedulers share: the placement policy, the queue's class index, the running jobs.

    ``order(job)`` is the queue's order (the key, without side effects); ``key(job)``, which the
    engine calls as it queues each job, is the same.
    """

    Params = _Params
    tracks_runs = True

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self.place: Callable[[Any, Any], Placement | None] = lambda job, cluster: None
        #: The placement policy's fit depends only on a job's pools and GPUs (a failed fit drops its class).
        self.uniform = False
        #: Running jobs by id, as told by the engine.
        self.running: dict[int, Any] = {}
        self.node_pool: Sequence[int] = ()
        #: The tenants' quotas (:class:`dcsim.engine.tenancy.Tenancy`), under a ``tenants`` block: a
        #: backfill's start out of order must leave the reserved job's tenant room to admit it; a
        #: preemptive order preempts only for a job its tenant's quota admits, only jobs of its tenant.
        self.tenancy: Any = None

    def bind_placement(
        self, place: Callable[[Any, Any], Placement | None], uniform_in_class: bool, cluster: ClusterView
    ) -> None:
        """Take the scenario's placement policy and the cluster (called by the dispatcher, before any start)."""
        self.place, self.uniform = place, uniform_in_class
        self.node_pool = tuple(cluster.node_pool)

    def bind_tenancy(self, tenancy: Any) -> None:
        """Take the tenants' quotas (called by the dispatcher under a ``tenants`` block, before any start)."""
        self.tenancy = tenancy

    def order(self, job: JobView) -> Any:
        """The queue's order (smaller first)."""
        return job.submit_time

    def key(self, job: JobView) -> Any:
        """The queue's order, as the engine queues the job."""
        return self.order(job)

    def run_started(self, job: Any) -> None:
        """The engine started ``job`` (its placement and rate are set)."""
        self.running[job.id] = job

    def run_left(self, job: Any) -> None:
        """``job``'s run ended (finished or lost)."""
        self.running.pop(job.id, None)

    def candidates(
        self, queue: QueueLike, skip: Callable[[Any], bool], fits: Callable[[Any, int], bool] | None = None
    ) -> Iterator[Any]:
        """Queued jobs in the queue's order; ``skip(job)`` True drops the rest of the job's class.

        ``fits(pools, gpus)`` False leaves out a class from the start (its GPUs are not free).
        With the queue's per-class runs (``queue.classes``, one sorted run per (pools, GPUs))
        a dropped class costs nothing more (the runs are merged by a heap of class heads:
        O(log classes) per job offered); without them (a facade) every queued job is offered in
        order, and those of a dropped class are passed over.
        """
        runs = getattr(queue, "classes", None)
        if runs is None:
            dropped: set[tuple[Any, int]] = set()
            for job in queue:
                cls = (job.pools, job.gpus)
                if cls in dropped:
                    continue
                if fits is not None and not fits(*cls):
                    dropped.add(cls)
                    continue
                yield job
                if skip(job):
                    dropped.add(cls)
            return
        # (key, id, class, place in its run's entries, job); a run's live entries are those still queued
        heads: list[tuple[Any, int, int, int, Any]] = []
        lists: list[list[Any]] = []
        for cls, run in runs.items():
            if not run.live or (fits is not None and not fits(*cls)):
                continue
            entry = run.first()
            if entry is not None:
                heads.append((entry[0], entry[1], len(lists), run.head, entry[2]))
                lists.append(run.items)
        heapify(heads)
        while heads:
            _, _, i, at, job = heappop(heads)
            yield job
            if skip(job):
                continue
            items = lists[i]
            end = len(items)
            at += 1
            while at < end and items[at][2].state != QUEUED:
                at += 1
            if at < end:
                entry = items[at]
                heappush(heads, (entry[0], entry[1], i, at, entry[2]))

    @staticmethod
    def rate_on(job: Any, placement: Sequence[tuple[int, int]], cluster: ClusterView) -> float:
        """The job's rate on ``placement`` (its slowest GPUs)."""
        speeds = getattr(job, "speeds", None)
        if speeds is None:
            return 1.0
        node_pool = cluster.node_pool
        return min(speeds[node_pool[n]] for n, _ in placement)


# ---------------------------------------------------------------------- backfill
class _Ends:
    """The running jobs' estimated ends, sorted: ``(end, job id, (pool, GPUs) pairs)``."""

    __slots__ = ("at", "items")

    def __init__(self) -> None:
        self.items: list[tuple[float, int, tuple[tuple[int, int], ...]]] = []
        self.at: dict[int, float] = {}

    def add(self, job: Any, node_pool: Sequence[int]) -> None:
        """A started job: its estimated end (see the module)."""
        rate = job.rate if job.rate > 0 else 1e-300
        end = job.start_time + wall_time(estimated_left(job), job.run_interval, job.run_write, job.restart_cost, rate)
        self.at[job.id] = end
        insort(self.items, (end, job.id, _pool_gpus(job.placement, node_pool)))

    def remove(self, job: Any) -> None:
        """An ended job."""
        end = self.at.pop(job.id, None)
        if end is not None:
            items = self.items
            del items[bisect_left(items, (end, job.id))]

    def shadow(self, now: float, gpus: int, pools: Sequence[int], free: int) -> tuple[float, int]:
        """The reservation of ``gpus`` GPUs in ``pools`` with ``free`` free now: (shadow time, extra GPUs).

        The shadow time is the first estimated end (now at the earliest) by which enough GPUs
        in ``pools`` are free; the extra GPUs are those free then beyond ``gpus``. inf and 0:
        the running jobs never free enough (GPUs are down).
        """
        avail = free
        shadow = math.inf
        for end, _, pool_gpus in self.items:
            end = max(end, now)
            if end > shadow:
                break
            avail += _in_pools(pool_gpus, pools)
            if shadow == math.inf and avail >= gpus:
                shadow = end
        if shadow == math.inf and free < gpus:
            return shadow, 0
        return (now if shadow == math.inf else shadow), avail - gpus


class _Backfill(_Zoo):
    """A FIFO queue with backfill that reads the running jobs' estimated ends."""

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self.ends = _Ends()

    def run_started(self, job: Any) -> None:
        """Index its estimated end."""
        super().run_started(job)
        self.ends.add(job, self.node_pool)
        reserved = getattr(self, "reservations", None)
        if reserved:
            at = reserved.pop(job.id, None)
            if at is not None:
                self.kept_reservations[job.start_time > at + 1e-9 * max(at, 1.0)] += 1

    def run_left(self, job: Any) -> None:
        """Drop its estimated end."""
        super().run_left(job)
        self.ends.remove(job)


@SCHEDULER.register("easy_backfill")
class EasyBackfill(_Backfill):
    """EASY backfill (Lifka 1995; Mu'alem & Feitelson, IEEE TPDS 2001): FIFO, and one reservation, the head's.

    Jobs start in submission order while they fit. When the first job (the head) does not,
    it gets a reservation: the *shadow time*, the first estimated end of a running job by
    which enough GPUs are free in its pools, and the *extra GPUs*, those free then beyond
    its need. A later job starts now if it fits and either ends (by its estimate) by the
    shadow time or takes only extra GPUs (GPUs of its placement in the head's pools; each
    such start uses them up). So no start out of order delays the head, by the estimates.

    GPU types and nodes: the reservation counts GPUs in the head's pools (each pool one GPU
    type of one site), not nodes: at the shadow time enough GPUs are free there by the
    estimates, but a node-level placement may need more (a multi-node job wants whole nodes
    its placement policy can find); the head then starts at a later end, when it fits, and
    the reservation is made again at every pass. Estimates: see :mod:`dcsim.policies.zoo`.

    Cost per decision: an arrival is offered alone (O(log running) when it is the head that
    does not fit, O(1) otherwise, against the reservation kept since the last pass); a pass
    after an end walks the estimated ends (a sorted list) up to the shadow time and offers
    later jobs class by class (the queue's runs per (pools, GPUs), merged by a heap of class
    heads): a class whose first job does not fit is dropped whole (O(log classes)), and
    a class that fits but may take no extra GPUs is offered only while a job of it could end
    by the shadow time (its shortest estimate, from a heap per class). Jobs are taken as
    running at the rate of their start. ``reservations`` keeps, per job that was ever a
    blocked head, its first shadow time until it starts, and ``kept_reservations`` counts the heads that
    started by it and after it (with exact estimates, none after).
    """

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        #: First shadow time of each queued job that was a blocked head (job id -> s), until it starts.
        self.reservations: dict[int, float] = {}
        #: Blocked heads that started by their first shadow time, and after it (inexact estimates).
        self.kept_reservations = [0, 0]
        #: The reservation of the last pass: (head id, busy, down, shadow, extra), for arrivals.
        self._kept: tuple[int, int, int, float, int] | None = None
        #: Per job class (pools, GPUs): a heap of (estimate left, id, job) of its queued jobs.
        self._shortest: dict[tuple[Any, int], list[tuple[float, int, Any]]] = {}
        #: The fastest rate of any job queued in each pool set (an upper bound for the heap's estimates).
        self._fastest: dict[Any, float] = {}

    def key(self, job: JobView) -> Any:
        """Submission time; the job's estimate joins its class's heap of estimates."""
        cls = (job.pools, job.gpus)
        heap = self._shortest.get(cls)
        if heap is None:
            heap = self._shortest[cls] = []
        heappush(heap, (estimated_left(job), job.id, job))
        speeds = job.speeds
        speed = 1.0 if speeds is None else max(speeds[p] for p in job.pools)
        if speed > self._fastest.get(job.pools, 0.0):
            self._fastest[job.pools] = speed
        if len(heap) > 1024 and len(heap) > 4 * sum(1 for e in heap if e[2].state == QUEUED):
            heap[:] = [e for e in heap if e[2].state == QUEUED]
            heapify(heap)
        return job.submit_time

    def _shortest_left(self, cls: tuple[Any, int]) -> float:
        """The shortest estimate left of the queued jobs of class ``cls`` (pools, GPUs) (inf: none queued)."""
        heap = self._shortest.get(cls)
        if not heap:
            return 0.0  # the job was not queued through key(): take it as short, offer it
        while heap and heap[0][2].state != QUEUED:
            heappop(heap)
        return heap[0][0] if heap else math.inf

    def _reserve(self, head: Any, cluster: ClusterView, now: float) -> tuple[float, int]:
        shadow, extra = self.ends.shadow(now, head.gpus, head.pools, _free_in(cluster, head.pools))
        self.reservations.setdefault(head.id, shadow)
        self._kept = (head.id, cluster.busy_gpus, cluster.down_gpus, shadow, extra)
        return shadow, extra

    def decide(self, queue: QueueLike, cluster: ClusterView, now: float) -> Iterable[Any]:
        """Starts: the head while it fits, then later jobs that do not delay its reservation."""
        arrival = queue.arrival
        if arrival is not None:
            return self._arrived(arrival, queue, cluster, now)
        return self._pass(queue, cluster, now)

    def _arrived(self, job: Any, queue: QueueLike, cluster: ClusterView, now: float) -> Iterator[Any]:
        """Only the new job can have become startable: as the head, or against the head's reservation."""
        placement = self.place(job, cluster) if _free_in(cluster, job.pools) >= job.gpus else None
        if queue.arrival_first:
            if placement is not None:
                yield job, placement
            else:
                self._reserve(job, cluster, now)
            return
        if placement is None:
            return
        head = queue.first()
        kept = self._kept
        if kept is None or kept[0] != head.id or kept[1] != cluster.busy_gpus or kept[2] != cluster.down_gpus:
            shadow, extra = self._reserve(head, cluster, now)
        else:
            shadow, extra = kept[3], kept[4]
        if self._fits_beside(job, placement, head, shadow, extra, cluster, now) is not None:
            yield job, placement

    def _fits_beside(
        self, job: Any, placement: Placement, head: Any, shadow: float, extra: int, cluster: ClusterView, now: float
    ) -> int | None:
        """The extra GPUs left if ``job`` starts now on ``placement`` beside the head's reservation, or None."""
        end = now + job.restart_cost + estimated_left(job) / self.rate_on(job, placement, cluster)
        if end <= shadow:
            return extra
        taken = _in_pools(_pool_gpus(placement, self.node_pool), head.pools)
        if taken > extra:
            return None
        if self.tenancy is not None and not self.tenancy.leaves_room(job, placement, head):
            return None  # it would take the quota room the head is admitted by at the shadow time
        return extra - taken

    def _pass(self, queue: QueueLike, cluster: ClusterView, now: float) -> Iterator[Any]:
        place = self.place
        while (head := queue.first()) is not None:
            placement = place(head, cluster)
            if placement is None:
                break
            yield head, placement
        else:
            return
        shadow, extra = self._reserve(head, cluster, now)
        if cluster.busy_gpus + cluster.down_gpus >= cluster.installed_gpus:
            return
        runs = getattr(queue, "classes", None)
        if runs is not None:
            yield from self._by_class(runs, head, shadow, extra, cluster, now)
            return
        head_pools = head.pools
        uniform = self.uniform
        #: The smallest GPU count that did not fit, per pools (uniform placement: larger ones do not fit either).
        failed: dict[Any, int] = {}
        #: Per class, the placement found since the last start (uniform placement: the same for every job of it).
        placed: dict[tuple[Any, int], Placement] = {}
        drop = [False]  # the job just offered says its whole class is out for this pass

        def fits(pools: Any, gpus: int) -> bool:
            return _free_in(cluster, pools) >= gpus

        for job in self.candidates(queue, lambda _job: drop[0], fits):
            drop[0] = False
            if job is head:
                continue
            limit = failed.get(job.pools)
            if (limit is not None and job.gpus >= limit) or _free_in(cluster, job.pools) < job.gpus:
                drop[0] = True
                continue
            cls = (job.pools, job.gpus)
            placement = placed.get(cls) if uniform else None
            if placement is None:
                placement = place(job, cluster)
                if placement is None:
                    if uniform:
                        failed[job.pools] = min(job.gpus, failed.get(job.pools, job.gpus))
                        drop[0] = True
                    continue
                placed[cls] = placement
            # Taking more than the extra GPUs, it must end by the shadow time (extra GPUs only go down
            # in a pass): can a job of its class?
            if job.gpus > extra and any(p in head_pools for p in job.pools):
                speed = self._speeds(job)
                if now + self._shortest_left((job.pools, job.gpus)) / speed > shadow:
                    drop[0] = True
                    continue
                if now + job.restart_cost + estimated_left(job) / speed > shadow:
                    continue  # this one ends after the shadow time even at its fastest; a later one may not
            left = self._fits_beside(job, placement, head, shadow, extra, cluster, now)
            if left is None:
                continue  # this one ends after the shadow time; a later one of its class may not
            extra = left
            yield job, placement
            placed.clear()  # the cluster changed
            if cluster.busy_gpus + cluster.down_gpus >= cluster.installed_gpus:
                return

    def _by_class(
        self, runs: dict[Any, Any], head: Any, shadow: float, extra: int, cluster: ClusterView, now: float
    ) -> Iterator[Any]:
        """The backfill of :meth:`_pass` over the queue's per-class runs (the same starts, fewer steps).

        Each class (pools, GPUs) offers its first job that may start by the estimates (it ends
        by the shadow time, or the class's GPUs fit in the extra ones), found by a plain walk
        of its run; the classes' offers are merged by the queue's key, so jobs start in queue
        order. A job passed over stays passed over in the pass: the shadow time is fixed, and
        free and extra GPUs only go down.
        """
        place, uniform, head_pools = self.place, self.uniform, head.pools
        left_of = self._shortest_left
        #: The fastest rate of any queued job of each pool set (1 without per-pool speeds), as an upper bound.
        fastest = self._fastest

        def offer(cls: tuple[Any, int], it: Iterator[Any]) -> tuple[Any, ...] | None:
            """The next job of the class that may start beside the reservation, as a heap entry, or None."""
            pools, gpus = cls
            if _free_in(cluster, pools) < gpus:
                return None
            if gpus <= extra or not any(p in head_pools for p in pools):
                for entry in it:
                    if entry[2] is not head:
                        return (entry[0], entry[1], entry[2], cls, it)
                return None
            if left_of(cls) > (shadow - now) * fastest.get(pools, math.inf):
                return None  # no job of the class can end by the shadow time
            for entry in it:  # it must end by the shadow time
                job = entry[2]
                if job is head:
                    continue
                speeds = job.speeds
                speed = 1.0 if speeds is None else max(speeds[p] for p in pools)
                left = job.estimate - (job.duration - job.work_left)
                if now + job.restart_cost + (left if left > 0.0 else 0.0) / speed <= shadow:
                    return (entry[0], entry[1], job, cls, it)
            return None

        failed: dict[Any, int] = {}  # the smallest GPU count that did not fit, per pools (uniform placement)
        heads = [e for cls, run in runs.items() if (e := offer(cls, run.entries())) is not None]
        heapify(heads)
        while heads:
            _, _, job, cls, it = heappop(heads)
            pools, gpus = cls
            limit = failed.get(pools)
            if (limit is not None and gpus >= limit) or _free_in(cluster, pools) < gpus:
                continue  # the class is out
            if gpus > extra and any(p in head_pools for p in pools):
                speed = self._speeds(job)
                if now + job.restart_cost + estimated_left(job) / speed > shadow:  # extra GPUs went since
                    if (entry := offer(cls, it)) is not None:
                        heappush(heads, entry)
                    continue
            placement = place(job, cluster)
            if placement is None:
                if uniform:
                    failed[pools] = min(gpus, failed.get(pools, gpus))
                elif (entry := offer(cls, it)) is not None:
                    heappush(heads, entry)
                continue
            left = self._fits_beside(job, placement, head, shadow, extra, cluster, now)
            if left is not None:
                extra = left
                yield job, placement
                if cluster.busy_gpus + cluster.down_gpus >= cluster.installed_gpus:
                    return
            if (entry := offer(cls, it)) is not None:
                heappush(heads, entry)

    @staticmethod
    def _speeds(job: Any) -> float:
        """The job's fastest rate over its pools (1 without per-pool speeds)."""
        speeds = getattr(job, "speeds", None)
        return 1.0 if speeds is None else max(speeds[p] for p in job.pools)


class _Profile:
    """Free GPUs of one pool over time, a step function: ``free[i]`` from ``times[i]`` to the next time."""

    __slots__ = ("free", "times")

    def __init__(self, now: float, free: int) -> None:
        self.times = [now]
        self.free = [free]

    def _cut(self, t: float) -> int:
        """The index of the step starting at ``t`` (made if needed)."""
        times = self.times
        i = bisect_left(times, t)
        if i < len(times) and times[i] == t:
            return i
        self.times.insert(i, t)
        self.free.insert(i, self.free[i - 1])
        return i

    def add(self, start: float, end: float, gpus: int) -> None:
        """``gpus`` more free from ``start`` to ``end`` (negative: taken)."""
        i = self._cut(start)
        j = self._cut(end) if end < math.inf else len(self.times)
        free = self.free
        for k in range(i, j):
            free[k] += gpus

    def earliest(self, gpus: int, duration: float, after: float) -> float:
        """The first time >= ``after`` from which ``gpus`` are free for ``duration`` s (inf: never)."""
        times, free = self.times, self.free
        n = len(times)
        i = max(bisect_left(times, after) - (0 if after in times else 1), 0)
        while i < n:
            if free[i] >= gpus:
                start = max(times[i], after)
                k = i + 1
                while k < n and times[k] < start + duration and free[k] >= gpus:
                    k += 1
                if k == n or times[k] >= start + duration:
                    return start
                i = k
            i += 1
        return math.inf


@SCHEDULER.register("conservative_backfill")
class ConservativeBackfill(_Backfill):
    """Conservative backfill (Mu'alem & Feitelson, IEEE TPDS 2001): every queued job gets a reservation, in order.

    A profile of free GPUs over time per pool (free now, plus each running job's GPUs from
    its estimated end) takes the queued jobs in submission order: each is reserved at the
    first time its GPUs are free in one of its pools for its estimated run time there, and
    the profile keeps it. A job whose reservation is now starts now (if its placement
    finds nodes; else it is reserved at the next time it fits by count). So a job started
    out of order delays no earlier job's reservation, by the estimates. The reservations are
    made again at every pass (an early end moves them earlier; none moves later when the
    estimates are exact).

    GPU types: a reservation is in one pool (the one that gives the earliest time), counting
    GPUs, not nodes, as in :class:`EasyBackfill`; a job allowed to span pools reserves in one.

    Cost per decision: a pass after an end is O(queue x breakpoints) (every job is reserved);
    an arrival reserves the new job alone on the profile kept since the last pass, O(breakpoints).
    """

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        #: The profile of the last pass, with its reservations: (busy, down, profiles), for arrivals.
        self._kept: tuple[int, int, dict[int, _Profile]] | None = None

    def decide(self, queue: QueueLike, cluster: ClusterView, now: float) -> Iterable[Any]:
        """Starts of the jobs whose reservation is now."""
        arrival = queue.arrival
        kept = self._kept
        if arrival is not None and kept is not None and kept[:2] == (cluster.busy_gpus, cluster.down_gpus):
            return self._reserve_all((arrival,), kept[2], cluster, now)
        profiles: dict[int, _Profile] = {}
        for end, _, pool_gpus in self.ends.items:
            for pool, gpus in pool_gpus:
                profile = profiles.get(pool)
                if profile is None:
                    profile = profiles[pool] = _Profile(now, cluster.pool_free[pool])
                profile.add(max(end, now), math.inf, gpus)
        return self._reserve_all(queue, profiles, cluster, now)

    def _reserve_all(
        self, jobs: Iterable[Any], profiles: dict[int, _Profile], cluster: ClusterView, now: float
    ) -> Iterator[Any]:
        tenancy = self.tenancy
        #: Under tenants: the reserved jobs of tenants with quotas, (reservation, job), in queue order.
        reserved: list[tuple[float, Any]] = []
        for job in jobs:
            left = estimated_left(job)
            best, where = math.inf, -1
            for pool in job.pools:
                profile = profiles.get(pool)
                if profile is None:
                    profile = profiles[pool] = _Profile(now, cluster.pool_free[pool])
                speed = 1.0 if job.speeds is None else job.speeds[pool]
                at = profile.earliest(job.gpus, job.restart_cost + left / speed, now)
                if at < best:
                    best, where = at, pool
            if best == math.inf:
                continue  # its GPUs are down beyond every end: no reservation
            if best == now:
                placement = self.place(job, cluster)
                if placement is not None and reserved:
                    end = now + job.restart_cost + left / self.rate_on(job, placement, cluster)
                    if not all(tenancy.leaves_room(job, placement, other) for at, other in reserved if at < end):
                        placement = None  # it would take the quota room an earlier reservation is admitted by
                if placement is not None:
                    yield job, placement
                    end = now + job.restart_cost + left / self.rate_on(job, placement, cluster)
                    for pool, gpus in _pool_gpus(placement, self.node_pool):
                        if pool in profiles:
                            profiles[pool].add(now, end, -gpus)
                        else:  # a pool without a profile yet: its free GPUs now already leave this job's out
                            profiles[pool] = _Profile(now, cluster.pool_free[pool])
                            profiles[pool].add(end, math.inf, gpus)
                    continue
                profile = profiles[where]
                speed = 1.0 if job.speeds is None else job.speeds[where]
                best = profile.earliest(job.gpus, job.restart_cost + left / speed, math.nextafter(now, math.inf))
                if best == math.inf:
                    continue
            speed = 1.0 if job.speeds is None else job.speeds[where]
            profiles[where].add(best, best + job.restart_cost + left / speed, -job.gpus)
            if tenancy is not None and tenancy.limited(job):
                reserved.append((best, job))
        self._kept = (cluster.busy_gpus, cluster.down_gpus, profiles)


# ---------------------------------------------------------------------- preemptive
def _of_nodes(values: Sequence[int], nodes: Sequence[int]) -> Sequence[int]:
    """``values[node]`` for ``nodes`` (ascending), in their order: a slice when they are contiguous."""
    if nodes and nodes[-1] - nodes[0] + 1 == len(nodes):
        first, last = nodes[0], nodes[-1]
        return values[first : last + 1]
    return [values[node] for node in nodes]


def choose_victims(
    job: Any,
    movable: Sequence[int],
    others: Sequence[int],
    ranked: Callable[[int], list[tuple[Any, int, Any, int]]],
    cluster: ClusterView,
    leaving: Sequence[int] | None = None,
) -> list[Any] | None:
    """Running jobs to preempt so that ``job`` fits a node (or whole nodes) of one of its pools, or None.

    ``movable[node]`` and ``others[node]``: GPUs of running jobs that may be preempted, and of
    others, on each node; ``ranked(node)`` the ones that may be, as (rank, id, job, its GPUs there), a larger rank
    preempted first. A gang job runs in one pool: a job of g <= n GPUs (n per node) needs one
    node with g free, one of more needs g // n whole nodes and the rest on one more node, as
    the built-in placement rules place it. In each pool the nodes that need the fewest
    victims' GPUs are chosen (ties: the lowest node), and the pool that needs the fewest; on a
    node, victims go lowest-ranked first. Cost O(nodes of the job's pools), and ``ranked`` on
    the nodes chosen.

    ``leaving[node]``: GPUs of victims told already, in their grace period (in neither
    ``movable`` nor ``others``, nor ranked): they count as free, the job waits for them. An
    empty list: it fits on GPUs of theirs without more victims.
    """
    best: tuple[int, list[Any]] | None = None
    free = cluster.free if leaving is None else [f + g for f, g in zip(cluster.free, leaving, strict=True)]
    for pool in job.pools:
        spec = cluster.pools[pool]
        n = spec.gpus_per_node
        whole, rest = divmod(job.gpus, n) if job.gpus > n else (0, job.gpus)
        nodes = spec.nodes
        columns: Iterable[tuple[int, int, int, int]] = zip(
            nodes, _of_nodes(free, nodes), _of_nodes(movable, nodes), _of_nodes(others, nodes), strict=True
        )
        if whole and rest:
            columns = list(columns)  # read twice
        # (victims' GPUs, node) of nodes that can be emptied; a wholly free node is one, with none
        full = (
            [(0 if f == n else m, node) for node, f, m, o in columns if f == n or (not o and f + m == n)]
            if whole
            else []
        )
        # (GPUs short, node) of nodes that can take the rest: a wholly free one only when no whole node is needed
        part = (
            [(rest - f if f < rest else 0, node) for node, f, m, _ in columns if (f < n or not whole) and f + m >= rest]
            if rest
            else []
        )
        if len(full) < whole:
            continue
        chosen = nsmallest(whole, full)
        cost = sum(c for c, _ in chosen)
        victims = {key: h for _, node in chosen for _, key, h, _ in ranked(node)}  # a victim may span nodes
        used = {node for _, node in chosen}
        if rest:
            spare = [e for e in part if e[1] not in used]
            if not spare:
                continue
            short, node = min(spare)
            used.add(node)
            for _, key, holder, gpus in sorted(ranked(node), reverse=True):
                if short <= 0:
                    break
                if key not in victims:
                    victims[key] = holder
                    cost += gpus
                short -= gpus
        if not victims and (leaving is None or not any(leaving[node] for node in used)):
            continue  # it fits without preempting (the placement policy did not place it: nothing to gain)
        if best is None or cost < best[0]:
            best = (cost, list(victims.values()))
    return None if best is None else best[1]


class _Preemptive(_Zoo):
    """A preemptive order: a queued job that does not fit preempts running jobs that rank below it.

    ``rank(job, now, running)`` of a queued or running job (smaller: more urgent); a running job
    is a victim for a queued one only if it ranks below it (``outranks``: strictly, or by a
    quantum), so priorities never invert: no job is preempted for one it outranks. Victims go lowest-ranked first, as
    few as free enough GPUs in the job's pools (counted, not nodes).
    """

    preempts = True

    def rank(self, job: Any, now: float, running: bool) -> Any:
        """The job's urgency now (smaller first)."""
        raise NotImplementedError

    def outranks(self, mine: Any, theirs: Any, victim: Any) -> bool:
        """Whether a queued job of rank ``mine`` may preempt ``victim``, of rank ``theirs`` now: strictly below."""
        return theirs > mine

    def may_preempt(self, queue: QueueLike) -> bool:
        """Whether a queued job may outrank a running one now (False: a pass only starts what fits)."""
        return True

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        #: Running jobs holding GPUs on each node (kept from the engine's starts and ends).
        self.on_node: list[list[tuple[Any, int]]] = []
        #: Victims told to go that keep their GPUs to the end of their grace, by id (the engine's, shared).
        self.doomed: dict[int, Any] = {}
        #: The last pass stopped at a job waiting for its victims' grace to end.
        self.waiting = False

    def bind_placement(
        self, place: Callable[[Any, Any], Placement | None], uniform_in_class: bool, cluster: ClusterView
    ) -> None:
        """Take the placement policy and the cluster."""
        super().bind_placement(place, uniform_in_class, cluster)
        self.on_node = [[] for _ in cluster.free]

    def run_started(self, job: Any) -> None:
        """Index it by node."""
        super().run_started(job)
        for node, gpus in job.placement:
            self.on_node[node].append((job, gpus))

    def run_left(self, job: Any) -> None:
        """Drop it from its nodes."""
        super().run_left(job)
        for node, gpus in job.placement:
            self.on_node[node].remove((job, gpus))

    def victims(self, job: Any, cluster: ClusterView, now: float) -> tuple[bool, list[Any] | None]:
        """Whether any running job ranks below ``job``; those to preempt for it (:func:`choose_victims`), or None."""
        mine = self.rank(job, now, False)
        doomed, spared = self.doomed, self._spared(job)
        ranks = {
            r.id: rank
            for r in self.running.values()
            if r.id not in doomed and self.outranks(mine, rank := self.rank(r, now, True), r) and not spared(r)
        }
        leaving = self._leaving()
        if not ranks and leaving is None:
            return False, None
        on_node = self.on_node
        movable = [sum(g for h, g in held if h.id in ranks) for held in on_node]
        others = [sum(g for _, g in held) - m for held, m in zip(on_node, movable, strict=True)]
        if leaving is not None:
            others = [o - g for o, g in zip(others, leaving, strict=True)]

        def ranked(node: int) -> list[tuple[Any, int, Any, int]]:
            return [(ranks[h.id], h.id, h, g) for h, g in on_node[node] if h.id in ranks]

        return bool(ranks), choose_victims(job, movable, others, ranked, cluster, leaving)

    def _spared(self, job: Any) -> Callable[[Any], bool]:
        """Running jobs not to preempt for ``job``: under tenants, other tenants' and those that would preempt it back.

        (:meth:`dcsim.engine.tenancy.Tenancy.may_displace`.)
        """
        tenancy = self.tenancy
        if tenancy is None:
            return lambda _r: False
        return lambda r: not tenancy.may_displace(job, r)

    def _leaving(self) -> list[int] | None:
        """GPUs on each node of running victims told already, in their grace period; None if there are none."""
        running = self.running
        told = [d for key, d in self.doomed.items() if running.get(key) is d]
        if not told:
            return None
        leaving = [0] * len(self.on_node)
        for d in told:
            for node, gpus in d.placement:
                leaving[node] += gpus
        return leaving

    def decide(self, queue: QueueLike, cluster: ClusterView, now: float) -> Iterable[Any]:
        """Starts in order; a job that does not fit preempts lower-ranked running jobs when they free enough."""
        return self._decide(queue, cluster, now, queue.arrival)  # (the arrival is shown only during the call)

    def _decide(self, queue: QueueLike, cluster: ClusterView, now: float, arrival: Any) -> Iterator[Any]:
        """The decisions, drawn one by one (``arrival``: the job just queued, or None)."""
        yield from self._pass(queue, cluster, now, arrival)

    def _pass(self, queue: QueueLike, cluster: ClusterView, now: float, arrival: Any) -> Iterator[Any]:
        place, tenancy = self.place, self.tenancy
        drop = [False]
        #: The first job offered that neither fits nor finds victims.
        self.blocked: Any = None
        # After an arrival only the new job can start (the queue was settled, and time moves
        # ranks only at the wake-ups the scheduler asks for); a preemption makes the engine ask again.
        doomed = self.doomed
        self.waiting = False
        if doomed:  # a job may wait for a grace: a full pass, so that an arrival does not take its turn
            arrival = None
        fits = None
        if arrival is None and not self.may_preempt(queue):  # then a class whose GPUs are not free is out
            fits = lambda pools, gpus: _free_in(cluster, pools) >= gpus  # noqa: E731
        offered = (arrival,) if arrival is not None else self.candidates(queue, lambda _job: drop[0], fits)
        for job in offered:
            drop[0] = False
            placement = place(job, cluster) if _free_in(cluster, job.pools) >= job.gpus else None
            if placement is None:
                if tenancy is not None and not tenancy.admits(job):
                    # Its tenant's quota does not admit it: victims would be started again, and preempted again.
                    continue
                below, victims = self.victims(job, cluster, now)
                if victims is None:
                    if self.blocked is None:
                        self.blocked = job
                    if (
                        not below
                        and tenancy is None
                        and cluster.busy_gpus + cluster.down_gpus >= cluster.installed_gpus
                    ):
                        return  # nothing is free and no running job ranks below this one, or any after it
                        # (under tenants, a later job of another tenant may have victims of its own)
                    drop[0] = self.uniform  # a later job of its class ranks no higher: no more victims
                    continue
                for victim in victims:  # (not those told already: their GPUs come to this job at their grace's end)
                    yield Preempt(victim, "priority")
                placement = place(job, cluster)
                if placement is None:
                    # The placement policy does not place it where its victims were, or they keep their
                    # GPUs to the end of their grace: no later job takes their GPUs in this pass (the
                    # engine asks again, or when the grace ends).
                    self.waiting = bool(doomed)
                    return
            yield job, placement


@SCHEDULER.register("srtf")
class ShortestRemainingTimeFirst(_Preemptive):
    """Preemptive shortest remaining time first on the declared run times (SRPT; Schrage & Miller 1966).

    The queue is ordered by the estimate left (:func:`estimated_left`; ties: earlier
    submission). A job that does not fit preempts (reason ``priority``) the running jobs with
    the longest remaining time, strictly longer than its own, as few as free its GPUs. A
    running job's remaining time is its estimate left at its start minus the work its run has
    done since (settled by its run clock: restart and checkpoint writes do no work, and a
    change of rate counts from when it happened), never below 0.
    With exact estimates on one GPU this is SRPT; ``preemption: {save: on_preemption}`` makes
    a preempted job resume where it stopped (preempt-resume), as SRPT assumes.

    Cost per decision: O(log queue) per job offered (class heads merged by a heap), and
    O(running log running) for a job that does not fit (its possible victims ranked).
    """

    def order(self, job: JobView) -> Any:
        """The estimate left, s."""
        return estimated_left(job)

    def rank(self, job: Any, now: float, running: bool) -> float:
        """The estimate left now, s."""
        left = estimated_left(job)
        if running:
            done = run_progress(job, now, settle=False)  # the run's work so far, past restart and writes
            left -= done.saved + done.unsaved
        return max(left, 0.0)


class LasParams(_Params):
    """The quantum of ``las``."""

    quantum: float = Field(
        60.0, gt=0, description="s of service on one GPU a running job may attain beyond a waiting job before "
        "it gives way (a job of g GPUs: g x quantum GPU-seconds); ties are shared in turns of this length",
    )  # fmt: skip


@SCHEDULER.register("las")
class LeastAttainedService(_Preemptive):
    """Least attained service first (foreground-background; Rai, Urvoy-Keller & Biersack, SIGMETRICS 2003).

    Attained service is GPU-seconds held, over all of a job's runs (``job.attained`` carries
    them across requeues). The queue is ordered by it (ties: earlier submission); a job that
    does not fit preempts (reason ``priority``) running jobs that have attained at least one
    quantum more than it (``quantum`` s x the victim's GPUs), the most attained first. So jobs
    with equal attained service share the GPUs in turns of about a quantum (processor
    sharing in the limit of a small quantum). The engine is asked again when the first
    waiting job that does not fit is overtaken by a quantum (``wake_at``).

    Cost per decision: O(log queue) per job offered, O(running log running) for a job that
    does not fit, and O(running) for the next wake-up.
    """

    Params = LasParams

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self.quantum = params.quantum
        #: When to be asked again (s), or None.
        self.wake_at: float | None = None

    def order(self, job: JobView) -> Any:
        """Attained service, GPU-s."""
        return job.attained  # type: ignore[attr-defined]

    def rank(self, job: Any, now: float, running: bool) -> float:
        """Attained service now, GPU-s."""
        return job.attained + job.gpus * (now - job.start_time) if running else job.attained

    def outranks(self, mine: float, theirs: float, victim: Any) -> bool:
        """The victim has attained a quantum (of its GPUs) more, to rounding (its wake-up is at that time)."""
        bar = mine + self.quantum * victim.gpus
        return theirs >= bar - 1e-9 * max(bar, 1.0)

    def _decide(self, queue: QueueLike, cluster: ClusterView, now: float, arrival: Any) -> Iterator[Any]:
        """Starts and preemptions; then the time the first blocked job is overtaken by a quantum."""
        yield from self._pass(queue, cluster, now, arrival)
        self.wake_at = None
        job = self.blocked
        if job is None:
            return
        pools = job.pools
        soonest = math.inf
        for r in self.running.values():
            if any(p in pools for p, _ in _pool_gpus(r.placement, self.node_pool)):
                at = r.start_time + (job.attained + self.quantum * r.gpus - r.attained) / r.gpus
                if now < at < soonest:
                    soonest = at
        self.wake_at = soonest if soonest < math.inf else None


class TiresiasParams(_Params):
    """Tiresias' queues and starvation limit."""

    thresholds_gpu_h: list[float] = Field(
        [1.0], min_length=1, description="attained GPU-hours at which a job moves down to the next queue, "
        "ascending (K-1 thresholds make K queues)",
    )  # fmt: skip
    starve_limit: float = Field(
        8.0, ge=0, description="a job waiting longer than this many times its last run is promoted to the top "
        "queue (0: never); 8 as in Tiresias' PROMOTEKNOB runs (its simulator's dlas-gpu-8)",
    )  # fmt: skip

    @field_validator("thresholds_gpu_h")
    @classmethod
    def _ascending(cls, value: list[float]) -> list[float]:
        if any(v <= 0 for v in value) or any(b <= a for a, b in pairwise(value)):
            raise ValueError(f"thresholds_gpu_h {value} must be positive and ascending; e.g. [1, 8]")
        return value


@SCHEDULER.register("tiresias")
class Tiresias(_Preemptive):
    """Tiresias' discretized two-dimensional LAS (Gu et al., NSDI 2019).

    A job's service is the GPU-seconds it has held (GPUs x time, over all its runs). K
    queues split it at ``thresholds_gpu_h``: a job is in queue k while its service is between
    the k-th and (k+1)-th thresholds, FIFO by submission in each queue; a running job moves
    down as its service crosses a threshold (one event per run at its next crossing, as a
    wake-up of the scheduler). A job of a higher queue that does not fit preempts (reason
    ``priority``) running jobs of lower queues, the lowest queue and the latest submitted
    first, as few as free its GPUs. A job waiting longer than ``starve_limit`` x its last run
    (since that run ended) is promoted to the top queue, and its service counts from zero
    again (else it would move down at once when it runs). Jobs in a queue that cannot fit
    leave lower queues to start where GPUs are free (work-conserving, as Tiresias runs).

    Cost per decision: O(log queue) per job offered (class heads merged by a heap); whether a
    job that does not fit has enough victims is O(K) from GPU counts kept per queue and pool,
    and choosing them O(running log running), only when it does; crossings and promotions
    are heaps, O(log running) and O(log queue) each.
    """

    Params = TiresiasParams

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self.thresholds = [h * 3600.0 for h in params.thresholds_gpu_h]
        self.starve_limit = params.starve_limit
        #: When to be asked again (s), or None.
        self.wake_at: float | None = None
        #: Service a promoted job's count starts from (job id -> GPU-s).
        self.base: dict[int, float] = {}
        #: Promotions due: (time, id, job) of queued jobs below the top queue.
        self.promotions: list[tuple[float, int, Any]] = []
        #: Queued jobs promoted to the top queue, by id.
        self.promoted: dict[int, Any] = {}
        #: Queue of each running job, by id; running GPUs per queue and pool.
        self.level: dict[int, int] = {}
        self.level_gpus: list[dict[int, int]] = [{} for _ in range(len(self.thresholds) + 1)]
        #: Next threshold crossings of running jobs, one heap per queue they leave: (time, id, job).
        self.crossings: list[list[tuple[float, int, Any]]] = [[] for _ in self.thresholds]
        #: The last pass ran to its end and every start it decided took effect (the queue is settled).
        self.settled = False
        #: (busy, down, installed GPUs, queued jobs) at the end of the last pass.
        self._state: tuple[int, ...] = ()

    def service(self, job: Any, now: float, running: bool) -> float:
        """Its service now, GPU-s (from its promotion, if it was promoted)."""
        held = job.attained - self.base.get(job.id, 0.0)
        return held + job.gpus * (now - job.start_time) if running else held

    def _level(self, service: float, gpus: int) -> int:
        """The queue of a job of ``gpus`` GPUs with this service (0 the top).

        A threshold counts as crossed within ``_TOLERANCE_S`` of holding the GPUs, the
        tolerance at which crossings are taken as due, so that the queue a job is offered
        in and the one it runs in agree.
        """
        return bisect_right(self.thresholds, service + gpus * _TOLERANCE_S)

    def order(self, job: JobView) -> Any:
        """(queue, submission time)."""
        return (self._level(self.service(job, 0.0, False), job.gpus), job.submit_time)

    def key(self, job: JobView) -> Any:
        """The order; a job queued again below the top queue is due a promotion."""
        order = self.order(job)
        last = job.last_run  # type: ignore[attr-defined]
        if order[0] and last is not None and self.starve_limit and last[1] > last[0]:
            start, end = last  # (a run cut at its start has nothing to be starved against, as in Tiresias)
            heappush(self.promotions, (end + self.starve_limit * (end - start), job.id, job))
        return order

    def rank(self, job: Any, now: float, running: bool) -> Any:
        """(queue, submission time): a running job's queue as last moved; a promoted job in the top queue."""
        if running:
            return (self.level.get(job.id, 0), job.submit_time)
        if job.id in self.promoted:
            return (0, job.submit_time)
        return self.order(job)

    def outranks(self, mine: Any, theirs: Any, victim: Any) -> bool:
        """A victim is in a lower queue."""
        return theirs[0] > mine[0]

    def may_preempt(self, queue: QueueLike) -> bool:
        """A promoted job waits, or the first queued job's queue is above the lowest queue that has running jobs."""
        if self.promoted:
            return True
        first = queue.first()
        if first is None:
            return False
        mine = self.order(first)[0]
        return any(any(c.values()) for c in self.level_gpus[mine + 1 :])

    def _move(self, job: Any, level: int, sign: int) -> None:
        """Count the job into (``sign`` 1) or out of (-1) queue ``level``'s running jobs."""
        placement = job.placement
        counts, per_node = self.level_gpus[level], self.level_node[level]
        if len(placement) == 1:  # (most runs)
            node, gpus = placement[0]
            pool = self.node_pool[node]
            counts[pool] = counts.get(pool, 0) + sign * gpus
            per_node[node] += sign * gpus
            return
        for pool, gpus in _pool_gpus(placement, self.node_pool):
            counts[pool] = counts.get(pool, 0) + sign * gpus
        for node, gpus in placement:
            per_node[node] += sign * gpus

    def _next_crossing(self, job: Any, level: int) -> None:
        if level < len(self.thresholds):
            base = job.attained - self.base.get(job.id, 0.0)
            at = job.start_time + (self.thresholds[level] - base) / job.gpus
            heappush(self.crossings[level], (at, job.id, job))

    def bind_placement(
        self, place: Callable[[Any, Any], Placement | None], uniform_in_class: bool, cluster: ClusterView
    ) -> None:
        """Take the placement policy and the cluster."""
        super().bind_placement(place, uniform_in_class, cluster)
        #: GPUs held by running jobs of each queue, per node (queue -> node -> GPUs).
        self.level_node = [[0] * len(cluster.free) for _ in self.level_gpus]

    def run_started(self, job: Any) -> None:
        """Index its queue and its next crossing."""
        super().run_started(job)
        self.promoted.pop(job.id, None)
        level = self._level(self.service(job, job.start_time, True), job.gpus)
        self.level[job.id] = level
        self._move(job, level, 1)
        self._next_crossing(job, level)

    def run_left(self, job: Any) -> None:
        """Drop it from its queue's counts."""
        super().run_left(job)
        level = self.level.pop(job.id, None)
        if level is not None:
            self._move(job, level, -1)

    def _advance(self, now: float) -> int:
        """Move running jobs past their crossings down, and promote starved queued jobs, up to ``now``.

        Returns the lowest queue (largest index) a job left, -1 if none.
        """
        running, crossed = self.running, -1
        for crossings in self.crossings:  # queue by queue: a job may cross two thresholds since the last pass
            while crossings and crossings[0][0] <= now + _TOLERANCE_S:
                _, key, job = heappop(crossings)
                if running.get(key) is not job:
                    continue  # that run has ended
                level = self.level[key]
                crossed = max(crossed, level)
                self._move(job, level, -1)
                self.level[key] = level + 1
                self._move(job, level + 1, 1)
                self._next_crossing(job, level + 1)
        promotions = self.promotions
        while promotions and promotions[0][0] <= now:
            _, key, job = heappop(promotions)
            if job.state == QUEUED:
                self.base[key] = job.attained
                self.promoted[key] = job
        return crossed

    def victims(self, job: Any, cluster: ClusterView, now: float) -> tuple[bool, list[Any] | None]:
        """Running jobs of lower queues, from the counts first (O(K)), chosen only when they are enough."""
        mine = self.rank(job, now, False)[0]
        lower = self.level_gpus[mine + 1 :]
        if self.doomed and (leaving := self._leaving()) is not None:
            return self._victims_beside(job, mine, leaving, cluster)
        if self.tenancy is not None:  # victims are filtered by tenant: no counts
            return self._victims_beside(job, mine, [0] * len(self.on_node), cluster)
        if not any(any(c.values()) for c in lower):
            return False, None
        pools = job.pools
        need = job.gpus - _free_in(cluster, pools)
        if sum(c.get(p, 0) for c in lower for p in pools) < need:
            return True, None
        level_node, on_node, level = self.level_node, self.on_node, self.level
        below, above = level_node[mine + 1 :], level_node[: mine + 1]
        movable = below[0] if len(below) == 1 else [sum(c) for c in zip(*below, strict=True)]
        others = above[0] if len(above) == 1 else [sum(c) for c in zip(*above, strict=True)]

        def ranked(node: int) -> list[tuple[Any, int, Any, int]]:  # lower queues first, the latest submitted first
            return [((level[h.id], h.submit_time), h.id, h, g) for h, g in on_node[node] if level[h.id] > mine]

        return True, choose_victims(job, movable, others, ranked, cluster)

    def _victims_beside(
        self, job: Any, mine: int, leaving: list[int], cluster: ClusterView
    ) -> tuple[bool, list[Any] | None]:
        """:meth:`victims` while victims told already keep their GPUs to the end of their grace (rare: no counts).

        Their GPUs count as free for ``job`` (it waits for them); the others of lower queues may be
        chosen, but under tenants only those :meth:`_spared` leaves (the path under tenants too,
        with ``leaving`` all 0: O(running jobs)).
        """
        level, on_node, doomed, spared = self.level, self.on_node, self.doomed, self._spared(job)
        movable = [
            sum(g for h, g in held if level[h.id] > mine and h.id not in doomed and not spared(h)) for held in on_node
        ]
        others = [sum(g for _, g in held) - m - d for held, m, d in zip(on_node, movable, leaving, strict=True)]

        def ranked(node: int) -> list[tuple[Any, int, Any, int]]:
            return [
                ((level[h.id], h.submit_time), h.id, h, g)
                for h, g in on_node[node]
                if level[h.id] > mine and h.id not in doomed and not spared(h)
            ]

        return any(movable), choose_victims(job, movable, others, ranked, cluster, leaving)

    def _decide(self, queue: QueueLike, cluster: ClusterView, now: float, arrival: Any) -> Iterator[Any]:
        """Starts and preemptions, promoted jobs first in the top queue; then the next crossing or promotion."""
        crossed = self._advance(now)
        state = (cluster.busy_gpus, cluster.down_gpus, cluster.installed_gpus, len(queue))
        settled, self.settled = self.settled and state == self._state, False
        if arrival is None and settled and (top := self._top_queued(queue)) is not None and top > crossed:
            # Nothing changed since a settled pass but crossings out of queues above every queued
            # job (see _wake): no queued job gains a victim, the pass would decide nothing.
            self.settled = True
        else:
            complete, started = True, 0
            for decision in self._pass(queue, cluster, now, arrival):
                yield decision
                if decision.__class__ is not tuple:
                    complete = False  # a preemption: the engine queues the victims and asks again
                elif decision[0].state == RUNNING:
                    started += 1  # (the engine drops it from the queue after the pass)
                else:
                    complete = False  # the engine did not take a start (tenants, a victim's grace)
            self.settled = complete and not self.waiting and (settled or arrival is None)
            state = (cluster.busy_gpus, cluster.down_gpus, cluster.installed_gpus, len(queue) - started)
        self._state = state
        self._wake(queue)

    def _top_queued(self, queue: QueueLike) -> int | None:
        """The highest queue (smallest index) of a queued job, K with none; None if the queue does not show it.

        Only a queue in the scheduler's order (``queue.classes`` kept: a :class:`JobQueue`) shows
        its highest queue first; a tenant queue shows its tenants' heads in the fairness order.
        While a promoted job waits (it is in the top queue whatever its key says), None.
        """
        if getattr(queue, "classes", None) is None or self.promoted:
            return None
        first = queue.first()
        return len(self.thresholds) + 1 if first is None else self.order(first)[0]

    def _wake(self, queue: QueueLike) -> None:
        """The next time to be asked again: a promotion, or a crossing a queued job may come to act on.

        A job crossing from queue l into l + 1 becomes a victim only for queued jobs of queue
        l; on a settled queue (the last pass decided all it could, and every start took
        effect) no other job's decision changes. A crossing out of a queue above the highest
        queued job's (``top``) still has to be taken in time when the job may go on to cross
        out of ``top`` (then a victim): it wakes the scheduler, which moves the job down and
        skips the pass (:meth:`_decide`). Only when ``top`` is the last queue (or none is
        queued) are those crossings left to the next pass (:meth:`_advance`), without a
        wake-up of their own.
        """
        soonest = math.inf
        top = (self._top_queued(queue) if self.settled else None) or 0
        if top < len(self.thresholds):  # a running job may yet cross out of top: every crossing counts
            top = 0
        for level, crossings in enumerate(self.crossings):
            while crossings and self.running.get(crossings[0][1]) is not crossings[0][2]:
                heappop(crossings)
            if crossings and level >= top and crossings[0][0] < soonest:
                soonest = crossings[0][0]
        while self.promotions and self.promotions[0][2].state != QUEUED:
            heappop(self.promotions)
        if self.promotions:
            soonest = min(soonest, self.promotions[0][0])
        self.wake_at = soonest if soonest < math.inf else None

    def candidates(
        self, queue: QueueLike, skip: Callable[[Any], bool], fits: Callable[[Any, int], bool] | None = None
    ) -> Iterator[Any]:
        """Promoted jobs merged into the top queue, by submission; the queue's jobs in order besides."""
        promoted = self.promoted
        if not promoted:  # (no job is started but the one just offered, as its class's run offers it)
            yield from super().candidates(queue, skip, fits)
            return
        # (not a promoted job, nor one started since its class's run put it among the heads)
        rest = (job for job in super().candidates(queue, skip, fits) if job.id not in promoted and job.state == QUEUED)
        up = sorted(((0, job.submit_time), job.id, job) for job in promoted.values() if job.state == QUEUED)
        following = next(rest, None)
        for order, key, job in up:
            while following is not None and (self.order(following), following.id) < (order, key):
                yield following
                following = next(rest, None)
            if job.state == QUEUED:
                yield job
        if following is not None:
            yield following
            yield from rest
