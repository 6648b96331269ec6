"""dcsim with shared GPUs beside a bare SimPy script of the same model.

One command::

    python bench/sharing_bench.py                 # 100,000 jobs on 1,000 GPUs
    python bench/sharing_bench.py --jobs 10000    # smaller

The model: 125 nodes of 8 GPUs; every job asks for 1/4 or 1/2 of one GPU (equally likely);
Poisson arrivals at offered load 0.9 of the GPU capacity (2,400 jobs/h for a mean share of
0.375 and 1 h runs); exponential run times, mean 1 h; strict FIFO; first fit (the lowest-id
node with a GPU that holds the share, its first such GPU). The run ends when the workload drains.

The bare script keeps, per residual level (0, 250, ..., 1000 milli-GPU: shares of 1/4 and 1/2
leave only these), a heap of the GPUs at that level; first fit is the lowest GPU id over the
levels that hold the share (GPU ids are dense node by node, so it is dcsim's choice too), a
SimPy timeout per job end. It draws its own numbers: the two mean waits agree within noise,
not to rounding. Each run is a fresh subprocess; CPU time is the child's user + system time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODES, GPUS_PER_NODE, LOAD, MEAN_S = 125, 8, 0.9, 3600.0
SHARES = (0.25, 0.5)


def rate_per_h() -> float:
    """Arrivals per hour at the offered load: load x GPUs / (mean share x mean run time in h)."""
    return LOAD * NODES * GPUS_PER_NODE / (sum(SHARES) / len(SHARES) * MEAN_S / 3600.0)


def dcsim_case(jobs: int) -> dict:
    """Simulate the model with dcsim; return wall and CPU seconds and the mean wait."""
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    data = {
        "name": "sharing-bench", "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "racks": NODES // 25, "nodes_per_rack": 25,
                                  "node": {"gpus": GPUS_PER_NODE}}]},
        "workload": {"jobs": [{
            "name": "share", "arrival": {"process": "poisson", "rate": f"{rate_per_h()}/h"}, "count": jobs,
            "gpus": 1, "gpu_fraction": {"values": list(SHARES)}, "duration": {"dist": "exponential", "mean": MEAN_S},
        }]},
        "policies": {"scheduler": "fifo", "placement": "first_fit"},
    }  # fmt: skip
    scenario = scenario_from_data(data)
    start, cpu = time.perf_counter(), time.process_time()
    result = simulate(scenario)
    return {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "mean_wait_s": result.summary["jobs"]["mean_wait_s"]}  # fmt: skip


def bare_case(jobs: int) -> dict:
    """The same model in bare SimPy (see the module)."""
    from heapq import heappop, heappush

    import numpy as np
    import simpy

    rng = np.random.default_rng(1)
    gaps = rng.exponential(3600.0 / rate_per_h(), jobs)
    durations = rng.exponential(MEAN_S, jobs)
    milli = np.where(rng.random(jobs) < 0.5, 250, 500).tolist()
    start = time.perf_counter()
    env = simpy.Environment()
    n_gpus = NODES * GPUS_PER_NODE
    free = [1000] * n_gpus
    levels: list[list[int]] = [[] for _ in range(5)]  # by residual // 250; lazy deletion
    levels[4] = list(range(n_gpus))
    queue: list[int] = []
    head = [0]
    waits = [0.0] * jobs
    submit = [0.0] * jobs

    def first_fit(need: int) -> int:
        best = -1
        for level in range(need // 250, 5):
            heap = levels[level]
            while heap and free[heap[0]] != level * 250:
                heappop(heap)
            if heap and (best < 0 or heap[0] < best):
                best = heap[0]
        return best

    def move(gpu: int, new: int) -> None:
        free[gpu] = new
        heappush(levels[new // 250], gpu)

    def end(event: simpy.Event) -> None:
        gpu, need = event.value
        move(gpu, free[gpu] + need)
        drain()

    def drain() -> None:
        while head[0] < len(queue):
            j = queue[head[0]]
            gpu = first_fit(milli[j])
            if gpu < 0:
                return
            head[0] += 1
            move(gpu, free[gpu] - milli[j])
            waits[j] = env.now - submit[j]
            env.timeout(durations[j], (gpu, milli[j])).callbacks.append(end)

    def arrivals():
        for j in range(jobs):
            yield env.timeout(gaps[j])
            submit[j] = env.now
            queue.append(j)
            if head[0] == len(queue) - 1:
                drain()

    env.process(arrivals())
    env.run()
    return {"wall_s": time.perf_counter() - start, "mean_wait_s": float(np.mean(waits))}


def child(kind: str, jobs: int) -> dict:
    """Run one case in a fresh subprocess; add its CPU time and peak memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--jobs", str(jobs)], check=True,
                         capture_output=True, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["child_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run both and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=100_000, help="jobs (default 100000)")
    ap.add_argument("--child", choices=("dcsim", "bare"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps((dcsim_case if args.child == "dcsim" else bare_case)(args.jobs)))
        return 0
    rows = [(kind, child(kind, args.jobs)) for kind in ("dcsim", "bare")]
    print(f"{args.jobs:,} jobs of 1/4 or 1/2 GPU on {NODES * GPUS_PER_NODE:,} GPUs, load {LOAD}, FIFO + first fit")
    print(f"{'':8} {'wall s':>8} {'child CPU s':>12} {'mean wait s':>12}")
    for kind, r in rows:
        print(f"{kind:8} {r['wall_s']:8.2f} {r['child_cpu_s']:12.2f} {r['mean_wait_s']:12.1f}")
    print(f"ratio dcsim / bare (wall, simulation only): {rows[0][1]['wall_s'] / rows[1][1]['wall_s']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
