"""Queueing theory vs simulation: Erlang C, Little's law, and zero wait without contention.

1-GPU jobs with Poisson arrivals and exponential run times under FIFO on ``c`` GPUs
form an M/M/c queue: every GPU is a server, and which node a 1-GPU job lands on
does not matter. Its mean wait is Erlang C (Kleinrock, *Queueing Systems* vol. 1,
section 3.5). Each check runs R seeded replications with a warm-up, and asserts
``abs(mean_of_reps - theory) <= 4 * se`` with ``se`` the standard error across them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_data, tiny_data

pytestmark = pytest.mark.statistical

HOUR = 3600.0
MEAN_RUN_S = 1 * HOUR
"""Mean run time of the M/M/c jobs, 1/mu."""
WARMUP_S = 100 * HOUR
"""Excluded start: about 4 relaxation times 1/(c mu (1 - sqrt(rho))^2) of the slowest case."""
HORIZON_S = 4000 * HOUR
"""End of each replication: about 26,000 jobs at c = 8 and 58,000 at c = 16; 4 se is
then about 10% of Wq."""
REPLICATIONS = 20

SCHEDULERS = ["fifo", "sjf", "priority"]
PLACEMENTS = ["first_fit", "best_fit", "worst_fit", "rack_pack"]


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``a = lambda / mu < c``.

    C(c, a) = [a^c / c! * c / (c - a)] / [sum_{k<c} a^k / k! + a^c / c! * c / (c - a)]
    """
    waiting = a**c / math.factorial(c) * c / (c - a)
    return waiting / (sum(a**k / math.factorial(k) for k in range(c)) + waiting)


def se(values: np.ndarray) -> float:
    """Standard error of the mean of replications."""
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


