"""Placement: which nodes (and how many GPUs on each) a gang job gets.

A job of ``g`` GPUs runs inside one pool (one GPU type of one site). If ``g`` fits a
node it gets one node; otherwise it gets ``g // n`` whole free nodes of ``n`` GPUs plus,
for a remainder ``r = g % n``, ``r`` GPUs on one more node (a partly used node when
the rule allows, so whole nodes stay whole). Policies return a placement
(``[(node, gpus), ...]``) or None to leave the job queued.

Every built-in rule takes ``prefer``: ``pool_order`` (the default) weighs all of a job's
pools alike by the rule's own criterion; ``fast`` tries them fastest first for that job (by
its ``speeds``; pools of equal speed together, judged by the rule as one group, in pool
order): the job goes to a slower pool only when no faster one has room for it now.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from dcsim.core.registry import Registry, lacks_methods
from dcsim.infra.cluster import Placement
from dcsim.infra.shares import WHOLE, Demand, Shares
from dcsim.policies.sharing import SHARING_RULES, BestFitChoice, Scores
from dcsim.views import ClusterView, JobView, NetworkView

if TYPE_CHECKING:
    import numpy as np

    from dcsim.infra.sharing import ShareIndex


class PlacementPolicy(Protocol):
    """Chooses nodes for a job; returns None to leave the job queued.

    Two optional class attributes let the engine go faster; a plug-in sets them only
    when they hold (the built-in rules set both):

    - ``valid_by_construction = True``: every placement returned is valid (distinct
      nodes of the job's pools, with that many GPUs free, summing to the job's GPUs),
      so the engine skips checking it.
    - ``uniform_in_class = True``: whether a job fits depends only on its pools and GPU
      count, and if g GPUs do not fit, more do not; then a backfill pass looks at the
      first job of each (pools, GPUs) class only instead of the whole queue.
    """

    def place(self, job: JobView, cluster: ClusterView) -> Placement | None:
        """Return ``[(node, gpus), ...]`` summing to ``job.gpus``, or None."""


PLACEMENT: Registry[PlacementPolicy] = Registry(
    "placement",
    lambda cls: lacks_methods(cls, "place(job, cluster)"),
    "a class with __init__(params, rng) and place(job, cluster); see docs/howto.md",
)

_LOWEST, _TIGHTEST, _LOOSEST = 0, 1, 2


def _pick(cluster: ClusterView, pool: int, lo: int, hi: int, mode: int) -> tuple[int, int] | None:
    """A node with ``lo <= free < hi`` chosen by ``mode``; returns (node, free) or None.

    ``_LOWEST`` takes the lowest id, ``_TIGHTEST`` the fewest free GPUs and ``_LOOSEST``
    the most (ties -> lowest id).
    """
    if mode == _LOWEST:
        best: tuple[int, int] | None = None
        for f in range(lo, hi):
            if cluster.count(pool, f):
                node = cluster.lowest_node(pool, f)
                if node is not None and (best is None or node < best[0]):
                    best = (node, f)
        return best
    for f in range(lo, hi) if mode == _TIGHTEST else range(hi - 1, lo - 1, -1):
        if cluster.count(pool, f):
            node = cluster.lowest_node(pool, f)
            if node is not None:
                return (node, f)
    return None


def place_in_pool(cluster: ClusterView, pool: int, gpus: int, mode: int) -> tuple[Placement, int] | None:
    """Place ``gpus`` in one pool by ``mode``; return (placement, GPUs left free on its nodes).

    Cost: O(n log N) for n GPUs per node and N nodes, plus O(k log N) for k whole nodes.
    """
    if cluster.pool_free[pool] < gpus:
        return None
    n = cluster.pools[pool].gpus_per_node
    if gpus <= n:
        found = _pick(cluster, pool, gpus, n + 1, mode)
        return ([(found[0], gpus)], found[1] - gpus) if found is not None else None
    k, r = divmod(gpus, n)
    whole = cluster.count(pool, n)
    if whole < k:
        return None
    if r == 0:
        return [(node, n) for node in cluster.lowest_nodes(pool, n, k)], 0
    # The remainder goes to a partly used node, so whole nodes stay whole (spreading
    # prefers one more whole node).
    found = None if mode == _LOOSEST and whole > k else _pick(cluster, pool, r, n, mode)
    if found is not None:
        nodes = cluster.lowest_nodes(pool, n, k)
        return [(node, n) for node in nodes] + [(found[0], r)], found[1] - r
    if whole > k:
        nodes = cluster.lowest_nodes(pool, n, k + 1)
        return [(node, n) for node in nodes[:k]] + [(nodes[k], r)], n - r
    return None


Prefer = Literal["pool_order", "fast"]
_PREFER_HELP = "pool_order: the rule weighs all the job's pools alike; fast: its fastest pools first, slower when full"


class _PreferParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prefer: Prefer = Field("pool_order", description=_PREFER_HELP)


def speed_tiers(pools: Sequence[int], speeds: Sequence[float] | None) -> list[Sequence[int]]:
    """``pools`` in groups of equal speed, fastest first, each in pool order (one group without speeds)."""
    if speeds is None or len(pools) < 2:
        return [pools]
    by_speed: dict[float, list[int]] = {}
    for pool in pools:
        by_speed.setdefault(speeds[pool], []).append(pool)
    return [by_speed[s] for s in sorted(by_speed, reverse=True)]


class _BuiltIn:
    """What every built-in placement rule guarantees (see :class:`PlacementPolicy`).

    With ``prefer: fast`` a job fits exactly when it fits one of its pools, as with
    ``pool_order``: the order only chooses among the pools it fits, so ``uniform_in_class``
    still holds (two jobs of one (pools, GPUs) class may differ in speeds, not in fitting).
    """

    valid_by_construction = True
    uniform_in_class = True
    params: _PreferParams

    def __init__(self, params: _PreferParams, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self.fast = params.prefer == "fast"
        self._tiers: dict[tuple[Sequence[int], Sequence[float]], list[Sequence[int]]] = {}
        if not self.fast and type(self).place is _BuiltIn.place:
            self.place = self.place_among  # type: ignore[method-assign]  # no extra call on the hot path

    def place(self, job: JobView, cluster: ClusterView) -> Placement | None:
        """The rule's choice among the job's pools; with ``prefer: fast``, among its fastest pools that fit."""
        speeds = job.speeds if self.fast else None
        if speeds is None:
            return self.place_among(job, cluster)
        key = (job.pools, speeds)
        tiers = self._tiers.get(key)
        if tiers is None:
            tiers = self._tiers[key] = speed_tiers(job.pools, speeds)
        for pools in tiers:
            found = self.place_among(job, cluster, pools)
            if found is not None:
                return found
        return None

    def place_among(self, job: JobView, cluster: ClusterView, pools: Sequence[int] | None = None) -> Placement | None:
        """The rule's placement of ``job`` in one of ``pools`` (default: all of the job's), or None."""
        raise NotImplementedError


def share_gpus(shares: Shares, node: int, demand: Demand, loosest: bool = False) -> tuple[int, ...]:
    """The GPUs of ``node`` a fitting ``demand`` takes.

    Whole GPUs: the lowest wholly free ones; a share: the first GPU that holds it (``loosest``: the one
    with the most left, ties -> lowest index); none: ``()``.
    """
    if demand.gpus == 0:
        return ()
    b, free = shares.base[node], shares.gpu_free
    n = shares.gpus[node]
    if demand.gpu_milli >= WHOLE:
        return tuple([i for i in range(n) if free[b + i] == WHOLE][: demand.gpus])
    if loosest:
        best = max(range(n), key=lambda i: (free[b + i], -i))
        return (best,)
    return (next(i for i in range(n) if free[b + i] >= demand.gpu_milli),)


def _indexed(shares: Shares, nodes: Sequence[int]) -> tuple[ShareIndex | None, tuple[int, ...]]:
    """The shares' index and the pools ``nodes`` make up, when both are known (the engine's); else (None, ())."""
    index = getattr(shares, "index", None)
    pools = getattr(nodes, "pools", None)
    return (index, pools) if index is not None and pools is not None else (None, ())


@PLACEMENT.register("first_fit")
class FirstFit(_BuiltIn):
    """The lowest-id node(s) with room: for whole nodes the lowest free ones. Cost O(n log N) per try.

    Where GPUs are shared (:meth:`choose`): the lowest-id node that the request fits in every
    dimension, its first GPU that holds a share; O(log N) per decision on the engine's index
    (:class:`dcsim.infra.sharing.ShareIndex`) when one dimension binds, O(N) on plain shares.
    """

    Params = _PreferParams

    def choose(self, demand: Demand, shares: Shares, nodes: Sequence[int]) -> tuple[int, tuple[int, ...]] | None:
        """The lowest-id node of ``nodes`` that ``demand`` fits, and the GPUs it takes there; None if none."""
        index, pools = _indexed(shares, nodes)
        best: int | None = None
        if index is not None:
            for pool in pools:
                found = index.first(pool, demand)
                if found is not None and (best is None or found < best):
                    best = found
        else:
            best = next((n for n in sorted(nodes) if shares.fits(n, demand)), None)
        return None if best is None else (best, share_gpus(shares, best, demand))

    def place_among(self, job: JobView, cluster: ClusterView, pools: Sequence[int] | None = None) -> Placement | None:
        """First fit over ``pools`` (default: the job's), by lowest node id."""
        best: Placement | None = None
        for pool in job.pools if pools is None else pools:
            found = place_in_pool(cluster, pool, job.gpus, _LOWEST)
            if found is not None and (best is None or found[0][0][0] < best[0][0]):
                best = found[0]
        return best


class _FitParams(_PreferParams):
    gpu_weight: float = Field(1.0, description=">0 packs (fewest free GPUs left), <0 spreads")


class _Fit(_BuiltIn):
    """Shared rule of best and worst fit: the sign of `gpu_weight` packs or spreads."""

    Params = _FitParams

    params: _FitParams

    def __init__(self, params: _FitParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self.mode = _TIGHTEST if params.gpu_weight >= 0 else _LOOSEST

    def place_among(self, job: JobView, cluster: ClusterView, pools: Sequence[int] | None = None) -> Placement | None:
        """Best score over ``pools`` (default: the job's); score = weight * GPUs left free, ties -> lowest node id."""
        best: tuple[float, int, Placement] | None = None
        weight = self.params.gpu_weight
        for pool in job.pools if pools is None else pools:
            found = place_in_pool(cluster, pool, job.gpus, self.mode)
            if found is not None:
                score = (weight * found[1], found[0][0][0])
                if best is None or score < best[:2]:
                    best = (*score, found[0])
        return best[2] if best is not None else None


@PLACEMENT.register("best_fit")
class BestFit(_Fit, BestFitChoice):
    """Pack: the node with the fewest free GPUs that still fit; ties -> lowest id. Cost O(n log N).

    With GPU sharing (``choose``) it is the FGD study's BestFit: see
    :class:`dcsim.policies.sharing.BestFitChoice` (``gpu_weight`` and ``prefer`` do not
    enter it; ``max_cpu_cores``, ``max_gpus`` and ``scores`` are its parameters).
    """

    class Params(_FitParams):
        """Best fit packs: positive weight."""

        gpu_weight: float = Field(1.0, description=">0 packs (fewest free GPUs left), <0 spreads")
        max_cpu_cores: float = Field(
            128.0, gt=0, description="sharing: cores that count as 1 in the CPU term (the FGD study's 128)"
        )
        max_gpus: float = Field(8.0, gt=0, description="sharing: GPUs that count as 1 in the GPU term (the study's 8)")
        scores: Scores = Field("authors", description="sharing: the FGD authors' integer 0-100 scores, or exact")


@PLACEMENT.register("worst_fit")
class WorstFit(_Fit):
    """Spread: the node with the most free GPUs; ties -> lowest id. Cost O(n log N).

    Where GPUs are shared (:meth:`choose`): the node with the most idle milli-GPU that the request
    fits in every dimension (ties -> lowest id), its GPU with the most left for a share;
    O(log N) per decision on the engine's index when the loosest nodes fit, O(N) on plain shares.
    """

    def choose(self, demand: Demand, shares: Shares, nodes: Sequence[int]) -> tuple[int, tuple[int, ...]] | None:
        """The loosest node of ``nodes`` that ``demand`` fits, and the GPUs it takes there; None if none."""
        index, pools = _indexed(shares, nodes)
        best: tuple[int, int] | None = None  # (-idle, node)
        if index is not None:
            for pool in pools:
                found = index.loosest(pool, demand)
                if found is not None and (best is None or (-found[0], found[1]) < best):
                    best = (-found[0], found[1])
        else:
            for n in nodes:
                if shares.fits(n, demand):
                    key = (-shares.gpu_idle(n), n)
                    if best is None or key < best:
                        best = key
        return None if best is None else (best[1], share_gpus(shares, best[1], demand, loosest=True))

    class Params(_FitParams):
        """Worst fit spreads: negative weight."""

        gpu_weight: float = Field(-1.0, description=">0 packs (fewest free GPUs left), <0 spreads")


@PLACEMENT.register("rack_pack")
class RackPack(_BuiltIn):
    """Multi-node jobs on the fewest racks (the fullest rack that holds them); others best fit.

    Across the job's pools: fewest racks, then fewest nodes, then least left over; ties ->
    lowest node id. Cost per multi-node try O(racks + nodes of the chosen racks) in a pool.
    """

    Params = _PreferParams

    def place_among(self, job: JobView, cluster: ClusterView, pools: Sequence[int] | None = None) -> Placement | None:
        """Fewest racks, then nodes, then GPUs or whole nodes left over, over ``pools`` (default: the job's)."""
        best: tuple[tuple[int, int, int, int], Placement] | None = None
        for pool in job.pools if pools is None else pools:
            n = cluster.pools[pool].gpus_per_node
            if job.gpus <= n:
                single = place_in_pool(cluster, pool, job.gpus, _TIGHTEST)
                if single is None:
                    continue
                key, placement = (1, 1, single[1], single[0][0][0]), single[0]
            else:
                multi = self._place_multi(cluster, pool, job.gpus, n)
                if multi is None:
                    continue
                racks, spare, placement = multi
                key = (racks, len(placement), spare, placement[0][0])
            if best is None or key < best[0]:
                best = (key, placement)
        return best[1] if best is not None else None

    def _place_multi(self, cluster: ClusterView, pool: int, gpus: int, n: int) -> tuple[int, int, Placement] | None:
        """Return (racks used, spare whole nodes in them, placement) or None."""
        if cluster.pool_free[pool] < gpus:
            return None
        k, r = divmod(gpus, n)
        if cluster.count(pool, n) < k:
            return None
        racks = cluster.pools[pool].racks
        whole = cluster.rack_whole_free
        free = cluster.free
        # One rack if some rack holds it: the one with the fewest whole free nodes.
        best_rack = -1
        for rack in racks:
            c = whole[rack]
            if c < k or (best_rack >= 0 and c >= whole[best_rack]):
                continue
            if r == 0 or c > k or self._partial_in([rack], cluster, r, n) is not None:
                best_rack = rack
        chosen = [best_rack] if best_rack >= 0 else self._fewest_racks(cluster, racks, k)
        wholes = [m for rack in chosen for m in cluster.rack_nodes[rack] if free[m] == n]
        placement: Placement = [(m, n) for m in wholes[:k]]
        spare = len(wholes) - k
        if r:
            partial = self._partial_in(chosen, cluster, r, n)
            if partial is not None:
                placement.append((partial, r))
            elif spare > 0:
                placement.append((wholes[k], r))
                spare -= 1
            else:
                found = _pick(cluster, pool, r, n, _TIGHTEST)
                if found is None:
                    extra = cluster.lowest_nodes(pool, n, 1 + len(wholes))
                    extra = [m for m in extra if m not in set(wholes)]
                    if not extra:
                        return None
                    found = (extra[0], n)
                placement.append((found[0], r))
        used_racks = len({cluster.node_rack[m] for m, _ in placement})
        return used_racks, spare, placement

    def _fewest_racks(self, cluster: ClusterView, racks: Sequence[int], k: int) -> list[int]:
        """Racks that hold ``k`` whole free nodes, as few as can (their whole free nodes suffice): the largest first."""
        whole = cluster.rack_whole_free
        order = sorted((rack for rack in racks if whole[rack]), key=lambda x: (-whole[x], x))
        chosen, total = [], 0
        for rack in order:
            chosen.append(rack)
            total += whole[rack]
            if total >= k:
                break
        return chosen

    @staticmethod
    def _partial_in(racks: list[int], cluster: ClusterView, r: int, n: int) -> int | None:
        """Tightest partly used node with at least ``r`` free GPUs in ``racks``; ties -> lowest id."""
        best: tuple[int, int] | None = None
        free = cluster.free
        for rack in racks:
            for m in cluster.rack_nodes[rack]:
                f = free[m]
                if r <= f < n and (best is None or (f, m) < best):
                    best = (f, m)
        return best[1] if best is not None else None


def link_share(network: NetworkView, links: Sequence[int]) -> float:
    """The share per hop (bits/s) a new flow over ``links`` can expect now, by the links' capacity and load.

    On a link of capacity C carrying load L from n crossings, a flow crossing it c times
    gets at least its fair part C / (n + c) per crossing, and the spare capacity (C - L) / c
    when that is more; the flow's share is the least over its links. An estimate: max-min
    may give it more where the other flows are held back elsewhere. A flow with no links
    has an infinite share. Cost O(links).
    """
    if not links:
        return math.inf
    counts = Counter(links)
    cap, load, crossings = network.capacity, network.load, network.crossings
    return min(max((cap[x] - load[x]) / c, cap[x] / (crossings[x] + c)) for x, c in counts.items())


def expected_slowdown(network: NetworkView, communication: tuple[str, float, float], nodes: Sequence[int]) -> float:
    """A job's expected network slowdown on ``nodes`` now: its step at :func:`link_share` over its step on the NICs.

    The step takes ``c + V / r`` at a share ``r`` per hop and ``c + V / B`` at the NICs' speed
    ``B`` (the flow model of :mod:`dcsim.engine.network`, on the reference GPU); at least 1.
    Cost O(the flow's links).
    """
    pattern, size, compute = communication
    links, _, factor, phases = network.links(pattern, nodes)
    if not links:
        return 1.0
    bits = size * factor * 8.0 * phases
    nominal = network.nominal_share(links)
    share = min(link_share(network, links), nominal)
    return (compute + bits / share) / (compute + bits / nominal) if share > 0 else math.inf


def uplink_headroom(network: NetworkView | None, rack: int) -> float:
    """The share a new crossing of a rack's uplinks can expect now, bits/s (the lesser way; inf without a network)."""
    if network is None:
        return math.inf
    cap, load, crossings = network.capacity, network.load, network.crossings
    return min(max(cap[x] - load[x], cap[x] / (crossings[x] + 1)) for x in network.uplinks(rack))  # link_share, c = 1


def communicates(job: JobView) -> bool:
    """True if the job's class has a communication profile with traffic (a pattern other than ``none``)."""
    comm = job.communication
    return comm is not None and comm[0] != "none"


@PLACEMENT.register("network_aware")
class NetworkAware(RackPack):
    """Communicating multi-node jobs in one rack, else the fewest racks with the least loaded uplinks; others best fit.

    A multi-node job whose class communicates goes into the fullest rack that holds it (its
    traffic then stays on the NICs); when no rack does, onto the fewest racks that hold it,
    chosen so that the least headroom among their uplink bundles (:func:`uplink_headroom`:
    the share a new crossing can expect, from the bundle's capacity, load and flows) is the
    most, its nodes grouped by rack, the rack with the most whole free nodes first. Jobs on
    one node and jobs without traffic take the best fit, which fills partly used nodes and
    the lowest-id whole nodes, leaving whole racks and quiet uplinks to the jobs that
    communicate. Without a network (no class communicates) there is no load to read: every
    multi-node job is placed for locality alone, as ``rack_pack`` places it. Ties -> the
    rack with the most whole free nodes, then the lowest id. Cost per multi-node try
    O(racks log racks + nodes of the chosen racks) in a pool.
    """

    Params = _PreferParams

    def place_among(self, job: JobView, cluster: ClusterView, pools: Sequence[int] | None = None) -> Placement | None:
        """Locality and uplink headroom for a communicating job; best fit for the others (see the class)."""
        if cluster.network is not None and not communicates(job):
            best: tuple[float, int, Placement] | None = None
            for pool in job.pools if pools is None else pools:
                found = place_in_pool(cluster, pool, job.gpus, _TIGHTEST)
                if found is not None and (best is None or (found[1], found[0][0][0]) < best[:2]):
                    best = (found[1], found[0][0][0], found[0])
            return best[2] if best is not None else None
        return super().place_among(job, cluster, pools)

    def _fewest_racks(self, cluster: ClusterView, racks: Sequence[int], k: int) -> list[int]:
        """The fewest racks holding ``k`` whole free nodes whose least uplink headroom is the most.

        The fewest is ``m``: the racks with the most whole free nodes reach ``k`` with ``m``. Then
        racks are taken by headroom, most first, keeping the ``m`` with the most whole free nodes
        seen so far: the first time those hold ``k``, no set of ``m`` racks has a higher least
        headroom. Returned the rack with the most whole free nodes first (its nodes first).
        """
        whole = cluster.rack_whole_free
        usable = [rack for rack in racks if whole[rack]]
        sizes = sorted((whole[rack] for rack in usable), reverse=True)
        m, total = 0, 0
        while total < k:
            total += sizes[m]
            m += 1
        network = cluster.network
        head = {rack: uplink_headroom(network, rack) for rack in usable}
        kept: list[tuple[int, int]] = []  # min-heap of (whole free nodes, -rack): the m largest so far
        total = 0
        for rack in sorted(usable, key=lambda x: (-head[x], -whole[x], x)):
            heappush(kept, (whole[rack], -rack))
            total += whole[rack]
            if len(kept) > m:
                total -= heappop(kept)[0]
            if len(kept) == m and total >= k:
                break
        return sorted((-neg for _, neg in kept), key=lambda x: (-whole[x], x))


@PLACEMENT.register("spread")
class Spread(_BuiltIn):
    """Multi-node jobs one whole node per rack over as many racks as hold one; single-node jobs best fit.

    Whole nodes are taken one at a time from the rack that holds the fewest of the job's
    nodes so far (ties -> the most whole free nodes left, then the lowest rack id), so the
    job spans min(its nodes, racks with a whole free node) racks, its nodes as even over
    them as they allow; a remainder of fewer GPUs than a
    node goes to the tightest partly used node of a rack it does not use yet (else of one
    it uses, else one more whole node). For fault isolation: a rack failure takes fewer of
    the job's nodes (the job still stops: its GPUs run as a gang). Across the job's pools:
    most racks, then the lowest first node. Cost per multi-node try O(racks + k log racks
    + nodes of the partly used buckets) in a pool, for k nodes.
    """

    Params = _PreferParams

    def place_among(self, job: JobView, cluster: ClusterView, pools: Sequence[int] | None = None) -> Placement | None:
        """The spread placement over ``pools`` (default: the job's): most racks, then the lowest first node."""
        best: tuple[int, int, Placement] | None = None
        for pool in job.pools if pools is None else pools:
            n = cluster.pools[pool].gpus_per_node
            if job.gpus <= n:
                found = place_in_pool(cluster, pool, job.gpus, _TIGHTEST)
                placement = found[0] if found is not None else None
            else:
                placement = self._spread(cluster, pool, job.gpus, n)
            if placement is None:
                continue
            key = (-len({cluster.node_rack[m] for m, _ in placement}), placement[0][0])
            if best is None or key < best[:2]:
                best = (*key, placement)
        return best[2] if best is not None else None

    @staticmethod
    def _spread(cluster: ClusterView, pool: int, gpus: int, n: int) -> Placement | None:
        """``gpus`` GPUs of ``pool`` over as many racks as possible, or None if they do not fit."""
        if cluster.pool_free[pool] < gpus:
            return None
        k, r = divmod(gpus, n)
        whole_total = cluster.count(pool, n)
        if whole_total < k:
            return None
        partial = None
        if r:
            nodes_by_free = [cluster.nodes_in_bucket(pool, f) for f in range(r, n)]
            if whole_total == k and not any(nodes_by_free):
                return None
        free, rack_nodes, whole = cluster.free, cluster.rack_nodes, cluster.rack_whole_free
        # (the job's nodes in the rack so far, -whole free nodes left there, rack, next position in its nodes)
        heap = [(0, -whole[rack], rack, 0) for rack in cluster.pools[pool].racks if whole[rack]]
        heapify(heap)
        taken: list[int] = []
        used: set[int] = set()

        def next_whole() -> int:
            mine, left, rack, at = heappop(heap)
            members = rack_nodes[rack]
            while free[members[at]] != n:
                at += 1
            used.add(rack)
            if left < -1:
                heappush(heap, (mine + 1, left + 1, rack, at + 1))
            return members[at]

        while len(taken) < k:
            taken.append(next_whole())
        placement: Placement = [(m, n) for m in taken]
        if r:
            rack_of = cluster.node_rack
            for nodes in nodes_by_free:  # tightest first: a rack not used yet, else any
                partial = next((m for m in nodes if rack_of[m] not in used), None)
                if partial is not None:
                    break
            if partial is None:
                partial = next((nodes[0] for nodes in nodes_by_free if nodes), None)
            if partial is None:  # one more whole node, by the same rule
                partial = next_whole()
            placement.append((partial, r))
        return placement


# The FGD study's rules for GPU sharing (dcsim.policies.sharing); BestFit is best_fit's choose.
for _name, _rule in SHARING_RULES.items():
    PLACEMENT.register(_name)(_rule)
