"""Checks of a fill experiment (``workload.fill``): what it needs, and what it cannot honour.

A fill run places pods as they arrive and never removes one: there is no clock, no queue,
no job, no failure. Blocks that would change a timed run's results are refused here, each
with the field and the fix, rather than silently ignored. Node ``cpu``, ``memory`` and
CPU-only nodes (``gpus: 0``) are modelled by a fill run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcsim.core.errors import TraceError
from dcsim.scenario.schema import Scenario

if TYPE_CHECKING:
    from dcsim.infra.shares import Shares
    from dcsim.workload.spec import FillPods

_ELSEWHERE = "a fill run places pods as they arrive, with no clock, queue or departures"

#: Top-level blocks a fill run reads nothing of, with what they would have set.
_UNUSED = {
    "start": "it has no calendar time",
    "costs": "its results are allocation rates and fragmentation, with no cost",
    "metrics": "it records one point per arrived pod, not samples over time",
    "preemption": "no pod waits, so none preempts another",
}


def _refused(sc: Scenario) -> list[tuple[str, str]]:
    """Blocks a fill run cannot honour."""
    out = []
    if sc.horizon is not None:
        out.append(("horizon", f"{_ELSEWHERE}: it ends when the requests reach fill.until; remove horizon"))
    if sc.warmup > 0:
        out.append(("warmup", f"{_ELSEWHERE}: every pod is measured; remove warmup"))
    if sc.workload.jobs:
        out.append(("workload.jobs", "a fill workload runs alone; move the job classes to another scenario"))
    if sc.workload.trace is not None:
        out.append(("workload.trace", "a fill workload runs alone; give its pods as fill.trace, or drop it"))
    for name in ("services", "maintenance", "tenants", "events"):
        if getattr(sc, name):
            out.append((name, f"{_ELSEWHERE}: {name} are not modelled in it; remove the block"))
    for name in ("failures", "repair"):
        if getattr(sc, name) is not None:
            out.append((name, f"{_ELSEWHERE}: nothing fails in it; remove the block"))
    for name, why in _UNUSED.items():  # compared with the default, which a resolved scenario writes out
        if getattr(sc, name) != Scenario.model_fields[name].get_default(call_default_factory=True):
            out.append((name, f"{_ELSEWHERE}: {why}; remove the block"))
    out += _unused_datacenter(sc)
    policies = sc.policies
    if policies.scheduler.name != "fifo":  # the default, which a resolved scenario (a sweep's run) writes out
        out.append(("policies.scheduler", f"{_ELSEWHERE}: no scheduler orders a queue; remove it"))
    elif policies.scheduler.params:
        out.append(("policies.scheduler.params", f"{_ELSEWHERE}: no scheduler orders a queue; remove the params"))
    for name in ("site_router", "fairness"):
        if getattr(policies, name) is not None:
            out.append((f"policies.{name}", f"{_ELSEWHERE}: it has no {name.replace('_', ' ')}; remove it"))
    if sc.sweep is not None and "scheduler" in sc.sweep.policies:
        out.append(("sweep.policies.scheduler", f"{_ELSEWHERE}: sweep policies.placement instead"))
    return out


#: Fields of a site and of a node a fill run reads nothing of (it counts GPUs, CPU and memory only).
_SITE_UNUSED = ("network", "storage", "costs", "timezone", "electricity_usd_per_kwh", "carbon_g_per_kwh", "pue",
                "gpu_hour_usd", "repair")  # fmt: skip
_NODE_UNUSED = ("gpu_speed", "gpu_power", "gpu_idle_power", "base_power")


def _unused_datacenter(sc: Scenario) -> list[tuple[str, str]]:
    """Site and node fields set away from their defaults, which a fill run would ignore."""
    from dcsim.infra.spec import Site

    out = []
    for i, site in enumerate(sc.datacenter.sites):
        for name in _SITE_UNUSED:
            if getattr(site, name) != Site.model_fields[name].get_default(call_default_factory=True):
                out.append((f"datacenter.sites.{i}.{name}", f"{_ELSEWHERE}: it models no {name.replace('_', ' ')}; "
                            "remove it"))  # fmt: skip
        for j, g in enumerate(site.groups):
            where = f"datacenter.sites.{i}.{f'rack_groups.{j}.node' if site.rack_groups else 'node'}"
            for name in _NODE_UNUSED:
                if getattr(g.node, name) is not None:
                    out.append((f"{where}.{name}", f"{_ELSEWHERE}: it models no {name.replace('_', ' ')}; remove it"))
    return out


def _placement(sc: Scenario) -> list[tuple[str, str]]:
    """The placement policy needs ``choose(demand, shares, nodes)``."""
    from dcsim.core.errors import DcsimError
    from dcsim.policies import PLACEMENT

    name = sc.policies.placement.name
    try:
        cls = PLACEMENT.lookup(name)
    except DcsimError:
        return []  # an unknown name is reported by the policy checks
    if callable(getattr(cls, "choose", None)):
        return []
    sharing = [n for n in PLACEMENT.names() if callable(getattr(PLACEMENT.lookup(n), "choose", None))]
    offer = f"; use one of {', '.join(sharing)}" if sharing else ""
    return [("policies.placement", f"{name} has no choose(demand, shares, nodes), which places a pod on its GPUs in "
             f"a fill run{offer}")]  # fmt: skip


def _nodes(sc: Scenario, asks_cpu: bool, asks_memory: bool) -> list[tuple[str, str]]:
    """GPUs somewhere, and every node's CPU and memory when the pods ask for them."""
    out = []
    gpus = 0
    for i, site in enumerate(sc.datacenter.sites):
        for j, g in enumerate(site.groups):
            node = g.node
            where = f"datacenter.sites.{i}.{f'rack_groups.{j}.node' if site.rack_groups else 'node'}"
            gpus += node.gpus * g.racks * g.nodes_per_rack
            for name, asks in (("cpu", asks_cpu), ("memory", asks_memory)):
                if asks and getattr(node, name) is None:
                    out.append((f"{where}.{name}", f"the fill's pods ask for {name}; give the node's {name} "
                                f"(e.g. {'96' if name == 'cpu' else '512GB'})"))  # fmt: skip
    if gpus == 0:
        out.append(("datacenter", "a fill run fills GPUs, and no node has any; give some nodes gpus"))
    return out


