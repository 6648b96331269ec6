"""What a scenario sets that the model records but does not simulate yet.

The schema accepts a few fields ahead of the models that will use them, or that only act
together with others: the network block slows only jobs with a communication profile, and
its spine count matters only when links or switches fail; a site's storage bandwidth
matters only to checkpoints with a size. A scenario that sets them gets one line
saying so, in the run's ``notes`` (through
:func:`dcsim.experiment.run.notes`) and in ``dcsim validate``'s output, so that no
field silently does nothing.
"""

from __future__ import annotations

from dcsim.faults.spec import fabric_named
from dcsim.infra.topology import GPU_POWER_W
from dcsim.scenario.events import late_event_notes
from dcsim.scenario.schema import Network, Scenario
from dcsim.scenario.tenant_checks import tenant_field_notes

NETWORK_FIELDS = tuple(Network.model_fields)
"""The fields of a site's ``network`` block."""


def unmodelled_notes(scenario: Scenario) -> list[str]:
    """One line per kind of setting that is recorded but changes no result.

    Args:
        scenario: a validated scenario.

    Returns:
        The lines (empty when the scenario sets nothing of the kind).
    """
    out = []
    given = {
        name
        for site in scenario.datacenter.sites
        for name in site.network.model_fields_set
        if getattr(site.network, name) is not None
    }
    talks = any(c.communication is not None and c.communication.pattern != "none" for c in scenario.workload.jobs)
    elastic = [c.name for c in scenario.workload.jobs if c.elastic is not None]
    if elastic and scenario.policies.scheduler.name != "elastic":
        out.append(
            f"job class{'es' if len(elastic) > 1 else ''} {', '.join(elastic)} {'are' if len(elastic) > 1 else 'is'} "
            f"elastic, but only the `elastic` scheduler resizes jobs: under {scenario.policies.scheduler.name!r} "
            "its jobs run rigid at their `gpus` (set policies.scheduler: elastic to grow and shrink them)"
        )
    if _sized(scenario):
        given.discard("nic")  # a node's storage traffic goes at most at its NIC's speed
    if given and not talks:
        names = ", ".join(f"network.{name}" for name in NETWORK_FIELDS if name in given)
        out.append(
            f"{names} {'is' if len(given) == 1 else 'are'} set, but no job class has a `communication` profile: "
            "the fabric slows no job (give a class `communication: {pattern, bytes_per_step, compute_per_step}`)"
        )
    elif "spines" in given and not fabric_named(scenario.failures, scenario.maintenance):
        out.append(
            "network.spines changes no result without link or switch failures or maintenance: a leaf's (or rail "
            "switch's) uplinks are one bundle of its NICs' capacity over the oversubscription, however many spines "
            "share it; a failed spine or uplink takes 1/spines of it"
        )
    if not talks and _fabric_failures(scenario):
        out.append(
            "failures name links or switches, but no job class has a `communication` profile: only the failures "
            "that cut hosts off (a node's NIC link, a leaf, edge or rail switch) change results; a spine, "
            "aggregation or core switch or an uplink slows no job"
        )
    if not talks:
        policies = scenario.policies
        if policies.scheduler.name == "lp" and "network_weight" in (policies.scheduler.params or {}):
            out.append(
                "policies.scheduler.params.network_weight is set, but no job class has a `communication` profile: "
                "there is no fabric to price and it changes no result"
            )
        if policies.placement.name == "network_aware":
            out.append(
                "placement network_aware has no fabric to read (no job class has a `communication` profile): it "
                "places for locality alone, as rack_pack does"
            )
    out += service_notes(scenario)
    out += late_event_notes(scenario)
    out += routing_notes(scenario)
    out += unused_storage_notes(scenario)
    out += unused_price_notes(scenario)
    out += tenant_field_notes(scenario)
    return out


def routing_notes(scenario: Scenario) -> list[str]:
    """Job classes' routing settings that change no result: deferral under a router that never waits, stranded data."""
    router = scenario.policies.site_router
    if router is None:
        if scenario.datacenter.wan and not any(s.sites for s in scenario.services):
            return [
                "datacenter.wan is set, but no site router moves jobs' data and no service runs in several sites: it "
                "changes no result (set policies.site_router, or a service's `sites`)"
            ]
        return []
    from dcsim.infra.wan import Wan

    out = []
    names = [s.name for s in scenario.datacenter.sites]
    wan = Wan(names, scenario.datacenter.wan)
    for i, cls in enumerate(scenario.workload.jobs):
        if cls.deferrable > 0 and router.name in ("home", "least_loaded", "follow_the_sun"):
            out.append(
                f"workload.jobs.{i}.deferrable is set, but site router {router.name} never holds a job back (only "
                "cheapest_now and lowest_carbon do): it changes no result"
            )
        if cls.data is not None and cls.data.home in names:
            cut_off = [n for n in names if n != cls.data.home and not wan.connected(cls.data.home, n)]
            if cut_off:
                out.append(
                    f"workload.jobs.{i}.data.home {cls.data.home} has no WAN path to {', '.join(cut_off)}: the class's "
                    "jobs are never routed there (add a `datacenter.wan` link to let them run there)"
                )
    return out


