"""GPU sharing in the event engine (issue 16 points 1, 2): CPU, memory, shares of a GPU, CPU-only jobs.

Every start time below is worked out by hand from the scenario; none is read off a run.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcsim.engine import DataCenterModel
from dcsim.infra.components import GPU
from dcsim.infra.shares import WHOLE, Demand
from dcsim.infra.sharing import NodeSet, SharedCluster
from dcsim.infra.spec import Datacenter
from dcsim.infra.topology import build_topology
from dcsim.policies.placement import FirstFit, WorstFit

from conftest import build, run_data

H = 3600.0


def job(name: str, at: float, duration: Any = "1h", **fields: Any) -> dict[str, Any]:
    """One job of its own class arriving at ``at`` s (a periodic arrival with count 1)."""
    return {"name": name, "arrival": {"process": "periodic", "interval": "1h", "start": at}, "count": 1,
            "duration": duration, "gpus": 1, **fields}  # fmt: skip


def scenario(jobs: list[dict[str, Any]], groups: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """One site of the given rack groups (one rack each), FIFO with backfill, first fit."""
    data: dict[str, Any] = {
        "name": "sharing",
        "seed": 1,
        "datacenter": {"sites": [{"name": "dc1", "rack_groups": [
            {"racks": 1, "nodes_per_rack": g.get("nodes", 1), "node": {k: v for k, v in g.items() if k != "nodes"}}
            for g in groups
        ]}]},
        "workload": {"jobs": jobs},
        "policies": {"scheduler": {"name": "fifo", "params": {"backfill": True}}, "placement": "first_fit"},
    }  # fmt: skip
    data.update(top)
    return data


def starts(jobs: list[dict[str, Any]], groups: list[dict[str, Any]], **top: Any) -> dict[str, tuple[float, int]]:
    """Each job's (start time, first node), by class name."""
    return starts_of(scenario(jobs, groups, **top))


def starts_of(data: dict[str, Any]) -> dict[str, tuple[float, int]]:
    """Each job's (start time, first node) in a run of ``data``, by class name."""
    j = run_data(data).jobs
    return {
        str(c): (s, n)
        for c, s, n in zip(j["job_class"].tolist(), j["start_s"].tolist(), j["first_node"].tolist(), strict=True)
    }


# ------------------------------------------------------------------ hand-built placements
def test_a_job_that_fits_the_gpus_but_not_the_memory_waits() -> None:
    """8 GPUs, 64 GB: A takes 1 GPU and 48 GB for 1 h; B (1 GPU, 32 GB) at 60 s waits for A's end at 1 h."""
    got = starts([job("a", 0, memory="48GB"), job("b", 60, memory="32GB")], [{"gpus": 8, "memory": "64GB"}])
    assert got == {"a": (0.0, 0), "b": (H, 0)}
    # The same with 16 GB for B fits beside A at once.
    got = starts([job("a", 0, memory="48GB"), job("b", 60, memory="16GB")], [{"gpus": 8, "memory": "64GB"}])
    assert got["b"] == (60.0, 0)


def test_requests_that_add_up_to_a_node_fit_it_in_decimal_and_binary_units() -> None:
    """Two 32 GB requests fill a 64 GB node exactly (32e9 B is not a whole MiB: rounded to the nearest,
    30,518 MiB each would not fit the node's 61,035), three cores of 0.667 fit 2.001 cores, and three
    thirds of 2 cores fit 2 cores: both jobs (or all three) start at once."""
    got = starts([job("a", 0, memory="32GB"), job("b", 60, memory="32GB")], [{"gpus": 8, "memory": "64GB"}])
    assert got == {"a": (0.0, 0), "b": (60.0, 0)}
    third = 2 / 3
    got = starts([job(n, 60 * i, cpu=third) for i, n in enumerate("abc")], [{"gpus": 8, "cpu": 2}])
    assert [got[n][0] for n in "abc"] == [0.0, 60.0, 120.0]
    # A fourth third does not fit (the check still binds).
    got = starts([job(n, 60 * i, cpu=third) for i, n in enumerate("abcd")], [{"gpus": 8, "cpu": 2}])
    assert got["d"][0] == H


