"""Inference services vs queueing theory no one here wrote (issue 13, point 7).

A service of n replicas of concurrency 1 with exponential service times (mean 1/mu = 1 s)
fed Poisson requests at rate lambda is a classical queueing system whose law depends only
on the load balancer:

- ``random``: Poisson splitting makes n independent M/M/1 queues at lambda / n (M/M/1:
  Kleinrock, *Queueing Systems* vol. 1, section 3.2);
- ``round_robin``: replica k gets arrivals k, k + n, ...: Erlang(n, lambda) inter-arrivals,
  the E_n/M/1 queue, a GI/M/1 queue (Kleinrock vol. 1, chapter 6);
- ``least_outstanding`` on one replica: M/M/1; on n, join-the-shortest-queue, which lies
  between M/M/n (one central queue, Erlang C) and ``power_of_two``;
- ``power_of_two``: as n grows, the supermarket model's mean-field limit (Vvedenskaya,
  Dobrushin and Karpelevich, 1996; Mitzenmacher, 2001).

Then Little's law per replica on a token model with batching, and the Kubernetes HPA rule on
hand-computed traffic steps. Each statistical check runs R replications with seeds 0..R-1,
drops a warm-up, and asserts ``|mean - theory| <= 4 se`` with ``se`` the standard error
across independent samples; it also asserts that ``4 se`` is below a stated share of the
theory, so that a loose run cannot pass by noise alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import brentq

from dcsim.engine import DataCenterModel
from dcsim.metrics.records import REPLICA_CHANGES, REQUEST_STATUS

from conftest import build

pytestmark = pytest.mark.statistical

MU = 1.0
"""Service rate of one replica, 1/s (exponential service of mean 1 s)."""
WARMUP_S = 500.0
"""Requests arriving before this are dropped: about 25 relaxation times 1/(mu (1 - sqrt(rho))^2) at rho 0.8."""
TAIL_S = 300.0
"""Requests arriving in the last TAIL_S are dropped, so that every one kept has ended (P(T > 300 s) < 1e-26)."""
REPLICATIONS = 5
COMPLETED = REQUEST_STATUS.index("completed")


def se(values: np.ndarray) -> float:
    """Standard error of the mean of independent samples."""
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


def assert_matches(values: np.ndarray, theory: float, resolution: float) -> None:
    """The mean of ``values`` is within 4 se of ``theory``, and 4 se is within ``resolution`` x theory."""
    mean, err = float(values.mean()), se(values)
    assert abs(mean - theory) <= 4 * err, f"mean {mean:.5g} vs theory {theory:.5g}, se {err:.3g}"
    assert 4 * err <= resolution * abs(theory), f"se {err:.3g} too wide to tell {resolution:.0%} of {theory:.5g}"


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``a = lambda / mu < c`` (Erlang C)."""
    waiting = a**c / math.factorial(c) * c / (c - a)
    return waiting / (sum(a**k / math.factorial(k) for k in range(c)) + waiting)


def gi_m_1_sigma(laplace: Any, mu: float) -> float:
    """The root in (0, 1) of sigma = A*(mu (1 - sigma)), A* the Laplace transform of the inter-arrival time.

    For a stable GI/M/1 queue it exists and is unique (Kleinrock vol. 1, chapter 6); an arrival
    finds k in the system with probability (1 - sigma) sigma^k, and the FCFS sojourn time is
    exponential with rate mu (1 - sigma).
    """
    return float(brentq(lambda s: s - laplace(mu * (1.0 - s)), 1e-12, 1.0 - 1e-6, xtol=1e-14))


def supermarket_sojourn(lam: float, d: int, terms: int = 64) -> float:
    """Mean sojourn in the supermarket model's mean-field limit, mu = 1, arrival rate ``lam`` per server.

    The fraction of queues with at least i jobs is s_i = lam^((d^i - 1)/(d - 1)) (Vvedenskaya et al.
    1996; Mitzenmacher 2001); by Little's law T = sum_{i >= 1} s_i / lam =
    sum_{i >= 1} lam^((d^i - d)/(d - 1)).
    """
    total, exponent = 0.0, 0  # exponent (d^i - d)/(d - 1) = d + d^2 + ... + d^(i-1), i - 1 at d = 1
    for i in range(1, terms + 1):
        total += lam**exponent
        exponent += d**i
    return total


