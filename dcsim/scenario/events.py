"""Timed events: what-if changes at a time of the run (``events:``), their checks and their plan.

An event happens ``at`` a time and may last (``until`` a time, or ``for`` a duration); it does
exactly one thing:

- ``set: {PATH: VALUE, ...}`` changes fields of the scenario, by path (as ``--set`` writes
  them). Only fields that can change during a run may be set: a job class's or a service's
  arrival ``rate`` (poisson or diurnal), the parameters a built-in autoscaler reads at every
  decision, and electricity prices and carbon intensities (a price shock). With an end, the old
  value returns then (for an hourly series: the series' value at that time).
- ``fail: {site: NAME}`` (or ``{site, rack}``, ``{site, rack, node}``, racks and nodes counted
  from 0 within the site) takes the unit down as a failure of it would. With an end it comes
  back then, without the repair crew; without one, a later ``restore`` of the same unit brings
  it back, and with neither the site's normal repair process mends it.
- ``add_racks: {site, racks}`` installs racks (of the site's node model) at that time;
  ``remove_racks`` takes the site's last racks out of service for good (their runs are
  requeued).

This module holds the block (:class:`Event`), the checks that need the whole scenario
(:func:`event_problems`) and the parts of the plan that are the scenario's arithmetic
(:func:`arrival_windows`, :func:`policy_changes`); :mod:`dcsim.engine.events` applies the rest
at run time. It imports no engine. A price or carbon intensity set by an event is an overlay on
the site's step function (:func:`dcsim.infra.sites.event_overlays`), which scoring, site routers
and geo balancers all read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from dcsim.core import units
from dcsim.core.errors import DcsimError, ScenarioError
from dcsim.core.spec import PositiveSeconds, Seconds, Strict

ACTIONS = ("set", "add_racks", "remove_racks", "fail", "restore")
"""The things an event can do (exactly one per event)."""

SETTABLE = (
    "a job class's arrival rate (workload.jobs.N.arrival.rate, poisson or diurnal), a service's request rate "
    "(services.N.requests.arrival.rate, poisson or diurnal), or a parameter a service's autoscaler reads at every "
    "decision (services.N.autoscaler.PARAM, e.g. target), an electricity price or carbon intensity "
    "(costs.electricity_usd_per_kwh, datacenter.sites.N.carbon_g_per_kwh, ...)"
)
"""The kinds of fields an event may set, as messages list them."""

_JOB_RATE = re.compile(r"workload\.jobs\.(\d+)\.arrival\.rate")
_SERVICE_RATE = re.compile(r"services\.(\d+)\.requests\.arrival\.rate")
_POLICY = re.compile(r"services\.(\d+)\.(autoscaler|load_balancer)\.(?:params\.)?(\w+)")
_PRICE = re.compile(r"(?:costs|datacenter\.sites\.\d+(?:\.costs)?)\.(electricity_usd_per_kwh|carbon_g_per_kwh|pue)")


class Unit(Strict):
    """A site, or a rack or node of it, that an event fails or restores."""

    site: str = Field(description="site name")
    rack: int | None = Field(None, ge=0, description="a rack of the site, counted from 0 (default: the whole site)")
    node: int | None = Field(None, ge=0, description="a node of that rack, counted from 0 (needs `rack`)")

    @model_validator(mode="after")
    def _node_in_rack(self) -> Unit:
        if self.node is not None and self.rack is None:
            raise ValueError("a `node` is counted within its rack: give `rack` too, e.g. {site: dc1, rack: 0, node: 2}")
        return self

    def describe(self) -> str:
        """The unit in words."""
        if self.rack is None:
            return f"site {self.site}"
        if self.node is None:
            return f"rack {self.rack} of site {self.site}"
        return f"node {self.node} of rack {self.rack} of site {self.site}"


class RackChange(Strict):
    """Racks installed in or removed from a site."""

    site: str = Field(description="site name (a uniform site: the racks are of its node model)")
    racks: int = Field(ge=1, le=100_000, description="how many racks")


class Event(Strict):
    """A timed change: at `at` (until `until`, or for `for`), exactly one action."""

    model_config = ConfigDict(**Strict.model_config, serialize_by_alias=True)  # `for` as written

    at: Seconds = Field(description="when it happens, e.g. 3d")
    until: PositiveSeconds | None = Field(None, description="when it ends (the old value returns, the unit is back)")
    for_: PositiveSeconds | None = Field(None, alias="for", description="how long it lasts (instead of `until`)")
    set: dict[str, Any] | None = Field(
        None, description="fields by path and their new values, e.g. {services.0.requests.arrival.rate: 60/s}"
    )
    add_racks: RackChange | None = Field(None, description="install racks in a site")
    remove_racks: RackChange | None = Field(None, description="take a site's last racks out of service for good")
    fail: Unit | None = Field(None, description="a site, rack or node goes down")
    restore: Unit | None = Field(None, description="a unit an earlier `fail` took down (without an end) comes back")

    @model_validator(mode="after")
    def _one_action(self) -> Event:
        given = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(given) != 1:
            have = f"it has {', '.join(given)}" if given else "it has none"
            raise ValueError(f"an event does exactly one of {', '.join(ACTIONS)}; {have}: split it into events")
        if self.until is not None and self.for_ is not None:
            raise ValueError("give `until` (a time) or `for` (a duration), not both")
        if self.until is not None and self.until <= self.at:
            raise ValueError(
                f"until ({units.format_duration(self.until)}) must be after at ({units.format_duration(self.at)})"
            )
        if self.set is not None and not self.set:
            raise ValueError("`set` names no field; give {PATH: VALUE}, e.g. {workload.jobs.0.arrival.rate: 12/h}")
        lasting = self.until is not None or self.for_ is not None
        if lasting and given[0] in ("add_racks", "remove_racks", "restore"):
            raise ValueError(f"`{given[0]}` is for good: drop `until`/`for` (undo it with a later event)")
        return self

    @property
    def action(self) -> str:
        """The event's action (one of :data:`ACTIONS`)."""
        return next(a for a in ACTIONS if getattr(self, a) is not None)

    @property
    def end(self) -> float:
        """When it ends, s (inf: never)."""
        if self.until is not None:
            return float(self.until)
        if self.for_ is not None:
            return float(self.at + self.for_)
        return math.inf

    def describe(self) -> str:
        """The event in plain words, for ``dcsim validate`` and the events table."""
        when = f"at {units.format_duration(self.at)}"
        if math.isfinite(self.end):
            when += f" until {units.format_duration(self.end)}"
        action = self.action
        if self.set is not None:
            what = "set " + ", ".join(f"{path} to {value}" for path, value in self.set.items())
            what += " (then back)" if math.isfinite(self.end) else ""
        elif self.fail is not None:
            what = f"fail {self.fail.describe()}"
        elif self.restore is not None:
            what = f"restore {self.restore.describe()}"
        else:
            change: RackChange = getattr(self, action)
            verb = "add" if action == "add_racks" else "remove"
            what = f"{verb} {change.racks} rack{'s' if change.racks != 1 else ''} {'to' if verb == 'add' else 'from'}"
            what += f" site {change.site}"
        return f"{when}: {what}"


