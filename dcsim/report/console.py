"""The tables printed for people: a run's summary, `dcsim compare`'s variants and differences, a sweep's points.

They share one way to print a metric (:func:`format_value`, :func:`format_estimate`) and one
layout (:func:`render`), which wraps a table wider than the terminal into blocks.
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from dcsim.core.units import format_duration
from dcsim.metrics.names import (
    FILL_ROWS,
    GEO_SERVICE_ROWS,
    HEADLINE,
    SCHEDULER_ROWS,
    SERVICE_ROWS,
    SHARING_ROWS,
    Metric,
    describe,
    format_values,
    with_unit,
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
        return f"{100 * float(value):,.1f} %"
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
    if "cpu_allocated" in summary.get("utilization", {}):
        at = next(i for i, r in enumerate(rows) if r[0] == "utilization.gpu_available") + 1
        rows[at:at] = SHARING_ROWS
    if "fill" in summary:  # the fill experiment: pods, allocation and fragmentation, no time
        head = (f"{run.get('scenario', '')}  seed {run.get('seed', '')}  fill experiment  placement "
                f"{run.get('placement', '')}\n{cluster.get('installed_gpus', 0):,} GPUs on {cluster.get('nodes', 0):,} "
                "nodes")  # fmt: skip
        rows = list(FILL_ROWS)
    if "services" in summary:
        rows += SERVICE_ROWS
        if "requests_lost" in summary["services"]:  # a service with sites
            rows += GEO_SERVICE_ROWS
        jobs = summary.get("jobs", {})
        if not jobs.get("submitted") and not jobs.get("running_at_end") and not jobs.get("queued_at_end"):
            training = ("jobs.", "network.", "placement.", "queue.", "workload.", "storage.mean_checkpoint",
                        "faults.job_interruptions", "faults.planned_interruptions", "faults.ettr",
                        "cost.usd_per_work_gpu_hour")  # fmt: skip
            rows = [r for r in rows if not r[0].startswith(training)]  # services alone: no training rows
    width = max(len(label) for _, label, _ in rows)
    lines = [head, "-" * (width + 18)]
    for name, label, kind in rows:
        lines.append(f"{label:<{width}}  {format_value(lookup(summary, name), kind):>15}")
    lines += breakdown_tables(summary)
    for note in summary.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def breakdown_tables(summary: dict[str, Any], width: int | None = None) -> list[str]:
    """Cost and utilization per site and per GPU type, a table each, when there are two or more of them."""
    out = []
    crew = lookup(summary, "faults.repair_crew_load_by_site") or {}
    for key, title in (("by_site", "site"), ("by_gpu_type", "GPU type")):
        costs = lookup(summary, f"cost.{key}") or {}
        if len(costs) < 2:
            continue
        use = lookup(summary, f"utilization.{key}") or {}
        head = [title, "total cost", "capital", "energy", "energy (kWh)", "allocated", "productive"]
        body = []
        for name, c in costs.items():
            u = use.get(name, {})
            body.append([
                name, format_value(c.get("total_usd"), "usd"), format_value(c.get("capital_usd"), "usd"),
                format_value(c.get("energy_usd"), "usd"), format_value(c.get("energy_kwh"), "kwh").removesuffix(" kWh"),
                format_value(u.get("gpu_allocated"), "share"), format_value(u.get("gpu_productive"), "share"),
            ])  # fmt: skip
        if any(c.get("carbon_kg") is not None for c in costs.values()):
            head.append("carbon (kg)")
            for row, c in zip(body, costs.values(), strict=True):
                row.append(format_value(c.get("carbon_kg"), "number"))
        sites = summary.get("sites") or {}
        if key == "by_site" and sites:
            head.append("jobs started")
            for row in body:
                row.append(format_value(sites.get(row[0], {}).get("jobs_started"), "count"))
        if key == "by_site" and crew:
            head.append("crew load")
            for row in body:
                row.append(format_value(crew.get(row[0]), "share"))
        out += ["", render(head, body, width=width)]
    return out


def metric_rows(names: Sequence[str] = ()) -> list[tuple[str, str, str]]:
    """The rows a table shows: the headline metrics, or the ``names`` given (``--metric``), as (name, label, kind).

    A named metric is said in the words and printed in the unit of
    :func:`dcsim.metrics.names.describe` (the headline's, where it has a row).
    """
    if not names:
        return list(HEADLINE)
    return [(n, (m := describe(n)).label, m.kind) for n in dict.fromkeys(names)]


def format_estimate(mean: float | None, spread: float | None, kind: str, signed: bool = False) -> str:
    """A mean over seeds and its spread (standard error, or half-width) in the metric's unit: ``2.10 h ±0.25 h``.

    Counts are shown with a decimal, as their means are fractional; ``signed`` puts a
    sign on a difference (``+3.0 %``, ``-$ 12.00``).
    """
    if mean is None or mean != mean:
        return "-"
    if spread is not None and spread != spread:
        spread = None
    mean = 0.0 if signed and abs(mean) < 1e-12 else mean
    shown = "mean_count" if kind == "count" and (signed or spread is not None) else kind
    if kind == "seconds" and spread is not None and math.isfinite(mean) and math.isfinite(spread):
        (number, half), unit = format_values(Metric("", "", kind), [mean, spread])  # one unit, the larger's
        text, spread_text = with_unit(number, unit), with_unit(half, unit)
    else:
        text = format_value(mean, shown)
        spread_text = format_value(spread, shown).lstrip("$ ") if spread is not None else ""
    if signed and text.startswith("$ -"):
        text = "-$ " + text[3:]
    elif signed and mean > 0 and not text.startswith("-"):
        text = "+" + text
    return f"{text} ±{spread_text}" if spread is not None else text


def _blocks(widths: Sequence[int], fixed: int, width: int) -> list[list[int]]:
    """The value columns of each block: as many as fit ``width`` beside the ``fixed`` label columns (one at least)."""
    left = sum(w + 2 for w in widths[:fixed])
    blocks: list[list[int]] = [[]]
    used = left
    for c in range(fixed, len(widths)):
        if blocks[-1] and used + widths[c] > width:
            blocks.append([])
            used = left
        blocks[-1].append(c)
        used += widths[c] + 2
    return blocks


def _widths(head: Sequence[str], body: Sequence[Sequence[str]], fixed: int, wrap: bool) -> list[int]:
    """Each column's width: its widest cell, or its header (with ``wrap``, the header's longest word, for values)."""
    out = []
    for c, title in enumerate(head):
        cells = max((len(row[c]) for row in body), default=0)
        if wrap and c >= fixed:  # a header may take a few lines, but not one word a line
            words = max(max((len(w) for w in title.split()), default=0), min(len(title), 16))
        else:
            words = len(title)
        out.append(max(cells, words))
    return out


def terminal_width() -> int:
    """Columns a table must fit: the terminal's (``COLUMNS`` if set); unlimited when there is no terminal.

    Output to a file or a pipe is not wrapped, so it holds each table whole.
    """
    columns = shutil.get_terminal_size(fallback=(0, 0)).columns
    return columns if columns > 0 else sys.maxsize


def render(
    head: Sequence[str], body: Sequence[Sequence[str]], fixed: int = 1, width: int | None = None, wrap: bool = False
) -> str:
    """An aligned table that fits ``width`` columns (default: :func:`terminal_width`).

    The first ``fixed`` columns (labels, left-aligned) are repeated in every block; the
    others (values, right-aligned) are wrapped into as many blocks, one under the other,
    as it takes to fit. A column wider than the width on its own gets a block of its own.
    With ``wrap``, a value column's header is broken over lines to the width of its values.
    """
    import textwrap

    widths = _widths(head, body, fixed, wrap)
    titles = [
        textwrap.wrap(t, widths[c], break_on_hyphens=False) or [""] if wrap and c >= fixed else [t]
        for c, t in enumerate(head)
    ]

    def line(cells: Sequence[str], columns: Sequence[int]) -> str:
        labels = [f"{cells[c]:<{widths[c]}}" for c in range(fixed)]
        values = [f"{cells[c]:>{widths[c]}}" for c in columns]
        return "  ".join([*labels, *values]).rstrip()

    parts = []
    for columns in _blocks(widths, fixed, width or terminal_width()):
        depth = max(len(titles[c]) for c in [*range(fixed), *columns])
        stacked = [[""] * (depth - len(titles[c])) + titles[c] for c in range(len(head))]  # bottom-aligned
        top = [line([stacked[c][i] for c in range(len(head))], columns) for i in range(depth)]
        rule = "-" * max(len(t) for t in top)
        parts.append("\n".join([*top, rule, *(line(row, columns) for row in body)]))
    return "\n\n".join(parts)


def _side_by_side(
    title: str,
    labels: Sequence[str],
    cells: Sequence[Sequence[str]],
    rows: Sequence[tuple[str, str, str]],
    width: int | None = None,
) -> str:
    """Metrics down, one right-aligned column of ``cells`` per label across (wrapped to fit ``width``).

    A ``title`` longer than the metric labels goes on a line of its own above, so that
    it does not widen the label column.
    """
    body = [[label, *(column[i] for column in cells)] for i, (_, label, _) in enumerate(rows)]
    if len(title) <= max((len(r[1]) for r in rows), default=0):
        return render([title, *labels], body, width=width)
    return title + "\n\n" + render(["", *labels], body, width=width)


def compare_table(
    rows: Sequence[tuple[str, dict[str, tuple[float | None, float | None]]]],
    varied: Sequence[str] = (),
    metrics: Sequence[str] = (),
) -> str:
    """Variants side by side: one column per variant, mean (and +- standard error) per metric.

    Args:
        rows: ``(variant label, {metric: (mean, standard error or None)})``.
        varied: the scenario paths the variants differ in, for the header.
        metrics: the metrics shown, by name (default: the headline metrics).
    """
    shown = metric_rows(metrics)
    cells = []
    for _, values in rows:
        estimates = [(values.get(name, (None, None)), kind) for name, _, kind in shown]
        cells.append([format_estimate(mean, se or None, kind) for (mean, se), kind in estimates])
    title = "variant: " + " / ".join(varied) if varied else "variant"
    return _side_by_side(title, [r[0] for r in rows], cells, shown)


def difference_table(
    rows: Sequence[tuple[str, dict[str, tuple[float | None, float | None, bool]]]],
    baseline: str,
    metrics: Sequence[str] = (),
) -> str:
    """Each variant minus the baseline per metric: mean difference ± 95 % half-width, * if significant.

    Args:
        rows: ``(variant label, {metric: (mean difference, half-width or None, significant)})``.
        baseline: the baseline's label, for the header.
        metrics: the metrics shown, by name (default: the headline metrics).
    """
    shown = metric_rows(metrics)
    cells: list[list[str]] = []
    for _, values in rows:
        column = []
        for name, _, kind in shown:
            mean, half, significant = values.get(name, (None, None, False))
            text = format_estimate(mean, half, kind, signed=True)
            column.append(text if mean is None else text + (" *" if significant else "  "))
        cells.append(column)
    return _side_by_side(f"minus {baseline}", [r[0] for r in rows], cells, shown)


def short_names(paths: Sequence[str]) -> list[str]:
    """Column headers for scenario paths: the last part (``racks``), or as many parts as tell them apart."""
    for parts in range(1, max((p.count(".") + 1 for p in paths), default=1) + 1):
        names = [".".join(p.split(".")[-parts:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return list(paths)


def sweep_table(
    paths: Sequence[str],
    points: Sequence[tuple[dict[str, str], dict[str, tuple[float | None, float | None]]]],
    metrics: Sequence[str] = (),
    width: int | None = None,
) -> str:
    """A sweep's grid points: mean ± 95 % half-width of each metric per point.

    One row per point: its grid values, then a column per metric. When that is wider
    than ``width``, the table is turned (metrics down, a column per point) if that fits,
    as it does for a few points; else its metric columns wrap into blocks.

    Args:
        paths: the grid axes.
        points: per point in grid order, ``({path: value}, {metric: (mean, half-width or None)})``.
        metrics: the metrics shown, by name (default: the headline metrics, less those 0
            or absent at every point, which a line under the table counts).
        width: columns to fit (default: :func:`terminal_width`).
    """
    width = width or terminal_width()
    shown = metric_rows(metrics)
    left_out = 0
    if not metrics:
        kept = [r for r in shown if any(values.get(r[0], (None,))[0] not in (None, 0) for _, values in points)]
        left_out, shown = len(shown) - len(kept), kept
    cells = [[format_estimate(*values.get(name, (None, None)), kind) for name, _, kind in shown]
             for _, values in points]  # fmt: skip
    labels = [" ".join(grid[p] for p in paths) or "baseline" for grid, _ in points]
    title = "point: " + " / ".join(paths) if paths else "point"
    turned = [[label, *(column[i] for column in cells)] for i, (_, label, _) in enumerate(shown)]  # metrics down
    names = short_names(paths)
    head = [*names, *(label.strip() for _, label, _ in shown)]
    body = [[*(grid[p] for p in paths), *column] for (grid, _), column in zip(points, cells, strict=True)]
    lines = []
    across = len(_blocks(_widths(head, body, len(paths), True), len(paths), width)) if paths else 2
    down = len(_blocks(_widths(["", *labels], turned, 1, False), 1, width))
    if across > 1 and down == 1:  # turned, it fits; a row per point does not
        lines.append(_side_by_side(title, labels, cells, shown, width))
    else:
        legend = [f"{n} = {p}" for n, p in zip(names, paths, strict=True) if n != p]
        if legend:
            lines.append("; ".join(legend) + "\n")
        lines.append(render(head, body, fixed=len(paths), width=width, wrap=True))
    if left_out:
        lines.append(
            f"({left_out} headline metrics, 0 or absent at every point, are left out; --metric NAME shows any)"
        )
    return "\n".join(lines)
