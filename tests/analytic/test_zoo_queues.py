"""Preemptive schedulers on one GPU against queueing theory: SRPT (Schrage-Miller) and LAS (PS, and FB for M/H2/1).

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
  That check cannot tell LAS from FIFO; so
- ``las`` with hyperexponential jobs (two Poisson classes of exponential run times: an M/H2/1
  queue, squared coefficient of variation 5.5) against the M/G/1 foreground-background (FB,
  LAS) closed form (Kleinrock, *Queueing Systems* vol. 2, 1976, section 4.6; Harchol-Balter
  ch. 30): with rho_x = lambda E[min(S, x)],

      E[T(x)] = lambda E[min(S, x)^2] / (2 (1 - rho_x)^2) + x / (1 - rho_x),

  integrated over x with scipy. FB serves the least attained job at once; LAS with a
  quantum q gives way only once a runner has q more (a tenth of the mean here, a fifth of the
  short class's: at q = 5 s the measured mean moves by 0.05 s). On the seeds below LAS measures
  294.8 +- 27.3 s against FB's 266.6 (1.0 SE); FIFO measures 1006.8 +- 161.8 s (4.6 SE off, so
  it fails the check; Pollaczek-Khinchine 858); processor sharing would be 333.

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


H2 = ((0.9, 50.0), (0.1, 550.0))
"""The M/H2/1 case: (probability, mean run time s) of each phase; mean 100 s, E[S^2] = 65000 s^2."""


def hyperexponential_moments() -> tuple[Any, Any, Any, Any]:
    """cdf, pdf and partial moments of the mixture ``H2`` of exponentials (those of each phase, weighted)."""
    parts = [(p, exponential_moments(m)) for p, m in H2]
    return tuple(  # type: ignore[return-value]
        (lambda x, k=k: sum(p * f[k](x) for p, f in parts)) for k in range(4)
    )


def foreground_background(cdf: Any, pdf: Any, m1: Any, m2: Any, lam: float) -> float:
    """FB's (LAS's) mean response time in M/G/1 (see the module); ``m1``, ``m2`` as for :func:`schrage_miller`."""

    def response(x: float) -> float:
        tail = 1 - cdf(x)
        rho_x = lam * (m1(x) + x * tail)
        return lam * (m2(x) + x * x * tail) / (2 * (1 - rho_x) ** 2) + x / (1 - rho_x)

    return integrate.quad(lambda x: response(x) * pdf(x), 0, math.inf, limit=200)[0]


def one_gpu_h2(scheduler: Any) -> dict[str, Any]:
    """``one_gpu`` with H2 run times: a Poisson class per phase (rates lambda p), JOBS in all."""
    classes = [
        {"name": f"phase{i}", "arrival": {"process": "poisson", "rate": f"{LAMBDA * p * 3600}/h"},
         "count": round(JOBS * p), "gpus": 1, "duration": {"dist": "exponential", "mean": f"{m}s"}}
        for i, (p, m) in enumerate(H2)
    ]  # fmt: skip
    data = one_gpu(scheduler, {"dist": "exponential", "mean": f"{MEAN_S}s"})
    data["workload"] = {"jobs": classes}
    return data


def test_the_foreground_background_formula_lies_below_processor_sharing_for_high_variance() -> None:
    """FB beats PS (1/(mu - lambda)) for decreasing-failure-rate H2 jobs, and is PS's for exponential ones."""
    fb = foreground_background(*hyperexponential_moments(), LAMBDA)
    assert fb < 0.85 * MEAN_S / (1 - RHO)
    assert foreground_background(*exponential_moments(MEAN_S), LAMBDA) == pytest.approx(MEAN_S / (1 - RHO), rel=1e-6)


def test_las_on_one_gpu_matches_foreground_background_for_hyperexponential_jobs() -> None:
    """LAS (quantum 10 s) with H2 jobs: its mean response time is FB's (FIFO's is 4.6 SE off, see the module)."""
    theory = foreground_background(*hyperexponential_moments(), LAMBDA)
    reps = mean_responses(one_gpu_h2({"name": "las", "params": {"quantum": 10.0}}))
    se = float(np.std(reps, ddof=1) / math.sqrt(len(reps)))
    assert abs(reps.mean() - theory) <= 4 * se, (reps.mean(), theory, se)
