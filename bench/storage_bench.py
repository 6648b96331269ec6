"""Sized checkpoints' cost: a run whose checkpoints go through storage against the same run with a fixed write.

The workload is run_bench.py's reference (Poisson arrivals at offered load 0.9, exponential
run times of mean 1 h, 1 to 8 GPUs, with multi-node jobs of 16 and 32 GPUs added) on
``--gpus`` GPUs (nodes of 8, racks of 32), every job checkpointing every 20 min of work and
restarting after node failures (MTBF 5,000 h). "sized" writes 100 GB per checkpoint through
a 1 TB/s site storage (400 Gb/s NICs: a node alone writes at 50 GB/s) and reads it back at
each restart; "fixed" writes for 2 s, a one-node write's time on idle storage, and reads
nothing. Each side runs in a fresh process, alternately; medians of ``--repeat``.

    python bench/storage_bench.py [--jobs 20000] [--gpus 2000] [--repeat 3]
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

SIZES = (1, 2, 4, 8, 16, 32)
WEIGHTS = (0.6, 0.1, 0.14, 0.1, 0.04, 0.02)


def scenario(jobs: int, gpus: int, sized: bool) -> dict:
    """The scenario as data."""
    mean_h = 1.0
    mean_gpus = sum(s * w for s, w in zip(SIZES, WEIGHTS, strict=True))
    rate = 0.9 * gpus / (mean_gpus * mean_h * 3600.0)
    plan = {"interval": "20m", "restart": "1m", **({"size": "100GB"} if sized else {"write": "2s"})}
    cls = {"name": "ref", "arrival": {"process": "poisson", "rate": rate}, "count": jobs,
           "gpus": {"values": list(SIZES), "weights": list(WEIGHTS)},
           "duration": {"dist": "exponential", "mean": mean_h * 3600.0}, "checkpoint": plan}  # fmt: skip
    site = {"name": "dc1", "racks": max(gpus // 256, 1), "nodes_per_rack": 32, "node": {"gpus": 8},
            "network": {"nic": "400Gbps"}}  # fmt: skip
    if sized:
        site["storage"] = {"bandwidth": "1TB/s"}
    return {
        "name": "storage-bench",
        "seed": 1,
        "datacenter": {"sites": [site]},
        "workload": {"jobs": [cls]},
        "failures": {"node": {"mtbf": "5000h"}},
        "repair": {"technicians": 4, "time": {"dist": "fixed", "value": "4h"}},
        "policies": {"scheduler": "fifo", "placement": "first_fit"},
    }


def worker(jobs: int, gpus: int, sized: bool) -> dict:
    """Time ``simulate`` of one side in this process."""
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    sc = scenario_from_data(scenario(jobs, gpus, sized), str(ROOT))
    t0 = time.perf_counter()
    result = simulate(sc)
    wall = time.perf_counter() - t0
    s = result.summary
    storage = s["storage"]
    return {"wall_s": wall, "write_s": storage["mean_checkpoint_write_s"], "writes": storage["checkpoint_writes"],
            "completed": s["jobs"]["completed"]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--gpus", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--worker", choices=("sized", "fixed"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.jobs, args.gpus, args.worker == "sized")))
        return 0
    times: dict[str, list[float]] = {"fixed": [], "sized": []}
    last: dict[str, dict] = {}
    for i in range(args.repeat):
        for side in ("fixed", "sized") if i % 2 == 0 else ("sized", "fixed"):
            out = subprocess.run([sys.executable, __file__, "--jobs", str(args.jobs), "--gpus", str(args.gpus),
                                  "--worker", side], capture_output=True, text=True, check=True)  # fmt: skip
            last[side] = json.loads(out.stdout.strip().splitlines()[-1])
            times[side].append(last[side]["wall_s"])
    fixed, sized = statistics.median(times["fixed"]), statistics.median(times["sized"])
    print(
        f"{args.jobs:,} jobs, {args.gpus:,} GPUs, checkpoints every 20 min: fixed write {fixed:.2f} s, sized "
        f"{sized:.2f} s, sized / fixed {sized / fixed:.2f}x; {last['sized']['writes']:,} writes through storage, "
        f"mean {last['sized']['write_s']:.2f} s (2 s alone); runs: fixed {times['fixed']}, sized {times['sized']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
