"""GPU sharing in the event engine: when a run needs it, each job's demand, and placement by ``choose``.

A run *shares* (:func:`uses_sharing`) when a node declares CPU or memory or has no GPUs, a job
class asks for CPU, memory, a share of a GPU or no GPU, or the placement policy is a sharing
policy (``choose`` without ``place``). It then runs on a :class:`~dcsim.infra.sharing.SharedCluster`,
every job carries a :class:`~dcsim.infra.shares.Demand` (``job.demand``) and, once placed, its
slots (``job.slots``: node, demand there, GPU indices), and placement goes through
:class:`SharingPlacer`. A service replica is placed and held the same way (its service's ``cpu``,
``memory`` and ``gpu_fraction``: :func:`replica_demand`):

- a request that fits one node (a share, a CPU-only job, whole GPUs up to a node's) goes to the
  policy's ``choose(demand, shares, nodes)``, ``nodes`` the candidate nodes of the job's pools;
  a rule without ``choose`` places shares and CPU-only jobs by first fit, whole GPUs by ``place``;
- whole GPUs over several nodes go to the policy's ``place`` (first fit's for a sharing policy)
  with CPU and memory checked: a node of its answer short of either is hidden from the rule and
  it is asked again (each try hides at least one more node). A job of ``g`` GPUs takes, on a node
  where it holds ``k``, ``k / g`` of its CPU and memory (in milli-CPU and MiB, the remainder on its
  last node).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dcsim.core.errors import PlacementError
from dcsim.core.rng import stream
from dcsim.infra.shares import WHOLE, Demand, mib, milli_cpu
from dcsim.infra.sharing import NodeSet, SharedCluster, Slot
from dcsim.infra.topology import Topology
from dcsim.workload.sharing import class_shares, is_sharing_policy, uses_sharing

Placement = list[tuple[int, int]]

_CHUNK = 1024
"""Shares of a GPU drawn at a time (one numpy call per chunk)."""


def fraction_sampler(spec: Any) -> Callable[[np.random.Generator], int] | None:
    """A draw of a class's share of a GPU in milli-GPU (None: whole GPUs)."""
    if spec is None:
        return None
    if isinstance(spec, float | int):
        milli = round(float(spec) * WHOLE)
        return lambda rng: milli
    values = np.array([round(v * WHOLE) for v in spec.values], dtype=np.int64)
    weights = np.asarray(spec.weights if spec.weights is not None else [1.0] * len(values), dtype=float)
    p = weights / weights.sum()
    if len(values) == 1:
        only = int(values[0])
        return lambda rng: only
    drawn: list[int] = []

    def draw(rng: np.random.Generator) -> int:  # drawn a chunk at a time (one numpy call per chunk)
        if not drawn:
            drawn.extend(reversed(values[rng.choice(len(values), _CHUNK, p=p)].tolist()))
        return drawn.pop()

    return draw


class ClassDemand:
    """The demand of each job of one class: fixed CPU and memory, a share of a GPU drawn per job.

    The share draws from the class's own stream ``gpu_fractions.<class>``, so no other draw changes.
    """

    def __init__(self, cls: Any, seed: int) -> None:
        self.cpu = milli_cpu(cls.cpu or 0.0)
        self.memory = mib(cls.memory or 0.0)
        self.fraction = fraction_sampler(cls.gpu_fraction)
        self.rng = stream(seed, f"gpu_fractions.{cls.name}") if self.fraction is not None else None

    def __call__(self, gpus: int) -> Demand:
        """The demand of a new job of ``gpus`` GPUs."""
        if gpus == 0:
            return Demand(self.cpu, self.memory, 0, 0)
        milli = self.fraction(self.rng) if self.fraction is not None else WHOLE
        return Demand(self.cpu, self.memory, gpus, milli)


def replica_demand(service: Any) -> Demand:
    """A replica's demand: its service's ``cpu``, ``memory``, GPUs and ``gpu_fraction`` (whole GPUs if none)."""
    milli = WHOLE if service.gpu_fraction is None else round(service.gpu_fraction * WHOLE)
    return Demand(milli_cpu(service.cpu or 0.0), mib(service.memory or 0.0), service.gpus_per_replica, milli)


def trace_demands(table: Any) -> list[Demand]:
    """Each trace job's demand, in the table's order: its ``cpu``, ``memory`` and ``gpu_fraction`` columns' values."""
    n = len(table)
    zero = np.zeros(n, dtype=np.int64)
    # Rounded down as milli_cpu and mib round a class's request and a node's capacity.
    cpu = np.floor(table.cpu * 1000 + 1e-6).astype(np.int64) if table.cpu is not None else zero
    mem = np.floor(table.memory / 2**20 + 1e-9).astype(np.int64) if table.memory is not None else zero
    gpus = table.gpus.astype(np.int64)
    milli = np.full(n, WHOLE, dtype=np.int64) if table.gpu_fraction is None else np.rint(table.gpu_fraction * WHOLE)
    milli = np.where(gpus == 0, 0, milli).astype(np.int64)
    return [Demand(*row) for row in zip(cpu.tolist(), mem.tolist(), gpus.tolist(), milli.tolist(), strict=True)]


def split(demand: Demand, placement: Placement, cluster: SharedCluster) -> tuple[Slot, ...]:
    """A whole-GPU job's slots on ``placement``: CPU and memory in proportion to its GPUs on each node.

    Each node's lowest wholly free GPUs; the rounding remainder goes to the last node.
    """
    shares = cluster.shares
    total = sum(g for _, g in placement) or 1
    out: list[Slot] = []
    cpu_left, mem_left = demand.cpu, demand.memory
    for k, (node, g) in enumerate(placement):
        last = k == len(placement) - 1
        cpu = cpu_left if last else demand.cpu * g // total
        mem = mem_left if last else demand.memory * g // total
        cpu_left -= cpu
        mem_left -= mem
        b = shares.base[node]
        ids = tuple([i for i in range(shares.gpus[node]) if shares.gpu_free[b + i] == WHOLE][:g])
        out.append((node, Demand(cpu, mem, g, WHOLE if g else 0), ids))
    return tuple(out)


class SharingPlacer:
    """``place(job, cluster)`` for a run that shares GPUs (see the module); sets ``job.slots`` on success.

    Args:
        choose: the policy's ``choose(demand, shares, nodes)`` (guarded for a plug-in), or None.
        cluster: the live shared cluster.
        place: the policy's ``place`` as the dispatcher calls it (guarded, on views for a plug-in), or None.
        check: checks a plug-in's placement (the dispatcher's), or None for a built-in rule.
        fallback: a policy to place by when ``policy`` lacks ``choose`` or ``place`` (first fit).
        builtin: the policy is built in (its choices are valid by construction).
    """

    def __init__(
        self, choose: Callable[..., Any] | None, cluster: SharedCluster, place: Callable[[Any, Any], Any] | None,
        check: Callable[[Any, Any], Placement] | None, fallback: Any, builtin: bool,
    ) -> None:  # fmt: skip
        self.cluster, self.shares = cluster, cluster.shares
        self.choose = choose
        self.fallback_choose = fallback.choose
        self.place = place if place is not None else fallback.place
        self.check = check
        self.builtin = builtin
        self._nodes: dict[tuple[tuple[int, ...], int], NodeSet | None] = {}

    def nodes(self, pools: tuple[int, ...], gpus: int) -> NodeSet | None:
        """The nodes of ``pools`` whose nodes hold ``gpus`` GPUs (None: none of them does)."""
        key = (pools, gpus)
        found = self._nodes.get(key, False)
        if found is False:
            topo = self.cluster.pools
            fit = tuple(p for p in pools if topo[p].gpus_per_node >= gpus)
            found = NodeSet(sorted(n for p in fit for n in topo[p].nodes), fit) if fit else None
            self._nodes[key] = found
        return found  # type: ignore[return-value]

    def __call__(self, job: Any, cluster: Any) -> Placement | None:
        """Where ``job`` starts now, or None; its slots in ``job.slots``."""
        demand = job.demand
        if demand is None:
            demand = job.demand = Demand(0, 0, job.gpus, WHOLE)
        nodes = self.nodes(job.pools, demand.gpus)
        if nodes is not None and (demand.gpu_milli < WHOLE or self.choose is not None):
            choose = self.choose if self.choose is not None else self.fallback_choose
            found = choose(demand, self.shares, nodes)
            if found is None:
                return None
            node, gpus = found
            gpus = tuple(gpus)
            if not self.builtin:
                self._check_choice(job, demand, nodes, node, gpus)
            job.slots = ((node, demand, gpus),)
            return [(node, demand.gpus)]
        return self._by_place(job, demand)

    def _by_place(self, job: Any, demand: Demand) -> Placement | None:
        """Whole GPUs by the rule's ``place``, nodes short of CPU or memory hidden from it until it fits."""
        cluster, shares = self.cluster, self.shares
        try:
            while True:
                placement = self.place(job, cluster)
                if placement is None:
                    return None
                if self.check is not None:
                    placement = self.check(job, placement)
                slots = split(demand, placement, cluster)
                short = [n for n, d, _ in slots if d.cpu > shares.cpu_free[n] or d.memory > shares.memory_free[n]]
                if not short:
                    job.slots = slots
                    return placement
                for n in short:
                    cluster.hide(n)
        finally:
            if cluster._hidden:
                cluster.unhide()

    def _check_choice(self, job: Any, demand: Demand, nodes: Sequence[int], node: Any, gpus: tuple) -> None:
        """A plug-in's ``choose`` answer is a candidate node that the demand fits on the GPUs it names."""
        shares = self.shares
        ok = type(node) is int and node in set(nodes) and all(type(i) is int for i in gpus)
        if ok:
            b, milli = shares.base[node], demand.gpu_milli
            ok = (
                len(gpus) == demand.gpus and len(set(gpus)) == len(gpus)
                and all(0 <= i < shares.gpus[node] and shares.gpu_free[b + i] >= milli for i in gpus)
                and demand.cpu <= shares.cpu_free[node] and demand.memory <= shares.memory_free[node]
            )  # fmt: skip
        if not ok:
            raise PlacementError(
                f"placement policy's choose() gave job {job.id} node {node!r}, GPUs {gpus!r}: a candidate node "
                "with room for its demand and that many GPU indices on it"
            )


