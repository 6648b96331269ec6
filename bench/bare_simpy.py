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
  env.timeout(duration)``, then release and schedule): idiomatic SimPy. ``--job
  callback`` makes a started job a bare timeout with a completion callback instead
  (two SimPy events per job instead of four: the faster, stricter yardstick);
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

Prints one JSON line: jobs, GPUs, wall and CPU time, jobs/s, mean wait, longest queue, peak memory.
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


def read_trace(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Submit times (s), GPU counts and run times (s) of a CSV trace ``job_id,submit,gpus,duration``."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(1, 2, 3), ndmin=2)
    order = np.argsort(table[:, 0], kind="stable")
    table = table[order]
    return table[:, 0], table[:, 1].astype(np.int64), table[:, 2]


def write_trace(path: str, times: np.ndarray, gpus: np.ndarray, run_s: np.ndarray) -> None:
    """Write jobs as the CSV trace :func:`read_trace` reads (floats as their shortest round-trip text)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("job_id,submit,gpus,duration\n")
        rows = zip(times.tolist(), gpus.tolist(), run_s.tolist(), strict=True)
        fh.writelines(f"{i},{t!r},{g},{d!r}\n" for i, (t, g, d) in enumerate(rows))


def simulate(
    times: np.ndarray, gpus: np.ndarray, run_s: np.ndarray, nodes: int, backfill: bool, callbacks: bool = False
) -> tuple[np.ndarray, int]:
    """Run the model; return each job's wait (start - arrival, s) and the longest queue.

    A started job is a SimPy process (``callbacks=False``) or a bare timeout with a
    completion callback (``callbacks=True``: two fewer events per job).
    """
    n_jobs = len(times)
    times_l, gpus_l, run_l = times.tolist(), gpus.tolist(), run_s.tolist()
    waits = np.full(n_jobs, np.nan)
    free = np.full(nodes, GPUS_PER_NODE, dtype=np.int16)  # free GPUs per node
    total_free = [nodes * GPUS_PER_NODE]
    queue: deque[int] = deque()  # job indices in arrival order
    max_queue = [0]
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
        if callbacks:
            env.timeout(run_l[j], (j, where)).callbacks.append(finish)
        else:
            env.process(run_job(j, where))

    def run_job(j: int, where: np.ndarray | int):
        yield env.timeout(run_l[j])
        release(j, where)

    def finish(event: simpy.Event) -> None:
        release(*event.value)

    def release(j: int, where: np.ndarray | int) -> None:
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
        # job fits either, so those are skipped without a scan; the pass stops when
        # nothing fits any more.
        smallest_failure = GPUS_PER_NODE * nodes + 1
        started: list[int] = []
        for j in queue:
            if total_free[0] == 0 or smallest_failure == 1:
                break
            g = gpus_l[j]
            if g >= smallest_failure:
                continue
            where = place(g)
            if where is None:
                smallest_failure = g
                continue
            start(j, where)
            started.append(j)
        if started:
            gone = set(started)
            remaining = [j for j in queue if j not in gone]
            queue.clear()
            queue.extend(remaining)

    def arrivals():
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
            max_queue[0] = max(max_queue[0], len(queue))

    env.process(arrivals())
    env.run()
    return waits, max_queue[0]


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
    ap.add_argument("--job", choices=("process", "callback"), default="process",
                    help="a started job is a SimPy process (default) or a timeout with a callback")  # fmt: skip
    ap.add_argument("--trace", metavar="CSV",
                    help="replay this job trace (columns job_id, submit, gpus, duration; seconds) instead of "
                    "drawing jobs (give --nodes; --jobs, --load, --sizes, --weights, --mean, --seed and --streams "
                    "are then unused)")  # fmt: skip
    ap.add_argument("--write-trace", metavar="CSV", help="write the drawn jobs as a trace (see --trace) and exit")
    args = ap.parse_args(argv)
    nodes = args.nodes or max(1, round(args.jobs * 125 / 10_000))
    sizes = [int(x) for x in args.sizes.split(",")]
    weights = [float(x) for x in args.weights.split(",")]
    mean_gpus = sum(s * w for s, w in zip(sizes, weights, strict=True)) / sum(weights)
    rate = args.load * nodes * GPUS_PER_NODE / (mean_gpus * args.mean)

    if args.write_trace:
        write_trace(args.write_trace, *draw(args.jobs, rate, sizes, weights, args.mean, args.seed, args.streams))
        return {}
    t0, c0 = time.perf_counter(), time.process_time()
    if args.trace:
        times, gpus, run_s = read_trace(args.trace)
        args.jobs = len(times)
    else:
        times, gpus, run_s = draw(args.jobs, rate, sizes, weights, args.mean, args.seed, args.streams)
    waits, max_queue = simulate(times, gpus, run_s, nodes, args.backfill, args.job == "callback")
    mean_wait = float(np.nanmean(waits))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    out = {
        "jobs": args.jobs, "gpus": nodes * GPUS_PER_NODE, "wall_s": wall, "cpu_s": cpu, "jobs_per_s": args.jobs / wall,
        "mean_wait_s": mean_wait, "started": int(np.count_nonzero(~np.isnan(waits))), "max_queue": max_queue,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
