"""The class-head backfill pass tries the same jobs, in the same order, as a scan of the whole queue."""

from __future__ import annotations

import pytest

from conftest import assert_heads_equal_a_scan, tiny_data


def heavy(scheduler: str, placement: str) -> dict:
    """Two GPU types, jobs up to 64 GPUs, at an offered load above 1: long queues."""
    return tiny_data(
        horizon="10d",
        datacenter={"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 2, "nodes_per_rack": 4, "node": {"gpus": 8, "gpu_type": "H100"}},
            {"racks": 2, "nodes_per_rack": 4, "node": {"gpus": 4, "gpu_type": "A100"}}]}]},
        workload={"jobs": [
            {"name": "big", "arrival": {"process": "poisson", "rate": "2/h"}, "gpus": {"values": [16, 32, 64]},
             "duration": {"dist": "exponential", "mean": "2h"}, "gpu_types": ["H100"], "priority": 1},
            {"name": "small", "arrival": {"process": "poisson", "rate": "30/h"},
             "gpus": {"values": [1, 2, 4, 8], "weights": [5, 3, 2, 1]},
             "duration": {"dist": "lognormal", "median": "40m", "sigma": 1.0}, "estimate_error": 0.5}]},
        policies={"scheduler": {"name": scheduler, "params": {"backfill": True}}, "placement": placement},
    )  # fmt: skip


@pytest.mark.parametrize("scheduler", ["fifo", "sjf", "priority"])
@pytest.mark.parametrize("placement", ["first_fit", "best_fit", "rack_pack", "network_aware", "spread"])
def test_class_head_backfill_equals_a_full_scan(scheduler: str, placement: str) -> None:
    assert_heads_equal_a_scan(heavy(scheduler, placement))
