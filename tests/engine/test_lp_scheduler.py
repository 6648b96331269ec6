"""The ``lp`` scheduler in the engine: where and when it starts jobs, on cases worked by hand.

Every expected value is written as the arithmetic that gives it from the scenario's
numbers (prices, failure rates, the epoch period), from queueing theory (Erlang C,
Little's law), or from another run (fifo) that the lp must equal by argument; none is
read off a run of the lp.

Prices as the lp sees them (dcsim/engine/model.py ``_fleet``, dcsim/policies/lp.py): a pool's
GPU-hour price ``p`` (``costs.gpu_hour_usd``) values waiting, fault exposure and fragmentation;
the cost term uses the pool's *rate*: with ``cost_basis: energy`` (the default) the energy a busy
GPU adds, ``(busy - idle power) x pue x electricity / 1000`` USD per GPU-hour; with
``cost_basis: gpu_hour``, ``p`` plus that energy.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from dcsim.allocate.epoch import solve_epoch
from dcsim.cli import main
from dcsim.engine import DataCenterModel
from dcsim.experiment.run import summary_json
from dcsim.metrics.tables import jobs_table
from dcsim.workload.jobs import Job

from conftest import build, run_data, tiny_data

H = 3600.0
PERIOD = 300.0
ELECTRICITY = 0.1
PUE = 1.3
BUSY_W, IDLE_W = 700.0, 100.0


def energy(busy_w: float = BUSY_W, idle_w: float = IDLE_W) -> float:
    """USD a busy GPU adds per hour to the energy bill."""
    return (busy_w - idle_w) * PUE * ELECTRICITY / 1000.0


def node(gpu_type: str, gpus: int = 8, busy_w: float = BUSY_W, idle_w: float = IDLE_W) -> dict[str, Any]:
    """A node whose GPUs all run at one speed: these cases are about prices, power and failures."""
    return {"gpus": gpus, "gpu_type": gpu_type, "gpu_power": f"{busy_w:g}W", "gpu_idle_power": f"{idle_w:g}W",
            "gpu_speed": 1.0}  # fmt: skip


def lp(**params: Any) -> dict[str, Any]:
    return {"scheduler": {"name": "lp", "params": {"period": PERIOD, **params}}, "placement": "first_fit"}


def job(name: str, gpus: int, duration: str, at: float = 0.0, count: int = 1, **extra: Any) -> dict[str, Any]:
    return {"name": name, "arrival": {"process": "batch", "at": at}, "count": count, "gpus": gpus,
            "duration": duration, **extra}  # fmt: skip


def two_pools(
    prices: dict[str, float], jobs: list[dict[str, Any]], busy_w: dict[str, float] | None = None, **top: Any
) -> dict[str, Any]:
    """One site: an A100 rack of one 8-GPU node (pool 0), then an H100 rack of one 8-GPU node (pool 1)."""
    busy_w = busy_w or {"A100": BUSY_W, "H100": BUSY_W}
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": 1, "node": node("A100", busy_w=busy_w["A100"])},
            {"racks": 1, "nodes_per_rack": 1, "node": node("H100", busy_w=busy_w["H100"])},
        ]}]},
        workload={"jobs": jobs},
        costs={"gpu_hour_usd": prices, "electricity_usd_per_kwh": ELECTRICITY, "pue": PUE},
        **top,
    )  # fmt: skip


PRICE = 2.0
"""GPU-hour price of the one-pool cases."""


def one_pool(nodes: int, jobs: list[dict[str, Any]], racks: int = 1, gpus: int = 8, **top: Any) -> dict[str, Any]:
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "racks": racks, "nodes_per_rack": nodes, "node": node("H100", gpus)}]},
        workload={"jobs": jobs},
        costs={"gpu_hour_usd": PRICE, "electricity_usd_per_kwh": ELECTRICITY, "pue": PUE},
        **top,
    )  # fmt: skip


def row(jobs: pd.DataFrame, job_class: str) -> pd.Series:
    rows = jobs[jobs["job_class"] == job_class]
    assert len(rows) == 1
    return rows.iloc[0]


def first_periodic_epoch(after: float, condition: Any) -> float:
    """The first periodic epoch k x PERIOD at or after ``after`` at which ``condition(t)`` holds."""
    k = math.ceil(after / PERIOD)
    while not condition(k * PERIOD):
        k += 1
        assert k < 10_000
    return k * PERIOD


# ---------------------------------------------------------------------------- (a) cost
# A100 dearer per GPU-hour but drawing less power; H100 cheaper per GPU-hour, drawing more.
AB_PRICES = {"A100": 3.0, "H100": 1.0}
AB_BUSY_W = {"A100": 400.0, "H100": 700.0}


@pytest.mark.parametrize(("basis", "expected"), [("gpu_hour", "H100"), ("energy", "A100")])
def test_a_job_that_fits_both_pools_starts_where_its_cost_rate_is_lower(basis: str, expected: str) -> None:
    """8 GPUs for 10 h at t = 0, both pools idle, no failures, whole nodes (no fragmentation).

    Rates, USD per busy GPU-hour: gpu_hour basis: A100 3.0 + e(400 W), H100 1.0 + e(700 W): H100 lower.
    energy basis: A100 e(400 W) < H100 e(700 W): A100 lower. On the lower-rate pool the cost term is
    0; on the other 8 x 10 x the rate difference > 0; waiting a period costs > 0: it starts at once,
    on the lower-rate pool (pool 1 in one case, pool 0 in the other: no lowest-id rule decides).
    """
    rate = {t: energy(AB_BUSY_W[t]) + (AB_PRICES[t] if basis == "gpu_hour" else 0.0) for t in AB_PRICES}
    assert min(rate, key=rate.__getitem__) == expected
    data = two_pools(AB_PRICES, [job("x", 8, "10h")], AB_BUSY_W, policies=lp(cost_basis=basis))
    result = run_data(data)
    x = row(result.jobs, "x")
    assert (x["gpu_type"], x["start_s"]) == (expected, 0.0)
    first = result.epochs.iloc[0]
    assert (first["time_s"], first["started"], first["fallback"], first["candidates"]) == (0.0, 1, False, 2)
    assert first["cost_usd"] == pytest.approx(0.0)
    assert first["wait_usd"] == pytest.approx(0.0)
    assert result.summary["scheduler"]["guard_starts"] == 0


def test_a_job_waits_for_the_cheap_pool_until_waiting_costs_more_than_the_dear_one() -> None:
    """The cheap A100 node is busy for 10 h; job x (8 GPUs, 2 h, any type) arrives at 0.5 h.

    cost_basis gpu_hour, equal power: the idle H100 node costs gpus x 2 h x (p_H100 - p_A100)
    = 8 x 2 x 0.5 = 8 USD more. Waiting at epoch t costs gpus x p_A100 (the cheapest GPU-hour
    price) x (t - submit + period) / 3600. Epochs come every period while x waits, so it starts
    on the H100 node at the first multiple of the period where waiting costs more than 8 USD.
    """
    submit = 1800.0
    prices = {"A100": 1.2, "H100": 1.7}
    blocker = job("blocker", 8, "10h", gpu_types=["A100"])
    data = two_pools(prices, [blocker, job("x", 8, "2h", at=submit)], policies=lp(cost_basis="gpu_hour"))
    result = run_data(data)
    premium = 8 * 2.0 * (prices["H100"] - prices["A100"])
    start = first_periodic_epoch(submit, lambda t: 8 * prices["A100"] * (t - submit + PERIOD) / H > premium)
    assert submit < start < 10 * H  # after arrival, before the cheap node frees
    x = row(result.jobs, "x")
    assert x["gpu_type"] == "H100"
    assert x["start_s"] == pytest.approx(start)
    at_start = result.epochs[(result.epochs["time_s"] == start) & (result.epochs["started"] == 1)]
    assert len(at_start) == 1
    assert at_start["cost_usd"].iloc[0] == pytest.approx(premium)
    # One period earlier waiting still cost less than the premium: it did not start then.
    assert 8 * prices["A100"] * (start - PERIOD - submit + PERIOD) / H <= premium


def test_cost_weight_zero_makes_the_dear_pool_as_good() -> None:
    """Same case with cost_weight 0: the idle H100 node is free of charge, so x starts on arrival."""
    submit = 1800.0
    blocker = job("blocker", 8, "10h", gpu_types=["A100"])
    policies = lp(cost_basis="gpu_hour", cost_weight=0)
    data = two_pools({"A100": 1.2, "H100": 1.7}, [blocker, job("x", 8, "2h", at=submit)], policies=policies)
    x = row(run_data(data).jobs, "x")
    assert (x["gpu_type"], x["start_s"]) == ("H100", submit)


# ---------------------------------------------------------------------------- (b) fault exposure
MTBF_H = 20.0
"""Node MTBF of the A100 pool; the H100 pool never fails."""


def faulty_a100(prices: dict[str, float], fault_weight: float, checkpoint: dict[str, str] | None) -> dict[str, Any]:
    extra = {"checkpoint": checkpoint} if checkpoint else {}
    return two_pools(
        prices, [job("x", 8, "10h", **extra)],
        policies=lp(fault_weight=fault_weight, wait_weight=1000.0, cost_basis="gpu_hour"),
        failures={"node": {"per_type": {"A100": {"mtbf": f"{MTBF_H:g}h"}}}},
    )  # fmt: skip


def lost_hours(checkpoint: dict[str, str] | None) -> float:
    """Work a failure costs each GPU, h: half the run without checkpoints, else half an interval + the restart."""
    return 10.0 / 2 if checkpoint is None else min(1.0 / 2, 10.0 / 2) + 0.1


CHECKPOINTS = [pytest.param(None, id="no-checkpoint"),
               pytest.param({"interval": "1h", "restart": "6m"}, id="checkpoint-1h")]  # fmt: skip


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_with_equal_prices_a_long_job_avoids_the_failing_pool(checkpoint: dict[str, str] | None) -> None:
    """Equal prices and power; the A100 node (pool 0, first in every lowest-id rule) fails every 20 h
    on average. Exposure there: fault_weight x gpus x lost h x (rate x run) x price > 0; on H100: 0. So H100."""
    data = faulty_a100({"A100": 2.0, "H100": 2.0}, 10.0, checkpoint)
    result = run_data(data)
    x = row(result.jobs, "x")
    assert (x["gpu_type"], x["start_s"]) == ("H100", 0.0)
    first = result.epochs.iloc[0]
    assert (first["time_s"], first["started"]) == (0.0, 1)
    assert first["fault_usd"] == pytest.approx(0.0)
    assert first["cost_usd"] == pytest.approx(0.0)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
@pytest.mark.parametrize(("share", "expected"), [(0.0, "A100"), (0.5, "A100"), (2.0, "H100")])
def test_fault_weight_trades_the_cheap_failing_pool_for_the_dear_reliable_one(
    checkpoint: dict[str, str] | None, share: float, expected: str
) -> None:
    """A100 cheaper by 0.2 USD/GPU-h but failing; H100 dearer and reliable. 8 GPUs for 10 h.

    On H100: cost = 8 x 10 x 0.2 = 16 USD (gpu_hour basis; the energy is equal). On A100:
    fault = w x 8 x lost_h x (10 h / 20 h) x p_A100. They are equal at
    w* = 16 / (8 x lost_h x 0.5 x p_A100); below it A100, above it H100 (w = share x w*).
    """
    prices = {"A100": 1.0, "H100": 1.2}
    cost_h100 = 8 * 10.0 * (prices["H100"] - prices["A100"])
    exposure = 8 * lost_hours(checkpoint) * (10.0 / MTBF_H) * prices["A100"]  # per unit of fault_weight
    weight = share * cost_h100 / exposure
    result = run_data(faulty_a100(prices, weight, checkpoint))
    x = row(result.jobs, "x")
    assert (x["gpu_type"], x["start_s"]) == (expected, 0.0)
    first = result.epochs.iloc[0]
    assert (first["time_s"], first["started"]) == (0.0, 1)
    if expected == "A100":
        assert first["fault_usd"] == pytest.approx(weight * exposure)
        assert first["cost_usd"] == pytest.approx(0.0)
    else:
        assert first["fault_usd"] == pytest.approx(0.0)
        assert first["cost_usd"] == pytest.approx(cost_h100)


# ---------------------------------------------------------------------------- (c) fragmentation
@pytest.mark.parametrize("level", ["node", "rack", "pool"])
def test_a_small_job_goes_to_the_node_it_fills_not_to_a_whole_free_one(level: str) -> None:
    """Two 8-GPU nodes. a (8 GPUs, 1 h) takes node 0 at 0; b (6 GPUs, 10 h) arrives at 0.5 h and
    takes node 1 (the only one free); at 1 h node 0 is whole again. c (2 GPUs) arrives at 2 h:
    node 1 has exactly 2 free (fragmentation 0), node 0 would leave 6 free beside it and break a
    whole node (6 x price x one period). c goes to node 1 (first_fit, the fallback, would take node 0)."""
    jobs = [job("a", 8, "1h"), job("b", 6, "10h", at=0.5 * H), job("c", 2, "1h", at=2 * H)]
    result = run_data(one_pool(2, jobs, policies=lp(level=level)))
    table = result.jobs
    assert row(table, "a")["first_node"] == 0
    assert row(table, "b")["first_node"] == 1
    c = row(table, "c")
    assert (c["first_node"], c["start_s"]) == (1, 2 * H)
    epoch = result.epochs[(result.epochs["time_s"] == 2 * H) & (result.epochs["started"] == 1)]
    assert len(epoch) == 1 and epoch["fragmentation_usd"].iloc[0] == pytest.approx(0.0)
    assert (epoch["level"] == level).all()


def test_a_small_job_starts_at_once_when_breaking_a_whole_node_is_its_tightest_fit() -> None:
    """Only a whole free node is left for c (2 GPUs of 8): it leaves 6 GPUs free beside it, but
    fragmentation counts above the job's tightest fit this epoch, which is that same node: 0. So
    waiting (2 x p x period / 3600 > 0) costs more, and c starts on arrival, on node 1."""
    submit = 1000.0
    jobs = [job("a", 8, "10h"), job("c", 2, "1h", at=submit)]
    result = run_data(one_pool(2, jobs, policies=lp(level="node")))
    c = row(result.jobs, "c")
    assert (c["first_node"], c["start_s"]) == (1, submit)
    epoch = result.epochs[(result.epochs["time_s"] == submit) & (result.epochs["started"] == 1)]
    assert epoch["fragmentation_usd"].iloc[0] == pytest.approx(0.0)
    assert result.summary["scheduler"]["guard_starts"] == 0


# ---------------------------------------------------------------------------- (d) waiting
def test_of_two_equal_jobs_for_one_free_node_the_older_starts_first() -> None:
    """One 8-GPU node, busy until 2 h. Equal 8-GPU, 1 h jobs: older at 0.5 h, younger at 1 h.

    At 2 h starting the older leaves the younger's wait, 8 p (2 h - 1 h + period), to pay;
    starting the younger leaves the older's, 8 p (2 h - 0.5 h + period): larger. So the older.
    """
    younger, older = job("younger", 8, "1h", at=1 * H), job("older", 8, "1h", at=0.5 * H)
    data = one_pool(1, [job("blocker", 8, "2h"), younger, older], policies=lp())  # the younger's class listed first
    result = run_data(data)
    assert row(result.jobs, "older")["start_s"] == 2 * H
    assert row(result.jobs, "younger")["start_s"] == 3 * H
    price = PRICE
    epoch = result.epochs[(result.epochs["time_s"] == 2 * H) & (result.epochs["started"] == 1)]
    assert len(epoch) == 1
    assert epoch["wait_usd"].iloc[0] == pytest.approx(8 * price * (2 * H - 1 * H + PERIOD) / H)
    assert result.summary["scheduler"]["guard_starts"] == 0


# ---------------------------------------------------------------------------- epochs: delay, window, guard
def test_events_within_delay_share_one_epoch() -> None:
    """delay 2 min: x arrives at 1000 s, y at 1060 s; the epoch x asked for comes at 1120 s and starts both
    (8-GPU jobs on two idle 8-GPU nodes: price 0 < waiting). With delay 0 each starts on arrival."""
    jobs = [job("x", 8, "1h", at=1000.0), job("y", 8, "1h", at=1060.0)]
    batched = run_data(one_pool(2, jobs, policies=lp(delay=120.0)))
    assert row(batched.jobs, "x")["start_s"] == 1000.0 + 120.0
    assert row(batched.jobs, "y")["start_s"] == 1000.0 + 120.0
    epoch = batched.epochs[batched.epochs["time_s"] == 1120.0]
    assert (len(epoch), epoch["jobs"].iloc[0], epoch["started"].iloc[0]) == (1, 2, 2)
    assert (batched.epochs["time_s"] < 1120.0).sum() == 0  # no epoch before it
    at_once = run_data(one_pool(2, jobs, policies=lp(delay=0.0)))
    assert list(at_once.jobs["start_s"]) == [1000.0, 1060.0]


@pytest.mark.parametrize(("window", "c_start"), [(1, 10 * H + PERIOD), (200, 2 * H)])
def test_window_limits_the_queued_jobs_an_epoch_considers(window: int, c_start: float) -> None:
    """One 8-GPU node: a (6 GPUs) runs 0-10 h; b (4 GPUs, 1 h) queues at 1 h and cannot fit; c (2 GPUs)
    queues at 2 h and fills the node exactly (price 0). With window 200 c starts on arrival. With
    window 1 epochs see b only: at 10 h b starts (its wait 4 p (9 h + period) beats leaving 4 GPUs
    free for a period, 4 p period) and c, now first, starts at the next periodic epoch, 10 h + period."""
    jobs = [job("a", 6, "10h"), job("b", 4, "1h", at=1 * H), job("c", 2, "1h", at=2 * H)]
    result = run_data(one_pool(1, jobs, policies=lp(window=window)))
    assert row(result.jobs, "b")["start_s"] == 10 * H
    assert row(result.jobs, "c")["start_s"] == c_start
    assert result.epochs["jobs"].max() <= window
    assert result.summary["scheduler"]["guard_starts"] == 0


HELD_PRICES = {"A100": 1.2, "H100": 1.7}
"""With cost_basis gpu_hour, an 8-GPU 2 h job on the H100 node costs 8 x 2 x 0.5 = 8 USD more than on the A100."""


def held_back(at: list[float], cost_weight: float, **top: Any) -> dict[str, Any]:
    """The A100 node is in maintenance for 20 h from t = 0 (nothing runs on it); 8-GPU 2 h jobs arrive at ``at``."""
    jobs = [job(f"x{i}", 8, "2h", at=t) for i, t in enumerate(at)]
    maintenance = [{"name": "m", "start": 0.0, "duration": 20 * H, "scope": "node", "units": [0]}]
    policies = lp(cost_basis="gpu_hour", cost_weight=cost_weight)
    return two_pools(HELD_PRICES, jobs, policies=policies, maintenance=maintenance, **top)


@pytest.mark.parametrize(("cost_weight", "guarded"), [(1.0, True), (0.0, False)])
def test_the_guard_starts_a_job_the_milp_holds_back_on_an_idle_cluster(cost_weight: float, guarded: bool) -> None:
    """x arrives at 0.5 h; the cheap A100 node is down, nothing runs. Starting on the H100 node costs
    8 USD more (cost weight 1), waiting a period 8 x 1.2 x period / 3600 = 0.8 USD: the MILP keeps x
    queued, and with nothing running the guard pass starts it at once. At cost weight 0 the MILP
    starts it itself. Either way it starts on arrival, on the H100 node."""
    assert 8 * 2 * (HELD_PRICES["H100"] - HELD_PRICES["A100"]) > 8 * HELD_PRICES["A100"] * PERIOD / H
    result = run_data(held_back([0.5 * H], cost_weight))
    x = row(result.jobs, "x0")
    assert (x["gpu_type"], x["start_s"]) == ("H100", 0.5 * H)
    s = result.summary["scheduler"]
    assert (s["guard_starts"], s["jobs_started"]) == ((1, 0) if guarded else (0, 1))
    assert (result.epochs["status"] == "optimal").all()


def test_scheduler_summary_counts_the_measurement_window_only() -> None:
    """The held-back case with jobs at 0.5 h and 10 h and a 5 h warm-up: the epoch and the guard start
    at 0.5 h are outside the window, like job x0 (warm-up is excluded from every metric); only the
    epoch and the guard start at 10 h count."""
    result = run_data(held_back([0.5 * H, 10 * H], 1.0, warmup=5 * H))
    assert list(result.jobs["start_s"]) == [0.5 * H, 10 * H]
    s = result.summary["scheduler"]
    assert result.summary["jobs"]["submitted"] == 1
    assert (s["epochs"], s["jobs_started"], s["guard_starts"]) == (1, 0, 1)
    assert len(result.epochs) == 2


# ---------------------------------------------------------------------------- (e) M/M/c
MMC_C = 4
MMC_RHO = 0.7
MMC_HORIZON = 800 * H
MMC_WARMUP = 40 * H
"""About 4 relaxation times 1 / (c mu (1 - sqrt(rho))^2) ~ 9.4 h."""
MMC_REPS = 8


def erlang_c(c: int, a: float) -> float:
    """P(wait) in M/M/c at offered load a: [a^c / c! x c / (c - a)] / [sum_{k<c} a^k / k! + a^c / c! x c / (c - a)]."""
    waiting = a**c / math.factorial(c) * c / (c - a)
    return waiting / (sum(a**k / math.factorial(k) for k in range(c)) + waiting)


def mmc_data(
    scheduler: dict[str, Any] | str, horizon: float = MMC_HORIZON, warmup: float = MMC_WARMUP
) -> dict[str, Any]:
    """c one-GPU nodes (so no fragmentation, one pool: no cost; no failures), 1-GPU jobs, M/M/c at rho."""
    lam = MMC_RHO * MMC_C / H
    return one_pool(
        MMC_C, [{"name": "mm", "arrival": {"process": "poisson", "rate": lam}, "gpus": 1,
                 "duration": {"dist": "exponential", "mean": H}}],
        gpus=1, policies={"scheduler": scheduler, "placement": "first_fit"}, horizon=horizon, warmup=warmup,
    )  # fmt: skip


def se(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


@pytest.fixture(scope="module")
def mmc_reps() -> list[dict[str, Any]]:
    scheduler = {"name": "lp", "params": {"delay": 0, "period": PERIOD}}
    return [run_data(mmc_data(scheduler), seed=seed).summary for seed in range(MMC_REPS)]


@pytest.mark.statistical
def test_mmc_mean_wait_under_lp_matches_erlang_c(mmc_reps: list[dict[str, Any]]) -> None:
    """Every candidate costs 0 here and waiting costs more the older the job: the lp starts the
    oldest jobs on every free GPU at once, an M/M/c FIFO queue. Wq = C(c, a) / (c mu - lambda)."""
    mu = 1 / H
    lam = MMC_RHO * MMC_C * mu
    wq = erlang_c(MMC_C, lam / mu) / (MMC_C * mu - lam)
    waits = np.array([s["jobs"]["mean_wait_s"] for s in mmc_reps])
    assert abs(waits.mean() - wq) <= 4 * se(waits)
    util = np.array([s["utilization"]["gpu_allocated"] for s in mmc_reps])
    assert abs(util.mean() - MMC_RHO) <= 4 * se(util)
    assert all(s["scheduler"]["fallbacks"] == 0 for s in mmc_reps)


@pytest.mark.statistical
def test_mmc_under_lp_obeys_littles_law(mmc_reps: list[dict[str, Any]]) -> None:
    """L_q = lambda_hat W_q per replication up to the window's edges (bounded by the precision of L_q)."""
    lq = np.array([s["queue"]["mean_queued_jobs"] for s in mmc_reps])
    lam = np.array([s["queue"]["arrival_rate_per_h"] / H for s in mmc_reps])
    wq = np.array([s["jobs"]["mean_wait_s"] for s in mmc_reps])
    assert abs((lq - lam * wq).mean()) <= 4 * se(lq)
    a = MMC_RHO * MMC_C  # lambda / mu
    assert abs(lq.mean() - erlang_c(MMC_C, a) * MMC_RHO / (1 - MMC_RHO)) <= 4 * se(lq)


