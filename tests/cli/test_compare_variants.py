"""dcsim compare: variants switch policies cleanly and name what they vary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from dcsim.cli import main

SCENARIO = {
    "name": "cmp",
    "horizon": "2d",
    "datacenter": {"sites": [{"name": "dc1", "racks": 2, "nodes_per_rack": 4}]},
    "workload": {"jobs": [{"name": "j", "arrival": {"process": "poisson", "rate": "12/h"},
                           "gpus": {"values": [1, 2, 4, 8, 16]}, "duration": {"dist": "exponential", "mean": "1h"}}]},
    "policies": {"scheduler": {"name": "fifo", "params": {"backfill": True}},
                 "placement": {"name": "best_fit", "params": {"gpu_weight": 1}}},
}  # fmt: skip


def run_compare(tmp_path: Path, *args: str) -> pd.DataFrame:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    assert main(["compare", str(path), *args, "--seeds", "2", "--out", str(tmp_path / "c.csv")]) == 0
    return pd.read_csv(tmp_path / "c.csv")


def test_policy_variants_drop_params_that_mean_something_else(tmp_path: Path) -> None:
    """best_fit's gpu_weight=1 must not make worst_fit pack, nor break first_fit (which has no params)."""
    table = run_compare(tmp_path, "--policy", "placement=best_fit,worst_fit,first_fit")
    waits = table.groupby("variant")["jobs.mean_wait_s"].mean()
    assert set(waits.index) == {"best_fit", "worst_fit", "first_fit"}
    assert waits["best_fit"] != waits["worst_fit"]
    assert list(table["set:policies.placement"]) == ["best_fit"] * 2 + ["worst_fit"] * 2 + ["first_fit"] * 2


def test_policy_variants_keep_shared_params(tmp_path: Path) -> None:
    """backfill (same knob, same default in every scheduler) carries over: sjf with backfill differs from without."""
    with_backfill = run_compare(tmp_path, "--policy", "scheduler=fifo,sjf")
    SCENARIO["policies"]["scheduler"] = "fifo"
    try:
        without = run_compare(tmp_path, "--policy", "scheduler=fifo,sjf")
    finally:
        SCENARIO["policies"]["scheduler"] = {"name": "fifo", "params": {"backfill": True}}
    a = with_backfill[with_backfill["variant"] == "sjf"]["jobs.mean_wait_s"].to_numpy()
    b = without[without["variant"] == "sjf"]["jobs.mean_wait_s"].to_numpy()
    assert (a != b).any()


def test_repeated_seeds_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    assert main(["compare", str(path), "--policy", "scheduler=fifo,sjf", "--seed-list", "1,1"]) == 2


def test_compare_out_naming_a_folder_is_refused_before_any_run(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    assert main(["compare", str(path), "--seeds", "1", "--out", str(tmp_path / "newdir") + "/"]) == 2
    assert not (tmp_path / "newdir").exists()


def test_compare_out_never_overwrites_a_file_it_did_not_write(tmp_path: Path) -> None:
    """Not even the scenario itself; an earlier compare table may be replaced."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    before = path.read_text()
    assert main(["compare", str(path), "--seeds", "1", "--out", str(path)]) == 2
    assert path.read_text() == before
    table = tmp_path / "c.csv"
    assert main(["compare", str(path), "--seeds", "1", "--out", str(table)]) == 0
    assert main(["compare", str(path), "--seeds", "1", "--out", str(table)]) == 0  # replaces its own table
