"""`dcsim plan` on an M/M/c sizing question whose answer Erlang C gives."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from dcsim.experiment.plan import Target, capacity_plan

from conftest import tiny_data

LAM_PER_H, MEAN_H = 6.0, 1.0  # offered load a = 6 GPUs


def erlang_c_wait_h(c: int, a: float, mean_h: float) -> float:
    """Mean wait in queue of M/M/c, hours (infinite when c <= a)."""
    if c <= a:
        return math.inf
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait * mean_h / (c - a)


@pytest.mark.statistical
def test_plan_finds_the_smallest_c_erlang_c_gives(tmp_path: Path) -> None:
    """1-GPU nodes, Poisson arrivals, exponential run times: c nodes are an M/M/c queue. The target sits
    at the geometric mean of Wq(c*-1) and Wq(c*), so the 95 % bound separates them by a wide margin."""
    a = LAM_PER_H * MEAN_H
    c_star = 9
    target_h = math.sqrt(erlang_c_wait_h(c_star - 1, a, MEAN_H) * erlang_c_wait_h(c_star, a, MEAN_H))
    assert erlang_c_wait_h(c_star, a, MEAN_H) < target_h < erlang_c_wait_h(c_star - 1, a, MEAN_H)
    data = tiny_data(
        horizon="3000h", warmup="50h",
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 7, "node": {"gpus": 1}}]},
        workload={"jobs": [{"name": "j", "arrival": {"process": "poisson", "rate": f"{LAM_PER_H:g}/h"}, "gpus": 1,
                            "duration": {"dist": "exponential", "mean": f"{MEAN_H:g}h"}}]},
    )  # fmt: skip
    path = tmp_path / "mmc.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    target = Target("jobs.mean_wait_s", "<=", target_h * 3600)
    result = capacity_plan(str(path), "datacenter.sites.0.nodes_per_rack", 7, 16, target, 5, str(tmp_path / "p"),
                           workers=1)  # fmt: skip
    assert result.answer == c_star
    tried = result.tried.set_index("value")
    assert not tried.loc[c_star - 1, "met"] and tried.loc[c_star, "met"]  # bisection saw both sides
    # The rule is the interval's upper end, not the mean.
    assert (tried["met"] == (tried["ci_high"] <= target.value)).all()
    # Each value's mean is Erlang C's within a few standard errors.
    for c, row in tried.iterrows():
        se = (row["ci_high"] - row["mean"]) / 2.776  # t(0.975, 4)
        assert abs(row["mean"] - erlang_c_wait_h(int(c), a, MEAN_H) * 3600) <= 4 * se + 1e-9
