"""Checks that need more than one block of the scenario; each problem carries its path.

:func:`check_parts` works on whichever blocks validated, so that ``dcsim validate``
reports these problems together with the schema's, all at once. Policy names and
parameters are checked in :mod:`dcsim.scenario.load` (the schema knows no policies).
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ValidationError

from dcsim.core import units
from dcsim.core.errors import MissingFileError, TraceError
from dcsim.core.spec import PositiveSeconds
from dcsim.faults.spec import COMPONENTS, fabric_named
from dcsim.infra.sites import series_problems
from dcsim.infra.topology import Topology, build_topology
from dcsim.scenario.limits import check_limits
from dcsim.scenario.schema import (
    BatchArrival,
    Costs,
    Datacenter,
    EmpiricalDist,
    JobClass,
    Scenario,
    Trace,
)
from dcsim.scenario.tenant_checks import tenant_problems
from dcsim.workload.distributions import count_sampler, duration_sampler, resolve
from dcsim.workload.trace import read_trace


def _speed_problems(
    path: str, speed: dict[str, float] | None, reference: str | None, types: list[str]
) -> list[tuple[str, str]]:
    """A class's ``speed`` names only GPU types of the data center; its ``speed_reference`` has a known speed."""
    from dcsim.infra.topology import GPU_SPEED

    out = []
    own = speed or {}
    unknown = sorted(set(own) - set(types) - {reference})  # the reference's speed may be of a type not here
    if unknown:
        out.append(
            (
                f"{path}.speed",
                f"no GPUs of type {', '.join(unknown)} in the data center (types present: {', '.join(types)}); "
                "drop the entry or fix the type's name",
            )
        )
    if reference is not None and reference not in {*own, *types, *GPU_SPEED}:
        out.append(
            (
                f"{path}.speed_reference",
                f"the speed of GPU type {reference!r} is not known: give it in `speed` (e.g. {{{reference}: 1.0}}) "
                f"or name a type of the data center ({', '.join(types)})",
            )
        )
    return out


def _largest_job(topology: Topology, gpu_types: list[str] | None, memory: float | None) -> tuple[int, str]:
    """GPUs of the largest allowed pool, and a description of it."""
    pools = [topology.pools[i] for i in topology.allowed_pools(gpu_types, memory)]
    if not pools:
        return 0, "no pool of the allowed GPU types has that much GPU memory"
    best = max(pools, key=lambda p: p.gpus)
    return best.gpus, f"{best.gpus} {best.gpu_type} GPUs in site {best.site}"


def check_scenario(sc: Scenario) -> list[tuple[str, str]]:
    """Return every problem of a schema-valid scenario as ``(path, message)``."""
    if sc.workload.fill is not None:  # the fill experiment models node cpu, memory and CPU-only nodes itself
        from dcsim.scenario.fill_checks import fill_problems

        return fill_problems(sc) + check_limits(sc)
    unbuilt = sharing_unbuilt(sc)
    if unbuilt:
        return unbuilt
    topology = build_topology(sc.datacenter)
    problems = check_parts(
        sc.datacenter, list(enumerate(sc.workload.jobs)), sc.workload.trace, sc.costs, sc.horizon, True, sc.base_dir,
        topology,
    )  # fmt: skip
    fails = any(e.fail is not None for e in sc.events)  # a timed `fail` without an end is mended by the crew
    if sc.repair is not None and sc.failures is None and not fails:
        problems.append(("repair", "a `repair` block needs a `failures` block or a `fail` event (nothing would fail)"))
    if sc.failures is None and not fails:
        problems += [
            (f"datacenter.sites.{i}.repair", "a site's `repair` block needs a `failures` block (nothing would fail)")
            for i, site in enumerate(sc.datacenter.sites)
            if site.repair is not None
        ]
    problems += service_problems(sc, topology)
    problems += routing_problems(sc, topology)
    problems += tenant_problems(sc, topology)
    fabric, fabric_problems = _fabric(sc, topology)
    problems += fabric_problems
    if (sc.failures is not None or sc.maintenance) and not fabric_problems:
        problems += check_reliability(sc, topology, fabric)
    problems += check_limits(sc)
    if sc.policies.scheduler.name == "gavel" and sc.preemption.save != "on_preemption":
        problems.append(("preemption.save", "the gavel scheduler time-shares GPUs by preempting jobs every round; "
                         "with last_checkpoint each preemption loses the work since the last checkpoint and a job "
                         "may never finish: set `preemption: {save: on_preemption}` (a job saves as it leaves, as "
                         "Gavel assumes)"))  # fmt: skip
    problems += elastic_problems(sc)
    from dcsim.scenario.sharing_checks import sharing_problems

    problems += sharing_problems(sc, topology)
    return problems


def sharing_unbuilt(sc: Scenario) -> list[tuple[str, str]]:
    """The GPU-sharing fields whose models are not built yet: none since the fill experiment (issue 16)."""
    return []


def elastic_problems(sc: Scenario) -> list[tuple[str, str]]:
    """The `elastic` scheduler with a site router (not modelled yet).

    Elastic classes under another scheduler run rigid at their ``gpus`` (a note says so, see
    :func:`dcsim.scenario.unmodelled.unmodelled_notes`), so that one file compares schedulers.
    """
    if sc.policies.scheduler.name == "elastic" and sc.policies.site_router is not None:
        why = "the `elastic` scheduler keeps one queue, which a site router splits by site (not modelled yet)"
        return [("policies.scheduler", f"{why}; drop policies.site_router, or use fifo")]
    return []


def routing_problems(sc: Scenario, topology: Topology) -> list[tuple[str, str]]:
    """A job class's ``sites``, ``data`` and ``deferrable`` against the sites and the site router."""
    from dcsim.core.text import quote

    names = list(topology.site_names)
    known = ", ".join(map(quote, names))
    router = sc.policies.site_router
    problems = []
    for i, cls in enumerate(sc.workload.jobs):
        path = f"workload.jobs.{i}"
        before = len(problems)
        for site in [s for s in cls.sites or [] if s not in names]:
            problems.append((f"{path}.sites", f"no site named {quote(site)}; the sites are {known}"))
        if cls.sites is not None and all(s in names for s in cls.sites):
            pools = topology.allowed_pools(cls.gpu_types, cls.min_gpu_memory)
            if pools and not any(topology.pools[p].site in cls.sites for p in pools):
                problems.append((f"{path}.sites", f"none of the sites {', '.join(map(quote, cls.sites))} has the "
                                 "class's GPU types; name a site that has them, or drop `sites`"))  # fmt: skip
        if cls.data is not None:
            if cls.data.home not in names:
                problems.append((f"{path}.data.home", f"no site named {quote(cls.data.home)}; the sites are {known}"))
            elif router is None:
                problems.append((f"{path}.data", "data moves only when a site router sends a job away from its "
                                 "home: set policies.site_router (e.g. home), or drop `data`"))  # fmt: skip
        if cls.deferrable > 0 and router is None:
            problems.append((f"{path}.deferrable", "a job is held back only by a site router that looks ahead: "
                             "set policies.site_router to cheapest_now or lowest_carbon, or drop it"))  # fmt: skip
        elif router is not None and len(problems) == before:
            from dcsim.infra.wan import Wan
            from dcsim.workload.routes import class_pools, routed_class

            pools = class_pools(topology, cls)
            if pools and not routed_class(topology, Wan(names, sc.datacenter.wan), pools, cls).sites:
                problems.append((f"{path}.data.home", f"no site with the class's GPU types is reachable over the WAN "
                                 f"from {quote(cls.data.home if cls.data else '')}; add a `datacenter.wan` link, "
                                 "or move the data's home"))  # fmt: skip
    return problems


def _fabric(sc: Scenario, topology: Topology) -> tuple[Any, list[tuple[str, str]]]:
    """The sites' fabrics, when a custom one must be read or links or switches are named; and its problems."""
    from dcsim.infra.fabrics import Fabric, read_graph

    sites = sc.datacenter.sites
    custom = [i for i, site in enumerate(sites) if site.network.topology == "custom"]
    problems = []
    for i in custom:
        try:
            read_graph(sites[i].network.path or "", sc.base_dir, topology.site_nodes[i])
        except TraceError as exc:  # a missing file too
            problems.append((f"datacenter.sites.{i}.network.path", str(exc)))
    if problems or not (custom or fabric_named(sc.failures, sc.maintenance)):
        return None, problems
    return Fabric(topology, sc.base_dir), problems


def check_reliability(sc: Scenario, topology: Topology, fabric: Any = None) -> list[tuple[str, str]]:
    """Problems of the failures, repair and maintenance blocks against the data center (``fabric``: its fabric)."""
    from dcsim.faults.trace import read_failure_trace

    problems: list[tuple[str, str]] = []
    types = topology.gpu_types()
    failures = sc.failures
    if failures is not None:
        named = [(c, getattr(failures, c)) for c in COMPONENTS]
        named += [(f"causes.{i}", c) for i, c in enumerate(failures.causes)]
        for path, model in named:
            if model is None or model.per_type is None:
                continue
            unknown = sorted(set(model.per_type) - set(types))
            if unknown:
                problems.append(
                    (f"failures.{path}.per_type", f"no GPUs of type {', '.join(unknown)} in the data center "
                     f"(types present: {', '.join(types)})")
                )  # fmt: skip
        if failures.trace is not None:
            try:
                read_failure_trace(failures.trace, sc.base_dir, topology, fabric)
            except MissingFileError as exc:
                problems.append(("failures.trace.path", str(exc)))
            except TraceError as exc:
                problems.append(("failures.trace", str(exc)))
    if sc.repair is not None and isinstance(sc.repair.time, EmpiricalDist):
        try:
            duration_sampler(sc.repair.time, sc.base_dir)
        except TraceError as exc:
            problems.append(("repair.time", str(exc)))
    for i, mt in enumerate(sc.maintenance):
        in_fabric = mt.scope in ("link", "switch")
        n_units = fabric.count(COMPONENTS.index(mt.scope)) if in_fabric else topology.unit_count(mt.scope)
        if mt.every is not None:
            count = len(mt.units) if mt.units is not None else n_units
            round_s = mt.duration * (count if mt.rolling else 1)
            if mt.every < round_s:
                problems.append(
                    (f"maintenance.{i}.every", f"{units.format_duration(mt.every)} is shorter than one round "
                     f"({count if mt.rolling else 1} x {units.format_duration(mt.duration)} = "
                     f"{units.format_duration(round_s)}): rounds would overlap; make `every` longer, or list "
                     "fewer `units`")
                )  # fmt: skip
        if mt.units is None:
            continue
        for j, unit in enumerate(mt.units):
            path = f"maintenance.{i}.units.{j}"
            if mt.scope == "site":
                if str(unit) not in topology.site_names and not (
                    isinstance(unit, int) and 0 <= unit < len(topology.site_names)
                ):
                    problems.append((path, f"no site {unit!r}; sites: {', '.join(topology.site_names)}"))
                continue
            limit = n_units
            if not isinstance(unit, int) or not 0 <= unit < limit:
                problems.append((path, f"{mt.scope} ids are 0..{limit - 1}, counted in scenario order; got {unit!r}"))
    return problems


def check_raw(data: dict[str, Any], base: str) -> list[tuple[str, str]]:
    """The same checks on a scenario that failed the schema: on each block that validates alone."""

    def part(model: type[BaseModel], value: Any) -> Any:
        try:
            return model.model_validate(value)
        except (ValidationError, ValueError, TypeError):
            return None

    missing = _missing_files(data, base)
    dc = part(Datacenter, data.get("datacenter"))
    if dc is None:
        return missing
    raw_workload = data.get("workload")
    workload: dict[str, Any] = raw_workload if isinstance(raw_workload, dict) else {}
    raw_jobs = workload.get("jobs")
    jobs: list[Any] = raw_jobs if isinstance(raw_jobs, list) else []
    classes = [(i, c) for i, raw in enumerate(jobs) if (c := part(JobClass, raw)) is not None]
    trace = part(Trace, workload["trace"]) if workload.get("trace") is not None else None
    costs = part(Costs, data.get("costs", {}))
    # A misspelt top-level key may be the horizon: then do not claim the run never ends.
    top_level_typo = bool(set(data) - set(Scenario.model_fields))
    horizon_known = not top_level_typo and (
        "horizon" not in data or part(_Horizon, {"horizon": data["horizon"]}) is not None
    )
    horizon = part(_Horizon, {"horizon": data.get("horizon")})
    found = check_parts(dc, classes, trace, costs, horizon.horizon if horizon else None, horizon_known, base)
    reported = {where for where, _ in missing}
    return missing + [p for p in found if p[0] not in reported]


