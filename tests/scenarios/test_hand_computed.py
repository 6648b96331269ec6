"""Small scenarios whose expected values are written as arithmetic."""

from __future__ import annotations

import pytest

from conftest import run_data, tiny_data

ONE_NODE = {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1,
            "node": {"gpus": 8, "gpu_power": "700W", "gpu_idle_power": "100W", "base_power": "1kW"}}]}  # fmt: skip


def test_energy_and_cost_of_one_job() -> None:
    """One 4-GPU job runs 1 h on an 8-GPU node; horizon 2 h.

    IT energy: base 1 kW x 2 h + 8 idle GPUs x 100 W x 2 h + 4 busy GPUs x (700-100) W x 1 h.
    Facility = IT x PUE 1.5, at $0.20/kWh. Capital: 8 GPUs x 2 h x $2/GPU-h.
    """
    data = tiny_data(
        horizon="2h",
        datacenter=ONE_NODE,
        workload={"jobs": [{"name": "j", "arrival": {"process": "batch"}, "count": 1, "gpus": 4, "duration": "1h"}]},
        costs={"gpu_hour_usd": 2.0, "electricity_usd_per_kwh": 0.20, "pue": 1.5},
    )
    s = run_data(data).summary
    it_kwh = 1.0 * 2 + 8 * 0.100 * 2 + 4 * (0.700 - 0.100) * 1
    assert s["cost"]["energy_kwh"] == pytest.approx(it_kwh * 1.5)
    assert s["cost"]["energy_usd"] == pytest.approx(it_kwh * 1.5 * 0.20)
    assert s["cost"]["capital_usd"] == pytest.approx(8 * 2 * 2.0)
    assert s["cost"]["total_usd"] == pytest.approx(8 * 2 * 2.0 + it_kwh * 1.5 * 0.20)
    assert s["cost"]["usd_per_productive_gpu_hour"] == pytest.approx((8 * 2 * 2.0 + it_kwh * 1.5 * 0.20) / (4 * 1))
    assert s["utilization"]["gpu_allocated"] == pytest.approx(4 * 1 / (8 * 2))


def test_warmup_is_excluded_from_every_metric() -> None:
    """Hourly 1-GPU jobs of 30 min for 4 h, warm-up 2 h: the cohort is the jobs at 2 h and 3 h.

    Utilization over [2 h, 4 h]: 2 jobs x 0.5 h / (32 GPUs x 2 h). Capital covers 2 h only.
    """
    data = tiny_data(horizon="4h", warmup="2h", costs={"gpu_hour_usd": 1.0})
    data["workload"]["jobs"][0]["count"] = None
    s = run_data(data).summary
    assert s["jobs"]["submitted"] == 2
    assert s["utilization"]["gpu_allocated"] == pytest.approx(2 * 0.5 / (32 * 2))
    assert s["cost"]["capital_usd"] == pytest.approx(32 * 2 * 1.0)
    assert s["window"]["start_s"] == 2 * 3600


def test_job_running_across_warmup_counts_only_its_measured_part() -> None:
    """A 4-GPU job from 0 to 3 h, warm-up 1 h, horizon 4 h: 4 GPUs x 2 h inside the window."""
    data = tiny_data(
        horizon="4h", warmup="1h", datacenter=ONE_NODE,
        workload={"jobs": [{"name": "j", "arrival": {"process": "batch"}, "count": 1, "gpus": 4, "duration": "3h"}]},
    )  # fmt: skip
    s = run_data(data).summary
    assert s["utilization"]["gpu_allocated"] == pytest.approx(4 * 2 / (8 * 3))
    assert s["jobs"]["submitted"] == 0  # it was submitted during the warm-up


def test_per_type_gpu_prices() -> None:
    """Capital = sum over types of price x installed GPUs x hours: (16 x 2.5 + 16 x 1.2) x 10 h."""
    data = tiny_data(
        horizon="10h",
        datacenter={"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "H100"}},
            {"racks": 1, "nodes_per_rack": 4, "node": {"gpus": 4, "gpu_type": "A100"}}]}]},
        costs={"gpu_hour_usd": {"H100": 2.5, "A100": 1.2}},
    )  # fmt: skip
    assert run_data(data).summary["cost"]["capital_usd"] == pytest.approx((16 * 2.5 + 16 * 1.2) * 10)


def test_waits_and_jct_of_a_deterministic_queue() -> None:
    """One 8-GPU node; whole-node jobs of 90 min arrive hourly, 3 of them (D/D/1 overloaded).

    Starts at 0, 1.5 h, 3 h: waits 0, 0.5 h, 1 h; JCTs 1.5, 2, 2.5 h; slowdowns 1, 4/3, 5/3.
    """
    data = tiny_data(
        datacenter=ONE_NODE,
        workload={"jobs": [{"name": "j", "arrival": {"process": "periodic", "interval": "1h"},
                            "count": 3, "gpus": 8, "duration": "90m"}]},
    )  # fmt: skip
    s = run_data(data).summary["jobs"]
    h = 3600.0
    assert s["mean_wait_s"] == pytest.approx((0 + 0.5 + 1.0) / 3 * h)
    assert s["mean_jct_s"] == pytest.approx((1.5 + 2.0 + 2.5) / 3 * h)
    assert s["mean_slowdown"] == pytest.approx((1 + 2.0 / 1.5 + 2.5 / 1.5) / 3)
    assert s["p95_wait_s"] == pytest.approx(0.5 * h + 0.9 * (1.0 - 0.5) * h)  # linear interpolation


