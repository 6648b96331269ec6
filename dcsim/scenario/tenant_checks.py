"""Checks of the ``tenants``, ``preemption`` and ``policies.fairness`` blocks against the rest of a scenario.

:func:`tenant_problems` lists what would make a run wrong or a block do nothing (exit 2,
each with its path and the fix); :func:`tenant_notes` what a reader of the results should
know (quotas beyond the installed GPUs, tenants of a trace no block declares).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from dcsim.core.errors import TraceError
from dcsim.infra.topology import Topology
from dcsim.workload.distributions import count_sampler
from dcsim.workload.routes import class_pools
from dcsim.workload.tenants import GpuQuota

#: The tenant of jobs that name none (and of every job without a ``tenants`` block).
DEFAULT_TENANT = "default"


def _form(quota: GpuQuota | None) -> str | None:
    return None if quota is None else "per GPU type" if isinstance(quota.gpus, dict) else "in total"


def _total(quota: GpuQuota | None, default: float, gpu_type: str | None = None) -> float:
    """A quota's GPUs in total, or of ``gpu_type`` (a per-type quota without it: 0); None: ``default``."""
    if quota is None:
        return default
    if isinstance(quota.gpus, dict):
        return float(sum(quota.gpus.values()) if gpu_type is None else quota.gpus.get(gpu_type, 0))
    return float(quota.gpus)


def tenant_problems(sc: Any, topology: Topology) -> list[tuple[str, str]]:
    """Problems of the tenants' blocks, as ``(path, message)``."""
    out: list[tuple[str, str]] = []
    tenants = sc.tenants
    rules = sc.preemption
    if not tenants:
        if sc.policies.fairness is not None:
            out.append(("policies.fairness", "a fairness policy orders tenants: declare them in a `tenants` block "
                        "(each with a name; a quota is optional), or drop policies.fairness"))  # fmt: skip
        for rule in ("reclaim_within_cohort", "within_tenant"):
            if getattr(rules, rule) != "never":
                out.append((f"preemption.{rule}", "preempts for tenants' quotas and priorities: declare them in a "
                            "`tenants` block, or set it to never"))  # fmt: skip
        return out
    names = [t.name for t in tenants]
    for i, t in enumerate(tenants):
        path = f"tenants.{i}"
        if names.index(t.name) != i:
            out.append((f"{path}.name", f"tenant {t.name!r} is declared twice; give each tenant one block"))
        for field in ("borrowing_limit", "lending_limit"):
            limit = getattr(t, field)
            if limit is None:
                continue
            if t.quota is None:
                out.append((f"{path}.{field}", f"tenant {t.name!r} has no quota: it is not limited, and has "
                            f"nothing to lend; give it a `quota` or drop {field}"))  # fmt: skip
            elif t.cohort is None:
                out.append((f"{path}.{field}", f"tenant {t.name!r} has no cohort to borrow from or lend to; "
                            f"give it a `cohort` or drop {field}"))  # fmt: skip
            elif _form(limit) != _form(t.quota):
                out.append((f"{path}.{field}", f"is {_form(limit)} but the quota of {t.name!r} is "
                            f"{_form(t.quota)}; give both the same form"))  # fmt: skip
        if t.quota is not None and isinstance(t.quota.gpus, dict):
            unknown = sorted(set(t.quota.gpus) - set(topology.gpu_types()))
            if unknown:
                out.append((f"{path}.quota.gpus", f"no GPUs of type {', '.join(unknown)} in the data center "
                            f"(types present: {', '.join(topology.gpu_types())})"))  # fmt: skip
    cohorts: dict[str, list[int]] = {}
    for i, t in enumerate(tenants):
        if t.cohort is not None and t.quota is not None:
            cohorts.setdefault(t.cohort, []).append(i)
    for cohort, members in cohorts.items():
        forms = {_form(tenants[i].quota) for i in members}
        if len(forms) > 1:
            out.append((f"tenants.{members[-1]}.quota", f"cohort {cohort!r} mixes quotas in total and per GPU "
                        "type; give all its members the same form"))  # fmt: skip
    declared = set(names)
    for n, cls in enumerate(sc.workload.jobs):
        if cls.tenant != DEFAULT_TENANT and cls.tenant not in declared:
            out.append((f"workload.jobs.{n}.tenant", f"tenant {cls.tenant!r} is not declared; the tenants are "
                        f"{', '.join(names)} (or leave it out: the default tenant, not limited)"))  # fmt: skip
            continue
        if cls.tenant not in declared:
            continue
        t = tenants[names.index(cls.tenant)]
        if t.quota is None:
            continue
        members = cohorts.get(t.cohort or "", [])
        if isinstance(t.quota.gpus, dict):  # the most on any one GPU type of the class's pools
            types = {topology.pools[p].gpu_type for p in class_pools(topology, cls)}
            most = max((_largest(t, members, tenants, k) for k in types), default=0.0)
        else:
            most = _largest(t, members, tenants)
        try:
            _, largest = count_sampler(cls.gpus, sc.base_dir)
        except TraceError:
            continue  # reported by the class's own checks
        if largest > most:
            per = " of one GPU type its jobs may use" if isinstance(t.quota.gpus, dict) else ""
            out.append((f"workload.jobs.{n}.gpus", f"{largest} GPUs > the most tenant {t.name!r} may ever hold "
                        f"({most:g}{per}: its quota and what it may borrow); lower it or raise the quota"))  # fmt: skip
    return out


