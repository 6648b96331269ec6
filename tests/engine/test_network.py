"""Network contention (issue 12): jobs' traffic shares the fabric's links max-min fairly; hand-computed cases.

The model (dcsim/engine/network.py): a step takes c (compute) + V / r (V bits per hop at a
share r per hop); on an idle fabric at the NICs' speed B it takes t0 = c + V / B, at which the
class's duration is measured; the rate is t0 / (c + V / r). Every number below is computed
from the case, none is read off a run.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import run_data, tiny_data

H = 3600.0
G = 1e9


def fabric(racks: int, nodes_per_rack: int, oversubscription: float = 1.0, nic: str = "100Gbps") -> dict[str, Any]:
    return {"sites": [{"name": "dc1", "racks": racks, "nodes_per_rack": nodes_per_rack, "node": {"gpus": 8},
                       "network": {"nic": nic, "oversubscription": oversubscription}}]}  # fmt: skip


def jobs(count: int, gpus: int, communication: dict[str, Any] | None, duration: str = "1h") -> dict[str, Any]:
    cls: dict[str, Any] = {"name": "train", "arrival": {"process": "batch", "at": 0}, "count": count, "gpus": gpus,
                           "duration": {"dist": "fixed", "value": duration}}  # fmt: skip
    if communication is not None:
        cls["communication"] = communication
    return {"jobs": [cls]}


RING_1GB = {"pattern": "ring_allreduce", "bytes_per_step": "1GB", "compute_per_step": "1s"}


def test_two_jobs_sharing_one_uplink_each_get_half() -> None:
    """Two racks of 2 nodes, NIC 100 Gb/s, 2:1: each rack's uplinks carry 2 x 100 / 2 = 100 Gb/s.

    Job A on nodes 0 (rack 0) and 2 (rack 1), job B on 1 and 3: both rings cross both racks'
    uplinks, 50 Gb/s each. Ring of 2 nodes: a hop carries 2(2-1)/2 x 1 GB = 8e9 bits.
    t0 = 1 + 8e9/1e11 = 1.08 s; shared: 1 + 8e9/5e10 = 1.16 s; the 1 h jobs take 3600 x 1.16/1.08 s.
    """
    data = tiny_data(datacenter=fabric(2, 2, 2.0), workload=jobs(2, 16, RING_1GB),
                     policies={"scheduler": "fifo", "placement": "plugins.toy_policies:AcrossRacks"})  # fmt: skip
    r = run_data(data)
    assert r.jobs["racks"].tolist() == [2, 2]
    assert r.jobs["finish_s"].tolist() == pytest.approx([H * 1.16 / 1.08] * 2, rel=1e-9)
    assert r.jobs["network_slowdown"].tolist() == pytest.approx([1.16 / 1.08] * 2, rel=1e-9)
    assert r.summary["network"]["mean_job_slowdown"] == pytest.approx(1.16 / 1.08, rel=1e-9)
    # Traffic: a job does a step every 1.16 s, and each hop moves 8e9 bits per step: 8e9/1.16 b/s
    # on every link it crosses (less than its 50 Gb/s share: a step also computes). Links: 8 NIC
    # links (4 nodes, each way) carry one job, 0.08/1.16 of 100 Gb/s; 4 uplink bundles (2 racks,
    # each way) carry both, 0.16/1.16 of 100 Gb/s; so through the whole run:
    net = r.summary["network"]
    assert net["mean_nic_utilization"] == pytest.approx(0.08 / 1.16, rel=1e-9)
    assert net["mean_uplink_utilization"] == pytest.approx(0.16 / 1.16, rel=1e-9)
    assert net["max_link_utilization"] == pytest.approx(0.16 / 1.16, rel=1e-9)
    assert net["p95_link_utilization"] == pytest.approx(0.16 / 1.16, rel=1e-9)
    steps = H / 1.08  # per job; 2 hops of 1 GB each
    assert net["bytes_moved"] == pytest.approx(2 * steps * 2 * 1e9, rel=1e-9)
    ts = r.timeseries
    mid = ts[(ts["time_s"] > 0) & (ts["time_s"] < H)]
    assert len(mid)
    assert mid["nic_utilization"].tolist() == pytest.approx([0.08 / 1.16] * len(mid), rel=1e-9)
    assert mid["uplink_utilization"].tolist() == pytest.approx([0.16 / 1.16] * len(mid), rel=1e-9)
    assert "core_utilization" not in ts  # a leaf-spine has no core tier
    # The work done is the same 2 x 16 GPU-hours whatever the fabric; the GPU-hours it held grow.
    cost = r.summary["cost"]
    assert cost["usd_per_work_gpu_hour"] == pytest.approx(cost["total_usd"] / 32.0, rel=1e-9)
    assert cost["usd_per_productive_gpu_hour"] == pytest.approx(cost["total_usd"] / (32.0 * 1.16 / 1.08), rel=1e-9)


def test_when_one_job_ends_the_other_speeds_up() -> None:
    """As above, B runs 2 h: A ends at 3600 x 1.16/1.08 s; then B runs alone at rate 1 (its 100 Gb/s).

    B's work by then: 3600 s; left 3600 s at rate 1: it ends at 3600 x 1.16/1.08 + 3600 s.
    """
    data = tiny_data(datacenter=fabric(2, 2, 2.0),
                     policies={"scheduler": "fifo", "placement": "plugins.toy_policies:AcrossRacks"})  # fmt: skip
    data["workload"] = {"jobs": [jobs(1, 16, RING_1GB)["jobs"][0],
                                 {**jobs(1, 16, RING_1GB, "2h")["jobs"][0], "name": "long"}]}  # fmt: skip
    r = run_data(data)
    shared = H * 1.16 / 1.08
    assert r.jobs["finish_s"].tolist() == pytest.approx([shared, shared + H], rel=1e-9)


def test_a_ring_on_an_idle_oversubscribed_fabric_takes_2_n_minus_1_over_n_s_over_b() -> None:
    """4 racks of 1 node, NIC 100 Gb/s, 2:1: each rack's uplinks carry 50 Gb/s, the ring's bottleneck.

    A 32-GPU job on the 4 nodes: a hop carries 2(4-1)/4 x 1 GB = 12e9 bits. t0 = 1 + 12e9/1e11 =
    1.12 s; at 50 Gb/s a step takes 1 + 12e9/5e10 = 1.24 s.
    """
    r = run_data(tiny_data(datacenter=fabric(4, 1, 2.0), workload=jobs(1, 32, RING_1GB)))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H * 1.24 / 1.12], rel=1e-9)
    net = r.summary["network"]
    steps = H / 1.12
    assert net["bytes_moved"] == pytest.approx(steps * 4 * 1.5e9, rel=1e-9)  # 4 hops of 1.5 GB per step


def test_at_full_bisection_an_idle_fabric_keeps_the_duration() -> None:
    """1:1: the uplinks carry the NIC's speed; a lone ring runs at its nominal speed: the duration exactly."""
    r = run_data(tiny_data(datacenter=fabric(4, 1, 1.0), workload=jobs(1, 32, RING_1GB)))
    assert r.jobs["finish_s"].tolist() == [H]


