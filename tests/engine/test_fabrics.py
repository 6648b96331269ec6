"""Fabrics from the scenario (issue 12 point 1): fat-tree and rail-optimized shares, computed by hand.

The run model is test_network.py's: a step takes c + V / r at a share r per hop, the class's
duration is measured at t0 = c + V / B (B: a NIC's speed over the most hops it carries), so a
1 h job takes 3600 x (c + V / r) / t0 s. A ring of n nodes carries V = 2(n-1)/n x S per hop.
"""

from __future__ import annotations

from typing import Any

import pytest

from dcsim.core.errors import ScenarioError
from dcsim.infra.fabrics import Fabric, fat_tree_k
from dcsim.infra.topology import build_topology

from conftest import build, run_data, tiny_data

H = 3600.0
RING_1GB = {"pattern": "ring_allreduce", "bytes_per_step": "1GB", "compute_per_step": "1s"}


def site(racks: int, nodes_per_rack: int, network: dict[str, Any], gpus: int = 8) -> dict[str, Any]:
    return {"sites": [{"name": "dc1", "racks": racks, "nodes_per_rack": nodes_per_rack, "node": {"gpus": gpus},
                       "network": network}]}  # fmt: skip


def on_nodes(*nodes: list[int], gpus: int = 8) -> dict[str, Any]:
    """Job i (by id) on nodes[i], ``gpus`` GPUs on each."""
    params = {"nodes": list(nodes), "gpus": gpus}
    return {"scheduler": "fifo", "placement": {"name": "plugins.toy_policies:OnNodes", "params": params}}


def jobs(count: int, gpus: int, communication: dict[str, Any] = RING_1GB, duration: str = "1h") -> dict[str, Any]:
    return {"jobs": [{"name": "train", "arrival": {"process": "batch", "at": 0}, "count": count, "gpus": gpus,
                      "duration": {"dist": "fixed", "value": duration}, "communication": communication}]}  # fmt: skip


def fat_tree(**net: Any) -> dict[str, Any]:
    """8 racks of 2 nodes on a 4-ary fat-tree: pod p holds racks 2p, 2p+1 (nodes 4p .. 4p+3)."""
    return site(8, 2, {"topology": "fat_tree", "nic": "100Gbps", "k": 4, **net})


# ---------------------------------------------------------------------------- fat-tree
def test_fat_tree_two_jobs_across_pods_share_the_core_bundle() -> None:
    """Pod 0's core uplinks: its 4 NICs of 100 Gb/s over core_oversubscription 4 = 100 Gb/s each way.

    Job A on nodes 0 (pod 0) and 4 (pod 1), B on 1 and 5: both rings cross pod 0's and pod 1's
    core bundles each way, 50 Gb/s each (the edge bundles, 200 Gb/s at 1:1, do not bind).
    V = 2(2-1)/2 x 1 GB = 8e9 bits: t0 = 1 + 8e9/1e11 = 1.08 s, shared 1 + 8e9/5e10 = 1.16 s.
    """
    r = run_data(tiny_data(datacenter=fat_tree(core_oversubscription=4), workload=jobs(2, 16),
                           policies=on_nodes([0, 4], [1, 5])))  # fmt: skip
    assert r.jobs["finish_s"].tolist() == pytest.approx([H * 1.16 / 1.08] * 2, rel=1e-9)
    net = r.summary["network"]
    assert net["mean_job_slowdown"] == pytest.approx(1.16 / 1.08, rel=1e-9)
    # Shares: of 32 NIC links 8 (nodes 0, 1, 4, 5, each way) hold 50 of 100; of 16 edge bundles 4
    # (racks 0 and 2) 100 of 200; of 8 pod bundles 4 (pods 0 and 1) 100 of 100. Traffic: a job's step
    # of 1.16 s moves 8e9 bits per hop, so a flow's 50 Gb/s share carries 8/1.16 Gb/s.
    flow = 8 / 1.16
    assert net["mean_nic_utilization"] == pytest.approx(8 * flow / (32 * 100), rel=1e-9)
    assert net["max_link_utilization"] == pytest.approx(2 * flow / 100, rel=1e-9)
    assert net["mean_uplink_utilization"] == pytest.approx((4 + 4) * 2 * flow / (16 * 200 + 8 * 100), rel=1e-9)
    # The timeseries shows the core tier apart: 4 of the 8 pod bundles carry both jobs.
    mid = r.timeseries[(r.timeseries["time_s"] > 0) & (r.timeseries["time_s"] < H)]
    assert len(mid)
    assert mid["core_utilization"].tolist() == pytest.approx([4 * 2 * flow / (8 * 100)] * len(mid), rel=1e-9)


