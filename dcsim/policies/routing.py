"""Site routers: which site a training job runs at, or how long it waits for a better moment.

A site router is asked once when a job is submitted (again at the time it asked to wait
until, and again when a run of the job is lost and the job queues anew): ``route(job, sites,
now)`` returns a site's index (in scenario order) or :class:`Wait`. The engine then restricts
the job's pools to that site's, so placement chooses among that site's nodes only, and moves
the job's data there first when it lives elsewhere (:mod:`dcsim.engine.routing`).

Routers read :class:`SitesView`: each site's free GPUs for the job, the GPUs queued there,
whether it is up, and its prices, carbon intensity and clock (:class:`dcsim.infra.sites.SiteTimes`).
They never mutate anything. "Can take the job now" is the same test for every built-in: the
free GPUs of the job's pools at the site, less the GPUs of the jobs already queued there, are
at least the job's GPUs (a necessary condition: placement may still find them fragmented).
When no allowed site can take the job now, ``cheapest_now``, ``lowest_carbon`` and
``follow_the_sun`` send it where it waits behind the fewest GPUs: the most free GPUs less
those queued (queueing every job at the best site would leave the others idle under load);
``home`` queues it at home.

Waiting is for deferrable classes only (``deferrable: 12h``), until at most ``submit +
deferrable`` (:meth:`SitesView.deadline`); a job lost in a run is routed again at once, never
held back. ``cheapest_now`` and ``lowest_carbon`` look ahead at the sites' known series (an
oracle forecast: day-ahead prices are published, carbon forecasts exist; the run's series is
what the future will be): if some allowed site is strictly better at some later change point
before the deadline than the best site is now, the job waits until the earliest such moment
and is routed again then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dcsim.core.registry import NoParams, Registry, lacks_methods

if TYPE_CHECKING:
    import numpy as np

    from dcsim.infra.sites import SiteTimes


@dataclass(frozen=True, slots=True)
class Wait:
    """A router's answer: hold the job back until ``until`` (s), then ask again."""

    until: float


class SitesView(Protocol):
    """What a site router reads of the sites (read-only; sites are indexes in scenario order)."""

    @property
    def names(self) -> Sequence[str]:
        """The site names."""

    @property
    def times(self) -> SiteTimes:
        """Each site's electricity price, carbon intensity, PUE, GPU-hour price and local time."""

    def allowed(self, job: Any) -> Sequence[int]:
        """The sites the job may go to now, ascending.

        Those of its class's ``sites`` (default all) that have its GPU types and that its data
        can reach over the WAN; of them, the ones up (not failed), unless none is.
        """

    def free(self, site: int, job: Any) -> int:
        """Free GPUs of the job's pools at the site now."""

    def queued(self, site: int) -> int:
        """GPUs asked for by the jobs queued at the site now."""

    def installed(self, site: int) -> int:
        """GPUs installed at the site."""

    def fits(self, site: int, job: Any) -> bool:
        """Whether the site can take the job now.

        Free GPUs of its pools less those queued there >= its GPUs, and a node with that many free
        (a job larger than a node: enough whole free nodes).
        """

    def home(self, job: Any) -> int | None:
        """The site the job's data lives at (None: its class has no ``data``)."""

    def deadline(self, job: Any) -> float:
        """The latest time the job may be held back until (its submission, if it may not wait)."""


class SiteRouter(Protocol):
    """Chooses the site of each training job."""

    def route(self, job: Any, sites: SitesView, now: float) -> int | Wait:
        """A site of ``sites.allowed(job)``, or ``Wait(until)`` with ``now < until <= sites.deadline(job)``."""


SITE_ROUTER: Registry[SiteRouter] = Registry(
    "site_router",
    lambda cls: lacks_methods(cls, "route(job, sites, now)"),
    "a class with __init__(params, rng) and route(job, sites, now) returning a site index or "
    "dcsim.policies.routing.Wait(until); see docs/howto.md",
)


class _Base:
    Params = NoParams

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng


def _headroom(job: Any, sites: SitesView, site: int) -> int:
    return sites.free(site, job) - sites.queued(site)


def _roomiest(job: Any, sites: SitesView, candidates: Sequence[int]) -> int:
    """The site of most free GPUs less GPUs queued; ties: the first."""
    return max(candidates, key=lambda s: (_headroom(job, sites, s), -s))


def _best_fitting(job: Any, sites: SitesView, allowed: Sequence[int], key: Any) -> int:
    """The allowed site of least ``key`` among those that can take the job now; if none can, the roomiest."""
    for site in sorted(allowed, key=key):  # the best first: most jobs fit it, and fits() is asked once
        if sites.fits(site, job):
            return site
    return _roomiest(job, sites, allowed)


