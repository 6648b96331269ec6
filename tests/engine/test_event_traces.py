"""Exact event traces of tiny deterministic workloads (a CSV trace gives full control)."""

from __future__ import annotations

from pathlib import Path

from conftest import run_data, tiny_data


def trace_run(
    tmp_path: Path,
    rows: list[tuple],
    scheduler: object = "fifo",
    nodes: int = 1,
    placement: str = "first_fit",
    horizon: str | None = None,
    priority: bool = False,
):
    """Run a trace of ``(submit_s, gpus, duration_s[, priority])`` rows on ``nodes`` 8-GPU nodes."""
    header = "t,gpus,dur" + (",prio" if priority else "")
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    columns = {"submit_time": "t", "gpus": "gpus", "duration": "dur"}
    if priority:
        columns["priority"] = "prio"
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": nodes, "node": {"gpus": 8}}]},
        workload={"trace": {"path": "t.csv", "columns": columns}},
        policies={"scheduler": scheduler, "placement": placement},
    )
    if horizon:
        data["horizon"] = horizon
    return run_data(data, base_dir=str(tmp_path))


def starts(result) -> list[tuple[int, float, float]]:
    """(job id, start, finish) per job, in job id order."""
    j = result.jobs
    return list(zip(j["job_id"], j["start_s"], j["finish_s"], strict=True))


def test_strict_fifo_holds_small_job_behind_blocked_head(tmp_path: Path) -> None:
    """A takes 6 of 8 GPUs for 100 s; B (4 GPUs) cannot fit; C (2 GPUs) could, but FIFO keeps order.

    At t=100 A ends: B and C start together.
    """
    r = trace_run(tmp_path, [(0, 6, 100), (10, 4, 50), (20, 2, 10)])
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 150.0), (2, 100.0, 110.0)]


def test_backfill_starts_small_job_in_the_gap(tmp_path: Path) -> None:
    """Same jobs with backfill: C starts at once in A's 2 spare GPUs (t=20, ends 30); B still at 100."""
    r = trace_run(
        tmp_path, [(0, 6, 100), (10, 4, 50), (20, 2, 10)], scheduler={"name": "fifo", "params": {"backfill": True}}
    )
    assert starts(r) == [(0, 0.0, 100.0), (1, 100.0, 150.0), (2, 20.0, 30.0)]


def test_sjf_runs_the_shortest_queued_job_first(tmp_path: Path) -> None:
    """Three whole-node jobs; A runs 0-100. Queued: B (50 s) and C (10 s). SJF: C 100-110, then B 110-160."""
    rows = [(0, 8, 100), (1, 8, 50), (2, 8, 10)]
    assert starts(trace_run(tmp_path, rows, scheduler="sjf")) == [
        (0, 0.0, 100.0), (1, 110.0, 160.0), (2, 100.0, 110.0)]  # fmt: skip
    assert starts(trace_run(tmp_path, rows, scheduler="fifo")) == [
        (0, 0.0, 100.0), (1, 100.0, 150.0), (2, 150.0, 160.0)]  # fmt: skip


def test_priority_runs_the_highest_priority_queued_job_first(tmp_path: Path) -> None:
    """A runs 0-100; B (priority 0) and C (priority 3) wait; C goes first at 100, B at 110."""
    rows = [(0, 8, 100, 0), (1, 8, 50, 0), (2, 8, 10, 3)]
    r = trace_run(tmp_path, rows, scheduler="priority", priority=True)
    assert starts(r) == [(0, 0.0, 100.0), (1, 110.0, 160.0), (2, 100.0, 110.0)]


def test_multi_node_job_waits_for_two_whole_nodes(tmp_path: Path) -> None:
    """Two nodes. A (1 GPU, 0-50) and B (1 GPU, 0-80) land on node 0 (first fit); a 16-GPU job at t=5
    needs both nodes whole, so it starts when B ends at 80 and runs to 80 + 20."""
    r = trace_run(tmp_path, [(0, 1, 50), (0, 1, 80), (5, 16, 20)], nodes=2)
    assert starts(r) == [(0, 0.0, 50.0), (1, 0.0, 80.0), (2, 80.0, 100.0)]
    assert r.jobs["nodes"].tolist() == [1, 1, 2]
    assert r.jobs["first_node"].tolist() == [0, 0, 0]
    assert r.jobs["locality"].tolist() == ["node", "node", "rack"]


