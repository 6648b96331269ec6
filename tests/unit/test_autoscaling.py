"""Autoscalers on hand-built service states (no SimPy): hand-computed scale events of each rule."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from pydantic import ValidationError

from dcsim.policies.autoscaling import AUTOSCALER, Autoscaler


@dataclass
class Service:
    """The fields an autoscaler reads of a service; ``totals`` holds the metrics of the last period."""

    replicas: int
    min: int = 1
    max: int = 100
    name: str = "chat"
    totals: dict[str, float] = field(default_factory=dict)

    @property
    def ready(self) -> int:
        return self.replicas

    def total(self, metric: str) -> float:
        return self.totals[metric]


def autoscaler(name: str, **params: object) -> Autoscaler:
    return AUTOSCALER.create(name, params, np.random.default_rng(0))


def drive(
    policy: Autoscaler, service: Service, metric: str, load: Callable[[float], float], until: float
) -> list[tuple[float, int]]:
    """Call the policy every sync period from t = 0 to ``until`` as the engine does (the count it
    returns becomes the service's count at once); return the (time, new count) of each change."""
    events = []
    steps = round(until / policy.sync_period)
    for k in range(steps + 1):
        now = k * policy.sync_period
        service.totals[metric] = load(now)
        count = policy.desired(service, now)
        if count != service.replicas:
            events.append((now, count))
            service.replicas = count
    return events


def test_registry_lists_the_four_builtins() -> None:
    assert AUTOSCALER.names() == ["hpa", "none", "queue_length", "scheduled"]


def test_none_keeps_the_count_and_is_never_called() -> None:
    policy = autoscaler("none")
    assert policy.sync_period == math.inf
    assert policy.desired(Service(replicas=3), 0.0) == 3


def test_hpa_params_take_durations_with_units() -> None:
    policy = autoscaler("hpa", target=50, sync_period="30s", scale_down_window="5m")
    assert policy.sync_period == 30.0
    assert policy.params.scale_down_window == 300.0
    with pytest.raises(ValidationError):
        AUTOSCALER.validate_params("hpa", {"target": 0})
    with pytest.raises(ValidationError):
        AUTOSCALER.validate_params("hpa", {"target": 50, "metric": "gpu_temperature"})


def test_a_new_hpa_does_not_scale_down_within_its_first_window() -> None:
    """Kubernetes records the count it finds at its first sync as a recommendation: 8 replicas at 10 in
    flight each (target 50) ask for ceil(8 x 0.2) = 2 from t = 0 on, but the 8 of t = 0 is in the 300 s
    window until t = 300 (a record counts while strictly after now - 300), so the fleet falls to 2 at
    t = 300, not at once."""
    service = Service(replicas=8)
    policy = autoscaler("hpa", metric="concurrency", target=50)
    assert drive(policy, service, "concurrency", lambda t: 80.0, 600) == [(300.0, 2)]


def test_hpa_traffic_step_doubles_the_fleet_at_the_next_sync() -> None:
    """4 replicas at 40 in flight each (target 50): ratio 0.8, ceil(4 x 0.8) = 4, kept. At t = 60 s the
    total jumps to 4 x 100: ratio 2, ceil(4 x 2) = 8, within the limit max(4 + 4, 2 x 4) = 8; then
    (400 / 8) / 50 = 1 holds it."""
    service = Service(replicas=4)
    policy = autoscaler("hpa", metric="concurrency", target=50)
    events = drive(policy, service, "concurrency", lambda t: 4 * 40 if t < 60 else 4 * 100, until=600)
    assert events == [(60.0, 8)]


def test_hpa_scale_up_is_rate_limited_per_15_s() -> None:
    """8 replicas, total 8 x 200 from t = 120 s, target 50: the rule asks 32 every 5 s sync. Limit at
    120: max(8 + 4, 2 x 8) = 16. At 125 and 130 the +8 of t = 120 is within the last 15 s, so the
    period started at 16 - 8 = 8 and the limit stays 16. At 135 that event is 15 s old (not after
    the cutoff): the period starts at 16, limit max(20, 32) = 32."""
    service = Service(replicas=8)
    policy = autoscaler("hpa", metric="concurrency", target=50, sync_period=5)
    events = drive(policy, service, "concurrency", lambda t: 8 * 50 if t < 120 else 8 * 200, until=300)
    assert events == [(120.0, 16), (135.0, 32)]


def test_hpa_scale_up_limit_of_four_pods_beats_100_percent_for_small_fleets() -> None:
    """1 replica at 10x its target: limit max(1 + 4, 2 x 1) = 5; then max(5 + 4, 2 x 5) = 10."""
    service = Service(replicas=1)
    policy = autoscaler("hpa", metric="request_rate", target=10)
    events = drive(policy, service, "request_rate", lambda t: 100.0, until=60)
    assert events == [(0.0, 5), (15.0, 10)]


def test_hpa_holds_within_the_tolerance_band() -> None:
    """10 replicas, target 50, tolerance 0.1: totals 460 and 549 (ratios 0.92 and 1.098) hold; 560
    (1.12) gives ceil(10 x 1.12) = 12 and 440 (0.88) gives ceil(10 x 0.88) = 9 (no down window)."""
    for total, expected in [(460, 10), (549, 10), (560, 12), (440, 9)]:
        policy = autoscaler("hpa", metric="concurrency", target=50, scale_down_window=0)
        assert policy.desired(Service(replicas=10, totals={"concurrency": total}), 0.0) == expected, total
    wide = autoscaler("hpa", metric="concurrency", target=50, tolerance=0.2, scale_down_window=0)
    assert wide.desired(Service(replicas=10, totals={"concurrency": 440}), 0.0) == 10


def test_hpa_scale_down_waits_out_its_window_and_takes_its_highest_recommendation() -> None:
    """8 replicas at target (400, target 50) until t = 150 s, then 300 (recommendation ceil(8 x 0.75)
    = 6) and from 240 s 160 (ceil(8 x 0.4) = 4). The last 8 was recommended at 135 s; it leaves the
    300 s window at 435 s, when the highest recommendation of (135, 435] is 6. The last 6 was at
    225 s (at 6 replicas the rule asks ceil(6 x 160/6/50) = 4): it leaves the window at 525 s."""

    def load(t: float) -> float:
        return 400.0 if t < 150 else 300.0 if t < 240 else 160.0

    service = Service(replicas=8)
    policy = autoscaler("hpa", metric="concurrency", target=50)
    assert drive(policy, service, "concurrency", load, until=900) == [(435.0, 6), (525.0, 4)]


def test_hpa_scale_down_rate_limit() -> None:
    """scale_down_percent 50 per 15 s: 8 -> 4 at t = 0; at 5 and 10 s the period started at 4 + 4 = 8
    (limit 4, kept); at 15 s it starts at 4, limit int(4 x 0.5) = 2, and 2 is what the rule asks."""
    service = Service(replicas=8)
    policy = autoscaler(
        "hpa", metric="concurrency", target=50, sync_period=5, scale_down_window=0, scale_down_percent=50
    )
    assert drive(policy, service, "concurrency", lambda t: 100.0, until=60) == [(0.0, 4), (15.0, 2)]


def test_hpa_scales_from_zero_and_to_zero_when_min_is_0() -> None:
    """No replicas, 500 requests buffered (target 50): ceil(500 / 50) = 10, limited to 0 + 4; then
    (500 / 4) / 50 = 2.5 asks 10, limited to max(4 + 4, 2 x 4) = 8; then 10. Load gone: 0."""
    service = Service(replicas=0, min=0)
    policy = autoscaler("hpa", metric="concurrency", target=50, scale_down_window=0)
    load = lambda t: 500.0 if t < 100 else 0.0  # noqa: E731
    assert drive(policy, service, "concurrency", load, until=150) == [(0.0, 4), (15.0, 8), (30.0, 10), (105.0, 0)]
    assert autoscaler("hpa", target=0.5).desired(Service(replicas=0, min=0, totals={"utilization": 0.0}), 0) == 0


def test_hpa_stays_within_min_and_max() -> None:
    policy = autoscaler("hpa", metric="concurrency", target=50, scale_down_window=0)
    assert policy.desired(Service(replicas=8, max=10, totals={"concurrency": 8 * 100}), 0.0) == 10
    assert policy.desired(Service(replicas=8, min=3, totals={"concurrency": 10}), 15.0) == 3


def test_hpa_scale_up_window_takes_the_lowest_recent_recommendation() -> None:
    """scale_up_window 30 s: a spike at t = 15 s only (rule asks 8) is not followed, since the lower
    recommendation of t = 0 (4) is in the window; a step from t = 60 s is followed at 75 s, when the
    last 4 (t = 45 s) has left the window (45, 75]."""
    service = Service(replicas=4)
    policy = autoscaler("hpa", metric="concurrency", target=50, scale_up_window=30)
    load = lambda t: 400.0 if t == 15 or t >= 60 else 200.0  # noqa: E731
    assert drive(policy, service, "concurrency", load, until=150) == [(75.0, 8)]


def queue_policy(**params: object) -> Autoscaler:
    return autoscaler("queue_length", **{"high": 5, "low": 1, "step": 2, "cooldown": 60, **params})


def test_queue_length_steps_with_a_cooldown() -> None:
    """high 5, low 1, step 2, cooldown 60 s: 40 waiting on 4 replicas (10 each) -> 6 at t = 0; still
    above (6.7 each) but cooling down until t = 60 -> 8 (5 each: not above 5, holds); from t = 90 the
    queue is 2 (0.25 each): -> 6 at 120 s (60 s after the last change), -> 4 at 180 s (0.33 each),
    -> 2 at 240 s (0.5 each); 2 / 2 = 1 is not below 1."""

    def load(t: float) -> float:
        return 40.0 if t < 90 else 2.0

    service = Service(replicas=4)
    policy = queue_policy()
    assert policy.sync_period == 15.0
    assert drive(policy, service, "queue_length", load, until=400) == [
        (0.0, 6),
        (60.0, 8),
        (120.0, 6),
        (180.0, 4),
        (240.0, 2),
    ]


def test_queue_length_holds_between_low_and_high_and_scales_from_zero() -> None:
    policy = queue_policy()
    assert policy.desired(Service(replicas=4, totals={"queue_length": 12.0}), 0.0) == 4
    assert queue_policy().desired(Service(replicas=0, min=0, totals={"queue_length": 1.0}), 0.0) == 2
    assert queue_policy().desired(Service(replicas=0, min=0, totals={"queue_length": 0.0}), 0.0) == 0


def test_queue_length_a_change_clamped_away_starts_no_cooldown() -> None:
    """max 6: 5 -> 6 at t = 0; at 60 s the full queue asks 8, clamped to 6: no change, so the cooldown
    still counts from 0 and the empty queue at 75 s removes 2 at once."""
    service = Service(replicas=5, max=6, totals={"queue_length": 100.0})
    policy = queue_policy()
    assert policy.desired(service, 0.0) == 6
    service.replicas = 6
    assert policy.desired(service, 60.0) == 6
    service.totals["queue_length"] = 0.0
    assert policy.desired(service, 75.0) == 4


def test_queue_length_low_above_high_is_an_error_naming_both() -> None:
    with pytest.raises(ValidationError, match=r"low \(6\) is above high \(5\)"):
        AUTOSCALER.validate_params("queue_length", {"high": 5, "low": 6})


DAY = {"00:00": 4, "08:00": 12, "20:00": 6}


@pytest.mark.parametrize(
    ("clock", "count"),
    [
        (0, 4),
        (8 * 3600 - 1, 4),
        (8 * 3600, 12),
        (20 * 3600 - 1, 12),
        (20 * 3600, 6),
        (86399, 6),
        (86400 + 8 * 3600, 12),
    ],
)
def test_scheduled_follows_the_latest_entry_of_the_day(clock: float, count: int) -> None:
    policy = autoscaler("scheduled", table=DAY)
    assert policy.sync_period == 60.0
    assert policy.desired(Service(replicas=1, max=20), clock) == count


def test_scheduled_wraps_to_the_last_entry_before_the_first() -> None:
    policy = autoscaler("scheduled", table={"08:00": 12, "20:00": 6})
    assert policy.desired(Service(replicas=1), 3 * 3600) == 6
    assert policy.desired(Service(replicas=1), 86400 + 9 * 3600) == 12


def test_scheduled_keys_may_be_durations_into_the_period() -> None:
    policy = autoscaler("scheduled", table={"0h": 2, "8h": 12, "1230m": 6, "07:30:30": 3})
    hours = 3600
    assert [policy.desired(Service(replicas=1), t) for t in (0, 7.5 * hours + 29, 7.5 * hours + 30)] == [2, 2, 3]
    assert [policy.desired(Service(replicas=1), t) for t in (8 * hours, 20.5 * hours - 1, 20.5 * hours)] == [12, 12, 6]


def test_scheduled_with_seconds_keys_a_period_and_clamping() -> None:
    policy = autoscaler("scheduled", table={0: 1, 1800: 9}, period="1h")
    assert policy.desired(Service(replicas=1), 5400) == 9  # 5400 mod 3600 = 1800
    assert policy.desired(Service(replicas=1, max=5), 1800) == 5
    assert policy.desired(Service(replicas=1, min=2), 7200) == 2


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"25:00": 3}, "table key '25:00' is 90000 s into a period of 86400 s"),
        ({"08:61": 3}, "table key '08:61' is not a time of day"),
        ({"noon": 3}, "table key 'noon' is not a time of day"),
        ({}, "give at least one entry"),
        ({"08:00": -1}, r"table\['08:00'\]: -1 replicas"),
        ({"08:00": 3, 28800: 1}, "table keys '08:00' and 28800 are the same time"),
    ],
)
def test_scheduled_table_errors_name_the_bad_key(table: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AUTOSCALER.validate_params("scheduled", {"table": table})
