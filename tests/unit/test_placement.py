"""Placement policies on hand-built cluster states (no SimPy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from dcsim.core.errors import UnknownPolicyError
from dcsim.infra.cluster import Cluster
from dcsim.infra.topology import build_topology
from dcsim.policies import PLACEMENT
from dcsim.scenario.schema import Datacenter


@dataclass
class JobStub:
    """The fields a placement policy reads."""

    gpus: int
    pools: tuple[int, ...] = (0,)
    id: int = 0


def cluster(racks: int = 2, nodes_per_rack: int = 2, gpus: int = 8, groups: list | None = None) -> Cluster:
    """A one-site cluster; node ids run rack by rack."""
    site = {"name": "dc1", "racks": racks, "nodes_per_rack": nodes_per_rack, "node": {"gpus": gpus}}
    if groups is not None:
        site = {"name": "dc1", "rack_groups": groups}
    return Cluster(build_topology(Datacenter.model_validate({"sites": [site]})))


def with_free(c: Cluster, free: list[int]) -> Cluster:
    """Allocate GPUs so that node i has free[i] free GPUs."""
    for node, f in enumerate(free):
        used = c.free[node] - f
        if used:
            c.allocate([(node, used)])
    return c


def policy(name: str, **params):
    return PLACEMENT.create(name, params, np.random.default_rng(0))


def test_first_fit_takes_lowest_id_node_with_room() -> None:
    """Free GPUs per node 2, 6, 8, 3: a 3-GPU job goes to node 1 (lowest id with >= 3)."""
    c = with_free(cluster(), [2, 6, 8, 3])
    assert policy("first_fit").place(JobStub(3), c) == [(1, 3)]


def test_best_fit_takes_node_with_fewest_free_that_fit() -> None:
    """Free 2, 6, 8, 3: best fit for 3 GPUs is node 3 (3 free, none left over)."""
    c = with_free(cluster(), [2, 6, 8, 3])
    assert policy("best_fit").place(JobStub(3), c) == [(3, 3)]


def test_worst_fit_takes_node_with_most_free() -> None:
    """Free 2, 6, 8, 3: worst fit spreads to node 2 (8 free)."""
    c = with_free(cluster(), [2, 6, 8, 3])
    assert policy("worst_fit").place(JobStub(3), c) == [(2, 3)]


def test_best_fit_with_negative_weight_spreads_like_worst_fit() -> None:
    """The sign of gpu_weight picks pack or spread: one rule, two defaults."""
    c = with_free(cluster(), [2, 6, 8, 3])
    assert policy("best_fit", gpu_weight=-1.0).place(JobStub(3), c) == policy("worst_fit").place(JobStub(3), c)


def test_ties_go_to_lowest_node_id() -> None:
    """Free 5, 5, 5, 5: every rule picks node 0."""
    for name in ("first_fit", "best_fit", "worst_fit", "rack_pack"):
        c = with_free(cluster(), [5, 5, 5, 5])
        assert policy(name).place(JobStub(2), c) == [(0, 2)], name


def test_no_room_leaves_job_queued() -> None:
    """Free 2, 3, 1, 0: a 4-GPU job fits nowhere (7 GPUs free in all, but no node has 4)."""
    for name in ("first_fit", "best_fit", "worst_fit", "rack_pack"):
        c = with_free(cluster(), [2, 3, 1, 0])
        assert policy(name).place(JobStub(4), c) is None, name


def test_multi_node_job_takes_whole_free_nodes() -> None:
    """A 16-GPU job on 8-GPU nodes needs two whole free nodes: free 8, 3, 8, 8 -> nodes 0 and 2."""
    c = with_free(cluster(), [8, 3, 8, 8])
    assert policy("first_fit").place(JobStub(16), c) == [(0, 8), (2, 8)]


def test_multi_node_remainder_goes_to_a_partly_used_node() -> None:
    """20 GPUs = 2 whole nodes + 4 on a node with >= 4 free; best fit picks node 1 (5 free) over node 3 (6)."""
    c = with_free(cluster(), [8, 5, 8, 6])
    assert policy("best_fit").place(JobStub(20), c) == [(0, 8), (2, 8), (1, 4)]


def test_multi_node_remainder_uses_extra_whole_node_when_no_partial_fits() -> None:
    """20 GPUs with free 8, 2, 8, 8: no partial node holds 4, so a third whole node takes them."""
    c = with_free(cluster(), [8, 2, 8, 8])
    assert policy("first_fit").place(JobStub(20), c) == [(0, 8), (2, 8), (3, 4)]


def test_multi_node_job_waits_without_enough_whole_nodes() -> None:
    """16 GPUs with free 8, 7, 7, 7: 29 GPUs free but one whole node, so no placement."""
    for name in ("first_fit", "best_fit", "worst_fit", "rack_pack"):
        c = with_free(cluster(), [8, 7, 7, 7])
        assert policy(name).place(JobStub(16), c) is None, name


def test_rack_pack_puts_multi_node_job_in_one_rack() -> None:
    """Racks of 3 nodes; whole free nodes: rack 0 has node 0 only, rack 1 has nodes 4, 5.

    First fit would take nodes 0 and 4 (two racks); rack_pack takes 4 and 5 (one rack).
    """
    c = with_free(cluster(racks=2, nodes_per_rack=3), [8, 0, 0, 0, 8, 8])
    assert policy("first_fit").place(JobStub(16), c) == [(0, 8), (4, 8)]
    placement = policy("rack_pack").place(JobStub(16), c)
    assert placement == [(4, 8), (5, 8)]
    assert c.locality(placement) == 1  # SAME_RACK


def test_rack_pack_prefers_the_fullest_rack_that_holds_the_job() -> None:
    """Rack 0 has 3 whole free nodes, rack 1 has 2: a 2-node job goes to rack 1, keeping rack 0's block."""
    c = with_free(cluster(racks=2, nodes_per_rack=3), [8, 8, 8, 8, 8, 0])
    assert policy("rack_pack").place(JobStub(16), c) == [(3, 8), (4, 8)]


