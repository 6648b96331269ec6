"""The scenario schema: the whole scenario, composed from each package's part (its ``spec.py``).

Each domain package owns the blocks it reads: :mod:`dcsim.infra.spec` (sites, racks, nodes,
the fabric, prices, a site's crew), :mod:`dcsim.workload.spec` (job classes, arrivals,
distributions, a trace), :mod:`dcsim.faults.spec` (failures, repair, maintenance) and
:mod:`dcsim.metrics.spec` (sampling); the base model, the unit types and the policy spec are
in :mod:`dcsim.core.spec`. This module adds the scenario-level blocks (policies, a sweep, the
scenario itself) and re-exports every block, so that ``from dcsim.scenario.schema import X``
works for each of them. Domain code imports its own package's spec, never this module.

Quantities are written with units in YAML and converted, once, into engine units (seconds,
per-second rates, watts, bits/s, bytes). Policy names and parameters are checked against the
registries by :func:`dcsim.scenario.checks.policy_problems`, and checks that need the whole
scenario (does every job fit the cluster?) live in :mod:`dcsim.scenario.checks`;
:func:`dcsim.scenario.load.load_scenario` runs them all and reports every problem at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from dcsim.core import units
from dcsim.core.bounds import MAX_REPLICATIONS, MAX_SEED
from dcsim.core.spec import MAX_SIGMA, MIN_SHAPE, Policy, PolicySpec, PositiveSeconds, Seconds, Strict
from dcsim.faults.spec import (
    COMPONENTS,
    Component,
    FailureCause,
    FailureModel,
    Failures,
    FailureTrace,
    Maintenance,
    Reboot,
    Repair,
    Spares,
)
from dcsim.infra.spec import (
    MAX_GPUS,
    MAX_PRICE,
    Costs,
    Datacenter,
    Network,
    NodeSpec,
    RackGroup,
    SeriesFile,
    Site,
    SiteCosts,
    SiteRepair,
    Storage,
    WorkingHours,
)
from dcsim.metrics.spec import Metrics
from dcsim.scenario.events import Event
from dcsim.workload.service_spec import Service
from dcsim.workload.spec import (
    Arrival,
    BatchArrival,
    Checkpoint,
    ChoiceCount,
    DiurnalArrival,
    DurationDist,
    EmpiricalCount,
    EmpiricalDist,
    ExponentialDist,
    FixedDist,
    GpuCount,
    JobClass,
    LogNormalDist,
    PeriodicArrival,
    PoissonArrival,
    Trace,
    TraceColumns,
    WeibullDist,
    Workload,
)
from dcsim.workload.tenants import GpuQuota, Preemption, Tenant

__all__ = [
    "COMPONENTS",
    "MAX_GPUS",
    "MAX_PRICE",
    "MAX_SIGMA",
    "MIN_SHAPE",
    "Arrival",
    "BatchArrival",
    "Checkpoint",
    "ChoiceCount",
    "Component",
    "Costs",
    "Datacenter",
    "DiurnalArrival",
    "DurationDist",
    "EmpiricalCount",
    "EmpiricalDist",
    "Event",
    "ExponentialDist",
    "FailureCause",
    "FailureModel",
    "FailureTrace",
    "Failures",
    "FixedDist",
    "GpuCount",
    "GpuQuota",
    "JobClass",
    "LogNormalDist",
    "Maintenance",
    "Metrics",
    "Network",
    "NodeSpec",
    "PeriodicArrival",
    "PoissonArrival",
    "Policies",
    "Policy",
    "PolicySpec",
    "Preemption",
    "RackGroup",
    "Reboot",
    "Repair",
    "Scenario",
    "SeriesFile",
    "Service",
    "Site",
    "SiteCosts",
    "SiteRepair",
    "Spares",
    "Storage",
    "Strict",
    "Sweep",
    "Tenant",
    "Trace",
    "TraceColumns",
    "WeibullDist",
    "WorkingHours",
    "Workload",
]  # fmt: skip


class Policies(Strict):
    """Which policy makes each kind of decision (`dcsim schema` lists the names)."""

    scheduler: Policy = Field(default_factory=lambda: PolicySpec(name="fifo"), description="queue order")
    placement: Policy = Field(default_factory=lambda: PolicySpec(name="first_fit"), description="where a job runs")
    site_router: Policy | None = Field(
        None,
        description="which site a training job runs at (home, least_loaded, cheapest_now, lowest_carbon, "
        "follow_the_sun); none: any site its GPU types are at, as placement finds them",
    )
    fairness: Policy | None = Field(
        None,
        description="which tenant's jobs are offered GPUs first (drf, weighted_fair_share); none: the scheduler's "
        "order over all tenants",
    )


class Sweep(Strict):
    """A sweep kept with the scenario: what ``dcsim sweep FILE`` runs when given no --grid or --policy."""

    grid: dict[str, list[str | int | float]] = Field(
        default_factory=dict,
        description="scenario paths and their values, e.g. {datacenter.sites.0.racks: [8, 12, 16]}; the product is run",
    )
    policies: dict[
        Literal["scheduler", "placement", "repair", "load_balancer", "autoscaler", "site_router", "fairness"], list[str]
    ] = Field(
        default_factory=dict, description="policy kinds and their names as grid axes, e.g. {scheduler: [fifo, sjf]}"
    )
    replications: int = Field(
        3, ge=1, le=MAX_REPLICATIONS, description="seeds at every grid point: the scenario's seed and those after it"
    )


# --------------------------------------------------------------------------- scenario
class Scenario(Strict):
    """A whole scenario: the data center, its workload, policies, prices."""

    name: str = Field(
        min_length=1,
        description="names the results folder, results/<name>/ (characters other than letters, digits and ._+=- "
        "become _, and a changed or long name gets a short hash: no name leads outside results/)",
    )
    description: str = Field("", description="free text")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of every random stream")
    horizon: PositiveSeconds | None = Field(
        None, description="simulated time to stop at (default: when the workload drains)"
    )
    warmup: Seconds = Field(0.0, description="initial period excluded from every metric")
    start: datetime | None = Field(
        None,
        description="the moment time 0 stands for, a UTC date and time such as 2024-03-04T00:00Z (a time without "
        "an offset is UTC): it sets the sites' local time and weekdays (default 2024-01-01T00:00Z, a Monday)",
    )
    datacenter: Datacenter
    workload: Workload = Field(default_factory=Workload, description="training jobs")
    services: list[Service] = Field(default_factory=list, description="inference services (replicas serving requests)")
    failures: Failures | None = Field(None, description="component failures (reliability model)")
    repair: Repair | None = Field(None, description="repair of failed components (default: 1 technician)")
    maintenance: list[Maintenance] = Field(default_factory=list, description="planned maintenance windows")
    policies: Policies = Field(default_factory=Policies)
    costs: Costs = Field(default_factory=Costs)
    metrics: Metrics = Field(default_factory=Metrics)
    tenants: list[Tenant] = Field(
        default_factory=list, description="teams with quotas, cohorts and weights (Kueue's model); none: no quotas"
    )
    preemption: Preemption = Field(
        default_factory=Preemption, description="which running jobs a waiting job may preempt, and what a victim keeps"
    )
    events: list[Event] = Field(
        default_factory=list,
        description="timed what-if events: at a time (until another), set a field, add or remove racks, fail or "
        "restore a site, rack or node",
    )
    sweep: Sweep | None = Field(None, description="the sweep `dcsim sweep` runs by default (other commands ignore it)")

    _base_dir: str = PrivateAttr(default=".")

    @field_validator("warmup")
    @classmethod
    def _warmup_before_horizon(cls, warmup: float, info: ValidationInfo) -> float:
        horizon = info.data.get("horizon")  # validated first: it is declared first
        if horizon is not None and warmup >= horizon:
            raise ValueError(
                f"warmup ({units.format_duration(warmup)}) must be shorter than horizon "
                f"({units.format_duration(horizon)})"
            )
        return warmup

    @field_validator("start")
    @classmethod
    def _start_in_utc(cls, start: datetime | None) -> datetime | None:
        if start is None or start.tzinfo is None:
            return None if start is None else start.replace(tzinfo=UTC)
        return start.astimezone(UTC)

    @model_validator(mode="after")
    def _something_runs(self) -> Scenario:
        wl = self.workload
        if not wl.jobs and wl.trace is None and not self.services and wl.fill is None:
            raise ValueError(
                "nothing runs: give at least one job class in `workload.jobs`, a `workload.trace`, or a service "
                "in `services`"
            )
        names = [s.name for s in self.services]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"service names must be unique; repeated: {', '.join(dupes)}")
        return self

    @property
    def base_dir(self) -> str:
        """Folder that relative paths in the scenario are resolved against."""
        return self._base_dir

    def site_costs(self) -> dict[str, Costs]:
        """The prices of each site, by site name: its own `costs` on top of the scenario-wide ones."""
        return {site.name: self.costs.for_site(site.own_costs()) for site in self.datacenter.sites}
