"""Every scenario we ship, and every user spec file, validates and runs one short replication."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcsim.allocate.model import solve
from dcsim.allocate.report import load_problem
from dcsim.core.errors import ScenarioError
from dcsim.experiment.run import simulate
from dcsim.scenario.load import load_scenario
from dcsim.scenario.schema import Scenario

from conftest import ALLOCATION_FILES, ROOT, SHARED, SHIPPED_SCENARIOS, SPEC_FILES

FILES = SHIPPED_SCENARIOS + SPEC_FILES


def short(path: Path) -> list[str]:
    """Overrides that keep a smoke run short (2 days, or the trace as it is; 6 hours of request traffic)."""
    sc: Scenario = load_scenario(str(path))
    if sc.horizon is None:
        return []
    horizon = "6h" if sc.services else "2d"
    return [f"horizon={horizon}"] + (["warmup=2h"] if sc.warmup else [])


#: Run whole by a test of its own below (test_serving_spec_runs_unchanged_with_every_block_in_effect).
WHOLE = ("serving.yaml",)


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if p.name not in WHOLE or p.parent.name != "spec"],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_file_validates_and_runs(path: Path) -> None:
    scenario = load_scenario(str(path), short(path))
    result = simulate(scenario)
    if scenario.workload.fill is not None:  # the fill experiment: pods, no jobs
        fill = result.summary["fill"]
        assert fill["pods_arrived"] == fill["pods_placed"] + fill["pods_failed"] > 0
        assert 0 < result.summary["utilization"]["gpu_allocated"] <= 1
        return
    jobs = result.summary["jobs"]
    assert jobs["submitted"] > 0 or not (scenario.workload.jobs or scenario.workload.trace)
    assert jobs["submitted"] == jobs["completed"] + jobs["failed"] + jobs["running_at_end"] + jobs["queued_at_end"]
    assert 0 < result.summary["utilization"]["gpu_allocated"] <= 1
    if scenario.services:
        s = result.summary["services"]
        assert s["requests"] > 0 and s["completed"] > 0
        assert s["requests"] == s["completed"] + s["rejected"] + s["failed"] + s["unfinished"]


def test_shipped_scenarios_are_all_covered() -> None:
    """The scenarios the README names are all here and run; none is silently missing."""
    names = {p.name for p in FILES if p.parent == ROOT / "scenarios"}
    assert {"quickstart.yaml", "capacity_planning.yaml", "placement_locality.yaml", "trace_replay.yaml",
            "hetero_fleet.yaml", "llama3_54d.yaml", "repair_crew.yaml", "serving_autoscale.yaml",
            "mixed_training_serving.yaml"} <= names  # fmt: skip


def test_spec_files_are_all_covered_when_shared_is_present() -> None:
    """Where shared/ stands beside the repo (as in CI), its five built spec files are among those run."""
    if not (SHARED / "spec").is_dir():
        assert SPEC_FILES == []  # a plain clone: nothing to cover
        return
    assert {p.name for p in SPEC_FILES} >= {
        "hetero_fleet.yaml",
        "network_contention.yaml",
        "reliability.yaml",
        "serving.yaml",
        "trace_replay.yaml",
    }


@pytest.mark.skipif(not (SHARED / "spec" / "reliability.yaml").is_file(), reason="shared/ is not beside the repo")
def test_reliability_spec_runs_with_every_block_in_effect() -> None:
    """The user's reliability file: failures strike, reboots and technicians repair, spares stand in.

    Checkpoints cost time and lost work, so the effective training time ratio is below 1.
    """
    r = simulate(load_scenario(str(SHARED / "spec" / "reliability.yaml")))
    f = r.summary["faults"]
    assert f["failures"] > 0 and f["job_interruptions"] > 0
    assert f["reboots"] > 0  # repair.reboot
    assert r.failures is not None
    assert (r.failures["repaired_by"] == "technician").any()  # repair.technicians, repair.time
    assert f["spare_swaps"] > 0  # repair.spares.nodes
    assert 0 < f["ettr"] < 1  # checkpoint writes and lost work
    assert r.summary["utilization"]["gpu_available"] < 1
    assert set(f["by_component"]) == {"gpu", "node", "rack"}
    assert not any("not simulated" in n for n in r.summary["notes"])


@pytest.mark.parametrize("path", ALLOCATION_FILES, ids=lambda p: p.name)
def test_allocation_file_solves(path: Path) -> None:
    """Allocation problems shipped beside the scenarios solve, and `dcsim run` sends them to `dcsim allocate`."""
    assert solve(load_problem(str(path))).status == "optimal"
    with pytest.raises(ScenarioError, match="dcsim allocate"):
        load_scenario(str(path))


def test_allocation_files_are_shipped() -> None:
    assert {"seed_lp_example.yaml", "allocate_two_racks.yaml"} <= {p.name for p in ALLOCATION_FILES}


@pytest.mark.skipif(not (SHARED / "spec" / "network_contention.yaml").is_file(), reason="no shared/ beside the repo")
def test_network_contention_spec_runs_with_every_block_in_effect() -> None:
    """The user's network file: its fabric slows the communicating jobs and sized checkpoints
    go through the site's storage; its link and switch failures are built (at its MTBFs, 0.4
    link failures are expected in its 14 days, so none may strike), and no field is unused."""
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import load_scenario

    summary = simulate(load_scenario(SHARED / "spec" / "network_contention.yaml")).summary
    assert summary["network"]["mean_job_slowdown"] > 1.0  # a 4:1 spine under ring all-reduces
    assert summary["network"]["bytes_moved"] > 0
    assert summary["storage"]["checkpoint_writes"] > 0
    # 2 TB over 200 GB/s alone is 10 s; contention can only lengthen it.
    assert summary["storage"]["mean_checkpoint_write_s"] >= 10.0 * (1 - 1e-9)
    # No field of the file is noted as recorded but unused (scenario/unmodelled.py's wording).
    assert not any("set, but" in note or "changes no result" in note for note in summary["notes"])


@pytest.mark.skipif(not (SHARED / "spec" / "serving.yaml").is_file(), reason="no shared/ beside the repo")
def test_serving_spec_runs_unchanged_with_every_block_in_effect() -> None:
    """The user's serving file, its whole day: its requests arrive at the diurnal rate, its HPA scales,
    a cold start loads the 140 GB model through the site's 100 GB/s storage, and no field is unused."""
    import math

    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import load_scenario

    sc = load_scenario(SHARED / "spec" / "serving.yaml")
    result = simulate(sc)
    s = result.summary["services"]
    # Requests arriving in [warmup, horizon] at rate(t) = r (1 + a cos(2 pi (t - peak) / P)): Poisson.
    arrival = sc.services[0].requests.arrival
    r, a, peak, period = arrival.rate, arrival.amplitude, arrival.peak, arrival.period
    lo, hi = sc.warmup, sc.horizon
    expected = r * (hi - lo) + r * a * period / (2 * math.pi) * (
        math.sin(2 * math.pi * (hi - peak) / period) - math.sin(2 * math.pi * (lo - peak) / period)
    )
    assert abs(s["requests"] - expected) < 4 * math.sqrt(expected)
    assert s["requests"] == s["completed"] + s["rejected"] + s["failed"] + s["unfinished"]
    scaling = result.data["scaling"]
    assert len(set(scaling["applied"].tolist())) > 2  # the HPA moved the fleet through the day
    assert s["cold_starts"] > 0 and s["mean_cold_start_s"] >= 140e9 / 100e9 * (1 - 1e-9)
    assert s["p99_ttft_s"] is not None and s["p99_ttft_s"] < s["p99_latency_s"]
    assert not any("set, but" in note or "changes no result" in note or "is not read" in note
                   for note in result.summary["notes"])  # fmt: skip


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_resolved_scenario_validates_again_to_itself(path: Path) -> None:
    """A sweep or plan stores each run's resolved scenario (every default written out) and validates it again:
    it must give the same scenario (a validator that refuses an explicit default breaks every sweep)."""
    from dcsim.experiment.run import scenario_json
    from dcsim.scenario.load import scenario_from_data

    sc = load_scenario(str(path))
    assert scenario_from_data(scenario_json(sc), sc.base_dir) == sc


