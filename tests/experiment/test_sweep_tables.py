"""What sweep and compare print and leave behind: tables of points that fit the terminal, --metric, no
folders from a command that failed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dcsim.cli import main
from dcsim.report.console import HEADLINE, format_estimate, render, sweep_table

from conftest import ROOT, poisson_file


def scenario_file(tmp_path: Path) -> Path:
    return poisson_file(tmp_path)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


# --------------------------------------------------------------------------- nothing written on failure
@pytest.mark.parametrize("command", ["sweep", "plan"])
def test_an_unreachable_scheduler_is_exit_2_and_leaves_no_folder(tmp_path: Path, command: str) -> None:
    out = tmp_path / "a" / "b"
    extra = {"sweep": ["--grid", "datacenter.sites.0.racks=2,3"],
             "plan": ["--vary", "datacenter.sites.0.racks", "--min", "2", "--max", "3",
                      "--target", "jobs.p95_wait_s<=3600"]}[command]  # fmt: skip
    address = f"tcp://127.0.0.1:{closed_port()}"
    cmd = [sys.executable, "-m", "dcsim", command, str(scenario_file(tmp_path)), *extra, "--replications", "2",
           "--out", str(out), "--executor", "dask", "--scheduler", address]  # fmt: skip
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}  # Dask's own setting: wait less
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr
    assert not (tmp_path / "a").exists()
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith(f"dcsim {command}: error: --scheduler {address}: no Dask scheduler answered"), error
    assert "Traceback" not in proc.stderr


def test_a_scheduler_address_that_is_no_address_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", str(scenario_file(tmp_path)), "--out", str(tmp_path / "s"), "--executor", "dask",
                 "--scheduler", "host:port"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "s").exists()
    assert "--scheduler host:port: not a scheduler address; give one such as tcp://host:8786" in err


def test_compare_whose_run_fails_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The second variant's plug-in raises in its first run: exit 2, and no results/ (default --out) at all."""
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    monkeypatch.chdir(tmp_path)
    path = scenario_file(tmp_path)
    code = main(["compare", str(path), "--policy", "placement=first_fit,plugins.toy_policies:Raises", "--seeds", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "oops" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_a_misspelled_metric_is_refused_before_any_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main([command, str(scenario_file(tmp_path)), "--metric", "jobs.p95_wait_s", "--metric", "jobs.p95_wiat_s"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith(f"dcsim {command}: error: --metric: 'jobs.p95_wiat_s' is not a metric of a run summary; "
                          "did you mean 'jobs.p95_wait_s'")  # fmt: skip
    assert len(err.strip().splitlines()) == 1
    assert out == "" and sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


# --------------------------------------------------------------------------- the tables
def test_an_estimate_is_in_the_metrics_unit_with_both_ends_in_one_unit() -> None:
    assert format_estimate(6.85 * 3600, 102 * 60, "seconds") == "6.85 h ±1.70 h"  # 102 min = 1.70 h
    assert format_estimate(90.0, 200.0, "seconds") == "1.5 min ±3.3 min"  # the larger end picks the unit
    assert format_estimate(0.8123, 0.031, "share") == "81.2 % ±3.1 %"
    assert format_estimate(4822.744, 13.351, "usd") == "$ 4,822.74 ±13.35"
    assert format_estimate(292.0, 26.2, "count") == "292.0 ±26.2"  # a mean of counts has a decimal
    assert format_estimate(-12.0, 3.0, "usd", signed=True) == "-$ 12.00 ±3.00"
    assert format_estimate(0.02, None, "share", signed=True) == "+2.0 %"
    assert format_estimate(None, None, "seconds") == format_estimate(float("nan"), 1.0, "share") == "-"
    assert format_estimate(float("inf"), 5.0, "seconds") == "inf ±5.0 s"  # no unit to share: each its own


def test_a_wide_table_wraps_into_blocks_that_fit_and_repeat_the_labels() -> None:
    head = ["point", *(f"metric number {i}" for i in range(9))]
    body = [[f"p{r}", *(f"{r}.{c} units" for c in range(9))] for r in range(3)]
    text = render(head, body, width=50, wrap=True)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 50
    blocks = text.split("\n\n")
    assert len(blocks) > 1
    for block in blocks:  # every block has every row, labelled
        assert [line.split()[0] for line in block.splitlines()[-3:]] == ["p0", "p1", "p2"]
    rows = [line for line in lines if line[:1] == "p" and line[1:2].isdigit()]
    cells = [cell for line in rows for cell in line.split("  ")[1:] if cell.strip()]
    assert sorted(c.strip() for c in cells) == sorted(c for row in body for c in row[1:])  # each value once
    assert render(head, body, width=1000).count("\n\n") == 0  # wide enough: one block


def test_tables_fit_the_terminal_and_are_whole_in_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    head = ["point", *(f"metric number {i}" for i in range(9))]
    body = [["p0", *(f"0.{c} units" for c in range(9))]]
    monkeypatch.setenv("COLUMNS", "50")
    assert max(len(line) for line in render(head, body).splitlines()) <= 50
    monkeypatch.delenv("COLUMNS")
    monkeypatch.setattr(shutil, "get_terminal_size", lambda fallback: os.terminal_size(fallback))  # no terminal
    assert "\n\n" not in render(head, body)


def _points(n: int) -> list[tuple[dict[str, str], dict[str, tuple[float | None, float | None]]]]:
    return [({"datacenter.sites.0.racks": str(r)}, {"jobs.p95_wait_s": (3600.0 * r, 360.0), "faults.failures": (0, 0),
             "utilization.gpu_allocated": (0.5 + r / 100, 0.01)}) for r in range(n)]  # fmt: skip


def test_the_sweep_table_has_a_row_per_point_and_turns_when_that_fits_better() -> None:
    many = sweep_table(["datacenter.sites.0.racks"], _points(12), width=80)
    rows = [line for line in many.splitlines() if line[:1].isdigit()]
    assert [r.split()[0] for r in rows] == [str(r) for r in range(12)]  # a row per point, in grid order
    assert rows[3].split("  ")[-1].strip() == "53.0 % ±1.0 %" and "3.00 h ±0.10 h" in rows[3]
    assert "racks = datacenter.sites.0.racks" in many
    assert "component failures" not in many and "headline metrics, 0 or absent" in many  # 0 everywhere
    chosen = sweep_table(["datacenter.sites.0.racks"], _points(12), ["faults.failures"], width=80)
    assert "component" in chosen and "0.0 ±0.0" in chosen and "left out" not in chosen  # asked for: shown
    # Two points and every headline metric: a row per point does not fit 80 columns; turned, it does.
    points = [(grid, {name: (1.0, None) for name, _, _ in HEADLINE}) for grid, _ in _points(2)]
    turned = sweep_table(["datacenter.sites.0.racks"], points, width=80)
    assert turned.splitlines()[0].split() == ["point:", "datacenter.sites.0.racks", "0", "1"]
    assert max(len(line) for line in turned.splitlines()) <= 80


def test_sweep_prints_its_points_and_compare_its_metrics_as_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    path = scenario_file(tmp_path)
    out = tmp_path / "s"
    code = main(["sweep", str(path), "--grid", "datacenter.sites.0.racks=2,3,4", "--replications", "2", "--out",
                 str(out), "--workers", "1", "--metric", "jobs.p95_wait_s", "--metric", "cost.total_usd"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert max(len(line) for line in printed.splitlines() if not line.startswith("runs: ")) <= 60
    points = pd.read_csv(out / "points.csv")
    for racks in (2, 3, 4):
        row = next(line for line in printed.splitlines() if line.split()[:1] == [str(racks)])
        for metric, kind in (("jobs.p95_wait_s", "seconds"), ("cost.total_usd", "usd")):
            p = points[(points["datacenter.sites.0.racks"] == racks) & (points["metric"] == metric)].iloc[0]
            assert format_estimate(p["mean"], (p["ci_high"] - p["ci_low"]) / 2, kind) in row, (metric, row)
    assert "GPU utilization" not in printed  # only the metrics asked for
    code = main(["compare", str(path), "--policy", "scheduler=fifo,sjf", "--seeds", "2", "--out",
                 str(tmp_path / "c.csv"), "--metric", "cost.total_usd", "--metric", "jobs.p95_wait_s"])  # fmt: skip
    printed = capsys.readouterr().out
    labels = [line.split("  ")[0] for line in printed.splitlines() if line.startswith(("p95", "total", "GPU"))]
    assert code == 0 and labels == ["total cost", "p95 wait"] * 2  # in the order asked, in both tables
