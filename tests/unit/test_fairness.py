"""Fairness across tenants: DRF, weighted max-min and finish-time fairness, on cases worked by hand.

DRF is checked on Ghodsi et al.'s worked example (NSDI 2011, section 4: 9 CPUs and 18 GB;
user A's tasks need <1 CPU, 4 GB>, user B's <3 CPUs, 1 GB>: A gets 3 tasks, B 2, both at a
dominant share of 2/3), on weighted cases by hand, and on its properties with whole tasks
(Pareto efficiency, envy-freeness up to one task) by Hypothesis. The fairness keys are held
to the pure allocations: serving tenants one task at a time by the key reproduces them.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.policies import FAIRNESS
from dcsim.policies.fairness import (
    DominantResourceFairness,
    FinishTimeFairness,
    TenantShare,
    WeightedFairShare,
    drf,
    finish_time_fairness,
    weighted_max_min,
)

H = 3600.0


def test_drf_gives_the_papers_example_3_and_2_tasks_at_equal_dominant_shares() -> None:
    capacity, demands = [9, 18], [[1, 4], [3, 1]]
    tasks = drf(capacity, demands)
    assert tasks == [3, 2]
    # A's dominant resource is memory (4/18 > 1/9), B's is CPU (3/9 > 1/18).
    shares = [n * max(v / c for v, c in zip(d, capacity, strict=True)) for n, d in zip(tasks, demands, strict=True)]
    assert shares == pytest.approx([2 / 3, 2 / 3])


def test_drf_with_weights_gives_the_heavier_user_twice_the_dominant_share() -> None:
    """12 CPUs, 12 GB; A <1 CPU, 1 GB> of weight 2, B <1 CPU, 0 GB> of weight 1: CPU binds, a + b = 12,
    with A's share a/12 twice B's b/12: a = 8, b = 4."""
    assert drf([12, 12], [[1, 1], [1, 0]], [2, 1]) == [8, 4]


def test_drf_weighted_on_the_papers_example_stops_where_neither_next_task_fits() -> None:
    """A of weight 2: per task its weighted dominant share grows by (4/18)/2 = 1/9, B's by 1/3.
    Filling (ties to A): A1 (1/9), B1 (1/3), A2 (2/9), A3 (1/3), A4 (4/9); now 7 CPUs and 17 GB are
    used, B's next task needs 3 CPUs (10 > 9) and A's 4 GB (21 > 18): (4, 1)."""
    assert drf([9, 18], [[1, 4], [3, 1]], [2, 1]) == [4, 1]


def test_drf_respects_a_users_number_of_tasks_and_gives_the_rest_to_the_others() -> None:
    """A has only 1 task; B then takes what its CPU allows: (9 - 1) // 3 = 2 (and 2 GB)."""
    assert drf([9, 18], [[1, 4], [3, 1]], max_tasks=[1, None]) == [1, 2]
    assert drf([9, 18], [[1, 4], [3, 1]], max_tasks=[None, 0]) == [4, 0]  # 18 GB // 4 GB


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (([9], [[1, 2]]), "one demand per resource"),
        (([9], [[-1]]), "demands >= 0"),
        (([9], [[1]], [0]), "weights must be > 0"),
        (([9], [[0]]), "demands nothing"),
    ],
)
def test_drf_refuses_what_has_no_allocation(args: tuple, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        drf(*args)


def _tasks_in(bundle: list[float], demand: list[int]) -> float:
    """Whole tasks of ``demand`` that ``bundle`` holds."""
    return min((math.floor(b / v + 1e-9) for b, v in zip(bundle, demand, strict=True) if v > 0), default=math.inf)


_cases = st.integers(1, 3).flatmap(
    lambda r: st.tuples(
        st.lists(st.integers(1, 30), min_size=r, max_size=r),
        st.lists(st.lists(st.integers(0, 5), min_size=r, max_size=r).filter(any), min_size=2, max_size=4),
    )
)


@settings(max_examples=150, deadline=None)
@given(_cases, st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=4, max_size=4))
def test_drf_is_pareto_efficient_no_user_fits_one_more_task(case: tuple, weights: list[float]) -> None:
    capacity, demands = case
    tasks = drf(capacity, demands, weights[: len(demands)])
    left = [c - sum(t * d[r] for t, d in zip(tasks, demands, strict=True)) for r, c in enumerate(capacity)]
    assert all(v >= -1e-9 for v in left)
    assert all(any(d[r] > left[r] + 1e-9 for r in range(len(capacity))) for d in demands)


