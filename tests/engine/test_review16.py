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
