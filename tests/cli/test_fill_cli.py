"""The fill experiment through the command line: run, plots, sweep, validate, bad input (exit 2, one message)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from dcsim.cli import main

from conftest import ROOT

SHARED_GPUS = ROOT / "scenarios" / "shared_gpus.yaml"


def small(tmp_path: Path, **top: Any) -> Path:
    """shared_gpus.yaml on 6 nodes, to 110 %, with ``top`` keys set."""
    data = yaml.safe_load(SHARED_GPUS.read_text(encoding="utf-8"))
    groups = data["datacenter"]["sites"][0]["rack_groups"]
    for g in groups:
        g["racks"], g["nodes_per_rack"] = 1, 2
    data["workload"]["fill"]["until"] = 1.1
    data["sweep"]["policies"]["placement"] = ["random", "fgd"]
    data["sweep"]["replications"] = 2
    data.update(top)
    path = tmp_path / "fill.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_run_writes_the_summary_table_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(small(tmp_path)), "--out", str(out), "--plots"]) == 0
    printed = capsys.readouterr().out
    assert "fill experiment" in printed and "GPU allocation rate at 100 % arrived" in printed
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    table = pd.read_parquet(out / "fill.parquet")
    assert len(table) == summary["fill"]["pods_arrived"]
    assert summary["fill"]["pods_placed"] == int(table["placed"].sum())
    assert summary["utilization"]["gpu_allocated"] == table["allocation_rate"].iloc[-1]
    assert (out / "fill.png").stat().st_size > 0


def test_sweep_draws_one_line_per_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str], figures: Any) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", str(small(tmp_path)), "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "pods arrived" in printed and "jobs submitted" not in printed  # the fill metrics, not the jobs'
    assert (out / "plots" / "fill_allocation.png").is_file()
    (fig,) = figures()
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith(("random", "fgd"))]
    assert sorted(ln.get_label().split(":")[0] for ln in lines) == ["fgd", "random"]
    runs = pd.read_parquet(out / "runs.parquet")
    for line in lines:  # each line: the mean over seeds of its policy's curve
        policy = line.get_label().split(":")[0]
        mine = runs[runs["policies.placement"] == policy]
        assert line.get_ydata()[-1] == pytest.approx(100 * mine["fill.allocation_rate_by_arrived.110"].mean())
    dashed = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--"]
    assert [list(ln.get_xdata()) for ln in dashed] == [[100, 100]]


def test_validate_says_what_the_fill_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(small(tmp_path))]) == 0
    assert "a fill experiment: pods of 4 kind(s) arrive and stay until their GPU requests reach 110 %" in (
        capsys.readouterr().out
    )


def test_a_horizon_beside_a_fill_is_exit_2_with_one_message(tmp_path: Path) -> None:
    """Through a real process: one message naming the field, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "dcsim", "run", str(small(tmp_path, horizon="2h"))],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2
    assert "horizon" in proc.stderr and "remove horizon" in proc.stderr
    assert "Traceback" not in proc.stderr and "pydantic" not in proc.stderr
    assert not (tmp_path / "results").exists()
