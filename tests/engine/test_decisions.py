"""Scheduler decisions (issue 11 point 4): the declared protocol, read-only views, preemption.

Preemption cases are computed by hand from the trace; none is read off a run.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from dcsim.core.errors import PlacementError, PluginError
from dcsim.engine import DataCenterModel
from dcsim.infra.cluster import Cluster
from dcsim.policies import SCHEDULER
from dcsim.policies.scheduling import KeyOrder, Scheduler
from dcsim.views import FailureSnapshot, JobSnapshot
from dcsim.workload.jobs import Job

from conftest import build, run_data, tiny_data

H = 3600.0


def trace_data(tmp_path: Path, rows: list[tuple], scheduler: Any, checkpoint: dict | None = None) -> dict:
    """One 8-GPU node; a trace of ``(submit_s, gpus, duration_s, priority)`` rows."""
    lines = ["t,gpus,dur,prio"] + [",".join(str(v) for v in row) for row in rows]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    trace: dict[str, Any] = {
        "path": "t.csv",
        "columns": {"submit_time": "t", "gpus": "gpus", "duration": "dur", "priority": "prio"},
    }
    if checkpoint:
        trace["checkpoint"] = checkpoint
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8}}]},
        workload={"trace": trace},
        policies={"scheduler": scheduler, "placement": "first_fit"},
    )


PREEMPT = "plugins.toy_policies:PreemptLowerPriority"


def test_a_high_priority_job_preempts_and_the_victim_loses_its_work_since_start(tmp_path: Path) -> None:
    """Low (8 GPUs, 10 h) starts at 0; high (8 GPUs, 2 h, priority 5) comes at 3 h and preempts it.

    Without checkpoints the low job loses its 3 h: it runs again 5 h -> 15 h.
    Preempted GPU-hours: 8 GPUs x 3 h = 24. Failures and maintenance counts stay 0.
    """
    r = run_data(trace_data(tmp_path, [(0, 8, 10 * H, 0), (3 * H, 8, 2 * H, 5)], PREEMPT), base_dir=str(tmp_path))
    j = r.jobs
    assert j["start_s"].tolist() == [0.0, 3 * H]
    assert j["finish_s"].tolist() == [15 * H, 5 * H]
    assert j["preemptions"].tolist() == [1, 0] and j["interruptions"].tolist() == [0, 0]
    jobs, faults = r.summary["jobs"], r.summary["faults"]
    assert jobs["preemptions"] == 1
    assert jobs["preempted_gpu_hours"] == pytest.approx(24.0)
    assert faults["job_interruptions"] == 0 and faults["planned_interruptions"] == 0


def test_a_preempted_job_keeps_its_last_checkpoint(tmp_path: Path) -> None:
    """As above, checkpointing every 1 h of work (write 0.25 h, restart 0.5 h).

    At 3 h the low job has done 1 h, written (1 h + 0.25 h), done 1 h, written (to 2.5 h), and
    is 0.5 h into its third hour: saved 2 h of work, lost 0.5 h. The high job checkpoints too:
    2 h of work + 1 write = 2.25 h, so it ends at 5.25 h. The low job restarts then with 8 h of
    work: 0.5 h restart + 8 h + 7 writes of 0.25 h (none after the last hour) = 10.25 h, so it
    ends at 15.5 h. Preempted GPU-hours: 8 x (0.5 lost + 0.5 restart) = 8.
    """
    ckpt = {"interval": "1h", "write": "15min", "restart": "30min"}
    r = run_data(trace_data(tmp_path, [(0, 8, 10 * H, 0), (3 * H, 8, 2 * H, 5)], PREEMPT, ckpt), base_dir=str(tmp_path))
    assert r.jobs["finish_s"].tolist() == [pytest.approx(15.5 * H), pytest.approx(5.25 * H)]
    assert r.summary["jobs"]["preempted_gpu_hours"] == pytest.approx(8.0)


def test_equal_priority_does_not_preempt(tmp_path: Path) -> None:
    """Same priority: the second job waits for the first (0-10 h, then 10-12 h); nothing preempted."""
    r = run_data(trace_data(tmp_path, [(0, 8, 10 * H, 0), (3 * H, 8, 2 * H, 0)], PREEMPT), base_dir=str(tmp_path))
    assert r.jobs["finish_s"].tolist() == [10 * H, 12 * H]
    assert r.summary["jobs"]["preemptions"] == 0


@pytest.mark.parametrize(
    ("mistake", "words"),
    [
        ("unshown", "started a job it was not shown"),
        ("idle_victim", "which is not running"),
        ("reason", "a reason is one of"),
        ("undeclared", "does not set preempts = True"),
    ],
)
def test_a_wrong_decision_is_refused_naming_the_scheduler(tmp_path: Path, mistake: str, words: str) -> None:
    """Job 0 starts at 0 (4 of 8 GPUs); at 10 s job 1 comes, and the scheduler's decision on it is wrong.

    Checkpoints make the engine track runs, so ``cluster.running()`` shows job 0 even to a
    scheduler that does not declare ``preempts``.
    """
    sched = {"name": "plugins.toy_policies:WrongDecisions", "params": {"mistake": mistake}}
    ckpt = {"interval": "1h", "write": "1min", "restart": "1min"}
    model = DataCenterModel(build(trace_data(tmp_path, [(0, 4, H, 0), (10, 4, H, 0)], sched, ckpt), str(tmp_path)))
    with pytest.raises(PlacementError, match=rf"scheduler 'plugins.toy_policies:WrongDecisions' .*{words}"):
        model.run()


def test_a_scheduler_must_declare_what_the_engine_reads() -> None:
    """decide without epoch and preempts: refused before anything runs, saying how to get the defaults."""
    from dcsim.core.errors import UnknownPolicyError

    with pytest.raises(UnknownPolicyError, match="SchedulerBase"):
        SCHEDULER.lookup("plugins.toy_policies:DecideWithoutDefaults")


def test_built_in_schedulers_are_key_orders_or_declared_schedulers() -> None:
    """fifo, sjf and priority are orders run by KeyOrder; lp is a Scheduler; nothing is found by getattr."""
    for name in ("fifo", "sjf", "priority"):
        model = DataCenterModel(build(tiny_data(policies={"scheduler": name})))
        assert isinstance(model.dispatch.scheduler, KeyOrder)
        assert isinstance(model.dispatch.scheduler, Scheduler)
    lp = DataCenterModel(build(tiny_data(policies={"scheduler": "lp"})))
    assert not isinstance(lp.dispatch.scheduler, KeyOrder) and isinstance(lp.dispatch.scheduler, Scheduler)
    assert lp.dispatch.epoch is not None and lp.dispatch.epoch.window == 200


# ---------------------------------------------------------------- read-only views
def reachable(root: object, depth: int = 4) -> list[tuple[str, object]]:
    """Every object reached from ``root`` through public attributes and items, ``depth`` steps deep."""
    seen: set[int] = set()
    out: list[tuple[str, object]] = []
    frontier = [("view", root)]
    for _ in range(depth):
        nxt = []
        for path, obj in frontier:
            if id(obj) in seen or isinstance(obj, (int, float, str, bool, type(None))):
                continue
            seen.add(id(obj))
            out.append((path, obj))
            for name in dir(obj):
                if name.startswith("_"):
                    continue
                try:
                    value = getattr(obj, name)
                except Exception:
                    continue
                nxt.append((f"{path}.{name}", value))
            if isinstance(obj, (tuple, list)) or (type(obj).__name__ == "View" and hasattr(obj, "__len__")):
                with contextlib.suppress(TypeError):
                    nxt += [(f"{path}[{i}]", v) for i, v in enumerate(list(obj)[:3])]
        frontier = nxt
    return out


def test_no_policy_reaches_allocate_or_a_jobs_state_through_its_views(tmp_path: Path) -> None:
    """A plug-in placement keeps what it is given; nothing public on it leads to the cluster's
    mutations, a live Job, or a settable job field; its sequences are live but cannot be written."""
    from plugins.toy_policies import Peeker

    Peeker.seen.clear()
    data = trace_data(tmp_path, [(0, 4, H, 0), (10, 2, H, 0)], "fifo")
    data["policies"]["placement"] = "plugins.toy_policies:Peeker"
    model = DataCenterModel(build(data, str(tmp_path)))
    model.run()
    job_view, cluster_view = Peeker.seen[0]
    for path, obj in reachable(job_view) + reachable(cluster_view):
        assert not isinstance(obj, (Cluster, Job, DataCenterModel)), path
        assert not hasattr(obj, "allocate") and not hasattr(obj, "release") and not hasattr(obj, "set_down"), path
    assert isinstance(job_view, JobSnapshot)
    with pytest.raises(AttributeError):
        job_view.gpus = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        cluster_view.free = [0]
    with pytest.raises(TypeError):
        cluster_view.free[0] = 8
    # Live: the second job's view of node 0 shows the first job's 4 GPUs taken (8 - 4 = 4 free then).
    _, later = Peeker.seen[1]
    assert later is cluster_view  # one view per run, O(1) per read
    assert cluster_view.free[0] == model.cluster.free[0]


def test_a_plug_in_key_sees_a_snapshot() -> None:
    seen = []

    class Spy:
        backfill = False

        def key(self, job):
            seen.append(job)
            return job.submit_time

    order = KeyOrder(Spy().key, False, lambda job, cluster: None, False)
    assert order.arrived(object(), False, None) is None  # not first, no backfill: nothing to try
    assert not seen


def test_the_scheduler_is_asked_again_after_a_pass_that_only_preempted(tmp_path: Path) -> None:
    """PreemptThenStop preempts the low job at 3 h and starts nothing in that pass: the engine asks
    again at once (the victim's GPUs are free), so the times are those of the first test."""
    sched = "plugins.toy_policies:PreemptThenStop"
    r = run_data(trace_data(tmp_path, [(0, 8, 10 * H, 0), (3 * H, 8, 2 * H, 5)], sched), base_dir=str(tmp_path))
    assert r.jobs["start_s"].tolist() == [0.0, 3 * H]
    assert r.jobs["finish_s"].tolist() == [15 * H, 5 * H]


@pytest.mark.parametrize(
    ("kind", "error", "words"),
    [
        ("raises", PluginError, r"raised ZeroDivisionError.*while making its decisions"),
        ("not_iterable", PluginError, r"decide\(\) returned 5"),
        ("bare_job", PlacementError, r"a decision is \(job, placement\)"),
        ("float_placement", PlacementError, r"pairs of whole numbers"),
        ("str_node", PlacementError, r"pairs of whole numbers"),
        ("unhashable_victim", PlacementError, r"which is not running"),
    ],
)
def test_a_decision_of_the_wrong_shape_is_refused_naming_the_plug_in(
    tmp_path: Path, kind: str, error: type, words: str
) -> None:
    sched = {"name": "plugins.toy_policies:Garbage", "params": {"kind": kind}}
    model = DataCenterModel(build(trace_data(tmp_path, [(0, 4, H, 0)], sched), str(tmp_path)))
    with pytest.raises(error, match=rf"'plugins.toy_policies:Garbage'.*{words}"):
        model.run()


def test_no_answer_from_an_event_driven_scheduler_hands_the_decision_to_backfill(tmp_path: Path) -> None:
    """decide() returns None: first fit in queue order starts both jobs at once (4 + 4 of 8 GPUs)."""
    sched = {"name": "plugins.toy_policies:Garbage", "params": {"kind": "none"}}
    r = run_data(trace_data(tmp_path, [(0, 4, H, 0), (10, 4, H, 0)], sched), base_dir=str(tmp_path))
    assert r.jobs["start_s"].tolist() == [0.0, 10.0]


def test_the_engine_keeps_its_own_copy_of_a_plug_ins_placement(tmp_path: Path) -> None:
    """The plug-in's list of lists is checked and copied as tuples: changing it later changes nothing."""
    from plugins.toy_policies import Garbage

    sched = {"name": "plugins.toy_policies:Garbage", "params": {"kind": "list_placement"}}
    ckpt = {"interval": "1h", "write": "1min", "restart": "1min"}  # runs tracked
    model = DataCenterModel(build(trace_data(tmp_path, [(0, 4, H, 0)], sched, ckpt), str(tmp_path)))
    model.env.run(until=1.0)
    job = model.running_jobs[0]
    assert job.placement == [(0, 4)] and job.placement is not Garbage.given
    Garbage.given[0][1] = 1
    assert job.placement == [(0, 4)] and model.dispatch.view.running()[0].placement == ((0, 4),)
    model.run()
    assert model.cluster.busy_gpus == 0 and model.cluster.free[0] == 8


def test_an_order_without_backfill_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"'plugins.toy_policies:NoBackfill' has no backfill attribute"):
        DataCenterModel(build(trace_data(tmp_path, [(0, 4, H, 0)], "plugins.toy_policies:NoBackfill"), str(tmp_path)))


