"""Workload generators against their definitions: distribution means, arrival rates, CSV columns."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from dcsim.core.errors import TraceError
from dcsim.core.rng import stream
from dcsim.scenario.schema import JobClass
from dcsim.workload.arrivals import arrival_times
from dcsim.workload.distributions import count_sampler, duration_sampler


def job_class(**fields) -> JobClass:
    base = {"name": "c", "arrival": {"process": "poisson", "rate": "10/h"}, "gpus": 1, "duration": "1h"}
    return JobClass.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("spec", "mean"),
    [
        ({"dist": "exponential", "mean": "2h"}, 7200.0),
        ({"dist": "lognormal", "median": "1h", "sigma": 0.8}, 3600.0 * math.exp(0.8**2 / 2)),
        ({"dist": "lognormal", "mean": "1h", "sigma": 0.8}, 3600.0),
        ({"dist": "weibull", "shape": 0.7, "scale": "1h"}, 3600.0 * math.gamma(1 + 1 / 0.7)),
        ({"dist": "weibull", "shape": 2.0, "mean": "30m"}, 1800.0),
        ("45m", 2700.0),
    ],
)
def test_duration_sample_mean_matches_the_distribution(spec: object, mean: float) -> None:
    """Sample mean of 200,000 draws within 4 standard errors of the distribution's mean."""
    sampler, declared = duration_sampler(job_class(duration=spec).duration)
    assert declared == pytest.approx(mean)
    x = sampler(stream(1, "t"), 200_000)
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.mean() - mean) <= 4 * se + 1e-9 * mean


def test_gpu_choice_frequencies_follow_the_weights() -> None:
    """Chi-square test of 50,000 draws against weights 70/10/15/5 (p > 0.001)."""
    sampler, largest = count_sampler(job_class(gpus={"values": [1, 2, 4, 8], "weights": [70, 10, 15, 5]}).gpus)
    assert largest == 8
    x = sampler(stream(2, "t"), 50_000)
    observed = [int((x == v).sum()) for v in (1, 2, 4, 8)]
    expected = [50_000 * w for w in (0.70, 0.10, 0.15, 0.05)]
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_poisson_arrivals_have_exponential_gaps_at_the_rate() -> None:
    """Count in 1,000 h at 10/h is Poisson(10,000): within 4 sd; gaps pass a KS test for Exp(360 s)."""
    cls = job_class()
    times = np.concatenate(list(arrival_times(cls.arrival, stream(3, "a"), None, 1000 * 3600.0)))
    assert abs(times.size - 10_000) <= 4 * math.sqrt(10_000)
    assert times.max() <= 1000 * 3600.0
    gaps = np.diff(times)
    assert stats.kstest(gaps, "expon", args=(0, 360.0)).pvalue > 1e-3


def test_diurnal_arrivals_follow_the_rate_curve() -> None:
    """Rate 10/h x (1 + 0.8 cos(2 pi (t - 14h) / 24h)) over 200 days.

    Expected count in each hour of the day = days x integral of the rate over that hour;
    chi-square of the 24 hourly counts against it (p > 0.001).
    """
    cls = job_class(arrival={"process": "diurnal", "rate": "10/h", "amplitude": 0.8, "peak": "14h"})
    days = 200
    times = np.concatenate(list(arrival_times(cls.arrival, stream(4, "a"), None, days * 86400.0)))
    hours = ((times % 86400) // 3600).astype(int)
    observed = np.bincount(hours, minlength=24)
    edges = np.arange(25) * 3600.0
    w = 2 * np.pi / 86400

    def integral(t: np.ndarray) -> np.ndarray:  # of the rate, per second
        return (10 / 3600) * (t + 0.8 * np.sin(w * (t - 14 * 3600)) / w)

    expected = days * np.diff(integral(edges))
    assert stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-3
    assert observed.argmax() in (13, 14)


def test_count_limits_arrivals_and_batch_arrives_at_once() -> None:
    cls = job_class(count=37)
    assert sum(c.size for c in arrival_times(cls.arrival, stream(5, "a"), 37, None)) == 37
    batch = job_class(arrival={"process": "batch", "at": "1h"}, count=5)
    assert np.concatenate(list(arrival_times(batch.arrival, stream(5, "a"), 5, None))).tolist() == [3600.0] * 5


def test_periodic_arrivals_are_evenly_spaced() -> None:
    cls = job_class(arrival={"process": "periodic", "interval": "15m", "start": "1h"}, count=4)
    times = np.concatenate(list(arrival_times(cls.arrival, stream(6, "a"), 4, None)))
    assert times.tolist() == [3600.0, 3600.0 + 900, 3600.0 + 1800, 3600.0 + 2700]


def test_empirical_distributions_resample_a_csv_column(tmp_path: Path) -> None:
    """Values 60 and 120 (minutes): every draw is one of them, in seconds, about half each."""
    (tmp_path / "d.csv").write_text("run_min,size\n60,1\n120,8\n")
    cls = job_class(
        duration={"dist": "empirical", "path": "d.csv", "column": "run_min", "unit": "m"},
        gpus={"dist": "empirical", "path": "d.csv", "column": "size"},
    )
    durations, mean = duration_sampler(cls.duration, str(tmp_path))
    sizes, largest = count_sampler(cls.gpus, str(tmp_path))
    assert mean == pytest.approx(5400.0) and largest == 8
    x = durations(stream(7, "d"), 10_000)
    assert set(np.unique(x)) == {3600.0, 7200.0}
    assert abs((x == 3600.0).mean() - 0.5) <= 4 * math.sqrt(0.25 / 10_000)
    assert set(np.unique(sizes(stream(7, "s"), 1000))) == {1, 8}


def test_empirical_column_with_a_bad_value_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("run_min\n60\nlots\n")
    cls = job_class(duration={"dist": "empirical", "path": "d.csv", "column": "run_min"})
    with pytest.raises(TraceError, match=r"line 3: column 'run_min' is 'lots'"):
        duration_sampler(cls.duration, str(tmp_path))


def test_streams_are_independent_of_each_other_and_stable() -> None:
    """A stream depends only on (seed, name): asking for others first changes nothing."""
    a = stream(9, "arrivals.x").random(5)
    stream(9, "durations.x").random(100)
    assert np.array_equal(a, stream(9, "arrivals.x").random(5))
    assert not np.array_equal(a, stream(9, "arrivals.y").random(5))
    assert not np.array_equal(a, stream(10, "arrivals.x").random(5))
