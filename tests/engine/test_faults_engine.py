"""Failures, repairs, checkpoints and maintenance on small cases computed by hand.

Every expected value below is written as the arithmetic that gives it, from the
scenario's numbers; none is read off a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import run_data, tiny_data

H = 3600.0


def one_job(tmp_path: Path, trace_rows: str | None, nodes: int = 2, racks: int = 1, **extra: Any) -> dict[str, Any]:
    """``racks`` x ``nodes`` nodes of 8 GPUs, filled by one 10 h job.

    It checkpoints every 1 h (write 6 m, restart 12 m).
    """
    gpus = 8 * nodes * racks
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": racks, "nodes_per_rack": nodes, "node": {"gpus": 8}}]},
        workload={"jobs": [{
            "name": "big", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": gpus, "duration": "10h",
            "checkpoint": {"interval": "1h", "write": "6m", "restart": "12m"},
        }]},
    )  # fmt: skip
    if trace_rows is not None:
        (tmp_path / "f.csv").write_text("time,component,duration\n" + trace_rows)
        data["failures"] = {"trace": {"path": "f.csv", "time_unit": "h"}}
    data.update(extra)
    return data


def test_checkpoint_loss_and_restart_by_hand(tmp_path: Path) -> None:
    """Node 1 fails at 2.5 h for 1 h: the job keeps 2 checkpoints (2 h of work) and loses 0.3 h."""
    r = run_data(one_job(tmp_path, "2.5,node:1,1\n"), base_dir=str(tmp_path))
    cycle = 1.0 + 0.1  # work + write, h
    kept = 2 * 1.0  # floor(2.5 / 1.1) = 2 checkpoints
    lost = 2.5 - 2 * cycle  # work since the last checkpoint
    second_run = 0.2 + (10 - kept) + (8 - 1) * 0.1  # restart + work + 7 checkpoints (none after the last hour)
    end = 3.5 + second_run
    assert r.jobs["finish_s"][0] == pytest.approx(end * H)
    f = r.summary["faults"]
    assert f["failures"] == 1 and f["job_interruptions"] == 1
    assert f["lost_gpu_hours"] == pytest.approx(16 * (lost + 0.2))
    assert f["downtime_gpu_hours"] == pytest.approx(8 * 1.0)
    assert f["mean_time_to_repair_s"] == pytest.approx(1.0 * H)
    allocated = 2.5 + second_run
    assert f["ettr"] == pytest.approx(10 / allocated)
    u = r.summary["utilization"]
    assert u["gpu_productive"] == pytest.approx(10 / end)
    assert u["gpu_allocated"] == pytest.approx(allocated / end)
    assert u["gpu_available"] == pytest.approx(1 - 8 * 1.0 / (16 * end))
    row = r.failures.iloc[0]
    assert (row["component"], row["domain"], row["jobs_hit"]) == ("node", "node:1", 1)
    assert row["lost_gpu_hours"] == pytest.approx(16 * (lost + 0.2))
    assert r.jobs["interruptions"][0] == 1 and r.jobs["state"][0] == "completed"


def test_interruption_during_a_checkpoint_write_keeps_only_completed_ones(tmp_path: Path) -> None:
    """At 1.05 h the first write (1.0-1.1 h) is not complete: the whole first hour is lost."""
    r = run_data(one_job(tmp_path, "1.05,gpu:0.3,0.5\n"), base_dir=str(tmp_path))
    assert r.summary["faults"]["lost_gpu_hours"] == pytest.approx(16 * (1.0 + 0.2))
    second_run = 0.2 + 10 + 9 * 0.1
    assert r.jobs["finish_s"][0] == pytest.approx((1.55 + second_run) * H)


def test_a_failure_on_an_idle_unit_hits_nobody(tmp_path: Path) -> None:
    """The job uses rack 0 only; rack 1 fails: no interruption, but the downtime counts."""
    data = one_job(tmp_path, "1,rack:1,2\n", nodes=2, racks=2)
    data["workload"]["jobs"][0]["gpus"] = 16
    r = run_data(data, base_dir=str(tmp_path))
    f = r.summary["faults"]
    assert (f["failures"], f["job_interruptions"], f["lost_gpu_hours"]) == (1, 0, 0.0)
    assert f["downtime_gpu_hours"] == pytest.approx(16 * 2.0)


def test_max_restarts_fails_the_job(tmp_path: Path) -> None:
    data = one_job(tmp_path, "1,node:0,1\n2,node:0,1\n")
    data["failures"]["max_restarts"] = 0
    r = run_data(data, base_dir=str(tmp_path))
    assert r.jobs["state"][0] == "failed"
    assert r.summary["jobs"]["failed"] == 1 and r.summary["faults"]["jobs_failed"] == 1


def test_without_checkpoints_an_interrupted_job_starts_over(tmp_path: Path) -> None:
    data = one_job(tmp_path, "4,node:0,1\n")
    del data["workload"]["jobs"][0]["checkpoint"]
    r = run_data(data, base_dir=str(tmp_path))
    assert r.jobs["finish_s"][0] == pytest.approx((5 + 10) * H)
    assert r.summary["faults"]["lost_gpu_hours"] == pytest.approx(16 * 4)


def test_checkpoint_writes_cost_time_without_failures(tmp_path: Path) -> None:
    r = run_data(one_job(tmp_path, None))
    assert r.jobs["finish_s"][0] == pytest.approx((10 + 9 * 0.1) * H)
    assert r.summary["faults"]["ettr"] == pytest.approx(10 / 10.9)


def test_gpu_failure_hits_the_job_holding_that_gpu(tmp_path: Path) -> None:
    """Two 4-GPU jobs share node 0 (job 0 holds GPUs 0-3, job 1 GPUs 4-7); GPU 5 fails at 1 h for 1 h."""
    data = one_job(tmp_path, "1,gpu:0.5,1\n", nodes=1)
    data["workload"]["jobs"][0].update(gpus=4, count=2)
    r = run_data(data, base_dir=str(tmp_path))
    assert list(r.jobs["interruptions"]) == [0, 1]
    assert r.jobs["finish_s"][0] == pytest.approx((10 + 9 * 0.1) * H)
    # Job 1 lost its first hour (the write at 1.0-1.1 h never completed) and needs 4 GPUs:
    # only 3 are up until 2 h. Then: restart + 10 h of work + 9 checkpoints.
    assert r.jobs["finish_s"][1] == pytest.approx((2 + 0.2 + 10 + 9 * 0.1) * H)


def test_spare_shortens_downtime_of_a_random_node_failure() -> None:
    """Node MTBF tiny against the run: with a spare, the slot is back after swap_time; without, after repair."""
    base = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}]},
        workload={"jobs": [{"name": "j", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 8,
                            "duration": "1h"}]},
        horizon="10h",
        failures={"node": {"mtbf": "10m"}},
    )  # fmt: skip
    with_spare = dict(base, repair={"time": "8h", "spares": {"nodes": 1, "swap_time": "30m"}})
    r = run_data(with_spare)
    first = r.failures.iloc[0]
    assert first["spare"] and first["time_to_repair_s"] == pytest.approx(1800.0)
    # The broken node is repaired after the swap: 30 m, then 8 h of hands-on work.
    assert first["repaired_s"] - first["time_s"] == pytest.approx(0.5 * H + 8 * H)
    r = run_data(dict(base, repair={"time": "8h"}))
    first = r.failures.iloc[0]
    assert not first["spare"] and first["time_to_repair_s"] == pytest.approx(8 * H)


def test_technicians_queue_in_fifo_order_and_parts_run_out() -> None:
    """Three nodes fail (mtbf tiny); one technician, 1 h each: waits 0, 1 h, 2 h after the first finishes."""
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 3, "node": {"gpus": 8}}]},
        horizon="20h",
        failures={"node": {"mtbf": "1s"}},
        repair={"technicians": 1, "time": "1h"},
    )
    r = run_data(data)
    first3 = r.failures.sort_values("time_s").head(3)
    waits = first3["wait_technician_s"].to_numpy()
    t = first3["time_s"].to_numpy()
    assert waits[0] == 0.0
    assert waits[1] == pytest.approx(t[0] + H - t[1])
    assert waits[2] == pytest.approx(t[0] + 2 * H - t[2])
    # One spare part, restocked after 5 h: the second repair waits for the restock.
    data["repair"]["spares"] = {"parts": 1, "restock": "5h"}
    r = run_data(data)
    first3 = r.failures.sort_values("time_s").head(3)
    assert first3["wait_part_s"].iloc[0] == 0.0
    assert first3["wait_part_s"].iloc[1] == pytest.approx(first3["time_s"].iloc[0] + 5 * H - first3["time_s"].iloc[1])


@pytest.mark.parametrize("policy", ["fifo", "most_gpus_first"])
def test_repair_policy_picks_the_next_failure(policy: str) -> None:
    """Whenever the one technician starts a repair, the failure served is first by the policy among those waiting."""
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 4, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        horizon="300h",
        failures={"gpu": {"mtbf": "100h"}, "node": {"mtbf": "50h"}, "rack": {"mtbf": "60h"}},
        repair={"technicians": 1, "time": {"dist": "exponential", "mean": "2h"}, "policy": policy},
    )
    f = run_data(data).failures
    assert f is not None
    f = f[f["repaired_by"] == "technician"]
    begin = (f["time_s"] + f["wait_technician_s"]).to_numpy()
    t, gpus = f["time_s"].to_numpy(), f["gpus_down"].to_numpy()
    contested = 0
    for i in range(len(f)):
        waiting = (t <= begin[i]) & (begin > begin[i])  # failed by then, served later
        if not waiting.any():
            continue
        contested += 1
        if policy == "fifo":
            assert t[i] <= t[waiting].min()
        else:
            assert gpus[i] >= gpus[waiting].max()
    assert contested > 5  # the queue did form, so the order was tested


def test_maintenance_evict_checkpoints_and_moves_the_job(tmp_path: Path) -> None:
    """Rack 0 goes into maintenance at 1 h with evict: the job saves its 1 h of work and restarts on rack 1."""
    data = one_job(tmp_path, None, nodes=1, racks=2)
    data["workload"]["jobs"][0]["gpus"] = 8
    data["maintenance"] = [{"start": "1h", "duration": "2h", "scope": "rack", "units": [0], "drain": "evict"}]
    r = run_data(data)
    restart = 0.2 + 0.1  # restart + the write on eviction
    second_run = restart + 9 + 8 * 0.1
    assert r.jobs["finish_s"][0] == pytest.approx((1 + second_run) * H)
    assert r.jobs["evictions"][0] == 1 and r.jobs["interruptions"][0] == 0
    f = r.summary["faults"]
    assert (f["planned_interruptions"], f["job_interruptions"], f["failures"]) == (1, 0, 0)
    assert f["downtime_gpu_hours"] == pytest.approx(8 * 2)


def test_maintenance_wait_lets_the_job_finish_first(tmp_path: Path) -> None:
    data = one_job(tmp_path, None, nodes=1, racks=2)
    data["workload"]["jobs"][0]["gpus"] = 8
    data["maintenance"] = [{"start": "1h", "duration": "2h", "scope": "rack", "units": [0], "drain": "wait"}]
    r = run_data(data)
    assert r.jobs["finish_s"][0] == pytest.approx(10.9 * H)
    # Rack 0 drains at 10.9 h: its idle GPUs (none) and then the job's 8 go down for 2 h;
    # rack 1 is idle and not in maintenance. The run ends when the job does.
    assert r.summary["faults"]["planned_interruptions"] == 0


def test_rolling_maintenance_takes_one_rack_at_a_time() -> None:
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 3, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        horizon="10h",
        maintenance=[{"start": "1h", "duration": "2h", "scope": "rack"}],
    )
    r = run_data(data)
    down = r.down
    assert down is not None
    # 16 GPUs down from 1 h to 7 h (racks 0, 1, 2 in turn), never more at once.
    assert down["gpus"].max() == 16
    assert r.summary["faults"]["downtime_gpu_hours"] == pytest.approx(16 * 2 * 3)


def test_same_seed_same_failures() -> None:
    data = tiny_data(horizon="30d", failures={"gpu": {"mtbf": "2000h"}, "node": {"dist": "weibull", "shape": 0.8,
                                                                              "mtbf": "3000h"}},
                     repair={"reboot": {"share": 0.3}})  # fmt: skip
    data["workload"]["jobs"][0].update(count=None, arrival={"process": "poisson", "rate": "2/h"})
    a, b = run_data(data), run_data(data)
    assert a.failures is not None and len(a.failures) > 5
    assert a.failures.equals(b.failures)
    assert a.summary == b.summary


def test_events_table_orders_failures_interruptions_and_repairs(tmp_path: Path) -> None:
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    data = one_job(tmp_path, "2.5,node:1,1\n")
    r = simulate(scenario_from_data(data, str(tmp_path)), events=True)
    ev = r.events
    assert ev is not None
    assert list(ev["kind"]) == [
        "job_submitted", "job_started", "component_failed", "job_interrupted", "component_repaired", "job_started",
        "job_finished",
    ]  # fmt: skip
    failed = ev[ev["kind"] == "component_failed"].iloc[0]
    assert (failed["time_s"], failed["gpus"], failed["failure_id"], failed["job_id"]) == (2.5 * H, 8, 0, -1)
    assert ev[ev["kind"] == "job_interrupted"]["failure_id"].tolist() == [0]


def test_plots_with_failures(tmp_path: Path) -> None:
    from dcsim.experiment.results import write_results
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    data = one_job(tmp_path, "2.5,node:1,1\n5,gpu:0.1,1\n")
    r = simulate(scenario_from_data(data, str(tmp_path)))
    out = write_results(r, str(tmp_path / "res"), csv=True, plots=True)
    for name in ("failures.png", "lost_by_cause.png", "failures.parquet", "failures.csv"):
        assert (Path(out) / name).stat().st_size > 0


def test_reliability_records_read_back(tmp_path: Path) -> None:
    from dcsim.engine import DataCenterModel
    from dcsim.scenario.load import scenario_from_data

    model = DataCenterModel(scenario_from_data(one_job(tmp_path, "2.5,node:1,1\n"), str(tmp_path)))
    model.run()
    col = model.collector
    (failed,) = col.records("component_failed")
    (hit,) = col.records("job_interrupted")
    (back,) = col.records("component_repaired")
    assert (failed.time, failed.cause, failed.unit, failed.gpus_down, failed.traced) == (2.5 * H, "node", 1, 8, True)
    assert (hit.failure, hit.requeued) == (0, True) and hit.lost_s == pytest.approx(0.3 * H)
    assert (back.time, back.failure, back.spare) == (3.5 * H, 0, False)


def _one_node(**top: Any) -> dict[str, Any]:
    return tiny_data(datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}]},
                     **top)  # fmt: skip


def test_a_spare_swap_never_hits_a_job_started_after_the_failure() -> None:
    """Regression: the swap used to be decided after a scheduling pass had restarted the job on that node."""
    data = _one_node(
        workload={"jobs": [{"name": "j", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 7,
                            "duration": "2000h"}]},
        horizon="3000h", failures={"gpu": {"mtbf": "200h"}},
        repair={"time": "4h", "spares": {"nodes": 1, "swap_time": "30m"}},
    )  # fmt: skip
    from dcsim.experiment.run import simulate
    from dcsim.scenario.load import scenario_from_data

    r = simulate(scenario_from_data(data, "."), events=True)
    ev = r.events
    assert ev is not None
    hits = ev[ev["kind"] == "job_interrupted"]
    assert len(hits) > 10
    # One job, so one interruption per failure at most (the swap used to hit the restarted job again).
    assert hits["failure_id"].is_unique


def test_parts_on_order_arrive_after_the_restock_time() -> None:
    """parts: 0: every hands-on repair waits the restock lead time (the part is ordered when needed)."""
    data = _one_node(
        workload={"jobs": [{"name": "j", "arrival": {"process": "periodic", "interval": "1h"}, "count": 50,
                            "gpus": 8, "duration": "30m"}]},
        failures={"node": {"mtbf": "10h"}}, repair={"time": "1h", "spares": {"parts": 0, "restock": "2d"}},
    )  # fmt: skip
    r = run_data(data)  # no horizon: this must end
    f = r.failures
    assert f is not None and len(f)
    waits = f["wait_part_s"].dropna().tolist()
    assert waits and waits == pytest.approx([2 * 86400.0] * len(waits))


def test_overlapping_windows_keep_their_cordon() -> None:
    """Window B (rack, wait) holds node 1 while window A (node 1) ends: job y must not start there."""
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        workload={"jobs": [
            {"name": "x", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 8, "duration": "10h"},
            {"name": "y", "arrival": {"process": "batch", "at": "4h"}, "count": 1, "gpus": 8, "duration": "1h"},
        ]},
        horizon="20h",
        maintenance=[
            {"name": "B", "start": "1h", "duration": "1h", "scope": "rack", "units": [0], "drain": "wait"},
            {"name": "A", "start": "2h", "duration": "1h", "scope": "node", "units": [1], "drain": "wait"},
        ],
    )  # fmt: skip
    r = run_data(data)
    assert r.summary["faults"]["planned_interruptions"] == 0
    # x ends at 10 h, the rack is down 10-11 h, then y runs 11-12 h.
    assert r.jobs["start_s"][1] == pytest.approx(11 * H)


def test_downtime_of_a_wait_drain_is_counted() -> None:
    data = _one_node(
        workload={"jobs": [{"name": "j", "arrival": {"process": "batch", "at": 0}, "count": 1, "gpus": 8,
                            "duration": "1h"}]},
        horizon="3h", maintenance=[{"start": "30m", "duration": "1h", "scope": "node", "drain": "wait"}],
    )  # fmt: skip
    r = run_data(data)
    assert r.summary["faults"]["downtime_gpu_hours"] == pytest.approx(8 * 1.0)
    assert r.summary["utilization"]["gpu_available"] == pytest.approx(1 - 8 / (8 * 3))


def test_evictions_do_not_count_toward_max_restarts(tmp_path: Path) -> None:
    data = one_job(tmp_path, "100,rack:1,1\n", nodes=1, racks=2)
    data["workload"]["jobs"][0]["gpus"] = 8
    data["failures"]["max_restarts"] = 0
    data["maintenance"] = [{"start": "1h", "duration": "1h", "scope": "rack", "units": [0], "drain": "evict"}]
    r = run_data(data, base_dir=str(tmp_path))
    assert r.jobs["state"][0] == "completed" and r.jobs["evictions"][0] == 1


def test_queue_metrics_count_the_time_interrupted_jobs_wait(tmp_path: Path) -> None:
    """An 8-GPU 10 h job; its node is down 1-5 h: it runs 0-1 h and 5-15 h, and is queued 1-5 h."""
    data = one_job(tmp_path, "1,node:0,4\n", nodes=1)
    data["workload"]["jobs"][0].update(gpus=8)
    del data["workload"]["jobs"][0]["checkpoint"]
    data["horizon"] = "20h"
    q = run_data(data, base_dir=str(tmp_path)).summary["queue"]
    assert q["mean_running_jobs"] == pytest.approx((1 + 10) / 20)
    assert q["mean_queued_jobs"] == pytest.approx(4 / 20)
    data["horizon"] = "3h"
    r = run_data(data, base_dir=str(tmp_path))
    assert r.summary["queue"]["queued_at_end"] == 1 == r.summary["jobs"]["queued_at_end"]
    assert r.summary["queue"]["mean_running_jobs"] == pytest.approx(1 / 3)


def test_adding_a_cause_does_not_move_another_causes_failures() -> None:
    """Common random numbers: each cause (and GPU type) draws from its own named stream."""
    base = tiny_data(horizon="200d", failures={"node": {"mtbf": "500h"}})
    more = tiny_data(horizon="200d", failures={"node": {"mtbf": "500h"}, "gpu": {"mtbf": "100000h"}})
    a, b = run_data(base).failures, run_data(more).failures
    assert a is not None and b is not None
    first_a = a[a["component"] == "node"]["time_s"].iloc[0]
    first_b = b[b["component"] == "node"]["time_s"].iloc[0]
    assert first_a == first_b


def test_young_daly_interval_is_daly_for_the_jobs_blast_radius(tmp_path: Path) -> None:
    """16 GPUs on 2 nodes of 1 rack: M = 1 / (16/gpu_mtbf + 2/node_mtbf + 1/rack_mtbf)."""
    from dcsim.faults.checkpoint import daly

    data = one_job(tmp_path, None)
    data["workload"]["jobs"][0]["checkpoint"]["interval"] = "young_daly"
    data["failures"] = {"gpu": {"mtbf": "8000h"}, "node": {"mtbf": "2000h"}, "rack": {"mtbf": "4000h"}}
    data["horizon"] = "1h"
    r = run_data(data)
    mtti = 1 / (16 / (8000 * H) + 2 / (2000 * H) + 1 / (4000 * H))
    assert r.jobs["checkpoint_interval_s"][0] == pytest.approx(daly(360.0, mtti))


def test_an_eviction_while_restarting_writes_no_new_checkpoint(tmp_path: Path) -> None:
    """Evicted from rack 0 at 1 h, then from rack 1 at 1.1 h while restarting: the second write is not needed."""
    data = one_job(tmp_path, None, nodes=1, racks=2)
    data["workload"]["jobs"][0]["gpus"] = 8
    data["maintenance"] = [
        {"name": "A", "start": "1h", "duration": "2h", "scope": "rack", "units": [0], "drain": "evict"},
        {"name": "B", "start": "66m", "duration": "30m", "scope": "rack", "units": [1], "drain": "evict"},
    ]
    r = run_data(data)
    # Rack 1 is back at 1.6 h: restart 0.2 h (no write), 9 h of work left, 8 checkpoints.
    assert r.jobs["finish_s"][0] == pytest.approx((1.6 + 0.2 + 9 + 8 * 0.1) * H)
    assert r.jobs["evictions"][0] == 2