@settings(max_examples=150, deadline=None)
@given(_cases)
def test_drf_is_envy_free_up_to_one_task(case: tuple) -> None:
    """With whole tasks no user may prefer another's bundle outright (the paper's property is for
    divisible tasks), but none prefers another's bundle less one of its tasks."""
    capacity, demands = case
    tasks = drf(capacity, demands)
    for i, mine in enumerate(demands):
        for j, theirs in enumerate(demands):
            if i != j and tasks[j]:
                assert _tasks_in([(tasks[j] - 1) * v for v in theirs], mine) <= tasks[i]


def test_drf_with_whole_tasks_is_not_strategy_proof_the_case_background_md_gives() -> None:
    """The paper proves strategy-proofness for divisible tasks. With whole tasks: capacity 20, tasks of 1, 4 and
    3 units give 6, 2 and 2 tasks; the first user asking for tasks of 4 gets 2 of them, 8 units: 8 true tasks."""
    assert drf([20], [[1], [4], [3]]) == [6, 2, 2]
    lie = drf([20], [[4], [4], [3]])
    assert lie[0] * 4 // 1 == 8 > 6


def serve_by_key(policy: object, tenants: list[TenantShare], demands: list[dict[str, float]]) -> list[int]:
    """Offer one task at a time to the tenant with the smallest key whose task still fits; count the tasks."""
    capacity = tenants[0].capacity
    tasks = [0] * len(tenants)
    while True:
        fits = [t for t in tenants
                if all(t_used + d <= capacity[r] - sum(o.used[r] for o in tenants) + t_used + 1e-9
                       for r, d in demands[t.index].items() for t_used in [t.used[r]])]  # fmt: skip
        if not fits:
            return tasks
        best = min(fits, key=lambda t: (policy.key(t, 0.0), t.index))  # type: ignore[attr-defined]
        for r, d in demands[best.index].items():
            best.used[r] += d
        tasks[best.index] += 1


def test_serving_tenants_by_the_drf_key_reproduces_drf_on_the_papers_example() -> None:
    capacity = {"cpus": 9.0, "memory": 18.0}
    demands = [{"cpus": 1.0, "memory": 4.0}, {"cpus": 3.0, "memory": 1.0}]
    key = DominantResourceFairness(DominantResourceFairness.Params(), None)
    for weights in ([1.0, 1.0], [2.0, 1.0], [1.0, 3.0]):
        tenants = [TenantShare(i, f"t{i}", weight=w, used={"cpus": 0.0, "memory": 0.0}, capacity=capacity)
                   for i, w in enumerate(weights)]  # fmt: skip
        expected = drf([9, 18], [[1, 4], [3, 1]], weights)
        assert serve_by_key(key, tenants, demands) == expected


def test_weighted_max_min_water_fills_the_level() -> None:
    """17 GPUs, weights 2, 1, 1, demands 20, 2, 20: level 17/4 would give the second 4.25 > 2, so it gets its 2;
    the other 15 GPUs over weight 3: level 5, so 10 and 5."""
    assert weighted_max_min(17, [20, 2, 20], [2, 1, 1]) == pytest.approx([10.0, 2.0, 5.0])
    assert weighted_max_min(10, [3, 4]) == pytest.approx([3.0, 4.0])  # all demand met
    assert weighted_max_min(6, [5, 5, 5], [1, 1, 1]) == pytest.approx([2.0, 2.0, 2.0])


