"""Gavel's max-min fairness LP (dcsim/policies/gavel.py) on 2-job, 2-type cases worked by hand.

Pools 0 (fast) and 1 (slow); a job's row of speeds is its rate in each. ``X_equal`` gives each of the
n jobs 1/n of every pool, ``gpus_q / (n gpus_j)`` of the time there, scaled so its row sums to at most 1.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.engine import DataCenterModel
from dcsim.policies import gavel
from dcsim.policies.gavel import FairProblem, max_min_fairness

from conftest import build, run_data, tiny_data


def test_equal_share_is_one_nth_of_every_pool_scaled_to_a_whole_row() -> None:
    """2 jobs, 1 fast GPU and 3 slow: 1/2 and 3/2 of the time before scaling (row 2), so 1/4 and 3/4."""
    problem = FairProblem([{0: 1.0, 1: 0.25}, {0: 1.0, 1: 1.0}], [1, 1], {0: 1.0, 1: 3.0})
    assert problem.equal_share() == [pytest.approx({0: 0.25, 1: 0.75})] * 2
    assert problem.equal_throughput() == pytest.approx([0.25 + 0.75 * 0.25, 1.0])
    # A 2-GPU job takes half as much of the time: 1 / (2 x 2) and 3 / (2 x 2), row 1, not scaled.
    assert FairProblem([{0: 1.0, 1: 1.0}] * 2, [2, 1], {0: 1.0, 1: 3.0}).equal_share()[0] == pytest.approx(
        {0: 0.25, 1: 0.75}
    )


def test_the_job_that_loses_most_on_slow_gpus_gets_the_fast_one() -> None:
    """A runs at 0.25 on the slow GPU, B at 1 on both; one GPU each. Equal shares: A 1/2 x (1 + 0.25) = 0.625,
    B 1. B can never beat 1 (its row sums to 1 at rate 1), so the optimal minimum is 1; at it, the most total:
    A all on the fast GPU (1 / 0.625 = 1.6), B all on the slow one (1)."""
    problem = FairProblem([{0: 1.0, 1: 0.25}, {0: 1.0, 1: 1.0}], [1, 1], {0: 1.0, 1: 1.0})
    solution = max_min_fairness(problem)
    assert solution.minimum == pytest.approx(1.0)
    assert solution.allocation == [pytest.approx({0: 1.0}), pytest.approx({1: 1.0})]
    assert solution.normalised(problem) == pytest.approx([1 / 0.625, 1.0])


def test_a_two_gpu_job_and_a_one_gpu_job_share_the_fast_pool_at_10_over_9() -> None:
    """2 GPUs per pool, both jobs at 0.5 on slow GPUs; A needs 2 GPUs, B 1. Equal shares: each 1/2 of the
    time in each pool, throughput 0.75. With B on fast GPUs a fraction b of the time, the fast pool full
    (A there (2 - b) / 2) and both rows full: A = 1 - b/4, B = 1/2 + b/2, equal at b = 2/3, both 5/6:
    normalised (5/6) / 0.75 = 10/9."""
    problem = FairProblem([{0: 1.0, 1: 0.5}, {0: 1.0, 1: 0.5}], [2, 1], {0: 2.0, 1: 2.0})
    solution = max_min_fairness(problem)
    assert solution.minimum == pytest.approx(10 / 9, rel=1e-6)
    assert min(solution.normalised(problem)) == pytest.approx(10 / 9, rel=1e-6)


_jobs = st.lists(
    st.tuples(st.sampled_from([1, 2, 4]), st.floats(0.1, 1.0), st.floats(0.1, 1.0), st.booleans()),
    min_size=1,
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(_jobs, st.integers(1, 8), st.integers(0, 8))
def test_the_allocation_is_feasible_and_no_job_gets_less_than_its_equal_share(
    jobs: list[tuple[int, float, float, bool]], fast: int, slow: int
) -> None:
    """X_equal is feasible, so the optimal minimum is at least 1; the answer keeps rows and pools within bounds."""
    speeds = [{0: f, 1: s} if both else {0: f} for _, f, s, both in jobs]
    problem = FairProblem(speeds, [g for g, *_ in jobs], {0: float(fast), 1: float(slow)})
    solution = max_min_fairness(problem)
    assert solution.status == "optimal"
    assert solution.minimum >= 1.0 - 1e-6
    assert min(solution.normalised(problem)) >= solution.minimum * (1 - 1e-6) - 1e-9
    assert all(sum(row.values()) <= 1 + 1e-6 for row in solution.allocation)
    for q, gpus in problem.capacity.items():
        used = sum(g * row.get(q, 0.0) for g, row in zip(problem.gpus, solution.allocation, strict=True))
        assert used <= gpus + 1e-6


def test_without_an_optimal_answer_the_backfill_pass_decides_and_the_fallback_is_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gavel, "solve_rows", lambda *_args, **_kw: ("time_limit", []))
    data: dict[str, Any] = tiny_data(
        policies={"scheduler": "gavel", "placement": "first_fit"}, preemption={"save": "on_preemption"}
    )
    model = DataCenterModel(build(data))
    model.run()
    scheduler = model.scheduler
    assert scheduler.fallbacks == len(scheduler.log) > 0
    assert all(r.status == "time_limit" and r.preempted == 0 for r in scheduler.log)
    # Every job ran (started by the backfill pass) and ended; the summary counts the fallbacks.
    summary = run_data(data).summary
    assert summary["jobs"]["completed"] == data["workload"]["jobs"][0]["count"]
    assert summary["scheduler"]["fallbacks"] == summary["scheduler"]["epochs"] > 0


def test_a_running_job_allocated_all_of_its_pool_keeps_it_against_jobs_that_never_ran() -> None:
    """Pool 0 of 2 GPUs; R runs there with allocation 1 and has run every round (priority 1 / 1 = 1); Q1 and Q2,
    queued, allocated half of it each, never ran (priority infinite). By priority alone Q1 and Q2 would take
    both GPUs and R would be preempted; R's allocation says it runs all the time, so it keeps its GPU and Q1
    (the earlier id) takes the other."""
    scheduler = gavel.Gavel(gavel.GavelParams(), None)
    r = SimpleNamespace(id=0, gpus=1, submit_time=0.0)
    q1, q2 = (SimpleNamespace(id=i, gpus=1, submit_time=0.0) for i in (1, 2))
    scheduler.active, scheduler.ran = {0: 3}, {0: {0: 3}}
    assert scheduler.priority(r, 0, 1.0) == 1.0 and scheduler.priority(q1, 0, 0.5) == float("inf")
    chosen = scheduler._choose(
        [r, q1, q2], [r], {0: 0}, [{0: 1.0}] * 3, [{0: 1.0}, {0: 0.5}, {0: 0.5}], {0: 2.0}, None, True
    )
    assert [(job.id, pool) for job, pool in chosen] == [(0, 0), (1, 0)]
