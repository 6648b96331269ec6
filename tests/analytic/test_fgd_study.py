"""The FGD study's result (Weng et al., ATC'23, Figure 9a): FGD allocates the most, Random the least.

On a synthetic fixture shaped like openb (GPU shares of 0.1 to 0.8, whole-GPU and multi-GPU
pods, CPU-only pods that take CPU from GPU nodes; nodes of 8, 4 and 2 GPUs with little CPU on
the 4-GPU ones), 30 seeds: every policy sees the same pods on a seed (common random numbers),
so the comparisons are paired by seed and a difference must exceed 3 standard errors of the
paired mean. On openb itself (when the trace is beside the repo, as in CI), a quarter of the
node list with the default pod list, 3 seeds: FGD the most, Random the least (with FGD's
default, the authors' integer scores: with exact ones FGD and BestFit come out level,
bench/RESULTS-fgd.md).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dcsim.experiment.run import simulate
from dcsim.infra.shares import WHOLE
from dcsim.scenario.load import load_scenario

from conftest import SHARED, build

POLICIES = ("random", "dot_product", "gpu_clustering", "gpu_packing", "best_fit", "fgd")
OPENB = SHARED / "traces" / "alibaba-gpu-v2023"


def study(policy: str, seed: int) -> dict[str, Any]:
    def group(n: int, gpus: int, kind: str, cpu: int, memory: str) -> dict[str, Any]:
        return {"racks": 1, "nodes_per_rack": n, "node": {"gpus": gpus, "gpu_type": kind, "cpu": cpu,
                                                          "memory": memory}}  # fmt: skip

    return {
        "name": "fgd-study", "seed": seed,
        "datacenter": {"sites": [{"name": "a", "rack_groups": [
            group(12, 8, "G2", 96, "384GB"), group(16, 2, "T4", 104, "512GB"), group(8, 4, "V100", 32, "128GB")]}]},
        "workload": {"fill": {"until": 1.05, "pods": [
            {"share": 0.35, "gpus": 1, "cpu": 4, "memory": "16GB",
             "gpu_fraction": {"values": [0.1, 0.25, 0.5, 0.6, 0.8], "weights": [1, 2, 3, 2, 2]}},
            {"share": 0.40, "gpus": 1, "cpu": 10, "memory": "32GB"},
            {"share": 0.08, "gpus": {"values": [2, 4, 8]}, "cpu": 24, "memory": "64GB"},
            {"share": 0.17, "gpus": 0, "cpu": 12, "memory": "32GB"}]}},
        "policies": {"placement": policy},
    }  # fmt: skip


def paired_z(a: np.ndarray, b: np.ndarray) -> float:
    """Mean of a - b over seeds in standard errors of that mean."""
    d = a - b
    return float(d.mean() / (d.std(ddof=1) / np.sqrt(d.size)))


def test_fgd_allocates_the_most_and_random_the_least_at_100_percent() -> None:
    seeds = range(30)
    rate = {p: np.array([simulate(build(study(p, s))).summary["fill"]["allocation_rate_at_100"] for s in seeds])
            for p in POLICIES}  # fmt: skip
    for p in POLICIES[:-1]:
        assert paired_z(rate["fgd"], rate[p]) > 3, (p, rate["fgd"].mean(), rate[p].mean())
    for p in POLICIES[1:]:
        assert paired_z(rate[p], rate["random"]) > 3, (p, rate[p].mean(), rate["random"].mean())


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_conserves_capacity(policy: str) -> None:
    """On the final state: no GPU above 1000 milli-GPU or below 0, no node over its CPU or memory, used = placed."""
    from dcsim.engine.fill import run_fill
    from dcsim.experiment.fill_run import make_policy

    sc = build(study(policy, 7))
    run = run_fill(sc, 7, make_policy(sc, 7))
    s = run.shares
    free = np.array(s.gpu_free)
    assert ((free >= 0) & (free <= WHOLE)).all()
    assert all(0 <= f <= c for f, c in zip(s.cpu_free, s.cpu, strict=True))
    assert all(0 <= f <= c for f, c in zip(s.memory_free, s.memory, strict=True))
    assert s.gpu_used == s.total_gpu - int(free.sum()) == int(run.request[run.placed].sum())
    assert (~run.placed).any()  # filled past what fits: the state is a full one


@pytest.mark.skipif(not OPENB.is_dir(), reason="the openb trace is not beside the repo (CI has it)")
def test_the_paper_ranking_on_a_quarter_of_openb() -> None:
    """Every 4th node of openb's GPU node list (303 nodes), the default pod list, 3 seeds, to 105 %.

    FGD allocates more than each other policy and Random less, each by more than 3 paired
    standard errors (ours, one run: Random 85.7, DotProd 89.4, GpuClustering 90.2, GpuPacking
    90.5, BestFit 92.8, FGD 94.9 % at 100 % arrived: the paper's order; the middle three lie
    within a point, too close for 3 seeds to order them at 3 SE, so their order is not asserted).
    """
    from dcsim.workload.importers.openb import import_openb

    with tempfile.TemporaryDirectory() as tmp:
        lines = (OPENB / "openb_node_list_gpu_node.csv").read_text(encoding="utf-8").splitlines()
        nodes = Path(tmp) / "nodes.csv"
        nodes.write_text("\n".join([lines[0], *lines[1::4]]) + "\n", encoding="utf-8")
        import_openb([nodes, OPENB / "openb_pod_list_default.csv"], Path(tmp) / "study")
        path = str(Path(tmp) / "study" / "openb.yaml")
        rate = {p: np.array([simulate(load_scenario(path, [f"policies.placement={p}", f"seed={42 + s}",
                                                           "workload.fill.until=1.05"])).summary["fill"]
                             ["allocation_rate_at_100"] for s in range(3)]) for p in POLICIES}  # fmt: skip
    for p in POLICIES[:-1]:
        assert paired_z(rate["fgd"], rate[p]) > 3, (p, rate["fgd"].mean(), rate[p].mean())
    for p in POLICIES[1:]:
        assert paired_z(rate[p], rate["random"]) > 3, (p, rate[p].mean(), rate["random"].mean())
