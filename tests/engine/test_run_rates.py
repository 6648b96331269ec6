"""Runs whose rate changes: work x rate, checkpoint phases and lost work, computed by hand.

A run holds its work left and its rate; a rate change settles the work done and moves the
run's one pending end event. Every expected value below is the arithmetic that gives it,
from the numbers of the case; none is read off a run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dcsim.engine import DataCenterModel
from dcsim.faults.checkpoint import COMPUTE, DONE, RESTART, WRITE, RunClock, progress, wall_time
from dcsim.metrics.tables import jobs_table
from dcsim.workload.jobs import Job

from conftest import build, tiny_data

H = 3600.0


# ---------------------------------------------------------------- the clock alone
def test_a_rate_that_halves_and_doubles_back_moves_the_end_by_hand() -> None:
    """100 s of work: 40 s at rate 1, 40 s at rate 0.5 (20 s of work), the 40 s left at rate 1."""
    clock = RunClock(100.0, float("inf"), 0.0, 0.0, 1.0, since=0.0)
    assert clock.wall_left() == 100.0
    clock.advance(40.0)
    clock.rate = 0.5
    assert clock.unsaved == 40.0 and clock.wall_left() == 60.0 / 0.5
    clock.advance(80.0)
    clock.rate = 1.0
    assert clock.unsaved == 40.0 + 40.0 * 0.5
    assert 80.0 + clock.wall_left() == 120.0
    clock.advance(120.0)
    assert clock.phase == DONE


def test_checkpoint_phases_under_a_rate_change_by_hand() -> None:
    """10 h of work, a checkpoint every 1 h of work (6 min write), rate 0.5 from 2.5 h to 5 h.

    At 2.5 h: two cycles of 1.1 h done, 0.3 h into the third piece. At rate 0.5 its 0.7 h of
    work left take 1.4 h (to 3.9 h), the write 0.1 h (to 4.0 h), then 1 h at 0.5 does 0.5 h
    of the fourth piece; back at rate 1 it ends at 5.5 h, writes to 5.6 h; 6 pieces and 5
    writes are left: the end is 5.6 + 6.5 = 12.1 h, the 10.9 h of an unchanged run plus the
    1.2 h of work done at half speed.
    """
    clock = RunClock(10 * H, 1 * H, 0.1 * H, 0.0, 1.0, since=0.0)
    assert clock.wall_left() == pytest.approx(wall_time(10 * H, 1 * H, 0.1 * H, 0.0))
    clock.advance(2.5 * H)
    assert (clock.k, clock.phase) == (2, COMPUTE) and clock.unsaved == pytest.approx(0.3 * H)
    clock.rate = 0.5
    clock.advance(3.95 * H)  # inside the third write
    assert (clock.k, clock.phase) == (2, WRITE) and clock.left == pytest.approx(0.05 * H)
    p = clock.at(3.95 * H)
    assert p.saved == pytest.approx(2 * H) and p.unsaved == pytest.approx(1 * H)
    assert p.unsaved_wall == pytest.approx((0.3 + 1.4) * H)  # the piece's wall time, at both rates
    assert p.checkpoint == pytest.approx((2 * 0.1 + 0.05) * H)
    clock.advance(5.0 * H)
    assert (clock.k, clock.phase) == (3, COMPUTE) and clock.unsaved == pytest.approx(0.5 * H)
    clock.rate = 1.0
    assert 5.0 * H + clock.wall_left() == pytest.approx(12.1 * H)


def test_a_restart_takes_its_wall_time_whatever_the_rate() -> None:
    """12 min of restart, then 2 h of work without checkpoints; rate 0.25 from 6 min on."""
    clock = RunClock(2 * H, float("inf"), 0.0, 0.2 * H, 1.0, since=0.0)
    clock.advance(0.1 * H)
    clock.rate = 0.25
    p = clock.at(0.15 * H)
    assert (clock.phase, p.restart, p.unsaved) == (RESTART, pytest.approx(0.15 * H), 0.0)
    assert clock.wall_left() == pytest.approx(0.05 * H + 2 * H / 0.25)


@pytest.mark.parametrize("rate", [1.0, 0.45, 2.0])
@pytest.mark.parametrize("elapsed_h", [0.05, 0.5, 1.03, 1.2, 2.15, 3.3, 5.0])
def test_the_clock_at_a_constant_rate_agrees_with_the_closed_form(rate: float, elapsed_h: float) -> None:
    work, interval, write, restart = 3 * H, 1 * H, 0.1 * H, 0.1 * H
    clock = RunClock(work, interval, write, restart, rate, since=0.0)
    assert clock.wall_left() == pytest.approx(wall_time(work, interval, write, restart, rate))
    end = wall_time(work, interval, write, restart, rate)
    t = min(elapsed_h * H, end)
    a, b = clock.at(t), progress(t, work, interval, write, restart, rate)
    assert (a.saved, a.unsaved, a.restart, a.checkpoint, a.unsaved_wall) == pytest.approx(
        (b.saved, b.unsaved, b.restart, b.checkpoint, b.unsaved_wall), abs=1e-6
    )


@pytest.mark.parametrize("seed", range(6))
def test_retime_is_advance_then_a_new_rate_then_wall_left_to_the_last_bit(seed: int) -> None:
    """Two clocks of a run with checkpoints and a restart, one moved by ``retime``, one by
    ``advance``, ``rate =`` and ``wall_left``, through a random history of rate changes
    (some to 0, some at the same instant): the same wall time left and the same state, bit for bit."""
    rng = random.Random(seed)
    args = (3 * H, 0.7 * H, 0.1 * H, 0.05 * H, 1.0)
    a, b = RunClock(*args, since=0.0), RunClock(*args, since=0.0)
    now = 0.0
    for _ in range(200):
        now += rng.choice([0.0, rng.expovariate(1 / 300.0)])
        rate = rng.choice([0.0, rng.uniform(0.2, 3.0), rng.uniform(0.2, 3.0)])
        left = a.retime(now, rate)
        b.advance(now)
        b.rate = rate
        assert left.hex() == b.wall_left().hex()
        assert [getattr(a, k) for k in RunClock.__slots__] == [getattr(b, k) for k in RunClock.__slots__]
    assert a.phase == b.phase


def test_a_stopped_run_never_ends_until_it_moves_again() -> None:
    clock = RunClock(100.0, float("inf"), 0.0, 0.0, 1.0, since=0.0)
    clock.advance(30.0)
    clock.rate = 0.0
    assert clock.wall_left() == float("inf")
    clock.advance(1000.0)
    clock.rate = 2.0
    assert clock.unsaved == 30.0 and clock.wall_left() == 35.0


# ---------------------------------------------------------------- in the engine
def model_with(data: dict[str, Any], changes: list[tuple[float, float]], base_dir: str = ".") -> DataCenterModel:
    """The model of ``data``, with a process that sets the rate of the first job to start at the given times."""
    model = DataCenterModel(build(data, base_dir))
    started: list[Job] = []
    start: Callable[..., None] = model.runs.start

    def capture(job: Job, placement: list[tuple[int, int]]) -> None:
        started.append(job)
        start(job, placement)

    model.runs.start = capture  # type: ignore[method-assign]

    def changer():
        for at, rate in changes:
            yield model.env.timeout(at - model.env.now)
            model.set_rate(started[0], rate)

    model.env.process(changer())
    return model


def one_job(**job: Any) -> dict[str, Any]:
    """Two nodes of 8 GPUs filled by one job started at 0."""
    spec = {"name": "big", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 16, **job}
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        workload={"jobs": [spec]},
    )


def finish_h(model: DataCenterModel) -> float:
    model.run()
    jobs = jobs_table(model.collector, model.topology)
    return float(jobs["finish_s"][0]) / H


def test_a_job_whose_rate_halves_and_doubles_later_finishes_when_the_arithmetic_says() -> None:
    """100 s of work: rate 0.5 from 40 s, 1 from 80 s: 40 + 20 done by 80 s, the 40 left by 120 s."""
    model = model_with(one_job(duration="100s"), [(40.0, 0.5), (80.0, 1.0)])
    assert finish_h(model) * H == pytest.approx(120.0)


def test_a_checkpointing_job_under_a_rate_change_finishes_at_12_1_h() -> None:
    """The case of test_checkpoint_phases_under_a_rate_change_by_hand, in the engine."""
    data = one_job(duration="10h", checkpoint={"interval": "1h", "write": "6m", "restart": "12m"})
    assert finish_h(model_with(data, [(2.5 * H, 0.5), (5.0 * H, 1.0)])) == pytest.approx(12.1)


@pytest.mark.parametrize(
    ("fail_h", "kept_h", "lost_h"),
    [
        # In the third piece at rate 0.5: 0.3 h at rate 1 and 0.5 h at 0.5 computed since the 2nd checkpoint.
        (3.0, 2.0, 0.3 + 0.5),
        # In the third write (3.9 h to 4.0 h): the piece's 1.7 h of wall time are lost with it.
        (3.95, 2.0, 0.3 + 1.4),
        # Just after it (4.0 h): three checkpoints kept, nothing computed since.
        (4.02, 3.0, 0.02),
    ],
)
def test_an_interruption_after_a_rate_change_loses_what_the_arithmetic_says(
    tmp_path: Path, fail_h: float, kept_h: float, lost_h: float
) -> None:
    """Rate 0.5 from 2.5 h; node 1 fails at ``fail_h`` for 1 h; the second run (rate 1) restarts, then works."""
    (tmp_path / "f.csv").write_text(f"time,component,duration\n{fail_h},node:1,1\n")
    data = one_job(duration="10h", checkpoint={"interval": "1h", "write": "6m", "restart": "12m"})
    data["failures"] = {"trace": {"path": "f.csv", "time_unit": "h"}}
    model = model_with(data, [(2.5 * H, 0.5)], base_dir=str(tmp_path))
    end = finish_h(model)
    left = 10 - kept_h
    second_run = 0.2 + left + (round(left) - 1) * 0.1  # restart + work + a write after each hour but the last
    assert end == pytest.approx(fail_h + 1 + second_run)
    interrupted = model.collector.interrupted
    assert list(interrupted["lost_s"]) == pytest.approx([lost_h * H])