def fill_problems(sc: Scenario) -> list[tuple[str, str]]:
    """Every problem of a scenario with ``workload.fill``, as ``(path, message)``."""
    from dcsim.workload.distributions import resolve
    from dcsim.workload.openb import read_pods

    fill = sc.workload.fill
    assert fill is not None
    out = _refused(sc) + _placement(sc)
    types = {g.node.gpu_type for s in sc.datacenter.sites for g in s.groups if g.node.gpus > 0}
    asks_cpu = asks_memory = True
    if fill.pods is not None:
        asks_cpu = any(p.cpu > 0 for p in fill.pods)
        asks_memory = any(p.memory > 0 for p in fill.pods)
        gpu_pods = False
        for k, p in enumerate(fill.pods):
            where = f"workload.fill.pods.{k}"
            counts = [p.gpus] if isinstance(p.gpus, int) else list(p.gpus.values)
            gpu_pods |= any(c > 0 for c in counts)
            if p.gpu_fraction is not None and counts != [1]:
                out.append((f"{where}.gpu_fraction", "a share of a GPU is asked for one GPU: give gpus: 1 with it "
                            "(or drop gpu_fraction for whole GPUs)"))  # fmt: skip
            unknown = sorted(set(p.gpu_types or []) - types)
            if unknown:
                out.append((f"{where}.gpu_types", f"no GPUs of type {', '.join(unknown)} in the data center (types "
                            f"present: {', '.join(sorted(types)) or 'none'}); fix the name or drop it"))  # fmt: skip
        if not gpu_pods:
            out.append(("workload.fill.pods", "no pod asks for GPUs, so the requests never reach `until`; give some "
                        "pods gpus"))  # fmt: skip
    else:
        assert fill.trace is not None
        try:
            pods = read_pods(resolve(sc.base_dir, fill.trace.path))
        except TraceError as exc:
            out.append(("workload.fill.trace.path", str(exc)))
        else:
            if pods.gpu_total == 0:
                out.append(("workload.fill.trace.path", f"{fill.trace.path}: no pod asks for GPUs, so the requests "
                            "never reach `until`; give a pod list with GPU pods"))  # fmt: skip
    out += _nodes(sc, asks_cpu, asks_memory)
    return out or _unplaceable(sc) or _size(sc)


