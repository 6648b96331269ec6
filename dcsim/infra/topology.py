"""The static shape of the data center, built once from the scenario.

Nodes are numbered 0..N-1 rack by rack, site by site. Nodes of one site with the same
GPU type, GPUs per node and power figures form a *pool*: a gang job runs inside one
pool (one GPU type, one site), on one node or on several. The fabric is a networkx
graph (leaf-spine by default); node-to-rack membership and the hop counts of each
locality class (same node, same rack, across racks) are read off that graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from dcsim.scenario.schema import Datacenter, NodeSpec

#: Busy and idle power of one GPU by type, in watts (public board-power figures;
#: idle figures are typical of nvidia-smi readings on an idle, clocked-down board).
GPU_POWER_W: dict[str, tuple[float, float]] = {
    "B200": (1000.0, 140.0),
    "H200": (700.0, 90.0),
    "H100": (700.0, 90.0),
    "A100": (400.0, 55.0),
    "L40S": (350.0, 35.0),
    "V100": (300.0, 40.0),
}
DEFAULT_GPU_POWER_W = (500.0, 60.0)
#: Memory of one GPU by type, bytes (vendor data sheets; A100 as its 80 GB model).
GPU_MEMORY_BYTES: dict[str, float] = {
    "B200": 192e9, "H200": 141e9, "H100": 80e9, "A100": 80e9, "L40S": 48e9, "V100": 32e9,
}  # fmt: skip
BASE_POWER_PER_GPU_W = 150.0

#: Locality classes of a placement.
LOCALITY_NAMES = ("node", "rack", "cross_rack")
SAME_NODE, SAME_RACK, CROSS_RACK = 0, 1, 2

LEAF_PORTS = 64  # ports of a leaf (ToR) switch facing the spines, for the default spine count


@dataclass(frozen=True, slots=True)
class Pool:
    """Nodes of one site with identical hardware; a gang job runs inside one pool.

    Attributes:
        id: pool index.
        site: site name.
        gpu_type: GPU model.
        gpus_per_node: GPUs in each node.
        nodes: node ids, ascending.
        racks: rack ids, ascending.
        gpu_power_w: power of a busy GPU, W.
        gpu_idle_power_w: power of an idle GPU, W.
        base_power_w: node power besides GPUs, W.
        gpu_memory_bytes: memory of one GPU (0 if unknown).
    """

    id: int
    site: str
    gpu_type: str
    gpus_per_node: int
    nodes: tuple[int, ...]
    racks: tuple[int, ...]
    gpu_power_w: float
    gpu_idle_power_w: float
    base_power_w: float
    gpu_memory_bytes: float = 0.0

    @property
    def gpus(self) -> int:
        """Installed GPUs in the pool."""
        return self.gpus_per_node * len(self.nodes)


def node_power(spec: NodeSpec) -> tuple[float, float, float]:
    """Return (busy GPU W, idle GPU W, base W) of a node, filling defaults by GPU type."""
    busy, idle = GPU_POWER_W.get(spec.gpu_type, DEFAULT_GPU_POWER_W)
    return (
        spec.gpu_power if spec.gpu_power is not None else busy,
        spec.gpu_idle_power if spec.gpu_idle_power is not None else idle,
        spec.base_power if spec.base_power is not None else BASE_POWER_PER_GPU_W * spec.gpus,
    )


@dataclass
class Topology:
    """Static layout: which node sits in which rack, pool and site, and the fabric graph."""

    pools: list[Pool]
    node_pool: list[int]
    node_rack: list[int]
    node_gpus: list[int]
    rack_nodes: list[tuple[int, ...]]
    rack_pool: list[int]
    site_names: list[str]
    graph: nx.Graph
    locality_hops: dict[int, int] = field(default_factory=dict)
    #: Site index of each node, read off the fabric graph.
    node_site: list[int] = field(default_factory=list)

    @property
    def site_nodes(self) -> list[tuple[int, ...]]:
        """Node ids of each site, ascending."""
        out: list[list[int]] = [[] for _ in self.site_names]
        for n, s in enumerate(self.node_site):
            out[s].append(n)
        return [tuple(x) for x in out]

    @property
    def rack_site(self) -> list[int]:
        """Site index of each rack."""
        return [self.node_site[m[0]] for m in self.rack_nodes]

    def unit_count(self, scope: str) -> int:
        """Number of units of a component class: ``gpu``, ``node``, ``rack`` or ``site``."""
        if scope == "gpu":
            return self.n_gpus
        if scope == "node":
            return len(self.node_pool)
        return len(self.rack_nodes) if scope == "rack" else len(self.site_names)

    def gpu_offsets(self) -> list[int]:
        """Global id of each node's first GPU (GPU ids are dense, node by node)."""
        out, total = [], 0
        for g in self.node_gpus:
            out.append(total)
            total += g
        return out

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_pool)

    @property
    def n_gpus(self) -> int:
        """Number of installed GPUs."""
        return sum(self.node_gpus)

    def gpu_types(self) -> list[str]:
        """GPU types present, sorted."""
        return sorted({p.gpu_type for p in self.pools})

    def allowed_pools(self, gpu_types: list[str] | None, min_gpu_memory: float | None = None) -> tuple[int, ...]:
        """Pools a job may run in: GPU type in ``gpu_types`` (any if None), enough GPU memory."""
        return tuple(
            p.id
            for p in self.pools
            if (gpu_types is None or p.gpu_type in gpu_types)
            and (min_gpu_memory is None or p.gpu_memory_bytes >= min_gpu_memory)
        )


