"""The Philly run-time table shipped in scenarios/data, against the published statistics of its source.

The traces' README gives the 83,154 Philly run times' median (1,186 s), mean ("about
14,600 s") and p99 ("about 287,000 s"). The table is 1,000 equal-probability bin means,
so its resolution is a bin: a quantile must lie between the two rows beside it.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import yaml

from dcsim.scenario.load import load_scenario
from dcsim.workload.distributions import duration_sampler

from conftest import ROOT, tiny_data

TABLE = ROOT / "scenarios" / "data" / "philly_runtimes.csv"


def derive():  # the derivation script (scenarios/data is not a package)
    spec = importlib.util.spec_from_file_location("philly_runtimes", ROOT / "scenarios" / "data" / "philly_runtimes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows() -> np.ndarray:
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "runtime_s"
    return np.array([float(x) for x in lines[1:]])


def three_figures(x: float) -> float:
    """``x`` rounded to 3 significant figures, as the README states "about" values."""
    return round(x, 2 - math.floor(math.log10(abs(x))))


def test_the_table_has_the_published_median_mean_and_p99() -> None:
    t = rows()
    assert t.size == 1000 and (np.diff(t) >= 0).all() and t.min() > 0
    # row i (0-based) is the mean of the quantile function over (i/1000, (i+1)/1000)
    assert t[499] <= 1186 <= t[500]  # median: between the bins either side of p = 0.5
    assert three_figures(t.mean()) == 14_600  # bin means keep the mean (up to the 0.1 s rounding)
    assert t[989] <= 287_500 and t[990] >= 286_500  # p99 ("about 287,000"): within the bin pair at p = 0.99


def test_bin_means_on_a_hand_computed_sample() -> None:
    """Five values, two bins of 2.5 values each: (1 + 2 + 3/2) / 2.5 = 1.8 and (3/2 + 4 + 5) / 2.5 = 4.2."""
    means = derive().bin_means(np.array([5.0, 1.0, 4.0, 2.0, 3.0]), bins=2)
    assert means == pytest.approx([1.8, 4.2])
    sample = np.random.default_rng(3).lognormal(7, 2, size=997)  # 997 values into 10 bins: bins split values
    assert derive().bin_means(sample, bins=10).mean() == pytest.approx(sample.mean(), rel=1e-12)


def test_a_job_class_draws_its_run_times_from_the_table(tmp_path) -> None:
    """As shipped: `dist: empirical` reads the table, and its mean is the table's."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "philly_runtimes.csv").write_bytes(TABLE.read_bytes())
    data = tiny_data()
    data["workload"]["jobs"][0]["duration"] = {"dist": "empirical", "path": "data/philly_runtimes.csv",
                                               "column": "runtime_s"}  # fmt: skip
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    sc = load_scenario(str(path))
    draw, mean = duration_sampler(sc.workload.jobs[0].duration, sc.base_dir)
    assert mean == pytest.approx(rows().mean())
    assert set(draw(np.random.default_rng(1), 50).tolist()) <= set(rows().tolist())