def _missing_files(data: dict[str, Any], base: str) -> list[tuple[str, str]]:
    """Data files named in blocks that failed the schema for other reasons, and that do not exist.

    A block that validates has its file read by the other checks; one that does not is never
    read, so without this a missing file would surface only once the block's other errors
    are fixed (the user is told every problem at once).
    """
    blocks: list[tuple[str, Any]] = []
    workload = data.get("workload")
    if isinstance(workload, dict):
        blocks.append(("workload.trace", workload.get("trace")))
        jobs = workload.get("jobs")
        for i, job in enumerate(jobs if isinstance(jobs, list) else []):
            if isinstance(job, dict):
                blocks += [(f"workload.jobs.{i}.{key}", job.get(key)) for key in ("duration", "gpus")]
    failures = data.get("failures")
    if isinstance(failures, dict):
        blocks.append(("failures.trace", failures.get("trace")))
    datacenter = data.get("datacenter")
    sites = datacenter.get("sites") if isinstance(datacenter, dict) else None
    for i, site in enumerate(sites if isinstance(sites, list) else []):
        if isinstance(site, dict):
            blocks.append((f"datacenter.sites.{i}.network", site.get("network")))
    repair = data.get("repair")
    if isinstance(repair, dict):
        blocks.append(("repair.time", repair.get("time")))
    problems = []
    for where, block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("path"), str) or not block["path"]:
            continue
        path = resolve(base, block["path"])
        if not os.path.exists(path):
            problems.append(
                (f"{where}.path", f"{path}: file not found; check the path (relative to the scenario file)")
            )
    return problems


class _Horizon(BaseModel):
    horizon: PositiveSeconds | None = None


def check_parts(
    datacenter: Datacenter,
    classes: list[tuple[int, JobClass]],
    trace: Trace | None,
    costs: Costs | None,
    horizon: float | None,
    horizon_known: bool,
    base: str,
    topology: Topology | None = None,
) -> list[tuple[str, str]]:
    """Problems across blocks, for the blocks given (each valid on its own); ``topology``: the datacenter's if built."""
    problems: list[tuple[str, str]] = []
    topology = build_topology(datacenter) if topology is None else topology
    types = topology.gpu_types()
    for i, cls in classes:
        path = f"workload.jobs.{i}"
        endless = cls.count is None and horizon is None and horizon_known
        if endless and not isinstance(cls.arrival, BatchArrival):
            problems.append(
                (f"{path}.count", f"class {cls.name!r} has no `count` and the scenario no `horizon`: "
                 "the run would never end; set one of them")
            )  # fmt: skip
        unknown = sorted(set(cls.gpu_types or []) - set(types))
        if unknown:
            problems.append(
                (f"{path}.gpu_types", f"no GPUs of type {', '.join(unknown)} in the data center "
                 f"(types present: {', '.join(types)})")
            )  # fmt: skip
        problems += _speed_problems(path, cls.speed, cls.speed_reference, types)
        try:
            _, largest = count_sampler(cls.gpus, base)
        except TraceError as exc:
            problems.append((f"{path}.gpus", str(exc)))
        else:
            room, where = _largest_job(topology, cls.gpu_types, cls.min_gpu_memory)
            if largest > room and room > 0:  # room 0: no allowed pool at all, reported on its own
                problems.append(
                    (f"{path}.gpus", f"{largest} GPUs > the largest pool a job of class {cls.name!r} can use "
                     f"({where}); lower it or add racks")
                )  # fmt: skip
        if cls.min_gpu_memory is not None and not topology.allowed_pools(cls.gpu_types, cls.min_gpu_memory):
            have = ", ".join(f"{p.gpu_type} {p.gpu_memory_bytes / 1e9:g}GB" for p in topology.pools)
            problems.append(
                (f"{path}.min_gpu_memory", f"no allowed GPU has {cls.min_gpu_memory / 1e9:g}GB or more "
                 f"(present: {have}); lower it, or set node.gpu_memory for GPU types dcsim does not know")
            )  # fmt: skip
        if isinstance(cls.duration, EmpiricalDist):
            try:
                duration_sampler(cls.duration, base)
            except TraceError as exc:
                problems.append((f"{path}.duration", str(exc)))
    if trace is not None:
        unknown = sorted(set(trace.gpu_types or []) - set(types))
        if unknown:
            problems.append(("workload.trace.gpu_types", f"no GPUs of type {', '.join(unknown)} in the data center"))
        problems += _speed_problems("workload.trace", trace.speed, trace.speed_reference, types)
        try:
            table = read_trace(trace, base)
        except MissingFileError as exc:
            problems.append(("workload.trace.path", str(exc)))
        except TraceError as exc:
            problems.append(("workload.trace", str(exc)))
        else:
            shared = sorted(set(table.class_names) & {cls.name for _, cls in classes})
            if shared:
                problems.append(
                    ("workload.trace", f"trace jobs of class {', '.join(map(repr, shared))} share the name of a "
                     "job class, which would merge their statistics; rename one (workload.trace.name, or the "
                     "trace's class column)")
                )  # fmt: skip
            room, where = _largest_job(topology, trace.gpu_types, trace.min_gpu_memory)
            too_big = (table.gpus > room).nonzero()[0]
            if too_big.size:
                first = too_big[0]
                problems.append(
                    ("workload.trace", f"{resolve(base, trace.path)} line {table.line(first)}: "
                     f"{int(table.gpus[first])} GPUs > the largest pool ({where}); drop the job or add racks")
                )  # fmt: skip
            else:  # CPU and memory (a trace of shared GPUs)
                from dcsim.scenario.sharing_checks import trace_problems

                problems += trace_problems(table, trace, topology, resolve(base, trace.path))
    problems += _storage_problems(datacenter, topology, classes, trace)
    problems += _price_problems(datacenter, topology, costs)
    problems += series_problems(costs, datacenter.sites, base)
    return problems


