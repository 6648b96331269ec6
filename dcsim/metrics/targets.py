"""Targets on metrics: ``jobs.p95_wait_s<=1h``, parsed with the metric's unit, and whether an interval meets one.

``dcsim plan`` searches for the capacity that meets a target; ``dcsim plot`` draws it as
a line. Both take it from here, so neither imports the other.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dcsim.core import units
from dcsim.core.errors import DcsimError
from dcsim.metrics.names import Metric, check_metric, describe, format_one

_TARGET = re.compile(r"([^<>=≤≥\s]+)\s*(<=|>=|≤|≥|<|>)(.*)", re.S)
_OPS = {"≤": "<=", "≥": ">="}
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9}


@dataclass(frozen=True)
class Target:
    """``metric <= value`` or ``metric >= value`` (``<`` and ``>`` are strict); ``value`` in engine units."""

    metric: str
    op: str
    value: float

    def met(self, low: float, high: float) -> bool:
        """Met by an interval (low, high): its worst end satisfies the target."""
        if self.op in ("<=", "<"):
            return high <= self.value if self.op == "<=" else high < self.value
        return low >= self.value if self.op == ">=" else low > self.value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {format_one(describe(self.metric), self.value)}"

    def sentence(self) -> str:
        """The target in a sentence: ``mean wait (jobs.mean_wait_s) is at most 60.0 s``."""
        metric = describe(self.metric)
        op = {"<=": "at most", ">=": "at least", "<": "below", ">": "above"}[self.op]
        return f"{metric.label} ({self.metric}) is {op} {format_one(metric, self.value)}"

    def words(self) -> str:
        """The target for people: ``p95 wait ≤ 60.0 min``."""
        op = {"<=": "≤", ">=": "≥"}.get(self.op, self.op)
        metric = describe(self.metric)
        return f"{metric.label} {op} {format_one(metric, self.value)}"


def _target_value(text: str, metric: Metric) -> float:
    """The target's value in the metric's engine unit, from text with or without a unit."""
    kind = metric.kind
    raw = text.replace(",", "").replace(" ", "")
    if kind == "seconds":
        return units.duration(raw)
    if kind == "share":
        percent = raw.endswith("%")
        value = _float(raw.rstrip("%")) / (100 if percent else 1)
        if not percent and value > metric.high:
            raise ValueError("a share is at most 1: write the percentage with %")
        return value
    if kind == "usd":
        m = re.fullmatch(r"(?:US)?\$?([-+0-9.eE]+)([kKmMbB]?)\$?(?:USD)?", raw)
        if m is None:
            raise ValueError("")
        return float(m.group(1)) * _SCALE[m.group(2).lower()]
    if kind == "kwh":
        m = re.fullmatch(r"([-+0-9.eE]+)([kKmM]?)(?:kWh|kwh)?", raw)
        if m is None:
            raise ValueError("")
        return float(m.group(1)) * _SCALE[m.group(2).lower()]
    return _float(raw)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("") from None


_EXAMPLES = {
    "seconds": "a duration such as 1h, 90m or 3600 (seconds)",
    "share": "a percentage such as 99% (or a share such as 0.99)",
    "usd": "dollars such as $200k or 200000",
    "kwh": "kWh such as 50k or 50000",
}


def parse_target(text: str) -> Target:
    """Parse ``"jobs.p95_wait_s<=1h"``, ``"utilization.gpu_available>=99%"``, ``"cost.total_usd<=$200k"``.

    The metric's name is checked first (with did-you-mean); the value is read in the
    metric's unit: a duration for ``_s`` metrics, a percentage or a share for shares,
    dollars for ``_usd``; a bare number is in the engine unit (seconds, share, USD).

    Raises:
        DcsimError: not of the form METRIC<=VALUE or METRIC>=VALUE, an unknown metric, a value
            that does not read in the metric's unit, or one outside the metric's range.
    """
    shown = text if len(text) <= 80 else text[:77] + "..."
    m = _TARGET.fullmatch(text.strip())
    if m is None or not m.group(3).strip():
        raise DcsimError(f"--target {shown!r}: write it as METRIC<=VALUE or METRIC>=VALUE, e.g. 'jobs.p95_wait_s<=1h' "
                         "or 'utilization.gpu_available>=99%'")  # fmt: skip
    name, op, written = m.group(1), _OPS.get(m.group(2), m.group(2)), m.group(3).strip()
    metric = describe(check_metric(name, "--target"))
    example = _EXAMPLES.get(metric.kind, "a number")
    value_shown = written if len(written) <= 40 else written[:37] + "..."
    try:
        value = _target_value(written, metric)
    except ValueError as exc:
        detail = str(exc) if metric.kind != "seconds" else ""
        raise DcsimError(f"--target {shown!r}: {value_shown!r} is not {example}{'; ' + detail if detail else ''}"
                         ) from None  # fmt: skip
    if not math.isfinite(value):
        raise DcsimError(f"--target {shown!r}: give a finite value, e.g. {example}")
    if not metric.low <= value <= metric.high:
        where = "between 0 and 100 %" if metric.high == 1 else "never below 0"
        raise DcsimError(f"--target {shown!r}: {metric.label} is {where}; give a target in that range")
    return Target(metric.name, op, value)
