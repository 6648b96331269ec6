"""Placement that reads the fabric, in the engine: network_aware against first fit, spread, lp's network term.

The flow model (dcsim/engine/network.py): a step takes c + V / r at a share r per hop, c + V / B
alone on the NICs; the network slowdown is their ratio. The hand-computed case below writes it
out; the statistical one compares paired runs (common random numbers) over seeds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from conftest import assert_heads_equal_a_scan, run_data, tiny_data

H = 3600.0
G = 1e9
PERIOD = 300.0


def fabric(racks: int, nodes_per_rack: int, oversubscription: float, nic: str = "100Gbps") -> dict[str, Any]:
    return {"sites": [{"name": "dc1", "racks": racks, "nodes_per_rack": nodes_per_rack, "node": {"gpus": 8},
                       "network": {"nic": nic, "oversubscription": oversubscription}}]}  # fmt: skip


def busy_fabric(placement: str, seed: int) -> dict[str, Any]:
    """8 racks of 4 nodes at 4:1, ring all-reduce jobs of 2 to 16 nodes and single-node jobs, 4 days."""
    return tiny_data(
        seed=seed, horizon="4d", warmup="12h", datacenter=fabric(8, 4, 4.0, "400Gbps"),
        workload={"jobs": [
            {"name": "train", "arrival": {"process": "poisson", "rate": "8/d"}, "gpus": {"values": [16, 32, 64, 128]},
             "duration": {"dist": "lognormal", "median": "6h", "sigma": 0.6},
             "communication": {"pattern": "ring_allreduce", "bytes_per_step": "4GB", "compute_per_step": "0.5s"}},
            {"name": "small", "arrival": {"process": "poisson", "rate": "2/h"}, "gpus": {"values": [1, 2, 4, 8]},
             "duration": {"dist": "exponential", "mean": "2h"}},
        ]},
        policies={"scheduler": {"name": "fifo", "params": {"backfill": True}}, "placement": placement},
    )  # fmt: skip


SEEDS = range(1, 9)


@pytest.fixture(scope="module")
def slowdowns() -> dict[str, np.ndarray]:
    """Each placement's network.mean_job_slowdown on the same seeds (common random numbers)."""
    out = {}
    for name in ("first_fit", "network_aware", "spread"):
        out[name] = np.array([run_data(busy_fabric(name, s)).summary["network"]["mean_job_slowdown"] for s in SEEDS])
    return out


@pytest.mark.statistical
def test_network_aware_slows_jobs_less_than_first_fit_on_a_4_to_1_fabric(slowdowns: dict[str, np.ndarray]) -> None:
    """Paired by seed: the mean difference is below zero by more than 3 of its standard errors."""
    diff = slowdowns["network_aware"] - slowdowns["first_fit"]
    se = diff.std(ddof=1) / math.sqrt(diff.size)
    assert diff.mean() < -3 * se, (diff.mean(), se)
    assert (slowdowns["first_fit"] > 1.05).all()  # there is contention to avoid: first fit's jobs are slowed


@pytest.mark.statistical
def test_spreading_over_racks_slows_jobs_more_than_first_fit(slowdowns: dict[str, np.ndarray]) -> None:
    """One node per rack puts every multi-node ring on as many uplinks as it has nodes: more sharing."""
    diff = slowdowns["spread"] - slowdowns["first_fit"]
    se = diff.std(ddof=1) / math.sqrt(diff.size)
    assert diff.mean() > 3 * se, (diff.mean(), se)


def test_spread_puts_a_jobs_nodes_in_as_many_racks_as_it_has_nodes() -> None:
    """4 racks of 2 nodes, one job at a time: 2, 3 and 4 nodes span 2, 3 and 4 racks; 6 nodes all 4."""
    workload = {"jobs": [{"name": f"j{k}", "arrival": {"process": "batch", "at": i * H}, "count": 1, "gpus": 8 * k,
                          "duration": "30m"} for i, k in enumerate((2, 3, 4, 6))]}  # fmt: skip
    r = run_data(tiny_data(datacenter=fabric(4, 2, 1.0), workload=workload,
                           policies={"scheduler": "fifo", "placement": "spread"}))  # fmt: skip
    assert r.jobs["racks"].tolist() == [2, 3, 4, 4]


