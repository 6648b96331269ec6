"""Technicians work their hours in their site's local time (zoneinfo, daylight saving included).

The reference here is :mod:`datetime` and :mod:`zoneinfo` directly: for each failure, the
first moment at or after it (and after the technician's previous repair) that is a weekday
between 08:00 and 18:00 on the site's wall clock, counted from the scenario's ``start``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dcsim.engine.reliability import work_finish
from dcsim.infra.sites import Clock
from dcsim.infra.spec import WorkingHours

from conftest import run_data, tiny_data

H = 3600.0
REPAIR_S = 60.0
DAY_SHIFT = WorkingHours(start=8 * H, end=18 * H, days="weekdays")


def next_working(moment: datetime, zone: ZoneInfo) -> datetime:
    """The first moment at or after ``moment`` inside Monday-Friday 08:00-18:00 on the wall clock of ``zone``."""
    local = moment.astimezone(zone)
    while True:
        if local.weekday() < 5 and 8 <= local.hour < 18:
            return local
        day = local.date() if local.hour < 8 else local.date() + timedelta(days=1)
        local = datetime(day.year, day.month, day.day, 8, tzinfo=zone)


def test_a_repair_at_night_waits_for_the_local_morning() -> None:
    """02:00 UTC on Monday 2024-01-01 is 21:00 on Sunday in New York (UTC-5): work starts Monday 08:00 there."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    utc = work_finish(2 * H, 0.0, DAY_SHIFT)
    local = work_finish(2 * H, 0.0, DAY_SHIFT, Clock(start, "America/New_York"))
    assert utc == 8 * H  # Monday 08:00 UTC
    assert local == 13 * H  # Monday 08:00 in New York = 13:00 UTC
    # A week later in March, after the switch to daylight saving (UTC-4): 08:00 there is 12:00 UTC.
    march = datetime(2024, 3, 11, tzinfo=UTC)
    assert work_finish(2 * H, 0.0, DAY_SHIFT, Clock(march, "America/New_York")) == 12 * H
    # Tokyo (UTC+9): 02:00 UTC Monday is 11:00 there: work starts at once and 2 h take 2 h.
    assert work_finish(2 * H, 2 * H, DAY_SHIFT, Clock(start, "Asia/Tokyo")) == 4 * H
    # 10:00 UTC Monday is 19:00 in Tokyo: the next local morning, Tuesday 08:00, is 23:00 UTC Monday.
    assert work_finish(10 * H, 0.0, DAY_SHIFT, Clock(start, "Asia/Tokyo")) == 23 * H


@pytest.mark.parametrize(("zone", "start"), [("America/New_York", None), ("Asia/Kolkata", "2024-03-06T15:30Z")])
def test_every_repair_of_a_run_starts_in_local_working_hours(zone: str, start: str | None) -> None:
    data = tiny_data(
        horizon="30d",
        failures={"node": {"mtbf": "150h"}},
        repair={"technicians": 1, "working_hours": {"start": "8h", "end": "18h", "days": "weekdays"},
                "time": {"dist": "fixed", "value": f"{REPAIR_S}s"}},
    )  # fmt: skip
    data["datacenter"]["sites"][0]["timezone"] = zone
    if start is not None:
        data["start"] = start
    failures = run_data(data).failures
    assert failures is not None and len(failures) >= 5
    origin = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else datetime(2024, 1, 1, tzinfo=UTC)
    tz = ZoneInfo(zone)
    free = origin  # when the one technician is free again
    for row in failures.sort_values("time_s").itertuples():
        if not row.repaired_by:
            continue
        failed = origin + timedelta(seconds=row.time_s)
        begin = next_working(max(failed, free), tz)
        assert begin.hour < 17  # the minute of work ends the same day: the reference need not carry it over
        assert row.wait_technician_s == pytest.approx((begin - failed).total_seconds(), abs=1e-3)
        free = begin + timedelta(seconds=REPAIR_S)
        assert row.repaired_s == pytest.approx((free - origin).total_seconds(), abs=1e-3)
