"""Plots of one run: utilization, queue, waits; with failures, their timeline and cost by cause.

With failures: a timeline of failures and repairs, and the GPU-hours lost by cause.

matplotlib is imported lazily (Agg backend), only when plots are asked for.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dcsim.core.units import format_duration
from dcsim.scenario.schema import COMPONENTS


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
    if result.failures is not None:
        paths += plot_failures(result, out_dir, plt)
    return paths


def _count(n: int, word: str) -> str:
    """``1 failure``, ``3 failures``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


COMPONENT_COLORS = {"gpu": "#d62728", "node": "#ff7f0e", "rack": "#9467bd", "site": "#8c564b"}


def plot_failures(result: Any, out_dir: str, plt: Any) -> list[str]:
    """Write ``failures.png`` (failures and repairs on a timeline, GPUs up) and ``lost_by_cause.png``."""
    sc = result.scenario
    f = result.failures
    down = result.down
    end = float(result.summary["window"]["end_s"])
    scale_t, label = _time_axis(np.array([end]))
    k = scale_t[0] / end if end > 0 else 1.0
    installed = result.summary["cluster"]["installed_gpus"]
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(10, 6.5), sharex=True, constrained_layout=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    components = [c for c in COMPONENTS if (f["component"] == c).any()]
    for row, comp in enumerate(components):
        part = f[f["component"] == comp]
        start = part["time_s"].to_numpy() * k
        back = part["in_service_s"].fillna(end).to_numpy() * k
        ax1.hlines(np.full(len(part), row), start, back, color=COMPONENT_COLORS[comp], lw=6, alpha=0.35)
        hit = part["jobs_hit"].to_numpy() > 0
        legend = f"{comp}: {_count(len(part), 'failure')}, {_count(int(part['jobs_hit'].sum()), 'job interruption')}"
        ax1.plot(start[hit], np.full(hit.sum(), row), "v", color=COMPONENT_COLORS[comp], ms=6, label=legend)
        ax1.plot(start[~hit], np.full((~hit).sum(), row), "|", color=COMPONENT_COLORS[comp], ms=10)
    ax1.set_yticks(range(len(components)), components)
    ax1.set_ylim(-0.7, len(components) - 0.3 + 0.6)
    ax1.set_ylabel("component")
    ax1.legend(loc="upper right", frameon=False, fontsize=8)
    ax1.set_title(
        f"{sc.name}: failures (▼ interrupted a job, | hit idle units) and time out of service (bars), "
        f"seed {result.seed}",
        fontsize=10,
    )
    if down is not None and len(down):
        t = np.append(down["time_s"].to_numpy(), end) * k
        up = 100 * (1 - np.append(down["gpus"].to_numpy(), down["gpus"].iloc[-1]) / installed)
        ax2.step(np.concatenate([[0.0], t]), np.concatenate([[100.0], up]), where="post", color="#2ca02c", lw=1)
    avail = result.summary["utilization"]["gpu_available"]
    ax2.axhline(100 * avail, color="#2ca02c", ls="--", lw=0.8, label=f"mean: {100 * avail:.2f} %")
    ax2.set_ylabel("GPUs in service (%)")
    ax2.set_xlabel(label)
    ax2.legend(loc="lower right", frameon=False, fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.set_xlim(0, end * k)
        if sc.warmup > 0:
            ax.axvspan(0, sc.warmup * k, color="0.9", zorder=0)
    if sc.warmup > 0:
        ax1.text(sc.warmup * k / 2, len(components) - 0.3 + 0.5, "warm-up (not measured)", ha="center", va="top",
                 fontsize=8, color="0.4")  # fmt: skip
    path = os.path.join(out_dir, "failures.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths = [path]

    causes = result.summary["faults"]["by_cause"]
    rows = sorted(causes.items(), key=lambda kv: kv[1]["lost_gpu_hours"])
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.32 * len(rows) + 1.5)), constrained_layout=True)
    names = [n for n, _ in rows]
    lost = [v["lost_gpu_hours"] for _, v in rows]
    comp_of = f.groupby("cause", observed=True)["component"].first().astype(str).to_dict() if len(f) else {}
    colors = [COMPONENT_COLORS.get(comp_of.get(n, n), "#7f7f7f") for n in names]
    bars = ax.barh(names, lost, color=colors)
    for bar, (_, v) in zip(bars, rows, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                f"  {_count(v['interruptions'], 'interruption')} ({100 * v['share_of_interruptions']:.1f} %)",
                va="center", fontsize=8)  # fmt: skip
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    shown = [c for c in COMPONENT_COLORS if c in set(comp_of.values())]
    ax.legend(handles=[Patch(color=COMPONENT_COLORS[c], label=c) for c in shown], title="component",
              loc="lower right", frameon=False, fontsize=8)  # fmt: skip
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.set_xlabel("GPU-hours lost (work since the last checkpoint + restart time)")
    ax.set_xlim(0, max([*lost, 1.0]) * 1.45)
    ax.grid(alpha=0.3, axis="x")
    total = result.summary["faults"]["lost_gpu_hours"]
    ax.set_title(f"{sc.name}: {total:,.0f} GPU-hours lost to failures after warm-up, by cause (seed {result.seed})",
                 fontsize=10)  # fmt: skip
    path = os.path.join(out_dir, "lost_by_cause.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths
