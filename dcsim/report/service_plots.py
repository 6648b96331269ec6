"""Plots of a run's services: latency against replicas over time, and the autoscaler's decisions.

``service_latency.png``: for each service, the latency percentiles of the requests that
arrived in each timeseries interval (with its SLO bound), over the replicas ready and starting
and the request rate. ``autoscaling.png`` (a service with an autoscaler): what the policy asked
for at each sync, what was applied within the bounds, and the replicas ready.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from matplotlib.ticker import FuncFormatter, NullFormatter

from dcsim.core.units import format_duration
from dcsim.report.event_marks import mark_events

_P_COLORS = {"p50_latency_s": "#2ca02c", "p95_latency_s": "#ff7f0e", "p99_latency_s": "#d62728"}


def _time_axis(seconds: np.ndarray, span: float) -> tuple[np.ndarray, float, str]:
    if span >= 3 * 86400:
        return seconds / 86400, 86400.0, "time (days)"
    if span >= 3 * 3600:
        return seconds / 3600, 3600.0, "time (hours)"
    return seconds / 60, 60.0, "time (minutes)"


def plot_services(result: Any, out_dir: str, plt: Any) -> list[str]:
    """Write ``service_latency.png`` and, when an autoscaler decided, ``autoscaling.png``; return their paths."""
    sc = result.scenario
    timeline = result.frame("services")
    if timeline is None or not len(timeline):
        return []
    names = [s.name for s in sc.services]
    span = float(timeline["time"].max())
    after = sc.warmup
    fig, axes = plt.subplots(2 * len(names), 1, figsize=(10, 4.2 * len(names)), sharex=True, squeeze=False,
                             constrained_layout=True, gridspec_kw={"height_ratios": [3, 2] * len(names)})  # fmt: skip
    axes = axes[:, 0]
    for k, spec in enumerate(names):
        part = timeline[timeline["service"] == spec]
        t, scale, label = _time_axis(part["time"].to_numpy(dtype=float), span)
        top, bottom = axes[2 * k], axes[2 * k + 1]
        for col, color in _P_COLORS.items():
            values = part[col].to_numpy(dtype=float)
            top.step(t, values, where="pre", color=color, lw=1.0, label=col.split("_")[0] + " latency")
        bound = sc.services[k].slo.bounds()[0]
        if math.isfinite(bound):
            top.axhline(bound, color="black", ls="--", lw=0.9, label=f"SLO bound {format_duration(bound)}")
        top.set_yscale("log")
        top.yaxis.set_major_formatter(FuncFormatter(lambda y, _: format_duration(y)))
        top.yaxis.set_minor_formatter(NullFormatter())
        top.set_ylabel("latency (log scale)")
        summary = result.summary["services"]["by_service"][spec]
        p99 = summary.get("p99_latency_s")
        slo = summary.get("slo_attainment")
        head = f"{sc.name}: service {spec}, {sc.services[k].load_balancer.name} + {sc.services[k].autoscaler.name}"
        if p99 is not None:
            head += f"; p99 {format_duration(p99)}"
        if slo is not None:
            head += f", {100 * slo:.1f} % of requests within the SLO"
        top.set_title(head, fontsize=10)
        top.legend(loc="upper right", frameon=True, framealpha=0.9, fontsize=8, ncols=4)
        bottom.step(t, part["ready"], where="post", color="#1f77b4", lw=1.4, label="replicas ready")
        bottom.step(t, part["ready"] + part["starting"], where="post", color="#1f77b4", lw=0.8, ls=":",
                    label="ready + starting")  # fmt: skip
        bottom.set_ylabel("replicas")
        bottom.set_ylim(0, max(1.0, float((part["ready"] + part["starting"] + part["pending"]).max())) * 1.3)
        rate = bottom.twinx()
        dt = np.diff(part["time"].to_numpy(dtype=float), prepend=0.0)
        per_s = np.divide(part["arrivals"].to_numpy(dtype=float), dt, out=np.zeros(len(part)), where=dt > 0)
        rate.step(t[dt > 0], per_s[dt > 0], where="pre", color="0.5", lw=0.8, label="requests/s (right)")
        rate.set_ylabel("requests per second")
        rate.set_ylim(0, max(1.0, float(per_s.max())) * 1.3)
        handles = bottom.get_legend_handles_labels()[0] + rate.get_legend_handles_labels()[0]
        bottom.legend(handles=handles, loc="upper left", frameon=True, framealpha=0.9, fontsize=8, ncols=3)
        for ax in (top, bottom):
            if after > 0:
                ax.axvspan(0, after / scale, color="0.92", zorder=0)
            mark_events(ax, sc, scale, span, labels=ax is top)
            ax.grid(alpha=0.3)
        if sc.events:  # with the events' entries
            top.legend(loc="upper right", frameon=True, framealpha=0.9, fontsize=8, ncols=4)
        bottom.set_xlabel(label)
    path = os.path.join(out_dir, "service_latency.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths = [path]

    scaling = result.frame("scaling")
    if scaling is None or not len(scaling):
        return paths
    sites = [s.name for s in sc.datacenter.sites]
    scaled = [(n, int(k)) for n in names for k in sorted(set(scaling["site"][scaling["service"] == n]))]
    fig, axes = plt.subplots(len(scaled), 1, figsize=(10, 3.6 * len(scaled)), sharex=True, squeeze=False,
                             constrained_layout=True)  # fmt: skip
    for ax, (spec, site) in zip(axes[:, 0], scaled, strict=True):
        part = scaling[(scaling["service"] == spec) & (scaling["site"] == site)]
        t, scale, label = _time_axis(part["time"].to_numpy(dtype=float), span)
        ax.step(t, part["desired"], where="post", color="#9467bd", lw=0.8, label="the autoscaler asked for")
        ax.step(t, part["applied"], where="post", color="#d62728", lw=1.4, label="applied (within min and max)")
        ax.step(t, part["ready"], where="post", color="#1f77b4", lw=1.0, label="ready at the decision")
        svc = sc.services[names.index(spec)]
        most = svc.replicas_at(sites[site] if site >= 0 else None).max
        ax.axhline(most, color="0.4", ls=":", lw=0.8, label=f"max {most}")
        ax.set_ylabel("replicas")
        ax.set_ylim(0, max(float(part["desired"].max()), most) * 1.2 + 1)
        if after > 0:
            ax.axvspan(0, after / scale, color="0.92", zorder=0)
        mark_events(ax, sc, scale, span)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", frameon=True, framealpha=0.9, fontsize=8, ncols=2)
        changes = int((np.diff(part["applied"].to_numpy()) != 0).sum())
        where = f" at {sites[site]}" if site >= 0 else ""
        ax.set_title(f"{sc.name}: {spec}'s autoscaler{where} ({svc.autoscaler.name}), {len(part):,} decisions, "
                     f"{changes:,} changes (seed {result.seed})", fontsize=10)  # fmt: skip
        ax.set_xlabel(label)
    path = os.path.join(out_dir, "autoscaling.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths


__all__ = ["plot_services"]
