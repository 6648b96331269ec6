"""The scenario's timed events, applied to a running model (the events themselves: :mod:`dcsim.scenario.events`).

Arrival-rate changes are in the sources' streams from the start (each class's or service's
rate windows, :func:`dcsim.workload.arrivals.rate_windows`); everything else happens here, at
its time: a policy takes new parameters, a unit fails through the reliability machinery as a
drawn failure of it would (and comes back at the event's end without the crew), racks are
installed or removed. Each event is recorded at its start and at its end
(:class:`dcsim.metrics.records.ScenarioEvent`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from dcsim.core.series import Steps
from dcsim.infra.components import NODE, RACK, SITE
from dcsim.scenario.events import is_default, policy_changes

if TYPE_CHECKING:
    import simpy

    from dcsim.infra.topology import Topology
    from dcsim.metrics.collector import Collector

START, END = 0, 1
"""Phases of an event record: it began, or it ended (the old value back, the unit back)."""


def site_racks(topology: Topology) -> list[list[int]]:
    """Rack ids of each site, in order."""
    out: list[list[int]] = [[] for _ in topology.site_names]
    for rack, nodes in enumerate(topology.rack_nodes):
        out[topology.node_site[nodes[0]]].append(rack)
    return out


def later_racks(scenario: Any) -> dict[str, int]:
    """Racks the events add to each site, which the topology holds from the start, absent until then."""
    out: dict[str, int] = {}
    for ev in scenario.events:
        if ev.add_racks is not None:
            out[ev.add_racks.site] = out.get(ev.add_racks.site, 0) + ev.add_racks.racks
    return out


def with_later_racks(datacenter: Any, added: dict[str, int]) -> Any:
    """The data center with each site's later racks in it (a uniform site: of its node model)."""
    if not added:
        return datacenter
    sites = [
        s.model_copy(update={"racks": s.racks + added[s.name]}) if s.name in added else s for s in datacenter.sites
    ]
    return datacenter.model_copy(update={"sites": sites})


class TimedEvents:
    """The events of one run, each applied at its time.

    Args:
        env: the SimPy environment.
        scenario: the validated scenario (its ``events``).
        topology: the layout, later racks included.
        collector: receives a record per event start and end.
        rel: the reliability machinery (built when an event fails a unit or changes racks).
        services: the running services (their policies' parameters change), or None.
        capacity_changed: GPUs went out of or back into service.
    """

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Any,
        topology: Topology,
        collector: Collector,
        rel: Any,
        services: Any,
        capacity_changed: Callable[[], None],
    ) -> None:
        self.env, self.scenario, self.topology, self.col = env, scenario, topology, collector
        self.rel, self.services, self.capacity_changed = rel, services, capacity_changed
        self.events = scenario.events
        self.racks = site_racks(topology)
        names = topology.site_names
        added = later_racks(scenario)
        #: Racks of each site installed now (the site's first ones; later racks follow in order).
        self.installed = [len(r) - added.get(names[i], 0) for i, r in enumerate(self.racks)]
        absent = [r for i, racks in enumerate(self.racks) for r in racks[self.installed[i] :]]
        if absent:
            rel.set_absent(absent, True)
        self._params: dict[tuple[int, str], dict[str, Any]] = {}
        horizon = scenario.horizon if scenario.horizon is not None else math.inf
        restored = self._restores()
        for i, ev in enumerate(self.events):
            self._at(float(ev.at), lambda i=i, ev=ev: self._start(i, ev, restored.get(i)))
            if ev.end < horizon:
                self._at(ev.end, lambda i=i, ev=ev: self._record(i, ev, END))
        for change in policy_changes(scenario):
            self._at(change.time, lambda c=change: self._set_param(c))

    def _at(self, time: float, action: Callable[[], None]) -> None:
        ev = self.env.timeout(max(time - self.env.now, 0.0))
        ev.callbacks.append(lambda _event: action())

    def _restores(self) -> dict[int, float]:
        """How long each `fail` without an end lasts when a later `restore` names its unit, by event."""
        out: dict[int, float] = {}
        open_: dict[tuple[Any, ...], int] = {}
        for i in sorted(range(len(self.events)), key=lambda k: self.events[k].at):
            ev = self.events[i]
            unit = ev.fail or ev.restore
            if unit is None:
                continue
            key = (unit.site, unit.rack, unit.node)
            if ev.fail is not None and not math.isfinite(ev.end):
                open_[key] = i
            elif ev.restore is not None and key in open_:
                first = open_.pop(key)
                out[first] = float(ev.at - self.events[first].at)
        return out

    def _record(self, i: int, ev: Any, phase: int) -> None:
        col = self.col
        col.on_scenario_event(
            self.env.now, i, phase, col.code("event_action", ev.action), col.code("event", ev.describe())
        )

    def _unit(self, unit: Any) -> tuple[int, int]:
        """The component class and unit id an event's ``fail``/``restore`` names."""
        site = self.topology.site_names.index(unit.site)
        if unit.rack is None:
            return SITE, site
        rack = self.racks[site][unit.rack]
        if unit.node is None:
            return RACK, rack
        return NODE, self.topology.rack_nodes[rack][unit.node]

    def _start(self, i: int, ev: Any, restored_after: float | None) -> None:
        self._record(i, ev, START)
        if ev.fail is not None:
            cls, unit = self._unit(ev.fail)
            down_for = ev.end - ev.at if math.isfinite(ev.end) else restored_after
            self.rel._fail(cls, unit, "event", traced=down_for is not None, down_for=down_for)
        elif ev.add_racks is not None or ev.remove_racks is not None:
            change = ev.add_racks or ev.remove_racks
            site = self.topology.site_names.index(change.site)
            n = self.installed[site]
            if ev.add_racks is not None:
                racks, self.installed[site] = self.racks[site][n : n + change.racks], n + change.racks
                self.rel.set_absent(racks, False)
            else:
                racks, self.installed[site] = self.racks[site][n - change.racks : n], n - change.racks
                self.rel.set_absent(racks, True, "decommissioned")
            self.capacity_changed()

    def _set_param(self, change: Any) -> None:
        """A service's policy takes a new parameter value (or its default back) from now on."""
        from dcsim.policies.autoscaling import AUTOSCALER
        from dcsim.policies.balancing import LOAD_BALANCER

        run = self.services.services[change.service]
        spec = getattr(run.spec, change.policy)
        key = (change.service, change.policy)
        params = self._params.setdefault(key, dict(spec.params))
        if is_default(change.value):
            params.pop(change.param, None)
        else:
            params[change.param] = change.value
        if change.policy == "autoscaler":  # a service with sites: every site's autoscaler
            for fleet in getattr(run, "groups", [run]):
                fleet.autoscaler.params = AUTOSCALER.validate_params(spec.name, params)
        elif hasattr(run, "groups"):  # a service with sites: its geo balancer
            from dcsim.policies.geo import GEO_BALANCER

            run.policy.params = GEO_BALANCER.validate_params(spec.name, params)
        else:
            run.balancer.params = LOAD_BALANCER.validate_params(spec.name, params)


