"""Plug-in policies used by the tests (loaded as 'plugins.toy_policies:Class')."""

from __future__ import annotations

import os
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from dcsim.policies.placement import FirstFit


class LastFit:
    """Highest-id node with room; single-node jobs only."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        skip: int = 0

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng

    def place(self, job, cluster):
        for pool in job.pools:
            if job.gpus > cluster.pools[pool].gpus_per_node:
                continue
            for node in reversed(cluster.pools[pool].nodes):
                if cluster.free[node] >= job.gpus:
                    return [(node, job.gpus)]
        return None


class LongestFirst:
    """Longest declared run time first."""

    backfill = False

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng

    def key(self, job):
        return -job.estimate


class AlwaysNodeZero:
    """Wrong on purpose: every job on node 0, whatever is free there."""

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng

    def place(self, job, cluster):
        return [(0, job.gpus)]


class TenantPinned:
    """Tenant 'a' only on node 0; everyone else anywhere (first fit). Not uniform in a class."""

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng

    def place(self, job, cluster):
        nodes = [0] if job.tenant == "a" else range(len(cluster.free))
        for node in nodes:
            if cluster.node_pool[node] in job.pools and cluster.free[node] >= job.gpus:
                return [(node, job.gpus)]
        return None


class PinnedFirstFit(FirstFit):
    """A subclass of a built-in that breaks its guarantees: tenant 'a' on node 0 only, even if it is full."""

    def place(self, job, cluster):
        if job.tenant == "a":
            return [(0, job.gpus)]
        return super().place(job, cluster)


class Raises:
    """A broken plug-in: place() raises."""

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng

    def place(self, job, cluster):
        raise ValueError("oops")


class Dies(Raises):
    """A plug-in that kills its process (as a crash or the out-of-memory killer would)."""

    def place(self, job, cluster):
        os._exit(1)


#: Calls made into the classes below (validation must make none).
CALLS: list[str] = []


class NoRngInit:
    """Not a policy: its constructor takes no (params, rng)."""

    def __init__(self) -> None:
        CALLS.append("NoRngInit.__init__")

    def place(self, job, cluster):
        CALLS.append("NoRngInit.place")


class BadParams:
    """Not a policy: its Params is no pydantic model."""

    Params = dict

    def __init__(self, params, rng) -> None:
        CALLS.append("BadParams.__init__")

    def place(self, job, cluster):
        CALLS.append("BadParams.place")


# ---------------------------------------------------------------- schedulers that decide (issue 11 point 4)
from dcsim.policies.scheduling import Preempt, SchedulerBase  # noqa: E402


def _fit(job, cluster):
    """The lowest node of the job's pools with room for it (single-node jobs), or None."""
    for node, free in enumerate(cluster.free):
        if cluster.node_pool[node] in job.pools and free >= job.gpus:
            return [(node, job.gpus)]
    return None


class PreemptLowerPriority(SchedulerBase):
    """Strict priority; when the head does not fit, preempt the lowest-priority, latest-started run below it."""

    preempts = True

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng

    def key(self, job):
        return (-job.priority, job.submit_time)

    def decide(self, queue, cluster, now):
        head = queue.first()
        while head is not None:
            placement = _fit(head, cluster)
            if placement is not None:
                yield head, placement
            else:
                below = [r for r in cluster.running() if r.priority < head.priority]
                if not below:
                    return
                yield Preempt(min(below, key=lambda r: (r.priority, -r.start_time)), "priority")
            head = queue.first()


class WrongDecisions(SchedulerBase):
    """Each decision wrong in the way ``params.mistake`` says."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        mistake: str = "unshown"

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng
        self.preempts = params.mistake != "undeclared"

    def decide(self, queue, cluster, now):
        first = queue.first()
        mistake = self.params.mistake
        if mistake in ("reason", "undeclared"):
            for run in cluster.running():
                yield Preempt(run, "because" if mistake == "reason" else "priority")
        elif mistake == "unshown" and first is not None:
            yield first._replace(id=first.id + 1000), [(0, first.gpus)]
            return
        elif mistake == "idle_victim" and first is not None:
            yield Preempt(first, "priority")
            return
        if first is not None:
            placement = _fit(first, cluster)
            if placement is not None:
                yield first, placement


class DecideWithoutDefaults:
    """Has decide but neither epoch nor preempts: not a scheduler."""

    def __init__(self, params, rng) -> None:
        pass

    def key(self, job):
        return 0

    def bind(self, fleet):
        pass

    def decide(self, queue, cluster, now):
        return ()


class Peeker:
    """Keeps what it is given, to show that views lead nowhere (placement)."""

    seen: ClassVar[list] = []

    def __init__(self, params, rng) -> None:
        pass

    def place(self, job, cluster):
        Peeker.seen.append((job, cluster))
        return _fit(job, cluster)


class PreemptThenStop(PreemptLowerPriority):
    """As PreemptLowerPriority, but a pass that preempts ends there: the engine must ask again."""

    def decide(self, queue, cluster, now):
        head = queue.first()
        if head is None:
            return
        placement = _fit(head, cluster)
        if placement is not None:
            yield head, placement
            return
        below = [r for r in cluster.running() if r.priority < head.priority]
        if below:
            yield Preempt(min(below, key=lambda r: (r.priority, -r.start_time)), "priority")


class Garbage(SchedulerBase):
    """Decisions of the wrong shape, as ``params.kind`` says."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        kind: str = "raises"

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng
        self.preempts = True

    def decide(self, queue, cluster, now):
        kind = self.params.kind
        first = queue.first()
        if kind == "not_iterable":
            return 5
        if kind == "none":
            return None
        return self._decisions(kind, first, cluster)

    def _decisions(self, kind, first, cluster):
        if first is None:
            return
        if kind == "raises":
            yield 1 / 0
        elif kind == "bare_job":
            yield first
        elif kind == "float_placement":
            yield first, [(0, float(first.gpus))]
        elif kind == "str_node":
            yield first, [("0", first.gpus)]
        elif kind == "unhashable_victim":
            yield Preempt(type("V", (), {"id": [1]})(), "priority")
        elif kind == "list_placement":
            Garbage.given = [[0, first.gpus]]
            yield first, Garbage.given


class NoBackfill:
    """An order without its backfill attribute."""

    def __init__(self, params, rng) -> None:
        pass

    def key(self, job):
        return job.submit_time


class KeepsFailures:
    """A repair order that keeps what it is given (to show it is a frozen snapshot)."""

    seen: ClassVar[list] = []

    def __init__(self, params, rng) -> None:
        pass

    def key(self, failure):
        KeepsFailures.seen.append(failure)
        return failure.time


class AcrossRacks:
    """A job of k whole nodes on the lowest free node of each of the first k racks with one (network tests)."""

    def __init__(self, params, rng) -> None:
        pass

    def place(self, job, cluster):
        per_node = cluster.pools[job.pools[0]].gpus_per_node
        k = max(1, job.gpus // per_node)
        nodes = []
        for members in cluster.rack_nodes:
            free = [n for n in members if cluster.free[n] == per_node]
            if free:
                nodes.append(free[0])
            if len(nodes) == k:
                return [(n, per_node) for n in nodes] if k > 1 else [(nodes[0], job.gpus)]
        return None


class OnNodes:
    """Job number i (by id, cycling) on the nodes of ``nodes[i]``, ``gpus`` GPUs on each (fabric tests)."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        nodes: list[list[int]]
        gpus: int = 8

    def __init__(self, params, rng) -> None:
        self.params = params

    def place(self, job, cluster):
        nodes = self.params.nodes[job.id % len(self.params.nodes)]
        per = self.params.gpus
        if all(cluster.free[n] >= per for n in nodes):
            return [(n, per) for n in nodes]
        return None


class LastReplica:
    """A load balancer plug-in: every request to the last ready replica; it tries to change what it reads."""

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng
        self.refused = 0

    def pick(self, request, replicas):
        try:
            replicas[0].outstanding = 0  # a snapshot: refused
        except AttributeError:
            self.refused += 1
        return replicas[-1]


class NotAReplica:
    """A load balancer plug-in that answers with something that is not one of its replicas."""

    def __init__(self, params, rng) -> None:
        self.params, self.rng = params, rng

    def pick(self, request, replicas):
        return "replica 0"


class FarthestSite:
    """A geo load balancer: the site listed last among those with a ready replica (None: none has one)."""

    def __init__(self, params, rng) -> None:
        self.params = params

    def choose(self, request, sites):
        ready = [i for i in range(len(sites)) if sites[i].ready]
        return ready[-1] if ready else None


class SiteOutOfRange(FarthestSite):
    """A geo load balancer that names a site the service does not have."""

    def choose(self, request, sites):
        return len(sites)
