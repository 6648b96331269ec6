"""The allocation MILP on PuLP: a pure builder, a solver call that never hides its status.

Variables: ``x[s,p]`` instances of service s in pool p (integer unless the service is
divisible) and ``unmet[s]`` instances of demand left unmet. Objective, per instance of
s in p::

    cost[p] * unit_size[s] + cost[s] + lambda * impact[s] * failure_rate[p]

plus ``unmet_penalty`` per unmet instance. Constraints: demand (``sum_p x + unmet =
demand``), pool capacity (``sum_s unit_size * x <= capacity``) and, for a service with
``max_share_per_domain``, ``sum over the domain's pools of x <= share * demand``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulp

from dcsim.allocate.schema import AllocationProblem

GREEDY = "greedy"
"""The heuristic that answers when the solver gives no optimal solution in time."""


def domain_of(pool: Any) -> str:
    """A pool's failure domain (its own name by default)."""
    return pool.domain if pool.domain is not None else pool.name


def unit_cost(problem: AllocationProblem, s: int, p: int, lam: float) -> tuple[float, float, float]:
    """(capacity cost, service cost, priced fault exposure) of one instance of service s in pool p."""
    svc, pool = problem.services[s], problem.pools[p]
    return pool.cost * svc.unit_size, svc.cost, lam * svc.impact * pool.failure_rate


def build_problem(
    problem: AllocationProblem, lam: float | None = None, elastic: bool = False, as_written: bool = False
) -> tuple[pulp.LpProblem, dict[tuple[int, int], pulp.LpVariable], dict[int, pulp.LpVariable]]:
    """The MILP of ``problem`` (with ``lam`` in place of its lambda), and its x and unmet variables.

    With ``as_written``, the origin document's model exactly: the same objective and the
    capacity constraint, but no demand (nor unmet, nor share) constraints. Its optimum
    is x = 0, which is why dcsim adds demands.

    With ``elastic`` every demand gets a slack variable and the objective is their sum:
    the least demand that cannot be met under the capacity and share constraints
    (used to explain infeasibility).
    """
    lam = problem.lambda_ if lam is None else lam
    prob = pulp.LpProblem(problem.name.replace("-", "_") or "allocation", pulp.LpMinimize)
    x: dict[tuple[int, int], pulp.LpVariable] = {}
    for s, svc in enumerate(problem.services):
        cat = pulp.LpInteger if svc.integral else pulp.LpContinuous
        for p in range(len(problem.pools)):
            x[s, p] = prob.add_variable(f"x_{s}_{p}", lowBound=0, cat=cat)
    unmet: dict[int, pulp.LpVariable] = {}
    if problem.unmet_penalty is not None and not as_written:
        for s in range(len(problem.services)):
            unmet[s] = prob.add_variable(f"unmet_{s}", lowBound=0)
    slacks: list[pulp.LpVariable] = []

    def add(lhs: Any, sense: str, rhs: float, name: str) -> None:
        if elastic and name.startswith("demand"):  # demand may give way, at a price of 1 per unit
            if sense in ("<=", "=="):
                slacks.append(prob.add_variable(f"slack_{name}_lo", lowBound=0))
                lhs = lhs - slacks[-1]
            if sense in (">=", "=="):
                slacks.append(prob.add_variable(f"slack_{name}_hi", lowBound=0))
                lhs = lhs + slacks[-1]
        constraint = lhs <= rhs if sense == "<=" else lhs >= rhs if sense == ">=" else lhs == rhs
        prob.addConstraint(constraint, name)

    for s, svc in enumerate(problem.services):
        if as_written:
            break
        met = pulp.lpSum(x[s, p] for p in range(len(problem.pools)))
        if s in unmet:
            add(met + unmet[s], "==", svc.demand, f"demand_{s}")
        else:
            add(met, ">=", svc.demand, f"demand_{s}")
        if svc.max_share_per_domain is not None:
            domains: dict[str, list[int]] = {}
            for p, pool in enumerate(problem.pools):
                domains.setdefault(domain_of(pool), []).append(p)
            for d, (_, members) in enumerate(sorted(domains.items())):
                add(pulp.lpSum(x[s, p] for p in members), "<=", svc.max_share_per_domain * svc.demand, f"share_{s}_{d}")
    for p, pool in enumerate(problem.pools):
        used = pulp.lpSum(problem.services[s].unit_size * x[s, p] for s in range(len(problem.services)))
        add(used, "<=", pool.capacity, f"capacity_{p}")
    if elastic:
        prob.setObjective(pulp.lpSum(slacks))
    else:
        terms = []
        for (s, p), var in x.items():
            terms.append(sum(unit_cost(problem, s, p, lam)) * var)
        penalty = problem.unmet_penalty or 0.0
        terms += [penalty * v for v in unmet.values()]
        prob.setObjective(pulp.lpSum(terms))
    return prob, x, unmet


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the solver's banner, which HiGHS prints from C to file descriptor 1."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def solver_for(name: str, time_limit: float, gap: float | None = None) -> Any:
    """The PuLP solver object: HiGHS through highspy, or CBC; one thread, so answers repeat.

    ``gap``: relative MIP gap at which to stop (None: the solver's default).
    """
    if name == "highs":
        return pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=gap, threads=1)
    with warnings.catch_warnings():  # PuLP 3.3 deprecates its bundled CBC for 4.0; dcsim pins pulp < 4
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=gap, threads=1)


