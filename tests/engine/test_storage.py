"""Storage bandwidth (issue 12 point 4): sized checkpoints share it; hand-computed cases.

The model (dcsim/engine/storage.py): a transfer of S bytes from n nodes is one flow over its
site's storage link (and each rack's, with `rack_bandwidth`), crossing it once per node; the
link's bandwidth is shared max-min fairly among the nodes moving data, each at most at its
NIC's speed. Here NICs are fast (100 Tb/s) unless a test says otherwise, and most jobs are one
node (8 GPUs), so k one-node transfers at once each get B / k. Every number below is computed
from the case, none is read off a run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from test_run_rates import model_with

from dcsim.engine import DataCenterModel
from dcsim.experiment.run import summary_json
from dcsim.faults.checkpoint import daly
from dcsim.metrics.tables import jobs_table, storage_tables

from conftest import build, run_data, tiny_data

H = 3600.0
TB = 1e12
B = 100e9  # bytes/s of the site's storage in most cases: 1 TB takes 10 s alone
W = TB / B  # a 1 TB write alone, s


def site(racks: int = 2, nodes_per_rack: int = 4, bandwidth: str = "100GB/s", nic: str = "100Tbps",
         **storage: Any) -> dict[str, Any]:  # fmt: skip
    return {"sites": [{"name": "dc1", "racks": racks, "nodes_per_rack": nodes_per_rack, "node": {"gpus": 8},
                       "network": {"nic": nic}, "storage": {"bandwidth": bandwidth, **storage}}]}  # fmt: skip


def cls(name: str = "t", count: int = 1, at: float = 0.0, gpus: int = 8, duration: str = "1h",
        **checkpoint: Any) -> dict[str, Any]:  # fmt: skip
    plan = {"interval": "30m", "size": "1TB", **checkpoint}
    return {"name": name, "arrival": {"process": "batch", "at": at}, "count": count, "gpus": gpus,
            "duration": duration, "checkpoint": plan}  # fmt: skip


def scenario(*classes: dict[str, Any], datacenter: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    return tiny_data(datacenter=datacenter or site(), workload={"jobs": list(classes)}, **top)


def run_model(data: dict[str, Any], base_dir: str = ".") -> DataCenterModel:
    model = DataCenterModel(build(data, base_dir))
    model.run()
    return model


def writes_and_reads(model: DataCenterModel) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(start, end) of the completed writes and reads, in the order they ended."""
    table, _ = storage_tables(model.collector)
    rows = sorted(zip(table["end_s"].tolist(), table["start_s"].tolist(), table["read"].tolist(),
                      table["completed"].tolist(), strict=True))  # fmt: skip
    return [(s, e) for e, s, rd, ok in rows if ok and not rd], [(s, e) for e, s, rd, ok in rows if ok and rd]


# ---------------------------------------------------------------- writes sharing the site's bandwidth
def test_a_write_alone_takes_size_over_bandwidth() -> None:
    """1 h of work, a checkpoint after 30 min: 1 TB at 100 GB/s takes 10 s; the job ends at 1 h + 10 s."""
    r = run_data(scenario(cls()))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H + W], rel=1e-12)
    s = r.summary["storage"]
    assert s["checkpoint_writes"] == 1
    assert s["mean_checkpoint_write_s"] == pytest.approx(W, rel=1e-12)
    assert s["mean_write_slowdown"] == pytest.approx(1.0, rel=1e-12)
    assert s["bytes_written"] == pytest.approx(TB, rel=1e-12) and s["bytes_read"] == 0.0
    # The window is the whole run, [0, 1 h + 10 s]: the storage was busy 10 s at full bandwidth.
    assert s["busy_fraction"] == pytest.approx(W / (H + W), rel=1e-9)
    assert s["mean_utilization"] == pytest.approx(W / (H + W), rel=1e-9)
    assert not [n for n in r.summary["notes"] if "network.nic" in n]  # the NICs cap storage traffic: they matter


def test_two_jobs_writing_together_each_take_twice_as_long() -> None:
    """Two one-node jobs start together and write 1 TB at once: 50 GB/s each, 2 x 10 s."""
    r = run_data(scenario(cls(count=2)))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H + 2 * W] * 2, rel=1e-12)
    s = r.summary["storage"]
    assert s["mean_checkpoint_write_s"] == pytest.approx(2 * W, rel=1e-12)
    assert s["p95_checkpoint_write_s"] == pytest.approx(2 * W, rel=1e-12)
    assert s["mean_write_slowdown"] == pytest.approx(2.0, rel=1e-12)
    assert s["busy_fraction"] == pytest.approx(2 * W / (H + 2 * W), rel=1e-9)


@pytest.mark.parametrize("n", [1, 3, 8])
def test_n_synchronized_equal_writes_finish_together_at_n_size_over_b(n: int) -> None:
    """n one-node jobs writing 1 TB at once share 100 GB/s: each B / n, all done at n x 10 s."""
    model = run_model(scenario(cls(count=n)))
    writes, _ = writes_and_reads(model)
    assert [s for s, _ in writes] == [H / 2] * n
    assert [e for _, e in writes] == pytest.approx([H / 2 + n * W] * n, rel=1e-12)
    jobs = jobs_table(model.collector, model.topology)
    assert jobs["finish_s"].tolist() == pytest.approx([H + n * W] * n, rel=1e-12)


def test_staggered_writes_by_hand() -> None:
    """A starts at 0, B at 5 s; each writes 1 TB after 30 min of work.

    A writes alone from 1800 s to 1805 s (0.5 TB), then both at 50 GB/s: A's 0.5 TB left take
    10 s (done 1815 s), when B has written 0.5 TB; B's other half alone takes 5 s (done 1820 s).
    Each write took 15 s; A ends at 3600 + 15 s, B at 5 + 3600 + 15 s.
    """
    model = run_model(scenario(cls("a"), cls("b", at=5.0)))
    writes, _ = writes_and_reads(model)
    assert writes == pytest.approx([(1800.0, 1815.0), (1805.0, 1820.0)], rel=1e-12)
    jobs = jobs_table(model.collector, model.topology)
    assert jobs["finish_s"].tolist() == pytest.approx([3615.0, 3620.0], rel=1e-12)


def test_a_job_on_more_nodes_gets_a_share_per_node() -> None:
    """A 2-node job and a 1-node job write 1 TB at once: 3 nodes share 100 GB/s, 33.3 GB/s each.

    The 2-node job moves 66.7 GB/s and is done in 15 s; the other has 0.5 TB by then and writes
    the rest alone in 5 s: 20 s.
    """
    model = run_model(scenario(cls("two", gpus=16), cls("one")))
    writes, _ = writes_and_reads(model)
    assert writes == pytest.approx([(1800.0, 1815.0), (1800.0, 1820.0)], rel=1e-12)


def test_the_nic_caps_a_node() -> None:
    """NICs of 80 Gb/s (10 GB/s): one node writes 1 TB in 100 s, whatever the storage's 100 GB/s."""
    r = run_data(scenario(cls(), datacenter=site(nic="80Gbps")))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H + TB / 10e9], rel=1e-12)
    assert r.summary["storage"]["mean_write_slowdown"] == pytest.approx(1.0, rel=1e-12)


def test_a_racks_own_limit_holds_its_nodes() -> None:
    """Site 100 GB/s, each rack 40 GB/s. Two one-node jobs in one rack get 20 GB/s each (50 s);
    in two racks (one node per rack) each gets its rack's 40 GB/s (25 s), the site's 80 of 100 in all."""
    same = run_data(scenario(cls(count=2), datacenter=site(2, 4, rack_bandwidth="40GB/s")))
    assert same.jobs["finish_s"].tolist() == pytest.approx([H + TB / 20e9] * 2, rel=1e-12)
    apart = run_data(scenario(cls(count=2), datacenter=site(2, 1, rack_bandwidth="40GB/s")))
    assert apart.jobs["finish_s"].tolist() == pytest.approx([H + TB / 40e9] * 2, rel=1e-12)
    assert apart.summary["storage"]["max_rack_utilization"] == pytest.approx(
        TB * 8 / (40e9 * 8 * (H + TB / 40e9)), rel=1e-9
    )


# ---------------------------------------------------------------- restarts read their checkpoint
def failing(tmp_path: Path, rows: str, *classes: dict[str, Any]) -> dict[str, Any]:
    """The scenario of ``classes`` with node failures replayed from ``rows`` (time,component,duration in s)."""
    (tmp_path / "f.csv").write_text("time,component,duration\n" + rows)
    return scenario(*classes, failures={"trace": {"path": "f.csv"}})


