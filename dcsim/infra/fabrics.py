"""The fabrics a site's ``network`` block names: their links as max-min sharing sees them, routes, failures.

Every fabric gives the engine (:mod:`dcsim.engine.network`) the same few things: the
capacity of each *link* (bits/s, by integer link id), each link's tier, the links one
aggregated flow of a job crosses, and the share per hop its class's duration is measured at.
A link here is directed (each way its own capacity) and is often a *bundle*: the parallel
physical links between one switch and the tier above, taken as one link of their summed
capacity. That is exact for fluid, perfectly spread ECMP: a flow split evenly over m equal
links loads each with 1/m of its rate, so "the flows' rates sum to at most m c" is the
constraint of every member. Inside one node traffic goes over NVLink and crosses no link.

- ``leaf_spine`` (:class:`LeafSpine`): a node's NIC to its rack's leaf, the leaf's uplinks
  to the spines as one bundle each way (the rack's NIC capacity over ``oversubscription``).
- ``fat_tree`` (:class:`FatTree`): a k-ary fat-tree; a rack is an edge switch, its nodes
  its hosts; bundles: each edge switch's uplinks to its pod's aggregation switches, and
  each pod's uplinks to the core.
- ``rail_optimized`` (:class:`RailOptimized`): GPU i of every node has its own NIC, on rail
  switch i of its rail group; rail switches reach each other through spines.
- ``custom`` (:class:`Custom`): a graph from a file; routes are shortest paths, a hop's
  traffic split evenly over all of them (links with fractional weights).

Failures (:class:`FabricHealth`): each fabric also numbers its physical links and switches
(the ``link`` and ``switch`` component kinds). A failed physical link or switch removes its
members from the bundles they belong to (traffic reroutes over the rest, which with bundles is
the capacity reduction); a failure that cuts hosts off (a node's only NIC link, a leaf or edge
switch, a GPU's NIC or rail switch on a rail-optimized fabric) takes those hosts down instead
(:meth:`Fabric.takes_down`), as the failure of a node, rack or GPU does.

:class:`Fabric` puts the sites' fabrics side by side (link ids site after site; a job never
crosses sites); with one site its ids are the site's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from dcsim.core.errors import MissingFileError, TraceError
from dcsim.infra.components import GPU, LINK, NODE, RACK, SWITCH
from dcsim.infra.fabric import hops

if TYPE_CHECKING:
    import networkx as nx

    from dcsim.infra.spec import Network
    from dcsim.infra.topology import Topology

#: Names of the link tiers, by code: a host's NIC link; the first tier of switch-to-switch links
#: (leaf, edge or rail switch uplinks; a custom graph's switch-to-switch links); a fat-tree's
#: aggregation-to-core links.
TIERS = ("nic", "uplink", "core")
NIC, UPLINK, CORE = 0, 1, 2
LEAF_PORTS = 64
"""Ports of a leaf (ToR) switch facing the spines, for the default spine count."""
RAIL_GROUP = 32
"""Nodes of a rail group by default: a 64-port rail switch with half its ports facing the GPUs."""

Route = tuple[list[int] | dict[int, float], int, float, float]
"""What :meth:`Fabric.links` returns: links (a list with repeats, or weights), hops, bytes factor, phases."""


def default_spines(n_racks: int) -> int:
    """Spine switches of a site by default: enough for leaves of :data:`LEAF_PORTS` uplink ports."""
    return max(1, -(-n_racks // LEAF_PORTS))


def fat_tree_k(racks: int, nodes_per_rack: int) -> int:
    """The smallest even k whose fat-tree holds ``racks`` edge switches of ``nodes_per_rack`` hosts.

    A k-ary fat-tree has k pods of k/2 edge switches, each with k/2 host ports: k/2 >= the
    nodes of a rack and k^2/2 >= the racks.
    """
    k = max(2, 2 * nodes_per_rack, 2 * math.ceil(math.sqrt(racks / 2)))
    while k * k // 2 < racks:
        k += 1
    return k + k % 2


class _Site:
    """One site's fabric, link ids and element ids counted from 0 (the composite adds offsets).

    Subclasses fill ``capacities`` and ``tiers`` (one entry per link), ``n_links`` and
    ``n_switches`` (physical elements), ``interrupts`` (the tree kind whose every unit one
    element of each kind cuts off, for failure rates), and implement :meth:`route`,
    :meth:`takes_down` and :meth:`members`.

    Args:
        topology: the layout.
        site: the site's index.
    """

    #: Whether a flow's links come as weights (a mapping) rather than a list with repeats.
    weighted = False
    #: Whether a failure or repair changed the routes since the engine last routed again (custom only).
    rerouted = False

    def __init__(self, topology: Topology, site: int, base_dir: str = ".") -> None:
        nodes = topology.site_nodes[site]
        self.n0, self.n_nodes = nodes[0], len(nodes)
        racks = [r for r, s in enumerate(topology.rack_site) if s == site]
        self.r0, self.n_racks = racks[0], len(racks)
        self.net: Network = topology.datacenter.sites[site].network  # type: ignore[union-attr]
        self.node_gpus = topology.node_gpus[self.n0 : self.n0 + self.n_nodes]
        self.capacities = np.zeros(0)
        self.tiers = np.zeros(0, dtype=np.int8)
        self.n_links = self.n_switches = 0
        self.interrupts: dict[int, int] = {}
        # Member (physical link) -> the links (bundles) it is part of; bundle -> its members' count.
        self._bundles_of: Any = None
        self.members_in: np.ndarray = np.zeros(0)

    def route(self, pattern: str, nodes: Sequence[int], gpus: Sequence[int] | None) -> Route:
        """Links of one flow of a job on local ``nodes`` (``gpus`` held on each): see :meth:`Fabric.links`."""
        raise NotImplementedError

    def takes_down(self, kind: int, unit: int) -> list[tuple[int, int]]:
        """The tree units (kind, global id) a failed element cuts off from the fabric (none: capacity only)."""
        raise NotImplementedError

    def members(self, kind: int, unit: int) -> Sequence[int]:
        """The physical links (members of bundles) that a failed element takes out."""
        raise NotImplementedError

    def bundles_of(self, member: int) -> tuple[int, ...]:
        """The links (bundles, local ids) a physical link is a member of."""
        raise NotImplementedError

    def uplinks(self, rack: int) -> tuple[int, ...]:
        """The links (local ids) a local rack's traffic to other racks crosses first, each way."""
        raise NotImplementedError

    def label(self, link: int) -> str:
        """A local link in words, with global node and rack ids."""
        raise NotImplementedError

    def _nic(self, link: int) -> str:
        """A NIC link in words (node n's NIC, link 2n up and 2n+1 down)."""
        node = self.n0 + link // 2
        return f"NIC {_way(link)}, node {node} (rack {self.r0 + self.node_rack[link // 2]})"

    def member_changed(self, member: int, out: bool) -> None:
        """A physical link went out of (``out``) or back into its bundles (a custom fabric routes again)."""

    def claim(self, links: Sequence[int]) -> None:
        """A flow over ``links`` started (a rail-optimized fabric spreads jobs over its rails)."""

    def release(self, links: Sequence[int]) -> None:
        """A flow over ``links`` ended."""


