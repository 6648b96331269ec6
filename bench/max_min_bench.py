"""Max-min fair sharing on a 10,000-GPU leaf-spine: dcsim's ``max_min`` beside a bare Python script.

The instance (drawn once, seed 1):

- a 2:1 oversubscribed leaf-spine: 40 racks (leaves) of 32 nodes of 8 GPUs (10,240 GPUs),
  8 spines; one 400 Gb/s NIC per GPU (a link up to the leaf, a link down from it), and one
  link each way between every leaf and every spine, of 32 x 8 x 400 Gb/s / (2 x 8) = 6.4 Tb/s;
- the nodes shuffled and cut into jobs of 2, 4, 8, 16 or 32 whole nodes (random placements);
- per job, a ring all-reduce as NCCL runs it on 8-GPU nodes: one ring per GPU index (rail),
  a flow from GPU g of each node to GPU g of the next; a flow crosses its NIC up, then (if
  the next node is in another rack) leaf to spine and spine to leaf, the spine picked at
  random per flow (ECMP), then the NIC down. About 10,000 flows over 21,120 links.

Timed, in the same process: ``dcsim.infra.fabric.max_min`` (numpy and scipy.sparse), a bare
pure-Python progressive filling of the same model (dicts and lists, as someone writing a
competent one would: per step the lowest level over the links still shared, then the flows
of the saturated links frozen), and ``Sharing.change`` for one job ending and another
starting (its component is most of the fabric: the spines join nearly every cross-rack
flow). Both solvers must agree to 1e-9. Wall time is the median of ``--repeat`` runs.

Usage::

    python bench/max_min_bench.py               # writes bench/out/RESULTS-max-min.md
    python bench/max_min_bench.py --publish     # writes bench/RESULTS-max-min.md
"""

from __future__ import annotations

import argparse
import datetime
import math
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from dcsim.infra.fabric import Sharing, max_min

HERE = Path(__file__).resolve().parent

RACKS, NODES_PER_RACK, GPUS_PER_NODE, SPINES = 40, 32, 8, 8
NIC_BPS = 400e9
OVERSUBSCRIPTION = 2.0
JOB_NODES = (2, 4, 8, 16, 32)
SEED = 1


def fabric() -> tuple[np.ndarray, int, int, int]:
    """Capacities of every link (bits/s), indexed by link id, and the first id of each link group.

    Ids: NIC up of (node, gpu) = node * 8 + gpu; NIC down = that + GPUs; leaf r to spine s =
    2 x GPUs + r * SPINES + s; spine s to leaf r = that + RACKS x SPINES.
    """
    gpus = RACKS * NODES_PER_RACK * GPUS_PER_NODE
    uplink_bps = NODES_PER_RACK * GPUS_PER_NODE * NIC_BPS / (OVERSUBSCRIPTION * SPINES)
    down, up_spine, down_spine = gpus, 2 * gpus, 2 * gpus + RACKS * SPINES
    capacity = np.concatenate([np.full(2 * gpus, NIC_BPS), np.full(2 * RACKS * SPINES, uplink_bps)])
    return capacity, down, up_spine, down_spine


def ring_flows(rng: np.random.Generator) -> tuple[list[list[int]], list[list[int]]]:
    """Flows of ring all-reduce jobs on random placements, and each job's flow indices."""
    _, down, up_spine, down_spine = fabric()
    nodes = rng.permutation(RACKS * NODES_PER_RACK).tolist()
    flows: list[list[int]] = []
    jobs: list[list[int]] = []
    while len(nodes) >= 2:
        size = min(int(rng.choice(JOB_NODES)), len(nodes))
        members, nodes = nodes[:size], nodes[size:]
        job = []
        for gpu in range(GPUS_PER_NODE):
            for i, node in enumerate(members):
                after = members[(i + 1) % size]
                rack, rack_after = node // NODES_PER_RACK, after // NODES_PER_RACK
                links = [node * GPUS_PER_NODE + gpu]
                if rack != rack_after:
                    spine = int(rng.integers(SPINES))
                    links += [up_spine + rack * SPINES + spine, down_spine + rack_after * SPINES + spine]
                links.append(down + after * GPUS_PER_NODE + gpu)
                job.append(len(flows))
                flows.append(links)
        jobs.append(job)
    return flows, jobs