def test_cpu_only_nodes_are_their_own_kind_in_the_breakdown_by_gpu_type() -> None:
    """A CPU-only node keeps NodeSpec's default gpu_type (H100) but has no GPU: the breakdowns by GPU type
    name it `cpu-only`, never H100."""
    groups = [{"gpus": 2, "gpu_type": "A100", "cpu": 16}, {"gpus": 0, "cpu": 32}]
    data = scenario([job("etl", 0, gpus=0, cpu=8)], groups, horizon="4h")
    summary = run_data(data).summary
    by_type = summary["utilization"]["by_gpu_type"]
    assert sorted(by_type) == ["A100", "cpu-only"]
    assert sorted(summary["cost"]["by_gpu_type"]) == ["A100", "cpu-only"]


def test_two_half_shares_share_one_gpu_and_a_075_and_a_05_do_not() -> None:
    """One GPU: two 0.5 shares run together; a 0.75 leaves 0.25, so a 0.5 waits for its end at 1 h."""
    node = [{"gpus": 1}]
    got = starts([job("a", 0, gpu_fraction=0.5), job("b", 60, gpu_fraction=0.5)], node)
    assert got == {"a": (0.0, 0), "b": (60.0, 0)}
    got = starts([job("a", 0, gpu_fraction=0.75), job("b", 60, gpu_fraction=0.5)], node)
    assert got == {"a": (0.0, 0), "b": (H, 0)}
    # 0.75 + 0.25 is exactly one GPU.
    got = starts([job("a", 0, gpu_fraction=0.75), job("b", 60, gpu_fraction=0.25)], node)
    assert got["b"] == (60.0, 0)


def test_a_whole_gpu_job_does_not_take_a_gpu_that_holds_a_share() -> None:
    """Two GPUs; a 0.25 share on GPU 0; a 2-GPU job must wait for it (1 h); a 1-GPU job takes GPU 1 at once."""
    node = [{"gpus": 2}]
    got = starts([job("a", 0, gpu_fraction=0.25), job("b", 60, gpus=2)], node)
    assert got["b"] == (H, 0)
    got = starts([job("a", 0, gpu_fraction=0.25), job("b", 60)], node)
    assert got["b"] == (60.0, 0)


def test_a_cpu_only_job_runs_on_a_gpu_less_node_and_gpu_jobs_never_go_there() -> None:
    """Node 0: 1 GPU, 4 cores; node 1: no GPU, 32 cores. A CPU-only job of 16 cores fits node 1 only;
    a 1-GPU job of 1 core goes to node 0 (the CPU-only pool is not its), a second one waits for it."""
    groups = [{"gpus": 1, "cpu": 4}, {"gpus": 0, "cpu": 32}]
    got = starts([job("c", 0, gpus=0, cpu=16), job("g", 10, cpu=1), job("h", 20, cpu=1)], groups)
    assert got == {"c": (0.0, 1), "g": (10.0, 0), "h": (H + 10.0, 0)}


def test_a_multi_node_job_skips_the_nodes_short_of_cpu() -> None:
    """Three nodes of 2 GPUs and 8 cores. A CPU-only job takes node 0's 8 cores; a 4-GPU job of 8 cores
    (4 on each of its two nodes) cannot use node 0's idle GPUs: first fit gives it nodes 1 and 2."""
    groups = [{"gpus": 2, "cpu": 8, "nodes": 3}]
    got = starts([job("c", 0, gpus=0, cpu=8), job("w", 10, gpus=4, cpu=8)], groups)
    assert got == {"c": (0.0, 0), "w": (10.0, 1)}
    got = starts([job("c", 0, gpus=0, cpu=4), job("w", 10, gpus=4, cpu=8)], groups)
    assert got["w"] == (10.0, 0)  # 4 cores left on node 0: its GPUs serve


def test_a_backfill_pass_goes_on_past_a_busy_cluster_for_cpu_only_jobs() -> None:
    """1 GPU, 8 cores. A (GPU, 4 cores, 1 h) and X (CPU-only, 4 cores, 2 h) start at 0; B (GPU, no CPU) at 10 s
    waits for the GPU, C (CPU-only, 4 cores) at 20 s for cores. At 1 h A ends: B takes the GPU (none is
    free now) and C, which needs no GPU, takes A's cores in the same pass: C starts at 1 h."""
    got = starts([job("a", 0, cpu=4), job("x", 0, gpus=0, cpu=4, duration="2h"), job("b", 10),
                  job("c", 20, gpus=0, cpu=4)], [{"gpus": 1, "cpu": 8}])  # fmt: skip
    assert got["b"] == (H, 0) and got["c"] == (H, 0)


