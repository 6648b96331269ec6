"""The ``lp`` scheduler: each epoch, a MILP chooses which queued jobs start and where.

Epochs come every ``period`` and after arrivals, completions and capacity changes,
batched: events within ``delay`` of the first share one epoch. Each epoch takes the
first ``window`` queued jobs (in submission order) and the free capacity, in bins
(nodes, racks or whole pools: ``level``, or ``auto`` by problem size), and solves
:mod:`dcsim.allocate.epoch`'s problem with four priced terms, all in USD:

- **cost**: ``gpus x estimated hours x (rate of the bin's pool - the job's cheapest
  pool's rate)``. With ``cost_basis: energy`` (the default) the rate is what a busy GPU adds
  to the energy bill (busy minus idle power, x PUE x electricity price): in dcsim's
  cost model capital is paid per installed GPU-hour whether used or not, so energy is
  the cost a decision changes. ``cost_basis: gpu_hour`` uses the GPU-hour price plus
  energy, as when GPU-hours are rented or charged back by use;
- **fault exposure**: expected GPU-hours lost to failures (the bin's failure rates
  for a job of that size x its run time x the work lost per interruption), valued at
  the pool's GPU-hour price, above the same in the job's safest pool within one rack;
- **fragmentation**: GPUs the job leaves free beside it on a partly used node, valued
  at the GPU-hour price for one period, above the job's tightest fit this epoch;
- **network**: with a fabric (a job class communicates), what the job's expected network
  slowdown in the bin costs: ``(slowdown - 1) x gpus x estimated hours x GPU-hour price``,
  the GPU-hours it would hold longer. The slowdown is its step at the share its flow can
  expect on the placement it would get there (a rack's bin: inside the rack; a pool's bin:
  where ``network_aware`` puts it), from the links' capacity and load now, over its step on
  an idle fabric (:func:`dcsim.policies.placement.expected_slowdown`). So a job that would
  span racks on an oversubscribed or busy fabric prefers a rack that holds it, or waits for
  one while waiting costs less. Zero without a fabric, and for jobs on one node or without
  traffic;
- **waiting**: a job left queued costs ``gpus x GPU-hour price x (its wait so far + one
  period)``; so older jobs go first, and a job may wait for a cheaper or safer bin
  only while that is worth it.

Then each chosen job is placed on nodes inside its bin (the tightest ones; in a pool's bin, a
job that communicates over a fabric where ``network_aware`` puts it). If the
solver gives no optimal answer in ``time_limit``, the epoch falls back to the plain
backfill pass with the scenario's placement policy, and the fallback is counted.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from dcsim.allocate.epoch import TERMS, Bin, Candidate, EpochProblem, solve_epoch
from dcsim.core.spec import PositiveSeconds, Seconds
from dcsim.infra.cluster import Placement
from dcsim.policies.placement import _TIGHTEST, NetworkAware, communicates, expected_slowdown, place_in_pool
from dcsim.policies.scheduling import SCHEDULER, Epoch, SchedulerBase
from dcsim.views import ClusterView, Fleet, JobView, QueueLike

if TYPE_CHECKING:
    import numpy as np

LEVELS = ("node", "rack", "pool")


class LpParams(BaseModel):
    """Epochs, problem size, objective weights and solver of the ``lp`` scheduler."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    period: PositiveSeconds = Field(300.0, description="time between periodic epochs")
    delay: Seconds = Field(0.0, description="arrivals and completions within this time share one epoch")
    window: int = Field(200, ge=1, description="queued jobs considered per epoch, first submitted first")
    level: Literal["auto", "node", "rack", "pool"] = Field(
        "auto", description="bins of free capacity: per node, rack or pool; auto: the finest within max_cells"
    )
    max_cells: int = Field(
        10_000, ge=1, description="auto level: the most (job, bin) pairs in one epoch; halved after a time-out"
    )
    spare_bins: int | None = Field(
        8, ge=0, description="bins a job keeps besides one per window job of its shape, best first (null: all)"
    )
    cost_weight: float = Field(1.0, ge=0, description="weight of the cost term")
    cost_basis: Literal["energy", "gpu_hour"] = Field(
        "energy", description="cost of running: the energy it adds, or the GPU-hour price plus energy (rented GPUs)"
    )
    fault_weight: float = Field(1.0, ge=0, description="weight of the fault-exposure term")
    wait_weight: float = Field(1.0, gt=0, description="weight of the waiting term")
    fragmentation_weight: float = Field(1.0, ge=0, description="weight of the fragmentation term")
    network_weight: float = Field(
        1.0, ge=0, description="weight of the network term (the expected network slowdown in $; only with a fabric)"
    )
    solver: Literal["highs", "cbc"] = Field("highs", description="MILP solver")
    time_limit: PositiveSeconds = Field(1.0, description="solver time limit per epoch (then: fallback)")
    gap: float = Field(0.0, ge=0, lt=1, description="relative MIP gap at which the solver may stop")


