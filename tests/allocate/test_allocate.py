"""The allocation MILP on small instances whose optimum the test finds by brute force."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dcsim.allocate.model import build_problem, solve
from dcsim.allocate.schema import AllocationProblem

TWO_RACKS: dict[str, Any] = {
    "name": "two-racks",
    "lambda": 1.0,
    "unmet_penalty": 1000,
    "pools": [
        {"name": "rackA", "capacity": 64, "cost": 2.5, "domain": "rackA", "failure_rate": 0.02},
        {"name": "rackB", "capacity": 64, "cost": 2.9, "domain": "rackB", "failure_rate": 0.005},
    ],
    "services": [
        {"name": "llm-serving", "demand": 48, "impact": 10, "max_share_per_domain": 0.5},
        {"name": "batch", "demand": 40, "impact": 1},
    ],
}


def problem(**changes: Any) -> AllocationProblem:
    data = json.loads(json.dumps(TWO_RACKS))
    data.update(changes)
    return AllocationProblem.model_validate(data)


def brute_force(pr: AllocationProblem, lam: float) -> tuple[float, dict[tuple[str, str], int]]:
    """Every integer allocation (units per service and pool), checked against every constraint."""
    best: tuple[float, dict[tuple[str, str], int]] = (float("inf"), {})
    ranges = [range(int(s.demand) + 1) for s in pr.services for _ in pr.pools]
    n_pools = len(pr.pools)
    for combo in itertools.product(*ranges):
        units = {(s, p): combo[s * n_pools + p] for s in range(len(pr.services)) for p in range(n_pools)}
        ok = all(
            sum(pr.services[s].unit_size * units[s, p] for s in range(len(pr.services))) <= pr.pools[p].capacity
            for p in range(n_pools)
        )
        for s, svc in enumerate(pr.services):
            placed = sum(units[s, p] for p in range(n_pools))
            ok = ok and placed <= svc.demand
            if svc.max_share_per_domain is not None:
                for d in {q.domain or q.name for q in pr.pools}:
                    in_d = sum(units[s, p] for p in range(n_pools) if (pr.pools[p].domain or pr.pools[p].name) == d)
                    ok = ok and in_d <= svc.max_share_per_domain * svc.demand + 1e-9
        if not ok:
            continue
        cost = 0.0
        for (s, p), n in units.items():
            svc, pool = pr.services[s], pr.pools[p]
            cost += n * (pool.cost * svc.unit_size + svc.cost + lam * svc.impact * pool.failure_rate)
        for s, svc in enumerate(pr.services):
            cost += (pr.unmet_penalty or 0.0) * (svc.demand - sum(units[s, p] for p in range(n_pools)))
        if cost < best[0] - 1e-9:
            best = (cost, {(pr.services[s].name, pr.pools[p].name): n for (s, p), n in units.items() if n})
    return best


SMALL = {
    "name": "small",
    "unmet_penalty": 50,
    "pools": [
        {"name": "cheap", "capacity": 5, "cost": 1.0, "failure_rate": 0.5},
        {"name": "safe", "capacity": 4, "cost": 3.0, "failure_rate": 0.01},
    ],
    "services": [
        {"name": "web", "demand": 4, "impact": 8, "unit_size": 1, "max_share_per_domain": 0.75},
        {"name": "train", "demand": 3, "impact": 1, "unit_size": 2, "cost": 0.5},
    ],
}


@pytest.mark.parametrize("lam", [0.0, 1.0, 5.0, 40.0])
@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_optimum_equals_brute_force(lam: float, solver: str) -> None:
    pr = AllocationProblem.model_validate({**SMALL, "solver": solver})
    best, _ = brute_force(pr, lam)
    answer = solve(pr, lam)
    assert answer.status == "optimal"
    assert answer.objective == pytest.approx(best)


def test_lambda_zero_packs_onto_the_cheapest_pool() -> None:
    answer = solve(problem(), 0.0)
    # rackA is cheaper: everything there that the share rule allows (llm 24 + batch 40 = 64 units).
    assert answer.units == {("llm-serving", "rackA"): 24, ("llm-serving", "rackB"): 24, ("batch", "rackA"): 40}
    assert answer.terms["capacity_cost"] == pytest.approx(64 * 2.5 + 24 * 2.9)


def test_large_lambda_moves_units_off_the_least_reliable_domain() -> None:
    cheap = solve(problem(), 0.0)
    safe = solve(problem(), 1000.0)
    on_a = [sum(u for (_, p), u in a.units.items() if p == "rackA") for a in (cheap, safe)]
    assert on_a[1] < on_a[0]
    assert safe.terms["exposure"] < cheap.terms["exposure"]
    assert safe.terms["capacity_cost"] > cheap.terms["capacity_cost"]  # reliability costs money


def test_max_share_per_domain_holds() -> None:
    for lam in (0.0, 1.0, 1000.0):
        a = solve(problem(), lam)
        for pool in ("rackA", "rackB"):
            assert a.units.get(("llm-serving", pool), 0) <= 0.5 * 48


def test_infeasible_is_reported_with_what_binds() -> None:
    services = json.loads(json.dumps(TWO_RACKS["services"]))
    services[1]["demand"] = 100  # 48 + 100 > 128 units
    a = solve(problem(unmet_penalty=None, services=services))
    assert a.status == "infeasible" and a.objective is None
    assert any("short" in b for b in a.binding)
    assert "capacity of pool 'rackA' (64 units, all used)" in a.binding


def test_a_forced_time_out_falls_back_and_says_so() -> None:
    a = solve(problem(time_limit=0))
    assert a.status == "time_limit" and a.fallback == "greedy"
    assert a.objective is not None and a.solve_time_s >= 0
    for pool, cap in (("rackA", 64), ("rackB", 64)):  # the heuristic's answer is feasible
        assert sum(u for (_, p), u in a.units.items() if p == pool) <= cap


def test_build_problem_is_pure_and_as_documented() -> None:
    pr = problem()
    prob, x, unmet = build_problem(pr)
    assert len(x) == 4 and len(unmet) == 2
    assert {"demand_0", "demand_1", "capacity_0", "capacity_1", "share_0_0", "share_0_1"} == {
        c.name for c in prob.constraints()
    }
    assert all(v.cat == "Integer" for v in x.values())


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dcsim", *args], cwd=cwd, capture_output=True, text=True)


def test_cli_json_and_csv(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "p.yaml").write_text(yaml.safe_dump(TWO_RACKS))
    out = run_cli("allocate", "p.yaml", "--json", "--csv", "alloc.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # nothing but the object on stdout (the solver banner is silenced)
    assert {"status", "objective", "terms", "allocation", "unmet", "solve_time_s"} <= set(data)
    assert data["status"] == "optimal"
    assert {"service", "pool", "units"} == set(data["allocation"][0])
    assert (tmp_path / "alloc.csv").read_text().startswith("service,pool,units")
    sweep = run_cli("allocate", "p.yaml", "--lambda-sweep", "0,1,1000", "--out", "sw", cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr
    assert (tmp_path / "sw" / "tradeoff.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"pools": [{"name": "a", "capacity": -1}]}, "pools.0.capacity"),
        ({"services": [{"name": "s", "demand": 1, "max_share_per_domain": 2}]}, "services.0.max_share_per_domain"),
        ({"solver": "gurobi"}, "solver"),
        ({"lamda": 2}, "lamda: unknown key"),
    ],
)
def test_bad_allocation_files(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    import yaml

    (tmp_path / "p.yaml").write_text(yaml.safe_dump({**TWO_RACKS, **change}))
    out = run_cli("allocate", "p.yaml", cwd=tmp_path)
    assert out.returncode == 2 and expected in out.stderr and "Traceback" not in out.stderr


def test_files_of_the_other_kind_are_pointed_to_the_right_command(tmp_path: Path) -> None:
    from conftest import ROOT

    scenario = run_cli("allocate", str(ROOT / "scenarios" / "quickstart.yaml"), cwd=tmp_path)
    assert scenario.returncode == 2 and "dcsim run" in scenario.stderr and "Traceback" not in scenario.stderr
    problem = run_cli("run", str(ROOT / "scenarios" / "seed_lp_example.yaml"), cwd=tmp_path)
    assert problem.returncode == 2 and "dcsim allocate" in problem.stderr and "Traceback" not in problem.stderr
    assert not (tmp_path / "results").exists()


def test_shipped_allocation_file_solves() -> None:
    from dcsim.allocate.report import load_problem

    from conftest import ROOT

    a = solve(load_problem(str(ROOT / "scenarios" / "allocate_two_racks.yaml")))
    assert a.status == "optimal" and sum(a.unmet.values()) == 0


def test_the_origin_example_as_written_and_corrected() -> None:
    """Section 4.3 of the origin document: x = 0 as written; its answer breaks its own capacity."""
    from dcsim.allocate.report import load_problem

    from conftest import ROOT

    pr = load_problem(str(ROOT / "scenarios" / "seed_lp_example.yaml"))
    literal = solve(pr, as_written=True)
    assert literal.status == "optimal" and literal.objective == 0 and literal.units == {}
    # The document's answer for lambda = 1: x1 = 10, x2 = 15 with 5 units each, capacity 50.
    assert 5 * 10 + 5 * 15 > 50
    fixed = solve(pr)
    assert fixed.units == {("service1", "cluster"): 10}  # 10 instances fit; lower impact wins the tie in cost
    assert fixed.unmet == {"service1": 0, "service2": 15}
    assert fixed.objective == pytest.approx(10 * 10 + 1 * 0.1 * 10 + 100 * 15)
