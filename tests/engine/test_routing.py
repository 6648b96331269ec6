"""Site routing of training jobs end to end (issue 14 points 2, 3, 4 and 8).

Small two-site data centers, each case computed by hand: where the router must send the jobs,
when a deferred job starts, how long its data takes over the WAN, where a failed site's jobs go.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from dcsim.core.series import Steps
from dcsim.engine import DataCenterModel
from dcsim.experiment.run import summary_json
from dcsim.infra.sites import SiteTimes
from dcsim.metrics.tables import jobs_table

from conftest import build, run_data

H = 3600.0
TB = 1e12


def two_sites(wan: bool = True, **site_b: Any) -> dict[str, Any]:
    """Sites a and b, 16 GPUs each (1 rack x 2 nodes x 8), joined by 100 Gb/s with 45 ms of latency."""
    sites = [{"name": "a", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}},
             {"name": "b", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}, **site_b}]  # fmt: skip
    links = [{"between": ["a", "b"], "bandwidth": "100Gbps", "latency": "45ms"}] if wan else []
    return {"sites": sites, "wan": links}


def scenario(router: str | None, horizon: str = "1d", datacenter: dict[str, Any] | None = None, **job: Any) -> dict:
    cls = {"name": "t", "arrival": {"process": "periodic", "interval": "1h"}, "count": 6, "gpus": 8,
           "duration": "30m", **job}  # fmt: skip
    data: dict[str, Any] = {"name": "geo", "seed": 3, "horizon": horizon, "datacenter": datacenter or two_sites(),
                            "workload": {"jobs": [cls]}, "costs": {"electricity_usd_per_kwh": 0.30}}  # fmt: skip
    if router is not None:
        data["policies"] = {"site_router": router}
    return data


def run_model(data: dict[str, Any], times: SiteTimes | None = None, base_dir: str = ".") -> DataCenterModel:
    model = DataCenterModel(build(data, base_dir), site_times=times)
    model.run()
    return model


def sites_started(model: DataCenterModel) -> list[str]:
    """The site of each job start, in order."""
    pools = model.collector.columns("job_started")["pool"].tolist()
    return [model.topology.pools[p].site for p in pools]


class Carbon(SiteTimes):
    """The scenario's site times with constant carbon intensities of our own (g/kWh, by site)."""

    def __init__(self, scenario: Any, carbon: list[float]) -> None:
        super().__init__(scenario)
        self._own = [Steps.constant(c) for c in carbon]

    def carbon(self, site: str | int) -> Steps:
        return self._own[self._i(site)]


def test_a_site_whose_free_gpus_are_scattered_cannot_take_a_whole_node_job() -> None:
    """Site a (cleaner) has 8 GPUs free, 4 on each node, after two 4-GPU jobs: an 8-GPU job fits no node there.

    By count it would fit; lowest_carbon must see that it cannot start and send it to b, where it starts at once.
    """
    data = scenario("lowest_carbon", count=1)
    data["workload"]["jobs"] = [
        {"name": "small", "arrival": {"process": "batch", "at": 0}, "count": 2, "gpus": 4, "duration": "10h"},
        {"name": "big", "arrival": {"process": "batch", "at": "1m"}, "count": 1, "gpus": 8, "duration": "1h"},
    ]
    data["policies"]["placement"] = "worst_fit"  # the two small jobs on different nodes
    sc = build(data)
    model = run_model(data, Carbon(sc, [30.0, 400.0]))
    started = model.collector.columns("job_started")
    assert sites_started(model) == ["a", "a", "b"]
    assert started["time"].tolist()[2] == pytest.approx(60.0)  # no wait behind the scattered GPUs


def test_lowest_carbon_sends_every_job_to_the_cleaner_site() -> None:
    data = scenario("lowest_carbon")
    sc = build(data)
    model = run_model(data, Carbon(sc, [400.0, 30.0]))
    assert sites_started(model) == ["b"] * 6
    assert model.collector.columns("job_routed")["site"].tolist() == [1] * 6
    # The other way round, they all go to a; and without a router first_fit fills a.
    assert sites_started(run_model(data, Carbon(sc, [30.0, 400.0]))) == ["a"] * 6
    assert sites_started(run_model(scenario(None))) == ["a"] * 6


