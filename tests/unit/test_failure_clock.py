"""Failure models and the failure clock against their definitions (groundwork of the reliability model)."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from dcsim.core.rng import stream
from dcsim.faults.clock import FailureClock
from dcsim.faults.models import YEAR_S, TimeToFailure, time_to_failure
from dcsim.scenario.schema import FailureModel

H = 3600.0


@pytest.mark.parametrize(
    "ttf",
    [
        TimeToFailure("exponential", 100 * H),
        TimeToFailure("weibull", 100 * H, shape=0.7),
        TimeToFailure("lognormal", 100 * H, sigma=1.2),
    ],
    ids=lambda t: t.dist,
)
def test_draws_have_the_declared_mean(ttf: TimeToFailure) -> None:
    x = ttf.draw(stream(1, "t"), 200_000)
    assert abs(x.mean() - ttf.mean_s) <= 4 * x.std(ddof=1) / math.sqrt(x.size)


def test_models_read_mtbf_afr_and_per_type_overrides() -> None:
    assert time_to_failure(FailureModel(mtbf="50000h")).mean_s == 50000 * H
    assert time_to_failure(FailureModel(afr=2.0)).mean_s == YEAR_S / 2
    model = FailureModel.model_validate({"dist": "weibull", "shape": 0.8, "mtbf": "30000h",
                                         "per_type": {"A100": {"mtbf": "90000h"}}})  # fmt: skip
    assert time_to_failure(model, "H100") == TimeToFailure("weibull", 30000 * H, 0.8, None)
    assert time_to_failure(model, "A100") == TimeToFailure("exponential", 90000 * H)
    only_types = FailureModel.model_validate({"per_type": {"A100": {"afr": 0.1}}})
    assert time_to_failure(only_types, "H100") is None


def count_failures(ttf: TimeToFailure, n: int, horizon: float, seed: int) -> int:
    """Failures of n components over the horizon, each repaired at once (re-armed at its failure)."""
    clock = FailureClock(ttf, n, stream(seed, "failures.gpu"))
    count = 0
    while (nxt := clock.peek()) is not None and nxt[0] <= horizon:
        t, c = clock.pop()
        count += 1
        clock.rearm(c, t)
    return count


def test_failures_of_a_population_are_poisson_with_rate_n_over_mtbf() -> None:
    """1,000 exponential components, MTBF 100 h, 50 h: the count is Poisson with mean 500 (20 seeds, 4 s.e.)."""
    ttf = TimeToFailure("exponential", 100 * H)
    counts = np.array([count_failures(ttf, 1000, 50 * H, seed) for seed in range(20)])
    mean = 1000 * 50 / 100
    assert abs(counts.mean() - mean) <= 4 * math.sqrt(mean / counts.size)
    assert abs(counts.var(ddof=1) / mean - 1) < 0.8  # Poisson: variance = mean (loose: 20 samples)


def test_renewal_rate_of_weibull_components_is_one_over_the_mean() -> None:
    """Weibull k=0.7 renewals over 200 mean lifetimes: failures per component per second -> 1/mean."""
    ttf = TimeToFailure("weibull", 10 * H, shape=0.7)
    rates = np.array([count_failures(ttf, 50, 2000 * H, seed) / (50 * 2000 * H) for seed in range(20)])
    se = rates.std(ddof=1) / math.sqrt(rates.size)
    assert abs(rates.mean() - ttf.rate_per_s) <= 4 * se + 0.01 * ttf.rate_per_s  # +1 %: the start-up transient


def availability(mtbf: float, mttr: float, horizon: float, n: int, seed: int) -> float:
    """Share of component-time up when each failure is repaired after ``mttr`` (a small event loop)."""
    clock = FailureClock(TimeToFailure("exponential", mtbf), n, stream(seed, "failures.node"))
    repairs: list[tuple[float, int]] = []
    down_s = 0.0
    while True:
        nxt = clock.peek()
        if repairs and (nxt is None or repairs[0][0] <= nxt[0]):
            t, c = heapq.heappop(repairs)
            clock.rearm(c, t)
            continue
        if nxt is None or nxt[0] > horizon:
            break
        t, c = clock.pop()
        heapq.heappush(repairs, (t + mttr, c))
        down_s += min(mttr, horizon - t)
    return 1 - down_s / (n * horizon)


def test_availability_with_a_fixed_repair_time_is_mtbf_over_mtbf_plus_mttr() -> None:
    """MTBF 100 h, repair 25 h: a component is up 100 / (100 + 25) of the time (20 seeds, 4 s.e.)."""
    mtbf, mttr = 100 * H, 25 * H
    reps = np.array([availability(mtbf, mttr, 5000 * H, 10, seed) for seed in range(20)])
    assert abs(reps.mean() - mtbf / (mtbf + mttr)) <= 4 * reps.std(ddof=1) / math.sqrt(reps.size)


def test_a_disarmed_component_does_not_fail_until_rearmed() -> None:
    clock = FailureClock(TimeToFailure("exponential", H), 10, stream(4, "f"))
    for c in range(0, 10, 2):
        clock.disarm(c)
    seen, last = [], 0.0
    while clock.peek() is not None:
        t, c = clock.pop()
        assert t >= last
        last = t
        seen.append(c)
    assert sorted(seen) == [1, 3, 5, 7, 9]  # each once: popped components are down
    assert len(clock) == 0
    assert clock.rearm(4, 10 * H) > 10 * H
    assert clock.peek()[1] == 4 and len(clock) == 1


def test_rearming_many_times_keeps_one_live_entry_per_component() -> None:
    """Stale entries are dropped: after 100,000 re-arms of 10 components the heap stays small."""
    clock = FailureClock(TimeToFailure("exponential", H), 10, stream(5, "f"))
    rng = np.random.default_rng(0)
    for i in range(100_000):
        clock.rearm(int(rng.integers(10)), float(i))
    assert len(clock._heap) <= 4 * 10 + 1024 + 1
    assert len(clock) == 10
