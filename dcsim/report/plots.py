"""Plots of one run: utilization, queue, waits; with failures, their timeline and cost by cause.

With failures: a timeline of failures and repairs, and the GPU-hours lost by cause. With a
fabric (a job class communicates): each link tier's utilization over time, and the busiest links.
With services: latency against replicas over time, and the autoscaler's decisions
(:mod:`dcsim.report.service_plots`). With several sites, or a price or carbon intensity that
changes over time: each site's load, electricity price and carbon intensity (``sites.png``).

matplotlib is imported lazily (Agg backend), only when plots are asked for.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dcsim.core.units import format_duration
from dcsim.faults.spec import COMPONENTS
from dcsim.report.event_marks import mark_events


def _time_axis(seconds: np.ndarray) -> tuple[np.ndarray, str]:
    span = float(seconds.max()) if seconds.size else 0.0
    if span >= 3 * 86400:
        return seconds / 86400, "time (days)"
    if span >= 3 * 3600:
        return seconds / 3600, "time (hours)"
    return seconds / 60, "time (minutes)"


def plot_run(result: Any, out_dir: str) -> list[str]:
    """Write ``utilization.png`` and ``wait_cdf.png`` for one run (a fill run: ``fill.png``); return their paths."""
    if "fill" in result.data:
        from dcsim.report.fill_plots import plot_fill

        return plot_fill(result, out_dir)
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
    per = float(ts["time_s"].iloc[-1]) / t[-1] if len(ts) and t[-1] > 0 else 1.0
    for ax in (ax1, ax2):
        if warm > 0:
            ax.axvspan(0, warm, color="0.9", zorder=0)
        mark_events(ax, sc, per, labels=ax is ax1)
        ax.grid(alpha=0.3)
    if sc.events:
        ax1.legend(loc="upper right", frameon=False, ncols=3)
    if warm > 0:
        ax1.text(warm / 2, 112, "warm-up", ha="center", va="top", fontsize=8, color="0.4")
    path = os.path.join(out_dir, "utilization.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)

    jobs = result.jobs
    cohort = jobs[jobs["submit_s"] >= sc.warmup]
    if not len(jobs):  # services alone: no job waits
        return paths + _more_plots(result, out_dir, plt)
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
        f"{'jobs submitted after warm-up' if sc.warmup > 0 else 'every job'}; a curve ending below 1: jobs still "
        "queued at the end",
        fontsize=10,
    )
    path = os.path.join(out_dir, "wait_cdf.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths + _more_plots(result, out_dir, plt)


def _more_plots(result: Any, out_dir: str, plt: Any) -> list[str]:
    """The plots of the parts a run has: failures, the fabric, services."""
    paths = []
    if result.failures is not None:
        paths += plot_failures(result, out_dir, plt)
    if result.links is not None:
        paths += plot_network(result, out_dir, plt)
    if result.scenario.services:
        from dcsim.report.service_plots import plot_services

        paths += plot_services(result, out_dir, plt)
    if result.sites is not None:
        paths += plot_sites(result, out_dir, plt)
    return paths


def plot_sites(result: Any, out_dir: str, plt: Any) -> list[str]:
    """Write ``sites.png``: each site's GPUs allocated, electricity price and carbon intensity over time."""
    sites = result.sites
    sc = result.scenario
    t, label = _time_axis(sites["time_s"].to_numpy())
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True, constrained_layout=True)
    panels = (
        ("GPUs allocated (%)", lambda part: 100 * part["busy_gpus"] / part["installed_gpus"].clip(lower=1)),
        ("electricity (USD/kWh)", lambda part: part["electricity_usd_per_kwh"]),
        ("carbon intensity (g CO2e/kWh)", lambda part: part["carbon_g_per_kwh"]),
    )
    seconds = sites["time_s"].to_numpy(dtype=float)
    per = float(seconds[-1]) / t[-1] if len(seconds) and t[-1] > 0 else 1.0
    for ax, (ylabel, value) in zip(axes, panels, strict=True):
        for name, part in sites.groupby("site", observed=True, sort=False):
            ax.step(t[part.index.to_numpy()], value(part), where="post", lw=1.0, label=str(name))
        ax.set_ylabel(ylabel)
        mark_events(ax, sc, per, labels=ax is axes[0])  # a price shock, a site's outage, racks added
        ax.grid(alpha=0.3)
    if sites["carbon_g_per_kwh"].isna().all():
        axes[2].text(0.5, 0.5, "carbon not counted (no carbon_g_per_kwh)", ha="center", transform=axes[2].transAxes)
    axes[0].legend(loc="upper right", frameon=False, ncols=4)
    axes[0].set_title(f"{sc.name}: load, electricity price and carbon intensity by site, seed {result.seed}")
    axes[-1].set_xlabel(label)
    path = os.path.join(out_dir, "sites.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return [path]


def _count(n: int, word: str) -> str:
    """``1 failure``, ``3 failures``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


COMPONENT_COLORS = {
    "gpu": "#d62728", "node": "#ff7f0e", "rack": "#9467bd", "site": "#8c564b", "link": "#17becf", "switch": "#bcbd22",
}  # fmt: skip


_BINS = ((600.0, "10 minutes"), (3600.0, "hour"), (6 * 3600.0, "6 hours"), (86400.0, "day"),
         (7 * 86400.0, "week"), (30 * 86400.0, "30 days"))  # fmt: skip
MAINTENANCE_COLOR = "#1f77b4"


def _bin_width(span: float) -> tuple[float, str]:
    """The shortest of ``_BINS`` that cuts ``span`` seconds into at most 100 bins."""
    for width, name in _BINS:
        if span / width <= 100:
            return width, name
    return _BINS[-1]


def down_by_cause(result: Any) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """GPUs out of service over time, split by what took them out: each failed component class, and maintenance.

    Returns ``(times, {component: GPUs down from its failures}, GPUs down for maintenance)``,
    step functions (each value holds from its time to the next). The split adds up to the
    run's exact count of GPUs out of service: failures' blast radii can overlap (a GPU fails
    in a node that is down), so the failure classes are scaled to the GPUs actually down for
    failures, and what is down beyond every failure is maintenance (drained or in its window).
    """
    f = result.failures
    end = float(result.summary["window"]["end_s"])
    down = result.down
    d_t = down["time_s"].to_numpy(dtype=float) if down is not None else np.zeros(0)
    d_g = down["gpus"].to_numpy(dtype=float) if down is not None else np.zeros(0)
    start = f["time_s"].to_numpy(dtype=float)
    back = f["in_service_s"].fillna(end).to_numpy(dtype=float)
    times = np.unique(np.concatenate([[0.0], d_t, start, back]))
    times = times[times <= end]
    at = np.searchsorted(d_t, times, side="right") - 1
    total = np.where(at >= 0, d_g[np.clip(at, 0, None)], 0.0) if d_g.size else np.zeros(times.size)
    comps = f["component"].astype(str).to_numpy()
    gpus = f["gpus_down"].to_numpy(dtype=float)
    by: dict[str, np.ndarray] = {}
    for comp in COMPONENTS:
        mask = comps == comp
        if not mask.any():
            continue
        delta = np.zeros(times.size)
        np.add.at(delta, np.searchsorted(times, start[mask]), gpus[mask])
        gone = back[mask] <= end
        np.add.at(delta, np.searchsorted(times, back[mask][gone]), -gpus[mask][gone])
        by[comp] = np.cumsum(delta)
    failed = sum(by.values()) if by else np.zeros(times.size)
    if result.scenario.maintenance:
        shown = np.minimum(failed, total)
        maintenance = total - shown
    else:
        shown, maintenance = total, np.zeros(times.size)
    scale = np.divide(shown, failed, out=np.zeros(times.size), where=failed > 0)
    return times, {c: v * scale for c, v in by.items()}, maintenance


def failures_figure(result: Any, plt: Any) -> Any:
    """The figure of ``failures.png``: failures per day (or hour, week) by component, GPUs out of service by cause.

    Both panels aggregate: the number of drawn shapes depends on the component classes, not on
    the number of failures, so a run with thousands of failures reads like one with ten.
    Planned maintenance is a layer of its own below and a shaded span above.
    """
    sc = result.scenario
    f = result.failures
    end = float(result.summary["window"]["end_s"])
    scale_t, label = _time_axis(np.array([end]))
    k = scale_t[0] / end if end > 0 else 1.0
    installed = result.summary["cluster"]["installed_gpus"]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, constrained_layout=True)
    width, per = _bin_width(end)
    edges = np.arange(0.0, end + width, width)
    components = [c for c in COMPONENTS if (f["component"] == c).any()]
    if components:
        ax1.hist([f.loc[f["component"] == c, "time_s"].to_numpy() * k for c in components], bins=edges * k,
                 stacked=True, histtype="stepfilled", color=[COMPONENT_COLORS[c] for c in components], alpha=0.8,
                 label=[f"{c}: {_count(int((f['component'] == c).sum()), 'failure')}" for c in components])  # fmt: skip
        hit = f.loc[f["jobs_hit"] > 0, "time_s"].to_numpy()
        counts, _ = np.histogram(hit, bins=edges)
        ax1.step(edges * k, np.append(counts, counts[-1] if counts.size else 0), where="post", color="black", lw=0.9,
                 label=f"failures that interrupted a job: {len(hit):,}")  # fmt: skip
    else:
        ax1.text(0.5, 0.5, "no failures", transform=ax1.transAxes, ha="center", va="center", color="0.4")
    from matplotlib.ticker import MaxNLocator

    ax1.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set_ylabel(f"failures per {per}")
    ax1.set_ylim(0, max(1.0, ax1.get_ylim()[1]) * 1.25)

    times, by, maintenance = down_by_cause(result)
    t = np.append(times, end) * k
    layers = [(f"{c} failures", COMPONENT_COLORS[c], v) for c, v in by.items()]
    planned = int(result.summary["faults"].get("planned_interruptions") or 0)
    if sc.maintenance:
        layers.append((f"planned maintenance ({_count(planned, 'job eviction')})", MAINTENANCE_COLOR, maintenance))
    base = np.zeros(times.size)
    for name, color, values in layers:
        top = base + values
        ax2.fill_between(t, 100 * np.append(base, base[-1]) / installed, 100 * np.append(top, top[-1]) / installed,
                         step="post", color=color, alpha=0.75 if color != MAINTENANCE_COLOR else 0.45, lw=0,
                         label=name)  # fmt: skip
        base = top
    if sc.maintenance and maintenance.any():  # where maintenance holds GPUs, shade the failures panel too
        under_way = (np.append(maintenance, maintenance[-1]) > 0).astype(float)
        ax1.fill_between(t, 0, under_way, step="post", transform=ax1.get_xaxis_transform(), color=MAINTENANCE_COLOR,
                         alpha=0.12, lw=0, label="planned maintenance under way")  # fmt: skip
    avail = result.summary["utilization"]["gpu_available"]
    ax2.set_ylabel("GPUs out of service (% of installed)")
    ax2.set_xlabel(label)
    ax2.set_ylim(0, max(float(100 * base.max() / installed) if base.size else 0.0, 1e-3) * 1.3)
    after = " after warm-up" if sc.warmup > 0 else ""
    ax2.set_title(f"GPUs out of service, by what took them out; mean availability{after} {100 * avail:.2f} %",
                  fontsize=9)  # fmt: skip
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.set_xlim(0, end * k)
        if sc.warmup > 0:
            ax.axvspan(0, sc.warmup * k, color="0.9", zorder=0)
        mark_events(ax, sc, 1.0 / k if k > 0 else 1.0, end, labels=ax is ax1)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", frameon=True, framealpha=0.9, fontsize=8, ncols=2)
    if sc.warmup > 0:
        ax1.text(0.005, 0.97, " warm-up", transform=ax1.transAxes, ha="left", va="top", fontsize=8, color="0.4")
    n_hit = int(f["jobs_hit"].sum()) if len(f) else 0
    ax1.set_title(f"{sc.name}: {_count(len(f), 'failure')} ({_count(n_hit, 'job interruption')}) over the run, "
                  f"per {per} and component, seed {result.seed}", fontsize=10)  # fmt: skip
    return fig


def plot_failures(result: Any, out_dir: str, plt: Any) -> list[str]:
    """Write ``failures.png`` (:func:`failures_figure`) and ``lost_by_cause.png`` (GPU-hours lost by cause)."""
    sc = result.scenario
    f = result.failures
    fig = failures_figure(result, plt)
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
    after = " after warm-up" if sc.warmup > 0 else ""
    ax.set_title(f"{sc.name}: {total:,.0f} GPU-hours lost to failures{after}, by cause (seed {result.seed})",
                 fontsize=10)  # fmt: skip
    path = os.path.join(out_dir, "lost_by_cause.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths


TIER_COLORS = {"nic": "#1f77b4", "uplink": "#d62728", "core": "#9467bd"}
TIER_WORDS = {
    "nic": "NICs (node or GPU to its switch)",
    "uplink": "switch uplinks (leaf, edge or rail switch; all of them over time)",
    "core": "fat-tree pods' core uplinks",
}
BUSIEST = 20
"""Links shown in ``busiest_links.png``."""


def busiest_links(result: Any, top: int = BUSIEST) -> Any:
    """The ``top`` links of the run's ``links`` table by utilization in the window, busiest first.

    Ties go to the lower link id; utilizations equal to 12 decimal places (they differ only
    by rounding) are ties.
    """
    links = result.links
    key = links.assign(_u=np.round(links["utilization"].to_numpy(dtype=float), 12))
    return links.loc[key.sort_values(["_u", "link"], ascending=[False, True], kind="stable").index].head(top)


def plot_network(result: Any, out_dir: str, plt: Any) -> list[str]:
    """Write ``link_utilization.png`` (each tier over time) and ``busiest_links.png`` (the top links); return paths.

    The first: each tier's traffic over its capacity at every timeseries sample (the
    ``nic_utilization``, ``uplink_utilization`` and, on a fat-tree, ``core_utilization``
    columns), with the mean over the window of the first two. The
    second: the :data:`BUSIEST` busiest links (:func:`busiest_links`), each link's traffic over
    its capacity through the measured window, labelled by tier and rack or node.
    """
    sc = result.scenario
    ts = result.timeseries
    net = result.summary["network"]
    after = " after warm-up" if sc.warmup > 0 else ""
    t, label = _time_axis(ts["time_s"].to_numpy())
    k = t[-1] / ts["time_s"].iloc[-1] if len(ts) and ts["time_s"].iloc[-1] > 0 else 1.0
    fig, ax = plt.subplots(figsize=(10, 4.5), constrained_layout=True)
    for tier in ("nic", "uplink", "core"):
        column = f"{tier}_utilization"
        if column not in ts:
            continue
        color = TIER_COLORS[tier]
        mean = net.get(f"mean_{tier}_utilization")
        ax.step(t, 100 * ts[column], where="post", color=color, lw=1.0, label=TIER_WORDS[tier])
        if mean is not None:
            ax.axhline(100 * mean, color=color, ls="--", lw=0.8, label=f"mean{after}: {100 * mean:.1f} %")
    if sc.warmup > 0:
        ax.axvspan(0, sc.warmup * k, color="0.9", zorder=0)
    mark_events(ax, sc, 1.0 / k if k > 0 else 1.0)
    ax.set_ylim(0, 115)
    ax.set_xlabel(label)
    ax.set_ylabel("traffic over capacity of the tier (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", frameon=True, framealpha=0.9, fontsize=8, ncols=2)
    slow = net.get("mean_job_slowdown")
    ax.set_title(
        f"{sc.name}: link utilization per tier, {sc.policies.placement.name} placement, seed {result.seed}"
        + (f"; jobs on the fabric ran {slow:.3g}x their idle-fabric time" if slow else ""),
        fontsize=10,
    )
    path = os.path.join(out_dir, "link_utilization.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths = [path]

    top = busiest_links(result)
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.3 * len(top) + 1.6)), constrained_layout=True)
    rows = top.iloc[::-1]  # busiest at the top
    tiers = rows["tier"].astype(str).tolist()
    bars = ax.barh(rows["label"].tolist(), 100 * rows["utilization"].to_numpy(),
                   color=[TIER_COLORS.get(x, "#7f7f7f") for x in tiers])  # fmt: skip
    window = float(result.summary["window"]["end_s"]) - float(result.summary["window"]["start_s"])
    for bar, (_, row) in zip(bars, rows.iterrows(), strict=True):
        mean_gbps = row["bits"] / window / 1e9 if window > 0 else 0.0
        text = f"  mean {mean_gbps:,.1f} of {row['capacity_bps'] / 1e9:,.0f} Gb/s"
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8)
    from matplotlib.patches import Patch

    shown = [x for x in TIER_COLORS if x in set(tiers)]
    ax.legend(handles=[Patch(color=TIER_COLORS[x], label=TIER_WORDS[x]) for x in shown], loc="lower right",
              frameon=True, framealpha=0.9, fontsize=8)  # fmt: skip
    ax.set_xlim(0, 130)
    ax.set_xlabel(f"traffic over capacity through the measured window (%){after}")
    ax.grid(alpha=0.3, axis="x")
    p95 = net.get("p95_link_utilization")
    ax.set_title(f"{sc.name}: the {len(top)} busiest of {len(result.links):,} links (seed {result.seed})"
                 + (f"; p95 over all links {100 * p95:.1f} %" if p95 is not None else ""), fontsize=10)  # fmt: skip
    path = os.path.join(out_dir, "busiest_links.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths
