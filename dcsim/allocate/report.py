"""Loading an allocation file, printing an answer, and the lambda sweep (cost vs fault exposure)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd
from pydantic import ValidationError

from dcsim.allocate.model import Allocation, solve
from dcsim.allocate.schema import AllocationProblem
from dcsim.core.errors import ScenarioError
from dcsim.scenario.load import _message, _user_path, read_yaml


def load_problem(path: str) -> AllocationProblem:
    """Read and validate an allocation file; one ScenarioError lists every problem."""
    data = read_yaml(path)
    if "datacenter" in data and "pools" not in data:
        raise ScenarioError(
            [("", f"this is a simulation scenario, not an allocation problem: run `dcsim run {path}`")], path
        )
    try:
        return AllocationProblem.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([(_user_path(data, e["loc"]), _message(e)) for e in exc.errors()], path) from None


def allocation_table(answer: Allocation) -> pd.DataFrame:
    """One row per (service, pool) with units placed."""
    rows = [{"service": s, "pool": p, "units": u} for (s, p), u in answer.units.items()]
    return pd.DataFrame(rows, columns=["service", "pool", "units"])


def answer_text(problem: AllocationProblem, answer: Allocation) -> str:
    """An answer for people: status, allocation, objective terms, unmet demand."""
    head = f"{problem.name}: {answer.status}"
    if answer.fallback:
        head += f" (the solver found no optimal answer within {problem.time_limit:g} s; {answer.fallback} answered)"
    head += f", lambda {answer.lam:g}, solver {problem.solver}, {answer.solve_time_s * 1000:.1f} ms"
    lines = [head]
    if answer.status == "infeasible":
        lines.append("no allocation meets every demand (unmet_penalty is null); what binds:")
        lines += [f"  - {b}" for b in answer.binding]
        lines.append("give unmet_penalty a price, add capacity, or relax max_share_per_domain")
        return "\n".join(lines)
    table = allocation_table(answer)
    if len(table):
        grid = table.pivot_table(index="service", columns="pool", values="units", aggfunc="sum", fill_value=0)
        lines += ["", "units placed (service x pool):", grid.to_string()]
    lines += ["", "objective terms:"]
    for name, value in answer.terms.items():
        label = "exposure (impact x failure rate, unpriced)" if name == "exposure" else name
        lines.append(f"  {label:<44} {value:>14,.4g}")
    lines.append(f"  {'objective':<44} {answer.objective:>14,.4g}")
    short = {s: u for s, u in answer.unmet.items() if u > 0}
    lines.append("unmet demand: " + (", ".join(f"{s} {u:g}" for s, u in short.items()) if short else "none"))
    return "\n".join(lines)


def lambda_sweep(problem: AllocationProblem, lambdas: Sequence[float]) -> pd.DataFrame:
    """Solve at each lambda: cost against fault exposure, one row per lambda."""
    rows: list[dict[str, Any]] = []
    for lam in lambdas:
        a = solve(problem, lam)
        rows.append({
            "lambda": lam, "status": a.status, "fallback": a.fallback or "",
            "capacity_cost": a.terms.get("capacity_cost"), "service_cost": a.terms.get("service_cost"),
            "exposure": a.terms.get("exposure"), "unmet": sum(a.unmet.values()) if a.unmet else None,
            "objective": a.objective, "solve_time_s": a.solve_time_s,
        })  # fmt: skip
    return pd.DataFrame(rows)


def plot_sweep(problem: AllocationProblem, sweep: pd.DataFrame, path: str) -> str:
    """The trade-off curve: cost against fault exposure, each point labelled with its lambda."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = sweep[sweep["objective"].notna()]
    cost = ok["capacity_cost"] + ok["service_cost"]
    fig, ax = plt.subplots(figsize=(8, 5.5), constrained_layout=True)
    ax.plot(ok["exposure"], cost, "-o", color="#1f77b4")
    points: dict[tuple[float, float], list[str]] = {}  # lambdas that give the same answer share a label
    for lam, x, y in zip(ok["lambda"], ok["exposure"], cost, strict=True):
        points.setdefault((round(float(x), 9), round(float(y), 9)), []).append(f"{lam:g}")
    for (x, y), lams in points.items():
        ax.annotate("λ = " + ", ".join(lams), (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel("fault exposure (Σ impact × failure rate × units)")
    ax.set_ylabel("cost (capacity + services)")
    ax.set_title(f"{problem.name}: cost against fault exposure as lambda grows\n"
                 "λ = 0 packs onto the cheapest pools; large λ spreads over reliable domains", fontsize=10)  # fmt: skip
    ax.grid(alpha=0.3)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