def service_problems(sc: Scenario, topology: Topology) -> list[tuple[str, str]]:
    """What keeps each service from running.

    GPU types it does not find, replicas larger than its pools, a model load without storage,
    a request trace or token column that cannot be read.
    """
    from dcsim.workload.requests import read_request_trace, token_sampler
    from dcsim.workload.service_spec import EmpiricalTokens, RequestTrace

    types = topology.gpu_types()
    problems: list[tuple[str, str]] = []
    if sc.services and sc.horizon is None:
        problems.append(("horizon", "a scenario with `services` needs a `horizon` (requests keep arriving, so the "
                         "run never drains); give one, e.g. horizon: 1d"))  # fmt: skip
    for i, svc in enumerate(sc.services):
        path = f"services.{i}"
        unknown = sorted(set(svc.gpu_types or []) - set(types))
        if unknown:
            problems.append((f"{path}.gpu_types", f"no GPUs of type {', '.join(unknown)} in the data center "
                             f"(types present: {', '.join(types)})"))  # fmt: skip
            continue
        problems += _speed_problems(path, svc.speed, svc.speed_reference, types)
        problems += _geo_problems(sc, path, svc, topology)
        if svc.sample < 1 and (sc.workload.jobs or sc.workload.trace is not None):
            problems.append((
                f"{path}.sample",
                f"service {svc.name!r} samples {svc.sample:g} of its requests, but the scenario has training jobs: a "
                "sampled fleet holds only its share of the GPUs and would leave training the rest; drop `sample` "
                "(every request) or the training workload",
            ))  # fmt: skip
        room, where = _largest_job(topology, svc.gpu_types, svc.min_gpu_memory)
        if svc.gpus_per_replica > room:
            problems.append((f"{path}.gpus_per_replica", f"{svc.gpus_per_replica} GPUs > the largest pool a replica "
                             f"of {svc.name!r} can use ({where}); lower it or add racks"))  # fmt: skip
        if svc.model.size and svc.cold_start is None:
            pools = topology.allowed_pools(svc.gpu_types, svc.min_gpu_memory)
            sites = {topology.pools[p].site for p in pools}
            bare = [(j, s.name) for j, s in enumerate(sc.datacenter.sites) if s.name in sites and s.storage is None]
            if bare:
                problems.append(
                    (f"{path}.model.size", f"a cold start of {svc.name!r} loads {_bytes(svc.model.size)} from storage, "
                     f"but site {bare[0][1]!r} has no `storage` bandwidth; give datacenter.sites.{bare[0][0]}.storage: "
                     "{bandwidth: ...} (e.g. 100GB/s), or the service a fixed `cold_start` time")
                )  # fmt: skip
        req = svc.requests
        if isinstance(req.arrival, RequestTrace):
            try:
                read_request_trace(req.arrival, sc.base_dir)
            except (MissingFileError, TraceError) as exc:
                problems.append((f"{path}.requests.arrival", str(exc)))
        for field in ("input_tokens", "output_tokens"):
            spec = getattr(req, field)
            if isinstance(spec, EmpiricalTokens):
                try:
                    token_sampler(spec, sc.base_dir)
                except (MissingFileError, TraceError) as exc:
                    problems.append((f"{path}.requests.{field}", str(exc)))
        if isinstance(svc.service_model.time, EmpiricalDist):
            try:
                duration_sampler(svc.service_model.time, sc.base_dir)
            except (MissingFileError, TraceError) as exc:
                problems.append((f"{path}.service_model.time", str(exc)))
    return problems


