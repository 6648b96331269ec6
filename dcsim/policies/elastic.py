"""The elastic scheduler: elastic jobs start as large as fits, shrink to make room, grow into free GPUs.

Elastic job classes (:mod:`dcsim.workload.elastic`) run on any GPU count between their
``min_gpus`` and ``max_gpus``; this scheduler sets the count of each running one through
:class:`~dcsim.policies.scheduling.Resize` decisions, which the engine applies through the
run model's rates (the work done is settled, the end moves).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from heapq import heapify, heappop, heappush
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from dcsim.infra.cluster import Placement
from dcsim.policies.scheduling import SCHEDULER, Resize, SchedulerBase


class _AtCount:
    """A job as the placement policy sees it when asked for ``gpus`` GPUs (an elastic job's candidate count)."""

    __slots__ = ("_job", "gpus")

    def __init__(self, job: Any, gpus: int) -> None:
        self._job, self.gpus = job, gpus

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)


def gain(job: Any, gpus: int) -> float:
    """What the ``gpus``-th GPU adds to an elastic job's speed, in GPUs at its nominal count's efficiency.

    ``gpus_nominal x (s(gpus) - s(gpus - 1)) / s(gpus_nominal)``: 1 for every GPU under a
    linear curve, less as a curve flattens; comparable across jobs of different sizes.
    """
    plan = job.elastic
    return job.gpus * (plan.speedup(gpus) - plan.speedup(gpus - 1)) / plan.speedup(job.gpus)


@SCHEDULER.register("elastic")
class Elastic(SchedulerBase):
    """First come, first served; elastic jobs start as large as fits, shrink for the queue's head, grow when idle.

    After Optimus (Peng et al., EuroSys 2018) and Pollux (Qiao et al., OSDI 2021). Taken from
    Optimus: greedy allocation by marginal gain, one GPU at a time to the running job whose
    speed-up gains most from it (a heap; ties -> lower job id), while GPUs are free; and the
    same gain in reverse to choose whom to shrink (the smallest loss first). Taken from
    Pollux: the gain is measured in throughput (the class's speed-up curve, Pollux's goodput
    with a fixed statistical efficiency), not Optimus's fitted remaining time, and GPUs are
    re-allocated among running jobs as the queue changes. Not taken: Pollux's batch-size
    tuning and periodic whole-cluster optimisation, Optimus's online loss-curve fitting.

    The rule: the queue is strict FIFO. The head starts at the largest count that the
    placement policy finds room for (at most ``max_gpus``, at least ``min_gpus``; a rigid
    job at its ``gpus``). If it does not fit, running elastic jobs shrink toward their
    ``min_gpus``, smallest loss first, by just enough GPUs of the head's pools for its
    smallest count, and only if that frees enough (else nothing shrinks and the head waits);
    then it starts. When the queue is empty, or its head cannot start even by shrinking,
    free GPUs go to running elastic jobs by marginal gain, on the GPU types they already run
    on (own nodes first, then the nodes with the most free GPUs). A resize costs no time.

    Cost per decision: O(started jobs) queue entries (never a scan of the queue), each start
    up to ``max_gpus - min_gpus + 1`` placement queries; a shrink or growth phase
    O(R log R + G log R) for R running jobs and G GPUs moved.
    """

    class Params(BaseModel):
        """How greedy growth is."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        min_gain: float = Field(
            0.0, ge=0, le=1,
            description="grow a job by a GPU only if it gains more than this, in GPUs at the job's nominal "
            "efficiency (0: any gain; 0.5: leave a GPU idle rather than add it at under half its worth)",
        )  # fmt: skip

    #: Asked when GPUs free with nothing queued (to grow the running jobs).
    grows = True

    def __init__(self, params: Params, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self.place: Callable[[Any, Any], Placement | None] | None = None

    def use_placement(self, place: Callable[[Any, Any], Placement | None]) -> None:
        """Take the placement policy's ``place(job, cluster)`` (the engine calls it once, before deciding)."""
        self.place = place

    def decide(self, queue: Any, cluster: Any, now: float) -> Iterable[Any]:
        """Starts, shrinks for the head and growth (see the class)."""
        if queue.arrival is not None and not queue.arrival_first:
            return ()  # the head was already blocked; an arrival behind it changes nothing
        return self._passes(queue, cluster)

    # ------------------------------------------------------------------ the pass
    def _passes(self, queue: Any, cluster: Any) -> Iterator[Any]:
        while (head := queue.first()) is not None:
            placement = self._start(head, cluster)
            if placement is None:
                shrinks = self._shrink_for(head, cluster)
                if shrinks is None:
                    break  # not even by shrinking: the free GPUs may as well speed up the running
                yield from shrinks
                placement = self._start(head, cluster)
                if placement is None:
                    return  # the GPUs freed are scattered: they stay free for it
            yield head, placement
        yield from self._grow(cluster)

    def _start(self, job: Any, cluster: Any) -> Placement | None:
        """The head's placement at the largest count that fits, or None."""
        place = self.place
        assert place is not None, "the engine gives the scheduler its placement policy"
        plan = job.elastic
        if plan is None:
            return place(job, cluster)
        free = sum(cluster.pool_free[p] for p in job.pools)
        for gpus in range(min(plan.max_gpus, free), plan.min_gpus - 1, -1):
            placement = place(_AtCount(job, gpus), cluster)
            if placement is not None:
                return placement
        return None

    def _shrink_for(self, head: Any, cluster: Any) -> list[Resize] | None:
        """Resizes that free the head's smallest count in its pools, smallest loss first; None if they cannot."""
        pools = set(head.pools)
        need = head.elastic.min_gpus if head.elastic is not None else head.gpus
        short = need - sum(cluster.pool_free[p] for p in pools)
        if short <= 0:
            return None  # enough GPUs, but scattered: shrinking by count would not place it
        node_pool = cluster.node_pool
        heap, spare = [], 0
        for job in _elastic(cluster):
            inside = sum(g for n, g in job.placement if node_pool[n] in pools)
            room = min(job.held - job.elastic.min_gpus, inside)
            if room > 0:
                spare += room
                heap.append((gain(job, job.held), job.id, job, room))
        if spare < short:
            return None
        heapify(heap)
        cut: dict[int, list[Any]] = {}
        while short > 0:
            _, key, job, room = heappop(heap)
            entry = cut.setdefault(key, [job, 0])
            entry[1] += 1
            short -= 1
            if room > 1:
                heappush(heap, (gain(job, job.held - entry[1]), key, job, room - 1))
        return [Resize(job, _shrunk(job, k, pools, node_pool)) for key, (job, k) in sorted(cut.items())]

    def _grow(self, cluster: Any) -> Iterator[Resize]:
        """Give the free GPUs to running elastic jobs by marginal gain, on the GPU types they run on."""
        if cluster.busy_gpus + cluster.down_gpus >= cluster.installed_gpus:
            return
        node_pool = cluster.node_pool
        free = list(cluster.pool_free)
        threshold = self.params.min_gain
        heap = []
        for job in _elastic(cluster):
            if job.held < job.elastic.max_gpus and (g := gain(job, job.held + 1)) > threshold:
                held_pools = sorted({node_pool[n] for n, _ in job.placement})
                if any(free[p] for p in held_pools):
                    heap.append((-g, job.id, job, held_pools))
        heapify(heap)
        extra: dict[int, list[Any]] = {}
        while heap:
            _, key, job, held_pools = heappop(heap)
            pool = next((p for p in held_pools if free[p] > 0), None)
            if pool is None:
                continue
            free[pool] -= 1
            entry = extra.setdefault(key, [job, 0])
            entry[1] += 1
            gpus = job.held + entry[1]
            if gpus < job.elastic.max_gpus and (g := gain(job, gpus + 1)) > threshold:
                heappush(heap, (-g, key, job, held_pools))
        for _, (job, k) in sorted(extra.items()):
            yield Resize(job, _grown(job, k, cluster))  # built when drawn: the GPUs of the resizes before are taken