# --------------------------------------------------------------------------- the kinds of settable paths
@dataclass(frozen=True)
class Setting:
    """What a settable path changes: an arrival rate or a policy parameter of one job class or service."""

    kind: str
    """``job_rate``, ``service_rate`` or ``policy``."""
    index: int
    """The job class's or service's index."""
    policy: str = ""
    """For a policy parameter: ``autoscaler`` or ``load_balancer``."""
    param: str = ""
    """For a policy parameter: its name."""


def setting(path: str) -> Setting | None:
    """The kind of field ``path`` names, if it is one an event may set."""
    if m := _JOB_RATE.fullmatch(path):
        return Setting("job_rate", int(m[1]))
    if m := _SERVICE_RATE.fullmatch(path):
        return Setting("service_rate", int(m[1]))
    if m := _POLICY.fullmatch(path):
        return Setting("policy", int(m[1]), m[2], m[3])
    return None


def live_params(registry: Any, name: str) -> frozenset[str]:
    """The parameters policy ``name`` reads at every decision (its ``live_params``; a plug-in: none known)."""
    try:
        cls = registry.lookup(name)
    except DcsimError:  # an unknown name is the policy check's problem
        return frozenset()
    return frozenset(getattr(cls, "live_params", ())) if cls in registry.builtins() else frozenset()


def _walk(data: Any, path: str) -> tuple[bool, Any]:
    """Whether ``path`` leads somewhere in raw data, and the value there."""
    node = data
    for step in path.split("."):
        if isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        elif isinstance(node, dict) and step in node:
            node = node[step]
        else:
            return False, None
    return True, node


