"""SWF traces (the Parallel Workloads Archive's Standard Workload Format) as a `workload.trace` format.

The fixture is written here in the format's own shape: ``;`` header comments, 18
whitespace-separated fields a line, -1 for unknown. Expected values are worked out by
hand from the lines below and the mapping in :mod:`dcsim.workload.swf`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from dcsim.cli import main
from dcsim.scenario.load import load_scenario
from dcsim.workload.trace import read_trace

from conftest import SHARED

HEADER = """; Version: 2.2
; Computer: a test machine
; UnixStartTime: 1000000000
; MaxJobs: 7
; MaxRecords: 8
; MaxNodes: 4
; MaxProcs: 16
; Note: written by the dcsim tests
"""


def swf_line(job: int, submit: float, run: float, alloc: int, req_time: float = -1, status: int = 1,
             user: int = -1, req_procs: int = -1) -> str:  # fmt: skip
    """One SWF line: the 18 fields, -1 where a test does not care."""
    fields = [job, submit, -1, run, alloc, -1, -1, req_procs, req_time, -1, status, user, -1, -1, -1, -1, -1, -1]
    return "  ".join(str(v) for v in fields)


#: The fixture's lines after the header (line 9 on). Job 3 has a summary line (status 1)
#: and its two partial executions (status 2 and 3): the partial lines are dropped.
LINES = [
    swf_line(1, 0, 100, 8, req_time=150, user=7),  # line 9: 8 processors, asks 150 s
    swf_line(2, 10, 50, 4, user=9, status=0),  # line 10: failed after 50 s; no requested time
    swf_line(3, 20, 30, -1, req_time=20, req_procs=2, user=7),  # line 11: allocated unknown: requested 2
    swf_line(3, 20, 10, 2, status=2, user=7),  # line 12: partial execution (dropped)
    swf_line(3, 40, 20, 2, status=3, user=7),  # line 13: last partial execution (dropped)
    swf_line(4, 25, -1, 8, status=5, user=9),  # line 14: cancelled in the queue (dropped)
    swf_line(5, 30, 0, 1, user=9),  # line 15: ran 0 s (dropped)
    swf_line(6, 35, 40, 16, status=5),  # line 16: cancelled after 40 s, user unknown
    swf_line(7, 36, 5, -1),  # line 17: no processor count (dropped)
]


def write_swf(path: Path, lines: list[str] | None = None, header: str = HEADER) -> Path:
    """Write an SWF file of ``header`` and ``lines`` (default: :data:`LINES`), with a blank line and a comment."""
    body = list(LINES if lines is None else lines)
    path.write_text(header + "\n".join(body[:2]) + "\n\n;  a comment between jobs\n" + "\n".join(body[2:]) + "\n")
    return path


def scenario(tmp_path: Path, gpus: int = 8, **trace: Any) -> Path:
    """A one-node data center of ``gpus`` GPUs replaying ``trace.swf`` under fifo, until it drains."""
    data = {
        "name": "swf",
        "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": gpus}}]},
        "workload": {"trace": {"path": "trace.swf", "format": "swf", **trace}},
        "policies": {"scheduler": "fifo", "placement": "first_fit"},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_bad_input(code: int, err: str, command: str) -> None:
    """Exit 2, one ``dcsim <command>: error:`` message, no Python or pydantic wording."""
    assert code == 2, err
    assert err.startswith(f"dcsim {command}: error: ") and err.count("error:") == 1, err
    assert not [w for w in ("Traceback", "Input should be", "Value error", "pydantic", "[type=") if w in err], err


def test_fields_map_to_jobs_and_what_is_dropped_is_counted(tmp_path: Path) -> None:
    write_swf(tmp_path / "trace.swf")
    sc = load_scenario(str(scenario(tmp_path, gpus=4, processors_per_gpu=4, tenant_from="user")))
    table = read_trace(sc.workload.trace, sc.base_dir)
    # kept: jobs 1, 2, 3 (its summary line), 6; in submit order
    assert [int(x) for x in table.ids.to_pylist()] == [1, 2, 3, 6]
    assert table.submit_time.tolist() == [0, 10, 20, 35]
    assert table.duration.tolist() == [100, 50, 30, 40]
    assert table.estimate.tolist() == [150, 50, 20, 40]  # -1 requested time: the run time
    assert table.gpus.tolist() == [2, 1, 1, 4]  # ceil(8/4), ceil(4/4), ceil(2/4) (requested 2), ceil(16/4)
    assert [table.tenant_names[t] for t in table.tenant] == ["user7", "user9", "user7", "default"]
    assert [table.line(i) for i in range(4)] == [9, 10, 13, 18]  # +2: the blank line and the comment
    notes = " | ".join(table.notes)
    assert "4 of 9 SWF jobs kept (2 completed, 1 failed, 1 cancelled)" in notes
    assert "2 partial-execution lines" in notes and "2 jobs that never ran" in notes
    assert "1 job without a processor count" in notes
    assert "2 jobs have no requested time" in notes and "1 job ran longer than requested" in notes
    assert "MaxProcs is 16: that machine is 4 GPUs" in notes


def test_processors_scale_up_to_gpus(tmp_path: Path) -> None:
    write_swf(tmp_path / "trace.swf")
    sc = load_scenario(str(scenario(tmp_path, gpus=128, gpus_per_processor=8)))
    table = read_trace(sc.workload.trace, sc.base_dir)
    assert table.gpus.tolist() == [64, 32, 16, 128]
    assert table.tenant_names == ["default"]  # no tenant_from: one tenant


def test_a_run_replays_the_kept_jobs_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """16 GPUs, one per processor, fifo: job 1 (8 GPUs) runs 0-100; 2 (4 GPUs) 10-60 and 3 (2 GPUs)
    20-50 beside it; 6 (16 GPUs, cancelled after 40 s) waits for the whole node: 100-140."""
    write_swf(tmp_path / "trace.swf")
    path = scenario(tmp_path, gpus=16)
    code, _, err = cli(capsys, "run", path, "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    jobs = pq.read_table(tmp_path / "out" / "jobs.parquet").to_pandas().set_index("trace_id")
    assert jobs.loc[["1", "2", "3", "6"], "start_s"].tolist() == [0, 10, 20, 100]
    assert jobs.loc[["1", "2", "3", "6"], "finish_s"].tolist() == [100, 60, 50, 140]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["jobs"]["submitted"] == 4 and summary["jobs"]["completed"] == 4
    assert any("2 partial-execution lines" in n for n in summary["notes"])
    assert summary["notes"][0].startswith("trace.swf: 4 of 9 SWF jobs kept")  # as the scenario names the file


def test_validate_prints_what_was_dropped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_swf(tmp_path / "trace.swf")
    code, out, err = cli(capsys, "validate", scenario(tmp_path, gpus=16))
    assert code == 0, err
    assert "note: " in out and "4 of 9 SWF jobs kept" in out and "dropped 2 partial-execution lines" in out


def _bad(tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], command: str = "validate") -> str:
    write_swf(tmp_path / "trace.swf", lines)
    argv = [command, scenario(tmp_path, gpus=16)] + (["--out", tmp_path / "out"] if command == "run" else [])
    code, _, err = cli(capsys, *argv)
    assert_bad_input(code, err, command)
    assert "trace.swf" in err
    return err


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1 0 -1 100 8", r"line 10: 5 fields; an SWF line has 18"),
        (swf_line(9, 0, 100, 8) + " 7", r"line 10: 19 fields"),
        (swf_line(9, 0, 100, 8).replace(" 100 ", " ten "), r"line 10: field 4 \(run time\) is 'ten'; it must be a"),
        (swf_line(9, 0, -5, 8), r"line 10: field 4 \(run time\) is '-5'; it must be a number >= 0 \(s\), or -1"),
        (swf_line(9, -3, 100, 8), r"line 10: field 2 \(submit time\) is '-3'"),
        (swf_line(9, 0, 100, 2.5), r"line 10: field 5 \(allocated processors\) is '2.5'; it must be a whole number"),
        (swf_line(9, 0, 100, 8, status=7), r"line 10: field 11 \(status\) is '7'; it must be one of -1, 0, 1"),
        (swf_line(1, 5, 100, 8), r"lines 9 and 10: job number 1 twice"),
    ],
)  # fmt: skip
def test_a_bad_line_is_named_with_its_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, expected: str
) -> None:
    """Line 9 is good; line 10 is broken one way each (the header is lines 1-8)."""
    err = _bad(tmp_path, capsys, [LINES[0], line])
    assert re.search(expected, err), err


def test_a_bad_line_stops_a_run_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _bad(tmp_path, capsys, [LINES[0], swf_line(9, 0, 100, 8, status=9)], "run")
    assert "line 10: field 11 (status)" in err
    assert not (tmp_path / "out").exists()


def test_a_bad_user_id_is_refused_only_when_it_names_tenants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_swf(tmp_path / "trace.swf", [LINES[0], swf_line(9, 0, 100, 8, user=-4)])
    code, _, err = cli(capsys, "validate", scenario(tmp_path, gpus=16))
    assert code == 0, err  # the user field is not read
    code, _, err = cli(capsys, "validate", scenario(tmp_path, gpus=16, tenant_from="user"))
    assert_bad_input(code, err, "validate")
    assert "line 10: field 12 (user id) is '-4'" in err


def test_a_file_of_nothing_to_run_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _bad(tmp_path, capsys, [swf_line(1, 0, -1, 8, status=5), swf_line(2, 0, 0, 8, status=0)])
    assert "no job to run: all 2 lines were dropped" in err and "2 jobs that never ran" in err
    write_swf(tmp_path / "trace.swf", [])
    code, _, err = cli(capsys, "validate", tmp_path / "s.yaml")
    assert_bad_input(code, err, "validate")
    assert "no jobs" in err


def test_a_job_bigger_than_the_cluster_names_its_file_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_swf(tmp_path / "trace.swf")
    code, _, err = cli(capsys, "validate", scenario(tmp_path, gpus=8))
    assert_bad_input(code, err, "validate")
    assert "trace.swf line 18: 16 GPUs > the largest pool" in err  # job 6, after the blank line and comment


@pytest.mark.parametrize(
    ("trace", "expected"),
    [
        ({"columns": {"submit_time": "a", "gpus": "b", "duration": "c"}}, "an SWF trace has fixed fields"),
        ({"time_unit": "m"}, "an SWF trace's times are in seconds"),
        ({"format": "csv", "tenant_from": "user"}, "`columns` is required for a CSV trace"),
        ({"format": "csv", "columns": {"submit_time": "a", "gpus": "b", "duration": "c"}, "processors_per_gpu": 2},
         "processors_per_gpu is read only from an SWF trace"),
        ({"processors_per_gpu": 0}, "workload.trace.processors_per_gpu"),
    ],
)  # fmt: skip
def test_fields_of_the_other_format_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trace: dict[str, Any], expected: str
) -> None:
    write_swf(tmp_path / "trace.swf")
    code, _, err = cli(capsys, "validate", scenario(tmp_path, gpus=16, **trace))
    assert_bad_input(code, err, "validate")
    assert expected in err, err


LUBLIN = SHARED / "traces" / "swf-lublin256" / "lublin_256.swf"


@pytest.mark.skipif(not LUBLIN.exists(), reason="../shared/traces/swf-lublin256/ is not beside this clone")
def test_the_lublin_256_model_runs_through(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Lublin and Feitelson's model of a 256-processor machine, 10,000 jobs: every job kept and run.

    The work the run reports is checked against an independent parse of the file (numpy's
    text reader), not against dcsim's reader.
    """
    fields = np.loadtxt(LUBLIN, comments=";")
    assert fields.shape == (10_000, 18)
    data = {
        "name": "lublin", "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "racks": 4, "nodes_per_rack": 8, "node": {"gpus": 8}}]},
        "workload": {"trace": {"path": str(LUBLIN), "format": "swf"}},
        "policies": {"scheduler": "fifo", "placement": "first_fit"},
    }  # fmt: skip
    path = tmp_path / "lublin.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, _, err = cli(capsys, "run", path, "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    jobs = pq.read_table(tmp_path / "out" / "jobs.parquet", columns=["trace_id", "gpus", "start_s", "finish_s"])
    jobs = jobs.to_pandas().sort_values("trace_id", key=lambda s: s.astype(int))
    assert len(jobs) == 10_000 and jobs["trace_id"].astype(int).tolist() == fields[:, 0].astype(int).tolist()
    assert jobs["gpus"].tolist() == fields[:, 4].astype(int).tolist()  # allocated processors, one GPU each
    assert np.allclose((jobs["finish_s"] - jobs["start_s"]).to_numpy(), fields[:, 3])  # no failures: run times
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["jobs"]["completed"] == 10_000