def installed_levels(scenario: Any, topology: Topology) -> list[Steps] | None:
    """GPUs installed in each pool over time as racks come and go (None: no event adds or removes racks)."""
    if not any(ev.add_racks is not None or ev.remove_racks is not None for ev in scenario.events):
        return None
    added = later_racks(scenario)
    racks = site_racks(topology)
    rack_gpus = [sum(topology.node_gpus[n] for n in nodes) for nodes in topology.rack_nodes]
    names = topology.site_names
    count = [len(r) - added.get(names[i], 0) for i, r in enumerate(racks)]
    gpus = [0.0] * len(topology.pools)
    for i, site in enumerate(racks):
        for r in site[: count[i]]:
            gpus[topology.rack_pool[r]] += rack_gpus[r]
    levels = [Steps.constant(g) for g in gpus]
    for ev in sorted(scenario.events, key=lambda e: e.at):
        change = ev.add_racks or ev.remove_racks
        if change is None:
            continue
        i = names.index(change.site)
        n = count[i]
        if ev.add_racks is not None:
            moved, count[i], sign = racks[i][n : n + change.racks], n + change.racks, 1.0
        else:
            moved, count[i], sign = racks[i][n - change.racks : n], n - change.racks, -1.0
        for r in moved:
            gpus[topology.rack_pool[r]] += sign * rack_gpus[r]
        for p in {topology.rack_pool[r] for r in moved}:
            levels[p] = levels[p].overlay(float(ev.at), math.inf, gpus[p])
    return levels


def installed_gpu_seconds(levels: list[Steps], start: float, end: float) -> list[float]:
    """GPU-seconds installed in each pool over ``[start, end]``."""
    return [level.integral(start, end) for level in levels]


def installed_at(levels: list[Steps], times: np.ndarray) -> np.ndarray:
    """GPUs installed in the whole data center at each of ``times``."""
    total = np.zeros(times.size)
    for level in levels:
        total += level.values[np.maximum(np.searchsorted(level.times, times, side="right") - 1, 0)]
    return total


__all__ = [
    "END",
    "START",
    "TimedEvents",
    "installed_at",
    "installed_gpu_seconds",
    "installed_levels",
    "later_racks",
    "site_racks",
    "with_later_racks",
]