def test_worst_fit_spreads_shares_over_gpus_and_first_fit_packs_them() -> None:
    """Two nodes of one GPU: first fit puts two 0.25 shares on node 0, worst fit on nodes 0 and 1."""
    jobs = [job("a", 0, gpu_fraction=0.25), job("b", 60, gpu_fraction=0.25)]
    assert starts(jobs, [{"gpus": 1, "nodes": 2}])["b"] == (60.0, 0)
    data = scenario(jobs, [{"gpus": 1, "nodes": 2}])
    data["policies"]["placement"] = "worst_fit"
    r = run_data(data)
    assert r.jobs["first_node"].tolist() == [0, 1]


# ------------------------------------------------------------------ failures
def test_a_failing_gpu_loses_every_share_on_it_and_only_those() -> None:
    """One node of 2 GPUs, four 0.5 shares: jobs 0 and 1 on GPU 0, jobs 2 and 3 on GPU 1 (first fit).
    GPU 0 fails at 30 min: jobs 0 and 1 are lost (and wait: GPU 1 is full); 2 and 3 go on."""
    jobs = [job(f"s{i}", i, duration="2h", gpu_fraction=0.5) for i in range(4)]
    data = scenario(jobs, [{"gpus": 2}], failures={"gpu": {"mtbf": "1000000h"}}, horizon="1h")
    model = DataCenterModel(build(data))

    def fail() -> Any:
        yield model.env.timeout(0.5 * H)
        model.rel.block(GPU, 0, None, "failure")
        model.capacity_changed()

    model.env.process(fail())
    model.run()
    it = model.collector.columns("job_interrupted")
    assert sorted(it["job_id"].tolist()) == [0, 1]
    assert model.cluster.shares.blocked[0] and model.cluster.down[0] == 1
    assert sorted(model.running_jobs) == [2, 3]


def test_a_node_failure_loses_cpu_only_jobs_and_shares_there_counting_a_share_as_its_part() -> None:
    """A CPU-only job and a 0.5 share on node 0 are lost when it fails at 30 min (a timed event): the share
    lost 0.5 GPU x 0.5 h = 0.25 GPU-hours (the CPU-only job none)."""
    jobs = [job("c", 0, gpus=0, cpu=2), job("s", 0, gpu_fraction=0.5)]
    data = scenario(jobs, [{"gpus": 1, "cpu": 4}], horizon="2h",
                    events=[{"at": "30m", "fail": {"site": "dc1", "rack": 0, "node": 0}}])  # fmt: skip
    r = run_data(data)
    assert r.jobs["interruptions"].tolist() == [1, 1]
    assert r.summary["faults"]["lost_gpu_hours"] == pytest.approx(0.25)


def test_maintenance_waits_for_cpu_only_jobs_and_places_none_on_the_drained_node() -> None:
    """Two CPU-only nodes of 8 cores. X (4 cores, 2 h) runs on node 0; node 0's window opens at 30 min (drain:
    wait, 1 h down). Y (4 cores, 4 h) at 40 min goes to node 1, not to the cordoned node's 4 free cores. The
    window waits for X's end (2 h) and keeps node 0 down to 3 h: Z (8 cores) at 2.5 h finds node 1 half
    full and node 0 down, and starts at 3 h on node 0. Nothing is evicted."""
    jobs = [job("x", 0, gpus=0, cpu=4, duration="2h"), job("y", 2400, gpus=0, cpu=4, duration="4h"),
            job("z", 9000, gpus=0, cpu=8)]  # fmt: skip
    data = scenario(jobs, [{"gpus": 0, "cpu": 8, "nodes": 2}, {"gpus": 1, "cpu": 0}], horizon="5h",
                    maintenance=[{"start": "30m", "duration": "1h", "scope": "node", "units": [0]}])  # fmt: skip
    assert starts_of(data) == {"x": (0.0, 0), "y": (2400.0, 1), "z": (3 * H, 0)}
    r = run_data(data)
    assert r.jobs["interruptions"].tolist() == [0, 0, 0] and r.jobs["evictions"].tolist() == [0, 0, 0]


# ------------------------------------------------------------------ conservation and the index
def _cluster(nodes: list[tuple[int, int, int]]) -> SharedCluster:
    """A shared cluster of one rack per node: (GPUs, cores, GB)."""
    dc = Datacenter.model_validate({"sites": [{"name": "dc1", "rack_groups": [
        {"racks": 1, "nodes_per_rack": 1, "node": {"gpus": g, "cpu": c, "memory": f"{m}GiB"}} for g, c, m in nodes
    ]}]})  # fmt: skip
    return SharedCluster(build_topology(dc))