def test_rack_pack_spans_fewest_racks_when_no_rack_holds_the_job() -> None:
    """Whole free nodes per rack: 1, 2, 1 (racks of 3). A 3-node job takes rack 1's two, then one more."""
    c = with_free(cluster(racks=3, nodes_per_rack=3), [8, 0, 0, 8, 8, 0, 0, 0, 8])
    placement = policy("rack_pack").place(JobStub(24), c)
    racks = {c.node_rack[n] for n, _ in placement}
    assert sum(g for _, g in placement) == 24
    assert len(racks) == 2 and 1 in racks


def test_gpu_type_constraint_restricts_pools() -> None:
    """Two pools (H100 nodes 0-1, A100 nodes 2-3): a job allowed only pool 1 lands on an A100 node."""
    groups = [
        {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "H100"}},
        {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 4, "gpu_type": "A100"}},
    ]
    c = cluster(groups=groups)
    assert [p.gpu_type for p in c.pools] == ["H100", "A100"]
    assert policy("first_fit").place(JobStub(2, pools=(1,)), c) == [(2, 2)]
    assert policy("first_fit").place(JobStub(8, pools=(1,)), c) == [(2, 4), (3, 4)]


def test_placement_indexes_follow_allocate_and_release() -> None:
    """After taking and giving back GPUs, buckets and rack counts match a recount from scratch."""
    c = cluster(racks=2, nodes_per_rack=3)
    rng = np.random.default_rng(5)
    live: list[list[tuple[int, int]]] = []
    for _ in range(500):
        if live and rng.random() < 0.45:
            c.release(live.pop(int(rng.integers(len(live)))))
        else:
            p = policy(["first_fit", "best_fit", "worst_fit", "rack_pack"][int(rng.integers(4))]).place(
                JobStub(int(rng.choice([1, 2, 3, 8, 12, 16]))), c
            )
            if p is not None:
                c.allocate(p)
                live.append(p)
        assert all(0 <= f <= 8 for f in c.free)
        for f in range(9):
            expect = sorted(n for n in range(6) if c.free[n] == f)
            assert c.count(0, f) == len(expect)
            if f:
                assert sorted(c.nodes_in_bucket(0, f)) == expect
                assert c.lowest_node(0, f) == (expect[0] if expect else None)
        for rack, members in enumerate(c.rack_nodes):
            assert c.rack_whole_free[rack] == sum(c.free[n] == 8 for n in members)
        assert c.busy_gpus == sum(8 - f for f in c.free)


def test_unknown_placement_lists_valid_names() -> None:
    with pytest.raises(UnknownPolicyError, match=r"best_fit.*first_fit.*rack_pack.*worst_fit"):
        PLACEMENT.lookup("bestfit")


def test_rack_pack_compares_pools_of_different_node_sizes() -> None:
    """An 8-GPU job allowed on 4-GPU A100 nodes (listed first) and 8-GPU H100 nodes takes one whole H100 node."""
    groups = [
        {"racks": 2, "nodes_per_rack": 2, "node": {"gpus": 4, "gpu_type": "A100"}},
        {"racks": 1, "nodes_per_rack": 2, "node": {"gpus": 8, "gpu_type": "H100"}},
    ]
    c = cluster(groups=groups)
    assert policy("rack_pack").place(JobStub(8, pools=(0, 1)), c) == [(4, 8)]
    assert policy("rack_pack").place(JobStub(8, pools=(0,)), c) == [(0, 4), (1, 4)]  # one rack of A100s
