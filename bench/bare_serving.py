"""A bare, minimal SimPy model of the serving benchmark: the yardstick dcsim's services are timed against.

The model (the same one ``bench/serving_bench.py`` gives dcsim):

- requests arrive as one Poisson stream of rate ``load * replicas * mu`` (``mu`` = 1 /
  mean service time);
- ``replicas`` replicas, each a single FIFO server (concurrency 1) with its own queue;
- service times exponential with mean ``1 / mu``;
- power of two choices: each request samples two distinct replicas uniformly at random and
  joins the one with fewer requests (queued plus in service), the first sampled on a tie.

That is an M/M/c-like system: c single-server M/M/1 queues fed by one Poisson stream split
by the supermarket rule (Vvedenskaya, Dobrushin and Karpelevich, 1996; Mitzenmacher, 2001).
As c grows its mean sojourn approaches the mean-field limit ``sum_{i>=1} rho^(2^i - 2) / mu``
(1.95 / mu at rho = 0.8).

Choices, as someone writing a competent minimal SimPy model would make them:

- one arrival process, and one SimPy process per request that takes its replica's
  ``simpy.Resource(capacity=1)`` (``with res.request() as req: yield req; yield
  env.timeout(s)``): idiomatic SimPy. The queue length a request is routed on is
  ``len(res.queue) + res.count``;
- ``--request callback``: no process per request, the faster, stricter yardstick: each
  replica is a count of its requests and a ``deque`` of those waiting; an arrival and a
  service end are each a bare timeout with a callback (two SimPy events per request,
  against five to six for the process);
- all draws up front with numpy ``Generator``s: inter-arrival times, service times and the
  two sampled replicas of every request.

It imports nothing from dcsim; its random numbers are its own, so its mean sojourn agrees
with dcsim's statistically, not to rounding. The standard error printed is from 50 batch
means of the sojourns in arrival order (the sojourns of neighbouring requests are correlated).

Usage::

    python bench/bare_serving.py --requests 1000000 --replicas 100 --load 0.8
    python bench/bare_serving.py --requests 1000000 --request callback

Prints one JSON line: requests, replicas, wall and CPU time, requests/s, mean sojourn and its
standard error (in seconds and in units of 1 / mu), the longest queue, peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import deque

import numpy as np
import simpy

BATCHES = 50


Drawn = tuple[list[float], list[float], list[int], list[int]]
"""Arrival times, service times, first and second sampled replica of every request."""


def draw(n: int, replicas: int, rate: float, mean_s: float, seed: int) -> Drawn:
    """Arrival times, service times and the two distinct sampled replicas of ``n`` requests."""
    arrivals, services, choices = np.random.default_rng(seed).spawn(3)
    times = np.cumsum(arrivals.exponential(1.0 / rate, n))
    work = services.exponential(mean_s, n)
    first = choices.integers(0, replicas, n)
    second = choices.integers(0, replicas - 1, n)
    second += second >= first  # uniform over the other replicas
    return times.tolist(), work.tolist(), first.tolist(), second.tolist()


def simulate_process(
    times: list[float], work: list[float], first: list[int], second: list[int], replicas: int
) -> tuple[np.ndarray, int]:
    """Run the model with a process per request; return each request's sojourn and the longest queue."""
    env = simpy.Environment()
    servers = [simpy.Resource(env, capacity=1) for _ in range(replicas)]
    sojourn = np.empty(len(times))
    longest = [0]

    def request(res: simpy.Resource, j: int):
        with res.request() as req:
            yield req
            yield env.timeout(work[j])
        sojourn[j] = env.now - times[j]

    def arrivals():
        for j, t in enumerate(times):
            yield env.timeout(t - env.now)
            a, b = servers[first[j]], servers[second[j]]
            qa, qb = len(a.queue) + a.count, len(b.queue) + b.count
            res, q = (b, qb) if qb < qa else (a, qa)
            if q > longest[0]:
                longest[0] = q
            env.process(request(res, j))

    env.process(arrivals())
    env.run()
    return sojourn, longest[0]


def simulate_callback(
    times: list[float], work: list[float], first: list[int], second: list[int], replicas: int
) -> tuple[np.ndarray, int]:
    """Run the model with two bare timeouts per request (arrival, service end); same results as a process each."""
    env = simpy.Environment()
    count = [0] * replicas  # requests on each replica, queued plus in service
    waiting = [deque() for _ in range(replicas)]
    sojourn = np.empty(len(times))
    longest = 0
    n = len(times)
    nxt = 0

    def arrive(_event: simpy.Event) -> None:
        nonlocal nxt, longest
        j = nxt
        a, b = first[j], second[j]
        r = b if count[b] < count[a] else a
        q = count[r]
        count[r] = q + 1
        if q > longest:
            longest = q
        if q:
            waiting[r].append(j)
        else:
            env.timeout(work[j], (r, j)).callbacks.append(served)
        nxt = j + 1
        if nxt < n:
            env.timeout(times[nxt] - env.now).callbacks.append(arrive)

    def served(event: simpy.Event) -> None:
        r, j = event.value
        sojourn[j] = env.now - times[j]
        count[r] -= 1
        if waiting[r]:
            k = waiting[r].popleft()
            env.timeout(work[k], (r, k)).callbacks.append(served)

    if n:
        env.timeout(times[0]).callbacks.append(arrive)
    env.run()
    return sojourn, longest


def batch_se(values: np.ndarray, batches: int = BATCHES) -> float:
    """Standard error of the mean of correlated ``values`` from ``batches`` batch means."""
    means = np.array([part.mean() for part in np.array_split(values, batches)])
    return float(means.std(ddof=1) / np.sqrt(batches))


def supermarket(rho: float, d: int = 2) -> float:
    """The mean-field mean sojourn of power of d choices, in units of 1 / mu: sum_{i>=1} rho^((d^i - d) / (d - 1))."""
    total, i = 0.0, 1
    while True:
        term = rho ** ((d**i - d) / (d - 1))
        total += term
        if term < 1e-15:
            return total
        i += 1


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Parse arguments, run, print and return the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--load", type=float, default=0.8, help="offered load per replica (rate / (replicas * mu))")
    ap.add_argument("--mean", type=float, default=1.0, help="mean service time 1 / mu, s")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--request",
        choices=("process", "callback"),
        default="process",
        help="a request is a SimPy process holding a Resource (default), or two timeouts with callbacks",
    )
    args = ap.parse_args(argv)
    if args.replicas < 2:
        ap.error("--replicas: power of two choices needs at least 2")
    rate = args.load * args.replicas / args.mean

    t0, c0 = time.perf_counter(), time.process_time()
    drawn = draw(args.requests, args.replicas, rate, args.mean, args.seed)
    run = simulate_callback if args.request == "callback" else simulate_process
    sojourn, longest = run(*drawn, args.replicas)
    mean, se = float(sojourn.mean()), batch_se(sojourn)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    out = {
        "requests": args.requests, "replicas": args.replicas, "load": args.load, "wall_s": wall, "cpu_s": cpu,
        "requests_per_s": args.requests / wall, "mean_sojourn_s": mean, "sojourn_se_s": se,
        "mean_sojourn_mu": mean / args.mean, "mean_field_mu": supermarket(args.load), "max_queue": longest,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