# ---------------------------------------------------------------------------- a service as a queue
def queue_data(n: int, lam: float, balancer: str | dict[str, Any], horizon: float, seed: int) -> dict[str, Any]:
    """n replicas (one 1-GPU node each) of concurrency 1, exponential service at MU, Poisson requests at ``lam``/s."""
    return {
        "name": "queues", "seed": seed, "horizon": horizon,
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": n, "node": {"gpus": 1}}]},
        "services": [{
            "name": "s", "gpus_per_replica": 1, "replicas": {"min": n, "max": n},
            "requests": {"arrival": {"process": "poisson", "rate": lam}},
            "service_model": {"time": {"dist": "exponential", "mean": 1.0 / MU}},
            "load_balancer": balancer,
        }],
    }  # fmt: skip


def run_model(data: dict[str, Any], base_dir: Path | str = ".") -> DataCenterModel:
    model = DataCenterModel(build(data, str(base_dir)))
    model.run()
    return model


@dataclass(frozen=True)
class Sojourns:
    """The requests of one run that arrived in [WARMUP_S, horizon - TAIL_S): sojourn times and replicas."""

    time: np.ndarray
    replica: np.ndarray
    window: float
    """Length of the arrival window, s."""
    at_least: np.ndarray
    """at_least[i - 1]: share of the window's time, averaged over the replicas, with i or more requests on one."""


def at_least(arrival: np.ndarray, end: np.ndarray, replica: np.ndarray, lo: float, hi: float, n: int) -> np.ndarray:
    """Time share of [lo, hi) that a replica holds at least i requests (i = 1, 2, ...), averaged over n replicas.

    The count on a replica steps up at each arrival and down at each end of its requests; with
    the steps sorted by replica, then time, one running sum walks every replica's count (each
    returns to 0 at its last end, so the step to the next replica's first is spent at level 0).
    """
    t = np.clip(np.concatenate([arrival, end]), lo, hi)
    step = np.concatenate([np.ones(arrival.size), -np.ones(end.size)])
    order = np.lexsort((t, np.concatenate([replica, replica])))
    level = np.cumsum(step[order]).astype(np.int64)
    time_at = np.bincount(np.minimum(level[:-1], 63), weights=np.diff(t[order]), minlength=64)
    return time_at[::-1].cumsum()[::-1][1:] / (n * (hi - lo))


def sojourns(model: DataCenterModel, horizon: float, n: int) -> Sojourns:
    c = model.collector.columns("request_done")
    lo, hi = WARMUP_S, horizon - TAIL_S
    keep = (c["arrival"] >= lo) & (c["arrival"] < hi)
    assert (c["status"][keep] == COMPLETED).all()  # none cut off by the horizon: no bias to short ones
    levels = at_least(c["arrival"], c["end"], c["replica"], lo, hi, n)
    return Sojourns(c["end"][keep] - c["arrival"][keep], c["replica"][keep], hi - lo, levels)


@cache
def queue_runs(n: int, lam: float, balancer: str, horizon: float) -> tuple[Sojourns, ...]:
    """R replications (seeds 0..R-1) of :func:`queue_data`; common random numbers across balancers."""
    lb: str | dict[str, Any] = balancer
    if balancer.startswith("power_of_"):
        lb = {"policy": "power_of_two", "d": int(balancer.removeprefix("power_of_"))}
    return tuple(sojourns(run_model(queue_data(n, lam, lb, horizon, seed)), horizon, n) for seed in range(REPLICATIONS))


def per_replica(runs: tuple[Sojourns, ...], n: int, f: Any) -> np.ndarray:
    """``f`` of the sojourn times on each replica of each run (n x R samples)."""
    return np.array([f(r.time[r.replica == k]) for r in runs for k in range(n)])


def per_run(runs: tuple[Sojourns, ...], f: Any) -> np.ndarray:
    """``f`` of all the sojourn times of each run (R samples)."""
    return np.array([f(r.time) for r in runs])


