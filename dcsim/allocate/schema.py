"""The allocation problem file (``dcsim allocate FILE.yaml``): pools, services, lambda.

The origin document's model, made meaningful: every service has a demand that is met
or paid for as unmet, pools have a capacity, a cost per resource unit, a failure domain
and a failure rate, and lambda prices fault exposure against cost.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dcsim.core.spec import Seconds, Strict


class PoolSpec(Strict):
    """Capacity that services can be placed on: a rack, a node type, a site."""

    name: str = Field(description="pool name, unique")
    capacity: float = Field(ge=0, description="resource units available (GPUs, or the origin's abstract units)")
    cost: float = Field(0.0, ge=0, description="cost per resource unit used")
    domain: str | None = Field(None, description="failure domain (default: the pool's own name)")
    failure_rate: float = Field(0.0, ge=0, description="failures per unit time of the domain (any consistent unit)")


class ServiceSpec(Strict):
    """A service or job class that needs ``demand`` instances of ``unit_size`` resource units."""

    name: str = Field(description="service name, unique")
    demand: float = Field(ge=0, description="instances wanted")
    impact: float = Field(0.0, ge=0, description="fault impact of one instance (weight of its exposure)")
    cost: float = Field(0.0, ge=0, description="the service's own cost per instance, wherever it runs")
    unit_size: float = Field(1.0, gt=0, description="resource units one instance uses")
    max_share_per_domain: float | None = Field(
        None, gt=0, le=1, description="at most this share of the demand in any one failure domain (anti-affinity)"
    )
    integral: bool = Field(True, description="instances are indivisible (integer); false allows fractions")


class AllocationProblem(Strict):
    """Pools, services and prices of one allocation question."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="names the results")
    description: str = Field("", description="free text")
    lambda_: float = Field(1.0, ge=0, alias="lambda", description="price of one unit of fault exposure")
    unmet_penalty: float | None = Field(
        1000.0, ge=0, description="cost per instance of demand left unmet (null: demand must be met)"
    )
    solver: Literal["highs", "cbc"] = Field("highs", description="MILP solver: HiGHS (highspy) or CBC")
    time_limit: Seconds = Field(10.0, description="solver time limit; past it the greedy heuristic answers")
    pools: list[PoolSpec] = Field(min_length=1, description="where capacity is")
    services: list[ServiceSpec] = Field(min_length=1, description="what needs it")

    model_config = Strict.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _unique_names(self) -> AllocationProblem:
        for kind, names in (("pool", [p.name for p in self.pools]), ("service", [s.name for s in self.services])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind} names must be unique; repeated: {', '.join(dupes)}")
        return self
