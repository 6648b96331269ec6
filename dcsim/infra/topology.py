"""The static shape of the data center, built once from the scenario.

Nodes are numbered 0..N-1 rack by rack, site by site. Nodes of one site with the same
GPU type, GPUs per node, CPU, memory and power figures form a *pool* (CPU-only nodes,
``gpus: 0``, form pools of their own): a gang job runs inside one
pool (one GPU type, one site), on one node or on several. Membership (node to rack,
pool and site) is built straight from the scenario in O(nodes); the fabric, a networkx
graph (leaf-spine), is built only when asked for (:attr:`Topology.graph`), with the hop
counts of each locality class (same node, same rack, across racks) read off it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dcsim.infra.spec import Datacenter, NodeSpec

if TYPE_CHECKING:
    import networkx as nx

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
#: Training throughput of one GPU by type, relative to an H100 (SXM): peak dense BF16 tensor-core
#: throughput on the vendors' data sheets (H100 and H200 989 TFLOPS, B200 2,250, A100 312, L40S
#: 362; V100 125 in FP16). Work bound by memory or the network sees smaller gaps (an A100 often
#: reaches 0.4 to 0.5 of an H100 in measured LLM training): a class's ``speed`` or a node's
#: ``gpu_speed`` says what a workload really gets.
GPU_SPEED: dict[str, float] = {"B200": 2.27, "H200": 1.0, "H100": 1.0, "A100": 0.32, "L40S": 0.37, "V100": 0.13}
DEFAULT_GPU_SPEED = 1.0

#: Locality classes of a placement.
LOCALITY_NAMES = ("node", "rack", "cross_rack")
SAME_NODE, SAME_RACK, CROSS_RACK = 0, 1, 2

CPU_ONLY = "cpu-only"
"""The GPU type of a pool of CPU-only nodes (``gpus: 0``), whatever their ``gpu_type`` says: breakdowns by
GPU type show them under this name, and no GPU type list matches them."""

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
        speed: training throughput of one GPU relative to an H100 (:data:`GPU_SPEED`).
        cpu: CPU cores of each node (None: CPU is not modelled on these nodes).
        memory: host memory of each node, bytes (None: not modelled).
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
    speed: float = DEFAULT_GPU_SPEED
    cpu: float | None = None
    memory: float | None = None

    @property
    def gpus(self) -> int:
        """Installed GPUs in the pool."""
        return self.gpus_per_node * len(self.nodes)


def gpu_speed(spec: NodeSpec) -> float:
    """Training throughput of one of the node's GPUs relative to an H100 (its ``gpu_speed``, else by type)."""
    return spec.gpu_speed if spec.gpu_speed is not None else GPU_SPEED.get(spec.gpu_type, DEFAULT_GPU_SPEED)


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
    """Static layout: which node sits in which rack, pool and site; the fabric graph on demand.

    The membership lists are built straight from the scenario, in O(nodes). The fabric
    graph (:attr:`graph`, networkx) is built only when asked for: a leaf-spine fabric of
    16,000 racks has millions of links, and nothing in a run needs them.
    """

    pools: list[Pool]
    node_pool: list[int]
    node_rack: list[int]
    node_gpus: list[int]
    rack_nodes: list[tuple[int, ...]]
    rack_pool: list[int]
    site_names: list[str]
    #: Site index of each node.
    node_site: list[int] = field(default_factory=list)
    #: The ``datacenter`` block the topology was built from (for :attr:`graph`).
    datacenter: Datacenter | None = field(default=None, repr=False, compare=False)

    @cached_property
    def graph(self) -> nx.Graph:
        """The fabric as a networkx graph (built on first use; see :func:`fabric_graph`)."""
        if self.datacenter is None:
            raise ValueError("this topology was built without its datacenter block; it has no fabric graph")
        return fabric_graph(self.datacenter)

    @cached_property
    def locality_hops(self) -> dict[int, int]:
        """Hops between two nodes of each locality class, measured on :attr:`graph`."""
        return _locality_hops(self)

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

    def pool_rates(
        self, pools: tuple[int, ...], speed: dict[str, float] | None, reference: str | None
    ) -> tuple[float, ...] | None:
        """Each pool's run-time rate for a class allowed on ``pools``: its speed over the reference's.

        Args:
            pools: the pools the class may run in.
            speed: the class's own speeds by GPU type (others: the pools' speeds).
            reference: the GPU type its durations are measured on (default: the fastest of ``pools``).

        Returns:
            A rate per pool id (s of work per s), or None when the class runs at rate 1 everywhere
            it may run (a class on one GPU type keeps its run times).
        """
        own = speed or {}
        by_pool = {p: own.get(self.pools[p].gpu_type, self.pools[p].speed) for p in pools}
        if not by_pool:
            return None
        if reference is None:
            ref = max(by_pool.values())
        elif reference in own:
            ref = own[reference]
        else:
            known = [self.pools[p].speed for p in range(len(self.pools)) if self.pools[p].gpu_type == reference]
            ref = known[0] if known else GPU_SPEED.get(reference, DEFAULT_GPU_SPEED)
        rates = tuple(by_pool.get(p, ref) / ref for p in range(len(self.pools)))
        return None if all(rates[p] == 1.0 for p in pools) else rates

    def allowed_pools(self, gpu_types: list[str] | None, min_gpu_memory: float | None = None) -> tuple[int, ...]:
        """Pools a job may run in: GPU type in ``gpu_types`` (any if None), enough GPU memory."""
        return tuple(
            p.id
            for p in self.pools
            if (gpu_types is None or p.gpu_type in gpu_types)
            and (min_gpu_memory is None or p.gpu_memory_bytes >= min_gpu_memory)
        )


