"""GPU fragmentation as the FGD study defines it (Weng et al., "Beware of Fragmentation", ATC'23).

A node's fragmentation measured by one request shape is the idle GPU capacity on it that a
request of that shape cannot use; against a workload (shapes with their popularity) it is
the popularity-weighted sum, F_n(M). The cluster's is the sum over nodes. All in milli-GPU.

The definition follows the authors' simulator (hkust-adsl/kubernetes-scheduler-simulator,
``pkg/utils/frag.go``: ``GetNodePodFrag`` sorts a (node, shape) pair into a category and
``NodeGpuShareFragAmount`` weighs the node's idle milli-GPU by it):

- the shape asks for no GPU (their ``XLSatisfied`` / ``XRLackCPU``): all idle GPU capacity
  is a fragment for it, since it uses none;
- the node's GPU type is not one the shape may run on (``NoAccess``): all of it;
- the shape's CPU does not fit (``Q4LackCpu``, ``Q1LackBoth``) or its GPUs do not (fewer than
  ``gpus`` GPUs with ``gpu_milli`` free each: ``Q2LackGpu``): all of it;
- it fits (``Q3Satisfied``): the GPUs whose residual is below the shape's ``gpu_milli``
  (a whole-GPU shape cannot use a partly taken GPU; a share cannot use a residual smaller
  than itself).

Where we differ: the authors' ``PodResource`` has no memory, so their fragmentation ignores
it; here a shape whose memory does not fit the node's free memory counts like one whose
CPU does not (all idle GPU capacity is a fragment for it). :func:`typical_shapes` builds
shapes without memory by default, and then the two agree.

:func:`typical_shapes` builds the workload's shapes from its requests as the authors'
``GetTypicalPods`` does: count each distinct request, most popular first, keep the most
popular ones up to a share of all requests, and renormalise their weights to sum to 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from dcsim.infra.shares import Demand, Shares

#: A node's free state with its GPU type: (free milli-CPU, free MiB, GPU residuals largest
#: first, GPU type index). Fragmentation depends on nothing else.
StateKey = tuple[int, int, tuple[int, ...], int]


class Shape(NamedTuple):
    """One request shape of the workload and its popularity.

    Attributes:
        demand: what a request of this shape needs.
        weight: its popularity (the shapes' weights sum to 1).
        gpu_types: GPU type indices (``Shares.gpu_type``) it may run on; None: any.
    """

    demand: Demand
    weight: float
    gpu_types: frozenset[int] | None = None


def fragmentation_of(key: StateKey, shapes: Sequence[Shape]) -> float:
    """F_n(M) of a node in the free state ``key``: milli-GPU idle that a request drawn from ``shapes`` cannot use.

    Cost: O(shapes x GPUs of the node).

    Args:
        key: (free milli-CPU, free MiB, GPU residuals in milli-GPU, GPU type index).
        shapes: the workload's request shapes with their weights.
    """
    cpu, memory, residuals, gpu_type = key
    idle = sum(residuals)
    if idle == 0:
        return 0.0
    frag = 0.0
    for demand, weight, types in shapes:
        milli = demand.gpu_milli
        if (
            demand.gpus == 0
            or (types is not None and gpu_type not in types)
            or demand.cpu > cpu
            or demand.memory > memory
            or sum(1 for r in residuals if r >= milli) < demand.gpus
        ):
            frag += weight * idle
        else:
            frag += weight * sum(r for r in residuals if r < milli)
    return frag


def node_fragmentation(shares: Shares, node: int, shapes: Sequence[Shape]) -> float:
    """F_n(M): expected milli-GPU of ``node`` idle that a request drawn from ``shapes`` cannot use.

    Cost: O(shapes x GPUs of the node).
    """
    return fragmentation_of(state_key(shares, node), shapes)


def after(key: StateKey, demand: Demand, residuals: Sequence[int], gpus: Sequence[int]) -> StateKey:
    """The state key once ``demand`` is taken on GPUs ``gpus`` (indices into ``residuals``, the node's in GPU order)."""
    left = list(residuals)
    for i in gpus:
        left[i] -= demand.gpu_milli
    return (key[0] - demand.cpu, key[1] - demand.memory, tuple(sorted(left, reverse=True)), key[3])


def state_key(shares: Shares, node: int) -> StateKey:
    """The node's free state and GPU type, all F_n(M) depends on."""
    cpu, memory, residuals = shares.state(node)
    return (cpu, memory, residuals, shares.gpu_type[node])


class FragmentationCache:
    """F_n(M) of node states against one workload's shapes, each state computed once.

    Args:
        shapes: the workload's request shapes.
    """

    def __init__(self, shapes: Sequence[Shape]) -> None:
        self.shapes: tuple[Shape, ...] = tuple(shapes)
        self._values: dict[StateKey, float] = {}

    def __len__(self) -> int:
        return len(self._values)

    def of(self, key: StateKey) -> float:
        """F_n(M) of a node in state ``key``: O(1) for a state seen before, else O(shapes x GPUs)."""
        value = self._values.get(key)
        if value is None:
            value = self._values[key] = fragmentation_of(key, self.shapes)
        return value

    def delta(self, key: StateKey, demand: Demand, residuals: Sequence[int], gpus: Sequence[int]) -> float:
        """The change of F_n(M) from state ``key`` if ``demand`` took GPUs ``gpus`` (indices into ``residuals``)."""
        return self.of(after(key, demand, residuals, gpus)) - self.of(key)


class FragmentationTracker:
    """The cluster's fragmentation kept current as nodes change; cost O(1) per change for a node state seen before.

    F_n(M) is cached by the node's free state and GPU type (:data:`StateKey`; a node's
    capacities do not enter F_n(M)): nodes in the same state share one entry, so in a
    cluster of few node kinds the cache stays small. A state not seen before costs
    O(shapes x GPUs of the node) once.

    ``total`` is a running float sum (one addition per change), so after many changes it
    may differ from the exact sum of the nodes' values by rounding (relative 1e-12).

    Args:
        shares: the live state (read only).
        shapes: the workload's request shapes.
    """

    def __init__(self, shares: Shares, shapes: Sequence[Shape]) -> None:
        self.shares = shares
        self.cache = FragmentationCache(shapes)
        #: F_n(M) of each node now (milli-GPU).
        self.node: list[float] = [self.cache.of(state_key(shares, n)) for n in range(len(shares))]
        #: Milli-GPU of fragmentation over all nodes now.
        self.total: float = sum(self.node)

    def update(self, node: int) -> None:
        """Call after ``node``'s state changed (an allocate or release on it)."""
        value = self.cache.of(state_key(self.shares, node))
        self.total += value - self.node[node]
        self.node[node] = value

    def delta(self, node: int, demand: Demand, gpus: Sequence[int]) -> float:
        """The change of F_n(M) if ``demand`` were allocated on ``node``'s GPUs ``gpus`` (FGD's score).

        ``gpus`` are GPU indices on the node, as :meth:`Shares.allocate` takes them; the
        demand is assumed to fit there (not checked). Shares is not changed.
        """
        return self.cache.delta(state_key(self.shares, node), demand, self.shares.residuals(node), gpus)


def typical_shapes(
    demands: Iterable[Demand | tuple[Demand, frozenset[int] | None]],
    popularity: float = 1.0,
    include_cpu_only: bool = True,
    with_memory: bool = False,
) -> list[Shape]:
    """The workload's request shapes and their popularity, from its requests (the authors' ``GetTypicalPods``).

    Equal requests (same demand and allowed GPU types) count as one shape; shapes are
    ranked by count, the most popular first (equal counts: the larger demand first, as
    the authors' reversed sort orders them), and kept one at a time until they cover
    ``popularity`` of all requests (the authors' ``podIncreaseStep`` 1); the kept
    weights are renormalised to sum to 1.

    The FGD study's runs use ``popularity`` 0.95 with CPU-only pods included
    (``scripts/generate_config_and_run.py``: ``--pod-popularity-threshold 95``,
    ``--is-involved-cpu-pods true``); the default here keeps every shape.

    Args:
        demands: each request's demand, or (demand, allowed GPU type indices or None).
        popularity: share of requests (0 to 1] the kept shapes must cover.
        include_cpu_only: count requests without GPUs (the authors' ``isInvolvedCpuPods``).
        with_memory: keep each request's memory in its shape. False (the authors'): the
            shapes ask for no memory, so requests differing only in memory are one shape
            and fragmentation ignores memory, as in their simulator.

    Returns:
        The shapes, most popular first, weights summing to 1 (empty for no requests).

    Raises:
        ValueError: if ``popularity`` is not in (0, 1].
    """
    if not 0.0 < popularity <= 1.0:
        raise ValueError(f"popularity {popularity} must be in (0, 1]")
    counts: Counter[tuple[Demand, frozenset[int] | None]] = Counter()
    for item in demands:
        demand, types = (item, None) if isinstance(item, Demand) else item
        if demand.gpus == 0 and not include_cpu_only:
            continue
        if not with_memory:
            demand = demand._replace(memory=0)
        counts[(demand, types)] += 1
    total = sum(counts.values())
    if total == 0:
        return []
    ranked = sorted(counts.items(), key=lambda kv: (kv[1], _order(kv[0])), reverse=True)
    kept: list[tuple[tuple[Demand, frozenset[int] | None], int]] = []
    covered = 0
    for item, count in ranked:
        if covered >= popularity * total:
            break
        kept.append((item, count))
        covered += count
    return [Shape(demand, count / covered, types) for (demand, types), count in kept]


def _order(item: tuple[Demand, frozenset[int] | None]) -> tuple[int, int, int, int, tuple[int, ...]]:
    """The authors' ``PodResource.Less`` (CPU, milli-GPU, GPU count, type), memory (they have none) before type."""
    demand, types = item
    return (demand.cpu, demand.gpu_milli, demand.gpus, demand.memory, tuple(sorted(types)) if types else ())


__all__ = [
    "FragmentationCache",
    "FragmentationTracker",
    "Shape",
    "StateKey",
    "after",
    "fragmentation_of",
    "node_fragmentation",
    "state_key",
    "typical_shapes",
]
