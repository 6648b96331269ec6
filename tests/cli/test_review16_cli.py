"""Review of issue 16 through the CLI: failing tests mark bugs found (each `# BUG:`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from dcsim.cli import main


def _fill(**top: Any) -> dict[str, Any]:
    """Four 8-GPU nodes and a fill of half shares (2 cores each)."""
    data: dict[str, Any] = {
        "name": "review",
        "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": 4, "node": {"gpus": 8, "cpu": 96, "memory": "512GB"}}]}]},
        "workload": {"fill": {"pods": [{"share": 1, "gpus": 1, "gpu_fraction": 0.5, "cpu": 2}]}},
    }  # fmt: skip
    data.update(top)
    return data


class _Out(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: dict[str, Any]) -> _Out:
    """``dcsim run`` in-process (an uncaught exception, a traceback in a real process, fails the test)."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    return _Out(code, out, err)


def _refused(out: _Out, tmp_path: Path, field: str) -> None:
    """Exit 2, one message naming ``field``, no traceback, nothing written."""
    assert out.returncode == 2, out.stdout[-400:] + out.stderr[-400:]
    assert "Traceback" not in out.stderr and "pydantic" not in out.stderr.lower()
    problems = [line for line in out.stderr.splitlines() if line.startswith("  ")]
    assert len(problems) == 1 and problems[0].lstrip().startswith(field), out.stderr
    assert not (tmp_path / "out").exists()


# BUG: a fill pod's gpu_fraction below 0.0005 rounds to 0 milli-GPU (Demand.of) and the size check divides by
# the mean request 0: a ZeroDivisionError traceback (dcsim/scenario/fill_checks.py:134), not exit 2.
def test_a_fill_share_below_one_milli_gpu_exits_2_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _fill()
    data["workload"]["fill"]["pods"][0]["gpu_fraction"] = 0.0001
    _refused(_run(capsys, tmp_path, data), tmp_path, "workload.fill.pods.0.gpu_fraction")


# BUG: a job class's gpu_fraction below 0.0005 validates and runs as a zero demand on a GPU (gpus 1,
# gpu_milli 0: dcsim/infra/shares.py:61 rounds it away), so any number of such jobs share one GPU for free.
def test_an_event_share_below_one_milli_gpu_exits_2_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = {
        "name": "review",
        "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 1, "cpu": 16, "memory": "64GB"}}]}]},
        "workload": {"jobs": [{"name": "a", "arrival": {"process": "periodic", "interval": "1h"}, "count": 3,
                               "duration": "1h", "gpus": 1, "gpu_fraction": 0.0001}]},
    }  # fmt: skip
    _refused(_run(capsys, tmp_path, data), tmp_path, "workload.jobs.0.gpu_fraction")


# BUG: a fill run silently ignores blocks it cannot honour beyond those fill_checks._refused lists
# (dcsim/scenario/fill_checks.py:17-42): costs (no cost in its summary), metrics.sample_interval (no time
# series), start (no clock), preemption (no queue), and the scheduler's params when its name is fifo.
@pytest.mark.parametrize(
    ("block", "value"),
    [
        ("costs", {"gpu_hour_usd": 2.0, "cpu_core_hour_usd": 0.05}),
        ("metrics", {"sample_interval": "1m"}),
        ("start", "2024-03-04T00:00Z"),
        ("preemption", {"within_tenant": "lower_priority"}),
        ("policies", {"scheduler": {"name": "fifo", "params": {"backfill": True}}}),
    ],
)
def test_a_fill_run_refuses_a_block_it_ignores(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, block: str, value: Any
) -> None:
    _refused(_run(capsys, tmp_path, _fill(**{block: value})), tmp_path, block)


