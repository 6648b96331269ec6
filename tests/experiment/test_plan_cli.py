"""`dcsim plan` at the command line: targets with units, names checked first, a report that says each value once."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

from dcsim.cli import main
from dcsim.core.errors import DcsimError

from conftest import poisson_file


def scenario(tmp_path: Path) -> Path:
    return poisson_file(tmp_path, gpus=1, mean="1h")


def busy_scenario(tmp_path: Path) -> Path:
    """A queue at 1 rack (16 GPUs) for 8-GPU jobs at 6/h x 1 h: waits that differ a lot between seeds."""
    return poisson_file(tmp_path, gpus=8, mean="1h", file="busy.yaml")


def plan(tmp_path: Path, *extra: str, out: bool = True, path: Path | None = None) -> int:
    where = ["--out", str(tmp_path / "p")] if out else []
    return main(["plan", str(path or scenario(tmp_path)), "--vary", "datacenter.sites.0.racks", "--min", "1",
                 "--max", "3", "--replications", "2", "--workers", "1", *where, *extra])  # fmt: skip


@pytest.mark.parametrize(
    ("text", "value"),
    [("jobs.p95_wait_s<=1h", 3600.0), ("jobs.p95_wait_s <= 90m", 5400.0), ("jobs.p95_wait_s<=3600", 3600.0),
     ("utilization.gpu_available>=99%", 0.99), ("utilization.gpu_available>=0.99", 0.99),
     ("cost.total_usd<=$200k", 200_000.0), ("cost.total_usd<=$1.5M", 1_500_000.0),
     ("cost.total_usd<=250,000", 250_000.0), ("faults.failures<=12", 12.0)],
)  # fmt: skip
def test_targets_read_in_the_metrics_unit(text: str, value: float) -> None:
    from dcsim.experiment.plan import parse_target

    target = parse_target(text)
    assert target.value == pytest.approx(value) and target.op in ("<=", ">=")


@pytest.mark.parametrize(
    ("target", "expected"),
    [("jobs.p95_wait_s=3600", "METRIC<=VALUE"), ("jobs.p95_wait_s<=soon", "a duration such as 1h"),
     ("utilization.gpu_available>=99", "a share is at most 1: write the percentage with %"),
     ("utilization.gpu_allocated>=150%", "between 0 and 100 %"),
     ("jobs.p95_wait_s<=-1h", "p95 wait is never below 0"), ("cost.total_usd<=lots", "dollars such as $200k"),
     ("jobs.p95_wait_s<=" + "1h " * 30_000, "...' is not a duration")],
)  # fmt: skip
def test_bad_targets_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, expected: str) -> None:
    assert plan(tmp_path, "--target", target) == 2
    err = capsys.readouterr().err
    assert "--target" in err and expected in err and "Traceback" not in err and "float" not in err
    assert err.count("\n") == 1 and len(err) < 400  # one short line, a long value quoted cut
    assert not (tmp_path / "p").exists()


def test_a_misspelled_metric_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_runs(*args: object, **kwargs: object) -> None:
        raise AssertionError("a run was started")

    monkeypatch.setattr("dcsim.experiment.plan.execute", no_runs)
    monkeypatch.chdir(tmp_path)
    assert plan(tmp_path, "--target", "jobs.p59_wait_s<=1h", out=False) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--target" in err and "did you mean 'jobs.p95_wait_s'" in err
    assert sorted(os.listdir(tmp_path)) == ["s.yaml"]  # nothing written: no results/


def test_check_metric_names_its_flag_and_knows_families() -> None:
    from dcsim.metrics.names import check_metric

    assert check_metric("classes.research.p95_wait_s", "--metric") == "classes.research.p95_wait_s"
    assert check_metric("faults.by_component.rack.lost_gpu_hours", "--metric")
    with pytest.raises(DcsimError, match=r"^--metric: 'utilization.gpu_availble' .*did you mean "
                                         r"'utilization.gpu_available'"):  # fmt: skip
        check_metric("utilization.gpu_availble", "--metric")
    with pytest.raises(DcsimError, match=r"did you mean 'classes\.research\.p95_wait_s'"):
        check_metric("classes.research.p95_wiat_s", "--metric")
    with pytest.raises(DcsimError, match="--metric"):
        check_metric("faults.by_component.pdu.failures", "--metric")


def test_a_target_out_of_reach_exits_5_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """About 6 of 16 GPUs are busy: no rack count brings utilization to 99 %."""
    assert plan(tmp_path, "--target", "utilization.gpu_allocated>=99%") == 5
    out = capsys.readouterr().out
    assert "no value in [1, 3] meets the target" in out
    tried = pd.read_csv(tmp_path / "p" / "plan.csv")
    assert list(tried["value"]) == [3] and not tried["met"].any()
    assert (tmp_path / "p" / "plan.png").stat().st_size > 0


def test_a_target_met_at_the_minimum_answers_it_and_prints_shares_in_percent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plan(tmp_path, "--target", "utilization.gpu_available>=0.5") == 0
    out = capsys.readouterr().out
    assert "answer: datacenter.sites.0.racks = 1" in out
    assert "racks = 1: 100.0 % in every run: meets" in out
    assert sorted(pd.read_csv(tmp_path / "p" / "plan.csv")["value"]) == [1, 3]


def test_each_value_is_printed_once_in_one_unit_with_bounds_clipped_at_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two seeds make wide t intervals: the lower bound of a mean wait would go below 0 without the clip."""
    assert plan(tmp_path, "--target", "jobs.mean_wait_s<=60", path=busy_scenario(tmp_path)) in (0, 5)
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    tried = pd.read_csv(tmp_path / "p" / "plan.csv")
    assert (tried["ci_low"] >= 0).all() and (tried["ci_low"] == 0).any()  # clipped, not merely positive
    for value in tried["value"]:
        lines = [line for line in printed.splitlines() if re.search(rf"\b{value}\b", line) and "interval" in line]
        assert len(lines) == 1, printed
        units = set(re.findall(r"\d (s|min|h|d)\b", lines[0]))
        assert len(units) == 1 and " -" not in lines[0], lines[0]
    assert not re.search(r"^\s*\d+\s+\d+\s+[-0-9.e+]+\s+[-0-9.e+]+", printed, re.M)  # no data-frame table