def test_lp_with_no_delay_waits_exactly_as_fifo_on_one_gpu_jobs() -> None:
    """The same argument job by job: on this M/M/c, every job waits exactly as long under lp as under fifo."""
    horizon = 150 * H
    lp_run = run_data(mmc_data({"name": "lp", "params": {"delay": 0}}, horizon, 0), seed=11)
    fifo_run = run_data(mmc_data("fifo", horizon, 0), seed=11)
    a, b = lp_run.jobs, fifo_run.jobs
    assert len(a) == len(b) > 400
    assert (a["wait_s"] > 0).sum() > 50  # a queue formed, so order mattered
    np.testing.assert_allclose(a["wait_s"].to_numpy(), b["wait_s"].to_numpy(), rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------- (f) determinism
def busy_mixed(level: str = "auto", **params: Any) -> dict[str, Any]:
    """Two pools (A100 4-GPU and H100 8-GPU nodes), 1- to 24-GPU jobs, random node failures on A100."""
    return tiny_data(
        datacenter={"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 2, "nodes_per_rack": 2, "node": node("A100", 4)},
            {"racks": 2, "nodes_per_rack": 3, "node": node("H100", 8)},
        ]}]},
        workload={"jobs": [
            {"name": "mix", "arrival": {"process": "poisson", "rate": "3/h"}, "count": 150,
             "gpus": {"values": [1, 2, 3, 4, 6, 8, 12, 16, 24], "weights": [6, 4, 2, 3, 1, 3, 1, 2, 1]},
             "duration": {"dist": "lognormal", "median": "2h", "sigma": 0.8},
             "checkpoint": {"interval": "1h", "restart": "5m"}},
            {"name": "h100", "arrival": {"process": "poisson", "rate": "1/h"}, "count": 40,
             "gpus": {"values": [8, 16]}, "duration": {"dist": "exponential", "mean": "3h"}, "gpu_types": ["H100"]},
        ]},
        failures={"node": {"per_type": {"A100": {"mtbf": "150h"}}}},
        repair={"time": {"dist": "exponential", "mean": "2h"}},
        costs={"gpu_hour_usd": {"A100": 1.2, "H100": 2.5}, "electricity_usd_per_kwh": ELECTRICITY, "pue": PUE},
        policies={"scheduler": {"name": "lp", "params": {"level": level, **params}}, "placement": "best_fit"},
    )  # fmt: skip


