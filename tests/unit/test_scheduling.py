"""Scheduler policies order the queue; the queue keeps that order (no SimPy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from dcsim.core.errors import UnknownPolicyError
from dcsim.policies import SCHEDULER
from dcsim.workload.jobs import RUNNING, Job
from dcsim.workload.queue import JobQueue


@dataclass
class View:
    """The fields a scheduler reads."""

    submit_time: float
    estimate: float = 0.0
    expected_duration: float = 0.0
    priority: int = 0


def order(name: str, jobs: list[View], **params) -> list[int]:
    """Indexes of ``jobs`` in the order the scheduler's keys put them (ties by index)."""
    s = SCHEDULER.create(name, params, np.random.default_rng(0))
    return sorted(range(len(jobs)), key=lambda i: (s.key(jobs[i]), i))


def test_fifo_orders_by_submission() -> None:
    jobs = [View(30.0), View(10.0), View(20.0)]
    assert order("fifo", jobs) == [1, 2, 0]


def test_sjf_orders_by_declared_run_time() -> None:
    jobs = [View(0.0, estimate=300.0), View(1.0, estimate=100.0), View(2.0, estimate=200.0)]
    assert order("sjf", jobs) == [1, 2, 0]


def test_sjf_on_class_mean_ignores_the_declared_time() -> None:
    jobs = [View(0.0, estimate=1.0, expected_duration=50.0), View(1.0, estimate=99.0, expected_duration=10.0)]
    assert order("sjf", jobs, estimate="class_mean") == [1, 0]
    assert order("sjf", jobs) == [0, 1]


def test_priority_runs_highest_first_then_earliest() -> None:
    jobs = [View(0.0, priority=0), View(1.0, priority=5), View(2.0, priority=5), View(3.0, priority=1)]
    assert order("priority", jobs) == [1, 2, 3, 0]


def test_backfill_is_off_by_default_and_a_parameter() -> None:
    assert SCHEDULER.create("fifo", {}, np.random.default_rng(0)).backfill is False
    assert SCHEDULER.create("sjf", {"backfill": True}, np.random.default_rng(0)).backfill is True


def test_unknown_scheduler_lists_valid_names() -> None:
    with pytest.raises(UnknownPolicyError, match=", ".join(SCHEDULER.names())):  # fifo, ..., sjf
        SCHEDULER.lookup("lifo")


def _job(i: int, t: float) -> Job:
    return Job(i, "c", "t", 0, 1, 1.0, 1.0, 1.0, t, (0,))


def test_queue_keeps_key_order_and_skips_jobs_that_left() -> None:
    """Keys 5, 1, 3 queue as 1, 3, 5; a job taken from the middle is skipped after discard()."""
    q = JobQueue()
    jobs = [_job(i, 0.0) for i in range(3)]
    assert q.push(5.0, jobs[0]) is True  # first in line
    assert q.push(1.0, jobs[1]) is True  # jumps ahead
    assert q.push(3.0, jobs[2]) is False
    assert [j.id for j in q] == [1, 2, 0]
    jobs[2].state = RUNNING
    q.discard(jobs[2])
    assert [j.id for j in q] == [1, 0] and len(q) == 2
    assert q.first() is jobs[1]


def test_queue_stays_correct_through_many_removals() -> None:
    """Random pushes and removals keep order and length equal to a plain sorted list's."""
    rng = np.random.default_rng(3)
    q = JobQueue(by_class=True)
    ref: list[tuple[float, int]] = []
    jobs = {}
    for i in range(3000):
        if ref and rng.random() < 0.5:
            k = int(rng.integers(len(ref))) if rng.random() < 0.5 else 0
            _, jid = ref.pop(k)
            jobs[jid].state = RUNNING
            q.discard(jobs[jid])
        else:
            key = float(rng.integers(0, 50))
            jobs[i] = _job(i, key)
            q.push(key, jobs[i])
            ref.append((key, i))
            ref.sort()
        assert len(q) == len(ref)
    assert [j.id for j in q] == [jid for _, jid in ref]
    assert q.classes is not None
    assert sum(run.live for run in q.classes.values()) == len(ref)