def test_fat_tree_a_job_inside_a_pod_never_crosses_the_core() -> None:
    """Nodes 0 and 2 (racks 0 and 1, pod 0) cross their edge bundles (200 Gb/s) only: a 4:1 core changes nothing."""
    r = run_data(tiny_data(datacenter=fat_tree(core_oversubscription=4), workload=jobs(1, 16),
                           policies=on_nodes([0, 2])))  # fmt: skip
    assert r.jobs["finish_s"].tolist() == [H]


def test_fat_tree_a_ring_on_an_idle_fabric_takes_2_n_minus_1_over_n_s_over_b() -> None:
    """A ring over one node of each pod (0, 4, 8, 12); each pod's core bundle carries one hop each way.

    Core bundles: 400 Gb/s / 8 = 50 Gb/s = B, below the NICs. V = 2(4-1)/4 x 1 GB = 12e9 bits:
    t0 = 1 + 12e9/1e11 = 1.12 s; on the fabric a step's communication is 2(n-1)/n x S/B = 0.24 s.
    """
    r = run_data(tiny_data(datacenter=fat_tree(core_oversubscription=8), workload=jobs(1, 32),
                           policies=on_nodes([0, 4, 8, 12])))  # fmt: skip
    assert r.jobs["finish_s"].tolist() == pytest.approx([H * (1 + 2 * 3 / 4 * 8e9 / 50e9) / 1.12], rel=1e-9)


def test_fat_tree_edge_oversubscription_binds_inside_a_pod() -> None:
    """oversubscription 4: rack 0's edge bundle carries 2 x 100 / 4 = 50 Gb/s: as the core example, 1.16/1.08."""
    r = run_data(tiny_data(datacenter=fat_tree(oversubscription=4), workload=jobs(1, 16), policies=on_nodes([0, 2])))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H * 1.16 / 1.08], rel=1e-9)


def test_fat_tree_k_is_derived_or_checked() -> None:
    """k/2 >= nodes per rack and k^2/2 >= racks, k even: 8 racks of 2 need 4; 9 racks 6; 16 racks of 4 need 8."""
    assert (fat_tree_k(8, 2), fat_tree_k(9, 2), fat_tree_k(16, 4), fat_tree_k(1, 1), fat_tree_k(3, 7)) == (
        4,
        6,
        8,
        2,
        14,
    )
    topology = build_topology(build(tiny_data(datacenter=site(9, 2, {"topology": "fat_tree"}))).datacenter)
    fabric = Fabric(topology)
    ft = fabric.sites[0]
    assert ft.k == 6 and ft.pods == 3  # racks 0-2, 3-5, 6-8
    # NICs 2 x 18, edge bundles 2 x 9, pod bundles 2 x 3; 18 + 9 x 3 + 3 x 9 physical links; 9 + 9 + 9 switches.
    assert fabric.capacities.size == 36 + 18 + 6 and fabric.count(4) == 18 + 27 + 27 and fabric.count(5) == 27
    with pytest.raises(ScenarioError, match=r"network.k: a 4-ary fat-tree has 8 edge switches of 2 nodes; site "
                       r"'dc1' has 9 racks of up to 2 nodes: raise k"):  # fmt: skip
        build(tiny_data(datacenter=site(9, 2, {"topology": "fat_tree", "k": 4})))
    with pytest.raises(ScenarioError, match=r"k: 5 is odd"):
        build(tiny_data(datacenter=site(2, 2, {"topology": "fat_tree", "k": 5})))


@pytest.mark.parametrize(
    ("network", "field"),
    [({"topology": "fat_tree", "spines": 2}, "spines"), ({"topology": "leaf_spine", "k": 4}, "k"),
     ({"topology": "rail_optimized", "core_oversubscription": 2}, "core_oversubscription"),
     ({"topology": "leaf_spine", "rail_group": 4}, "rail_group"),
     ({"topology": "custom", "path": "g.csv", "nic": "100Gbps"}, "nic")],
)  # fmt: skip
def test_a_field_the_fabric_does_not_read_is_refused(network: dict[str, Any], field: str) -> None:
    with pytest.raises(ScenarioError, match=rf"network: {field}: not read by a {network['topology']} fabric"):
        build(tiny_data(datacenter=site(2, 2, network)))


