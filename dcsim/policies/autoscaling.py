"""Autoscalers: how many replicas a service should have.

The engine calls ``desired(service, now)`` every ``sync_period`` seconds (an attribute of
the policy; ``math.inf`` means never) and clamps the answer to ``[service.min,
service.max]``. A policy reads the service's replica counts and its metrics over the last
sync period and returns a count; it may keep its own history (an HPA's recommendations
and scale events), but never yields, sleeps, changes the service or does I/O.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import Field, field_validator, model_validator

from dcsim.core import units
from dcsim.core.registry import NoParams, Registry, lacks_methods
from dcsim.core.spec import PositiveSeconds, Seconds

if TYPE_CHECKING:
    import numpy as np

Metric = Literal["utilization", "concurrency", "request_rate", "queue_length"]
"""The service-wide totals an autoscaler can read (see :class:`ServiceView`)."""


class ServiceView(Protocol):
    """What an autoscaler reads of a service."""

    name: str
    min: int
    """Fewest replicas allowed (0 allows scale to zero)."""
    max: int
    """Most replicas allowed."""
    replicas: int
    """Current desired count: ready plus starting replicas, not counting draining ones."""
    ready: int
    """Replicas serving requests."""

    def total(self, metric: Metric) -> float:
        """Service-wide time average of ``metric`` over the last sync period.

        ``utilization``: sum over replicas of the busy fraction (a replica at its full batch
        counts 1); ``concurrency``: mean requests in flight (queued plus in service, including
        those buffered while no replica is ready); ``request_rate``: arrivals per second;
        ``queue_length``: mean waiting requests. The per-replica value is ``total / replicas``
        (starting replicas count 0, as Kubernetes treats unready pods on scale-up).
        """


class Autoscaler(Protocol):
    """Chooses a service's replica count every ``sync_period`` seconds."""

    sync_period: float
    """Seconds between calls of :meth:`desired` (``math.inf``: never called)."""

    def desired(self, service: ServiceView, now: float) -> int:
        """The replica count the service should have at time ``now``."""


AUTOSCALER: Registry[Autoscaler] = Registry(
    "autoscaler",
    lambda cls: lacks_methods(cls, "desired(service, now)"),
    "a class with __init__(params, rng), an attribute sync_period (s) and desired(service, now) returning a "
    "replica count; see docs/howto.md",
)


def clamp(count: int, service: ServiceView) -> int:
    """``count`` within ``[service.min, service.max]``."""
    return max(service.min, min(service.max, count))


_Params = NoParams  # the base of every built-in's Params: unknown keys refused, frozen


class _Base:
    Params = _Params
    sync_period: float = 15.0

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self.sync_period = float(getattr(params, "sync_period", type(self).sync_period))


@AUTOSCALER.register("none")
class NoAutoscaler(_Base):
    """A fixed fleet: keeps the current replica count and is never called (``sync_period`` is infinite)."""

    sync_period = math.inf

    def desired(self, service: ServiceView, now: float) -> int:
        """The current count."""
        return clamp(service.replicas, service)


class _Timestamped:
    """Values with their times, keeping those newer than a horizon (Kubernetes keeps the same lists)."""

    def __init__(self) -> None:
        self.items: deque[tuple[float, int]] = deque()

    def add(self, time: float, value: int) -> None:
        self.items.append((time, value))

    def prune(self, cutoff: float) -> None:
        """Forget the values at or before ``cutoff`` (they can no longer be in any window)."""
        items = self.items
        while items and items[0][0] <= cutoff:
            items.popleft()

    def after(self, cutoff: float) -> list[int]:
        """The values recorded strictly after ``cutoff`` (Go's ``timestamp.After(cutoff)``)."""
        return [v for t, v in self.items if t > cutoff]


