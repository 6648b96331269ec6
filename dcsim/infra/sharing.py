"""GPU sharing in the event engine: per-GPU residuals beside the whole-GPU cluster, and their index.

A scenario that models CPU, memory or shares of a GPU runs on a :class:`SharedCluster`: the
usual :class:`~dcsim.infra.cluster.Cluster` (``free[n]`` = the node's *wholly* free GPUs, so
the whole-GPU buckets and every built-in rule keep working) with an :class:`IndexedShares`
beside it (CPU, memory and milli-GPU left on each GPU). The two move together: every change
on a node goes through the shares first, and the cluster takes or gives back exactly the
wholly free GPUs that change made or ended. So a GPU that holds any share is busy for the
cluster (for power, the timeseries and whole-GPU placement), and free again when its last
share leaves.

GPUs out of service (failed, drained, absent) are *blocked* in the shares: their residual is
held at 0 (so nothing is placed on them and they count as neither idle nor fragmented),
the cluster's ``down[n]`` of them, always wholly free ones. Which GPU of a node fails is
drawn uniformly over its up GPUs (:meth:`SharedCluster.gpu_holders`): every share on it is lost.

:class:`ShareIndex` keeps, per pool, a segment tree over the pool's nodes of each node's
(largest GPU residual, wholly free GPUs, CPU free, memory free, milli-GPU idle): first fit
and worst fit (:mod:`dcsim.policies.placement`) find their node in O(log nodes) when one
dimension binds, and an update costs O(log nodes).
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush
from typing import Any

from dcsim.infra.cluster import Cluster
from dcsim.infra.shares import WHOLE, Demand, Shares, mib, milli_cpu
from dcsim.infra.topology import Topology

#: Capacity given to a dimension a node does not declare (CPU or memory not modelled there): no limit.
UNLIMITED = 1 << 60

Slot = tuple[int, Demand, tuple[int, ...]]
"""What a job holds on one node: (node, its demand there, the node's GPU indices it sits on)."""

_NONE = (-1, -1, -1, -1, -1)


def needs(demand: Demand) -> tuple[int, int, int, int]:
    """What a node's leaf must reach for ``demand``: (GPU residual, wholly free GPUs, CPU, memory)."""
    if demand.gpus == 0:
        return (0, 0, demand.cpu, demand.memory)
    if demand.gpu_milli >= WHOLE:
        return (0, demand.gpus, demand.cpu, demand.memory)
    return (demand.gpu_milli, 0, demand.cpu, demand.memory)


class NodeSet(tuple):
    """Candidate node ids (a tuple, ascending) that also names the pools they make up, for an index."""

    pools: tuple[int, ...]

    def __new__(cls, nodes: Sequence[int], pools: tuple[int, ...]) -> NodeSet:
        """The nodes, naming their pools."""
        out = super().__new__(cls, nodes)
        out.pools = pools
        return out


class ShareIndex:
    """Per pool, a segment tree of each node's (largest residual, whole free, CPU, memory, idle milli-GPU).

    An inner entry is the element-wise largest of its children: a subtree whose entry does not
    reach a demand's :func:`needs` holds no node that fits, and its idle figure bounds every
    node's below it. Cost: O(log nodes) per update.

    Args:
        shares: the live shares (read).
        pools: each pool's node ids, ascending.
    """

    def __init__(self, shares: Shares, pools: Sequence[Sequence[int]]) -> None:
        self.shares = shares
        self.pool_nodes = [tuple(nodes) for nodes in pools]
        #: Each node's (pool, leaf position in its tree).
        self.where: dict[int, tuple[int, int]] = {}
        self.trees: list[list[tuple[int, int, int, int, int]]] = []
        self.sizes: list[int] = []
        for p, nodes in enumerate(self.pool_nodes):
            size = 1
            while size < max(len(nodes), 1):
                size *= 2
            tree = [_NONE] * (2 * size)
            for i, n in enumerate(nodes):
                self.where[n] = (p, size + i)
                tree[size + i] = self.leaf(n)
            for i in range(size - 1, 0, -1):
                tree[i] = _max(tree[2 * i], tree[2 * i + 1])
            self.trees.append(tree)
            self.sizes.append(size)

    def leaf(self, node: int) -> tuple[int, int, int, int, int]:
        """The node's entry from the shares now."""
        s = self.shares
        b, g = s.base[node], s.gpus[node]
        free = s.gpu_free[b : b + g]
        idle = sum(free)
        return (max(free) if g else 0, s.whole_free[node], s.cpu_free[node], s.memory_free[node], idle)

    def update(self, node: int) -> None:
        """Refresh ``node``'s entry and its ancestors' (after a change on it).

        O(log nodes); it stops at an ancestor whose entry does not change (those above it do not either).
        """
        pool, i = self.where[node]
        tree = self.trees[pool]
        tree[i] = self.leaf(node)
        i //= 2
        while i:
            entry = _max(tree[2 * i], tree[2 * i + 1])
            if tree[i] == entry:
                return
            tree[i] = entry
            i //= 2

    def first(self, pool: int, demand: Demand) -> int | None:
        """The lowest-id node of ``pool`` that ``demand`` fits, or None (leftmost descent with pruning)."""
        tree, size, need = self.trees[pool], self.sizes[pool], needs(demand)
        stack = [1]
        while stack:
            i = stack.pop()
            if not _reaches(tree[i], need):
                continue
            if i >= size:
                return self.pool_nodes[pool][i - size]
            stack.append(2 * i + 1)
            stack.append(2 * i)
        return None

    def loosest(self, pool: int, demand: Demand) -> tuple[int, int] | None:
        """(idle milli-GPU, node) of the node of ``pool`` with the most idle GPU capacity that ``demand`` fits.

        Best-first over the tree by its idle bound; ties -> the lowest id. O(log nodes) when the
        loosest nodes fit; more when CPU or memory rule them out.
        """
        tree, size, need = self.trees[pool], self.sizes[pool], needs(demand)
        heap = [(-tree[1][4], 1)]
        while heap:
            neg, i = heappop(heap)
            if not _reaches(tree[i], need):
                continue
            if i >= size:
                return -neg, self.pool_nodes[pool][i - size]
            for c in (2 * i, 2 * i + 1):
                if tree[c][0] >= 0:
                    heappush(heap, (-tree[c][4], c))
        return None


def _max(a: tuple[int, ...], b: tuple[int, ...]) -> Any:
    return (max(a[0], b[0]), max(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]), max(a[4], b[4]))


