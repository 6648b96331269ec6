"""One scheduling epoch as a MILP: which queued jobs start now, and in which bin.

A *bin* is a set of nodes of one pool at one level: a node, a rack, or a whole pool.
Bins nest (node in rack in pool); each bin has its free GPUs and its whole free nodes.
A *candidate* is a (job, bin) pair the job could start in, with three priced terms:
cost, fault exposure and fragmentation. The problem::

    minimize   sum_{j,b} x[j,b] * (cost + fault + fragmentation)[j,b] + sum_j wait[j] * (1 - z[j])
    subject to sum_b x[j,b] = z[j]                       (a job starts in one bin, or waits)
               sum over candidates in B and the bins inside it of gpus * x <= free GPUs of B
               sum over candidates in B and the bins inside it of whole * x <= whole free nodes of B
               x, z binary

``wait[j]`` is what leaving job j queued until the next epoch costs; without it the
optimum would start nothing, the origin document's x = 0 again. The constraints are
necessary conditions for the jobs to fit (aggregated capacity), exact at node level;
the caller places each chosen job on nodes inside its bin and counts those that do not
fit after all.

This module is pure: no engine, no simulation. :func:`brute_force` solves small
instances by enumeration, for tests.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pulp

TERMS = ("cost", "fault", "fragmentation", "wait")
"""Objective terms, in USD: cost and fault exposure of the jobs started, fragmentation, waiting."""


@dataclass(frozen=True)
class Bin:
    """Nodes a job may be placed in, as one unit of the problem.

    Attributes:
        free: free GPUs in the bin.
        whole: nodes of the bin with every GPU free.
        parents: indices of the bins that contain this one (its rack, its pool).
    """

    free: int
    whole: int
    parents: tuple[int, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """Job ``job`` starting in bin ``bin``: the GPUs and whole nodes it takes there, and its priced terms (USD)."""

    job: int
    bin: int
    gpus: int
    whole: int
    cost: float = 0.0
    fault: float = 0.0
    fragmentation: float = 0.0

    @property
    def price(self) -> float:
        """The candidate's objective coefficient."""
        return self.cost + self.fault + self.fragmentation


@dataclass
class EpochProblem:
    """Bins, candidates and each job's cost of waiting (USD)."""

    bins: list[Bin]
    candidates: list[Candidate]
    wait: list[float]


@dataclass
class EpochSolution:
    """The answer for one epoch.

    Attributes:
        status: ``optimal``, or what the solver said instead (``time_limit``, ``infeasible``, ...).
        chosen: the candidates taken (one per started job), when optimal.
        terms: each objective term at the solution, USD (``wait``: of the jobs left queued).
        solve_time_s: wall time of building and solving.
        variables: binary variables in the model.
    """

    status: str
    chosen: list[Candidate] = field(default_factory=list)
    terms: dict[str, float] = field(default_factory=dict)
    solve_time_s: float = 0.0
    variables: int = 0


