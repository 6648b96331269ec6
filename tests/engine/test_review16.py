"""Review of issue 16 (GPU sharing, fragmentation, FGD, fill, importers): failing tests mark bugs found."""

from __future__ import annotations

from typing import Any

import pytest
from test_sharing import _check, scenario

from dcsim.engine import DataCenterModel
from dcsim.infra.sharing import SharedCluster

from conftest import build


@pytest.mark.parametrize("rule", ["first_fit", "best_fit", "fgd", "gpu_packing"])
def test_conservation_holds_under_gpu_node_failures_and_maintenance(rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shares, whole GPUs and CPU-only jobs with GPU and node failures and a node maintenance window: every
    invariant of the shared cluster holds after every take, give, GPU down/up and node off/on."""
    seen: list[int] = []

    def checked(method: Any) -> Any:
        def run(self: SharedCluster, *args: Any) -> None:
            method(self, *args)
            _check(self)
            seen.append(1)

        return run

    for name in ("take", "give", "set_down", "set_off"):
        monkeypatch.setattr(SharedCluster, name, checked(getattr(SharedCluster, name)))
    poisson = {"process": "poisson", "rate": "30/h"}
    jobs = [
        {"name": "s", "arrival": poisson, "count": 40, "gpus": 1, "cpu": 2, "memory": "8GB",
         "gpu_fraction": {"values": [0.25, 0.5, 0.75]}, "duration": {"dist": "exponential", "mean": "1h"}},
        {"name": "w", "arrival": poisson, "count": 10, "gpus": {"values": [1, 2, 4]}, "cpu": 4, "memory": "16GB",
         "duration": {"dist": "exponential", "mean": "1h"}},
        {"name": "c", "arrival": poisson, "count": 10, "gpus": 0, "cpu": 4, "duration": "30m"},
    ]  # fmt: skip
    data = scenario(
        jobs,
        [{"gpus": 4, "cpu": 16, "memory": "64GB", "nodes": 3}, {"gpus": 0, "cpu": 8}],
        failures={"gpu": {"mtbf": "3h"}, "node": {"mtbf": "6h"}},
        maintenance=[{"start": "1h", "duration": "1h", "scope": "node", "units": [1]}],
        horizon="12h",
    )
    data["policies"]["placement"] = rule
    model = DataCenterModel(build(data))
    model.run()
    assert len(seen) > 100


# BUG: without a horizon, class_shapes weighs a class with an arrival rate by rate x 1 s (capped by its count)
# instead of by its count as its docstring says (dcsim/engine/sharing.py:247): FGD and utilization.gpu_fragmentation
# then measure against the wrong shapes (here 10 and 30 jobs weigh alike, and a batch class outweighs both).
def test_without_a_horizon_each_class_weighs_its_count_in_the_fragmentation_shapes() -> None:
    """Class a: 10 jobs of 0.5 GPU, one an hour; class b: 30 jobs of one whole GPU, one an hour; no horizon.
    Every job arrives, so the shapes weigh 10/40 and 30/40."""
    from dcsim.engine.sharing import class_shapes
    from dcsim.infra.shares import Demand

    every_hour = {"process": "periodic", "interval": "1h"}
    jobs = [{"name": "a", "arrival": every_hour, "count": 10, "gpus": 1, "gpu_fraction": 0.5, "duration": "1h"},
            {"name": "b", "arrival": every_hour, "count": 30, "gpus": 1, "duration": "1h"}]  # fmt: skip
    sc = build(scenario(jobs, [{"gpus": 2, "cpu": 16, "memory": "64GB"}]))
    assert sc.horizon is None
    model = DataCenterModel(sc)
    shapes = class_shapes(sc, model.topology, model.cluster.shares.type_names)  # type: ignore[attr-defined]
    got = {s.demand: round(s.weight, 12) for s in shapes}
    assert got == {Demand(0, 0, 1, 500): 0.25, Demand(0, 0, 1, 1000): 0.75}
