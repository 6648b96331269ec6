"""``dcsim plot DIR``: each metric of a sweep against a grid axis, with 95 % confidence bands."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from functools import partial

import pandas as pd

from dcsim.core.errors import DcsimError
from dcsim.report.console import HEADLINE


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


def plot_sweep(sweep_dir: str, metrics: Sequence[str] = (), x: str | None = None) -> list[str]:
    """Draw ``plots/<metric>.png`` in ``sweep_dir``: mean and 95 % band against ``x``, a line per other axis value.

    Args:
        sweep_dir: a sweep's directory.
        metrics: metric names (default: the headline metrics the sweep has).
        x: the grid axis on the horizontal axis (default: the first; numeric values are
            spaced by value, others evenly in grid order).

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
    chosen = list(metrics) or [name for name, _, _ in HEADLINE if name in known]
    for m in chosen:
        if m not in known:
            raise DcsimError(f"--metric {m!r}: not in this sweep's points (e.g. {', '.join(known[:4])}, ...)")
    others = [a for a in axes if a != x]
    out_dir = os.path.join(sweep_dir, "plots")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    order = list(dict.fromkeys(points.sort_values("point")[x]))
    numeric = _numeric(order)
    position = dict(zip(order, numeric if numeric is not None else range(len(order)), strict=True))
    for metric in chosen:
        part = points[points["metric"] == metric]
        fig, ax = plt.subplots(figsize=(7, 4.2))
        groups = part.groupby(others, sort=False) if others else [((), part)]
        for key, group in groups:
            group = group.assign(_x=group[x].map(position)).sort_values("_x")
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{a.rsplit('.', 1)[-1]}={v}" for a, v in zip(others, key, strict=True)) or "mean"
            line = ax.plot(group["_x"], group["mean"], marker="o", label=label)[0]
            ax.fill_between(group["_x"], group["ci_low"], group["ci_high"], color=line.get_color(), alpha=0.18)
        if numeric is None:
            ax.set_xticks(list(position.values()), order)
        elif all(v == int(v) for v in numeric):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        n = int(part["n"].max()) if len(part) else 0
        ax.set_title(f"{metric}: mean and 95 % interval over {n} seeds", fontsize=10)
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(out_dir, re.sub(r"[^A-Za-z0-9_.-]", "_", metric) + ".png")
        write_atomically(path, partial(fig.savefig, dpi=110, format="png"))
        plt.close(fig)
        written.append(path)
    return written


__all__ = ["plot_sweep", "read_points"]
