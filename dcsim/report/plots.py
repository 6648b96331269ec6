"""Plots of one run: utilization and queue over time, and the wait-time CDF.

matplotlib is imported lazily (Agg backend), only when plots are asked for.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def _time_axis(seconds: np.ndarray) -> tuple[np.ndarray, str]:
    span = float(seconds.max()) if seconds.size else 0.0
    if span >= 3 * 86400:
        return seconds / 86400, "time (days)"
    if span >= 3 * 3600:
        return seconds / 3600, "time (hours)"
    return seconds / 60, "time (minutes)"


def plot_run(result: Any, out_dir: str) -> list[str]:
    """Write ``utilization.png`` and ``wait_cdf.png`` for one run; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = result.timeseries
    sc = result.scenario
    paths = []
    t, label = _time_axis(ts["time_s"].to_numpy())
    warm = sc.warmup * (t[-1] / ts["time_s"].iloc[-1]) if len(ts) and ts["time_s"].iloc[-1] > 0 else 0.0

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, constrained_layout=True)
    ax1.plot(t, 100 * ts["gpu_utilization"], color="#1f77b4", lw=1.2)
    mean = result.summary["utilization"]["gpu_allocated"]
    ax1.axhline(100 * mean, color="#1f77b4", ls="--", lw=0.8, label=f"mean after warm-up: {100 * mean:.1f} %")
    ax1.set_ylabel("GPUs allocated (%)")
    ax1.set_ylim(0, 105)
    ax1.legend(loc="lower right", frameon=False)
    ax1.set_title(f"{sc.name}: {result.summary['cluster']['installed_gpus']:,} GPUs, "
                  f"{sc.policies.scheduler.name} + {sc.policies.placement.name}, seed {result.seed}")  # fmt: skip
    ax2.step(t, ts["queued_jobs"], where="post", color="#d62728", lw=1.2, label="queued jobs")
    ax2.step(t, ts["running_jobs"], where="post", color="#7f7f7f", lw=0.8, label="running jobs")
    ax2.set_ylabel("jobs")
    ax2.set_xlabel(label)
    ax2.legend(loc="upper right", frameon=False)
    for ax in (ax1, ax2):
        if warm > 0:
            ax.axvspan(0, warm, color="0.9", zorder=0)
        ax.grid(alpha=0.3)
    if warm > 0:
        ax1.text(warm / 2, 100, "warm-up", ha="center", va="top", fontsize=8, color="0.4")
    path = os.path.join(out_dir, "utilization.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)

    jobs = result.jobs
    cohort = jobs[(jobs["submit_s"] >= sc.warmup) & jobs["start_s"].notna()]
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for name, part in cohort.groupby("job_class", observed=True, sort=True):
        waits = np.sort(part["wait_s"].to_numpy()) / 60
        if waits.size == 0:
            continue
        share = np.arange(1, waits.size + 1) / waits.size
        zero = float((waits <= 0).mean())
        ax.step(np.maximum(waits, 1e-2), share, where="post", lw=1.4,
                label=f"{name} (n={waits.size:,}, {100 * zero:.0f} % start at once)")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("wait before start (minutes, log scale; 0 drawn at 0.01)")
    ax.set_ylabel("share of jobs waiting at most this long")
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", frameon=False)
    ax.set_title("Wait-time CDF (jobs submitted after warm-up)")
    path = os.path.join(out_dir, "wait_cdf.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths
