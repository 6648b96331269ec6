"""The unit-carrying field types, kept here for older imports: they live in :mod:`dcsim.core.spec`."""

from __future__ import annotations

from dcsim.core.spec import (
    MAX_SECONDS,
    MAX_WATTS,
    BitsPerSecond,
    Bytes,
    PerSecond,
    PositiveSeconds,
    Seconds,
    Watts,
)

__all__ = ["MAX_SECONDS", "MAX_WATTS", "BitsPerSecond", "Bytes", "PerSecond", "PositiveSeconds", "Seconds", "Watts"]