def test_a_job_inside_one_node_or_without_a_profile_is_never_slowed() -> None:
    """8-GPU jobs stay on one node (NVLink, off the fabric); 16-GPU jobs without a profile ignore it."""
    one_node = run_data(tiny_data(datacenter=fabric(2, 2, 4.0), workload=jobs(4, 8, RING_1GB)))
    assert one_node.jobs["finish_s"].tolist() == [H] * 4
    silent = run_data(tiny_data(datacenter=fabric(4, 1, 4.0), workload=jobs(2, 16, None)))
    assert silent.jobs["finish_s"].tolist() == [H] * 2


#: pattern: (bytes per hop over S, phases, hops among 4 nodes, most hops one NIC carries).
PATTERNS = {
    "tree_allreduce": (1.0, 2, 6, 2),  # edges 0-1, 0-2, 1-3 each way; reduce then broadcast
    "all_to_all": (0.25, 1, 12, 3),  # every ordered pair, S / 4 each
    "pipeline": (1.0, 1, 3, 1),  # a chain
    "ring_allreduce": (1.5, 1, 4, 1),  # 2(4-1)/4 S per hop
}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_every_pattern_on_an_idle_oversubscribed_fabric(pattern: str) -> None:
    """4 racks of 1 node at 2:1 (50 Gb/s uplinks), NIC 100 Gb/s, 1 GB per step, 1 s compute.

    A step's communication is phases x bytes per hop / r. The duration is measured alone on
    the NICs: r0 = 100 Gb/s over the most hops one NIC carries (m). With one node per rack the
    uplinks carry the same m hops at 50 Gb/s: r = 50 / m Gb/s.
    """
    per_hop, phases, n_hops, m = PATTERNS[pattern]
    bits = per_hop * 8e9 * phases
    t0, t = 1 + bits / (100e9 / m), 1 + bits / (50e9 / m)
    comm = {"pattern": pattern, "bytes_per_step": "1GB", "compute_per_step": "1s"}
    r = run_data(tiny_data(datacenter=fabric(4, 1, 2.0), workload=jobs(1, 32, comm)))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H * t / t0], rel=1e-9)
    assert r.summary["network"]["bytes_moved"] == pytest.approx(H / t0 * n_hops * per_hop * 1e9, rel=1e-9)


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_alone_at_full_bisection_every_pattern_keeps_its_duration(pattern: str) -> None:
    """1:1, one node per rack: the uplinks carry what the NICs do; a lone job runs at its nominal speed."""
    comm = {"pattern": pattern, "bytes_per_step": "1GB", "compute_per_step": "1s"}
    r = run_data(tiny_data(datacenter=fabric(4, 1, 1.0), workload=jobs(1, 32, comm)))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H], rel=1e-12)
    assert r.summary["network"]["mean_job_slowdown"] == pytest.approx(1.0, rel=1e-12)


