"""Determinism and common random numbers (CRN).

A run is a function of (scenario, seed): the same pair gives the same bytes. Every
source of randomness draws from its own named stream, so a policy change, a longer
horizon, a larger count or another job class never shifts the arrival, size and
duration draws of a class: comparisons between policies see the same jobs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from dcsim.experiment.results import write_results
from dcsim.experiment.run import RunResult, summary_json

from conftest import run_data, tiny_data

DRAWS = ["job_class", "tenant", "priority", "submit_s", "gpus", "duration_s", "estimate_s"]
"""Jobs-table columns fixed by the workload's random streams, whatever the policy."""

SCHEDULERS: list[Any] = ["fifo", "sjf", "priority", {"name": "fifo", "params": {"backfill": True}}]
PLACEMENTS = ["first_fit", "best_fit", "worst_fit", "rack_pack"]


def loaded_data(**top: Any) -> dict[str, Any]:
    """Two classes on 32 GPUs offering 87% GPU load (5/h x 11/6 x 2 h + 0.2/h x 12 x 4 h = 27.9 GPUs).

    ``small``: 1-4 GPUs, log-normal run times declared with error; ``large``: 8-16 GPU
    multi-node gangs with Weibull run times and a higher priority.
    """
    data = tiny_data(
        workload={"jobs": [
            {"name": "small", "arrival": {"process": "poisson", "rate": "5/h"},
             "gpus": {"dist": "choice", "values": [1, 2, 4], "weights": [3, 2, 1]},
             "duration": {"dist": "lognormal", "mean": "2h", "sigma": 1.0},
             "estimate_error": 0.5, "tenant": "research"},
            {"name": "large", "arrival": {"process": "poisson", "rate": "0.2/h"},
             "gpus": {"dist": "choice", "values": [8, 16]},
             "duration": {"dist": "weibull", "mean": "4h", "shape": 0.7},
             "priority": 5, "tenant": "prod"},
        ]},
        horizon="300h",
        warmup="20h",
    )  # fmt: skip
    data.update(top)
    return data


def with_policies(data: dict[str, Any], scheduler: Any, placement: str) -> dict[str, Any]:
    return {**data, "policies": {"scheduler": scheduler, "placement": placement}}


def assert_same_draws(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a[DRAWS].reset_index(drop=True), b[DRAWS].reset_index(drop=True))


# ---------------------------------------------------------------------------- same seed, same bytes


def test_same_seed_gives_identical_summary_and_tables() -> None:
    """Two runs of one scenario and seed: identical summary.json text, jobs and timeseries."""
    data = loaded_data()
    first, second = run_data(data, seed=7), run_data(data, seed=7)
    assert summary_json(first.summary) == summary_json(second.summary)
    pd.testing.assert_frame_equal(first.jobs, second.jobs)
    pd.testing.assert_frame_equal(first.timeseries, second.timeseries)


def test_written_results_are_identical_for_the_same_seed(tmp_path: Path) -> None:
    """write_results of two same-seed runs: byte-identical summary.json, equal parquet tables.

    (manifest.json records wall time and creation time, so it is not compared.)
    """
    data = loaded_data()
    dirs = [write_results(run_data(data, seed=7), str(tmp_path / name)) for name in ("a", "b")]
    a, b = (Path(d) for d in dirs)
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    for table in ("jobs.parquet", "timeseries.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / table), pd.read_parquet(b / table))


def test_runs_in_separate_processes_agree_whatever_the_hash_seed(tmp_path: Path) -> None:
    """`dcsim run` under two PYTHONHASHSEEDs writes the summary.json of an in-process run.

    String hashing (set and dict-of-set order) must not leak into results.
    """
    data = loaded_data(horizon="100h")
    scenario = tmp_path / "loaded.yaml"
    scenario.write_text(yaml.safe_dump(data))
    expected = summary_json(run_data(data, seed=11, base_dir=str(tmp_path)).summary)
    for hash_seed in ("1", "2"):
        out = tmp_path / f"out{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [sys.executable, "-m", "dcsim.cli", "run", str(scenario), "--seed", "11", "--out", str(out), "--quiet"],
            check=True, env=env, cwd=tmp_path,
        )  # fmt: skip
        assert (out / "summary.json").read_text(encoding="utf-8") == expected


# ---------------------------------------------------------------------------- CRN across policies


@pytest.fixture(scope="module")
def policy_runs() -> dict[tuple[str, str], RunResult]:
    """The loaded scenario under every scheduler (first fit) and every placement (FIFO), seed 3."""
    data = loaded_data()
    runs = {}
    for scheduler in SCHEDULERS:
        runs[(str(scheduler), "first_fit")] = run_data(with_policies(data, scheduler, "first_fit"), seed=3)
    for placement in PLACEMENTS:
        runs[("fifo", placement)] = run_data(with_policies(data, "fifo", placement), seed=3)
    return runs


