"""Per-GPU-type speed: a job runs at its GPUs' speed over its class's reference, by hand.

One H100 node and one A100 node; two 8-GPU jobs of 10 h (on the reference type) start at
0, the first on the H100 node (first fit, scenario order), the second on the A100 node.
Speeds are dcsim's table unless a case sets them (H100 1, A100 0.32).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dcsim.cli import main
from dcsim.engine import DataCenterModel
from dcsim.infra.topology import GPU_SPEED
from dcsim.workload.jobs import Job

from conftest import build, run_data, tiny_data

H = 3600.0


def two_types(h100: dict[str, Any] | None = None, a100: dict[str, Any] | None = None, **job: Any) -> dict[str, Any]:
    spec = {"name": "train", "arrival": {"process": "batch", "at": 0}, "count": 2, "gpus": 8, "duration": "10h",
            **job}  # fmt: skip
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8, "gpu_type": "H100", **(h100 or {})}},
            {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 8, "gpu_type": "A100", **(a100 or {})}},
        ]}]},
        workload={"jobs": [spec]},
        policies={"scheduler": "fifo", "placement": "first_fit"},
    )  # fmt: skip


def run_hours(data: dict[str, Any]) -> list[float]:
    jobs = run_data(data).jobs
    return [(f - s) / H for s, f in zip(jobs["start_s"], jobs["finish_s"], strict=True)]


def test_a_slower_type_runs_the_job_longer_by_its_speed_ratio() -> None:
    assert run_hours(two_types()) == pytest.approx([10.0, 10.0 * GPU_SPEED["H100"] / GPU_SPEED["A100"]])


def test_a_class_speed_overrides_the_table() -> None:
    assert run_hours(two_types(speed={"A100": 0.5})) == pytest.approx([10.0, 10.0 / 0.5])


def test_a_node_gpu_speed_overrides_the_table() -> None:
    assert run_hours(two_types(a100={"gpu_speed": 0.8})) == pytest.approx([10.0, 10.0 / 0.8])


def test_durations_measured_on_a_slower_reference_run_shorter_on_faster_gpus() -> None:
    hours = run_hours(two_types(speed={"A100": 0.5}, speed_reference="A100"))
    assert hours == pytest.approx([10.0 * 0.5 / 1.0, 10.0])


def test_a_class_on_one_type_keeps_its_run_times() -> None:
    """Restricted to A100, the reference is A100: rate 1, today's 10 h (the second job waits for the node)."""
    jobs = run_data(two_types(gpu_types=["A100"])).jobs
    assert ((jobs["finish_s"] - jobs["start_s"]) / H).tolist() == [10.0, 10.0]
    assert jobs["start_s"].tolist() == [0.0, 10.0 * H]


def test_a_job_spanning_types_runs_at_its_slowest_gpu() -> None:
    model = DataCenterModel(build(two_types(count=1)))
    job = Job(0, "train", "default", 0, 8, 10 * H, 10 * H, 10 * H, 0.0, (0, 1))
    job.speeds = model.topology.pool_rates((0, 1), None, None)
    model.runs.start(job, [(0, 4), (1, 4)])
    assert job.rate == GPU_SPEED["A100"] / GPU_SPEED["H100"]


def test_the_run_lasts_until_the_slower_job_ends() -> None:
    """Same work either way; the A100 run holds its GPUs 1 / 0.32 times as long, so it uses more GPU-hours."""
    slow = run_data(two_types()).summary
    same = run_data(two_types(speed={"A100": 1.0})).summary
    assert slow["window"]["hours"] == pytest.approx(10.0 / GPU_SPEED["A100"])
    assert same["window"]["hours"] == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("job", "path", "words"),
    [
        ({"speed": {"B200": 2.0}}, "workload.jobs.0.speed", "no GPUs of type B200"),
        ({"speed": {"A100": -1}}, "workload.jobs.0.speed.A100", "must be > 0, got -1"),
        ({"speed_reference": "TPUv5"}, "workload.jobs.0.speed_reference", "speed of GPU type 'TPUv5' is not known"),
    ],
)
def test_bad_speeds_are_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], job: dict[str, Any], path: str, words: str
) -> None:
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(two_types(**job)), encoding="utf-8")
    assert main(["validate", str(file)]) == 2
    err = capsys.readouterr().err
    assert path in err and words.lower() in err.lower() and "Traceback" not in err


