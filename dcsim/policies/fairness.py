"""Fairness across tenants: which tenant's jobs are offered GPUs first.

One Protocol, :class:`Fairness`: ``key(tenant, now)`` orders the tenants that have jobs
waiting (the smallest key is served first; ties go to the tenant declared first). The
engine keeps one queue per tenant, in the scheduler's order, and a scheduling pass
offers the tenants' queues in this order, asking again after each start (a start
changes the tenant's share). Quotas (admission, borrowing) are not the fairness
policy's: they hold whichever policy orders the tenants.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    installed; progressive filling by dominant share equalises it across tenants (over GPUs
    alone it is weighted fair share). Cost per key O(resources).
    """

    def key(self, tenant: TenantShare, now: float) -> float:
        """Dominant share over weight."""
        cap = tenant.capacity
        return max((v / cap[r] if cap.get(r) else 0.0) for r, v in tenant.used.items()) / tenant.weight


__all__ = ["FAIRNESS", "DominantResourceFairness", "Fairness", "TenantShare", "WeightedFairShare"]
