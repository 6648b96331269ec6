"""The FGD fill of the openb study in plain Python, with no dcsim code: the bench's reference for speed and results.

The same model as ``dcsim run`` of the study with ``placement: fgd`` (``dcsim/engine/fill.py``,
``dcsim/infra/fragmentation.py``, ``dcsim/policies/sharing.py``), written again from the
paper (Weng et al., ATC'23) and the authors' ``pkg/utils/frag.go``: the same pod order (the
trace shuffled, then drawn with replacement, from the same numpy stream), the same typical
shapes (95 % of pods, memory left out), FGD's least change of fragmentation as the authors score it
(``int(100 * sigmoid(-change / 1000))``, dcsim's default ``scores: authors``; ``--exact``: the
change itself), ties to the lowest node id and GPU index. Nodes are grouped by free state (incrementally), so each
state is scored once per decision; fragmentation of a state is cached.

    python bench/bare_fgd.py NODE_LIST.csv POD_LIST.csv [--seed 42] [--until 1.3]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
import zlib
from collections import Counter

import numpy as np

WHOLE = 1000


def read(path: str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def order(n: int, seed: int):
    """The trace's rows once in a random order, then drawn with replacement (dcsim's stream ``arrivals.fill``)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(b"arrivals.fill"),))))
    yield from rng.permutation(n).tolist()
    while True:
        yield from rng.choice(n, size=4096).tolist()


def shapes_of(pods: list[tuple[int, int, int, int]], popularity: float = 0.95) -> list[tuple[int, int, int, float]]:
    """(cpu, gpus, milli, weight) of the most popular pod shapes covering ``popularity`` of the pods."""
    counts = Counter((c, g, k) for c, _, g, k in pods)
    ranked = sorted(counts.items(), key=lambda kv: (kv[1], (kv[0][0], kv[0][2], kv[0][1])), reverse=True)
    kept, covered = [], 0
    for shape, count in ranked:
        if covered >= popularity * len(pods):
            break
        kept.append((shape, count))
        covered += count
    return [(c, g, k, count / covered) for (c, g, k), count in kept]


def frag(cpu: int, residuals: tuple[int, ...], shapes: list[tuple[int, int, int, float]]) -> float:
    """F_n(M) of a node with ``cpu`` milli-CPU and these GPU residuals free."""
    idle = sum(residuals)
    out = 0.0
    for c, g, k, w in shapes:
        if g == 0 or c > cpu or sum(1 for r in residuals if r >= k) < g:
            out += w * idle
        else:
            out += w * sum(r for r in residuals if r < k)
    return out


def run(
    node_file: str,
    pod_file: str,
    seed: int = 42,
    until: float = 1.3,
    nodes_chosen: list[int] | None = None,
    authors: bool = True,
) -> dict[str, float]:
    """The FGD fill; its allocation rate, pods and wall time (``nodes_chosen``: each pod's node, -1: failed)."""
    t0 = time.perf_counter()
    nodes = read(node_file)
    cpu = [int(r["cpu_milli"]) for r in nodes]
    mem = [int(r["memory_mib"]) for r in nodes]
    gpu: list[list[int]] = [[WHOLE] * int(r["gpu"]) for r in nodes]
    pods = [(int(r["cpu_milli"]), int(r["memory_mib"]), int(r["num_gpu"]), int(r["gpu_milli"])) for r in read(pod_file)]
    shapes = shapes_of(pods)
    capacity = WHOLE * sum(len(g) for g in gpu)
    cache: dict[tuple[int, tuple[int, ...]], float] = {}

    def f(c: int, res: tuple[int, ...]) -> float:
        key = (c, res)
        if key not in cache:
            cache[key] = frag(c, res, shapes)
        return cache[key]

    def key(n: int) -> tuple[int, int, tuple[int, ...]]:
        return (cpu[n], mem[n], tuple(sorted(gpu[n], reverse=True)))

    groups: dict[tuple[int, int, tuple[int, ...]], set[int]] = {}
    of = [key(n) for n in range(len(nodes))]
    for n, k in enumerate(of):
        groups.setdefault(k, set()).add(n)
    arrived = used = placed = arrivals = 0
    at_100 = 0.0
    for i in order(len(pods), seed):
        c, m, g, k = pods[i]
        if arrived + g * k > until * capacity:
            break
        arrived += g * k
        arrivals += 1
        best: tuple[float, int, set[int]] | None = None  # (delta, node, residuals a share may take)
        for (fc, fm, res), members in groups.items():
            if fc < c or fm < m or sum(1 for r in res if r >= k) < g:
                continue
            before = f(fc, res)
            if g and k < WHOLE:  # a share: each distinct residual that holds it
                options = [(f(fc - c, tuple(sorted((*res[:j], r - k, *res[j + 1 :]), reverse=True))) - before, r)
                           for j, r in enumerate(res) if r >= k and (j == 0 or res[j - 1] != r)]  # fmt: skip
            else:  # none, or whole GPUs: the wholly free ones (first, as residuals are sorted)
                options = [(f(fc - c, tuple(sorted((0,) * g + res[g:], reverse=True))) - before, -1)]
            node = min(members)
            for delta, r in options:
                if authors:  # the authors' integer score, int(100 * sigmoid(-delta / 1000)), highest first
                    delta = -int(100 / (1 + math.exp(delta / 1000)))
                if best is None or delta < best[0] or (delta == best[0] and node < best[1]):
                    best = (delta, node, {r})
                elif delta == best[0] and node == best[1]:
                    best[2].add(r)
        if nodes_chosen is not None:
            nodes_chosen.append(-1 if best is None else best[1])
        if best is not None:
            _, n, take = best
            old = of[n]
            if g and k < WHOLE:  # the lowest-indexed GPU whose residual is one of the best
                j = next(j for j, x in enumerate(gpu[n]) if x in take)
                gpu[n][j] -= k
            else:
                for j in [j for j, x in enumerate(gpu[n]) if x == WHOLE][:g]:
                    gpu[n][j] = 0
            cpu[n] -= c
            mem[n] -= m
            used += g * k
            placed += 1
            groups[old].discard(n)
            if not groups[old]:
                del groups[old]
            of[n] = key(n)
            groups.setdefault(of[n], set()).add(n)
        if arrived <= capacity:
            at_100 = used / capacity
    return {"pods_arrived": arrivals, "pods_placed": placed, "allocation_rate": used / capacity,
            "allocation_rate_at_100": at_100, "wall_s": time.perf_counter() - t0}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("nodes")
    ap.add_argument("pods")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--until", type=float, default=1.3)
    ap.add_argument("--exact", action="store_true", help="compare the changes of fragmentation exactly")
    args = ap.parse_args()
    print(json.dumps(run(args.nodes, args.pods, args.seed, args.until, authors=not args.exact)))


if __name__ == "__main__":
    main()
