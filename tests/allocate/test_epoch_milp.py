"""The epoch MILP of the ``lp`` scheduler, with no engine: solver answers against enumeration.

Every expected optimum below is either enumerated (:func:`brute_force`, and for the
random instances also an independent enumeration written here) or written as the
arithmetic of the few choices a hand case has.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcsim.allocate.epoch import (
    TERMS,
    Bin,
    Candidate,
    EpochProblem,
    brute_force,
    build_epoch,
    feasible,
    solve_epoch,
    terms_of,
)

SOLVERS = ["highs", "cbc"]


def objective(problem: EpochProblem, chosen: list[Candidate]) -> float:
    """The MILP objective of a choice, from the problem's definition (not from terms_of)."""
    started = {c.job for c in chosen}
    return sum(c.cost + c.fault + c.fragmentation for c in chosen) + sum(
        w for j, w in enumerate(problem.wait) if j not in started
    )


def fits(problem: EpochProblem, chosen: list[Candidate]) -> bool:
    """Feasibility written out again: one start per job; every bin (with what its sub-bins take) within capacity."""
    if len({c.job for c in chosen}) != len(chosen):
        return False
    for b, spec in enumerate(problem.bins):
        inside = [c for c in chosen if c.bin == b or b in problem.bins[c.bin].parents]
        if sum(c.gpus for c in inside) > spec.free or sum(c.whole for c in inside) > spec.whole:
            return False
    return True


def enumerate_optimum(problem: EpochProblem) -> float:
    """The optimum by enumeration, independent of the module's brute_force."""
    options = [[None] + [c for c in problem.candidates if c.job == j] for j in range(len(problem.wait))]
    best = float("inf")
    for pick in itertools.product(*options):
        chosen = [c for c in pick if c is not None]
        if fits(problem, chosen):
            best = min(best, objective(problem, chosen))
    return best


# ---------------------------------------------------------------------------- random instances
@st.composite
def epoch_problems(draw: st.DrawFn) -> EpochProblem:
    """2-4 jobs; 1-3 pools of 1-2 racks of 1-2 node bins; capacities that nest (a parent holds
    at least what its listed children hold, and maybe nodes that are not bins)."""
    bins: list[Bin] = []
    pools = draw(st.integers(1, 3))
    for _ in range(pools):
        n = draw(st.sampled_from([4, 8]))
        pool_index = len(bins)
        bins.append(Bin(0, 0))  # filled in below
        pool_free = pool_whole = 0
        for _ in range(draw(st.integers(1, 2))):
            rack_index = len(bins)
            bins.append(Bin(0, 0))
            rack_free = rack_whole = 0
            for _ in range(draw(st.integers(1, 2))):
                f = draw(st.integers(0, n))
                bins.append(Bin(f, int(f == n), (rack_index, pool_index)))
                rack_free += f
                rack_whole += int(f == n)
            extra_whole = draw(st.integers(0, 2))  # rack nodes not listed as bins
            extra_part = draw(st.integers(0, n - 1))
            rack_free += extra_whole * n + extra_part
            rack_whole += extra_whole
            bins[rack_index] = Bin(rack_free, rack_whole, (pool_index,))
            pool_free += rack_free
            pool_whole += rack_whole
        bins[pool_index] = Bin(pool_free, pool_whole)
    jobs = draw(st.integers(2, 4))
    money = st.floats(0, 5, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3))
    waits = st.floats(0, 30, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3))
    wait = [draw(waits) for _ in range(jobs)]
    candidates: list[Candidate] = []
    for j in range(jobs):
        gpus = draw(st.integers(1, 20))
        where = draw(st.lists(st.integers(0, len(bins) - 1), min_size=0, max_size=4, unique=True))
        for b in where:
            whole = draw(st.integers(0, 2))
            candidates.append(Candidate(j, b, gpus, whole, draw(money), draw(money), draw(money)))
    return EpochProblem(bins, candidates, wait)


