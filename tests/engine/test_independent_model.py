"""dcsim agrees job by job with an independent implementation of the same model.

``bench/bare_simpy.py`` is a bare SimPy script written without dcsim (numpy first fit,
a deque as the queue). Given the same draws, every job must wait exactly as long in both.
"""

from __future__ import annotations

import numpy as np
import pytest

from dcsim.experiment.run import simulate

from conftest import build, load_bench


@pytest.mark.parametrize("backfill", [False, True], ids=["strict", "backfill"])
@pytest.mark.parametrize("callbacks", [False, True], ids=["process", "callback"])
def test_every_job_waits_as_long_as_in_the_bare_script(backfill: bool, callbacks: bool) -> None:
    """Heavy mix (1 to 64 GPUs) at load 0.97 on 1,000 GPUs, 4,000 jobs: long queues, multi-node jobs."""
    bench, bare = load_bench("run_bench"), load_bench("bare_simpy")
    case = bench.Case(
        "heavy", 4000, (1, 2, 4, 8, 16, 32, 64), (0.40, 0.15, 0.15, 0.15, 0.08, 0.05, 0.02), 0.97,
        backfill=backfill, fixed_nodes=125,
    )  # fmt: skip
    result = simulate(build(bench.scenario_data(case)))
    times, gpus, run_s = bare.draw(
        case.jobs, case.rate_per_s, list(case.sizes), list(case.weights), bench.MEAN_DURATION_S, bench.SEED, "dcsim"
    )
    waits, max_queue = bare.simulate(times, gpus, run_s, case.nodes, backfill, callbacks)
    jobs = result.jobs
    assert np.array_equal(jobs["gpus"].to_numpy(), gpus)
    assert max_queue > 30  # the queue was long enough for order to matter
    np.testing.assert_allclose(jobs["wait_s"].to_numpy(), waits, rtol=0, atol=1e-6)
