"""A sweep's tables: one row per run, and per grid point the mean of each metric with its confidence interval.

Both are built from the stored runs in grid order, so they are the same bytes whatever the
executor and the number of workers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import partial
from typing import Any

import pandas as pd

from dcsim.core.errors import DcsimError
from dcsim.core.files import write_atomically
from dcsim.experiment.compare import Axis


# --------------------------------------------------------------------------- tables
def runs_table(tasks: Sequence[Any], records: Sequence[dict[str, Any]], axes: Sequence[Axis]) -> pd.DataFrame:
    """One row per run, in grid order (``tasks``: the sweep's :class:`~dcsim.experiment.sweep.Task` list).

    Columns: ``point``, the grid values (one column per path), ``seed``, ``error`` (empty
    when the run succeeded), then every metric by its flattened contract name.
    """
    paths = [a.path for a in axes]
    rows = []
    for task, record in zip(tasks, records, strict=True):
        clash = set(paths) & set(record["metrics"])
        if clash:
            raise DcsimError(f"grid path {sorted(clash)[0]!r} is also a metric name; vary it another way")
        rows.append({"point": task.point, **task.values, "seed": task.seed, "error": record["error"] or "",
                     **record["metrics"]})  # fmt: skip
    return pd.DataFrame(rows)


def points_table(runs: pd.DataFrame, axes: Sequence[Axis], confidence: float = 0.95) -> pd.DataFrame:
    """Per grid point and numeric metric: runs, mean, standard deviation and a t confidence interval.

    Long form: ``point``, the grid values, ``metric``, ``n``, ``mean``, ``std``,
    ``ci_low``, ``ci_high`` (``confidence``, default 95 %). Failed runs are left out;
    a metric with one value has no deviation or interval (NaN).
    """
    from scipy import stats

    paths = [a.path for a in axes]
    fixed = {"point", "seed", "error", *paths}
    ok = runs[runs["error"] == ""]
    metrics = [c for c in runs.columns if c not in fixed]
    rows = []
    for point, group in ok.groupby("point", sort=True):
        values = {p: group[p].iloc[0] for p in paths}
        for metric in metrics:
            series = pd.to_numeric(group[metric], errors="coerce").dropna()
            n = len(series)
            if n == 0:
                continue
            mean = float(series.mean())
            std = float(series.std(ddof=1)) if n > 1 else math.nan
            half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n) if n > 1 else math.nan
            rows.append({"point": point, **values, "metric": metric, "n": n, "mean": mean, "std": std,
                         "ci_low": mean - half, "ci_high": mean + half})  # fmt: skip
    columns = ["point", *paths, "metric", "n", "mean", "std", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)


def point_estimates(
    runs: pd.DataFrame, points: pd.DataFrame, axes: Sequence[Axis]
) -> list[tuple[dict[str, str], dict[str, tuple[float | None, float | None]]]]:
    """Per grid point in order: its grid values and, per metric, the mean and the 95 % half-width (or None).

    From :func:`runs_table` (every point, failed ones too) and :func:`points_table`;
    what :func:`dcsim.report.console.sweep_table` prints.
    """
    paths = [a.path for a in axes]
    out = []
    for point, group in runs.groupby("point", sort=True):
        rows = points[points["point"] == point]
        values: dict[str, tuple[float | None, float | None]] = {}
        for metric, mean, low, high in zip(rows["metric"], rows["mean"], rows["ci_low"], rows["ci_high"], strict=True):
            half = (float(high) - float(low)) / 2
            values[metric] = (float(mean), half if math.isfinite(half) else None)
        out.append(({p: str(group[p].iloc[0]) for p in paths}, values))
    return out


def write_tables(out_dir: str, runs: pd.DataFrame, points: pd.DataFrame, csv: bool = True) -> None:
    """``runs`` and ``points`` as Parquet (and CSV), each written to a temporary name and renamed."""
    for name, table in (("runs", runs), ("points", points)):
        write_atomically(os.path.join(out_dir, f"{name}.parquet"), partial(table.to_parquet, index=False))
        if csv:
            write_atomically(os.path.join(out_dir, f"{name}.csv"), partial(table.to_csv, index=False))
