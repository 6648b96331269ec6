"""Capacity planning: the smallest value of a setting whose confidence bound meets a target.

Each value tried runs ``replications`` seeds (through the sweep's store: parallel and
resumable); the target is met when the upper bound of the 95 % t interval of the
metric's mean is at most the target (``<=``), or its lower bound at least the target
(``>=``). Bisection assumes the metric improves monotonically with the setting, and
says so; it finds the smallest value in [min, max] that meets the target in about
log2(max - min) steps.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dcsim.core.errors import DcsimError
from dcsim.experiment.compare import Axis
from dcsim.experiment.sweep import execute, plan, points_table, runs_table

_TARGET = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Target:
    """``metric <= value`` or ``metric >= value``."""

    metric: str
    op: str
    value: float

    def met(self, low: float, high: float) -> bool:
        """Met by an interval (low, high): its worst end satisfies the target."""
        return high <= self.value if self.op == "<=" else low >= self.value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_target(text: str) -> Target:
    """Parse ``"jobs.p95_wait_s<=3600"``.

    Raises:
        DcsimError: not of the form METRIC<=VALUE or METRIC>=VALUE.
    """
    m = _TARGET.match(text)
    if m is None:
        raise DcsimError(
            f"--target {text!r}: write it as METRIC<=VALUE or METRIC>=VALUE with a number in the metric's unit, "
            "e.g. 'jobs.p95_wait_s<=3600'"
        )
    return Target(m.group(1), m.group(2), float(m.group(3)))


@dataclass
class PlanResult:
    """The answer and every value tried (``tried``: value, n, mean, ci_low, ci_high, met; in order tried)."""

    answer: int | None
    tried: pd.DataFrame
    target: Target
    path: str
    failed_runs: int = 0
    notes: list[str] = field(default_factory=list)


def capacity_plan(
    path: str,
    vary: str,
    low: int,
    high: int,
    target: Target,
    replications: int,
    out_dir: str,
    overrides: tuple[str, ...] | list[str] = (),
    on_value: Callable[[dict[str, Any]], None] | None = None,
    **executor: Any,
) -> PlanResult:
    """Bisect ``vary`` over the integers [low, high] for the smallest value meeting ``target``.

    Args:
        path: scenario file.
        vary: the scenario path to size (racks, nodes, technicians, ...).
        low: smallest value considered.
        high: largest value considered.
        target: what the metric's confidence bound must meet.
        replications: seeds per value (at least 2, for an interval).
        out_dir: where runs are stored (an earlier plan's runs are reused).
        overrides: ``--set`` strings for every run.
        on_value: called with each value's row once it is evaluated.
        executor: ``executor``, ``workers``, ``scheduler`` for :func:`dcsim.experiment.sweep.execute`.

    Raises:
        DcsimError: a bad range, too few replications, or a metric the summary does not have.
    """
    if low > high:
        raise DcsimError(f"--min {low} is above --max {high}")
    if replications < 2:
        raise DcsimError(f"--replications {replications}: give at least 2 (a confidence interval needs them)")
    rows: dict[int, dict[str, Any]] = {}
    failed = 0

    def evaluate(value: int) -> bool:
        nonlocal failed
        if value in rows:
            return bool(rows[value]["met"])
        axis = Axis(vary, (str(value),))
        tasks = plan(path, [axis], replications, overrides)
        runs = runs_table(tasks, execute(tasks, out_dir, **executor), [axis])
        errors = runs["error"][runs["error"] != ""]
        failed += len(errors)
        if len(errors) == len(runs):
            raise DcsimError(f"every run at {vary} = {value} failed; the first: {errors.iloc[0]}")
        if target.metric not in runs.columns:
            raise DcsimError(f"--target: the summary has no metric {target.metric!r} (see docs/reference/metrics.md)")
        stats = points_table(runs, [axis])
        row = stats[stats["metric"] == target.metric]
        if row.empty:
            mean = lo = hi = math.nan
            n = 0
        else:
            n, mean, lo, hi = (row.iloc[0][k] for k in ("n", "mean", "ci_low", "ci_high"))
        met = bool(n >= 2 and not math.isnan(lo) and target.met(lo, hi))
        rows[value] = {"value": value, "n": int(n), "mean": mean, "ci_low": lo, "ci_high": hi, "met": met}
        if on_value is not None:
            on_value(rows[value])
        return met

    answer: int | None
    if not evaluate(high):
        answer = None
    elif evaluate(low):
        answer = low
    else:
        lo, hi = low, high  # lo fails, hi meets
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if evaluate(mid):
                hi = mid
            else:
                lo = mid
        answer = hi
    tried = pd.DataFrame(list(rows.values()), columns=["value", "n", "mean", "ci_low", "ci_high", "met"])
    notes = [
        f"bisection assumes {target.metric} improves monotonically with {vary}; values between those tried were not run"
    ]
    if answer is None:
        notes.append(f"the target is not met even at {vary} = {high}: raise --max")
    return PlanResult(answer, tried, target, vary, failed, notes)


def plot_plan(result: PlanResult, path: str) -> None:
    """The metric's mean and 95 % interval at each value tried, the target line, the answer marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = result.tried.sort_values("value")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    err = [t["mean"] - t["ci_low"], t["ci_high"] - t["mean"]]
    colors = ["tab:green" if m else "tab:red" for m in t["met"]]
    ax.errorbar(t["value"], t["mean"], yerr=err, fmt="none", ecolor="0.5", capsize=4, zorder=1)
    ax.scatter(t["value"], t["mean"], c=colors, zorder=2, label="mean, 95 % interval (green: meets)")
    ax.axhline(result.target.value, color="tab:blue", linestyle="--", label=f"target {result.target}")
    if result.answer is not None:
        ax.axvline(result.answer, color="tab:green", alpha=0.4, label=f"answer: {result.path} = {result.answer}")
    top = float(t["ci_high"].max())
    if result.target.value > 0 and top > 30 * result.target.value:  # misses far above: keep the target readable
        ax.set_yscale("symlog", linthresh=result.target.value)
    ax.set_xlabel(result.path)
    ax.set_ylabel(result.target.metric)
    ax.set_title(f"smallest {result.path} whose 95 % bound meets the target (bisection)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def write_plan(result: PlanResult, out_dir: str) -> list[str]:
    """``plan.csv`` (values tried) and ``plan.png``, each written whole or not at all."""
    from functools import partial

    from dcsim.core.files import write_atomically

    os.makedirs(out_dir, exist_ok=True)
    csv = os.path.join(out_dir, "plan.csv")
    png = os.path.join(out_dir, "plan.png")
    write_atomically(csv, partial(result.tried.to_csv, index=False))
    write_atomically(png, partial(plot_plan, result))
    return [csv, png]


__all__ = ["PlanResult", "Target", "capacity_plan", "parse_target", "plot_plan", "write_plan"]
