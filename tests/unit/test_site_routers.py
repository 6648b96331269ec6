"""Site routers (issue 14 point 3) on hand-made situations: views built by hand, no SimPy.

Each router's rule is in dcsim/policies/routing.py; every expected site below follows from
the rule and the numbers of the case.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from dcsim.core.series import Steps
from dcsim.policies.routing import SITE_ROUTER, Wait, hours_from_noon

H = 3600.0


class Times:
    """Prices, carbon, PUE and UTC offsets of hand-made sites (the SiteTimes interface)."""

    def __init__(self, price: Sequence[Steps], carbon: Sequence[Steps] | None = None,
                 pue: Sequence[float] | None = None, offset_h: Sequence[float] | None = None) -> None:  # fmt: skip
        n = len(price)
        self._price, self._carbon = list(price), list(carbon or [Steps.constant(0.0)] * n)
        self._pue, self._offset = list(pue or [1.0] * n), list(offset_h or [0.0] * n)

    def price(self, site: int) -> Steps:
        return self._price[site]

    def carbon(self, site: int) -> Steps:
        return self._carbon[site]

    def pue(self, site: int) -> float:
        return self._pue[site]

    def local_hour(self, site: int, time: float) -> float:
        return ((time / H) + self._offset[site]) % 24.0


class Sites:
    """A hand-made SitesView: free and queued GPUs per site, which are up, the job's home and deadline."""

    def __init__(self, free: Sequence[int], times: Times, queued: Sequence[int] | None = None,
                 allowed: Sequence[int] | None = None, home: int | None = None,
                 deadline: float = 0.0) -> None:  # fmt: skip
        self._free, self._queued = list(free), list(queued or [0] * len(free))
        self._allowed = tuple(allowed if allowed is not None else range(len(free)))
        self._home, self._deadline = home, deadline
        self.times = times
        self.names = [f"s{i}" for i in range(len(free))]

    def allowed(self, job: Any) -> tuple[int, ...]:
        return self._allowed

    def free(self, site: int, job: Any) -> int:
        return self._free[site]

    def queued(self, site: int) -> int:
        return self._queued[site]

    def installed(self, site: int) -> int:
        return 64

    def fits(self, site: int, job: Any) -> bool:
        return self._free[site] - self._queued[site] >= job.gpus

    def home(self, job: Any) -> int | None:
        return self._home

    def deadline(self, job: Any) -> float:
        return self._deadline


JOB = SimpleNamespace(id=0, job_class="t", gpus=8, submit_time=0.0, restarts=0)
FLAT = Times([Steps.constant(0.1)] * 3)


def router(name: str) -> Any:
    return SITE_ROUTER.create(name, None, np.random.default_rng(0))


def route(name: str, sites: Sites, now: float = 0.0) -> Any:
    return router(name).route(JOB, sites, now)


# ---------------------------------------------------------------- home
def test_home_keeps_a_job_at_its_data_when_it_fits_there() -> None:
    assert route("home", Sites([8, 64, 64], FLAT, home=0)) == 0


def test_home_sends_a_job_to_the_roomiest_site_that_fits_when_home_cannot_take_it() -> None:
    # Home (0) has 16 free but 16 queued: no room. Site 1 has 24 - 8 = 16 of room, site 2 40 - 0 = 40.
    assert route("home", Sites([16, 24, 40], FLAT, queued=[16, 8, 0], home=0)) == 2


def test_home_queues_at_home_when_no_site_can_take_the_job() -> None:
    assert route("home", Sites([0, 4, 7], FLAT, home=1)) == 1


def test_home_without_data_is_the_first_allowed_site() -> None:
    assert route("home", Sites([64, 64, 64], FLAT, allowed=[1, 2])) == 1


# ---------------------------------------------------------------- least_loaded
def test_least_loaded_is_most_free_less_queued() -> None:
    assert route("least_loaded", Sites([40, 32, 24], FLAT, queued=[24, 0, 0])) == 1  # 16, 32, 24


def test_least_loaded_ties_go_to_the_first_site() -> None:
    assert route("least_loaded", Sites([16, 16, 8], FLAT)) == 0


# ---------------------------------------------------------------- cheapest_now
def test_cheapest_now_weighs_price_by_pue() -> None:
    # 0.10 x 1.5 = 0.150 per IT kWh; 0.12 x 1.1 = 0.132; 0.14 x 1.0 = 0.140.
    times = Times([Steps.constant(p) for p in (0.10, 0.12, 0.14)], pue=[1.5, 1.1, 1.0])
    assert route("cheapest_now", Sites([64, 64, 64], times)) == 1


def test_cheapest_now_skips_a_full_cheap_site() -> None:
    times = Times([Steps.constant(p) for p in (0.05, 0.12, 0.10)])
    assert route("cheapest_now", Sites([0, 64, 64], times)) == 2
    # None fits 8 GPUs: the most free less queued (4 - 0, 6 - 4, 2 - 0), not the cheapest.
    assert route("cheapest_now", Sites([4, 6, 2], times, queued=[0, 4, 0])) == 0
    assert route("cheapest_now", Sites([0, 6, 2], times)) == 1


