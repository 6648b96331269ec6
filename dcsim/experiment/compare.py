"""Policy comparison on common random numbers.

Every variant runs on the same seeds; since each source of randomness has its own
named stream, variants see identical arrivals, sizes and durations, so differences
between them are the policies' own (paired comparison).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from dcsim.core.errors import OverrideError, UnknownPolicyError
from dcsim.experiment.run import simulate
from dcsim.metrics.scoring import flatten
from dcsim.policies import REGISTRIES
from dcsim.scenario.load import load_scenario
from dcsim.scenario.schema import PolicySpec, Scenario

POLICY_KINDS = ("scheduler", "placement", "repair", "load_balancer", "autoscaler", "site_router")
POLICY_PATHS = {
    "scheduler": "policies.scheduler", "placement": "policies.placement", "repair": "repair.policy",
    "site_router": "policies.site_router",
    "load_balancer": "services.*.load_balancer", "autoscaler": "services.*.autoscaler",
}  # fmt: skip
"""Where each policy kind sits in a scenario (a service's kinds: in every service, ``*``)."""
SERVICE_KINDS = ("load_balancer", "autoscaler")
"""The policy kinds each service has its own of: an axis of them sets every service's."""


@dataclass(frozen=True)
class Axis:
    """One varied setting: a scenario path and its values (as ``--set`` would write them).

    ``policy`` names the policy kind for ``--policy`` axes, whose values are policy names.
    """

    path: str
    values: tuple[str, ...]
    policy: str | None = None


def parse_axis(text: str, policy: bool, flag: str | None = None) -> Axis:
    """Parse ``kind=a,b`` (``--policy``) or ``path=a,b`` (``--vary``; ``flag`` names it in messages).

    Raises:
        OverrideError: malformed text, or an unknown policy kind.
    """
    flag = flag or ("--policy" if policy else "--vary")
    key, eq, values = text.partition("=")
    key = key.strip()
    items = tuple(v.strip() for v in values.split(",") if v.strip())
    if not eq or not key or not items:
        example = "scheduler=fifo,sjf" if policy else "workload.jobs.0.arrival.rate=4/h,8/h"
        raise OverrideError(f"{flag} {text!r}: write it as {example}")
    if policy:
        if key not in POLICY_KINDS:
            raise OverrideError(f"{flag} {text!r}: {key!r} is no policy kind; use one of {', '.join(POLICY_KINDS)}")
        return Axis(POLICY_PATHS[key], items, policy=key)
    return Axis(key, items)


def policy_override(axis: Axis, name: str, base: Scenario) -> list[str]:
    """``--set`` texts that switch a policy, keeping the scenario's params that are the same knob.

    A parameter carries over when the target policy declares it with the same default
    (``backfill`` between schedulers); best fit's ``gpu_weight`` (default 1) does not reach
    worst fit (default -1) or first fit (none). A service's kind (``load_balancer``,
    ``autoscaler``) is switched in every service, each keeping its own params.
    """
    assert axis.policy is not None
    from dcsim.policies.geo import is_geo

    geo = axis.policy == "load_balancer" and is_geo(name)
    registry = geo or REGISTRIES[axis.policy]
    if axis.policy in SERVICE_KINDS:
        if not base.services:
            raise OverrideError(f"--policy {axis.policy}={name}: the scenario has no `services` to switch it in")
        places = [(f"services.{i}.{axis.policy}", getattr(svc, axis.policy)) for i, svc in enumerate(base.services)]
    elif axis.policy == "repair":
        places = [(axis.path, base.repair.policy if base.repair is not None else PolicySpec(name="fifo"))]
    else:
        places = [(axis.path, getattr(base.policies, axis.policy))]
    try:
        target = registry.params_model(name).model_fields
    except UnknownPolicyError as exc:
        raise OverrideError(f"--policy {axis.policy}={name}: {axis.path}: {exc}") from None
    out = []
    for path, current in places:
        if current is None:  # a kind the scenario leaves unset (no site router): nothing to carry over
            out.append(f"{path}={json.dumps({'name': name, 'params': {}})}")
            continue
        was = (axis.policy == "load_balancer" and is_geo(current.name)) or REGISTRIES[axis.policy]
        source = was.params_model(current.name).model_fields
        params = {
            k: v
            for k, v in current.params.items()
            if k in target and k in source and target[k].default == source[k].default
        }
        out.append(f"{path}={json.dumps({'name': name, 'params': params})}")
    return out


@dataclass(frozen=True)
class Variant:
    """One combination of the axes' values."""

    label: str
    values: dict[str, str]
    overrides: list[str]


def variants(axes: Sequence[Axis], base: Scenario) -> list[Variant]:
    """Cartesian product of the axes."""
    if not axes:
        return [Variant("baseline", {}, [])]
    out = []
    for combo in itertools.product(*(a.values for a in axes)):
        sets = [
            text
            for a, v in zip(axes, combo, strict=True)
            for text in (policy_override(a, v, base) if a.policy else [f"{a.path}={v}"])
        ]
        out.append(Variant(" ".join(combo), {a.path: v for a, v in zip(axes, combo, strict=True)}, sets))
    return out


def compare(
    path: str,
    axes: Sequence[Axis],
    seeds: Sequence[int],
    overrides: Sequence[str] = (),
    on_run: Callable[[str, int, float], None] | None = None,
) -> pd.DataFrame:
    """Run every variant on every seed; return one row per run with every flattened metric.

    Columns: ``variant``, one ``set:<path>`` per axis with its value, ``seed``, then the metrics.

    Args:
        path: scenario file.
        axes: the varied settings.
        seeds: the seeds every variant runs on.
        overrides: ``--set`` strings applied to every variant first.
        on_run: called after each run with (variant, seed, wall seconds).
    """
    runs = []
    base = load_scenario(path, overrides)
    for variant in variants(axes, base):  # validate every variant before running any
        sets = [*overrides, *variant.overrides]
        for seed in seeds:
            runs.append((variant, seed, load_scenario(path, sets, seed), sets))
    rows = []
    for variant, seed, scenario, sets in runs:
        result = simulate(scenario, overrides=sets)
        flat = {k: v for k, v in flatten(result.summary).items() if not isinstance(v, list)}
        varied = {f"set:{k}": v for k, v in variant.values.items()}
        rows.append({"variant": variant.label, **varied, "seed": seed, **flat})
        if on_run is not None:
            on_run(variant.label, seed, result.wall_time_s)
    return pd.DataFrame(rows)


def aggregate(table: pd.DataFrame) -> list[tuple[str, dict[str, tuple[float | None, float | None]]]]:
    """Mean and standard error of every metric per variant, in first-seen order."""
    out = []
    for label in dict.fromkeys(table["variant"]):
        part = table[table["variant"] == label]
        values: dict[str, tuple[float | None, float | None]] = {}
        for column in part.columns:
            if column in ("variant", "seed") or column.startswith("set:"):
                continue
            series = pd.to_numeric(part[column], errors="coerce").dropna()
            if series.empty:
                values[column] = (None, None)
                continue
            se = float(series.std(ddof=1) / math.sqrt(len(series))) if len(series) > 1 else None
            values[column] = (float(series.mean()), se)
        out.append((label, values))
    return out


def paired_differences(
    table: pd.DataFrame, baseline: str, confidence: float = 0.95
) -> list[tuple[str, dict[str, tuple[float | None, float | None, bool]]]]:
    """Each variant minus ``baseline``, paired by seed: mean difference, t-interval half-width, significant.

    The variants ran on the same seeds (common random numbers), so the per-seed
    differences cancel the noise the variants share. A difference is significant when its
    ``confidence`` interval excludes 0 (two seeds at least; with one, no interval).
    """
    from scipy import stats

    base = table[table["variant"] == baseline].set_index("seed")
    out = []
    for label in dict.fromkeys(table["variant"]):
        if label == baseline:
            continue
        part = table[table["variant"] == label].set_index("seed")
        seeds = part.index.intersection(base.index)
        values: dict[str, tuple[float | None, float | None, bool]] = {}
        for column in part.columns:
            if column == "variant" or column.startswith("set:"):
                continue
            a = pd.to_numeric(part.loc[seeds, column], errors="coerce")
            b = pd.to_numeric(base.loc[seeds, column], errors="coerce")
            d = (a - b).dropna()
            if d.empty:
                values[column] = (None, None, False)
                continue
            mean = float(d.mean())
            if len(d) < 2:
                values[column] = (mean, None, False)
                continue
            half = float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
            values[column] = (mean, half, abs(mean) > half)
        out.append((label, values))
    return out
