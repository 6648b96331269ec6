"""Policies: Protocols, registries and the built-in decisions.

Each kind of decision has one Protocol and one registry. Policies read views
(:mod:`dcsim.views`) and return decisions; the engine applies them.
"""

from __future__ import annotations

from dcsim.core.registry import Registry
from dcsim.policies import elastic as _elastic  # noqa: F401  (registers the `elastic` scheduler)
from dcsim.policies import gavel as _gavel  # noqa: F401  (registers the `gavel` scheduler)
from dcsim.policies import lp as _lp  # noqa: F401  (registers the `lp` scheduler)
from dcsim.policies import zoo as _zoo  # noqa: F401  (registers the zoo's schedulers)
from dcsim.policies.autoscaling import AUTOSCALER
from dcsim.policies.balancing import LOAD_BALANCER
from dcsim.policies.fairness import FAIRNESS
from dcsim.policies.geo import GEO_BALANCER
from dcsim.policies.placement import PLACEMENT
from dcsim.policies.repair import REPAIR
from dcsim.policies.routing import SITE_ROUTER
from dcsim.policies.scheduling import SCHEDULER

REGISTRIES: dict[str, Registry] = {
    "scheduler": SCHEDULER, "placement": PLACEMENT, "repair": REPAIR, "load_balancer": LOAD_BALANCER,
    "geo_load_balancer": GEO_BALANCER, "autoscaler": AUTOSCALER, "site_router": SITE_ROUTER,
    "fairness": FAIRNESS,
}  # fmt: skip

__all__ = [
    "AUTOSCALER", "FAIRNESS", "GEO_BALANCER", "LOAD_BALANCER", "PLACEMENT", "REGISTRIES", "REPAIR", "SCHEDULER",
    "SITE_ROUTER",
]  # fmt: skip
