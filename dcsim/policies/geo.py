"""Geo load balancers: which site of a service that runs in several serves an arriving request.

A service with ``sites`` routes each request in two steps: a geo balancer picks the site
(this module), then the site's own load balancer (:mod:`dcsim.policies.balancing`, the geo
balancer's ``local`` parameter) picks the replica there. A geo balancer is called once per
request with the request (its ``origin``, the site its user is at) and the service's sites,
each a live view of that site's ready replicas, their load and the site's price now; it
returns the position of one site with a ready replica, or None when no site has one (the
request then waits for the first replica to become ready anywhere). Round-trip times come
from the WAN (:class:`dcsim.infra.wan.Wan`) and never change during a run, so a balancer may
cache the order of the sites by distance from each origin. Policies never mutate a view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import Field, model_validator

from dcsim.core.errors import DcsimError
from dcsim.core.registry import NoParams, Registry, lacks_methods
from dcsim.policies.balancing import LOAD_BALANCER

if TYPE_CHECKING:
    import numpy as np


class GeoRequestView(Protocol):
    """What a geo balancer reads of a request."""

    id: int
    """Dense request number, unique within the run."""
    time: float
    """Arrival time (s)."""
    origin: int
    """Index (in ``datacenter.sites``) of the site the request's user is at."""


class SiteView(Protocol):
    """One site of a service, as a geo balancer sees it at the moment of a request."""

    site: int
    """Index of the site in ``datacenter.sites``."""
    name: str
    """Site name."""
    ready: int
    """Ready replicas of the service at the site."""
    slots: int
    """Requests the ready replicas serve at once (concurrency, or a token model's batch, times ready)."""
    outstanding: int
    """Requests at the site: waiting on its replicas plus in service."""
    expected_wait_s: float
    """Expected wait of a request sent there now, s (:func:`expected_wait`, from the mean run time so far)."""
    price_usd_per_kwh: float
    """The site's electricity price now times its PUE: USD per kWh of IT energy."""


class SiteSetView(Protocol):
    """The service's sites, in the order of its ``sites`` list."""

    latency_slo_s: float
    """The service's tail latency objective, s (inf: none)."""

    def __len__(self) -> int:
        """Number of sites of the service."""

    def __getitem__(self, index: int) -> SiteView:
        """The site at ``index``."""

    def rtt(self, origin: int, index: int) -> float:
        """Round-trip time between site ``origin`` (a data-center site index) and the service's site ``index``, s."""


class GeoBalancer(Protocol):
    """Chooses the site that serves each arriving request."""

    def choose(self, request: GeoRequestView, sites: SiteSetView) -> int | None:
        """Position in ``sites`` of a site with a ready replica, or None when no site has one."""


GEO_BALANCER: Registry[GeoBalancer] = Registry(
    "geo load balancer",
    lambda cls: lacks_methods(cls, "choose(request, sites)"),
    "a class with __init__(params, rng) and choose(request, sites) returning the position of a site with a ready "
    "replica, or None; see docs/howto.md",
)


class _Params(NoParams):
    """Parameters every built-in geo balancer takes."""

    local: str = Field(
        "least_outstanding",
        description="load balancer that picks the replica within the chosen site (a load_balancer name)",
    )
    local_params: dict[str, Any] = Field(default_factory=dict, description="parameters of the `local` balancer")

    @model_validator(mode="after")
    def _local_known(self) -> _Params:
        if ":" not in self.local:  # a plug-in is checked when the engine loads it
            if self.local not in LOAD_BALANCER.names():
                names = ", ".join(LOAD_BALANCER.names())
                raise ValueError(f"local: no load balancer {self.local!r}; choose one of {names}")
            try:
                LOAD_BALANCER.validate_params(self.local, self.local_params)
            except ValueError as exc:
                raise ValueError(f"local_params of {self.local!r}: {exc}") from None
        return self


class _ByDistance:
    """Holds params and rng, and the sites' order by round-trip time from each origin (cached)."""

    Params = _Params

    def __init__(self, params: Any, rng: np.random.Generator) -> None:
        self.params, self.rng = params, rng
        self._order: dict[int, list[tuple[float, int]]] = {}

    def order(self, origin: int, sites: SiteSetView) -> list[tuple[float, int]]:
        """(RTT, position) of every site, nearest first; ties in the order of ``sites``. O(1) after the first call."""
        got = self._order.get(origin)
        if got is None:
            got = self._order[origin] = sorted((sites.rtt(origin, i), i) for i in range(len(sites)))
        return got


