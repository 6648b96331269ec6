"""Network-aware and spreading placement on hand-built cluster and fabric states (no SimPy)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from dcsim.infra.cluster import Cluster
from dcsim.infra.fabrics import Fabric
from dcsim.infra.topology import build_topology
from dcsim.policies import PLACEMENT
from dcsim.policies.placement import link_share, uplink_headroom
from dcsim.scenario.schema import Datacenter
from dcsim.views import network_view

RING = ("ring_allreduce", 1e9, 0.5)
GBPS = 1e9


@dataclass
class JobStub:
    """The fields a placement policy reads."""

    gpus: int
    communication: tuple[str, float, float] | None = RING
    pools: tuple[int, ...] = (0,)
    id: int = 0
    speeds: tuple[float, ...] | None = None


def fabric_cluster(racks: int = 3, nodes_per_rack: int = 4, oversubscription: float = 4.0, network: bool = True):
    """A one-site cluster of 8-GPU nodes with 100 Gb/s NICs; with ``network``, an idle fabric view on it.

    Returns the cluster and the (stub) network whose ``load`` and ``crossings`` a test sets (the
    engine's Network gives a link's load by ``link_load``).
    """
    dc = Datacenter.model_validate({"sites": [{
        "name": "dc1", "racks": racks, "nodes_per_rack": nodes_per_rack, "node": {"gpus": 8},
        "network": {"nic": "100Gbps", "oversubscription": oversubscription},
    }]})  # fmt: skip
    topology = build_topology(dc)
    cluster = Cluster(topology)
    fabric = Fabric(topology)
    load = np.zeros(fabric.capacities.size)
    net = SimpleNamespace(
        fabric=fabric, load=load, crossings=np.zeros(fabric.capacities.size, np.int64), link_load=load.__getitem__
    )
    if network:
        cluster.network = network_view(net)
    return cluster, net


def take(cluster: Cluster, nodes: list[int], gpus: int = 8) -> None:
    """Allocate ``gpus`` GPUs on each of ``nodes``."""
    cluster.allocate([(n, gpus) for n in nodes])


def policy(name: str, **params):
    return PLACEMENT.create(name, params, np.random.default_rng(0))


def racks_of(cluster: Cluster, placement) -> set[int]:
    return {cluster.node_rack[n] for n, _ in placement}


def test_a_job_that_fits_one_rack_lands_in_one_rack() -> None:
    """Racks of 4 nodes; rack 0 has 2 whole free nodes (0, 1), racks 1 and 2 have 4.

    A 3-node ring: first fit takes nodes 0, 1 and 4 (two racks); network_aware takes the
    fullest rack that holds it, rack 1 (ties with rack 2 -> lowest id): nodes 4, 5, 6.
    """
    c, _ = fabric_cluster()
    take(c, [2, 3])
    assert policy("first_fit").place(JobStub(24), c) == [(0, 8), (1, 8), (4, 8)]
    assert policy("network_aware").place(JobStub(24), c) == [(4, 8), (5, 8), (6, 8)]


def test_a_two_rack_job_avoids_the_rack_whose_uplinks_are_loaded() -> None:
    """Three idle racks of 4 nodes, 4:1 (uplink bundle 4 x 100 / 4 = 100 Gb/s each way).

    Rack 0's uplinks carry one flow at 100 Gb/s (full): a new crossing there can expect
    max(100 - 100, 100 / 2) = 50 Gb/s, on racks 1 and 2 the whole 100. A 6-node ring needs
    two racks; rack_pack takes racks 0 and 1 (ties -> lowest ids), network_aware racks 1 and 2:
    rack 1's 4 nodes, then 2 of rack 2's.
    """
    c, net = fabric_cluster()
    up, down = net.fabric.uplinks(0)
    net.load[[up, down]] = 100 * GBPS
    net.crossings[[up, down]] = 1
    assert uplink_headroom(c.network, 0) == pytest.approx(50 * GBPS)
    assert uplink_headroom(c.network, 1) == pytest.approx(100 * GBPS)
    assert racks_of(c, policy("rack_pack").place(JobStub(48), c)) == {0, 1}
    assert policy("network_aware").place(JobStub(48), c) == [(n, 8) for n in (4, 5, 6, 7, 8, 9)]


def test_the_fewest_racks_come_before_the_quietest() -> None:
    """Rack 0 (loaded uplinks) has 4 whole free nodes, racks 1 and 2 have 2 each (idle).

    A 6-node job fits two racks only as rack 0 + one of the others (2 + 2 = 4 < 6): it takes
    rack 0 despite its load rather than spanning three racks; of racks 1 and 2 the lower id.
    """
    c, net = fabric_cluster()
    take(c, [4, 5, 8, 9])
    net.load[list(net.fabric.uplinks(0))] = 100 * GBPS
    net.crossings[list(net.fabric.uplinks(0))] = 1
    placement = policy("network_aware").place(JobStub(48), c)
    assert placement == [(n, 8) for n in (0, 1, 2, 3, 6, 7)]


def test_link_share_is_the_spare_capacity_or_the_fair_part_whichever_is_more() -> None:
    """A 100 Gb/s NIC link with 2 crossings carrying 90 Gb/s: a new single crossing expects
    max(10, 100/3) = 33.3 Gb/s; crossing it twice, max(10/2, 100/4) = 25 per crossing; an idle
    link gives its capacity; the least over the links is the flow's."""
    c, net = fabric_cluster()
    net.load[0], net.crossings[0] = 90 * GBPS, 2
    view = c.network
    assert link_share(view, [0]) == pytest.approx(100 / 3 * GBPS)
    assert link_share(view, [0, 0]) == pytest.approx(25 * GBPS)
    assert link_share(view, [2]) == pytest.approx(100 * GBPS)
    assert link_share(view, [0, 2]) == pytest.approx(100 / 3 * GBPS)
    assert link_share(view, []) == float("inf")


