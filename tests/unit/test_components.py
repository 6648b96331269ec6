"""The component tree (site > rack > node > GPU): hand-counted on a small two-site layout."""

from __future__ import annotations

from dcsim.infra.components import CHILD, GPU, KINDS, LINK, NAMES, NODE, PARENT, RACK, SITE, SWITCH, ComponentTree
from dcsim.infra.fabrics import Fabric
from dcsim.infra.topology import build_topology

from conftest import build, tiny_data


def tree(fabric: bool = False) -> ComponentTree:
    """Site a: 2 racks x 2 nodes of 4 GPUs; site b: 1 rack x 3 nodes of 8 GPUs (nodes 0-3 in a, 4-6 in b)."""
    data = tiny_data(datacenter={"sites": [
        {"name": "a", "racks": 2, "nodes_per_rack": 2, "node": {"gpus": 4}},
        {"name": "b", "racks": 1, "nodes_per_rack": 3, "node": {"gpus": 8}},
    ]})  # fmt: skip
    topology = build_topology(build(data).datacenter)
    return ComponentTree(topology, Fabric(topology) if fabric else None)


def test_kinds_form_a_chain_from_gpu_to_site_and_the_fabric_sits_in_its_site() -> None:
    assert NAMES == ("gpu", "node", "rack", "site", "link", "switch") == tuple(k.name for k in KINDS)
    assert [NAMES[p] for p in PARENT[:3]] == ["node", "rack", "site"] and PARENT[SITE] == -1
    assert PARENT[LINK] == PARENT[SWITCH] == SITE
    assert CHILD == (-1, GPU, NODE, RACK, -1, -1)


def test_links_and_switches_of_a_leaf_spine_by_hand() -> None:
    """One spine per site by default (racks <= 64). Site a: 4 NIC links + 2 racks x 1 uplink; 2 leaves + 1 spine.
    Site b: 3 + 1 links; 1 leaf + 1 spine. Numbered site after site."""
    t = tree(fabric=True)
    assert t.count(LINK) == 6 + 4 and t.count(SWITCH) == 3 + 2
    assert [t.above(LINK, u, SITE) for u in range(10)] == [0] * 6 + [1] * 4
    assert [t.above(SWITCH, u, SITE) for u in range(5)] == [0, 0, 0, 1, 1]
    assert t.subtree(SWITCH, 0) == [(SWITCH, 0)]
    # A leaf cuts its rack off; a NIC link its node; a spine or an uplink nothing (capacity only).
    assert t.cut_off(SWITCH, 1) == [(RACK, 1)] and list(t.nodes(SWITCH, 1)) == [2, 3] and t.gpus(SWITCH, 1) == 8
    assert t.cut_off(SWITCH, 3) == [(RACK, 2)] and t.gpus(SWITCH, 3) == 24
    assert t.cut_off(LINK, 7) == [(NODE, 5)] and t.gpus(LINK, 7) == 8
    assert t.cut_off(SWITCH, 2) == [] and t.gpus(SWITCH, 2) == 0 and list(t.nodes(SWITCH, 2)) == []
    assert t.cut_off(LINK, 4) == [] and t.cut_off(LINK, 9) == []
    assert tree().count(LINK) == 0


def test_counts_and_parents_by_hand() -> None:
    t = tree()
    assert [t.count(k) for k in (GPU, NODE, RACK, SITE)] == [2 * 2 * 4 + 3 * 8, 7, 3, 2]
    assert t.above(GPU, 17, NODE) == 4  # GPUs 0-15 are site a's; 16-23 node 4
    assert t.above(GPU, 17, SITE) == 1 and t.above(NODE, 3, RACK) == 1 and t.above(RACK, 2, SITE) == 1
    assert t.above(NODE, 5, NODE) == 5


def test_a_subtree_is_the_blast_radius() -> None:
    t = tree()
    rack1 = t.subtree(RACK, 1)
    assert rack1 == [(RACK, 1), (NODE, 2), (NODE, 3)] + [(GPU, g) for g in range(8, 16)]
    site_b = t.subtree(SITE, 1)
    assert site_b[:5] == [(SITE, 1), (RACK, 2), (NODE, 4), (NODE, 5), (NODE, 6)]
    assert [u for k, u in site_b if k == GPU] == list(range(16, 40))
    assert t.subtree(GPU, 3) == [(GPU, 3)]
    assert t.gpus(SITE, 0) == 16 and t.gpus(RACK, 2) == 24 and t.gpus(GPU, 0) == 1
    assert list(t.nodes(SITE, 0)) == [0, 1, 2, 3]


def test_units_in_a_pool() -> None:
    t = tree()
    assert t.in_pool(NODE, 1) == [4, 5, 6] and t.in_pool(RACK, 0) == [0, 1]
    assert t.in_pool(GPU, 0) == list(range(16))
