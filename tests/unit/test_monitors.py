"""Labelled Level (time-weighted) and Tally (per-event) monitors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcsim.metrics.collector import Collector
from dcsim.metrics.monitors import Level, Tally, step_integral
from dcsim.metrics.tables import down_table


def test_a_level_integrates_its_steps_over_a_window() -> None:
    level = Level("down_gpus", typecode="q")
    for t, v in [(10.0, 8), (30.0, 0), (50.0, 16)]:
        level.set(t, v)
    # 0 before 10; 8 over [10, 30); 0 over [30, 50); 16 from 50 on.
    assert level.integral(0.0, 100.0) == 8 * 20 + 16 * 50
    assert level.integral(20.0, 60.0) == 8 * 10 + 16 * 10
    assert level.integral(35.0, 45.0) == 0.0
    assert level.mean(0.0, 100.0) == pytest.approx((8 * 20 + 16 * 50) / 100)
    assert level.mean(5.0, 5.0) == 0.0  # an empty window
    assert Level("empty").integral(0.0, 10.0) == 0.0


def test_a_second_change_at_one_instant_replaces_the_first() -> None:
    level = Level("down_gpus", typecode="q")
    level.set(1.0, 8)
    level.set(2.0, 16)
    level.set(2.0, 4)
    times, values = level.series().columns()
    assert times.tolist() == [1.0, 2.0] and values.tolist() == [8, 4]
    assert level.integral(0.0, 3.0) == 8 + 4


def test_labels_keep_one_series_per_key() -> None:
    level = Level("busy_technicians", labels=("site",))
    level.set(0.0, 1, "a")
    level.set(0.0, 2, "b")
    level.set(5.0, 0, "a")
    assert level.keys() == [("a",), ("b",)]
    assert level.integral(0.0, 10.0, "a") == 5.0 and level.integral(0.0, 10.0, "b") == 20.0
    assert sum(s.integral(0.0, 10.0) for _, s in level) == 25.0
    with pytest.raises(ValueError, match="labelled"):
        level.set(1.0, 1)  # a key must name every label


def test_a_tally_counts_sums_and_averages_per_label_inside_a_window() -> None:
    tally = Tally("wait_technician_s", labels=("site",))
    for t, v, site in [(1.0, 10.0, "a"), (2.0, 30.0, "a"), (3.0, 5.0, "b"), (9.0, 50.0, "a")]:
        tally.add(t, v, site)
    a = tally.series("a")
    assert (a.count(), a.total(), a.mean()) == (3, 90.0, 30.0)
    assert (a.count(0.0, 5.0), a.total(0.0, 5.0), a.mean(0.0, 5.0)) == (2, 40.0, 20.0)
    assert math.isnan(a.mean(20.0, 30.0))
    assert tally.keys() == [("a",), ("b",)] and len(tally.series("b")) == 1


def test_the_collector_keeps_gpus_down_as_a_level_and_the_down_table_reads_it() -> None:
    col = Collector()
    col.on_down(1.0, 8)
    col.on_down(1.0, 16)
    col.on_down(4.0, 0)
    down = down_table(col)
    assert down["time_s"].tolist() == [1.0, 4.0] and down["gpus"].tolist() == [16, 0]
    assert str(down["gpus"].dtype) == "int64" and col.down.integral(0.0, 10.0) == 48.0
    assert len(down_table(Collector())) == 0


steps = st.lists(st.tuples(st.integers(0, 1000), st.integers(-50, 50)), min_size=0, max_size=30).map(
    lambda changes: sorted(changes, key=lambda c: c[0])
)
edges = st.tuples(st.integers(-100, 1100), st.integers(-100, 1100)).map(sorted)


def naive_integral(changes: list[tuple[int, int]], start: int, end: int) -> float:
    """Sum the value over each unit step of time: the value at t is the last change at or before t (0 before)."""
    total = 0
    for t in range(start, end):
        value = 0
        for when, v in changes:
            if when <= t:
                value = v  # the last change at one instant wins
        total += value
    return float(total)


@given(steps, edges)
def test_level_integral_matches_a_naive_integration(changes: list[tuple[int, int]], window: list[int]) -> None:
    level = Level("x")
    for t, v in changes:
        level.set(float(t), v)
    start, end = window
    assert level.integral(float(start), float(end)) == pytest.approx(naive_integral(changes, start, end))
    if end > start:
        assert level.mean(float(start), float(end)) == pytest.approx(
            naive_integral(changes, start, end) / (end - start)
        )


def test_step_integral_holds_the_last_level_past_its_time() -> None:
    assert step_integral(np.array([0.0, 5.0]), np.array([1.0, 2.0]), 0.0, 4.0) == 4.0
    assert step_integral(np.array([0.0, 5.0]), np.array([1.0, 2.0]), 0.0, 10.0) == 5.0 + 10.0