@pytest.mark.parametrize("solver", SOLVERS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=epoch_problems())
def test_solver_matches_brute_force_on_random_tiny_epochs(solver: str, problem: EpochProblem) -> None:
    """The solver's optimum equals enumeration's (both the module's and one written here), and is feasible."""
    solution = solve_epoch(problem, solver, time_limit=30.0)
    assert solution.status == "optimal"
    best, best_choice = brute_force(problem)
    assert enumerate_optimum(problem) == pytest.approx(best, abs=1e-9)
    assert fits(problem, best_choice) and feasible(problem, best_choice)
    assert feasible(problem, solution.chosen)
    assert fits(problem, solution.chosen)
    assert objective(problem, solution.chosen) == pytest.approx(best, abs=1e-6)
    # The reported terms are those of the choice, and add up to the objective.
    assert set(solution.terms) == set(TERMS)
    assert sum(solution.terms.values()) == pytest.approx(objective(problem, solution.chosen), abs=1e-9)
    for c in solution.chosen:
        assert c in problem.candidates


@settings(max_examples=60, deadline=None)
@given(problem=epoch_problems(), seed=st.integers(0, 2**16))
def test_feasible_agrees_with_the_written_out_rule(problem: EpochProblem, seed: int) -> None:
    """feasible() on random subsets of candidates agrees with the rule written out in this file."""
    rng = random.Random(seed)
    for _ in range(10):
        chosen = [c for c in problem.candidates if rng.random() < 0.5]
        assert feasible(problem, chosen) == fits(problem, chosen)


# ---------------------------------------------------------------------------- hand cases
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(("wait", "starts"), [(4.9, False), (5.1, True)])
def test_a_job_waits_while_its_cheapest_start_costs_more_than_waiting(solver: str, wait: float, starts: bool) -> None:
    """One job, two bins: prices 2+2+1 = 5 and 3+3+0 = 6. It starts (in the 5 bin) only if waiting costs more than 5."""
    bins = [Bin(16, 2), Bin(8, 1, (0,)), Bin(8, 1, (0,))]
    cheap = Candidate(0, 1, 8, 1, cost=2.0, fault=2.0, fragmentation=1.0)
    dear = Candidate(0, 2, 8, 1, cost=3.0, fault=3.0, fragmentation=0.0)
    problem = EpochProblem(bins, [cheap, dear], [wait])
    solution = solve_epoch(problem, solver)
    assert solution.status == "optimal"
    if starts:
        assert solution.chosen == [cheap]
        assert solution.terms == {"cost": 2.0, "fault": 2.0, "fragmentation": 1.0, "network": 0.0, "wait": 0.0}
    else:
        assert solution.chosen == []
        assert solution.terms == {"cost": 0.0, "fault": 0.0, "fragmentation": 0.0, "network": 0.0, "wait": wait}
    assert brute_force(problem)[0] == pytest.approx(min(wait, 2.0 + 2.0 + 1.0))


