"""Checks of a scenario whose GPUs are shared: requests against the nodes, and what sharing does not model yet."""

from __future__ import annotations

from typing import Any

import numpy as np

from dcsim.infra.topology import Topology
from dcsim.workload.spec import ChoiceCount

_SHARED = "GPUs are shared here (nodes declare cpu or memory or have gpus: 0, or a class or a service asks for them)"


def sharing_problems(sc: Any, topology: Topology) -> list[tuple[str, str]]:
    """Every problem of a scenario that shares GPUs (see :func:`dcsim.engine.sharing.uses_sharing`)."""
    from dcsim.workload.routes import class_pools
    from dcsim.workload.sharing import uses_sharing

    if not uses_sharing(sc):
        return []
    problems: list[tuple[str, str]] = []
    pools = topology.pools
    if topology.n_gpus == 0:
        problems.append(("datacenter", "no node has a GPU (every node has gpus: 0); give some nodes GPUs, e.g. "
                         "gpus: 8 (GPU utilization and capital are per installed GPU)"))  # fmt: skip
    for i, cls in enumerate(sc.workload.jobs):
        counts = cls.gpus.values if isinstance(cls.gpus, ChoiceCount) else None
        problems += _request_problems(f"workload.jobs.{i}", "class", cls, counts, class_pools(topology, cls), pools)
    for i, svc in enumerate(sc.services):
        mine = tuple(p for p in topology.allowed_pools(svc.gpu_types, svc.min_gpu_memory) if pools[p].gpus_per_node)
        problems += _request_problems(f"services.{i}", "service", svc, [svc.gpus_per_replica], mine, pools)
    if sc.tenants:
        problems.append(("tenants", f"tenants' quotas are not modelled yet where {_SHARED}; drop `tenants`"))
    from dcsim.policies import SCHEDULER

    try:
        scheduler = SCHEDULER.lookup(sc.policies.scheduler.name, getattr(sc, "plugin_search", ()))
    except Exception:  # an unknown name is reported by the general checks
        scheduler = None
    if scheduler is not None and callable(getattr(scheduler, "decide", None)):
        problems.append(("policies.scheduler", f"scheduler {sc.policies.scheduler.name!r} is not modelled yet where "
                         f"{_SHARED}; use a queue order (fifo, sjf, priority, ...)"))  # fmt: skip
    return problems


def _request_problems(
    path: str, what: str, req: Any, counts: list[int] | None, allowed: tuple[int, ...], pools: Any
) -> list[tuple[str, str]]:
    """A job class's or a service's CPU and memory: declared by some node of its pools, and fitting one of them."""
    mine = [pools[p] for p in allowed]
    if not mine:
        return []  # reported by the general checks (no pool of its GPU types)
    problems: list[tuple[str, str]] = []
    for name, unit in (("cpu", "cores"), ("memory", "bytes")):
        if getattr(req, name) and all(getattr(p, name) is None for p in mine):
            example = "cpu: 96" if name == "cpu" else "memory: 512GB"
            problems.append((f"{path}.{name}", f"the {what} asks for {name} but no node of its pools declares "
                             f"`{name}` ({unit}); give those nodes one (e.g. {example}) or drop it"))  # fmt: skip
    if counts is None:
        return problems
    for g in sorted(set(counts)):
        if not any(_fits(req, g, p) for p in mine):
            return [*problems, (path, _too_large(req, g, mine, "a replica" if what == "service" else "a job"))]
    return problems


def trace_problems(table: Any, trace: Any, topology: Topology, path: str) -> list[tuple[str, str]]:
    """The first trace job whose CPU or memory no node of the trace's pools holds (it would block the queue).

    Args:
        table: the trace as read (:class:`dcsim.workload.trace.TraceTable`).
        trace: its ``workload.trace`` block (GPU types and memory it may use).
        topology: the data center.
        path: the trace file, as messages name it.

    Returns:
        ``[("workload.trace", message naming the line)]``, or [] when every job fits a node.
    """
    from types import SimpleNamespace

    if table.cpu is None and table.memory is None:
        return []
    pools = topology.pools
    mine = [pools[p] for p in topology.allowed_pools(trace.gpu_types, trace.min_gpu_memory)]
    if not mine:
        return []  # reported by the general checks
    zero = np.zeros(len(table))
    cpu = table.cpu if table.cpu is not None else zero
    memory = table.memory if table.memory is not None else zero
    shapes, first = np.unique(np.stack([table.gpus.astype(float), cpu, memory], axis=1), axis=0, return_index=True)
    bad = [i for (g, c, m), i in zip(shapes.tolist(), first.tolist(), strict=True)
           if not any(_fits(SimpleNamespace(cpu=c, memory=m), int(g), p) for p in mine)]  # fmt: skip
    if not bad:
        return []
    i = min(bad)
    job = SimpleNamespace(cpu=float(cpu[i]), memory=float(memory[i]))
    return [("workload.trace", f"{path} line {table.line(i)}: {_too_large(job, int(table.gpus[i]), mine)}")]


def _fits(cls: Any, gpus: int, pool: Any) -> bool:
    """A job of ``gpus`` GPUs of the class fits the pool's empty nodes (CPU and memory split by GPUs over nodes)."""
    per_node = pool.gpus_per_node
    if gpus > 0 and per_node == 0:
        return False
    share = 1.0 if gpus <= per_node else per_node / gpus  # of its CPU and memory on one full node
    for name in ("cpu", "memory"):
        asked, has = getattr(cls, name) or 0.0, getattr(pool, name)
        if has is not None and asked * share > has * (1 + 1e-12):
            return False
    return True


def format_bytes(value: float) -> str:
    """Bytes as GB (10^9), as scenarios write them."""
    return f"{value / 1e9:g}GB"


def _too_large(cls: Any, gpus: int, pools: list[Any], who: str = "a job") -> str:
    """The message for a job (or a replica: ``who``) larger than every node of its pools."""
    asked = []
    if cls.cpu:
        asked.append(f"{cls.cpu:g} cores")
    if cls.memory:
        asked.append(f"{format_bytes(cls.memory)} of memory")
    largest = max(pools, key=lambda p: ((p.cpu or 0.0), (p.memory or 0.0)))
    has = [f"{largest.gpus_per_node} GPUs"]
    if largest.cpu is not None:
        has.append(f"{largest.cpu:g} cores")
    if largest.memory is not None:
        has.append(f"{format_bytes(largest.memory)}")
    what = f"{who} of {gpus} GPU{'' if gpus == 1 else 's'} asks for {' and '.join(asked) or 'GPUs'}"
    return (f"{what}, more than any node of its pools holds (the largest: {', '.join(has)}); "
            "ask for less, or give the nodes more")  # fmt: skip


__all__ = ["sharing_problems", "trace_problems"]