def _substitute(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of raw scenario data with ``value`` at ``path`` (a service policy's parameter in its own form)."""
    import copy

    out = copy.deepcopy(data)
    out.pop("events", None)
    found = setting(path)
    if found is not None and found.kind == "policy":
        service = out["services"][found.index]
        spec = service.get(found.policy, {"name": "none" if found.policy == "autoscaler" else "round_robin"})
        if isinstance(spec, str):
            spec = {"name": spec}
        if "policy" in spec:
            spec = {**spec, found.param: value}
        else:
            spec = {**spec, "params": {**spec.get("params", {}), found.param: value}}
        service[found.policy] = spec
        return out
    steps = path.split(".")
    node: Any = out
    for step in steps[:-1]:
        node = node[int(step)] if isinstance(node, list) else node.setdefault(step, {})
    last = steps[-1]
    node[int(last) if isinstance(node, list) else last] = value
    return out


def _set_problems(
    sc: Any, data: dict[str, Any], i: int, path: str, value: Any, validate: Callable[[dict[str, Any]], Any]
) -> list[tuple[str, str]]:
    """Whether ``path`` may be set to ``value`` by event ``i``; the scenario with it must validate."""
    from dcsim.policies.autoscaling import AUTOSCALER
    from dcsim.policies.balancing import LOAD_BALANCER

    where = f"events.{i}.set.{path}"
    found = setting(path)
    if found is None and (m := _PRICE.fullmatch(path)):
        problem = _price_problem(sc, path, m[1], value)
        if problem:
            return [(where, problem)]
    elif found is None:
        exists, _ = _walk(data, path)
        if not exists:
            return [(where, f"no field {path!r} in the scenario (give its full path, lists by index from 0); "
                            f"settable: {SETTABLE}")]  # fmt: skip
        return [(where, f"this field cannot change during a run (it is read once, at the start); settable: {SETTABLE}")]
    elif found.kind in ("job_rate", "service_rate"):
        items = sc.workload.jobs if found.kind == "job_rate" else sc.services
        what = "job class" if found.kind == "job_rate" else "service"
        if found.index >= len(items):
            return [(where, f"no {what} {found.index}: the scenario has {len(items)}, from 0")]
        item = items[found.index]
        arrival = item.arrival if found.kind == "job_rate" else item.requests.arrival
        count = item.count if found.kind == "job_rate" else item.requests.count
        process = getattr(arrival, "process", "trace")
        if process not in ("poisson", "diurnal"):
            return [(where, f"{what} {item.name!r} arrives by {process}; an event sets only a poisson or diurnal "
                            "rate (an mmpp's or a trace's arrivals are given in full)")]  # fmt: skip
        if count is not None:
            return [(where, f"{what} {item.name!r} stops after `count` arrivals; a rate event needs arrivals bound "
                            "by the horizon: drop `count`")]  # fmt: skip
    else:
        if found.index >= len(sc.services):
            return [(where, f"no service {found.index}: the scenario has {len(sc.services)}, from 0")]
        spec = getattr(sc.services[found.index], found.policy)
        from dcsim.policies.geo import is_geo

        registry = AUTOSCALER if found.policy == "autoscaler" else (is_geo(spec.name) or LOAD_BALANCER)
        live = live_params(registry, spec.name)
        if found.param not in live:
            can = f"its live parameters are {', '.join(sorted(live))}" if live else "it has none an event can change"
            return [(where, f"{found.policy} {spec.name!r} does not read {found.param!r} at every decision, so a "
                            f"change would do nothing; {can}")]  # fmt: skip
    try:
        validate(_substitute(data, path, value))
    except ScenarioError as exc:  # each of its problems, at the event
        return [(where, f"{p}: {text}" if p and p != path else text) for p, text in exc.problems]
    return []


def _price_problem(sc: Any, path: str, field: str, value: Any) -> str | None:
    """What is wrong with an event setting a price or carbon intensity at ``path`` to ``value`` (None: nothing)."""
    if field == "pue":
        return "a site's PUE is read once, at the start; an event may set an electricity price or a carbon intensity"
    if isinstance(value, dict | bool) or not isinstance(value, int | float | str):
        return f"an event sets one number (e.g. {field}: 0.30), not a series or a block"
    sites = sc.datacenter.sites
    m = re.match(r"datacenter\.sites\.(\d+)", path)
    if m is not None:
        if int(m[1]) >= len(sites):
            return f"no site {m[1]}: the scenario has {len(sites)}, counted from 0"
        site = sites[int(m[1])]
        if field == "carbon_g_per_kwh" and sc.site_costs()[site.name].carbon_g_per_kwh is None:
            return (f"site {site.name!r} has no carbon intensity, so there is none to change: give it one "
                    "(carbon_g_per_kwh on the site, or in costs for every site)")  # fmt: skip
        return None
    if field == "carbon_g_per_kwh" and sc.costs.carbon_g_per_kwh is None:
        return "the scenario has no carbon intensity in costs to change: give costs.carbon_g_per_kwh a value"
    own = [s.name for s in sites if (o := s.own_costs()) is not None and getattr(o, field) is not None]
    if len(own) == len(sites):  # the scenario-wide value reaches no site
        return (f"every site sets its own {field}, so the scenario-wide one prices none: set it on a site "
                f"(datacenter.sites.N.{field})")  # fmt: skip
    return None


def _unit_problems(sc: Any, where: str, unit: Unit, racks: dict[str, int]) -> list[tuple[str, str]]:
    sites = {s.name: s for s in sc.datacenter.sites}
    if unit.site not in sites:
        return [(f"{where}.site", f"no site {unit.site!r}; sites: {', '.join(sites)}")]
    if unit.rack is not None and unit.rack >= racks[unit.site]:
        return [(f"{where}.rack", f"site {unit.site!r} has racks 0..{racks[unit.site] - 1}, not {unit.rack}")]
    if unit.node is not None:
        site = sites[unit.site]
        sizes = [g.nodes_per_rack for g in site.groups for _ in range(g.racks)]
        per_rack = sizes[unit.rack] if (unit.rack or 0) < len(sizes) else site.nodes_per_rack  # an added rack
        if unit.node >= per_rack:
            return [(f"{where}.node", f"rack {unit.rack} of site {unit.site!r} has nodes 0..{per_rack - 1}, "
                                      f"not {unit.node}")]  # fmt: skip
    return []


def event_problems(sc: Any, data: dict[str, Any], validate: Callable[[dict[str, Any]], Any]) -> list[tuple[str, str]]:
    """Every problem of a schema-valid scenario's events, as ``(path, message)``.

    ``validate`` validates raw scenario data (raising an error with ``problems``): a ``set``
    is checked by validating the scenario with the new value in place.
    """
    problems: list[tuple[str, str]] = []
    events = sc.events
    if not events:
        return problems
    sites = {s.name: s for s in sc.datacenter.sites}
    racks = {name: sum(g.racks for g in s.groups) for name, s in sites.items()}
    installed = dict(racks)
    down: dict[tuple[str, int | None, int | None], int] = {}
    spans: dict[str, list[tuple[float, float, int]]] = {}
    order = sorted(range(len(events)), key=lambda k: events[k].at)
    for i in order:
        ev = events[i]
        where = f"events.{i}"
        # An event at or beyond the horizon is checked as every event is, and does not happen (a note
        # says so: a run shortened by --set horizon=... keeps the file's events).
        if ev.set is not None:
            for path, value in ev.set.items():
                found = _set_problems(sc, data, i, path, value, validate)
                problems += found
                if not found:
                    for start, end, other in spans.get(path, []):
                        superseded = math.isinf(end) and start < ev.at  # an earlier set for good: this one follows it
                        if ev.at < end and start < ev.end and not superseded:
                            problems.append((f"{where}.set.{path}", f"event {other} sets it too, from "
                                             f"{units.format_duration(start)}, and its span overlaps this one's; "
                                             "give one of them an earlier end"))  # fmt: skip
                    spans.setdefault(path, []).append((ev.at, ev.end, i))
            continue
        change = ev.add_racks or ev.remove_racks
        if change is not None:
            field = f"{where}.{ev.action}"
            site = sites.get(change.site)
            if site is None:
                problems.append((f"{field}.site", f"no site {change.site!r}; sites: {', '.join(sites)}"))
            elif site.rack_groups:
                problems.append((f"{field}.site", f"site {change.site!r} has rack groups; racks are added to and "
                                 "removed from a uniform site (`racks`, `nodes_per_rack`, `node`)"))  # fmt: skip
            elif ev.add_racks is not None:
                racks[change.site] += change.racks
                installed[change.site] += change.racks
            elif change.racks >= installed[change.site]:
                problems.append((f"{field}.racks", f"site {change.site!r} has {installed[change.site]} racks then; "
                                 "removing all of them leaves nothing: remove fewer"))  # fmt: skip
            else:
                installed[change.site] -= change.racks
            continue
        unit = ev.fail or ev.restore
        assert unit is not None
        field = f"{where}.{ev.action}"
        found = _unit_problems(sc, field, unit, racks)
        problems += found
        if found:
            continue
        key = (unit.site, unit.rack, unit.node)
        if ev.fail is not None:
            if not math.isfinite(ev.end):
                down[key] = i
        elif key not in down:
            problems.append((field, f"no earlier `fail` of {unit.describe()} without `until`/`for` to restore; "
                             "fail it first, or give that event `for`"))  # fmt: skip
        else:
            del down[key]
    return sorted(problems, key=lambda p: int(p[0].split(".")[1]))  # by event, each event's in its order


# --------------------------------------------------------------------------- the plan the engine applies
Window = tuple[float, float, float]
"""From ``start`` until ``end`` (s), the arrival rate is ``factor`` times the base rate."""


def rate_windows(events: list[Event], path: str, base: float, parse: Callable[[Any], float]) -> list[Window]:
    """The windows in which the events set the rate at ``path`` away from ``base`` (per s), by time.

    ``parse`` converts an event's value (``60/s``) to per s. Overlapping spans are refused by the
    checks; an event without an end holds until the next one sets the field.
    """
    from dcsim.core.series import Steps

    steps = Steps.constant(base)
    for ev in sorted((e for e in events if e.set is not None and path in e.set), key=lambda e: e.at):
        steps = steps.overlay(float(ev.at), ev.end, parse(ev.set[path]))  # type: ignore[index]
    windows = []
    times = [*steps.times.tolist(), math.inf]
    for k, value in enumerate(steps.values.tolist()):
        if value != base and times[k + 1] > times[k]:
            windows.append((times[k], times[k + 1], value / base))
    return windows


def arrival_windows(sc: Any, services: bool = False) -> dict[int, list[Window]]:
    """The rate windows of each job class (or service) whose rate an event sets, by its index."""
    out = {}
    items = sc.services if services else sc.workload.jobs
    for i, item in enumerate(items):
        path = f"services.{i}.requests.arrival.rate" if services else f"workload.jobs.{i}.arrival.rate"
        if any(e.set is not None and path in e.set for e in sc.events):
            arrival = item.requests.arrival if services else item.arrival
            out[i] = rate_windows(sc.events, path, float(arrival.rate), units.rate)
    return out


@dataclass(frozen=True)
class PolicyChange:
    """At ``time``, service ``service``'s ``policy`` takes parameter ``param`` = ``value`` (as written)."""

    time: float
    event: int
    service: int
    policy: str
    param: str
    value: Any


def policy_changes(sc: Any) -> list[PolicyChange]:
    """Every policy-parameter change of the events, with the change back at an event's end, by time.

    An event with an end gives back the value in force before it: the scenario's, or that of an
    earlier event without an end (which a later event supersedes); at one instant a change back
    comes before a new value.
    """
    out: list[tuple[float, int, PolicyChange]] = []
    current: dict[str, Any] = {}
    for i in sorted(range(len(sc.events)), key=lambda k: sc.events[k].at):
        ev = sc.events[i]
        for path, value in (ev.set or {}).items():
            found = setting(path)
            if found is None or found.kind != "policy":
                continue
            spec = getattr(sc.services[found.index], found.policy)
            before = current.get(path, spec.params.get(found.param, _DEFAULT))
            out.append((float(ev.at), 1, PolicyChange(float(ev.at), i, found.index, found.policy, found.param, value)))
            if math.isfinite(ev.end):
                out.append((ev.end, 0, PolicyChange(ev.end, i, found.index, found.policy, found.param, before)))
            else:
                current[path] = value
    return [change for _, _, change in sorted(out, key=lambda c: (c[0], c[1]))]


_DEFAULT = object()
"""A parameter the scenario left at its default (a change back drops it)."""


def is_default(value: Any) -> bool:
    """Whether a change back restores a parameter the scenario did not give."""
    return value is _DEFAULT


__all__ = [
    "ACTIONS",
    "SETTABLE",
    "Event",
    "PolicyChange",
    "RackChange",
    "Setting",
    "Unit",
    "Window",
    "arrival_windows",
    "event_problems",
    "is_default",
    "live_params",
    "policy_changes",
    "rate_windows",
    "setting",
]


def late_event_notes(sc: Any) -> list[str]:
    """Events at or beyond the horizon: they are valid, and do not happen in this run."""
    if sc.horizon is None:
        return []
    horizon = units.format_duration(sc.horizon)
    return [
        f"events.{i} at {units.format_duration(ev.at)} is at or beyond the horizon ({horizon}): it does not happen "
        "in this run"
        for i, ev in enumerate(sc.events)
        if ev.at >= sc.horizon
    ]
