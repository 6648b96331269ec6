"""The component tree: the kinds of hardware a failure, maintenance or a policy names, and how they nest.

Kinds form a tree, site > rack > node > GPU: every unit of a kind sits in one unit of its
parent kind. The fabric's physical links and switches (``link``, ``switch``) sit in their
site beside it: their subtree is themselves; what their failure cuts off (a node behind its
only NIC link, a rack behind its leaf switch) comes from the fabric
(:meth:`dcsim.infra.fabrics.Fabric.takes_down`). A unit's *subtree* is the unit and every
unit below it (a failure's blast radius; what a maintenance window drains). Units of a
kind are numbered densely (GPU ids node by node), and a kind's code is its index in
:data:`KINDS`, which records store.

A new kind is one more :class:`Kind` with its parent, and one more membership list in
:class:`ComponentTree`; failures, maintenance, views and the ``lp`` scheduler walk the tree,
not the names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dcsim.infra.topology import Topology


@dataclass(frozen=True)
class Kind:
    """A kind of component: its name and the kind it sits in (None for the root)."""

    name: str
    parent: str | None


#: The kinds, the tree's leaf first, then the fabric's: a kind's code is its index here (records store codes).
KINDS: tuple[Kind, ...] = (
    Kind("gpu", "node"), Kind("node", "rack"), Kind("rack", "site"), Kind("site", None),
    Kind("link", "site"), Kind("switch", "site"),
)  # fmt: skip
#: Their names, in code order.
NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
GPU, NODE, RACK, SITE, LINK, SWITCH = (NAMES.index(n) for n in ("gpu", "node", "rack", "site", "link", "switch"))
#: The kinds of the tree of hosts (site > rack > node > GPU), whose failure rates a scheduler prices.
TREE: tuple[int, ...] = (GPU, NODE, RACK, SITE)
#: The fabric's kinds: they exist where a site has a fabric (every site has one).
FABRIC: tuple[int, ...] = (LINK, SWITCH)
#: The kind of each kind's parent, by code (-1: the root).
PARENT: tuple[int, ...] = tuple(NAMES.index(k.parent) if k.parent is not None else -1 for k in KINDS)
#: The kind of each kind's children, by code (-1: a leaf). The host tree is a chain; link and switch are leaves.
CHILD: tuple[int, ...] = tuple(PARENT.index(i) if i in PARENT else -1 for i in range(len(KINDS)))


class FabricElements(Protocol):
    """What the tree needs of a fabric (:class:`dcsim.infra.fabrics.Fabric`, which imports this module)."""

    def site_units(self, kind: int) -> Sequence[int]:
        """The site of each physical link (``LINK``) or switch (``SWITCH``), by id."""
        ...

    def takes_down(self, kind: int, unit: int) -> list[tuple[int, int]]:
        """The host-tree units (kind, id) a failed link or switch cuts off."""
        ...


class ComponentTree:
    """The units of each kind in one topology and how they nest.

    Args:
        topology: the data center's layout.
        fabric: its fabric (None: no links or switches are counted).
    """

    def __init__(self, topology: Topology, fabric: FabricElements | None = None) -> None:
        self.topology = topology
        self.fabric = fabric
        gpus = topology.node_gpus
        offsets = topology.gpu_offsets()
        self.gpu_offset = offsets
        self.gpu_node = [n for n, g in enumerate(gpus) for _ in range(g)]
        site_racks: list[list[int]] = [[] for _ in topology.site_names]
        rack_site = topology.rack_site
        for r, s in enumerate(rack_site):
            site_racks[s].append(r)
        #: The parent unit of each unit, by kind code (the root kind has none).
        fabric_sites = [fabric.site_units(k) if fabric is not None else [] for k in (LINK, SWITCH)]
        self.parent_of: tuple[Sequence[int], ...] = (self.gpu_node, topology.node_rack, rack_site, (), *fabric_sites)
        #: The child units of each unit, by kind code (the leaf kind has none).
        self.children_of: tuple[Sequence[Sequence[int]], ...] = (
            (),
            [range(offsets[n], offsets[n] + g) for n, g in enumerate(gpus)],
            topology.rack_nodes,
            [tuple(r) for r in site_racks],
            (),
            (),
        )
        self.site_nodes = topology.site_nodes
        self.site_racks = self.children_of[SITE]

    def count(self, kind: int) -> int:
        """Units of a kind."""
        return len(self.parent_of[kind]) if kind != SITE else len(self.topology.site_names)

    def subtree(self, kind: int, unit: int) -> list[tuple[int, int]]:
        """The unit and every unit below it, as (kind, unit), parents before children."""
        out = [(kind, unit)]
        level: Sequence[int] = [unit]
        k = kind
        while CHILD[k] >= 0:
            children = self.children_of[k]
            child = CHILD[k]
            # Nodes in id order, as the topology lists them (failure clocks re-arm in this order).
            level = self.nodes(kind, unit) if child == NODE else [c for u in level for c in children[u]]
            out += [(child, u) for u in level]
            k = child
        return out

    def cut_off(self, kind: int, unit: int) -> list[tuple[int, int]]:
        """The host-tree units a link or switch takes down (their subtrees go with them); none for others."""
        if kind in FABRIC and self.fabric is not None:
            return self.fabric.takes_down(kind, unit)
        return []

    def nodes(self, kind: int, unit: int) -> Sequence[int]:
        """The nodes a unit covers (a GPU: its node; a link or switch: the nodes it cuts off)."""
        if kind in FABRIC:
            return sorted({n for k, u in self.cut_off(kind, unit) for n in self.nodes(k, u)})
        if kind == GPU:
            return (self.gpu_node[unit],)
        if kind == NODE:
            return (unit,)
        return self.topology.rack_nodes[unit] if kind == RACK else self.site_nodes[unit]

    def above(self, kind: int, unit: int, of: int) -> int:
        """The unit of kind ``of`` that holds ``unit`` (itself if the kinds are equal)."""
        while kind != of:
            unit = self.parent_of[kind][unit]
            kind = PARENT[kind]
        return unit

    def gpus(self, kind: int, unit: int) -> int:
        """Installed GPUs in a unit (a link or switch: those it cuts off)."""
        if kind in FABRIC:
            return sum(self.gpus(k, u) for k, u in self.cut_off(kind, unit))
        return 1 if kind == GPU else sum(self.topology.node_gpus[n] for n in self.nodes(kind, unit))

    def in_pool(self, kind: int, pool: int) -> list[int]:
        """The units of a kind inside a pool (GPU, node, rack: pools are whole racks), ascending."""
        p = self.topology.pools[pool]
        if kind == NODE:
            return list(p.nodes)
        if kind == RACK:
            return list(p.racks)
        if kind == GPU:
            off, gpus = self.gpu_offset, self.topology.node_gpus
            return [g for n in p.nodes for g in range(off[n], off[n] + gpus[n])]
        raise ValueError(f"a {NAMES[kind]} is not inside a pool")


__all__ = [
    "CHILD", "FABRIC", "GPU", "KINDS", "LINK", "NAMES", "NODE", "PARENT", "RACK", "SITE", "SWITCH", "TREE",
    "ComponentTree", "Kind",
]  # fmt: skip
