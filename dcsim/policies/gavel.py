"""The ``gavel`` scheduler: heterogeneity-aware max-min fairness, realised round by round.

After Narayanan et al., "Heterogeneity-Aware Cluster Scheduling Policies for Deep Learning
Workloads" (Gavel, OSDI 2020). A job's throughput differs by GPU type (its rate in each
pool, ``job.speeds``); an allocation ``X[j][q]`` is the fraction of time job j runs in pool q.
Its effective throughput is ``sum_q speed[j][q] x X[j][q]``, and the policy is Gavel's
max-min fairness over throughput normalised by the throughput of an equal share::

    maximise   min_j  sum_q speed[j][q] X[j][q] / throughput_j(X_equal)
    subject to sum_q X[j][q] <= 1                     (a job runs in one pool at a time)
               sum_j gpus[j] X[j][q] <= GPUs of q     (a job's GPUs count with its gang size)
               X >= 0

``X_equal`` gives every job 1/n of every pool it may use (n jobs: running and queued in the
window): ``gpus_q / (n gpus_j)`` of the time in pool q, scaled down so that the row sums to at
most 1. Among the allocations that reach the optimal minimum a second LP takes the one of
largest total normalised throughput (so a job that is not the bottleneck is not left idle).
Both are LPs solved by HiGHS through :func:`dcsim.allocate.epoch.solve_rows`, the ``lp``
scheduler's solver call; a status other than optimal is counted and the epoch falls back
to the placement policy's backfill pass (nothing is preempted then).

Rounds (``round``, 6 minutes as Gavel's): at each round the allocation is realised by
Gavel's priorities, ``X[j][q] / (rounds j ran in q / rounds j has been active)`` (infinite
for a pair it has not run in yet), the largest first: each job takes its best pair whose
pool still has room (by GPU count), and the jobs running but not chosen in their pool are
preempted (reason ``priority``). Between rounds (after an arrival or a completion) the
free GPUs are filled by the same rule, without preemption.

Not thrashing: a running job chosen in the pool it runs in stays where it is (it is never
stopped and restarted); a running job whose allocation in its pool is (all but) 1 is chosen
before any other (its allocation says it should run there all the time), and a running
job wins ties of priority. So jobs move only where the allocation time-shares a pool
between them, which is how Gavel realises fractions; each such move costs what a
preemption costs (``preemption.save``: with ``on_preemption`` a job resumes where it
stopped, as Gavel's simulator assumes). A job chosen in another pool than the one it
runs in is preempted and restarts there (a migration).

Cost per decision: two LPs of (jobs x pools) columns and (2 jobs + pools) rows, plus
O(jobs x pools log) for the priorities.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from dcsim.allocate.epoch import solve_rows
from dcsim.core.spec import PositiveSeconds, Seconds
from dcsim.policies.placement import _TIGHTEST, place_in_pool
from dcsim.policies.scheduling import SCHEDULER, Decision, Epoch, Preempt, SchedulerBase
from dcsim.views import ClusterView, JobView, QueueLike

if TYPE_CHECKING:
    import numpy as np

#: A fraction of time this close to 1 means "all the time" (the solver's tolerance).
_ALL = 1.0 - 1e-6
#: Allocations below this are taken as 0.
_NONE = 1e-9
#: Priorities read allocations to this many decimals (the solver's tolerance is about 1e-7), so that
#: equal shares tie exactly and the documented tie-breaks decide.
_DIGITS = 6


class GavelParams(BaseModel):
    """Rounds, problem size and solver limit of the ``gavel`` scheduler."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    round: PositiveSeconds = Field(360.0, description="length of a round: allocations are realised (and jobs "
                                   "preempted) at each round's start, s (Gavel: 6 min)")  # fmt: skip
    delay: Seconds = Field(0.0, description="arrivals and completions within this time share one decision, s")
    window: int = Field(200, ge=1, description="queued jobs considered per decision, first submitted first")
    time_limit: PositiveSeconds = Field(1.0, description="solver time limit per LP, s (then: fallback)")