def test_a_run_lost_during_a_write_loses_that_checkpoint_and_reads_the_last(tmp_path: Path) -> None:
    """1 h of work, a 1 TB checkpoint every 20 min (10 s alone), restart 60 s; node 0 fails at 2415 s.

    Writes: 1200-1210 s, 2410-2420 s: the failure cuts the second; the first saved 1200 s of
    work. The job restarts at once on node 1: 60 s, then it reads 1 TB (10 s), then 2400 s of
    work with one checkpoint: 2415 + 60 + 10 + 1200 + 10 + 1200 = 4895 s.
    """
    data = failing(tmp_path, "2415,node:0,10000\n", cls(interval="20m", restart="60s"))
    model = run_model(data, str(tmp_path))
    jobs = jobs_table(model.collector, model.topology)
    assert jobs["finish_s"].tolist() == pytest.approx([4895.0], rel=1e-12)
    writes, reads = writes_and_reads(model)
    assert writes == pytest.approx([(1200.0, 1210.0), (2415 + 60 + 10 + 1200.0, 2415 + 60 + 10 + 1210.0)])
    assert reads == pytest.approx([(2475.0, 2485.0)])
    table, _ = storage_tables(model.collector)
    cut = [(s, e, b) for s, e, b, ok in zip(table["start_s"].tolist(), table["end_s"].tolist(),
                                              table["bytes"].tolist(), table["completed"].tolist(), strict=True)
           if not ok]  # fmt: skip
    assert cut == pytest.approx([(2410.0, 2415.0, 0.5 * TB)])
    r = run_data(data, base_dir=str(tmp_path))
    # Lost: the 1200 s since the first checkpoint, and the restart (60 s, and the read at its idle 10 s).
    assert r.summary["faults"]["lost_gpu_hours"] == pytest.approx(8 * (1200 + 60 + W) / H, rel=1e-12)
    assert r.summary["storage"]["bytes_read"] == pytest.approx(TB, rel=1e-12)
    assert r.summary["storage"]["mean_restart_read_s"] == pytest.approx(W, rel=1e-12)
    assert r.summary["storage"]["checkpoint_writes"] == 2


def test_a_run_lost_before_its_first_checkpoint_has_nothing_to_read(tmp_path: Path) -> None:
    """Node 0 fails at 600 s, before the first checkpoint: the job starts over (60 s restart, no read)."""
    model = run_model(failing(tmp_path, "600,node:0,10000\n", cls(restart="60s")), str(tmp_path))
    jobs = jobs_table(model.collector, model.topology)
    assert jobs["finish_s"].tolist() == pytest.approx([600 + 60 + H + W], rel=1e-12)
    assert writes_and_reads(model)[1] == []


def test_a_restart_read_shares_the_storage_with_a_write(tmp_path: Path) -> None:
    """A: checkpoints every 20 min; B: every 30 min; both one node, 1 h, from 0. A's node fails at 1795 s.

    A wrote 1200-1210 s alone (saved 1200 s of work) and restarts at once (restart 0): it reads
    1 TB alone to 1800 s (0.5 TB), then with B's write: 50 GB/s each, A's read done at 1810 s
    when B has 0.5 TB, whose rest B writes alone by 1815 s. A's 2400 s of work left: a piece to
    3010 s, a write alone to 3020 s, the last piece to 4220 s. B ends at 3600 + 15 s.
    """
    data = failing(tmp_path, "1795,node:0,10000\n", cls("a", interval="20m"), cls("b"))
    model = run_model(data, str(tmp_path))
    writes, reads = writes_and_reads(model)
    assert reads == pytest.approx([(1795.0, 1810.0)], rel=1e-12)
    assert writes == pytest.approx([(1200.0, 1210.0), (1800.0, 1815.0), (3010.0, 3020.0)], rel=1e-12)
    jobs = jobs_table(model.collector, model.topology)
    assert jobs["finish_s"].tolist() == pytest.approx([4220.0, 3615.0], rel=1e-12)


