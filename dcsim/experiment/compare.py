"""Policy comparison on common random numbers.

Every variant runs on the same seeds; since each source of randomness has its own
named stream, variants see identical arrivals, sizes and durations, so differences
between them are the policies' own (paired comparison).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from dcsim.core.errors import OverrideError
from dcsim.experiment.run import simulate
from dcsim.metrics.scoring import flatten
from dcsim.scenario.load import load_scenario

POLICY_KINDS = ("scheduler", "placement")


@dataclass(frozen=True)
class Axis:
    """One varied setting: a scenario path and its values (as ``--set`` would write them)."""

    path: str
    values: tuple[str, ...]


def parse_axis(text: str, policy: bool) -> Axis:
    """Parse ``kind=a,b`` (``--policy``) or ``path=a,b`` (``--vary``).

    Raises:
        OverrideError: malformed text, or an unknown policy kind.
    """
    flag = "--policy" if policy else "--vary"
    key, eq, values = text.partition("=")
    key = key.strip()
    items = tuple(v.strip() for v in values.split(",") if v.strip())
    if not eq or not key or not items:
        example = "scheduler=fifo,sjf" if policy else "workload.jobs.0.arrival.rate=4/h,8/h"
        raise OverrideError(f"{flag} {text!r}: write it as {example}")
    if policy:
        if key not in POLICY_KINDS:
            raise OverrideError(f"{flag} {text!r}: {key!r} is no policy kind; use one of {', '.join(POLICY_KINDS)}")
        key = f"policies.{key}.name"  # keeps params shared by the variants (e.g. backfill)
    return Axis(key, items)


def variants(axes: Sequence[Axis]) -> list[tuple[str, list[str]]]:
    """Cartesian product of the axes: ``(label, overrides)`` per variant."""
    if not axes:
        return [("baseline", [])]
    out = []
    for combo in itertools.product(*(a.values for a in axes)):
        label = " ".join(combo) if len(axes) > 1 else combo[0]
        out.append((label, [f"{a.path}={v}" for a, v in zip(axes, combo, strict=True)]))
    return out


def compare(
    path: str,
    axes: Sequence[Axis],
    seeds: Sequence[int],
    overrides: Sequence[str] = (),
    on_run: Callable[[str, int, float], None] | None = None,
) -> pd.DataFrame:
    """Run every variant on every seed; return one row per run with every flattened metric.

    Args:
        path: scenario file.
        axes: the varied settings.
        seeds: the seeds every variant runs on.
        overrides: ``--set`` strings applied to every variant first.
        on_run: called after each run with (variant, seed, wall seconds).
    """
    scenarios = {}
    for label, extra in variants(axes):  # validate every variant before running any
        for seed in seeds:
            scenarios[(label, seed)] = (load_scenario(path, [*overrides, *extra], seed), [*overrides, *extra])
    rows = []
    for (label, seed), (scenario, sets) in scenarios.items():
        result = simulate(scenario, overrides=sets)
        flat = {k: v for k, v in flatten(result.summary).items() if not isinstance(v, list)}
        rows.append({"variant": label, "seed": seed, **flat})
        if on_run is not None:
            on_run(label, seed, result.wall_time_s)
    return pd.DataFrame(rows)


def aggregate(table: pd.DataFrame) -> list[tuple[str, dict[str, tuple[float | None, float | None]]]]:
    """Mean and standard error of every metric per variant, in first-seen order."""
    out = []
    for label in dict.fromkeys(table["variant"]):
        part = table[table["variant"] == label]
        values: dict[str, tuple[float | None, float | None]] = {}
        for column in part.columns:
            if column in ("variant", "seed"):
                continue
            series = pd.to_numeric(part[column], errors="coerce").dropna()
            if series.empty:
                values[column] = (None, None)
                continue
            se = float(series.std(ddof=1) / math.sqrt(len(series))) if len(series) > 1 else None
            values[column] = (float(series.mean()), se)
        out.append((label, values))
    return out
