"""The repair crew's offered load: hands-on repairs arriving against the hours technicians work.

Failures that neither a reboot fixes nor a trace times arrive at ``lambda`` per second
(every unit's long-run failure rate, renewal theorem), each needing ``E[repair]`` seconds of
hands-on work, done only inside working hours by ``c`` technicians. The crew's offered load
is ``rho = lambda x E[repair] / (c x share of the week worked)``. Above 1 the crew cannot keep
up: repairs queue, more and more of the fleet waits for a technician, and availability falls
the longer the run (the finite fleet bounds the queue, so a run still ends, but what it
measures depends on the horizon rather than on a steady state).

A site with its own ``repair`` block has a crew of its own, offered only that site's
failures; the sites without one share the scenario-wide crew (:func:`crews`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dcsim.faults.models import time_to_failure
from dcsim.faults.spec import COMPONENTS, Repair
from dcsim.infra.spec import WorkingHours
from dcsim.infra.topology import Topology
from dcsim.workload.distributions import duration_sampler

if TYPE_CHECKING:
    from dcsim.scenario.schema import Scenario  # annotation only: the schema composes this package's spec

CREW_OVERLOADED = (
    "overloaded: repairs queue without end, so availability falls the longer the run and what it measures depends "
    "on the horizon; add technicians or working hours"
)
"""What an overloaded crew means for a run's results, for messages and notes."""


@dataclass(frozen=True)
class CrewLoad:
    """What the technicians are offered.

    Attributes:
        hands_on_per_s: failures per second that need a technician.
        mean_repair_s: mean hands-on repair time, s (working time).
        technicians: crew size.
        worked_share: share of the week inside working hours (1 without working hours).
    """

    hands_on_per_s: float
    mean_repair_s: float
    technicians: int
    worked_share: float

    @property
    def load(self) -> float:
        """Offered load of the crew: hands-on work asked for / technician time available."""
        capacity = self.technicians * self.worked_share
        work = self.hands_on_per_s * self.mean_repair_s
        return work / capacity if capacity > 0 else (float("inf") if work > 0 else 0.0)

    def describe(self) -> str:
        """One sentence for a reader: how fast repairs arrive and how fast the crew finishes them."""
        per_week = self.hands_on_per_s * 7 * 86400.0
        hours = self.mean_repair_s / 3600.0
        crew_week = self.technicians * self.worked_share * 7 * 24
        return (
            f"{per_week:.3g} hands-on repairs a week x {hours:.3g} h = {per_week * hours:.3g} h of work for "
            f"{crew_week:.3g} technician-hours"
        )


@dataclass(frozen=True)
class Crew:
    """Technicians who repair the failures of some sites, and only theirs.

    Attributes:
        sites: names of the sites it repairs, in scenario order.
        technicians: crew size.
        working_hours: when it works (None: around the clock).
        own: the crew of one site's own ``repair`` block; False for the scenario-wide crew,
            which every site without such a block shares.
    """

    sites: tuple[str, ...]
    technicians: int
    working_hours: WorkingHours | None
    own: bool

    @property
    def label(self) -> str:
        """The crew in words, for notes and messages: ``site b``, or ``sites a, c (scenario-wide crew)``."""
        names = ", ".join(self.sites)
        if self.own:
            return f"site {names}"
        return f"site{'s' if len(self.sites) > 1 else ''} {names} (scenario-wide crew)"


def crews(sc: Scenario) -> list[Crew]:
    """The repair crews of a scenario, ordered by their first site.

    Sites without a ``repair`` block share one crew, the scenario-wide ``repair`` block's
    (one technician around the clock by default); a site with one has a crew of its own,
    each field it does not set taken from the scenario-wide block.
    """
    repair = sc.repair or Repair()
    sites = sc.datacenter.sites
    shared = tuple(s.name for s in sites if s.repair is None)
    out = []
    for site in sites:
        own = site.repair
        if own is None:
            if site.name == shared[0]:
                out.append(Crew(shared, repair.technicians, repair.working_hours, False))
            continue
        technicians = own.technicians if own.technicians is not None else repair.technicians
        hours = own.working_hours if own.working_hours is not None else repair.working_hours
        out.append(Crew((site.name,), technicians, hours, True))
    return out


def worked_share(hours: WorkingHours | None) -> float:
    """Share of the week inside working hours (1 around the clock)."""
    if hours is None:
        return 1.0
    return (hours.end - hours.start) / 86400.0 * (5.0 / 7.0 if hours.days == "weekdays" else 1.0)


def crew_loads(sc: Scenario, topology: Topology) -> list[tuple[Crew, CrewLoad]] | None:
    """Each crew's offered load under the scenario's random failure models (None without them).

    A crew is offered the failures of its sites only: its sites' pools' GPUs, nodes and
    racks, and the sites themselves.
    """
    failures = sc.failures
    if failures is None or (failures.trace is not None and failures.trace.mode == "replace"):
        return None
    repair = sc.repair or Repair()
    reboot_share = repair.reboot.share if repair.reboot is not None else 0.0
    _, mean_repair = duration_sampler(repair.time, sc.base_dir)
    out = []
    elements = _fabric_elements(sc, topology, failures.models())
    for crew in crews(sc):
        mine = set(crew.sites)
        rate = 0.0
        for _, kind, model in failures.models():
            if kind in elements:
                ttf = time_to_failure(model)
                if ttf is not None:
                    sites = zip(topology.site_names, elements[kind], strict=True)
                    rate += sum(c for name, c in sites if name in mine) * ttf.rate_per_s
                continue
            if kind == "site":
                ttf = time_to_failure(model)
                if ttf is not None:
                    rate += len(crew.sites) * ttf.rate_per_s
                continue
            for pool in topology.pools:
                if pool.site not in mine:
                    continue
                ttf = time_to_failure(model, pool.gpu_type)
                if ttf is None:
                    continue
                units = {"gpu": pool.gpus, "node": len(pool.nodes), "rack": len(pool.racks)}[kind]
                rate += units * ttf.rate_per_s
        load = CrewLoad(
            rate * (1.0 - reboot_share), float(mean_repair), crew.technicians, worked_share(crew.working_hours)
        )
        out.append((crew, load))
    return out


def _fabric_elements(sc: Scenario, topology: Topology, models: list[tuple[str, str, Any]]) -> dict[str, list[int]]:
    """Physical links and switches of each site, for the fabric kinds that fail (the fabric built only then)."""
    kinds = sorted({kind for _, kind, _ in models if kind in ("link", "switch")})
    if not kinds:
        return {}
    from dcsim.infra.fabrics import Fabric

    fabric = Fabric(topology, sc.base_dir)
    out = {}
    for kind in kinds:
        code = COMPONENTS.index(kind)
        starts = fabric.element0[code]
        out[kind] = [starts[i + 1] - starts[i] for i in range(len(topology.site_names))]
    return out


def crew_load(sc: Scenario, topology: Topology) -> CrewLoad | None:
    """The offered load of the most loaded crew (the only one without per-site crews), or None without failures."""
    loads = crew_loads(sc, topology)
    if not loads:
        return None
    return max(loads, key=lambda pair: pair[1].load)[1]