@pytest.mark.skipif(not (SHARED / "spec" / "geo.yaml").is_file(), reason="no shared/ beside the repo")
def test_geo_spec_runs_its_week_with_every_block_in_effect() -> None:
    """The user's two-region file over its whole week, its request rates cut to 1/s and the surge's to 6/s so the
    test stays short (the file itself, 12.4 million requests, runs in about 2.5 min): the surge's requests arrive,
    the added racks count as installed from day 5, the outage of us-east fails over, jobs go to the cleaner
    site (or wait for it) and move their data over the WAN, and carbon follows us-east's hourly series."""
    import math

    import numpy as np

    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import read_yaml, scenario_from_data

    data = read_yaml(str(SHARED / "spec" / "geo.yaml"))
    data["services"][0]["requests"]["arrival"]["rate"] = "1/s"
    data["events"][0]["set"]["services.0.requests.arrival.rate"] = "6/s"  # the surge: 6/s for its 4 h (the file: 60/s)
    sc = scenario_from_data(data, str(SHARED / "spec"))
    summary = simulate(sc).summary
    s = summary["services"]
    arrival = sc.services[0].requests.arrival
    a, peak, period = arrival.amplitude, arrival.peak, arrival.period

    def integral(rate: float, lo: float, hi: float) -> float:  # of rate (1 + a cos(2 pi (t - peak) / P))
        phase = 2 * math.pi / period
        return rate * (hi - lo) + rate * a / phase * (math.sin(phase * (hi - peak)) - math.sin(phase * (lo - peak)))

    surge = sc.events[0]
    expected = integral(1.0, 0.0, sc.horizon) + integral(6.0 - 1.0, surge.at, surge.end)
    assert abs(s["requests"] - expected) < 4 * math.sqrt(expected)
    assert summary["cluster"]["installed_gpu_hours"] == pytest.approx(448 * 168 + 2 * 4 * 8 * 48, rel=1e-12)
    assert summary["faults"]["failures"] >= 1 and summary["faults"]["downtime_gpu_hours"] >= 256 * 2 * (1 - 1e-9)
    assert s["time_to_recover_slo_s"] is not None
    by_site = summary["routing"]["by_site"]  # lowest_carbon, or the least busy site when the cleaner one is full
    assert by_site["eu-north"] > 0 and by_site["us-east"] > 0 and summary["routing"]["deferred_jobs"] > 0
    assert summary["wan"]["transfers"] > 0 and summary["wan"]["bytes_moved"] >= 2e12  # jobs away from home
    east = summary["cost"]["by_site"]["us-east"]
    carbon = np.loadtxt(SHARED / "spec" / "carbon_us_east.csv", delimiter=",", skiprows=1, usecols=1)
    assert carbon.min() < east["carbon_kg"] * 1000 / east["energy_kwh"] < carbon.max()  # a mean of the series
    assert not any("set, but" in note or "changes no result" in note or "is not read" in note
                   for note in summary["notes"])  # fmt: skip