@dataclass
class EpochRecord:
    """What one epoch did (``solve_time_s`` is wall time, so it is kept out of summary.json)."""

    time: float
    level: str
    jobs: int
    bins: int
    candidates: int
    status: str
    solve_time_s: float
    started: int
    unplaced: int
    fallback: bool
    terms: dict[str, float]


@dataclass
class _Shape:
    """How a job of ``gpus`` takes nodes of ``n`` GPUs: ``whole`` full nodes and ``rest`` GPUs on one more."""

    whole: int
    rest: int
    nodes: int


def _shape(gpus: int, n: int) -> _Shape:
    if gpus <= n:
        return _Shape(1 if gpus == n else 0, 0 if gpus == n else gpus, 1)
    k, r = divmod(gpus, n)
    return _Shape(k, r, k + (r > 0))


def _leftover(hist: Sequence[int], rest: int, n: int) -> tuple[int, int]:
    """(GPUs left free beside ``rest`` GPUs on the tightest node that holds them, whole nodes it breaks)."""
    if rest == 0:
        return 0, 0
    for f in range(rest, n):
        if hist[f]:
            return f - rest, 0
    return n - rest, 1


@SCHEDULER.register("lp")
class LinearProgram(SchedulerBase):
    """MILP per epoch over queued jobs and free capacity: cost, fault exposure, waiting, fragmentation, network."""

    Params = LpParams

    def __init__(self, params: LpParams, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self.epoch = Epoch(params.period, params.delay, params.window)
        #: The auto level's bound, halved after each epoch that timed out (so a run does not keep falling back).
        self.max_cells = params.max_cells
        self.fleet: Fleet | None = None
        #: Where a job that communicates goes in a pool's bin (and what its network term prices).
        self.spanning = NetworkAware(NetworkAware.Params(), rng)
        #: One record per epoch.
        self.log: list[EpochRecord] = []

    def key(self, job: JobView) -> float:
        """Queue order (the window's order): submission time."""
        return job.submit_time

    def bind(self, fleet: Fleet) -> None:
        """Take the pools' prices and failure rates (called once by the engine)."""
        self.fleet = fleet

    # ------------------------------------------------------------------ the problem
    def problem(
        self, jobs: Sequence[JobView], cluster: ClusterView, now: float
    ) -> tuple[EpochProblem, str, list[tuple[int, tuple[int, ...]]]]:
        """The epoch's MILP data, the level used, and each bin's (pool, nodes)."""
        p = self.params
        fleet = self.fleet
        assert fleet is not None, "bind() first"
        pools = sorted({q for job in jobs for q in job.pools})
        free = cluster.free
        net = cluster.network
        racks: dict[int, tuple[int, int, list[int]]] = {}  # rack -> (free GPUs, whole nodes, histogram)
        open_nodes = 0
        for q in pools:
            n = cluster.pools[q].gpus_per_node
            for r in cluster.pools[q].racks:
                hist = [0] * (n + 1)
                total = 0
                for m in cluster.rack_nodes[r]:
                    f = free[m]
                    hist[f] += 1
                    total += f
                if total:
                    racks[r] = (total, cluster.rack_whole_free[r], hist)
                    open_nodes += len(cluster.rack_nodes[r]) - hist[0]
        level = p.level
        if level == "auto":
            small = sum(1 for job in jobs if job.gpus < max(cluster.pools[q].gpus_per_node for q in job.pools))
            if small * open_nodes + (len(jobs) - small) * len(racks) <= self.max_cells:
                level = "node"
            elif len(jobs) * len(racks) <= self.max_cells:
                level = "rack"
            else:
                level = "pool"
        bins: list[Bin] = []
        where: list[tuple[int, tuple[int, ...]]] = []
        pool_bin: dict[int, int] = {}
        pool_hist: dict[int, list[int]] = {}
        for q in pools:
            n = cluster.pools[q].gpus_per_node
            pool_bin[q] = len(bins)
            bins.append(Bin(cluster.pool_free[q], cluster.count(q, n)))
            where.append((q, ()))
            pool_hist[q] = [cluster.count(q, f) for f in range(n + 1)]
        rack_bin: dict[int, int] = {}
        node_bin: dict[int, int] = {}

        def rack_index(r: int, q: int) -> int:
            if r not in rack_bin:
                total, whole, _ = racks[r]
                rack_bin[r] = len(bins)
                bins.append(Bin(total, whole, (pool_bin[q],)))
                where.append((q, tuple(cluster.rack_nodes[r])))
            return rack_bin[r]

        def node_index(m: int, q: int, n: int) -> int:
            if m not in node_bin:
                rack = rack_index(cluster.node_rack[m], q)  # first: it may add the rack's bin
                node_bin[m] = len(bins)
                bins.append(Bin(free[m], int(free[m] == n), (rack, pool_bin[q])))
                where.append((q, (m,)))
            return node_bin[m]

        rack_sizes = {q: max(len(cluster.rack_nodes[r]) for r in cluster.pools[q].racks) for q in pools}
        period_h = p.period / 3600.0
        wait: list[float] = []
        candidates: list[Candidate] = []
        like = Counter((job.gpus, tuple(job.pools)) for job in jobs)
        for j, job in enumerate(jobs):
            g = job.gpus
            basis = fleet.energy if p.cost_basis == "energy" else fleet.use_price
            cheapest = min(fleet.price[q] for q in job.pools)
            wait.append(p.wait_weight * cheapest * g * (now - job.submit_time + p.period) / 3600.0)
            speeds = getattr(job, "speeds", None)
            # Run time in each pool: the estimate on the class's reference GPU over the pool's rate.
            est = {q: job.estimate if speeds is None else job.estimate / speeds[q] for q in job.pools}
            least = min(basis[q] if speeds is None else basis[q] * est[q] for q in job.pools)
            # Exposure counts above the job's safest pool (within one rack), as cost counts
            # above its cheapest: the terms steer between bins, and only a premium over the
            # best makes a job wait.
            safest = min(
                self._fault(job, fleet.rates[q], _shape(g, cluster.pools[q].gpus_per_node), 1, est[q]) * fleet.price[q]
                for q in job.pools
            )
            # bin, whole nodes, GPUs left, fault, price, cost, network
            mine: list[tuple[int, int, int, float, float, float, float]] = []
            for q in job.pools:
                pool = cluster.pools[q]
                n = pool.gpus_per_node
                shape = _shape(g, n)
                if cluster.pool_free[q] < g or cluster.count(q, n) < shape.whole:
                    continue
                price = fleet.price[q]
                if speeds is None:
                    cost = p.cost_weight * g * est[q] / 3600.0 * (basis[q] - least)
                else:  # a slower pool also holds the GPUs longer
                    cost = p.cost_weight * g / 3600.0 * (basis[q] * est[q] - least)
                rack_size = rack_sizes[q]
                # Bins the job could start in: (bin, free-GPU histogram, racks it would span).
                targets: list[tuple[int, Sequence[int], int]] = []
                if shape.nodes > rack_size or level == "pool":
                    spanned = max(1, math.ceil(shape.nodes / rack_size))
                    targets.append((pool_bin[q], pool_hist[q], spanned))
                elif shape.nodes == 1 and shape.whole == 0 and level == "node":
                    for r in pool.racks:
                        if r in racks and racks[r][0] >= g:
                            for m in cluster.rack_nodes[r]:
                                if free[m] >= g:
                                    alone = [0] * (n + 1)
                                    alone[free[m]] = 1
                                    targets.append((node_index(m, q, n), alone, 1))
                else:
                    for r in pool.racks:
                        if r in racks and racks[r][0] >= g and racks[r][1] >= shape.whole:
                            targets.append((rack_index(r, q), racks[r][2], 1))
                faults: dict[int, float] = {}
                priced = net is not None and shape.nodes > 1 and communicates(job) and p.network_weight > 0
                for b, counts, spanned in targets:
                    left, breaks = _leftover(counts, shape.rest, n)
                    whole = shape.whole + breaks
                    if bins[b].free < g or bins[b].whole < whole:
                        continue
                    if spanned not in faults:
                        fault = self._fault(job, fleet.rates[q], shape, spanned, est[q])
                        faults[spanned] = max(fault * price - safest, 0.0)
                    slow = 0.0
                    if priced:
                        extra = self.slowdown(job, cluster, q, where[b][1]) - 1.0
                        slow = p.network_weight * extra * g * est[q] / 3600.0 * price
                    mine.append((b, whole, left, faults[spanned], price, cost, slow))
            # Fragmentation counts above the job's tightest fit now.
            tightest = min((price * left for _, _, left, _, price, _, _ in mine), default=0.0)
            frag_h = p.fragmentation_weight * period_h
            mine_c = [Candidate(j, b, g, whole, cost, fault, frag_h * (price * left - tightest), slow)
                      for b, whole, left, fault, price, cost, slow in mine]  # fmt: skip
            if p.spare_bins is not None:
                keep = like[(g, tuple(job.pools))] + p.spare_bins
                if len(mine_c) > keep:
                    mine_c = sorted(mine_c, key=lambda c: (c.price, c.bin))[:keep]
            candidates += mine_c
        return EpochProblem(bins, candidates, wait), level, where

    def slowdown(self, job: JobView, cluster: ClusterView, pool: int, nodes: Sequence[int]) -> float:
        """The job's expected network slowdown placed in ``nodes`` of ``pool`` now (a pool's bin: ``nodes`` empty).

        Placed as :meth:`_place` would place it: inside the nodes (:func:`in_nodes`), or in a
        pool's bin where ``network_aware`` puts it; 1 when it would sit on one node.
        """
        n = cluster.pools[pool].gpus_per_node
        spanning = self.spanning.place_among
        placement = in_nodes(cluster, nodes, job.gpus, n) if nodes else spanning(job, cluster, (pool,))
        if placement is None or len(placement) < 2 or cluster.network is None or job.communication is None:
            return 1.0
        return expected_slowdown(cluster.network, job.communication, [m for m, _ in placement])

    def _fault(self, job: JobView, rates: tuple[float, ...], shape: _Shape, spanned: int, est: float) -> float:
        """Weighted expected GPU-hours the job loses to failures in a bin spanning ``spanned`` racks.

        ``est``: the job's run time there, s.
        """
        # Units of each component kind (dcsim.infra.components.KINDS order) the job spans in this bin.
        spans = (job.gpus, shape.nodes, spanned, 1)
        rate = sum(n * r for n, r in zip(spans, rates, strict=True))
        if rate <= 0:
            return 0.0
        return self.params.fault_weight * job.gpus * self._lost_h(job, rate, est) * rate * est

    def _lost_h(self, job: JobView, rate: float, est: float) -> float:
        """GPU-hours per GPU one interruption loses: half a checkpoint interval plus the restart, or half the run."""
        plan = getattr(job, "checkpoint", None)
        half_run = est / 2.0
        if plan is None:
            return half_run / 3600.0
        interval, write, restart = plan
        if interval != interval:  # young_daly: Young's interval at this rate
            interval = math.sqrt(2.0 * write / rate) if rate > 0 else est
        return (min(interval / 2.0, half_run) + restart) / 3600.0

    # ------------------------------------------------------------------ the decision
    def decide(self, queue: QueueLike, cluster: ClusterView, now: float) -> Iterator[tuple[JobView, Placement]] | None:
        """Solve the epoch over the first ``window`` queued jobs; None if the solver gave no optimal answer.

        Otherwise an iterator of (job, placement); the engine starts each before asking
        for the next, so each placement sees the GPUs taken by the ones before it. On
        None the engine's backfill pass with the placement policy decides (a fallback).
        """
        jobs = list(islice(queue, self.epoch.window))
        problem, level, where = self.problem(jobs, cluster, now)
        p = self.params
        solution = solve_epoch(problem, p.solver, p.time_limit, p.gap)
        record = EpochRecord(
            now, level, len(jobs), len(problem.bins), len(problem.candidates), solution.status,
            solution.solve_time_s, 0, 0, solution.status != "optimal", solution.terms or dict.fromkeys(TERMS, 0.0),
        )  # fmt: skip
        self.log.append(record)
        if record.fallback:
            if solution.status == "time_limit" and p.level == "auto":
                self.max_cells = max(1, min(self.max_cells, len(problem.candidates)) // 2)
            return None
        return self._place(jobs, cluster, solution.chosen, where, record)

    def _place(
        self,
        jobs: Sequence[JobView],
        cluster: ClusterView,
        chosen: list[Candidate],
        where: list[tuple[int, tuple[int, ...]]],
        record: EpochRecord,
    ) -> Iterator[tuple[JobView, Placement]]:
        """Place the chosen jobs, the biggest first, each inside its bin (else anywhere in its pool)."""
        for c in sorted(chosen, key=lambda c: (-c.whole, -c.gpus, c.job)):
            job = jobs[c.job]
            pool, nodes = where[c.bin]
            placement = in_nodes(cluster, nodes, job.gpus, cluster.pools[pool].gpus_per_node) if nodes else None
            if placement is None and cluster.network is not None and communicates(job):
                placement = self.spanning.place_among(job, cluster, (pool,))
            if placement is None:
                found = place_in_pool(cluster, pool, job.gpus, _TIGHTEST)
                placement = found[0] if found is not None else None
            if placement is None:
                record.unplaced += 1
                continue
            record.started += 1
            yield job, placement


def in_nodes(cluster: ClusterView, nodes: Sequence[int], gpus: int, n: int) -> Placement | None:
    """``gpus`` GPUs on ``nodes``: whole free nodes (lowest ids) and the rest on the tightest node; or None."""
    free = cluster.free
    shape = _shape(gpus, n)
    if shape.nodes == 1:
        fits = [(free[m], m) for m in nodes if free[m] >= gpus]
        return [(min(fits)[1], gpus)] if fits else None
    wholes = [m for m in nodes if free[m] == n]
    if len(wholes) < shape.whole:
        return None
    placement: Placement = [(m, n) for m in wholes[: shape.whole]]
    if shape.rest:
        taken = set(wholes[: shape.whole])
        fits = [(free[m], m) for m in nodes if m not in taken and free[m] >= shape.rest]
        if not fits:
            return None
        placement.append((min(fits)[1], shape.rest))
    return placement


__all__ = ["LEVELS", "EpochRecord", "LinearProgram", "LpParams", "in_nodes"]