@AUTOSCALER.register("hpa")
class HorizontalPodAutoscaler(_Base):
    """The Kubernetes HorizontalPodAutoscaler: desired = ceil(replicas x current / target), stabilized, rate-limited.

    From the Kubernetes HPA controller (``pkg/controller/podautoscaler``) and its documented
    algorithm: ratio = (total / replicas) / target; within ``tolerance`` of 1 the count is kept,
    otherwise the recommendation is ceil(replicas x ratio) (from zero replicas, ceil(total /
    target)). Stabilization as ``stabilizeRecommendationWithBehaviors``: the count rises at most
    to the lowest recommendation of the last ``scale_up_window`` and falls at most to the
    highest of the last ``scale_down_window`` (both including this one; as Kubernetes'
    ``recordInitialRecommendation``, the count found at the first sync counts as a recommendation
    then, so a new autoscaler does not scale down within its first window). Then the rate limits of
    Kubernetes' default behavior: up by at most max(``scale_up_pods``, ``scale_up_percent`` % of
    the count at the start of the period) per ``rate_period``, down by at most
    ``scale_down_percent`` % per ``rate_period`` (Kubernetes' defaults: 4 pods or 100 %, and 100
    %, per 15 s). O(window / sync period) per call.
    """

    class Params(_Params):
        """Parameters of ``hpa``."""

        metric: Metric = Field("utilization", description="the service total the rule tracks")
        target: float = Field(gt=0, allow_inf_nan=False, description="target value per replica")
        tolerance: float = Field(0.1, ge=0, allow_inf_nan=False, description="no change while |ratio - 1| <= this")
        sync_period: PositiveSeconds = Field(15.0, description="time between evaluations")
        scale_up_window: Seconds = Field(0.0, description="stabilization window for scale-up")
        scale_down_window: Seconds = Field(300.0, description="stabilization window for scale-down")
        scale_up_pods: int = Field(4, ge=0, description="replicas that may be added per rate period")
        scale_up_percent: float = Field(
            100.0, ge=0, allow_inf_nan=False, description="% that may be added per rate period"
        )
        scale_down_percent: float = Field(100.0, ge=0, le=100, description="% that may be removed per rate period")
        rate_period: PositiveSeconds = Field(15.0, description="period of the scale-up and scale-down limits")

    #: The parameters it reads at every decision: a timed event may change them during a run.
    live_params: ClassVar[frozenset[str]] = frozenset(Params.model_fields) - {"sync_period"}

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._recommendations = _Timestamped()
        self._started = False
        self._ups = _Timestamped()  # (time, replicas added)
        self._downs = _Timestamped()  # (time, replicas removed)

    def recommendation(self, service: ServiceView) -> int:
        """The unstabilized count the metric asks for."""
        p = self.params
        total = service.total(p.metric)
        current = service.replicas
        if current <= 0:
            return math.ceil(total / p.target)
        ratio = total / current / p.target
        if abs(ratio - 1.0) <= p.tolerance:
            return current
        return math.ceil(current * ratio)

    def desired(self, service: ServiceView, now: float) -> int:
        """The stabilized, rate-limited recommendation, within [min, max]."""
        p = self.params
        current = service.replicas
        wanted = self.recommendation(service)
        recs = self._recommendations
        if not self._started:  # Kubernetes' recordInitialRecommendation: the count it found, at its first sync
            self._started = True
            recs.add(now, current)
        up = min([wanted, *recs.after(now - p.scale_up_window)])
        down = max([wanted, *recs.after(now - p.scale_down_window)])
        recs.add(now, wanted)
        recs.prune(now - max(p.scale_up_window, p.scale_down_window))
        target = current
        if target < up:
            target = up
        if target > down:
            target = down
        cutoff = now - p.rate_period
        if target > current:
            start = current - sum(self._ups.after(cutoff))
            limit = max(start + p.scale_up_pods, math.ceil(start * (1 + p.scale_up_percent / 100)))
            target = min(target, max(limit, current), service.max)
        elif target < current:
            start = current + sum(self._downs.after(cutoff))
            limit = int(start * (1 - p.scale_down_percent / 100))
            target = max(target, min(limit, current), service.min)
        target = clamp(target, service)
        if target > current:
            self._ups.add(now, target - current)
        elif target < current:
            self._downs.add(now, current - target)
        self._ups.prune(cutoff)
        self._downs.prune(cutoff)
        return target


@AUTOSCALER.register("queue_length")
class QueueLengthAutoscaler(_Base):
    """Step scaling on the waiting requests per replica: add ``step`` above ``high``, remove ``step`` below ``low``.

    A threshold rule with a cooldown, as AWS Auto Scaling's simple scaling policies and KEDA's
    queue-length triggers: at most one change per ``cooldown``. With no replicas, any waiting
    request counts as above ``high`` (scale from zero). O(1).
    """

    class Params(_Params):
        """Parameters of ``queue_length``."""

        high: float = Field(ge=0, allow_inf_nan=False, description="waiting requests per replica above which to add")
        low: float = Field(ge=0, allow_inf_nan=False, description="waiting requests per replica below which to remove")
        step: int = Field(1, ge=1, description="replicas added or removed per change")
        cooldown: Seconds = Field(60.0, description="least time between two changes")
        sync_period: PositiveSeconds = Field(15.0, description="time between evaluations")

        @model_validator(mode="after")
        def _low_below_high(self) -> QueueLengthAutoscaler.Params:
            if self.low > self.high:
                raise ValueError(f"low ({self.low:g}) is above high ({self.high:g}); make low <= high")
            return self

    #: The parameters it reads at every decision: a timed event may change them during a run.
    live_params: ClassVar[frozenset[str]] = frozenset(Params.model_fields) - {"sync_period"}

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._last_change = -math.inf

    def desired(self, service: ServiceView, now: float) -> int:
        """One step up or down when the waiting queue per replica crosses a threshold and the cooldown is over."""
        p = self.params
        current = service.replicas
        waiting = service.total("queue_length")
        per_replica = waiting / current if current > 0 else (math.inf if waiting > 0 else 0.0)
        target = current
        if now - self._last_change >= p.cooldown:
            if per_replica > p.high:
                target = current + p.step
            elif per_replica < p.low:
                target = current - p.step
        target = clamp(target, service)
        if target != current:
            self._last_change = now
        return target