def build_epoch(problem: EpochProblem) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The epoch MILP and its x variables (one per candidate, in order)."""
    import pulp  # imported when first needed: the engine loads this module with every scheduler

    prob = pulp.LpProblem("epoch", pulp.LpMinimize)
    x = [prob.add_variable(f"x_{i}", cat=pulp.LpBinary) for i in range(len(problem.candidates))]
    by_job: dict[int, list[int]] = {}
    gpus: list[list[tuple[pulp.LpVariable, int]]] = [[] for _ in problem.bins]
    whole: list[list[tuple[pulp.LpVariable, int]]] = [[] for _ in problem.bins]
    for i, c in enumerate(problem.candidates):
        by_job.setdefault(c.job, []).append(i)
        for b in (c.bin, *problem.bins[c.bin].parents):
            gpus[b].append((x[i], c.gpus))
            if c.whole:
                whole[b].append((x[i], c.whole))
    objective = [c.price * x[i] for i, c in enumerate(problem.candidates)]
    for j, idx in sorted(by_job.items()):
        z = prob.add_variable(f"z_{j}", cat=pulp.LpBinary)
        prob.addConstraint(pulp.lpSum(x[i] for i in idx) - z == 0, f"start_{j}")
        objective.append(-problem.wait[j] * z)  # wait[j] * (1 - z) less a constant
    for b, spec in enumerate(problem.bins):
        if gpus[b] and sum(g for _, g in gpus[b]) > spec.free:
            prob.addConstraint(pulp.LpAffineExpression(gpus[b]) <= spec.free, f"gpus_{b}")
        if whole[b] and sum(w for _, w in whole[b]) > spec.whole:
            prob.addConstraint(pulp.LpAffineExpression(whole[b]) <= spec.whole, f"whole_{b}")
    prob.setObjective(pulp.lpSum(objective))
    return prob, x


def terms_of(problem: EpochProblem, chosen: list[Candidate]) -> dict[str, float]:
    """Each objective term of a choice of candidates, USD."""
    started = {c.job for c in chosen}
    out = {t: 0.0 for t in TERMS}
    for c in chosen:
        out["cost"] += c.cost
        out["fault"] += c.fault
        out["fragmentation"] += c.fragmentation
    out["wait"] = sum(w for j, w in enumerate(problem.wait) if j not in started)
    return out


def feasible(problem: EpochProblem, chosen: list[Candidate]) -> bool:
    """True if ``chosen`` starts each job at most once within every bin's free GPUs and whole nodes."""
    jobs = [c.job for c in chosen]
    if len(set(jobs)) != len(jobs):
        return False
    used = [[0, 0] for _ in problem.bins]
    for c in chosen:
        for b in (c.bin, *problem.bins[c.bin].parents):
            used[b][0] += c.gpus
            used[b][1] += c.whole
    return all(u[0] <= b.free and u[1] <= b.whole for u, b in zip(used, problem.bins, strict=True))


def solve_epoch(
    problem: EpochProblem, solver: str = "highs", time_limit: float = 1.0, gap: float = 0.0
) -> EpochSolution:
    """Solve one epoch; any status but optimal is returned as such, with no choice.

    ``gap``: relative MIP gap at which the solver may stop (0: proven optimal).
    """
    import pulp

    from dcsim.allocate.model import _quiet, solver_for

    t0 = time.perf_counter()
    if not problem.candidates:
        return EpochSolution("optimal", [], terms_of(problem, []), time.perf_counter() - t0, 0)
    prob, x = build_epoch(problem)
    engine = solver_for(solver, time_limit, gap if gap > 0 else None)
    with _quiet():
        code = prob.solve(engine)
    elapsed = time.perf_counter() - t0
    variables = len(prob.variables())
    status = pulp.LpStatus[code]
    if status != "Optimal" or prob.sol_status != pulp.LpSolutionOptimal:
        name = {"Infeasible": "infeasible", "Unbounded": "unbounded"}.get(status, "time_limit")
        return EpochSolution(name, [], {}, elapsed, variables)
    chosen = [c for c, v in zip(problem.candidates, x, strict=True) if (v.value() or 0.0) > 0.5]
    return EpochSolution("optimal", chosen, terms_of(problem, chosen), elapsed, variables)


def brute_force(problem: EpochProblem) -> tuple[float, list[Candidate]]:
    """The optimum by enumeration (each job: one of its candidates, or wait); for tests on tiny instances."""
    by_job: dict[int, list[Candidate | None]] = {j: [None] for j in range(len(problem.wait))}
    for c in problem.candidates:
        by_job[c.job].append(c)
    best: tuple[float, list[Candidate]] = (float("inf"), [])
    for pick in itertools.product(*by_job.values()):
        chosen = [c for c in pick if c is not None]
        if feasible(problem, chosen):
            value = sum(terms_of(problem, chosen).values())
            if value < best[0] - 1e-9:
                best = (value, chosen)
    return best


__all__ = ["TERMS", "Bin", "Candidate", "EpochProblem", "EpochSolution", "brute_force", "build_epoch", "solve_epoch"]
