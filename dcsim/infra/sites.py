"""What each site's prices, carbon intensity and clock are at a moment of the run.

One object serves the engine (a site router reading the price or carbon intensity now),
scoring (energy in each bin x that bin's price) and the plots. Values that change over
time are :class:`dcsim.core.series.Steps`; a timed event that sets one for a while is an
overlay on it, keyed by the field's path in the scenario (for example
``datacenter.sites.0.electricity_usd_per_kwh``, or ``costs.electricity_usd_per_kwh`` for
every site that takes the scenario-wide value).

A price or intensity is a constant or a series read from a CSV file (:func:`read_series`):
columns ``time`` (a duration from the run's start) and the value; each value holds until
the next row's time and the last one for as long as the step before it, so an hourly file
of 168 rows covers a week. A run longer than that repeats the file
(:meth:`Steps.periodic`).

The calendar: time 0 is the scenario's ``start`` (default Monday 2024-01-01 00:00 UTC), and
a site with a ``timezone`` keeps its local time through :mod:`zoneinfo`, daylight saving
included (:class:`Clock`); its technicians work their hours in that local time.
"""

from __future__ import annotations

import math
import os
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from dcsim.core import units
from dcsim.core.csvtext import read_csv_text, resolve
from dcsim.core.errors import MissingFileError, TraceError
from dcsim.core.series import Steps
from dcsim.infra.spec import Costs, SeriesFile

#: An overlay: from ``start`` until ``end`` (s; inf: for good), the field has ``value``.
Overlay = tuple[float, float, float]

DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
"""The moment time 0 stands for when the scenario gives no ``start``: a Monday, 00:00 UTC."""
#: The value column of each kind of series.
PRICE_COLUMN, CARBON_COLUMN = "usd_per_kwh", "g_per_kwh"