# ---------------------------------------------------------------------------- random: n M/M/1 queues
N, LAM = 4, 3.2
"""Four replicas at rho = LAM / (N MU) = 0.8."""
H_QUEUE = 12_800.0
"""About 40,000 requests per replication, 10,000 per replica."""


def test_random_routing_is_n_independent_mm1_queues() -> None:
    """Random splitting of Poisson(lambda) over n replicas: each an M/M/1 queue at lambda / n.

    The sojourn time is exponential with rate mu - lambda / n (Kleinrock vol. 1, section 3.2):
    at lambda = 3.2, n = 4, mu = 1: W = 1 / 0.2 = 5 s, P(T > 5) = e^-1 = 0.368 and
    P(T > 10) = e^-2 = 0.135. The replicas are independent queues, so each replica of each
    replication is one sample.
    """
    runs = queue_runs(N, LAM, "random", H_QUEUE)
    rate = MU - LAM / N
    assert_matches(per_replica(runs, N, np.mean), 1 / rate, 0.08)
    for t in (5.0, 10.0):
        assert_matches(per_replica(runs, N, lambda x, t=t: np.mean(x > t)), math.exp(-rate * t), 0.25)
    # An M/M/1 queue holds i or more with probability rho^i (Kleinrock vol. 1, section 3.2), in time average.
    for i in (1, 2, 3):
        assert_matches(np.array([r.at_least[i - 1] for r in runs]), (LAM / N / MU) ** i, 0.05)
    # Each replica gets a 1/n share of the requests: n R counts, Poisson with mean lambda/n x window.
    counts = per_replica(runs, N, len)
    assert_matches(counts, LAM / N * runs[0].window, 0.02)


# ---------------------------------------------------------------------------- round robin: E_n/M/1
def erlang_n_m_1(n: int, lam: float, mu: float) -> float:
    """Sojourn rate mu (1 - sigma) of E_n/M/1: inter-arrival Erlang(n, lam), A*(s) = (lam / (lam + s))^n."""
    return mu * (1.0 - gi_m_1_sigma(lambda s: (lam / (lam + s)) ** n, mu))


def test_round_robin_gives_each_replica_an_erlang_n_m_1_queue() -> None:
    """Each replica sees every n-th Poisson(lambda) arrival: Erlang(n, lambda) gaps of mean n / lambda.

    sigma solves sigma = (lambda / (lambda + mu (1 - sigma)))^n; at n = 4, lambda = 3.2, mu = 1
    it is 0.6939, so W = 1 / (mu (1 - sigma)) = 3.267 s (random routing: 5 s) and the sojourn is
    exponential: P(T > 3) = 0.399, P(T > 7) = 0.117. The replicas share one arrival stream, so
    a replication (all its replicas) is one sample.
    """
    runs = queue_runs(N, LAM, "round_robin", H_QUEUE)
    rate = erlang_n_m_1(N, LAM, MU)
    assert_matches(per_run(runs, np.mean), 1 / rate, 0.08)
    for t in (3.0, 7.0):
        assert_matches(per_run(runs, lambda x, t=t: np.mean(x > t)), math.exp(-rate * t), 0.25)
    # Round robin beats random splitting, replication by replication (same arrivals, same service times).
    rand = per_run(queue_runs(N, LAM, "random", H_QUEUE), np.mean)
    assert (per_run(runs, np.mean) < rand).all()


def test_the_e_n_m_1_root_is_m_m_1_at_n_1() -> None:
    """At n = 1 the Erlang gaps are exponential: sigma = rho and the sojourn rate mu - lambda."""
    assert erlang_n_m_1(1, 0.8, 1.0) == pytest.approx(0.2, rel=1e-9)


# ---------------------------------------------------------------------------- least outstanding
def test_least_outstanding_on_one_replica_is_mm1() -> None:
    """One replica, lambda = 0.5, mu = 1: M/M/1, W = 1 / (mu - lambda) = 2 s, P(T > 4) = e^-2 = 0.135.

    At rho = 0.5 the mean of 20,000 sojourns has a relative sd of about 2 % (at 0.8 it would take
    eleven times as many requests for the same).
    """
    runs = queue_runs(1, 0.5, "least_outstanding", 40_800.0)
    assert_matches(per_run(runs, np.mean), 2.0, 0.05)
    assert_matches(per_run(runs, lambda x: np.mean(x > 4.0)), math.exp(-2.0), 0.15)
    for i in (1, 2, 3):  # P(N >= i) = rho^i
        assert_matches(np.array([r.at_least[i - 1] for r in runs]), 0.5**i, 0.1)