@dataclass
class Allocation:
    """An answer to an allocation problem, with how it was obtained.

    Attributes:
        status: ``optimal``, ``infeasible``, ``unbounded``, or ``time_limit`` (then ``fallback``
            names the heuristic that answered).
        objective: the objective of ``units`` (None if infeasible).
        terms: each objective term: ``capacity_cost``, ``service_cost``, ``fault_exposure``
            (lambda x sum of impact x failure rate), ``unmet_penalty``; and ``exposure`` unpriced.
        units: instances per (service, pool), nonzero ones only.
        unmet: instances left unmet per service.
        solve_time_s: wall time of the solver call.
        fallback: the heuristic used when the solver gave no optimal answer in time.
        binding: constraints that cannot all hold (infeasible problems only), by name.
    """

    status: str
    objective: float | None
    terms: dict[str, float]
    units: dict[tuple[str, str], float]
    unmet: dict[str, float]
    solve_time_s: float
    lam: float
    fallback: str | None = None
    binding: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object."""
        return {
            "status": self.status,
            "objective": self.objective,
            "lambda": self.lam,
            "terms": self.terms,
            "allocation": [{"service": s, "pool": p, "units": u} for (s, p), u in self.units.items()],
            "unmet": self.unmet,
            "solve_time_s": self.solve_time_s,
            "fallback": self.fallback,
            "binding": self.binding,
        }


def evaluate(
    problem: AllocationProblem, lam: float, units: dict[tuple[int, int], float], penalty: bool = True
) -> tuple[dict[str, float], dict[str, float]]:
    """Objective terms and unmet demand of an allocation given as instances per (service, pool) index.

    ``penalty``: charge unmet demand (not for the origin's model as written, which has none).
    """
    terms = {"capacity_cost": 0.0, "service_cost": 0.0, "fault_exposure": 0.0, "unmet_penalty": 0.0, "exposure": 0.0}
    for (s, p), n in units.items():
        cap, own, fault = unit_cost(problem, s, p, lam)
        terms["capacity_cost"] += cap * n
        terms["service_cost"] += own * n
        terms["fault_exposure"] += fault * n
        terms["exposure"] += problem.services[s].impact * problem.pools[p].failure_rate * n
    unmet = {}
    for s, svc in enumerate(problem.services):
        left = svc.demand - sum(n for (t, _), n in units.items() if t == s)
        unmet[svc.name] = max(left, 0.0)
        if penalty:
            terms["unmet_penalty"] += (problem.unmet_penalty or 0.0) * max(left, 0.0)
    return terms, unmet


def greedy(problem: AllocationProblem, lam: float) -> dict[tuple[int, int], float]:
    """The fallback heuristic: services by demand (largest first) fill the pools cheapest per instance first.

    It respects capacity and ``max_share_per_domain``; what does not fit stays unmet.
    """
    left = [pool.capacity for pool in problem.pools]
    units: dict[tuple[int, int], float] = {}
    order = sorted(
        range(len(problem.services)), key=lambda s: -problem.services[s].demand * problem.services[s].unit_size
    )
    for s in order:
        svc = problem.services[s]
        need = svc.demand
        in_domain: dict[str, float] = {}
        cap = svc.max_share_per_domain * svc.demand if svc.max_share_per_domain is not None else float("inf")
        for p in sorted(range(len(problem.pools)), key=lambda p: (sum(unit_cost(problem, s, p, lam)), p)):
            if need <= 0:
                break
            d = domain_of(problem.pools[p])
            room = min(left[p] / svc.unit_size, cap - in_domain.get(d, 0.0), need)
            if svc.integral:
                room = float(int(room + 1e-9))
            if room <= 0:
                continue
            units[s, p] = room
            left[p] -= room * svc.unit_size
            in_domain[d] = in_domain.get(d, 0.0) + room
            need -= room
    return units


def _named(problem: AllocationProblem, units: dict[tuple[int, int], float]) -> dict[tuple[str, str], float]:
    return {(problem.services[s].name, problem.pools[p].name): n for (s, p), n in sorted(units.items()) if n > 1e-9}


def explain_infeasible(problem: AllocationProblem, lam: float) -> list[str]:
    """Why demand cannot be met: the demands left short, and the constraints that bind them.

    Solves the elastic problem (demands may fall short at a price of 1 per instance);
    the demands with a positive shortfall, and the capacity and share constraints that
    are tight at that solution, are named.
    """
    prob, _, _ = build_problem(problem, lam, elastic=True)
    with _quiet():
        prob.solve(solver_for(problem.solver, max(problem.time_limit, 1.0)))
    out = []
    for var in prob.variables():
        if var.name.startswith("slack_") and (var.value() or 0.0) > 1e-6:
            s = int(var.name.split("_")[2])
            out.append(f"demand of service {problem.services[s].name!r}: {var.value():g} instances short")
    for constraint in prob.constraints():
        name = constraint.name
        if name.startswith("demand"):
            continue
        if abs(constraint.value()) <= 1e-6:  # lhs - rhs = 0: tight
            kind, _, rest = name.partition("_")
            idx = int(rest.split("_")[0])
            if kind == "capacity":
                pool = problem.pools[idx]
                out.append(f"capacity of pool {pool.name!r} ({pool.capacity:g} units, all used)")
            else:
                svc = problem.services[idx]
                out.append(f"max_share_per_domain {svc.max_share_per_domain:g} of service {svc.name!r}")
    return out


def solve(problem: AllocationProblem, lam: float | None = None, as_written: bool = False) -> Allocation:
    """Solve ``problem`` (at ``lam``, default its lambda) and report how.

    Any status but optimal is reported as such: infeasible problems name the constraints
    that cannot hold; on a time-out the greedy heuristic answers and ``fallback`` says so.
    ``as_written`` solves the origin document's model (no demands; see :func:`build_problem`).
    """
    lam = problem.lambda_ if lam is None else lam
    prob, x, _ = build_problem(problem, lam, as_written=as_written)
    t0 = time.perf_counter()
    with _quiet():
        code = prob.solve(solver_for(problem.solver, problem.time_limit))
    elapsed = time.perf_counter() - t0
    status = pulp.LpStatus[code]
    if status == "Optimal" and prob.sol_status == pulp.LpSolutionOptimal:
        units = {k: float(v.value() or 0.0) for k, v in x.items()}
        units = {k: round(v) if problem.services[k[0]].integral else v for k, v in units.items()}
        terms, unmet = evaluate(problem, lam, units, penalty=not as_written)
        objective = sum(v for k, v in terms.items() if k != "exposure")
        return Allocation("optimal", objective, terms, _named(problem, units), unmet, elapsed, lam)
    if status == "Infeasible":
        return Allocation("infeasible", None, {}, {}, {}, elapsed, lam, binding=explain_infeasible(problem, lam))
    if status == "Unbounded":
        return Allocation("unbounded", None, {}, {}, {}, elapsed, lam)
    # Not solved in time (or only a feasible point): the named heuristic answers.
    units = greedy(problem, lam)
    terms, unmet = evaluate(problem, lam, units)
    objective = sum(v for k, v in terms.items() if k != "exposure")
    return Allocation("time_limit", objective, terms, _named(problem, units), unmet, elapsed, lam, fallback=GREEDY)