def _elastic(cluster: Any) -> list[Any]:
    """The running elastic jobs, by id. O(running holders)."""
    return sorted((h for h in cluster.running() if getattr(h, "elastic", None) is not None), key=lambda j: j.id)


def _shrunk(job: Any, gpus: int, pools: set[int], node_pool: Any) -> Placement:
    """The job's placement less ``gpus`` GPUs of ``pools``, taken from the nodes where it holds fewest first."""
    placement = dict(job.placement)
    for n, held in sorted(((n, g) for n, g in job.placement if node_pool[n] in pools), key=lambda e: (e[1], -e[0])):
        take = min(held, gpus)
        placement[n] -= take
        gpus -= take
        if not gpus:
            break
    return [(n, g) for n, g in placement.items() if g > 0]


def _grown(job: Any, gpus: int, cluster: Any) -> Placement:
    """The job's placement plus up to ``gpus`` free GPUs: on its own nodes first, then the freest nodes of its pools."""
    placement = dict(job.placement)
    free = cluster.free
    for n in placement:
        take = min(gpus, free[n])
        placement[n] += take
        gpus -= take
    for pool in sorted({cluster.node_pool[n] for n in placement}):
        for f in range(cluster.pools[pool].gpus_per_node, 0, -1):
            if gpus <= 0:
                break
            for n in cluster.lowest_nodes(pool, f, math.ceil(gpus / f)):
                if n not in placement and gpus > 0:
                    take = min(gpus, f)
                    placement[n] = take
                    gpus -= take
    return list(placement.items())


__all__ = ["Elastic", "gain"]