def test_shortest_queue_beats_two_choices_beats_random() -> None:
    """n = 4, rho = 0.8, the same arrivals and service times: M/M/4 <= JSQ < power of two < random (= M/M/1).

    M/M/4 (one queue, Erlang C): W = 1/mu + C(4, 3.2) / (4 mu - lambda) = 1 + 0.5964 / 0.8 = 1.746 s
    bounds from below any routing that fixes a request's replica on arrival; random routing gives 5 s. The
    differences are paired by replication (common random numbers).
    """
    jsq = per_run(queue_runs(N, LAM, "least_outstanding", H_QUEUE), np.mean)
    p2c = per_run(queue_runs(N, LAM, "power_of_2", H_QUEUE), np.mean)
    rand = per_run(queue_runs(N, LAM, "random", H_QUEUE), np.mean)
    mmc = 1 / MU + erlang_c(N, LAM / MU) / (N * MU - LAM)
    assert jsq.mean() >= mmc - 4 * se(jsq)
    for better, worse in ((jsq, p2c), (p2c, rand)):
        gap = worse - better
        assert gap.mean() > 4 * se(gap) and (gap > 0).all()


# ---------------------------------------------------------------------------- power of two: the supermarket
LAM_PER_SERVER = 0.9
H_SUPER = {10: 8_000.0, 25: 4_000.0, 100: 2_800.0}
"""Horizon by n: 65,000, 72,000 and 180,000 requests kept per replication (the small systems relax slower)."""


def supermarket_runs(n: int) -> tuple[Sojourns, ...]:
    """The replications of power_of_two (d = 2) on n replicas at 0.9 requests/s per replica."""
    return queue_runs(n, LAM_PER_SERVER * n, "power_of_2", H_SUPER[n])


def test_power_of_two_approaches_the_supermarket_limit() -> None:
    """lambda = 0.9 per replica, mu = 1, d = 2: T = sum_i 0.9^(2^i - 2) = 2.6141 s (M/M/1: 10 s).

    The finite system is slower by O(1/n): the relative error shrinks from n = 10 to 25 to 100
    (each step by more than 2 se of the difference), and at n = 100 it is within 3 % and 4 se.
    So are the shares of replicas holding at least i = 1 .. 4 requests, s_i = 0.9^(2^i - 1) = 0.9,
    0.729, 0.478, 0.206 (s_1 = lambda / mu at any n; further out the tail converges slowest).
    (The engine samples d *distinct* replicas, the model d with replacement: the two differ by
    O(1/n) too, and not at all in the limit.)
    """
    limit = supermarket_sojourn(LAM_PER_SERVER, 2)
    errors = {n: per_run(supermarket_runs(n), np.mean) / limit - 1 for n in (10, 25, 100)}
    means = {n: float(e.mean()) for n, e in errors.items()}
    for small, large in ((10, 25), (25, 100)):
        assert means[small] - means[large] > 2 * math.hypot(se(errors[small]), se(errors[large]))
    assert abs(means[100]) < 0.03
    assert_matches(per_run(supermarket_runs(100), np.mean), limit, 0.05)
    for i in (1, 2, 3, 4):
        shares = np.array([r.at_least[i - 1] for r in supermarket_runs(100)])
        assert_matches(shares, LAM_PER_SERVER ** (2**i - 1), 0.15)


def test_supermarket_formula_is_m_m_1_at_d_1() -> None:
    """d = 1 is random routing: s_i = lambda^i and T = sum lambda^(i - 1) = 1 / (1 - lambda)."""
    assert supermarket_sojourn(0.9, 1, terms=2000) == pytest.approx(10.0, rel=1e-9)


