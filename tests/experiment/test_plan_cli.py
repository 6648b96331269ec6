"""`dcsim plan` at the command line: bad targets, a target out of reach, the files it writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from dcsim.cli import main

from conftest import tiny_data


def scenario(tmp_path: Path) -> Path:
    data = tiny_data(
        horizon="2d",
        workload={"jobs": [{"name": "j", "arrival": {"process": "poisson", "rate": "6/h"}, "gpus": 1,
                            "duration": {"dist": "exponential", "mean": "1h"}}]},
    )  # fmt: skip
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def plan(tmp_path: Path, *extra: str) -> int:
    return main(["plan", str(scenario(tmp_path)), "--vary", "datacenter.sites.0.racks", "--min", "1", "--max", "3",
                 "--replications", "2", "--workers", "1", "--out", str(tmp_path / "p"), *extra])  # fmt: skip


@pytest.mark.parametrize(
    ("target", "expected"),
    [("jobs.p95_wait_s<3600", "METRIC<=VALUE"), ("jobs.p95_wait_s<=1h", "METRIC<=VALUE"),
     ("jobs.nope<=1", "no metric 'jobs.nope'")],
)  # fmt: skip
def test_bad_targets_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, expected: str) -> None:
    assert plan(tmp_path, "--target", target) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_a_target_out_of_reach_exits_5_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Utilization can never exceed 1: no rack count meets it."""
    assert plan(tmp_path, "--target", "utilization.gpu_allocated>=1.5") == 5
    out = capsys.readouterr().out
    assert "no value in [1, 3]" in out
    tried = pd.read_csv(tmp_path / "p" / "plan.csv")
    assert list(tried["value"]) == [3] and not tried["met"].any()
    assert (tmp_path / "p" / "plan.png").stat().st_size > 0


def test_a_target_met_at_the_minimum_answers_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert plan(tmp_path, "--target", "utilization.gpu_available>=0.5") == 0
    assert "answer: datacenter.sites.0.racks = 1" in capsys.readouterr().out
    assert sorted(pd.read_csv(tmp_path / "p" / "plan.csv")["value"]) == [1, 3]


def test_the_upper_bound_decides_not_the_mean() -> None:
    from dcsim.experiment.plan import Target

    t = Target("jobs.mean_wait_s", "<=", 100.0)
    assert t.met(50.0, 100.0) and not t.met(50.0, 100.1)  # mean 75 < 100, but the bound is above
    g = Target("utilization.gpu_available", ">=", 0.9)
    assert g.met(0.9, 1.0) and not g.met(0.89, 0.99)


def test_every_run_failing_is_said_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "tests"))
    code = plan(tmp_path, "--set", "policies.placement=plugins.toy_policies:Raises",
                "--target", "jobs.p95_wait_s<=3600")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "every run at datacenter.sites.0.racks = 3 failed" in err and "oops" in err
    assert os.path.isdir(tmp_path / "p" / "runs")
