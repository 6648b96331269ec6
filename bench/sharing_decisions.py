"""Per-decision cost of the FGD study's six placement rules on an openb-sized cluster.

Fills the openb GPU node list (1,213 nodes) with pods drawn with replacement from the
openb default pod list (8,152 pods) until the requested GPUs reach 1.3 x capacity, as the
FGD study does, asking each rule's ``choose`` for every pod; prints per rule the mean CPU
time of one decision, the decisions, and the final allocation rate (allocated / total
GPU capacity). Needs the openb trace: ``--traces DIR``, DIR holding ``alibaba-gpu-v2023/``
(from github.com/alibaba/clusterdata, cluster-trace-gpu-v2023).

Run: ``python bench/sharing_decisions.py --traces DIR [--rules fgd,best_fit]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dcsim.infra.fragmentation import typical_shapes
from dcsim.infra.shares import Demand, Shares
from dcsim.policies import PLACEMENT

RULES = ["random", "dot_product", "gpu_clustering", "gpu_packing", "best_fit", "fgd"]


def load(traces: Path) -> tuple[Shares, list[tuple[Demand, frozenset[int] | None]]]:
    """The openb GPU nodes as Shares and the default pod list as (demand, allowed GPU types)."""
    folder = traces / "alibaba-gpu-v2023"
    nodes = pd.read_csv(folder / "openb_node_list_gpu_node.csv")
    pods = pd.read_csv(folder / "openb_pod_list_default.csv", keep_default_na=False)
    names = sorted(set(nodes["model"]))
    shares = Shares(
        nodes["cpu_milli"].tolist(),
        nodes["memory_mib"].tolist(),
        nodes["gpu"].tolist(),
        [names.index(m) for m in nodes["model"]],
        names,
    )
    out = []
    for cpu, mem, gpus, milli, spec in pods[["cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec"]].itertuples(
        index=False
    ):
        types = frozenset(names.index(t) for t in str(spec).split("|") if t in names) if spec else None
        out.append((Demand(int(cpu), int(mem), int(gpus), int(milli) if gpus else 0), types))
    return shares, out


def run(rule: str, traces: Path, seed: int = 42) -> tuple[float, int, float]:
    """Fill once with ``rule``: (CPU seconds per decision, decisions, final allocation rate)."""
    shares, pods = load(traces)
    policy = PLACEMENT.create(rule, {}, np.random.default_rng(seed))
    policy.bind_shapes(typical_shapes(pods, popularity=0.95))
    by_type: dict[frozenset[int] | None, list[int]] = {}
    draw = np.random.default_rng(seed)
    arrived, spent, decisions = 0, 0.0, 0
    while arrived < 1.3 * shares.total_gpu:
        demand, types = pods[int(draw.integers(len(pods)))]
        arrived += demand.gpu_total
        nodes = by_type.get(types)
        if nodes is None:
            nodes = by_type[types] = [n for n in range(len(shares)) if types is None or shares.gpu_type[n] in types]
        t0 = time.process_time()
        found = policy.choose(demand, shares, nodes)
        spent += time.process_time() - t0
        decisions += 1
        if found is not None:
            shares.allocate(found[0], demand, found[1])
    return spent / decisions, decisions, shares.gpu_used / shares.total_gpu


def main() -> None:
    """Print one row per rule."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--traces", type=Path, required=True, help="folder holding alibaba-gpu-v2023/")
    args = parser.parse_args()
    print(f"{'rule':<16}{'us/decision':>12}{'decisions':>11}{'allocated':>11}")
    for rule in args.rules.split(","):
        per, n, rate = run(rule, args.traces)
        print(f"{rule:<16}{per * 1e6:>12.0f}{n:>11}{rate:>11.3f}")


if __name__ == "__main__":
    main()
