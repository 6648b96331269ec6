"""Scores of site routing: where jobs were sent, how long they were held back, and the data moved over the WAN.

Pure functions over the ``job_routed``, ``wan_transfer`` and ``wan_usage`` records (tables of
:func:`dcsim.metrics.tables.record_table`); :func:`dcsim.experiment.run.run_scenario` adds their
blocks to a summary only when the scenario has a site router, so other summaries are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dcsim.core.table import Table
from dcsim.metrics.window import Window, _mean, overlap


def routing_metrics(routes: Table, window: Window, sites: Sequence[str]) -> dict[str, Any]:
    """Jobs routed after warm-up (their first routing in the window), held back, and sent elsewhere again.

    ``jobs_routed``: first routings in the window; ``deferred_jobs`` those held back before it
    and ``mean_deferral_s`` their mean time held back (None if none was); ``reroutes``: routings
    of lost jobs' next attempts, and of queued jobs moved off a site that went down, in the window;
    ``by_site.<site>``: first routings to each site.
    """
    inside = (routes["time_s"] >= window.start) & (routes["time_s"] <= window.end)
    first = inside & (routes["attempt"] == 0)
    deferred = first & (routes["deferred_s"] > 0)
    counts = np.bincount(routes["site"][first], minlength=len(sites))
    return {
        "jobs_routed": int(first.sum()),
        "deferred_jobs": int(deferred.sum()),
        "mean_deferral_s": _mean(routes["deferred_s"][deferred]),
        "reroutes": int((inside & (routes["attempt"] > 0)).sum()),
        "by_site": {site: int(n) for site, n in zip(sites, counts.tolist(), strict=True)},
    }


def wan_metrics(transfers: Table, usage: Table, window: Window) -> dict[str, Any]:
    """Jobs' data moved over the WAN.

    ``transfers``: transfers completed inside the window (their end in it); ``mean_stage_in_s``
    their mean duration (from the first byte sent to the last one's arrival; None if none);
    ``mean_slowdown``: of each, its duration over its time alone on an idle path;
    ``bytes_moved``: bytes moved inside the window (a transfer straddling its edges, or cut
    short, counts pro rata of its time); ``max_link_utilization``: the busiest WAN link's
    traffic over its capacity through the window (None without links).
    """
    end = transfers["end_s"]
    took = end - transfers["start_s"]
    done = transfers["completed"] & (end >= window.start) & (end <= window.end)
    idle = transfers["idle_s"][done]
    share = np.divide(overlap(transfers["start_s"], end, window), took, out=np.zeros_like(took), where=took > 0)
    out: dict[str, Any] = {
        "transfers": int(done.sum()),
        "mean_stage_in_s": _mean(took[done]),
        "mean_slowdown": _mean(np.divide(took[done], idle, out=np.ones_like(idle), where=idle > 0)),
        "bytes_moved": float((transfers["bytes"] * share).sum()),
        "max_link_utilization": None,
    }
    if len(usage) and window.length > 0:
        out["max_link_utilization"] = float((usage["bits"] / (usage["capacity"] * window.length)).max())
    return out


__all__ = ["routing_metrics", "wan_metrics"]