def _fabric_failures(scenario: Scenario) -> bool:
    """Whether random models or causes make links or switches fail, or maintenance takes them out."""
    f = scenario.failures
    models = f is not None and any(kind in ("link", "switch") for _, kind, _ in f.models())
    return models or any(m.scope in ("link", "switch") for m in scenario.maintenance)


def _sized(scenario: Scenario) -> bool:
    """Whether a checkpoint has a ``size`` (its writes and reads go through storage)."""
    wl = scenario.workload
    checkpoints = [c.checkpoint for c in wl.jobs] + [wl.trace.checkpoint if wl.trace is not None else None]
    return any(c is not None and c.size is not None for c in checkpoints)


def unused_storage_notes(scenario: Scenario) -> list[str]:
    """A line when sites have storage bandwidth but no checkpoint has a ``size`` and no model loads through it."""
    if _sized(scenario) or any(s.model.size and s.cold_start is None for s in scenario.services):
        return []
    paths = [f"datacenter.sites.{i}.storage" for i, s in enumerate(scenario.datacenter.sites) if s.storage is not None]
    if not paths:
        return []
    return [
        f"{', '.join(paths)} {'is' if len(paths) == 1 else 'are'} set, but no checkpoint has a `size`: storage "
        "bandwidth changes no result (checkpoints take their fixed `write` time; give a class `checkpoint: "
        "{interval, size, restart}` to write them through storage, or a service a `model.size` to load)"
    ]


def unused_price_notes(scenario: Scenario) -> list[str]:
    """One line per ``gpu_hour_usd`` block that prices GPU types no node (of the fleet, or of its site) has."""
    sites = scenario.datacenter.sites
    fleet = {g.node.gpu_type for site in sites for g in site.groups}
    priced = [("costs.gpu_hour_usd", scenario.costs.gpu_hour_usd, fleet, "the fleet")]
    for i, site in enumerate(sites):
        if site.costs is not None and site.costs.gpu_hour_usd:
            types = {g.node.gpu_type for g in site.groups}
            priced.append((f"datacenter.sites.{i}.costs.gpu_hour_usd", site.costs.gpu_hour_usd, types, "the site"))
    out = []
    for path, prices, types, where in priced:
        absent = sorted(set(prices) - types - {"*"})
        if absent:
            out.append(
                f"{path} prices {', '.join(absent)}, which no node of {where} has: "
                f"{'it changes' if len(absent) == 1 else 'they change'} no result "
                f"({where} has {', '.join(sorted(types))}; check the spelling)"
            )
    return out


def default_gpu_notes(scenario: Scenario) -> list[str]:
    """A line naming GPU types dcsim has no figures for, and the defaults they get (empty if none)."""
    known = set(GPU_POWER_W)
    unknown = sorted({g.node.gpu_type for site in scenario.datacenter.sites for g in site.groups} - known)
    if not unknown:
        return []
    return [
        f"GPU type {', '.join(unknown)} is not in dcsim's table ({', '.join(sorted(known))}): its power "
        "defaults to 500 W busy / 60 W idle, its memory to 0 GB and its speed to an H100's unless the node "
        "sets gpu_power, gpu_idle_power, gpu_memory and gpu_speed"
    ]


def service_notes(scenario: Scenario) -> list[str]:
    """Service settings that change no result in this scenario."""
    out = []
    training = bool(scenario.workload.jobs) or scenario.workload.trace is not None
    for svc in scenario.services:
        lb = svc.load_balancer.name
        if svc.requests.sessions is not None and lb != "session_affinity":
            out.append(
                f"services {svc.name!r}: requests.sessions is set, but its load balancer ({lb}) does not read session "
                "keys; use load_balancer: session_affinity, or drop `sessions`"
            )
        if (
            lb == "session_affinity"
            and svc.requests.sessions is None
            and not getattr(svc.requests.arrival, "session", None)
        ):
            out.append(
                f"services {svc.name!r}: session_affinity has no session keys (give requests.sessions, or a trace's "
                "session column): it hashes each request's id, which spreads requests as `random` does"
            )
        if svc.model.size and svc.cold_start is not None:
            out.append(
                f"services {svc.name!r}: model.size is not read, because `cold_start` fixes the time a new replica "
                "takes; drop `cold_start` to load the model through the site's storage"
            )
        if svc.priority and not training:
            out.append(
                f"services {svc.name!r}: `priority` changes nothing without training jobs (a replica preempts only "
                "training jobs of lower priority)"
            )
        params = svc.load_balancer.params
        if lb == "geo_latency" and "spill_queue" in params and not params.get("spill_over", False):
            out.append(
                f"services {svc.name!r}: geo_latency's spill_queue is read only with spill_over: true (a site "
                "passes requests on when it is saturated); set spill_over: true or drop spill_queue"
            )
        if svc.autoscaler.name == "none" and svc.replicas.max != svc.replicas.start:
            out.append(
                f"services {svc.name!r}: replicas.max ({svc.replicas.max}) is not reached without an autoscaler: "
                f"the fleet stays at {svc.replicas.start} (replicas.initial, or min)"
            )
    return out
