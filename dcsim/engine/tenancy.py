"""Tenants at run time: quotas and admission (Kueue's model), the tenant-aware queue, and victims.

:class:`Tenancy` keeps each tenant's GPUs in use (in total and per GPU type), decides
whether a queued job may be admitted, keeps the :class:`TenantShare` the fairness
policies read, and chooses the running jobs a blocked job preempts.

Admission follows Kueue's ClusterQueues in a cohort. Per resource (the tenant's GPUs in
total, or per GPU type where its quota is per type), with nominal quota ``N``, borrowing
limit ``B`` (none: unlimited), lending limit ``L`` (none: all of ``N``) and usage ``u``:
the part ``G = N - L`` is guaranteed to the tenant, the rest is put in the cohort's pool
(``sum of L`` over its members), and any usage beyond ``G`` draws from that pool. A job of
``g`` GPUs is admitted when ``u + g <= N + B`` and the cohort's draws after it stay within
its pool; without a cohort, when ``u + g <= N``. So a job within its quota is admitted
unless others borrowed the lendable part of it (then reclaim may preempt them), and a
job beyond it borrows what the cohort leaves unused. A tenant no block declares (the
default tenant) is not limited.

:class:`TenantQueue` is the queue the schedulers read: one :class:`JobQueue` per tenant in
the scheduler's order; its ``first()`` and iteration show only jobs admissible now, the
tenants' heads merged in the order (borrowing last, Kueue's rule; then the fairness
policy's key, recomputed at every step; without one, the scheduler's order). A tenant
whose first job cannot be admitted does not block the others, nor its own later jobs
(Kueue's BestEffortFIFO). Under ``within_tenant`` preemption the order is by priority
first, then the scheduler's (Kueue orders a ClusterQueue, and the heads of a cohort, by
priority, then creation), and a tenant's highest-priority queued job looks for victims
even when it is not first in the scheduler's order (:meth:`TenantQueue.claimants`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dcsim.policies.fairness import TenantShare
from dcsim.workload.jobs import QUEUED, RUNNING, Job
from dcsim.workload.queue import Entry, JobQueue
from dcsim.workload.tenants import GpuQuota, Preemption, Tenant

INF = math.inf


def _amounts(quota: GpuQuota | None, types: Sequence[str], default: float) -> list[float]:
    """A quota as [total, type 0, type 1, ...] (a per-type quota's total is its sum; None: ``default``)."""
    if quota is None:
        return [default] * (1 + len(types))
    if isinstance(quota.gpus, dict):
        per = [float(quota.gpus.get(t, 0)) for t in types]
        return [float(sum(quota.gpus.values())), *per]
    return [float(quota.gpus)] + [default] * len(types)


class Tenancy:
    """Each tenant's usage, quotas and share; admission; victims for preemption.

    Args:
        tenants: the scenario's ``tenants`` (the default tenant comes after them).
        preemption: the scenario's ``preemption`` block.
        pool_types: the GPU type of each pool.
        node_pool: the pool of each node.
        installed: GPUs installed.
        now: the simulated time.
    """

    def __init__(
        self, tenants: Sequence[Tenant], preemption: Preemption, pool_types: Sequence[str],
        node_pool: Sequence[int], installed: float, now: Callable[[], float],
    ) -> None:  # fmt: skip
        self.names = [t.name for t in tenants]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.default = len(tenants)
        self.types = sorted(set(pool_types))
        self.pool_res = [1 + self.types.index(t) for t in pool_types]
        self.node_pool = node_pool
        self.now = now
        n = len(tenants) + 1
        r = 1 + len(self.types)
        #: Per tenant: the resources its quota is on ([0]: GPUs in total; [1 + k]: GPU type k), none: unlimited.
        self.res: list[tuple[int, ...]] = []
        self.nominal: list[list[float]] = []
        self.borrow: list[list[float]] = []
        self.guaranteed: list[list[float]] = []
        self.lendable: list[list[float]] = []
        self.cohort: list[int] = []
        cohorts: dict[str, int] = {}
        for t in tenants:
            per_type = t.quota is not None and isinstance(t.quota.gpus, dict)
            self.res.append(() if t.quota is None else tuple(range(1, r)) if per_type else (0,))
            nominal = _amounts(t.quota, self.types, INF)
            lend = _amounts(t.lending_limit, self.types, INF)
            borrow = _amounts(t.borrowing_limit, self.types, INF) if t.cohort is not None else [0.0] * r
            self.nominal.append(nominal)
            self.borrow.append(borrow)
            lendable = [min(q, ll) for q, ll in zip(nominal, lend, strict=True)]
            self.guaranteed.append([q - ll if q < INF else 0.0 for q, ll in zip(nominal, lendable, strict=True)])
            self.lendable.append(lendable)
            alone = t.cohort is None or t.quota is None  # no cohort, or nothing to lend and no limit to borrow past
            self.cohort.append(-1 if alone else cohorts.setdefault(t.cohort, len(cohorts)))
        self.res.append(())
        self.nominal.append([INF] * r)
        self.borrow.append([0.0] * r)
        self.guaranteed.append([0.0] * r)
        self.lendable.append([0.0] * r)
        self.cohort.append(-1)
        #: Members of each cohort.
        self.members: list[list[int]] = [[i for i in range(n) if self.cohort[i] == c] for c in range(len(cohorts))]
        #: Each cohort's pool (sum of the members' lendable quota) and what usage beyond the guarantees draws from it.
        self.pool = [[sum(self.lendable[i][k] for i in m) for k in range(r)] for m in self.members]
        self.drawn = [[0.0] * r for _ in self.members]
        self.used = [[0] * r for _ in range(n)]
        #: The running jobs of each tenant, by id.
        self.running: list[dict[int, Job]] = [{} for _ in range(n)]
        self.shares = [
            TenantShare(i, name, weight, q[0], {"gpus": 0.0}, {"gpus": float(installed)})
            for i, (name, weight, q) in enumerate(
                zip([*self.names, "default"], [t.weight for t in tenants] + [1.0], self.nominal, strict=True)
            )
        ]
        self.preemption = preemption
        #: A policy may preempt for quota or priority.
        self.preempts = preemption.reclaim_within_cohort != "never" or preemption.within_tenant != "never"
        #: The scheduler resizes elastic jobs: they are admitted at their ``min_gpus`` (else run rigid at ``gpus``).
        self.resizes = False
        #: Jobs told to go, keeping their GPUs until their grace ends (shared with the dispatcher).
        self.doomed: dict[int, Job] = {}
        self._types_of: dict[tuple[int, ...], tuple[int, ...]] = {}
        # Bookkeeping for the shares: GPU-s held (closed), sum of gpus x start of running jobs,
        # declared GPU-s of unfinished jobs and what each job has held, first submissions.
        self._attained_at = [0.0] * n
        self._declared = [0.0] * n
        self._held_closed = [0.0] * n
        self._start_sum = [0.0] * n
        self._held: dict[int, float] = {}
        self._start_term: dict[int, float] = {}  # each running job's GPUs x start (moved by resizes)
        self._submits: list[list[tuple[float, int]]] = [[] for _ in range(n)]
        self._unfinished: set[int] = set()
        self._open = [0] * n  # unfinished jobs of each tenant

    # ------------------------------------------------------------------ who and what
    def of(self, job: Any) -> int:
        """The tenant index of a job (the default tenant for a name no block declares)."""
        return self.index.get(job.tenant, self.default)

    def _resources(self, i: int, job: Job) -> tuple[int, ...]:
        """The resources a job of tenant ``i`` may use: GPUs in total, or the types of its pools."""
        res = self.res[i]
        if res != () and res[0] == 0:
            return (0,)
        types = self._types_of.get(job.pools)
        if types is None:
            types = self._types_of[job.pools] = tuple(sorted({self.pool_res[p] for p in job.pools}))
        return types

    def room(self, i: int, k: int) -> float:
        """The most GPUs tenant ``i`` may add on resource ``k`` now."""
        u = self.used[i][k]
        c = self.cohort[i]
        if c < 0:
            return self.nominal[i][k] - u
        g = self.guaranteed[i][k]
        return min(self.nominal[i][k] + self.borrow[i][k] - u, max(0.0, g - u) + self.pool[c][k] - self.drawn[c][k])

    def need(self, job: Any) -> int:
        """The fewest GPUs a job may start on: ``gpus``, or an elastic one's ``min_gpus`` when the scheduler resizes."""
        plan = job.elastic if self.resizes else None
        return job.gpus if plan is None else plan.min_gpus

    def admits(self, job: Any, gpus: int | None = None) -> bool:
        """The job's tenant stays within its quota (with what it may borrow) if the job starts now.

        On ``gpus`` GPUs (None: the fewest it may start on, :meth:`need`).
        """
        i = self.of(job)
        if not self.res[i]:
            return True
        g = self.need(job) if gpus is None else gpus
        return any(self.room(i, k) >= g for k in self._resources(i, job))

    def admits_placement(self, job: Job, placement: Sequence[tuple[int, int]]) -> bool:
        """The job's tenant has room for the GPUs of ``placement`` on each GPU type it spans (or in total).

        Kueue admits a workload by what it requests: an elastic job by the GPUs it is placed on.
        """
        i = self.of(job)
        res = self.res[i]
        if not res:
            return True
        if res[0] == 0:
            return self.room(i, 0) >= sum(g for _, g in placement)
        by_type: dict[int, int] = {}
        for n, g in placement:
            k = self.pool_res[self.node_pool[n]]
            by_type[k] = by_type.get(k, 0) + g
        return all(self.room(i, k) >= g for k, g in by_type.items())

    def within_room(self, job: Job, placement: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """A running (elastic) job's new placement with the GPUs it adds cut to its tenant's room.

        A grow is admitted as a start is: within the quota and what the tenant may borrow (a
        grow past the nominal quota borrows, and is reclaimable as any borrowing). GPUs the
        job gives back in the same resize count as room; the added GPUs are cut from the last
        nodes of ``placement``. The job's own placement if nothing may be added.
        """
        i = self.of(job)
        res = self.res[i]
        if not res:
            return list(placement)
        old = dict(job.placement)
        total = res[0] == 0
        node_pool, pool_res = self.node_pool, self.pool_res
        kind = [0 if total else pool_res[node_pool[n]] for n, _ in placement]
        budget: dict[int, float] = {}
        for (n, g), k in zip(placement, kind, strict=True):
            budget.setdefault(k, self.room(i, k))
            budget[k] += max(0, old.get(n, 0) - g)
        for n, g in job.placement:  # nodes it leaves
            if n not in dict(placement):
                k = 0 if total else pool_res[node_pool[n]]
                budget[k] = budget.get(k, self.room(i, k)) + g
        out = []
        for (n, g), k in zip(placement, kind, strict=True):
            add = g - old.get(n, 0)
            if add > 0:
                take = add if budget[k] >= add else max(0, math.floor(budget[k]))
                budget[k] -= take
                g = old.get(n, 0) + take
            if g > 0:
                out.append((n, g))
        plan = job.elastic
        if not out or (plan is not None and sum(g for _, g in out) < plan.min_gpus):
            return list(job.placement)
        return out

    def limited(self, job: Any) -> bool:
        """The job's tenant has a quota."""
        return bool(self.res[self.of(job)])

    def leaves_room(self, job: Job, placement: Sequence[tuple[int, int]], other: Job) -> bool:
        """Starting ``job`` on ``placement`` now leaves ``other``'s tenant room to admit ``other`` (a what-if).

        Only a job of the same tenant, or of its cohort (drawing on the lendable pool), can
        take that room; others leave it. Cost O(nodes of the placement).
        """
        i, h = self.of(job), self.of(other)
        if not self.res[h] or (i != h and (self.cohort[h] < 0 or self.cohort[i] != self.cohort[h])):
            return True
        self._use(i, job, 1, placement)
        try:
            return self.admits(other)
        finally:
            self._use(i, job, -1, placement)

    def borrows(self, job: Any) -> bool:
        """Starting the job now takes its tenant beyond its nominal quota (on every resource it may use)."""
        i = self.of(job)
        if not self.res[i]:
            return False
        g = self.need(job)
        return all(self.used[i][k] + g > self.nominal[i][k] for k in self._resources(i, job))

    def allowed_pools(self, job: Job) -> tuple[int, ...]:
        """The job's pools of GPU types its tenant has room on (its pools, without per-type quotas)."""
        i = self.of(job)
        res = self.res[i]
        if not res or res[0] == 0:
            return job.pools
        g = job.gpus  # a count the elastic scheduler asks about, for one
        return tuple(p for p in job.pools if self.room(i, self.pool_res[p]) >= g)

    # ------------------------------------------------------------------ usage
    def _use(self, i: int, job: Job, sign: int, placement: Sequence[tuple[int, int]] | None = None) -> None:
        """Add (sign 1) or remove (-1) a running job's GPUs (its placement's) to its tenant's usage and draws."""
        placement = job.placement if placement is None else placement
        used = self.used[i]
        c = self.cohort[i]
        touched = {0}
        node_pool, pool_res = self.node_pool, self.pool_res
        for node, _ in placement:
            touched.add(pool_res[node_pool[node]])
        before = [used[k] for k in touched] if c >= 0 else None
        for node, gpus in placement:
            used[0] += sign * gpus
            used[pool_res[node_pool[node]]] += sign * gpus
        if before is not None:
            drawn, g = self.drawn[c], self.guaranteed[i]
            for k, old in zip(touched, before, strict=True):
                drawn[k] += max(0.0, used[k] - g[k]) - max(0.0, old - g[k])

    def _settle(self, i: int, now: float) -> None:
        share = self.shares[i]
        share.attained_gpu_s += share.used["gpus"] * (now - self._attained_at[i])
        self._attained_at[i] = now

    def submitted(self, job: Job) -> None:
        """A job (or a lost job's next attempt) was queued."""
        i = self.of(job)
        self.shares[i].queued_gpus += job.gpus
        if job.id not in self._unfinished:
            self._unfinished.add(job.id)
            self._open[i] += 1
            self._declared[i] += job.gpus * job.estimate
            heapq.heappush(self._submits[i], (job.submit_time, job.id))

    def dequeued(self, job: Job) -> None:
        """A queued job left the queue (it started)."""
        self.shares[self.of(job)].queued_gpus -= job.gpus

    def started(self, job: Job) -> None:
        """A job got its GPUs."""
        i = self.of(job)
        now = self.now()
        self._settle(i, now)
        self._use(i, job, 1)
        self.running[i][job.id] = job
        self.shares[i].used["gpus"] = self.used[i][0]
        term = sum(g for _, g in job.placement) * now
        self._start_term[job.id] = term
        self._start_sum[i] += term

    def resized(self, job: Job, old: Sequence[tuple[int, int]]) -> None:
        """A running (elastic) job's placement changed from ``old`` to ``job.placement``."""
        i = self.of(job)
        now = self.now()
        self._settle(i, now)
        self._use(i, job, -1, old)
        self._use(i, job, 1)
        self.shares[i].used["gpus"] = self.used[i][0]
        more = (sum(g for _, g in job.placement) - sum(g for _, g in old)) * now  # its GPU-s so far stay as they were
        self._start_term[job.id] += more
        self._start_sum[i] += more

    def left(self, job: Job) -> None:
        """A running job gave its GPUs back (finished or lost)."""
        i = self.of(job)
        now = self.now()
        self._settle(i, now)
        self._use(i, job, -1)
        del self.running[i][job.id]
        self.shares[i].used["gpus"] = self.used[i][0]
        term = self._start_term.pop(job.id)
        self._start_sum[i] -= term
        held = sum(g for _, g in job.placement) * now - term
        self._held_closed[i] += held
        self._held[job.id] = self._held.get(job.id, 0.0) + held

    def finished(self, job: Job) -> None:
        """A job is done for good (completed, or given up after its restarts)."""
        i = self.of(job)
        self._unfinished.discard(job.id)
        self._open[i] -= 1
        self._declared[i] -= job.gpus * job.estimate
        self._held_closed[i] -= self._held.pop(job.id, 0.0)

    def refresh(self) -> list[TenantShare]:
        """Bring every share up to now (attained service, work, first submission, contenders) and return them."""
        now = self.now()
        contending = sum(1 for n in self._open if n > 0)
        for i, share in enumerate(self.shares):
            self._settle(i, now)
            share.work_gpu_s = max(0.0, self._declared[i])
            share.contending = max(contending, 1)
            running = share.used["gpus"] * now - self._start_sum[i]
            share.work_left_gpu_s = max(0.0, self._declared[i] - self._held_closed[i] - running)
            heap = self._submits[i]
            while heap and heap[0][1] not in self._unfinished:
                heapq.heappop(heap)
            share.first_submit_s = heap[0][0] if heap else INF
        return self.shares

    # ------------------------------------------------------------------ preemption
    def may_displace(self, job: Any, victim: Any) -> bool:
        """A scheduler's own preemption (the zoo's preemptive orders) may preempt ``victim`` for ``job``.

        Only a victim of ``job``'s own tenant: across tenants GPUs move by the quotas (:meth:`victims`
        reclaims what a cohort lent), as in Kueue, where a workload preempts in another queue
        only to reclaim. And not one that, queued again, may preempt ``job`` back by the
        ``within_tenant`` rule once it runs (each would undo the other at one instant). O(1).
        """
        if self.of(job) != self.of(victim):
            return False
        within = self.preemption.within_tenant
        if within == "never" or not self.res[self.of(job)]:
            return True
        if job.priority < victim.priority:
            return False
        newer = within == "lower_or_newer_equal_priority"
        return not (
            newer and job.priority == victim.priority and (job.submit_time, job.id) > (victim.submit_time, victim.id)
        )

    def candidates(self, job: Job) -> list[tuple[Job, str]]:
        """The running jobs ``job`` may preempt, with the reason: borrowers of its cohort, its tenant's own."""
        i = self.of(job)
        rules = self.preemption
        out: list[tuple[Job, str]] = []
        doomed = self.doomed
        prio = job.priority
        c = self.cohort[i]
        reclaim = rules.reclaim_within_cohort
        if reclaim != "never" and c >= 0 and not self.borrows(job):
            for m in self.members[c]:
                if m != i and any(self.used[m][k] > self.nominal[m][k] for k in self.res[m]):
                    out += [(v, "quota") for v in self.running[m].values()
                            if v.id not in doomed and (reclaim == "any" or v.priority < prio)]  # fmt: skip
        within = rules.within_tenant
        if within != "never" and self.res[i]:
            newer = within == "lower_or_newer_equal_priority"
            out += [
                (v, "priority") for v in self.running[i].values()
                if v.id not in doomed and (v.priority < prio or (newer and v.priority == prio and (
                    v.submit_time, v.id) > (job.submit_time, job.id)))
            ]  # fmt: skip
        return out

    def victims(
        self, job: Job, cluster: Any, fits: Callable[[Job], bool], lost: Callable[[Job], float]
    ) -> list[tuple[Job, str]]:
        """The fewest, cheapest running jobs whose GPUs let ``job`` be admitted and placed (empty: none do).

        Candidates (:meth:`candidates`) are taken lowest priority first, then least work lost
        (``lost(victim)``: GPU-seconds since its last checkpoint plus its restart), then the
        newest, until the job is admitted and placed (jobs already told to go count as gone);
        then every victim not needed (tried from the last taken back) is left running. A borrower's
        job stops being a candidate once its tenant no longer borrows.

        Args:
            job: the blocked job.
            cluster: the live GPU state (changed and restored: nothing happens in between).
            fits: ``job`` is admitted and placed on the state as it is.
            lost: GPU-seconds a victim would lose.
        """
        cands = self.candidates(job)
        if not cands:
            return []
        gone = [v for v in self.doomed.values() if v.state == RUNNING]  # (one may have ended in its grace)
        for v in gone:
            self._vacate(v, cluster, -1)
        chosen: list[tuple[Job, str]] = []
        try:
            if fits(job):
                return []
            cands.sort(key=lambda c: (c[0].priority, lost(c[0]), -c[0].start_time, -c[0].id))
            done = False
            for v, reason in cands:
                if reason == "quota":
                    m = self.of(v)
                    if not any(self.used[m][k] > self.nominal[m][k] for k in self.res[m]):
                        continue  # its tenant no longer borrows
                self._vacate(v, cluster, -1)
                chosen.append((v, reason))
                if fits(job):
                    done = True
                    break
            if not done:
                return []
            for n in range(len(chosen) - 1, -1, -1):  # leave running what is not needed
                v = chosen[n][0]
                self._vacate(v, cluster, 1)
                if fits(job):
                    chosen[n] = None  # type: ignore[call-overload]
                else:
                    self._vacate(v, cluster, -1)
            return [c for c in chosen if c is not None]
        finally:
            for v, _ in reversed([c for c in chosen if c is not None]):
                self._vacate(v, cluster, 1)
            for v in gone:
                self._vacate(v, cluster, 1)

    def _vacate(self, job: Job, cluster: Any, sign: int) -> None:
        """As if ``job`` gave its GPUs back (sign -1) or took them again (1), for a what-if (no records)."""
        self._use(self.of(job), job, sign)
        free, cordoned = cluster.free, cluster.cordoned
        for node, gpus in job.placement:
            if cordoned and node in cordoned:
                continue  # a cordoned node's GPUs go down, not free
            cluster._move(node, free[node] - sign * gpus)
            cluster.pool_free[cluster.node_pool[node]] -= sign * gpus
            cluster.busy_gpus += sign * gpus


class TenantQueue:
    """The queue under tenants: one :class:`JobQueue` per tenant, shown as admissible jobs in the tenants' order.

    Read as :class:`dcsim.views.QueueLike`: ``first()`` and iteration give the jobs whose
    tenant may take them now (:meth:`Tenancy.admits`), merging the tenants' queues: at
    every step, of the tenants' next admissible jobs, the one that does not borrow first,
    then the fairness policy's smallest key (recomputed at each step, as starts change the
    shares), then the tenant declared first; without a fairness policy, the scheduler's
    order (under ``within_tenant`` preemption: priority first, then the scheduler's order).
    ``len()`` counts every queued job. Cost of a step O(tenants) plus the jobs skipped.

    Args:
        tenancy: the tenants' state.
        key: the fairness policy's ``key(share, now)``, or None.
        partition: as :class:`JobQueue`'s, for each tenant's queue.
    """

    classes = None
    parts = None

    def __init__(self, tenancy: Tenancy, key: Callable[[TenantShare, float], Any] | None,
                 partition: Callable[[Job], int] | None = None) -> None:  # fmt: skip
        self.tenancy = tenancy
        self.key = key
        self.queues = [JobQueue(by_class=True, partition=partition) for _ in tenancy.shares]
        #: Under within_tenant preemption: jobs in order of priority, then the scheduler's (Kueue's order), so
        #: that a preempted job does not start ahead of a queued one of higher priority only to be preempted again.
        self.by_priority = tenancy.preemption.within_tenant != "never"
        #: Under preemption rules: each tenant's queued jobs by priority, then submission (lazy: stale entries skipped).
        self._urgent: list[list[tuple[int, float, int, Job]]] | None = (
            [[] for _ in tenancy.shares] if tenancy.preempts else None
        )
        self.arrival: Job | None = None
        self.arrival_first = False
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def push(self, key: Any, job: Job) -> bool:
        """Queue ``job`` under the scheduler's ``key``; return True if it is now first in line (and admissible).

        Cost: the tenants' merge up to the first admissible job (O(tenants x job classes)).
        """
        self.add(key, job, settle=False)
        return self.first() is job

    def add(self, key: Any, job: Job, settle: bool = True) -> None:
        """Queue ``job`` under the scheduler's ``key``, without reading the tenants' order (O(log queue)).

        The engine queues through this (an arrival, a lost job's next attempt): no decision it
        makes under tenants asks whether the job is first. ``settle``: bring the shares up to
        now, as :meth:`push`'s read of the order does (with a fairness policy), so that the
        shares' service sums are added up at the same instants and every result stays
        bit-identical.
        """
        i = self.tenancy.of(job)
        if self.by_priority:
            key = (-job.priority, key)
        self.queues[i].push(key, job)
        self._len += 1
        if self._urgent is not None:
            heap = self._urgent[i]
            heapq.heappush(heap, (-job.priority, job.submit_time, job.id, job))
            if len(heap) > 2 * len(self.queues[i]) + 64:  # drop the entries of jobs that left
                heap[:] = [e for e in heap if e[3].state == QUEUED]
                heapq.heapify(heap)
        self.tenancy.submitted(job)
        if settle and self.key is not None:
            self.tenancy.refresh()

    def discard(self, job: Job) -> None:
        """Note that ``job`` left the queue (its state already changed)."""
        self.queues[self.tenancy.of(job)].discard(job)
        self._len -= 1
        self.tenancy.dequeued(job)

    def first(self) -> Job | None:
        """The first admissible job in the tenants' order, or None."""
        return next(iter(self), None)

    def head(self, i: int) -> Job | None:
        """Tenant ``i``'s first queued job in the scheduler's order, admissible or not."""
        return self.queues[i].first()

    def claimants(self, i: int) -> Iterator[Job]:
        """Tenant ``i``'s queued jobs that may look for victims (preemption rules on), in the order they try.

        Kueue orders a ClusterQueue by priority, then creation: first its highest-priority
        queued job (O(log queue) amortised, a heap), if it outranks the scheduler's first;
        then the scheduler's first; then, if that one would borrow (and so may not reclaim),
        the first in the scheduler's order that would not (O(job classes)).
        """
        queue = self.queues[i]
        head = queue.first()
        if head is None:
            return
        assert self._urgent is not None
        heap = self._urgent[i]
        while heap and heap[0][3].state != QUEUED:
            heapq.heappop(heap)
        if heap and heap[0][3].priority > head.priority:
            yield heap[0][3]
        yield head
        tenancy = self.tenancy
        if tenancy.cohort[i] < 0 or tenancy.preemption.reclaim_within_cohort == "never" or not tenancy.borrows(head):
            return
        best = None
        assert queue.classes is not None
        for run in queue.classes.values():
            entry = run.first()
            if entry is not None and (best is None or entry < best) and not tenancy.borrows(entry[2]):
                best = entry
        if best is not None:
            yield best[2]

    def _admissible(self, i: int) -> Iterator[Entry]:
        """Tenant ``i``'s admissible entries in the scheduler's order: a merge of its job classes' runs.

        Jobs of one class (pools, GPUs) are admitted alike, so a class whose head is not
        admitted is passed over whole (admission only narrows as a pass starts jobs). Cost
        per entry O(log classes).
        """
        classes = self.queues[i].classes
        assert classes is not None
        admits = self.tenancy.admits
        heap = []
        for n, run in enumerate(classes.values()):
            entries = run.entries()
            entry = next(entries, None)
            if entry is not None:
                heap.append((entry, n, entries))
        heapq.heapify(heap)
        while heap:
            entry, n, entries = heap[0]
            if entry[2].state == QUEUED:
                if not admits(entry[2]):
                    heapq.heappop(heap)
                    continue
                yield entry
            entry = next(entries, None)
            if entry is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (entry, n, entries))

    def __iter__(self) -> Iterator[Job]:
        """Admissible jobs in the tenants' order (see the class); lazy: a start changes what follows."""
        tenancy = self.tenancy
        fair = self.key
        if fair is not None:
            tenancy.refresh()
        heads: list[list[Any]] = []
        for i, queue in enumerate(self.queues):
            if len(queue) and (not tenancy.res[i] or max(tenancy.room(i, k) for k in tenancy.res[i]) >= 1):
                entries = self._admissible(i)
                entry = next(entries, None)
                if entry is not None:
                    heads.append([i, entries, entry])
        shares = tenancy.shares
        while heads:
            best, rank = None, None
            for head in list(heads):
                entry = head[2]
                if entry[2].state != QUEUED or not tenancy.admits(entry[2]):
                    entry = head[2] = next(head[1], None)
                    if entry is None:
                        heads.remove(head)
                        continue
                job = entry[2]
                r = (tenancy.borrows(job), fair(shares[head[0]], tenancy.now()), head[0]) if fair is not None else (
                    tenancy.borrows(job), entry)  # fmt: skip
                if rank is None or r < rank:
                    best, rank = head, r
            if best is None:
                return
            job = best[2][2]
            best[2] = None
            yield job
            best[2] = next(best[1], None)
            if best[2] is None:
                heads.remove(best)
            elif fair is not None:
                tenancy.refresh()


__all__ = ["Tenancy", "TenantQueue"]
