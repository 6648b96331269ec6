"""Timed events through the CLI: one message per bad event, exit 2, nothing written; `validate` describes each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import tiny_data


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dcsim", *args], cwd=cwd, capture_output=True, text=True)


def scenario(events: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """The tiny scenario (1 site dc1 of 2 racks x 2 nodes) with Poisson jobs over a 2-day horizon."""
    data = tiny_data(horizon="2d", **top)
    data["workload"]["jobs"][0]["arrival"] = {"process": "poisson", "rate": "2/h"}
    del data["workload"]["jobs"][0]["count"]
    data["events"] = events
    return data


SURGE = {"at": "1d", "until": "1d4h", "set": {"workload.jobs.0.arrival.rate": "6/h"}}

BAD = [
    ({"at": "1d", "until": "1h", "fail": {"site": "dc1"}}, "events.0: until (60.0 min) must be after at"),
    ({"at": "1d", "fail": {"site": "dc9"}}, "events.0.fail.site: no site 'dc9'; sites: dc1"),
    ({"at": "1d", "until": "2d", "for": "1h", "fail": {"site": "dc1"}}, "events.0: give `until` (a time) or `for`"),
    ({"at": "1d", "fail": {"site": "dc1"}, "add_racks": {"site": "dc1", "racks": 1}},
     "events.0: an event does exactly one of set, add_racks, remove_racks, fail, restore; it has add_racks, fail"),
    ({"at": "1d", "set": {"workload.jobs.0.duration": "3h"}}, "events.0.set.workload.jobs.0.duration: this field "
     "cannot change during a run"),
    ({"at": "1d", "set": {"workload.jobs.0.colour": 1}}, "events.0.set.workload.jobs.0.colour: no field"),
    ({"at": "1d", "set": {"workload.jobs.0.arrival.rate": -3}},
     "events.0.set.workload.jobs.0.arrival.rate: must be > 0"),
    ({"at": "1d", "set": {"costs.pue": 1.5}}, "events.0.set.costs.pue: a site's PUE is read once"),
    ({"at": "1d", "set": {"costs.carbon_g_per_kwh": 300}}, "events.0.set.costs.carbon_g_per_kwh: the scenario has "
     "no carbon intensity in costs to change"),
    ({"at": "1d", "set": {"datacenter.sites.0.carbon_g_per_kwh": 300}}, "site 'dc1' has no carbon intensity"),
    ({"at": "1d", "set": {"costs.electricity_usd_per_kwh": {"series": "p.csv"}}}, "an event sets one number"),
    ({"at": "1d", "set": {"costs.electricity_usd_per_kwh": -1}}, "events.0.set.costs.electricity_usd_per_kwh: "),
    ({"at": "1d", "set": {"datacenter.sites.9.electricity_usd_per_kwh": 0.5}}, "no site 9: the scenario has 1"),
    ({"at": "1d", "fail": {"site": "dc1", "rack": 5}}, "events.0.fail.rack: site 'dc1' has racks 0..1, not 5"),
    ({"at": "1d", "restore": {"site": "dc1"}}, "events.0.restore: no earlier `fail` of site dc1"),
    ({"at": "1d", "remove_racks": {"site": "dc1", "racks": 2}}, "events.0.remove_racks.racks: site 'dc1' has 2 racks"),
]  # fmt: skip


@pytest.mark.parametrize(("event", "expected"), BAD)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_bad_event_is_one_message_and_exit_2(tmp_path: Path, command: str, event: dict, expected: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario([event])))
    args = [command, str(path)] + (["--out", str(tmp_path / "res")] if command == "run" else [])
    out = run_cli(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert expected in out.stderr and "Traceback" not in out.stderr
    assert "1 problem in the scenario" in out.stderr
    assert not (tmp_path / "res").exists()


def test_a_rate_event_on_a_class_without_a_rate_is_refused(tmp_path: Path) -> None:
    data = scenario([{"at": "1d", "set": {"workload.jobs.0.arrival.rate": "6/h"}}])
    data["workload"]["jobs"][0]["arrival"] = {"process": "periodic", "interval": "1h"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    out = run_cli("validate", str(path), cwd=tmp_path)
    assert out.returncode == 2
    assert "job class 'j' arrives by periodic; an event sets only a poisson or diurnal rate" in out.stderr


def test_an_hpa_parameter_read_only_at_the_start_is_refused(tmp_path: Path) -> None:
    data = scenario([{"at": "1d", "set": {"services.0.autoscaler.sync_period": "30s"}}])
    data["services"] = [{
        "name": "s", "replicas": {"min": 1, "max": 2, "initial": 1},
        "requests": {"arrival": {"process": "poisson", "rate": "1/s"}},
        "service_model": {"time": {"dist": "exponential", "mean": "10ms"}},
        "autoscaler": {"policy": "hpa", "metric": "request_rate", "target": 5},
    }]  # fmt: skip
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    out = run_cli("validate", str(path), cwd=tmp_path)
    assert out.returncode == 2
    assert "events.0.set.services.0.autoscaler.sync_period: autoscaler 'hpa' does not read 'sync_period'" in out.stderr
    data["events"] = [{"at": "1d", "set": {"services.0.autoscaler.target": 0}}]
    path.write_text(yaml.safe_dump(data))
    out = run_cli("validate", str(path), cwd=tmp_path)
    assert out.returncode == 2 and "events.0.set.services.0.autoscaler.target" in out.stderr, out.stderr


def test_overlapping_sets_of_one_field_are_refused(tmp_path: Path) -> None:
    data = scenario([SURGE, {"at": "1d2h", "set": {"workload.jobs.0.arrival.rate": "1/h"}}])
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    out = run_cli("validate", str(path), cwd=tmp_path)
    assert out.returncode == 2
    assert "events.1.set.workload.jobs.0.arrival.rate: event 0 sets it too" in out.stderr


def test_validate_prints_a_line_per_event_in_plain_words(tmp_path: Path) -> None:
    events = [
        SURGE,
        {"at": "1d2h", "add_racks": {"site": "dc1", "racks": 2}},
        {"at": "1d6h", "fail": {"site": "dc1", "rack": 0}, "for": "2h"},
        {"at": "1d12h", "remove_racks": {"site": "dc1", "racks": 1}},
    ]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(events)))
    out = run_cli("validate", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("event ")]
    assert lines == [
        "event 0 at 24.00 h until 28.00 h: set workload.jobs.0.arrival.rate to 6/h (then back)",
        "event 1 at 26.00 h: add 2 racks to site dc1",
        "event 2 at 30.00 h until 32.00 h: fail rack 0 of site dc1",
        "event 3 at 36.00 h: remove 1 rack from site dc1",
    ]


def test_a_scenario_wide_price_event_that_prices_no_site_is_refused(tmp_path: Path) -> None:
    """Every site sets its own price: an event on costs.electricity_usd_per_kwh would change nothing."""
    data = scenario([{"at": "1d", "until": "1d2h", "set": {"costs.electricity_usd_per_kwh": 5}}])
    data["datacenter"]["sites"][0]["electricity_usd_per_kwh"] = 0.1
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    out = run_cli("validate", str(path), cwd=tmp_path)
    assert out.returncode == 2 and "every site sets its own electricity_usd_per_kwh" in out.stderr
    del data["datacenter"]["sites"][0]["electricity_usd_per_kwh"]  # the scenario-wide price reaches dc1: fine
    path.write_text(yaml.safe_dump(data))
    assert run_cli("validate", str(path), cwd=tmp_path).returncode == 0


def test_an_event_beyond_the_horizon_is_valid_and_noted_as_not_happening(tmp_path: Path) -> None:
    """A run cut short (--set horizon=...) keeps the file's events: those past its end do not happen, and say so."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario([{"at": "3d", "fail": {"site": "dc1"}}])))
    out = run_cli("run", str(path), "--out", str(tmp_path / "res"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "events.0 at 3.00 d is at or beyond the horizon (2.00 d): it does not happen" in out.stdout + out.stderr
    summary = yaml.safe_load((tmp_path / "res" / "summary.json").read_text())
    assert summary["faults"]["failures"] == 0
