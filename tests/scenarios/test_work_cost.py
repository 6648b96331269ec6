"""`cost.usd_per_work_gpu_hour` by hand: cost over GPU-hours of work measured at each class's reference speed.

One H100 node (listed first: node 0, first fit's) and one A100 node (node 1), prices $2 and $1
per GPU-hour, no energy bill (electricity $0); two 8-GPU jobs of 10 h (on the H100, the
reference) start at 0: the first on the H100 (rate 1), the second on the A100 at the speed a
case gives it. Capital is (8 x 2 + 8 x 1) $/h = $24/h of the window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import run_data, tiny_data

H = 3600.0
PER_HOUR = 8 * 2.0 + 8 * 1.0  # $ of capital per hour of the window


def two_types(a100_speed: float, **extra: Any) -> dict[str, Any]:
    job = {"name": "train", "arrival": {"process": "batch", "at": 0}, "count": 2, "gpus": 8, "duration": "10h",
           "speed": {"A100": a100_speed}, **extra.pop("job", {})}  # fmt: skip
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8, "gpu_type": "H100"}},
            {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8, "gpu_type": "A100"}},
        ]}]},
        workload={"jobs": [job]},
        policies={"scheduler": "fifo", "placement": "first_fit"},
        costs={"gpu_hour_usd": {"H100": 2.0, "A100": 1.0}, "electricity_usd_per_kwh": 0.0},
        **extra,
    )  # fmt: skip


def test_completed_jobs_count_gpus_times_duration_whatever_gpus_they_ran_on() -> None:
    """A100 at 0.32: the second job runs 10 / 0.32 = 31.25 h, the window. Work: 2 x 8 x 10 GPU-hours;
    productive GPU-hours 8 x 10 + 8 x 31.25, so the per-productive figure looks cheaper by the slow GPUs."""
    cost = run_data(two_types(0.32)).summary["cost"]
    end = 10 / 0.32
    assert cost["total_usd"] == pytest.approx(PER_HOUR * end)
    assert cost["usd_per_work_gpu_hour"] == pytest.approx(PER_HOUR * end / (2 * 8 * 10))
    assert cost["usd_per_productive_gpu_hour"] == pytest.approx(PER_HOUR * end / (8 * 10 + 8 * end))


def test_a_faster_gpu_is_cheaper_per_unit_of_work() -> None:
    """The same work at A100 speed 1.0 ends at 10 h: $24/h x 10 h / 160 GPU-hours, as per productive GPU-hour."""
    fast = run_data(two_types(1.0)).summary["cost"]
    assert fast["usd_per_work_gpu_hour"] == pytest.approx(PER_HOUR * 10 / 160)
    assert fast["usd_per_work_gpu_hour"] == fast["usd_per_productive_gpu_hour"]  # every rate 1: the same number


def test_runs_cut_by_the_horizon_count_the_work_done_inside() -> None:
    """Horizon 5 h: the H100 job has done 5 h of work, the A100 job 5 x 0.32 h, 8 GPUs each.

    Every GPU is busy the whole window at either A100 speed, so the cost per productive GPU-hour
    cannot tell the speeds apart; the cost per unit of work can.
    """
    slow = run_data(two_types(0.32, horizon="5h")).summary["cost"]
    fast = run_data(two_types(1.0, horizon="5h")).summary["cost"]
    assert slow["usd_per_work_gpu_hour"] == pytest.approx(PER_HOUR * 5 / (8 * 5 + 8 * 5 * 0.32))
    assert fast["usd_per_work_gpu_hour"] == pytest.approx(PER_HOUR * 5 / (8 * 5 * 2))
    assert slow["usd_per_productive_gpu_hour"] == pytest.approx(fast["usd_per_productive_gpu_hour"])
    assert slow["usd_per_productive_gpu_hour"] == pytest.approx(PER_HOUR * 5 / (8 * 5 * 2))


def test_warm_up_counts_only_the_work_done_after_it() -> None:
    """Warm-up 2 h, horizon 5 h: 3 h of the window, 8 x 3 x (1 + 0.32) GPU-hours of work in it."""
    cost = run_data(two_types(0.32, horizon="5h", warmup="2h")).summary["cost"]
    assert cost["usd_per_work_gpu_hour"] == pytest.approx(PER_HOUR * 3 / (8 * 3 * (1 + 0.32)))


def test_lost_work_restarts_and_checkpoint_writes_count_nothing(tmp_path: Path) -> None:
    """A100 at 0.5; checkpoints every 1 h of work (2 h of wall on the A100), write 6 m, restart 12 m.

    The A100 node fails at 4.5 h for 1 h: 2 checkpoints kept (cycles of 2.1 h), 0.3 h of wall lost.
    It restarts at 5.5 h on the A100 (the H100 is busy until 10.9 h): 0.2 h restart, 8 h of work at 0.5
    and 7 writes, ending at 5.5 + 0.2 + 16 + 0.7 = 22.4 h. All of the work is kept: 2 x 8 x 10 GPU-hours.
    """
    (tmp_path / "f.csv").write_text("time,component,duration\n4.5,node:1,1\n")
    data = two_types(
        0.5, job={"checkpoint": {"interval": "1h", "write": "6m", "restart": "12m"}},
        failures={"trace": {"path": "f.csv", "time_unit": "h"}},
    )  # fmt: skip
    r = run_data(data, base_dir=str(tmp_path))
    end = 5.5 + 0.2 + 8 / 0.5 + 7 * 0.1
    assert r.summary["window"]["hours"] == pytest.approx(end)
    assert r.summary["faults"]["job_interruptions"] == 1
    cost = r.summary["cost"]
    assert cost["usd_per_work_gpu_hour"] == pytest.approx(PER_HOUR * end / (2 * 8 * 10))
    productive = 8 * 10 + 8 * (2 * 2 + 8 / 0.5)  # wall hours of kept work: H100 10 h; A100 2 x 2 h + 16 h
    assert cost["usd_per_productive_gpu_hour"] == pytest.approx(PER_HOUR * end / productive)


def test_a_trace_class_has_the_trace_speeds(tmp_path: Path) -> None:
    """The same two jobs from a trace (class 'trace'), A100 at 0.32: work 2 x 8 x 10 GPU-hours."""
    (tmp_path / "t.csv").write_text("t,gpus,dur\n0,8,36000\n0,8,36000\n")
    columns = {"submit_time": "t", "gpus": "gpus", "duration": "dur"}
    data = two_types(0.32)
    data["workload"] = {"trace": {"path": "t.csv", "columns": columns, "speed": {"A100": 0.32}}}
    cost = run_data(data, base_dir=str(tmp_path)).summary["cost"]
    assert cost["usd_per_work_gpu_hour"] == pytest.approx(PER_HOUR * (10 / 0.32) / (2 * 8 * 10))
