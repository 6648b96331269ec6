"""dcsim's serving engine agrees with an independent implementation of the same model.

``bench/bare_serving.py`` is a bare SimPy script written without dcsim: Poisson requests over
single-server FIFO replicas routed by power of two choices. Its two variants (a process and a
``simpy.Resource`` per request, or two callbacks per request) must give the same sojourns on a
hand-computed case, and dcsim's mean sojourn on the benchmark's model must agree with the
script's within a few standard errors (their random numbers differ).
"""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.experiment.run import simulate

from conftest import build, load_bench


@pytest.mark.parametrize("variant", ["simulate_process", "simulate_callback"])
def test_bare_script_routes_and_queues_as_worked_out(variant: str) -> None:
    """Two replicas; requests at 0, 0.5, 1.0, 1.2 needing 2, 1, 1, 0.5 s, sampling (0,1), (0,1), (1,0), (0,1).

    At 0 both are empty: a tie goes to the first sampled, replica 0 (ends at 2). At 0.5 replica 1 has
    fewer: it ends at 1.5. At 1.0 both hold one: the tie goes to replica 1, where it waits until 1.5
    and ends at 2.5 (sojourn 1.5). At 1.2 replica 0 holds one, replica 1 two: it waits on replica 0
    until 2 and ends at 2.5 (sojourn 1.3). The longest queue a request met was 1.
    """
    bare = load_bench("bare_serving")
    sojourn, longest = getattr(bare, variant)([0.0, 0.5, 1.0, 1.2], [2.0, 1.0, 1.0, 0.5], [0, 0, 1, 0], [1, 1, 0, 1], 2)
    np.testing.assert_allclose(sojourn, [2.0, 1.0, 1.5, 1.3], rtol=0, atol=1e-12)
    assert longest == 1


def test_bare_supermarket_limit_by_hand() -> None:
    """sum_(i>=1) rho^(2^i - 2) at rho = 0.5: 1 + 0.5^2 + 0.5^6 + 0.5^14 + ... = 1.26566..."""
    bare = load_bench("bare_serving")
    assert bare.supermarket(0.5) == pytest.approx(1 + 0.5**2 + 0.5**6 + 0.5**14 + 0.5**30, abs=1e-12)


def test_dcsim_mean_sojourn_agrees_with_the_bare_script() -> None:
    """100,000 requests over 100 replicas at load 0.8 (the benchmark's model, hpa holding 100 replicas).

    The two means differ by less than 4 combined standard errors (batch means), and both are
    within 5 % of the supermarket model's mean-field limit (1.947 s; 100 replicas is finite).
    """
    bench, bare = load_bench("serving_bench"), load_bench("bare_serving")
    n = 100_000
    data = bench.p2c_scenario(n)
    data["metrics"] = {"requests_table_rows": n}
    result = simulate(build(data))
    req = result.data["requests"]
    order = req["arrival_s"].argsort(kind="stable")
    assert req["status"].is_("completed").all()
    d = req["latency_s"][order]
    assert result.summary["services"]["mean_replicas"] == pytest.approx(100.0)
    drawn = bare.draw(n, bench.REPLICAS, bench.RATE, bench.MEAN_S, 1)
    b, _ = bare.simulate_callback(*drawn, bench.REPLICAS)
    se = np.hypot(bare.batch_se(d), bare.batch_se(b))
    assert abs(d.mean() - b.mean()) < 4 * se
    limit = bare.supermarket(bench.LOAD) * bench.MEAN_S
    assert d.mean() == pytest.approx(limit, rel=0.05)
    assert b.mean() == pytest.approx(limit, rel=0.05)
