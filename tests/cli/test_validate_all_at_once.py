"""dcsim validate reports schema problems and whole-scenario problems in one go."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dcsim.cli import main

from conftest import tiny_data


def test_schema_and_cross_block_problems_come_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A negative rate (schema), a job too big for the cluster and a missing price (whole scenario): all three."""
    data = tiny_data(costs={"gpu_hour_usd": {"A100": 2.0}})
    data["workload"]["jobs"][0]["arrival"] = {"process": "poisson", "rate": "-3/h"}
    data["workload"]["jobs"].append(
        {"name": "big", "arrival": {"process": "batch"}, "count": 1, "gpus": 64, "duration": "1h"}
    )
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "3 problems" in err
    for where in ("workload.jobs.0.arrival.rate", "workload.jobs.1.gpus", "costs.gpu_hour_usd"):
        assert f"  {where}:" in err, (where, err)
