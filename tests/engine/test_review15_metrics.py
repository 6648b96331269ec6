"""Review of issue 15 (metrics findings): each test demonstrates a finding (it failed on main as reviewed).

The review's own tests of these findings (elastic GPU-hours per tenant, replicas charged to their
tenant) are in test_review15.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dcsim.core.table import Coded, Table
from dcsim.engine import DataCenterModel
from dcsim.metrics.fault_scores import FaultData, nonproductive_by_pool, preemption_metrics
from dcsim.metrics.window import Window
from dcsim.workload.jobs import REASONS

from conftest import build, elastic_tenant_class, run_data, tiny_data, two_nodes_elastic

H = 3600.0


def _f(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)


def _elastic_run_lost_at_2h(reason: str) -> tuple[Table, FaultData, Table]:
    """Job 0 (nominal 4 GPUs, elastic) holds 16 GPUs for 1 h, then 8 for 1 h, and is interrupted at 2 h.

    It loses the 30 min since its last checkpoint (all at 8 GPUs) and owes a 6 min restart
    (at the 8 it held); the run had paid a 12 min restart at its start (at 16) and 3 min of
    checkpoint writes (at its mean, 12 GPUs).
    """
    jobs = Table({"gpus": np.array([4], dtype=np.int64), "pool": np.array([0], dtype=np.int64)})
    spans = Table({"start_s": _f(0, H), "end_s": _f(H, 2 * H), "job_id": np.array([0, 0]),
                   "pool": np.array([0, 0]), "gpus": np.array([16, 8]), "first": np.array([True, False])})  # fmt: skip
    interruptions = Table({
        "time_s": _f(2 * H), "job_id": np.array([0]), "lost_s": _f(1800), "restart_s": _f(360),
        "reason": Coded(np.array([REASONS.index(reason)], dtype=np.int32), REASONS),
        "requeued": np.array([True]), "failure_id": np.array([0]),
    })  # fmt: skip
    overhead = Table({"job_id": np.array([0]), "start_s": _f(0), "end_s": _f(2 * H), "restart_s": _f(720),
                      "checkpoint_s": _f(180), "lost_s": _f(1800)})  # fmt: skip
    runs = Table({"job_id": np.array([0]), "start_s": _f(0), "end_s": _f(2 * H), "pool": np.array([0])})
    empty = Table({"time_s": _f(), "gpus": _f()})
    return jobs, FaultData(runs, overhead, interruptions, Table({}), empty), spans


def test_preempted_gpu_hours_of_an_elastic_run_count_the_gpus_it_held() -> None:
    """Preempted at 2 h: (30 min lost + 6 min restart) x the 8 GPUs held = 4.8 GPU-hours (nominal 4 GPUs: 2.4)."""
    jobs, faults, spans = _elastic_run_lost_at_2h("priority")
    window = Window(0.0, 3 * H)
    assert preemption_metrics(jobs, faults, window, spans)["preempted_gpu_hours"] == pytest.approx(0.6 * 8)
    assert preemption_metrics(jobs, faults, window)["preempted_gpu_hours"] == pytest.approx(0.6 * 4)


def test_non_productive_gpu_time_of_an_elastic_run_counts_the_gpus_it_held() -> None:
    """Its restart 12 min x 16 GPUs + checkpoint writes 3 min x 12 (mean) + lost 30 min x 8 (nominal: 45 min x 4).

    The same sum (overhead_waste) is fault_metrics' non-productive time; a failure's lost
    GPU-hours take the interruption's sum the preemption test checks.
    """
    jobs, faults, spans = _elastic_run_lost_at_2h("failure")
    window = Window(0.0, 3 * H)
    assert nonproductive_by_pool(jobs, faults, window, 1, spans)[0] == pytest.approx(720 * 16 + 180 * 12 + 1800 * 8)
    assert nonproductive_by_pool(jobs, faults, window, 1)[0] == pytest.approx(2700 * 4)


def test_an_elastic_runs_attained_service_counts_the_gpus_it_held() -> None:
    """Elastic a alone on 16 GPUs from 0; b (same) comes at 1 h and the scheduler shares the GPUs.

    At 90 min a has held 16 GPUs until b came and then what its spans say: its attained
    service so far is the integral of its spans, not 4 nominal GPUs x 90 min.
    """
    jobs = [elastic_tenant_class("a", 0.0), elastic_tenant_class("b", H)]
    model = DataCenterModel(build(two_nodes_elastic(jobs, [{"name": "t"}], horizon="90m")))
    model.run()
    a = min(model.running_jobs.values(), key=lambda job: job.id)  # a came first
    spans = model.collector.elastic_spans
    rows = [i for i in range(len(spans["time"])) if spans["job_id"][i] == a.id]
    held = sum(spans["gpus"][i] * ((spans["until"][i] if spans["until"][i] == spans["until"][i] else 1.5 * H)
                                   - spans["time"][i]) for i in rows)  # fmt: skip
    assert len(rows) >= 2  # it was resized when b came
    assert model.runs.held_gpu_s(a, 1.5 * H) == pytest.approx(held)
    assert held != pytest.approx(4 * 1.5 * H)


def _one_class(name: str, at: float, gpus: int, duration: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "arrival": {"process": "batch", "at": at}, "count": 1, "gpus": gpus, "duration": duration,
            **more}  # fmt: skip


def _run_on(nodes: int, scheduler: str, jobs: list[dict[str, Any]], horizon: str) -> Any:
    """``jobs`` on ``nodes`` 8-GPU nodes under ``scheduler``."""
    datacenter = {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": nodes, "node": {"gpus": 8}}]}
    return run_data(tiny_data(datacenter=datacenter, workload={"jobs": jobs}, policies={"scheduler": scheduler},
                              horizon=horizon))  # fmt: skip


def test_easy_backfill_counts_a_running_jobs_checkpoint_writes_in_its_estimated_end() -> None:
    """16 GPUs. a (8 GPUs, 10 h of work, a 6 min write every hour: 9 writes) runs 10.9 h; b (16) waits for it.

    c (8 GPUs, 10.5 h) comes at 2 min: it ends at 10.53 h, before a's end at 10.9 h, so it
    delays no reservation and backfills at once. Without the writes a's estimated end is 10 h
    and c would wait for b.
    """
    ckpt = {"checkpoint": {"interval": "1h", "write": "6m", "restart": "0s"}}
    jobs = [_one_class("a", 0.0, 8, "10h", **ckpt), _one_class("b", 60.0, 16, "1h"), _one_class("c", 120.0, 8, "10.5h")]
    r = _run_on(2, "easy_backfill", jobs, "30h")
    start = dict(zip(r.jobs.job_class, r.jobs.start_s, strict=True))
    assert r.jobs.finish_s[r.jobs.job_class == "a"].iloc[0] == pytest.approx(10.9 * H)
    assert start["c"] == pytest.approx(120.0)
    assert start["b"] == pytest.approx(10.9 * H)


def test_srtf_ranks_a_running_job_by_the_work_its_run_has_done_not_its_wall_time() -> None:
    """8 GPUs. a (8 GPUs, 10 h of work, a 1 h write after each hour) starts at 0; c (8 GPUs, 5 h) comes at 8 h.

    At 8 h a has done 4 h of work (4 pieces and 4 writes): 6 h are left, more than c's 5 h,
    so c preempts it at once. Counting a's wall time as work (8 h) it would have 2 h left and
    c would wait.
    """
    ckpt = {"checkpoint": {"interval": "1h", "write": "1h", "restart": "0s"}}
    jobs = [_one_class("a", 0.0, 8, "10h", **ckpt), _one_class("c", 8 * H, 8, "5h")]
    r = _run_on(1, "srtf", jobs, "40h")
    start = dict(zip(r.jobs.job_class, r.jobs.start_s, strict=True))
    assert start["c"] == pytest.approx(8 * H)
    assert r.summary["jobs"]["preemptions"] == 1
