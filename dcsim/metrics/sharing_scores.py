"""Metrics of a run whose GPUs are shared: CPU and memory allocated, fragmentation, CPU and memory capital.

- ``utilization.cpu_allocated`` and ``utilization.memory_allocated``: core-seconds (byte-seconds)
  held by jobs and service replicas inside the window over those installed, as ``gpu_allocated`` counts GPU-seconds;
  reported when every node declares ``cpu`` (``memory``), else None (no capacity to divide by).
- ``utilization.gpu_fragmentation``: the time-weighted mean over the window of the cluster's
  fragmentation (FGD's F(M), milli-GPU, against the workload's request shapes) over its
  installed milli-GPU; None when it is not measured.
- ``cost.cpu_usd`` and ``cost.memory_usd``: installed cores (GB) x hours x ``costs.cpu_core_hour_usd``
  (``memory_gb_hour_usd``), folded into ``cost.capital_usd`` and ``cost.total_usd`` (not into the
  per-site and per-type breakdowns, which stay GPU capital).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dcsim.infra.topology import Pool
from dcsim.metrics.window import Window, held_seconds, overlap, step_integral


def sharing_metrics(
    jobs: Any,
    window: Window,
    pools: Sequence[Pool],
    costs: Any,
    runs: Any = None,
    fragmentation: tuple[Sequence[float], Sequence[float]] | None = None,
    replicas: tuple[Any, Sequence[Any]] | None = None,
) -> tuple[dict[str, float | None], dict[str, float]]:
    """The utilization and cost figures above.

    Args:
        jobs: the jobs table, with its ``cpu``, ``memory`` and ``gpu_fraction`` columns.
        window: the measured window.
        pools: the data center's pools (their nodes' CPU and memory).
        costs: the scenario's prices (``cpu_core_hour_usd``, ``memory_gb_hour_usd``).
        runs: each run of interrupted jobs (None: one run per job).
        fragmentation: (times, milli-GPU) of the cluster's fragmentation at each change (None: not measured).
        replicas: the services' replicas table and the services (their ``cpu`` and ``memory`` per replica), or None.

    Returns:
        ``({cpu_allocated, memory_allocated, gpu_fragmentation}, {cpu_usd, memory_usd})``.
    """
    length = window.length
    hours = length / 3600.0
    out: dict[str, float | None] = {}
    cost: dict[str, float] = {}
    for name, column, price, scale in (
        ("cpu", "cpu", costs.cpu_core_hour_usd, 1.0),
        ("memory", "memory", costs.memory_gb_hour_usd, 1e-9),
    ):
        sizes = [(getattr(p, name), len(p.nodes)) for p in pools]
        declared = sum(size * count for size, count in sizes if size is not None)
        cost[f"{name}_usd"] = declared * scale * hours * price
        if any(size is None for size, _ in sizes) or declared <= 0 or length <= 0:
            out[f"{name}_allocated"] = None
            continue
        held = 0.0
        if column in jobs:
            held = float(held_seconds(jobs, window, len(pools), np.asarray(jobs[column], dtype=float), runs).sum())
        if replicas is not None:
            # (a sampled fleet's replicas count for the whole fleet, as their GPUs do)
            per_replica = {s.name: (getattr(s, name) or 0.0) / s.sample for s in replicas[1]}
            held += replica_held(replicas[0], window, per_replica)
        out[f"{name}_allocated"] = held / (declared * length)
    installed = sum(p.gpus for p in pools) * 1000.0
    out["gpu_fragmentation"] = None
    if fragmentation is not None and fragmentation[0] and installed > 0 and length > 0:
        times, values = (np.asarray(x, dtype=float) for x in fragmentation)
        out["gpu_fragmentation"] = step_integral(times, values, window) / (installed * length)
    return out, cost


def replica_held(reps: Any, window: Window, per_replica: dict[str, float]) -> float:
    """What the replicas held inside the window, in units x seconds: each service's ``per_replica`` amount."""
    if not len(reps):
        return 0.0
    service = reps.coded("service")
    amount = np.array([per_replica.get(name, 0.0) for name in service.names])[service.codes]
    return float((overlap(reps["placed_s"], reps["end_s"], window) * amount).sum())


def fold_costs(summary: dict[str, Any], extra: dict[str, float]) -> None:
    """Add CPU and memory capital to the summary's capital and total (and the costs per GPU-hour that divide it)."""
    block = summary["cost"]
    added = sum(extra.values())
    before = block["total_usd"]
    block.update(extra)
    block["capital_usd"] += added
    block["total_usd"] = before + added
    for name in ("usd_per_productive_gpu_hour", "usd_per_work_gpu_hour"):
        if block.get(name) is not None and before > 0:
            block[name] *= block["total_usd"] / before


__all__ = ["fold_costs", "replica_held", "sharing_metrics"]