def test_a_resolved_swf_scenario_validates_again_to_itself(tmp_path: Path) -> None:
    """A sweep re-validates each run's resolved scenario, every default written out (columns: null among them)."""
    from dcsim.experiment.run import scenario_json
    from dcsim.scenario.load import scenario_from_data

    write_swf(tmp_path / "trace.swf")
    sc = load_scenario(str(scenario(tmp_path, gpus=16, tenant_from="group")))
    assert scenario_from_data(scenario_json(sc), sc.base_dir) == sc


def test_lines_out_of_submit_order_are_sorted_and_keep_their_ids_and_lines(tmp_path: Path) -> None:
    write_swf(tmp_path / "trace.swf", [swf_line(1, 10, 5, 1), swf_line(2, 5, 6, 2), swf_line(3, 5, 7, 3)])
    sc = load_scenario(str(scenario(tmp_path, gpus=16)))
    table = read_trace(sc.workload.trace, sc.base_dir)
    assert table.submit_time.tolist() == [5, 5, 10] and table.duration.tolist() == [6, 7, 5]
    assert table.gpus.tolist() == [2, 3, 1]
    assert table.ids.take(table.rows).to_pylist() == ["2", "3", "1"]  # ties keep the file's order
    assert [table.line(i) for i in range(3)] == [10, 13, 9]  # the blank line and comment come after line 10
