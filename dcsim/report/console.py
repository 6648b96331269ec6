"""The summary table printed after a run, and the side-by-side table of `dcsim compare`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dcsim.core.units import format_duration

#: The headline metrics, in print order: (dotted name, label, kind).
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("workload.offered_load", "offered load (GPU demand / installed)", "share"),
    ("jobs.submitted", "jobs submitted", "count"),
    ("jobs.completed", "jobs completed", "count"),
    ("jobs.running_at_end", "running at end", "count"),
    ("jobs.queued_at_end", "queued at end", "count"),
    ("jobs.mean_wait_s", "mean wait", "seconds"),
    ("jobs.p95_wait_s", "p95 wait", "seconds"),
    ("jobs.mean_wait_incl_queued_s", "mean wait, still-queued jobs too (≥)", "seconds"),
    ("jobs.mean_jct_s", "mean job completion time", "seconds"),
    ("jobs.p95_jct_s", "p95 job completion time", "seconds"),
    ("jobs.mean_slowdown", "mean slowdown (JCT / run time)", "ratio"),
    ("utilization.gpu_allocated", "GPU utilization (allocated)", "share"),
    ("utilization.gpu_productive", "GPU utilization (productive)", "share"),
    ("utilization.gpu_available", "GPU availability", "share"),
    ("cost.total_usd", "total cost", "usd"),
    ("cost.capital_usd", "  capital (GPU-hours installed)", "usd"),
    ("cost.energy_usd", "  energy", "usd"),
    ("cost.energy_kwh", "energy (facility, incl. PUE)", "kwh"),
    ("cost.usd_per_productive_gpu_hour", "cost per productive GPU-hour", "usd"),
    ("faults.failures", "component failures", "count"),
    ("faults.job_interruptions", "job interruptions", "count"),
    ("faults.lost_gpu_hours", "GPU-hours lost to failures", "number"),
    ("faults.planned_interruptions", "planned interruptions (maintenance)", "count"),
    ("faults.ettr", "effective training time ratio", "share"),
    ("faults.downtime_gpu_hours", "GPU-hours down", "number"),
    ("faults.mean_time_to_repair_s", "mean time to repair", "seconds"),
    ("faults.mean_wait_technician_s", "mean wait for a technician (hands-on)", "seconds"),
    ("faults.repair_crew_load", "repair crew load (hands-on work / crew hours)", "share"),
    ("placement.multi_node_jobs", "multi-node jobs started", "count"),
    ("placement.cross_rack_jobs", "  of them across racks", "count"),
    ("queue.mean_queued_jobs", "mean queue length (jobs)", "number"),
)


#: Rows shown for a batch scheduler (``lp``) only.
SCHEDULER_ROWS = (
    ("scheduler.epochs", "scheduling epochs (MILP)", "count"),
    ("scheduler.fallbacks", "  fallbacks (no optimum in time)", "count"),
    ("scheduler.unplaced", "  jobs chosen that did not fit", "count"),
)


def solve_time_line(epochs: Any) -> str:
    """Solve times of a run's epochs, for people (wall-clock: not in summary.json)."""
    t = epochs["solve_time_s"].to_numpy() * 1000.0
    if not len(t):
        return "MILP solve time: no epochs"
    return (
        f"MILP solve time per epoch: mean {t.mean():.1f} ms, p95 {float(np.percentile(t, 95)):.1f} ms, "
        f"max {t.max():.1f} ms, total {t.sum() / 1000:.1f} s over {len(t):,} epochs (warm-up included)"
    )


def lookup(summary: dict[str, Any], name: str) -> Any:
    """Value of a dotted name in a nested summary (None if absent)."""
    node: Any = summary
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def format_value(value: Any, kind: str) -> str:
    """Format a metric for people."""
    if value is None:
        return "-"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "mean_count":
        return f"{float(value):,.1f}"
    if kind == "seconds":
        return format_duration(float(value))
    if kind == "share":
        return f"{100 * float(value):.1f} %"
    if kind == "usd":
        return f"$ {float(value):,.2f}"
    if kind == "kwh":
        return f"{float(value):,.0f} kWh"
    return f"{float(value):,.3g}" if abs(float(value)) < 1000 else f"{float(value):,.0f}"