def _reaches(entry: tuple[int, ...], need: tuple[int, int, int, int]) -> bool:
    return entry[0] >= need[0] and entry[1] >= need[1] and entry[2] >= need[2] and entry[3] >= need[3]


class IndexedShares(Shares):
    """:class:`Shares` with a :class:`ShareIndex` kept current, and GPUs that can be blocked (out of service).

    Args:
        topology: the layout (each node's GPUs, pool and the pools' CPU and memory).
        type_names: GPU type names (a node's type index into them); default the pools' types, sorted.
    """

    def __init__(self, topology: Topology, type_names: Sequence[str] | None = None) -> None:
        pools = topology.pools
        names = list(type_names) if type_names is not None else sorted({p.gpu_type for p in pools if p.gpus_per_node})
        cpu, memory, gpus, kind = [], [], [], []
        for n, p in enumerate(topology.node_pool):
            pool = pools[p]
            cpu.append(UNLIMITED if pool.cpu is None else milli_cpu(pool.cpu))
            memory.append(UNLIMITED if pool.memory is None else mib(pool.memory))
            gpus.append(topology.node_gpus[n])
            kind.append(names.index(pool.gpu_type) if pool.gpus_per_node and pool.gpu_type in names else -1)
        super().__init__(cpu, memory, gpus, kind, names)
        #: Blocked GPUs (out of service) of each node, as GPU indices on it.
        self.blocked: list[list[int]] = [[] for _ in gpus]
        #: Nodes out of service as a whole (failed, absent, cordoned): the CPU, memory and milli-GPU of their
        #: partly used GPUs held back from their free (wholly free GPUs there are blocked instead).
        self.off: dict[int, tuple[int, int, dict[int, int]]] = {}
        self.index = ShareIndex(self, [p.nodes for p in pools])
        #: Called with a node after every change on it (the fragmentation tracker's update), or None.
        self.changed: Any = None

    def allocate(self, node: int, demand: Demand, gpus: Sequence[int]) -> None:
        """As :meth:`Shares.allocate`, keeping the index."""
        super().allocate(node, demand, gpus)
        self._changed(node)

    def release(self, node: int, demand: Demand, gpus: Sequence[int]) -> None:
        """As :meth:`Shares.release`, keeping the index (what a node out of service frees stays held back)."""
        off = node in self.off
        if off:
            self.set_off(node, False)
        super().release(node, demand, gpus)
        if off:
            self.set_off(node, True)
        self._changed(node)

    def set_off(self, node: int, off: bool) -> None:
        """Hold back a node's free CPU, memory and partly used GPUs' milli-GPU (``off``), or give them back.

        Nothing is placed on a node out of service: its wholly free GPUs are blocked
        (:meth:`set_blocked`), and this keeps CPU-only jobs and shares off the rest.
        """
        if off == (node in self.off):
            return
        free, b = self.gpu_free, self.base[node]
        if off:
            kept = {i: free[b + i] for i in range(self.gpus[node]) if 0 < free[b + i] < WHOLE}
            self.off[node] = (self.cpu_free[node], self.memory_free[node], kept)
            self.cpu_free[node] = self.memory_free[node] = 0
            for i in kept:
                free[b + i] = 0
        else:
            cpu, memory, kept = self.off.pop(node)
            self.cpu_free[node] += cpu
            self.memory_free[node] += memory
            for i, milli in kept.items():
                free[b + i] += milli
        self.version[node] += 1
        self._changed(node)

    def _changed(self, node: int) -> None:
        self.index.update(node)
        if self.changed is not None:
            self.changed(node)

    def set_blocked(self, node: int, count: int) -> None:
        """Keep ``count`` of the node's GPUs out of service: block wholly free ones (highest first) or unblock.

        Raises:
            ValueError: if fewer GPUs than asked are wholly free (the engine evicts first).
        """
        blocked, free, b = self.blocked[node], self.gpu_free, self.base[node]
        if count == len(blocked):
            return
        while len(blocked) > count:
            i = blocked.pop()
            free[b + i] = WHOLE
            self.whole_free[node] += 1
        if len(blocked) < count:
            idle = [i for i in range(self.gpus[node] - 1, -1, -1) if free[b + i] == WHOLE]
            if len(idle) < count - len(blocked):
                raise ValueError(f"node {node}: {count} GPUs out of service but only {len(idle)} are idle")
            for i in idle[: count - len(blocked)]:
                free[b + i] = 0
                self.whole_free[node] -= 1
                blocked.append(i)
        self.version[node] += 1
        self._changed(node)