def class_shapes(sc: Any, topology: Topology, type_names: Sequence[str]) -> list[Any]:
    """The workload's request shapes for fragmentation: each class's (GPUs, share) pairs weighted by its arrivals.

    A class weighs its expected jobs over the horizon, at most its count, as the job limit
    counts them (``dcsim.scenario.limits.expected_jobs``): its count without a horizon; a batch
    its count; each of its GPU counts and shares by their probabilities. A
    trace adds its own requests, by how often each occurs; a service its replicas' demand, weighing
    the replicas it starts with (each counts as one arrival). Weights sum to 1. Shapes keep CPU
    and drop memory, as the FGD authors' typical pods do (``GetTypicalPods``): requests that
    differ only in memory are one shape.
    """
    from dcsim.infra.fragmentation import Shape
    from dcsim.scenario.limits import expected_jobs

    weights: dict[tuple[Demand, frozenset[int] | None], float] = {}

    def add(demand: Demand, weight: float, gpu_types: Any) -> None:
        kinds = None if gpu_types is None else frozenset(type_names.index(t) for t in gpu_types if t in type_names)
        key = (demand._replace(memory=0), kinds)
        weights[key] = weights.get(key, 0.0) + weight

    for cls in sc.workload.jobs:
        expected = expected_jobs(cls, sc.horizon)
        counts = _probabilities(cls.gpus)
        fractions = _probabilities(cls.gpu_fraction) if cls.gpu_fraction is not None else {1.0: 1.0}
        cpu, memory = milli_cpu(cls.cpu or 0.0), mib(cls.memory or 0.0)
        for g, pg in counts.items():
            for f, pf in fractions.items() if g == 1 else [(1.0, 1.0)]:
                milli = 0 if g == 0 else round(f * WHOLE)
                add(Demand(cpu, memory, int(g), milli), expected * pg * pf, cls.gpu_types)
    for svc in sc.services:  # a service's replicas, each replica started once
        started = sum(svc.replicas_at(site).start for site in svc.sites or [None])
        add(replica_demand(svc), float(started), svc.gpu_types)
    if sc.workload.trace is not None:
        from dcsim.workload.trace import read_trace

        table = read_trace(sc.workload.trace, sc.base_dir)
        for d, c in Counter(trace_demands(table)).items():
            add(d, float(c), sc.workload.trace.gpu_types)
    total = sum(weights.values())
    if total <= 0:
        return []
    return [Shape(d, w / total, kinds) for (d, kinds), w in sorted(weights.items(), key=lambda kv: repr(kv[0]))]


def _probabilities(spec: Any) -> dict[float, float]:
    """Values of a choice (counts or shares) with their probabilities; a number is itself with 1."""
    if isinstance(spec, float | int):
        return {spec: 1.0}
    values = list(spec.values)
    weights = list(spec.weights) if spec.weights is not None else [1.0] * len(values)
    total = sum(weights)
    out: dict[float, float] = {}
    for v, w in zip(values, weights, strict=True):
        out[v] = out.get(v, 0.0) + w / total
    return out


__all__ = [
    "ClassDemand", "SharingPlacer", "class_shapes", "class_shares", "fraction_sampler", "is_sharing_policy",
    "replica_demand", "split", "uses_sharing",
]  # fmt: skip