_DEMANDS = st.one_of(
    st.builds(lambda c, m, f: Demand(c * 1000, m * 1024, 1, f), st.integers(0, 8), st.integers(0, 64),
              st.sampled_from([100, 250, 333, 500, 750, 999])),
    st.builds(lambda c, m, g: Demand(c * 1000, m * 1024, g, WHOLE), st.integers(0, 8), st.integers(0, 64),
              st.integers(1, 4)),
    st.builds(lambda c: Demand(c * 1000, 0, 0, 0), st.integers(1, 8)),
)  # fmt: skip


def _check(cluster: SharedCluster) -> None:
    """Every invariant of the shared cluster and its index."""
    s = cluster.shares
    for n in range(len(s)):
        res = s.residuals(n)
        assert all(0 <= r <= WHOLE for r in res)
        assert 0 <= s.cpu_free[n] <= s.cpu[n] and 0 <= s.memory_free[n] <= s.memory[n]
        assert s.whole_free[n] == sum(r == WHOLE for r in res) == cluster.free[n]
        assert len(s.blocked[n]) == cluster.down[n]
        pool, leaf = s.index.where[n]
        assert s.index.trees[pool][leaf] == s.index.leaf(n)
    withheld = sum(m for _, _, kept in s.off.values() for m in kept.values())
    assert s.gpu_used == sum(WHOLE - r for r in s.gpu_free) - WHOLE * sum(len(b) for b in s.blocked) - withheld
    assert s.cpu_used == sum(s.cpu) - sum(s.cpu_free) - sum(c for c, _, _ in s.off.values())
    assert cluster.busy_gpus == sum(g - f - d for g, f, d in zip(s.gpus, cluster.free, cluster.down, strict=True))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_DEMANDS, st.booleans(), st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_random_allocations_and_releases_conserve_every_resource_and_return_to_the_start(ops: list) -> None:
    """Take (first or worst fit), give back a random holder, set GPUs down or take node 1 out of service:
    no GPU ever holds more than 1000 milli, no node more CPU or memory than it has, nothing is placed on a
    node out of service; releasing everything restores the start exactly."""
    cluster = _cluster([(4, 16, 64), (2, 8, 32), (0, 32, 128)])
    shares = cluster.shares
    start = [shares.state(n) for n in range(len(shares))]
    nodes = NodeSet(range(3), tuple(range(len(cluster.pools))))
    held: list[tuple] = []
    rules = (FirstFit(FirstFit.Params(), None), WorstFit(WorstFit.Params(), None))  # type: ignore[arg-type]
    for demand, worst, action, down in ops:
        if action == 0 or not held:
            found = rules[worst].choose(demand, shares, nodes)
            assert found is None or found[0] not in shares.off
            if found is not None:
                slots = ((found[0], demand, found[1]),)
                cluster.take(slots)
                held.append(slots)
        elif action == 1:
            cluster.give(held.pop(down % len(held)))
        elif action == 2:  # GPUs of node 0 out of service, as many as are idle allow
            cluster.set_down(0, min(down, cluster.free[0] + cluster.down[0]))
        else:  # node 1 out of service (its idle GPUs down first, as the engine does) or back
            off = 1 not in shares.off
            cluster.set_down(1, cluster.free[1] + cluster.down[1] if off else 0)
            cluster.set_off(1, off)
        _check(cluster)
    cluster.set_off(1, False)
    cluster.set_down(1, 0)
    cluster.set_down(0, 0)
    while held:
        cluster.give(held.pop())
    _check(cluster)
    assert [shares.state(n) for n in range(len(shares))] == start
    assert shares.cpu_used == shares.memory_used == shares.gpu_used == 0 and cluster.busy_gpus == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_DEMANDS, st.integers(0, 15)), min_size=1, max_size=30), _DEMANDS)
