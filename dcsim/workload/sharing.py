"""Whether a scenario shares GPUs (CPU, memory, shares of a GPU, CPU-only jobs): read by the checks and the engine.

Kept free of the engine and numpy, so ``dcsim validate`` imports it cheaply; the model itself
is :mod:`dcsim.engine.sharing`.
"""

from __future__ import annotations

from typing import Any

from dcsim.workload.spec import ChoiceCount


def is_sharing_policy(cls: type) -> bool:
    """A placement class with ``choose`` and no ``place`` of its own: it places on per-GPU residuals only."""
    return callable(getattr(cls, "choose", None)) and not callable(getattr(cls, "place", None))


def class_shares(cls: Any) -> bool:
    """True if a job class asks for CPU, memory, a share of a GPU or no GPU."""
    counts = cls.gpus.values if isinstance(cls.gpus, ChoiceCount) else ()
    return bool(cls.cpu or cls.memory or cls.gpu_fraction is not None or 0 in counts)


def replica_shares(service: Any) -> bool:
    """True if a service's replicas ask for CPU, memory or a share of a GPU."""
    return bool(service.cpu or service.memory or service.gpu_fraction is not None)


def uses_sharing(sc: Any) -> bool:
    """True if the scenario needs the sharing model (see the module)."""
    for site in sc.datacenter.sites:
        for group in site.groups:
            node = group.node
            if node.cpu is not None or node.memory is not None or node.gpus == 0:
                return True
    if any(class_shares(c) for c in sc.workload.jobs):
        return True
    if any(replica_shares(s) for s in sc.services):
        return True
    trace = sc.workload.trace
    if (
        trace is not None
        and trace.columns is not None
        and any(getattr(trace.columns, f) is not None for f in ("cpu", "memory", "gpu_fraction"))
    ):
        return True
    from dcsim.policies import PLACEMENT

    try:
        cls = PLACEMENT.lookup(sc.policies.placement.name, getattr(sc, "plugin_search", ()))
    except Exception:  # an unknown name is reported by the checks
        return False
    return is_sharing_policy(cls)


__all__ = ["class_shares", "is_sharing_policy", "replica_shares", "uses_sharing"]