def test_every_policy_sees_the_same_arrivals_sizes_and_durations(
    policy_runs: dict[tuple[str, str], RunResult],
) -> None:
    """Same seed, any scheduler or placement: the same jobs arrive with the same sizes and run times."""
    runs = list(policy_runs.values())
    assert len(runs[0].jobs) > 0
    for other in runs[1:]:
        assert_same_draws(runs[0].jobs, other.jobs)


def test_policies_change_waits_on_a_loaded_cluster(policy_runs: dict[tuple[str, str], RunResult]) -> None:
    """The CRN comparison is not vacuous: under load, schedulers and placements differ in who waits."""

    def distinct_waits(keys: list[tuple[str, str]]) -> int:
        waits = {tuple(np.nan_to_num(policy_runs[k].jobs["wait_s"].to_numpy(), nan=-1.0)) for k in keys}
        return len(waits)

    assert distinct_waits([(str(s), "first_fit") for s in SCHEDULERS]) > 1
    assert distinct_waits([("fifo", p) for p in PLACEMENTS]) > 1


# ---------------------------------------------------------------------------- seeds and stream prefixes


def test_different_seeds_give_different_draws() -> None:
    """Seeds 1 and 2 differ in arrival times, sizes and run times."""
    a, b = run_data(loaded_data(), seed=1).jobs, run_data(loaded_data(), seed=2).jobs
    n = min(len(a), len(b))
    for col in ("submit_s", "gpus", "duration_s"):
        assert not np.array_equal(a[col].to_numpy()[:n], b[col].to_numpy()[:n]), col


def prefix_matches(short: RunResult, long: RunResult) -> None:
    """The short run's jobs are the long run's first jobs, with the same draws."""
    n = len(short.jobs)
    assert 0 < n < len(long.jobs)
    assert_same_draws(short.jobs, long.jobs.iloc[:n])


@pytest.mark.parametrize("seed", [0, 5])
def test_longer_horizon_sees_the_same_first_jobs(seed: int) -> None:
    """A run to 300 h holds the 100 h run's jobs as its prefix, started at the same times.

    Up to 100 h both runs saw the same arrivals, so the same jobs started at the same
    moments: the engine is causal and the horizon only cuts.
    """
    short, long = run_data(loaded_data(horizon="100h"), seed=seed), run_data(loaded_data(), seed=seed)
    prefix_matches(short, long)
    started = short.jobs["start_s"].notna().to_numpy()
    n = len(short.jobs)
    np.testing.assert_array_equal(
        short.jobs["start_s"].to_numpy()[started], long.jobs["start_s"].to_numpy()[:n][started]
    )


def test_longer_horizon_keeps_draws_across_a_chunk_boundary() -> None:
    """More than one 32,768-draw chunk: cutting the second chunk at the horizon keeps its prefix.

    One arrival a second; the short run stops in the second chunk, the long one in the third.
    """
    data = tiny_data(
        workload={"jobs": [{
            "name": "fast",
            "arrival": {"process": "poisson", "rate": 1.0},
            "gpus": {"dist": "choice", "values": [1, 2]},
            "duration": {"dist": "exponential", "mean": 2.0},
            "estimate_error": 0.3,
        }]},
    )  # fmt: skip
    short = run_data({**data, "horizon": 40_000}, seed=2)
    long = run_data({**data, "horizon": 70_000}, seed=2)
    assert len(short.jobs) > 32_768
    prefix_matches(short, long)


def test_larger_count_sees_the_same_first_jobs() -> None:
    """count: 300 holds the count: 100 run's jobs as its first 100."""
    data = loaded_data(horizon=None)
    data["workload"]["jobs"] = data["workload"]["jobs"][:1]
    short_data = {**data, "workload": {"jobs": [{**data["workload"]["jobs"][0], "count": 100}]}}
    long_data = {**data, "workload": {"jobs": [{**data["workload"]["jobs"][0], "count": 300}]}}
    short, long = run_data(short_data, seed=4), run_data(long_data, seed=4)
    assert len(short.jobs) == 100
    assert len(long.jobs) == 300
    prefix_matches(short, long)


def test_adding_a_job_class_does_not_shift_another_class_draws() -> None:
    """Each class draws from its own streams: `small` alone and `small` + `large` share its jobs."""
    both = loaded_data()
    alone = loaded_data()
    alone["workload"]["jobs"] = alone["workload"]["jobs"][:1]
    a = run_data(alone, seed=9).jobs
    b = run_data(both, seed=9).jobs
    b_small = b[b["job_class"] == "small"]
    assert len(b_small) < len(b)
    cols = ["submit_s", "gpus", "duration_s", "estimate_s"]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b_small[cols].reset_index(drop=True))
