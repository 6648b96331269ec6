"""Bad reliability input: one message naming the field or line, exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import tiny_data


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dcsim", *args], cwd=cwd, capture_output=True, text=True)


def write(tmp_path: Path, **top: object) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny_data(**top)))
    return path


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("1,node:99,1\n", "line 2: no node 99"),
        ("1,gpu:0.9,1\n", "line 2: node 0 has GPUs 0..7, not 9"),
        ("1,pdu:1,1\n", "line 2: component 'pdu:1' should look like gpu:3.5, node:3, rack:1, site:dc1, link:7 or"),
        ("1,switch:99,1\n", "line 2: no switch 99: switches are 0..2"),  # 2 leaves and 1 spine
        ("1,node:0,1\nsoon,node:1,1\n", "line 3: time and duration must be numbers"),
        ("1,rack:0,0\n", "line 2: need time >= 0 and duration > 0"),
    ],
)
def test_bad_failure_trace_rows_name_their_line(tmp_path: Path, rows: str, expected: str) -> None:
    (tmp_path / "f.csv").write_text("time,component,duration\n" + rows)
    path = write(tmp_path, failures={"trace": {"path": "f.csv"}})
    out = run_cli("run", str(path), "--out", str(tmp_path / "res"), cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert expected in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ({"failures": {"node": {"mtbf": "1000h"}, "causes": [{"name": "node", "component": "node", "mtbf": "1h"}]}},
         "reserved"),
        ({"failures": {"causes": [{"name": "psu", "component": "pdu", "mtbf": "1h"}]}}, "failures.causes.0.component"),
        ({"failures": {"gpu": {"mtbf": "1000h", "per_type": {"B300": {"mtbf": "10h"}}}}},
         "failures.gpu.per_type: no GPUs of type B300"),
        ({"failures": {"node": {"mtbf": "1000h"}}, "repair": {"policy": "fastest"}}, "repair.policy"),
        ({"failures": {"node": {"mtbf": "1000h"}}, "repair": {"working_hours": {"start": "18h", "end": "8h"}}},
         "repair.working_hours"),
        ({"maintenance": [{"start": "1h", "duration": "1h", "scope": "rack", "units": [7]}]},
         "maintenance.0.units.0: rack ids are 0..1"),
        ({"failures": {"trace": {"path": "missing.csv"}}}, "failures.trace.path"),
    ],
)  # fmt: skip
def test_bad_reliability_blocks_name_the_field(tmp_path: Path, top: dict, expected: str) -> None:
    path = write(tmp_path, **top)
    out = run_cli("validate", str(path), cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert expected in text and "Traceback" not in text


def test_rerun_with_failures_replaces_the_earlier_run(tmp_path: Path) -> None:
    """A run with failures writes failures.parquet and plots; running it again replaces them."""
    path = write(tmp_path, horizon="20d", failures={"node": {"mtbf": "100h"}})
    for _ in range(2):
        out = run_cli("run", str(path), "--out", str(tmp_path / "res"), "--plots", "--csv", "--quiet", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
    assert (tmp_path / "res" / "failures.png").is_file() and (tmp_path / "res" / "failures.csv").is_file()


def test_compare_repair_policies(tmp_path: Path) -> None:
    path = write(tmp_path, horizon="20d", failures={"node": {"mtbf": "100h"}}, repair={"technicians": 1})
    out = run_cli("compare", str(path), "--policy", "repair=fifo,most_gpus_first", "--seeds", "2",
                  "--out", str(tmp_path / "c.csv"), cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "most_gpus_first" in out.stdout


def test_maintenance_rounds_must_not_overlap(tmp_path: Path) -> None:
    path = write(tmp_path, maintenance=[{"start": "1h", "duration": "2h", "scope": "rack", "every": "3h"}])
    out = run_cli("validate", str(path), cwd=tmp_path)
    assert out.returncode == 2
    assert "maintenance.0.every: 3.00 h is shorter than one round (2 x 2.00 h = 4.00 h)" in out.stdout + out.stderr


def test_trace_replacing_random_models_is_noted(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("time,component,duration\n10,node:0,60\n")
    path = write(tmp_path, failures={"node": {"mtbf": "100h"}, "trace": {"path": "f.csv"}})
    out = run_cli("run", str(path), "--out", str(tmp_path / "res"), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "the random models (node) were not used" in out.stdout