def test_run_without_horizon_ends_when_the_workload_drains(tmp_path: Path) -> None:
    """The window ends at the last completion: 100 + 50 = 150 s."""
    r = trace_run(tmp_path, [(0, 8, 100), (10, 8, 50)])
    assert r.summary["window"]["end_s"] == 100.0 + 50.0
    assert r.summary["jobs"]["completed"] == 2


def test_horizon_cuts_the_run_and_counts_what_is_left(tmp_path: Path) -> None:
    """Horizon 120 s: A (0-100) completes, B (100-200) is running, C (needs all 8 GPUs) is queued."""
    r = trace_run(tmp_path, [(0, 8, 100), (10, 8, 100), (20, 8, 100)], horizon="120s")
    jobs = r.summary["jobs"]
    assert (jobs["completed"], jobs["running_at_end"], jobs["queued_at_end"]) == (1, 1, 1)
    # Utilization: 8 GPUs busy for all 120 s of the window.
    assert r.summary["utilization"]["gpu_allocated"] == 8 * 120 / (8 * 120)


def test_trace_jobs_submitted_together_keep_file_order(tmp_path: Path) -> None:
    """Rows of different classes at the same time queue in file order: FIFO runs them so on one node."""
    (tmp_path / "t.csv").write_text("t,gpus,dur,cls\n0,8,100,zeta\n0,8,100,alpha\n0,8,100,mid\n")
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}]},
        workload={"trace": {"path": "t.csv",
                            "columns": {"submit_time": "t", "gpus": "gpus", "duration": "dur", "job_class": "cls"}}},
    )  # fmt: skip
    jobs = run_data(data, base_dir=str(tmp_path)).jobs
    assert jobs.sort_values("start_s")["job_class"].tolist() == ["zeta", "alpha", "mid"]
    assert jobs["trace_id"].tolist() == ["0", "1", "2"]


def test_sjf_on_class_mean_uses_each_trace_class_mean(tmp_path: Path) -> None:
    """A blocker runs 0-100; then class 'long' (mean 1000 s) and class 'short' (60 s) wait.

    SJF on class means starts the short one first, although it came last.
    """
    (tmp_path / "t.csv").write_text("t,gpus,dur,cls\n0,8,100,block\n1,8,1000,long\n2,8,60,short\n")
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}]},
        workload={"trace": {"path": "t.csv",
                            "columns": {"submit_time": "t", "gpus": "gpus", "duration": "dur", "job_class": "cls"}}},
        policies={"scheduler": {"name": "sjf", "params": {"estimate": "class_mean"}}},
    )  # fmt: skip
    jobs = run_data(data, base_dir=str(tmp_path)).jobs.set_index("job_class")
    assert jobs.loc["short", "start_s"] == 100.0
    assert jobs.loc["long", "start_s"] == 160.0


def test_event_records_come_in_causal_order(tmp_path: Path) -> None:
    """A (8 GPUs, 0-100) then B (8 GPUs at 10): at t=100 A's finish comes before B's start."""
    from dcsim.metrics.collector import Collector
    from dcsim.metrics.tables import events_table

    (tmp_path / "t.csv").write_text("t,gpus,dur\n0,8,100\n10,8,50\n")
    data = tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}]},
        workload={"trace": {"path": "t.csv", "columns": {"submit_time": "t", "gpus": "gpus", "duration": "dur"}}},
    )
    from dcsim.engine import DataCenterModel

    from conftest import build

    model = DataCenterModel(build(data, str(tmp_path)))
    model.run()
    events = events_table(model.collector).to_pandas()
    assert list(zip(events["time_s"], events["kind"], events["job_id"], strict=True)) == [
        (0.0, "job_submitted", 0), (0.0, "job_started", 0), (10.0, "job_submitted", 1),
        (100.0, "job_finished", 0), (100.0, "job_started", 1), (150.0, "job_finished", 1),
    ]  # fmt: skip
    col: Collector = model.collector
    started = list(col.records("job_started"))
    assert [(r.time, r.job_id, r.kind) for r in started] == [(0.0, 0, "job_started"), (100.0, 1, "job_started")]
    assert [r.gpus for r in col.records("job_submitted")] == [8, 8]
    assert [r.time for r in col.records("job_finished")] == [100.0, 150.0]
