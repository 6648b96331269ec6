"""Geo load balancers on hand-built site sets (no SimPy): which site serves, by distance, load, price and SLO."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from pydantic import ValidationError

from dcsim.policies.geo import GEO_BALANCER, expected_wait, is_geo


@dataclass
class Site:
    """The fields a geo balancer reads of a site."""

    site: int
    name: str = ""
    ready: int = 1
    slots: int = 1
    outstanding: int = 0
    expected_wait_s: float = 0.0
    price_usd_per_kwh: float = 0.1


class Sites(list):
    """The service's sites, with the round trips from each origin (rows: data-center sites; columns: these sites)."""

    def __init__(self, sites: list[Site], rtt: list[list[float]], latency_slo_s: float = math.inf) -> None:
        super().__init__(sites)
        self._rtt = rtt
        self.latency_slo_s = latency_slo_s

    def rtt(self, origin: int, index: int) -> float:
        return self._rtt[origin][index]


@dataclass
class Request:
    id: int = 0
    time: float = 0.0
    origin: int = 0


def make(name: str, **params: object) -> object:
    return GEO_BALANCER.create(name, params, np.random.default_rng(0))


# Three sites in a line, 0 - 1 - 2, 40 ms round trip between neighbours: row o is the origin.
LINE = [[0.0, 0.04, 0.08], [0.04, 0.0, 0.04], [0.08, 0.04, 0.0]]


def test_geo_latency_picks_the_nearest_site_with_a_ready_replica() -> None:
    sites = Sites([Site(0), Site(1), Site(2)], LINE)
    geo = make("geo_latency")
    assert [geo.choose(Request(origin=o), sites) for o in range(3)] == [0, 1, 2]
    sites[1].ready = 0  # no replica ready at site 1: its users go to the nearer of the others, ties to the first
    assert geo.choose(Request(origin=1), sites) == 0
    for s in sites:
        s.ready = 0
    assert geo.choose(Request(origin=1), sites) is None


def test_geo_latency_without_spill_over_keeps_a_saturated_site() -> None:
    sites = Sites([Site(0, outstanding=5), Site(1)], LINE)
    assert make("geo_latency").choose(Request(origin=0), sites) == 0


def test_spill_over_goes_to_the_next_nearest_site_that_is_not_saturated() -> None:
    """Site 0 has every slot busy (2 of 2), site 1 too (outstanding 3 >= slots 1 + 0 per replica), site 2 is free."""
    sites = Sites([Site(0, slots=2, ready=2, outstanding=2), Site(1, outstanding=3), Site(2)], LINE)
    geo = make("geo_latency", spill_over=True)
    assert geo.choose(Request(origin=0), sites) == 2
    sites[0].outstanding = 1  # a slot free at home: it stays
    assert geo.choose(Request(origin=0), sites) == 0


def test_spill_queue_lets_requests_wait_at_home_up_to_that_many_per_replica() -> None:
    """Saturated at slots + spill_queue x ready = 2 + 1 x 2 = 4 requests."""
    sites = Sites([Site(0, slots=2, ready=2, outstanding=3), Site(1)], LINE)
    geo = make("geo_latency", spill_over=True, spill_queue=1)
    assert geo.choose(Request(origin=0), sites) == 0
    sites[0].outstanding = 4
    assert geo.choose(Request(origin=0), sites) == 1


def test_spill_over_never_goes_to_a_site_whose_round_trip_alone_breaks_the_slo() -> None:
    """SLO 50 ms: site 1 (40 ms away) may take the overflow, site 2 (80 ms) may not; all saturated: home keeps it."""
    sites = Sites([Site(0, outstanding=1), Site(1, outstanding=1), Site(2)], LINE, latency_slo_s=0.05)
    geo = make("geo_latency", spill_over=True)
    assert geo.choose(Request(origin=0), sites) == 0
    sites[1].outstanding = 0
    assert geo.choose(Request(origin=0), sites) == 1


