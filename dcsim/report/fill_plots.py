"""Plots of the fill experiment: GPU allocation rate against the arrived workload, like the FGD paper's Figure 9(a).

One run (``fill.png``): the allocation rate and the fragmentation after every pod against
the GPU requests arrived, both as shares of GPU capacity. A sweep (``plots/fill_allocation.png``):
one line per grid point (per placement policy in the study), the mean over seeds of
``fill.allocation_rate_by_arrived.<percent>``. A dashed line marks 100 % arrived (the
cluster's whole GPU capacity asked for) and the diagonal the most any policy can allocate.

matplotlib is imported lazily (Agg backend), only when plots are asked for.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from dcsim.metrics.names import FILL_FAMILY


def _axes(ax: Any, top: float) -> None:
    ax.axvline(100, color="0.4", ls="--", lw=1.0)
    ax.text(100, 3, " 100 % of GPU capacity requested", fontsize=8, color="0.4", rotation=90, va="bottom")
    ax.plot([0, 100], [0, 100], color="0.8", lw=0.8, zorder=0)
    ax.set_xlim(0, max(100.0, top) * 1.02)
    ax.set_ylim(0, 105)
    ax.set_xlabel("GPU requests arrived (% of GPU capacity)")
    ax.set_ylabel("GPUs allocated (% of GPU capacity)")
    ax.grid(alpha=0.3)


def plot_fill(result: Any, out_dir: str) -> list[str]:
    """Write ``fill.png`` for one fill run; return its path in a list."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = result.data["fill"]
    arrived = 100 * table["arrived_share"]
    fill = result.summary["fill"]
    fig, ax = plt.subplots(figsize=(8, 5.5), constrained_layout=True)
    ax.plot(arrived, 100 * table["allocation_rate"], color="#1f77b4", lw=1.6,
            label=f"allocation rate: {100 * fill['allocation_rate_at_100']:.1f} % at 100 % arrived, "
            f"{100 * fill['allocation_rate']:.1f} % at the end")  # fmt: skip
    ax.plot(arrived, 100 * table["gpu_fragmentation"], color="#d62728", lw=1.0,
            label="fragmentation (FGD's F(M), % of capacity)")  # fmt: skip
    _axes(ax, float(arrived.max()) if len(arrived) else 100.0)
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    sc = result.scenario
    ax.set_title(f"{sc.name}: {result.summary['cluster']['installed_gpus']:,} GPUs, placement "
                 f"{sc.policies.placement.name}, seed {result.seed}; {fill['pods_failed']:,} of "
                 f"{fill['pods_arrived']:,} pods failed", fontsize=10)  # fmt: skip
    path = os.path.join(out_dir, "fill.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]


def curves(runs: Any, paths: Sequence[str]) -> list[tuple[str, list[float], list[float]]]:
    """Per grid point: its label, the arrived shares (percent) and the mean allocation rate (percent) there."""
    prefix = FILL_FAMILY + "."
    cols = sorted((c for c in runs.columns if c.startswith(prefix)), key=lambda c: int(c.rsplit(".", 1)[1]))
    ok = runs[runs["error"] == ""]
    out = []
    for _, group in ok.groupby("point", sort=True):
        label = " ".join(str(group[p].iloc[0]) for p in paths) or "baseline"
        xs = [float(c.rsplit(".", 1)[1]) for c in cols]
        ys = [100 * float(group[c].mean()) for c in cols]
        out.append((label, xs, ys))
    return out


def plot_fill_sweep(out_dir: str, runs: Any, paths: Sequence[str]) -> str | None:
    """Write ``plots/fill_allocation.png`` from a sweep's runs table; its path (None: no fill metrics)."""
    lines = curves(runs, paths)
    if not lines or not lines[0][1]:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), constrained_layout=True)
    seeds = runs[runs["error"] == ""].groupby("point").size()
    for label, xs, ys in sorted(lines, key=lambda line: -line[2][-1]):  # the legend in the order of the ends
        at = f"{ys[xs.index(100.0)]:.1f} % at 100 %, " if 100.0 in xs else ""
        ax.plot(xs, ys, marker=".", lw=1.4, label=f"{label}: {at}{ys[-1]:.1f} % at the end")
    _axes(ax, max(lines[0][1]))
    ax.legend(loc="upper left", frameon=False, fontsize=9, title=" / ".join(paths) or None)
    ax.set_title(f"GPU allocation rate against arrived workload, mean of {int(seeds.min())} seed(s)", fontsize=10)
    folder = os.path.join(out_dir, "plots")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "fill_allocation.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


__all__ = ["curves", "plot_fill", "plot_fill_sweep"]