@dataclass(frozen=True)
class FairProblem:
    """Gavel's max-min fairness problem: jobs' per-pool speeds, gang sizes and the pools' GPUs.

    Attributes:
        speeds: per job, its rate in each pool it may use ``{pool: rate}`` (rate > 0).
        gpus: per job, the GPUs it runs on.
        capacity: GPUs of each pool ``{pool: GPUs}``.
    """

    speeds: Sequence[dict[int, float]]
    gpus: Sequence[int]
    capacity: dict[int, float]

    def equal_share(self) -> list[dict[int, float]]:
        """``X_equal``: 1/n of every pool a job may use, as time fractions, each row scaled to sum to at most 1."""
        n = len(self.gpus)
        rows = []
        for speeds, g in zip(self.speeds, self.gpus, strict=True):
            row = {q: self.capacity.get(q, 0.0) / (n * g) for q in speeds}
            total = sum(row.values())
            rows.append({q: x / total for q, x in row.items()} if total > 1.0 else row)
        return rows

    def equal_throughput(self) -> list[float]:
        """Each job's throughput under ``X_equal``."""
        return [sum(s[q] * x for q, x in row.items()) for s, row in zip(self.speeds, self.equal_share(), strict=True)]


@dataclass
class FairSolution:
    """An answer to a :class:`FairProblem`.

    Attributes:
        status: ``optimal``, or what the solver said instead.
        allocation: per job ``{pool: time fraction}`` (empty unless optimal).
        minimum: the optimal minimum normalised throughput (NaN unless optimal).
    """

    status: str
    allocation: list[dict[int, float]]
    minimum: float

    def normalised(self, problem: FairProblem) -> list[float]:
        """Each job's throughput under the allocation over its throughput under ``X_equal``."""
        equal = problem.equal_throughput()
        return [sum(s[q] * x for q, x in row.items()) / e
                for s, row, e in zip(problem.speeds, self.allocation, equal, strict=True)]  # fmt: skip


def max_min_fairness(problem: FairProblem, time_limit: float = 1.0) -> FairSolution:
    """Solve Gavel's max-min fairness LP, then, at that minimum, maximise the total normalised throughput.

    Jobs whose equal share is nothing (no GPUs up in their pools) get no allocation and
    do not count in the minimum.
    """
    equal = problem.equal_throughput()
    cols: list[tuple[int, int]] = [(j, q) for j, s in enumerate(problem.speeds) if equal[j] > 0 for q in sorted(s)]
    n_x = len(cols)
    jobs = sorted({j for j, _ in cols})
    if not jobs:
        return FairSolution("optimal", [{} for _ in problem.gpus], math.nan)
    z = n_x  # the minimum, one more column
    value = [problem.speeds[j][q] / equal[j] for j, q in cols]
    own: dict[int, list[int]] = {}
    pool_cols: dict[int, list[int]] = {}
    for i, (j, q) in enumerate(cols):
        own.setdefault(j, []).append(i)
        pool_cols.setdefault(q, []).append(i)
    inf = math.inf
    base: list[tuple[str, list[int], list[float], float, float]] = []
    for j in jobs:
        base.append((f"row_{j}", own[j], [1.0] * len(own[j]), -inf, 1.0))
    for q, idx in sorted(pool_cols.items()):
        base.append(
            (f"pool_{q}", idx, [float(problem.gpus[cols[i][0]]) for i in idx], -inf, problem.capacity.get(q, 0.0))
        )
    floor = [(f"min_{j}", [*own[j], z], [*(value[i] for i in own[j]), -1.0], 0.0, inf) for j in jobs]
    lower, upper = [0.0] * (n_x + 1), [1.0] * n_x + [inf]
    status, x = solve_rows([0.0] * n_x + [-1.0], lower, upper, base + floor, False, time_limit)
    if status != "optimal":
        return FairSolution(status, [], math.nan)
    best = x[z]
    # At (all but the solver's tolerance of) that minimum, the largest total normalised throughput.
    at_least = [(f"at_{j}", own[j], [value[i] for i in own[j]], best * (1.0 - 1e-7), inf) for j in jobs]
    status, y = solve_rows([-v for v in value], [0.0] * n_x, [1.0] * n_x, base + at_least, False, time_limit)
    if status == "optimal":
        x = y
    allocation: list[dict[int, float]] = [{} for _ in problem.gpus]
    for i, (j, q) in enumerate(cols):
        if x[i] > _NONE:
            allocation[j][q] = min(x[i], 1.0)
    return FairSolution("optimal", allocation, best)


