"""Checkpoint/restart arithmetic, working hours and failure-trace parsing, on their own."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcsim.engine.reliability import work_finish
from dcsim.faults.checkpoint import checkpoints, daly, progress, wall_time, young
from dcsim.scenario.schema import WorkingHours

H = 3600.0
pos = st.floats(min_value=1.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(work=pos, interval=pos, write=st.floats(0, 1e4), restart=st.floats(0, 1e4), frac=st.floats(0, 1))
def test_progress_parts_add_up_and_only_checkpoints_are_kept(
    work: float, interval: float, write: float, restart: float, frac: float
) -> None:
    wall = wall_time(work, interval, write, restart)
    p = progress(frac * wall, work, interval, write, restart)
    assert p.saved + p.unsaved + p.restart + p.checkpoint == pytest.approx(frac * wall, rel=1e-9, abs=1e-6)
    k = round(p.saved / interval)
    assert p.saved == pytest.approx(k * interval)  # whole intervals only
    assert k <= checkpoints(work, interval)
    assert p.unsaved <= max(interval, work - checkpoints(work, interval) * interval) + 1e-6


@given(work=pos, interval=pos, write=st.floats(0, 1e4), restart=st.floats(0, 1e4))
def test_a_run_that_completes_did_all_its_work(work: float, interval: float, write: float, restart: float) -> None:
    p = progress(wall_time(work, interval, write, restart), work, interval, write, restart)
    assert p.saved + p.unsaved == pytest.approx(work, rel=1e-9)
    assert p.checkpoint == pytest.approx(checkpoints(work, interval) * write, rel=1e-9, abs=1e-9)


def test_checkpoint_counts_by_hand() -> None:
    assert checkpoints(10 * H, H) == 9  # none after the last hour
    assert checkpoints(9.5 * H, H) == 9
    assert checkpoints(0.5 * H, H) == 0
    assert checkpoints(10 * H, math.inf) == 0
    assert wall_time(10 * H, H, 360.0, 720.0) == pytest.approx(720 + 10 * H + 9 * 360)


def test_young_and_daly_against_published_values() -> None:
    """Daly (2006): delta 5 min gives 117, 57 and 9.1 min at M = 24 h, 6 h, 15 min; Young is sqrt(2 d M)."""
    assert young(300.0, 24 * H) == pytest.approx(math.sqrt(2 * 300 * 24 * H))
    assert daly(300.0, 24 * H) / 60 == pytest.approx(117, abs=0.5)
    assert daly(300.0, 6 * H) / 60 == pytest.approx(57, abs=0.5)
    assert daly(300.0, 15 * 60) / 60 == pytest.approx(9.1, abs=0.1)
    assert daly(3 * H, H) == H  # delta >= 2M: checkpoint every M
    assert daly(60.0, math.inf) == math.inf  # nothing fails: never checkpoint


DAY_SHIFT = WorkingHours(start=8 * H, end=18 * H, days="weekdays")


def test_work_only_progresses_in_working_hours() -> None:
    assert work_finish(9 * H, 2 * H, DAY_SHIFT) == 11 * H  # Monday 09:00 + 2 h
    assert work_finish(17 * H, 2 * H, DAY_SHIFT) == 24 * H + 9 * H  # 1 h Monday, 1 h Tuesday
    assert work_finish(2 * H, H, DAY_SHIFT) == 9 * H  # waits for 08:00
    friday_evening = 4 * 24 * H + 17 * H
    assert work_finish(friday_evening, 2 * H, DAY_SHIFT) == 7 * 24 * H + 9 * H  # Monday 09:00
    every_day = WorkingHours(start=8 * H, end=18 * H, days="all")
    assert work_finish(friday_evening, 2 * H, every_day) == 5 * 24 * H + 9 * H
    assert work_finish(5.0, 7.0, None) == 12.0