# ---------------------------------------------------------------------------- rail-optimized
def rail(group: int, oversubscription: float = 4.0) -> dict[str, Any]:
    """2 racks of 2 nodes of 8 GPUs, one 100 Gb/s NIC per GPU."""
    return site(2, 2, {"topology": "rail_optimized", "nic": "100Gbps", "rail_group": group,
                       "oversubscription": oversubscription})  # fmt: skip


def test_rail_a_ring_inside_a_rail_group_runs_at_full_nic_speed() -> None:
    """One rail group of 4 nodes, 4:1 uplinks: a 32-GPU ring never leaves the rail switches.

    Its 4 hops each run on 8 rails, 1/8 of V = 2(4-1)/4 x 1 GB = 1.5 GB each: t0 = 1 + 1.5e9/1e11
    = 1.015 s, and so it runs; bytes moved: 4 hops x 1.5 GB per step.
    """
    r = run_data(tiny_data(datacenter=rail(4), workload=jobs(1, 32), policies=on_nodes([0, 1, 2, 3])))
    assert r.jobs["finish_s"].tolist() == [H]
    assert r.summary["network"]["bytes_moved"] == pytest.approx(H / 1.015 * 4 * 1.5e9, rel=1e-9)
    assert r.summary["network"]["mean_uplink_utilization"] == 0.0


def test_rail_hops_between_rail_groups_cross_the_rail_switches_uplinks() -> None:
    """Groups of 2 nodes: rail switch (g, i) has 2 NICs of 100 Gb/s over 4 = 50 Gb/s of uplinks each way.

    The ring 0-1-2-3-0 crosses groups on hops 1->2 and 3->0: on each rail, switch (0, i) carries
    hop 1->2 up and 3->0 down, one channel each way, 50 Gb/s: a step takes 1 + 1.5e9/5e10 = 1.03 s.
    """
    r = run_data(tiny_data(datacenter=rail(2), workload=jobs(1, 32), policies=on_nodes([0, 1, 2, 3])))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H * 1.03 / 1.015], rel=1e-9)


def test_rail_two_jobs_sharing_nodes_use_different_rails() -> None:
    """Two jobs of 4 GPUs on each of nodes 0 and 1: the first takes rails 0-3, the second the least used, 4-7.

    Each ring of 2 runs on 4 rails, 1 GB / 4 per channel at a NIC's 100 Gb/s alone: neither slows.
    On a leaf-spine (one NIC a node) they would share each NIC: 1 + 2e9/5e10 over 1 + 2e9/1e11.
    """
    r = run_data(tiny_data(datacenter=rail(4), workload=jobs(2, 8), policies=on_nodes([0, 1], gpus=4)))
    assert r.jobs["finish_s"].tolist() == [H, H]
    one_nic = site(2, 2, {"nic": "100Gbps"})
    r = run_data(tiny_data(datacenter=one_nic, workload=jobs(2, 8), policies=on_nodes([0, 1], gpus=4)))
    assert r.jobs["finish_s"].tolist() == pytest.approx([H * 1.16 / 1.08] * 2, rel=1e-9)


def test_leaf_spine_numbering_is_as_before() -> None:
    """Leaf-spine link ids: NIC up 2n, down 2n+1, rack r's bundles 2N+2r, 2N+2r+1 (the goldens rest on them)."""
    topology = build_topology(
        build(tiny_data(datacenter=site(2, 2, {"nic": "100Gbps", "oversubscription": 2}))).datacenter
    )
    fabric = Fabric(topology)
    assert fabric.capacities.tolist() == [100e9] * 8 + [100e9] * 4
    assert fabric.tiers.tolist() == [0] * 8 + [1] * 4
    assert fabric.links("ring_allreduce", [0, 2]) == ([0, 5, 8, 11, 4, 1, 10, 9], 2, 1.0, 1.0)


def test_a_flows_nominal_share_is_a_python_float() -> None:
    """The nominal share a job's rates are computed from is a Python float, not a numpy scalar: the
    same value, but a numpy scalar would make every rate, run end and event time after it one."""
    topology = build_topology(build(tiny_data(datacenter=site(2, 2, {"nic": "100Gbps"}))).datacenter)
    fabric = Fabric(topology)
    links, _, _, _ = fabric.links("ring_allreduce", [0, 2])
    share = fabric.nominal("ring_allreduce", [0, 2], links)
    assert type(share) is float and share == 100e9