def build_topology(dc: Datacenter) -> Topology:
    """Build pools, rack membership and the fabric graph of a data center.

    Args:
        dc: the validated ``datacenter`` block.

    Returns:
        The topology; node and rack ids are dense, in scenario order.
    """
    graph = nx.Graph()
    pool_key: dict[tuple, int] = {}
    pool_nodes: list[list[int]] = []
    pool_racks: list[list[int]] = []
    pool_meta: list[tuple[str, str, int, float, float, float, float]] = []
    node_pool: list[int] = []
    node_gpus: list[int] = []
    rack_nodes: list[tuple[int, ...]] = []
    rack_pool: list[int] = []
    node_id = rack_id = 0
    for site_index, site in enumerate(dc.sites):
        core = ("core", site.name)
        graph.add_node(core, kind="core", site=site.name)
        groups = site.groups
        n_racks = sum(g.racks for g in groups)
        spines = site.network.spines or max(1, -(-n_racks // LEAF_PORTS))
        spine_names = [("spine", site.name, k) for k in range(spines)]
        for spine in spine_names:
            graph.add_node(spine, kind="spine", site=site.name)
            graph.add_edge(spine, core, bandwidth_bps=float("inf"))
        for group in groups:
            busy_w, idle_w, base_w = node_power(group.node)
            memory = group.node.gpu_memory
            if memory is None:
                memory = GPU_MEMORY_BYTES.get(group.node.gpu_type, 0.0)
            key = (site_index, group.node.gpu_type, group.node.gpus, busy_w, idle_w, base_w, memory)
            if key not in pool_key:
                pool_key[key] = len(pool_nodes)
                pool_nodes.append([])
                pool_racks.append([])
                pool_meta.append((site.name, group.node.gpu_type, group.node.gpus, busy_w, idle_w, base_w, memory))
            pool = pool_key[key]
            uplink = group.nodes_per_rack * site.network.nic / site.network.oversubscription / spines
            for _ in range(group.racks):
                leaf = ("leaf", rack_id)
                graph.add_node(leaf, kind="leaf", site=site.name)
                for spine in spine_names:
                    graph.add_edge(leaf, spine, bandwidth_bps=uplink)
                members = tuple(range(node_id, node_id + group.nodes_per_rack))
                for n in members:
                    graph.add_node(("node", n), kind="node", site=site.name, gpus=group.node.gpus)
                    graph.add_edge(("node", n), leaf, bandwidth_bps=site.network.nic)
                    node_pool.append(pool)
                    node_gpus.append(group.node.gpus)
                rack_nodes.append(members)
                rack_pool.append(pool)
                pool_nodes[pool].extend(members)
                pool_racks[pool].append(rack_id)
                node_id += group.nodes_per_rack
                rack_id += 1
    if len(dc.sites) > 1:
        graph.add_node(("wan",), kind="wan")
        for site in dc.sites:
            graph.add_edge(("core", site.name), ("wan",), bandwidth_bps=float("inf"))

    # Read each node's rack off the fabric: its one leaf neighbour.
    node_rack = [0] * node_id
    for n in range(node_id):
        (leaf,) = (v for v in graph.neighbors(("node", n)) if v[0] == "leaf")
        node_rack[n] = leaf[1]
    pools = []
    for i, (site_name, gpu_type, gpus, busy_w, idle_w, base_w, memory) in enumerate(pool_meta):
        nodes, racks = tuple(pool_nodes[i]), tuple(pool_racks[i])
        pools.append(Pool(i, site_name, gpu_type, gpus, nodes, racks, busy_w, idle_w, base_w, memory))
    topo = Topology(
        pools=pools,
        node_pool=node_pool,
        node_rack=node_rack,
        node_gpus=node_gpus,
        rack_nodes=rack_nodes,
        rack_pool=rack_pool,
        site_names=[s.name for s in dc.sites],
        graph=graph,
    )
    topo.locality_hops = _locality_hops(topo)
    site_of = {name: i for i, name in enumerate(topo.site_names)}
    topo.node_site = [site_of[graph.nodes[("node", n)]["site"]] for n in range(node_id)]
    return topo


def _locality_hops(topo: Topology) -> dict[int, int]:
    """Hops between two nodes of each locality class, measured on the graph."""
    hops = {SAME_NODE: 0}
    for members in topo.rack_nodes:
        if len(members) > 1:
            hops[SAME_RACK] = nx.shortest_path_length(topo.graph, ("node", members[0]), ("node", members[1]))
            break
    first_rack_of_site: dict[str, int] = {}
    for rack, members in enumerate(topo.rack_nodes):
        site = topo.graph.nodes[("node", members[0])]["site"]
        if site in first_rack_of_site:
            other = topo.rack_nodes[first_rack_of_site[site]][0]
            hops[CROSS_RACK] = nx.shortest_path_length(topo.graph, ("node", other), ("node", members[0]))
            break
        first_rack_of_site[site] = rack
    return hops