def test_cohort_counts_partition_the_submitted_jobs() -> None:
    """submitted = completed + failed + running_at_end + queued_at_end, on a loaded cluster."""
    data = tiny_data(horizon="1d")
    data["workload"]["jobs"][0] = {
        "name": "j",
        "arrival": {"process": "poisson", "rate": "40/h"},
        "gpus": {"values": [1, 8]},
        "duration": {"dist": "exponential", "mean": "1h"},
    }
    j = run_data(data).summary["jobs"]
    assert j["queued_at_end"] > 0
    assert j["submitted"] == j["completed"] + j["failed"] + j["running_at_end"] + j["queued_at_end"]


def test_jobs_that_never_wait_have_slowdown_exactly_one() -> None:
    """Float rounding of finish - submit must not give slowdowns below 1 (seen as 0.9999999999999944)."""
    data = tiny_data(horizon="2d")
    data["workload"]["jobs"][0] = {
        "name": "j",
        "arrival": {"process": "poisson", "rate": "3/h"},
        "gpus": 1,
        "duration": {"dist": "exponential", "mean": "1h"},
    }
    r = run_data(data)
    done = r.jobs[r.jobs["state"] == "completed"]
    assert (done["wait_s"] == 0).all()
    assert (done["slowdown"] == 1.0).all()
    assert r.summary["jobs"]["mean_slowdown"] == 1.0


def test_offered_load_is_rate_times_mean_size_times_mean_run_time() -> None:
    """6/h x E[gpus] (1x0.5 + 8x0.5 = 4.5) x 2 h mean, plus hourly 2-GPU 30-min jobs, over 32 GPUs."""
    data = tiny_data(horizon="1d")
    data["workload"]["jobs"] = [
        {"name": "a", "arrival": {"process": "poisson", "rate": "6/h"}, "gpus": {"values": [1, 8]},
         "duration": {"dist": "exponential", "mean": "2h"}},
        {"name": "b", "arrival": {"process": "periodic", "interval": "1h"}, "gpus": 2, "duration": "30m"},
    ]  # fmt: skip
    s = run_data(data).summary
    offered = 6 * 4.5 * 2 + 1 * 2 * 0.5
    assert s["workload"]["offered_gpus"] == pytest.approx(offered)
    assert s["workload"]["offered_load"] == pytest.approx(offered / 32)
    assert s["workload"]["endless_load"] == pytest.approx(offered / 32)
    assert any("grows without bound" in note for note in s["notes"])  # 55 GPUs offered to 32: overloaded


def test_finite_work_is_spread_over_the_horizon_and_raises_no_alarm() -> None:
    """20 jobs (count) at 100/h, 1 GPU x 1 h each, horizon 1 d on 32 GPUs: 20 GPU-h over 24 h.

    Their rate alone would offer 100 GPUs, but the class stops after 20 jobs: no unbounded queue.
    """
    data = tiny_data(horizon="1d")
    data["workload"]["jobs"] = [
        {"name": "a", "arrival": {"process": "poisson", "rate": "100/h"}, "count": 20, "gpus": 1,
         "duration": {"dist": "exponential", "mean": "1h"}},
    ]  # fmt: skip
    s = run_data(data).summary
    assert s["workload"]["offered_gpus"] == pytest.approx(20 * 1 * 1 / 24)
    assert s["workload"]["endless_load"] == 0
    assert not any("grows without bound" in note for note in s["notes"])


def test_trace_work_is_spread_over_the_run_without_a_horizon(tmp_path) -> None:
    """Two jobs (8 GPUs x 100 s, 8 x 50 s) on one node drain at 150 s: (800 + 400) / 150 GPUs offered."""
    (tmp_path / "t.csv").write_text("t,gpus,dur\n0,8,100\n1,8,50\n")
    data = tiny_data(
        datacenter=ONE_NODE,
        workload={"trace": {"path": "t.csv", "columns": {"submit_time": "t", "gpus": "gpus", "duration": "dur"}}},
    )
    s = run_data(data, base_dir=str(tmp_path)).summary
    assert s["workload"]["offered_gpus"] == pytest.approx((8 * 100 + 8 * 50) / 150)
    assert s["notes"] == []


def test_no_note_on_a_cluster_that_keeps_up() -> None:
    s = run_data(tiny_data()).summary
    assert s["notes"] == []


def test_waits_of_jobs_still_queued_count_in_the_censored_mean() -> None:
    """One 8-GPU node, three whole-node jobs at t=0 of 2 h each, horizon 3 h.

    Started: the first (wait 0) and the second (wait 2 h); the third is still queued (3 h so far).
    mean_wait_s = (0 + 2) / 2 h; mean_wait_incl_queued_s = (0 + 2 + 3) / 3 h.
    """
    data = tiny_data(
        horizon="3h",
        datacenter=ONE_NODE,
        workload={"jobs": [{"name": "j", "arrival": {"process": "batch"}, "count": 3, "gpus": 8, "duration": "2h"}]},
    )
    j = run_data(data).summary["jobs"]
    assert (j["started"], j["queued_at_end"]) == (2, 1)
    assert j["mean_wait_s"] == pytest.approx((0 + 2) / 2 * 3600)
    assert j["mean_wait_incl_queued_s"] == pytest.approx((0 + 2 + 3) / 3 * 3600)


def test_a_run_that_ends_inside_its_warmup_says_nothing_was_measured() -> None:
    s = run_data(tiny_data(warmup="1d")).summary  # the 4 hourly jobs drain after 3.5 h
    assert s["window"]["hours"] == 0
    assert any("inside the warm-up" in note for note in s["notes"])
