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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from dcsim.core.registry import Registry, lacks_methods
from dcsim.infra.cluster import Placement
from dcsim.views import ClusterView, JobView

if TYPE_CHECKING:
    import numpy as np


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


@PLACEMENT.register("first_fit")
class FirstFit(_BuiltIn):
    """The lowest-id node(s) with room: for whole nodes the lowest free ones. Cost O(n log N) per try."""

    Params = _PreferParams

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
class BestFit(_Fit):
    """Pack: the node with the fewest free GPUs that still fit; ties -> lowest id. Cost O(n log N)."""

    class Params(_FitParams):
        """Best fit packs: positive weight."""

        gpu_weight: float = Field(1.0, description=">0 packs (fewest free GPUs left), <0 spreads")


@PLACEMENT.register("worst_fit")
class WorstFit(_Fit):
    """Spread: the node with the most free GPUs; ties -> lowest id. Cost O(n log N)."""

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
        if best_rack >= 0:
            chosen = [best_rack]
        else:  # Fewest racks: take the racks with the most whole free nodes first.
            order = sorted((rack for rack in racks if whole[rack]), key=lambda x: (-whole[x], x))
            chosen, total = [], 0
            for rack in order:
                chosen.append(rack)
                total += whole[rack]
                if total >= k:
                    break
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