def test_cheapest_within_slo_takes_the_cheapest_site_that_keeps_the_slo() -> None:
    """SLO 100 ms, from origin 0. Site 2 is cheapest but 80 ms + 30 ms of expected wait = 110 ms > 100 ms;
    site 1 (40 ms + 0) is next cheapest and qualifies; site 0 is dearest."""
    sites = Sites(
        [Site(0, price_usd_per_kwh=0.30), Site(1, price_usd_per_kwh=0.10),
         Site(2, price_usd_per_kwh=0.05, expected_wait_s=0.03)],
        LINE, latency_slo_s=0.1,
    )  # fmt: skip
    geo = make("cheapest_within_slo")
    assert geo.choose(Request(origin=0), sites) == 1
    sites[2].expected_wait_s = 0.02  # 80 + 20 = 100 ms: within
    assert geo.choose(Request(origin=0), sites) == 2
    sites[1].ready = sites[2].ready = 0
    assert geo.choose(Request(origin=0), sites) == 0


def test_cheapest_within_slo_ties_in_price_go_to_the_nearer_site() -> None:
    sites = Sites([Site(0, price_usd_per_kwh=0.1), Site(1, price_usd_per_kwh=0.1)], LINE)
    assert make("cheapest_within_slo").choose(Request(origin=1), sites) == 1


def test_cheapest_within_slo_without_a_qualifying_site_takes_the_quickest() -> None:
    """SLO 10 ms: none qualifies from origin 0; reach = RTT + wait: site 0 0 + 0.2, site 1 0.04 + 0, site 2 0.08."""
    sites = Sites([Site(0, expected_wait_s=0.2), Site(1), Site(2)], LINE, latency_slo_s=0.01)
    assert make("cheapest_within_slo").choose(Request(origin=0), sites) == 1


def test_expected_wait_counts_the_completions_before_a_new_request() -> None:
    assert expected_wait(1, 2, 0.5) == 0.0  # a slot free
    assert expected_wait(2, 2, 0.5) == pytest.approx(1 * 0.5 / 2)
    assert expected_wait(5, 2, 0.5) == pytest.approx(4 * 0.5 / 2)
    assert expected_wait(1, 0, 0.5) == math.inf


def test_the_local_balancer_is_checked_with_its_params() -> None:
    with pytest.raises(ValidationError, match="no load balancer 'nearest'"):
        GEO_BALANCER.validate_params("geo_latency", {"local": "nearest"})
    with pytest.raises(ValidationError, match="local_params of 'power_of_two'"):
        GEO_BALANCER.validate_params("geo_latency", {"local": "power_of_two", "local_params": {"d": 0}})
    assert GEO_BALANCER.validate_params("cheapest_within_slo", {"local": "random"}).local == "random"


def test_geo_names_are_told_from_replica_balancers() -> None:
    assert is_geo("geo_latency") is GEO_BALANCER
    assert is_geo("cheapest_within_slo") is GEO_BALANCER
    assert is_geo("least_outstanding") is None
    assert is_geo("toy_policies:NoSuchClass") is None


@pytest.mark.parametrize("name", ["geo_latency", "cheapest_within_slo"])
def test_a_site_the_wan_does_not_connect_to_the_origin_is_never_chosen(name: str) -> None:
    """Site 1 is cheap and idle but unreachable from origin 0; site 0 is saturated: it keeps the request."""
    sites = Sites([Site(0, outstanding=3, expected_wait_s=2.0, price_usd_per_kwh=0.3),
                   Site(1, price_usd_per_kwh=0.01)], [[0.0, math.inf], [math.inf, 0.0]])  # fmt: skip
    geo = make(name, spill_over=True) if name == "geo_latency" else make(name)
    assert geo.choose(Request(origin=0), sites) == 0
    sites[0].ready = 0
    assert geo.choose(Request(origin=0), sites) is None