def test_a_repair_plug_in_reads_a_frozen_failure(tmp_path: Path) -> None:
    from plugins.toy_policies import KeepsFailures

    KeepsFailures.seen.clear()
    data = trace_data(tmp_path, [(0, 8, 10 * H, 0)], "fifo")
    data["failures"] = {"node": {"mtbf": "5h"}}
    data["repair"] = {
        "technicians": 1,
        "time": {"dist": "fixed", "value": "1h"},
        "policy": "plugins.toy_policies:KeepsFailures",
    }
    data["horizon"] = "3d"
    run_data(data, base_dir=str(tmp_path))
    assert KeepsFailures.seen and all(isinstance(f, FailureSnapshot) for f in KeepsFailures.seen)
    with pytest.raises(AttributeError):
        KeepsFailures.seen[0].gpus_down = 0  # type: ignore[misc]


def test_a_plug_in_scheduler_reaches_no_live_job_through_the_queue_or_the_running_jobs(tmp_path: Path) -> None:
    """Walk everything public a decide() plug-in is given, calling the queue's and the cluster's readers."""
    seen: list[Any] = []

    from plugins import toy_policies

    class Spy(toy_policies.PreemptLowerPriority):
        def decide(self, queue, cluster, now):
            seen.append((queue, cluster, list(queue), queue.first(), cluster.running(), queue.arrival))
            return super().decide(queue, cluster, now)

    toy_policies.Spy = Spy  # type: ignore[attr-defined]
    try:
        sched = "plugins.toy_policies:Spy"
        run_data(trace_data(tmp_path, [(0, 8, 10 * H, 0), (3 * H, 8, 2 * H, 5)], sched), base_dir=str(tmp_path))
    finally:
        del toy_policies.Spy
    assert seen and any(running for *_, running, _ in seen)
    queue, cluster = seen[0][0], seen[0][1]
    # The whole public surface: readers only (a method such as the engine's map back to jobs is not there).
    assert {n for n in dir(queue) if not n.startswith("_")} == {"arrival", "arrival_first", "first"}
    assert {n for n in dir(cluster) if not n.startswith("_")} == {
        "busy_gpus", "count", "down_gpus", "free", "installed_gpus", "lowest_node", "lowest_nodes", "network",
        "node_pool", "node_rack", "nodes_in_bucket", "pool_free", "pools", "rack_nodes", "rack_whole_free", "running",
    }  # fmt: skip
    for item in seen:
        for root in item:
            for path, obj in reachable(root):
                assert not isinstance(obj, (Cluster, Job, DataCenterModel)), path
                assert not hasattr(obj, "allocate") and not hasattr(obj, "lose"), path