def summary_table(summary: dict[str, Any]) -> str:
    """The summary of one run as an aligned two-column table."""
    run = summary.get("run", {})
    window = summary.get("window", {})
    cluster = summary.get("cluster", {})
    after = " after warm-up" if window.get("start_s", 0) > 0 else ""  # no warm-up: nothing to be after
    head = (
        f"{run.get('scenario', '')}  seed {run.get('seed', '')}  "
        f"scheduler {run.get('scheduler', '')}  placement {run.get('placement', '')}\n"
        f"{cluster.get('installed_gpus', 0):,} GPUs on {cluster.get('nodes', 0):,} nodes; "
        f"measured {format_duration(window.get('hours', 0) * 3600)}{after}"
    )
    rows = list(HEADLINE) + (list(SCHEDULER_ROWS) if "scheduler" in summary else [])
    width = max(len(label) for _, label, _ in rows)
    lines = [head, "-" * (width + 18)]
    for name, label, kind in rows:
        lines.append(f"{label:<{width}}  {format_value(lookup(summary, name), kind):>15}")
    for note in summary.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def compare_table(
    rows: Sequence[tuple[str, dict[str, tuple[float | None, float | None]]]], varied: Sequence[str] = ()
) -> str:
    """Variants side by side: one column per variant, mean (and +- standard error) per metric.

    Args:
        rows: ``(variant label, {metric: (mean, standard error or None)})``.
        varied: the scenario paths the variants differ in, for the header.
    """
    cells: list[list[str]] = []
    for _, values in rows:
        column = []
        for name, _, kind in HEADLINE:
            mean, se = values.get(name, (None, None))
            shown = "mean_count" if kind == "count" and se else kind
            text = format_value(mean, shown)
            if se:
                text += f" ±{format_value(se, shown).lstrip('$ ')}"
            column.append(text)
        cells.append(column)
    return _side_by_side("variant: " + " / ".join(varied) if varied else "variant", [r[0] for r in rows], cells)


def _side_by_side(title: str, labels: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """Headline metrics down, one right-aligned column of ``cells`` per label across."""
    width = max(len(label) for _, label, _ in HEADLINE)
    widths = [max(len(label), *(len(c) for c in column)) for label, column in zip(labels, cells, strict=True)]
    out = [f"{title:<{width}}  " + "  ".join(f"{lab:>{w}}" for lab, w in zip(labels, widths, strict=True))]
    out.append("-" * len(out[0]))
    for i, (_, label, _) in enumerate(HEADLINE):
        line = "  ".join(f"{column[i]:>{w}}" for column, w in zip(cells, widths, strict=True))
        out.append(f"{label:<{width}}  {line}")
    return "\n".join(out)


def difference_table(
    rows: Sequence[tuple[str, dict[str, tuple[float | None, float | None, bool]]]], baseline: str
) -> str:
    """Each variant minus the baseline per headline metric: mean difference ± 95 % half-width, * if significant."""
    cells: list[list[str]] = []
    for _, values in rows:
        column = []
        for name, _, kind in HEADLINE:
            mean, half, significant = values.get(name, (None, None, False))
            shown = "mean_count" if kind == "count" else kind
            if mean is None:
                column.append("-")
                continue
            text = format_value(0.0 if abs(mean) < 1e-12 else mean, shown)
            if text.startswith("$ -"):
                text = "-$ " + text[3:]
            elif mean > 0:
                text = "+" + text
            if half is not None:
                text += f" ±{format_value(half, shown).lstrip('$ ')}"
            column.append(text + (" *" if significant else "  "))
        cells.append(column)
    return _side_by_side(f"minus {baseline}", [r[0] for r in rows], cells)
