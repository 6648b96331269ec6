"""dcsim ``gavel`` scheduler benchmark: the cost of one decision against the number of jobs and pools.

One command::

    python bench/gavel_bench.py            # jobs in {10, 50, 200, 1000} x pools in {2, 4, 8}, 3 seeds
    python bench/gavel_bench.py --quick    # jobs in {10, 50, 200} x pools {2, 4}, 1 seed

Each decision of ``gavel`` solves two LPs (the max-min LP, then the largest total at that
minimum) over the running jobs and the first ``window`` (200) queued ones: (jobs x pools)
columns and 2 x jobs + pools rows, by HiGHS through highspy (one thread). This times
:func:`dcsim.policies.gavel.max_min_fairness` on random problems: per job a gang of 1 to 8
GPUs, a rate of 1 in its fastest pool and 0.1 to 1 in the others, every pool of 64 GPUs,
and prints the median wall time per decision (and the slowest seed). The priorities and
placement that follow are O(jobs x pools log) and not timed here. Results go to
``bench/out/RESULTS-gavel.md``; on a shared machine they are indicative only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dcsim.policies.gavel import FairProblem, max_min_fairness  # noqa: E402


def problem(jobs: int, pools: int, seed: int) -> FairProblem:
    """A random problem of ``jobs`` jobs over ``pools`` pools of 64 GPUs."""
    rng = np.random.default_rng(seed)
    speeds = []
    for _ in range(jobs):
        rates = rng.uniform(0.1, 1.0, pools)
        rates[rng.integers(pools)] = 1.0
        speeds.append({q: float(r) for q, r in enumerate(rates)})
    gpus = [int(g) for g in rng.choice([1, 2, 4, 8], jobs)]
    return FairProblem(speeds, gpus, dict.fromkeys(range(pools), 64.0))


def main() -> None:
    """Time the grid and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller grid, one seed")
    args = parser.parse_args()
    job_counts, pool_counts, seeds = ((10, 50, 200), (2, 4), 1) if args.quick else ((10, 50, 200, 1000), (2, 4, 8), 3)
    rows = ["| jobs | pools | LP columns | median s per decision | max s | status |", "|---:|---:|---:|---:|---:|---|"]
    for jobs in job_counts:
        for pools in pool_counts:
            times, statuses = [], set()
            for seed in range(seeds):
                p = problem(jobs, pools, seed)
                t0 = time.perf_counter()
                solution = max_min_fairness(p, time_limit=30.0)
                times.append(time.perf_counter() - t0)
                statuses.add(solution.status)
            rows.append(f"| {jobs} | {pools} | {jobs * pools} | {statistics.median(times):.4f} | {max(times):.4f} | "
                        f"{', '.join(sorted(statuses))} |")  # fmt: skip
            print(rows[-1], flush=True)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    text = "# dcsim `gavel` scheduler: one decision's two LPs\n\n" + "\n".join(rows) + "\n"
    (out / "RESULTS-gavel.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