# BUG: a fill pod shape that no node can ever hold (9 GPUs on 8-GPU nodes, 1,000 cores on 96-core ones) runs,
# every such pod counted as failed, while an event run refuses the same request with exit 2
# (dcsim/scenario/fill_checks.py:81-120 checks GPU types and declared cpu/memory, not size).
@pytest.mark.parametrize(("change", "field"), [({"gpus": 9}, "gpus"), ({"cpu": 1000}, "cpu")])
def test_a_fill_shape_no_node_can_hold_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    data = _fill()
    data["workload"]["fill"]["pods"] = [{"share": 1, "gpus": 1, "cpu": 2}, {"share": 1, "gpus": 1, "cpu": 2, **change}]
    if "gpus" in change:
        data["workload"]["fill"]["pods"][1].pop("gpu_fraction", None)
    out = _run(capsys, tmp_path, data)
    _refused(out, tmp_path, "workload.fill.pods.1")
    assert field in out.stderr


# BUG: a trace job asking for more CPU (or memory) than any node holds validates and runs, never starts, and
# blocks the FIFO queue behind it (nothing completes, exit 0); a whole-GPU trace row larger than every pool
# is exit 2 naming its line, and so is a job class asking too much CPU, but sharing_problems checks the
# classes and services only, not the trace's rows (dcsim/scenario/sharing_checks.py:13-41).
@pytest.mark.parametrize("row", ["0,1,3600,200,8e9,0.5", "0,1,3600,2,200e9,0.5"])
def test_a_trace_row_no_node_can_hold_exits_2_naming_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, row: str
) -> None:
    (tmp_path / "t.csv").write_text(f"t,g,d,c,m,f\n{row}\n0,1,60,1,1e9,0.25\n")
    data = {
        "name": "review",
        "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 2, "cpu": 16, "memory": "64GB"}}]}]},
        "workload": {"trace": {"path": "t.csv", "columns": {"submit_time": "t", "gpus": "g", "duration": "d",
                                                            "cpu": "c", "memory": "m", "gpu_fraction": "f"}}},
    }  # fmt: skip
    out = _run(capsys, tmp_path, data)
    _refused(out, tmp_path, "workload.trace")
    assert "t.csv line 2" in out.stderr


# BUG: a trace row's gpu_fraction below 0.0005 is accepted and rounds to a zero demand on a GPU
# (dcsim/engine/sharing.py:99, np.rint), as a class's does.
def test_a_trace_share_below_one_milli_gpu_exits_2_naming_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "t.csv").write_text("t,g,d,f\n0,1,3600,0.0001\n")
    data = {
        "name": "review",
        "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": 1, "cpu": 16}}]}]},
        "workload": {"trace": {"path": "t.csv", "columns": {"submit_time": "t", "gpus": "g", "duration": "d",
                                                            "gpu_fraction": "f"}}},
    }  # fmt: skip
    out = _run(capsys, tmp_path, data)
    _refused(out, tmp_path, "workload.trace")
    assert "t.csv line 2" in out.stderr


# BUG: a bad {values, weights} choice in the new union fields gives two messages, the first a misleading
# "expected a number, got a mapping with keys values, weights": gpu_fraction of a job class
# (dcsim/workload/spec.py:285) and of a fill pod (:486), and a fill pod's gpus (:483) are plain unions
# (number | choice); a job class's gpus (GpuCount, :143) picks its branch first and gives one message.
@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        ("jobs", "gpu_fraction", {"values": [0.5, 0.25], "weights": [-1, 2]}),
        ("fill", "gpu_fraction", {"values": [0.5, 0.25], "weights": [-1, 2]}),
        ("fill", "gpus", {"values": [1, 2], "weights": [1]}),
    ],
)
def test_a_bad_choice_of_a_share_or_a_pods_gpus_is_one_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str, field: str, value: dict[str, Any]
) -> None:
    data = _fill()
    if where == "jobs":
        data["workload"] = {"jobs": [{"name": "a", "arrival": {"process": "periodic", "interval": "1h"}, "count": 3,
                                      "duration": "1h", "gpus": 1, field: value}]}  # fmt: skip
        path = f"workload.jobs.0.{field}"
    else:
        pod = data["workload"]["fill"]["pods"][0]
        if field == "gpus":
            pod.pop("gpu_fraction")
        pod[field] = value
        path = f"workload.fill.pods.0.{field}"
    out = _run(capsys, tmp_path, data)
    _refused(out, tmp_path, path)
    assert "got a mapping" not in out.stderr