class SharedCluster(Cluster):
    """A :class:`Cluster` whose GPUs may be shared, with the CPU, memory and per-GPU state beside it.

    ``free[n]`` is node n's wholly free GPUs; ``busy_gpus`` the GPUs holding any share. Jobs
    with a demand go through :meth:`take` and :meth:`give`; a whole-GPU placement without one
    (:meth:`allocate`, :meth:`release`) takes the node's lowest wholly free GPUs, remembered per
    node, so that whole-GPU holders stay interchangeable.

    Args:
        topology: the static layout.
    """

    #: A share or a CPU-only job may fit with no GPU wholly free (see :func:`dcsim.policies.scheduling.scan`).
    saturates = False

    def __init__(self, topology: Topology) -> None:
        super().__init__(topology)
        self.shares = IndexedShares(topology)
        #: GPUs of each node held by whole-GPU placements without a demand (in the order taken).
        self._whole: list[list[int]] = [[] for _ in topology.node_gpus]
        #: Nodes hidden from the whole-GPU placement rules for a moment (see :meth:`hide`), with their free GPUs.
        self._hidden: dict[int, int] = {}

    # ------------------------------------------------------------------ jobs with a demand
    def take(self, slots: Sequence[Slot]) -> None:
        """Allocate a job's slots in the shares, and the wholly free GPUs that ends in the cluster."""
        shares, whole = self.shares, self.shares.whole_free
        for node, demand, gpus in slots:
            before = whole[node]
            shares.allocate(node, demand, gpus)
            if before != whole[node]:
                Cluster.allocate(self, [(node, before - whole[node])])

    def give(self, slots: Sequence[Slot]) -> None:
        """Release a job's slots; GPUs wholly free again go back to the cluster (out of service on a cordoned node)."""
        shares, whole = self.shares, self.shares.whole_free
        for node, demand, gpus in slots:
            before = whole[node]
            shares.release(node, demand, gpus)
            if whole[node] != before:
                Cluster.release(self, [(node, whole[node] - before)])
                if self.cordoned and node in self.cordoned:
                    shares.set_blocked(node, self.down[node])

    # ------------------------------------------------------------------ whole-GPU placements without a demand
    def allocate(self, placement: Sequence[tuple[int, int]]) -> None:  # type: ignore[override]
        """Take whole GPUs (the node's lowest wholly free ones) for a holder without a demand."""
        shares = self.shares
        for node, gpus in placement:
            b = shares.base[node]
            ids = [i for i in range(shares.gpus[node]) if shares.gpu_free[b + i] == WHOLE][:gpus]
            self._whole[node] += ids
            self.take([(node, Demand(0, 0, gpus, WHOLE), tuple(ids))])

    def release(self, placement: Sequence[tuple[int, int]]) -> None:  # type: ignore[override]
        """Give back whole GPUs that :meth:`allocate` took."""
        for node, gpus in placement:
            held = self._whole[node]
            ids = tuple(held[len(held) - gpus :])
            del held[len(held) - gpus :]
            self.give([(node, Demand(0, 0, gpus, WHOLE), ids)])

    def set_down(self, node: int, gpus: int) -> None:
        """Put ``gpus`` GPUs of ``node`` out of service, in the cluster and in the shares."""
        super().set_down(node, gpus)
        self.shares.set_blocked(node, self.down[node])

    def set_off(self, node: int, off: bool) -> None:
        """The node as a whole is out of service (failed, absent, cordoned) or back (:meth:`IndexedShares.set_off`)."""
        self.shares.set_off(node, off)

    # ------------------------------------------------------------------ queries
    def gpu_holders(self, node: int, rank: int, holders: Sequence[Any]) -> list[Any]:
        """The holders sitting on the node's ``rank``-th GPU in service (0-based, in GPU order).

        A holder with slots sits on the GPUs they name; one without (a whole-GPU holder) on the
        GPUs :meth:`allocate` took for it, in job-id order.
        """
        shares = self.shares
        blocked = set(shares.blocked[node])
        up = [i for i in range(shares.gpus[node]) if i not in blocked]
        if rank >= len(up):
            return []
        gpu = up[rank]
        return [h for h in holders if h.slots and any(gpu in ids for n, _, ids in h.slots if n == node)]

    def hide(self, node: int) -> None:
        """Show ``node`` to the whole-GPU rules as full for a moment (it lacks CPU or memory); see :meth:`unhide`."""
        if node in self._hidden:
            return
        free = self.free[node]
        self._hidden[node] = free
        if free:
            self._move(node, 0)
            self.pool_free[self.node_pool[node]] -= free

    def unhide(self) -> None:
        """Show the hidden nodes as they are again."""
        for node, free in self._hidden.items():
            if free:
                self._move(node, free)
                self.pool_free[self.node_pool[node]] += free
        self._hidden.clear()


__all__ = ["UNLIMITED", "IndexedShares", "NodeSet", "ShareIndex", "SharedCluster", "Slot", "needs"]