@SITE_ROUTER.register("home")
class Home(_Base):
    """The data's home site; if it cannot take the job now, the allowed site with the most room that can.

    When no site can take the job now it queues at home. A class without ``data`` treats its
    first allowed site as home.
    """

    def route(self, job: Any, sites: SitesView, now: float) -> int:
        """Home first; else the site with the most free GPUs (less those queued) that fits; else home."""
        allowed = sites.allowed(job)
        home = sites.home(job)
        if home not in allowed:
            home = allowed[0]
        if sites.fits(home, job):
            return home
        others = [s for s in allowed if s != home and sites.fits(s, job)]
        return _roomiest(job, sites, others) if others else home


@SITE_ROUTER.register("least_loaded")
class LeastLoaded(_Base):
    """The allowed site with the most free GPUs of the job's pools, less the GPUs queued there; ties: first."""

    def route(self, job: Any, sites: SitesView, now: float) -> int:
        """The site of most headroom."""
        return _roomiest(job, sites, sites.allowed(job))


class _LookAhead(_Base):
    """Lowest value now among the sites that can take the job; a deferrable job waits for a lower one."""

    def value(self, sites: SitesView, site: int, time: float) -> float:
        """What the router minimises at ``site`` at ``time``: its series' value x the site's PUE."""
        self._cache(sites)
        return self._series[site].at(time) * self._pue[site]

    def series(self, sites: SitesView, site: int) -> Any:
        """The site's :class:`~dcsim.core.series.Steps` the value changes with."""
        raise NotImplementedError

    _of: Any = None  # the SiteTimes the cached series are of
    _series: Any = ()
    _pue: Any = ()

    def _cache(self, sites: SitesView) -> None:
        """Keep each site's series and PUE (once per run: the view's times never change)."""
        times = sites.times
        if self._of is not times:
            n = len(sites.names)
            self._of, self._series = times, [self.series(sites, s) for s in range(n)]
            self._pue = [times.pue(s) for s in range(n)]

    def _now_values(self, sites: SitesView, allowed: Sequence[int], now: float) -> dict[int, float]:
        """:meth:`value` of each allowed site at ``now``."""
        self._cache(sites)
        series, pue = self._series, self._pue
        return {s: series[s].at(now) * pue[s] for s in allowed}

    def route(self, job: Any, sites: SitesView, now: float) -> int | Wait:
        """The best site now; or, deferrable, the earliest later moment before the deadline when some site is better."""
        allowed = sites.allowed(job)
        values = self._now_values(sites, allowed, now)
        site = _best_fitting(job, sites, allowed, lambda s: (values[s], s))
        best = values[site]
        deadline = sites.deadline(job)
        if deadline <= now:
            return site
        ahead = []  # (value, time) at each later change point of each allowed site's series, up to the deadline
        for s in allowed:
            steps = self.series(sites, s)
            t = steps.next_change(now)
            while t <= deadline:
                ahead.append((self.value(sites, s, t), t))
                t = steps.next_change(t)
        lowest = min((v for v, _ in ahead), default=best)
        if not lowest < best * (1.0 - 1e-9):
            return site
        return Wait(min(t for v, t in ahead if v <= lowest * (1.0 + 1e-9)))


@SITE_ROUTER.register("cheapest_now")
class CheapestNow(_LookAhead):
    """Lowest electricity price x PUE now (USD per kWh the GPUs draw) among the sites that can take the job.

    If none can take it now, the site with the most free GPUs less those queued. The GPU-hour
    price is paid per installed GPU whether it is busy or not, so where a job
    runs changes only its energy bill. A deferrable job waits for the cheapest moment of its
    window when that is cheaper than now (looking ahead at the known price series).
    """

    def series(self, sites: SitesView, site: int) -> Any:
        """The site's price series."""
        return sites.times.price(site)


@SITE_ROUTER.register("lowest_carbon")
class LowestCarbon(_LookAhead):
    """Lowest carbon intensity x PUE now (g CO2e per kWh the GPUs draw) among the sites that can take the job.

    If none can take it now, the site with the most free GPUs less those queued. A deferrable
    job waits for the cleanest moment of its window when that is cleaner than
    now (looking ahead at the known carbon series).
    """

    def series(self, sites: SitesView, site: int) -> Any:
        """The site's carbon series."""
        return sites.times.carbon(site)


def hours_from_noon(hour: float) -> float:
    """How far ``hour`` (0 <= h < 24) is from solar noon (12:00), either way round the clock, h."""
    return abs(((hour - 12.0 + 12.0) % 24.0) - 12.0)


@SITE_ROUTER.register("follow_the_sun")
class FollowTheSun(_Base):
    """The site whose local time is closest to noon (where it is day) among those that can take the job.

    If none can take it now, the site with the most free GPUs less those queued.
    """

    def route(self, job: Any, sites: SitesView, now: float) -> int:
        """Closest to 12:00 local time; ties: first."""
        times = sites.times
        return _best_fitting(job, sites, sites.allowed(job), lambda s: (hours_from_noon(times.local_hour(s, now)), s))


__all__ = ["SITE_ROUTER", "SiteRouter", "SitesView", "Wait", "hours_from_noon"]