def bare_progressive_filling(flows: list[list[int]], capacities: list[float]) -> tuple[list[float], int]:
    """Max-min fair rates by progressive filling in plain Python; also the number of steps."""
    rate = [0.0] * len(flows)
    is_open = [True] * len(flows)
    users: dict[int, list[int]] = {}
    for f, links in enumerate(flows):
        for link in links:
            users.setdefault(link, []).append(f)
    sharing = {link: len(fs) for link, fs in users.items()}
    left = {link: float(capacities[link]) for link in users}
    steps = 0
    while sharing:
        steps += 1
        level = min(left[link] / n for link, n in sharing.items())
        tie = level * (1 + 1e-9)
        saturated = [link for link, n in sharing.items() if left[link] / n <= tie]
        for link in saturated:
            for f in users[link]:
                if is_open[f]:
                    is_open[f] = False
                    rate[f] = level
                    for other in flows[f]:
                        left[other] -= level
                        sharing[other] -= 1
                        if sharing[other] == 0:
                            del sharing[other]
    return rate, steps


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median wall time (s) of ``repeat`` calls, and the last result."""
    walls = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="median of N runs (default 5)")
    ap.add_argument("--publish", action="store_true",
                    help="write the published table in bench/ (default: bench/out/, which git ignores)")  # fmt: skip
    args = ap.parse_args()

    rng = np.random.default_rng(SEED)
    capacity, *_ = fabric()
    flows, jobs = ring_flows(rng)
    capacities = dict(enumerate(capacity.tolist()))
    n_links = len(capacity)

    dcsim_s, rates = timed(lambda: max_min(flows, capacities), args.repeat)
    array_s, _ = timed(lambda: max_min(flows, capacity), args.repeat)
    bare_s, (bare_rates, steps) = timed(lambda: bare_progressive_filling(flows, capacity.tolist()), args.repeat)
    worst = float(np.max(np.abs(rates - np.asarray(bare_rates)) / rates))
    assert worst <= 1e-9, f"max_min and the bare script disagree by {worst:.2e} (relative)"

    sharing = Sharing(capacities)
    sharing.change(add={f: (links, math.inf) for f, links in enumerate(flows)})
    ending = jobs[0]

    def end_and_start() -> dict:
        moved = sharing.change(remove=ending)
        sharing.change(add={f: (flows[f], math.inf) for f in ending})  # put it back, for the next repeat
        return moved

    change_s, moved = timed(end_and_start, args.repeat)
    rows = [
        ("dcsim `max_min`, capacities a dict", dcsim_s),
        ("dcsim `max_min`, capacities an array", array_s),
        ("bare pure-Python progressive filling", bare_s),
        ("dcsim `Sharing`: one job's flows end, then start again (two changes)", change_s),
    ]
    lines = [
        f"# max-min fair sharing: {len(flows):,} flows, {n_links:,} links, {steps} steps",
        "",
        f"{datetime.date.today()}, {platform.python_version()} on {platform.machine()}, median of {args.repeat}; "
        f"leaf-spine {RACKS} racks x {NODES_PER_RACK} nodes x {GPUS_PER_NODE} GPUs, {SPINES} spines, "
        f"{OVERSUBSCRIPTION:g}:1; {len(jobs)} ring all-reduce jobs. The change row: a job of {len(ending)} flows "
        f"ends (its component: {sharing.last_solved:,} flows recomputed, {len(moved):,} rates moved) and starts again. "
        f"The two solvers agree to {worst:.1e}.",
        "",
        "| solver | wall ms | vs bare |",
        "|---|---:|---:|",
        *(f"| {name} | {wall * 1e3:,.1f} | {wall / bare_s:.2f}x |" for name, wall in rows),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = (HERE if args.publish else HERE / "out") / "RESULTS-max-min.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