def build_topology(dc: Datacenter) -> Topology:
    """Build pools, rack and site membership of a data center.

    Args:
        dc: the validated ``datacenter`` block.

    Returns:
        The topology; node and rack ids are dense, in scenario order. Its fabric graph
        is built when first asked for (:attr:`Topology.graph`).
    """
    pool_key: dict[tuple, int] = {}
    pool_nodes: list[list[int]] = []
    pool_racks: list[list[int]] = []
    pool_meta: list[tuple[Any, ...]] = []
    node_pool: list[int] = []
    node_gpus: list[int] = []
    node_rack: list[int] = []
    node_site: list[int] = []
    rack_nodes: list[tuple[int, ...]] = []
    rack_pool: list[int] = []
    node_id = rack_id = 0
    for site_index, site in enumerate(dc.sites):
        for group in site.groups:
            busy_w, idle_w, base_w = node_power(group.node)
            memory = group.node.gpu_memory
            if memory is None:
                memory = GPU_MEMORY_BYTES.get(group.node.gpu_type, 0.0)
            speed = gpu_speed(group.node)
            node = group.node
            gpu_type = node.gpu_type if node.gpus else CPU_ONLY
            key = (site_index, gpu_type, node.gpus, busy_w, idle_w, base_w, memory, speed, node.cpu, node.memory)
            if key not in pool_key:
                pool_key[key] = len(pool_nodes)
                pool_nodes.append([])
                pool_racks.append([])
                pool_meta.append((site.name, *key[1:]))
            pool = pool_key[key]
            per_rack, racks = group.nodes_per_rack, group.racks
            n = per_rack * racks
            node_pool += [pool] * n
            node_gpus += [group.node.gpus] * n
            node_site += [site_index] * n
            node_rack += [r for r in range(rack_id, rack_id + racks) for _ in range(per_rack)]
            rack_nodes += [tuple(range(node_id + k * per_rack, node_id + (k + 1) * per_rack)) for k in range(racks)]
            rack_pool += [pool] * racks
            pool_nodes[pool] += range(node_id, node_id + n)
            pool_racks[pool] += range(rack_id, rack_id + racks)
            node_id += n
            rack_id += racks
    pools = []
    for i, (site_name, gpu_type, gpus, busy_w, idle_w, base_w, memory, speed, cpu, host) in enumerate(pool_meta):
        nodes, racks = tuple(pool_nodes[i]), tuple(pool_racks[i])
        pools.append(Pool(i, site_name, gpu_type, gpus, nodes, racks, busy_w, idle_w, base_w, memory, speed, cpu, host))
    return Topology(
        pools=pools,
        node_pool=node_pool,
        node_rack=node_rack,
        node_gpus=node_gpus,
        rack_nodes=rack_nodes,
        rack_pool=rack_pool,
        site_names=[s.name for s in dc.sites],
        node_site=node_site,
        datacenter=dc,
    )


def fabric_graph(dc: Datacenter) -> nx.Graph:
    """The fabric of a data center as a networkx graph (leaf-spine).

    Graph nodes are ``("node", n)`` (attributes ``kind``, ``site``, ``gpus``), ``("leaf", rack)``,
    ``("spine", site, k)``, ``("core", site)`` and, with several sites, ``("wan",)``; links
    carry ``bandwidth_bps``. Nodes and racks are numbered as in :func:`build_topology`.
    A leaf links to every spine of its site, so the graph has racks x spines links: at
    16,000 racks, millions. Nothing in a run reads it; it is there for the network model.
    """
    import networkx as nx

    graph = nx.Graph()
    node_id = rack_id = 0
    for site in dc.sites:
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
            uplink = group.nodes_per_rack * site.network.nic / site.network.oversubscription / spines
            for _ in range(group.racks):
                leaf = ("leaf", rack_id)
                graph.add_node(leaf, kind="leaf", site=site.name)
                for spine in spine_names:
                    graph.add_edge(leaf, spine, bandwidth_bps=uplink)
                for n in range(node_id, node_id + group.nodes_per_rack):
                    graph.add_node(("node", n), kind="node", site=site.name, gpus=group.node.gpus)
                    graph.add_edge(("node", n), leaf, bandwidth_bps=site.network.nic)
                node_id += group.nodes_per_rack
                rack_id += 1
    if len(dc.sites) > 1:
        graph.add_node(("wan",), kind="wan")
        for site in dc.sites:
            graph.add_edge(("core", site.name), ("wan",), bandwidth_bps=float("inf"))
    return graph


def _locality_hops(topo: Topology) -> dict[int, int]:
    """Hops between two nodes of each locality class, measured on the graph."""
    import networkx as nx

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
