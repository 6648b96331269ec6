"""Network contention's cost: a run with communication profiles against the same run with none.

The workload is run_bench.py's 100,000-job reference (Poisson arrivals at offered load 0.9,
exponential run times of mean 1 h) with multi-node jobs added (16, 32 and 64 GPUs: 10 % of
jobs), every class all-reducing 1 GB per step after 1 s of compute, on 10,000 GPUs (1,250
nodes of 8, racks of 32) of a 2:1 leaf-spine. "off" is the same scenario without
communication profiles: the same jobs, never slowed. Each side runs in a fresh process,
alternately; medians of ``--repeat``. ``--placement network_aware`` times the placement that
reads the fabric's load (both sides use the rule given; "off" then places for locality alone).

    python bench/network_bench.py [--jobs 100000] [--repeat 3] [--placement first_fit]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SIZES = (1, 2, 4, 8, 16, 32, 64)
WEIGHTS = (0.56, 0.1, 0.14, 0.1, 0.05, 0.03, 0.02)
RING = {"pattern": "ring_allreduce", "bytes_per_step": "1GB", "compute_per_step": "1s"}


def scenario(jobs: int, network: bool, placement: str = "first_fit") -> dict:
    """The scenario as data."""
    gpus, mean_h = 10_000, 1.0
    mean_gpus = sum(s * w for s, w in zip(SIZES, WEIGHTS, strict=True))
    rate = 0.9 * gpus / (mean_gpus * mean_h * 3600.0)
    cls = {"name": "ref", "arrival": {"process": "poisson", "rate": rate}, "count": jobs,
           "gpus": {"values": list(SIZES), "weights": list(WEIGHTS)},
           "duration": {"dist": "exponential", "mean": mean_h * 3600.0}}  # fmt: skip
    if network:
        cls["communication"] = RING
    return {
        "name": "network-bench",
        "seed": 1,
        "datacenter": {
            "sites": [
                {
                    "name": "dc1",
                    "racks": 40,
                    "nodes_per_rack": 32,
                    "node": {"gpus": 8},
                    "network": {"nic": "400Gbps", "oversubscription": 2},
                }
            ]
        },
        "workload": {"jobs": [cls]},
        "policies": {"scheduler": "fifo", "placement": placement},
    }


def worker(jobs: int, network: bool, placement: str = "first_fit") -> dict:
    """Time ``simulate`` of one side in this process."""
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    sc = scenario_from_data(scenario(jobs, network, placement), str(ROOT))
    t0 = time.perf_counter()
    result = simulate(sc)
    wall = time.perf_counter() - t0
    net = result.summary["network"]
    return {"wall_s": wall, "slowdown": net["mean_job_slowdown"], "completed": result.summary["jobs"]["completed"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--placement", default="first_fit", help="placement rule of both sides (default first_fit)")
    ap.add_argument("--worker", choices=("on", "off"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.jobs, args.worker == "on", args.placement)))
        return 0
    times: dict[str, list[float]] = {"off": [], "on": []}
    last: dict[str, dict] = {}
    for i in range(args.repeat):
        for side in ("off", "on") if i % 2 == 0 else ("on", "off"):
            command = [sys.executable, __file__, "--jobs", str(args.jobs), "--placement", args.placement]
            out = subprocess.run([*command, "--worker", side], capture_output=True, text=True, check=True)
            last[side] = json.loads(out.stdout.strip().splitlines()[-1])
            times[side].append(last[side]["wall_s"])
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    print(f"{args.jobs:,} jobs, 10,000 GPUs, 2:1 leaf-spine, {args.placement}: network off {off:.2f} s, on {on:.2f} s, "
          f"on / off {on / off:.2f}x (target 3x); mean job slowdown {last['on']['slowdown']:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