def test_cheapest_now_reads_the_price_at_now() -> None:
    times = Times([Steps([0.0, 6 * H], [0.05, 0.30]), Steps.constant(0.10)])
    assert route("cheapest_now", Sites([64, 64], times), now=1 * H) == 0
    assert route("cheapest_now", Sites([64, 64], times), now=7 * H) == 1


def test_cheapest_now_defers_to_the_cheapest_moment_in_the_window() -> None:
    # Site 0: 0.30 now, 0.20 from 3 h, 0.05 from 5 h, 0.30 from 8 h; site 1: 0.25. Window: 6 h.
    times = Times([Steps([0.0, 3 * H, 5 * H, 8 * H], [0.30, 0.20, 0.05, 0.30]), Steps.constant(0.25)])
    assert route("cheapest_now", Sites([64, 64], times, deadline=6 * H)) == Wait(5 * H)
    # A window that ends before 5 h: the best is 0.20 at 3 h.
    assert route("cheapest_now", Sites([64, 64], times, deadline=4 * H)) == Wait(3 * H)
    # A window that ends before 3 h: site 1 now.
    assert route("cheapest_now", Sites([64, 64], times, deadline=2 * H)) == 1
    # Not deferrable (deadline at submission): site 1 now.
    assert route("cheapest_now", Sites([64, 64], times, deadline=0.0)) == 1


def test_cheapest_now_at_the_cheap_moment_routes_there() -> None:
    times = Times([Steps([0.0, 3 * H, 5 * H, 8 * H], [0.30, 0.20, 0.05, 0.30]), Steps.constant(0.25)])
    assert route("cheapest_now", Sites([64, 64], times, deadline=6 * H), now=5 * H) == 0


def test_cheapest_now_waits_for_another_site_getting_cheaper() -> None:
    times = Times([Steps.constant(0.20), Steps([0.0, 2 * H], [0.30, 0.10])])
    assert route("cheapest_now", Sites([64, 64], times, deadline=12 * H)) == Wait(2 * H)


def test_cheapest_now_does_not_wait_for_an_equal_price() -> None:
    times = Times([Steps([0.0, 2 * H, 4 * H], [0.10, 0.20, 0.10])])
    assert route("cheapest_now", Sites([64], times, deadline=12 * H)) == 0


# ---------------------------------------------------------------- lowest_carbon
def test_lowest_carbon_picks_the_cleaner_site() -> None:
    times = Times([Steps.constant(0.1)] * 2, carbon=[Steps.constant(400.0), Steps.constant(30.0)], pue=[1.3, 1.15])
    assert route("lowest_carbon", Sites([64, 64], times)) == 1


def test_lowest_carbon_sends_a_job_no_site_can_take_where_it_waits_behind_least() -> None:
    times = Times([Steps.constant(0.1)] * 2, carbon=[Steps.constant(30.0), Steps.constant(400.0)])
    assert route("lowest_carbon", Sites([0, 4], times, queued=[16, 0])) == 1  # -16 against 4


def test_lowest_carbon_weighs_carbon_by_pue() -> None:
    # 100 x 1.5 = 150 g per IT kWh against 120 x 1.1 = 132.
    times = Times([Steps.constant(0.1)] * 2, carbon=[Steps.constant(100.0), Steps.constant(120.0)], pue=[1.5, 1.1])
    assert route("lowest_carbon", Sites([64, 64], times)) == 1


def test_lowest_carbon_defers_to_the_cleanest_hour() -> None:
    carbon = [Steps([0.0, 10 * H, 14 * H], [500.0, 100.0, 500.0]), Steps.constant(300.0)]
    times = Times([Steps.constant(0.1)] * 2, carbon=carbon)
    assert route("lowest_carbon", Sites([64, 64], times, deadline=12 * H)) == Wait(10 * H)
    assert route("lowest_carbon", Sites([64, 64], times, deadline=9 * H)) == 1


# ---------------------------------------------------------------- follow_the_sun
@pytest.mark.parametrize(("hour", "away"), [(12.0, 0.0), (0.0, 12.0), (9.5, 2.5), (15.0, 3.0), (23.0, 11.0)])
def test_hours_from_noon(hour: float, away: float) -> None:
    assert hours_from_noon(hour) == pytest.approx(away)


def test_follow_the_sun_picks_the_site_nearest_local_noon() -> None:
    # At 03:00 UTC: site 0 (UTC) 03:00, site 1 (UTC+9) 12:00, site 2 (UTC-5) 22:00.
    times = Times([Steps.constant(0.1)] * 3, offset_h=[0.0, 9.0, -5.0])
    assert route("follow_the_sun", Sites([64, 64, 64], times), now=3 * H) == 1
    # At 17:00 UTC: 17:00, 02:00, 12:00.
    assert route("follow_the_sun", Sites([64, 64, 64], times), now=17 * H) == 2
    # Site 2 full: the next nearest noon, site 0 (5 h away) over site 1 (10 h).
    assert route("follow_the_sun", Sites([64, 64, 0], times), now=17 * H) == 0


def test_every_router_answers_only_allowed_sites() -> None:
    times = Times([Steps.constant(p) for p in (0.01, 0.2, 0.3)], carbon=[Steps.constant(c) for c in (1.0, 5.0, 9.0)])
    for name in SITE_ROUTER.names():
        assert route(name, Sites([64, 64, 64], times, allowed=[1, 2], home=1)) in (1, 2), name
