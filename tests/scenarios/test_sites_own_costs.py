"""Sites that own their prices and repair crews, checked against arithmetic done by hand.

A site's ``costs`` and ``repair`` blocks sit on top of the scenario-wide ones, field by
field; the summary splits cost and utilization by site and by GPU type, and the sums of
the parts are the totals.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcsim.cli import main
from dcsim.infra.topology import build_topology
from dcsim.metrics.scoring import flatten

from conftest import ROOT, build, run_data

HOURS = 10
DAY = 86400.0


def node(gpus: int, gpu_type: str, idle_w: float, base_w: float) -> dict[str, Any]:
    return {"gpus": gpus, "gpu_type": gpu_type, "gpu_power": "700W", "gpu_idle_power": f"{idle_w}W",
            "base_power": f"{base_w}W"}  # fmt: skip


def idle_sites() -> dict[str, Any]:
    """Three sites of idle GPUs for 10 h: no job arrives before the horizon.

    - ``a``: 2 nodes of 8 H100 (100 W idle, 1,000 W base), its own prices for everything:
      3.00 $/GPU-h for every type (a bare number is its ``*``), 0.20 $/kWh, PUE 1.5.
    - ``b``: a node of 4 A100 (50 W idle, 500 W base) and a node of 4 H100 (100 W idle,
      500 W base); its own A100 price (1.50) and PUE (1.2), the rest scenario-wide.
    - ``c``: a node of 8 H100 (100 W idle, 800 W base) with no prices of its own.
    - scenario-wide: H100 2.50 $/GPU-h, any other type 2.00, 0.10 $/kWh, PUE 1.3.
    """
    return {
        "name": "idle-sites",
        "horizon": f"{HOURS}h",
        "datacenter": {"sites": [
            {"name": "a", "racks": 1, "nodes_per_rack": 2, "node": node(8, "H100", 100, 1000),
             "costs": {"gpu_hour_usd": 3.0, "electricity_usd_per_kwh": 0.20, "pue": 1.5}},
            {"name": "b", "rack_groups": [
                {"racks": 1, "nodes_per_rack": 1, "node": node(4, "A100", 50, 500)},
                {"racks": 1, "nodes_per_rack": 1, "node": node(4, "H100", 100, 500)}],
             "costs": {"gpu_hour_usd": {"A100": 1.5}, "pue": 1.2}},
            {"name": "c", "racks": 1, "nodes_per_rack": 1, "node": node(8, "H100", 100, 800)},
        ]},
        "workload": {"jobs": [{"name": "late", "arrival": {"process": "periodic", "interval": "1h", "start": "11h"},
                               "count": 1, "gpus": 1, "duration": "1h"}]},
        "costs": {"gpu_hour_usd": {"H100": 2.5, "*": 2.0}, "electricity_usd_per_kwh": 0.10, "pue": 1.3},
    }  # fmt: skip


def test_idle_sites_cost_their_own_prices() -> None:
    """Capital = GPUs x hours x the site's price; energy = idle IT power x hours x the site's PUE and price."""
    s = run_data(idle_sites()).summary
    assert s["jobs"]["submitted"] == 0
    site = s["cost"]["by_site"]
    # a: 16 GPUs x 10 h x 3.00; (2 x 1,000 W + 16 x 100 W) x 10 h = 36 kWh x PUE 1.5, at 0.20 $/kWh
    assert site["a"]["capital_usd"] == pytest.approx(16 * HOURS * 3.0)
    assert site["a"]["energy_kwh"] == pytest.approx((2 * 1000 + 16 * 100) * HOURS / 1000 * 1.5)
    assert site["a"]["energy_usd"] == pytest.approx(54.0 * 0.20)
    # b: A100 at its own 1.50, its H100 at the scenario-wide 2.50 (b has no H100 or * price);
    # (500 + 4 x 50 + 500 + 4 x 100) W x 10 h = 16 kWh x its own PUE 1.2, at the scenario-wide 0.10 $/kWh
    assert site["b"]["capital_usd"] == pytest.approx(4 * HOURS * 1.5 + 4 * HOURS * 2.5)
    assert site["b"]["energy_kwh"] == pytest.approx((500 + 4 * 50 + 500 + 4 * 100) * HOURS / 1000 * 1.2)
    assert site["b"]["energy_usd"] == pytest.approx(19.2 * 0.10)
    # c: every price scenario-wide: 8 H100 x 10 h x 2.50; (800 + 8 x 100) W x 10 h x PUE 1.3, at 0.10 $/kWh
    assert site["c"]["capital_usd"] == pytest.approx(8 * HOURS * 2.5)
    assert site["c"]["energy_kwh"] == pytest.approx((800 + 8 * 100) * HOURS / 1000 * 1.3)
    assert site["c"]["energy_usd"] == pytest.approx(20.8 * 0.10)
    for name in "abc":
        assert site[name]["total_usd"] == pytest.approx(site[name]["capital_usd"] + site[name]["energy_usd"])
    cost = s["cost"]
    assert cost["capital_usd"] == pytest.approx(480 + 160 + 200)
    assert cost["energy_kwh"] == pytest.approx(54 + 19.2 + 20.8)
    assert cost["energy_usd"] == pytest.approx(10.8 + 1.92 + 2.08)
    assert cost["total_usd"] == pytest.approx(840 + 14.8)
    kind = cost["by_gpu_type"]
    # A100: b's node only; H100: a, b's H100 node (500 + 400 W, PUE 1.2) and c
    assert kind["A100"]["capital_usd"] == pytest.approx(60.0)
    assert kind["A100"]["energy_kwh"] == pytest.approx((500 + 4 * 50) * HOURS / 1000 * 1.2)
    assert kind["H100"]["capital_usd"] == pytest.approx(480 + 100 + 200)
    assert kind["H100"]["energy_usd"] == pytest.approx(10.8 + (500 + 4 * 100) * HOURS / 1000 * 1.2 * 0.10 + 2.08)
    assert s["utilization"]["by_site"]["a"] == {"gpu_allocated": 0.0, "gpu_productive": 0.0}


def test_a_site_without_costs_of_its_own_takes_the_scenario_wide_ones() -> None:
    """Scenario-wide prices changed: site c (no `costs`) follows, site a (all its own) does not, and b by field."""
    data = idle_sites()
    data["costs"] = {"gpu_hour_usd": {"H100": 4.0, "*": 1.0}, "electricity_usd_per_kwh": 0.30, "pue": 1.1}
    site = run_data(data).summary["cost"]["by_site"]
    assert site["c"]["capital_usd"] == pytest.approx(8 * HOURS * 4.0)
    assert site["c"]["energy_usd"] == pytest.approx((800 + 8 * 100) * HOURS / 1000 * 1.1 * 0.30)
    assert site["a"]["capital_usd"] == pytest.approx(16 * HOURS * 3.0)
    assert site["a"]["energy_usd"] == pytest.approx(36 * 1.5 * 0.20)
    # b: own A100 price and PUE; H100 price and electricity price from the new scenario-wide block
    assert site["b"]["capital_usd"] == pytest.approx(4 * HOURS * 1.5 + 4 * HOURS * 4.0)
    assert site["b"]["energy_usd"] == pytest.approx(16 * 1.2 * 0.30)


def test_without_site_prices_the_breakdown_splits_the_same_totals() -> None:
    """No site sets prices: every site is at the scenario-wide prices, and the parts add up to the totals."""
    data = idle_sites()
    for site in data["datacenter"]["sites"]:
        site.pop("costs", None)
    s = run_data(data).summary
    site = s["cost"]["by_site"]
    assert site["a"]["capital_usd"] == pytest.approx(16 * HOURS * 2.5)
    assert site["b"]["capital_usd"] == pytest.approx(4 * HOURS * 2.0 + 4 * HOURS * 2.5)
    assert site["b"]["energy_kwh"] == pytest.approx(16 * 1.3)
    for part in ("total_usd", "capital_usd", "energy_usd", "energy_kwh"):
        assert sum(v[part] for v in site.values()) == pytest.approx(s["cost"][part], rel=1e-12)


# --------------------------------------------------------------------------- the parts add up
def assert_parts_add_up(summary: dict[str, Any], installed: dict[str, dict[str, int]]) -> None:
    """Cost parts sum to the totals; utilizations, weighted by installed GPUs, average to the totals."""
    total_gpus = summary["cluster"]["installed_gpus"]
    for key in ("by_site", "by_gpu_type"):
        parts = summary["cost"][key]
        assert set(parts) == set(installed[key])
        for part in ("total_usd", "capital_usd", "energy_usd", "energy_kwh"):
            assert math.fsum(v[part] for v in parts.values()) == pytest.approx(summary["cost"][part], rel=1e-12)
        use = summary["utilization"][key]
        for part in ("gpu_allocated", "gpu_productive"):
            weighted = math.fsum(use[g][part] * installed[key][g] for g in use) / total_gpus
            assert weighted == pytest.approx(summary["utilization"][part], rel=1e-12, abs=1e-15)


def installed_by(data_or_path: Any) -> dict[str, dict[str, int]]:
    sc = build(data_or_path) if isinstance(data_or_path, dict) else data_or_path
    out: dict[str, dict[str, int]] = {"by_site": {}, "by_gpu_type": {}}
    for pool in build_topology(sc.datacenter).pools:
        out["by_site"][pool.site] = out["by_site"].get(pool.site, 0) + pool.gpus
        out["by_gpu_type"][pool.gpu_type] = out["by_gpu_type"].get(pool.gpu_type, 0) + pool.gpus
    return out


@pytest.mark.parametrize(
    "name", ["05_priority_hetero_fleet", "07_repair_crew_spares", "08_young_daly_evict_sites", "12_sites_own_costs"]
)
def test_the_parts_of_a_busy_run_add_up_to_its_totals(name: str) -> None:
    """Runs with jobs, failures, interrupted and checkpointing jobs, spares, several sites and GPU types."""
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import load_scenario

    sc = load_scenario(str(ROOT / "tests" / "regression" / "scenarios" / f"{name}.yaml"))
    summary = simulate(sc).summary
    assert summary["utilization"]["gpu_allocated"] > 0
    assert_parts_add_up(summary, installed_by(sc))


# --------------------------------------------------------------------------- crews
def failing_sites(b_repair: dict[str, Any] | None) -> dict[str, Any]:
    """Two sites of one node each whose nodes fail about every 10 h (Weibull, shape 50: 10 h +- 3 %).

    Repairs take 30 min. Site a takes the scenario-wide crew: 1 technician around the clock.
    """
    site_b: dict[str, Any] = {"name": "b", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8, "gpu_type": "A100"}}
    if b_repair is not None:
        site_b["repair"] = b_repair
    return {
        "name": "failing-sites",
        "seed": 3,
        "horizon": "3d",
        "datacenter": {"sites": [{"name": "a", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}, site_b]},
        "workload": {"jobs": [{"name": "late", "arrival": {"process": "batch", "at": "4d"}, "count": 1, "gpus": 1,
                               "duration": "1h"}]},
        "failures": {"node": {"dist": "weibull", "shape": 50, "mtbf": "10h"}},
        "repair": {"technicians": 1, "time": "30m"},
    }  # fmt: skip


def test_a_failure_at_site_b_waits_for_b_s_technician_alone() -> None:
    """B's one technician works 20:00-21:00 every day; a's (scenario-wide) one around the clock.

    Each node is down while it waits, so each crew has one repair at a time. A failure of
    b's node waits until the next 20:00, however idle a's technician is; one of a's node waits
    for nothing. Each repair then takes 30 min.
    """
    r = run_data(failing_sites({"working_hours": {"start": "20h", "end": "21h", "days": "all"}}))
    f = r.failures
    at_b = f[f["domain"] == "node:1"]
    at_a = f[f["domain"] == "node:0"]
    assert len(at_b) >= 2 and len(at_a) >= 2
    for t, wait, repaired in zip(at_b["time_s"], at_b["wait_technician_s"], at_b["repaired_s"], strict=True):
        if math.isnan(repaired):
            continue  # still waiting at the end
        next_shift = (math.floor((t - 20 * 3600) / DAY) + 1) * DAY + 20 * 3600  # the first 20:00 after t
        assert wait == pytest.approx(next_shift - t)
        assert repaired == pytest.approx(next_shift + 1800)
    done_a = at_a[~at_a["repaired_s"].isna()]
    assert (done_a["wait_technician_s"] == 0).all()
    assert done_a["time_to_repair_s"].to_numpy() == pytest.approx([1800.0] * len(done_a))


def test_without_a_crew_of_its_own_site_b_shares_the_scenario_wide_one() -> None:
    """No `repair` at b: one technician for both nodes, so the waits follow Lindley's recursion over both
    sites' failures in time order (start = max(failure, technician free), free = start + 30 min); with
    `repair: {}` b has a crew of its own (of the scenario-wide size) and nothing ever waits."""
    f = run_data(failing_sites(None)).failures.sort_values("time_s")
    free, waits = 0.0, []
    for t in f["time_s"]:
        start = max(t, free)
        waits.append(start - t)
        free = start + 1800
    done = ~f["repaired_s"].isna()
    assert f["wait_technician_s"][done].to_numpy() == pytest.approx([w for w, d in zip(waits, done, strict=True) if d])
    assert max(waits) > 0  # the two nodes fail within minutes of each other: one waits for the other's repair
    own = run_data(failing_sites({})).failures
    assert len(own) >= 4 and (own["wait_technician_s"].dropna() == 0).all()


def crew_sites() -> dict[str, Any]:
    """Sites a and b of 4 nodes each (1 rack x 4 x 2 GPUs), nodes failing every 100 h, 10 h repairs.

    a: its own crew of 2 technicians around the clock; b: its own crew with the scenario-wide
    1 technician, on weekdays 08:00-18:00 (50 of 168 hours).
    """
    site = {"racks": 1, "nodes_per_rack": 4, "node": {"gpus": 2}}
    return {
        "name": "crews",
        "horizon": "10d",
        "datacenter": {"sites": [
            {"name": "a", **site, "repair": {"technicians": 2}},
            {"name": "b", **site, "repair": {"working_hours": {"start": "8h", "end": "18h", "days": "weekdays"}}},
        ]},
        "workload": {"jobs": [{"name": "j", "arrival": {"process": "periodic", "interval": "1h"}, "count": 4,
                               "gpus": 1, "duration": "30m"}]},
        "failures": {"node": {"mtbf": "100h"}},
        "repair": {"technicians": 1, "time": "10h"},
    }  # fmt: skip


def test_each_crew_has_its_own_load_and_the_overloaded_one_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """a: 4 nodes / 100 h x 10 h / 2 technicians = 0.2; b: 4 / 100 x 10 / (1 x 50/168) = 1.344, overloaded."""
    load_a = 4 / 100 * 10 / 2
    load_b = 4 / 100 * 10 / (1 * 10 / 24 * 5 / 7)
    s = run_data(crew_sites()).summary
    assert s["faults"]["repair_crew_load_by_site"] == pytest.approx({"a": load_a, "b": load_b})
    assert s["faults"]["repair_crew_load"] == pytest.approx(load_b)  # the most loaded crew's
    crew_notes = [n for n in s["notes"] if "repair crew" in n]
    assert len(crew_notes) == 1
    assert crew_notes[0].startswith(f"the repair crew's load is {100 * load_b:.0f} % at site b: overloaded")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(crew_sites()), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"repair crew load at site a: {100 * load_a:.0f} %" in out
    assert f"repair crew load at site b: {100 * load_b:.0f} %" in out and "overloaded" in out


def test_sites_sharing_the_scenario_wide_crew_share_its_load() -> None:
    """b without a crew of its own: the scenario-wide crew (1 technician, around the clock) serves b alone,
    4 / 100 x 10 / 1 = 0.4; a keeps its own 0.2."""
    data = crew_sites()
    del data["datacenter"]["sites"][1]["repair"]
    faults = run_data(data).summary["faults"]
    assert faults["repair_crew_load_by_site"] == pytest.approx({"a": 4 / 100 * 10 / 2, "b": 4 / 100 * 10 / 1})


def test_the_breakdown_names_are_known_metric_names() -> None:
    """`--metric` accepts every name of the new breakdowns (dcsim.metrics.names)."""
    from dcsim.metrics.names import is_metric

    names = [k for k in flatten(run_data(crew_sites()).summary) if ".by_site." in k or ".by_gpu_type." in k
             or k.startswith("faults.repair_crew_load_by_site.")]  # fmt: skip
    assert "cost.by_site.a.total_usd" in names and "utilization.by_gpu_type.H100.gpu_productive" in names
    assert "faults.repair_crew_load_by_site.b" in names
    assert [n for n in names if not is_metric(n)] == []


def test_the_lp_scheduler_prices_each_pool_at_its_site_s_prices() -> None:
    """Pools of sites a (3.00 $/GPU-h, 0.20 $/kWh x PUE 1.5) and c (scenario-wide 2.50, 0.10 x 1.3):
    a busy GPU-hour adds (700 - 100) W x PUE x price to the energy bill."""
    from dcsim.engine import DataCenterModel

    data = idle_sites()
    data["policies"] = {"scheduler": "lp"}
    model = DataCenterModel(build(data))
    model.run()
    fleet = model.scheduler.fleet
    pools = model.topology.pools
    by_site = {p.site: i for i, p in enumerate(pools) if p.gpu_type == "H100"}
    assert fleet.price[by_site["a"]] == pytest.approx(3.0)
    assert fleet.price[by_site["c"]] == pytest.approx(2.5)
    assert fleet.energy[by_site["a"]] == pytest.approx(0.6 * 1.5 * 0.20)
    assert fleet.energy[by_site["c"]] == pytest.approx(0.6 * 1.3 * 0.10)


def test_work_lost_and_restarts_count_at_the_site_of_their_run(tmp_path: Path) -> None:
    """One 8-GPU job of 10 h of work, checkpointing every hour (writes take no time), starts at site a.

    a's node fails at 2.5 h (a traced failure, down for the rest of the 12 h): the run there
    loses the 0.5 h since its checkpoint. The job restarts on b at 2.5 h, pays a 30-min
    restart and runs its last 8 h, finishing at 11 h. Over 12 h on 8 GPUs at each site:
    a allocated 2.5/12, productive (2.5 - 0.5)/12; b allocated 8.5/12, productive 8/12.
    """
    (tmp_path / "failures.csv").write_text("time,component,duration\n2.5,node:0,20\n", encoding="utf-8")
    site = {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}
    data = {
        "name": "restart-elsewhere",
        "horizon": "12h",
        "datacenter": {"sites": [{"name": "a", **site}, {"name": "b", **site}]},
        "workload": {"jobs": [{"name": "train", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 8,
                               "duration": "10h", "checkpoint": {"interval": "1h", "restart": "30m"}}]},
        "failures": {"trace": {"path": "failures.csv", "time_unit": "h"}},
    }  # fmt: skip
    s = run_data(data, base_dir=str(tmp_path)).summary
    assert s["jobs"]["completed"] == 1 and s["jobs"]["mean_jct_s"] == pytest.approx(11 * 3600)
    use = s["utilization"]["by_site"]
    assert use["a"]["gpu_allocated"] == pytest.approx(2.5 / 12)
    assert use["a"]["gpu_productive"] == pytest.approx((2.5 - 0.5) / 12)
    assert use["b"]["gpu_allocated"] == pytest.approx(8.5 / 12)
    assert use["b"]["gpu_productive"] == pytest.approx(8 / 12)
    assert s["utilization"]["gpu_productive"] == pytest.approx((2 + 8) / 24)