_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def _time_of_day(key: Any) -> float:
    """Seconds into the period of a table key: ``"HH:MM"``, ``"HH:MM:SS"``, a duration (``8h``) or seconds."""
    if isinstance(key, bool):
        raise ValueError("not a time")
    match = _CLOCK.match(key) if isinstance(key, str) else None
    if match:
        hours, minutes, secs = int(match[1]), int(match[2]), int(match[3] or 0)
        if minutes >= 60 or secs >= 60:
            raise ValueError("not a time")
        return 3600.0 * hours + 60.0 * minutes + secs
    seconds = units.duration(key)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("not a time")
    return seconds


@AUTOSCALER.register("scheduled")
class ScheduledAutoscaler(_Base):
    """A time-of-day table: the count of the latest entry at or before ``now`` modulo ``period``. O(log entries).

    Scheduled scaling as in AWS Auto Scaling's scheduled actions and KEDA's cron scaler. Before the
    day's first entry the last entry's count holds (the table wraps). Keys are clock times
    ``"HH:MM"`` (or ``"HH:MM:SS"``), durations into the period (``8h``, ``90m``) or seconds.
    """

    class Params(_Params):
        """Parameters of ``scheduled``."""

        table: dict[str | int | float, int] = Field(
            description="time of day ('HH:MM', a duration such as '8h', or seconds) -> replicas, "
            'e.g. {"00:00": 4, "08:00": 12, "20:00": 6}'
        )
        period: PositiveSeconds = Field(86400.0, description="length of the repeating schedule (1 d)")
        sync_period: PositiveSeconds = Field(60.0, description="time between evaluations")

        @field_validator("table")
        @classmethod
        def _entries(cls, table: dict[Any, int]) -> dict[Any, int]:
            if not table:
                raise ValueError('give at least one entry, e.g. {"00:00": 4}')
            seen: dict[float, Any] = {}
            for key, count in table.items():
                try:
                    at = _time_of_day(key)
                except ValueError:
                    raise ValueError(
                        f"table key {key!r} is not a time of day; write 'HH:MM' (e.g. '08:00'), a duration "
                        "into the period (e.g. '8h') or seconds"
                    ) from None
                if at in seen:
                    raise ValueError(f"table keys {seen[at]!r} and {key!r} are the same time; keep one")
                seen[at] = key
                if count < 0:
                    raise ValueError(f"table[{key!r}]: {count} replicas; give a count >= 0")
            return table

        @model_validator(mode="after")
        def _within_period(self) -> ScheduledAutoscaler.Params:
            for key in self.table:
                if _time_of_day(key) >= self.period:
                    raise ValueError(
                        f"table key {key!r} is {_time_of_day(key):g} s into a period of {self.period:g} s; "
                        "give times within the period"
                    )
            return self

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        entries = sorted((_time_of_day(k), v) for k, v in params.table.items())
        self._times = [t for t, _ in entries]
        self._counts = [v for _, v in entries]

    def count_at(self, now: float) -> int:
        """The table's count at time ``now`` (before clamping)."""
        i = bisect_right(self._times, now % self.params.period) - 1
        return self._counts[i]  # i == -1 before the first entry: the last one's count (wraps)

    def desired(self, service: ServiceView, now: float) -> int:
        """The scheduled count, within [min, max]."""
        return clamp(self.count_at(now), service)


__all__ = [
    "AUTOSCALER",
    "Autoscaler",
    "HorizontalPodAutoscaler",
    "Metric",
    "NoAutoscaler",
    "QueueLengthAutoscaler",
    "ScheduledAutoscaler",
    "ServiceView",
    "clamp",
]
