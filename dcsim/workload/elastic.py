"""Elastic training jobs: a GPU count between a minimum and a maximum, and a speed-up curve.

A job class with an ``elastic`` block may run on any number of GPUs from ``min_gpus`` to
``max_gpus``. Its ``gpus`` is the count its ``duration`` is measured at, so a job holding
``g`` GPUs does work at ``speedup(g) / speedup(gpus)`` times its nominal rate. The curves:

- ``linear``: ``s(g) = g`` (perfect scaling);
- ``amdahl``: ``s(g) = 1 / (f + (1 - f) / g)`` with serial fraction ``f`` (Amdahl, 1967);
- ``power``: ``s(g) = g ** a`` with ``0 < a <= 1`` (sub-linear scaling, as fitted to
  data-parallel throughput in Optimus, Peng et al. EuroSys 2018);
- ``table``: ``(GPUs, speed-up)`` points, linearly interpolated (measured throughput).

Every curve is non-decreasing in ``g``; only ratios of speed-ups matter. The scheduler that
grows and shrinks such jobs is :class:`dcsim.policies.elastic.Elastic`; the engine resizes
a running job with :meth:`dcsim.engine.runs.Runs.resize`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from dcsim.core.spec import Strict
from dcsim.infra.spec import MAX_GPUS


class LinearSpeedup(Strict):
    """Perfect scaling: ``s(g) = g``."""

    curve: Literal["linear"]


class AmdahlSpeedup(Strict):
    """Amdahl's law: ``s(g) = 1 / (f + (1 - f) / g)`` for a serial fraction ``f``."""

    curve: Literal["amdahl"]
    serial_fraction: float = Field(ge=0, lt=1, description="share f of a step that does not parallelize (0: linear)")


class PowerSpeedup(Strict):
    """Sub-linear scaling: ``s(g) = g ** exponent``."""

    curve: Literal["power"]
    exponent: float = Field(
        gt=0, le=1, description="a in s(g) = g^a (1: linear; 0.5: four times the GPUs, twice as fast)"
    )


class TableSpeedup(Strict):
    """Measured speed-ups at some GPU counts, linearly interpolated between them."""

    curve: Literal["table"]
    points: list[tuple[Annotated[int, Field(ge=1, le=MAX_GPUS)], Annotated[float, Field(gt=0)]]] = Field(
        min_length=2,
        description="[GPUs, speed-up] pairs, GPUs ascending, speed-up non-decreasing, e.g. [[1, 1], [8, 6]]",
    )

    @model_validator(mode="after")
    def _monotone(self) -> TableSpeedup:
        for (g0, s0), (g1, s1) in zip(self.points, self.points[1:], strict=False):
            if g1 <= g0:
                raise ValueError(f"`points` GPUs must ascend: {g1} after {g0}; sort them and drop repeats")
            if s1 < s0:
                raise ValueError(
                    f"`points` speed-up must not fall as GPUs grow: {s1:g} at {g1} GPUs < {s0:g} at {g0}; "
                    "a job given more GPUs can leave them idle, so give the plateau's value"
                )
        return self


def _curve_if_name(value: Any) -> Any:
    """Let ``linear`` stand for ``{curve: linear}``."""
    return {"curve": value} if isinstance(value, str) else value


Speedup = Annotated[
    LinearSpeedup | AmdahlSpeedup | PowerSpeedup | TableSpeedup,
    BeforeValidator(_curve_if_name),
    Field(discriminator="curve"),
]
"""A speed-up curve (discriminated by `curve`); a bare ``linear`` means ``{curve: linear}``."""


class ElasticSpec(Strict):
    """An elastic class: its jobs run on any GPU count from `min_gpus` to `max_gpus`.

    The class's `gpus` is the count its `duration` is measured at; at g GPUs a job runs
    speedup(g) / speedup(gpus) times as fast. The `elastic` scheduler grows and shrinks it.
    """

    min_gpus: int = Field(ge=1, le=MAX_GPUS, description="fewest GPUs a job runs on")
    max_gpus: int = Field(ge=1, le=MAX_GPUS, description="most GPUs a job runs on")
    speedup: Speedup = Field(
        description="speed-up curve: linear, {curve: amdahl, serial_fraction: f}, {curve: power, exponent: a} "
        "or {curve: table, points: [[GPUs, speed-up], ...]}"
    )

    @model_validator(mode="after")
    def _range(self) -> ElasticSpec:
        if self.min_gpus > self.max_gpus:
            raise ValueError(f"`min_gpus` {self.min_gpus} > `max_gpus` {self.max_gpus}; swap them")
        curve = self.speedup
        if isinstance(curve, TableSpeedup):
            low, high = curve.points[0][0], curve.points[-1][0]
            if low > self.min_gpus or high < self.max_gpus:
                raise ValueError(
                    f"`speedup.points` cover {low} to {high} GPUs but the jobs run on {self.min_gpus} to "
                    f"{self.max_gpus}; add points at both ends (no speed-up is extrapolated)"
                )
        return self


class ElasticPlan:
    """An elastic class as the engine keeps it: its GPU range and its speed-up curve.

    Args:
        spec: the class's ``elastic`` block.
    """

    __slots__ = ("_gpus", "_speedups", "curve", "max_gpus", "min_gpus")

    def __init__(self, spec: ElasticSpec) -> None:
        self.min_gpus, self.max_gpus = spec.min_gpus, spec.max_gpus
        self.curve = spec.speedup
        #: The curve at every count it can be asked of (1 .. max_gpus and each nominal count).
        self._speedups = [0.0] + [speedup(spec.speedup, g) for g in range(1, spec.max_gpus + 1)]
        self._gpus = spec.max_gpus

    def speedup(self, gpus: int) -> float:
        """The curve at ``gpus`` GPUs."""
        return self._speedups[gpus] if gpus <= self._gpus else speedup(self.curve, gpus)

    def rate(self, gpus: int, nominal: int) -> float:
        """Speed at ``gpus`` GPUs of a job whose duration is measured at ``nominal`` (s of work per s)."""
        return self.speedup(gpus) / self.speedup(nominal)


def speedup(curve: Any, gpus: float) -> float:
    """The speed-up of ``curve`` at ``gpus`` GPUs (see the module's formulas).

    Raises:
        ValueError: a table asked outside its points.
    """
    if isinstance(curve, LinearSpeedup):
        return float(gpus)
    if isinstance(curve, AmdahlSpeedup):
        f = curve.serial_fraction
        return 1.0 / (f + (1.0 - f) / gpus)
    if isinstance(curve, PowerSpeedup):
        return math.pow(gpus, curve.exponent)
    points = curve.points
    if not points[0][0] <= gpus <= points[-1][0]:
        raise ValueError(f"speed-up table covers {points[0][0]} to {points[-1][0]} GPUs, not {gpus}")
    i = min(bisect_right([g for g, _ in points], gpus), len(points) - 1)
    (g0, s0), (g1, s1) = points[i - 1], points[i]
    return s0 + (s1 - s0) * (gpus - g0) / (g1 - g0)


__all__ = ["ElasticPlan", "ElasticSpec", "Speedup", "speedup"]
