"""One scheduling epoch as a MILP: which queued jobs start now, and in which bin.

A *bin* is a set of nodes of one pool at one level: a node, a rack, or a whole pool.
Bins nest (node in rack in pool); each bin has its free GPUs and its whole free nodes.
A *candidate* is a (job, bin) pair the job could start in, with four priced terms:
cost, fault exposure, fragmentation and network slowdown. The problem::

    minimize   sum_{j,b} x[j,b] * (cost + fault + fragmentation + network)[j,b] + sum_j wait[j] * (1 - z[j])
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

TERMS = ("cost", "fault", "fragmentation", "network", "wait")
"""Objective terms, in USD: cost and fault exposure of the jobs started, fragmentation, network slowdown, waiting."""


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
    network: float = 0.0

    @property
    def price(self) -> float:
        """The candidate's objective coefficient."""
        return self.cost + self.fault + self.fragmentation + self.network


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


@dataclass
class EpochMatrix:
    """The epoch MILP as rows over columns: x (one per candidate), then z (one per job with candidates).

    Every column is binary. ``rows`` are (name, columns, coefficients, lower, upper).
    Both solvers read this one description: HiGHS directly, CBC through PuLP.
    """

    cost: list[float]
    n_x: int
    jobs: list[int]
    rows: list[tuple[str, list[int], list[float], float, float]]


def epoch_matrix(problem: EpochProblem) -> EpochMatrix:
    """The MILP of ``problem``: objective, start rows, and capacity rows that could bind."""
    n_x = len(problem.candidates)
    by_job: dict[int, list[int]] = {}
    gpus: list[tuple[list[int], list[float]]] = [([], []) for _ in problem.bins]
    whole: list[tuple[list[int], list[float]]] = [([], []) for _ in problem.bins]
    bins = problem.bins
    for i, c in enumerate(problem.candidates):
        by_job.setdefault(c.job, []).append(i)
        for b in (c.bin, *bins[c.bin].parents):
            gpus[b][0].append(i)
            gpus[b][1].append(c.gpus)
            if c.whole:
                whole[b][0].append(i)
                whole[b][1].append(c.whole)
    jobs = sorted(by_job)
    cost = [c.price for c in problem.candidates] + [-problem.wait[j] for j in jobs]  # wait * (1 - z), less a constant
    rows: list[tuple[str, list[int], list[float], float, float]] = []
    for k, j in enumerate(jobs):
        idx = by_job[j]
        rows.append((f"start_{j}", [*idx, n_x + k], [1.0] * len(idx) + [-1.0], 0.0, 0.0))
    inf = float("inf")
    for b, spec in enumerate(bins):
        for kind, (cols, coefs), limit in (("gpus", gpus[b], spec.free), ("whole", whole[b], spec.whole)):
            if cols and sum(coefs) > limit:  # a row that cannot bind is left out
                rows.append((f"{kind}_{b}", cols, coefs, -inf, float(limit)))
    return EpochMatrix(cost, n_x, jobs, rows)


