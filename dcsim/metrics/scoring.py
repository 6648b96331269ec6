"""Scoring: cost, utilization and fault impact as pure functions over tables.

Every metric covers the measured window ``[warmup, end]``: jobs are the *cohort*
submitted at or after the warm-up (``submitted = completed + failed +
running_at_end + queued_at_end``), and time-weighted quantities integrate each job's
interval clipped to the window. The names are a public contract (docs/reference/metrics.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dcsim.infra.topology import Pool
from dcsim.scenario.schema import COMPONENTS, Costs

CONTRACT = (
    "jobs.submitted", "jobs.completed", "jobs.failed", "jobs.running_at_end", "jobs.queued_at_end",
    "jobs.mean_wait_s", "jobs.p95_wait_s", "jobs.mean_jct_s", "jobs.p95_jct_s", "jobs.mean_slowdown",
    "utilization.gpu_allocated", "utilization.gpu_productive", "utilization.gpu_available",
    "cost.total_usd", "cost.capital_usd", "cost.energy_usd", "cost.energy_kwh",
    "cost.usd_per_productive_gpu_hour",
    "faults.failures", "faults.job_interruptions", "faults.lost_gpu_hours", "faults.downtime_gpu_hours",
    "faults.mean_time_to_repair_s", "faults.ettr",
)  # fmt: skip
"""Every name ``summary.json`` must hold: the public contract of docs/reference/metrics.md."""


@dataclass(frozen=True)
class Window:
    """The measured window, s."""

    start: float
    end: float

    @property
    def length(self) -> float:
        """Window length, s."""
        return self.end - self.start


def _number(x: float) -> float | None:
    """A JSON-safe float: None for NaN or infinity."""
    return float(x) if math.isfinite(x) else None


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _p95(values: np.ndarray) -> float | None:
    return float(np.percentile(values, 95)) if values.size else None


def overlap(start: np.ndarray, end: np.ndarray, window: Window) -> np.ndarray:
    """Length of each interval ``[start, end)`` inside the window (0 if disjoint), s."""
    return np.clip(np.minimum(end, window.end) - np.maximum(start, window.start), 0.0, None)


@dataclass(frozen=True)
class FaultData:
    """The reliability tables of a run (:mod:`dcsim.metrics.tables`); empty without failures."""

    runs: pd.DataFrame
    overhead: pd.DataFrame
    interruptions: pd.DataFrame
    failures: pd.DataFrame
    down: pd.DataFrame
    causes: Sequence[tuple[str, str]] = ()
    """Every configured cause as (name, component class), so a cause that never struck still shows."""
    spare_nodes: int = 0
    """Spare nodes kept per pool (installed, so they cost capital)."""


def busy_gpu_seconds(jobs: pd.DataFrame, window: Window, n_pools: int, runs: pd.DataFrame | None = None) -> np.ndarray:
    """GPU-seconds allocated to jobs inside the window, per pool (from each run when jobs were interrupted)."""
    if runs is not None and len(runs):
        gpus = jobs["gpus"].to_numpy()[runs["job_id"].to_numpy()]
        end = runs["end_s"].fillna(window.end).to_numpy()
        seconds = overlap(runs["start_s"].to_numpy(), end, window) * gpus
        return np.bincount(runs["pool"].to_numpy(), weights=seconds, minlength=n_pools)
    ran = jobs[jobs["pool"] >= 0]
    finish = ran["finish_s"].fillna(window.end).to_numpy()
    seconds = overlap(ran["start_s"].to_numpy(), finish, window) * ran["gpus"].to_numpy()
    return np.bincount(ran["pool"].to_numpy(), weights=seconds, minlength=n_pools)


def step_integral(times: np.ndarray, levels: np.ndarray, window: Window) -> float:
    """Integral over the window of a step function (``levels[i]`` from ``times[i]`` on; 0 before)."""
    if not times.size:
        return 0.0
    ends = np.append(times[1:], max(window.end, float(times[-1])))
    return float((overlap(times, ends, window) * levels).sum())


def fault_metrics(
    jobs: pd.DataFrame, data: FaultData, window: Window, installed: int, busy_gpu_s: float
) -> tuple[dict[str, Any], float, float]:
    """The ``faults`` block, the productive GPU-seconds and the available share, over the window.

    Productive time is allocated time less restarts, checkpoint writes and work lost;
    a run that straddles an edge of the window counts its overhead in proportion to its
    part inside. Interruptions, their lost work and restart time count at the
    interruption; failures at the failure.
    """
    gpus = jobs["gpus"].to_numpy()
    o = data.overhead
    if len(o):
        span = (o["end_s"] - o["start_s"]).to_numpy()
        inside = overlap(o["start_s"].to_numpy(), o["end_s"].to_numpy(), window)
        share = np.divide(inside, span, out=np.zeros_like(span), where=span > 0)
        waste = (o["restart_s"] + o["checkpoint_s"] + o["lost_s"]).to_numpy()
        nonproductive = float((waste * share * gpus[o["job_id"].to_numpy()]).sum())
    else:
        nonproductive = 0.0
    productive = max(busy_gpu_s - nonproductive, 0.0)
    downtime = step_integral(data.down["time_s"].to_numpy(), data.down["gpus"].to_numpy(), window)
    available = 1.0 - downtime / (installed * window.length) if window.length > 0 else 1.0

    def within(t: pd.Series) -> np.ndarray:
        return ((t >= window.start) & (t <= window.end)).to_numpy()

    it = data.interruptions
    it = it[within(it["time_s"])]
    by_failure = it[it["failure_id"] >= 0]
    lost_gpu_h = (by_failure["lost_s"] + by_failure["restart_s"]) * gpus[by_failure["job_id"].to_numpy()] / 3600.0
    f = data.failures
    f = f[within(f["time_s"])]
    repaired = f["time_to_repair_s"].dropna()
    hands_on = f[f["repaired_by"] == "technician"]

    struck = by_failure["failure_id"].to_numpy()  # failure ids are row numbers of data.failures
    hit_cause = data.failures["cause"].astype(str).to_numpy()[struck]
    hit_component = data.failures["component"].astype(str).to_numpy()[struck]
    total_hits = len(by_failure)

    def breakdown(key: str, hits: np.ndarray, names: list[str]) -> dict[str, Any]:
        out = {}
        column = f[key].astype(str).to_numpy()
        for name in names:
            mask = hits == name
            n_hits = int(mask.sum())
            out[name] = {
                "failures": int((column == name).sum()),
                "interruptions": n_hits,
                "share_of_interruptions": n_hits / total_hits if total_hits else 0.0,
                "lost_gpu_hours": float(lost_gpu_h.to_numpy()[mask].sum()),
            }
        return out

    components = [c for c in COMPONENTS
                  if c in {k for _, k in data.causes} or c in set(f["component"].astype(str))]  # fmt: skip
    causes = list(dict.fromkeys([c for c, _ in data.causes] + sorted(set(f["cause"].astype(str)))))
    block = {
        "failures": len(f),
        "job_interruptions": total_hits,
        "lost_gpu_hours": float(lost_gpu_h.sum()),
        "downtime_gpu_hours": downtime / 3600.0,
        "mean_time_to_repair_s": _mean(repaired.to_numpy()),
        "ettr": productive / busy_gpu_s if busy_gpu_s > 0 else None,
        "planned_interruptions": int((it["failure_id"] < 0).sum()),
        "jobs_failed": int((~it["requeued"]).sum()),
        "unrepaired_at_end": int(f["in_service_s"].isna().sum()),
        "reboots": int((f["repaired_by"] == "reboot").sum()),
        "spare_swaps": int(f["spare"].sum()),
        "mean_wait_technician_s": _mean(hands_on["wait_technician_s"].dropna().to_numpy()),
        "mean_wait_part_s": _mean(hands_on["wait_part_s"].dropna().to_numpy()),
        "by_component": breakdown("component", hit_component, components),
        "by_cause": breakdown("cause", hit_cause, causes),
    }
    return block, productive, available


def job_metrics(jobs: pd.DataFrame, window: Window) -> dict[str, Any]:
    """Counts, waits, JCTs and slowdowns of the cohort submitted in the window."""
    cohort = jobs[jobs["submit_s"] >= window.start]
    state = cohort["state"]
    started = cohort[cohort["start_s"].notna()]
    done = cohort[state == "completed"]
    wait = started["wait_s"].to_numpy()
    jct = done["jct_s"].to_numpy()
    # Jobs never started have waited at least until the end: a lower bound on the true mean.
    waited = cohort["start_s"].fillna(window.end).to_numpy() - cohort["submit_s"].to_numpy()
    return {
        "submitted": len(cohort),
        "started": len(started),
        "completed": len(done),
        "failed": int((state == "failed").sum()),
        "running_at_end": int((state == "running").sum()),
        "queued_at_end": int((state == "queued").sum()),
        "mean_wait_s": _mean(wait),
        "p95_wait_s": _p95(wait),
        "mean_wait_incl_queued_s": _mean(waited),
        "mean_jct_s": _mean(jct),
        "p95_jct_s": _p95(jct),
        "mean_slowdown": _mean(done["slowdown"].to_numpy()),
    }


def summarize(
    jobs: pd.DataFrame, window: Window, pools: Sequence[Pool], costs: Costs, faults: FaultData | None = None
) -> dict[str, Any]:
    """Score one run: every contract metric, plus queue, placement and per-class figures.

    Args:
        jobs: the jobs table (:func:`dcsim.metrics.tables.jobs_table`).
        window: the measured window.
        pools: the data center's pools (installed GPUs, prices by type, power figures).
        costs: prices and PUE.
        faults: runs, overheads, interruptions, failures and downtime (None: nothing failed
            and nothing was checkpointed).

    Returns:
        Nested by the part of each name before its first dot.
    """
    hours = window.length / 3600.0
    installed = sum(p.gpus for p in pools)
    runs = faults.runs if faults is not None and len(faults.interruptions) else None
    busy = busy_gpu_seconds(jobs, window, len(pools), runs)
    allocated = float(busy.sum()) / (installed * window.length) if window.length > 0 else 0.0
    if faults is not None:
        fault_block, productive_s, available = fault_metrics(jobs, faults, window, installed, float(busy.sum()))
    else:
        productive_s, available = float(busy.sum()), 1.0
        fault_block = {
            "failures": 0, "job_interruptions": 0, "lost_gpu_hours": 0.0, "downtime_gpu_hours": 0.0,
            "mean_time_to_repair_s": None, "ettr": 1.0 if busy.sum() > 0 else None,
        }  # fmt: skip
    productive_gpu_h = productive_s / 3600.0
    spare_gpus = sum((faults.spare_nodes if faults else 0) * p.gpus_per_node for p in pools)
    spare_capital = sum(
        costs.gpu_hour_price(p.gpu_type) * (faults.spare_nodes if faults else 0) * p.gpus_per_node * hours
        for p in pools
    )
    capital = sum(costs.gpu_hour_price(p.gpu_type) * p.gpus * hours for p in pools) + spare_capital
    it_joules = sum(
        (len(p.nodes) * p.base_power_w + p.gpus * p.gpu_idle_power_w) * window.length
        + (p.gpu_power_w - p.gpu_idle_power_w) * busy[p.id]
        for p in pools
    )
    energy_kwh = it_joules * costs.pue / 3.6e6
    energy_usd = energy_kwh * costs.electricity_usd_per_kwh
    total = capital + energy_usd

    ran = jobs[jobs["start_s"].notna()]
    if runs is None:
        queued_until = jobs["start_s"].fillna(window.end).to_numpy()
        queue_area = overlap(jobs["submit_s"].to_numpy(), queued_until, window).sum()
        run_area = overlap(ran["start_s"].to_numpy(), ran["finish_s"].fillna(window.end).to_numpy(), window).sum()
        queued_now = int(jobs["start_s"].isna().sum())
    else:
        # Interrupted jobs queue again: queued time = time in the system - time running.
        assert faults is not None
        it = faults.interruptions
        gave_up = pd.Series(it["time_s"].to_numpy(), index=it["job_id"].to_numpy())[~it["requeued"].to_numpy()]
        left = jobs["finish_s"].fillna(jobs["job_id"].map(gave_up)).fillna(window.end).to_numpy()
        run_area = overlap(runs["start_s"].to_numpy(), runs["end_s"].fillna(window.end).to_numpy(), window).sum()
        # A difference of two sums: where jobs never waited, rounding can leave -1e-15 instead of 0.
        queue_area = max(0.0, overlap(jobs["submit_s"].to_numpy(), left, window).sum() - run_area)
        queued_now = int((jobs["state"] == "queued").sum())
    cohort_started = ran[ran["submit_s"] >= window.start]

    classes = {}
    for name, part in jobs.groupby("job_class", observed=True, sort=True):
        m = job_metrics(part, window)
        classes[str(name)] = {k: m[k] for k in ("submitted", "completed", "mean_wait_s", "p95_wait_s", "mean_jct_s")}

    return _finite({
        "jobs": job_metrics(jobs, window),
        "utilization": {
            "gpu_allocated": allocated,
            "gpu_productive": productive_s / (installed * window.length) if window.length > 0 else 0.0,
            "gpu_available": available,
        },
        "cost": {
            "total_usd": total,
            "capital_usd": capital,
            "energy_usd": energy_usd,
            "energy_kwh": energy_kwh,
            "usd_per_productive_gpu_hour": _number(total / productive_gpu_h) if productive_gpu_h else None,
            "spare_capital_usd": spare_capital,
        },
        "faults": fault_block,
        "queue": {
            "queued_at_end": queued_now,
            "mean_queued_jobs": float(queue_area / window.length) if window.length > 0 else 0.0,
            "mean_running_jobs": float(run_area / window.length) if window.length > 0 else 0.0,
            "arrival_rate_per_h": len(jobs[jobs["submit_s"] >= window.start]) / hours if hours > 0 else 0.0,
        },
        "placement": {
            "multi_node_jobs": int((cohort_started["nodes"] > 1).sum()),
            "cross_rack_jobs": int((cohort_started["locality"] == "cross_rack").sum()),
        },
        "window": {"start_s": window.start, "end_s": window.end, "hours": hours},
        "cluster": {"installed_gpus": installed, "nodes": sum(len(p.nodes) for p in pools), "spare_gpus": spare_gpus},
        "classes": classes,
    })  # fmt: skip


def _finite(node: Any) -> Any:
    """``node`` with every non-finite float (a ratio over a vanishing duration) as None: JSON has no inf."""
    if isinstance(node, dict):
        return {key: _finite(value) for key, value in node.items()}
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node


def scheduler_metrics(epochs: pd.DataFrame, window: Window, guard_starts: Sequence[float]) -> dict[str, Any]:
    """Epochs of a batch scheduler in the window: how many, how they were solved, what they started.

    Solve times are wall-clock and would differ between identical runs, so they stay in
    ``epochs.parquet`` and out of the summary.
    """
    inside = epochs[(epochs["time_s"] >= window.start) & (epochs["time_s"] <= window.end)]
    n = len(inside)
    fallbacks = int(inside["fallback"].sum())
    return {
        "epochs": n,
        "fallbacks": fallbacks,
        "fallback_share": fallbacks / n if n else None,
        "by_level": {str(k): int(v) for k, v in inside["level"].value_counts().sort_index().items()},
        "jobs_started": int(inside["started"].sum()),
        "unplaced": int(inside["unplaced"].sum()),
        "guard_starts": sum(1 for t in guard_starts if window.start <= t <= window.end),
    }


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested summary dicts to dotted names (``jobs.mean_wait_s``)."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
