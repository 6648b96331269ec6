"""Several sites: cases a review of issue 14 found wrong, each checked against its closed form or contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcsim.core.errors import ScenarioError

from conftest import run_data

H = 3600.0
NODE = {"gpus": 8, "gpu_type": "H100", "gpu_power": "700W", "gpu_idle_power": "100W", "base_power": "1000W"}


def _site(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "racks": 1, "nodes_per_rack": 1, "node": dict(NODE), **extra}


def _two_sites() -> dict[str, Any]:
    """Two sites with their own constant prices and intensities; one 1-s job (nothing but idle power matters)."""
    return {
        "name": "review",
        "seed": 1,
        "horizon": "8h",
        "datacenter": {
            "sites": [
                _site("a", electricity_usd_per_kwh=0.2, carbon_g_per_kwh=100, pue=1.0),
                _site("b", electricity_usd_per_kwh=0.1, carbon_g_per_kwh=300, pue=1.0),
            ]
        },
        "workload": {
            "jobs": [
                {"name": "t", "arrival": {"process": "batch", "at": "7h"}, "count": 1, "gpus": 1, "duration": "1s"}
            ]
        },
        "costs": {"gpu_hour_usd": 0},
    }


def test_an_event_on_a_site_index_out_of_range_is_bad_input_not_a_traceback(tmp_path: Path) -> None:
    """events.0.set.datacenter.sites.9.<price>: exit 2, one message; main raises IndexError (exit 1)."""
    data = _two_sites()
    data["events"] = [{"at": "1h", "set": {"datacenter.sites.9.electricity_usd_per_kwh": 0.5}}]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-m", "dcsim", "validate", str(path)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2


def test_a_scenario_wide_price_event_is_not_silently_ignored() -> None:
    """Every site has its own price: an event on costs.electricity_usd_per_kwh would change nothing: refused."""
    shocked = _two_sites()
    shocked["events"] = [{"at": "2h", "until": "6h", "set": {"costs.electricity_usd_per_kwh": 5.0}}]
    with pytest.raises(ScenarioError, match="every site sets its own electricity_usd_per_kwh"):
        run_data(shocked)


def test_idle_energy_of_racks_added_under_an_hourly_price_is_integrated_hour_by_hour(tmp_path: Path) -> None:
    """One rack from 0, a second from 4h (add_racks); price 0.2 $/kWh for 0-4h, 1.0 after; PUE 1.

    Each node idles at 1000 W + 8 x 100 W = 1.8 kW. Exact bill over 8 h:
    rack 1: 1.8 x 4 x 0.2 + 1.8 x 4 x 1.0; rack 2 (4h-8h): 1.8 x 4 x 1.0 -> 15.84 $ (main: 12.96,
    the added rack's idle power spread evenly over the window). Carbon likewise (100 then 500 g/kWh): 7.92 kg.
    """
    (tmp_path / "p.csv").write_text("time,usd_per_kwh\n0h,0.2\n4h,1.0\n")
    (tmp_path / "c.csv").write_text("time,g_per_kwh\n0h,100\n4h,500\n")
    data = _two_sites()
    data["datacenter"]["sites"] = [
        _site("a", electricity_usd_per_kwh={"series": "p.csv"}, carbon_g_per_kwh={"series": "c.csv"}, pue=1.0)
    ]
    data["events"] = [{"at": "4h", "add_racks": {"site": "a", "racks": 1}}]
    data["workload"]["jobs"][0]["duration"] = "1ms"
    cost = run_data(data, base_dir=str(tmp_path)).summary["cost"]
    assert cost["energy_usd"] == pytest.approx(1.8 * 4 * 0.2 + 1.8 * 4 * 1.0 * 2, rel=1e-4)
    assert cost["carbon_kg"] == pytest.approx((1.8 * 4 * 100 + 1.8 * 4 * 500 * 2) / 1000, rel=1e-4)


def test_a_job_that_completes_after_failing_over_counts_at_the_site_it_completed_at() -> None:
    """A job starts at a, a fails at 1h for 2h, the job reruns and completes at b.

    sites.b.jobs_completed must be 1 (main: 0, and sites.a.jobs_completed 1: the first start's site).
    """
    data = _two_sites()
    data["horizon"] = "10h"
    data["datacenter"]["wan"] = [{"between": ["a", "b"], "bandwidth": "8Gbps", "latency": "50ms"}]
    data["workload"]["jobs"] = [{"name": "t", "arrival": {"process": "batch"}, "count": 1, "gpus": 4,
                                 "duration": "2h"}]  # fmt: skip
    data["policies"] = {"site_router": "home"}
    data["events"] = [{"at": "1h", "for": "2h", "fail": {"site": "a"}}]
    summary = run_data(data).summary
    assert summary["jobs"]["completed"] == 1
    assert summary["sites"]["b"]["jobs_completed"] == 1
    assert summary["sites"]["a"]["jobs_completed"] == 0


def test_requests_lost_is_on_the_same_scale_as_failed_and_rejected_under_sample() -> None:
    """services.by_service.<s>.requests_lost is 'rejected + failed' (docs/reference/metrics.md).

    With `sample` < 1 the block's counts are scaled to the whole fleet, requests_lost is not.
    """
    data = _two_sites()
    data["horizon"] = "3h"
    data.pop("workload")
    data["datacenter"]["wan"] = [{"between": ["a", "b"], "bandwidth": "100Gbps", "latency": "45ms"}]
    data["services"] = [{
        "name": "svc", "gpus_per_replica": 1, "replicas": {"min": 2, "max": 2, "initial": 2}, "sites": ["a", "b"],
        "sample": 0.5, "queue_limit": 2, "on_replica_loss": "fail",
        "requests": {"arrival": {"process": "poisson", "rate": "30/s"}, "origin": {"a": 1.0}},
        "service_time": {"dist": "exponential", "mean": "100ms"}, "slo": {"latency_p95": "400ms"},
    }]  # fmt: skip
    data["events"] = [{"at": "1h", "for": "30m", "fail": {"site": "a"}}]
    block = run_data(data).summary["services"]["by_service"]["svc"]
    assert block["failed"] + block["rejected"] > 0
    assert block["requests_lost"] == block["failed"] + block["rejected"]