def test_an_evicted_run_writes_its_checkpoint_and_reads_it_at_the_restart() -> None:
    """Rack 0 is evicted at 1000 s: the job (on node 0) saves its 1000 s of work; as a fixed `write` is
    paid at the restart, it writes the 1 TB there (10 s), after its 60 s restart, then reads it (10 s).

    It restarts at once in rack 1: 1000 + 60 + 10 + 10 = 1080 s, then its 2600 s of work left
    with a checkpoint after 1800 s: 1080 + 1800 + 10 + 800 = 3690 s.
    """
    data = scenario(
        cls(restart="60s"),
        maintenance=[{"start": 1000, "duration": "2h", "scope": "rack", "units": [0], "drain": "evict"}],
    )
    model = run_model(data)
    writes, reads = writes_and_reads(model)
    assert writes == pytest.approx([(1060.0, 1070.0), (2880.0, 2890.0)], rel=1e-12)
    assert reads == pytest.approx([(1070.0, 1080.0)], rel=1e-12)
    jobs = jobs_table(model.collector, model.topology)
    assert jobs["finish_s"].tolist() == pytest.approx([3690.0], rel=1e-12)


# ---------------------------------------------------------------- against the fixed write time
def test_without_contention_a_size_is_its_fixed_write_time(tmp_path: Path) -> None:
    """Jobs every 7 min, 1 h long, checkpoints every 15 min: their 10 s writes never overlap.

    So `size: 1TB` at 100 GB/s gives every job the end of `write: 10s`, on 1- and 2-node jobs.
    """

    def jobs(checkpoint: dict[str, Any]) -> dict[str, Any]:
        one = {"name": "j", "arrival": {"process": "periodic", "interval": "7m"}, "count": 12, "gpus": 8,
               "duration": "1h", "checkpoint": {"interval": "15m", **checkpoint}}  # fmt: skip
        two = {**one, "name": "k", "gpus": 16, "count": 3, "arrival": {"process": "periodic", "interval": "7m",
                                                                         "start": "3m"}}  # fmt: skip
        return scenario(one, two, datacenter=site(4, 4))

    sized = run_data(jobs({"size": "1TB"}))
    fixed = run_data(jobs({"write": "10s"}))
    assert sized.summary["storage"]["checkpoint_writes"] == 15 * 3
    assert sized.summary["storage"]["mean_write_slowdown"] == pytest.approx(1.0, rel=1e-12)
    assert sized.jobs["finish_s"].tolist() == pytest.approx(fixed.jobs["finish_s"].tolist(), rel=1e-12)
    assert sized.summary["utilization"]["gpu_productive"] == pytest.approx(
        fixed.summary["utilization"]["gpu_productive"], rel=1e-12
    )
    assert fixed.summary["storage"]["mean_checkpoint_write_s"] is None  # a fixed write does not go to storage


def test_young_daly_takes_the_write_time_on_idle_storage() -> None:
    """Node MTBF 1000 h; a 1 TB checkpoint at 100 GB/s: d = 10 s; with a 40 GB/s rack limit 25 s,
    and at 80 Gb/s NICs 100 s. The interval is Daly's for d and M = 1000 h (a one-node job's MTTI)."""
    for datacenter, d in ((site(), 10.0), (site(rack_bandwidth="40GB/s"), 25.0), (site(nic="80Gbps"), 100.0)):
        data = scenario(cls(interval="young_daly", duration="10h"), datacenter=datacenter,
                        failures={"node": {"mtbf": "1000h"}}, horizon="12h")  # fmt: skip
        r = run_data(data)
        m = 1000 * H
        f = d / (2 * m)
        expected = math.sqrt(2 * d * m) * (1 + math.sqrt(f) / 3 + f / 9) - d
        assert expected == pytest.approx(daly(d, m), rel=1e-12)
        assert r.jobs["checkpoint_interval_s"].tolist() == pytest.approx([expected], rel=1e-12)


def test_a_rate_change_moves_the_pieces_not_the_writes() -> None:
    """A one-node job, 1 h of work, a checkpoint every 30 min; its rate halves from 600 s to 2400 s.

    By 600 s: 600 s of work; the 1200 s left of the piece take 2400 s at rate 0.5, so the piece
    would end at 3000 s, but at 2400 s it has done 600 + 900 = 1500 s; back at rate 1 the 300 s
    left end it at 2700 s. The write takes its 10 s (2700-2710 s), the last piece 1800 s: 4510 s.
    """
    model = model_with(scenario(cls()), [(600.0, 0.5), (2400.0, 1.0), (2705.0, 1.0)])  # the last inside the write
    model.run()
    writes, _ = writes_and_reads(model)
    assert writes == pytest.approx([(2700.0, 2710.0)], rel=1e-12)
    assert jobs_table(model.collector, model.topology)["finish_s"].tolist() == pytest.approx([4510.0], rel=1e-12)