def test_same_scenario_and_seed_give_identical_summary_and_epochs() -> None:
    data = busy_mixed()
    one, two = run_data(data, seed=5), run_data(data, seed=5)
    assert summary_json(one.summary) == summary_json(two.summary)
    assert one.summary["scheduler"]["epochs"] > 100
    pd.testing.assert_frame_equal(one.epochs.drop(columns="solve_time_s"), two.epochs.drop(columns="solve_time_s"))
    pd.testing.assert_frame_equal(one.jobs, two.jobs)
    other = run_data(data, seed=6)
    assert summary_json(other.summary) != summary_json(one.summary)  # the comparison can tell runs apart


# ---------------------------------------------------------------------------- (g, h) valid placements
def run_checked(data: dict[str, Any], seed: int = 0) -> tuple[DataCenterModel, pd.DataFrame, int]:
    """Run event by event; after every event check each running job's placement and every node's GPUs.

    A placement is valid if its nodes are distinct, in pools the job may use, each with
    1..node-size GPUs, summing to the job's GPUs; a node's free GPUs are never negative, and
    free + down + GPUs of the running jobs there = its GPUs. Returns the model, its jobs table
    and the number of events checked.
    """
    model = DataCenterModel(build(data), seed)
    assert model.track  # running_jobs is kept (checkpoints or failures)
    env, cluster, topo = model.env, model.cluster, model.topology
    size = topo.node_gpus
    steps = 0
    while not model.drained.triggered:
        env.step()
        steps += 1
        used = [0] * len(size)
        for j in model.running_jobs.values():
            nodes = [m for m, _ in j.placement]
            assert len(set(nodes)) == len(nodes), (j.id, j.placement)
            assert sum(g for _, g in j.placement) == j.gpus, (j.id, j.gpus, j.placement)
            for m, g in j.placement:
                assert topo.node_pool[m] in j.pools, (j.id, m, j.pools)
                assert 1 <= g <= size[m], (j.id, j.placement)
                used[m] += g
        for m, total in enumerate(size):
            assert cluster.free[m] >= 0, (env.now, m, cluster.free[m])
            assert cluster.free[m] + cluster.down[m] + used[m] == total, (env.now, m)
    return model, jobs_table(model.collector, topo).to_pandas(), steps