def test_the_index_chooses_as_a_scan_of_every_node_does(fill: list, demand: Demand) -> None:
    """On random states, first and worst fit on the index choose the node a plain scan chooses."""
    cluster = _cluster([(2, 8, 32)] * 8 + [(8, 32, 256)] * 8)
    shares = cluster.shares
    nodes = list(range(16))
    for d, n in fill:
        options = shares.gpu_options(n, d)
        if shares.fits(n, d) and options:
            cluster.take(((n, d, options[0]),))
    indexed = NodeSet(nodes, tuple(range(len(cluster.pools))))
    for rule in (FirstFit(FirstFit.Params(), None), WorstFit(WorstFit.Params(), None)):  # type: ignore[arg-type]
        assert rule.choose(demand, shares, indexed) == rule.choose(demand, shares, nodes)


# ------------------------------------------------------------------ metrics
def test_cpu_memory_and_gpu_shares_are_counted_as_allocated_and_priced() -> None:
    """One node (2 GPUs, 8 cores, 32 GiB), 2 h: a job of 0.25 GPU, 4 cores, 8 GiB for 1 h.

    GPU allocated 0.25 x 1 h / (2 GPUs x 2 h) = 1/16; CPU 4 x 1 / (8 x 2) = 1/4; memory 8 / (32 x 2) = 1/8.
    CPU capital 8 cores x 2 h x 0.0316 USD; memory 32 x 2^30 / 10^9 GB x 2 h x 0.00395 USD, both in capital.
    """
    jobs = [job("a", 0, gpu_fraction=0.25, cpu=4, memory="8GiB")]
    r = run_data(scenario(jobs, [{"gpus": 2, "cpu": 8, "memory": "32GiB"}], horizon="2h"))
    u, c = r.summary["utilization"], r.summary["cost"]
    assert u["gpu_allocated"] == pytest.approx(1 / 16)
    assert u["cpu_allocated"] == pytest.approx(1 / 4)
    assert u["memory_allocated"] == pytest.approx(1 / 8)
    assert c["cpu_usd"] == pytest.approx(8 * 2 * 0.0316)
    assert c["memory_usd"] == pytest.approx(32 * 2**30 / 1e9 * 2 * 0.00395)
    gpu_capital = 2 * 2 * 2.0  # 2 GPUs x 2 h x the default 2 USD per GPU-hour
    assert c["capital_usd"] == pytest.approx(gpu_capital + c["cpu_usd"] + c["memory_usd"])
    assert r.jobs["gpu_fraction"].tolist() == [0.25] and r.jobs["cpu"].tolist() == [4.0]
    ts = r.timeseries  # while the job runs (the first hour): 0.25 of 2 GPUs, 4 of 8 cores, 8 of 32 GiB
    during = ts[ts["time_s"] < H]
    assert set(during["gpu_allocated"]) == {0.125} and set(during["cpu_allocated"]) == {0.5}
    assert set(during["memory_allocated"]) == {0.25} and set(ts[ts["time_s"] > H]["cpu_allocated"]) == {0.0}


