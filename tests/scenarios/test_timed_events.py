"""Timed events (``events:``): a rate surge, racks added and removed, a unit failed for a while, a policy retuned.

Each result is checked against arithmetic done by hand or, for the surge, against the
Poisson count it must give (replications, a few standard errors).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest

from dcsim.core.rng import stream
from dcsim.engine.model import DataCenterModel
from dcsim.workload.arrivals import rate_windows
from dcsim.workload.jobs import REASONS
from dcsim.workload.requests import request_chunks

from conftest import build, run_data

H = 3600.0
REPLICATIONS = 20


def training(rate: str = "60/h", horizon: str = "6h", racks: int = 2, **extra: Any) -> dict[str, Any]:
    """One site of ``racks`` racks x 2 nodes x 8 H100; 1-GPU jobs of 1 min, Poisson at ``rate``."""
    return {
        "name": "events",
        "seed": 1,
        "horizon": horizon,
        "datacenter": {"sites": [{"name": "dc1", "racks": racks, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        "workload": {
            "jobs": [{"name": "j", "arrival": {"process": "poisson", "rate": rate}, "gpus": 1, "duration": "1m"}]
        },
        "costs": {"gpu_hour_usd": 2.0, "electricity_usd_per_kwh": 0.0},
        **extra,
    }


def submits(data: dict[str, Any], seed: int) -> np.ndarray:
    return np.asarray(run_data(data, seed).jobs["submit_s"], dtype=float)


# --------------------------------------------------------------------------- a rate surge (point 8)
@pytest.mark.statistical
@pytest.mark.parametrize(("new_rate", "per_h"), [("180/h", 180.0), ("20/h", 20.0)])
def test_surge_count_in_window_is_the_new_rate_times_its_length(new_rate: str, per_h: float) -> None:
    """Poisson 60/h; from 2 h to 4 h the rate is set to 180/h (superposed) or 20/h (thinned).

    In the window the count is Poisson(rate' x 2 h): its mean over 20 seeds is within 4 standard
    errors of 360 (40); outside it every arrival is the run-without-event's (common random numbers).
    """
    base = training()
    surge = training(events=[{"at": "2h", "until": "4h", "set": {"workload.jobs.0.arrival.rate": new_rate}}])
    counts = []
    for seed in range(1, REPLICATIONS + 1):
        with_event, without = submits(surge, seed), submits(base, seed)
        inside = (with_event >= 2 * H) & (with_event < 4 * H)
        counts.append(int(inside.sum()))
        outside_without = without[(without < 2 * H) | (without >= 4 * H)]
        np.testing.assert_array_equal(with_event[~inside], outside_without)
    mean = float(np.mean(counts))
    se = float(np.std(counts, ddof=1)) / math.sqrt(REPLICATIONS)
    assert abs(mean - per_h * 2) <= 4 * se, (mean, se)
    # And the spread is Poisson's: the variance of the count is its mean (within sampling error).
    assert 0.4 * per_h * 2 < float(np.var(counts, ddof=1)) < 2.2 * per_h * 2


@pytest.mark.statistical
def test_service_surge_on_a_diurnal_rate_adds_the_integral_of_the_extra_intensity() -> None:
    """A diurnal service, 20/s x (1 + 0.5 cos(2 pi (t - 15h) / 1d)); set to 60/s over [1 d, 1 d + 4 h).

    The requests in the window number the integral of 3 x the base intensity over it, and those
    outside it are the run-without-event's (the same request stream, :func:`request_chunks`). The
    window opens a day in, after some 50 chunks of requests, at the same time of day as any later day's.
    """
    data = training(horizon="2d")
    data["services"] = [{
        "name": "s", "replicas": {"min": 1, "max": 1, "initial": 1},
        "requests": {"arrival": {"process": "diurnal", "rate": "20/s", "amplitude": 0.5, "peak": "15h"}},
        "service_model": {"time": {"dist": "exponential", "mean": "10ms"}},
    }]  # fmt: skip
    sc = build(data)
    a, b = 86400.0, 86400.0 + 4 * H
    w = 2 * math.pi / 86400.0
    # integral of 20 (1 + 0.5 cos(w (t - 15h))) over [a, b), times 3
    expected = 3 * 20 * ((b - a) + 0.5 / w * (math.sin(w * (b - 15 * H)) - math.sin(w * (a - 15 * H))))
    svc = sc.services[0]
    counts = []
    for seed in range(1, REPLICATIONS + 1):
        base = np.concatenate([c.times for c in request_chunks(svc, seed, b + H, ".")])
        surged = np.concatenate([c.times for c in request_chunks(svc, seed, b + H, ".", [(a, b, 3.0)])])
        inside = (surged >= a) & (surged < b)
        counts.append(int(inside.sum()))
        np.testing.assert_array_equal(surged[~inside], base[(base < a) | (base >= b)])
        assert np.all(np.diff(surged) >= 0)
    mean = float(np.mean(counts))
    se = float(np.std(counts, ddof=1)) / math.sqrt(REPLICATIONS)
    assert abs(mean - expected) <= 4 * se, (mean, expected, se)


def test_rate_windows_keep_the_other_columns_of_the_base_arrivals() -> None:
    """The base arrivals keep their other columns; the extras get theirs from ``draw``, merged in by time."""
    times = np.array([1.0, 2.0, 3.0, 4.0])
    chunks = iter([(times, times * 10)])
    out = list(rate_windows(chunks, [(1.5, 3.5, 3.0)], 1.0, None, 5.0, stream(1, "x"), stream(1, "y"),
                            lambda n: [np.full(n, -1.0)]))  # fmt: skip
    merged_t = np.concatenate([c[0] for c in out])
    merged_v = np.concatenate([c[1] for c in out])
    base = merged_v >= 0
    np.testing.assert_array_equal(merged_t[base], times)
    np.testing.assert_array_equal(merged_v[base], times * 10)
    extra = merged_t[~base]
    assert extra.size > 0 and np.all((extra >= 1.5) & (extra < 3.5))
    assert np.all(np.diff(merged_t) >= 0)


# --------------------------------------------------------------------------- racks
def test_added_racks_count_as_installed_from_their_time_only() -> None:
    """2 racks of 2 nodes x 8 GPUs (32 GPUs) for 6 h; 2 more racks (32 GPUs) from 4 h.

    Installed GPU-hours: 32 x 6 + 32 x 2 = 256; capital at 2 $/GPU-h: 512 $. Nothing is down.
    """
    data = training(events=[{"at": "4h", "add_racks": {"site": "dc1", "racks": 2}}])
    result = run_data(data)
    s = result.summary
    assert s["cluster"]["installed_gpu_hours"] == pytest.approx(32 * 6 + 32 * 2)
    assert s["cost"]["capital_usd"] == pytest.approx((32 * 6 + 32 * 2) * 2.0)
    assert s["faults"]["downtime_gpu_hours"] == 0
    busy = s["utilization"]["gpu_allocated"] * (32 * 6 + 32 * 2)
    no_event = run_data(training())
    # the same jobs (1 GPU, never queued) keep the same GPU-hours busy: only the denominator moved
    assert busy == pytest.approx(no_event.summary["utilization"]["gpu_allocated"] * 32 * 6)
    ts = result.timeseries
    installed = np.where(ts["time_s"] < 4 * H, 32, 64)  # the timeseries' utilization is over the GPUs installed then
    np.testing.assert_allclose(ts["gpu_utilization"], ts["busy_gpus"] / installed)
    assert s["workload"]["offered_load"] == pytest.approx(1 * 60 / 3600 * 60 / (256 / 6))  # 1 GPU x 1 min x 60/h


def test_removed_racks_requeue_their_runs_and_stop_counting() -> None:
    """2 racks of 2 nodes x 8 GPUs, a 16-GPU job of 10 h on each rack from time 0; rack 1 is removed at 2 h.

    Its job is interrupted (decommissioned) and requeued, and waits (one rack is left, busy).
    Installed: 32 GPUs x 2 h + 16 x 4 h = 128 GPU-h; capital 256 $; no downtime.
    """
    data = training(events=[{"at": "2h", "remove_racks": {"site": "dc1", "racks": 1}}])
    data["workload"] = {"jobs": [{"name": "big", "arrival": {"process": "batch", "at": 0}, "count": 2, "gpus": 16,
                                  "duration": "10h"}]}  # fmt: skip
    data["policies"] = {"placement": "first_fit"}
    result = run_data(data)
    s = result.summary
    assert s["cluster"]["installed_gpu_hours"] == pytest.approx(32 * 2 + 16 * 4)
    assert s["cost"]["capital_usd"] == pytest.approx((32 * 2 + 16 * 4) * 2.0)
    assert s["faults"]["downtime_gpu_hours"] == 0
    jobs = result.jobs
    assert jobs["state"].astype(str).tolist() == ["running", "queued"]
    assert jobs["evictions"].tolist() == [0, 1]  # planned: not a failure, not a preemption
    assert s["faults"]["job_interruptions"] == 0 and s["jobs"]["preemptions"] == 0
    model = DataCenterModel(build(data))
    model.run()
    (cut,) = model.collector.records("job_interrupted")
    assert (cut.job_id, cut.time, REASONS[cut.reason], cut.requeued) == (1, 2 * H, "decommissioned", True)


# --------------------------------------------------------------------------- failures
def test_a_site_failed_for_two_hours_is_down_gpus_times_two_hours() -> None:
    """The site (32 GPUs) fails at 1 h for 2 h, without a `failures` block: 64 GPU-hours down, one failure.

    Its running jobs are interrupted; none runs in [1 h, 3 h); the crew does nothing (no wait).
    """
    data = training(events=[{"at": "1h", "for": "2h", "fail": {"site": "dc1"}}])
    result = run_data(data)
    s = result.summary
    assert s["faults"]["downtime_gpu_hours"] == pytest.approx(32 * 2)
    assert s["faults"]["failures"] == 1
    assert s["utilization"]["gpu_available"] == pytest.approx(1 - 64 / (32 * 6))
    jobs = result.jobs
    started = np.asarray(jobs["start_s"], dtype=float)
    assert not np.any((started > H) & (started < 3 * H))
    assert np.any(started >= 3 * H)


def test_a_rack_failed_then_restored_is_down_until_the_restore() -> None:
    """Rack 1 (16 GPUs) fails at 1 h (no end) and is restored at 2 h 30 m: 16 x 1.5 = 24 GPU-hours down."""
    data = training(events=[
        {"at": "1h", "fail": {"site": "dc1", "rack": 1}},
        {"at": "2h30m", "restore": {"site": "dc1", "rack": 1}},
    ])  # fmt: skip
    s = run_data(data).summary
    assert s["faults"]["downtime_gpu_hours"] == pytest.approx(16 * 1.5)


def test_a_node_failed_without_end_is_mended_by_the_repair_crew() -> None:
    """A node (8 GPUs) fails at 1 h with no end and no restore: the crew repairs it in its fixed 2 h.

    No `failures` block: the event is the only failure, and the `repair` block is the crew's.
    """
    data = training(
        events=[{"at": "1h", "fail": {"site": "dc1", "rack": 0, "node": 1}}],
        repair={"technicians": 1, "time": {"dist": "fixed", "value": "2h"}},
    )
    s = run_data(data).summary
    assert s["faults"]["downtime_gpu_hours"] == pytest.approx(8 * 2)


# --------------------------------------------------------------------------- a policy's parameter
def serving(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A service of 50 requests/s (Poisson), 1 GPU per replica; an HPA on the request rate, target 15/s per replica.

    The HPA asks for ceil(50 / 15) = 4 replicas (3.33 rounded up); with the target at 7.5 it asks
    for ceil(50 / 7.5) = 7.
    """
    return {
        "name": "hpa", "seed": 3, "horizon": "40m",
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        "services": [{
            "name": "s", "replicas": {"min": 1, "max": 16, "initial": 4},
            "requests": {"arrival": {"process": "poisson", "rate": "50/s"}},
            "service_model": {"time": {"dist": "exponential", "mean": "10ms"}},
            "autoscaler": {"policy": "hpa", "metric": "request_rate", "target": 15, "sync_period": "60s",
                           "scale_down_window": "0s"},
        }],
        "events": events,
    }  # fmt: skip


def test_an_hpa_target_set_by_an_event_changes_its_decisions_then_and_back() -> None:
    """The target goes from 15 to 7.5 over [20 m, 30 m): the HPA wants 4 replicas before, 7 then, 4 after."""
    result = run_data(serving([{"at": "20m", "until": "30m", "set": {"services.0.autoscaler.target": 7.5}}]))
    scaling = result.data["scaling"]
    t = np.asarray(scaling["time"], dtype=float)
    desired = np.asarray(scaling["desired"])
    assert set(desired[t < 20 * 60].tolist()) == {4}
    assert set(desired[(t >= 20 * 60) & (t < 30 * 60)].tolist()) == {7}
    assert set(desired[t >= 31 * 60].tolist()) == {4}
    plain = run_data(serving([]))
    assert set(np.asarray(plain.data["scaling"]["desired"]).tolist()) == {4}


# --------------------------------------------------------------------------- the events table
def test_each_event_is_a_record_at_its_start_and_end() -> None:
    data = training(events=[
        {"at": "1h", "for": "2h", "fail": {"site": "dc1"}},
        {"at": "4h", "add_racks": {"site": "dc1", "racks": 1}},
    ])  # fmt: skip
    table = run_data(data).data["scenario_events"].to_pandas()
    assert table["time"].tolist() == [H, 3 * H, 4 * H]
    assert table["event"].tolist() == [0, 0, 1]
    assert table["phase"].astype(str).tolist() == ["start", "end", "start"]
    assert table["action"].astype(str).tolist() == ["fail", "fail", "add_racks"]
    assert "fail site dc1" in str(table["what"].iloc[0])


def test_no_events_leave_the_run_as_it_was() -> None:
    """An empty ``events`` list changes nothing: the same summary as without the key."""
    data = training()
    with_key = copy.deepcopy(data)
    with_key["events"] = []
    assert run_data(data).summary == run_data(with_key).summary


def test_a_scenario_with_events_runs_from_its_resolved_form_as_sweeps_do() -> None:
    """A sweep's worker validates the resolved scenario (engine units, ``for`` as written) again: same summary."""
    from dcsim.experiment.run import scenario_json
    from dcsim.experiment.sweep import run_task
    from dcsim.metrics.scoring import flatten

    data = training(events=[{"at": "1h", "for": "2h", "fail": {"site": "dc1"}},
                            {"at": "2h", "until": "3h", "set": {"workload.jobs.0.arrival.rate": "120/h"}}])  # fmt: skip
    sc = build(data)
    task = run_task(scenario_json(sc), ".", 1)
    assert task["error"] is None
    direct = {k: v for k, v in flatten(run_data(data, 1).summary).items() if not isinstance(v, list)}
    assert task["metrics"] == direct


def test_an_event_with_an_end_gives_back_the_value_in_force_before_it() -> None:
    """Rate 60/h; 120/h from 1 h for good; 30/h over [2 h, 3 h): factors 2 from 1 h, 0.5 in [2 h, 3 h), 2 after.

    The HPA target likewise: 7.5 from 10 min, 30 over [20 min, 30 min), then 7.5 again (not the scenario's 15).
    """
    from dcsim.core import units
    from dcsim.scenario.events import policy_changes
    from dcsim.scenario.events import rate_windows as windows_of

    rate = "workload.jobs.0.arrival.rate"
    sc = build(
        training(events=[{"at": "1h", "set": {rate: "120/h"}}, {"at": "2h", "until": "3h", "set": {rate: "30/h"}}])
    )

    got = windows_of(sc.events, "workload.jobs.0.arrival.rate", 60 / H, units.rate)
    assert got == [
        (H, 2 * H, pytest.approx(2.0)),
        (2 * H, 3 * H, pytest.approx(0.5)),
        (3 * H, math.inf, pytest.approx(2.0)),
    ]
    hpa = build(serving([{"at": "10m", "set": {"services.0.autoscaler.target": 7.5}},
                         {"at": "20m", "until": "30m", "set": {"services.0.autoscaler.target": 30}}]))  # fmt: skip
    assert [(c.time, c.value) for c in policy_changes(hpa)] == [(600.0, 7.5), (1200.0, 30), (1800.0, 7.5)]


def test_a_failed_site_takes_jobs_and_replicas_down_as_a_traced_site_failure_does(tmp_path: Any) -> None:
    """The site failing at 1 h for 2 h, by an event or by a failure trace row: the same jobs, requests, replicas."""
    data = training(horizon="4h")
    data["services"] = [{
        "name": "s", "replicas": {"min": 2, "max": 2, "initial": 2},
        "requests": {"arrival": {"process": "poisson", "rate": "5/s"}},
        "service_model": {"time": {"dist": "exponential", "mean": "100ms"}},
    }]  # fmt: skip
    (tmp_path / "f.csv").write_text("time,component,duration\n3600,site:dc1,7200\n")
    traced = copy.deepcopy(data)
    traced["failures"] = {"trace": {"path": "f.csv"}}
    data["events"] = [{"at": "1h", "for": "2h", "fail": {"site": "dc1"}}]
    by_event, by_trace = run_data(data, 1, str(tmp_path)), run_data(traced, 1, str(tmp_path))
    for name in ("jobs", "replicas", "requests"):
        assert by_event.frame(name).equals(by_trace.frame(name)), name
    replicas = by_event.frame("replicas")
    assert replicas["ended"].astype(str).tolist() == ["lost", "lost", "running", "running"]
    assert replicas["end_s"].tolist()[:2] == [H, H] and replicas["placed_s"].tolist()[2:] == [3 * H, 3 * H]
    assert by_event.summary["faults"]["downtime_gpu_hours"] == by_trace.summary["faults"]["downtime_gpu_hours"] == 64


# --------------------------------------------------------------------------- a price shock
def test_a_price_and_carbon_shock_is_paid_hour_by_hour_and_read_by_the_router() -> None:
    """Two one-node sites; a cheapest_now router sends the only job (8 GPUs, all 10 h) to a (0.10 < 0.20 $/kWh).

    From 2 h to 6 h an event sets a's price to 0.50 and b's carbon intensity to 500 g/kWh (from 50).
    By hand: a draws its busy power P_a all 10 h, b its idle power P_b; a pays P_a x (6 h x 0.10 + 4 h x
    0.50), b emits P_b x (6 h x 50 + 4 h x 500). A job submitted inside the shock goes to b instead.
    """
    site = {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8, "gpu_power": "700W", "gpu_idle_power": "100W",
                                                          "base_power": "1000W"}}  # fmt: skip
    data = {
        "name": "shock", "seed": 1, "horizon": "10h",
        "datacenter": {"sites": [
            {"name": "a", **site, "electricity_usd_per_kwh": 0.10, "carbon_g_per_kwh": 100, "pue": 1.0},
            {"name": "b", **site, "electricity_usd_per_kwh": 0.20, "carbon_g_per_kwh": 50, "pue": 1.0},
        ]},
        "workload": {"jobs": [{"name": "j", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 8,
                               "duration": "20h"}]},
        "policies": {"site_router": "cheapest_now"},
        "events": [{"at": "2h", "until": "6h", "set": {"datacenter.sites.0.electricity_usd_per_kwh": 0.50,
                                                        "datacenter.sites.1.carbon_g_per_kwh": 500}}],
    }  # fmt: skip
    cost = run_data(data, 1).summary["cost"]["by_site"]
    busy_kw, idle_kw = (8 * 700 + 1000) / 1000, (8 * 100 + 1000) / 1000
    assert cost["a"]["energy_usd"] == pytest.approx(busy_kw * (6 * 0.10 + 4 * 0.50), rel=1e-9)
    assert cost["b"]["carbon_kg"] == pytest.approx(idle_kw * (6 * 50 + 4 * 500) / 1000, rel=1e-9)
    assert cost["a"]["carbon_kg"] == pytest.approx(busy_kw * 10 * 100 / 1000, rel=1e-9)
    later = copy.deepcopy(data)
    later["workload"]["jobs"][0]["arrival"]["at"] = "3h"  # inside the shock, b is the cheaper site
    jobs = run_data(later, 1).jobs
    assert str(jobs["site"].iloc[0]) == "b"