@pytest.mark.parametrize("solver", SOLVERS)
def test_of_two_jobs_competing_for_a_bin_the_one_with_larger_wait_minus_price_starts(solver: str) -> None:
    """8 free GPUs; job 0 (6 GPUs) waits 10, costs 3; job 1 (4 GPUs) waits 9, costs 1. Both need 10 > 8.

    Start job 0: 3 + 9 = 12. Start job 1: 1 + 10 = 11. Neither: 19. So job 1, though job 0 waits more.
    """
    bins = [Bin(8, 0)]
    a = Candidate(0, 0, 6, 0, cost=3.0)
    b = Candidate(1, 0, 4, 0, cost=1.0)
    problem = EpochProblem(bins, [a, b], [10.0, 9.0])
    solution = solve_epoch(problem, solver)
    assert solution.status == "optimal"
    assert solution.chosen == [b]
    assert sum(solution.terms.values()) == pytest.approx(min(3 + 9, 1 + 10, 10 + 9))
    assert not feasible(problem, [a, b])


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_parent_bins_whole_nodes_bind_across_two_child_bins(solver: str) -> None:
    """A rack (20 free GPUs, 2 whole free nodes) with node bins A and B (8 free each, whole).

    Job 0: 16 GPUs on 2 whole nodes of the rack (wait 10). Jobs 1 and 2: 2 GPUs breaking
    node A, resp. node B (wait 6 each). GPUs: 16 + 2 + 2 = 20 fit; whole nodes 2 + 1 + 1 = 4 > 2.
    Job 0 alone leaves 6 + 6 = 12 waiting; jobs 1 and 2 leave 10; so 1 and 2 start, the
    rack's whole-node row (not any node's) keeping job 0 out.
    """
    bins = [Bin(20, 2), Bin(8, 1, (0,)), Bin(8, 1, (0,))]
    big = Candidate(0, 0, 16, 2)
    on_a = Candidate(1, 1, 2, 1)
    on_b = Candidate(2, 2, 2, 1)
    problem = EpochProblem(bins, [big, on_a, on_b], [10.0, 6.0, 6.0])
    # Every node bin and the rack's GPUs allow all three; only the rack's whole nodes do not.
    assert sum(c.gpus for c in problem.candidates) <= bins[0].free
    assert not feasible(problem, [big, on_a, on_b])
    assert not feasible(problem, [big, on_a]) and not feasible(problem, [big, on_b])
    solution = solve_epoch(problem, solver)
    assert solution.status == "optimal"
    assert sorted(c.job for c in solution.chosen) == [1, 2]
    assert solution.terms["wait"] == pytest.approx(10.0)
    assert brute_force(problem)[0] == pytest.approx(min(6.0 + 6.0, 10.0, 10.0 + 6.0 + 6.0))


@pytest.mark.parametrize("solver", SOLVERS)
def test_no_candidates_means_every_job_waits(solver: str) -> None:
    problem = EpochProblem([Bin(0, 0)], [], [1.5, 2.5])
    solution = solve_epoch(problem, solver)
    assert (solution.status, solution.chosen, solution.variables) == ("optimal", [], 0)
    assert solution.terms["wait"] == pytest.approx(1.5 + 2.5)


def test_model_has_one_x_per_candidate_and_one_z_per_job_with_candidates() -> None:
    """Job 2 has no candidate: it gets no variable (it waits, a constant of the objective)."""
    bins = [Bin(8, 1)]
    cands = [Candidate(0, 0, 8, 1), Candidate(1, 0, 4, 0), Candidate(0, 0, 8, 1, cost=1.0)]
    problem = EpochProblem(bins, cands, [1.0, 1.0, 1.0])
    prob, x = build_epoch(problem)
    assert len(x) == len(cands)
    assert len(prob.variables()) == len(cands) + 2
    solution = solve_epoch(problem, "highs")
    assert solution.variables == len(cands) + 2
    # Job 0 (8 GPUs) and job 1 (4 GPUs) cannot share 8 GPUs; both wait 1: one starts at price 0.
    assert solution.status == "optimal"
    assert sum(solution.terms.values()) == pytest.approx(1.0 + 1.0)
    assert terms_of(problem, solution.chosen) == solution.terms