def _geo_problems(sc: Scenario, path: str, svc: Any, topology: Topology) -> list[tuple[str, str]]:
    """A service's ``sites`` and ``requests.origin`` name sites it can run in and reach; a geo balancer needs sites."""
    from dcsim.policies.geo import is_geo

    names = topology.site_names
    known = ", ".join(names)
    if svc.sites is None:
        if is_geo(svc.load_balancer.name, [sc.base_dir]):
            return [
                (
                    f"{path}.load_balancer",
                    f"{svc.load_balancer.name} chooses among a service's sites, but "
                    f"{svc.name!r} has no `sites`; give sites: [...] (of {known}) or a load balancer of one fleet",
                )
            ]
        return []  # fmt: skip
    for field, listed in (("sites", svc.sites), ("requests.origin", list(svc.requests.origin or ()))):
        unknown = [s for s in listed if s not in names]
        if unknown:
            return [(f"{path}.{field}", f"no site named {unknown[0]!r}; the sites are {known}")]
    pools = topology.allowed_pools(svc.gpu_types, svc.min_gpu_memory)
    fits = {topology.pools[p].site for p in pools if topology.pools[p].gpus_per_node >= svc.gpus_per_replica}
    bare = [s for s in svc.sites if s not in fits]
    if bare:
        return [
            (
                f"{path}.sites",
                f"site {bare[0]!r} has no GPUs a replica of {svc.name!r} can use "
                f"({svc.gpus_per_replica} GPUs on one node of its GPU types); drop it from `sites` or add such racks",
            )
        ]
    from dcsim.infra.wan import Wan

    wan = Wan(names, sc.datacenter.wan)
    for origin in svc.requests.origin or ():
        if not any(wan.connected(origin, s) for s in svc.sites):
            return [
                (
                    f"{path}.requests.origin",
                    f"site {origin!r} reaches none of the service's sites over the WAN; "
                    "add a datacenter.wan link from it, or drop it from `origin`",
                )
            ]
    return []  # fmt: skip


def _bytes(size: float) -> str:
    """A size for people: ``2TB``, ``500GB``."""
    return f"{size / 1e12:g}TB" if size >= 1e12 else f"{size / 1e9:g}GB"


def _storage_problems(
    datacenter: Datacenter, topology: Topology, classes: list[tuple[int, JobClass]], trace: Trace | None
) -> list[tuple[str, str]]:
    """A checkpoint with a ``size`` needs storage bandwidth at every site its jobs may run at."""
    sized = [(f"workload.jobs.{i}", c.name, c) for i, c in classes if c.checkpoint and c.checkpoint.size]
    if trace is not None and trace.checkpoint is not None and trace.checkpoint.size:
        sized.append(("workload.trace", trace.name, trace))
    problems = []
    for path, name, spec in sized:
        sites = {topology.pools[p].site for p in topology.allowed_pools(spec.gpu_types, spec.min_gpu_memory)}
        bare = [(i, s.name) for i, s in enumerate(datacenter.sites) if s.name in sites and s.storage is None]
        if bare:
            where = ", ".join(repr(n) for _, n in bare)
            problems.append(
                (f"{path}.checkpoint.size", f"jobs of {name!r} write checkpoints of {_bytes(spec.checkpoint.size)}, "
                 f"but site {where} has no `storage` bandwidth to write them at; give datacenter.sites."
                 f"{bare[0][0]}.storage: {{bandwidth: ...}} (e.g. 200GB/s), or a fixed `write` time instead of "
                 "`size`")
            )  # fmt: skip
    return problems