def test_work_on_slower_gpus_and_a_busy_fabric_is_counted_as_the_work_it_is() -> None:
    """An H100 rack and an A100 rack (speed 0.32) of 2 nodes each, 1:1; two 16-GPU 10 h ring jobs.

    Whatever the speeds and the fabric, the work is 2 x 16 GPUs x 10 h = 320 GPU-hours of work.
    """
    data = tiny_data(workload=jobs(2, 16, RING_1GB, "10h"))
    data["datacenter"] = {"sites": [{"name": "dc1", "network": {"nic": "100Gbps"}, "rack_groups": [
        {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "H100"}},
        {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "A100"}},
    ]}]}  # fmt: skip
    r = run_data(data)
    cost = r.summary["cost"]
    assert cost["usd_per_work_gpu_hour"] == pytest.approx(cost["total_usd"] / 320.0, rel=1e-9)
    # The A100 job: compute 1 s / 0.32 per step, communication 8e9 / 100e9 s, against 1.08 s at H100 speed.
    a100 = r.jobs[r.jobs["gpu_type"] == "A100"]
    assert (a100["finish_s"] - a100["start_s"]).tolist() == pytest.approx([10 * H * (1 / 0.32 + 0.08) / 1.08], rel=1e-9)


def test_pattern_none_on_an_oversubscribed_fabric_changes_nothing() -> None:
    """Multi-node jobs with `pattern: none` on a 4:1 fabric: every number as without a profile."""
    silent = {"pattern": "none", "bytes_per_step": "1GB", "compute_per_step": "1s"}
    base = run_data(tiny_data(datacenter=fabric(4, 1, 4.0), workload=jobs(3, 16, None))).summary
    none = run_data(tiny_data(datacenter=fabric(4, 1, 4.0), workload=jobs(3, 16, silent))).summary
    for summary in (base, none):
        summary.pop("notes")
    assert none == base


def test_a_job_writing_a_checkpoint_leaves_its_share_of_the_fabric_to_the_others() -> None:
    """As in the first case (two rings across two racks, sharing each rack's 100 Gb/s uplinks, each
    at rate rho = 1.08/1.16), A checkpoints 600 GB after 30 min of work to a 1 GB/s storage: a
    600 s write, during which A is quiet on the fabric and B runs alone at rate 1.

    A reaches 1800 s of work at t1 = 1800/rho and writes until t1 + 600; B has done 1800 s by t1
    and 600 s more alone. Then both share again: B's last 1200 s take 1200/rho; A, with 1800 s
    left, does 1200 s of it meanwhile and its last 600 s alone at rate 1.
    """
    rho = 1.08 / 1.16
    data = tiny_data(datacenter=fabric(2, 2, 2.0),
                     policies={"scheduler": "fifo", "placement": "plugins.toy_policies:AcrossRacks"})  # fmt: skip
    data["datacenter"]["sites"][0]["storage"] = {"bandwidth": "1GB/s"}
    writer = {**jobs(1, 16, RING_1GB)["jobs"][0], "checkpoint": {"interval": "30m", "size": "600GB"}}
    data["workload"] = {"jobs": [writer, {**jobs(1, 16, RING_1GB)["jobs"][0], "name": "other"}]}
    r = run_data(data)
    t1 = 1800 / rho
    b_end = t1 + 600 + 1200 / rho
    assert r.jobs["finish_s"].tolist() == pytest.approx([b_end + 600, b_end], rel=1e-9)
    assert r.summary["storage"]["mean_checkpoint_write_s"] == pytest.approx(600.0, rel=1e-9)
