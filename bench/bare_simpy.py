"""A bare, minimal SimPy model of the benchmark workload: the yardstick dcsim is timed against.

The model (the same one dcsim runs in ``bench/run_bench.py``):

- Poisson arrivals at rate ``load * installed GPUs / (E[gpus] * mean duration)``;
- gang jobs of ``g`` GPUs drawn from a discrete size mix, exponential run times;
- nodes of 8 GPUs; a job of ``g <= 8`` GPUs runs on one node, a larger one (a multiple
  of 8) on ``g / 8`` whole free nodes;
- a FIFO queue: strict by default (nothing passes a job that does not fit), or greedy
  backfill without reservation (``--backfill``: later jobs that fit start);
- first fit: the lowest-index node with enough free GPUs (the lowest-index whole
  free nodes for multi-node jobs).

Choices, as someone writing a competent minimal SimPy model would make them:

- one arrival process, and one SimPy process per started job (``yield
  env.timeout(duration)``, then release and schedule): idiomatic SimPy;
- the free GPUs of every node in one numpy array; first fit is a vectorised scan
  (``argmax(free >= g)``, ``flatnonzero(free == 8)[:k]``), O(nodes) but in C; a
  running total of free GPUs skips scans that cannot succeed;
- all draws up front with numpy ``Generator``s.

It imports nothing from dcsim. With ``--streams dcsim`` it draws exactly the numbers
dcsim draws for a job class named ``ref`` (dcsim's documented stream scheme: one PCG64
per named stream, keyed by CRC-32 of the name), so the two mean waits must agree to
rounding; with ``--streams own`` (the default) it uses its own generator and they
agree statistically.

Usage::

    python bench/bare_simpy.py --jobs 100000 --nodes 1250
    python bench/bare_simpy.py --jobs 10000 --nodes 125 --load 0.97 \\
        --sizes 1,2,4,8,16,32,64 --weights 0.40,0.15,0.15,0.15,0.08,0.05,0.02 --backfill

Prints one JSON line: jobs, GPUs, wall time, jobs/s, mean wait, peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import zlib
from collections import deque

import numpy as np
import simpy

GPUS_PER_NODE = 8


def stream(seed: int, name: str) -> np.random.Generator:
    """dcsim's scheme for a named random stream (re-stated here, not imported)."""
    key = (zlib.crc32(name.encode()),)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def draw(n_jobs: int, rate: float, sizes: list[int], weights: list[float], mean_s: float, seed: int,
         streams: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Arrival times (s), GPU counts and run times (s) of ``n_jobs`` jobs."""
    p = np.asarray(weights, dtype=float)
    p /= p.sum()
    values = np.asarray(sizes, dtype=np.int64)
    if streams == "dcsim":
        arrivals, job_sizes, durations = (stream(seed, f"{k}.ref") for k in ("arrivals", "job_sizes", "durations"))
    else:
        arrivals, job_sizes, durations = np.random.default_rng(seed).spawn(3)
    times = np.cumsum(arrivals.exponential(1.0 / rate, n_jobs))
    gpus = job_sizes.choice(values, n_jobs, p=p)
    run_s = durations.exponential(mean_s, n_jobs)
    return times, gpus, run_s


def simulate(times: np.ndarray, gpus: np.ndarray, run_s: np.ndarray, nodes: int, backfill: bool) -> np.ndarray:
    """Run the model; return each job's wait (start - arrival), s."""
    n_jobs = len(times)
    times_l, gpus_l, run_l = times.tolist(), gpus.tolist(), run_s.tolist()
    waits = np.full(n_jobs, np.nan)
    free = np.full(nodes, GPUS_PER_NODE, dtype=np.int16)  # free GPUs per node
    total_free = [nodes * GPUS_PER_NODE]
    queue: deque[int] = deque()  # job indices in arrival order
    env = simpy.Environment()

    def place(g: int) -> np.ndarray | int | None:
        """First fit: the node (or whole nodes) to run ``g`` GPUs on, or None."""
        if total_free[0] < g:
            return None
        if g <= GPUS_PER_NODE:
            fits = free >= g
            node = int(fits.argmax())
            return node if fits[node] else None
        whole = np.flatnonzero(free == GPUS_PER_NODE)
        k = g // GPUS_PER_NODE
        return whole[:k] if whole.size >= k else None

    def start(j: int, where: np.ndarray | int) -> None:
        g = gpus_l[j]
        if isinstance(where, int):
            free[where] -= g
        else:
            free[where] = 0
        total_free[0] -= g
        waits[j] = env.now - times_l[j]
        env.process(run_job(j, where))

    def run_job(j: int, where: np.ndarray | int):  # noqa: ANN202
        yield env.timeout(run_l[j])
        g = gpus_l[j]
        if isinstance(where, int):
            free[where] += g
        else:
            free[where] = GPUS_PER_NODE
        total_free[0] += g
        schedule()

    def schedule() -> None:
        """Start queued jobs: the head while it fits (strict), or any that fits (backfill)."""
        if not backfill:
            while queue:
                where = place(gpus_l[queue[0]])
                if where is None:
                    return
                start(queue.popleft(), where)
            return
        # Greedy backfill: one pass in arrival order. If g GPUs did not fit, no larger
        # job fits either, so those are skipped without a scan.
        smallest_failure = GPUS_PER_NODE * nodes + 1
        kept: list[int] = []
        for j in queue:
            g = gpus_l[j]
            where = None if (g >= smallest_failure or total_free[0] == 0) else place(g)
            if where is None:
                smallest_failure = min(smallest_failure, g)
                kept.append(j)
            else:
                start(j, where)
        if len(kept) != len(queue):
            queue.clear()
            queue.extend(kept)

    def arrivals():  # noqa: ANN202
        for j in range(n_jobs):
            yield env.timeout(times_l[j] - env.now)
            # Capacity did not grow, so only the new job can start: at the head of a
            # strict queue, or anywhere under backfill.
            if backfill or not queue:
                where = place(gpus_l[j])
                if where is not None:
                    start(j, where)
                    continue
            queue.append(j)

    env.process(arrivals())
    env.run()
    return waits


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Parse arguments, run, print and return the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--nodes", type=int, default=None, help="8-GPU nodes (default: 125 per 10,000 jobs)")
    ap.add_argument("--load", type=float, default=0.9, help="offered load")
    ap.add_argument("--sizes", default="1,2,4,8")
    ap.add_argument("--weights", default="0.70,0.10,0.15,0.05")
    ap.add_argument("--mean", type=float, default=3600.0, help="mean run time, s")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--streams", choices=("own", "dcsim"), default="own")
    ap.add_argument("--backfill", action="store_true", help="greedy backfill instead of strict FIFO")
    args = ap.parse_args(argv)
    nodes = args.nodes or max(1, round(args.jobs * 125 / 10_000))
    sizes = [int(x) for x in args.sizes.split(",")]
    weights = [float(x) for x in args.weights.split(",")]
    mean_gpus = sum(s * w for s, w in zip(sizes, weights, strict=True)) / sum(weights)
    rate = args.load * nodes * GPUS_PER_NODE / (mean_gpus * args.mean)

    t0 = time.perf_counter()
    times, gpus, run_s = draw(args.jobs, rate, sizes, weights, args.mean, args.seed, args.streams)
    waits = simulate(times, gpus, run_s, nodes, args.backfill)
    mean_wait = float(np.nanmean(waits))
    wall = time.perf_counter() - t0

    out = {
        "jobs": args.jobs, "gpus": nodes * GPUS_PER_NODE, "wall_s": wall, "jobs_per_s": args.jobs / wall,
        "mean_wait_s": mean_wait, "started": int(np.count_nonzero(~np.isnan(waits))),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