def _price_problems(datacenter: Datacenter, topology: Topology, costs: Costs | None) -> list[tuple[str, str]]:
    """Every GPU type of every site has a price: the site's own, or the scenario-wide one."""
    scenario_wide = costs if costs is not None else Costs(gpu_hour_usd={"*": 0.0})
    types_of: dict[str, set[str]] = {}
    for pool in topology.pools:
        types_of.setdefault(pool.site, set()).add(pool.gpu_type)
    shared: set[str] = set()  # types of the sites that take the scenario-wide prices
    problems = []
    for i, site in enumerate(datacenter.sites):
        types = types_of.get(site.name, set())
        own = site.own_costs()
        if own is None or own.gpu_hour_usd is None:
            shared |= types
            continue
        prices = scenario_wide.for_site(own).gpu_hour_usd
        missing = sorted(types - set(prices)) if "*" not in prices else []
        where = "gpu_hour_usd" if site.gpu_hour_usd is not None else "costs.gpu_hour_usd"
        if missing:
            problems.append(
                (f"datacenter.sites.{i}.{where}", f"no price for GPU type {', '.join(missing)} at site "
                 f"{site.name!r}, here or in the scenario-wide costs; add it, or a '*' default")
            )  # fmt: skip
    prices = scenario_wide.gpu_hour_usd
    if "*" not in prices:
        missing = sorted(shared - set(prices))
        if missing:
            problems.insert(
                0, ("costs.gpu_hour_usd", f"no price for GPU type {', '.join(missing)}; add it, or a '*' default")
            )
    return problems


#: Offered load of the never-ending classes above which a command refuses to run without
#: ``--allow-overload``. Between 1 and this, a what-if of a smaller cluster, it warns; a rate
#: written in the wrong unit (per second or minute for per hour, per hour for per day) is
#: 24 to 3,600 times too high, and such runs take minutes to build an ever longer queue.
OVERLOAD_REFUSED = 10.0


def load_report(sc: Scenario, topology: Topology | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """What the workload and the failures ask of the data center, before any queueing.

    Returns:
        Lines for a person (the offered load, the repair crew's load) and the problems that
        refuse a run without ``--allow-overload``: never-ending classes that offer more than
        :data:`OVERLOAD_REFUSED` times the installed GPUs.
    """
    from dcsim.faults.crew import CREW_OVERLOADED, crew_loads
    from dcsim.workload.offered import offered_work

    topology = topology or build_topology(sc.datacenter)
    installed = topology.n_gpus
    work = offered_work(sc, topology)
    period = sc.horizon
    offered = work.gpus(period) if period is not None else work.endless_gpus
    if period is None and work.finite_gpu_seconds:  # a run that ends when its work drains
        lines = [
            f"offered work: {work.finite_gpu_seconds / 3600:,.0f} GPU-hours that end when they drain"
            + (f", and {100 * offered / installed:,.1f} % of the installed GPUs busy by classes without a count"
               if offered else "")
            + "; the run reports its offered load over the time it takes"
        ]  # fmt: skip
    else:
        lines = [
            f"offered load: {100 * offered / installed:,.1f} % of the installed GPUs ({offered:,.1f} of "
            f"{installed:,} busy on average before queueing)"
        ]
    problems: list[tuple[str, str]] = []
    endless = work.endless_gpus / installed
    if endless > 1:
        names = [c.name for c in sc.workload.jobs if c.count is None and not isinstance(c.arrival, BatchArrival)]
        times = f"{endless:,.0f}" if endless >= 100 else f"{endless:.3g}"
        what = (
            f"the job classes without a count ({', '.join(names)}) offer {times} times the installed GPUs "
            f"({work.endless_gpus:,.0f} GPUs of demand on {installed:,}): the queue grows without bound"
        )
        if endless > OVERLOAD_REFUSED:
            problems.append(
                ("workload.jobs", f"{what} and the run would take long; check the arrival rates (a bare number "
                 "is per second: `rate: 6` is 6/s, write 6/h for six an hour), or give --allow-overload to run it")
            )  # fmt: skip
        else:
            lines.append(f"overloaded: {what}, whatever the policy")
    loads = crew_loads(sc, topology) or []
    per_site = any(crew.own for crew, _ in loads)
    for crew, load in loads:
        where = f" at {crew.label}" if per_site else ""
        line = f"repair crew load{where}: {100 * load.load:,.0f} % ({load.describe()})"
        lines.append(line + (f"; {CREW_OVERLOADED}" if load.load > 1 else ""))
    return lines, problems
