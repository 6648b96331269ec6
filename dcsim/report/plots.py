"""Plots of one run: utilization and queue over time, and the wait-time CDF.

matplotlib is imported lazily (Agg backend), only when plots are asked for.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dcsim.core.units import format_duration


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
    ax1.step(t, 100 * ts["gpu_utilization"], where="post", color="#1f77b4", lw=1.0)
    mean = result.summary["utilization"]["gpu_allocated"]
    measured = "mean after warm-up" if sc.warmup > 0 else "mean"
    ax1.axhline(100 * mean, color="#1f77b4", ls="--", lw=0.8, label=f"{measured}: {100 * mean:.1f} %")
    ax1.set_ylabel("GPUs allocated (%)")
    ax1.set_ylim(0, 115)
    ax1.legend(loc="upper right", frameon=False, ncols=2)
    ax1.set_title(f"{sc.name}: {result.summary['cluster']['installed_gpus']:,} GPUs, "
                  f"{sc.policies.scheduler.name} + {sc.policies.placement.name}, seed {result.seed}")  # fmt: skip
    ax2.step(t, ts["queued_jobs"], where="post", color="#d62728", lw=1.2, label="queued jobs")
    ax2.step(t, ts["running_jobs"], where="post", color="#7f7f7f", lw=0.8, label="running jobs")
    ax2.set_ylabel("jobs")
    ax2.set_xlabel(label)
    ax2.set_ylim(0, max(1.0, float(max(ts["queued_jobs"].max(), ts["running_jobs"].max()))) * 1.25)
    ax2.legend(loc="upper right", frameon=False, ncols=2)
    for ax in (ax1, ax2):
        if warm > 0:
            ax.axvspan(0, warm, color="0.9", zorder=0)
        ax.grid(alpha=0.3)
    if warm > 0:
        ax1.text(warm / 2, 112, "warm-up", ha="center", va="top", fontsize=8, color="0.4")
    path = os.path.join(out_dir, "utilization.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)

    jobs = result.jobs
    cohort = jobs[jobs["submit_s"] >= sc.warmup]
    fig, ax = plt.subplots(figsize=(9, 5.5), constrained_layout=True)
    started = cohort["wait_s"].dropna().to_numpy() / 60
    positive = started[started > 0]
    # Log axis from a little below the shortest positive wait; zero waits sit at its left edge.
    left = max(float(np.percentile(positive, 5)) / 3, 0.01) if positive.size else 0.1
    right = max(float(positive.max()) * 2, left * 100) if positive.size else 10.0
    groups = [("all jobs", cohort)] + [
        (str(name), part) for name, part in cohort.groupby("job_class", observed=True, sort=True)
    ]
    if len(groups) == 2:
        groups = groups[:1]
    for k, (name, part) in enumerate(groups):
        waits = np.sort(part["wait_s"].dropna().to_numpy()) / 60
        if part.empty:
            continue
        # Jobs still queued at the end have waited at least this long: the curve ends below 1.
        share = np.arange(1, waits.size + 1) / len(part)
        queued = len(part) - waits.size
        label = (
            f"{name}: {len(part):,} jobs, {100 * float((waits <= 0).mean() if waits.size else 0):.0f} % start at once"
        )
        if queued:
            label += f", {queued:,} still queued"
        x = np.concatenate([[left], np.clip(waits, left, None), [right]])
        y = np.concatenate([[0.0], share, [share[-1] if share.size else 0.0]])
        ax.step(x, y, where="post", lw=2.0 if k == 0 else 1.2, color="black" if k == 0 else None, label=label)
    p95 = result.summary["jobs"]["p95_wait_s"]
    if p95:
        ax.axvline(max(p95 / 60, left), color="0.3", ls=":", lw=1)
        ax.text(max(p95 / 60, left), 0.5, f" p95 of started jobs: {format_duration(p95)}", fontsize=8, color="0.3")
    ax.set_xscale("log")
    ax.set_xlim(left, right)
    ax.set_xlabel("wait before start (minutes, log scale; jobs that waited less sit at the left edge)")
    ax.set_ylabel("share of jobs that waited at most this long")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower left", bbox_to_anchor=(0.02, 0.04), frameon=True, framealpha=0.9, fontsize=8)
    ax.set_title(
        f"{sc.name}: wait before start, {result.summary['cluster']['installed_gpus']:,} GPUs, "
        f"{sc.policies.scheduler.name} + {sc.policies.placement.name}, seed {result.seed}\n"
        "jobs submitted after warm-up; a curve ending below 1: jobs still queued at the end",
        fontsize=10,
    )
    path = os.path.join(out_dir, "wait_cdf.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths
