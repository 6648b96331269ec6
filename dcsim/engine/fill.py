"""The fill experiment of the FGD study: pods arrive and stay until their GPU requests fill the cluster.

Weng et al., "Beware of Fragmentation" (ATC'23), section 6: pods arrive one after another
with no departures; each is placed at once by the placement policy or fails (it is counted
and dropped: no queue, no retry), until the GPU capacity the arrived pods asked for reaches
``until`` times the cluster's (the paper goes to 130 %). The allocation rate (milli-GPU
allocated / installed) and the fragmentation (FGD's F(M), milli-GPU / installed) are
recorded after every pod against the arrived share, the curve of the paper's Figure 9(a).

No SimPy: arrivals alone, no clock. Pods come from

- ``pods`` (shapes and shares): drawn independently from the shapes' distribution;
- ``trace`` with ``order: sampled``: as the authors' experiments do
  (``pkg/simulator/simulator.go``: ``SortClusterPods`` with ``shufflePod``, then
  ``tuneUpPods``), every pod of the trace once in a random order, then pods drawn with
  replacement from the trace until the requests reach ``until``;
- ``trace`` with ``order: trace``: in the file's order, until ``until`` or the file ends.

The run stops before the first pod whose request would take the arrived GPU requests
above ``until`` x capacity (the authors' ``tuneUpPods`` rule). Randomness comes from the
stream ``arrivals.fill``; the policy gets ``policy.placement`` (:mod:`dcsim.core.rng`).

Cost: one ``choose`` per pod (the policy's cost) plus O(1) bookkeeping and a
fragmentation update of the chosen node (O(1) for a node state seen before).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dcsim.core.rng import stream
from dcsim.infra.fragmentation import FragmentationTracker, Shape, typical_shapes
from dcsim.infra.shares import WHOLE, Demand, Shares, mib, milli_cpu
from dcsim.scenario.schema import Scenario
from dcsim.workload.openb import OpenbPods, read_pods
from dcsim.workload.spec import Fill, FillPods

TRACE_POPULARITY = 0.95
"""Share of a trace's pods its fragmentation shapes cover (the FGD study's ``--pod-popularity-threshold 95``)."""
CURVE_STEP = 5
"""Percent of GPU capacity between the points of the summary's curve (``fill.allocation_rate_by_arrived``)."""


@dataclass
class Cluster:
    """A fill run's nodes: their free resources and their GPU types by name."""

    shares: Shares
    type_index: dict[str, int]


def build_shares(scenario: Scenario) -> Cluster:
    """Shares of the scenario's nodes, ids in the topology's order (sites, rack groups, racks, nodes).

    A node without ``cpu`` (``memory``) gets none: the checks refuse a fill whose pods ask
    for CPU (memory) on a data center that does not say it.
    """
    types = sorted({g.node.gpu_type for s in scenario.datacenter.sites for g in s.groups if g.node.gpus > 0})
    index = {t: i for i, t in enumerate(types)}
    cpu: list[int] = []
    memory: list[int] = []
    gpus: list[int] = []
    kind: list[int] = []
    for site in scenario.datacenter.sites:
        for group in site.groups:
            node = group.node
            n = group.racks * group.nodes_per_rack
            cpu += [milli_cpu(node.cpu or 0.0)] * n
            memory += [mib(node.memory or 0.0)] * n
            gpus += [node.gpus] * n
            kind += [index[node.gpu_type] if node.gpus else -1] * n
    return Cluster(Shares(cpu, memory, gpus, kind, types or ["gpu"]), index)


# --------------------------------------------------------------------------- pod sources
def _choice(spec: Any, default: float) -> list[tuple[float, float]]:
    """(value, probability) of a number or a {values, weights} choice."""
    if spec is None:
        return [(default, 1.0)]
    if isinstance(spec, int | float):
        return [(float(spec), 1.0)]
    weights = spec.weights or [1.0] * len(spec.values)
    total = float(sum(weights))
    return [(float(v), w / total) for v, w in zip(spec.values, weights, strict=True) if w > 0]


def pod_shapes(pods: Sequence[FillPods], type_index: dict[str, int]) -> list[Shape]:
    """The shapes of a ``pods`` list and their probabilities (shares x value weights), equal shapes merged.

    Order: as written (pod entry, then GPU count, then fraction), so draws are stable.
    """
    total = sum(p.share for p in pods)
    weights: dict[tuple[Demand, frozenset[int] | None], float] = {}
    for p in pods:
        types = frozenset(type_index[t] for t in p.gpu_types) if p.gpu_types is not None else None
        for g, pg in _choice(p.gpus, 0):
            for f, pf in _choice(p.gpu_fraction if g == 1 else None, 1.0):
                demand = Demand.of(p.cpu, p.memory, int(g), f)
                key = (demand, types if demand.gpus else None)
                weights[key] = weights.get(key, 0.0) + p.share / total * pg * pf
    return [Shape(d, w, t) for (d, t), w in weights.items()]


def without_memory(shapes: Sequence[Shape]) -> list[Shape]:
    """The shapes as fragmentation measures them: without memory (as the authors' typical pods), equal ones merged."""
    weights: dict[tuple[Demand, frozenset[int] | None], float] = {}
    for s in shapes:
        key = (s.demand._replace(memory=0), s.gpu_types)
        weights[key] = weights.get(key, 0.0) + s.weight
    return [Shape(d, w, t) for (d, t), w in weights.items()]


def trace_types(pods: OpenbPods, type_index: dict[str, int]) -> list[frozenset[int] | None]:
    """Each pod's allowed GPU types as indices (None: any; types the data center lacks are left out)."""
    cache: dict[tuple[str, ...], frozenset[int]] = {}
    out: list[frozenset[int] | None] = []
    for spec in pods.gpu_spec:
        if spec is None:
            out.append(None)
            continue
        if spec not in cache:
            cache[spec] = frozenset(type_index[t] for t in spec if t in type_index)
        out.append(cache[spec])
    return out


def _draws(rng: np.random.Generator, n: int, p: np.ndarray | None = None) -> Iterator[int]:
    """Endless i.i.d. indices below ``n`` (probabilities ``p``), drawn in blocks."""
    while True:
        yield from rng.choice(n, size=4096, p=p).tolist()


def pod_order(fill: Fill, n: int, weights: np.ndarray | None, rng: np.random.Generator) -> Iterator[int]:
    """Indices of the pods (trace rows, or shapes of ``pods``) in arrival order; may be endless."""
    if fill.trace is None:
        return _draws(rng, n, weights)
    if fill.trace.order == "trace":
        return iter(range(n))

    def sampled() -> Iterator[int]:
        yield from rng.permutation(n).tolist()
        yield from _draws(rng, n)

    return sampled()


# --------------------------------------------------------------------------- the run
@dataclass
class FillRun:
    """What one fill run recorded, one entry per arrived pod (column-wise).

    Attributes:
        shares: the final state.
        capacity: milli-GPU installed.
        pod: the pod's row in the trace (or its shape's index in ``shapes``).
        request: milli-GPU the pod asked for.
        node: the node it got (-1: it failed).
        arrived: GPU requests arrived so far (this pod's too) / capacity.
        allocated: milli-GPU allocated after it / capacity.
        fragmentation: the cluster's fragmentation after it / capacity.
        shapes: the workload's shapes fragmentation is measured against.
        exhausted: the trace ended before the requests reached ``until``.
        initial_fragmentation: of the empty cluster / capacity.
    """

    shares: Shares
    capacity: int
    pod: np.ndarray
    request: np.ndarray
    node: np.ndarray
    arrived: np.ndarray
    allocated: np.ndarray
    fragmentation: np.ndarray
    shapes: list[Shape]
    exhausted: bool = False
    initial_fragmentation: float = 0.0

    @property
    def placed(self) -> np.ndarray:
        """True for each pod that was placed."""
        return self.node >= 0

    def at(self, share: float, column: np.ndarray, start: float = 0.0) -> float:
        """``column`` once the arrived requests reached ``share`` of capacity: after the last pod at or below it.

        ``start``: its value before the first pod.
        """
        k = int(np.searchsorted(self.arrived, share + 1e-12, side="right"))
        return float(column[k - 1]) if k else start


def candidates(shares: Shares, demand: Demand, types: frozenset[int] | None) -> list[int]:
    """The nodes a pod may go to: with enough GPUs of an allowed type (any node for a CPU-only pod)."""
    if demand.gpus == 0:
        return list(range(len(shares)))
    kind, gpus = shares.gpu_type, shares.gpus
    return [n for n in range(len(shares)) if gpus[n] >= demand.gpus and (types is None or kind[n] in types)]


def run_fill(scenario: Scenario, seed: int, policy: Any) -> FillRun:
    """Run the scenario's fill experiment with ``policy`` (an object with ``choose``).

    Args:
        scenario: a validated scenario with ``workload.fill``.
        seed: the run seed.
        policy: the placement policy: ``choose(demand, shares, nodes) -> (node, gpus) | None``,
            and ``bind_shapes(shapes)`` if it has one (called once, before the first pod).
    """
    fill = scenario.workload.fill
    assert fill is not None
    cluster = build_shares(scenario)
    shares = cluster.shares
    if fill.trace is not None:
        from dcsim.workload.distributions import resolve

        pods = read_pods(resolve(scenario.base_dir, fill.trace.path))
        demands = pods.demands()
        kinds = trace_types(pods, cluster.type_index)
        shapes = typical_shapes(zip(demands, kinds, strict=True), popularity=TRACE_POPULARITY)
        order = pod_order(fill, len(demands), None, stream(seed, "arrivals.fill"))
    else:
        all_shapes = pod_shapes(fill.pods or [], cluster.type_index)
        demands = [s.demand for s in all_shapes]
        kinds = [s.gpu_types for s in all_shapes]
        weights = np.array([s.weight for s in all_shapes])
        shapes = without_memory(all_shapes)
        order = pod_order(fill, len(demands), weights / weights.sum(), stream(seed, "arrivals.fill"))
    bind = getattr(policy, "bind_shapes", None)
    if bind is not None:
        bind(shapes)
    tracker = FragmentationTracker(shares, shapes)
    capacity = shares.total_gpu
    initial = tracker.total / capacity
    limit = fill.until * capacity
    nodes_for: dict[tuple[int, frozenset[int] | None], list[int]] = {}
    rec_pod: list[int] = []
    rec_req: list[int] = []
    rec_node: list[int] = []
    rec_used: list[int] = []
    rec_frag: list[float] = []
    arrived_total = 0
    exhausted = True  # the pods ran out (a trace in its order) before the requests reached `until`
    choose = policy.choose
    for i in order:
        demand = demands[i]
        request = demand.gpu_total
        if arrived_total + request > limit:
            exhausted = False
            break
        arrived_total += request
        key = (demand.gpus, kinds[i])
        nodes = nodes_for.get(key)
        if nodes is None:
            nodes = nodes_for[key] = candidates(shares, demand, kinds[i])
        choice = choose(demand, shares, nodes) if nodes else None
        node = -1
        if choice is not None:
            node, gpus = choice
            shares.allocate(node, demand, gpus)
            tracker.update(node)
        rec_pod.append(i)
        rec_req.append(request)
        rec_node.append(node)
        rec_used.append(shares.gpu_used)
        rec_frag.append(tracker.total)
    request_a = np.array(rec_req, dtype=np.int64)
    return FillRun(
        shares=shares,
        capacity=capacity,
        pod=np.array(rec_pod, dtype=np.int64),
        request=request_a,
        node=np.array(rec_node, dtype=np.int64),
        arrived=np.cumsum(request_a) / capacity,
        allocated=np.array(rec_used, dtype=np.int64) / capacity,
        fragmentation=np.array(rec_frag, dtype=float) / capacity,
        shapes=list(shapes),
        exhausted=exhausted,
        initial_fragmentation=initial,
    )


def describe_fill(scenario: Scenario) -> str:
    """The fill experiment in a sentence: the cluster, the pods, where it stops."""
    fill = scenario.workload.fill
    assert fill is not None
    shares = build_shares(scenario).shares
    if fill.trace is not None:
        pods = f"the pods of {fill.trace.path} ({'in its order' if fill.trace.order == 'trace' else 'sampled'})"
    else:
        pods = f"pods of {len(fill.pods or [])} kind(s)"
    return (f"{shares.total_gpu // WHOLE:,} GPUs on {len(shares):,} nodes; a fill experiment: {pods} arrive and "
            f"stay until their GPU requests reach {100 * fill.until:g} % of GPU capacity, placed by "
            f"{scenario.policies.placement.name}")  # fmt: skip


def curve_points(until: float) -> list[int]:
    """The arrived shares (percent) of the summary's curve: 0, 5, ... up to ``until``."""
    return list(range(0, round(until * 100) + 1, CURVE_STEP))


def fill_summary(run: FillRun, fill: Fill) -> dict[str, Any]:
    """The ``fill`` block of a run summary, and the utilization figures it sets."""
    shares = run.shares
    placed = run.placed
    failed_request = int(run.request[~placed].sum())
    final_alloc = float(run.allocated[-1]) if len(run.allocated) else 0.0
    return {
        "pods_arrived": len(run.pod),
        "pods_placed": int(placed.sum()),
        "pods_failed": int((~placed).sum()),
        "arrived_share": float(run.arrived[-1]) if len(run.arrived) else 0.0,
        "allocation_rate": final_alloc,
        "allocation_rate_at_100": run.at(1.0, run.allocated),
        "gpu_fragmentation_at_100": run.at(1.0, run.fragmentation, run.initial_fragmentation),
        "gpu_fragmentation_at_0": run.initial_fragmentation,
        "unallocated_gpus": (shares.total_gpu - shares.gpu_used) / WHOLE,
        "failed_gpu_share": failed_request / run.capacity,
        "allocation_rate_by_arrived": {str(p): run.at(p / 100, run.allocated) for p in curve_points(fill.until)},
    }


__all__ = [
    "CURVE_STEP", "TRACE_POPULARITY", "Cluster", "FillRun", "build_shares", "candidates", "curve_points",
    "describe_fill", "fill_summary", "pod_order", "pod_shapes", "run_fill", "trace_types", "without_memory",
]  # fmt: skip
