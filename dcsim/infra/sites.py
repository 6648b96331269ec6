"""What each site's prices, carbon intensity and clock are at a moment of the run.

One object serves the engine (a site router reading the price or carbon intensity now),
scoring (energy in each bin x that bin's price) and the plots. Values that change over
time are :class:`dcsim.core.series.Steps`; a timed event that sets one for a while is an
overlay on it, keyed by the field's path in the scenario (for example
``datacenter.sites.0.electricity_usd_per_kwh``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dcsim.core.series import Steps

#: An overlay: from ``start`` until ``end`` (s; inf: for good), the field has ``value``.
Overlay = tuple[float, float, float]


class SiteTimes:
    """Each site's time-varying prices and carbon intensity, and its local time.

    Args:
        scenario: the validated scenario.
        overlays: timed values by field path (from the scenario's ``events``), applied in order.
    """

    def __init__(self, scenario: Any, overlays: Mapping[str, Sequence[Overlay]] | None = None) -> None:
        self.names = [s.name for s in scenario.datacenter.sites]
        self.index = {name: i for i, name in enumerate(self.names)}
        costs = scenario.site_costs()
        overlays = overlays or {}
        self._costs = [costs[name] for name in self.names]
        self._price: list[Steps] = []
        self._carbon: list[Steps] = []
        for i, name in enumerate(self.names):
            price = Steps.constant(costs[name].electricity_usd_per_kwh)
            for start, end, value in overlays.get(f"datacenter.sites.{i}.electricity_usd_per_kwh", ()):
                price = price.overlay(start, end, value)
            self._price.append(price)
            self._carbon.append(Steps.constant(0.0))

    def _i(self, site: str | int) -> int:
        return site if isinstance(site, int) else self.index[site]

    def price(self, site: str | int) -> Steps:
        """The site's electricity price over time, USD/kWh (at the meter: multiply facility energy, IT x PUE)."""
        return self._price[self._i(site)]

    def carbon(self, site: str | int) -> Steps:
        """The site's carbon intensity over time, g CO2e per kWh."""
        return self._carbon[self._i(site)]

    def pue(self, site: str | int) -> float:
        """The site's power usage effectiveness."""
        return self._costs[self._i(site)].pue

    def gpu_hour_price(self, site: str | int, gpu_type: str) -> float:
        """USD per installed GPU-hour of ``gpu_type`` at the site."""
        return self._costs[self._i(site)].gpu_hour_price(gpu_type)

    def utc_offset(self, site: str | int, time: float) -> float:
        """The site's offset from UTC at simulated time ``time``, s."""
        return 0.0

    def local_hour(self, site: str | int, time: float) -> float:
        """The hour of day at the site at ``time`` (0 <= h < 24)."""
        return ((time + self.utc_offset(site, time)) / 3600.0) % 24.0


__all__ = ["Overlay", "SiteTimes"]