# ---------------------------------------------------------------------------- Little's law per replica
H_LITTLE = 2_800.0
TOKEN_SERVICE: dict[str, Any] = {
    "name": "s", "gpus_per_replica": 1, "replicas": {"min": 3, "max": 3},
    "requests": {"arrival": {"process": "poisson", "rate": 9.0},
                 "input_tokens": {"dist": "exponential", "mean": 200},
                 "output_tokens": {"dist": "exponential", "mean": 20}},
    "service_model": {"prefill": "2000/s", "decode": {"per_token": "20ms", "max_batch": 4, "batch_penalty": 0.25}},
    "load_balancer": "power_of_two",
}  # fmt: skip
"""Three replicas of a token model: 0.1 s prefills one at a time, batches of up to 4 decoding 20-token answers."""
SAMPLE_S = 0.05


def little_run(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per replica: the engine's outstanding count sampled every SAMPLE_S, its integral from the records, lambda W.

    All three over the window [WARMUP_S, H_LITTLE - TAIL_S), as time averages.
    """
    data = queue_data(3, 9.0, "power_of_two", H_LITTLE, seed)
    data["services"] = [TOKEN_SERVICE]
    model = DataCenterModel(build(data))
    svc = model.services.services[0]  # type: ignore[union-attr]
    lo, hi = WARMUP_S, H_LITTLE - TAIL_S
    grid = np.arange(lo, hi, SAMPLE_S)
    counts = np.zeros((3, grid.size))

    def sampler() -> Any:
        yield model.env.timeout(lo)
        for i in range(grid.size):
            for r in svc.replicas.values():
                counts[r.index, i] = r.outstanding
            yield model.env.timeout(SAMPLE_S)

    model.env.process(sampler())
    model.run()
    c = model.collector.columns("request_done")
    arrival, end, replica = c["arrival"], c["end"], c["replica"]
    kept = (arrival >= lo) & (arrival < hi)
    assert (c["status"][kept] == COMPLETED).all()
    overlap = np.clip(np.minimum(end, hi) - np.maximum(arrival, lo), 0.0, None)
    integral = np.array([overlap[replica == k].sum() for k in range(3)]) / (hi - lo)
    lam_w = np.array([(end - arrival)[kept & (replica == k)].sum() for k in range(3)]) / (hi - lo)
    return counts.mean(axis=1), integral, lam_w


def test_littles_law_holds_on_each_replica_of_a_batching_token_model() -> None:
    """L = lambda W on each replica, whatever the service discipline (Little, 1961), here prefill plus batched decode.

    L is the time average of the engine's own count of requests on the replica (the figure the
    load balancer reads), sampled every 50 ms, and also the integral of the requests' records
    (arrival to end, on that replica); lambda W is the replica's arrivals in the window times
    their mean sojourn, over the window. They differ only by the requests that straddle the
    window's ends and by the sampling: the gaps, one per replica and replication, average 0
    within 4 se, and each is under 0.5 % of L.
    """
    sampled, integral, lam_w = (np.concatenate(x) for x in zip(*(little_run(s) for s in range(3)), strict=True))
    assert (lam_w > 0.5).all()  # a real load: about 1 request in flight per replica or more
    for measured in (sampled, integral):
        gap = measured - lam_w
        assert abs(gap.mean()) <= 4 * se(gap)
        assert (np.abs(gap) <= 0.005 * lam_w).all()
    assert np.abs(sampled - integral).max() <= 0.005 * lam_w.min()


# ---------------------------------------------------------------------------- the HPA rule on traffic steps
SYNC_S = 15.0
PHASES = [(600.0, 30), (1200.0, 130), (1500.0, 140), (2110.0, 18)]
"""(end of phase, requests per 15 s sync window): 2/s to 600 s, 8.67/s to 1200 s, 9.33/s to 1500 s, then 1.2/s."""
COLD_START_S = 25.0


def step_trace(tmp_path: Path) -> str:
    """Requests spread evenly inside each sync window (none within 50 ms of a window's edge), written exactly."""
    times, start = [], 0.0
    for end, per_window in PHASES:
        for w in np.arange(start, end, SYNC_S).tolist():
            times += [w + (k + 0.5) * SYNC_S / per_window for k in range(per_window)]
        start = end
    (tmp_path / "steps.csv").write_text("time\n" + "".join(f"{t!r}\n" for t in times))
    return "steps.csv"


def expected_decisions() -> list[tuple[float, int, int, int, int]]:
    """(time, current, ready, desired, applied) at every sync, worked by hand from the HPA rule (target 1/s each).

    - to 600 s: 2/s on 2 replicas, ratio 1: keep 2.
    - 615: 130/15 = 8.67/s on 2: ratio 4.33, ceil(2 x 4.33) = 9, but the scale-up limit (max(4 pods,
      100 %) per 15 s) allows 2 + 4 = 6. 630: on 6, ceil(6 x 1.44) = 9; the 4 added at 615 are not
      after the cutoff 630 - 15, so the limit is 6 + 4 = 10: 9. Cold start 25 s: the 4 are ready
      at 640, the 3 at 655 (ready 2 at 630, 6 at 645, 9 from 660).
    - 1215 to 1500: 9.33/s on 9, ratio 1.037, within the tolerance 0.1: keep 9 (not ceil(9.33) = 10).
    - from 1515: 1.2/s on 9, recommendation ceil(9 x 0.133) = 2, but the scale-down window keeps the
      highest recommendation of the last 300 s, 9, until 1800 (the last 9, at 1500, is not after
      1800 - 300): then 2 at once (scale-down limit 100 %).
    """
    out = []
    for k in range(1, int(2110 // SYNC_S) + 1):
        t = k * SYNC_S
        if t <= 600:
            out.append((t, 2, 2, 2, 2))
        elif t == 615:
            out.append((t, 2, 2, 6, 6))
        elif t == 630:
            out.append((t, 6, 2, 9, 9))
        elif t == 645:
            out.append((t, 9, 6, 9, 9))
        elif t < 1800:
            out.append((t, 9, 9, 9, 9))
        elif t == 1800:
            out.append((t, 9, 9, 2, 2))
        else:
            out.append((t, 2, 2, 2, 2))
    return out


@pytest.mark.parametrize(
    ("metric", "target", "service_s"),
    [("request_rate", 1.0, 0.1), ("concurrency", 0.01, 0.01)],
    ids=["request_rate", "concurrency"],
)
def test_hpa_scales_when_and_to_what_the_rule_says(
    tmp_path: Path, metric: str, target: float, service_s: float
) -> None:
    """The HPA on a stepped trace: every sync's decision, and when the replicas are asked for, ready and drained.

    With ``concurrency`` and a fixed 10 ms service (no request waits: 20 ms apart at the least on a
    replica, and no request straddles a sync), the mean in flight is rate x 10 ms, so a target of
    0.01 per replica gives the same decisions as ``request_rate`` with target 1/s.
    """
    data = {
        "name": "hpa", "seed": 1, "horizon": 2110.0,
        "datacenter": {"sites": [{"name": "dc1", "racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8}}]},
        "services": [{
            "name": "s", "gpus_per_replica": 1, "replicas": {"min": 1, "max": 12, "initial": 2},
            "requests": {"arrival": {"process": "trace", "path": step_trace(tmp_path)}},
            "service_model": {"time": {"dist": "fixed", "value": service_s}},
            "autoscaler": {"policy": "hpa", "metric": metric, "target": target},
            "cold_start": COLD_START_S,
        }],
    }  # fmt: skip
    model = run_model(data, tmp_path)
    d = model.collector.columns("scale_decision")
    got = list(zip(*(d[k].tolist() for k in ("time", "current", "ready", "desired", "applied")), strict=True))
    assert got == expected_decisions()
    c = model.collector.columns("replica_change")
    changes: dict[str, list[float]] = {}
    for t, kind in zip(c["time"].tolist(), c["change"].tolist(), strict=True):
        changes.setdefault(REPLICA_CHANGES[kind], []).append(t)
    assert changes["requested"] == [0.0] * 2 + [615.0] * 4 + [630.0] * 3
    assert changes["ready"] == [0.0] * 2 + [615.0 + COLD_START_S] * 4 + [630.0 + COLD_START_S] * 3
    assert changes["draining"] == [1800.0] * 7
    assert len(changes["stopped"]) == 7 and all(1800.0 <= t <= 1800.0 + service_s for t in changes["stopped"])
    statuses = model.collector.columns("request_done")["status"]
    assert (statuses == COMPLETED).all()