def test_fragmentation_is_the_time_weighted_mean_of_the_trackers_total(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the tracker's interface (a stub: idle milli-GPU of GPUs that hold a share). One GPU, 2 h:
    a 0.25 share for 1 h leaves 750 milli fragmented for 1 h: 750 x 1 / (1000 x 2) = 0.375."""
    import dcsim.infra.fragmentation as fragmentation

    class Stub:
        def __init__(self, shares: Any, shapes: Any) -> None:
            self.shares = shares
            self.shapes = shapes
            self.total = 0.0

        def update(self, node: int) -> None:
            free = self.shares.gpu_free
            self.total = float(sum(r for r in free if 0 < r < WHOLE))

    monkeypatch.setattr(fragmentation, "FragmentationTracker", Stub)
    r = run_data(scenario([job("a", 0, gpu_fraction=0.25)], [{"gpus": 1}], horizon="2h"))
    assert r.summary["utilization"]["gpu_fragmentation"] == pytest.approx(0.375)


def test_fragmentation_against_the_workloads_shapes_by_hand() -> None:
    """One GPU, 3 h; shapes 0.75 and 0.5, half each (one job of each class). A 0.75 share runs 0-1 h: the
    250 milli left hold neither shape, F = 250. A 0.5 share runs 1.5-2.5 h: the 500 left hold the 0.5 shape
    only, F = 0.5 x 500 = 250. An idle GPU holds both: F = 0. Mean: (250 + 250) / (1000 x 3) = 1/6."""
    jobs = [job("a", 0, gpu_fraction=0.75), job("b", 1.5 * H, gpu_fraction=0.5)]
    r = run_data(scenario(jobs, [{"gpus": 1}], horizon="3h"))
    assert r.summary["utilization"]["gpu_fragmentation"] == pytest.approx(1 / 6)


def test_a_run_that_shares_is_deterministic() -> None:
    """Same scenario and seed: the same summary, byte for byte."""
    data = scenario(
        [{"name": "s", "arrival": {"process": "poisson", "rate": "8/h"}, "gpus": 1, "cpu": 2, "memory": "8GB",
          "gpu_fraction": {"values": [0.25, 0.5], "weights": [1, 1]},
          "duration": {"dist": "exponential", "mean": "1h"}},
         {"name": "c", "arrival": {"process": "poisson", "rate": "2/h"}, "gpus": 0, "cpu": 4, "duration": "1h"}],
        [{"gpus": 2, "cpu": 16, "memory": "64GB", "nodes": 2}], horizon="20h",
    )  # fmt: skip
    first, second = run_data(data).summary, run_data(data).summary
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["jobs"]["completed"] > 100


# ------------------------------------------------------------------ analytic
def erlang_c_wait(c: int, lam: float, mu: float) -> float:
    """Mean wait in queue of M/M/c (Erlang C over c mu - lambda)."""
    a = lam / mu
    terms = sum(a**k / math.factorial(k) for k in range(c))
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (terms + top) / (c * mu - lam)


def test_quarter_shares_on_two_gpus_queue_as_m_m_8() -> None:
    """Every job asks 0.25 of a GPU: 2 GPUs serve 8 at once. Poisson arrivals at 5.6/h, exponential 1 h
    run times: M/M/8 at load 0.7, whose mean wait (Erlang C) the runs' mean matches within 3 standard errors
    over 12 replications of 1,000 h (as whole GPUs, c = 2, the queue would grow without bound)."""
    lam, mu, c = 5.6, 1.0, 8
    data = scenario(
        [{"name": "q", "arrival": {"process": "poisson", "rate": f"{lam}/h"}, "gpus": 1, "gpu_fraction": 0.25,
          "duration": {"dist": "exponential", "mean": "1h"}}], [{"gpus": 2}], horizon="1000h", warmup="50h",
    )  # fmt: skip
    data["policies"]["scheduler"] = "fifo"
    waits = [run_data(data, seed=s).summary["jobs"]["mean_wait_s"] / H for s in range(12)]
    mean, se = float(np.mean(waits)), float(np.std(waits, ddof=1) / math.sqrt(len(waits)))
    expected = erlang_c_wait(c, lam, mu)
    assert abs(mean - expected) < 3 * se + 1e-9, (mean, expected, se)


# ------------------------------------------------------------------ traces
def _trace(tmp_path: Any, rows: list[str]) -> dict[str, Any]:
    (tmp_path / "t.csv").write_text("t,g,d,c,m,f\n" + "\n".join(rows) + "\n")
    columns = {"submit_time": "t", "gpus": "g", "duration": "d", "cpu": "c", "memory": "m", "gpu_fraction": "f"}
    data = scenario([], [{"gpus": 1, "cpu": 8, "memory": "64GiB"}, {"gpus": 0, "cpu": 8}])
    data["workload"] = {"trace": {"path": "t.csv", "columns": columns}}
    return data


def test_a_trace_asks_for_cpu_memory_and_shares_in_its_own_columns(tmp_path: Any) -> None:
    """Node 0: 1 GPU, 8 cores, 64 GiB; node 1: no GPU, 8 cores. Two 0.5 shares (2 cores each) run together
    on node 0; a 0.5 share asking 8 cores waits for them (1 h); a CPU-only row of 8 cores goes to node 1."""
    gib = 2**30
    rows = [f"0,1,3600,2,{gib},0.5", f"10,1,3600,2,{gib},0.5", f"20,1,3600,8,{gib},0.5", "30,0,3600,8,0,1"]
    r = run_data(_trace(tmp_path, rows), base_dir=str(tmp_path))
    assert r.jobs["start_s"].tolist() == [0.0, 10.0, 3610.0, 30.0]
    assert r.jobs["first_node"].tolist() == [0, 0, 0, 1]
    assert r.jobs["gpu_fraction"].tolist() == [0.5, 0.5, 0.5, 1.0]


def test_a_share_of_a_gpu_for_several_gpus_is_a_bad_trace_row(tmp_path: Any) -> None:
    """A gpu_fraction below 1 on a row of 2 GPUs is refused, naming the file's line."""
    from dcsim.core.errors import DcsimError

    with pytest.raises(DcsimError, match=r"t.csv line 3: column 'f' \(gpu_fraction\) is 0.5"):
        run_data(_trace(tmp_path, ["0,1,60,1,0,0.5", "1,2,60,1,0,0.5"]), base_dir=str(tmp_path))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        ({"cpu": 200}, "workload.jobs.0", "a job of 1 GPU asks for 200 cores, more than any node of its pools"),
        ({"memory": "1TB"}, "workload.jobs.0", "more than any node of its pools holds"),
        ({"gpus": 2, "gpu_fraction": 0.5}, "workload.jobs.0", "`gpu_fraction` is a share of one GPU: it needs gpus: 1"),
        ({"gpus": 0}, "workload.jobs.0", "a CPU-only job (gpus: 0) asks for `cpu` or `memory`"),
    ],
)
def test_a_request_no_node_can_hold_is_refused_naming_the_field(change: dict, where: str, words: str) -> None:
    """Node: 2 GPUs, 16 cores, 64 GB; the class's change makes it impossible (one problem, its field named)."""
    from dcsim.core.errors import ScenarioError

    data = scenario([job("a", 0, **change)], [{"gpus": 2, "cpu": 16, "memory": "64GB"}])
    with pytest.raises(ScenarioError) as err:
        build(data)
    assert err.value.problems == [(where, err.value.problems[0][1])] and words in err.value.problems[0][1]


