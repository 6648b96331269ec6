"""The heavy-traffic approximation (`sample`): a share of the requests on the same share of the replicas.

With `random` routing the replicas are independent M/M/1 queues at λ/n each, so simulating a
share f of them with a share f of the requests (independent thinning keeps the arrivals
Poisson) leaves each queue's law unchanged: the latency must match M/M/1's, W = 1/(μ − λ/n),
and the counts, scaled back by 1/f, the whole stream's. With `power_of_two` the replicas are
coupled, and a smaller sampled fleet is further from the supermarket model's mean-field limit
(Vvedenskaya et al. 1996; Mitzenmacher 2001), T = Σ_{i≥1} λ^(2^i − 2) at load λ per replica
(μ = 1): the error is shown, and bounded, on an overlapping case.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from dcsim.experiment.run import simulate

from conftest import build

pytestmark = pytest.mark.statistical

H = 3600.0


def scenario(rate: float, replicas: int, share: float, balancer: str, horizon_h: float, seed: int) -> dict[str, Any]:
    return {
        "name": "sample", "seed": seed, "horizon": horizon_h * H, "warmup": 600,
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": replicas, "node": {"gpus": 1}}]},
        "services": [{
            "name": "s", "gpus_per_replica": 1, "replicas": {"min": replicas, "max": replicas},
            "requests": {"arrival": {"process": "poisson", "rate": rate}},
            "service_model": {"time": {"dist": "exponential", "mean": 1.0}},
            "load_balancer": balancer, "sample": share,
        }],
    }  # fmt: skip


def test_a_sampled_fleet_under_random_routing_is_exact_in_law() -> None:
    """100 replicas at 0.7 each (λ = 70/s, μ = 1), a tenth simulated: W = 1/(1 − 0.7) = 3.33 s.

    Four seeds of 3 h: the mean of their means is within 4 standard errors of W, and each
    run's count of requests (scaled back) within 4 Poisson standard deviations of 70/s over
    its window (the sampled stream's own deviation, scaled: √(f λ T) / f).
    """
    means = []
    for seed in range(1, 5):
        s = simulate(build(scenario(70.0, 100, 0.1, "random", 3, seed))).summary["services"]
        means.append(s["mean_latency_s"])
        window = 3 * H - 600
        expected = 70.0 * window
        assert abs(s["requests"] - expected) < 4 * math.sqrt(0.1 * expected) / 0.1
        assert s["mean_replicas"] == 100.0
    mean = sum(means) / len(means)
    se = math.sqrt(sum((m - mean) ** 2 for m in means) / (len(means) - 1) / len(means))
    assert abs(mean - 1 / (1 - 0.7)) < 4 * se


def supermarket(load: float, d: int = 2) -> float:
    """Mean latency of the supermarket model's mean-field limit (μ = 1)."""
    return sum(load ** ((d**i - d) / (d - 1)) for i in range(1, 40))


def test_power_of_two_on_a_sampled_fleet_stays_near_the_whole() -> None:
    """100 replicas at 0.8 each under power_of_two: the whole fleet is within 3 % of the mean-field
    T = 1 + 0.8^2 + 0.8^6 + ... = 1.947 s; half of it (50 replicas) within 5 %, and no closer than the
    whole (a smaller fleet of power-of-two choices is further from the limit)."""
    whole = simulate(build(scenario(80.0, 100, 1.0, "power_of_two", 2, 7))).summary["services"]["mean_latency_s"]
    half = simulate(build(scenario(80.0, 100, 0.5, "power_of_two", 4, 7))).summary["services"]["mean_latency_s"]
    limit = supermarket(0.8)
    assert abs(whole / limit - 1) < 0.03
    assert abs(half / limit - 1) < 0.05
    assert half > limit * (1 - 0.01)
