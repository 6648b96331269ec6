"""Time to recover a service's SLO after a site failure, on hand-built request tables (no SimPy)."""

from __future__ import annotations

import numpy as np

from dcsim.core.table import Coded, Table
from dcsim.metrics.records import REQUEST_STATUS
from dcsim.metrics.service_scores import time_to_recover

P95_1S = [("latency", 95.0, 1.0)]


def table(rows: list[tuple[float, float, str]]) -> Table:
    """Requests as (arrival, latency, status)."""
    arrival = np.array([r[0] for r in rows])
    latency = np.array([r[1] for r in rows])
    status = np.array([REQUEST_STATUS.index(r[2]) for r in rows], dtype=np.int32)
    return Table({
        "arrival_s": arrival, "latency_s": latency, "first_token_s": np.full(len(rows), np.nan),
        "status": Coded(status, REQUEST_STATUS),
    })  # fmt: skip


def recover(rows: list[tuple[float, float, str]], failures: list[float], end: float = 600.0) -> float | None:
    t = table(rows)
    return time_to_recover(t, np.arange(len(t)), P95_1S, failures, end)


def test_the_first_window_that_keeps_the_slo_ends_the_recovery() -> None:
    """Failure at 100 s; minute windows from it: [100, 160) has a lost request, [160, 220) one at 1.5 s,
    [220, 280) only fast ones: 120 s. The slow request before the failure does not count."""
    rows = [(50.0, 3.0, "completed"), (110.0, 0.0, "failed"), (170.0, 1.5, "completed"),
            (230.0, 0.5, "completed"), (250.0, 0.2, "completed")]  # fmt: skip
    assert recover(rows, [100.0]) == 2 * 60.0


def test_a_slo_that_never_broke_recovers_in_no_time_and_one_that_never_holds_again_is_none() -> None:
    assert recover([(110.0, 0.5, "completed")], [100.0]) == 0.0
    assert recover([(110.0, 2.0, "completed"), (400.0, 0.0, "rejected")], [100.0]) is None


def test_a_window_without_ended_requests_decides_nothing_and_the_longest_recovery_counts() -> None:
    """Windows from 100: [100, 160) empty, [160, 220) slow, [220, 280) fast: 120 s; from 300: fast at once: 0."""
    rows = [(170.0, 2.0, "completed"), (225.0, 0.5, "completed"), (301.0, 0.5, "completed"),
            (130.0, 0.0, "unfinished")]  # fmt: skip
    assert recover(rows, [100.0, 300.0]) == 120.0
    assert recover(rows, []) is None