def test_cpu_asked_of_nodes_that_declare_none_exits_2_with_one_message(tmp_path: Any) -> None:
    """Through the CLI: exit 2, one problem naming the field and the fix, no traceback."""
    import subprocess
    import sys

    import yaml

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario([job("a", 0, cpu=4)], [{"gpus": 2}])))
    out = subprocess.run([sys.executable, "-m", "dcsim", "validate", str(path)], capture_output=True, text=True)
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.startswith("  ")]
    assert lines == ["  workload.jobs.0.cpu: the class asks for cpu but no node of its pools declares `cpu` (cores); "
                     "give those nodes one (e.g. cpu: 96) or drop it"]  # fmt: skip
    assert "Traceback" not in out.stderr and "pydantic" not in out.stderr


# ------------------------------------------------------------------ every rule in an event run
@pytest.mark.parametrize(
    "rule", ["first_fit", "worst_fit", "best_fit", "random", "dot_product", "gpu_clustering", "gpu_packing", "fgd",
             "rack_pack", "spread"],
)  # fmt: skip
def test_every_placement_rule_places_shares_within_capacity(rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shares, whole GPUs over one and two nodes and CPU-only jobs under each rule: every check of the
    shared cluster holds after every start and end, every job completes, and the cluster ends as it began."""
    seen: list[int] = []
    take, give = SharedCluster.take, SharedCluster.give

    def checked(method: Any) -> Any:
        def run(self: SharedCluster, slots: Any) -> None:
            method(self, slots)
            _check(self)
            seen.append(1)

        return run

    monkeypatch.setattr(SharedCluster, "take", checked(take))
    monkeypatch.setattr(SharedCluster, "give", checked(give))
    poisson = {"process": "poisson", "rate": "20/h"}
    jobs = [
        {"name": "s", "arrival": poisson, "count": 30, "gpus": 1, "cpu": 2, "memory": "8GB",
         "gpu_fraction": {"values": [0.25, 0.5, 0.75]}, "duration": {"dist": "exponential", "mean": "1h"}},
        {"name": "w", "arrival": poisson, "count": 10, "gpus": {"values": [1, 4, 6]}, "cpu": 4, "memory": "16GB",
         "duration": {"dist": "exponential", "mean": "1h"}},
        {"name": "c", "arrival": poisson, "count": 10, "gpus": 0, "cpu": 4, "duration": "30m"},
    ]  # fmt: skip
    data = scenario(jobs, [{"gpus": 4, "cpu": 16, "memory": "64GB", "nodes": 2}, {"gpus": 0, "cpu": 8}])
    data["policies"]["placement"] = rule
    model = DataCenterModel(build(data))
    start = [model.cluster.shares.state(n) for n in range(3)]
    model.run()
    assert len(model.collector.columns("job_finished")["job_id"]) == 50 and len(seen) == 100
    assert [model.cluster.shares.state(n) for n in range(3)] == start