@GEO_BALANCER.register("geo_latency")
class GeoLatency(_ByDistance):
    """The nearest site (by round-trip time from the request's origin) with a ready replica. O(sites).

    A site the WAN does not connect to the origin is never chosen.

    With ``spill_over``, a saturated site (its requests at or above its slots plus ``spill_queue``
    per ready replica: every slot busy, and that many waiting on each replica) passes the
    request to the next nearest site that is not saturated, but never to one whose round-trip
    time alone exceeds the service's latency objective; when every candidate is saturated the
    nearest keeps it. Ties in distance go to the site listed first.
    """

    class Params(_Params):
        """Parameters of ``geo_latency``."""

        spill_over: bool = Field(False, description="a saturated site passes requests to the next nearest")
        spill_queue: int = Field(
            0, ge=0, description="requests waiting per ready replica, beyond its slots, at which a site is saturated"
        )

    #: Read at every decision, so a timed event may change them.
    live_params: ClassVar[frozenset[str]] = frozenset({"spill_over", "spill_queue"})

    def choose(self, request: GeoRequestView, sites: SiteSetView) -> int | None:
        """The nearest site with a ready replica; with spill-over, the nearest one not saturated within the SLO."""
        spill = self.params.spill_over
        queue = self.params.spill_queue
        bound = sites.latency_slo_s
        first: int | None = None
        for rtt, i in self.order(request.origin, sites):
            if rtt == math.inf:
                break  # this site and those after it are not connected to the origin
            s = sites[i]
            if not s.ready:
                continue
            if first is None:
                first = i
                if not spill or s.outstanding < s.slots + queue * s.ready:
                    return i
                continue
            if rtt > bound:
                break  # every site further on is further still
            if s.outstanding < s.slots + queue * s.ready:
                return i
        return first


@GEO_BALANCER.register("cheapest_within_slo")
class CheapestWithinSlo(_ByDistance):
    """The site with the lowest electricity price now (times PUE) of those whose RTT plus expected wait keep the SLO.

    A site qualifies when it has a ready replica and its round-trip time from the request's
    origin plus its expected wait is within the service's latency objective; ties in price go
    to the nearer site, then to the site listed first. When no site qualifies, the site with
    the least RTT plus expected wait serves; a site not connected to the origin never does. O(sites).
    """

    def choose(self, request: GeoRequestView, sites: SiteSetView) -> int | None:
        """The cheapest qualifying site, or the quickest when none qualifies."""
        bound = sites.latency_slo_s
        best: tuple[float, float, int] | None = None
        quickest: tuple[float, int] | None = None
        for rtt, i in self.order(request.origin, sites):
            if rtt == math.inf:
                break  # this site and those after it are not connected to the origin
            s = sites[i]
            if not s.ready:
                continue
            reach = rtt + s.expected_wait_s
            if quickest is None or reach < quickest[0]:
                quickest = (reach, i)
            if reach <= bound:
                key = (s.price_usd_per_kwh, rtt, i)
                if best is None or key < best:
                    best = key
        if best is not None:
            return best[2]
        return quickest[1] if quickest is not None else None


def is_geo(name: str, search: Sequence[str] = ()) -> Registry[GeoBalancer] | None:
    """:data:`GEO_BALANCER` when load balancer ``name`` is a geo balancer (a built-in, or a plug-in with ``choose``).

    A plug-in class that does not load is left to the load-balancer registry, whose message names the problem.
    """
    if name in GEO_BALANCER.names():
        return GEO_BALANCER
    if ":" in name and name not in LOAD_BALANCER.names():
        try:
            GEO_BALANCER.lookup(name, search)
        except DcsimError:
            return None
        return GEO_BALANCER
    return None


def expected_wait(outstanding: int, slots: int, mean_service_s: float) -> float:
    """Expected wait, s, of a request joining ``outstanding`` on ``slots`` servers of mean run time ``mean_service_s``.

    Zero while a slot is free; else the (outstanding - slots + 1) completions before its turn,
    each 1 / (slots / mean run time) apart on average.
    """
    if outstanding < slots:
        return 0.0
    if slots <= 0:
        return math.inf
    return (outstanding - slots + 1) * mean_service_s / slots


__all__ = [
    "GEO_BALANCER",
    "CheapestWithinSlo",
    "GeoBalancer",
    "GeoLatency",
    "GeoRequestView",
    "SiteSetView",
    "SiteView",
    "expected_wait",
    "is_geo",
]