class LeafSpine(_Site):
    """A leaf-spine site: each node's NIC to its rack's leaf, each leaf's uplinks as one bundle each way.

    The bundle's capacity is the rack's NIC capacity over the oversubscription (ECMP spreading
    flows evenly over its ``spines`` physical uplinks, one per spine). A hop between two nodes
    of one rack crosses the sender's NIC up and the receiver's down; between racks also the
    sender's leaf up and the receiver's leaf down.

    Link ids: node n's NIC up 2n and down 2n+1; rack r's uplinks up 2N+2r and down 2N+2r+1
    (N nodes). Physical links: node n's NIC n, rack r's uplink to spine s N + r x spines + s.
    Switches: leaf r, spine s at R + s (R racks).
    """

    def __init__(self, topology: Topology, site: int, base_dir: str = ".") -> None:
        super().__init__(topology, site)
        n, r0, net = self.n_nodes, self.r0, self.net
        self.node_rack = [topology.node_rack[self.n0 + i] - r0 for i in range(n)]
        self.rack_nodes = [tuple(m - self.n0 for m in topology.rack_nodes[r0 + r]) for r in range(self.n_racks)]
        self.spines = net.spines or default_spines(self.n_racks)
        nic = [net.nic] * n
        caps = np.zeros(2 * n + 2 * self.n_racks)
        caps[0 : 2 * n : 2] = nic
        caps[1 : 2 * n : 2] = nic
        for r, members in enumerate(self.rack_nodes):
            bundle = sum(nic[m] for m in members) / net.oversubscription
            caps[2 * n + 2 * r] = caps[2 * n + 2 * r + 1] = bundle
        self.capacities = caps
        self.tiers = np.where(np.arange(caps.size) < 2 * n, NIC, UPLINK).astype(np.int8)
        self.n_links = n + self.n_racks * self.spines
        self.n_switches = self.n_racks + self.spines
        self.interrupts = {LINK: NODE, SWITCH: RACK}
        self.members_in = np.where(self.tiers == UPLINK, self.spines, 0)

    def route(self, pattern: str, nodes: Sequence[int], gpus: Sequence[int] | None) -> Route:
        """The links of one aggregated flow (see :meth:`Fabric.links`), local ids."""
        pairs, factor, phases = hops(pattern, len(nodes))
        rack, base = self.node_rack, 2 * self.n_nodes
        out: list[int] = []
        for a, b in pairs:
            na, nb = nodes[a], nodes[b]
            out += (2 * na, 2 * nb + 1)
            if rack[na] != rack[nb]:
                out += (base + 2 * rack[na], base + 2 * rack[nb] + 1)
        return out, len(pairs), factor, phases

    def uplinks(self, rack: int) -> tuple[int, ...]:
        """A rack's leaf uplink bundle, up and down."""
        base = 2 * self.n_nodes + 2 * rack
        return base, base + 1

    def label(self, link: int) -> str:
        """``NIC up, node 3 (rack 1)`` or ``uplinks down, rack 2``."""
        if link < 2 * self.n_nodes:
            return self._nic(link)
        return f"uplinks {_way(link)}, rack {self.r0 + (link - 2 * self.n_nodes) // 2}"

    def takes_down(self, kind: int, unit: int) -> list[tuple[int, int]]:
        """The tree units a failed element cuts off (see :meth:`_Site.takes_down`)."""
        if kind == LINK and unit < self.n_nodes:
            return [(NODE, self.n0 + unit)]  # a node's only NIC: the node is off the fabric
        if kind == SWITCH and unit < self.n_racks:
            return [(RACK, self.r0 + unit)]  # a leaf (ToR): its rack is off the fabric
        return []

    def members(self, kind: int, unit: int) -> Sequence[int]:
        """The physical links a failed element takes out of their bundles."""
        n, s = self.n_nodes, self.spines
        if kind == LINK:
            return (unit,) if unit >= n else ()
        if unit < self.n_racks:  # a leaf: its uplinks (its rack is down too)
            return range(n + unit * s, n + (unit + 1) * s)
        spine = unit - self.n_racks
        return range(n + spine, n + self.n_racks * s, s)

    def bundles_of(self, member: int) -> tuple[int, ...]:
        """The two bundles (up, down) a physical link is a member of, local ids."""
        r = (member - self.n_nodes) // self.spines
        up = 2 * self.n_nodes + 2 * r
        return (up, up + 1)