def build_epoch(problem: EpochProblem) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The epoch MILP on PuLP, and its x variables (one per candidate, in order)."""
    import pulp  # imported when first needed: the engine loads this module with every scheduler

    m = epoch_matrix(problem)
    prob = pulp.LpProblem("epoch", pulp.LpMinimize)
    cols = [prob.add_variable(f"x_{i}", cat=pulp.LpBinary) for i in range(m.n_x)]
    cols += [prob.add_variable(f"z_{j}", cat=pulp.LpBinary) for j in m.jobs]
    for name, idx, coefs, lo, hi in m.rows:
        expr = pulp.LpAffineExpression([(cols[i], a) for i, a in zip(idx, coefs, strict=True)])
        prob.addConstraint(expr == hi if lo == hi else expr <= hi, name)
    prob.setObjective(pulp.LpAffineExpression([(v, c) for v, c in zip(cols, m.cost, strict=True) if c]))
    return prob, cols[: m.n_x]


def _solve_highs(m: EpochMatrix, time_limit: float, gap: float) -> tuple[str, list[float]]:
    """Solve the matrix with HiGHS through highspy (no modelling layer: an epoch is solved often)."""
    n = len(m.cost)
    return solve_rows(m.cost, [0.0] * n, [1.0] * n, m.rows, True, time_limit, gap)


def solve_rows(
    cost: list[float],
    lower: list[float],
    upper: list[float],
    rows: list[tuple[str, list[int], list[float], float, float]],
    integer: bool,
    time_limit: float,
    gap: float = 0.0,
) -> tuple[str, list[float]]:
    """Minimise ``cost . x`` over ``lower <= x <= upper`` and ``rows`` with HiGHS (highspy), one thread.

    ``rows`` are (name, columns, coefficients, lower, upper); ``integer``: every column is
    integer (else a plain LP). Returns ``optimal`` and the solution, or what HiGHS said
    instead (``infeasible``, ``unbounded``, ``time_limit``) and no solution.
    """
    import highspy

    from dcsim.allocate.model import _quiet

    lp = highspy.HighsLp()
    n = len(cost)
    lp.num_col_, lp.num_row_ = n, len(rows)
    lp.col_cost_ = cost
    lp.col_lower_, lp.col_upper_ = lower, upper
    lp.row_lower_ = [r[3] for r in rows]
    lp.row_upper_ = [r[4] for r in rows]
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kRowwise
    matrix.num_col_, matrix.num_row_ = n, len(rows)
    start, index, value = [0], [], []
    for _, cols, coefs, _, _ in rows:
        index += cols
        value += coefs
        start.append(len(index))
    matrix.start_, matrix.index_, matrix.value_ = start, index, value
    with _quiet():  # HiGHS prints its banner from C when created
        h = highspy.Highs()
    for option, setting in (("output_flag", False), ("threads", 1), ("time_limit", float(time_limit))):
        h.setOptionValue(option, setting)
    if integer:
        h.setOptionValue("mip_rel_gap", float(gap))  # 0: proven optimal (HiGHS's default stops at 1e-4)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        return "optimal", list(h.getSolution().col_value)
    names = {highspy.HighsModelStatus.kInfeasible: "infeasible", highspy.HighsModelStatus.kUnbounded: "unbounded"}
    return names.get(status, "time_limit"), []


def terms_of(problem: EpochProblem, chosen: list[Candidate]) -> dict[str, float]:
    """Each objective term of a choice of candidates, USD."""
    started = {c.job for c in chosen}
    out = {t: 0.0 for t in TERMS}
    for c in chosen:
        out["cost"] += c.cost
        out["fault"] += c.fault
        out["fragmentation"] += c.fragmentation
        out["network"] += c.network
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
    t0 = time.perf_counter()
    if not problem.candidates:
        return EpochSolution("optimal", [], terms_of(problem, []), time.perf_counter() - t0, 0)
    if solver == "highs":
        m = epoch_matrix(problem)
        status, values = _solve_highs(m, time_limit, gap)
        taken = values[: m.n_x]
    else:
        import pulp

        from dcsim.allocate.model import _quiet, solver_for

        prob, x = build_epoch(problem)
        with _quiet():
            code = prob.solve(solver_for(solver, time_limit, gap))
        name = pulp.LpStatus[code]
        optimal = name == "Optimal" and prob.sol_status == pulp.LpSolutionOptimal
        other = {"Infeasible": "infeasible", "Unbounded": "unbounded"}.get(name, "time_limit")
        status = "optimal" if optimal else other
        taken = [v.value() or 0.0 for v in x]
    elapsed = time.perf_counter() - t0
    variables = len(problem.candidates) + len({c.job for c in problem.candidates})
    if status != "optimal":
        return EpochSolution(status, [], {}, elapsed, variables)
    chosen = [c for c, v in zip(problem.candidates, taken, strict=True) if v > 0.5]
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


__all__ = [
    "TERMS", "Bin", "Candidate", "EpochMatrix", "EpochProblem", "EpochSolution", "brute_force", "build_epoch",
    "epoch_matrix", "solve_epoch", "solve_rows",
]  # fmt: skip