def test_serving_one_gpu_at_a_time_by_the_fair_share_key_reproduces_the_water_filling() -> None:
    key = WeightedFairShare(WeightedFairShare.Params(), None)
    capacity = {"gpus": 17.0}
    tenants = [TenantShare(i, f"t{i}", weight=w, used={"gpus": 0.0}, capacity=capacity)
               for i, w in enumerate([2.0, 1.0, 1.0])]  # fmt: skip
    demands = [{"gpus": 1.0}] * 3
    limits = [20, 2, 20]

    class Capped:
        """The key, for tenants with GPUs left to ask for (a tenant at its demand has no job waiting)."""

        def key(self, t: TenantShare, now: float) -> float:
            return key.key(t, now) if t.used["gpus"] < limits[t.index] else math.inf

    got = serve_by_key(Capped(), tenants, demands)
    got = [min(g, lim) for g, lim in zip(got, limits, strict=True)]
    assert got == pytest.approx(weighted_max_min(17, limits, [2, 1, 1]))


def tenant(held: float, queued: float, work_h: float, left_h: float, submit_h: float, **extra: float) -> TenantShare:
    return TenantShare(0, "t", used={"gpus": held}, capacity={"gpus": 64.0}, queued_gpus=queued,
                       work_gpu_s=work_h * H, work_left_gpu_s=left_h * H, first_submit_s=submit_h * H,
                       contending=2, **extra)  # fmt: skip


def test_themis_rho_is_shared_over_ideal_finish_time() -> None:
    """64 GPUs, 2 tenants: an ideal share of 32 (the tenant asks for 16 held + 16 queued = 32). 320 GPU-h of
    work, 160 left, submitted at 0, now 8 h: T_ideal = 320 / 32 = 10 h, T_shared = 8 + 160 / 16 = 18 h."""
    rho, waited = finish_time_fairness(tenant(16, 16, 320, 160, 0), 8 * H)
    assert rho == pytest.approx((8 + 160 / 16) / (320 / 32))
    assert waited == pytest.approx(8 / (320 / 32))


def test_themis_ideal_share_is_what_the_tenant_asks_for_when_less_than_1_over_n() -> None:
    """It holds 4 GPUs and queues none: its ideal is 4 GPUs, not 32; 40 GPU-h, 20 left, 5 h in: rho = 1."""
    rho, _ = finish_time_fairness(tenant(4, 0, 40, 20, 0), 5 * H)
    assert rho == pytest.approx((5 + 20 / 4) / (40 / 4))


def test_themis_without_total_work_takes_the_work_left() -> None:
    rho, _ = finish_time_fairness(tenant(16, 16, 0, 160, 0), 8 * H)
    assert rho == pytest.approx((8 + 160 / 16) / (160 / 32))


def test_themis_serves_the_tenant_furthest_behind_first() -> None:
    """A holds nothing (rho infinite), B is at rho 1.8, C at rho 1.0: A, B, C; of two that hold nothing,
    the one that has waited longer for its ideal time goes first."""
    policy = FAIRNESS.create("themis", None, None)
    assert isinstance(policy, FinishTimeFairness)
    now = 8 * H
    a = tenant(0, 32, 320, 320, 0)  # waited 8 h of an ideal 10 h
    b = tenant(16, 16, 320, 160, 0)
    c = tenant(4, 0, 40, 20, 3)  # 5 h in, 5 h to go at 4 GPUs: ideal 10 h, shared 10 h
    d = tenant(0, 32, 320, 320, 4)  # waited 4 h of 10
    order = sorted([("b", b), ("c", c), ("d", d), ("a", a)], key=lambda p: policy.key(p[1], now))
    assert [name for name, _ in order] == ["a", "d", "b", "c"]
    assert policy.key(b, now) == pytest.approx((-1.8, -0.8))