@pytest.mark.skipif(not (SHARED / "spec" / "tenants.yaml").is_file(), reason="no shared/ beside the repo")
def test_tenants_spec_runs_its_three_weeks_with_every_block_in_effect() -> None:
    """The user's tenants file, whole (21 days, EASY backfill, DRF, quotas, reclaim with a 2-minute grace).

    Research borrows (up to 64 GPUs beyond its 128) what product and the interns leave idle,
    and is preempted when they reclaim it; interns may not borrow (limit 0); product lends at
    most 32 of its 96. What is borrowed is lent, GPU-hour for GPU-hour, and no tenant borrows
    or lends more than its limit allows over the measured 19 days (limit x 456 h).
    """
    r = simulate(load_scenario(str(SHARED / "spec" / "tenants.yaml")))
    t, jobs = r.summary["tenants"], r.summary["jobs"]
    hours = (21 - 2) * 24.0
    research, product, interns = t["research"], t["product"], t["interns"]
    assert research["borrowed_gpu_hours"] > 0 and interns["borrowed_gpu_hours"] == 0.0
    borrowed = sum(x["borrowed_gpu_hours"] for x in (research, product, interns))
    lent = sum(x["lent_gpu_hours"] for x in (research, product, interns))
    assert borrowed == pytest.approx(lent, rel=1e-9) and borrowed == pytest.approx(t["borrowed_gpu_hours"], rel=1e-9)
    assert research["borrowed_gpu_hours"] <= 64 * hours
    assert product["lent_gpu_hours"] <= 32 * hours and interns["lent_gpu_hours"] <= 32 * hours
    assert (
        jobs["preemptions_by_reason"]["quota"] > 0 and jobs["preemptions_by_reason"]["quota"] == research["preemptions"]
    )
    assert 0 < t["jain_index"] <= 1