def test_home_keeps_jobs_home_and_moves_nothing() -> None:
    data = scenario("home", data={"home": "b", "size": "2TB"})
    model = run_model(data)
    assert sites_started(model) == ["b"] * 6
    assert model.routing is not None and model.routing.wan is not None
    assert not len(model.collector.columns("wan_transfer")["job_id"])
    jobs = jobs_table(model.collector, model.topology)
    assert np.all(jobs["stage_in_s"] == 0.0) and np.all(jobs["wait_s"] == 0.0)


def test_a_job_away_from_its_data_waits_for_its_transfer() -> None:
    # The class may run only at b; its 1 TB lives at a: 8e12 bits at 100 Gb/s, plus 45 ms, before it queues.
    result = run_data(scenario("home", sites=["b"], data={"home": "a", "size": "1TB"}))
    stage_in = 8 * TB / 100e9 + 0.045
    jobs = result.jobs
    assert jobs["routed_site"].tolist() == ["b"] * 6
    assert jobs["stage_in_s"].to_numpy() == pytest.approx([stage_in] * 6, rel=1e-12)
    assert jobs["wait_s"].to_numpy() == pytest.approx([stage_in] * 6, rel=1e-12)  # b is idle: it starts at once
    wan = result.summary["wan"]
    assert wan["transfers"] == 6 and wan["bytes_moved"] == pytest.approx(6 * TB, rel=1e-12)
    assert wan["mean_stage_in_s"] == pytest.approx(stage_in, rel=1e-12) and wan["mean_slowdown"] == pytest.approx(1.0)
    assert result.summary["routing"]["by_site"] == {"a": 0, "b": 6}


def test_a_deferrable_job_waits_for_the_cheap_hour_under_cheapest_now() -> None:
    # Both sites cost 0.30 $/kWh, but b costs 0.05 from 10 h to 12 h. Jobs arrive at 2 h, 3 h, ...
    data = scenario("cheapest_now", deferrable="12h")
    data["workload"]["jobs"][0].update(arrival={"process": "periodic", "interval": "1h", "start": "2h"}, count=3)
    sc = build(data)
    times = SiteTimes(sc, {"datacenter.sites.1.electricity_usd_per_kwh": [(10 * H, 12 * H, 0.05)]})
    model = run_model(data, times)
    jobs = jobs_table(model.collector, model.topology)
    # Each waits until 10 h (within its 12 h) and is routed again then: b holds two 8-GPU jobs, so the
    # third goes to the cheapest site that can take it now, a. All start at 10 h.
    assert jobs["start_s"].tolist() == [10 * H] * 3
    assert jobs["deferred_s"].tolist() == [8 * H, 7 * H, 6 * H]
    assert jobs["wait_s"].tolist() == [8 * H, 7 * H, 6 * H]
    assert sites_started(model) == ["b", "b", "a"]
    # With 6 h to wait, the first (deadline 8 h) and second (9 h) cannot reach 10 h: they run at once, at a
    # (a tie at 0.30: the first site); the third (deadline 10 h) waits until 10 h.
    data["workload"]["jobs"][0]["deferrable"] = "6h"
    model = run_model(data, SiteTimes(build(data), {"datacenter.sites.1.electricity_usd_per_kwh":
                                                     [(10 * H, 12 * H, 0.05)]}))  # fmt: skip
    jobs = jobs_table(model.collector, model.topology)
    assert jobs["start_s"].tolist() == [2 * H, 3 * H, 10 * H]
    assert [jobs["routed_site"].names[c] for c in jobs["routed_site"].codes] == ["a", "a", "b"]