def test_jobs_without_traffic_take_the_best_fit_when_there_is_a_network() -> None:
    """With a fabric, a job whose class does not communicate (or is `none`) fills gaps as best fit does."""
    rng = np.random.default_rng(7)
    for _ in range(50):
        c, _ = fabric_cluster(racks=4)
        take(c, [int(n) for n in rng.choice(16, size=5, replace=False)], gpus=int(rng.integers(1, 9)))
        for comm in (None, ("none", 0.0, 1.0)):
            for gpus in (3, 8, 16, 20):
                job = JobStub(gpus, comm)
                assert policy("network_aware").place(job, c) == policy("best_fit").place(job, c)


def test_without_a_network_it_places_for_locality_as_rack_pack_does() -> None:
    """No class communicates (no fabric view): every multi-node job goes where rack_pack puts it."""
    rng = np.random.default_rng(3)
    for _ in range(100):
        c, _ = fabric_cluster(racks=5, network=False)
        take(c, [int(n) for n in rng.choice(20, size=int(rng.integers(0, 12)), replace=False)],
             gpus=int(rng.integers(1, 9)))  # fmt: skip
        for gpus in (4, 16, 24, 36, 60):
            job = JobStub(gpus, None)
            assert policy("network_aware").place(job, c) == policy("rack_pack").place(job, c)


def test_spread_puts_each_node_in_another_rack_while_racks_last() -> None:
    """4 idle racks of 2 nodes: 3 nodes go to 3 racks (nodes 0, 2, 4); 5 nodes to all 4 racks,
    the fifth back in rack 0 (every rack then has one whole node left: ties -> lowest id)."""
    c, _ = fabric_cluster(racks=4, nodes_per_rack=2)
    spread = policy("spread")
    assert spread.place(JobStub(24), c) == [(0, 8), (2, 8), (4, 8)]
    five = spread.place(JobStub(40), c)
    assert five == [(0, 8), (2, 8), (4, 8), (6, 8), (1, 8)]
    assert len(racks_of(c, five)) == min(5, 4)


def test_spread_takes_the_racks_with_most_whole_nodes_first_and_the_remainder_elsewhere() -> None:
    """Racks of 4 nodes with 1, 4 and 3 whole free nodes (nodes 0, 4-7, 9-11; node 8 has 4 GPUs free).

    A 2-node + 4-GPU job: one whole node from rack 1 (4 left), one from rack 2 (3), and the
    4 GPUs on node 8 (rack 2 is used; no partly used node elsewhere). With node 0 partly
    used too, the 4 GPUs go there instead: rack 0 is not used yet.
    """
    c, _ = fabric_cluster()
    take(c, [1, 2, 3])
    take(c, [8], gpus=4)
    assert policy("spread").place(JobStub(20), c) == [(4, 8), (9, 8), (8, 4)]
    take(c, [0], gpus=4)  # node 0 now has 4 free too: the remainder goes to a rack not used
    assert policy("spread").place(JobStub(20), c) == [(4, 8), (9, 8), (0, 4)]


def test_spread_and_network_aware_leave_a_job_queued_when_it_does_not_fit() -> None:
    """Whole free nodes 4 of 12, no partly used node: a 4-node + 1-GPU job fits nowhere."""
    c, _ = fabric_cluster()
    take(c, list(range(8)))
    for name in ("spread", "network_aware"):
        assert policy(name).place(JobStub(33), c) is None, name
        assert policy(name).place(JobStub(32), c) is not None, name


def test_every_placement_is_valid() -> None:
    """Random states and sizes: distinct nodes, that many GPUs free on each, summing to the job's GPUs."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        c, net = fabric_cluster(racks=4)
        take(c, [int(n) for n in rng.choice(16, size=int(rng.integers(0, 10)), replace=False)],
             gpus=int(rng.integers(1, 9)))  # fmt: skip
        net.load[:] = rng.uniform(0, 1, net.load.size) * net.fabric.capacities
        net.crossings[:] = rng.integers(0, 3, net.load.size)
        for name in ("spread", "network_aware"):
            gpus = int(rng.integers(1, 80))
            placement = policy(name).place(JobStub(gpus), c)
            fits = policy("best_fit").place(JobStub(gpus), c) is not None
            assert (placement is not None) == fits, (name, gpus)  # the same jobs fit (uniform in class)
            if placement is not None:
                nodes = [n for n, _ in placement]
                assert len(set(nodes)) == len(nodes) and sum(g for _, g in placement) == gpus
                assert all(0 < g <= c.free[n] for n, g in placement)


def test_the_network_view_is_live_and_cannot_be_written() -> None:
    """What the engine changes shows at once; nothing a policy reads writes back (slices are copies)."""
    c, net = fabric_cluster()
    view = c.network
    assert view.load[3] == 0.0
    net.load[3] = 7.0
    net.crossings[3] = 2
    assert view.load[3] == 7.0 and view.crossings[3] == 2 and list(view.load)[3] == 7.0
    with pytest.raises(TypeError):
        view.load[3] = 0.0  # type: ignore[index]
    part = view.crossings[0:4]
    part[3] = 0
    assert net.crossings[3] == 2
    assert len(view.capacity) == net.fabric.capacities.size and view.uplinks(1) == net.fabric.uplinks(1)
    assert not any(hasattr(view.crossings, name) for name in ("base", "flags", "data"))