def test_plans_of_one_scenario_keep_their_own_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two targets on one scenario: two plan folders, both plan.csv kept, one store of runs shared."""
    monkeypatch.chdir(tmp_path)
    assert plan(tmp_path, "--target", "utilization.gpu_available>=0.5", out=False) == 0
    first = capsys.readouterr().out
    runs = tmp_path / "results" / "tiny" / "plan" / "runs"
    stored = sorted(os.listdir(runs))
    assert plan(tmp_path, "--target", "utilization.gpu_available>=0.6", out=False) == 0
    second = capsys.readouterr().out
    plans = sorted(p.parent.name for p in (tmp_path / "results" / "tiny" / "plan").glob("*/plan.csv"))
    assert len(plans) == 2 and all(p.startswith("racks-gpu_available-") for p in plans)
    assert {p for p in plans if p in first} | {p for p in plans if p in second} == set(plans)
    assert not any(p in first and p in second for p in plans)
    assert sorted(os.listdir(runs)) == stored  # the second plan reused the first one's runs
    # The same question again lands in the same folder.
    assert plan(tmp_path, "--target", "utilization.gpu_available>=50%", out=False) == 0  # 0.5 again
    assert len(list((tmp_path / "results" / "tiny" / "plan").glob("*/plan.csv"))) == 2


def test_the_upper_bound_decides_not_the_mean() -> None:
    from dcsim.experiment.plan import Target

    t = Target("jobs.mean_wait_s", "<=", 100.0)
    assert t.met(50.0, 100.0) and not t.met(50.0, 100.1)  # mean 75 < 100, but the bound is above
    g = Target("utilization.gpu_available", ">=", 0.9)
    assert g.met(0.9, 1.0) and not g.met(0.89, 0.99)
    assert not Target("jobs.mean_wait_s", "<", 100.0).met(50.0, 100.0)


def test_every_run_failing_is_said_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "tests"))
    code = plan(tmp_path, "--set", "policies.placement=plugins.toy_policies:Raises",
                "--target", "jobs.p95_wait_s<=1h")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "every run at datacenter.sites.0.racks = 3 failed" in err and "oops" in err
    assert os.path.isdir(tmp_path / "p" / "runs")