# ---------------------------------------------------------------------------- time-outs
def hard_instance(jobs: int = 80, nodes: int = 40, seed: int = 7) -> EpochProblem:
    """A loaded epoch: many jobs of 1-8 GPUs, each allowed on every partly free node of 4 racks."""
    rng = random.Random(seed)
    racks = 4
    bins = [Bin(0, 0)] + [Bin(0, 0, (0,)) for _ in range(racks)]
    for m in range(nodes):
        f = rng.randint(1, 8)
        bins.append(Bin(f, int(f == 8), (1 + m % racks, 0)))
    for r in range(racks):
        kids = [b for b in bins[1 + racks :] if b.parents[0] == 1 + r]
        bins[1 + r] = Bin(sum(b.free for b in kids), sum(b.whole for b in kids), (0,))
    bins[0] = Bin(sum(b.free for b in bins[1 : 1 + racks]), sum(b.whole for b in bins[1 : 1 + racks]))
    candidates = []
    wait = []
    for j in range(jobs):
        g = rng.randint(1, 8)
        wait.append(rng.uniform(1, 10) * g)
        for b in range(1 + racks, len(bins)):
            if bins[b].free >= g:
                candidates.append(Candidate(j, b, g, bins[b].whole, rng.uniform(0, 5) * g))
    return EpochProblem(bins, candidates, wait)


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_time_limit_too_short_to_prove_optimality_returns_no_choice(solver: str) -> None:
    """1 ns is not enough to solve a loaded epoch: the status says so and nothing is chosen."""
    problem = hard_instance()
    assert len(problem.candidates) > 1000  # big enough that presolve alone cannot finish it
    solution = solve_epoch(problem, solver, time_limit=1e-9)
    assert solution.status != "optimal"
    assert solution.chosen == [] and solution.terms == {}
    assert solution.variables == len(problem.candidates) + len({c.job for c in problem.candidates})


def test_the_same_loaded_epoch_is_solved_given_time() -> None:
    """The time-out above is the limit's doing: with time the solver proves an optimum, and a feasible one."""
    problem = hard_instance()
    solution = solve_epoch(problem, "highs", time_limit=60.0)
    assert solution.status == "optimal"
    assert feasible(problem, solution.chosen)
    # Optimal means no single job left waiting could be added at a gain where it still fits.
    started = {c.job for c in solution.chosen}
    for c in problem.candidates:
        if c.job not in started and c.price < problem.wait[c.job]:
            assert not feasible(problem, [*solution.chosen, c])


# ---------------------------------------------------------------------------- gap 0 means optimal
def knapsack_epoch(seed: int) -> EpochProblem:
    """40 jobs of 10-60 GPUs for one bin holding about half of them; net values nearly proportional
    to size (wait ~ 100 USD per GPU, price 0), so many choices come within 0.01 % of the best."""
    rng = random.Random(seed)
    gpus = [rng.randint(10, 60) for _ in range(40)]
    free = sum(gpus) // 2 + rng.randint(0, 5)
    wait = [g * 100 + round(rng.uniform(0, 3), 3) for g in gpus]
    return EpochProblem([Bin(free, 0)], [Candidate(j, 0, g, 0) for j, g in enumerate(gpus)], wait)


def knapsack_optimum(problem: EpochProblem) -> float:
    """Exact optimum of a one-bin epoch by dynamic programming over free GPUs: total wait less the
    most (wait - price) the started jobs can save within the bin's GPUs."""
    free = problem.bins[0].free
    best = [0.0] * (free + 1)  # best[k]: most saved with at most k GPUs
    for c in problem.candidates:
        gain = problem.wait[c.job] - c.price
        if gain <= 0:
            continue
        for k in range(free, c.gpus - 1, -1):
            best[k] = max(best[k], best[k - c.gpus] + gain)
    return sum(problem.wait) - best[free]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gap_zero_returns_the_optimum_not_one_within_the_solvers_default_gap(solver: str, seed: int) -> None:
    """solve_epoch's gap: "relative MIP gap at which the solver may stop (0: proven optimal)". So at
    gap 0 an "optimal" answer must be the exact optimum (here found by dynamic programming), not one
    within a solver's default relative gap (HiGHS: 1e-4, some USD on an objective of ~70,000 USD)."""
    problem = knapsack_epoch(seed)
    solution = solve_epoch(problem, solver, time_limit=60.0, gap=0.0)
    assert solution.status == "optimal"
    assert feasible(problem, solution.chosen)
    assert objective(problem, solution.chosen) == pytest.approx(knapsack_optimum(problem), abs=1e-6)
