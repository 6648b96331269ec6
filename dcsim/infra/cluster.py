"""Live GPU capacity and its indexes, kept up to date incrementally.

Per pool, nodes sit in *buckets* by their number of free GPUs; each bucket is a heap
of node ids with lazy deletion (an entry is valid while ``free[node]`` equals the
bucket's count). Placement queries ("lowest node with at least g free", "k lowest
fully free nodes") cost O(gpus_per_node * log nodes), never a scan of the cluster.
GPUs out of service (failed, or drained for maintenance) are in ``down``: they
leave the buckets exactly like allocated ones. Policies see this object through
:class:`dcsim.views.ClusterView` (queries only);
the engine alone calls :meth:`Cluster.allocate` and :meth:`Cluster.release`.
"""

from __future__ import annotations

from collections.abc import Iterable
from heapq import heapify, heappop, heappush

from dcsim.infra.topology import CROSS_RACK, SAME_NODE, SAME_RACK, Pool, Topology

Placement = list[tuple[int, int]]
"""A placement: ``(node id, GPUs on that node)`` pairs."""


class Cluster:
    """Free GPUs per node, with per-pool buckets and per-rack counts of whole free nodes.

    Args:
        topology: the static layout.
    """

    #: No job fits while no GPU is free (False where GPUs are shared: :class:`dcsim.infra.sharing.SharedCluster`).
    saturates = True

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.pools: list[Pool] = topology.pools
        self.node_pool = topology.node_pool
        self.node_rack = topology.node_rack
        self.rack_nodes = topology.rack_nodes
        # Invariant: free[n] == GPUs of node n not allocated to a job.
        self.free: list[int] = list(topology.node_gpus)
        self.pool_free: list[int] = [p.gpus for p in self.pools]
        self.busy_gpus = 0
        self.installed_gpus = topology.n_gpus
        self._buckets: list[list[list[int]]] = []
        self._counts: list[list[int]] = []
        for p in self.pools:
            buckets: list[list[int]] = [[] for _ in range(p.gpus_per_node + 1)]
            buckets[p.gpus_per_node] = list(p.nodes)  # sorted, so already a heap
            counts = [0] * (p.gpus_per_node + 1)
            counts[p.gpus_per_node] = len(p.nodes)
            self._buckets.append(buckets)
            self._counts.append(counts)
        # Invariant: rack_whole_free[r] == nodes of rack r with every GPU free.
        self.rack_whole_free: list[int] = [len(m) for m in topology.rack_nodes]
        # Out of service (failed, or in maintenance): neither free nor allocated.
        # Invariant: free[n] + down[n] + allocated GPUs of n == GPUs of n.
        self.down: list[int] = [0] * len(self.free)
        self.down_gpus = 0
        self.pool_down: list[int] = [0] * len(self.pools)
        #: GPUs not installed now (racks a timed event adds later, or removed): out of service
        #: like down ones, but counted neither as installed nor as downtime.
        self.absent_gpus = 0
        self.pool_absent: list[int] = [0] * len(self.pools)
        #: Nodes being drained (with the number of windows holding each): GPUs released there
        #: go out of service, not back to free.
        self.cordoned: dict[int, int] = {}
        #: The holders of GPUs by id, kept by the engine when it tracks runs (else empty).
        self.holders: dict[int, object] = {}
        #: The fabric as policies read it (:class:`dcsim.views.NetworkView`), set by the engine when
        #: a job class communicates; None otherwise.
        self.network: object | None = None

    # ------------------------------------------------------------------ queries (the view)
    def count(self, pool: int, free: int) -> int:
        """Number of nodes of ``pool`` with exactly ``free`` free GPUs."""
        return self._counts[pool][free]

    def free_counts(self, pool: int) -> list[int]:
        """Nodes of ``pool`` by their number of free GPUs (index: free GPUs), live: read, never change it."""
        return self._counts[pool]

    def lowest_node(self, pool: int, free: int) -> int | None:
        """Lowest-id node of ``pool`` with exactly ``free`` free GPUs, or None."""
        heap = self._buckets[pool][free]
        state = self.free
        while heap and state[heap[0]] != free:
            heappop(heap)  # drop a stale entry: the node has left this bucket
        return heap[0] if heap else None

    def lowest_nodes(self, pool: int, free: int, k: int, exclude: int = -1) -> list[int]:
        """The ``k`` lowest-id nodes of ``pool`` with exactly ``free`` free GPUs (fewer if absent).

        Args:
            pool: pool id.
            free: the bucket.
            k: how many.
            exclude: a node id to leave out.
        """
        heap = self._buckets[pool][free]
        state = self.free
        taken: list[int] = []
        seen = set()
        while heap and len(taken) < k:
            n = heappop(heap)
            if state[n] == free and n not in seen:
                seen.add(n)
                if n != exclude:
                    taken.append(n)
        for n in seen:
            heappush(heap, n)
        return taken

    def nodes_in_bucket(self, pool: int, free: int) -> list[int]:
        """Every node of ``pool`` with exactly ``free`` free GPUs, ascending."""
        state = self.free
        return sorted({n for n in self._buckets[pool][free] if state[n] == free})

    def running(self) -> Iterable[object]:
        """The holders of GPUs now (jobs' runs), when the engine tracks them."""
        return self.holders.values()

    def locality(self, placement: Placement) -> int:
        """Locality class of a placement: SAME_NODE, SAME_RACK or CROSS_RACK."""
        if len(placement) == 1:
            return SAME_NODE
        rack = self.node_rack
        first = rack[placement[0][0]]
        return SAME_RACK if all(rack[n] == first for n, _ in placement) else CROSS_RACK

    # ------------------------------------------------------------------ mutations (engine only)
    def _move(self, node: int, new_free: int) -> None:
        """Set the free GPUs of ``node`` and update the indexes."""
        pool = self.node_pool[node]
        old = self.free[node]
        counts = self._counts[pool]
        full = self.pools[pool].gpus_per_node
        counts[old] -= 1
        counts[new_free] += 1
        self.free[node] = new_free
        if old == full:
            self.rack_whole_free[self.node_rack[node]] -= 1
        elif new_free == full:
            self.rack_whole_free[self.node_rack[node]] += 1
        if new_free:  # nobody asks for nodes with nothing free
            heap = self._buckets[pool][new_free]
            heappush(heap, node)
            if len(heap) > 4 * counts[new_free] + 64:
                state = self.free
                heap[:] = {n for n in heap if state[n] == new_free}
                heapify(heap)

    def allocate(self, placement: Placement) -> None:
        """Take the GPUs of a placement. Invariant: each node has that many free."""
        free = self.free
        for node, gpus in placement:
            self._move(node, free[node] - gpus)
            self.pool_free[self.node_pool[node]] -= gpus
            self.busy_gpus += gpus

    def release(self, placement: Placement) -> None:
        """Give back the GPUs of a placement (to down instead of free on a cordoned node)."""
        free = self.free
        cordoned = self.cordoned
        for node, gpus in placement:
            self.busy_gpus -= gpus
            if cordoned and node in cordoned:
                self.down[node] += gpus
                self.down_gpus += gpus
                self.pool_down[self.node_pool[node]] += gpus
                continue
            self._move(node, free[node] + gpus)
            self.pool_free[self.node_pool[node]] += gpus

    def allocated(self, node: int) -> int:
        """GPUs of ``node`` allocated to jobs."""
        return self.topology.node_gpus[node] - self.free[node] - self.down[node]

    def set_down(self, node: int, gpus: int) -> None:
        """Put ``gpus`` GPUs of ``node`` out of service (the rest of its idle GPUs back in).

        Invariant: the node's allocated GPUs fit in what stays up (the engine evicts first).
        """
        pool = self.node_pool[node]
        old_free, old_down = self.free[node], self.down[node]
        new_free = self.topology.node_gpus[node] - gpus - self.allocated(node)
        if new_free < 0:
            raise ValueError(f"node {node}: {gpus} GPUs down but {self.allocated(node)} allocated")
        self.down[node] = gpus
        self.down_gpus += gpus - old_down
        self.pool_down[pool] += gpus - old_down
        if new_free != old_free:
            self._move(node, new_free)
            self.pool_free[pool] += new_free - old_free


__all__ = ["CROSS_RACK", "SAME_NODE", "SAME_RACK", "Cluster", "Placement"]
