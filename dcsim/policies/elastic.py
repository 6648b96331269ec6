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

    __slots__ = ("_job", "gpus", "pools")  # pools: set while a placement is offered fewer (per-type quotas)

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
    placement policy finds room for (at most ``max_gpus`` less the top GPUs whose gain is
    not above ``min_gain``, at least ``min_gpus``; a rigid job at its ``gpus``). If it does
    not fit, running elastic jobs shrink toward their ``min_gpus``, smallest loss first, to
    make room for its smallest count: on one node (the one of its pools where the fewest GPUs
    must be given back; ties -> lower id) for a head that fits in a node, else anywhere in
    its pools; only if that frees enough (else nothing shrinks and the head waits); then it
    starts. When the queue is empty, or its head cannot start even by shrinking, free GPUs
    go to running elastic jobs by marginal gain, in each job's pool (own nodes first, then
    the nodes with the most free GPUs); with ``rebalance``, a GPU then also moves from the
    job that loses least by giving it to the one that gains most, while the gain beats the
    loss by ``move_margin``. A resize costs no time.

    Cost per decision: O(started jobs) queue entries (never a scan of the queue), each start
    up to ``max_gpus - min_gpus + 1`` placement queries; a shrink or growth phase
    O(P + R log R + G log R) for R running elastic jobs holding P (node, GPUs) pairs and G GPUs
    given or moved.
    """

    class Params(BaseModel):
        """How greedy growth is."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        min_gain: float = Field(
            0.0, ge=0, le=1,
            description="grow a job by a GPU only if it gains more than this, in GPUs at the job's nominal "
            "efficiency (0: any gain; 0.5: leave a GPU idle rather than add it at under half its worth)",
        )  # fmt: skip
        rebalance: bool = Field(True, description="move GPUs between running elastic jobs to where they gain more")
        move_margin: float = Field(
            0.1, ge=0,
            description="move a GPU only if the job that takes it gains more than the one that gives it loses, by "
            "this much (GPUs at nominal efficiency): fewer resizes for small gains",
        )  # fmt: skip

    #: Asked when GPUs free with nothing queued (to grow the running jobs).
    grows = True

    def __init__(self, params: Params, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self.place: Callable[[Any, Any], Placement | None] | None = None
        #: Each class's start cap by (its plan, the job's nominal count) (see _cap).
        self._caps: dict[tuple[int, int], int] = {}

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
        for gpus in range(min(self._cap(job), free), plan.min_gpus - 1, -1):
            placement = place(_AtCount(job, gpus), cluster)
            if placement is not None:
                return placement
        return None

    def _cap(self, job: Any) -> int:
        """The most GPUs a job starts on: ``max_gpus``, less the top GPUs that would gain no more than ``min_gain``."""
        plan = job.elastic
        key = (id(plan), job.gpus)
        cap = self._caps.get(key)
        if cap is None:
            cap = plan.max_gpus
            while cap > plan.min_gpus and gain(job, cap) <= self.params.min_gain:
                cap -= 1
            self._caps[key] = cap
        return cap

    def _shrink_for(self, head: Any, cluster: Any) -> list[Resize] | None:
        """Resizes that make room for the head's smallest count, smallest loss first; None if they cannot.

        A head that fits in one node gets room on one node: the node of its pools where the
        fewest GPUs must be given back (ties: lower id), by the elastic jobs there. A larger
        head gets the GPUs it lacks in its pools, from any node.
        """
        pools = set(head.pools)
        need = head.elastic.min_gpus if head.elastic is not None else head.gpus
        node_pool = cluster.node_pool
        jobs = [j for j in _elastic(cluster) if j.held > j.elastic.min_gpus]
        if need <= min(cluster.pools[p].gpus_per_node for p in pools):
            return self._room_on_a_node(need, jobs, pools, cluster)
        short = need - sum(cluster.pool_free[p] for p in pools)
        if short <= 0:
            return None  # enough GPUs, but scattered: shrinking by count would not place it
        givers = []
        for job in jobs:
            inside = sum(g for n, g in job.placement if node_pool[n] in pools)
            givers.append((job, min(job.held - job.elastic.min_gpus, inside)))
        cut = _cuts(givers, short)
        if cut is None:
            return None
        return [Resize(job, _shrunk(job, k, lambda n: node_pool[n] in pools)) for job, k in cut]

    def _room_on_a_node(self, need: int, jobs: list[Any], pools: set[int], cluster: Any) -> list[Resize] | None:
        """Resizes that leave ``need`` GPUs free on one node of ``pools``; None if no node can have them."""
        node_pool, free = cluster.node_pool, cluster.free
        holders: dict[int, list[tuple[Any, int]]] = {}
        for job in jobs:
            room = job.held - job.elastic.min_gpus
            for n, g in job.placement:
                if node_pool[n] in pools:
                    holders.setdefault(n, []).append((job, min(g, room)))
        best = None
        for n, on in holders.items():
            if free[n] + sum(k for _, k in on) >= need and (best is None or (need - free[n], n) < best):
                best = (need - free[n], n)
        if best is None:
            return None
        short, node = best
        cut = _cuts(holders[node], short)
        assert cut is not None
        return [Resize(job, _shrunk(job, k, lambda n: n == node)) for job, k in cut]

    def _grow(self, cluster: Any) -> Iterator[Resize]:
        """Give free GPUs to running elastic jobs by marginal gain, and move GPUs to where they gain more.

        Within each job's pool (that of its first node): the next GPU goes to the job whose
        gain from it is largest; when none is free, it comes from the job that loses least by
        giving one, if the gain exceeds that loss by ``move_margin`` (so each move raises the
        summed speed-up by more than the margin and the moves end). Shrinks are drawn before
        growth, so growth finds the GPUs they give back.
        """
        node_pool = cluster.node_pool
        free = list(cluster.pool_free)
        params = self.params
        by_pool: dict[int, list[Any]] = {}
        for job in _elastic(cluster):
            by_pool.setdefault(node_pool[job.placement[0][0]], []).append(job)
        change: dict[int, list[Any]] = {}
        for pool, jobs in sorted(by_pool.items()):
            count = {job.id: job.held for job in jobs}
            grow = [(-gain(j, j.held + 1), j.id, j.held, j) for j in jobs if j.held < j.elastic.max_gpus]
            shrink = [(gain(j, j.held), j.id, j.held, j) for j in jobs if j.held > j.elastic.min_gpus]
            heapify(grow)
            heapify(shrink)
            while (top := _top(grow, count, -1)) is not None:
                neg, key, _, job = top
                if -neg <= params.min_gain:
                    break
                donor = None
                if free[pool] > 0:
                    free[pool] -= 1
                elif (
                    params.rebalance
                    and (donor := _top(shrink, count, key)) is not None
                    and (-neg > donor[0] + params.move_margin)
                ):
                    count[donor[1]] -= 1
                    change.setdefault(donor[1], [donor[3], 0])[1] -= 1
                    _push(grow, shrink, donor[3], count[donor[1]])
                else:
                    break
                count[key] += 1
                change.setdefault(key, [job, 0])[1] += 1
                _push(grow, shrink, job, count[key])
        for _, (job, k) in sorted(change.items()):
            if k < 0:
                pool = node_pool[job.placement[0][0]]
                yield Resize(job, _shrunk(job, -k, lambda n, pool=pool: node_pool[n] == pool))
        for _, (job, k) in sorted(change.items()):
            if k > 0:  # built when drawn: the GPUs the shrinks and the growth before gave or took are counted
                yield Resize(job, _grown(job, k, cluster))


def _top(heap: list[Any], count: dict[int, int], skip: int) -> Any:
    """The best live entry of a heap of (key, job id, count it was made at, job), not of job ``skip``; or None."""
    held = None
    while heap:
        entry = heap[0]
        if count[entry[1]] != entry[2]:
            heappop(heap)  # made at a count the job has left
        elif entry[1] == skip and held is None:
            held = heappop(heap)
        else:
            break
    if held is not None:
        best = heap[0] if heap else None
        heappush(heap, held)
        return best
    return heap[0] if heap else None


def _push(grow: list[Any], shrink: list[Any], job: Any, gpus: int) -> None:
    """A job's new entries at ``gpus`` GPUs: its gain from one more, its loss from one fewer."""
    plan = job.elastic
    if gpus < plan.max_gpus:
        heappush(grow, (-gain(job, gpus + 1), job.id, gpus, job))
    if gpus > plan.min_gpus:
        heappush(shrink, (gain(job, gpus), job.id, gpus, job))


def _elastic(cluster: Any) -> list[Any]:
    """The running elastic jobs, by id. O(running holders)."""
    return sorted((h for h in cluster.running() if getattr(h, "elastic", None) is not None), key=lambda j: j.id)


def _cuts(givers: list[tuple[Any, int]], short: int) -> list[tuple[Any, int]] | None:
    """How many GPUs each of ``givers`` (job, GPUs it may give) gives, ``short`` in all; None if they cannot.

    One at a time, by smallest loss (ties: lower job id); the result by job id.
    """
    if short <= 0:
        return []
    if sum(k for _, k in givers) < short:
        return None
    heap = [(gain(job, job.held), job.id, job, room) for job, room in givers if room > 0]
    heapify(heap)
    cut: dict[int, list[Any]] = {}
    while short > 0:
        _, key, job, room = heappop(heap)
        entry = cut.setdefault(key, [job, 0])
        entry[1] += 1
        short -= 1
        if room > 1:
            heappush(heap, (gain(job, job.held - entry[1]), key, job, room - 1))
    return [(job, k) for _, (job, k) in sorted(cut.items())]


def _shrunk(job: Any, gpus: int, where: Callable[[int], bool]) -> Placement:
    """The job's placement less ``gpus`` GPUs of the nodes ``where`` allows, from those where it holds fewest first."""
    placement = dict(job.placement)
    for n, held in sorted(((n, g) for n, g in job.placement if where(n)), key=lambda e: (e[1], -e[0])):
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
    for pool in (cluster.node_pool[job.placement[0][0]],):  # the job's pool, that of its first node
        for f in range(cluster.pools[pool].gpus_per_node, 0, -1):
            if gpus <= 0:
                break
            for n in cluster.lowest_nodes(pool, f, math.ceil(gpus / f) + len(placement)):  # some may be its own
                if n not in placement and gpus > 0:
                    take = min(gpus, f)
                    placement[n] = take
                    gpus -= take
    return list(placement.items())


__all__ = ["Elastic", "gain"]
