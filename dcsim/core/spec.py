"""Building blocks of every package's part of the scenario schema (its ``spec.py``).

:class:`Strict` is the base of every block; the annotated field types parse a value written
with its unit (``2h``, ``10/h``, ``700W``, ``400Gbps``, ``500GB``) into engine units, once, and
carry their unit family in the JSON schema (``x-unit``) so that ``dcsim schema`` can say which
units a field takes. :class:`PolicySpec` names a registered component (a policy) with its
parameters; the parameters are checked against the registry by the scenario checks, not here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from dcsim.core import units


class Strict(BaseModel):
    """Base of every scenario block: unknown keys are errors, numbers finite, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _unit_type(parse: Any, unit: str, example: str, **limits: Any) -> Any:
    return Annotated[
        float,
        BeforeValidator(parse),
        Field(**limits),
        WithJsonSchema({"type": ["number", "string"], "x-unit": unit, "examples": [example]}),
    ]


MAX_SECONDS = 1e12
"""Longest duration (about 31,700 years): sums and means over millions of jobs stay finite."""
MAX_WATTS = 1e9
"""Largest power of a GPU or node part (1 GW)."""
MAX_SIGMA = 20.0
"""Largest log-normal sigma: exp(20 sigma) is already 10^173; beyond it draws overflow to infinity."""
MIN_SHAPE = 0.1
"""Smallest Weibull shape k: draws grow as (-log U)^(1/k), which overflows for tiny k."""

Seconds = _unit_type(units.duration, "duration", "2h", ge=0, le=MAX_SECONDS)
"""A duration >= 0 (``90s``, ``15m``, ``2h``, ``7d``; a bare number is seconds), at most :data:`MAX_SECONDS`."""
PositiveSeconds = _unit_type(units.duration, "duration", "2h", gt=0, le=MAX_SECONDS)
"""A duration > 0, at most :data:`MAX_SECONDS`."""
PerSecond = _unit_type(units.rate, "rate", "10/h", gt=0)
"""A rate > 0 (``10/h``, ``1/d``; a bare number is per second)."""
Watts = _unit_type(units.power, "power", "700W", ge=0, le=MAX_WATTS)
"""A power >= 0 (``700W``, ``1.2kW``; a bare number is watts)."""
BitsPerSecond = _unit_type(units.bandwidth, "bandwidth", "400Gbps", gt=0)
"""A bandwidth > 0 (``400Gbps``, ``50GB/s``; a bare number is bits/s)."""
Bytes = _unit_type(units.size, "size", "500GB", ge=0)
"""A size >= 0 (``500GB``, ``2TiB``; a bare number is bytes)."""


def _duration_unit(value: str) -> str:
    units.duration("1" + value)
    return value


DurationUnit = Annotated[str, AfterValidator(_duration_unit)]
"""The name of a unit of time (``s``, ``m``, ``h``, ``d``), as a column of numbers is written in."""


def _policy_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        return {"name": value}
    return value


class PolicySpec(Strict):
    """A policy by registered name (or ``module:Class``) with its parameters."""

    name: str = Field(description="registered name, or a plug-in as 'module:Class'")
    params: dict[str, Any] = Field(default_factory=dict, description="the policy's `Params`")


Policy = Annotated[PolicySpec, BeforeValidator(_policy_shorthand)]
"""A policy field: a bare name stands for ``{name: NAME}``."""