def test_sjf_orders_by_the_run_time_on_the_fastest_allowed_gpus() -> None:
    """Durations measured on A100 (the reference), H100 allowed: a job runs 1 / 0.32 faster there, and SJF says so."""
    from dcsim.policies.scheduling import ShortestJobFirst

    model = DataCenterModel(build(two_types(count=1)))
    sjf = ShortestJobFirst(ShortestJobFirst.Params(), None)
    job = Job(0, "train", "default", 0, 8, 10 * H, 10 * H, 10 * H, 0.0, (0, 1))
    assert sjf.key(job) == 10 * H
    job.speeds = model.topology.pool_rates((0, 1), None, "A100")
    assert sjf.key(job) == pytest.approx(10 * H * GPU_SPEED["A100"] / GPU_SPEED["H100"])


def test_the_lp_scheduler_prices_the_longer_run_on_slower_gpus() -> None:
    """Equal GPU-hour prices, A100 listed first: by the hour both cost the same, by the job the A100 costs
    1 / 0.32 times as much (it holds its GPUs that much longer), so the MILP starts the job on the H100."""
    data = two_types(count=1)
    groups = data["datacenter"]["sites"][0]["rack_groups"]
    groups.reverse()  # A100 first: first fit (and a speed-blind tie) would take it
    data["policies"] = {"scheduler": {"name": "lp", "params": {"cost_basis": "gpu_hour", "level": "pool"}},
                        "placement": "first_fit"}  # fmt: skip
    data["costs"] = {"gpu_hour_usd": {"H100": 2.0, "A100": 2.0}}
    jobs = run_data(data).jobs
    assert jobs["gpu_type"].tolist() == ["H100"]
    assert (jobs["finish_s"] - jobs["start_s"]).tolist() == [10 * H]


def test_the_reference_may_be_a_type_the_data_center_does_not_have() -> None:
    """Run times measured on an A40 (speed 0.3 given): on the H100 (1.0) a 10 h job takes 3 h."""
    data = two_types(count=1, gpu_types=["H100"], speed={"A40": 0.3}, speed_reference="A40")
    assert run_hours(data) == pytest.approx([10.0 * 0.3 / 1.0])


def test_the_offered_load_counts_the_speed_of_the_gpus_a_class_may_use() -> None:
    """0.1 jobs/h of 8 GPUs x 10 h on 8 H100 (rate 1) and 8 A100 (0.32): 8 GPU-hours of work per hour, done at
    a mean rate of (8 x 1 + 8 x 0.32) / 16 = 0.66, keep 8 / 0.66 GPUs busy; on the H100 alone (rate 1), 8."""
    from dcsim.workload.offered import offered_work

    poisson = {"arrival": {"process": "poisson", "rate": "0.1/h"}, "count": None}
    for extra, busy in (({}, 8 / ((8 * 1.0 + 8 * GPU_SPEED["A100"]) / 16)), ({"gpu_types": ["H100"]}, 8.0)):
        scenario = build({**two_types(**poisson, **extra), "horizon": "10d"})
        work = offered_work(scenario, DataCenterModel(scenario).topology)
        assert work.endless_gpus == pytest.approx(busy)


def test_validate_prints_the_speeds_of_a_mixed_fleet_and_the_defaults_of_unknown_types(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = two_types(a100={"gpu_type": "MI300X"})
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["validate", str(file)]) == 0
    out = capsys.readouterr().out
    assert "GPU speeds (H100 = 1; a class's own `speed` overrides them): H100 1, MI300X 1" not in out  # one speed
    assert "note: GPU type MI300X is not in dcsim's table" in out
    file.write_text(yaml.safe_dump(two_types()), encoding="utf-8")
    assert main(["validate", str(file)]) == 0
    assert f"H100 1, A100 {GPU_SPEED['A100']:g}" in capsys.readouterr().out
