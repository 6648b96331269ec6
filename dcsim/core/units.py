"""Physical quantities written with units, converted once into engine units.

Engine units: seconds (time), events per second (rates), watts (power), bits per
second (bandwidth) and bytes (size). A bare number is taken in the engine unit.

>>> duration("90s"), duration("15m"), duration("2h"), duration("7d")
(90.0, 900.0, 7200.0, 604800.0)
>>> rate("10/h") * 3600
10.0
>>> power("1.2kW"), bandwidth("400Gbps"), size("500GB")
(1200.0, 400000000000.0, 500000000000.0)
"""

from __future__ import annotations

import math
import re
from itertools import pairwise

from dcsim.core.text import quote

_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"

DURATION_UNITS = {
    "ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0,
    "h": 3600.0, "hr": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "y": 365 * 86400.0,
}  # fmt: skip
POWER_UNITS = {"W": 1.0, "w": 1.0, "kW": 1e3, "kw": 1e3, "KW": 1e3, "MW": 1e6}  # case kept: mW is not MW
BANDWIDTH_UNITS = {
    "bps": 1.0, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9, "tbps": 1e12,
    "b/s": 8.0, "kb/s": 8e3, "mb/s": 8e6, "gb/s": 8e9, "tb/s": 8e12,  # bytes per second
}  # fmt: skip
SIZE_UNITS = {
    "b": 1.0, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15,
    "kib": 2.0**10, "mib": 2.0**20, "gib": 2.0**30, "tib": 2.0**40, "pib": 2.0**50,
}  # fmt: skip


def _parse(value: object, units: dict[str, float], what: str, example: str) -> float:
    """Convert ``value`` (a number, or a string with one of ``units``) to a float."""
    if isinstance(value, bool):
        raise ValueError(f"expected a {what} such as {example}, got {quote(value)}")
    if isinstance(value, int | float):
        try:
            out = float(value)
        except OverflowError:  # an integer beyond any float
            raise ValueError(f"{what} must be finite, got a number too large for one") from None
    elif isinstance(value, str):
        m = re.fullmatch(_NUMBER + r"\s*([A-Za-z/]*)", value.strip())
        if not m:
            raise ValueError(f"expected a {what} such as {example}, got {quote(value)}")
        number, unit = m.groups()
        if unit == "":
            factor = 1.0
        else:
            # Only bandwidth tells bytes (``GB/s``) from bits (``Gbps``, ``Gb/s``).
            if what == "size" and unit[-1] == "b" and unit[:-1] != unit[:-1].lower():  # Gb, Mb: bits
                raise ValueError(
                    f"{quote(unit)} in {quote(value)} is bits; sizes are in bytes: write {number}{unit[:-1]}B"
                )
            if what == "duration" and unit == "M":
                raise ValueError(f"'M' in {quote(value)} is ambiguous; write {number}m for minutes or use d/w/y")
            key = unit if what == "power" else unit.lower()
            if what == "bandwidth" and unit.endswith("b/s"):
                key = key.replace("b/s", "bps")
            elif what == "bandwidth" and unit.endswith("Bps"):  # bytes per second, as B/s
                key = key[:-3] + "b/s"
            found = units.get(key)
            if found is None:
                valid = ", ".join(sorted(units))
                raise ValueError(f"unknown unit {quote(unit)} in {quote(value)}; use one of: {valid}")
            factor = found
        out = float(number) * factor
    else:
        raise ValueError(f"expected a {what} such as {example}, got {quote(value)}")
    if not math.isfinite(out):
        raise ValueError(f"{what} must be finite, got {quote(value)}")
    return out


_UNIT = r"(?:ms|sec|min|hr|s|m|h|d|w|y)"
_COMPOUND = re.compile(rf"(?:\d+(?:\.\d*)?{_UNIT}){{2,}}")
_PART = re.compile(rf"(\d+(?:\.\d*)?)({_UNIT})")


def duration(value: object) -> float:
    """Parse a duration (``90s``, ``15m``, ``2h``, ``7d``, ``1w``; or a sum such as ``3d4h``, ``1h30m``) into seconds.

    >>> duration("3d4h") == duration("3d") + duration("4h")
    True
    """
    example = "'90s', '15m', '2h', '7d' or '3d4h'"
    if isinstance(value, str) and _COMPOUND.fullmatch(value.strip()):
        parts = _PART.findall(value.strip())
        sizes = [DURATION_UNITS[u] for _, u in parts]
        if any(a <= b for a, b in pairwise(sizes)):  # 3d4h, 1h30m: each unit once, largest first
            raise ValueError(f"expected a duration such as {example}, got {quote(value)}: in a sum of units, give each "
                             "unit once, the largest first")  # fmt: skip
        return sum(_parse(n + u, DURATION_UNITS, "duration", example) for n, u in parts)
    return _parse(value, DURATION_UNITS, "duration", example)


def rate(value: object) -> float:
    """Parse a rate (``10/h``, ``1/d``, ``0.5/m``) into events per second."""
    if isinstance(value, str) and "/" in value:
        count, _, per = value.partition("/")
        per = per.strip()
        if per and per[0].isalpha():
            per = "1" + per
        try:
            out = float(count) / duration(per)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"expected a rate such as '10/h' or '1/d', got {quote(value)}") from None
        if not math.isfinite(out):
            raise ValueError(f"rate must be finite, got {quote(value)}")
        return out
    if isinstance(value, str) and value.strip() and value.strip()[-1].isalpha():
        raise ValueError(f"expected a rate such as '10/h' or '1/d' (events per unit of time), got {quote(value)}")
    return _parse(value, {"": 1.0}, "rate", "'10/h' or '1/d'")


def power(value: object) -> float:
    """Parse a power (``700W``, ``1.2kW``) into watts."""
    return _parse(value, POWER_UNITS, "power", "'700W' or '1.2kW'")


def bandwidth(value: object) -> float:
    """Parse a bandwidth (``400Gbps``; ``50GB/s`` is bytes per second) into bits/s."""
    return _parse(value, BANDWIDTH_UNITS, "bandwidth", "'400Gbps'")


def size(value: object) -> float:
    """Parse a size (``500GB``, ``2TiB``) into bytes."""
    return _parse(value, SIZE_UNITS, "size", "'500GB' or '2TiB'")


def format_duration(seconds: float) -> str:
    """Format seconds for people: ``460 ms``, ``90 s``, ``12.5 min``, ``3.2 h``, ``4.1 d``."""
    if not math.isfinite(seconds):
        return str(seconds)
    a = abs(seconds)
    if 0 < a < 1:
        return f"{seconds * 1000:.3g} ms"
    if a < 120:
        return f"{seconds:.1f} s"
    if a < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if a < 2 * 86400:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds / 86400:.2f} d" if a < 1e6 * 86400 else f"{seconds / 86400:.3g} d"
