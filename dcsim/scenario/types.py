"""Annotated field types that parse a value with its unit into engine units.

Each carries its unit family in the JSON schema (``x-unit``) so that ``dcsim schema``
can say which units a field takes.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from dcsim.core import units


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
