"""SiteTimes: each site's price and carbon over time, overlays by field path, and local time."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dcsim.infra.sites import SiteTimes

from conftest import build, tiny_data

H = 3600.0


def two_sites(tmp_path: Path) -> SiteTimes:
    """Site a: an hourly price file of 3 rows (repeating), its own carbon; site b: the scenario-wide values."""
    (tmp_path / "p.csv").write_text("time,usd_per_kwh\n0h,0.1\n1h,0.3\n2h,0.2\n", encoding="utf-8")
    data = tiny_data(horizon="8h")
    a = data["datacenter"]["sites"][0]
    a.update(name="a", electricity_usd_per_kwh={"series": "p.csv"}, carbon_g_per_kwh=200, timezone="America/New_York")
    b = {**a, "name": "b"}
    for key in ("electricity_usd_per_kwh", "carbon_g_per_kwh", "timezone"):
        del b[key]
    data["datacenter"]["sites"].append(b)
    data["costs"] = {"electricity_usd_per_kwh": 0.05, "carbon_g_per_kwh": 500}
    overlays = {
        "costs.electricity_usd_per_kwh": [(1 * H, 2 * H, 9.0)],  # the scenario-wide price: site b only
        "datacenter.sites.0.carbon_g_per_kwh": [(3 * H, math.inf, 7.0)],
    }
    return SiteTimes(build(data, str(tmp_path)), overlays)


def test_a_series_repeats_and_overlays_apply_by_field_path(tmp_path: Path) -> None:
    times = two_sites(tmp_path)
    assert [times.price("a").at(h * H + 1) for h in range(7)] == [0.1, 0.3, 0.2, 0.1, 0.3, 0.2, 0.1]
    assert [times.price("b").at(h * H + 1) for h in range(3)] == [0.05, 9.0, 0.05]  # a has its own: untouched
    assert times.carbon("a").at(2 * H) == 200 and times.carbon("a").at(5 * H) == 7.0
    assert times.carbon(1).at(5 * H) == 500 and times.counts_carbon("b")
    assert times.varies
    # The mean over 3 h of a 3-h series is the mean of its rows.
    assert times.flat_costs(0.0, 3 * H)["a"].electricity_usd_per_kwh == pytest.approx(0.2, rel=1e-12)


def test_local_time_follows_the_time_zone(tmp_path: Path) -> None:
    times = two_sites(tmp_path)
    assert times.utc_offset("a", 0.0) == -5 * H  # New York in January
    assert times.local_hour("a", 0.0) == 19.0  # 00:00 UTC = 19:00 the day before
    assert times.utc_offset("b", 0.0) == 0.0 and times.local_hour("b", 25 * H) == 1.0