class FatTree(_Site):
    """A k-ary fat-tree site: k pods of k/2 edge and k/2 aggregation switches, (k/2)^2 core switches.

    Racks fill edge switches in order (rack r: pod r // (k/2)); a rack's nodes are its edge
    switch's hosts (at most k/2). Pods are built as racks need them. Each edge switch links
    to every aggregation switch of its pod (k/2 uplinks: one bundle each way, of its rack's NIC
    capacity over ``oversubscription``); aggregation switch j of a pod links to cores
    j k/2 .. j k/2 + k/2 - 1 (the pod's (k/2)^2 core links: one bundle each way, of the pod's
    edge uplink capacity over ``core_oversubscription``). A hop inside a rack crosses the two
    NICs; inside a pod also the two edge bundles; across pods also the two pods' core bundles.

    Link ids: NICs 2n, 2n+1; edge bundles 2N+2r, +1; pod core bundles 2N+2R+2p, +1.
    Physical links: NICs n; edge r to aggregation j N + r k/2 + j; aggregation j of pod p to
    core j k/2 + m N + R k/2 + p (k/2)^2 + j k/2 + m. Switches: edges r; aggregation j of pod p
    R + p k/2 + j; cores R + P k/2 + c (P pods).
    """

    def __init__(self, topology: Topology, site: int, base_dir: str = ".") -> None:
        super().__init__(topology, site)
        n, r0, net = self.n_nodes, self.r0, self.net
        rack_nodes = [topology.rack_nodes[r0 + r] for r in range(self.n_racks)]
        self.k = net.k or fat_tree_k(self.n_racks, max(len(m) for m in rack_nodes))
        half = self.half = self.k // 2
        self.pods = -(-self.n_racks // half)
        self.node_rack = [topology.node_rack[self.n0 + i] - r0 for i in range(n)]
        caps = np.zeros(2 * n + 2 * self.n_racks + 2 * self.pods)
        caps[0 : 2 * n] = net.nic
        edge = [len(m) * net.nic / net.oversubscription for m in rack_nodes]
        pod = [0.0] * self.pods
        for r, c in enumerate(edge):
            caps[2 * n + 2 * r] = caps[2 * n + 2 * r + 1] = c
            pod[r // half] += c
        core = net.core_oversubscription or 1.0
        for p, c in enumerate(pod):
            caps[2 * n + 2 * self.n_racks + 2 * p] = caps[2 * n + 2 * self.n_racks + 2 * p + 1] = c / core
        self.capacities = caps
        ids = np.arange(caps.size)
        self.tiers = np.select([ids < 2 * n, ids < 2 * n + 2 * self.n_racks], [NIC, UPLINK], CORE).astype(np.int8)
        self.n_links = n + self.n_racks * half + self.pods * half * half
        self.n_switches = self.n_racks + self.pods * half + half * half
        self.interrupts = {LINK: NODE, SWITCH: RACK}
        self.members_in = np.select([self.tiers == UPLINK, self.tiers == CORE], [half, half * half], 0)

    def route(self, pattern: str, nodes: Sequence[int], gpus: Sequence[int] | None) -> Route:
        """The links of one aggregated flow (see :meth:`Fabric.links`), local ids."""
        pairs, factor, phases = hops(pattern, len(nodes))
        rack, half = self.node_rack, self.half
        edge, core = 2 * self.n_nodes, 2 * self.n_nodes + 2 * self.n_racks
        out: list[int] = []
        for a, b in pairs:
            na, nb = nodes[a], nodes[b]
            out += (2 * na, 2 * nb + 1)
            ra, rb = rack[na], rack[nb]
            if ra != rb:
                out += (edge + 2 * ra, edge + 2 * rb + 1)
                pa, pb = ra // half, rb // half
                if pa != pb:
                    out += (core + 2 * pa, core + 2 * pb + 1)
        return out, len(pairs), factor, phases

    def uplinks(self, rack: int) -> tuple[int, ...]:
        """A rack's edge switch uplink bundle, up and down."""
        base = 2 * self.n_nodes + 2 * rack
        return base, base + 1

    def label(self, link: int) -> str:
        """``NIC up, node 3 (rack 1)``, ``edge uplinks down, rack 2`` or ``core uplinks up, pod 1``."""
        n, racks = self.n_nodes, self.n_racks
        if link < 2 * n:
            return self._nic(link)
        if link < 2 * n + 2 * racks:
            return f"edge uplinks {_way(link)}, rack {self.r0 + (link - 2 * n) // 2}"
        return f"core uplinks {_way(link)}, pod {(link - 2 * n - 2 * racks) // 2}"

    def takes_down(self, kind: int, unit: int) -> list[tuple[int, int]]:
        """The tree units a failed element cuts off (see :meth:`_Site.takes_down`)."""
        if kind == LINK and unit < self.n_nodes:
            return [(NODE, self.n0 + unit)]
        if kind == SWITCH and unit < self.n_racks:
            return [(RACK, self.r0 + unit)]  # an edge switch: its rack's hosts are off the fabric
        return []

    def members(self, kind: int, unit: int) -> Sequence[int]:
        """The physical links a failed element takes out of their bundles."""
        n, racks, half = self.n_nodes, self.n_racks, self.half
        edge_links, core_links = n, n + racks * half
        if kind == LINK:
            return (unit,) if unit >= n else ()
        if unit < racks:  # an edge switch: its uplinks
            return range(edge_links + unit * half, edge_links + (unit + 1) * half)
        unit -= racks
        if unit < self.pods * half:  # aggregation j of pod p: its edge links and its core links
            p, j = divmod(unit, half)
            mine = [edge_links + r * half + j for r in range(p * half, min((p + 1) * half, racks))]
            return mine + list(
                range(core_links + p * half * half + j * half, core_links + p * half * half + (j + 1) * half)
            )
        c = unit - self.pods * half  # core c: aggregation c // (k/2) of every pod
        return [core_links + p * half * half + c for p in range(self.pods)]

    def bundles_of(self, member: int) -> tuple[int, ...]:
        """The two bundles (up, down) a physical link is a member of, local ids."""
        n, racks, half = self.n_nodes, self.n_racks, self.half
        if member < n + racks * half:
            up = 2 * n + 2 * ((member - n) // half)
        else:
            up = 2 * n + 2 * racks + 2 * ((member - n - racks * half) // (half * half))
        return (up, up + 1)


class RailOptimized(_Site):
    """A rail-optimized site: GPU i of every node has its own NIC, on rail switch i of its rail group.

    Nodes form rail groups of ``rail_group`` in node order; rail switch (g, i) links GPU i of
    each node of group g (``nic`` is each GPU's NIC here), and to every spine: its uplinks are
    one bundle each way, of its NICs' capacity over ``oversubscription``. A job's hop between
    two nodes runs on the rails of the GPUs it holds, in parallel (NCCL's rail-aligned
    channels): R channels (R: the fewest GPUs the job holds on a node), each carrying 1/R of
    the hop's bytes, channel c from the sender's rail c NIC to the receiver's; inside a rail
    group it crosses no uplink, between groups the two rail switches' bundles. Which rails:
    the R least used by running jobs over the job's nodes (lowest index first), so two jobs
    sharing a node use different NICs, as their GPUs are different.

    Link ids: GPU g's NIC up 2g, down 2g+1 (GPU ids node by node); rail switch w's bundles
    2G+2w, +1 (G GPUs; rail switches numbered group by group, rail by rail). Physical links:
    GPU g's NIC g; rail switch w to spine s G + w x spines + s. Switches: rail switches w,
    spines W + s.
    """

    def __init__(self, topology: Topology, site: int, base_dir: str = ".") -> None:
        super().__init__(topology, site)
        n, net = self.n_nodes, self.net
        self.group = net.rail_group or RAIL_GROUP
        self.offset = np.concatenate([[0], np.cumsum(self.node_gpus)]).astype(int).tolist()
        self.g0 = topology.gpu_offsets()[self.n0] if n else 0
        gpus = self.offset[-1]
        groups = -(-n // self.group)
        self.switch_of: dict[tuple[int, int], int] = {}
        members: list[int] = []
        for g in range(groups):
            nodes = range(g * self.group, min((g + 1) * self.group, n))
            for i in range(max(self.node_gpus[m] for m in nodes)):
                self.switch_of[(g, i)] = len(members)
                members.append(sum(1 for m in nodes if self.node_gpus[m] > i))
        self.rails = list(self.switch_of)  # (group, rail) of each rail switch
        self.node_rack = [topology.node_rack[self.n0 + i] - self.r0 for i in range(n)]
        self.n_rail = len(members)
        self.spines = net.spines or default_spines(self.n_rail)
        caps = np.zeros(2 * gpus + 2 * self.n_rail)
        caps[0 : 2 * gpus] = net.nic
        for w, m in enumerate(members):
            caps[2 * gpus + 2 * w] = caps[2 * gpus + 2 * w + 1] = m * net.nic / net.oversubscription
        self.capacities = caps
        self.tiers = np.where(np.arange(caps.size) < 2 * gpus, NIC, UPLINK).astype(np.int8)
        self.gpus = gpus
        self.n_links = gpus + self.n_rail * self.spines
        self.n_switches = self.n_rail + self.spines
        self.interrupts = {LINK: GPU, SWITCH: GPU}
        self.members_in = np.where(self.tiers == UPLINK, self.spines, 0)
        self.users = np.zeros(gpus, dtype=np.int64)  # running flows on each GPU's NIC

    def route(self, pattern: str, nodes: Sequence[int], gpus: Sequence[int] | None) -> Route:
        """The links of one aggregated flow (see :meth:`Fabric.links`), local ids."""
        pairs, factor, phases = hops(pattern, len(nodes))
        held = [self.node_gpus[m] for m in nodes] if gpus is None else list(gpus)
        channels = max(1, min(held))
        off, users = self.offset, self.users
        rails = min(self.node_gpus[m] for m in nodes)
        if channels >= rails:  # whole nodes (the usual multi-node job): every rail
            chosen: Sequence[int] = range(rails)
        else:
            load = [sum(int(users[off[m] + i]) for m in nodes) for i in range(rails)]
            chosen = sorted(sorted(range(rails), key=lambda i: (load[i], i))[:channels])
        base, group = 2 * self.gpus, self.group
        out: list[int] = []
        for a, b in pairs:
            na, nb = nodes[a], nodes[b]
            ga, gb = na // group, nb // group
            for i in chosen:
                out += (2 * (off[na] + i), 2 * (off[nb] + i) + 1)
                if ga != gb:
                    out += (base + 2 * self.switch_of[(ga, i)], base + 2 * self.switch_of[(gb, i)] + 1)
        return out, len(pairs) * channels, factor / channels, phases

    def uplinks(self, rack: int) -> tuple[int, ...]:
        """The uplink bundles (up, down) of every rail switch of the rail groups the rack's nodes are in."""
        nodes = [i for i, r in enumerate(self.node_rack) if r == rack]
        groups = sorted({i // self.group for i in nodes})
        base = 2 * self.gpus
        return tuple(base + 2 * w + d for w, (g, _) in enumerate(self.rails) if g in groups for d in (0, 1))

    def label(self, link: int) -> str:
        """``NIC up, GPU 2 of node 3 (rack 1)`` or ``rail 2 uplinks down, group 0``."""
        if link < 2 * self.gpus:
            gpu = link // 2
            node = int(np.searchsorted(self.offset, gpu, side="right")) - 1
            rack = self.r0 + self.node_rack[node]
            return f"NIC {_way(link)}, GPU {gpu - self.offset[node]} of node {self.n0 + node} (rack {rack})"
        g, i = self.rails[(link - 2 * self.gpus) // 2]
        return f"rail {i} uplinks {_way(link)}, group {g}"

    def claim(self, links: Sequence[int]) -> None:
        """Count the flow on the rails it sends on."""
        self._count(links, 1)

    def release(self, links: Sequence[int]) -> None:
        """Uncount the flow from its rails."""
        self._count(links, -1)

    def _count(self, links: Sequence[int], step: int) -> None:
        """Count the flow once on each GPU NIC it sends from."""
        for g in {link // 2 for link in links if link < 2 * self.gpus and link % 2 == 0}:
            self.users[g] += step

    def _gpus_on(self, w: int) -> list[tuple[int, int]]:
        g, i = self.rails[w]
        nodes = range(g * self.group, min((g + 1) * self.group, self.n_nodes))
        return [(GPU, self.g0 + self.offset[m] + i) for m in nodes if self.node_gpus[m] > i]

    def takes_down(self, kind: int, unit: int) -> list[tuple[int, int]]:
        """The tree units a failed element cuts off (see :meth:`_Site.takes_down`)."""
        if kind == LINK and unit < self.gpus:
            return [(GPU, self.g0 + unit)]  # a GPU's own NIC: that GPU is off the fabric
        if kind == SWITCH and unit < self.n_rail:
            return self._gpus_on(unit)  # a rail switch: GPU i of each node of its group
        return []

    def members(self, kind: int, unit: int) -> Sequence[int]:
        """The physical links a failed element takes out of their bundles."""
        gpus, s = self.gpus, self.spines
        if kind == LINK:
            return (unit,) if unit >= gpus else ()
        if unit < self.n_rail:
            return range(gpus + unit * s, gpus + (unit + 1) * s)
        spine = unit - self.n_rail
        return range(gpus + spine, gpus + self.n_rail * s, s)

    def bundles_of(self, member: int) -> tuple[int, ...]:
        """The two bundles (up, down) a physical link is a member of, local ids."""
        up = 2 * self.gpus + 2 * ((member - self.gpus) // self.spines)
        return (up, up + 1)


def _way(link: int) -> str:
    """A link's direction: even ids up (or out), odd ids down (or back)."""
    return "up" if link % 2 == 0 else "down"


def host_name(node: int) -> str:
    """The vertex name of dcsim node ``node`` in a custom fabric's file."""
    return f"node:{node}"


class Custom(_Site):
    """A site whose fabric is a graph read from a file (:func:`read_graph`).

    Vertices named ``node:<id>`` are the site's nodes (ids counted from 0 in scenario order,
    as in a failure trace); every other vertex is a switch. Each edge is a link each way, of
    its capacity. A hop from node a to node b follows the shortest paths between them in
    hops (through switches only), its traffic split evenly over all of them: a link carries
    the share of those paths that cross it (a fractional weight). A link touching a node is
    of tier ``nic``, any other ``uplink``.

    Failures: edge e is physical link e, and switch v the v-th switch vertex in the file's
    order. A failed edge or switch takes its links out of the graph, and every flow of the site
    is routed again over the shortest paths that are left (the engine re-adds them); a hop with
    no path left crosses the site's *cut* link, of capacity 0, until a repair joins it again. A
    node linked to one switch only is cut off (down) by the failure of its link or its switch.

    Link ids: edge e (in the file's order) 2e from its first vertex to its second, 2e+1 back;
    the cut link last (2E).
    """

    weighted = True

    def __init__(self, topology: Topology, site: int, base_dir: str = ".") -> None:
        super().__init__(topology, site)
        graph, edges = read_graph(self.net.path or "", base_dir, range(self.n0, self.n0 + self.n_nodes))
        self.graph: nx.Graph = graph
        self.edge_id: dict[tuple[Any, Any], int] = {}
        self.ends: list[tuple[Any, Any]] = [e for u, v, _ in edges for e in ((u, v), (v, u))]
        self.node_rack = [topology.node_rack[self.n0 + i] - self.r0 for i in range(self.n_nodes)]
        caps = np.zeros(2 * len(edges) + 1)
        tiers = np.full(2 * len(edges) + 1, UPLINK, dtype=np.int8)
        for e, (u, v, c) in enumerate(edges):
            self.edge_id[(u, v)], self.edge_id[(v, u)] = 2 * e, 2 * e + 1
            caps[2 * e] = caps[2 * e + 1] = c
            host = graph.nodes[u].get("host") is not None or graph.nodes[v].get("host") is not None
            tiers[2 * e] = tiers[2 * e + 1] = NIC if host else UPLINK
        self.capacities, self.tiers = caps, tiers
        self.cut = 2 * len(edges)
        self._paths: dict[tuple[int, int, bool], dict[int, float]] = {}
        self.switches = [v for v in graph.nodes if graph.nodes[v].get("host") is None]
        self.n_links, self.n_switches = len(edges), len(self.switches)
        self.members_in = np.ones(caps.size, dtype=np.int64)
        self._edges = [(u, v) for u, v, _ in edges]
        self._out: set[Any] = set()  # edges (as vertex pairs) out of the graph now

    def takes_down(self, kind: int, unit: int) -> list[tuple[int, int]]:
        """The nodes linked only through this edge or this switch."""
        graph = self.graph
        if kind == LINK:
            ends = self._edges[unit]
            hosts = [x for x in ends if graph.nodes[x].get("host") is not None and graph.degree(x) == 1]
        else:
            v = self.switches[unit]
            hosts = [x for x in graph.neighbors(v) if graph.nodes[x].get("host") is not None and graph.degree(x) == 1]
        return [(NODE, graph.nodes[x]["host"]) for x in hosts]

    def members(self, kind: int, unit: int) -> Sequence[int]:
        """An edge itself, or a switch's edges."""
        if kind == LINK:
            return (unit,)
        v = self.switches[unit]
        return sorted(self.edge_id[(v, x)] // 2 for x in self.graph.neighbors(v))

    def bundles_of(self, member: int) -> tuple[int, ...]:
        """Edge e's two links."""
        return (2 * member, 2 * member + 1)

    def member_changed(self, member: int, out: bool) -> None:
        """Edge ``member`` left (``out``) or rejoined the graph: routes are computed again."""
        u, v = self._edges[member]
        (self._out.add if out else self._out.discard)(frozenset((u, v)))
        self._paths = {key: found for key, found in self._paths.items() if key[2]}
        self.rerouted = True

    def hop(self, a: int, b: int, intact: bool = False) -> dict[int, float]:
        """Each link's share of a hop from local node a to b: the share of the shortest paths crossing it.

        ``intact``: on the graph as the file gives it, whatever is down now.
        """
        key = (a, b, intact)
        found = self._paths.get(key)
        if found is None:
            import networkx as nx

            ends = {host_name(self.n0 + a), host_name(self.n0 + b)}
            graph, out = self.graph, (set() if intact else self._out)
            transit = nx.subgraph_view(
                graph,
                filter_node=lambda v: v in ends or graph.nodes[v].get("host") is None,
                filter_edge=(lambda u, v: frozenset((u, v)) not in out) if out else nx.filters.no_filter,
            )
            try:
                paths = list(nx.all_shortest_paths(transit, host_name(self.n0 + a), host_name(self.n0 + b)))
            except nx.NetworkXNoPath:
                self._paths[key] = found = {self.cut: 1.0}  # cut off until a repair: rate 0
                return found
            found = {}
            for path in paths:
                for u, v in pairwise(path):
                    link = self.edge_id[(u, v)]
                    found[link] = found.get(link, 0.0) + 1.0
            found = {link: count / len(paths) for link, count in found.items()}
            self._paths[key] = found
        return found

    def uplinks(self, rack: int) -> tuple[int, ...]:
        """The switch-to-switch links out of and into the switches the rack's nodes are linked to."""
        graph = self.graph
        hosts = [host_name(self.n0 + i) for i, r in enumerate(self.node_rack) if r == rack]
        first = {v for h in hosts for v in graph.neighbors(h)}
        out = []
        for u in sorted(first, key=str):
            for v in graph.neighbors(u):
                if graph.nodes[v].get("host") is None:
                    out += (self.edge_id[(u, v)], self.edge_id[(v, u)])
        return tuple(sorted(set(out)))

    def label(self, link: int) -> str:
        """``s1 -> s2``, as the file names the vertices."""
        if link == self.cut:
            return "no path left (cut off)"
        u, v = self.ends[link]
        return f"{u} -> {v}"

    def route(self, pattern: str, nodes: Sequence[int], gpus: Sequence[int] | None, intact: bool = False) -> Route:
        """The links of one flow (see :meth:`Fabric.links`), local ids; ``intact``: as if nothing were down."""
        pairs, factor, phases = hops(pattern, len(nodes))
        out: dict[int, float] = {}
        for a, b in pairs:
            for link, w in self.hop(nodes[a], nodes[b], intact).items():
                out[link] = out.get(link, 0.0) + w
        return out, len(pairs), factor, phases


def read_graph(path: str, base_dir: str, nodes: Sequence[int]) -> tuple[nx.Graph, list[tuple[Any, Any, float]]]:
    """Read a custom fabric: a GraphML file (``.graphml``), else an edge list.

    An edge list has one link a line, ``a b capacity`` (whitespace or commas between;
    ``#`` starts a comment); in GraphML each edge has a ``capacity`` attribute. A capacity is
    a bandwidth with its unit (``400Gbps``, ``50GB/s``) or a number of bits/s. Vertices named
    ``node:<id>`` are hosts: exactly the site's ``nodes``, each linked to at least one switch.

    Returns:
        The graph (hosts marked with a ``host`` attribute, their dcsim node id) and its
        edges as (a, b, capacity bits/s), in the file's order.

    Raises:
        MissingFileError: no such file.
        TraceError: a bad line, a missing or bad capacity, a repeated edge, hosts that do not
            match the site's nodes, or two hosts that no path joins; the message names the file.
    """
    import networkx as nx

    from dcsim.core import units
    from dcsim.workload.distributions import resolve

    full = resolve(base_dir, path)
    if not os.path.exists(full):
        raise MissingFileError(f"{full}: file not found; check the path (relative to the scenario file)")
    raw: list[tuple[Any, Any, Any, str]] = []
    if full.lower().endswith((".graphml", ".xml")):
        try:
            g = nx.read_graphml(full)
        except Exception as exc:  # networkx raises several kinds on malformed XML
            raise TraceError(f"{full}: not a readable GraphML file ({str(exc).splitlines()[0][:120]})") from None
        raw = [(str(u), str(v), d.get("capacity"), f"edge {u}-{v}") for u, v, d in g.edges(data=True)]
        if isinstance(g, nx.MultiGraph):
            raise TraceError(f"{full}: parallel edges; give one edge per pair of vertices with their summed capacity")
    else:
        with open(full, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                text = line.split("#", 1)[0].replace(",", " ").split()
                if not text:
                    continue
                if len(text) != 3:
                    raise TraceError(f"{full} line {number}: expected `a b capacity`, got {line.strip()[:80]!r}")
                raw.append((text[0], text[1], text[2], f"line {number}"))
    graph = nx.Graph()
    edges: list[tuple[Any, Any, float]] = []
    for u, v, cap, where in raw:
        if cap is None:
            raise TraceError(f"{full} {where}: no capacity; give each link its bandwidth, e.g. 400Gbps")
        try:
            c = units.bandwidth(cap if isinstance(cap, str) else float(cap))
        except (ValueError, TypeError):
            raise TraceError(f"{full} {where}: capacity {cap!r} is not a bandwidth such as 400Gbps") from None
        if not (math.isfinite(c) and c > 0):
            raise TraceError(f"{full} {where}: capacity {cap!r} must be > 0")
        if u == v:
            raise TraceError(f"{full} {where}: a link from {u} to itself")
        if graph.has_edge(u, v):
            raise TraceError(f"{full} {where}: {u}-{v} is given twice; give one link with the summed capacity")
        graph.add_edge(u, v)
        edges.append((u, v, c))
    wanted = {host_name(n): n for n in nodes}
    hosts = [v for v in graph.nodes if str(v).startswith("node:")]
    unknown = sorted(set(hosts) - set(wanted))
    missing = [name for name in wanted if name not in graph]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"no vertex for {_few(missing)}")
        if unknown:
            parts.append(f"{_few(unknown)} {'is' if len(unknown) == 1 else 'are'} not a node of the site")
        raise TraceError(
            f"{full}: {'; '.join(parts)}: the site has {len(wanted)} nodes, node:{nodes[0]} .. node:{nodes[-1]} "
            "(ids from 0 in scenario order); name each node's vertex node:<id>"
        )
    for name, n in wanted.items():
        graph.nodes[name]["host"] = n
        if not any(graph.nodes[x].get("host") is None for x in graph.neighbors(name)):
            raise TraceError(f"{full}: {name} is linked to no switch; link each node to a switch")
    switches = graph.subgraph([v for v in graph.nodes if graph.nodes[v].get("host") is None])
    reached = {frozenset(c) for c in nx.connected_components(switches)}
    if len(reached) > 1 and len(wanted) > 1:
        raise TraceError(f"{full}: the switches form {len(reached)} separate parts; every node must reach every other")
    return graph, edges


def _few(names: Sequence[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


KINDS_OF_FABRIC: dict[str, type[_Site]] = {
    "leaf_spine": LeafSpine, "fat_tree": FatTree, "rail_optimized": RailOptimized, "custom": Custom,
}  # fmt: skip


class Fabric:
    """The sites' fabrics side by side: the links, tiers and routes the network shares, bits/s.

    Link ids, physical links and switches are numbered site after site (with one site, as
    that site numbers them). A job runs inside one site: its flow's links are its site's.

    Args:
        topology: the layout (its ``datacenter`` block gives each site's ``network``).
        base_dir: the scenario file's folder (a custom fabric's file is relative to it).

    Raises:
        MissingFileError, TraceError: a custom fabric's file is missing or wrong (see :func:`read_graph`).
    """

    TIERS = TIERS

    def __init__(self, topology: Topology, base_dir: str = ".") -> None:
        sites = topology.datacenter.sites  # type: ignore[union-attr]
        self.sites = [KINDS_OF_FABRIC[s.network.topology](topology, i, base_dir) for i, s in enumerate(sites)]
        self.node_site = topology.node_site
        self.rack_site = topology.rack_site
        self.link0 = np.concatenate([[0], np.cumsum([s.capacities.size for s in self.sites])]).astype(int).tolist()
        self.element0 = {
            LINK: np.concatenate([[0], np.cumsum([s.n_links for s in self.sites])]).astype(int).tolist(),
            SWITCH: np.concatenate([[0], np.cumsum([s.n_switches for s in self.sites])]).astype(int).tolist(),
        }
        #: Capacity of every link, bits/s, by link id.
        self.capacities = np.concatenate([s.capacities for s in self.sites])
        #: Tier code of every link (see :data:`TIERS`).
        self.tiers = np.concatenate([s.tiers for s in self.sites]).astype(np.int8)
        self.weighted = any(s.weighted for s in self.sites)
        self._tier_list = self.tiers.tolist()
        #: Whether a site spreads jobs over its rails (its flows are claimed and released).
        self.spreads = any(isinstance(s, RailOptimized) for s in self.sites)

    def tier(self, link: int) -> int:
        """The tier code of a link (see :data:`TIERS`)."""
        return int(self.tiers[link])

    def links(self, pattern: str, nodes: Sequence[int], gpus: Sequence[int] | None = None) -> Route:
        """The links one aggregated flow of a job crosses; its hops; bytes per hop over S; its phases.

        A link is listed once per hop that crosses it (a flow crossing it twice uses it
        twice), or, on a custom fabric, given a weight: the hops' shares of it.

        Args:
            pattern: the communication pattern.
            nodes: the job's nodes, in placement order.
            gpus: GPUs the job holds on each (a rail-optimized fabric runs a hop on as many rails).
        """
        s = self.node_site[nodes[0]]
        site = self.sites[s]
        links, n_hops, factor, phases = site.route(pattern, [n - site.n0 for n in nodes] if s else nodes, gpus)
        base = self.link0[s]
        if base:
            links = {base + k: w for k, w in links.items()} if isinstance(links, dict) else [base + k for k in links]
        return links, n_hops, factor, phases

    def nominal(self, pattern: str, nodes: Sequence[int], links: Sequence[int] | Mapping[int, float]) -> float:
        """:meth:`nominal_share` of a job's flow over ``links``, on the fabric as built (nothing down).

        Failures never change the NICs of a bundled fabric; a custom fabric routes the job as
        if nothing were down (the class's duration is measured on the intact fabric).
        """
        if not self.weighted:
            return self.nominal_share(links)
        s = self.node_site[nodes[0]]
        site = self.sites[s]
        if isinstance(site, Custom):
            local, _, _, _ = site.route(pattern, [n - site.n0 for n in nodes], None, intact=True)
            links = {self.link0[s] + k: w for k, w in local.items()}  # type: ignore[union-attr]
        return self.nominal_share(links)

    def nominal_share(self, links: Sequence[int] | Mapping[int, float]) -> float:
        """A flow's share per hop alone on the NICs: a NIC's speed over the most hops it carries.

        The uplinks are left out: this is the nominal speed its class's duration is measured at.
        """
        counts: dict[int, float] = {}
        tiers = self._tier_list
        weights = links.items() if isinstance(links, Mapping) else ((link, 1) for link in links)
        for link, w in weights:
            if tiers[link] == NIC:
                counts[link] = counts.get(link, 0) + w
        caps = self.capacities
        # A Python float: a numpy scalar here would make every rate, run end and event time
        # downstream a numpy scalar (the same values, at several times the cost per operation).
        return float(min(caps[link] / n for link, n in counts.items()))

    def uplinks(self, rack: int) -> tuple[int, ...]:
        """The links a rack's traffic to other racks crosses first (its leaf's or edge switch's uplinks), each way."""
        s = self.rack_site[rack]
        site = self.sites[s]
        return tuple(self.link0[s] + k for k in site.uplinks(rack - site.r0))

    def label(self, link: int) -> str:
        """A link in words: ``NIC up, node 3 (rack 1)``, ``uplinks down, rack 2``, ..."""
        s = self._site_of_link(link)
        return self.sites[s].label(link - self.link0[s])

    def rerouted(self) -> set[int]:
        """The sites whose routes a failure or repair changed since the last call (a custom fabric's)."""
        out = set()
        for s, site in enumerate(self.sites):
            if site.rerouted:
                site.rerouted = False
                out.add(s)
        return out

    def _site_of_link(self, link: int) -> int:
        return int(np.searchsorted(self.link0, link, side="right")) - 1

    def claim(self, links: Sequence[int]) -> None:
        """A flow over ``links`` started (a rail-optimized fabric spreads the next jobs over other rails)."""
        if self.spreads and len(links):
            s = self._site_of_link(int(links[0]))
            base = self.link0[s]
            self.sites[s].claim([int(k) - base for k in links])

    def release(self, links: Sequence[int]) -> None:
        """A flow over ``links`` ended."""
        if self.spreads and len(links):
            s = self._site_of_link(int(links[0]))
            base = self.link0[s]
            self.sites[s].release([int(k) - base for k in links])

    # ------------------------------------------------------------------ physical elements (failures)
    def count(self, kind: int) -> int:
        """Physical links (``LINK``) or switches (``SWITCH``) of all sites."""
        return self.element0[kind][-1]

    def locate(self, kind: int, unit: int) -> tuple[int, int]:
        """(site index, the element's id inside its site) of a physical link or switch."""
        starts = self.element0[kind]
        s = int(np.searchsorted(starts, unit, side="right")) - 1
        return s, unit - starts[s]

    def site_units(self, kind: int) -> Sequence[int]:
        """The site of each physical link or switch, by id (a sequence computed on access: millions of links)."""
        return _SiteOf(self.element0[kind])

    def takes_down(self, kind: int, unit: int) -> list[tuple[int, int]]:
        """The tree units (kind code, id) a failed physical link or switch cuts off (none: capacity only)."""
        s, local = self.locate(kind, unit)
        return self.sites[s].takes_down(kind, local)

    def interrupts(self, site: int) -> dict[int, int]:
        """Per fabric kind, the tree kind each of whose units one element of it cuts off (for failure rates)."""
        return self.sites[site].interrupts


class _SiteOf(Sequence[int]):
    """The site of each element, from the first id of each site's elements (``starts``, one more at the end)."""

    def __init__(self, starts: list[int]) -> None:
        self.starts = starts

    def __len__(self) -> int:
        return self.starts[-1]

    def __getitem__(self, unit: int) -> int:  # type: ignore[override]
        if not 0 <= unit < self.starts[-1]:
            raise IndexError(unit)
        return int(np.searchsorted(self.starts, unit, side="right")) - 1


class FabricHealth:
    """Which physical links and switches are down, and the capacity of every bundle they leave.

    A physical link is out while it, or a switch it hangs off, is down; a bundle's capacity
    is its nominal capacity times the share of its members that are in (members are equal).

    Args:
        fabric: the fabric.
    """

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        self._members = np.concatenate([x.members_in for x in fabric.sites])
        self._out: dict[tuple[int, int], int] = {}  # (site, member) -> failed elements covering it
        self._lost = np.zeros(fabric.capacities.size, dtype=np.int64)  # members out, by link (bundle)

    def change(self, kind: int, unit: int, step: int) -> dict[int, float]:
        """A physical link or switch fails (``step`` 1) or comes back (-1); return the bundles' new capacities."""
        fabric = self.fabric
        s, local = fabric.locate(kind, unit)
        site = fabric.sites[s]
        base = fabric.link0[s]
        moved: dict[int, None] = {}
        for member in site.members(kind, local):
            key = (s, member)
            before = self._out.get(key, 0)
            after = before + step
            if after:
                self._out[key] = after
            else:
                self._out.pop(key, None)
            if (before == 0) != (after == 0):
                site.member_changed(member, after > 0)
                for bundle in site.bundles_of(member):
                    self._lost[base + bundle] += step
                    moved[base + bundle] = None
        caps, members = fabric.capacities, self._members
        return {b: float(caps[b] * (members[b] - self._lost[b]) / members[b]) for b in moved}


__all__ = [
    "CORE", "NIC", "TIERS", "UPLINK", "Custom", "Fabric", "FabricHealth", "FatTree", "LeafSpine", "RailOptimized",
    "default_spines", "fat_tree_k", "host_name", "read_graph",
]  # fmt: skip
