"""`prefer: fast` in runs: a job starts on its fastest free GPUs, backfill stays exact, and JCT drops."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from dcsim.engine import DataCenterModel
from dcsim.infra.topology import GPU_SPEED
from dcsim.metrics.tables import jobs_table

from conftest import build, run_data, tiny_data

H = 3600.0


def placement(name: str, prefer: str | None) -> Any:
    return name if prefer is None else {"name": name, "params": {"prefer": prefer}}


def slow_first(prefer: str | None, name: str = "first_fit", count: int = 1) -> dict[str, Any]:
    """One A100 node (listed first: node 0) and one H100 node; 8-GPU jobs of 10 h (on the H100) at 0."""
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8, "gpu_type": "A100"}},
            {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8, "gpu_type": "H100"}},
        ]}]},
        workload={"jobs": [{"name": "train", "arrival": {"process": "batch", "at": 0}, "count": count, "gpus": 8,
                            "duration": "10h"}]},
        policies={"scheduler": "fifo", "placement": placement(name, prefer)},
    )  # fmt: skip


@pytest.mark.parametrize("name", ["first_fit", "best_fit", "worst_fit", "rack_pack"])
def test_one_job_runs_on_the_h100_with_prefer_fast_and_on_the_first_node_without(name: str) -> None:
    for prefer, gpu_type, hours in ((None, "A100", 10 / GPU_SPEED["A100"]), ("fast", "H100", 10.0)):
        jobs = run_data(slow_first(prefer, name)).jobs
        assert jobs["gpu_type"].tolist() == [gpu_type], prefer
        assert (jobs["finish_s"] - jobs["start_s"]).tolist() == pytest.approx([hours * H]), prefer


def test_a_second_job_takes_the_slow_node_rather_than_wait() -> None:
    """Two jobs at 0: the first gets the H100, the second the A100 (it does not wait for the H100)."""
    jobs = run_data(slow_first("fast", count=2)).jobs
    assert jobs["gpu_type"].tolist() == ["H100", "A100"] and jobs["start_s"].tolist() == [0.0, 0.0]


def mixed(prefer: str | None, horizon: str = "4d", backfill: bool = False, scheduler: str = "fifo",
          name: str = "best_fit") -> dict[str, Any]:  # fmt: skip
    """16 A100 (4-GPU nodes, listed first) and 16 H100 under one class that may use both.

    2 jobs/h x 2.6 GPUs x 1.65 h (lognormal mean) = 8.6 GPU-hours of H100 work per hour, on a
    capacity of 16 + 16 x 0.32 = 21 H100-equivalents: load ~0.4.
    """
    return tiny_data(
        horizon=horizon,
        warmup="12h",
        datacenter={"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 2, "nodes_per_rack": 2, "node": {"gpus": 4, "gpu_type": "A100"}},
            {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "H100"}}]}]},
        workload={"jobs": [
            {"name": "research", "arrival": {"process": "poisson", "rate": "2/h"},
             "gpus": {"values": [1, 2, 4, 8], "weights": [4, 3, 2, 1]},
             "duration": {"dist": "lognormal", "median": "1h", "sigma": 1.0}}]},
        policies={"scheduler": {"name": scheduler, "params": {"backfill": backfill}},
                  "placement": placement(name, prefer)},
    )  # fmt: skip


def test_prefer_fast_lowers_the_mean_jct_in_a_mixed_fleet() -> None:
    """Paired by seed (common random numbers) over 5 seeds: the mean JCT drops by more than 3 standard errors."""
    diffs = []
    for seed in range(1, 6):
        base = run_data(mixed(None), seed=seed).summary["jobs"]["mean_jct_s"]
        fast = run_data(mixed("fast"), seed=seed).summary["jobs"]["mean_jct_s"]
        diffs.append(fast - base)
    d = np.array(diffs)
    assert d.mean() + 3 * d.std(ddof=1) / np.sqrt(d.size) < 0, diffs


@pytest.mark.parametrize(("scheduler", "name"), [("fifo", "first_fit"), ("sjf", "best_fit"), ("priority", "rack_pack")])
def test_class_head_backfill_equals_a_full_scan_when_preferring_fast(scheduler: str, name: str) -> None:
    """Whether a job fits does not depend on the order, so the class-head shortcut stays exact."""
    data = mixed("fast", horizon="3d", backfill=True, scheduler=scheduler, name=name)
    data["workload"]["jobs"][0]["arrival"]["rate"] = "12/h"  # overloaded: long queues
    big = {"name": "h100_only", "arrival": {"process": "poisson", "rate": "1/h"}, "gpus": {"values": [8, 16]},
           "duration": "2h", "gpu_types": ["H100"]}  # fmt: skip
    data["workload"]["jobs"].append(big)
    sc = build(data)
    fast, slow = DataCenterModel(sc), DataCenterModel(sc)
    slow._class_heads = False  # the reference: a scan of the whole queue
    fast.run()
    slow.run()
    assert len(fast.queue) > 20
    a = jobs_table(fast.collector, fast.topology).to_pandas()
    pd.testing.assert_frame_equal(a, jobs_table(slow.collector, slow.topology).to_pandas())
