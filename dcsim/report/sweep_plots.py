"""``dcsim plot DIR``: each metric of a sweep against a grid axis, with 95 % confidence bands.

Axes are in words with units (a wait in minutes or hours, shares in percent, costs in
dollars), bands stop at what the metric can be (no wait below 0, no share above 100 %),
counts and integer settings get integer ticks, and a metric that is zero everywhere is
skipped (and named) rather than drawn as a flat line.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd

from dcsim.core.errors import DcsimError
from dcsim.metrics.names import HEADLINE, Metric, check_metric, describe, duration_unit

if TYPE_CHECKING:
    from dcsim.metrics.targets import Target

_UNIT_WORDS = {"s": "seconds", "min": "minutes", "h": "hours", "d": "days"}


def read_points(sweep_dir: str) -> tuple[pd.DataFrame, list[str]]:
    """A sweep's points table and its grid axes (the columns between ``point`` and ``metric``).

    Raises:
        DcsimError: no points table there.
    """
    path = os.path.join(sweep_dir, "points.parquet")
    if not os.path.isfile(path):
        raise DcsimError(f"{sweep_dir}: no points.parquet; give the directory `dcsim sweep` wrote (--out)")
    points = pd.read_parquet(path)
    cols = list(points.columns)
    return points, cols[cols.index("point") + 1 : cols.index("metric")]


def _numeric(values: Sequence[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def setting_label(path: str) -> str:
    """A grid axis in words: ``datacenter.sites.0.racks`` -> ``racks (datacenter.sites.0.racks)``."""
    leaf = path.rsplit(".", 1)[-1].replace("_", " ")
    return leaf if leaf == path else f"{leaf} ({path})"


def metric_axis(ax: Any, metric: Metric, values: Sequence[float], axis: str = "y") -> float:
    """Label ``ax``'s axis with the metric in words and its unit; return the factor to divide values by.

    Durations take the unit of their largest value (s, minutes, hours, days), shares are
    in percent, dollars and kWh get thousands separators (k, M), counts integer ticks.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    finite = [abs(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    top = max(finite, default=0.0)
    target = ax.yaxis if axis == "y" else ax.xaxis
    set_label = ax.set_ylabel if axis == "y" else ax.set_xlabel
    scale = 1.0
    if metric.kind == "seconds":
        unit, scale = duration_unit(top)
        set_label(_with_unit(metric.label, _UNIT_WORDS[unit]))
    elif metric.kind == "share":
        scale = 0.01
        set_label(_with_unit(metric.label, "%"))
    elif metric.kind in ("usd", "kwh"):
        big, suffix = (1e6, "M") if top >= 1e6 else (1e3, "k") if top >= 1e4 else (1.0, "")
        money = metric.kind == "usd"

        def fmt(v: float, _: Any) -> str:
            number = f"{v / big:,.{1 if big > 1 else 0 if top >= 100 else 2}f}"
            number = (number[:-2] if big > 1 and number.endswith(".0") else number) + suffix
            return f"${number}" if money else number

        target.set_major_formatter(FuncFormatter(fmt))
        set_label(_with_unit(metric.label, "USD" if money else "kWh"))
    else:
        set_label(metric.label)
    if metric.kind == "count":
        target.set_major_locator(MaxNLocator(integer=True))
    return scale


def _with_unit(label: str, unit: str) -> str:
    """``p95 wait (hours)``; a label that ends in parentheses takes the unit inside them."""
    return f"{label[:-1]}, {unit})" if label.endswith(")") else f"{label} ({unit})"


def log_above(ax: Any, threshold: float) -> None:
    """A y axis linear up to ``threshold`` and logarithmic above, with plain tick labels, and a label that says so."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("symlog", linthresh=threshold)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,g}"))  # 0.01, 0.1, 1, not 10^-2
    ax.set_ylabel(_with_unit(ax.get_ylabel(), "log scale above the target"))


def _clipped(metric: Metric, series: pd.Series) -> pd.Series:
    return series.clip(lower=metric.low, upper=metric.high if math.isfinite(metric.high) else None)


def _all_zero(part: pd.DataFrame) -> bool:
    """True if every mean and bound of the metric is 0 (or missing)."""
    values = pd.concat([part["mean"], part["ci_low"], part["ci_high"]]).dropna()
    return bool((values == 0).all())


def _file_stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


@dataclass
class SweepPlots:
    """What :func:`plot_sweep` drew: the files written and the metrics skipped as zero everywhere."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def plot_sweep(
    sweep_dir: str, metrics: Sequence[str] = (), x: str | None = None, target: Target | None = None
) -> SweepPlots:
    """Draw ``plots/<metric>-vs-<axis>.png`` in ``sweep_dir``: mean and 95 % band against ``x``.

    One line per value of the other grid axes. A metric that is zero at every point is
    not drawn (it is listed in ``skipped``).

    Args:
        sweep_dir: a sweep's directory.
        metrics: metric names (default: the headline metrics the sweep has).
        x: the grid axis on the horizontal axis (default: the first; numeric values are
            spaced by value, others evenly in grid order).
        target: a target to draw as a line on its metric's plot (that metric is drawn too).

    Raises:
        DcsimError: no points table, no grid axis, or an unknown metric or axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from dcsim.core.files import write_atomically

    points, axes = read_points(sweep_dir)
    if not axes:
        raise DcsimError(f"{sweep_dir}: the sweep has no grid axis to plot against")
    x = x or axes[0]
    if x not in axes:
        raise DcsimError(f"--x {x!r}: not a grid axis of this sweep; its axes: {', '.join(axes)}")
    known = list(dict.fromkeys(points["metric"]))
    chosen = list(dict.fromkeys(metrics)) or [name for name, _, _ in HEADLINE if name in known]
    if target is not None and target.metric not in chosen:
        chosen.append(target.metric)
    for m in chosen:
        if m not in known:
            flag = "--target" if target is not None and m == target.metric and m not in metrics else "--metric"
            check_metric(m, flag)  # a misspelled name: with did-you-mean
            raise DcsimError(f"{flag} {m!r}: this sweep's points do not have it (e.g. {', '.join(known[:4])}, ...)")
    others = [a for a in axes if a != x]
    leaf = x.rsplit(".", 1)[-1]
    x_name = leaf if sum(a.rsplit(".", 1)[-1] == leaf for a in axes) == 1 else x
    order = list(dict.fromkeys(points.sort_values("point")[x]))
    numeric = _numeric(order)
    position = dict(zip(order, numeric if numeric is not None else range(len(order)), strict=True))
    out = SweepPlots()
    drawn = []
    for metric_name in chosen:
        part = points[points["metric"] == metric_name]
        if _all_zero(part) and (target is None or target.metric != metric_name):
            out.skipped.append(metric_name)
        else:
            drawn.append((metric_name, part))
    if drawn:
        os.makedirs(os.path.join(sweep_dir, "plots"), exist_ok=True)
    for metric_name, part in drawn:
        metric = describe(metric_name)
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        shown = [*part["ci_high"], *part["mean"]] + ([target.value] if target and target.metric == metric_name else [])
        scale = metric_axis(ax, metric, shown)
        groups = part.groupby(others, sort=False) if others else [((), part)]
        for key, group in groups:
            group = group.assign(_x=group[x].map(position)).sort_values("_x")
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{a.rsplit('.', 1)[-1]} = {v}" for a, v in zip(others, key, strict=True)) or "mean"
            line = ax.plot(group["_x"], group["mean"] / scale, marker="o", label=label)[0]
            low, high = _clipped(metric, group["ci_low"]) / scale, _clipped(metric, group["ci_high"]) / scale
            ax.fill_between(group["_x"], low, high, color=line.get_color(), alpha=0.18, lw=0)
        if target is not None and target.metric == metric_name:
            ax.axhline(target.value / scale, color="tab:red", ls="--", lw=1, label=f"target: {target.words()}")
        if numeric is None:
            ax.set_xticks(list(position.values()), order)
        elif all(v == int(v) for v in numeric):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(setting_label(x))
        top = float(part["ci_high"].max())
        if target is not None and target.metric == metric_name and 0 < 5 * target.value < top:
            log_above(ax, target.value / scale)  # a target far below the misses: keep it visible
        if ax.get_ylim()[0] < 0 <= part["mean"].min():  # the margin, not the data, went below 0
            ax.set_ylim(bottom=0)
        n = int(part["n"].max()) if len(part) else 0
        ax.set_title(f"{metric.label} against {leaf.replace('_', ' ')}: mean and 95 % interval over {n} seeds\n"
                     f"({metric_name})", fontsize=10)  # fmt: skip
        ax.grid(alpha=0.3)
        if others or target is not None:
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(sweep_dir, "plots", f"{_file_stem(metric_name)}-vs-{_file_stem(x_name)}.png")
        write_atomically(path, partial(fig.savefig, dpi=110, format="png"))
        plt.close(fig)
        out.written.append(path)
    return out


__all__ = ["SweepPlots", "log_above", "metric_axis", "plot_sweep", "read_points", "setting_label"]