def test_jobs_of_a_failed_site_are_routed_to_a_site_that_is_up(tmp_path: Path) -> None:
    # Two 8-GPU jobs of 3 h start at a (their data's home) at 0; site a fails at 1 h for 2 h.
    (tmp_path / "f.csv").write_text("time,component,duration\n3600,site:a,7200\n", encoding="utf-8")
    data = scenario("home", data={"home": "a", "size": "1GB"}, duration="3h", count=2,
                    arrival={"process": "batch", "at": 0})  # fmt: skip
    data["failures"] = {"trace": {"path": "f.csv"}}
    model = run_model(data, base_dir=str(tmp_path))
    assert sites_started(model) == ["a", "a", "b", "b"]
    routes = model.collector.columns("job_routed")
    assert routes["site"].tolist() == [0, 0, 1, 1] and routes["attempt"].tolist() == [0, 0, 1, 1]
    # Re-routed at 1 h, they move their 1 GB each to b before they start again: two transfers at once share
    # the 100 Gb/s, 8e9 bits each at 50 Gb/s, plus 45 ms.
    starts = model.collector.columns("job_started")["time"].tolist()
    assert starts[2:] == pytest.approx([H + 0.16 + 0.045] * 2, rel=1e-12)


def test_a_router_runs_deterministically() -> None:
    data = scenario("least_loaded", data={"home": "a", "size": "2TB"}, deferrable="0s")
    data["workload"]["jobs"][0].update(arrival={"process": "poisson", "rate": "3/h"}, count=None,
                                       gpus={"values": [8, 16]})  # fmt: skip
    a, b = run_data(data), run_data(data)
    assert summary_json(a.summary) == summary_json(b.summary)
    assert a.summary["wan"]["transfers"] > 0 and a.summary["routing"]["by_site"]["b"] > 0


def test_a_plug_in_router_that_answers_a_site_not_allowed_is_refused(tmp_path: Path) -> None:
    (tmp_path / "myrouter.py").write_text(
        "class Nowhere:\n    def __init__(self, params, rng):\n        pass\n\n"
        "    def route(self, job, sites, now):\n        return 7\n",
        encoding="utf-8",
    )
    from dcsim.core.errors import PlacementError

    with pytest.raises(PlacementError, match=r"site router 'myrouter:Nowhere' routed job 0 to 7"):
        run_model(scenario("myrouter:Nowhere"), base_dir=str(tmp_path))


@pytest.mark.parametrize(
    ("job", "router", "message"),
    [
        ({"data": {"home": "a", "size": "1TB"}}, None, "workload.jobs.0.data: data moves only when a site router"),
        ({"deferrable": "6h"}, None, "workload.jobs.0.deferrable: a job is held back only by a site router"),
        ({"sites": ["c"]}, "home", "workload.jobs.0.sites: no site named 'c'"),
        ({"data": {"home": "x", "size": "1TB"}}, "home", "workload.jobs.0.data.home: no site named 'x'"),
        (
            {"data": {"home": "a", "size": "1TB"}, "sites": ["b"]},
            "home",
            "no site with the class's GPU types is reachable over the WAN from 'a'",
        ),
    ],
)
def test_bad_routing_settings_exit_2_with_one_message(tmp_path: Path, job: dict, router: str | None,
                                                      message: str) -> None:  # fmt: skip
    data = scenario(router, datacenter=two_sites(wan=False), **job)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "dcsim", "validate", str(path)], capture_output=True, text=True)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert out.stderr.count("workload.jobs.0") == 1


def test_a_traces_jobs_are_routed_too(tmp_path: Path) -> None:
    (tmp_path / "jobs.csv").write_text("submit,gpus,dur\n0,8,600\n60,8,600\n120,16,600\n", encoding="utf-8")
    data = scenario("lowest_carbon")
    data["workload"] = {"trace": {"path": "jobs.csv", "columns": {"submit_time": "submit", "gpus": "gpus",
                                                                  "duration": "dur"}}}  # fmt: skip
    sc = build(data, str(tmp_path))
    model = DataCenterModel(sc, site_times=Carbon(sc, [400.0, 30.0]))
    model.run()
    # The first two (8 GPUs each, 10 min) fill b's 16 GPUs; the third (16) cannot start at b then, so it goes
    # to the cleanest site that can take it now, a.
    assert sites_started(model) == ["b", "b", "a"]


def test_a_policy_axis_sets_a_router_a_scenario_does_not_have() -> None:
    from dcsim.experiment.compare import parse_axis, policy_override

    base = build(scenario(None))
    axis = parse_axis("site_router=home,lowest_carbon", policy=True)
    assert policy_override(axis, "lowest_carbon", base) == [
        'policies.site_router={"name": "lowest_carbon", "params": {}}'
    ]


