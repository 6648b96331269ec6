"""Tenants' cost: the heavy case with three tenants in a cohort against the same run without tenants.

run_bench.py's heavy case (jobs of 1 to 64 GPUs, load 0.97, 1,000 GPUs) under fifo with
backfill, and the same jobs split evenly among tenants ``a``, ``b``, ``c`` (quotas 400, 300,
300 GPUs: the cluster; one cohort, so idle quota is borrowed) with ``fairness: drf``. Each
``simulate`` in a fresh process, the two in turn; medians of CPU and wall time.

    python bench/tenants_bench.py --jobs 30000 --repeat 3
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run_bench import CHILD_ENV, HEAVY_MIX, HEAVY_NODES, ROOT, Case, last_json, scenario_data  # noqa: E402

QUOTAS = {"a": 400, "b": 300, "c": 300}


def data(jobs: int, tenants: bool) -> dict[str, Any]:
    """The scenario: the heavy case with backfill, its jobs split among the tenants if ``tenants``."""
    d = scenario_data(Case("heavy", jobs, *HEAVY_MIX, load=0.97, backfill=True, fixed_nodes=HEAVY_NODES))
    if tenants:
        spec = d["workload"]["jobs"][0]
        split = []
        for name in QUOTAS:
            part = copy.deepcopy(spec)
            part.update(name=f"ref-{name}", tenant=name, count=jobs // len(QUOTAS))
            part["arrival"]["rate"] = spec["arrival"]["rate"] / len(QUOTAS)
            split.append(part)
        d["workload"]["jobs"] = split
        d["tenants"] = [{"name": n, "quota": {"gpus": q}, "cohort": "lab"} for n, q in QUOTAS.items()]
        d["policies"]["fairness"] = "drf"
    return d


def worker(jobs: int, tenants: bool) -> None:
    """Time ``simulate`` of one case; print its times as JSON."""
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    scenario = scenario_from_data(data(jobs, tenants), str(ROOT))
    t0, c0 = time.perf_counter(), time.process_time()
    result = simulate(scenario)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "mean_wait_s": result.summary["jobs"]["mean_wait_s"]}))


def main(argv: list[str] | None = None) -> int:
    """Run both cases in turn and print medians and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=30_000, help="jobs of the heavy case (default 30000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case (medians)")
    ap.add_argument("--worker", choices=["plain", "tenants"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.jobs, args.worker == "tenants")
        return 0
    runs: dict[str, list[dict]] = {"plain": [], "tenants": []}
    for _ in range(args.repeat):
        for case in runs:
            cmd = [sys.executable, __file__, "--jobs", str(args.jobs), "--worker", case]
            out = subprocess.run(cmd, env=CHILD_ENV, capture_output=True, text=True, check=True, cwd=ROOT)
            runs[case].append(last_json(out.stdout))
            print(case, runs[case][-1], flush=True)
    med = {c: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s")} for c, rs in runs.items()}
    print("| case | jobs | wall s | CPU s | wall / plain | CPU / plain |\n|---|---:|---:|---:|---:|---:|")
    for case, m in med.items():
        w, c = m["wall_s"] / med["plain"]["wall_s"], m["cpu_s"] / med["plain"]["cpu_s"]
        print(f"| {case} | {args.jobs:,} | {m['wall_s']:.2f} | {m['cpu_s']:.2f} | {w:.2f}x | {c:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