def read_series(path: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Read a series file: change points (s from the run's start) and values (cached while the file is unchanged).

    Args:
        path: the CSV file (already resolved against the scenario's folder).
        column: the value column, ``usd_per_kwh`` or ``g_per_kwh``.

    Returns:
        The times, from 0 and strictly ascending, and the value from each on.

    Raises:
        TraceError: a missing file or column, or a bad row, named by file and line (header = line 1).
    """
    if not os.path.exists(path):
        raise MissingFileError(f"{path}: file not found; give a path relative to the scenario file")
    stat = os.stat(path)
    return _read_series(path, stat.st_mtime_ns, stat.st_size, column)


@lru_cache(maxsize=32)
def _read_series(path: str, mtime_ns: int, size: int, column: str) -> tuple[np.ndarray, np.ndarray]:
    frame = read_csv_text(path)
    for name in ("time", column):
        if name not in frame.columns:
            raise TraceError(f"{path}: no column {name!r}; a series needs columns time and {column}")
    if not len(frame):
        raise TraceError(f"{path}: no rows; give one row per change, the first at time 0")
    times, values = [], []
    for row, (text, number) in enumerate(zip(frame["time"], frame[column], strict=True)):
        line = row + 2
        try:
            t = units.duration(text)
        except ValueError:
            raise TraceError(
                f"{path} line {line}: time is {text!r}; it must be a duration from the run's start such as 0h, 90m "
                "or 3600 (seconds)"
            ) from None
        try:
            v = float(number)
        except ValueError:
            v = math.nan
        if not (math.isfinite(v) and v >= 0):
            raise TraceError(f"{path} line {line}: {column} is {number!r}; it must be a number >= 0")
        if not times and t != 0:
            raise TraceError(f"{path} line {line}: the first time is {text!r}; a series starts at 0 (the run's start)")
        if times and not t > times[-1]:
            raise TraceError(
                f"{path} line {line}: time {text!r} is not after the row before's; times must ascend (one row per "
                "change)"
            )
        times.append(t)
        values.append(v)
    return np.array(times), np.array(values)


def series_period(times: np.ndarray) -> float:
    """How long a series' file covers: its last time plus its last step (0 for a single row: a constant)."""
    return float(times[-1] + (times[-1] - times[-2])) if len(times) > 1 else 0.0


def steps_of(value: float | SeriesFile, column: str, base_dir: str, until: float | None) -> Steps:
    """A constant or a series file as a step function, the file repeated up to ``until`` (s; None: not repeated)."""
    if not isinstance(value, SeriesFile):
        return Steps.constant(value)
    times, values = read_series(resolve(base_dir, value.series), column)
    period = series_period(times)
    return Steps.periodic(times, values, period, until) if period > 0 else Steps(times, values)


_EVENT_FIELD = re.compile(r"(costs|datacenter\.sites\.(\d+)(?:\.costs)?)\.(electricity_usd_per_kwh|carbon_g_per_kwh)")


def event_overlays(events: Sequence[Any]) -> dict[str, list[Overlay]]:
    """The prices and carbon intensities a scenario's timed events set, as overlays by field path, in time order.

    A site's field is keyed ``datacenter.sites.<i>.<field>`` whether the event names it on the
    site or in the site's `costs` block; the scenario-wide one ``costs.<field>``.
    """
    out: dict[str, list[Overlay]] = {}
    for ev in sorted(events, key=lambda e: e.at):
        for path, value in (ev.set or {}).items():
            m = _EVENT_FIELD.fullmatch(path)
            if m is None:
                continue
            key = f"costs.{m[3]}" if m[1] == "costs" else f"datacenter.sites.{m[2]}.{m[3]}"
            out.setdefault(key, []).append((float(ev.at), float(ev.end), float(value)))
    return out


_NO_CARBON = Steps.constant(0.0)
"""The intensity a site without one reports (it is not counted: :meth:`SiteTimes.counts_carbon`)."""


class Clock:
    """A site's calendar: its UTC offset and local wall-clock time at each moment of the run.

    Local time is counted in seconds from the Monday 00:00 (local) of the week the run starts
    in, so that ``floor(local / 86400) % 7`` is the weekday (0: Monday) and the time of day
    is ``local % 86400``.

    Args:
        start: the moment time 0 stands for (UTC).
        zone: the site's time zone (None: UTC).
    """

    def __init__(self, start: datetime, zone: str | None) -> None:
        self.start = start.astimezone(UTC)
        self.zone = zoneinfo.ZoneInfo(zone) if zone is not None else None
        self._epoch = self.start.timestamp()
        self._offsets: dict[int, float] = {}
        wall = self._wall(self.start)
        monday = datetime(wall.year, wall.month, wall.day) - timedelta(days=wall.weekday())
        # Local time at 0 as seconds since that Monday, less the offset then: local(t) = base + t + offset(t).
        self._base = (wall - monday).total_seconds() - self.offset(0.0)

    def _wall(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.zone) if self.zone is not None else moment
        return local.replace(tzinfo=None)

    def offset(self, time: float) -> float:
        """The offset of local time from UTC at simulated time ``time``, s.

        Zones change their offset only at a quarter of an hour UTC, so the offset is kept per
        quarter hour of UTC (a router asks at every job; zoneinfo's conversion is slow).
        """
        if self.zone is None:
            return 0.0
        quarter = math.floor((self._epoch + time) / 900.0)
        cached = self._offsets.get(quarter)
        if cached is None:
            offset = (self.start + timedelta(seconds=time)).astimezone(self.zone).utcoffset()
            cached = self._offsets[quarter] = offset.total_seconds() if offset is not None else 0.0
        return cached

    def local(self, time: float) -> float:
        """Local wall-clock time at simulated time ``time``: seconds since the Monday 00:00 of the first week."""
        return self._base + time + self.offset(time)

    def to_sim(self, local: float) -> float:
        """The simulated time at which the local clock shows ``local`` (inside a daylight-saving gap: just after it)."""
        guess = local - self._base - self.offset(local - self._base)
        return local - self._base - self.offset(guess)


def series_fields(scenario_costs: Costs | None, sites: Sequence[Any]) -> list[tuple[str, SeriesFile, str]]:
    """Every series file a scenario names: ``(path of the field, the series, its value column)``.

    A site's field is at ``datacenter.sites.<i>.<field>`` when it sets it directly, at
    ``datacenter.sites.<i>.costs.<field>`` in its `costs` block; the scenario-wide one at ``costs.<field>``.
    """
    out = []
    for field, column in (("electricity_usd_per_kwh", PRICE_COLUMN), ("carbon_g_per_kwh", CARBON_COLUMN)):
        value = getattr(scenario_costs, field, None)
        if isinstance(value, SeriesFile):
            out.append((f"costs.{field}", value, column))
        for i, site in enumerate(sites):
            for where, block in ((f"datacenter.sites.{i}.{field}", site), (f"datacenter.sites.{i}.costs.{field}",
                                                                          site.costs)):  # fmt: skip
                value = getattr(block, field, None)
                if isinstance(value, SeriesFile):
                    out.append((where, value, column))
    return out


def series_problems(scenario_costs: Costs | None, sites: Sequence[Any], base_dir: str) -> list[tuple[str, str]]:
    """Series files that cannot be read, as ``(path of the field's series, message naming file and line)``."""
    problems = []
    for where, value, column in series_fields(scenario_costs, sites):
        try:
            read_series(resolve(base_dir, value.series), column)
        except TraceError as exc:
            problems.append((f"{where}.series", str(exc)))
    return problems


def series_notes(scenario: Any) -> list[str]:
    """What ``dcsim validate`` says of prices and carbon over time: series that repeat, and carbon not counted."""
    out = []
    horizon = scenario.horizon
    for where, value, column in series_fields(scenario.costs, scenario.datacenter.sites):
        times, _ = read_series(resolve(scenario.base_dir, value.series), column)
        period = series_period(times)
        if period > 0 and (horizon is None or period < horizon):
            run = f"the {units.format_duration(horizon)} horizon" if horizon is not None else "a longer run"
            out.append(
                f"{where}: {value.series} covers {units.format_duration(period)} (its last time plus its last "
                f"step); it repeats over {run}"
            )
    costs = scenario.site_costs()
    uncounted = [name for name, c in costs.items() if c.carbon_g_per_kwh is None]
    if uncounted:
        which = "any site" if len(uncounted) == len(costs) else f"site {', '.join(uncounted)}"
        out.append(
            f"carbon is not counted at {which}: no carbon intensity is given, so cost.carbon_kg is null; set "
            "costs.carbon_g_per_kwh, or a site's carbon_g_per_kwh"
        )
    return out


def site_clocks(scenario: Any) -> list[Clock | None]:
    """Each site's clock; None for a site on UTC when the scenario keeps the default start (time 0 a Monday 00:00)."""
    start = scenario.start
    return [
        Clock(start or DEFAULT_START, site.timezone) if site.timezone is not None or start is not None else None
        for site in scenario.datacenter.sites
    ]


class SiteTimes:
    """Each site's time-varying prices and carbon intensity, and its local time.

    Args:
        scenario: the validated scenario.
        overlays: timed values by field path (from the scenario's ``events``), applied in order.
        until: how far series files are repeated, s (default: the scenario's horizon; None there:
            a file's last value holds after it).
    """

    def __init__(
        self, scenario: Any, overlays: Mapping[str, Sequence[Overlay]] | None = None, until: float | None = None
    ) -> None:
        sites = scenario.datacenter.sites
        self.names = [s.name for s in sites]
        self.index = {name: i for i, name in enumerate(self.names)}
        costs = scenario.site_costs()
        overlays = event_overlays(getattr(scenario, "events", ()) or ()) if overlays is None else overlays
        until = scenario.horizon if until is None else until
        base = scenario.base_dir
        self._costs = [costs[name] for name in self.names]
        self._clocks = site_clocks(scenario)
        self._price: list[Steps] = []
        self._carbon: list[Steps | None] = []
        for i, site in enumerate(sites):
            own = site.own_costs()
            c = self._costs[i]
            for field, column, out in (
                ("electricity_usd_per_kwh", PRICE_COLUMN, self._price),
                ("carbon_g_per_kwh", CARBON_COLUMN, self._carbon),
            ):
                value = getattr(c, field)
                if value is None:  # no intensity: carbon is not counted at this site
                    out.append(None)
                    continue
                steps = steps_of(value, column, base, until)
                mine = own is not None and getattr(own, field) is not None
                keys = (
                    [f"datacenter.sites.{i}.{field}"] if mine else [f"costs.{field}", f"datacenter.sites.{i}.{field}"]
                )
                for key in keys:
                    for start, end, v in overlays.get(key, ()):
                        steps = steps.overlay(start, end, v)
                out.append(steps)

    def _i(self, site: str | int) -> int:
        return site if isinstance(site, int) else self.index[site]

    def price(self, site: str | int) -> Steps:
        """The site's electricity price over time, USD/kWh (at the meter: multiply facility energy, IT x PUE)."""
        steps = self._price[self._i(site)]
        assert steps is not None  # a price always has a value (default 0.10)
        return steps

    def carbon(self, site: str | int) -> Steps:
        """The site's carbon intensity over time, g CO2e per kWh (0 where it is not counted: :meth:`counts_carbon`)."""
        steps = self._carbon[self._i(site)]
        return steps if steps is not None else _NO_CARBON

    def counts_carbon(self, site: str | int) -> bool:
        """Whether the site has a carbon intensity (its own or the scenario-wide one)."""
        return self._carbon[self._i(site)] is not None

    @property
    def varies(self) -> bool:
        """Whether some site's price or carbon intensity changes over time."""
        return any(s is not None and not s.is_constant for s in (*self._price, *self._carbon))

    def functions(self) -> list[Steps]:
        """Every site's price and carbon intensity: their change points are the bins scoring integrates over."""
        return [s for s in (*self._price, *self._carbon) if s is not None]

    def pue(self, site: str | int) -> float:
        """The site's power usage effectiveness."""
        return self._costs[self._i(site)].pue

    def gpu_hour_price(self, site: str | int, gpu_type: str) -> float:
        """USD per installed GPU-hour of ``gpu_type`` at the site."""
        return self._costs[self._i(site)].gpu_hour_price(gpu_type)

    def flat_costs(self, start: float, end: float | None) -> dict[str, Costs]:
        """Each site's prices with its electricity price as one number: its time-weighted mean over ``[start, end]``.

        For what prices a whole run at once (a scheduler's cost of a GPU-hour, a service's cost per
        request); a constant price is itself, exactly. ``end`` None: up to the end of the series
        (its last change plus its last step).
        """
        out = {}
        for i, name in enumerate(self.names):
            costs, price = self._costs[i], self.price(i)
            if price.is_constant and not isinstance(costs.electricity_usd_per_kwh, SeriesFile):
                out[name] = costs
            else:
                until = series_period(price.times) if end is None else end
                flat = price.values[0] if price.is_constant else price.mean(start, until)
                out[name] = costs.model_copy(update={"electricity_usd_per_kwh": float(flat)})
        return out

    def clock(self, site: str | int) -> Clock | None:
        """The site's calendar (None: UTC, time 0 a Monday 00:00)."""
        return self._clocks[self._i(site)]

    def utc_offset(self, site: str | int, time: float) -> float:
        """The site's offset from UTC at simulated time ``time``, s."""
        clock = self.clock(site)
        return clock.offset(time) if clock is not None else 0.0

    def local_hour(self, site: str | int, time: float) -> float:
        """The hour of day at the site at ``time`` (0 <= h < 24)."""
        clock = self.clock(site)
        local = clock.local(time) if clock is not None else time
        return (local / 3600.0) % 24.0


__all__ = [
    "DEFAULT_START", "Clock", "Overlay", "SiteTimes", "read_series", "series_fields", "series_notes", "series_problems",
    "site_clocks",
    "steps_of",
]  # fmt: skip
