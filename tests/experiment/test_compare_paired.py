"""`dcsim compare` with a baseline: paired differences by seed, their t intervals and significance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from dcsim.experiment.compare import compare, paired_differences, parse_axis

from conftest import poisson_file


def scenario(tmp_path: Path) -> Path:
    return poisson_file(tmp_path, "3d", "5/h")


def test_differences_are_paired_by_seed_with_t_intervals(tmp_path: Path) -> None:
    """2 racks against 1: the same arrivals (submitted: difference exactly 0, not significant); waits
    drop at every seed (significant). The interval is scipy's on the per-seed differences."""
    table = compare(str(scenario(tmp_path)), [parse_axis("datacenter.sites.0.racks=1,2", False)], [1, 2, 3, 4, 5])
    ((label, diffs),) = paired_differences(table, "1")
    assert label == "2"
    assert diffs["jobs.submitted"] == (0.0, 0.0, False)
    one = table[table["variant"] == "1"].set_index("seed")["jobs.mean_wait_s"]
    two = table[table["variant"] == "2"].set_index("seed")["jobs.mean_wait_s"]
    d = (two - one).to_numpy()
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    mean, half, significant = diffs["jobs.mean_wait_s"]
    assert mean == pytest.approx(d.mean()) and half == pytest.approx((high - low) / 2)
    assert significant == (high < 0 or low > 0)
    assert np.all(d < 0) and significant  # twice the GPUs: every seed waits less


def test_identical_variants_differ_by_nothing(tmp_path: Path) -> None:
    table = compare(str(scenario(tmp_path)), [parse_axis("workload.jobs.0.arrival.rate=5/h,5.0/h", False)], [1, 2, 3])
    ((_, diffs),) = paired_differences(table, "5/h")
    assert all(v[0] in (0.0, None) and not v[2] for v in diffs.values())


def test_cli_names_a_bad_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dcsim.cli import main

    code = main(["compare", str(scenario(tmp_path)), "--vary", "datacenter.sites.0.racks=1,2", "--seeds", "2",
                 "--baseline", "3", "--out", str(tmp_path / "c.csv")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--baseline '3'" in err and "1, 2" in err
    code = main(["compare", str(scenario(tmp_path)), "--vary", "datacenter.sites.0.racks=1,2", "--seeds", "2",
                 "--baseline", "2", "--out", str(tmp_path / "c.csv")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "minus 2" in out and "paired by seed" in out