@pytest.mark.parametrize("level", ["node", "rack", "pool"])
def test_every_lp_placement_is_valid_on_a_mixed_multi_node_workload(level: str) -> None:
    """Failures on the A100 pool, rolling rack maintenance (evicting) and node maintenance on top."""
    data = busy_mixed(level)
    data["maintenance"] = [
        {"start": "5h", "duration": "3h", "scope": "rack", "rolling": True, "drain": "evict", "every": "30h"},
        {"name": "nodes", "start": "7h", "duration": "2h", "scope": "node", "units": [0, 5, 9], "rolling": False},
    ]
    model, jobs, steps = run_checked(data, seed=2)
    assert steps > 1000
    assert (jobs["state"] == "completed").all()
    assert (jobs["nodes"] > 1).sum() > 10  # multi-node jobs were placed
    assert set(jobs.loc[jobs["job_class"] == "h100", "gpu_type"]) == {"H100"}
    log = model.scheduler.log
    assert {e.level for e in log} == {level}
    assert sum(e.started for e in log) > 0.5 * len(jobs)  # the MILP, not the fallback, started most jobs
    assert model.rel is not None


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_solver_time_out_falls_back_and_every_job_still_runs(solver: str) -> None:
    """120 jobs at once on 64 GPUs at node level: ~800 job-bin pairs, no answer in 1 ns.

    The epoch falls back to the placement policy's backfill pass; epochs later may solve or not.
    Every job still completes, every placement valid.
    """
    data = one_pool(4, [{"name": "q", "arrival": {"process": "batch", "at": 0}, "count": 120,
                         "gpus": {"values": [1, 2, 3, 4, 16]},
                         "duration": {"dist": "exponential", "mean": "1h"},
                         "checkpoint": {"interval": "1h"}}],
                    racks=2, policies={"scheduler": {"name": "lp", "params": {
                        "level": "node", "time_limit": 1e-9, "solver": solver}}, "placement": "best_fit"})  # fmt: skip
    model, jobs, _ = run_checked(data)
    assert (jobs["state"] == "completed").all() and len(jobs) == 120
    log = model.scheduler.log
    first = log[0]
    assert (first.time, first.jobs, first.fallback, first.started) == (0.0, 120, True, 0)
    # At t = 0 every node is whole: a job under 8 GPUs may take any of the 8 nodes, a 16-GPU job
    # (2 whole nodes, within a rack of 4) either rack; bins: the pool, 2 racks, 8 nodes.
    sizes = jobs["gpus"].to_numpy()
    assert first.status != "optimal"
    assert first.candidates == 8 * (sizes < 8).sum() + 2 * (sizes == 16).sum()
    assert first.bins == 1 + 2 + 8
    # The fallback pass filled the cluster at t = 0 as best_fit backfill would: as many jobs as fit.
    assert (jobs["start_s"] == 0).sum() > 0
    assert all(e.fallback == (e.status != "optimal") for e in log)
    # The same through simulate(): the summary counts the fallbacks.
    result = run_data(data)
    s = result.summary["scheduler"]
    assert s["fallbacks"] > 0
    assert s["fallbacks"] == int(result.epochs["fallback"].sum())
    assert s["fallback_share"] == pytest.approx(s["fallbacks"] / s["epochs"])
    assert result.summary["jobs"]["completed"] == 120