def _largest(t: Any, members: list[int], tenants: list[Any], gpu_type: str | None = None) -> float:
    """The most GPUs a tenant with a quota may hold at once (in total, or of ``gpu_type`` for a per-type quota).

    Its quota plus what it may borrow, within its cohort's lendable quota (as
    :class:`dcsim.engine.tenancy.Tenancy` admits; a type a per-type limit leaves out: 0).
    """
    k = gpu_type
    nominal = _total(t.quota, math.inf, k)
    if t.cohort is None:
        return nominal
    borrow = _total(t.borrowing_limit, math.inf, k)
    lendable = sum(
        min(_total(m.quota, 0.0, k), _total(m.lending_limit, math.inf, k)) for m in (tenants[i] for i in members)
    )
    own_lendable = min(nominal, _total(t.lending_limit, math.inf, k))
    return min(nominal + borrow, nominal - own_lendable + lendable)


GRACE_NOTE = ("preemption.grace changes nothing: no policy preempts (set preemption rules with a `tenants` block, "
              "or a scheduler that preempts; a service's scale-up preempts at once)")  # fmt: skip


def _grace_unused(sc: Any) -> bool:
    """A grace is set, no tenants' rule preempts and the scheduler is a built-in that never does (plug-ins: at run)."""
    from dcsim.policies import SCHEDULER

    rules = sc.preemption
    rules_preempt = bool(sc.tenants) and (rules.reclaim_within_cohort != "never" or rules.within_tenant != "never")
    name = sc.policies.scheduler.name
    if rules.grace <= 0 or rules_preempt or ":" in name:
        return False
    cls = SCHEDULER.lookup(name)
    return cls in SCHEDULER.builtins() and not getattr(cls, "preempts", False)


def tenant_field_notes(sc: Any) -> list[str]:
    """Notes on tenants' fields that validate but change no result in this scenario (``dcsim validate`` and the run).

    ``preemption.within_tenant`` for tenants without a quota (nothing limits them, so none of
    their jobs is ever blocked by its tenant: the rule preempts only to admit a job within
    its quota, as Kueue's withinClusterQueue), ``reclaim_within_cohort`` without a cohort of
    two tenants with quotas, ``weight`` when no fairness policy reads it (none, or themis), and
    ``cohort`` on a tenant without a quota (it neither lends nor is limited).
    """
    tenants = sc.tenants
    if not tenants:
        return [GRACE_NOTE] if _grace_unused(sc) else []
    out = []
    rules, fairness = sc.preemption, sc.policies.fairness
    unlimited = [t.name for t in tenants if t.quota is None]
    if rules.within_tenant != "never" and unlimited:
        out.append(f"preemption.within_tenant changes nothing for tenant(s) {', '.join(unlimited)}: without a quota "
                   "a tenant's jobs are never held back by it, and the rule preempts only to admit a job within its "
                   "tenant's quota (Kueue's withinClusterQueue); give them a `quota` to have it apply")  # fmt: skip
    sizes: dict[str, int] = {}
    for t in tenants:
        if t.cohort is not None and t.quota is not None:
            sizes[t.cohort] = sizes.get(t.cohort, 0) + 1
    if rules.reclaim_within_cohort != "never" and not any(n > 1 for n in sizes.values()):
        out.append("preemption.reclaim_within_cohort changes nothing: no cohort has two tenants with quotas, so "
                   "no tenant borrows another's quota to reclaim (give tenants with quotas a `cohort`)")  # fmt: skip
    weighted = [t.name for t in tenants if t.weight != 1.0]
    if weighted and (fairness is None or fairness.name == "themis"):
        why = "no fairness policy orders the tenants" if fairness is None else "themis orders by finish-time fairness"
        out.append(f"the weight of tenant(s) {', '.join(weighted)} changes nothing: {why} (weights are read by "
                   "policies.fairness drf and weighted_fair_share)")  # fmt: skip
    if _grace_unused(sc):
        out.append(GRACE_NOTE)
    alone = [t.name for t in tenants if t.cohort is not None and t.quota is None]
    if alone:
        out.append(f"the cohort of tenant(s) {', '.join(alone)} changes nothing: a tenant without a quota has "
                   "nothing to lend and no limit to borrow past (give it a `quota` to share)")  # fmt: skip
    return out


def tenant_notes(sc: Any, installed: int, tenants_seen: Iterable[str], preempts: bool = True) -> list[str]:
    """Notes for the results: quotas beyond the installed GPUs; tenants of jobs that no block declares.

    ``preempts``: a policy of the run (the scheduler, or the tenants' rules) may preempt.
    """
    out = []
    if sc.preemption.grace > 0 and not preempts and not _grace_unused(sc):  # else noted by tenant_field_notes
        out.append(GRACE_NOTE)
    if not sc.tenants:
        return out
    total = sum(_total(t.quota, 0.0) for t in sc.tenants)
    if total > installed:
        out.append(f"the tenants' quotas add up to {total:g} GPUs, more than the {installed} installed: a tenant "
                   "within its quota may wait for GPUs no one borrowed (quotas are promises, as in Kueue)")  # fmt: skip
    declared = {t.name for t in sc.tenants}
    served = sorted({s.tenant for s in sc.services if s.tenant in declared})
    if served:
        out.append(f"the replicas of services of tenant(s) {', '.join(served)} are not counted against their "
                   "quotas (a service's tenant is a label); its training jobs are")  # fmt: skip
    undeclared = sorted(set(tenants_seen) - declared - {DEFAULT_TENANT})
    if undeclared:
        out.append(f"jobs of tenant(s) {', '.join(undeclared)} (from the trace) belong to no `tenants` block: "
                   "they were not limited, as the default tenant")  # fmt: skip
    return out


__all__ = ["DEFAULT_TENANT", "tenant_field_notes", "tenant_notes", "tenant_problems"]
