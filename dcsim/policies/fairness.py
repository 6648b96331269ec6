"""Fairness across tenants: which tenant's jobs are offered GPUs first.

One Protocol, :class:`Fairness`: ``key(tenant, now)`` orders the tenants that have jobs
waiting (the smallest key is served first; ties go to the tenant declared first). The
engine keeps one queue per tenant, in the scheduler's order, and a scheduling pass
offers the tenants' queues in this order, asking again after each start (a start
changes the tenant's share). Quotas (admission, borrowing) are not the fairness
policy's: they hold whichever policy orders the tenants.

Two pure allocations state what the keys converge to, and the tests hold the keys to them:
:func:`drf` (progressive filling by weighted dominant share, whole tasks, any resources)
and :func:`weighted_max_min` (water-filling of one divisible resource). Over GPUs alone, as
long as nodes have no CPU and memory to request (issue 16), DRF is weighted max-min
fairness of GPUs.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from dcsim.core.registry import Registry, lacks_methods

if TYPE_CHECKING:
    import numpy as np


@dataclass
class TenantShare:
    """One tenant as a fairness policy reads it; the engine keeps it current (read, never write).

    Attributes:
        index: the tenant's position in the scenario's ``tenants`` (the default tenant last).
        name: its name.
        weight: its weight.
        quota: its nominal quota in GPUs (inf: none).
        used: what it holds now, by resource (``gpus``; ``cpus`` and ``memory`` once nodes have them).
        capacity: what the data center has installed, by resource (the same keys).
        queued_gpus: GPUs its queued jobs ask for.
        attained_gpu_s: GPU-seconds its jobs have held so far (its service attained).
        work_left_gpu_s: GPU-seconds its unfinished jobs (queued and running) still need, by their
            declared run times at nominal speed.
        first_submit_s: the earliest submission among its unfinished jobs (inf: none).
        work_gpu_s: GPU-seconds its unfinished jobs need in all (done and left), by their declared
            run times at nominal speed; Themis's ideal finish time is this work on its 1/N share
            (0, the default: taken to be ``work_left_gpu_s``, as if none of it were done).
        contending: tenants with unfinished work now, itself included (Themis's N).
    """

    index: int
    name: str
    weight: float = 1.0
    quota: float = float("inf")
    used: dict[str, float] = field(default_factory=lambda: {"gpus": 0.0})
    capacity: Mapping[str, float] = field(default_factory=lambda: {"gpus": 0.0})
    queued_gpus: float = 0.0
    attained_gpu_s: float = 0.0
    work_left_gpu_s: float = 0.0
    first_submit_s: float = float("inf")
    work_gpu_s: float = 0.0
    contending: int = 1


@runtime_checkable
class Fairness(Protocol):
    """Orders the tenants with waiting jobs: the smallest key is offered GPUs first."""

    def key(self, tenant: TenantShare, now: float) -> Any:
        """The tenant's place in line now (smaller first)."""


FAIRNESS: Registry[Any] = Registry(
    "fairness",
    lambda cls: lacks_methods(cls, "key(tenant, now)"),
    "a class with __init__(params, rng) and key(tenant, now) (see dcsim.policies.fairness.Fairness)",
)


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Base:
    Params = _NoParams

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng


@FAIRNESS.register("weighted_fair_share")
class WeightedFairShare(_Base):
    """Weighted fair share: the tenant holding the fewest GPUs per unit of weight goes first.

    Weighted max-min fairness, as weighted fair queueing shares a link (Demers, Keshav and
    Shenker, SIGCOMM 1989) and Slurm's and Kueue's fair sharing share a cluster by weight.

    Each tenant's fair share is its weight over the sum of weights (of the tenants with work);
    offering GPUs to the one furthest below it converges to those shares (weighted max-min
    fairness over one resource). Cost per key O(1).
    """

    def key(self, tenant: TenantShare, now: float) -> float:
        """GPUs held per unit of weight."""
        return tenant.used["gpus"] / tenant.weight


@FAIRNESS.register("drf")
class DominantResourceFairness(_Base):
    """Dominant Resource Fairness (Ghodsi et al., NSDI 2011): the smallest weighted dominant share goes first.

    A tenant's dominant share is the largest, over resources, of what it holds over what is
    installed; offering the next task to the tenant with the smallest dominant share over
    weight is DRF's progressive filling (:func:`drf`, which the tests hold this key to).
    Resources: GPUs only, until nodes have CPU and memory to request (issue 16); over GPUs
    alone it is weighted fair share. Cost per key O(resources).
    """

    def key(self, tenant: TenantShare, now: float) -> float:
        """Dominant share over weight."""
        cap = tenant.capacity
        return max((v / cap[r] if cap.get(r) else 0.0) for r, v in tenant.used.items()) / tenant.weight


@FAIRNESS.register("themis")
class FinishTimeFairness(_Base):
    """Finish-time fairness (Mahajan et al., "Themis", NSDI 2020): the largest rho = T_shared / T_ideal goes first.

    For a tenant's unfinished work, submitted from ``first_submit_s`` on:

    - ``T_shared = (now - first_submit_s) + work_left_gpu_s / GPUs held``: the time it has spent
      plus the time its work left takes at the GPUs it holds now (infinite while it holds none);
    - ``T_ideal = work_gpu_s / min(capacity / N, GPUs held + GPUs queued)``: its whole work on a
      1/N share of the installed GPUs (N = ``contending`` tenants), or on all the GPUs its jobs
      ask for if that is less (a tenant cannot use more than it asks for).

    rho > 1: the tenant finishes later than it would on its own 1/N of the cluster. The key
    is ``(-rho, -elapsed / T_ideal)``: the most unfairly treated first, and among tenants that
    hold nothing (rho infinite) the one that has waited longest for its ideal time. Themis
    auctions GPUs among the worst-off apps (a fraction ``1 - f`` of them); here the worst
    goes first, its ``f = 0`` limit. Run times are the declared ones at nominal speed.
    Cost per key O(1).
    """

    def key(self, tenant: TenantShare, now: float) -> tuple[float, float]:
        """(-rho, -elapsed / T_ideal)."""
        rho, waited = finish_time_fairness(tenant, now)
        return (-rho, -waited)


def finish_time_fairness(tenant: TenantShare, now: float) -> tuple[float, float]:
    """Themis's rho = T_shared / T_ideal of a tenant now, and its time so far over T_ideal.

    See :class:`FinishTimeFairness` for the definitions; a tenant with no work left has rho 1
    (it is not behind).
    """
    left = tenant.work_left_gpu_s
    work = max(tenant.work_gpu_s, left)
    held = tenant.used.get("gpus", 0.0)
    share = min(tenant.capacity.get("gpus", 0.0) / max(tenant.contending, 1), held + tenant.queued_gpus)
    if work <= 0.0 or share <= 0.0:
        return 1.0, 0.0
    elapsed = max(now - tenant.first_submit_s, 0.0) if math.isfinite(tenant.first_submit_s) else 0.0
    ideal = work / share
    shared = elapsed + left / held if held > 0.0 else math.inf
    return shared / ideal, elapsed / ideal


# ---------------------------------------------------------------------- the allocations the keys converge to
def drf(
    capacity: Sequence[float],
    demands: Sequence[Sequence[float]],
    weights: Sequence[float] | None = None,
    max_tasks: Sequence[int | None] | None = None,
) -> list[int]:
    """Dominant Resource Fairness by progressive filling (Ghodsi et al., NSDI 2011, Algorithm 1): tasks per user.

    Each user runs tasks of one demand vector, whole. Repeatedly the user with the smallest
    weighted dominant share (tasks x the largest, over resources, of its per-task demand over
    capacity, over its weight) whose next task still fits is given one more task; a user whose
    task does not fit is done (resources only shrink), so at the end no user's next task fits
    (Pareto efficiency). Ties go to the lower index. Cost O(T log users) for T tasks given.

    Args:
        capacity: each resource's total (any units, e.g. CPUs and GB).
        demands: each user's demand per task, in the resources' order and units.
        weights: each user's weight (default 1): dominant shares are divided by it.
        max_tasks: the most tasks each user has (None: unbounded).

    Returns:
        The tasks each user is given.

    Raises:
        ValueError: a vector of the wrong length, a negative demand, a weight <= 0, or a user
            with no demand and no bound on its tasks (it would take infinitely many).
    """
    n = len(demands)
    weights = [1.0] * n if weights is None else list(weights)
    limits = [None] * n if max_tasks is None else list(max_tasks)
    if len(weights) != n or len(limits) != n or any(len(d) != len(capacity) for d in demands):
        raise ValueError("drf: one weight, one task bound and one demand per resource for every user")
    if any(w <= 0 for w in weights) or any(v < 0 for d in demands for v in d):
        raise ValueError("drf: weights must be > 0 and demands >= 0")
    dominant: list[float] = []
    for i, d in enumerate(demands):
        shares = [v / c if c > 0 else (math.inf if v > 0 else 0.0) for v, c in zip(d, capacity, strict=True)]
        dominant.append(max(shares, default=0.0))
        if dominant[i] == 0.0 and limits[i] is None:
            raise ValueError(f"drf: user {i} demands nothing and has no bound on its tasks")
    left = [float(c) for c in capacity]
    tasks = [0] * n
    heap = [(0.0, i) for i in range(n)]
    while heap:
        _, i = heapq.heappop(heap)
        if limits[i] is not None and tasks[i] >= limits[i]:
            continue
        d = demands[i]
        # A tolerance relative to capacity, so that 3 tasks of 3 CPUs fill 9 CPUs.
        if any(v > r + 1e-9 * max(c, 1.0) for v, r, c in zip(d, left, capacity, strict=True)):
            continue  # it does not fit now, nor later: resources only shrink
        for r, v in enumerate(d):
            left[r] -= v
        tasks[i] += 1
        heapq.heappush(heap, (tasks[i] * dominant[i] / weights[i], i))
    return tasks


def weighted_max_min(capacity: float, demands: Sequence[float], weights: Sequence[float] | None = None) -> list[float]:
    """Weighted max-min fair shares of one divisible resource (water-filling).

    Every user gets ``min(demand, level x weight)`` at the one level that hands out all of
    ``capacity`` (or everything demanded, if that is less): no user can get more without
    taking from a user with less per unit of weight. Cost O(users log users).

    Args:
        capacity: the resource's total (e.g. GPUs).
        demands: what each user asks for, same units.
        weights: each user's weight (default 1).

    Returns:
        Each user's share, same units.

    Raises:
        ValueError: lengths differ, a weight <= 0, or a negative demand or capacity.
    """
    n = len(demands)
    weights = [1.0] * n if weights is None else list(weights)
    if len(weights) != n or any(w <= 0 for w in weights) or capacity < 0 or any(d < 0 for d in demands):
        raise ValueError("weighted_max_min: one weight > 0 per user, demands and capacity >= 0")
    share = [0.0] * n
    left = float(capacity)
    open_weight = sum(weights)
    # Users in the order their demand is met as the level rises.
    for i in sorted(range(n), key=lambda i: (demands[i] / weights[i], i)):
        level = left / open_weight
        if demands[i] <= level * weights[i]:
            share[i] = float(demands[i])
        else:  # the level is reached before this demand: every user from here on gets level x weight
            share[i] = level * weights[i]
        left -= share[i]
        open_weight -= weights[i]
    return share


__all__ = [
    "FAIRNESS", "DominantResourceFairness", "Fairness", "FinishTimeFairness", "TenantShare", "WeightedFairShare", "drf",
    "finish_time_fairness", "weighted_max_min",
]  # fmt: skip