@dataclass
class RoundRecord:
    """What one decision did; the fields of the ``lp`` scheduler's epochs (``epochs.parquet``) and Gavel's own.

    ``level`` is always ``pool`` (Gavel's types are pools), ``bins`` the pools and ``candidates`` the
    LP's (job, pool) columns; ``round``: the decision started a round (it may preempt);
    ``minimum``: the optimal minimum normalised throughput. ``solve_time_s`` is wall time.
    """

    time: float
    round: bool
    jobs: int
    bins: int
    candidates: int
    status: str
    minimum: float
    solve_time_s: float
    started: int = 0
    preempted: int = 0
    unplaced: int = 0
    level: str = "pool"
    terms: dict[str, float] = field(default_factory=dict)

    @property
    def fallback(self) -> bool:
        """The placement policy's backfill pass decided instead (no optimal answer)."""
        return self.status != "optimal"


@SCHEDULER.register("gavel")
class Gavel(SchedulerBase):
    """Gavel (Narayanan et al., OSDI 2020): max-min fairness of throughput normalised by an equal share, per GPU type.

    Each decision solves the LP over the running jobs and the first ``window`` queued ones
    (see the module); each round realises it by Gavel's priorities, preempting the running
    jobs not chosen (reason ``priority``). Ties: running in place first, then the larger
    allocation, the earlier submission, the lower id. Cost per decision: two LPs of
    (jobs x pools) variables.
    """

    Params = GavelParams
    preempts = True

    def __init__(self, params: GavelParams, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self.epoch = Epoch(params.round, params.delay, params.window)
        #: Rounds each job has been active, and rounds it ran in each pool (by job id).
        self.active: dict[int, int] = {}
        self.ran: dict[int, dict[int, int]] = {}
        self._round = -1
        #: One record per decision; ``fallbacks``: decisions the solver gave no optimal answer for.
        self.log: list[RoundRecord] = []
        self.fallbacks = 0

    def key(self, job: JobView) -> float:
        """Queue order (the window's order): submission time."""
        return job.submit_time

    def decide(self, queue: QueueLike, cluster: ClusterView, now: float) -> Iterator[Decision] | None:
        """Preemptions (at a round) then starts, by Gavel's priorities; None if the solver gave no optimal answer."""
        queued = list(islice(queue, self.epoch.window))
        index = math.floor(now / self.params.round + 1e-9)
        is_round = index > self._round
        free = cluster.pool_free
        if not is_round and not any(free[q] >= job.gpus for job in queued for q in job.pools):
            return iter(())  # between rounds only free GPUs are handed out, and no queued job fits in them
        running = list(cluster.running())
        jobs: list[JobView] = running + queued
        pool_of = {job.id: cluster.node_pool[job.placement[0][0]] for job in running}
        capacity = {q: float(f) for q, f in enumerate(cluster.pool_free)}
        for job in running:
            capacity[pool_of[job.id]] += job.gpus
        problem = FairProblem([_speeds(job) for job in jobs], [job.gpus for job in jobs], capacity)
        t0 = time.perf_counter()
        solution = max_min_fairness(problem, self.params.time_limit)
        elapsed = time.perf_counter() - t0
        pools = {q for speeds in problem.speeds for q in speeds}
        columns = sum(len(speeds) for speeds in problem.speeds)
        record = RoundRecord(now, is_round, len(jobs), len(pools), columns, solution.status, solution.minimum, elapsed)
        self.log.append(record)
        if solution.status != "optimal":
            self.fallbacks += 1
            return None
        if is_round:
            self._round = index
        chosen = self._choose(jobs, running, pool_of, problem.speeds, solution.allocation, capacity, cluster, is_round)
        if is_round:
            if len(queued) < self.epoch.window:  # every queued job is in view: forget the others' rounds
                keep = {job.id for job in jobs}
                self.active = {k: v for k, v in self.active.items() if k in keep}
                self.ran = {k: v for k, v in self.ran.items() if k in keep}
            for job in jobs:
                self.active[job.id] = self.active.get(job.id, 0) + 1
        return self._apply(running, pool_of, chosen, is_round, cluster, record)

    def _ran(self, job: JobView, pool: int) -> None:
        """Count a round that ``job`` runs in ``pool``."""
        ran = self.ran.setdefault(job.id, {})
        ran[pool] = ran.get(pool, 0) + 1

    def priority(self, job: JobView, pool: int, share: float) -> float:
        """Gavel's priority of ``job`` in ``pool``: its allocation there over the share of rounds it ran there."""
        active = self.active.get(job.id, 0)
        ran = self.ran.get(job.id, {}).get(pool, 0)
        return share / (ran / active) if ran else math.inf

    def _choose(
        self,
        jobs: Sequence[JobView],
        running: Sequence[JobView],
        pool_of: dict[int, int],
        speeds: Sequence[dict[int, float]],
        allocation: list[dict[int, float]],
        capacity: dict[int, float],
        cluster: ClusterView,
        is_round: bool,
    ) -> list[tuple[JobView, int]]:
        """The (job, pool) pairs that run this round: pinned running jobs, then by priority while pools have room.

        Pairs without allocation come last, at priority 0, so no GPU idles while a job that
        could use it waits (work conservation, which Gavel's rounds leave to its LP). Between
        rounds only free GPUs are handed out, to queued jobs.
        """
        room = dict(capacity) if is_round else {q: float(f) for q, f in enumerate(cluster.pool_free)}
        chosen: list[tuple[JobView, int]] = []
        taken: set[int] = set()
        if is_round:
            for j, job in enumerate(jobs[: len(running)]):
                q = pool_of[job.id]
                if allocation[j].get(q, 0.0) >= _ALL:
                    chosen.append((job, q))
                    taken.add(job.id)
                    room[q] -= job.gpus
        pairs = []
        for j, job in enumerate(jobs):
            if job.id in taken or (not is_round and j < len(running)):
                continue
            here = pool_of.get(job.id)
            for q in speeds[j]:  # pools without allocation last (at priority 0): idle GPUs still run jobs
                x = round(allocation[j].get(q, 0.0), _DIGITS)
                prio = self.priority(job, q, x) if x > 0.0 else 0.0
                pairs.append((-prio, here != q, -x, job.submit_time, job.id, j, q))
        pairs.sort()
        for *_, j, q in pairs:
            job = jobs[j]
            if job.id in taken or room.get(q, 0.0) < job.gpus:
                continue
            chosen.append((job, q))
            taken.add(job.id)
            room[q] -= job.gpus
        return chosen

    def _apply(
        self,
        running: Sequence[JobView],
        pool_of: dict[int, int],
        chosen: list[tuple[JobView, int]],
        is_round: bool,
        cluster: ClusterView,
        record: RoundRecord,
    ) -> Iterator[Decision]:
        """Preempt the running jobs not chosen in their pool (at a round), then start the chosen queued jobs."""
        stay = {job.id for job, q in chosen if pool_of.get(job.id) == q}
        if is_round:
            for job in running:
                if job.id in stay:
                    self._ran(job, pool_of[job.id])
                else:
                    record.preempted += 1
                    yield Preempt(job, "priority")
        # A job moved to another pool is queued again only after this pass; the next pass starts it.
        for job, q in chosen:
            if job.id in pool_of:
                continue
            found = place_in_pool(cluster, q, job.gpus, _TIGHTEST)
            if found is None:  # the pool has the GPUs but not on nodes that hold the gang
                record.unplaced += 1
                continue
            record.started += 1
            if is_round:  # a start between rounds fills idle GPUs and is not counted as a round
                self._ran(job, q)
            yield job, found[0]


def _speeds(job: JobView) -> dict[int, float]:
    """The job's rate in each pool it may use (1 without per-type speeds); pools where it cannot run left out."""
    speeds = getattr(job, "speeds", None)
    return {q: (1.0 if speeds is None else float(speeds[q])) for q in job.pools if speeds is None or speeds[q] > 0}


__all__ = ["FairProblem", "FairSolution", "Gavel", "GavelParams", "RoundRecord", "max_min_fairness"]
