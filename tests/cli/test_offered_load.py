"""Runs that cannot finish say so before they start: the offered load, an overloaded cluster, an overloaded crew.

The expected loads are written as arithmetic from the scenario's numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcsim.cli import main
from dcsim.faults.crew import crew_load
from dcsim.infra.topology import build_topology
from dcsim.scenario.load import load_scenario

from conftest import ROOT, tiny_data

INSTALLED = 2 * 2 * 8  # tiny_data: 2 racks x 2 nodes x 8 GPUs


def endless(rate: str) -> dict[str, Any]:
    """32 GPUs under one never-ending class of 2-GPU, 1-hour jobs at ``rate``, for one day."""
    data = tiny_data(horizon="1d")
    data["workload"]["jobs"] = [
        {"name": "train", "arrival": {"process": "poisson", "rate": rate}, "gpus": 2, "duration": "1h"}
    ]
    return data


def cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_validate_prints_the_offered_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "validate", write(tmp_path, endless("10/h")))
    offered = 10 / 3600 * 2 * 3600  # rate x GPUs x mean run time = 20 GPUs busy
    assert code == 0, err
    assert f"offered load: {100 * offered / INSTALLED:.1f} % of the installed GPUs ({offered:.1f} of 32" in out


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_rate_without_its_unit_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """`rate: 6` is 6 jobs a second: 6 x 2 GPUs x 3600 s = 43,200 GPUs of demand on 32, 1,350 times the cluster."""
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, endless(6))  # type: ignore[arg-type]
    code, out, err = cli(capsys, command, path)
    assert code == 2 and out == ""
    assert f"workload.jobs: the job classes without a count (train) offer {6 * 2 * 3600 / INSTALLED:,.0f} times" in err
    assert "`rate: 6` is 6/s" in err and "--allow-overload" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]  # nothing written


def test_allow_overload_runs_it_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1 job a second for 10 minutes: 225 times the cluster, run on request."""
    code, _, err = cli(capsys, "validate", write(tmp_path, endless("1/s") | {"horizon": "10m"}), "--allow-overload")
    assert code == 0, err
    code, _, err = cli(capsys, "run", tmp_path / "s.yaml", "--allow-overload", "--out", tmp_path / "o", "--quiet")
    assert code == 0, err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["workload"]["endless_load"] == pytest.approx(1 * 2 * 3600 / INSTALLED)
    assert any("grows without bound" in note for note in summary["notes"])


def test_a_mild_overload_runs_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """24/h x 2 GPUs x 1 h = 48 GPUs on 32: 1.5 times, below the refusal threshold of 10: a warning, and it runs."""
    code, _, err = cli(capsys, "run", write(tmp_path, endless("24/h")), "--out", tmp_path / "o")
    assert code == 0, err
    assert "warning: overloaded: the job classes without a count (train) offer 1.5 times the installed GPUs" in err


# --------------------------------------------------------------------------- the repair crew
def crew_data(technicians: int, working_hours: dict[str, Any] | None) -> dict[str, Any]:
    """4 nodes that fail every 100 h on average, 10 h of hands-on repair each, no reboots."""
    data = tiny_data(horizon="10d", failures={"node": {"mtbf": "100h"}})
    data["repair"] = {"technicians": technicians, "time": "10h"}
    if working_hours is not None:
        data["repair"]["working_hours"] = working_hours
    return data


def test_crew_load_by_hand_around_the_clock() -> None:
    sc = load_scenario_data(crew_data(1, None))
    load = crew_load(sc, build_topology(sc.datacenter))
    assert load is not None
    assert load.load == pytest.approx(4 / 100 * 10 / 1)  # 4 nodes / 100 h x 10 h / 1 technician = 0.4


def test_crew_load_by_hand_in_day_shifts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """08:00-18:00 on weekdays is 50 of 168 hours: 0.4 / (50/168) = 1.344, overloaded; flagged in validate and run."""
    data = crew_data(1, {"start": "8h", "end": "18h", "days": "weekdays"})
    expected = 4 / 100 * 10 / (10 / 24 * 5 / 7)
    code, out, err = cli(capsys, "validate", write(tmp_path, data))
    assert code == 0, err
    assert f"repair crew load: {100 * expected:.0f} %" in out and "overloaded" in out
    code, _, err = cli(capsys, "run", tmp_path / "s.yaml", "--out", tmp_path / "o", "--quiet")
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["faults"]["repair_crew_load"] == pytest.approx(expected)
    assert any("repair crew's load is 134 %" in note for note in summary["notes"])


def test_a_crew_that_keeps_up_is_not_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = crew_data(2, {"start": "8h", "end": "18h", "days": "weekdays"})  # 1.344 / 2 = 0.67
    code, out, _ = cli(capsys, "validate", write(tmp_path, data))
    assert code == 0 and f"repair crew load: {100 * 4 / 100 * 10 / (2 * 50 / 168):.0f} %" in out
    assert "overloaded" not in out


def test_the_shipped_repair_crew_with_one_technician_is_flagged() -> None:
    """scenarios/repair_crew.yaml: GPU, node and rack failures, 40 % fixed by reboots, log-normal repairs
    (median 3 h, sigma 0.6), one day-shift technician: repairs arrive about twice as fast as he finishes them."""
    sc = load_scenario(str(ROOT / "scenarios" / "repair_crew.yaml"))
    per_hour = (1024 / 5000 + 128 / 2000 + 32 / 50000) * (1 - 0.4)
    mean_repair_h = 3 * math.exp(0.6**2 / 2)
    expected = per_hour * mean_repair_h / (1 * 50 / 168)
    load = crew_load(sc, build_topology(sc.datacenter))
    assert load is not None and load.load == pytest.approx(expected) and 1.9 < expected < 2.0


def load_scenario_data(data: dict[str, Any]) -> Any:
    from dcsim.scenario.load import scenario_from_data

    return scenario_from_data(data)


def test_an_allowed_overload_is_still_said_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "run", write(tmp_path, endless("1/s") | {"horizon": "10m"}), "--allow-overload",
                       "--out", tmp_path / "o")  # fmt: skip
    assert code == 0
    assert err.startswith(f"warning: overloaded: the job classes without a count (train) offer {3600 * 2 // 32} times")


def test_work_that_drains_is_given_in_gpu_hours(capsys: pytest.CaptureFixture[str]) -> None:
    """A trace without a horizon: its GPU-hours (sum of GPUs x run time over its rows), not a share of nothing."""
    import pandas as pd

    trace = pd.read_csv(ROOT / "scenarios" / "trace_replay.csv")
    spec = yaml.safe_load((ROOT / "scenarios" / "trace_replay.yaml").read_text())["workload"]["trace"]
    columns = spec.get("columns", {})
    gpus, duration = trace[columns.get("gpus", "gpus")], trace[columns.get("duration", "duration")]
    unit = {"s": 1, "m": 60, "h": 3600}[spec.get("time_unit", "s")]
    code, out, _ = cli(capsys, "validate", ROOT / "scenarios" / "trace_replay.yaml")
    assert code == 0
    assert f"offered work: {(gpus * duration).sum() * unit / 3600:,.0f} GPU-hours that end when they drain" in out
