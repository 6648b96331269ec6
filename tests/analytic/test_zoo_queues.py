"""Preemptive schedulers on one GPU against queueing theory: SRPT (Schrage-Miller) and LAS (M/M/1 processor sharing).

One GPU, 1-GPU jobs, Poisson arrivals: an M/G/1 queue. ``preemption: {save: on_preemption}``
makes a preempted job (without checkpoints) resume where it stopped, as preempt-resume
queueing theory assumes, at no cost.

- ``srtf`` with exact estimates is SRPT. Its mean response time is Schrage and Miller's
  (Operations Research 14, 1966; Harchol-Balter, *Performance Modeling and Design of
  Computer Systems*, 2013, section 33.2): for a job of size x, with rho(x) = lambda int_0^x t dF(t),

      E[T(x)] = lambda (int_0^x t^2 dF(t) + x^2 (1 - F(x))) / (2 (1 - rho(x))^2)
                + int_0^x dt / (1 - rho(t)),

  and E[T] = int E[T(x)] dF(x), integrated here with scipy.integrate.quad.
- ``las`` with exponential jobs: with memoryless service, every work-conserving discipline
  that does not look at job sizes (LAS looks only at attained service) leaves the number in
  system the same birth-death chain as FIFO or processor sharing (up at rate lambda, down
  at rate mu while busy), so the mean number is rho / (1 - rho) and, by Little's law, the
  mean response time is 1 / (mu - lambda), processor sharing's (Harchol-Balter, ch. 22 and 30).

Each check runs REPLICATIONS seeded runs of JOBS jobs to the end (the workload drains, so no
long job is cut off by a horizon), drops the jobs submitted in the warm-up, and asserts
``abs(mean - theory) <= 4 * se`` with ``se`` the standard error across replications.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import integrate, special

from conftest import run_data, tiny_data

pytestmark = pytest.mark.statistical

MEAN_S = 100.0
"""Mean run time, 1/mu."""
RHO = 0.7
LAMBDA = RHO / MEAN_S
JOBS = 1500
"""Jobs per replication."""
WARMUP_S = 100 * MEAN_S
"""Jobs submitted before this are not counted (about 70 arrivals: the queue forgets its empty start)."""
REPLICATIONS = 8
WEIBULL_SHAPE = 2.0


def one_gpu(scheduler: Any, duration: dict[str, Any]) -> dict[str, Any]:
    """M/G/1 on one GPU under ``scheduler``, preempt-resume."""
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 1, "node": {"gpus": 1}}]},
        workload={
            "jobs": [
                {
                    "name": "j",
                    "arrival": {"process": "poisson", "rate": f"{LAMBDA * 3600}/h"},
                    "count": JOBS,
                    "gpus": 1,
                    "duration": duration,
                }
            ]
        },
        policies={"scheduler": scheduler, "placement": "first_fit"},
        preemption={"save": "on_preemption"},
    )


def mean_responses(data: dict[str, Any]) -> np.ndarray:
    """Mean response time (finish - submit) of the jobs submitted after the warm-up, per replication."""
    out = []
    for seed in range(REPLICATIONS):
        jobs = run_data(data, seed=seed).jobs
        kept = jobs[jobs["submit_s"] >= WARMUP_S]
        assert kept["finish_s"].notna().all()
        out.append(float((kept["finish_s"] - kept["submit_s"]).mean()))
    return np.array(out)


def schrage_miller(cdf: Any, pdf: Any, m1: Any, m2: Any, lam: float) -> float:
    """SRPT's mean response time in M/G/1 (see the module); ``m1(x)``, ``m2(x)``: int_0^x t^k dF(t)."""

    def rho(x: float) -> float:
        return lam * m1(x)

    def response(x: float) -> float:
        waiting = lam * (m2(x) + x * x * (1 - cdf(x))) / (2 * (1 - rho(x)) ** 2)
        residence = integrate.quad(lambda t: 1 / (1 - rho(t)), 0, x, limit=200)[0]
        return waiting + residence

    return integrate.quad(lambda x: response(x) * pdf(x), 0, math.inf, limit=200)[0]


def exponential_moments(mean: float) -> tuple[Any, Any, Any, Any]:
    """cdf, pdf and the partial moments int_0^x t dF, int_0^x t^2 dF of an exponential."""
    return (
        lambda x: 1 - math.exp(-x / mean),
        lambda x: math.exp(-x / mean) / mean,
        lambda x: mean * (1 - math.exp(-x / mean) * (1 + x / mean)),
        lambda x: mean**2 * (2 - math.exp(-x / mean) * ((x / mean) ** 2 + 2 * x / mean + 2)),
    )


def weibull_moments(shape: float, mean: float) -> tuple[Any, Any, Any, Any]:
    """The same for a Weibull: int_0^x t^k dF = scale^k Gamma(1 + k/shape) P(1 + k/shape, (x/scale)^shape)."""
    scale = mean / math.gamma(1 + 1 / shape)

    def partial(k: int) -> Any:
        a = 1 + k / shape
        return lambda x: scale**k * math.gamma(a) * special.gammainc(a, (x / scale) ** shape)

    return (
        lambda x: 1 - math.exp(-((x / scale) ** shape)),
        lambda x: shape / scale * (x / scale) ** (shape - 1) * math.exp(-((x / scale) ** shape)),
        partial(1),
        partial(2),
    )


def test_schrage_miller_exponential_is_below_fifo() -> None:
    """The formula itself: for exponential jobs at rho 0.7, SRPT's mean lies below FIFO's 1/(mu - lambda).

    At rho -> 0 it tends to the mean run time (no one waits).
    """
    srpt = schrage_miller(*exponential_moments(MEAN_S), LAMBDA)
    assert MEAN_S < srpt < MEAN_S / (1 - RHO)
    assert schrage_miller(*exponential_moments(MEAN_S), 1e-6 / MEAN_S) == pytest.approx(MEAN_S, rel=1e-4)


@pytest.mark.parametrize(
    ("duration", "moments"),
    [
        ({"dist": "exponential", "mean": f"{MEAN_S}s"}, exponential_moments(MEAN_S)),
        ({"dist": "weibull", "shape": WEIBULL_SHAPE, "mean": f"{MEAN_S}s"}, weibull_moments(WEIBULL_SHAPE, MEAN_S)),
    ],
    ids=["exponential", "weibull-2"],
)
def test_srtf_on_one_gpu_matches_schrage_miller(duration: dict[str, Any], moments: tuple[Any, ...]) -> None:
    """SRTF with exact estimates and preempt-resume is SRPT: its mean response time is Schrage-Miller's."""
    theory = schrage_miller(*moments, LAMBDA)
    reps = mean_responses(one_gpu("srtf", duration))
    se = float(np.std(reps, ddof=1) / math.sqrt(len(reps)))
    assert abs(reps.mean() - theory) <= 4 * se, (reps.mean(), theory, se)


def test_las_on_one_gpu_matches_processor_sharing() -> None:
    """LAS (quantum half a mean run time) with exponential jobs: mean response 1/(mu - lambda) = mean / (1 - rho)."""
    theory = MEAN_S / (1 - RHO)
    reps = mean_responses(
        one_gpu({"name": "las", "params": {"quantum": MEAN_S / 2}}, {"dist": "exponential", "mean": f"{MEAN_S}s"})
    )
    se = float(np.std(reps, ddof=1) / math.sqrt(len(reps)))
    assert abs(reps.mean() - theory) <= 4 * se, (reps.mean(), theory, se)