# ---------------------------------------------------------------------------- (i, j) CLI
def test_compare_runs_fifo_and_lp_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = busy_mixed()
    data["horizon"] = "1d"
    for cls in data["workload"]["jobs"]:
        del cls["count"]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code = main(
        ["compare", str(path), "--policy", "scheduler=fifo,lp", "--seeds", "2", "--out", str(tmp_path / "c.csv")]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert re.search(r"^variant: policies\.scheduler\s+fifo\s+lp\s*$", out, flags=re.MULTILINE), out
    table = pd.read_csv(tmp_path / "c.csv")
    assert sorted(table["variant"]) == ["fifo", "fifo", "lp", "lp"]
    assert list(table["run.scheduler"]) == list(table["variant"])
    lp_rows, fifo_rows = table[table["variant"] == "lp"], table[table["variant"] == "fifo"]
    assert (lp_rows["scheduler.epochs"] > 0).all() and fifo_rows["scheduler.epochs"].isna().all()
    # Same seeds, same draws: both variants see the same jobs.
    assert list(lp_rows["jobs.submitted"]) == list(fifo_rows["jobs.submitted"])


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_bad_lp_level_is_named_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    data = tiny_data(policies={"scheduler": {"name": "lp", "params": {"level": "nodes"}}})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    extra = ["--out", str(tmp_path / "results" / "run")] if command == "run" else []
    code = main([command, str(path), *extra])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith(f"dcsim {command}: error: "), err
    assert "policies.scheduler" in err and "params.level" in err, err
    assert all(f"'{level}'" in err for level in ("auto", "node", "rack", "pool")), err  # what it may be
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------------------- bins
@pytest.mark.parametrize("level", ["node", "rack", "pool"])
def test_every_candidate_bin_holds_its_own_free_capacity(level: str) -> None:
    """Node 0 of a 2-node rack has 2 GPUs free, node 1 all 8; two 2-GPU jobs queue. Each candidate's bin
    must be the unit its level says, with that unit's own free GPUs and whole nodes, nested in the right
    parents (a review found the first node of a rack pointing at the rack's bin, unchecked)."""
    model = DataCenterModel(build(one_pool(2, [job("a", 6, "10h"), job("b", 2, "1h", at=H, count=2)],
                                           policies=lp(level=level))))  # fmt: skip
    model.env.run(until=0.5 * H)  # a runs on node 0; b's two jobs are not submitted yet
    cluster = model.cluster
    assert list(cluster.free) == [2, 8]
    jobs = [Job(i, "b", "t", 0, 2, H, H, H, 0.0, (0,)) for i in range(2)]
    problem, used, where = model.scheduler.problem(jobs, cluster, model.env.now)
    assert used == level
    for c in problem.candidates:
        spec = problem.bins[c.bin]
        pool, nodes = where[c.bin]
        members = nodes or tuple(cluster.pools[pool].nodes)
        assert spec.free == sum(cluster.free[m] for m in members)
        assert spec.whole == sum(cluster.free[m] == 8 for m in members)
        if level == "node":
            assert len(nodes) == 1
        for parent in spec.parents:
            p_pool, p_nodes = where[parent]
            assert set(members) <= set(p_nodes or cluster.pools[p_pool].nodes)
    chosen = solve_epoch(problem).chosen
    assert len(chosen) == 2
    if level == "node":  # exact: one job per node, the tight one first
        assert sorted(where[c.bin][1] for c in chosen) == [(0,), (1,)]