# ---------------------------------------------------------------- the run as a whole
def busy_data(seed_rate: str = "2/h") -> dict[str, Any]:
    """Poisson jobs of 1 to 2 nodes with 1 TB checkpoints every 10 min, node failures: writes and reads collide."""
    job = {"name": "p", "arrival": {"process": "poisson", "rate": seed_rate}, "gpus": {"values": [8, 16]},
           "duration": {"dist": "exponential", "mean": "2h"},
           "checkpoint": {"interval": "10m", "size": "1TB", "restart": "2m"}}  # fmt: skip
    return scenario(job, datacenter=site(2, 4, bandwidth="20GB/s", rack_bandwidth="15GB/s"), horizon="2d",
                    failures={"node": {"mtbf": "100h"}},
                    maintenance=[{"start": "20h", "duration": "1h", "scope": "rack", "units": [1],
                                  "drain": "evict"}])  # fmt: skip


def test_a_busy_run_is_deterministic_and_its_records_add_up() -> None:
    """The same scenario and seed: byte-identical summaries. Writes, reads and the links' bits agree."""
    a, b = run_data(busy_data(), seed=3), run_data(busy_data(), seed=3)
    assert summary_json(a.summary) == summary_json(b.summary)
    s = a.summary["storage"]
    assert s["restart_reads"] > 0 and s["checkpoint_writes"] > 0 and s["mean_write_slowdown"] > 1.0
    # Alone, a write takes at least 1 TB over the site's 20 GB/s (two nodes in two racks), else a rack's 15.
    assert s["mean_checkpoint_write_s"] > 50.0 * 0.999 and s["p95_checkpoint_write_s"] > 50.0 * 0.999
    assert a.summary["faults"]["job_interruptions"] > 0
    # Bytes in the window (pro rata of time, as the model integrates link loads): the site's link carried
    # all of them, so its utilization is their bits over the bandwidth and the window.
    moved = s["bytes_written"] + s["bytes_read"]
    window = a.summary["window"]["end_s"] - a.summary["window"]["start_s"]
    assert s["mean_utilization"] == pytest.approx(moved * 8 / (160e9 * window), rel=1e-6)
    assert 0 < s["mean_utilization"] <= s["busy_fraction"] <= 1
    assert "storage_utilization" in a.timeseries
    assert (a.timeseries["storage_utilization"] <= 1 + 1e-9).all()


def test_a_storage_block_without_sized_checkpoints_is_a_note_and_changes_nothing() -> None:
    """Storage set, checkpoints with a fixed write: the same results as without storage, and a note saying so."""
    plan = {"interval": "30m", "write": "10s"}
    with_storage = run_data(scenario({**cls(), "checkpoint": plan}))
    data = scenario({**cls(), "checkpoint": plan})
    del data["datacenter"]["sites"][0]["storage"]
    without = run_data(data)
    assert with_storage.jobs["finish_s"].tolist() == without.jobs["finish_s"].tolist() == [H + 10.0]
    assert [n for n in with_storage.summary["notes"] if "storage" in n] == [
        "datacenter.sites.0.storage is set, but no checkpoint has a `size`: storage bandwidth changes no result "
        "(checkpoints take their fixed `write` time; give a class `checkpoint: {interval, size, restart}` to write "
        "them through storage, or a service a `model.size` to load)"
    ]
    assert not [n for n in without.summary["notes"] if "storage" in n]


def test_a_traces_sized_checkpoints_share_the_storage_too(tmp_path: Path) -> None:
    """Two traced one-node jobs submitted together, 1 h each, 1 TB every 30 min: 2 x 10 s writes, as for classes."""
    (tmp_path / "jobs.csv").write_text("t,gpus,run\n0,8,3600\n0,8,3600\n")
    data = tiny_data(datacenter=site(), workload={"trace": {
        "path": "jobs.csv", "columns": {"submit_time": "t", "gpus": "gpus", "duration": "run"},
        "checkpoint": {"interval": "30m", "size": "1TB"}}})  # fmt: skip
    r = run_data(data, base_dir=str(tmp_path))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H + 2 * W] * 2, rel=1e-12)
    assert r.summary["storage"]["checkpoint_writes"] == 2