def test_a_plug_in_router_reads_the_view_and_may_wait(tmp_path: Path) -> None:
    # The how-to's router, and one that holds every job back 30 min (its class may wait 1 h).
    (tmp_path / "myrouters.py").write_text(
        "from dcsim.policies.routing import Wait\n\n"
        "class Emptiest:\n    def __init__(self, params, rng):\n        pass\n\n"
        "    def route(self, job, sites, now):\n"
        "        return max(sites.allowed(job), key=lambda s: (sites.free(s, job), s))\n\n"
        "class Later:\n    def __init__(self, params, rng):\n        pass\n\n"
        "    def route(self, job, sites, now):\n"
        "        return Wait(job.submit_time + 1800) if now < job.submit_time + 1800 else 0\n",
        encoding="utf-8",
    )
    model = run_model(scenario("myrouters:Emptiest"), base_dir=str(tmp_path))
    assert sites_started(model) == ["b"] * 6  # both empty: the tie goes to the higher index, b
    model = run_model(scenario("myrouters:Later", deferrable="1h"), base_dir=str(tmp_path))
    jobs = jobs_table(model.collector, model.topology)
    assert jobs["deferred_s"].tolist() == [1800.0] * 6 and jobs["wait_s"].tolist() == [1800.0] * 6
    from dcsim.core.errors import PlacementError

    with pytest.raises(PlacementError, match="may wait only until its deadline"):
        run_model(scenario("myrouters:Later", deferrable="10m"), base_dir=str(tmp_path))


def test_jobs_queued_at_a_site_that_fails_move_to_one_that_is_up(tmp_path: Path) -> None:
    # Site a is cleaner. A filler class holds all of b (16 GPUs) for 30 min; two 16-GPU jobs of 3 h arrive
    # at 0: the first starts at a, the second finds no room anywhere and queues at the cleaner a. At 1 h a
    # fails for 10 h: the first is lost and routed to b, the second is moved off a to b too (behind the
    # first, strict FIFO): they start at b at 1 h and at 4 h, not at a at 11 h.
    (tmp_path / "f.csv").write_text("time,component,duration\n3600,site:a,36000\n", encoding="utf-8")
    data = scenario("lowest_carbon", duration="3h", count=2, gpus=16, arrival={"process": "batch", "at": 0})
    filler = {"name": "filler", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 16,
              "duration": "30m", "sites": ["b"]}  # fmt: skip
    data["workload"]["jobs"].insert(0, filler)
    data["failures"] = {"trace": {"path": "f.csv"}}
    sc = build(data, str(tmp_path))
    model = DataCenterModel(sc, site_times=Carbon(sc, [30.0, 400.0]))
    model.run()
    started = model.collector.columns("job_started")
    assert list(zip(started["job_id"].tolist(), started["time"].tolist(), sites_started(model), strict=True)) == [
        (0, 0.0, "b"), (1, 0.0, "a"), (1, H, "b"), (2, 4 * H, "b"),
    ]  # fmt: skip
    routes = model.collector.columns("job_routed")
    assert routes["job_id"].tolist() == [0, 1, 2, 1, 2] and routes["attempt"].tolist() == [0, 0, 0, 1, 1]
    jobs = jobs_table(model.collector, model.topology)
    assert jobs["interruptions"].tolist() == [0, 1, 0]  # moving a queued job is no interruption


def test_a_strict_order_holds_site_by_site() -> None:
    # Strict FIFO. Two 16-GPU jobs may run only at a: the second waits there for the first (1 h). An 8-GPU
    # job of b's arriving at 10 min is behind it in the one queue, but at another site: it starts at once.
    data = scenario("least_loaded", count=2, gpus=16, duration="1h", sites=["a"],
                    arrival={"process": "batch", "at": 0})  # fmt: skip
    data["workload"]["jobs"].append({"name": "y", "arrival": {"process": "batch", "at": "10m"}, "count": 1,
                                     "gpus": 8, "duration": "1h", "sites": ["b"]})  # fmt: skip
    model = run_model(data)
    jobs = jobs_table(model.collector, model.topology)
    assert jobs["start_s"].tolist() == [0.0, H, 600.0]
    assert sites_started(model) == ["a", "b", "a"]