def summaries(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Summaries of REPLICATIONS runs with seeds 0..R-1."""
    return [run_data(data, seed=seed).summary for seed in range(REPLICATIONS)]


def column(reps: list[dict[str, Any]], part: str, name: str) -> np.ndarray:
    """One summary figure across replications."""
    return np.array([s[part][name] for s in reps], dtype=float)


def little_gap(reps: list[dict[str, Any]]) -> np.ndarray:
    """Per replication: L_q - lambda_hat * W_q (queued jobs vs arrival rate x mean wait)."""
    lq = column(reps, "queue", "mean_queued_jobs")
    lam = column(reps, "queue", "arrival_rate_per_h") / HOUR
    wq = column(reps, "jobs", "mean_wait_s")
    return lq - lam * wq


# ---------------------------------------------------------------------------- M/M/c


@dataclass(frozen=True)
class MMc:
    """An M/M/c case: ``nodes`` x ``gpus_per_node`` GPUs at utilization ``rho``."""

    nodes: int
    gpus_per_node: int
    rho: float
    placement: str

    @property
    def c(self) -> int:
        return self.nodes * self.gpus_per_node

    @property
    def mu(self) -> float:
        return 1.0 / MEAN_RUN_S

    @property
    def lam(self) -> float:
        return self.rho * self.c * self.mu

    @property
    def wq(self) -> float:
        """Erlang C mean wait: Wq = C(c, a) / (c mu - lambda), a = lambda / mu."""
        return erlang_c(self.c, self.lam / self.mu) / (self.c * self.mu - self.lam)

    @property
    def lq(self) -> float:
        """Mean number waiting: Lq = C(c, a) rho / (1 - rho) (= lambda Wq)."""
        return erlang_c(self.c, self.lam / self.mu) * self.rho / (1 - self.rho)

    def data(self) -> dict[str, Any]:
        return tiny_data(
            datacenter={"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": self.nodes,
                                   "node": {"gpus": self.gpus_per_node}}]},
            workload={"jobs": [{
                "name": "mm",
                "arrival": {"process": "poisson", "rate": self.lam},
                "gpus": 1,
                "duration": {"dist": "exponential", "mean": MEAN_RUN_S},
            }]},
            policies={"scheduler": "fifo", "placement": self.placement},
            warmup=WARMUP_S,
            horizon=HORIZON_S,
        )  # fmt: skip


MMC_CASES = {
    "c8-rho0.8-one-node": MMc(nodes=1, gpus_per_node=8, rho=0.8, placement="first_fit"),
    "c16-rho0.9-four-nodes": MMc(nodes=4, gpus_per_node=4, rho=0.9, placement="worst_fit"),
}


@pytest.fixture(scope="module", params=list(MMC_CASES))
def mmc(request: pytest.FixtureRequest) -> tuple[MMc, list[dict[str, Any]]]:
    """An M/M/c case and the summaries of its replications (run once per module)."""
    case = MMC_CASES[request.param]
    return case, summaries(case.data())


def test_mmc_mean_wait_matches_erlang_c(mmc: tuple[MMc, list[dict[str, Any]]]) -> None:
    """Mean wait of 1-GPU Poisson/exponential FIFO jobs on c GPUs is C(c, a) / (c mu - lambda).

    At c = 8, rho = 0.8: a = 6.4, C = 0.458, Wq = 0.458 / (8/h - 6.4/h) = 0.286 h.
    """
    case, reps = mmc
    waits = column(reps, "jobs", "mean_wait_s")
    assert abs(waits.mean() - case.wq) <= 4 * se(waits)


def test_mmc_mean_queue_length_matches_erlang_c(mmc: tuple[MMc, list[dict[str, Any]]]) -> None:
    """Time-average number of queued jobs is Lq = C(c, a) rho / (1 - rho)."""
    case, reps = mmc
    lq = column(reps, "queue", "mean_queued_jobs")
    assert abs(lq.mean() - case.lq) <= 4 * se(lq)


def test_mmc_gpu_utilization_is_rho(mmc: tuple[MMc, list[dict[str, Any]]]) -> None:
    """Allocated share of the c GPUs is rho = lambda / (c mu); mean running jobs is lambda / mu."""
    case, reps = mmc
    util = column(reps, "utilization", "gpu_allocated")
    running = column(reps, "queue", "mean_running_jobs")
    assert abs(util.mean() - case.rho) <= 4 * se(util)
    assert abs(running.mean() - case.lam / case.mu) <= 4 * se(running)


def test_mmc_arrival_rate_is_lambda(mmc: tuple[MMc, list[dict[str, Any]]]) -> None:
    """Measured arrival rate over the window estimates the configured Poisson rate."""
    case, reps = mmc
    rate = column(reps, "queue", "arrival_rate_per_h")
    assert abs(rate.mean() - case.lam * HOUR) <= 4 * se(rate)


def test_mmc_obeys_littles_law(mmc: tuple[MMc, list[dict[str, Any]]]) -> None:
    """L_q = lambda W_q in every replication, up to the window's edge terms.

    The per-replication gap is not noise around zero: it is the area of jobs queued
    across the warm-up or still queued at the end, O(L_q W_q / T), so it shrinks with
    the horizon, but its spread shrinks with it; a 4-se test on the paired gaps would
    fail once R is large enough. The gap is therefore bounded by the precision
    of L_q itself, which is what the simulation can claim.
    """
    _, reps = mmc
    lq = column(reps, "queue", "mean_queued_jobs")
    assert abs(little_gap(reps).mean()) <= 4 * se(lq)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mmc_is_the_same_queue_with_the_network_on_and_no_traffic(seed: int) -> None:
    """The c = 16 case on a 4:1 oversubscribed fabric, its 1-GPU jobs given a ring all-reduce
    profile: the network is built and every job is checked against it, but a job inside one
    node sends nothing over the fabric. Every figure of the summary is the one without the
    network (so the Erlang C checks above hold for it as they stand), and the network block
    reports no traffic and no slowdown (no job on the fabric to average over)."""
    case = MMC_CASES["c16-rho0.9-four-nodes"]
    off = case.data()
    on = copy.deepcopy(off)
    on["datacenter"]["sites"][0]["network"] = {"nic": "100Gbps", "oversubscription": 4}
    on["workload"]["jobs"][0]["communication"] = {"pattern": "ring_allreduce", "bytes_per_step": "10GB",
                                                  "compute_per_step": "1s"}  # fmt: skip
    a, b = run_data(off, seed=seed).summary, run_data(on, seed=seed).summary
    assert b["network"]["mean_job_slowdown"] is None and b["network"]["bytes_moved"] == 0.0
    for key in set(a) | set(b):
        if key not in ("network", "notes"):
            assert a[key] == b[key], key


# ---------------------------------------------------------------------------- Little's law, non-Markovian

MIX_SIZES = [1, 2, 4, 8, 16]
MIX_WEIGHTS = [8, 4, 2, 1, 1]
MIX_MEAN_RUN_S = 2 * HOUR
MIX_SIGMA = 1.0
MIX_GPUS = 32  # tiny_data: 2 racks x 2 nodes x 8 GPUs
MIX_LOAD = 0.5
"""GPU load of the mixed workload; strict FIFO with 16-GPU gangs loses capacity to
head-of-line blocking, so this stays well below 1."""
MIX_HORIZON_S = 3000 * HOUR


def mixed_data() -> dict[str, Any]:
    """Log-normal run times, 1-16 GPU gangs on 8-GPU nodes, Poisson at MIX_LOAD of the GPUs."""
    mean_gpus = np.average(MIX_SIZES, weights=MIX_WEIGHTS)
    rate = MIX_LOAD * MIX_GPUS / (mean_gpus * MIX_MEAN_RUN_S)
    data = tiny_data(
        workload={"jobs": [{
            "name": "mix",
            "arrival": {"process": "poisson", "rate": rate},
            "gpus": {"dist": "choice", "values": MIX_SIZES, "weights": MIX_WEIGHTS},
            "duration": {"dist": "lognormal", "mean": MIX_MEAN_RUN_S, "sigma": MIX_SIGMA},
        }]},
        policies={"scheduler": "fifo", "placement": "best_fit"},
        warmup=WARMUP_S,
        horizon=MIX_HORIZON_S,
    )  # fmt: skip
    return data


@pytest.fixture(scope="module")
def mixed() -> tuple[float, list[dict[str, Any]]]:
    """The mixed workload's arrival rate (1/s) and its replications' summaries."""
    data = mixed_data()
    return data["workload"]["jobs"][0]["arrival"]["rate"], summaries(data)


def test_littles_law_holds_for_lognormal_multi_gpu_jobs(mixed: tuple[float, list[dict[str, Any]]]) -> None:
    """Little's law needs no Markov assumption: L_q = lambda W_q and L = lambda E[S].

    Log-normal run times, gangs of 1 to 16 GPUs (multi-node), strict FIFO.
    Running jobs: L = lambda E[S]; busy GPUs: lambda E[S] E[gpus] / c of the GPUs.
    """
    lam, reps = mixed
    lq = column(reps, "queue", "mean_queued_jobs")
    assert abs(little_gap(reps).mean()) <= 4 * se(lq)

    running = column(reps, "queue", "mean_running_jobs")
    assert abs(running.mean() - lam * MIX_MEAN_RUN_S) <= 4 * se(running)

    util = column(reps, "utilization", "gpu_allocated")
    mean_gpus = np.average(MIX_SIZES, weights=MIX_WEIGHTS)
    assert abs(util.mean() - lam * MIX_MEAN_RUN_S * mean_gpus / MIX_GPUS) <= 4 * se(util)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(MMC_CASES["c8-rho0.8-one-node"].data(), id="mmc"),
        pytest.param(mixed_data(), id="lognormal-multi-gpu"),
    ],
)
def test_littles_law_is_exact_when_the_window_holds_every_job(data: dict[str, Any]) -> None:
    """With no warm-up and a run that drains, Little's law is a sample-path identity.

    Every job arrives, waits and runs inside [0, T], so integral of Q(t) dt = sum of
    waits, and L_q = sum(wait) / T = (N / T) * (sum(wait) / N) = lambda_hat W_q; likewise
    L = lambda_hat * mean run time, and busy GPU-time = sum(gpus x run time).
    """
    data = {**copy.deepcopy(data), "warmup": 0, "horizon": None}
    data["workload"]["jobs"][0]["count"] = 2000
    result = run_data(data, seed=3)
    s, jobs = result.summary, result.jobs
    lam_hat = s["queue"]["arrival_rate_per_h"] / HOUR
    end = s["window"]["end_s"]

    assert s["jobs"]["completed"] == len(jobs) == 2000
    assert lam_hat == pytest.approx(2000 / end, rel=1e-12)
    assert s["queue"]["mean_queued_jobs"] == pytest.approx(lam_hat * s["jobs"]["mean_wait_s"], rel=1e-9)
    assert s["queue"]["mean_running_jobs"] == pytest.approx(lam_hat * jobs["duration_s"].mean(), rel=1e-9)
    installed = s["cluster"]["installed_gpus"]
    gpu_seconds = (jobs["gpus"] * jobs["duration_s"]).sum()
    assert s["utilization"]["gpu_allocated"] == pytest.approx(gpu_seconds / (installed * end), rel=1e-9)


# ---------------------------------------------------------------------------- M/M/inf: no contention, no wait

topologies = st.fixed_dictionaries(
    {
        "racks": st.integers(1, 2),
        "nodes_per_rack": st.integers(1, 3),
        "gpus_per_node": st.sampled_from([1, 2, 4, 8]),
    }
)


def cluster(topo: dict[str, int]) -> dict[str, Any]:
    """A datacenter block from a drawn topology."""
    return {"sites": [{"name": "dc1", "racks": topo["racks"], "nodes_per_rack": topo["nodes_per_rack"],
                       "node": {"gpus": topo["gpus_per_node"]}}]}  # fmt: skip


def capacity(topo: dict[str, int]) -> int:
    return topo["racks"] * topo["nodes_per_rack"] * topo["gpus_per_node"]


def assert_nobody_waited(data: dict[str, Any], seed: int, n: int) -> None:
    """All n jobs ran to completion, each starting the moment it arrived."""
    result = run_data(data, seed=seed)
    jobs = result.jobs
    assert len(jobs) == n
    assert (jobs["state"] == "completed").all()
    assert (jobs["start_s"] == jobs["submit_s"]).all()
    assert (jobs["wait_s"] == 0).all()
    assert result.summary["jobs"]["mean_wait_s"] == 0
    assert result.summary["queue"]["mean_queued_jobs"] == 0


@settings(max_examples=25, deadline=None)
@given(
    topo=topologies,
    share=st.floats(0.0, 1.0),
    rate_per_h=st.floats(0.1, 100.0),
    mean_h=st.floats(0.01, 100.0),
    scheduler=st.sampled_from(SCHEDULERS),
    placement=st.sampled_from(PLACEMENTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_job_waits_when_jobs_never_outnumber_gpus(
    topo: dict[str, int], share: float, rate_per_h: float, mean_h: float,
    scheduler: str, placement: str, seed: int,
) -> None:  # fmt: skip
    """M/M/inf: at most n <= c 1-GPU jobs ever exist, so each finds a free GPU at once.

    Poisson arrivals and exponential run times of any rate and mean, under any policy.
    """
    n = max(1, round(share * capacity(topo)))
    data = tiny_data(
        datacenter=cluster(topo),
        workload={"jobs": [{
            "name": "inf",
            "arrival": {"process": "poisson", "rate": rate_per_h / HOUR},
            "count": n,
            "gpus": 1,
            "duration": {"dist": "exponential", "mean": mean_h * HOUR},
        }]},
        policies={"scheduler": scheduler, "placement": placement},
    )  # fmt: skip
    assert_nobody_waited(data, seed, n)


@settings(max_examples=25, deadline=None)
@given(
    topo=topologies,
    share=st.floats(0.0, 1.0),
    at_h=st.floats(0.0, 100.0),
    mean_h=st.floats(0.01, 100.0),
    placement=st.sampled_from(PLACEMENTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_job_waits_when_a_batch_fits_the_gpus(
    topo: dict[str, int], share: float, at_h: float, mean_h: float, placement: str, seed: int
) -> None:
    """A batch of n <= c 1-GPU jobs arriving together all start at the batch time."""
    n = max(1, round(share * capacity(topo)))
    data = tiny_data(
        datacenter=cluster(topo),
        workload={"jobs": [{
            "name": "batch",
            "arrival": {"process": "batch", "at": at_h * HOUR},
            "count": n,
            "gpus": 1,
            "duration": {"dist": "exponential", "mean": mean_h * HOUR},
        }]},
        policies={"placement": placement},
    )  # fmt: skip
    assert_nobody_waited(data, seed, n)


@settings(max_examples=25, deadline=None)
@given(
    topo=topologies,
    data_=st.data(),
    interval_h=st.floats(0.01, 10.0),
    busy_share=st.floats(0.01, 0.99),
    count=st.integers(1, 30),
    scheduler=st.sampled_from(SCHEDULERS),
    placement=st.sampled_from(PLACEMENTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_job_waits_when_each_job_finishes_before_the_next_arrives(
    topo: dict[str, int], data_: st.DataObject, interval_h: float, busy_share: float,
    count: int, scheduler: str, placement: str, seed: int,
) -> None:  # fmt: skip
    """Periodic arrivals with run time < interval: each job has the empty cluster to itself.

    Any gang size up to the whole cluster (multi-node included) then starts on arrival.
    """
    c = capacity(topo)
    sizes = data_.draw(st.lists(st.integers(1, c), min_size=1, max_size=4, unique=True), label="sizes")
    data = tiny_data(
        datacenter=cluster(topo),
        workload={"jobs": [{
            "name": "per",
            "arrival": {"process": "periodic", "interval": interval_h * HOUR},
            "count": count,
            "gpus": {"dist": "choice", "values": sizes},
            "duration": busy_share * interval_h * HOUR,
        }]},
        policies={"scheduler": scheduler, "placement": placement},
    )  # fmt: skip
    assert_nobody_waited(data, seed, count)
