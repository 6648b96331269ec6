"""Fault impact: failures, interruptions, lost work, downtime, repairs and preemptions, over the measured window.

Pure functions over the reliability tables (:class:`FaultData`);
:func:`dcsim.metrics.scoring.summarize` puts their results in the summary's ``faults`` block
(and ``jobs.preemptions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dcsim.core.table import Table
from dcsim.faults.spec import COMPONENTS
from dcsim.metrics.elastic_scores import held_gpus
from dcsim.metrics.window import (  # noqa: F401  (re-exported)
    Window,
    _known,
    _mean,
    _number,
    _or,
    _p95,
    busy_gpu_seconds,
    job_gpus,
    overlap,
    step_integral,
)


@dataclass(frozen=True)
class FaultData:
    """The reliability tables of a run (:mod:`dcsim.metrics.tables`); empty without failures."""

    runs: Table
    overhead: Table
    interruptions: Table
    failures: Table
    down: Table
    causes: Sequence[tuple[str, str]] = ()
    """Every configured cause as (name, component class), so a cause that never struck still shows."""
    spare_nodes: int = 0
    """Spare nodes kept per pool (installed, so they cost capital)."""


def overhead_waste(jobs: Table, data: FaultData, elastic: Table | None) -> np.ndarray:
    """GPU-seconds of each row of ``data.overhead``: its restart, checkpoint writes and lost work, at the GPUs held.

    Without ``elastic`` spans each counts at the job's nominal ``gpus``. An elastic run's
    restart counts at the GPUs it held from its start, its lost work at those held over the
    stretch lost (up to its end), its checkpoint writes at those it held on average over the run.
    """
    o = data.overhead
    ids, start, end = o["job_id"], o["start_s"], o["end_s"]
    if elastic is None:
        return (o["restart_s"] + o["checkpoint_s"] + o["lost_s"]) * job_gpus(jobs)[ids]
    restart = held_gpus(elastic, jobs, ids, start, np.minimum(start + o["restart_s"], end))
    lost = held_gpus(elastic, jobs, ids, np.maximum(end - o["lost_s"], start), end)
    mean = held_gpus(elastic, jobs, ids, start, end)
    return o["restart_s"] * restart + o["checkpoint_s"] * mean + o["lost_s"] * lost


def interruption_gpu_s(jobs: Table, it: Table, elastic: Table | None) -> np.ndarray:
    """GPU-seconds each interruption cost: its lost work and its restart, at the GPUs held.

    The lost stretch counts at the GPUs held over it (up to the interruption), the restart at
    those held when interrupted; without ``elastic`` spans each at the job's nominal ``gpus``.
    """
    ids, at = it["job_id"], it["time_s"]
    if elastic is None:
        return (it["lost_s"] + it["restart_s"]) * job_gpus(jobs)[ids]
    lost = held_gpus(elastic, jobs, ids, at - it["lost_s"], at)
    return it["lost_s"] * lost + it["restart_s"] * held_gpus(elastic, jobs, ids, at, at)


def fault_metrics(
    jobs: Table, data: FaultData, window: Window, installed: int, busy_gpu_s: float, elastic: Table | None = None
) -> tuple[dict[str, Any], float, float]:
    """The ``faults`` block, the productive GPU-seconds and the available share, over the window.

    Productive time is allocated time less restarts, checkpoint writes and work lost;
    a run that straddles an edge of the window counts its overhead in proportion to its
    part inside. Interruptions, their lost work and restart time count at the
    interruption; failures at the failure. Each counts at the GPUs its run held (``elastic``:
    the elastic runs' spans; None: each job's nominal ``gpus``).
    """
    o = data.overhead
    if len(o):
        span = o["end_s"] - o["start_s"]
        inside = overlap(o["start_s"], o["end_s"], window)
        share = np.divide(inside, span, out=np.zeros_like(span), where=span > 0)
        nonproductive = float((overhead_waste(jobs, data, elastic) * share).sum())
    else:
        nonproductive = 0.0
    productive = max(busy_gpu_s - nonproductive, 0.0)
    downtime = step_integral(data.down["time_s"], data.down["gpus"], window)
    available = 1.0 - downtime / (installed * window.length) if window.length > 0 else 1.0

    def within(t: np.ndarray) -> np.ndarray:
        return (t >= window.start) & (t <= window.end)

    it = data.interruptions
    it = it.rows(within(it["time_s"]))
    by_failure = it.rows(it.coded("reason").is_("failure"))
    lost_gpu_h = interruption_gpu_s(jobs, by_failure, elastic) / 3600.0
    f = data.failures.rows(within(data.failures["time_s"]))
    repaired = f["time_to_repair_s"][~np.isnan(f["time_to_repair_s"])]
    hands_on = f.rows(f["repaired_by"] == "technician")

    struck = by_failure["failure_id"]  # failure ids are row numbers of data.failures
    hit_cause = data.failures.coded("cause").strings()[struck]
    hit_component = data.failures.coded("component").strings()[struck]
    total_hits = len(by_failure)

    def breakdown(key: str, hits: np.ndarray, names: list[str]) -> dict[str, Any]:
        out = {}
        column = f.coded(key).strings()
        for name in names:
            mask = hits == name
            n_hits = int(mask.sum())
            out[name] = {
                "failures": int((column == name).sum()),
                "interruptions": n_hits,
                "share_of_interruptions": n_hits / total_hits if total_hits else 0.0,
                "lost_gpu_hours": float(lost_gpu_h[mask].sum()),
            }
        return out

    struck_components = set(f.coded("component").strings())
    components = [c for c in COMPONENTS if c in {k for _, k in data.causes} or c in struck_components]
    causes = list(dict.fromkeys([c for c, _ in data.causes] + sorted(set(f.coded("cause").strings()))))
    block = {
        "failures": len(f),
        "job_interruptions": total_hits,
        "lost_gpu_hours": float(lost_gpu_h.sum()),
        "downtime_gpu_hours": downtime / 3600.0,
        "mean_time_to_repair_s": _mean(repaired),
        "ettr": productive / busy_gpu_s if busy_gpu_s > 0 else None,
        "planned_interruptions": int(it.coded("reason").is_("maintenance").sum()),
        "jobs_failed": int((~it["requeued"]).sum()),
        "unrepaired_at_end": int(np.isnan(f["in_service_s"]).sum()),
        "reboots": int((f["repaired_by"] == "reboot").sum()),
        "spare_swaps": int(f["spare"].sum()),
        "mean_wait_technician_s": _mean(_known(hands_on["wait_technician_s"])),
        "mean_wait_part_s": _mean(_known(hands_on["wait_part_s"])),
        "by_component": breakdown("component", hit_component, components),
        "by_cause": breakdown("cause", hit_cause, causes),
    }
    return block, productive, available


def preemption_metrics(
    jobs: Table, faults: FaultData | None, window: Window, elastic: Table | None = None
) -> dict[str, Any]:
    """Runs a policy preempted inside the window, and the GPU-hours they cost (work lost plus restart time).

    Each at the GPUs its run held when preempted (``elastic``: the elastic runs' spans).
    """
    if faults is None or not len(faults.interruptions):
        return {"preemptions": 0, "preempted_gpu_hours": 0.0}
    it = faults.interruptions
    reason = it.coded("reason")
    hit = it.rows(
        (reason.codes > reason.code("maintenance"))
        & (reason.codes < reason.code("decommissioned"))
        & (it["time_s"] >= window.start)
        & (it["time_s"] <= window.end)
    )
    lost = interruption_gpu_s(jobs, hit, elastic) / 3600.0
    return {"preemptions": len(hit), "preempted_gpu_hours": float(lost.sum())}


def overhead_pools(jobs: Table, data: FaultData) -> np.ndarray:
    """The pool of each row of ``data.overhead``: that of the run it is of (same job, same start)."""
    o = data.overhead
    first = jobs["pool"][o["job_id"]]  # the pool of the job's first start
    runs = data.runs
    if not len(data.interruptions) or not len(runs) or not len(o):
        return first
    starts = np.unique(np.concatenate([runs["start_s"], o["start_s"]]))
    span = starts.size + 1
    run_key = runs["job_id"] * span + np.searchsorted(starts, runs["start_s"])
    row_key = o["job_id"] * span + np.searchsorted(starts, o["start_s"])
    order = np.argsort(run_key, kind="stable")
    at = np.clip(np.searchsorted(run_key[order], row_key, side="right") - 1, 0, None)
    found = run_key[order[at]] == row_key
    return np.where(found, runs["pool"][order[at]], first)


def nonproductive_by_pool(
    jobs: Table, data: FaultData, window: Window, n_pools: int, elastic: Table | None = None
) -> np.ndarray:
    """GPU-seconds of restarts, checkpoint writes and lost work inside the window, per pool.

    The same sum as :func:`fault_metrics`' (a run straddling an edge of the window counts in
    proportion to its part inside), split by the pool each run ran in.
    """
    o = data.overhead
    if not len(o):
        return np.zeros(n_pools)
    span = o["end_s"] - o["start_s"]
    inside = overlap(o["start_s"], o["end_s"], window)
    share = np.divide(inside, span, out=np.zeros_like(span), where=span > 0)
    weights = overhead_waste(jobs, data, elastic) * share
    return np.bincount(overhead_pools(jobs, data), weights=weights, minlength=n_pools)
