"""Job constraints on GPU type and memory, and the messages of a few more bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcsim.core import units
from dcsim.core.errors import ScenarioError, TraceError
from dcsim.workload.distributions import read_csv_text

from conftest import build, run_data, tiny_data

MIXED = {
    "sites": [
        {
            "name": "dc1",
            "rack_groups": [
                {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "H100"}},
                {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "X40", "gpu_memory": "40GB"}},
            ],
        }
    ]
}


def job(**extra) -> dict:
    return {"name": "j", "arrival": {"process": "batch"}, "count": 6, "gpus": 8, "duration": "1h", **extra}


def test_min_gpu_memory_keeps_jobs_on_large_gpus() -> None:
    """Six whole-node jobs needing >= 80GB: only the two H100 nodes (80GB) qualify, so they run two at a time."""
    r = run_data(tiny_data(datacenter=MIXED, workload={"jobs": [job(min_gpu_memory="80GB")]}))
    assert set(r.jobs["gpu_type"]) == {"H100"}
    assert sorted(r.jobs["start_s"]) == [0.0, 0.0, 3600.0, 3600.0, 7200.0, 7200.0]


def test_without_a_memory_floor_jobs_use_every_pool() -> None:
    r = run_data(tiny_data(datacenter=MIXED, workload={"jobs": [job()]}))
    assert set(r.jobs["gpu_type"]) == {"H100", "X40"}
    assert sorted(r.jobs["start_s"]) == [0.0] * 4 + [3600.0] * 2


def test_unsatisfiable_memory_floor_is_reported_at_its_path() -> None:
    with pytest.raises(ScenarioError) as err:
        build(tiny_data(datacenter=MIXED, workload={"jobs": [job(min_gpu_memory="100GB")]}))
    paths = [p for p, _ in err.value.problems]
    assert "workload.jobs.0.min_gpu_memory" in paths
    assert "100GB" in err.value.format()


def test_warmup_not_shorter_than_horizon_is_reported_at_warmup() -> None:
    with pytest.raises(ScenarioError) as err:
        build(tiny_data(horizon="1h", warmup="2h"))
    assert err.value.problems[0][0] == "warmup"


def test_milliwatts_are_not_megawatts() -> None:
    assert units.power("2MW") == 2e6
    with pytest.raises(ValueError, match="unknown unit 'mW'"):
        units.power("5mW")


def test_ragged_csv_row_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(TraceError, match=r"t\.csv line 3: 4 fields but the header has 2"):
        read_csv_text(str(tmp_path / "t.csv"))


def test_ambiguous_units_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="is bits; sizes are in bytes: write 500GB"):
        units.size("500Gb")
    with pytest.raises(ValueError, match="ambiguous"):
        units.duration("1M")
    assert units.size("2KiB") == 2048.0


def test_scenario_hash_covers_the_trace_file_contents(tmp_path: Path) -> None:
    """Same YAML, different trace rows: different hash (results are keyed by inputs, not by file names)."""
    from dcsim.experiment.run import scenario_hash

    (tmp_path / "t.csv").write_text("t,gpus,dur\n0,1,10\n")
    data = tiny_data(workload={"trace": {"path": "t.csv", "columns": {"submit_time": "t", "gpus": "gpus",
                                                                     "duration": "dur"}}})  # fmt: skip
    first = scenario_hash(build(data, str(tmp_path)))
    (tmp_path / "t.csv").write_text("t,gpus,dur\n0,1,20\n")
    assert scenario_hash(build(data, str(tmp_path))) != first


def test_a_directory_given_as_a_data_file_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    data = tiny_data()
    data["workload"]["jobs"][0]["duration"] = {"dist": "empirical", "path": "d.csv", "column": "x"}
    with pytest.raises(ScenarioError, match="is a directory"):
        build(data, str(tmp_path))


def test_an_empirical_column_is_read_again_when_its_file_changes(tmp_path: Path) -> None:
    """Two runs in one process: the second sees the edited durations, and its manifest hashes them."""
    from dcsim.experiment.run import simulate

    csv = tmp_path / "d.csv"
    data = tiny_data()
    data["workload"]["jobs"][0]["duration"] = {"dist": "empirical", "path": "d.csv", "column": "run"}
    csv.write_text("run\n60\n")
    first = simulate(build(data, str(tmp_path)))
    csv.write_text("run\n7200\n")
    second = simulate(build(data, str(tmp_path)))
    assert set(first.jobs["duration_s"]) == {60.0}
    assert set(second.jobs["duration_s"]) == {7200.0}
    assert first.manifest()["data_files"] != second.manifest()["data_files"]
    assert first.manifest()["scenario_hash"] != second.manifest()["scenario_hash"]


def test_trace_classes_may_not_share_a_job_class_name(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("t,gpus,dur\n0,1,10\n")
    data = tiny_data()
    data["workload"]["trace"] = {"path": "t.csv", "name": "j", "columns": {"submit_time": "t", "gpus": "gpus",
                                                                           "duration": "dur"}}  # fmt: skip
    with pytest.raises(ScenarioError, match="share the name of a job class"):
        build(data, str(tmp_path))
    data["workload"]["trace"]["name"] = "replayed"
    assert build(data, str(tmp_path)).workload.trace is not None
