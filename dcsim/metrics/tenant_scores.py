"""Per-tenant results: waits, GPU-hours against quota, borrowed and lent, preemptions, fairness, chargeback.

Pure functions over the jobs and runs tables and the scenario's ``tenants``. A tenant's
usage is the GPUs its running jobs hold (piecewise constant between starts and ends, from
each run); over the measured window:

- ``borrowed_gpu_hours``: the integral of its usage beyond its nominal quota (per GPU type,
  summed, for a quota per type);
- ``lent_gpu_hours``: what its cohort borrowed, shared among the members that left lendable
  quota unused, in proportion to it (unused ``min(lending_limit, quota - usage)``);
- ``tenants.jain_index``: Jain's index ``(sum x)^2 / (n sum x^2)`` of ``x = GPU-hours / (quota x
  hours)`` over the declared tenants with a quota above 0 (None if none held a GPU);
- the chargeback table: each tenant's GPU-hours and a share of the window's capital and energy
  cost in proportion to them (``(unallocated)``: what no tenant's job or replica held).

An elastic job counts the GPUs it held over time (its spans), not its nominal ``gpus``. A
service's replicas are charged to the service's ``tenant``: they add to its ``gpu_hours``,
``usd`` and chargeback row, but not to its quota's use, borrowing, lending or the Jain index
(quotas govern training jobs only; replicas are not held to them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dcsim.core.table import Table
from dcsim.infra.topology import Pool
from dcsim.metrics.elastic_scores import extra_spans
from dcsim.metrics.fault_scores import interruption_gpu_s
from dcsim.metrics.window import Window, _mean, _p95, overlap
from dcsim.workload.jobs import PREEMPT_REASONS
from dcsim.workload.tenants import GpuQuota, Tenant

#: The chargeback table's row of GPU-hours no tenant held.
UNALLOCATED = "(unallocated)"


def _per_resource(quota: GpuQuota | None, types: Sequence[str], default: float) -> np.ndarray:
    """[total, type 0, ...]: a quota in total fills the first, a per-type quota the others (and its sum the first)."""
    out = np.full(1 + len(types), default)
    if quota is None:
        return out
    if isinstance(quota.gpus, dict):
        out[1:] = [quota.gpus.get(t, 0) for t in types]
        out[0] = sum(quota.gpus.values())
    else:
        out[0] = quota.gpus
    return out


def usage_steps(
    jobs: Table,
    runs: Table | None,
    window: Window,
    tenant_of: np.ndarray,
    pool_type: np.ndarray,
    n: int,
    k: int,
    elastic: Table | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """GPUs held by tenant and resource over time: ``(durations in the window, usage)``, segments x n x k.

    Args:
        jobs: the jobs table.
        runs: the runs table (None: no job was interrupted, each started job ran once).
        window: the measured window.
        tenant_of: the tenant index of each tenant code.
        pool_type: the resource (1 + GPU type index) of each pool.
        n: tenants.
        k: resources (GPUs in total, then each GPU type).
        elastic: the elastic runs' spans (None: none): each adds what its run held beyond its nominal count.
    """
    codes = jobs.coded("tenant").codes
    if runs is not None and len(runs):
        ids = runs["job_id"]
        start, end, pool = runs["start_s"], runs["end_s"], runs["pool"]
    else:
        ran = jobs["pool"] >= 0
        ids = np.nonzero(ran)[0]
        start, end, pool = jobs["start_s"][ran], jobs["finish_s"][ran], jobs["pool"][ran]
    gpus = jobs["gpus"][ids].astype(float)
    if elastic is not None and len(elastic):
        e_start, e_end, e_extra, e_pool, _ = extra_spans(elastic, jobs)
        ids, start, end = (
            np.concatenate([ids, elastic["job_id"]]),
            np.concatenate([start, e_start]),
            np.concatenate([end, e_end]),
        )
        pool, gpus = np.concatenate([pool, e_pool]), np.concatenate([gpus, e_extra.astype(float)])
    end = np.where(np.isnan(end), window.end, end)
    tenant = tenant_of[codes[ids]]
    times = np.concatenate([start, end])
    order = np.argsort(times, kind="stable")
    times = times[order]
    delta = np.concatenate([gpus, -gpus])[order]
    who = np.concatenate([tenant, tenant])[order]
    res = np.concatenate([pool_type[pool], pool_type[pool]])[order]
    steps = np.zeros((times.size, n, k))
    rows = np.arange(times.size)
    steps[rows, who, 0] = delta
    steps[rows, who, res] += delta
    usage = np.cumsum(steps, axis=0)
    clipped = np.clip(times, window.start, window.end)
    durations = np.diff(np.append(clipped, window.end))
    return durations, usage


def tenant_metrics(
    jobs: Table,
    window: Window,
    runs: Table | None,
    interruptions: Table | None,
    pools: Sequence[Pool],
    tenants: Sequence[Tenant],
    cost: dict[str, Any],
    elastic: Table | None = None,
    replicas: tuple[np.ndarray, np.ndarray, np.ndarray, Sequence[str]] | None = None,
) -> tuple[dict[str, Any], Table]:
    """The ``tenants`` block of a summary and the chargeback table.

    Args:
        jobs: the jobs table.
        window: the measured window.
        runs: the runs table when jobs were interrupted (else None).
        interruptions: the interruptions table (None: nothing was interrupted).
        pools: the data center's pools.
        tenants: the scenario's ``tenants``.
        cost: the summary's ``cost`` block (``capital_usd``, ``energy_usd``).
        elastic: the elastic runs' spans (None: no elastic job ran).
        replicas: the service replicas' ``(placed, end, GPUs, tenant name)`` (None: no services).

    Returns:
        The block (``jain_index``, ``borrowed_gpu_hours``, and one entry per tenant) and the
        table (``tenant, gpu_hours, share_of_installed, capital_usd, energy_usd, total_usd``).
    """
    coded = jobs.coded("tenant")
    declared = [t.name for t in tenants]
    served = sorted(set(replicas[3]) if replicas is not None else set())
    names = declared + sorted((set(coded.names) | set(served)) - set(declared))
    n = len(names)
    tenant_of = np.array([names.index(name) for name in coded.names] or [0], dtype=np.int64)
    types = sorted({p.gpu_type for p in pools})
    k = 1 + len(types)
    pool_type = np.array([1 + types.index(p.gpu_type) for p in pools], dtype=np.int64)
    inf = np.inf
    nominal = np.array([_per_resource(t.quota, types, inf) for t in tenants] + [np.full(k, inf)] * (n - len(tenants)))
    lend = np.array([np.minimum(_per_resource(t.lending_limit, types, inf), nominal[i]) for i, t in enumerate(tenants)]
                    + [np.zeros(k)] * (n - len(tenants)))  # fmt: skip
    per_type = [t.quota is not None and isinstance(t.quota.gpus, dict) for t in tenants] + [False] * (n - len(tenants))
    durations, usage = usage_steps(jobs, runs, window, tenant_of, pool_type, n, k, elastic)
    hours = window.length / 3600.0
    jobs_h = (durations[:, None] * usage[:, :, 0]).sum(axis=0) / 3600.0 if durations.size else np.zeros(n)
    held_h = jobs_h.copy()
    if replicas is not None:
        placed, ended, gpus, owner = replicas
        gpu_h = overlap(placed, np.where(np.isnan(ended), window.end, ended), window) * gpus / 3600.0
        held_h += np.bincount(np.array([names.index(t) for t in owner], dtype=np.int64), weights=gpu_h, minlength=n)
    # Usage beyond nominal quota, on the resources each tenant's quota is on.
    over = np.maximum(usage - nominal[None], 0.0)
    idle = np.minimum(lend[None], np.maximum(nominal[None] - usage, 0.0))
    mask = np.zeros((n, k))
    for i, t in enumerate(tenants):
        if t.quota is not None:
            if per_type[i]:
                mask[i, 1:] = 1.0
            else:
                mask[i, 0] = 1.0
    over = np.where(mask[None] > 0, over, 0.0)
    borrowed_h = (durations[:, None] * over.sum(axis=2)).sum(axis=0) / 3600.0 if durations.size else np.zeros(n)
    lent_h = np.zeros(n)
    for cohort in sorted({t.cohort for t in tenants if t.cohort is not None and t.quota is not None}):
        members = [i for i, t in enumerate(tenants) if t.cohort == cohort and t.quota is not None]
        for r in range(k):
            if not mask[members, r].any():
                continue
            taken = over[:, members, r].sum(axis=1)
            free = np.where(mask[members, r][None] > 0, idle[:, members, r], 0.0)
            total = free.sum(axis=1)
            share = np.divide(free, total[:, None], out=np.zeros_like(free), where=total[:, None] > 0)
            lent_h[members] += (durations[:, None] * taken[:, None] * share).sum(axis=0) / 3600.0
    quota_h = nominal[:, 0] * hours
    preempted = np.zeros(n, dtype=np.int64)
    if interruptions is not None and len(interruptions):
        reason = interruptions.coded("reason")
        policy = np.isin(np.asarray(reason.names, dtype=object)[reason.codes], PREEMPT_REASONS)
        inside = policy & (interruptions["time_s"] >= window.start) & (interruptions["time_s"] <= window.end)
        hit = interruptions["job_id"][inside]
        preempted = np.bincount(tenant_of[coded.codes[hit]], minlength=n)
    installed_h = sum(p.gpus for p in pools) * hours
    capital, energy = float(cost.get("capital_usd") or 0.0), float(cost.get("energy_usd") or 0.0)
    block: dict[str, Any] = {}
    cohort_of = {t.name: t.cohort for t in tenants}
    for i, name in enumerate(names):
        mine = jobs.rows((tenant_of[coded.codes] == i) & (jobs["submit_s"] >= window.start))
        started = ~np.isnan(mine["start_s"])
        done = mine.coded("state").is_("completed")
        share = held_h[i] / installed_h if installed_h > 0 else 0.0
        block[name] = {
            "submitted": len(mine),
            "completed": int(done.sum()),
            "mean_wait_s": _mean(mine["wait_s"][started]),
            "p95_wait_s": _p95(mine["wait_s"][started]),
            "mean_jct_s": _mean(mine["jct_s"][done]),
            "gpu_hours": float(held_h[i]),
            "quota_gpu_hours": float(quota_h[i]) if np.isfinite(quota_h[i]) else None,
            "use_of_quota": float(jobs_h[i] / quota_h[i]) if np.isfinite(quota_h[i]) and quota_h[i] > 0 else None,
            "borrowed_gpu_hours": float(borrowed_h[i]),
            "lent_gpu_hours": float(lent_h[i]),
            "preemptions": int(preempted[i]),
            "usd": (capital + energy) * share,
        }
        if cohort_of.get(name) is None:
            block[name]["lent_gpu_hours"] = 0.0
    x = np.array([jobs_h[i] / quota_h[i] for i, t in enumerate(tenants) if np.isfinite(quota_h[i]) and quota_h[i] > 0])
    jain = float(x.sum() ** 2 / (x.size * (x**2).sum())) if x.size and (x**2).sum() > 0 else None
    out = {"jain_index": jain, "borrowed_gpu_hours": float(borrowed_h.sum()), **block}
    shares = held_h / installed_h if installed_h > 0 else np.zeros(n)
    rest = max(0.0, 1.0 - float(shares.sum()))
    table = Table({
        "tenant": np.array([*names, UNALLOCATED], dtype=object),
        "gpu_hours": np.append(held_h, max(0.0, installed_h - float(held_h.sum()))),
        "share_of_installed": np.append(shares, rest),
        "capital_usd": np.append(shares * capital, rest * capital),
        "energy_usd": np.append(shares * energy, rest * energy),
        "total_usd": np.append(shares * (capital + energy), rest * (capital + energy)),
    })  # fmt: skip
    return out, table


def preemptions_by_reason(
    jobs: Table, interruptions: Table | None, window: Window, elastic: Table | None = None
) -> dict[str, Any]:
    """``preemptions_by_reason`` and ``preempted_gpu_hours_by_reason``: ``jobs.preemptions`` split by reason.

    Each at the GPUs its run held when preempted (``elastic``: the elastic runs' spans).
    """
    counts = dict.fromkeys(PREEMPT_REASONS, 0)
    lost = dict.fromkeys(PREEMPT_REASONS, 0.0)
    if interruptions is not None and len(interruptions):
        reason = interruptions.coded("reason")
        inside = (interruptions["time_s"] >= window.start) & (interruptions["time_s"] <= window.end)
        gpu_h = interruption_gpu_s(jobs, interruptions, elastic) / 3600
        for name in PREEMPT_REASONS:
            if name in reason.names:
                hit = inside & reason.is_(name)
                counts[name] = int(hit.sum())
                lost[name] = float(gpu_h[hit].sum())
    return {"preemptions_by_reason": counts, "preempted_gpu_hours_by_reason": lost}


__all__ = ["UNALLOCATED", "preemptions_by_reason", "tenant_metrics", "usage_steps"]
