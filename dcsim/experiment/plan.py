"""Capacity planning: the smallest value of a setting whose confidence bound meets a target.

Each value tried runs ``replications`` seeds (through the sweep's store: parallel and
resumable); the target is met when the upper bound of the 95 % t interval of the
metric's mean is at most the target (``<=``), or its lower bound at least the target
(``>=``). Bisection assumes the metric improves monotonically with the setting, and
says so; it finds the smallest value in [min, max] that meets the target in about
log2(max - min) steps.

Targets are read in the metric's unit (``jobs.p95_wait_s<=1h``, ``utilization.gpu_available>=99%``,
``cost.total_usd<=$200k``) and their metric's name is checked before anything runs. The
interval's ends are clipped to what the metric can be (a wait is never below 0, a share
never above 1), in the table and the plot; that changes no verdict, since a target lies
inside the same range.
"""

from __future__ import annotations

import hashlib
import json
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
from dcsim.metrics.names import clip, describe
from dcsim.metrics.targets import Target, parse_target


def question_dir(
    vary: str, low: int, high: int, target: Target, replications: int, overrides: tuple[str, ...] | list[str] = ()
) -> str:
    """A directory name for one plan's question: ``<setting>-<metric>-<hash of everything asked>``.

    Two plans of one scenario that ask different questions (setting, range, target,
    replications, ``--set`` overrides) get different names, so their answers never
    overwrite each other; the same question gets the same name.
    """
    asked = json.dumps([vary, low, high, target.metric, target.op, target.value, replications, list(overrides)])
    digest = hashlib.sha256(asked.encode()).hexdigest()[:8]
    leaf = re.sub(r"[^A-Za-z0-9_]", "_", vary.rsplit(".", 1)[-1])[:40]
    metric = re.sub(r"[^A-Za-z0-9_]", "_", target.metric.rsplit(".", 1)[-1])[:40]
    return f"{leaf}-{metric}-{digest}"


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
    metric = describe(target.metric)

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
        if target.metric not in runs.columns:  # a class or cause this scenario does not have
            raise DcsimError(f"--target: this scenario's runs have no metric {target.metric!r}; its job classes and "
                             "failure causes are named in the scenario (see docs/reference/metrics.md)")  # fmt: skip
        stats = points_table(runs, [axis])
        row = stats[stats["metric"] == target.metric]
        if row.empty:
            mean = lo = hi = math.nan
            n = 0
        else:  # the t interval can reach past what the metric can be (a wait below 0): clip it there
            n, mean, lo, hi = (row.iloc[0][k] for k in ("n", "mean", "ci_low", "ci_high"))
            lo, hi = clip(metric, float(lo)), clip(metric, float(hi))
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
    from matplotlib.ticker import MaxNLocator

    from dcsim.report.sweep_plots import log_above, metric_axis, setting_label

    metric = describe(result.target.metric)
    t = result.tried.sort_values("value")
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    scale = metric_axis(ax, metric, [*t["ci_high"], *t["mean"], result.target.value])
    mean, low, high = t["mean"] / scale, t["ci_low"] / scale, t["ci_high"] / scale
    met = t["met"].to_numpy(dtype=bool)
    ax.errorbar(t["value"], mean, yerr=[mean - low, high - mean], fmt="none", ecolor="0.5", capsize=4, zorder=1)
    for ok, color, words in ((True, "tab:green", "meets"), (False, "tab:red", "misses")):
        if (met == ok).any():
            ax.scatter(t["value"][met == ok], mean[met == ok], color=color, zorder=2,
                       label=f"{words} the target (mean, 95 % interval)")  # fmt: skip
    ax.axhline(result.target.value / scale, color="tab:blue", linestyle="--", label=f"target: {result.target.words()}")
    if result.answer is not None:
        ax.axvline(result.answer, color="tab:green", alpha=0.4, label=f"answer: {result.answer}")
    top = float(t["ci_high"].max()) if len(t) else 0.0
    if result.target.value > 0 and top > 5 * result.target.value:  # misses far above: keep the target readable
        log_above(ax, result.target.value / scale)
    if ax.get_ylim()[0] < 0:
        ax.set_ylim(bottom=0)
    if len(t):
        first, last = int(t["value"].min()), int(t["value"].max())
        pad = max(1.0, 0.05 * (last - first))
        ax.set_xlim(first - pad, last + pad)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    leaf = result.path.rsplit(".", 1)[-1].replace("_", " ")
    ax.set_xlabel(setting_label(result.path))
    n = int(t["n"].max()) if len(t) else 0
    ax.set_title(f"smallest {leaf} whose 95 % bound meets {result.target.words()}\n"
                 f"{result.target.metric}: each value tried by bisection, mean and 95 % interval over {n} seeds",
                 fontsize=10)  # fmt: skip
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


__all__ = ["PlanResult", "Target", "capacity_plan", "parse_target", "plot_plan", "question_dir", "write_plan"]
