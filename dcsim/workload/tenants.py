"""Tenants' part of the scenario schema: quotas, cohorts, weights, and preemption.

The model is Kueue's (a ClusterQueue per tenant, cohorts of them), so that what a user
configures in a Kubernetes cluster can be simulated:

- a tenant's ``quota`` is its nominal quota in GPUs (in total, or per GPU type);
- it may use more than its quota, up to ``quota + borrowing_limit``, by borrowing quota
  that other tenants of its ``cohort`` leave unused (no cohort: it never borrows);
- ``lending_limit`` caps how much of its unused quota the cohort may borrow (the rest,
  ``quota - lending_limit``, is guaranteed to it);
- ``weight`` is its share under the weighted fairness policies;
- jobs of a tenant no block names belong to it as a label only: a tenant without a quota
  is not limited (as every job is without a ``tenants`` block).

``preemption`` says which running jobs a waiting job may take GPUs from, as Kueue's
``preemption`` of a ClusterQueue does, and what a preempted job keeps.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dcsim.core.spec import Seconds, Strict
from dcsim.infra.spec import MAX_GPUS


class GpuQuota(Strict):
    """An amount of GPUs: in total (``gpus: 64``), or per GPU type (``gpus: {H100: 64, A100: 32}``)."""

    gpus: int | dict[str, int] = Field(
        description="GPUs in total, or per GPU type (a type not listed: 0)",
    )

    @model_validator(mode="after")
    def _non_negative(self) -> GpuQuota:
        values = self.gpus.values() if isinstance(self.gpus, dict) else [self.gpus]
        bad = [v for v in values if not 0 <= v <= MAX_GPUS]
        if bad:
            raise ValueError(f"a GPU quota is a whole number from 0 to {MAX_GPUS}; got {bad[0]}")
        return self


class Tenant(Strict):
    """A team sharing the data center: its quota, what it may borrow and lend, its weight."""

    name: str = Field(min_length=1, description="the name job classes and services give as `tenant`")
    quota: GpuQuota | None = Field(None, description="nominal quota (none: the tenant is not limited)")
    borrowing_limit: GpuQuota | None = Field(
        None, description="most GPUs it may use beyond its quota, borrowed in its cohort (none: no limit)"
    )
    lending_limit: GpuQuota | None = Field(
        None, description="most of its unused quota the cohort may borrow (none: all of it)"
    )
    cohort: str | None = Field(None, description="tenants of one cohort borrow each other's unused quota")
    weight: float = Field(1.0, gt=0, description="its share under weighted fairness (drf, weighted_fair_share)")


class Preemption(Strict):
    """Which running jobs a waiting job may preempt, and what a preempted job keeps (Kueue's preemption)."""

    reclaim_within_cohort: Literal["never", "lower_priority", "any"] = Field(
        "never",
        description="a job within its tenant's quota takes back quota other tenants of the cohort borrowed: "
        "never, from jobs of lower priority, or from any borrowing job",
    )
    within_tenant: Literal["never", "lower_priority", "lower_or_newer_equal_priority"] = Field(
        "never",
        description="a job of a tenant at its quota preempts the tenant's own jobs: never, those of lower "
        "priority, or also those of equal priority submitted later",
    )
    grace: Seconds = Field(
        0.0, description="a victim keeps its GPUs this long after it is told (Kubernetes' termination grace), s"
    )
    save: Literal["last_checkpoint", "on_preemption"] = Field(
        "last_checkpoint",
        description="last_checkpoint: a preempted job loses its work since its last checkpoint; on_preemption: "
        "it writes a checkpoint as it leaves (paid at its restart) and loses nothing, and a job without "
        "checkpointing resumes where it stopped (preempt-resume, as queueing theory assumes)",
    )


__all__ = ["GpuQuota", "Preemption", "Tenant"]