def test_without_a_fabric_network_aware_runs_as_rack_pack() -> None:
    """No class communicates: network_aware has no load to read and places for locality alone, as rack_pack."""
    data = busy_fabric("rack_pack", 3)
    del data["workload"]["jobs"][0]["communication"]
    pack = run_data(data).summary
    data["policies"]["placement"] = "network_aware"
    aware = run_data(data).summary
    assert aware["run"]["placement"] == "network_aware"
    for block in ("jobs", "utilization", "placement", "cost"):
        assert aware[block] == pack[block], block


def lp_case(network_weight: float) -> dict[str, Any]:
    """3 racks of 2 nodes, 100 Gb/s NICs at 4:1 (uplinks 2 x 100 / 4 = 50 Gb/s); price 2 $/GPU-hour.

    At 0: a 1-GPU job of 2 h and a 3-node ring of 1 h (1 GB per step, 1 s compute).
    """
    return tiny_data(
        datacenter=fabric(3, 2, 4.0),
        workload={"jobs": [
            {"name": "small", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 1, "duration": "2h"},
            {"name": "ring", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 24, "duration": "1h",
             "communication": {"pattern": "ring_allreduce", "bytes_per_step": "1GB", "compute_per_step": "1s"}},
        ]},
        policies={"scheduler": {"name": "lp", "params": {"period": PERIOD, "network_weight": network_weight}},
                  "placement": "first_fit"},
        costs={"gpu_hour_usd": 2.0},
    )  # fmt: skip


def test_lp_holds_a_job_back_while_its_network_slowdown_costs_more_than_waiting() -> None:
    """The small job takes node 0; the ring needs 3 of the 5 whole nodes: racks 1 and 2 (nodes 2, 3, 4).

    Its ring: 2->3 inside rack 1, 3->4 and 4->2 across, so each rack's uplinks carry one hop
    each way, at 50 Gb/s, the NICs 100. A hop carries 2(3-1)/3 x 1 GB = 10.67e9 bits:
    slowdown s = (1 + 10.67e9 / 50e9) / (1 + 10.67e9 / 100e9) = 1.0964. Its network term:
    (s - 1) x 24 GPUs x 1 h x $2 = $4.63, above waiting one period at t = 0 (24 x $2 x 300 s / 1 h
    = $4) and below it at the next epoch (24 x $2 x 600 s / 1 h = $8): it starts at 300 s and runs
    s hours. Without the term (weight 0) it starts at 0.
    """
    bits = 2 * 2 / 3 * 8 * G
    s = (1 + bits / (50 * G)) / (1 + bits / (100 * G))
    assert (s - 1) * 24 * 2.0 > 24 * 2.0 * PERIOD / H  # the case is as described
    assert (s - 1) * 24 * 2.0 < 24 * 2.0 * 2 * PERIOD / H
    for weight, start in ((1.0, PERIOD), (0.0, 0.0)):
        r = run_data(lp_case(weight))
        ring = r.jobs.set_index("job_class").loc["ring"]
        assert ring["start_s"] == pytest.approx(start), weight
        assert ring["racks"] == 2
        assert ring["network_slowdown"] == pytest.approx(s, rel=1e-9)
        assert ring["finish_s"] == pytest.approx(start + H * s, rel=1e-9)
        first = r.epochs.iloc[0]
        assert first["network_usd"] == pytest.approx(0.0)  # the ring waited (weight 1) or was not priced (0)
        if weight:
            started = r.epochs[r.epochs["time_s"] == PERIOD].iloc[0]
            assert started["network_usd"] == pytest.approx((s - 1) * 24 * 2.0, rel=1e-9)


@pytest.mark.parametrize("placement", ["network_aware", "spread"])
def test_class_head_backfill_equals_a_full_scan(placement: str) -> None:
    """Both rules declare uniform_in_class: the backfill pass over class heads starts the jobs a full scan starts.

    Long queues of communicating and silent jobs of equal sizes (one class key, two behaviours).
    """
    data = busy_fabric(placement, 5)
    data["horizon"] = "3d"
    jobs = data["workload"]["jobs"]
    jobs[0]["arrival"]["rate"] = "20/d"
    jobs.append({**jobs[0], "name": "silent", "communication": None})
    del jobs[-1]["communication"]
    jobs[1]["arrival"]["rate"] = "12/h"
    assert_heads_equal_a_scan(data, queued=10)
