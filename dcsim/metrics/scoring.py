"""Scoring: cost, utilization and fault impact as pure functions over tables.

Every metric covers the measured window ``[warmup, end]``: jobs are the *cohort*
submitted at or after the warm-up (``submitted = completed + failed +
running_at_end + queued_at_end``), and time-weighted quantities integrate each job's
interval clipped to the window. The names are DESIGN.md's public contract.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dcsim.infra.topology import Pool
from dcsim.scenario.schema import Costs

CONTRACT = (
    "jobs.submitted", "jobs.completed", "jobs.failed", "jobs.running_at_end", "jobs.queued_at_end",
    "jobs.mean_wait_s", "jobs.p95_wait_s", "jobs.mean_jct_s", "jobs.p95_jct_s", "jobs.mean_slowdown",
    "utilization.gpu_allocated", "utilization.gpu_productive", "utilization.gpu_available",
    "cost.total_usd", "cost.capital_usd", "cost.energy_usd", "cost.energy_kwh",
    "cost.usd_per_productive_gpu_hour",
    "faults.failures", "faults.job_interruptions", "faults.lost_gpu_hours", "faults.downtime_gpu_hours",
    "faults.mean_time_to_repair_s", "faults.ettr",
)  # fmt: skip
"""Every name ``summary.json`` must hold (DESIGN.md, "Metrics: names are a public contract")."""


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


def busy_gpu_seconds(jobs: pd.DataFrame, window: Window, n_pools: int) -> np.ndarray:
    """GPU-seconds allocated to jobs inside the window, per pool."""
    ran = jobs[jobs["pool"] >= 0]
    finish = ran["finish_s"].fillna(window.end).to_numpy()
    seconds = overlap(ran["start_s"].to_numpy(), finish, window) * ran["gpus"].to_numpy()
    return np.bincount(ran["pool"].to_numpy(), weights=seconds, minlength=n_pools)


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


def summarize(jobs: pd.DataFrame, window: Window, pools: Sequence[Pool], costs: Costs) -> dict[str, Any]:
    """Score one run: every contract metric, plus queue, placement and per-class figures.

    Args:
        jobs: the jobs table (:func:`dcsim.metrics.tables.jobs_table`).
        window: the measured window.
        pools: the data center's pools (installed GPUs, prices by type, power figures).
        costs: prices and PUE.

    Returns:
        Nested by the part of each name before its first dot.
    """
    hours = window.length / 3600.0
    installed = sum(p.gpus for p in pools)
    busy = busy_gpu_seconds(jobs, window, len(pools))
    allocated = float(busy.sum()) / (installed * window.length) if window.length > 0 else 0.0
    productive_gpu_h = float(busy.sum()) / 3600.0  # no failures or checkpoints yet
    capital = sum(costs.gpu_hour_price(p.gpu_type) * p.gpus * hours for p in pools)
    it_joules = sum(
        (len(p.nodes) * p.base_power_w + p.gpus * p.gpu_idle_power_w) * window.length
        + (p.gpu_power_w - p.gpu_idle_power_w) * busy[p.id]
        for p in pools
    )
    energy_kwh = it_joules * costs.pue / 3.6e6
    energy_usd = energy_kwh * costs.electricity_usd_per_kwh
    total = capital + energy_usd

    queued_until = jobs["start_s"].fillna(window.end).to_numpy()
    queue_area = overlap(jobs["submit_s"].to_numpy(), queued_until, window).sum()
    ran = jobs[jobs["start_s"].notna()]
    run_area = overlap(ran["start_s"].to_numpy(), ran["finish_s"].fillna(window.end).to_numpy(), window).sum()
    cohort_started = ran[ran["submit_s"] >= window.start]

    classes = {}
    for name, part in jobs.groupby("job_class", observed=True, sort=True):
        m = job_metrics(part, window)
        classes[str(name)] = {k: m[k] for k in ("submitted", "completed", "mean_wait_s", "p95_wait_s", "mean_jct_s")}

    return {
        "jobs": job_metrics(jobs, window),
        "utilization": {
            "gpu_allocated": allocated,
            "gpu_productive": allocated,
            "gpu_available": 1.0,
        },
        "cost": {
            "total_usd": total,
            "capital_usd": capital,
            "energy_usd": energy_usd,
            "energy_kwh": energy_kwh,
            "usd_per_productive_gpu_hour": _number(total / productive_gpu_h) if productive_gpu_h else None,
        },
        "faults": {
            "failures": 0,
            "job_interruptions": 0,
            "lost_gpu_hours": 0.0,
            "downtime_gpu_hours": 0.0,
            "mean_time_to_repair_s": None,
            "ettr": 1.0 if len(cohort_started) else None,
        },
        "queue": {
            "queued_at_end": int(jobs["start_s"].isna().sum()),
            "mean_queued_jobs": float(queue_area / window.length) if window.length > 0 else 0.0,
            "mean_running_jobs": float(run_area / window.length) if window.length > 0 else 0.0,
            "arrival_rate_per_h": len(jobs[jobs["submit_s"] >= window.start]) / hours if hours > 0 else 0.0,
        },
        "placement": {
            "multi_node_jobs": int((cohort_started["nodes"] > 1).sum()),
            "cross_rack_jobs": int((cohort_started["locality"] == "cross_rack").sum()),
        },
        "window": {"start_s": window.start, "end_s": window.end, "hours": hours},
        "cluster": {"installed_gpus": installed, "nodes": sum(len(p.nodes) for p in pools)},
        "classes": classes,
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
