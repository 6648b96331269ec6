"""Fixes of the issue-16 review beyond its own tests: the same bugs where the review did not look.

Each case is validated in-process (no run): a refused scenario raises one ScenarioError problem
naming its field; an accepted one at the boundary raises nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from dcsim.core.errors import ScenarioError
from dcsim.engine.sharing import class_shapes
from dcsim.infra.shares import Demand
from dcsim.infra.topology import build_topology
from dcsim.scenario.load import scenario_from_data


def _service(fraction: float) -> dict[str, Any]:
    """One 1-GPU node serving one fixed replica on ``fraction`` of its GPU."""
    return {
        "name": "fix", "seed": 1, "horizon": "1h",
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1,
                                  "node": {"gpus": 1, "cpu": 16, "memory": "64GB"}}]},
        "services": [{"name": "s", "gpus_per_replica": 1, "gpu_fraction": fraction, "replicas": {"min": 1, "max": 1},
                      "requests": {"arrival": {"process": "poisson", "rate": "1/h"}}, "service_time": "100ms"}],
    }  # fmt: skip


def _fill(pod: dict[str, Any]) -> dict[str, Any]:
    """Two 8-GPU nodes (96 cores, 512 GB) filled with ``pod`` and (second) pods of one GPU."""
    return {
        "name": "fix", "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2,
                                  "node": {"gpus": 8, "cpu": 96, "memory": "512GB"}}]},
        "workload": {"fill": {"pods": [{"share": 1, **pod}, {"share": 1, "gpus": 1}]}},
    }  # fmt: skip


def _problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        scenario_from_data(data)
    except ScenarioError as exc:
        return exc.problems
    return []


def test_a_replica_share_below_one_milli_gpu_is_refused_and_one_milli_gpu_is_not() -> None:
    """0.0004 would round to 0 milli-GPU (a replica on a GPU for free): refused; 0.001 is the smallest share."""
    problems = _problems(_service(0.0004))
    assert [p for p, _ in problems] == ["services.0.gpu_fraction"], problems
    assert "0.001" in problems[0][1]
    assert _problems(_service(0.001)) == []


@pytest.mark.parametrize(
    ("pod", "field"),
    [
        ({"gpus": 8, "cpu": 96, "memory": "600GB"}, "memory"),  # 8 GPUs fit, 600 GB does not
        ({"gpus": 0, "cpu": 97}, "cpu"),  # a CPU-only pod one core too large
    ],
)
def test_a_fill_pod_too_large_in_one_dimension_names_it_and_an_exact_fit_is_accepted(
    pod: dict[str, Any], field: str
) -> None:
    problems = _problems(_fill(pod))
    assert [p for p, _ in problems] == ["workload.fill.pods.0"], problems
    assert f"{field}:" in problems[0][1] and "gpus: 8" not in problems[0][1]
    assert _problems(_fill({"gpus": 8, "cpu": 96, "memory": "512GB"})) == []


def test_with_a_horizon_a_periodic_class_weighs_its_arrivals_within_it() -> None:
    """Over 10 h, one an hour from t = 0 arrives at 0, 1, ..., 10 h: 11 jobs (count 40 caps nothing), and a
    class of count 33 at 3 an hour (30 in 10 h) weighs 30: shapes 11/41 and 30/41, as the job limit counts."""
    every_hour = {"process": "periodic", "interval": "1h"}
    data = _service(0.5)
    data.pop("services")
    data["horizon"] = "10h"
    data["workload"] = {"jobs": [
        {"name": "a", "arrival": every_hour, "count": 40, "gpus": 1, "gpu_fraction": 0.5, "duration": "1h"},
        {"name": "b", "arrival": {"process": "poisson", "rate": "3/h"}, "count": 33, "gpus": 1, "duration": "1h"},
    ]}  # fmt: skip
    sc = scenario_from_data(data)
    topology = build_topology(sc.datacenter)
    got = {s.demand: s.weight for s in class_shapes(sc, topology, topology.gpu_types())}
    assert got == pytest.approx({Demand(0, 0, 1, 500): 11 / 41, Demand(0, 0, 1, 1000): 30 / 41})


@pytest.mark.parametrize(
    ("where", "field", "value"),
    [("site", "pue", 1.2), ("site", "timezone", "Europe/Paris"), ("node", "gpu_power", "300W")],
)
def test_a_fill_run_refuses_a_site_or_node_field_it_ignores(where: str, field: str, value: Any) -> None:
    """A fill run has no clock, energy or cost: a site's PUE or time zone, a node's power would be ignored."""
    data = _fill({"gpus": 1})
    site = data["datacenter"]["sites"][0]
    (site if where == "site" else site["node"])[field] = value
    path = "datacenter.sites.0." + (field if where == "site" else f"node.{field}")
    assert [p for p, _ in _problems(data)] == [path]