def _unplaceable(sc: Scenario) -> list[tuple[str, str]]:
    """A pod shape no node of its GPU types holds, even empty: each such pod would only be counted as failed."""
    from dcsim.engine.fill import _choice, build_shares

    fill = sc.workload.fill
    assert fill is not None
    if fill.pods is None:
        return []  # a trace's pods: the pods a cluster held
    cluster = build_shares(sc)
    out = []
    for k, p in enumerate(fill.pods):
        types = frozenset(cluster.type_index[t] for t in p.gpu_types) if p.gpu_types is not None else None
        shapes = [(int(g), f) for g, _ in _choice(p.gpus, 0) for f, _ in _choice(p.gpu_fraction if g == 1 else None, 1)]
        why = next((w for g, f in shapes if (w := _unheld(cluster.shares, p, g, f, types))), None)
        if why:
            out.append((f"workload.fill.pods.{k}", why))
    return out


def _unheld(shares: Shares, pod: FillPods, gpus: int, fraction: float, types: frozenset[int] | None) -> str | None:
    """Why no node (of ``types``) holds a pod of ``gpus`` GPUs (a ``fraction`` of one) even when empty, or None."""
    from dcsim.infra.shares import Demand
    from dcsim.scenario.sharing_checks import format_bytes

    demand = Demand.of(pod.cpu, pod.memory, gpus, fraction)
    nodes = [
        n for n in range(len(shares)) if not gpus or (shares.gpus[n] and (types is None or shares.gpu_type[n] in types))
    ]
    if not nodes or any(shares.fits(n, demand) for n in nodes):
        return None
    asked = {
        "gpus": (gpus, max(shares.gpus[n] for n in nodes), f"gpus: {gpus}"),
        "cpu": (demand.cpu, max(shares.cpu[n] for n in nodes), f"cpu: {pod.cpu:g} cores"),
        "memory": (demand.memory, max(shares.memory[n] for n in nodes), f"memory: {format_bytes(pod.memory)}"),
    }
    over = [t for want, most, t in asked.values() if want > most] or [t for want, _, t in asked.values() if want]
    largest = max(nodes, key=lambda n: (shares.gpus[n], shares.cpu[n], shares.memory[n]))
    memory = format_bytes(shares.memory[largest] * 2**20)
    has = f"{shares.gpus[largest]} GPUs, {shares.cpu[largest] / 1000:g} cores, {memory}"
    of = " of its GPU types" if types is not None and gpus else ""
    return (
        f"a pod asking for {', '.join(over)} fits no node{of}, even empty (the largest: {has}); a pod runs on "
        "one node: ask for less, or give the nodes more"
    )


def _size(sc: Scenario) -> list[tuple[str, str]]:
    """A fill of more pods than a run simulates (pods x their mean GPU request = until x capacity)."""
    from dcsim.engine.fill import build_shares, pod_shapes
    from dcsim.scenario.limits import MAX_JOBS

    fill = sc.workload.fill
    assert fill is not None
    if fill.pods is None:
        return []  # a trace's pods: at most a few times its length, read into memory already
    cluster = build_shares(sc)
    mean = sum(s.weight * s.demand.gpu_total for s in pod_shapes(fill.pods, cluster.type_index))
    pods = fill.until * cluster.shares.total_gpu / mean
    if pods <= MAX_JOBS:
        return []
    return [("workload.fill.until", f"the fill would take about {pods:,.0f} pods; dcsim simulates at most "
             f"{MAX_JOBS:,} in a run: lower until or use a smaller data center")]  # fmt: skip


__all__ = ["fill_problems"]
